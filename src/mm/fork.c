/*
 * fork.c - what a forked child gets of the address space (kernel/fork.c,
 * dup_mmap).
 *
 * The host copies every mapping into the child, and the child starts with
 * a copy of the parent's VMA tree and page tables.  Then, as Linux's
 * dup_mmap decides while it copies:
 *
 *  - a VMA with VM_DONTCOPY (MADV_DONTFORK) is not in the child: its VMA,
 *    its PTEs and the host's copy of its range go, so the range is a hole
 *    there (an access is SIGSEGV with SEGV_MAPERR);
 *  - a VMA with VM_WIPEONFORK (MADV_WIPEONFORK, private anonymous only)
 *    is in the child, empty: its pages read as zeros again;
 *  - memory locks are not inherited: VM_LOCKED and VM_LOCKONFAULT are
 *    cleared, locked_vm is zero, mlockall(MCL_FUTURE) no longer applies.
 *
 * The parent's dirty pages are its own business: nothing is written back.
 */
#include "host/host.h"
#include "mm/mm.h"

static int zap_one(unsigned long addr, pte_t *ptep, void *arg)
{
	(void)arg;
	zap_pte(addr, ptep, ptep_get(ptep));
	return 0;
}

/* The child has no such VMA: its host range becomes a hole, its PTEs let
 * go of what they held (the child's slots and its bits in the frames'
 * masks), and it leaves the tree. */
static void drop_vma(struct mm_struct *mm, struct vm_area_struct *vma)
{
	host_unmap(vma->vm_start, vma->vm_end - vma->vm_start);
	walk_ptes(vma->vm_start, vma->vm_end, zap_one, NULL);
	vma_unlink(mm, vma);
	if (vma->vm_file)
		fput(mm, vma->vm_file);
	vm_area_free(vma);
}

void dup_mmap(struct mm_struct *mm)
{
	struct vm_area_struct *vma;
	unsigned long addr = 0;

	mm->locked_vm = 0;
	mm->def_flags = 0;
	while ((vma = find_vma(mm, addr))) {
		addr = vma->vm_end;
		vma->vm_flags &= ~VM_LOCKED_MASK;
		if (vma->vm_flags & VM_DONTCOPY)
			drop_vma(mm, vma);
		else if (vma->vm_flags & VM_WIPEONFORK)
			zap_page_range(vma, vma->vm_start, vma->vm_end);
	}
}
