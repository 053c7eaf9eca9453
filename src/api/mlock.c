/*
 * mlock.c - vme_mlock, vme_mlock2, vme_munlock, vme_mlockall,
 * vme_munlockall: Linux's argument checks, then the emulated kernel
 * (src/mm/mlock.c): the flags under mmap_lock held for writing, then the
 * pages faulted in under mmap_lock held for reading, as Linux does.
 */
#include <errno.h>
#include <sys/mman.h>

#include <vmemu.h>
#include "api/api.h"
#include "mm/mm.h"

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1U
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

/* __mlock_posix_error_return: a page that could not be faulted in is
 * ENOMEM, no memory for it EAGAIN. */
static int mlock_posix_error(int r)
{
	return r == -EFAULT ? -ENOMEM : r == -ENOMEM ? -EAGAIN : r;
}

/* do_mlock, then the range's pages faulted in. */
static int mlock_range(const void *addr, size_t len, unsigned long vm_flags)
{
	unsigned long start = (unsigned long)addr;
	struct vme_call call;
	int r;

	if ((r = vme_enter(&call)))
		return r;
	mmap_write_lock();
	r = do_mlock(&init_mm, start, len, vm_flags);
	mmap_write_unlock();
	if (!r) {
		len = PAGE_ALIGN(len + offset_in_page(start));
		start &= PAGE_MASK;
		mmap_read_lock();
		r = mlock_posix_error(mm_populate(&init_mm, start, start + len, false));
		mmap_read_unlock();
	}
	vme_leave(&call);
	return r;
}

VME_EXPORT int vme_mlock(const void *addr, size_t len)
{
	return api_ret(mlock_range(addr, len, VM_LOCKED));
}

VME_EXPORT int vme_mlock2(const void *addr, size_t len, unsigned int flags)
{
	if (flags & ~MLOCK_ONFAULT)
		return api_ret(-EINVAL);
	return api_ret(mlock_range(addr, len, VM_LOCKED | (flags & MLOCK_ONFAULT ? VM_LOCKONFAULT : 0)));
}

VME_EXPORT int vme_munlock(const void *addr, size_t len)
{
	struct vme_call call;
	int r;

	if ((r = vme_enter(&call)))
		return api_ret(r);
	mmap_write_lock();
	r = do_munlock(&init_mm, (unsigned long)addr, len);
	mmap_write_unlock();
	vme_leave(&call);
	return api_ret(r);
}

VME_EXPORT int vme_mlockall(int flags)
{
	struct vme_call call;
	int r;

	if (!flags || (flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) || flags == MCL_ONFAULT)
		return api_ret(-EINVAL);
	if ((r = vme_enter(&call)))
		return api_ret(r);
	mmap_write_lock();
	r = do_mlockall(&init_mm, flags);
	mmap_write_unlock();
	if (!r && (flags & MCL_CURRENT)) {	/* errors ignored, as Linux's */
		mmap_read_lock();
		mm_populate(&init_mm, 0, TASK_SIZE, true);
		mmap_read_unlock();
	}
	vme_leave(&call);
	return api_ret(r);
}

VME_EXPORT int vme_munlockall(void)
{
	struct vme_call call;
	int r;

	if ((r = vme_enter(&call)))
		return api_ret(r);
	mmap_write_lock();
	r = do_munlockall(&init_mm);
	mmap_write_unlock();
	vme_leave(&call);
	return api_ret(r);
}
