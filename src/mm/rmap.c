/*
 * rmap.c - where this process maps an object's pages (mm/rmap.c).
 *
 * The VMAs of this process that map an object are its address_space's
 * i_mmap list; a page's address in each follows from the VMA's pgoff.  One
 * walk serves everyone who must find this process's mappings of a page:
 * reclaim unmapping a frame, write-back write-protecting it, truncation and
 * hole punching zapping pages, a catching-up process dropping stale ones.
 * Other processes' mappings are theirs to walk (see docs/design.md, "Another
 * process changed the cache").
 */
#include "mm/mm.h"

/* handler-safe: call fn for every PTE (one that exists) of this process
 * that maps a page of mapping in [first, last], VMA by VMA; stop at fn's
 * first non-zero return and return it.  Tables that do not exist are
 * skipped whole.  Caller holds mmap_lock. */
int rmap_walk(struct address_space *mapping, unsigned long first, unsigned long last, rmap_fn fn,
	      void *arg)
{
	int r;

	for (struct vm_area_struct *vma = mapping->i_mmap; vma; vma = vma->shared_next) {
		unsigned long vlast = vma->vm_pgoff + vma_pages(vma) - 1;
		if (last < vma->vm_pgoff || first > vlast)
			continue;
		unsigned long s = first > vma->vm_pgoff ? first : vma->vm_pgoff;
		unsigned long e = last < vlast ? last : vlast;
		unsigned long addr = vma->vm_start + ((s - vma->vm_pgoff) << PAGE_SHIFT);
		unsigned long end = vma->vm_start + ((e - vma->vm_pgoff + 1) << PAGE_SHIFT);
		while (addr < end) {
			pte_t *pte = pte_offset(addr, false);
			if (!pte) {
				addr = pte_next_table(addr, end);
				continue;
			}
			if ((r = fn(vma, addr, pte, arg)))
				return r;
			addr += PAGE_SIZE;
		}
	}
	return 0;
}
