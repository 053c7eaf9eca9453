/*
 * syscalls.c - the host system call table.
 *
 * Every system call vmemu makes goes through host_sys.  Tests replace entries
 * to inject failures and call host_sys_reset() to put the real ones back.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <stdlib.h>
#include <unistd.h>

#include "host/host.h"

static void *sys_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	return mremap(old, old_len, new_len, flags, new_addr);
}

static int sys_fcntl(int fd, int cmd, long arg)
{
	return fcntl(fd, cmd, arg);
}

static int sys_open(const char *path, int flags, int mode)
{
	return open(path, flags, mode);
}

/* posix_fadvise returns its error; the table's convention is -1 and errno. */
static int sys_fadvise(int fd, off_t off, off_t len, int advice)
{
	int e = posix_fadvise(fd, off, len, advice);

	if (e)
		errno = e;
	return e ? -1 : 0;
}

static long sys_futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *timeout)
{
	return syscall(SYS_futex, uaddr, op, val, timeout, NULL, 0);
}

static int sys_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg);
}

static const struct host_syscalls host_sys_real = {
	.mmap = mmap,
	.munmap = munmap,
	.mprotect = mprotect,
	.madvise = madvise,
	.mincore = mincore,
	.msync = msync,
	.mremap = sys_mremap,
	.pread = pread,
	.pwrite = pwrite,
	.fdatasync = fdatasync,
	.fstat = fstat,
	.ftruncate = ftruncate,
	.fallocate = fallocate,
	.memfd_create = memfd_create,
	.fcntl = sys_fcntl,
	.close = close,
	.open = sys_open,
	.read = read,
	.lseek = lseek,
	.fadvise = sys_fadvise,
	.write = write,
	.readv = readv,
	.writev = writev,
	.preadv = preadv,
	.pwritev = pwritev,
	.truncate = truncate,
	.fsync = fsync,
	.sendto = sendto,
	.recvfrom = recvfrom,
	.sendmsg = sendmsg,
	.recvmsg = recvmsg,
	.futex = sys_futex,
	.ioctl = sys_ioctl,
	.statx = statx,
	.linkat = linkat,
	.unlink = unlink,
	.fchmod = fchmod,
	.mlock2 = mlock2,
	.munlock = munlock,
	.munlockall = munlockall,
};

struct host_syscalls host_sys = host_sys_real;

void host_sys_reset(void)
{
	host_sys = host_sys_real;
}

/* vmemu-wrap's entry for read (src/api/wrap.c). */
extern ssize_t __wrap_read(int fd, void *buf, size_t count);

/* In a -static link with vmemu-wrap's -Wl,--wrap flags, the linker sends
 * libvmemu.a's own calls (this table's read among them) to the wrappers,
 * which call vmemu again: every call would recurse into itself.  Say so and
 * stop, before the first such call, with a write the wrap cannot reach. */
void host_check_link(void)
{
	static const char msg[] = "vmemu: fatal: vmemu-wrap in a -static link redirects libvmemu's own "
				  "calls to itself; link the shared libvmemu.so (see README.md)\n";

	if ((void *)read == (void *)__wrap_read) {
		long r = syscall(SYS_write, 2, msg, sizeof(msg) - 1);
		(void)r;
		abort();
	}
}
