/*
 * mm_init.c - bringing the emulated kernel up and down.
 */
#include <errno.h>
#include <stdlib.h>

#include "host/host.h"
#include "mm/mm.h"
#include "mm/vmstat.h"

struct mm_struct init_mm;
unsigned long vm_events[NR_VM_EVENT_ITEMS];
int mm_verbose;

/* Set up page tables, the memory budget (cache_mb MiB, 0 for the default),
 * the domain whose page cache this process shares, swap (a path, or "off")
 * and the trap.  Returns 0 or -errno. */
int mm_init(int verbose, unsigned long cache_mb, const char *swap, const char *domain)
{
	int r;

	mm_verbose = verbose;
	/* vmemu's own memory, all of it now (vmalloc.c) */
	if ((r = mmap_lock_init()) || (r = pgtable_init()) || (r = vmscan_init(cache_mb)) ||
	    (r = vm_area_cache_init()) || (r = vmas_reserve(&init_mm)))
		return r;
	if (!dom.hdr && (r = domain_attach(domain, nr_budget_pages())))
		return r;
	view_set_limit(nr_budget_pages());
	if ((r = swap_init(swap)))	/* reclaim still works for file pages */
		host_write_str("vmemu: warning: no swap file could be opened; private pages stay resident\n");
	if ((r = host_trap_install(vmemu_fault))) {
		domain_detach();
		pgtable_exit();
		return r;
	}
	mmap_write_lock();
	writeback_orphans(true);	/* what processes that died left dirty */
	mmap_write_unlock();
	return 0;
}

/* Write back every dirty page of every cache this process uses, and what
 * dead processes left (reaped first: a child that ended with _exit never
 * left its slot, and its dirty pages are orphans now).  Returns the first
 * error; the pages that failed stay dirty.  Caller holds mmap_lock. */
int mm_writeback_all(void)
{
	domain_reap_dead();
	int err = writeback_orphans(false), r;

	for (struct address_space *m = init_mm.mappings; m; m = m->next) {
		if (!mapping_is_file(m) || (!mapping_nr_dirty(m) && !m->wb_err))
			continue;
		r = mapping_nr_dirty(m) ? writeback_range(m, m->host, -1, 0, ~0UL, false) : m->wb_err;
		if (!mapping_nr_dirty(m))
			m->wb_err = 0;	/* nothing left to lose: reported once, as errseq does */
		if (r && !err)
			err = r;
	}
	return err;
}

/* Catch up with what other processes did to the caches this process maps
 * (truncations, invalidations), and write back what dead ones left.  Caller
 * holds mmap_lock for writing. */
void mm_catch_up(void)
{
	init_mm.cache_seq = __atomic_load_n(&dom.hdr->cache_seq, __ATOMIC_ACQUIRE);
	writeback_orphans(false);
	for (struct address_space *m = init_mm.mappings; m; m = m->next)
		mapping_resync(m);
}

/* At every vmemu call: catch up if pages left some cache since this process
 * last did, or dead processes left dirty pages, as Linux's truncation
 * reaches every process at once.  Two loads when nothing happened.  Caller
 * holds no mmap_lock. */
void mm_maybe_catch_up(void)
{
	struct domain_header *h = dom.hdr;

	if (!h || (__atomic_load_n(&h->cache_seq, __ATOMIC_ACQUIRE) == init_mm.cache_seq &&
		   !__atomic_load_n(&h->orphans, __ATOMIC_ACQUIRE)))
		return;
	mmap_write_lock();
	mm_catch_up();
	mmap_write_unlock();
}

/* Write back everything; if that fails return the error and change nothing
 * else.  Otherwise unmap every VMA, let go of every cache, leave the
 * domain and give SIGSEGV back.  Caller holds mmap_lock for writing. */
int mm_exit(void)
{
	struct mm_struct *mm = &init_mm;
	int r = mm_writeback_all();

	if (r)
		return r;
	while (mm->map_count) {
		struct vm_area_struct *vma = mm->vmas[mm->map_count - 1];
		do_munmap(mm, vma->vm_start, vma->vm_end - vma->vm_start, true);
	}
	if ((r = mapping_release_orphans(mm)))
		return r;
	if (mm->start_brk)	/* the heap's reservation */
		host_unmap(mm->start_brk, mm->brk_end - mm->start_brk);
	vmas_free(mm);
	*mm = (struct mm_struct){ 0 };
	unmap_all_frames();
	domain_detach();
	host_trap_uninstall();
	pgtable_exit();
	return 0;
}
