/*
 * host.h - the "hardware": every host system call vmemu makes.
 *
 * src/mm/ is the emulated kernel and calls only these functions.  Every
 * system call goes through host_sys, a table of function pointers, so that
 * tests can inject EINTR, short reads, EIO, ENOSPC or ENOMEM at any call (the
 * SQLite os_unix.c pattern).
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

/* The system call table.  Entries follow the libc calling convention
 * (-1 and errno); the host_ functions below translate to -errno. */
struct host_syscalls {
	void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
	int (*munmap)(void *addr, size_t len);
	int (*mprotect)(void *addr, size_t len, int prot);
	int (*madvise)(void *addr, size_t len, int advice);
	int (*mincore)(void *addr, size_t len, unsigned char *vec);
	int (*msync)(void *addr, size_t len, int flags);
	void *(*mremap)(void *old, size_t old_len, size_t new_len, int flags, void *new_addr);
	ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
	ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t off);
	int (*fdatasync)(int fd);
	int (*fstat)(int fd, struct stat *st);
	int (*ftruncate)(int fd, off_t len);
	int (*fallocate)(int fd, int mode, off_t off, off_t len);
	int (*memfd_create)(const char *name, unsigned int flags);
	int (*fcntl)(int fd, int cmd, long arg);
	int (*close)(int fd);
	int (*open)(const char *path, int flags, int mode);
	ssize_t (*read)(int fd, void *buf, size_t len);
	off_t (*lseek)(int fd, off_t off, int whence);
	int (*fadvise)(int fd, off_t off, off_t len, int advice);
	ssize_t (*write)(int fd, const void *buf, size_t len);
	ssize_t (*readv)(int fd, const struct iovec *iov, int cnt);
	ssize_t (*writev)(int fd, const struct iovec *iov, int cnt);
	ssize_t (*preadv)(int fd, const struct iovec *iov, int cnt, off_t off);
	ssize_t (*pwritev)(int fd, const struct iovec *iov, int cnt, off_t off);
	int (*truncate)(const char *path, off_t len);
	int (*fsync)(int fd);
	ssize_t (*sendto)(int fd, const void *buf, size_t len, int flags,
			  const struct sockaddr *to, socklen_t tolen);
	ssize_t (*recvfrom)(int fd, void *buf, size_t len, int flags,
			    struct sockaddr *from, socklen_t *fromlen);
	ssize_t (*sendmsg)(int fd, const struct msghdr *msg, int flags);
	ssize_t (*recvmsg)(int fd, struct msghdr *msg, int flags);
	long (*futex)(uint32_t *uaddr, int op, uint32_t val, const struct timespec *timeout);
	int (*ioctl)(int fd, unsigned long req, void *arg);
	int (*statx)(int dirfd, const char *path, int flags, unsigned int mask, struct statx *sx);
	int (*linkat)(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags);
	int (*unlink)(const char *path);
	int (*fchmod)(int fd, mode_t mode);
	int (*mlock2)(const void *addr, size_t len, unsigned int flags);
	int (*munlock)(const void *addr, size_t len);
	int (*munlockall)(void);
};
extern struct host_syscalls host_sys;
/* Put back the real system calls (tests call this after injecting). */
void host_check_link(void);
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
ssize_t host_write_full(int fd, const void *src, size_t len, off_t off);	/* handler-safe */
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

#endif /* VMEMU_HOST_H */
