/*
 * mman.c - vme_mmap, vme_munmap, vme_mprotect, vme_msync, vme_madvise,
 * vme_mincore: argument checks in Linux's order, then the emulated kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <vmemu.h>
#include "api/api.h"
#include "mm/brk.h"
#include "mm/mm.h"

#ifndef MAP_HUGE_MASK
#define MAP_HUGE_MASK 0x3f
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MAP_UNINITIALIZED
#define MAP_UNINITIALIZED 0x4000000
#endif
#ifndef PROT_SEM
#define PROT_SEM 0x8
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif

/* Mappings vmemu leaves to the host: non-regular files (devices have their
 * own mmap; pipes and directories have none, and the host says ENODEV),
 * huge pages and grow-down stacks. */
static bool host_only(int flags, int fd, int *err)
{
	struct stat st;

	*err = 0;
	if ((flags & (MAP_HUGETLB | MAP_GROWSDOWN)) || (flags & MAP_TYPE) == MAP_DROPPABLE)
		return true;
	if (flags & MAP_ANONYMOUS)
		return false;
	if ((*err = host_fstat(fd, &st)))
		return false;
	return !S_ISREG(st.st_mode);
}

/*
 * A mapping the host makes at a fixed address (a host-only MAP_FIXED mmap,
 * or a host mapping moved there by mremap) replaces whatever was in its
 * range, emulated VMAs included.  host_fixed_begin splits the VMAs that
 * straddle the edges, so that once the host has mapped nothing can fail;
 * host_fixed_end then removes the VMAs inside, leaving the host range alone
 * (it is the new mapping now), or, if the host refused, joins the splits
 * again: the emulated memory stays as it was, as Linux's does for the
 * errors it finds before it unmaps.  Both are called under mmap_lock held
 * for writing, which keeps every fault out in between.
 */
int host_fixed_begin(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	struct vm_area_struct *vma = find_vma(mm, start);
	int r;

	if (vma && vma->vm_start < start && (r = split_vma(mm, vma, start, 1)))
		return r;
	vma = find_vma(mm, end - 1);
	if (vma && vma->vm_start < end && vma->vm_end > end && (r = split_vma(mm, vma, end, 0))) {
		host_fixed_end(mm, start, end, r);
		return r;
	}
	return 0;
}

void host_fixed_end(struct mm_struct *mm, unsigned long start, unsigned long end, int host_err)
{
	struct vm_area_struct *vma;

	if (!host_err) {
		do_munmap(mm, start, end - start, false);	/* whole VMAs only: cannot fail */
		return;
	}
	if ((vma = find_vma(mm, start)) && vma->vm_start == start)
		vma_merge(mm, vma);
	if ((vma = find_vma(mm, end)) && vma->vm_start == end)
		vma_merge(mm, vma);
}

/* A host-only mmap at a fixed address.  With MAP_FIXED the host's mapping
 * replaces the emulated VMAs there.  MAP_FIXED_NOREPLACE never replaces,
 * but the heap's reservation is no mapping for the program: a range all
 * inside it is taken as with MAP_FIXED.  Either way, a host mapping in the
 * reservation ends it below (the heap must not grow into it).  vmemu's own
 * memory is refused with ENOMEM, as do_mmap refuses it. */
static int host_mmap_fixed(unsigned long start, size_t length, int prot, int flags, int fd,
			   off_t offset, unsigned long *out)
{
	unsigned long end = start + PAGE_ALIGN(length);
	struct vme_call call;
	int r;

	/* Arguments the host rejects before it unmaps anything, and a process
	 * with no emulated memory yet: the host's call alone. */
	if (!vme_initialised() || offset_in_page(start) || !length || end <= start)
		return host_pass_mmap(start, length, prot, flags, fd, offset, out);
	if ((r = vme_enter(&call)))
		return r;
	mmap_write_lock();
	if ((flags & MAP_FIXED_NOREPLACE) && brk_range_is_hole(&init_mm, start, end))
		flags = (flags & ~MAP_FIXED_NOREPLACE) | MAP_FIXED;
	if (vmalloc_intersects(start, end)) {
		r = -ENOMEM;		/* vmemu's own memory: as do_mmap says */
	} else if (flags & MAP_FIXED_NOREPLACE) {
		r = host_pass_mmap(start, length, prot, flags, fd, offset, out);
	} else if (!(r = host_fixed_begin(&init_mm, start, end))) {
		r = host_pass_mmap(start, length, prot, flags, fd, offset, out);
		host_fixed_end(&init_mm, start, end, r);
	}
	if (!r)
		brk_host_mapped(&init_mm, start, end);
	mmap_write_unlock();
	vme_leave(&call);
	return r;
}

VME_EXPORT void *vme_mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
{
	struct vme_call call;
	unsigned long start = (unsigned long)addr, out;
	int r;

	if (offset & (off_t)~PAGE_MASK)
		return errno = EINVAL, MAP_FAILED;
	if (host_only(flags, fd, &r)) {
		if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE))
			r = host_mmap_fixed(start, length, prot, flags, fd, offset, &out);
		else
			r = host_pass_mmap(start, length, prot, flags, fd, offset, &out);
		return r ? (errno = -r, MAP_FAILED) : (void *)out;
	}
	if (r)
		return errno = -r, MAP_FAILED;	/* EBADF */
	if ((r = vme_enter(&call)))
		return errno = -r, MAP_FAILED;
	mmap_write_lock();
	r = do_mmap(&init_mm, start, length, prot, flags, fd,
		    (unsigned long)offset >> PAGE_SHIFT, &out);
	mmap_write_unlock();
	vme_leave(&call);
	return r ? (errno = -r, MAP_FAILED) : (void *)out;
}

VME_EXPORT int vme_munmap(void *addr, size_t length)
{
	struct vme_call call;
	unsigned long start = (unsigned long)addr;
	int r;

	if (offset_in_page(start) || !length || PAGE_ALIGN(length) < length ||
	    start + PAGE_ALIGN(length) < start)
		return api_ret(-EINVAL);
	if ((r = vme_enter(&call)))
		return api_ret(r);
	mmap_write_lock();
	r = brk_munmap(&init_mm, start, PAGE_ALIGN(length));
	mmap_write_unlock();
	vme_leave(&call);
	return api_ret(r);
}

VME_EXPORT int vme_mprotect(void *addr, size_t len, int prot)
{
	struct vme_call call;
	unsigned long start = (unsigned long)addr, end;
	int r;

	/* do_mprotect_pkey's order */
	if ((prot & PROT_GROWSDOWN) && (prot & PROT_GROWSUP))
		return api_ret(-EINVAL);
	if (offset_in_page(start))
		return api_ret(-EINVAL);
	if (!len)
		return 0;
	end = start + PAGE_ALIGN(len);
	if (end <= start)
		return api_ret(-ENOMEM);
	if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM | PROT_GROWSDOWN | PROT_GROWSUP))
		return api_ret(-EINVAL);
	if ((r = vme_enter(&call)))
		return api_ret(r);
	mmap_write_lock();
	r = do_mprotect(&init_mm, start, end - start, prot);
	mmap_write_unlock();
	vme_leave(&call);
	return api_ret(r);
}

VME_EXPORT int vme_msync(void *addr, size_t length, int flags)
{
	struct vme_call call;
	unsigned long start = (unsigned long)addr, end;
	int r;

	if (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC))
		return api_ret(-EINVAL);
	if (offset_in_page(start))
		return api_ret(-EINVAL);
	if ((flags & MS_ASYNC) && (flags & MS_SYNC))
		return api_ret(-EINVAL);
	end = start + PAGE_ALIGN(length);	/* a length that rounds to 0 is 0, as in Linux */
	if (end < start)
		return api_ret(-ENOMEM);
	if (end == start)
		return 0;
	if ((r = vme_enter(&call)))
		return api_ret(r);
	bool invalidate = flags & MS_INVALIDATE;	/* may zap other mappings */
	invalidate ? mmap_write_lock() : mmap_read_lock();
	r = do_msync(&init_mm, start, end - start, flags);
	invalidate ? mmap_write_unlock() : mmap_read_unlock();
	vme_leave(&call);
	return api_ret(r);
}

static bool madvise_behavior_valid(int advice)
{
	switch (advice) {
	case MADV_NORMAL: case MADV_RANDOM: case MADV_SEQUENTIAL: case MADV_WILLNEED:
	case MADV_DONTNEED: case MADV_FREE: case MADV_REMOVE: case MADV_DONTFORK:
	case MADV_DOFORK: case MADV_MERGEABLE: case MADV_UNMERGEABLE: case MADV_HUGEPAGE:
	case MADV_NOHUGEPAGE: case MADV_DONTDUMP: case MADV_DODUMP: case MADV_WIPEONFORK:
	case MADV_KEEPONFORK: case MADV_COLD: case MADV_PAGEOUT: case MADV_POPULATE_READ:
	case MADV_POPULATE_WRITE: case MADV_DONTNEED_LOCKED: case MADV_COLLAPSE:
		return true;
	default:
		return false;
	}
}

VME_EXPORT int vme_madvise(void *addr, size_t length, int advice)
{
	struct vme_call call;
	unsigned long start = (unsigned long)addr, end;
	int r;

	if (!madvise_behavior_valid(advice) || offset_in_page(start))
		return api_ret(-EINVAL);
	end = start + PAGE_ALIGN(length);
	if (end < start || PAGE_ALIGN(length) < length)
		return api_ret(-EINVAL);
	if (end == start)
		return 0;
	if ((r = vme_enter(&call)))
		return api_ret(r);
	bool populate = advice == MADV_POPULATE_READ || advice == MADV_POPULATE_WRITE;
	populate ? mmap_read_lock() : mmap_write_lock();
	r = do_madvise(&init_mm, start, end - start, advice);
	populate ? mmap_read_unlock() : mmap_write_unlock();
	vme_leave(&call);
	return api_ret(r);
}

VME_EXPORT int vme_mincore(void *addr, size_t length, unsigned char *vec)
{
	struct vme_call call;
	unsigned long start = (unsigned long)addr, pages;
	unsigned char *tmp;
	int r;

	if (offset_in_page(start))
		return api_ret(-EINVAL);
	pages = PAGE_ALIGN(length) >> PAGE_SHIFT;
	if (PAGE_ALIGN(length) < length || start + (pages << PAGE_SHIFT) < start)
		return api_ret(-ENOMEM);
	if (!pages)
		return 0;
	/* Filled here, then copied out as the kernel copies to user memory. */
	if (!(tmp = calloc(pages, 1)))
		return api_ret(-EAGAIN);
	if ((r = vme_enter(&call))) {
		free(tmp);
		return api_ret(r);
	}
	mmap_read_lock();
	r = do_mincore(&init_mm, start, pages, tmp);
	mmap_read_unlock();
	if (!r)
		r = copy_to_user(&init_mm, vec, tmp, pages);
	vme_leave(&call);
	free(tmp);
	return api_ret(r);
}
