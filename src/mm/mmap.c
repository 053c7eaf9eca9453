/*
 * mmap.c - the mmap path (mm/mmap.c, mm/vma.c):
 *
 *   do_mmap -> get_unmapped_area -> mmap_region -> file->f_op->mmap -> vma_link
 *
 * and its inverse, do_munmap.  The address space is shared with the host's
 * own mappings (malloc, stacks, libraries), so only the host knows which
 * addresses are free: get_unmapped_area reserves the range with a PROT_NONE
 * host mapping, which stays the VMA's backing: a fault maps a frame over
 * one of its pages (map_frames), reclaim puts the reservation back.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/mman.h>

#ifndef MAP_UNINITIALIZED
#define MAP_UNINITIALIZED 0x4000000
#endif
#ifndef MAP_HUGE_MASK
#define MAP_HUGE_MASK 0x3f
#define MAP_HUGE_SHIFT 26
#endif

#include "host/host.h"
#include "mm/mm.h"
#include "mm/vmstat.h"

/* Find (and reserve) room for len bytes: at addr exactly for MAP_FIXED and
 * MAP_FIXED_NOREPLACE, near addr as a hint otherwise.  Returns 0 or -errno. */
static int get_unmapped_area(struct mm_struct *mm, unsigned long addr, unsigned long len,
			     int flags, unsigned long *out)
{
	int how = 0;

	/* The heap's reservation above the break is free address space. */
	if ((flags & MAP_FIXED_NOREPLACE) && mm->start_brk && addr >= PAGE_ALIGN(mm->brk) &&
	    addr + len <= mm->brk_end) {
		if (find_vma_intersection(mm, addr, addr + len))
			return -EEXIST;
		flags = (flags & ~MAP_FIXED_NOREPLACE) | MAP_FIXED;
	}
	if (flags & MAP_FIXED_NOREPLACE)	/* implies MAP_FIXED, but must not replace */
		how = HOST_RESERVE_NOREPLACE;
	else if (flags & MAP_FIXED)
		how = HOST_RESERVE_FIXED;
	if (flags & MAP_32BIT)
		how |= HOST_RESERVE_32BIT;
	int r = host_reserve(addr, len, how, out);
	if (!r && *out + len > TASK_SIZE) {	/* beyond what the page table covers */
		host_unmap(*out, len);
		return -ENOMEM;
	}
	return r;
}

static int clear_one(unsigned long addr, pte_t *ptep, void *arg)
{
	(void)arg;
	zap_pte(addr, ptep, ptep_get(ptep));
	return 0;
}

/* Clear the software PTEs of [start, end), freeing the private frames and
 * swap slots they hold; the host mapping is going or being replaced. */
static void clear_ptes(unsigned long start, unsigned long end)
{
	walk_ptes(start, end, clear_one, NULL);
}

/* Put the reservation back over [start, end) of vma: PROT_NONE, empty, as
 * every page that is not present is on the host.  Returns 0 or -errno. */
int vma_map_backing(struct vm_area_struct *vma, unsigned long start, unsigned long end)
{
	(void)vma;
	return host_map_anon(start, end - start);
}

/* handler-safe: make nr frames from pfn on the host's pages at addr of
 * vma, with the protection entry asks for (one host call): MAP_SHARED of
 * the domain's segment for a shared VMA, MAP_PRIVATE for a private one (so
 * a write copies).  If the host refuses for lack of mappings, reclaim
 * merges some and it is tried again.  Returns 0 or -errno. */
int map_frames(struct vm_area_struct *vma, unsigned long addr, unsigned long nr, unsigned long pfn,
	       pte_t entry)
{
	int prot = vma_host_prot(vma, entry);
	off_t off = (off_t)(SEGMENT_META + (pfn << PAGE_SHIFT));
	bool shared = vma->vm_flags & VM_SHARED;
	unsigned long t0 = host_now_ns();
	int r = host_map_frames(addr, nr << PAGE_SHIFT, dom.fd, off, prot, shared);

	if (r == -ENOMEM) {
		host_vmas_pressure();
		r = host_map_frames(addr, nr << PAGE_SHIFT, dom.fd, off, prot, shared);
	}
	count_vm_events(EV_protect_ns, host_now_ns() - t0);
	if (!r)
		host_vmas_account(1);
	return r;
}

/* Create the VMA for [addr, addr + len), already reserved.  file is consumed
 * (its reference moves to the VMA).  Returns 0 or -errno; on failure the
 * range is left reserved, for the caller to unmap. */
static int mmap_region(struct mm_struct *mm, struct file *file, unsigned long addr,
		       unsigned long len, unsigned long vm_flags, unsigned long pgoff,
		       struct vm_area_struct **vmap)
{
	struct vm_area_struct *vma = vm_area_alloc();
	int r = -ENOMEM;

	if (!vma)
		goto out_fput;
	vma->vm_start = addr;
	vma->vm_end = addr + len;
	vma->vm_flags = vm_flags;
	vma->vm_page_prot = (int)(vm_flags & VM_ACCESS_FLAGS);
	vma->vm_pgoff = pgoff;
	if (file) {
		vma->vm_file = file;
		file = NULL;
		if ((r = vma->vm_file->f_op->mmap(vma->vm_file, vma)))
			goto out_free;
	} else if (vm_flags & VM_SHARED) {
		if ((r = shmem_zero_setup(mm, vma)))
			goto out_free;
	} else {
		vma->vm_pgoff = addr >> PAGE_SHIFT;
	}
	/* The reservation is already private anonymous PROT_NONE memory: what
	 * every page of every kind of VMA is until it is present. */
	clear_ptes(addr, addr + len);
	if ((r = vma_link(mm, vma)))
		goto out_free;
	if (vm_flags & VM_LOCKED)
		mm->locked_vm += len >> PAGE_SHIFT;
	*vmap = vma_merge(mm, vma);
	return 0;

out_free:
	if (vma->vm_file)
		fput(mm, vma->vm_file);
	vm_area_free(vma);
out_fput:
	if (file)
		fput(mm, file);
	return r;
}

/* calc_vm_prot_bits, calc_vm_flag_bits, and mm->def_flags (MCL_FUTURE) */
static unsigned long calc_vm_flags(struct mm_struct *mm, int prot, int flags)
{
	unsigned long vm_flags = (unsigned long)(prot & (PROT_READ | PROT_WRITE | PROT_EXEC));

	vm_flags |= VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | mm->def_flags;
	if (flags & MAP_NORESERVE)
		vm_flags |= VM_NORESERVE;
	if (flags & MAP_LOCKED)
		vm_flags |= VM_LOCKED;
	return vm_flags;
}

/* Flags MAP_SHARED_VALIDATE accepts (LEGACY_MAP_MASK). */
#define LEGACY_MAP_MASK (MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_DENYWRITE | \
			 MAP_EXECUTABLE | MAP_UNINITIALIZED | MAP_GROWSDOWN | MAP_LOCKED | \
			 MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB | \
			 MAP_32BIT | MAP_FIXED_NOREPLACE | (int)(MAP_HUGE_MASK * (1U << MAP_HUGE_SHIFT)))

/* file_mmap_ok: the mapped range must fit in a file (MAX_LFS_FILESIZE). */
static bool file_mmap_ok(unsigned long pgoff, unsigned long len)
{
	unsigned long maxsize = (unsigned long)INT64_MAX;

	if (len > maxsize)
		return false;
	maxsize -= len;
	return pgoff <= maxsize >> PAGE_SHIFT;
}

/* The checks of do_mmap's file branch, in its order.  Adjusts *vm_flags.
 * Returns 0 or -errno. */
static int mmap_file_checks(int fd, int prot, int flags, unsigned long pgoff,
			    unsigned long len, unsigned long *vm_flags)
{
	int fl = host_fd_flags(fd);

	if (fl < 0)
		return fl;
	if (fl & O_PATH)
		return -EBADF;
	if (!file_mmap_ok(pgoff, len))
		return -EOVERFLOW;
	bool readable = (fl & O_ACCMODE) != O_WRONLY;
	bool writable = (fl & O_ACCMODE) != O_RDONLY;

	switch (flags & MAP_TYPE) {
	case MAP_SHARED:
		flags &= LEGACY_MAP_MASK;
		/* fall through */
	case MAP_SHARED_VALIDATE:
		if (flags & ~LEGACY_MAP_MASK)
			return -EOPNOTSUPP;
		if ((prot & PROT_WRITE) && !writable)
			return -EACCES;
		*vm_flags |= VM_SHARED | VM_MAYSHARE;
		if (!writable)	/* never writable: Linux makes it effectively private */
			*vm_flags &= ~(VM_MAYWRITE | VM_SHARED);
		/* fall through */
	case MAP_PRIVATE:
		if (!readable)
			return -EACCES;
		if (host_fd_noexec(fd)) {
			if (prot & PROT_EXEC)
				return -EPERM;
			*vm_flags &= ~VM_MAYEXEC;
		}
		return 0;
	default:
		return -EINVAL;
	}
}

/* vmemu's own descriptors are its memory: running out of them,
 * or of room for frames, is ENOMEM to mmap's caller, never EMFILE or ENOSPC,
 * which Linux's mmap does not return. */
static int mmap_errno(int r)
{
	return r == -EMFILE || r == -ENOSPC ? -ENOMEM : r;
}

/* Map len bytes (len unchecked) at or near addr, with Linux's checks in
 * do_mmap's order.  fd is a regular file unless MAP_ANONYMOUS.  Returns 0
 * with the address in *out, or -errno.  Caller holds mmap_lock for writing. */
int do_mmap(struct mm_struct *mm, unsigned long addr, unsigned long len, int prot,
	    int flags, int fd, unsigned long pgoff, unsigned long *out)
{
	unsigned long vm_flags = calc_vm_flags(mm, prot, flags);
	struct vm_area_struct *vma;
	struct file *file = NULL;
	bool anon = flags & MAP_ANONYMOUS;
	bool reserved = false;
	int r;

	if (!len)
		return -EINVAL;
	len = PAGE_ALIGN(len);
	if (!len)
		return -ENOMEM;
	if (pgoff + (len >> PAGE_SHIFT) < pgoff)
		return -EOVERFLOW;
	/* __get_unmapped_area's checks */
	if (len > TASK_SIZE)
		return -ENOMEM;
	if (flags & MAP_FIXED_NOREPLACE)
		flags |= MAP_FIXED;
	if (flags & MAP_FIXED) {
		/* vmemu's own memory is no more the program's than the
		 * kernel's half of the address space is */
		if (addr > TASK_SIZE - len || vmalloc_intersects(addr, addr + len))
			return -ENOMEM;
		if (offset_in_page(addr))
			return -EINVAL;
	}
	if (flags & MAP_FIXED_NOREPLACE) {
		if ((r = get_unmapped_area(mm, addr, len, flags, &addr)))
			return r;
		reserved = true;
	}
	if ((flags & MAP_LOCKED) && !can_do_mlock()) {
		r = -EPERM;
		goto out_unreserve;
	}
	if (!mlock_future_ok(mm, vm_flags, len)) {
		r = -EAGAIN;
		goto out_unreserve;
	}
	if (!anon) {
		if ((r = mmap_file_checks(fd, prot, flags, pgoff, len, &vm_flags)))
			goto out_unreserve;
	} else {
		switch (flags & MAP_TYPE) {
		case MAP_SHARED:
			vm_flags |= VM_SHARED | VM_MAYSHARE;
			break;
		case MAP_PRIVATE:
			break;
		default:
			r = -EINVAL;
			goto out_unreserve;
		}
	}
	if (!anon && (r = file_open_mapping(mm, fd, vm_flags & VM_SHARED, &file)))
		goto out_unreserve;
	if (!reserved) {
		if ((flags & MAP_FIXED) && (r = do_munmap(mm, addr, len, false)))
			goto out_fput;
		if ((r = get_unmapped_area(mm, addr, len, flags, &addr)))
			goto out_fput;
		reserved = true;
	}
	if ((r = mmap_region(mm, file, addr, len, vm_flags, pgoff, &vma))) {
		host_unmap(addr, len);
		return mmap_errno(r);
	}
	*out = addr;
	if ((vm_flags & VM_LOCKED) || (flags & (MAP_POPULATE | MAP_NONBLOCK)) == MAP_POPULATE)
		mm_populate(mm, addr, addr + len, true);	/* errors ignored, as Linux's */
	return 0;

out_fput:
	if (file)
		fput(mm, file);
out_unreserve:
	if (reserved)
		host_unmap(addr, len);
	return mmap_errno(r);
}

#define POPULATE_TRIES	100	/* faults on one page that may lose a race */

/* Does the PTE at addr let the access in (present; writable for a write)? */
static bool pte_allows(unsigned long addr, bool write)
{
	pte_t *ptep = pte_offset(addr, false);
	pte_t v = ptep ? ptep_get(ptep) : 0;

	return (v & PTE_PRESENT) && (!write || (v & PTE_WRITE));
}

/* Fault in every page of [start, end) as a read, or as a write (breaking
 * COW, dirtying shared pages).  force (FOLL_FORCE, as mm_populate uses):
 * any accessible VMA may be read.  Returns 0; -EINVAL where the VMA does
 * not allow the access (check_vma_flags); -EFAULT where the access would
 * raise SIGBUS; -ENOMEM where nothing is mapped.  Caller holds mmap_lock. */
int populate_range(struct mm_struct *mm, unsigned long start, unsigned long end, bool write,
		   bool force)
{
	for (unsigned long addr = start; addr < end; addr += PAGE_SIZE) {
		struct vm_area_struct *vma = find_vma(mm, addr);
		if (!vma || vma->vm_start > addr)
			return -ENOMEM;
		unsigned long need = write ? VM_WRITE : force ? VM_ACCESS_FLAGS : VM_READ;
		if (!(vma->vm_flags & need))
			return -EINVAL;
		/* A fault that lost a race to reclaim or another fault changed
		 * nothing (VM_FAULT_NOPAGE): again, until the page is there. */
		int ret, tries = 0;
		do
			ret = handle_mm_fault(vma, addr, write ? FAULT_FLAG_WRITE : 0);
		while ((ret & VM_FAULT_NOPAGE) && !(ret & VM_FAULT_ERROR) && !pte_allows(addr, write) &&
		       ++tries < POPULATE_TRIES);
		if (ret & VM_FAULT_OOM)
			return -ENOMEM;
		if (ret & VM_FAULT_ERROR)
			return -EFAULT;
		count_vm_event(EV_populate);
	}
	return 0;
}

/* Remove one whole VMA: write back its dirty shared pages (a failure keeps
 * them dirty in the cache, reported later), forget its PTEs, drop it. */
static void remove_vma(struct mm_struct *mm, struct vm_area_struct *vma)
{
	/* Out of the tree and the rmap first: its host range may be gone
	 * already, so write-back must not try to write-protect it.  The write
	 * goes through the library's own view of the frames. */
	clear_ptes(vma->vm_start, vma->vm_end);
	vma_unlink(mm, vma);
	if (vma->vm_flags & VM_LOCKED)
		mm->locked_vm -= vma_pages(vma);
	if (vma_is_shared_file(vma))
		filemap_write_and_wait_range(vma->vm_file->f_mapping, vma->vm_pgoff,
					     vma->vm_pgoff + vma_pages(vma) - 1, false);
	if (vma->vm_file)
		fput(mm, vma->vm_file);
	vm_area_free(vma);
}

/* The host's munmap of [start, end), but for vmemu's own memory in it,
 * which is a hole to the program.  Returns 0 or the host's first -errno. */
static int unmap_host_range(unsigned long start, unsigned long end)
{
	int err = 0, r;
	bool own;

	for (unsigned long next; start < end; start = next) {
		next = vmalloc_part(start, end, &own);
		if (!own && (r = host_unmap(start, next - start)) && !err)
			err = r;
	}
	return err;
}

/* Unmap [start, start + len): split the VMAs at the edges, (if unmap_host)
 * unmap the whole range on the host, which also passes the call through
 * for parts vmemu does not manage, then remove the VMAs inside.  Returns 0,
 * or -errno with nothing removed (a split, or the host, failed).  Caller
 * holds mmap_lock for writing. */
int do_munmap(struct mm_struct *mm, unsigned long start, size_t len, bool unmap_host)
{
	unsigned long end = start + len;
	struct vm_area_struct *vma = find_vma_intersection(mm, start, end);
	int r;

	if (vma) {
		if (vma->vm_start < start && (r = split_vma(mm, vma, start, 1)))
			return r;
		struct vm_area_struct *last = find_vma(mm, end - 1);
		if (last && last->vm_start < end && last->vm_end > end &&
		    (r = split_vma(mm, last, end, 0)))
			return r;
	}
	/* The host first: if it refuses, nothing is unmapped, as on Linux (and
	 * the splits are joined again). */
	if (unmap_host && (r = unmap_host_range(start, end))) {
		if ((vma = find_vma_intersection(mm, start, end)))
			vma_merge(mm, vma);
		if ((vma = find_vma(mm, end)) && vma->vm_start == end)
			vma_merge(mm, vma);
		return r;
	}
	while ((vma = find_vma_intersection(mm, start, end)))
		remove_vma(mm, vma);
	return 0;
}
