/*
 * io.c - the program's own I/O calls, handed to the host.
 *
 * vme_read and its family decide what vmemu must do around a call (fault a
 * buffer in, bring the page cache along); the call itself is the host's.
 * Each function is one system call through host_sys, returning its result
 * or -errno and leaving errno as it was.  EINTR and short counts are the
 * caller's, exactly as the program would have seen them.
 */
#include <errno.h>
#include <unistd.h>

#include "host/host.h"
#include "host/sysret.h"

/* The call's non-negative ssize_t result, or -errno. */
#define SYSCALL_SIZE(call) \
	({ int saved_ = errno; ssize_t r_ = (call); if (r_ < 0) r_ = -errno; errno = saved_; r_; })

ssize_t host_user_read(int fd, void *buf, size_t len)
{
	return SYSCALL_SIZE(host_sys.read(fd, buf, len));
}

ssize_t host_user_write(int fd, const void *buf, size_t len)
{
	return SYSCALL_SIZE(host_sys.write(fd, buf, len));
}

ssize_t host_user_pread(int fd, void *buf, size_t len, off_t off)
{
	return SYSCALL_SIZE(host_sys.pread(fd, buf, len, off));
}

ssize_t host_user_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	return SYSCALL_SIZE(host_sys.pwrite(fd, buf, len, off));
}

ssize_t host_user_readv(int fd, const struct iovec *iov, int cnt)
{
	return SYSCALL_SIZE(host_sys.readv(fd, iov, cnt));
}

ssize_t host_user_writev(int fd, const struct iovec *iov, int cnt)
{
	return SYSCALL_SIZE(host_sys.writev(fd, iov, cnt));
}

ssize_t host_user_preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return SYSCALL_SIZE(host_sys.preadv(fd, iov, cnt, off));
}

ssize_t host_user_pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return SYSCALL_SIZE(host_sys.pwritev(fd, iov, cnt, off));
}

int host_user_ftruncate(int fd, off_t len)
{
	return SYSCALL_RET(host_sys.ftruncate(fd, len));
}

int host_user_truncate(const char *path, off_t len)
{
	return SYSCALL_RET(host_sys.truncate(path, len));
}

int host_user_fsync(int fd, bool data_only)
{
	return SYSCALL_RET(data_only ? host_sys.fdatasync(fd) : host_sys.fsync(fd));
}

off_t host_user_lseek(int fd, off_t off, int whence)
{
	return SYSCALL_SIZE(host_sys.lseek(fd, off, whence));
}

ssize_t host_user_sendto(int fd, const void *buf, size_t len, int flags,
			 const struct sockaddr *to, socklen_t tolen)
{
	return SYSCALL_SIZE(host_sys.sendto(fd, buf, len, flags, to, tolen));
}

ssize_t host_user_recvfrom(int fd, void *buf, size_t len, int flags,
			   struct sockaddr *from, socklen_t *fromlen)
{
	return SYSCALL_SIZE(host_sys.recvfrom(fd, buf, len, flags, from, fromlen));
}

ssize_t host_user_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return SYSCALL_SIZE(host_sys.sendmsg(fd, msg, flags));
}

ssize_t host_user_recvmsg(int fd, struct msghdr *msg, int flags)
{
	return SYSCALL_SIZE(host_sys.recvmsg(fd, msg, flags));
}
