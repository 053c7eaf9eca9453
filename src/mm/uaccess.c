/*
 * uaccess.c - the program's buffers, as the kernel's own accesses see them.
 *
 * A buffer the program passes may be emulated memory that is not present
 * yet, or no memory at all.  The kernel's own access would fault the
 * emulated parts in; vmemu does so before it hands the buffer to the host
 * (fault_in_user), and the host kernel then reports what is really not
 * memory as EFAULT.  copy_to_user and copy_from_user copy through the host
 * kernel, so a bad pointer is EFAULT, never a crash.
 */
#include <errno.h>

#include "host/host.h"
#include "mm/mm.h"

/* Lockless and conservative: false only if no byte of [addr, addr + len)
 * can lie in an emulated VMA (the span of every VMA ever linked). */
bool user_range_maybe_emulated(const struct mm_struct *mm, const void *addr, size_t len)
{
	unsigned long a = (unsigned long)addr;
	unsigned long lo = __atomic_load_n(&mm->span_start, __ATOMIC_ACQUIRE);
	unsigned long hi = __atomic_load_n(&mm->span_end, __ATOMIC_ACQUIRE);

	return len && a < hi && a + len > lo;
}

/* Fault in the emulated pages of [addr, addr + len), for writing if write,
 * as the kernel's access would.  Best effort: a page that cannot be had (a
 * hole, a page past end of file) is left for the host, which then gives
 * EFAULT for it, or a short count, exactly as Linux does.  Caller holds no
 * emulator lock. */
void fault_in_user(struct mm_struct *mm, const void *addr, size_t len, bool write)
{
	unsigned long start = (unsigned long)addr & PAGE_MASK, end = PAGE_ALIGN((unsigned long)addr + len);

	if (!user_range_maybe_emulated(mm, addr, len) || end < start)
		return;
	mmap_read_lock();
	for (unsigned long a = start; a < end;) {
		struct vm_area_struct *vma = find_vma(mm, a);
		if (!vma || vma->vm_start >= end)
			break;
		unsigned long s = a > vma->vm_start ? a : vma->vm_start;
		unsigned long e = vma->vm_end < end ? vma->vm_end : end;
		/* page by page, so that one bad page does not stop the rest */
		for (unsigned long p = s; p < e; p += PAGE_SIZE)
			populate_range(mm, p, p + PAGE_SIZE, write, false);
		a = e;
	}
	mmap_read_unlock();
}

/* Returns 0 or -EFAULT.  Caller holds no emulator lock. */
int copy_to_user(struct mm_struct *mm, void *dst, const void *src, size_t len)
{
	fault_in_user(mm, dst, len, true);
	return host_copy_user(dst, src, len, true);
}

int copy_from_user(struct mm_struct *mm, void *dst, const void *src, size_t len)
{
	fault_in_user(mm, src, len, false);
	return host_copy_user(dst, src, len, false);
}

/* Copy the NUL-terminated string at src (at most size bytes with its NUL)
 * into dst, a page at a time, as the kernel's strncpy_from_user.  Returns
 * its length, -EFAULT, or -ENAMETOOLONG if it does not fit (a path). */
long strncpy_from_user(struct mm_struct *mm, char *dst, const char *src, size_t size)
{
	size_t done = 0;

	while (done < size) {
		size_t n = PAGE_SIZE - (((unsigned long)src + done) & (PAGE_SIZE - 1));
		if (n > size - done)
			n = size - done;
		if (copy_from_user(mm, dst + done, src + done, n))
			return -EFAULT;
		for (size_t i = 0; i < n; i++)
			if (!dst[done + i])
				return (long)(done + i);
		done += n;
	}
	return -ENAMETOOLONG;
}
