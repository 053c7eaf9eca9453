/*
 * trace.c - the tracer: one event per fault and write-back, delivered in
 * order outside the handler, drops counted, never lost silently.
 */
#include <criterion/criterion.h>
#include <sys/syscall.h>
#include <time.h>
#include <vmemu.h>

#include "testutil.h"

#define MAXEV 16384
static struct vme_trace_event evs[MAXEV];
static int nev;
static int flush_result = 1;

static void record(const struct vme_trace_event *ev, void *arg)
{
	(void)arg;
	if (nev < MAXEV)
		evs[nev++] = *ev;
}

Test(trace, each_fault_is_one_event_with_its_path_in_order)
{
	int fd = pattern_file(4 * PG, 0);
	/* volatile throughout: the accesses must fault in this order */
	volatile unsigned char *f = vme_mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	volatile unsigned char *a = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_eq(vme_set_tracer(record, NULL), 0);
	(void)f[PG + 5];				/* read fault, major */
	f[PG + 6] = 1;					/* write to a present page: wp */
	f[3 * PG] = 1;					/* write to a missing page: shared */
	a[0] = 1;					/* anonymous */
	cr_assert_eq(vme_trace_flush(), 0);
	cr_assert_eq(nev, 4, "%d events: kinds %d %d %d", nev, evs[0].kind, evs[1].kind, evs[2].kind);
	cr_assert_eq(evs[0].kind, VME_TRACE_READ_FAULT);
	cr_assert_eq(evs[0].flags & VME_TRACE_MAJOR, VME_TRACE_MAJOR);
	cr_assert_eq(evs[0].address, (uint64_t)(f + PG + 5));
	cr_assert_eq(evs[0].pgoff, 1);
	cr_assert_eq(evs[1].kind, VME_TRACE_WP_FAULT);
	cr_assert_eq(evs[1].flags & VME_TRACE_MAJOR, 0, "already in the cache");
	cr_assert_eq(evs[2].kind, VME_TRACE_SHARED_FAULT);
	cr_assert_eq(evs[2].pgoff, 3);
	cr_assert_eq(evs[3].kind, VME_TRACE_ANON_FAULT);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(evs[i].tid, (int32_t)syscall(SYS_gettid));
		cr_assert_gt(evs[i].latency_ns, 0);
		cr_assert(i == 0 || evs[i].time_ns >= evs[i - 1].time_ns, "in order");
	}
	nev = 0;
	cr_assert_eq(vme_msync((void *)f, 4 * PG, MS_SYNC), 0);
	cr_assert_eq(vme_trace_flush(), 0);
	cr_assert_eq(nev, 2, "two dirty pages written back");
	cr_assert_eq(evs[0].kind, VME_TRACE_WRITEBACK);
	cr_assert_eq(evs[0].pgoff + evs[1].pgoff, 1 + 3);
	cr_assert_eq(vme_set_tracer(NULL, NULL), 0);
	nev = 0;
	(void)f[2 * PG];
	cr_assert_eq(vme_trace_flush(), 0);
	cr_assert_eq(nev, 0, "stopped");
}

static int slow_seen;
static void slow(const struct vme_trace_event *ev, void *arg)
{
	(void)ev, (void)arg;
	if (slow_seen++ == 0) {
		struct timespec ts = { 0, 300 * 1000000 };
		nanosleep(&ts, NULL);	/* fall behind while the faults pour in */
	}
}

Test(trace, a_tracer_that_falls_behind_loses_events_but_counts_them, .timeout = 60)
{
	const size_t n = 6000;
	unsigned char *a = vme_mmap(NULL, n * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct vme_stats st;
	cr_assert_eq(vme_set_tracer(slow, NULL), 0);
	for (size_t i = 0; i < n; i++)
		a[i * PG] = 1;
	cr_assert_eq(vme_trace_flush(), 0);
	cr_assert_eq(vme_stats(&st), 0);
	cr_assert_gt(st.trace_dropped, 0, "the ring (4096) overflowed");
	cr_assert_eq(slow_seen + st.trace_dropped, n, "every event delivered or counted: %d + %lu",
		     slow_seen, (unsigned long)st.trace_dropped);
}

static void flush_inside(const struct vme_trace_event *ev, void *arg)
{
	(void)ev, (void)arg;
	if (flush_result == 1)
		flush_result = vme_trace_flush() == -1 && errno == EDEADLK ? 0 : 2;
}

Test(trace, flushing_from_the_tracer_itself_is_edeadlk)
{
	unsigned char *a = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_eq(vme_set_tracer(flush_inside, NULL), 0);
	a[0] = 1;
	cr_assert_eq(vme_trace_flush(), 0);
	cr_assert_eq(flush_result, 0);
}

#if defined(__has_include)
#if __has_include(<sys/sdt.h>)
/* Built with <sys/sdt.h>: the probes must be in the binary for perf and
 * bpftrace to attach (the test program links vmemu statically). */
Test(trace, usdt_probes_are_in_the_binary)
{
	char cmd[64], line[256];
	snprintf(cmd, sizeof(cmd), "readelf -n /proc/%d/exe 2>/dev/null", (int)getpid());
	FILE *p = popen(cmd, "r");
	int fault = 0, writeback = 0;
	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p)) {
		fault += strstr(line, "Name: fault") != NULL;
		writeback += strstr(line, "Name: writeback") != NULL;
	}
	pclose(p);
	cr_assert_gt(fault, 0, "vmemu:fault");
	cr_assert_gt(writeback, 0, "vmemu:writeback");
}
#endif
#endif
