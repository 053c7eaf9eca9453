/*
 * vmstat.h - event counters, in the spirit of /proc/vmstat.
 *
 * One X-macro list; vme_stats() copies each into the public struct field of
 * the same name, so a counter added here without its field fails to compile.
 * Counters are relaxed atomics: cheap enough to leave on, handler-safe.
 * The *_ns items accumulate the time the fault handler spends in each step
 * (clock_gettime, async-signal-safe, about 20 ns a call through the vDSO).
 */
#ifndef VMEMU_VMSTAT_H
#define VMEMU_VMSTAT_H

#define VM_EVENT_ITEMS(X) \
	X(pgfault) X(pgmajfault) X(anon_fault) X(read_fault) X(cow_fault) \
	X(shared_fault) X(wp_fault) X(wp_copy) X(spurious_fault) X(pgpgin) \
	X(pgpgout) X(writeback_error) X(read_error) X(sigsegv_delivered) \
	X(sigbus_delivered) X(foreign_fault) X(populate) X(pgevict) X(pgscan) \
	X(pgdeactivate) X(pgactivate) X(pswpin) X(pswpout) X(pgreadahead) \
	X(pgfaultaround) X(host_vma_reclaim) \
	X(fault_ns) X(lookup_ns) X(fill_ns) X(protect_ns) X(trace_dropped)

enum vm_event_item {
#define X(name) EV_##name,
	VM_EVENT_ITEMS(X)
#undef X
	NR_VM_EVENT_ITEMS
};

extern unsigned long vm_events[NR_VM_EVENT_ITEMS];

/* handler-safe */
static inline void count_vm_event(enum vm_event_item item)
{
	__atomic_fetch_add(&vm_events[item], 1, __ATOMIC_RELAXED);
}

/* handler-safe: add delta (e.g. nanoseconds) to an accumulating item. */
static inline void count_vm_events(enum vm_event_item item, unsigned long delta)
{
	__atomic_fetch_add(&vm_events[item], delta, __ATOMIC_RELAXED);
}

static inline unsigned long vm_event(enum vm_event_item item)
{
	return __atomic_load_n(&vm_events[item], __ATOMIC_RELAXED);
}

#endif /* VMEMU_VMSTAT_H */
