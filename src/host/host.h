/*
 * host.h - the "hardware": every host system call vmemu makes.
 *
 * src/mm/ is the emulated kernel and calls only these functions.  Every
 * system call goes through host_sys, a table of function pointers, so that
 * tests can inject EINTR, short reads, EIO, ENOSPC or ENOMEM at any call (the
 * SQLite os_unix.c pattern).  No file but src/host/syscalls.c calls a libc
 * function that makes a system call (tests/host_syms.sh checks it).
 *
 * Contract: functions return 0 (or a count) on success and -errno on failure.
 * They never leave errno changed for the caller.  Functions marked
 * "handler-safe" are async-signal-safe: raw system calls only, no locks, no
 * allocation; they may run inside the SIGSEGV handler.
 *
 * Protections are HOST_PROT_* bits, which equal the kernel's VM_READ,
 * VM_WRITE and VM_EXEC (and PROT_*).
 */
#ifndef VMEMU_HOST_H
#define VMEMU_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define HOST_PROT_NONE	0x0
#define HOST_PROT_READ	0x1
#define HOST_PROT_WRITE	0x2
#define HOST_PROT_EXEC	0x4

/*
 * The system call table: every call through which vmemu reaches the host
 * kernel, or the host's thread and fork machinery.  One line per entry,
 * X(return type, name, (parameters), (arguments)), so that tests can build
 * a wrapper for every entry (tests/host_table.c) and none is forgotten.
 * Entries follow the libc calling convention (-1 and errno, also for the
 * pthread calls, whose real entries translate); the host_ functions below
 * translate to -errno.  Which calls stay outside it, and why, is said at the
 * top of syscalls.c; tests/host_syms.sh fails the build if any other does.
 */
struct statfs;
struct statvfs;
struct sysinfo;
struct rlimit;
#define HOST_SYSCALLS(X) \
	X(void *, mmap, (void *addr, size_t len, int prot, int flags, int fd, off_t off), \
	  (addr, len, prot, flags, fd, off)) \
	X(int, munmap, (void *addr, size_t len), (addr, len)) \
	X(int, mprotect, (void *addr, size_t len, int prot), (addr, len, prot)) \
	X(int, madvise, (void *addr, size_t len, int advice), (addr, len, advice)) \
	X(int, mincore, (void *addr, size_t len, unsigned char *vec), (addr, len, vec)) \
	X(int, msync, (void *addr, size_t len, int flags), (addr, len, flags)) \
	X(void *, mremap, (void *old, size_t old_len, size_t new_len, int flags, void *new_addr), \
	  (old, old_len, new_len, flags, new_addr)) \
	X(ssize_t, pread, (int fd, void *buf, size_t len, off_t off), (fd, buf, len, off)) \
	X(ssize_t, pwrite, (int fd, const void *buf, size_t len, off_t off), (fd, buf, len, off)) \
	X(int, fdatasync, (int fd), (fd)) \
	X(int, fstat, (int fd, struct stat *st), (fd, st)) \
	X(int, ftruncate, (int fd, off_t len), (fd, len)) \
	X(int, fallocate, (int fd, int mode, off_t off, off_t len), (fd, mode, off, len)) \
	X(int, memfd_create, (const char *name, unsigned int flags), (name, flags)) \
	X(int, fcntl, (int fd, int cmd, long arg), (fd, cmd, arg)) \
	X(int, close, (int fd), (fd)) \
	X(int, open, (const char *path, int flags, int mode), (path, flags, mode)) \
	X(ssize_t, read, (int fd, void *buf, size_t len), (fd, buf, len)) \
	X(off_t, lseek, (int fd, off_t off, int whence), (fd, off, whence)) \
	X(int, fadvise, (int fd, off_t off, off_t len, int advice), (fd, off, len, advice)) \
	X(ssize_t, write, (int fd, const void *buf, size_t len), (fd, buf, len)) \
	X(ssize_t, readv, (int fd, const struct iovec *iov, int cnt), (fd, iov, cnt)) \
	X(ssize_t, writev, (int fd, const struct iovec *iov, int cnt), (fd, iov, cnt)) \
	X(ssize_t, preadv, (int fd, const struct iovec *iov, int cnt, off_t off), (fd, iov, cnt, off)) \
	X(ssize_t, pwritev, (int fd, const struct iovec *iov, int cnt, off_t off), (fd, iov, cnt, off)) \
	X(ssize_t, splice, (int in, off_t *off_in, int out, off_t *off_out, size_t len, unsigned int flags), \
	  (in, off_in, out, off_out, len, flags)) \
	X(int, pipe2, (int fds[2], int flags), (fds, flags)) \
	X(int, truncate, (const char *path, off_t len), (path, len)) \
	X(int, fsync, (int fd), (fd)) \
	X(ssize_t, sendto, (int fd, const void *buf, size_t len, int flags, const struct sockaddr *to, \
			    socklen_t tolen), (fd, buf, len, flags, to, tolen)) \
	X(ssize_t, recvfrom, (int fd, void *buf, size_t len, int flags, struct sockaddr *from, \
			      socklen_t *fromlen), (fd, buf, len, flags, from, fromlen)) \
	X(ssize_t, sendmsg, (int fd, const struct msghdr *msg, int flags), (fd, msg, flags)) \
	X(ssize_t, recvmsg, (int fd, struct msghdr *msg, int flags), (fd, msg, flags)) \
	X(long, futex, (uint32_t *uaddr, int op, uint32_t val, const struct timespec *timeout), \
	  (uaddr, op, val, timeout)) \
	X(int, ioctl, (int fd, unsigned long req, void *arg), (fd, req, arg)) \
	X(int, statx, (int dirfd, const char *path, int flags, unsigned int mask, struct statx *sx), \
	  (dirfd, path, flags, mask, sx)) \
	X(int, linkat, (int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags), \
	  (olddirfd, oldpath, newdirfd, newpath, flags)) \
	X(int, unlink, (const char *path), (path)) \
	X(int, fchmod, (int fd, mode_t mode), (fd, mode)) \
	X(int, mlock2, (const void *addr, size_t len, unsigned int flags), (addr, len, flags)) \
	X(int, munlock, (const void *addr, size_t len), (addr, len)) \
	X(int, munlockall, (void), ()) \
	X(int, fstatat, (int dirfd, const char *path, struct stat *st, int flags), (dirfd, path, st, flags)) \
	X(int, fstatvfs, (int fd, struct statvfs *sv), (fd, sv)) \
	X(int, fstatfs, (int fd, struct statfs *sf), (fd, sf)) \
	X(ssize_t, getdents64, (int fd, void *buf, size_t len), (fd, buf, len)) \
	X(ssize_t, readlink, (const char *path, char *buf, size_t len), (path, buf, len)) \
	X(ssize_t, process_vm_readv, (pid_t pid, const struct iovec *local, unsigned long nlocal, \
				      const struct iovec *remote, unsigned long nremote, unsigned long flags), \
	  (pid, local, nlocal, remote, nremote, flags)) \
	X(ssize_t, process_vm_writev, (pid_t pid, const struct iovec *local, unsigned long nlocal, \
				       const struct iovec *remote, unsigned long nremote, unsigned long flags), \
	  (pid, local, nlocal, remote, nremote, flags)) \
	X(pid_t, getpid, (void), ()) \
	X(pid_t, gettid, (void), ()) \
	X(uid_t, geteuid, (void), ()) \
	X(int, capget, (void *hdr, void *data), (hdr, data)) \
	X(int, getrlimit, (int resource, struct rlimit *rl), (resource, rl)) \
	X(int, sysinfo, (struct sysinfo *info), (info)) \
	X(int, clock_gettime, (clockid_t clock, struct timespec *ts), (clock, ts)) \
	X(int, nanosleep, (const struct timespec *req, struct timespec *rem), (req, rem)) \
	X(int, sched_yield, (void), ()) \
	X(int, sigaction, (int sig, const struct sigaction *act, struct sigaction *old), (sig, act, old)) \
	X(int, sigprocmask, (int how, const sigset_t *set, sigset_t *old), (how, set, old)) \
	X(int, raise, (int sig), (sig)) \
	X(int, abort, (void), ()) \
	X(int, thread_create, (pthread_t *thread, void *(*fn)(void *), void *arg), (thread, fn, arg)) \
	X(int, thread_join, (pthread_t thread), (thread)) \
	X(int, atfork, (void (*prepare)(void), void (*parent)(void), void (*child)(void)), \
	  (prepare, parent, child))

struct host_syscalls {
#define HOST_SYSCALL_ENTRY(ret, name, params, args) ret (*name) params;
	HOST_SYSCALLS(HOST_SYSCALL_ENTRY)
#undef HOST_SYSCALL_ENTRY
};
extern struct host_syscalls host_sys;
void host_check_link(void);
/* Put back the real system calls (tests call this after injecting). */
void host_sys_reset(void);

/* --- address space (host/map.c) --- */
#define HOST_RESERVE_FIXED	0x1	/* replace whatever is there */
#define HOST_RESERVE_NOREPLACE	0x2	/* fail with -EEXIST if anything is there */
#define HOST_RESERVE_32BIT	0x4	/* MAP_32BIT */
int host_reserve(unsigned long hint, size_t len, int how, unsigned long *addr);
int host_map_anon(unsigned long addr, size_t len);
int host_unmap(unsigned long addr, size_t len);
int host_protect(unsigned long addr, size_t len, int prot);	/* handler-safe */
int host_discard(unsigned long addr, size_t len);		/* MADV_DONTNEED */
int host_touch_write(unsigned long addr);			/* handler-safe */
int host_move(unsigned long old, size_t len, unsigned long new);
int host_alloc_private(size_t len, void **mem);	/* zeroed, NORESERVE, private */
int host_free(void *mem, size_t len);

/* Pass-through of the user's own call for ranges vmemu does not manage. */
int host_pass_mprotect(unsigned long addr, size_t len, int prot);
int host_pass_msync(unsigned long addr, size_t len, int flags);
int host_pass_madvise(unsigned long addr, size_t len, int advice);
int host_pass_mincore(unsigned long addr, size_t len, unsigned char *vec);
int host_pass_mremap(unsigned long old, size_t old_len, size_t new_len, int flags,
		     unsigned long new, unsigned long *out);
int host_pass_mmap(unsigned long addr, size_t len, int prot, int flags, int fd,
		   off_t off, unsigned long *out);
int host_pass_mlock(unsigned long addr, size_t len, bool lock, bool onfault);	/* mlock2 or munlock */
int host_pass_munlockall(void);

/* --- files and memory objects (host/file.c) --- */
ssize_t host_read_full(int fd, void *dst, size_t len, off_t off);	/* handler-safe */
ssize_t host_splice_full(int fd, off_t off, int out, off_t out_off, size_t len);	/* handler-safe */
void host_splice_fork_child(void);
ssize_t host_write_full(int fd, const void *src, size_t len, off_t off);	/* handler-safe */
ssize_t host_pwritev_full(int fd, struct iovec *iov, int cnt, off_t off, size_t *done);	/* handler-safe */
int host_fdatasync(int fd);
int host_fstat(int fd, struct stat *st);
int host_memfd(const char *name, int *fd);
int host_truncate(int fd, off_t len);
int host_punch_hole(int fd, off_t off, off_t len);	/* keeps the size */
int host_dup(int fd);
int host_reopen(int fd, int flags);
int host_fd_flags(int fd);
bool host_fd_append_only(int fd);
int host_find_in_dir(const char *dir, uint64_t dev, uint64_t ino, char *name, size_t len);
bool host_fd_noexec(int fd);
bool host_fd_in_memory(int fd);				/* handler-safe: tmpfs, ramfs */
int host_fd_path(int fd, char *buf, size_t size);
void host_close(int fd);
int host_copy_user(void *dst, const void *src, size_t len, bool to_user);

/* --- the shared segment and the processes that share it (host/shm.c) --- */
int host_shm_open(const char *path, int *fd);		/* an existing segment, checked: ours, 0600 */
int host_shm_create(const char *dir, size_t size, int *fd);	/* unnamed, for setting up */
int host_shm_publish(int fd, const char *path);		/* give it its name; -EEXIST if taken */
int host_shm_unlink(const char *path);
int host_shm_allocate(int fd, off_t off, off_t len);	/* handler-safe */
int host_shm_reopen(int fd, int *out);			/* a new open file description; handler-safe */
int host_map_segment(int fd, off_t off, size_t len, void **view);	/* RW MAP_SHARED */
int host_map_frames(unsigned long addr, size_t len, int fd, off_t off, int prot,
		    bool shared);					/* handler-safe */
int host_ofd_trylock(int fd, unsigned int byte);		/* handler-safe: 0 or -EAGAIN */
void host_ofd_unlock(int fd, unsigned int byte);		/* handler-safe */
bool host_ofd_locked(int fd, unsigned int byte);		/* handler-safe: by another description */
int host_futex_wait(uint32_t *word, uint32_t val, unsigned long timeout_ns);	/* handler-safe */
void host_futex_wake(uint32_t *word, int n);			/* handler-safe */
/* The identity of an open file: device, inode and a generation that tells
 * a reused inode number apart (FS_IOC_GETVERSION mixed with the birth time). */
int host_file_identity(int fd, dev_t *dev, ino_t *ino, uint64_t *gen);
int host_open_file(const char *path, int flags);		/* a descriptor, or -errno */

/* --- the program's own I/O calls, passed through (host/io.c): one system
 * call each, the result or -errno; EINTR is the caller's, as on Linux --- */
ssize_t host_user_read(int fd, void *buf, size_t len);
ssize_t host_user_write(int fd, const void *buf, size_t len);
ssize_t host_user_pread(int fd, void *buf, size_t len, off_t off);
ssize_t host_user_pwrite(int fd, const void *buf, size_t len, off_t off);
ssize_t host_user_readv(int fd, const struct iovec *iov, int cnt);
ssize_t host_user_writev(int fd, const struct iovec *iov, int cnt);
ssize_t host_user_preadv(int fd, const struct iovec *iov, int cnt, off_t off);
ssize_t host_user_pwritev(int fd, const struct iovec *iov, int cnt, off_t off);
int host_user_ftruncate(int fd, off_t len);
int host_user_truncate(const char *path, off_t len);
int host_user_fsync(int fd, bool data_only);
off_t host_user_lseek(int fd, off_t off, int whence);
ssize_t host_user_sendto(int fd, const void *buf, size_t len, int flags,
			 const struct sockaddr *to, socklen_t tolen);
ssize_t host_user_recvfrom(int fd, void *buf, size_t len, int flags,
			   struct sockaddr *from, socklen_t *fromlen);
ssize_t host_user_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t host_user_recvmsg(int fd, struct msghdr *msg, int flags);

/* --- memory pressure (host/pressure.c): swap files, the process's own
 * memory seen through /proc/self/mem, the host's limits --- */
int host_open_swap(const char *path, int *fd, bool *is_dir);
int host_self_mem_open(int *fd);
ssize_t host_self_mem_rw(int fd, void *buf, size_t len, unsigned long addr, bool write);	/* handler-safe */
void host_readahead(int fd, off_t off, off_t len);	/* handler-safe: POSIX_FADV_WILLNEED */
int host_count_mappings(void);				/* handler-safe: lines of /proc/self/maps */
unsigned long host_max_map_count(void);
unsigned long host_phys_pages(void);

/* --- resource limits (host/rlimit.c) --- */
unsigned long host_data_rlimit(void);		/* RLIMIT_DATA, ULONG_MAX for none */
unsigned long host_data_segment(void);		/* end_data - start_data, or 0 */
unsigned long host_memlock_rlimit(void);	/* RLIMIT_MEMLOCK, ULONG_MAX for none */
bool host_capable_ipc_lock(void);		/* CAP_IPC_LOCK in the effective set */
unsigned long host_total_vm(void);		/* pages the host maps for the process (VmSize) */

/* --- the trap (host/trap.c) --- */
enum host_fault {
	HOST_FAULT_HANDLED,	/* return to the faulting instruction */
	HOST_FAULT_SIGSEGV,	/* the program gets SIGSEGV as the kernel would */
	HOST_FAULT_SIGBUS,	/* the program gets SIGBUS (BUS_ADRERR) as the kernel would */
};
/* What the faulting access was, from the x86 page-fault error code in the
 * kernel's ucontext; UNKNOWN where that is not available (valgrind, other
 * architectures), and the emulator then infers it. */
enum host_access {
	HOST_ACCESS_UNKNOWN,
	HOST_ACCESS_READ,
	HOST_ACCESS_WRITE,
	HOST_ACCESS_EXEC,
};
typedef enum host_fault (*host_fault_fn)(unsigned long addr, enum host_access access);
int host_trap_install(host_fault_fn fn);
host_fault_fn host_trap_hook_fault(host_fault_fn fn);	/* tests only */
/* fn (handler-safe): is addr, where the host has a reservation of the
 * emulator's, unmapped for the program?  Then SIGSEGV says SEGV_MAPERR. */
void host_trap_set_unmapped(bool (*fn)(unsigned long addr));
void host_trap_uninstall(void);
int host_trap_sigaction(const struct sigaction *act, struct sigaction *oldact);
int host_pass_sigaction(int sig, const struct sigaction *act, struct sigaction *oldact);
void host_trap_enter_emulator(sigset_t *saved);
void host_trap_leave_emulator(const sigset_t *saved);
bool host_trap_in_emulator(void);

/* --- misc (host/misc.c) --- */
void host_yield(void);				/* handler-safe */
unsigned long host_now_ns(void);		/* handler-safe: CLOCK_MONOTONIC */
void host_write_str(const char *s);		/* handler-safe, to stderr */
void host_write_num(const char *label, unsigned long v);	/* handler-safe */
_Noreturn void host_die(const char *why);	/* handler-safe */
const char *host_getenv(const char *name);

/* --- the process and its threads (host/proc.c) --- */
pid_t host_getpid(void);			/* handler-safe */
pid_t host_gettid(void);			/* handler-safe */
uid_t host_geteuid(void);			/* handler-safe */
void host_sleep_ns(unsigned long ns);		/* handler-safe; EINTR ends it early */
int host_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);
int host_thread_join(pthread_t thread);
bool host_thread_is_self(pthread_t thread);
int host_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void));

#endif /* VMEMU_HOST_H */
