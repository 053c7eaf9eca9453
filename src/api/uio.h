/*
 * uio.h - the program's buffers for the I/O calls (api/fileio.c,
 * api/socket.c): its iovec array copied in, and its emulated pages faulted
 * in before the host sees them, again if the host says EFAULT because
 * reclaim took a page back in between.
 */
#ifndef VMEMU_API_UIO_H
#define VMEMU_API_UIO_H

#include <stdbool.h>
#include <sys/uio.h>

#define UIO_FASTIOV	8	/* iovecs kept on the stack, as the kernel's */
#define UIO_RETRIES	4	/* host EFAULTs retried after faulting in again */

struct user_iov {
	struct iovec *iov;		/* the program's iovecs, copied in */
	int cnt;
	bool emulated;			/* some buffer may lie in emulated memory */
	bool owned;			/* iov was allocated here */
	struct iovec fast[UIO_FASTIOV];
};

/* Copy the program's iovec array in (when it is emulated memory, through
 * copy_from_user).  Returns 0, or -errno; an array the host should judge
 * (bad count, bad pointer) is passed on as it is, for the host's errno. */
int user_iov_import(struct user_iov *u, const struct iovec *iov, int cnt);
/* One buffer as an iovec. */
void user_iov_single(struct user_iov *u, const void *buf, size_t len);
void user_iov_release(struct user_iov *u);
/* Fault in every buffer (for writing if the call writes to them). */
void user_iov_fault_in(struct user_iov *u, bool write);
/* Should a host -EFAULT be retried after faulting in again? */
bool user_iov_retry(struct user_iov *u, long r, int *tries, bool write);
/* Total length, clamped as the kernel clamps it (MAX_RW_COUNT). */
size_t user_iov_length(const struct user_iov *u);

#endif /* VMEMU_API_UIO_H */
