/*
 * readahead.c - filling the page cache a window at a time, and mapping
 * cached neighbours around a fault (mm/readahead.c, filemap_map_pages).
 *
 * A miss reads more than the faulting page, in one read (fill_frames):
 *   - where it continues a stream, the cached pages right before it (the
 *     kernel's context readahead: the state is the cache itself, so any
 *     number of streams in one file, from any thread or process, each keep
 *     their own), twice as many pages as that history, from RA_INIT up to
 *     RA_MAX (2 MiB) and a sixteenth of the budget; the whole window at once
 *     under MADV_SEQUENTIAL.  The host is asked to fetch the next window
 *     from the disk (POSIX_FADV_WILLNEED) before this one is read, so a
 *     cold scan keeps the device busy while the program scans;
 *   - elsewhere, RA_AROUND pages around the fault (read-around), until
 *     misses outnumber hits by MMAP_LOTSAMISS, as the kernel's mmap_miss;
 *   - with MADV_RANDOM, only the faulting page.
 * A read fault then maps cached pages around it (fault-around): the window
 * it just read, all of it; else, where the pages before it are mapped (a
 * stream through cached pages), twice as many ahead of it as are mapped
 * behind, up to FAULT_AROUND_MAX (2 MiB) and a sixteenth of the budget; else
 * its aligned 16-page block (64 KiB, the kernel's fault_around_bytes).
 * Each run of consecutive frames is one host call.  Not under MADV_RANDOM.
 *
 * Everything here is handler-safe.  Neighbouring pages are only try-locked:
 * one that is busy ends the window there.
 */
#include <errno.h>
#include <string.h>

#include "host/host.h"
#include "mm/mm.h"
#include "mm/vmstat.h"

#define RA_INIT		16	/* first window of a stream, pages */
#define RA_MAX		512	/* largest window (2 MiB) */
#define RA_AROUND	16	/* read-around, pages */
#define MMAP_LOTSAMISS	100
#define FAULT_AROUND	16	/* pages mapped around a read fault */
#define FAULT_AROUND_MAX 512	/* ... in a stream through cached pages (2 MiB) */

/* The most pages a window (read or mapped) may have: max, but no more than
 * a sixteenth of the budget: under a small budget, a stream's windows must
 * leave the clock time to see the working set used again. */
static unsigned long window_limit(unsigned long max)
{
	unsigned long cap = nr_budget_pages() / 16;

	return cap < RA_INIT ? RA_INIT : cap < max ? cap : max;
}

/* The cached pages right before pgoff, counting at most limit: the stream
 * a miss at pgoff continues (page_cache_prev_miss). */
static unsigned long cached_history(struct inode *inode, unsigned long pgoff, unsigned long limit)
{
	unsigned long n = 0;

	while (n < limit && n < pgoff && radix_lookup(inode, pgoff - n - 1))
		n++;
	return n;
}

/* The window to read for a miss at pgoff: [*start, *end), containing
 * pgoff.  Returns whether it is a stream's (reading on past it is worth
 * asking the host for). */
static bool ondemand_window(struct fault *vmf, unsigned long *start, unsigned long *end)
{
	struct vm_area_struct *vma = vmf->vma;
	struct file_ra_state *ra = &vma->vm_file->f_ra;
	unsigned long pgoff = vmf->pgoff, max = window_limit(RA_MAX), hist;

	*start = pgoff;
	*end = pgoff + 1;
	if (vma->vm_flags & VM_RAND_READ)
		return false;
	if (vma->vm_flags & VM_SEQ_READ) {
		*end = pgoff + max;
		return true;
	}
	if ((hist = cached_history(vma->vm_file->f_mapping->host, pgoff, max / 2))) {
		*end = pgoff + (2 * hist < RA_INIT ? RA_INIT : 2 * hist);
		return true;
	}
	if (__atomic_load_n(&ra->mmap_miss, __ATOMIC_RELAXED) <= MMAP_LOTSAMISS) {
		*start = pgoff > RA_AROUND / 2 ? pgoff - RA_AROUND / 2 : 0;
		*end = *start + RA_AROUND;
	}
	return false;
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

/* Read nr pages of mapping's file from page first into frames base on:
 * inside the host kernel, from the file's pages into the segment's, where
 * the host can; else through the library's view of the frames.  Returns
 * the bytes read (fewer at end of file) or -errno. */
static ssize_t fill_frames(struct address_space *mapping, unsigned long first, unsigned long base,
			   unsigned long nr)
{
	ssize_t n;

	if (mapping->fd < 0)
		return -EBADF;
	n = host_splice_full(mapping->fd, (off_t)(first << PAGE_SHIFT), dom.fd,
			     (off_t)(SEGMENT_META + (base << PAGE_SHIFT)), nr << PAGE_SHIFT);
	if (n != -EOPNOTSUPP)
		return n;
	view_account(nr);
	return host_read_full(mapping->fd, page_address(base), nr << PAGE_SHIFT, (off_t)(first << PAGE_SHIFT));
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
	bool stream = ondemand_window(vmf, &want_first, &want_end);
	/* Not past the file's end as vmemu knows it: frames for pages that do
	 * not exist would only push others out. */
	unsigned long eof = inode_size_pages(inode);
	if (want_end > eof && eof > pgoff)
		want_end = eof;
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

	if (stream && mapping->fd >= 0)
		/* the next window, from disk, while this one is read and used */
		host_readahead(mapping->fd, (off_t)((last + 1) << PAGE_SHIFT),
			       (off_t)((last + 1 - first) << PAGE_SHIFT));
	unsigned long t0 = host_now_ns();
	ssize_t got_bytes = fill_frames(mapping, first, base, last - first + 1);
	count_vm_events(EV_fill_ns, host_now_ns() - t0);
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
	vmf->nr_read = (unsigned int)got;
	vmf->read_first = first;
	vmf->pfn = base + (pgoff - first);
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
	if (ptep_get(pte) || frame_map(pfn, mapping, pgoff, entry & PTE_WRITE, false, NULL)) {
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

/* The pages right before addr in vma that are mapped, counting at most
 * limit: the stream through cached pages a fault at addr continues. */
static unsigned long mapped_history(struct vm_area_struct *vma, unsigned long addr, unsigned long limit)
{
	unsigned long n = 0;

	for (; n < limit && addr - (n + 1) * PAGE_SIZE >= vma->vm_start; n++) {
		pte_t *pte = pte_offset(addr - (n + 1) * PAGE_SIZE, false);
		if (!pte || !(ptep_get(pte) & PTE_PRESENT))
			break;
	}
	return n;
}

/* How far around a read fault to map (do_fault_around): the window the
 * fault just read; in a stream through cached pages, twice the mapped
 * pages behind it, ahead of it; else the aligned FAULT_AROUND block, as
 * the kernel's fault_around_bytes.  Sets [*lo, *hi) within the VMA. */
static void fault_around_range(struct fault *vmf, unsigned long *lo, unsigned long *hi)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long max = window_limit(FAULT_AROUND_MAX), hist;

	if (vmf->nr_read > 1) {
		*lo = vmf->address - ((vmf->pgoff - vmf->read_first) << PAGE_SHIFT);
		*hi = *lo + ((unsigned long)vmf->nr_read << PAGE_SHIFT);
	} else if ((hist = mapped_history(vma, vmf->address, max / 2)) >= FAULT_AROUND) {
		*lo = vmf->address;
		*hi = vmf->address + 2 * hist * PAGE_SIZE;
	} else {
		*lo = vmf->address & ~(FAULT_AROUND * PAGE_SIZE - 1);
		*hi = *lo + FAULT_AROUND * PAGE_SIZE;
	}
	if (*lo < vma->vm_start || *lo > vmf->address)
		*lo = vma->vm_start;
	if (*hi > vma->vm_end || *hi < *lo)
		*hi = vma->vm_end;
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
	if (frame_map(vmf->pfn, mapping, vmf->pgoff, entry & PTE_WRITE, true, &vmf->spare_slot))
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
