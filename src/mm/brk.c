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
 */
#include <errno.h>

#include "host/host.h"
#include "mm/mm.h"

#define BRK_RESERVE	(1UL << 36)	/* 64 GiB of address space, no memory */

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
	mm->brk_end = base + BRK_RESERVE;
	return 0;
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
	/* Grow, unless it would run into the next mapping (and its guard page). */
	next = find_vma(mm, oldbrk);
	if (next && newbrk + PAGE_SIZE > next->vm_start)
		return 0;
	if (!(vma = vm_area_alloc()))
		return 0;
	vma->vm_start = oldbrk;
	vma->vm_end = newbrk;
	vma->vm_flags = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
	vma->vm_page_prot = (int)(vma->vm_flags & VM_ACCESS_FLAGS);
	vma->vm_pgoff = oldbrk >> PAGE_SHIFT;
	if (vma_link(mm, vma)) {
		vm_area_free(vma);
		return 0;
	}
	vma_merge(mm, vma);
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
