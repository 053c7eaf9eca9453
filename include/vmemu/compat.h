/*
 * vmemu/compat.h - switch an existing program over to vmemu by recompiling:
 *
 *	cc -include vmemu/compat.h prog.c $(pkg-config --cflags --libs vmemu)
 *
 * The switch itself is object-like macros only, so that taking the address
 * of mmap, or declaring it again, keeps working.  The system headers are
 * included first, unrenamed, so that glibc's own declarations (and its
 * mmap -> mmap64 redirection under _FILE_OFFSET_BITS=64) stay intact.
 *
 * "#define sigaction vme_sigaction" renames the tag of "struct sigaction"
 * too, so this header defines struct vme_sigaction with glibc's layout.
 */
#ifndef VMEMU_COMPAT_H
#define VMEMU_COMPAT_H

/* The mmap family is POSIX: under a strict -std=c11 with no feature macro,
 * ask for glibc's default set, as the GNU dialects do.  This only works
 * while no system header has been read yet, hence -include. */
#if !defined(_GNU_SOURCE) && !defined(_DEFAULT_SOURCE) && !defined(_POSIX_C_SOURCE) && \
	!defined(_XOPEN_SOURCE) && !defined(_BSD_SOURCE) && !defined(_SVID_SOURCE)
#define _DEFAULT_SOURCE 1
#endif

#include <sys/mman.h>
#include <signal.h>
#include <unistd.h>
#include <vmemu.h>

#pragma push_macro("sa_handler")
#pragma push_macro("sa_sigaction")
#undef sa_handler
#undef sa_sigaction
struct vme_sigaction {
	union {
		void (*sa_handler)(int);
		void (*sa_sigaction)(int, siginfo_t *, void *);
	} __sigaction_handler;
	__sigset_t sa_mask;
	int sa_flags;
	void (*sa_restorer)(void);
};
#pragma pop_macro("sa_sigaction")
#pragma pop_macro("sa_handler")

#ifdef __cplusplus
static_assert(sizeof(struct vme_sigaction) == sizeof(struct sigaction),
	      "struct vme_sigaction must have the layout of struct sigaction");
#else
_Static_assert(sizeof(struct vme_sigaction) == sizeof(struct sigaction),
	       "struct vme_sigaction must have the layout of struct sigaction");
#endif

#define mmap vme_mmap
#define munmap vme_munmap
#define mprotect vme_mprotect
#define msync vme_msync
#define madvise vme_madvise
#define mincore vme_mincore
#define mremap vme_mremap
#define sigaction vme_sigaction
#define signal vme_signal
#define brk vme_brk
#define sbrk vme_sbrk

#endif /* VMEMU_COMPAT_H */
