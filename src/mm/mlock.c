/*
 * mlock.c - memory locks (mm/mlock.c): mlock, mlock2, munlock, mlockall,
 * munlockall; MAP_LOCKED and MCL_FUTURE through mlock_future_ok; and
 * RLIMIT_MEMLOCK.
 *
 * A locked VMA has VM_LOCKED, and VM_LOCKONFAULT too for MLOCK_ONFAULT and
 * MCL_ONFAULT.  mm->locked_vm counts its pages against RLIMIT_MEMLOCK, as
 * Linux counts them, present or not.  Its pages are faulted in when it is
 * locked (not with ONFAULT: as each is first touched), and reclaim never
 * takes them: it asks page_mlocked before it unmaps, evicts or swaps a
 * page of this process.  The budget plays the part of physical memory: when
 * it is full of locked pages, populating more fails and mlock says EAGAIN.
 * Locks are not inherited by a forked child (fork.c).  Parts of a range
 * that vmemu does not manage (the program's host mappings) are locked by
 * the host, which counts them against the same limit by itself.
 */
#include <errno.h>
#include <linux/mman.h>

#include "host/host.h"
#include "mm/mm.h"

/* can_do_mlock: a non-zero RLIMIT_MEMLOCK, or CAP_IPC_LOCK. */
bool can_do_mlock(void)
{
	return host_memlock_rlimit() != 0 || host_capable_ipc_lock();
}

/* mlock_future_ok: may a mapping with flags lock bytes more (MAP_LOCKED,
 * MCL_FUTURE, a locked mapping growing)? */
bool mlock_future_ok(struct mm_struct *mm, unsigned long flags, unsigned long bytes)
{
	if (!(flags & VM_LOCKED) || host_capable_ipc_lock())
		return true;
	return (bytes >> PAGE_SHIFT) + mm->locked_vm <= host_memlock_rlimit() >> PAGE_SHIFT;
}

/* Give [start, end) of vma the lock flags of newflags, and count the pages
 * that become locked or unlocked (mlock_fixup).  Returns 0 or -errno. */
static int mlock_fixup(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long start,
		       unsigned long end, unsigned long newflags)
{
	unsigned long oldflags = vma->vm_flags, nr_pages = (end - start) >> PAGE_SHIFT;
	int r;

	if (newflags == oldflags)
		return 0;
	if ((r = vma_modify_flags(mm, vma, start, end, newflags)))
		return r;
	if (!(newflags & VM_LOCKED))
		mm->locked_vm -= nr_pages;
	else if (!(oldflags & VM_LOCKED))
		mm->locked_vm += nr_pages;
	return 0;
}

static int mlock_vma(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long start,
		     unsigned long end, void *arg)
{
	unsigned long flags = *(unsigned long *)arg;

	return mlock_fixup(mm, vma, start, end, (vma->vm_flags & ~VM_LOCKED_MASK) | flags);
}

static int mlock_gap(unsigned long start, unsigned long end, void *arg)
{
	unsigned long flags = *(unsigned long *)arg;

	return host_pass_mlock(start, end - start, flags & VM_LOCKED, flags & VM_LOCKONFAULT);
}

/* apply_vma_lock_flags: the lock flags (0 to unlock) on every VMA of
 * [start, start + len), which must all be mapped: a hole is ENOMEM, with
 * what comes before it done already, as in Linux. */
static int apply_vma_lock_flags(struct mm_struct *mm, unsigned long start, size_t len,
				unsigned long flags)
{
	static const struct range_walk_ops ops = { .vma_range = mlock_vma, .gap = mlock_gap };
	unsigned long end = start + len;

	if (end < start)
		return -EINVAL;
	if (end == start)
		return 0;
	return walk_range(mm, start, end, &ops, &flags);
}

/* The locked pages of [start, start + len) (count_mm_mlocked_page_nr). */
static unsigned long count_mm_mlocked_page_nr(struct mm_struct *mm, unsigned long start, size_t len)
{
	unsigned long end = start + len, count = 0;

	for (struct vm_area_struct *vma = find_vma(mm, start); vma && vma->vm_start < end;
	     vma = vma_next(mm, vma)) {
		if (!(vma->vm_flags & VM_LOCKED))
			continue;
		unsigned long s = vma->vm_start > start ? vma->vm_start : start;
		unsigned long e = vma->vm_end < end ? vma->vm_end : end;
		count += (e - s) >> PAGE_SHIFT;
	}
	return count;
}

/* mlock and mlock2 (flags: VM_LOCKED, with VM_LOCKONFAULT for
 * MLOCK_ONFAULT), the VMAs' part: EPERM without the right to lock, ENOMEM
 * past RLIMIT_MEMLOCK (do_mlock).  The caller populates next.  Caller holds
 * mmap_lock for writing. */
int do_mlock(struct mm_struct *mm, unsigned long start, size_t len, unsigned long flags)
{
	if (!can_do_mlock())
		return -EPERM;
	len = PAGE_ALIGN(len + offset_in_page(start));
	start &= PAGE_MASK;
	unsigned long limit = host_memlock_rlimit() >> PAGE_SHIFT;
	unsigned long locked = (len >> PAGE_SHIFT) + mm->locked_vm;
	if (locked > limit && !host_capable_ipc_lock()) {
		/* pages of the range locked already are counted once */
		locked -= count_mm_mlocked_page_nr(mm, start, len);
		if (locked > limit)
			return -ENOMEM;
	}
	return apply_vma_lock_flags(mm, start, len, flags);
}

/* munlock.  Caller holds mmap_lock for writing. */
int do_munlock(struct mm_struct *mm, unsigned long start, size_t len)
{
	len = PAGE_ALIGN(len + offset_in_page(start));
	start &= PAGE_MASK;
	return apply_vma_lock_flags(mm, start, len, 0);
}

/* The process's mapped pages as Linux counts them (mm->total_vm): what the
 * host maps, but vmemu's own memory and the heap's reservation above the
 * break, which are holes to the program. */
static unsigned long total_vm(const struct mm_struct *mm)
{
	unsigned long pages = host_total_vm(), own = vmalloc_total() >> PAGE_SHIFT;

	if (mm->start_brk)
		own += (mm->brk_end - PAGE_ALIGN(mm->brk)) >> PAGE_SHIFT;
	return pages > own ? pages - own : 0;
}

/* apply_mlockall_flags: MCL_FUTURE sets the flags of every new VMA,
 * MCL_CURRENT those of every VMA now (their errors ignored); 0 unlocks
 * everything.  Caller holds mmap_lock for writing. */
static void apply_mlockall_flags(struct mm_struct *mm, int flags)
{
	unsigned long to_add = 0, addr = 0;
	struct vm_area_struct *vma;

	mm->def_flags &= ~VM_LOCKED_MASK;
	if (flags & MCL_FUTURE) {
		mm->def_flags |= VM_LOCKED;
		if (flags & MCL_ONFAULT)
			mm->def_flags |= VM_LOCKONFAULT;
		if (!(flags & MCL_CURRENT))
			return;
	}
	if (flags & MCL_CURRENT) {
		to_add = VM_LOCKED;
		if (flags & MCL_ONFAULT)
			to_add |= VM_LOCKONFAULT;
	}
	/* by address: a fixup may merge VMAs and move the array */
	while ((vma = find_vma(mm, addr))) {
		addr = vma->vm_end;
		mlock_fixup(mm, vma, vma->vm_start, vma->vm_end, (vma->vm_flags & ~VM_LOCKED_MASK) | to_add);
	}
}

/* mlockall (flags checked by the caller), the VMAs' part: EPERM without
 * the right to lock, ENOMEM if MCL_CURRENT would lock more than
 * RLIMIT_MEMLOCK.  The caller populates next.  Only emulated mappings are
 * locked: the host's mlockall would lock vmemu's own memory too.  Caller
 * holds mmap_lock for writing. */
int do_mlockall(struct mm_struct *mm, int flags)
{
	if (!can_do_mlock())
		return -EPERM;
	if ((flags & MCL_CURRENT) && total_vm(mm) > host_memlock_rlimit() >> PAGE_SHIFT &&
	    !host_capable_ipc_lock())
		return -ENOMEM;
	apply_mlockall_flags(mm, flags);
	return 0;
}

/* munlockall: every lock goes, the host's too.  Caller holds mmap_lock for
 * writing. */
int do_munlockall(struct mm_struct *mm)
{
	apply_mlockall_flags(mm, 0);
	return host_pass_munlockall();
}

/* populate_vma_page_range: fault in [start, end) of vma, as a write where
 * that breaks COW.  Returns 0, -EFAULT (an inaccessible VMA, or a page
 * past end of file) or -ENOMEM (no memory for it). */
static int populate_vma_page_range(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long start,
				   unsigned long end)
{
	if (!(vma->vm_flags & VM_ACCESS_FLAGS))
		return -EFAULT;
	int r = populate_range(mm, start, end, (vma->vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE, true);
	return r == -EINVAL ? -EFAULT : r;
}

/* __mm_populate: fault in the VMAs of [start, end), but those locked on
 * fault; holes are skipped.  Returns 0 or the first error, unless
 * ignore_errors (mmap's MAP_POPULATE and MAP_LOCKED, mlockall).  Caller
 * holds mmap_lock. */
int mm_populate(struct mm_struct *mm, unsigned long start, unsigned long end, bool ignore_errors)
{
	struct vm_area_struct *vma;
	int r;

	for (unsigned long addr = start; addr < end && (vma = find_vma(mm, addr)) && vma->vm_start < end;) {
		unsigned long s = vma->vm_start > addr ? vma->vm_start : addr;
		addr = vma->vm_end < end ? vma->vm_end : end;
		if (vma->vm_flags & VM_LOCKONFAULT)
			continue;
		if ((r = populate_vma_page_range(mm, vma, s, addr)) && !ignore_errors)
			return r;
	}
	return 0;
}

/* handler-safe: is the page at index locked here, so that reclaim must
 * leave it?  index is a private page's address (mapping NULL) or a page
 * offset in mapping, whose VMAs here are its i_mmap.  Caller holds
 * mmap_lock. */
bool page_mlocked(struct address_space *mapping, unsigned long index)
{
	struct vm_area_struct *vma;

	if (!init_mm.locked_vm)
		return false;
	if (!mapping)
		return (vma = find_vma(&init_mm, index)) && vma->vm_start <= index && (vma->vm_flags & VM_LOCKED);
	for (vma = mapping->i_mmap; vma; vma = vma->shared_next)
		if ((vma->vm_flags & VM_LOCKED) && index >= vma->vm_pgoff && index < vma->vm_pgoff + vma_pages(vma))
			return true;
	return false;
}
