/*
 * madvise.c - advice on a range (mm/madvise.c).
 *
 * MADV_DONTNEED zaps pages: private ones come back zero-filled or re-read
 * from the file, shared data stays in the page cache.  MADV_POPULATE_READ
 * and _WRITE fault pages in, so the range can be handed to read(2) and
 * write(2), which get EFAULT on an unpopulated emulated page.  MADV_WILLNEED
 * reads a file range into the page cache now.  NORMAL, RANDOM and SEQUENTIAL
 * set the VMA's read-pattern flags, which steer readahead and fault-around
 * (readahead.c).  MADV_COLD unmaps pages and clears their referenced bit so
 * reclaim takes them first; MADV_PAGEOUT reclaims them now: file pages are
 * written back and evicted, private and shmem pages go to swap.  MADV_FREE
 * is accepted and changes nothing, as Linux without memory pressure.
 * MADV_REMOVE punches a hole in the object and drops the pages from every
 * mapping.  Flags that only concern the host's own handling of the range
 * (fork, dumps, KSM, THP) are passed to the host for it.
 */
#include <errno.h>
#include <linux/mman.h>

#include "host/host.h"
#include "mm/mm.h"

/* Clear the PTE at addr, whose value is pte, and free what it holds: a
 * private page's frame or its swap slot (zap_pte_range).  The host page is
 * the caller's business. */
void zap_pte(unsigned long addr, pte_t *ptep, pte_t pte)
{
	set_pte_at(addr, ptep, 0);
	if (pte & PTE_SWAP)
		swap_free(pte_val(pte));
	else if (pte & PTE_ANON)
		release_frame(pte_val(pte), NULL, addr);
}

/* walk_ptes callback: zap, and note whether the host page held anything. */
static int zap_one(unsigned long addr, pte_t *ptep, void *arg)
{
	pte_t pte = ptep_get(ptep);

	if (pte & (PTE_PRESENT | PTE_ANON))
		*(bool *)arg = true;
	zap_pte(addr, ptep, pte);
	return 0;
}

/* Drop the pages of [start, end) of vma from this mapping (zap_page_range):
 * their PTEs go, the host pages become PROT_NONE and private copies are
 * discarded (in memory or in swap).  If the host refuses, fresh backing is
 * mapped over the range instead, so the old bytes can never show.  Returns
 * 0 or -errno (the range may then still show its old pages). */
int zap_page_range(struct vm_area_struct *vma, unsigned long start, unsigned long end)
{
	bool held = false;
	int r;

	walk_ptes(start, end, zap_one, &held);
	if (!held)
		return 0;
	r = host_protect(start, end - start, HOST_PROT_NONE);
	if (!r && !(vma->vm_flags & VM_SHARED))
		r = host_discard(start, end - start);
	if (r)		/* replace the host pages outright */
		r = vma_map_backing(vma, start, end);
	return r;
}

/* MADV_REMOVE (vfs_fallocate + truncate_pagecache_range): free the backing
 * of pages first..last of the object.  Every mapping of those pages loses
 * them (private copies stay, as in unmap_mapping_range without even_cows),
 * the page cache drops them, and the file gets a hole.  Returns 0 or -errno. */
static int madvise_remove(struct vm_area_struct *vma, unsigned long start, unsigned long end)
{
	struct address_space *mapping = vma->vm_file->f_mapping;
	unsigned long first = linear_page_index(vma, start), last = linear_page_index(vma, end) - 1;
	int r;

	if ((vma->vm_flags & (VM_SHARED | VM_MAYWRITE)) != (VM_SHARED | VM_MAYWRITE))
		return -EACCES;
	if (mapping->fd >= 0 &&
	    (r = host_punch_hole(mapping->fd, (off_t)(first << PAGE_SHIFT),
				 (off_t)((last - first + 1) << PAGE_SHIFT))))
		return r;
	for (struct vm_area_struct *v = mapping->i_mmap; v; v = v->shared_next) {
		unsigned long s = first > v->vm_pgoff ? first : v->vm_pgoff;
		unsigned long e = last + 1 < v->vm_pgoff + vma_pages(v) ? last + 1 : v->vm_pgoff + vma_pages(v);
		for (unsigned long pgoff = s; pgoff < e; pgoff++) {
			unsigned long addr = v->vm_start + ((pgoff - v->vm_pgoff) << PAGE_SHIFT);
			pte_t *pte = pte_offset(addr, false);
			if (pte && (ptep_get(pte) & (PTE_PRESENT | PTE_ANON | PTE_SWAP)) == PTE_PRESENT &&
			    (r = zap_page_range(v, addr, addr + PAGE_SIZE)))
				return r;
		}
	}
	/* Swapped shmem pages have no memfd data: look at each page then. */
	for (unsigned long pgoff = mapping->nr_swapped ? first : mapping_next_resident(mapping, first);
	     pgoff <= last && pgoff < mapping->nr_pages;
	     pgoff = mapping->nr_swapped ? pgoff + 1 : mapping_next_resident(mapping, pgoff + 1)) {
		lock_page(mapping, pgoff);
		if (mapping->flags[pgoff] & (PG_uptodate | PG_swap))
			page_cache_drop(mapping, pgoff);
		unlock_page(mapping, pgoff);
	}
	return host_punch_hole(mapping->memfd, (off_t)(first << PAGE_SHIFT),
			       (off_t)((last - first + 1) << PAGE_SHIFT));
}

/* The frame slot of the resident page at addr of vma, or 0. */
static unsigned long page_frame(struct vm_area_struct *vma, unsigned long addr)
{
	pte_t *pte = pte_offset(addr, false);
	pte_t v = pte ? ptep_get(pte) : 0;

	if (v & PTE_ANON)
		return pte_val(v);
	if (!vma->vm_file || (v & PTE_SWAP))
		return 0;
	struct address_space *mapping = vma->vm_file->f_mapping;
	unsigned long pgoff = linear_page_index(vma, addr);
	pgflags_t f = pgoff < mapping->nr_pages ? mapping->flags[pgoff] : 0;
	return (f & (PG_uptodate | PG_swap)) == PG_uptodate && !mapping->device ? pg_val(f) : 0;
}

/* MADV_COLD (evict false: the pages are unmapped and lose their referenced
 * bit, so reclaim takes them first unless they are used again) and
 * MADV_PAGEOUT (evict true: reclaimed now; a file page written back first,
 * a private or shmem page written to swap).  A file page whose write-back
 * fails stays, and its error is returned; busy or pinned pages are skipped,
 * as the kernel skips them. */
static int cold_pageout_range(struct vm_area_struct *vma, unsigned long start, unsigned long end,
			      bool evict)
{
	struct address_space *mapping = vma->vm_file ? vma->vm_file->f_mapping : NULL;
	int err = 0, r;

	for (unsigned long addr = start; addr < end;) {
		pte_t *pte = pte_offset(addr, false);
		if (!pte && !mapping) {		/* no table, nothing private here */
			addr = pte_next_table(addr, end);
			continue;
		}
		pte_t v = pte ? ptep_get(pte) : 0;
		if (evict && mapping && mapping_is_file(mapping) && !(v & (PTE_ANON | PTE_SWAP))) {
			unsigned long pgoff = linear_page_index(vma, addr);
			if (pgoff < mapping->nr_pages && (r = evict_page(mapping, pgoff)) && !err)
				err = r;
		} else {
			unsigned long slot = page_frame(vma, addr);
			if (slot)
				reclaim_frame_now(slot, evict);
		}
		addr += PAGE_SIZE;
	}
	return err;
}

/* Read [start, end) of a file VMA into the page cache now, up to end of
 * file, a readahead window at a time. */
static void force_page_cache_readahead(struct vm_area_struct *vma, unsigned long start,
				       unsigned long end)
{
	for (unsigned long addr = start; addr < end; addr += PAGE_SIZE) {
		struct fault vmf = { .vma = vma, .address = addr, .real_address = addr,
				     .pgoff = linear_page_index(vma, addr) };
		if (vma->vm_ops->fault(&vmf) & VM_FAULT_ERROR)
			break;
		unlock_page(vma->vm_file->f_mapping, vmf.pgoff);
	}
}

static int madvise_vma(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long start,
		       unsigned long end, void *arg)
{
	int advice = *(int *)arg;
	unsigned long flags = vma->vm_flags & ~(VM_RAND_READ | VM_SEQ_READ);

	switch (advice) {
	case MADV_DONTNEED:
	case MADV_DONTNEED_LOCKED:
		return zap_page_range(vma, start, end);
	case MADV_FREE:
		return vma->vm_file ? -EINVAL : 0;
	case MADV_REMOVE:
		return vma->vm_file ? madvise_remove(vma, start, end) : -EINVAL;
	case MADV_POPULATE_READ:
	case MADV_POPULATE_WRITE:
		return populate_range(mm, start, end, advice == MADV_POPULATE_WRITE, false);
	case MADV_WILLNEED:	/* shmem and anonymous memory have nothing to read */
		if (vma->vm_file && mapping_is_file(vma->vm_file->f_mapping))
			force_page_cache_readahead(vma, start, end);
		return 0;
	case MADV_NORMAL:
		return vma_modify_flags(mm, vma, start, end, flags);
	case MADV_RANDOM:
		return vma_modify_flags(mm, vma, start, end, flags | VM_RAND_READ);
	case MADV_SEQUENTIAL:
		return vma_modify_flags(mm, vma, start, end, flags | VM_SEQ_READ);
	case MADV_PAGEOUT:
	case MADV_COLD:
		return cold_pageout_range(vma, start, end, advice == MADV_PAGEOUT);
	default:	/* fork, dump, KSM and THP flags: the host's own business */
		return host_pass_madvise(start, end - start, advice);
	}
}

static int madvise_gap(unsigned long start, unsigned long end, void *arg)
{
	return host_pass_madvise(start, end - start, *(int *)arg);
}

/* Caller holds mmap_lock (for writing unless populating); the advice has
 * been validated at the API edge. */
int do_madvise(struct mm_struct *mm, unsigned long start, size_t len, int advice)
{
	static const struct range_walk_ops ops = {
		.vma_range = madvise_vma, .gap = madvise_gap, .continue_past_holes = true,
	};
	static const struct range_walk_ops populate_ops = {	/* stops at the first hole */
		.vma_range = madvise_vma, .gap = madvise_gap,
	};
	bool populate = advice == MADV_POPULATE_READ || advice == MADV_POPULATE_WRITE;

	return walk_range(mm, start, start + len, populate ? &populate_ops : &ops, &advice);
}
