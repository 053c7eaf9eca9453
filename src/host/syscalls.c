/*
 * syscalls.c - the host system call table.
 *
 * Every system call vmemu makes goes through host_sys.  Tests replace entries
 * to inject failures and call host_sys_reset() to put the real ones back.
 * This is the only file of the library that calls a libc function which is,
 * or wraps, a system call; tests/host_syms.sh fails `make test` if any other
 * object refers to one (it accepts only the functions listed, with the
 * reason, in tests/host_syms.allow).
 *
 * What stays outside the table, and why:
 *  - Library calls that make no system call: memory and string functions,
 *    formatting and parsing, getenv, sigset_t manipulation.
 *  - The allocator (malloc, calloc, free, strdup): glibc's may call brk or
 *    mmap, and cannot be redirected; vmemu never allocates in the handler.
 *  - The system calls libc makes inside an entry: pthread_create's stack
 *    mmap and clone, abort's signals.  The entry is the unit a test sees
 *    and can fail (thread_create fails as pthread_create would, EAGAIN).
 *  - libsigsegv's own calls: it installs its handler with sigaction, and
 *    resets SIGSEGV to SIG_DFL after a fault is declined.
 *  - glibc's failure paths the compiler or the program asked for
 *    (__stack_chk_fail, __chk_fail in wrap.c): the process dies there.
 *  - Locks.  pthread mutexes are not used: pthread_mutex_lock is a futex
 *    system call whenever it is contended, and whether it is cannot be
 *    known in advance, so it is no "pure library call".  vmemu's own locks
 *    are futex words (mm/mutex.c, mm/rlock.c) that sleep and wake through
 *    the futex entry; their uncontended paths are plain atomics.
 *
 * Entries reachable from the fault handler (mprotect, mmap, pread, pwrite,
 * futex, clock_gettime, sched_yield, write, gettid, sigprocmask, raise,
 * sigaction, abort, ...) are async-signal-safe calls, as the real ones are.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "host/host.h"

static void *sys_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	return mremap(old, old_len, new_len, flags, new_addr);
}

static ssize_t sys_splice(int in, off_t *off_in, int out, off_t *off_out, size_t len, unsigned int flags)
{
	return splice(in, off_in, out, off_out, len, flags);
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

/* glibc takes an enum __rlimit_resource under _GNU_SOURCE. */
static int sys_getrlimit(int resource, struct rlimit *rl)
{
	return getrlimit((__rlimit_resource_t)resource, rl);
}

/* glibc has no capget wrapper; hdr and data are the kernel's
 * __user_cap_header_struct and __user_cap_data_struct[2]. */
static int sys_capget(void *hdr, void *data)
{
	return (int)syscall(SYS_capget, hdr, data);
}

/* pthread_sigmask, not sigprocmask: glibc keeps its own internal signals
 * out of a thread's mask. */
static int sys_sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	int e = pthread_sigmask(how, set, old);

	if (e)
		errno = e;
	return e ? -1 : 0;
}

static int sys_abort(void)
{
	abort();
}

/* The pthread calls return their error; the table's convention is -1 and
 * errno. */
static int sys_thread_create(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	int e = pthread_create(thread, NULL, fn, arg);

	if (e)
		errno = e;
	return e ? -1 : 0;
}

static int sys_thread_join(pthread_t thread)
{
	int e = pthread_join(thread, NULL);

	if (e)
		errno = e;
	return e ? -1 : 0;
}

static int sys_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
	int e = pthread_atfork(prepare, parent, child);

	if (e)
		errno = e;
	return e ? -1 : 0;
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
	.splice = sys_splice,
	.pipe2 = pipe2,
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
	.fstatat = fstatat,
	.fstatvfs = fstatvfs,
	.fstatfs = fstatfs,
	.getdents64 = getdents64,
	.readlink = readlink,
	.process_vm_readv = process_vm_readv,
	.process_vm_writev = process_vm_writev,
	.getpid = getpid,
	.gettid = gettid,
	.geteuid = geteuid,
	.capget = sys_capget,
	.getrlimit = sys_getrlimit,
	.sysinfo = sysinfo,
	.clock_gettime = clock_gettime,
	.nanosleep = nanosleep,
	.sched_yield = sched_yield,
	.sigaction = sigaction,
	.sigprocmask = sys_sigprocmask,
	.raise = raise,
	.abort = sys_abort,
	.thread_create = sys_thread_create,
	.thread_join = sys_thread_join,
	.atfork = sys_atfork,
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
