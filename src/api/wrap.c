/*
 * wrap.c - the link-time switch-over: __wrap_X for every call in wrap.syms.
 *
 * Linking with -Wl,--wrap=X sends every reference to X in the objects and
 * static libraries on the link line to __wrap_X, so prebuilt code that
 * calls mmap, pread64 or recv reaches vmemu without being recompiled
 * (pkg-config --libs vmemu-wrap gives the flags, built from wrap.syms).
 * The 64 names are the same calls on LP64.  The _chk names are what
 * glibc's _FORTIFY_SOURCE turns read, pread and recv into when it knows the
 * buffer's size: checked here as glibc checks them, then the same calls.
 * vmemu/compat.h binds a recompiled program's fortified calls to them too.
 *
 * libvmemu.so's own references were bound when it was linked, so they are
 * never wrapped: vmemu-wrap links the shared library.
 */
#include <stdarg.h>
#include <sys/mman.h>

#include <vmemu.h>
#include "api/api.h"

#define W(name) __wrap_##name

/* glibc's: reports a buffer overflow and aborts. */
extern void __chk_fail(void) __attribute__((noreturn));

VME_EXPORT void *W(mmap)(void *addr, size_t length, int prot, int flags, int fd, off_t offset);
VME_EXPORT void *W(mmap64)(void *addr, size_t length, int prot, int flags, int fd, off_t offset);
VME_EXPORT int W(munmap)(void *addr, size_t length);
VME_EXPORT int W(mprotect)(void *addr, size_t len, int prot);
VME_EXPORT int W(msync)(void *addr, size_t length, int flags);
VME_EXPORT int W(madvise)(void *addr, size_t length, int advice);
VME_EXPORT int W(mincore)(void *addr, size_t length, unsigned char *vec);
VME_EXPORT void *W(mremap)(void *old_address, size_t old_size, size_t new_size, int flags, ...);
VME_EXPORT int W(mlock)(const void *addr, size_t len);
VME_EXPORT int W(mlock2)(const void *addr, size_t len, unsigned int flags);
VME_EXPORT int W(munlock)(const void *addr, size_t len);
VME_EXPORT int W(mlockall)(int flags);
VME_EXPORT int W(munlockall)(void);
VME_EXPORT int W(sigaction)(int signum, const struct sigaction *act, struct sigaction *oldact);
VME_EXPORT vme_sighandler_t W(signal)(int signum, vme_sighandler_t handler);
VME_EXPORT vme_sighandler_t W(__sysv_signal)(int signum, vme_sighandler_t handler);
VME_EXPORT int W(brk)(void *addr);
VME_EXPORT void *W(sbrk)(intptr_t increment);
VME_EXPORT ssize_t W(read)(int fd, void *buf, size_t count);
VME_EXPORT ssize_t W(write)(int fd, const void *buf, size_t count);
VME_EXPORT ssize_t W(pread)(int fd, void *buf, size_t count, off_t offset);
VME_EXPORT ssize_t W(pread64)(int fd, void *buf, size_t count, off_t offset);
VME_EXPORT ssize_t W(pwrite)(int fd, const void *buf, size_t count, off_t offset);
VME_EXPORT ssize_t W(pwrite64)(int fd, const void *buf, size_t count, off_t offset);
VME_EXPORT ssize_t W(readv)(int fd, const struct iovec *iov, int iovcnt);
VME_EXPORT ssize_t W(writev)(int fd, const struct iovec *iov, int iovcnt);
VME_EXPORT ssize_t W(preadv)(int fd, const struct iovec *iov, int iovcnt, off_t offset);
VME_EXPORT ssize_t W(preadv64)(int fd, const struct iovec *iov, int iovcnt, off_t offset);
VME_EXPORT ssize_t W(pwritev)(int fd, const struct iovec *iov, int iovcnt, off_t offset);
VME_EXPORT ssize_t W(pwritev64)(int fd, const struct iovec *iov, int iovcnt, off_t offset);
VME_EXPORT int W(ftruncate)(int fd, off_t length);
VME_EXPORT int W(ftruncate64)(int fd, off_t length);
VME_EXPORT int W(truncate)(const char *path, off_t length);
VME_EXPORT int W(truncate64)(const char *path, off_t length);
VME_EXPORT int W(fsync)(int fd);
VME_EXPORT int W(fdatasync)(int fd);
VME_EXPORT ssize_t W(send)(int sockfd, const void *buf, size_t len, int flags);
VME_EXPORT ssize_t W(recv)(int sockfd, void *buf, size_t len, int flags);
VME_EXPORT ssize_t W(sendto)(int sockfd, const void *buf, size_t len, int flags,
			     const struct sockaddr *dest_addr, socklen_t addrlen);
VME_EXPORT ssize_t W(recvfrom)(int sockfd, void *buf, size_t len, int flags,
			       struct sockaddr *src_addr, socklen_t *addrlen);
VME_EXPORT ssize_t W(sendmsg)(int sockfd, const struct msghdr *msg, int flags);
VME_EXPORT ssize_t W(recvmsg)(int sockfd, struct msghdr *msg, int flags);
VME_EXPORT ssize_t W(__read_chk)(int fd, void *buf, size_t nbytes, size_t buflen);
VME_EXPORT ssize_t W(__pread_chk)(int fd, void *buf, size_t nbytes, off_t offset, size_t buflen);
VME_EXPORT ssize_t W(__pread64_chk)(int fd, void *buf, size_t nbytes, off_t offset, size_t buflen);
VME_EXPORT ssize_t W(__recv_chk)(int fd, void *buf, size_t len, size_t buflen, int flags);
VME_EXPORT ssize_t W(__recvfrom_chk)(int fd, void *buf, size_t len, size_t buflen, int flags,
				     struct sockaddr *addr, socklen_t *addrlen);

void *W(mmap)(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
{
	return vme_mmap(addr, length, prot, flags, fd, offset);
}

void *W(mmap64)(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
{
	return vme_mmap(addr, length, prot, flags, fd, offset);
}

int W(munmap)(void *addr, size_t length)
{
	return vme_munmap(addr, length);
}

int W(mprotect)(void *addr, size_t len, int prot)
{
	return vme_mprotect(addr, len, prot);
}

int W(msync)(void *addr, size_t length, int flags)
{
	return vme_msync(addr, length, flags);
}

int W(madvise)(void *addr, size_t length, int advice)
{
	return vme_madvise(addr, length, advice);
}

int W(mincore)(void *addr, size_t length, unsigned char *vec)
{
	return vme_mincore(addr, length, vec);
}

/* glibc's mremap reads new_address only with MREMAP_FIXED; so does vme_mremap. */
void *W(mremap)(void *old_address, size_t old_size, size_t new_size, int flags, ...)
{
	void *new_address = NULL;

	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		new_address = va_arg(ap, void *);
		va_end(ap);
	}
	return vme_mremap(old_address, old_size, new_size, flags, new_address);
}

int W(mlock)(const void *addr, size_t len)
{
	return vme_mlock(addr, len);
}

int W(mlock2)(const void *addr, size_t len, unsigned int flags)
{
	return vme_mlock2(addr, len, flags);
}

int W(munlock)(const void *addr, size_t len)
{
	return vme_munlock(addr, len);
}

int W(mlockall)(int flags)
{
	return vme_mlockall(flags);
}

int W(munlockall)(void)
{
	return vme_munlockall();
}

int W(sigaction)(int signum, const struct sigaction *act, struct sigaction *oldact)
{
	return vme_sigaction(signum, act, oldact);
}

vme_sighandler_t W(signal)(int signum, vme_sighandler_t handler)
{
	return vme_signal(signum, handler);
}

/* glibc's signal in objects built as strict ISO C: System V semantics, the
 * handler reset when it runs and the signal not blocked in it. */
vme_sighandler_t W(__sysv_signal)(int signum, vme_sighandler_t handler)
{
	return api_signal(signum, handler, true);
}

int W(brk)(void *addr)
{
	return vme_brk(addr);
}

void *W(sbrk)(intptr_t increment)
{
	return vme_sbrk(increment);
}

ssize_t W(read)(int fd, void *buf, size_t count)
{
	return vme_read(fd, buf, count);
}

ssize_t W(write)(int fd, const void *buf, size_t count)
{
	return vme_write(fd, buf, count);
}

ssize_t W(pread)(int fd, void *buf, size_t count, off_t offset)
{
	return vme_pread(fd, buf, count, offset);
}

ssize_t W(pread64)(int fd, void *buf, size_t count, off_t offset)
{
	return vme_pread(fd, buf, count, offset);
}

ssize_t W(pwrite)(int fd, const void *buf, size_t count, off_t offset)
{
	return vme_pwrite(fd, buf, count, offset);
}

ssize_t W(pwrite64)(int fd, const void *buf, size_t count, off_t offset)
{
	return vme_pwrite(fd, buf, count, offset);
}

ssize_t W(readv)(int fd, const struct iovec *iov, int iovcnt)
{
	return vme_readv(fd, iov, iovcnt);
}

ssize_t W(writev)(int fd, const struct iovec *iov, int iovcnt)
{
	return vme_writev(fd, iov, iovcnt);
}

ssize_t W(preadv)(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
	return vme_preadv(fd, iov, iovcnt, offset);
}

ssize_t W(preadv64)(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
	return vme_preadv(fd, iov, iovcnt, offset);
}

ssize_t W(pwritev)(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
	return vme_pwritev(fd, iov, iovcnt, offset);
}

ssize_t W(pwritev64)(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
	return vme_pwritev(fd, iov, iovcnt, offset);
}

int W(ftruncate)(int fd, off_t length)
{
	return vme_ftruncate(fd, length);
}

int W(ftruncate64)(int fd, off_t length)
{
	return vme_ftruncate(fd, length);
}

int W(truncate)(const char *path, off_t length)
{
	return vme_truncate(path, length);
}

int W(truncate64)(const char *path, off_t length)
{
	return vme_truncate(path, length);
}

int W(fsync)(int fd)
{
	return vme_fsync(fd);
}

int W(fdatasync)(int fd)
{
	return vme_fdatasync(fd);
}

ssize_t W(send)(int sockfd, const void *buf, size_t len, int flags)
{
	return vme_send(sockfd, buf, len, flags);
}

ssize_t W(recv)(int sockfd, void *buf, size_t len, int flags)
{
	return vme_recv(sockfd, buf, len, flags);
}

ssize_t W(sendto)(int sockfd, const void *buf, size_t len, int flags,
		  const struct sockaddr *dest_addr, socklen_t addrlen)
{
	return vme_sendto(sockfd, buf, len, flags, dest_addr, addrlen);
}

ssize_t W(recvfrom)(int sockfd, void *buf, size_t len, int flags,
		    struct sockaddr *src_addr, socklen_t *addrlen)
{
	return vme_recvfrom(sockfd, buf, len, flags, src_addr, addrlen);
}

ssize_t W(sendmsg)(int sockfd, const struct msghdr *msg, int flags)
{
	return vme_sendmsg(sockfd, msg, flags);
}

ssize_t W(recvmsg)(int sockfd, struct msghdr *msg, int flags)
{
	return vme_recvmsg(sockfd, msg, flags);
}

/* The fortified forms: glibc's checks (the buffer holds buflen bytes),
 * then the same calls. */
ssize_t W(__read_chk)(int fd, void *buf, size_t nbytes, size_t buflen)
{
	if (nbytes > buflen)
		__chk_fail();
	return vme_read(fd, buf, nbytes);
}

ssize_t W(__pread_chk)(int fd, void *buf, size_t nbytes, off_t offset, size_t buflen)
{
	if (nbytes > buflen)
		__chk_fail();
	return vme_pread(fd, buf, nbytes, offset);
}

ssize_t W(__pread64_chk)(int fd, void *buf, size_t nbytes, off_t offset, size_t buflen)
{
	if (nbytes > buflen)
		__chk_fail();
	return vme_pread(fd, buf, nbytes, offset);
}

ssize_t W(__recv_chk)(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	if (len > buflen)
		__chk_fail();
	return vme_recv(fd, buf, len, flags);
}

ssize_t W(__recvfrom_chk)(int fd, void *buf, size_t len, size_t buflen, int flags,
			  struct sockaddr *addr, socklen_t *addrlen)
{
	if (len > buflen)
		__chk_fail();
	return vme_recvfrom(fd, buf, len, flags, addr, addrlen);
}
