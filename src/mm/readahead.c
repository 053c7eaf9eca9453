/*
 * readahead.c - filling the page cache a window at a time, and mapping
 * cached neighbours around a fault (mm/readahead.c, filemap_map_pages).
 *
 * A miss reads more than the faulting page, in one pread:
 *   - in a sequential stream (the miss is where the last window ended, or
 *     the VMA is MADV_SEQUENTIAL), the window doubles, up to RA_MAX pages
 *     (four times that for MADV_SEQUENTIAL), and the host is asked to start
 *     reading the next window from the disk meanwhile (POSIX_FADV_WILLNEED),
 *     so a cold scan overlaps the device with the program;
 *   - elsewhere, RA_AROUND pages around the fault (read-around), until
 *     misses outnumber hits by MMAP_LOTSAMISS, as the kernel's mmap_miss;
 *   - with MADV_RANDOM, only the faulting page.
 * A read fault then maps the cached pages of its aligned 16-page block
 * (fault-around, 64 KiB as the kernel's), or, where the file's faults go on
 * from where the last fault-around ended, a range twice as long ahead of it
 * each time, up to 2 MiB: a run of consecutive frames in one host call.
 * Not under MADV_RANDOM.
 *
 * Everything here is handler-safe.  Neighbouring pages are only try-locked:
 * one that is busy ends the window there.
 */
#include <errno.h>
#include <string.h>

#include "host/host.h"
#include "mm/mm.h"
#include "mm/vmstat.h"

#define RA_INIT		16	/* first sequential window, pages */
#define RA_MAX		128	/* largest window (512 KiB); x4 with MADV_SEQUENTIAL */
#define RA_AROUND	16	/* read-around, pages */
#define MMAP_LOTSAMISS	100
#define FAULT_AROUND	16	/* pages mapped around a read fault */
#define FAULT_AROUND_MAX 512	/* ... in a stream through cached pages (2 MiB) */

/* The window to read for a miss at pgoff: [*start, *end), containing pgoff. */
static void ondemand_window(struct fault *vmf, unsigned long *start, unsigned long *end)
{
	struct vm_area_struct *vma = vmf->vma;
	struct file_ra_state *ra = &vma->vm_file->f_ra;
	unsigned long pgoff = vmf->pgoff, size, max = RA_MAX;
	unsigned long ra_start = __atomic_load_n(&ra->start, __ATOMIC_RELAXED);
	unsigned long ra_size = __atomic_load_n(&ra->size, __ATOMIC_RELAXED);

	*start = pgoff;
	*end = pgoff + 1;
	if (vma->vm_flags & VM_RAND_READ)
		return;
	if (vma->vm_flags & VM_SEQ_READ)
		max *= 4;
	if ((ra_size && pgoff == ra_start + ra_size) || (vma->vm_flags & VM_SEQ_READ)) {
		size = ra_size && pgoff == ra_start + ra_size ? 2 * ra_size : RA_INIT;
		if (vma->vm_flags & VM_SEQ_READ && size < max / 4)
			size = max / 4;
		*end = pgoff + (size < max ? size : max);
	} else if (__atomic_load_n(&ra->mmap_miss, __ATOMIC_RELAXED) <= MMAP_LOTSAMISS) {
		*start = pgoff > RA_AROUND / 2 ? pgoff - RA_AROUND / 2 : 0;
		*end = *start + RA_AROUND;
	} else {
		return;
	}
	__atomic_store_n(&ra->start, *start, __ATOMIC_RELAXED);
	__atomic_store_n(&ra->size, *end - *start, __ATOMIC_RELAXED);
}

/* A cache hit for this file: read-around may be worth it again. */
void ra_hit(struct file *file)
{
	if (__atomic_load_n(&file->f_ra.mmap_miss, __ATOMIC_RELAXED))
		__atomic_sub_fetch(&file->f_ra.mmap_miss, 1, __ATOMIC_RELAXED);
}

/* The cached neighbours that end the window: [*first, *last] around pgoff,
 * within [want_first, want_end), over pages not in the index. */
static void window_holes(struct inode *inode, unsigned long pgoff, unsigned long want_first,
			 unsigned long want_end, unsigned long *first, unsigned long *last)
{
	*first = *last = pgoff;
	while (*last + 1 < want_end && !radix_lookup(inode, *last + 1))
		(*last)++;
	while (*first > want_first && !radix_lookup(inode, *first - 1))
		(*first)--;
}

/* Frames [base, base + n) back to the pool, unused. */
static void free_run(unsigned long base, unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		free_page_frame(base + i);
}

/* A device's page: the driver fills a frame; no window. */
static int device_fill(struct fault *vmf)
{
	struct inode *inode = vmf->vma->vm_file->f_mapping->host;
	unsigned long pfn;
	int r;

	if (!alloc_pages_run(1, &pfn))
		return -ENOMEM;
	memset(page_address(pfn), 0, PAGE_SIZE);	/* a recycled frame: the driver may fill nothing */
	if ((r = vmf->vma->vm_file->f_mapping->a_ops->readpage(vmf, page_address(pfn))) ||
	    (r = add_to_page_cache(inode, pfn, vmf->pgoff))) {
		free_page_frame(pfn);
		return r;
	}
	view_account(1);
	__atomic_or_fetch(&pfn_to_page(pfn)->flags, PG_uptodate, __ATOMIC_RELEASE);
	vmf->pfn = pfn;
	return 0;
}

/* Read page vmf->pgoff, not cached, and for a regular file the readahead
 * window around it, with one read into a run of contiguous frames.  The
 * pages enter the index locked (so another fault on them waits for the
 * read), then become uptodate; the faulting page stays locked, in
 * vmf->pfn.  A file's read sets vmf->nr_read to the pages it brought in.
 * Returns 0, -EEXIST if another fault cached the page first (look again),
 * -ENXIO past end of file, -ENOMEM if no frame or index node can be had,
 * or the read's -errno. */
int page_cache_fill(struct fault *vmf)
{
	struct address_space *mapping = vmf->vma->vm_file->f_mapping;
	struct inode *inode = mapping->host;
	unsigned long pgoff = vmf->pgoff, want_first, want_end, first, last, base, n;
	int r;

	if (mapping->device)
		return device_fill(vmf);
	__atomic_add_fetch(&vmf->vma->vm_file->f_ra.mmap_miss, 1, __ATOMIC_RELAXED);
	ondemand_window(vmf, &want_first, &want_end);
	/* Not past the file's end as vmemu knows it: frames for pages that do
	 * not exist would only push others out. */
	unsigned long eof = inode_size_pages(inode);
	if (want_end > eof && eof > pgoff)
		want_end = eof;
	if (want_end - want_first > 4 * RA_MAX)
		want_end = want_first + 4 * RA_MAX;
	window_holes(inode, pgoff, want_first, want_end, &first, &last);

	/* One run of frames; if the pool gives fewer, the window shrinks
	 * around the fault, keeping the pages after it (the stream's way). */
	if (!(n = alloc_pages_run(last - first + 1, &base)))
		return -ENOMEM;
	unsigned long after = last - pgoff < n - 1 ? last - pgoff : n - 1;
	unsigned long before = pgoff - first < n - 1 - after ? pgoff - first : n - 1 - after;
	if (n > before + after + 1) {
		free_run(base + before + after + 1, n - (before + after + 1));
		n = before + after + 1;
	}
	first = pgoff - before;
	last = pgoff + after;

	/* Into the index, the faulting page first: if another fault got there
	 * first, it is theirs to read; neighbours stop the window where
	 * someone else was quicker. */
	rlock_lock(&inode->i_pages_lock);
	if ((r = add_to_page_cache_locked(inode, base + before, pgoff))) {
		rlock_unlock(&inode->i_pages_lock);
		free_run(base, n);
		return r;
	}
	unsigned long lo = pgoff, hi = pgoff;
	while (hi < last && add_to_page_cache_locked(inode, base + (hi + 1 - first), hi + 1) == 0)
		hi++;
	while (lo > first && add_to_page_cache_locked(inode, base + (lo - 1 - first), lo - 1) == 0)
		lo--;
	rlock_unlock(&inode->i_pages_lock);
	free_run(base, lo - first);
	free_run(base + (hi + 1 - first), last - hi);
	base += lo - first;
	first = lo;
	last = hi;

	unsigned long t0 = host_now_ns();
	ssize_t got_bytes = mapping->fd >= 0 ?
		host_read_full(mapping->fd, page_address(base), (last - first + 1) << PAGE_SHIFT,
			       (off_t)(first << PAGE_SHIFT)) : -EBADF;
	count_vm_events(EV_fill_ns, host_now_ns() - t0);
	view_account(last - first + 1);
	unsigned long got = got_bytes < 0 ? 0 : ((unsigned long)got_bytes + PAGE_SIZE - 1) >> PAGE_SHIFT;
	if (got_bytes > 0 && (got_bytes & (PAGE_SIZE - 1)))	/* the tail past end of file */
		zero_page_tail(base + got - 1, (size_t)got_bytes & (PAGE_SIZE - 1));
	r = got_bytes < 0 ? (int)got_bytes : pgoff >= first + got ? -ENXIO : 0;
	for (unsigned long p = first; p <= last; p++) {
		unsigned long pfn = base + (p - first);
		if (!r && p < first + got) {
			__atomic_or_fetch(&pfn_to_page(pfn)->flags, PG_uptodate, __ATOMIC_RELEASE);
			if (p != pgoff) {
				frame_hold(pfn, mapping, p);	/* read ahead of its use, by us */
				unlock_page(pfn);
			}
			continue;
		}
		/* not read (an error, or past end of file): out of the index */
		delete_from_page_cache(pfn);
		free_page_frame(pfn);
	}
	if (r)
		return r;
	count_vm_events(EV_pgpgin, got);
	count_vm_events(EV_pgreadahead, got - 1);
	if (want_end - want_first > 1) {
		/* the stream goes on from where this window really ended */
		struct file_ra_state *ra = &vmf->vma->vm_file->f_ra;
		__atomic_store_n(&ra->start, first, __ATOMIC_RELAXED);
		__atomic_store_n(&ra->size, first + got - first, __ATOMIC_RELAXED);
	}
	vmf->nr_read = (unsigned int)got;
	vmf->pfn = base + (pgoff - first);
	if (got > 1 && mapping->fd >= 0)
		/* let the host fetch the next window from disk meanwhile */
		host_readahead(mapping->fd, (off_t)((last + 1) << PAGE_SHIFT),
			       (off_t)((last + 1 - first) << PAGE_SHIFT));
	return 0;
}

/* For fault-around: lock the page at addr of vma and its PTE, if it is
 * cached, uptodate, not mapped here, and neither is locked by someone else;
 * account the mapping about to be made.  Returns its frame, or NO_PAGE
 * having locked nothing. */
static unsigned long take_neighbour(struct vm_area_struct *vma, unsigned long addr, pte_t entry)
{
	struct address_space *mapping = vma->vm_file->f_mapping;
	unsigned long pgoff = linear_page_index(vma, addr);
	pte_t *pte = pte_offset(addr, true);
	uint32_t e;

	if (!pte || ptep_get(pte) || !(e = radix_lookup(mapping->host, pgoff)) || (e & RADIX_SWAP))
		return NO_PAGE;
	unsigned long pfn = e - 1;
	if (!trylock_page(pfn))
		return NO_PAGE;
	struct page *page = pfn_to_page(pfn);
	if (page->inode != inode_index(mapping->host) + 1 || page->index != pgoff ||
	    !(page->flags & PG_uptodate) || !pte_trylock(pte))
		goto out_unlock;
	if (ptep_get(pte) || frame_map(pfn, mapping, pgoff, entry & PTE_WRITE, false)) {
		pte_unlock(pte);
		goto out_unlock;
	}
	return pfn;

out_unlock:
	unlock_page(pfn);
	return NO_PAGE;
}

/* Map pages [start, end) of vma, frames first.. (taken: locked, PTEs
 * locked, accounted), with one host call; then set their PTEs and let go
 * of all but the fault page, which the caller holds.  Returns whether the
 * host mapped them (if not, the neighbours' accounting is undone). */
static bool map_run(struct fault *vmf, unsigned long start, unsigned long end, unsigned long first,
		    pte_t entry)
{
	unsigned long nr = (end - start) >> PAGE_SHIFT;
	bool mapped = map_frames(vmf->vma, start, nr, first, entry) == 0;

	for (unsigned long i = 0; i < nr; i++) {
		unsigned long addr = start + (i << PAGE_SHIFT);
		pte_t *pte = addr == vmf->address ? vmf->pte : pte_offset(addr, false);
		if (addr == vmf->address) {
			if (mapped)
				set_pte_at(addr, pte, entry | mk_pte(0, first + i));
			continue;	/* its accounting is do_fault_around's */
		}
		if (mapped)
			set_pte_at(addr, pte, entry | mk_pte(0, first + i));
		else
			frame_unmap(first + i, entry & PTE_WRITE);
		pte_unlock(pte);
		unlock_page(first + i);
	}
	return mapped;
}

/* How far around a read fault to map (do_fault_around): the aligned
 * FAULT_AROUND block, as the kernel's fault_around_bytes; but where this
 * file's faults go on from where the last fault-around ended (a stream
 * through cached pages), twice as far ahead each time, up to
 * FAULT_AROUND_MAX and an eighth of the budget, as readahead's window
 * grows.  Sets [*lo, *hi) within the VMA. */
static void fault_around_range(struct fault *vmf, unsigned long *lo, unsigned long *hi)
{
	struct vm_area_struct *vma = vmf->vma;
	struct file_ra_state *ra = &vma->vm_file->f_ra;
	unsigned long size = FAULT_AROUND, max = nr_budget_pages() / 8;
	unsigned long prev = __atomic_load_n(&ra->fa_size, __ATOMIC_RELAXED);

	if (max > FAULT_AROUND_MAX)
		max = FAULT_AROUND_MAX;
	if (prev && vmf->pgoff == __atomic_load_n(&ra->fa_end, __ATOMIC_RELAXED) && 2 * prev <= max) {
		size = 2 * prev;
		*lo = vmf->address;
		*hi = vmf->address + size * PAGE_SIZE;
	} else if (prev && vmf->pgoff == __atomic_load_n(&ra->fa_end, __ATOMIC_RELAXED)) {
		size = prev;
		*lo = vmf->address;
		*hi = vmf->address + size * PAGE_SIZE;
	} else {
		*lo = vmf->address & ~(FAULT_AROUND * PAGE_SIZE - 1);
		*hi = *lo + FAULT_AROUND * PAGE_SIZE;
	}
	if (*lo < vma->vm_start)
		*lo = vma->vm_start;
	if (*hi > vma->vm_end || *hi < *lo)
		*hi = vma->vm_end;
	__atomic_store_n(&ra->fa_size, size, __ATOMIC_RELAXED);
	__atomic_store_n(&ra->fa_end, linear_page_index(vma, *hi), __ATOMIC_RELAXED);
}

/* Map the fault page and the cached pages around it (do_fault_around,
 * filemap_map_pages): every page of the range that is cached, uptodate,
 * not mapped here and free to lock, a run of frames that follow each other
 * at a time, each run in one host call.  The caller holds the fault page's
 * lock and PTE lock.  Sets vmf->nr_mapped to the pages mapped, the fault
 * page included.  Returns true if it mapped the fault page; false leaves
 * that to the caller. */
bool do_fault_around(struct fault *vmf, pte_t entry)
{
	struct vm_area_struct *vma = vmf->vma;
	struct address_space *mapping = vma->vm_file->f_mapping;
	unsigned long lo, hi, nr = 0;		/* neighbours mapped */
	bool mapped = false;

	if ((vma->vm_flags & VM_RAND_READ) || mapping->device)
		return false;
	fault_around_range(vmf, &lo, &hi);
	/* the fault page's own accounting; the neighbours' is take_neighbour's */
	if (frame_map(vmf->pfn, mapping, vmf->pgoff, entry & PTE_WRITE, true))
		return false;
	for (unsigned long addr = lo; addr < hi;) {
		unsigned long first = addr == vmf->address ? vmf->pfn : take_neighbour(vma, addr, entry);
		if (first == NO_PAGE) {
			addr += PAGE_SIZE;
			continue;
		}
		unsigned long end = addr + PAGE_SIZE;
		for (; end < hi; end += PAGE_SIZE) {
			unsigned long want = first + ((end - addr) >> PAGE_SHIFT);
			if (end == vmf->address) {
				if (vmf->pfn != want)
					break;
				continue;
			}
			unsigned long pfn = take_neighbour(vma, end, entry);
			if (pfn == want)
				continue;
			if (pfn != NO_PAGE) {	/* not next to the run: it starts the next one */
				frame_unmap(pfn, entry & PTE_WRITE);
				pte_unlock(pte_offset(end, false));
				unlock_page(pfn);
			}
			break;
		}
		bool has_fault = addr <= vmf->address && vmf->address < end;
		if (map_run(vmf, addr, end, first, entry)) {
			nr += ((end - addr) >> PAGE_SHIFT) - has_fault;
			mapped |= has_fault;
		}
		addr = end;
	}
	if (!mapped)
		frame_unmap(vmf->pfn, entry & PTE_WRITE);	/* the caller maps it */
	vmf->nr_mapped = (unsigned int)nr + 1;
	count_vm_events(EV_pgfaultaround, nr);
	return mapped;
}
