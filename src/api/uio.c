/*
 * uio.c - the program's iovecs and buffers for the I/O calls.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "api/uio.h"
#include "mm/mm.h"

int user_iov_import(struct user_iov *u, const struct iovec *iov, int cnt)
{
	u->iov = (struct iovec *)iov;
	u->cnt = cnt;
	u->emulated = false;
	u->owned = false;
	if (cnt <= 0 || cnt > IOV_MAX)
		return 0;	/* the host's EINVAL (or nothing to do) */
	size_t bytes = (size_t)cnt * sizeof(*iov);
	if (!user_range_maybe_emulated(&init_mm, iov, bytes)) {
		for (int i = 0; i < cnt; i++)
			u->emulated |= user_range_maybe_emulated(&init_mm, iov[i].iov_base, iov[i].iov_len);
		return 0;
	}
	struct iovec *copy = cnt <= UIO_FASTIOV ? u->fast : malloc(bytes);
	if (!copy)
		return -ENOMEM;
	if (copy_from_user(&init_mm, copy, iov, bytes)) {
		if (copy != u->fast)
			free(copy);
		return 0;	/* a bad array: the host says EFAULT (or EBADF first) */
	}
	u->iov = copy;
	u->owned = copy != u->fast;
	for (int i = 0; i < cnt; i++)
		u->emulated |= user_range_maybe_emulated(&init_mm, copy[i].iov_base, copy[i].iov_len);
	return 0;
}

void user_iov_single(struct user_iov *u, const void *buf, size_t len)
{
	u->fast[0].iov_base = (void *)buf;
	u->fast[0].iov_len = len;
	u->iov = u->fast;
	u->cnt = 1;
	u->owned = false;
	u->emulated = user_range_maybe_emulated(&init_mm, buf, len);
}

void user_iov_release(struct user_iov *u)
{
	if (u->owned)
		free(u->iov);
	u->owned = false;
}

void user_iov_fault_in(struct user_iov *u, bool write)
{
	if (!u->emulated)
		return;
	for (int i = 0; i < u->cnt; i++)
		fault_in_user(&init_mm, u->iov[i].iov_base, u->iov[i].iov_len, write);
}

bool user_iov_retry(struct user_iov *u, long r, int *tries, bool write)
{
	if (r != -EFAULT || !u->emulated || ++*tries > UIO_RETRIES)
		return false;
	user_iov_fault_in(u, write);
	return true;
}

size_t user_iov_length(const struct user_iov *u)
{
	const size_t max_rw = INT_MAX & PAGE_MASK;	/* MAX_RW_COUNT */
	size_t len = 0;

	for (int i = 0; i < u->cnt && len < max_rw; i++)
		len += u->iov[i].iov_len < max_rw - len ? u->iov[i].iov_len : max_rw - len;
	return len;
}
