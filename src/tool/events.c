/*
 * events.c - the tracer: vmemu's thread hands us each fault and write-back
 * event (vme_set_tracer); we queue them until the main thread takes them.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct vme_trace_event *queue;
static size_t queued, capacity;
static bool lost;

/* Runs on vmemu's tracer thread, outside any handler. */
static void collect(const struct vme_trace_event *ev, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	if (queued == capacity) {
		size_t cap = capacity ? 2 * capacity : 256;
		struct vme_trace_event *q = realloc(queue, cap * sizeof(*q));
		if (!q) {
			lost = true;
			pthread_mutex_unlock(&lock);
			return;
		}
		queue = q;
		capacity = cap;
	}
	queue[queued++] = *ev;
	pthread_mutex_unlock(&lock);
}

int events_start(void)
{
	if (vme_set_tracer(collect, NULL))
		return tool_error("vme_set_tracer:");
	return 0;
}

size_t events_take(struct vme_trace_event **evs)
{
	size_t n;

	vme_trace_flush();
	pthread_mutex_lock(&lock);
	*evs = queue;
	n = queued;
	queue = NULL;
	queued = capacity = 0;
	if (lost)
		tool_error("out of memory: trace events lost");
	lost = false;
	pthread_mutex_unlock(&lock);
	return n;
}

void events_stop(void)
{
	vme_set_tracer(NULL, NULL);
	free(queue);
	queue = NULL;
	queued = capacity = 0;
}

const char *event_path(unsigned kind)
{
	switch (kind) {
	case VME_TRACE_ANON_FAULT:
		return "do_anonymous_page";
	case VME_TRACE_READ_FAULT:
		return "do_read_fault";
	case VME_TRACE_COW_FAULT:
		return "do_cow_fault";
	case VME_TRACE_SHARED_FAULT:
		return "do_shared_fault";
	case VME_TRACE_WP_FAULT:
		return "do_wp_page";
	case VME_TRACE_SIGBUS:
		return "SIGBUS";
	case VME_TRACE_SIGSEGV:
		return "SIGSEGV";
	case VME_TRACE_WRITEBACK:
		return "writeback";
	}
	return "unknown";
}

const char *event_kind_name(unsigned kind)
{
	switch (kind) {
	case VME_TRACE_ANON_FAULT:
		return "anon_fault";
	case VME_TRACE_READ_FAULT:
		return "read_fault";
	case VME_TRACE_COW_FAULT:
		return "cow_fault";
	case VME_TRACE_SHARED_FAULT:
		return "shared_fault";
	case VME_TRACE_WP_FAULT:
		return "wp_fault";
	case VME_TRACE_SIGBUS:
		return "sigbus";
	case VME_TRACE_SIGSEGV:
		return "sigsegv";
	case VME_TRACE_WRITEBACK:
		return "writeback";
	}
	return "unknown";
}
