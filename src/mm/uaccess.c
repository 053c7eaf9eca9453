/*
 * uaccess.c - copy_to_user and copy_from_user for the vme_ calls.
 *
 * A buffer the program passes may be emulated memory that is not present
 * yet, or no memory at all.  The emulated parts are faulted in first (as the
 * kernel's own access would fault them), then the copy goes through the host
 * kernel, which reports an inaccessible address as -EFAULT.
 */
#include <errno.h>

#include "host/host.h"
#include "mm/mm.h"

static int fault_in_user(struct mm_struct *mm, unsigned long addr, size_t len, bool write)
{
	unsigned long start = addr & PAGE_MASK, end = PAGE_ALIGN(addr + len);
	int r = 0;

	if (!len)
		return 0;
	if (end < start)
		return -EFAULT;
	mmap_read_lock();
	for (unsigned long a = start; a < end && !r;) {
		struct vm_area_struct *vma = find_vma(mm, a);
		if (!vma || vma->vm_start >= end)
			break;
		unsigned long s = a > vma->vm_start ? a : vma->vm_start;
		unsigned long e = vma->vm_end < end ? vma->vm_end : end;
		r = populate_range(mm, s, e, write, false);
		a = e;
	}
	mmap_read_unlock();
	return r ? -EFAULT : 0;
}

/* Returns 0 or -EFAULT.  Caller holds no emulator lock. */
int copy_to_user(struct mm_struct *mm, void *dst, const void *src, size_t len)
{
	int r = fault_in_user(mm, (unsigned long)dst, len, true);
	return r ? r : host_copy_user(dst, src, len, true);
}

int copy_from_user(struct mm_struct *mm, void *dst, const void *src, size_t len)
{
	int r = fault_in_user(mm, (unsigned long)src, len, false);
	return r ? r : host_copy_user(dst, src, len, false);
}
