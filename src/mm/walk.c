/*
 * walk.c - visit a user range part by part.
 *
 * A range given to mprotect, msync, madvise or mincore may cover emulated
 * VMAs, the program's own host mappings and holes.  walk_range hands the
 * emulated parts to vma_range and everything else to gap (the host call,
 * which knows about its own mappings and reports ENOMEM for holes), except
 * the heap's reservation and vmemu's own memory (vmalloc.c), which are
 * holes for the program though the host has them mapped.
 */
#include <errno.h>

#include "mm/brk.h"
#include "mm/mm.h"

/* Returns the first non-zero result, or 0.  The callbacks may change the
 * VMA tree: the walk looks the next part up again by address. */
int walk_range(struct mm_struct *mm, unsigned long start, unsigned long end,
	       const struct range_walk_ops *ops, void *arg)
{
	unsigned long addr = start;
	int r, unmapped_error = 0;

	while (addr < end) {
		struct vm_area_struct *vma = find_vma(mm, addr);
		unsigned long next = vma && vma->vm_start < end ? vma->vm_start : end;

		if (next > addr) {
			bool hole;
			next = brk_hole_part(mm, addr, next, &hole);
			if (!hole)
				next = vmalloc_part(addr, next, &hole);
			r = ops->gap && !hole ? ops->gap(addr, next, arg) : -ENOMEM;
			if (r == -ENOMEM && ops->continue_past_holes)
				unmapped_error = r;
			else if (r)
				return r;
			addr = next;
			continue;
		}
		next = vma->vm_end < end ? vma->vm_end : end;
		if ((r = ops->vma_range(mm, vma, addr, next, arg)))
			return r;
		addr = next;
	}
	return unmapped_error;
}
