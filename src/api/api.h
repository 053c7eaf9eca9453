/*
 * api.h - the edge between the public vme_ calls and the emulated kernel.
 *
 * As in musl, arguments are checked here, internal code returns -errno, and
 * api_ret() turns that into -1 and errno.  Every call runs between
 * vme_enter() and vme_leave(): vmemu is initialised on first use, and
 * asynchronous signals are blocked so that no signal handler can fault on
 * emulated memory while this thread holds an emulator lock.
 */
#ifndef VMEMU_API_H
#define VMEMU_API_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>

#define VME_EXPORT __attribute__((visibility("default")))

struct vme_call {
	sigset_t saved_mask;
};

/* Returns 0, or -errno if vmemu could not be initialised. */
int vme_enter(struct vme_call *call);
void vme_leave(struct vme_call *call);
bool vme_initialised(void);

/* mman.c: a mapping the host puts at a fixed address replaces the emulated
 * VMAs there.  Around the host's call, under mmap_lock held for writing:
 * begin returns 0 or -errno; end is given the host's result. */
struct mm_struct;
int host_fixed_begin(struct mm_struct *mm, unsigned long start, unsigned long end);
void host_fixed_end(struct mm_struct *mm, unsigned long start, unsigned long end, int host_err);

/* signal.c: signal() (BSD semantics) or, for sysv, glibc's __sysv_signal. */
typedef void (*api_sighandler_t)(int);
api_sighandler_t api_signal(int signum, api_sighandler_t handler, bool sysv);

static inline int api_ret(int r)
{
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

#endif /* VMEMU_API_H */
