/*
 * sysret.h - the host layer's one idiom: run a libc-convention call (-1 and
 * errno) and give its result or -errno, leaving the caller's errno as it
 * was.  handler-safe.
 */
#ifndef VMEMU_SYSRET_H
#define VMEMU_SYSRET_H

#include <errno.h>

/* The call's non-negative result, or -errno. */
#define SYSCALL_VAL(call) \
	({ int saved_ = errno; long r_ = (long)(call); if (r_ < 0) r_ = -errno; errno = saved_; (int)r_; })

/* 0, or -errno. */
#define SYSCALL_RET(call) ({ int v_ = SYSCALL_VAL(call); v_ < 0 ? v_ : 0; })

#endif /* VMEMU_SYSRET_H */
