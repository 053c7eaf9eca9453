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
 * mapping.  None of these that would take pages away is allowed on a
 * locked VMA (EINVAL); MADV_DONTNEED_LOCKED is.  MADV_DONTFORK and
 * MADV_WIPEONFORK (and their inverses) set VM_DONTCOPY and VM_WIPEONFORK,
 * which fork.c applies in a forked child.  Flags that only concern the
 * host's own handling of the range (dumps, KSM, THP) are passed to the
 * host for it.
 */
#include <errno.h>
#include <linux/mman.h>

#include "host/host.h"
#include "mm/mm.h"

/* Clear the PTE at addr, whose value is pte, and let go of what it holds:
 * a private page's slot or its swap slot, or this process's mapping of a
 * page-cache frame (zap_pte_range).  The host page must be gone already. */
void zap_pte(unsigned long addr, pte_t *ptep, pte_t pte)
{
	set_pte_at(addr, ptep, 0);
	if (pte & PTE_SWAP)
		swap_free(pte_val(pte));
	else if (pte & PTE_ANON)
		release_frame(pte_val(pte), addr);
	else if (pte & PTE_PRESENT)
		frame_unmap(pte_val(pte), pte & PTE_WRITE);
}

static int zap_one(unsigned long addr, pte_t *ptep, void *arg)
{
	(void)arg;
	zap_pte(addr, ptep, ptep_get(ptep));
	return 0;
}

static int any_pte(unsigned long addr, pte_t *ptep, void *arg)
{
	(void)addr, (void)ptep, (void)arg;
	return 1;
}

/* Drop the pages of [start, end) of vma from this mapping (zap_page_range):
 * the host pages go first (the reservation replaces them), then the PTEs
 * and what they held: private copies are discarded (in memory or in swap),
 * shared data stays in the page cache.  Returns 0 or -errno (the range then
 * still shows its old pages).  Caller holds mmap_lock for writing. */
int zap_page_range(struct vm_area_struct *vma, unsigned long start, unsigned long end)
{
	int r;

	if (!walk_ptes(start, end, any_pte, NULL))
		return 0;
	if ((r = vma_map_backing(vma, start, end)))
		return r;
	walk_ptes(start, end, zap_one, NULL);
	return 0;
}

/* MADV_REMOVE (vfs_fallocate + truncate_pagecache_range): free the backing
 * of the pages of [start, end).  Every mapping of them loses them (private
 * copies stay, as in unmap_mapping_range without even_cows), the page cache
 * drops them, and the file gets a hole.  Returns 0 or -errno. */
static int madvise_remove(struct vm_area_struct *vma, unsigned long start, unsigned long end)
{
	if ((vma->vm_flags & (VM_SHARED | VM_MAYWRITE)) != (VM_SHARED | VM_MAYWRITE))
		return -EACCES;
	return punch_pagecache(vma->vm_file->f_mapping, linear_page_index(vma, start),
			       linear_page_index(vma, end) - 1);
}

/* MADV_COLD (evict false: the pages are unmapped and lose their referenced
 * bit, so reclaim takes them first unless they are used again) and
 * MADV_PAGEOUT (evict true: reclaimed now; a file page written back and
 * dropped from the cache unless another process maps it, a private or shmem
 * page written to swap).  A file page whose write-back fails stays, and its
 * error is returned; busy or pinned pages are skipped, as the kernel skips
 * them. */
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
		unsigned long pgoff = linear_page_index(vma, addr);
		if (v & PTE_ANON) {
			reclaim_frame_now(pte_val(v), evict);
		} else if (evict && mapping && mapping_is_file(mapping) && !(v & PTE_SWAP)) {
			if ((r = evict_page(mapping, pgoff)) && !err)
				err = r;
		} else if (v & PTE_PRESENT) {
			reclaim_pfn_now(pte_val(v), evict);
			if (evict && mapping && !mapping->device) {
				/* a shmem page: to swap, if nobody else maps it */
				unsigned long pfn = find_lock_page(mapping->host, pgoff);
				if (pfn != NO_PAGE && !(pfn_to_page(pfn)->mapped & live_slots()) &&
				    (mapping->host->users & live_slots()) == SLOT_BIT(dom.slot) &&
				    shmem_reclaim_page(pfn))
					pfn = NO_PAGE;
				if (pfn != NO_PAGE)
					unlock_page(pfn);
			}
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
		unlock_page(vmf.pfn);
	}
}

static int madvise_vma(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long start,
		       unsigned long end, void *arg)
{
	int advice = *(int *)arg;
	unsigned long flags = vma->vm_flags & ~(VM_RAND_READ | VM_SEQ_READ);

	switch (advice) {	/* what would take locked pages away */
	case MADV_DONTNEED:
	case MADV_FREE:
	case MADV_REMOVE:
	case MADV_COLD:
	case MADV_PAGEOUT:
		if (vma->vm_flags & VM_LOCKED)
			return -EINVAL;
	}
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
	case MADV_DONTFORK:
		return vma_modify_flags(mm, vma, start, end, vma->vm_flags | VM_DONTCOPY);
	case MADV_DOFORK:
		return vma_modify_flags(mm, vma, start, end, vma->vm_flags & ~VM_DONTCOPY);
	case MADV_WIPEONFORK:	/* private anonymous memory only */
		if (vma->vm_file || (vma->vm_flags & VM_SHARED))
			return -EINVAL;
		return vma_modify_flags(mm, vma, start, end, vma->vm_flags | VM_WIPEONFORK);
	case MADV_KEEPONFORK:
		return vma_modify_flags(mm, vma, start, end, vma->vm_flags & ~VM_WIPEONFORK);
	default:	/* dump, KSM and THP flags: the host's own business */
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
