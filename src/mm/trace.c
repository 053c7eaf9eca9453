/*
 * trace.c - the trace ring and its delivery thread.
 *
 * The handler claims a slot with one compare-and-swap on head, fills it and
 * publishes it with its sequence number: no syscall, no lock.  A thread of
 * vmemu's takes slots in order and calls the program's tracer, outside any
 * handler.  A full ring drops the event and counts it.
 */
#include <errno.h>
#include <stdint.h>

#include "host/host.h"
#include "mm/trace.h"
#include "mm/vmstat.h"

#define RING_SIZE 4096UL

struct slot {
	unsigned long seq;		/* index + 1 once published */
	struct trace_event ev;
};

bool trace_enabled;
static struct slot ring[RING_SIZE];
static unsigned long head;		/* next slot to claim */
static unsigned long tail;		/* next slot to deliver */
static trace_fn tracer;
static void *tracer_arg;
static pthread_t consumer;
static bool consumer_running, consumer_stop;
static __thread int tls_tid __attribute__((tls_model("initial-exec")));

/* handler-safe */
void trace_record(unsigned kind, unsigned flags, unsigned long address, unsigned long pgoff,
		  unsigned pages, unsigned long latency_ns)
{
	unsigned long h = __atomic_load_n(&head, __ATOMIC_RELAXED);

	do {
		if (h - __atomic_load_n(&tail, __ATOMIC_ACQUIRE) >= RING_SIZE) {
			count_vm_event(EV_trace_dropped);
			return;
		}
	} while (!__atomic_compare_exchange_n(&head, &h, h + 1, true, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
	if (!tls_tid)
		tls_tid = (int)host_gettid();
	struct slot *s = &ring[h % RING_SIZE];
	s->ev = (struct trace_event){
		.time_ns = host_now_ns(), .address = address, .pgoff = pgoff,
		.latency_ns = latency_ns > UINT32_MAX ? UINT32_MAX : (uint32_t)latency_ns,
		.kind = (uint16_t)kind, .flags = (uint16_t)flags, .tid = tls_tid, .pages = pages,
	};
	__atomic_store_n(&s->seq, h + 1, __ATOMIC_RELEASE);
}

/* Deliver every published event; returns how many. */
static unsigned long deliver(void)
{
	unsigned long n = 0, t = tail;

	while (t != __atomic_load_n(&head, __ATOMIC_ACQUIRE)) {
		struct slot *s = &ring[t % RING_SIZE];
		if (__atomic_load_n(&s->seq, __ATOMIC_ACQUIRE) != t + 1)
			break;		/* claimed, not yet published */
		struct trace_event ev = s->ev;
		if (tracer)
			tracer(&ev, tracer_arg);
		/* Only now: trace_flush waits for the tracer to have seen it. */
		__atomic_store_n(&tail, ++t, __ATOMIC_RELEASE);
		n++;
	}
	return n;
}

static void *consumer_main(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&consumer_stop, __ATOMIC_ACQUIRE))
		if (!deliver())
			host_sleep_ns(1000000);	/* 1 ms when idle */
	deliver();
	return NULL;
}

/* Set the tracer (fn NULL: stop, after delivering what is pending).
 * Returns 0 or -errno.  Not from the tracer itself. */
int trace_set(trace_fn fn, void *arg)
{
	if (consumer_running && host_thread_is_self(consumer))
		return -EDEADLK;
	if (consumer_running) {
		__atomic_store_n(&trace_enabled, false, __ATOMIC_RELEASE);
		__atomic_store_n(&consumer_stop, true, __ATOMIC_RELEASE);
		host_thread_join(consumer);
		consumer_running = false;
	}
	tracer = fn;
	tracer_arg = arg;
	if (!fn)
		return 0;
	consumer_stop = false;
	int r = host_thread_start(&consumer, consumer_main, NULL);
	if (r)
		return r;
	consumer_running = true;
	__atomic_store_n(&trace_enabled, true, __ATOMIC_RELEASE);
	return 0;
}

/* Wait until every event recorded before the call was delivered. */
int trace_flush(void)
{
	unsigned long want = __atomic_load_n(&head, __ATOMIC_ACQUIRE);

	if (!consumer_running)
		return 0;
	if (host_thread_is_self(consumer))
		return -EDEADLK;
	while ((long)(__atomic_load_n(&tail, __ATOMIC_ACQUIRE) - want) < 0)
		host_sleep_ns(200000);
	return 0;
}
