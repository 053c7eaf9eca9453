/*
 * brk.c - the heap: mm->start_brk .. mm->brk (mm/mmap.c: sys_brk, do_brk_flags).
 *
 * The real program break belongs to the host's malloc, so the emulated heap
 * gets a range of its own: a PROT_NONE host placeholder of BRK_RESERVE bytes,
 * reserved at the first brk call, that nothing else is placed in (as Linux
 * keeps the heap away from mmap_base).  Growing the break makes an anonymous
 * private VMA (merged with the heap below it); shrinking unmaps the pages
 * above the new break, which come back zero-filled if it grows again.  A
 * mapping the program put in the way with MAP_FIXED stops the growth, as
 * Linux refuses a break that would run into the next VMA.
 *
 * Above the break the reservation is unmapped address space for the
 * program (brk.h): calls find a hole there, loads get SEGV_MAPERR (the
 * trap asks brk_unmapped), munmap puts the placeholder back, and a host
 * mapping put there ends the reservation below it until it goes.
 */
#include <errno.h>

#include "host/host.h"
#include "mm/brk.h"
#include "mm/mm.h"

#define BRK_RESERVE	(1UL << 36)	/* 64 GiB of address space, no memory */

/* Where the reservation ended when it was made: a reservation cut short by
 * a host mapping grows back up to here once that mapping goes. */
static unsigned long brk_reserved_end;

/* The program's data segment, counted with the heap against RLIMIT_DATA. */
static unsigned long brk_data_size;

static unsigned long min_ul(unsigned long a, unsigned long b)
{
	return a < b ? a : b;
}

static unsigned long max_ul(unsigned long a, unsigned long b)
{
	return a > b ? a : b;
}

/* handler-safe: is addr, where no VMA is, in the heap's reservation?  The
 * trap asks, for the SEGV_MAPERR the kernel would give there: the host has
 * the placeholder there and says SEGV_ACCERR.  Takes mmap_lock for reading. */
static bool brk_unmapped(unsigned long addr)
{
	struct mm_struct *mm = &init_mm;
	struct vm_area_struct *vma;
	bool hole;

	mmap_read_lock();
	hole = mm->start_brk && addr >= PAGE_ALIGN(mm->brk) && addr < mm->brk_end &&
	       (!(vma = find_vma(mm, addr)) || vma->vm_start > addr);
	mmap_read_unlock();
	return hole;
}

/* The heap's first address, reserving its range on first use.  Returns 0
 * or -errno.  Caller holds mmap_lock for writing. */
static int brk_setup(struct mm_struct *mm)
{
	unsigned long base;
	int r;

	if (mm->start_brk)
		return 0;
	if ((r = host_reserve(0, BRK_RESERVE, 0, &base)))
		return r;
	mm->start_brk = mm->brk = base;
	mm->brk_end = brk_reserved_end = base + BRK_RESERVE;
	brk_data_size = host_data_segment();
	host_trap_set_unmapped(brk_unmapped);
	return 0;
}

/* The first part of [*start, end) that no VMA covers, in [*gap, *start):
 * returns false when there is none left.  (Advances *start past it.) */
static bool next_gap(struct mm_struct *mm, unsigned long *start, unsigned long end, unsigned long *gap)
{
	while (*start < end) {
		struct vm_area_struct *vma = find_vma(mm, *start);
		unsigned long gap_end = vma && vma->vm_start < end ? vma->vm_start : end;
		if (gap_end > *start) {
			*gap = *start;
			*start = gap_end;
			return true;
		}
		*start = vma->vm_end;
	}
	return false;
}

/* The reservation ends at end now.  Its placeholder from release up, where
 * no VMA is, goes back to the host, so that range is plain free address
 * space; [end, release) is the caller's business (a host mapping). */
static void brk_cut(struct mm_struct *mm, unsigned long end, unsigned long release)
{
	unsigned long addr = release, gap, old = mm->brk_end;

	mm->brk_end = end;
	while (next_gap(mm, &addr, old, &gap))
		host_unmap(gap, addr - gap);
}

/* A reservation that was cut short grows back, up to where it ended at
 * first or to the next VMA, if the host has nothing in between. */
static void brk_regrow(struct mm_struct *mm)
{
	struct vm_area_struct *next;
	unsigned long upto = brk_reserved_end, got;

	if (mm->brk_end >= upto)
		return;
	if ((next = find_vma(mm, mm->brk_end)) && next->vm_start < upto)
		upto = next->vm_start;
	if (upto > mm->brk_end &&
	    !host_reserve(mm->brk_end, upto - mm->brk_end, HOST_RESERVE_NOREPLACE, &got))
		mm->brk_end = upto;
}

unsigned long brk_hole_part(const struct mm_struct *mm, unsigned long start, unsigned long end,
			    bool *hole)
{
	unsigned long lo = PAGE_ALIGN(mm->brk);

	*hole = false;
	if (!mm->start_brk || start >= mm->brk_end)
		return end;
	if (start < lo)
		return min_ul(end, lo);
	*hole = true;
	return min_ul(end, mm->brk_end);
}

bool brk_range_is_hole(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	return mm->start_brk && start >= PAGE_ALIGN(mm->brk) && end <= mm->brk_end && start < end &&
	       !find_vma_intersection(mm, start, end);
}

int brk_munmap(struct mm_struct *mm, unsigned long start, unsigned long len)
{
	unsigned long end = start + len, lo, hi;
	int r;

	if (!mm->start_brk)
		return do_munmap(mm, start, len, true);
	lo = max_ul(start, PAGE_ALIGN(mm->brk));
	hi = min_ul(end, mm->brk_end);
	if (lo >= hi) {
		r = do_munmap(mm, start, len, true);
	} else {
		if (start < lo && (r = do_munmap(mm, start, lo - start, true)))
			return r;
		if (hi < end && (r = do_munmap(mm, hi, end - hi, true)))
			return r;
		/* The VMAs in the reservation go, and the placeholder replaces
		 * their host pages at once: no moment with a hole there. */
		r = 0;
		if (find_vma_intersection(mm, lo, hi) && !(r = do_munmap(mm, lo, hi - lo, false)) &&
		    host_map_anon(lo, hi - lo)) {
			host_unmap(lo, hi - lo);	/* a hole, never the old pages */
			brk_cut(mm, lo, lo);
		}
	}
	if (!r && end >= mm->brk_end)
		brk_regrow(mm);
	return r;
}

void brk_host_mapped(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	unsigned long cut = max_ul(start, PAGE_ALIGN(mm->brk));

	if (mm->start_brk && end > cut && start < mm->brk_end)
		brk_cut(mm, cut, min_ul(end, mm->brk_end));
}

void brk_restore(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	unsigned long addr, hi, gap;

	if (!mm->start_brk)
		return;
	addr = max_ul(start, PAGE_ALIGN(mm->brk));
	hi = min_ul(end, mm->brk_end);
	while (next_gap(mm, &addr, hi, &gap)) {
		if (host_map_anon(gap, addr - gap)) {
			host_unmap(gap, addr - gap);	/* a hole, and the heap stops below it */
			brk_cut(mm, gap, gap);
			return;
		}
	}
}

/* Set the break to brk (0: just report it).  Returns the break now in
 * *out: brk on success, the old break if refused, as the brk system call
 * does.  Caller holds mmap_lock for writing. */
int do_brk(struct mm_struct *mm, unsigned long brk, unsigned long *out)
{
	unsigned long newbrk, oldbrk;
	struct vm_area_struct *next, *vma;
	int r;

	if ((r = brk_setup(mm)))
		return r;
	*out = mm->brk;
	if (brk < mm->start_brk || brk > mm->brk_end)
		return 0;
	/* check_data_rlimit, before the direction is known, as Linux: the heap
	 * and the data segment together stay within RLIMIT_DATA.  (Linux also
	 * charges the growth to the data mappings, may_expand_vm; vmemu does
	 * not count those.) */
	if (brk - mm->start_brk + brk_data_size > host_data_rlimit())
		return 0;
	newbrk = PAGE_ALIGN(brk);
	oldbrk = PAGE_ALIGN(mm->brk);
	if (newbrk == oldbrk)
		goto success;
	if (newbrk < oldbrk) {		/* shrink: the pages above go */
		if ((r = do_munmap(mm, newbrk, oldbrk - newbrk, false)))
			return 0;
		host_map_anon(newbrk, oldbrk - newbrk);	/* back to the PROT_NONE placeholder */
		goto success;
	}
	/* Grow, unless it would run into the next mapping (and its guard page):
	 * an emulated one, or the host's that cut the reservation short. */
	next = find_vma(mm, oldbrk);
	if (next && newbrk + PAGE_SIZE > next->vm_start)
		return 0;
	if (mm->brk_end < brk_reserved_end && newbrk + PAGE_SIZE > mm->brk_end)
		return 0;
	if (!mlock_future_ok(mm, mm->def_flags, newbrk - oldbrk))	/* after mlockall(MCL_FUTURE) */
		return 0;
	if (!(vma = vm_area_alloc()))
		return 0;
	vma->vm_start = oldbrk;
	vma->vm_end = newbrk;
	vma->vm_flags = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | mm->def_flags;
	vma->vm_page_prot = (int)(vma->vm_flags & VM_ACCESS_FLAGS);
	vma->vm_pgoff = oldbrk >> PAGE_SHIFT;
	if (vma_link(mm, vma)) {
		vm_area_free(vma);
		return 0;
	}
	if (vma->vm_flags & VM_LOCKED)
		mm->locked_vm += (newbrk - oldbrk) >> PAGE_SHIFT;
	vma_merge(mm, vma);
	mm->brk = brk;
	*out = brk;
	if (mm->def_flags & VM_LOCKED)	/* as sys_brk: locked memory is populated */
		mm_populate(mm, oldbrk, newbrk, true);
	return 0;
success:
	mm->brk = brk;
	*out = brk;
	return 0;
}

/* Is vma (part of) the heap?  For /proc/self/maps' "[heap]". */
bool vma_is_heap(const struct mm_struct *mm, const struct vm_area_struct *vma)
{
	return !vma->vm_file && vma->vm_start >= mm->start_brk && vma->vm_end <= PAGE_ALIGN(mm->brk) &&
	       mm->start_brk;
}
