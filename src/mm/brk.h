/*
 * brk.h - the heap's reservation, as the rest of the emulated kernel and
 * the API see it (mm/brk.c).
 *
 * [PAGE_ALIGN(mm->brk), mm->brk_end) is held by a PROT_NONE host
 * placeholder so that nothing else lands where the heap will grow.  To the
 * program it is unmapped address space: where no VMA is, calls find a hole
 * (ENOMEM), accesses get SIGSEGV with SEGV_MAPERR, and munmap changes
 * nothing.  Every function here is called with mmap_lock held for writing,
 * except brk_hole_part (for reading is enough).
 */
#ifndef VMEMU_MM_BRK_H
#define VMEMU_MM_BRK_H

#include <stdbool.h>

#include "mm/mm.h"

/* The first part of [start, end), which has no VMA, that is all hole (the
 * heap's reservation: *hole true) or all not: returns where it ends. */
unsigned long brk_hole_part(const struct mm_struct *mm, unsigned long start, unsigned long end,
			    bool *hole);

/* Is all of [start, end) the heap's reservation, with no VMA in it? */
bool brk_range_is_hole(struct mm_struct *mm, unsigned long start, unsigned long end);

/* The program's munmap: do_munmap, except that what lies in the heap's
 * reservation gets its placeholder back.  Returns 0 or -errno. */
int brk_munmap(struct mm_struct *mm, unsigned long start, unsigned long len);

/* A host mapping (one vmemu does not emulate) now covers [start, end): the
 * heap's reservation ends below it, as the heap must not grow into it. */
void brk_host_mapped(struct mm_struct *mm, unsigned long start, unsigned long end);

/* The host range of [start, end) lost its backing (an emulated mapping
 * moved away or shrank): put the placeholder back where it is the heap's. */
void brk_restore(struct mm_struct *mm, unsigned long start, unsigned long end);

#endif /* VMEMU_MM_BRK_H */
