/*
 * trace.h - trace points of the emulated kernel (like include/trace/events).
 *
 * Each trace point records into the ring when a tracer is set, and fires
 * the USDT probe vmemu:<name> when the build has <sys/sdt.h>, so perf and
 * bpftrace can attach without a tracer (perf probe -x libvmemu.so
 * sdt_vmemu:fault).  Probe arguments: kind, address, pgoff, latency_ns.
 */
#ifndef VMEMU_TRACE_H
#define VMEMU_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#if defined(__has_include)
#if __has_include(<sys/sdt.h>)
#include <sys/sdt.h>
#define VMEMU_HAVE_SDT 1
#endif
#endif
#ifndef VMEMU_HAVE_SDT
#define DTRACE_PROBE4(provider, name, a, b, c, d) do { } while (0)
#endif

/* Kinds, as enum vme_trace_kind in the public header. */
enum trace_kind {
	TRACE_ANON_FAULT = 1, TRACE_READ_FAULT, TRACE_COW_FAULT, TRACE_SHARED_FAULT,
	TRACE_WP_FAULT, TRACE_SIGBUS, TRACE_SIGSEGV, TRACE_WRITEBACK,
};
#define TRACE_MAJOR 0x1

extern bool trace_enabled;	/* a tracer is set: record into the ring */

/* handler-safe */
void trace_record(unsigned kind, unsigned flags, unsigned long address, unsigned long pgoff,
		  unsigned pages, unsigned long latency_ns);

/* handler-safe: a fault took path kind and covered pages pages (probe
 * vmemu:fault, which leaves pages out). */
static inline void trace_fault(unsigned kind, unsigned flags, unsigned long address,
			       unsigned long pgoff, unsigned pages, unsigned long latency_ns)
{
	DTRACE_PROBE4(vmemu, fault, kind, address, pgoff, latency_ns);
	if (__atomic_load_n(&trace_enabled, __ATOMIC_RELAXED))
		trace_record(kind, flags, address, pgoff, pages, latency_ns);
}

/* A dirty page was written back (probe vmemu:writeback). */
static inline void trace_writeback(unsigned long pgoff, unsigned long latency_ns)
{
	DTRACE_PROBE4(vmemu, writeback, TRACE_WRITEBACK, 0, pgoff, latency_ns);
	if (__atomic_load_n(&trace_enabled, __ATOMIC_RELAXED))
		trace_record(TRACE_WRITEBACK, 0, 0, pgoff, 1, latency_ns);
}

/* One event, laid out as struct vme_trace_event (checked in api/trace.c). */
struct trace_event {
	uint64_t time_ns;
	uint64_t address;
	uint64_t pgoff;
	uint32_t latency_ns;
	uint16_t kind;
	uint16_t flags;
	int32_t tid;
	uint32_t pages;
};

/* trace.c: the ring's consumer side.  Not from the tracer itself. */
typedef void (*trace_fn)(const struct trace_event *ev, void *arg);
int trace_set(trace_fn fn, void *arg);	/* 0 or -errno; NULL stops */
int trace_flush(void);			/* 0 or -EDEADLK */

#endif /* VMEMU_TRACE_H */
