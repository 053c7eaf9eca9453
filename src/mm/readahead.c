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
 * A read fault then maps the cached pages of its aligned 16-page block in the
 * same host call (fault-around, 64 KiB as the kernel's), unless MADV_RANDOM.
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

/* Fill page vmf->pgoff, locked by the caller and not uptodate, and for a
 * regular file the readahead window around it, with one read.  The
 * neighbours are locked, given frames, read, marked uptodate and unlocked;
 * the faulting page stays locked.  A file's read sets vmf->nr_read to the
 * pages it brought in.  Returns 0, -ENXIO if the page is past end of file,
 * -ENOMEM if no frame can be had, or the read's -errno. */
int page_cache_fill(struct fault *vmf)
{
	struct address_space *mapping = vmf->vma->vm_file->f_mapping;
	unsigned long pgoff = vmf->pgoff, first, last, want_first, want_end;
	uint32_t slots[4 * RA_MAX];	/* frame slots (< 2^24): 2 KiB of handler stack */
	ssize_t n;
	int r;

	if (mapping->device) {		/* the driver's page: no frame, no window */
		if ((r = mapping->a_ops->readpage(vmf, mapping->direct + (pgoff << PAGE_SHIFT))))
			return r;
		__atomic_fetch_or(&mapping->flags[pgoff], PG_uptodate, __ATOMIC_RELEASE);
		return 0;
	}
	__atomic_add_fetch(&vmf->vma->vm_file->f_ra.mmap_miss, 1, __ATOMIC_RELAXED);
	ondemand_window(vmf, &want_first, &want_end);
	/* Not past the file's end as last seen (nor the cache's size): frames
	 * for pages that do not exist would only push others out. */
	unsigned long eof = PAGE_ALIGN((unsigned long)mapping->i_stat.st_size) >> PAGE_SHIFT;
	if (want_end > eof && eof > pgoff)
		want_end = eof;
	if (want_end > mapping->nr_pages)
		want_end = mapping->nr_pages;
	if (want_end - want_first > 4 * RA_MAX)
		want_end = want_first + 4 * RA_MAX;
	/* Grow [first, last] out from pgoff over pages we can lock that are
	 * neither cached nor in swap. */
	first = last = pgoff;
	while (last + 1 < want_end && trylock_page(mapping, last + 1)) {
		if (mapping->flags[last + 1] & (PG_uptodate | PG_swap)) {
			unlock_page(mapping, last + 1);
			break;
		}
		last++;
	}
	while (first > want_first && trylock_page(mapping, first - 1)) {
		if (mapping->flags[first - 1] & (PG_uptodate | PG_swap)) {
			unlock_page(mapping, first - 1);
			break;
		}
		first--;
	}
	/* A frame for each: the faulting page must have one; the window
	 * shrinks towards it if frames run out. */
	memset(slots, 0, (last - first + 1) * sizeof(slots[0]));
	for (unsigned long p = pgoff; p <= last; p++)
		if (!(slots[p - first] = (uint32_t)alloc_frame()))
			break;
	for (unsigned long p = pgoff; p > first; p--)
		if (!(slots[p - 1 - first] = (uint32_t)alloc_frame()))
			break;
	if (!slots[pgoff - first]) {
		r = -ENOMEM;
		goto out_unlock;
	}
	unsigned long lo = pgoff, hi = pgoff;	/* the pages with frames */
	while (hi < last && slots[hi + 1 - first])
		hi++;
	while (lo > first && slots[lo - 1 - first])
		lo--;
	/* Frames past a hole in the run go back; so do those pages' locks. */
	for (unsigned long p = first; p <= last; p++) {
		if (p >= lo && p <= hi)
			continue;
		if (slots[p - first])
			free_frame(slots[p - first]);
		if (p != pgoff)
			unlock_page(mapping, p);
	}
	first = lo;
	last = hi;

	unsigned long t0 = host_now_ns();
	n = host_read_full(mapping->fd, mapping->direct + (first << PAGE_SHIFT),
			   (last - first + 1) << PAGE_SHIFT, (off_t)(first << PAGE_SHIFT));
	count_vm_events(EV_fill_ns, host_now_ns() - t0);
	if (n < 0) {
		r = (int)n;
		goto out_unlock;
	}
	unsigned long got = ((unsigned long)n + PAGE_SIZE - 1) >> PAGE_SHIFT;	/* pages with data */
	if (n & (PAGE_SIZE - 1))	/* the tail of the last page past end of file */
		memset(mapping->direct + (first << PAGE_SHIFT) + n, 0, PAGE_SIZE - (n & (PAGE_SIZE - 1)));
	if (pgoff >= first + got) {
		r = -ENXIO;
		goto out_unlock;
	}
	count_vm_events(EV_pgpgin, got);
	count_vm_events(EV_pgreadahead, got - 1);
	vmf->nr_read = (unsigned int)got;
	for (unsigned long p = first; p <= last; p++) {
		if (p < first + got) {
			set_frame(slots[p - first], mapping, p);
			__atomic_store_n(&mapping->flags[p],
					 PG_locked | PG_uptodate | ((pgflags_t)slots[p - first] << PG_VAL_SHIFT),
					 __ATOMIC_RELEASE);
		} else {
			free_frame(slots[p - first]);
		}
		if (p != pgoff)
			unlock_page(mapping, p);
	}
	if (got > 1 && last + 1 < mapping->nr_pages && mapping->fd >= 0)
		/* let the host fetch the next window from disk meanwhile */
		host_readahead(mapping->fd, (off_t)((last + 1) << PAGE_SHIFT),
			       (off_t)((last + 1 - first) << PAGE_SHIFT));
	return 0;

out_unlock:
	for (unsigned long p = first; p <= last; p++) {
		if (slots[p - first])
			free_frame(slots[p - first]);
		if (p != pgoff)
			unlock_page(mapping, p);
	}
	return r;
}

/* For fault-around: lock the page cache page at addr of vma and its PTE, if
 * it is cached, not mapped here, and neither is locked by someone else. */
static bool take_neighbour(struct vm_area_struct *vma, unsigned long addr, pte_t **ptep)
{
	struct address_space *mapping = vma->vm_file->f_mapping;
	unsigned long pgoff = linear_page_index(vma, addr);
	pte_t *pte = pgoff < mapping->nr_pages ? pte_offset(addr, true) : NULL;

	if (!pte || ptep_get(pte) || !trylock_page(mapping, pgoff))
		return false;
	if ((mapping->flags[pgoff] & (PG_uptodate | PG_swap)) != PG_uptodate || !pte_trylock(pte)) {
		unlock_page(mapping, pgoff);
		return false;
	}
	if (ptep_get(pte)) {		/* mapped while we looked */
		pte_unlock(pte);
		unlock_page(mapping, pgoff);
		return false;
	}
	*ptep = pte;
	return true;
}

/* Map the fault page and the cached pages around it in its aligned block
 * (do_fault_around): the longest run of neighbours, each cached, not mapped
 * here and free to lock, that contains the fault, in one host call.  The
 * caller holds the fault page's lock and PTE lock.  Returns true if it
 * mapped the fault page, with vmf->nr_mapped set to the pages it mapped;
 * false leaves it to the caller. */
bool do_fault_around(struct fault *vmf, pte_t entry)
{
	struct vm_area_struct *vma = vmf->vma;
	struct address_space *mapping = vma->vm_file->f_mapping;
	unsigned long block = vmf->address & ~(FAULT_AROUND * PAGE_SIZE - 1);
	unsigned long lo = block > vma->vm_start ? block : vma->vm_start;
	unsigned long hi = block + FAULT_AROUND * PAGE_SIZE < vma->vm_end ?
			   block + FAULT_AROUND * PAGE_SIZE : vma->vm_end;
	pte_t *ptes[FAULT_AROUND];
	unsigned long start = vmf->address, end = vmf->address + PAGE_SIZE;

	if ((vma->vm_flags & VM_RAND_READ) || mapping->device)
		return false;
	/* Neighbours that are cached, unmapped here and free to lock. */
	while (end < hi && take_neighbour(vma, end, &ptes[(end - block) >> PAGE_SHIFT]))
		end += PAGE_SIZE;
	while (start > lo &&
	       take_neighbour(vma, start - PAGE_SIZE, &ptes[(start - PAGE_SIZE - block) >> PAGE_SHIFT]))
		start -= PAGE_SIZE;
	ptes[(vmf->address - block) >> PAGE_SHIFT] = vmf->pte;
	bool mapped = false;
	if (end - start > PAGE_SIZE) {
		unsigned long t0 = host_now_ns();
		mapped = host_protect(start, end - start, vma_host_prot(vma, entry)) == 0;
		count_vm_events(EV_protect_ns, host_now_ns() - t0);
	}
	if (mapped)
		host_vmas_account(1);
	for (unsigned long addr = start; addr < end; addr += PAGE_SIZE) {
		pte_t *pte = ptes[(addr - block) >> PAGE_SHIFT];
		if (mapped)
			set_pte_at(addr, pte, entry);
		if (addr == vmf->address)
			continue;
		if (mapped)	/* it may be used now unseen: as good as referenced */
			mark_frame_accessed(pg_val(mapping->flags[linear_page_index(vma, addr)]));
		pte_unlock(pte);
		unlock_page(mapping, linear_page_index(vma, addr));
	}
	if (mapped) {
		vmf->nr_mapped = (unsigned int)((end - start) >> PAGE_SHIFT);
		count_vm_events(EV_pgfaultaround, vmf->nr_mapped - 1);
	}
	return mapped;
}
