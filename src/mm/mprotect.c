/*
 * mprotect.c - change the protection of a range (mm/mprotect.c).
 */
#include <errno.h>
#include <linux/mman.h>

#include "host/host.h"
#include "mm/mm.h"

/* The run change_protection is building: pages of one protection, and the
 * page-cache frames in it that lose write access (their accounting follows
 * once the host has agreed). */
struct prot_run {
	unsigned long start, end;
	int prot;
	unsigned int nr_wp;
	unsigned long wp[64];
};

static int flush_run(struct prot_run *run)
{
	int r = 0;

	if (run->end > run->start && !(r = host_protect(run->start, run->end - run->start, run->prot)))
		host_vmas_account(1);
	for (unsigned int i = 0; i < run->nr_wp; i++)
		if (!r)
			frame_set_writable(run->wp[i], false);
	run->nr_wp = 0;
	run->start = run->end = 0;
	return r;
}

/* Bring the host protection of the present pages of [start, end) in line
 * with vma's flags and their PTEs, in runs of equal protection.  A VMA that
 * lost VM_WRITE loses PTE_WRITE too, so a later write is seen again.
 * Returns 0 or the host's first -errno (ENOMEM at its mapping limit). */
int change_protection(struct vm_area_struct *vma, unsigned long start, unsigned long end)
{
	struct prot_run run = { .prot = -1 };
	int r = 0;

	for (unsigned long addr = start; addr < end && !r;) {
		pte_t *pte = pte_offset(addr, false);
		if (!pte) {
			addr = pte_next_table(addr, end);
			continue;
		}
		pte_t entry = ptep_get(pte);
		if (entry & PTE_PRESENT) {
			int prot;
			bool wp = !(vma->vm_flags & VM_WRITE) && (entry & PTE_WRITE);
			if (wp)
				set_pte_at(addr, pte, entry &= ~(pte_t)PTE_WRITE);
			prot = vma_host_prot(vma, entry);
			if (prot != run.prot || addr != run.end || run.nr_wp == 64) {
				r = flush_run(&run);
				run.start = addr;
				run.prot = prot;
			}
			run.end = addr + PAGE_SIZE;
			if (wp && !(entry & PTE_ANON))
				run.wp[run.nr_wp++] = pte_val(entry);
		}
		addr += PAGE_SIZE;
	}
	if (!r)
		r = flush_run(&run);
	return r;
}

/* Give [start, end) of vma the flags newflags: split off the parts outside,
 * change (the host's protections too if the access flags changed), then
 * merge with the neighbours.  (mprotect_fixup, also used by madvise and
 * mlock for their flags.)  Returns 0 or -ENOMEM. */
int vma_modify_flags(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long start,
		     unsigned long end, unsigned long newflags)
{
	int r;

	if (newflags == vma->vm_flags)
		return 0;
	if (vma->vm_start < start) {
		if ((r = split_vma(mm, vma, start, 1)))
			return r;
	}
	if (vma->vm_end > end) {
		if ((r = split_vma(mm, vma, end, 0)))
			return r;
	}
	unsigned long oldflags = vma->vm_flags;
	vma->vm_flags = newflags;
	vma->vm_page_prot = (int)(newflags & VM_ACCESS_FLAGS);
	if (((oldflags ^ newflags) & VM_ACCESS_FLAGS) && (r = change_protection(vma, start, end))) {
		/* The host refused (its mapping limit): put the old protection
		 * back, so the VMA and the host agree, and say so. */
		vma->vm_flags = oldflags;
		vma->vm_page_prot = (int)(oldflags & VM_ACCESS_FLAGS);
		change_protection(vma, start, end);
		return r;
	}
	vma_merge(mm, vma);
	return 0;
}

static int mprotect_vma(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long start,
			unsigned long end, void *arg)
{
	unsigned long prot = (unsigned long)*(int *)arg & VM_ACCESS_FLAGS;
	unsigned long oldflags = vma->vm_flags, newflags = (oldflags & ~VM_ACCESS_FLAGS) | prot;
	int r;

	/* VM_MAY* are VM_* shifted left by 4. */
	if ((newflags & ~(vma->vm_flags >> 4)) & VM_ACCESS_FLAGS)
		return -EACCES;
	if ((r = vma_modify_flags(mm, vma, start, end, newflags)))
		return r;
	/* A locked private mapping made writable gets its copies now, as
	 * mprotect_fixup breaks COW for it. */
	if ((oldflags & (VM_WRITE | VM_SHARED | VM_LOCKED)) == VM_LOCKED && (newflags & VM_WRITE))
		populate_range(mm, start, end, true, true);
	return 0;
}

static int mprotect_gap(unsigned long start, unsigned long end, void *arg)
{
	return host_pass_mprotect(start, end - start, *(int *)arg);
}

/* mprotect [start, start + len) (page-aligned, checked at the API edge).
 * Stops at the first failure, as Linux does, leaving earlier parts changed.
 * Caller holds mmap_lock for writing. */
int do_mprotect(struct mm_struct *mm, unsigned long start, size_t len, int prot)
{
	static const struct range_walk_ops ops = { .vma_range = mprotect_vma, .gap = mprotect_gap };
	struct vm_area_struct *vma = find_vma(mm, start);

	if ((prot & PROT_GROWSDOWN) && vma && vma->vm_start <= start)
		return -EINVAL;		/* no emulated VMA grows down */
	prot &= ~(PROT_GROWSDOWN | PROT_GROWSUP);
	return walk_range(mm, start, start + len, &ops, &prot);
}
