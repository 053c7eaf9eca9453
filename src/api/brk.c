/*
 * brk.c - vme_brk and vme_sbrk, with glibc's contracts over the emulated
 * heap.  The brk system call returns the break it got; glibc's brk() fails
 * only if that is below the address asked for (so a break below the heap's
 * start "succeeds" and changes nothing), and sbrk() is brk(old + increment).
 */
#include <errno.h>
#include <stdint.h>

#include <vmemu.h>
#include "api/api.h"
#include "mm/mm.h"

/* The break after asking for brk (0: unchanged), or 0 if vmemu failed. */
static unsigned long sys_brk(unsigned long brk, int *err)
{
	struct vme_call call;
	unsigned long out = 0;

	if ((*err = vme_enter(&call)))
		return 0;
	mmap_write_lock();
	*err = do_brk(&init_mm, brk, &out);
	mmap_write_unlock();
	vme_leave(&call);
	return out;
}

VME_EXPORT int vme_brk(void *addr)
{
	int err;
	unsigned long got = sys_brk((unsigned long)addr, &err);

	if (err)
		return api_ret(err);
	return got < (unsigned long)addr ? api_ret(-ENOMEM) : 0;
}

VME_EXPORT void *vme_sbrk(intptr_t increment)
{
	int err;
	unsigned long old = sys_brk(0, &err);

	if (err)
		return errno = -err, (void *)-1;
	if (!increment)
		return (void *)old;
	unsigned long want = old + (unsigned long)increment;
	if ((increment > 0 && want < old) || (increment < 0 && want > old))
		return errno = ENOMEM, (void *)-1;
	if (vme_brk((void *)want) < 0)
		return (void *)-1;
	return (void *)old;
}
