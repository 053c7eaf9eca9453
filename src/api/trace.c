/*
 * trace.c - vme_set_tracer and vme_trace_flush over the emulated kernel's
 * trace ring (src/mm/trace.c).
 */
#include <stddef.h>

#include <vmemu.h>
#include "api/api.h"
#include "mm/trace.h"

#define SAME_FIELD(f) \
	(offsetof(struct vme_trace_event, f) == offsetof(struct trace_event, f) && \
	 sizeof(((struct vme_trace_event *)0)->f) == sizeof(((struct trace_event *)0)->f))
_Static_assert(sizeof(struct vme_trace_event) == sizeof(struct trace_event) && SAME_FIELD(time_ns) &&
	       SAME_FIELD(address) && SAME_FIELD(pgoff) && SAME_FIELD(latency_ns) && SAME_FIELD(kind) &&
	       SAME_FIELD(flags) && SAME_FIELD(tid) && SAME_FIELD(pages),
	       "struct trace_event must be laid out as struct vme_trace_event");
#define SAME_KIND(k) ((int)VME_TRACE_##k == (int)TRACE_##k)
_Static_assert(SAME_KIND(ANON_FAULT) && SAME_KIND(READ_FAULT) && SAME_KIND(COW_FAULT) && SAME_KIND(SHARED_FAULT) && SAME_KIND(WP_FAULT) && SAME_KIND(SIGBUS) && SAME_KIND(SIGSEGV) && SAME_KIND(WRITEBACK) &&
	       VME_TRACE_MAJOR == TRACE_MAJOR, "trace kinds must match the public ones");

VME_EXPORT int vme_set_tracer(vme_tracer_fn fn, void *arg)
{
	struct vme_call call;
	int r;

	if ((r = vme_enter(&call)))
		return api_ret(r);
	vme_leave(&call);	/* the tracer thread must not start with signals blocked */
	return api_ret(trace_set((trace_fn)fn, arg));
}

VME_EXPORT int vme_trace_flush(void)
{
	return api_ret(trace_flush());
}
