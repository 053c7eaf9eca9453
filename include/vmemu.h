/*
 * vmemu.h - the Linux mmap family, emulated in user space on real faults.
 *
 * Every vme_ call takes the same arguments, returns the same value and sets
 * the same errno as the Linux call it mirrors.  Ranges that vmemu does not
 * manage (malloc'd memory, the stack, the program's own host mappings) are
 * passed through to the host call.  See vmemu(7) and docs/design.md.
 *
 * This header compiles as C11 and as C++.
 */
#ifndef VMEMU_H
#define VMEMU_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <signal.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sigaction;	/* not in <signal.h> under strict ISO C */

/* The mmap family.  Same contract as mmap(2), munmap(2), mprotect(2),
 * msync(2), madvise(2) and mincore(2).  On failure vme_mmap returns
 * MAP_FAILED and the others -1, with errno set as Linux sets it. */
void *vme_mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset);
int vme_munmap(void *addr, size_t length);
int vme_mprotect(void *addr, size_t len, int prot);
int vme_msync(void *addr, size_t length, int flags);
int vme_madvise(void *addr, size_t length, int advice);
int vme_mincore(void *addr, size_t length, unsigned char *vec);
/* mremap(2), variadic as glibc's: new_address follows only with MREMAP_FIXED.
 * Moving keeps the contents, the dirty state and the sharing. */
void *vme_mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...);

/* Memory locks: same contract as mlock(2), mlock2(2), munlock(2),
 * mlockall(2) and munlockall(2), RLIMIT_MEMLOCK and CAP_IPC_LOCK included.
 * Locked emulated pages are faulted in (MLOCK_ONFAULT, MCL_ONFAULT: as
 * they are touched) and never reclaimed nor swapped; they count against
 * the memory budget.  vme_mlockall locks the emulated mappings only. */
int vme_mlock(const void *addr, size_t len);
int vme_mlock2(const void *addr, size_t len, unsigned int flags);
int vme_munlock(const void *addr, size_t len);
int vme_mlockall(int flags);
int vme_munlockall(void);

/* File I/O through vmemu's page cache.  Same contract as read(2),
 * write(2), pread(2), pwrite(2), readv(2), writev(2), preadv(2),
 * pwritev(2), ftruncate(2), truncate(2), fsync(2) and fdatasync(2).  On a
 * regular file that vmemu caches (one cache per file, shared by every
 * process of the user that maps it through vmemu), a write updates the
 * cached pages at once, in every mapping, and reaches the file; a read sees
 * stores made through MAP_SHARED mappings that are not written back yet; a
 * truncate drops or zeroes what lies past the new end; fsync and fdatasync
 * write back the file's dirty mapped pages first.  On anything else they
 * are the system call.  A buffer in emulated memory is faulted in first,
 * so these calls never fail with EFAULT where Linux would not. */
ssize_t vme_read(int fd, void *buf, size_t count);
ssize_t vme_write(int fd, const void *buf, size_t count);
ssize_t vme_pread(int fd, void *buf, size_t count, off_t offset);
ssize_t vme_pwrite(int fd, const void *buf, size_t count, off_t offset);
ssize_t vme_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t vme_writev(int fd, const struct iovec *iov, int iovcnt);
ssize_t vme_preadv(int fd, const struct iovec *iov, int iovcnt, off_t offset);
ssize_t vme_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset);
int vme_ftruncate(int fd, off_t length);
int vme_truncate(const char *path, off_t length);
int vme_fsync(int fd);
int vme_fdatasync(int fd);

/* Sockets: send(2), recv(2) and their to/from/msg forms.  A buffer in
 * emulated memory is faulted in first (no EFAULT Linux would not give);
 * otherwise they are the system call.  The address is glibc's own argument
 * type: in C under _GNU_SOURCE, a transparent union of the sockaddr
 * pointers, as <sys/socket.h> declares sendto and recvfrom. */
ssize_t vme_send(int sockfd, const void *buf, size_t len, int flags);
ssize_t vme_recv(int sockfd, void *buf, size_t len, int flags);
ssize_t vme_sendto(int sockfd, const void *buf, size_t len, int flags,
		   __CONST_SOCKADDR_ARG dest_addr, socklen_t addrlen);
ssize_t vme_recvfrom(int sockfd, void *buf, size_t len, int flags,
		     __SOCKADDR_ARG src_addr, socklen_t *addrlen);
ssize_t vme_sendmsg(int sockfd, const struct msghdr *msg, int flags);
ssize_t vme_recvmsg(int sockfd, struct msghdr *msg, int flags);

/* Devices: a driver's own mmap and fault handler, as a kernel driver's
 * file_operations->mmap and vm_operations_struct.  vme_device_open returns
 * a descriptor; vme_mmap on it maps the device.  Each page is filled once,
 * by the driver's fault, into a frame every mapping of the device shares.
 *
 * fault and page_mkwrite run inside the SIGSEGV handler: they must be
 * async-signal-safe (no malloc, no stdio, no locks the program may hold). */
struct vme_vm_area {
	void *start;			/* first byte of the mapping */
	size_t length;			/* its length in bytes */
	unsigned long pgoff;		/* device page at start */
	int prot;			/* PROT_* of the mapping */
	int flags;			/* MAP_SHARED or MAP_PRIVATE */
};
struct vme_fault {
	struct vme_vm_area vma;		/* the mapping faulted on */
	unsigned long pgoff;		/* the device page wanted */
	void *address;			/* the faulting address */
	void *page;			/* the frame to fill, page_size bytes */
	size_t page_size;
	void *private_data;		/* as given to vme_device_open */
};
#define VME_FAULT_SIGBUS 1		/* fault's "no such page": SIGBUS for the program */
struct vme_device_ops {
	const char *name;		/* shown in vme_dump_maps */
	int (*open)(void *private_data);		/* 0 or -errno; optional */
	void (*close)(void *private_data);		/* at vme_device_close; optional */
	int (*mmap)(void *private_data, const struct vme_vm_area *vma);	/* 0 or -errno; optional */
	int (*fault)(struct vme_fault *vmf);		/* fill vmf->page: 0 or VME_FAULT_SIGBUS */
	int (*page_mkwrite)(struct vme_fault *vmf);	/* first write to a clean shared page; optional */
};
int vme_device_open(const struct vme_device_ops *ops, void *private_data);	/* fd, or -1 */
int vme_device_close(int fd);		/* 0, or -1 with EBADF */

/* Two example drivers (src/drivers/): a framebuffer whose written pages every
 * mapping sees, with page_mkwrite damage tracking, and a pattern device
 * whose pages are generated, never read from a disk. */
struct vme_framebuffer {
	size_t size;			/* bytes; mappings beyond it are refused */
	unsigned long damaged;		/* pages written since the last vme_framebuffer_damage */
	unsigned long damage[64];	/* bitmap of those pages (the first 4096) */
};
extern const struct vme_device_ops vme_framebuffer_ops;	/* private_data: struct vme_framebuffer */
/* Take the damage: copy the bitmap out, clear it, return how many pages. */
unsigned long vme_framebuffer_damage(struct vme_framebuffer *fb, unsigned long bitmap[64]);
struct vme_pattern {
	unsigned long seed;		/* the word at byte i of page p: seed ^ (p * 512 + i / 8) */
	unsigned long pages;		/* device size in pages; 0 = unbounded */
	unsigned long fills;		/* pages generated so far */
};
extern const struct vme_device_ops vme_pattern_ops;	/* private_data: struct vme_pattern */

/* The heap: brk(2) and sbrk(3) over an emulated heap of its own (the real
 * program break stays the host malloc's).  vme_brk returns 0, or -1 with
 * ENOMEM; vme_sbrk returns the old break, or (void *)-1 with ENOMEM. */
int vme_brk(void *addr);
void *vme_sbrk(intptr_t increment);

/* Signal dispositions.  vmemu owns the host SIGSEGV handler; a program's own
 * SIGSEGV handler must be registered here to receive the faults the kernel
 * would have given it (and never the emulator's own).  Other signals are
 * passed through to sigaction(2) and signal(2). */
int vme_sigaction(int signum, const struct sigaction *act, struct sigaction *oldact);
typedef void (*vme_sighandler_t)(int);
vme_sighandler_t vme_signal(int signum, vme_sighandler_t handler);

/* Configuration.  Zero-initialise it (a zero field means "default"); the
 * environment variable named beside each field overrides the default but
 * not an explicit value. */
struct vme_config {
	int verbose;		/* VMEMU_VERBOSE: 1 = print the counters on stderr at exit(3) and vme_shutdown */
	/* VMEMU_CACHE_MB: the memory budget, in MiB.  Resident frames (file
	 * cache, anonymous and shared memory) never exceed it; reclaim evicts
	 * cold pages to stay within.  Default: a quarter of physical memory,
	 * at least 64 MiB.  At most 64 GiB on this build's frame table. */
	unsigned long cache_mb;
	/* VMEMU_SWAP: where anonymous, shared-anonymous and private-copy pages
	 * go when evicted.  Default: an unlinked temporary file in /var/tmp
	 * (or $TMPDIR).  A path names a file vmemu creates or truncates and
	 * then owns; "off" means no swap (such pages then stay resident). */
	const char *swap;
	/* VMEMU_DOMAIN: the processes that share one page cache.  Every
	 * process of the user that maps a file through vmemu shares its cache
	 * (one cache per file, as Linux has); processes given another domain
	 * name share among themselves only, and "private" gives a process a
	 * cache of its own.  Default: "default". */
	const char *domain;
};

/* Initialise explicitly.  Optional: the first vme_ call initialises with
 * defaults and VMEMU_* environment variables.  Returns 0, or -1 with errno
 * EBUSY if vmemu is already initialised and cfg is not NULL. */
int vme_init(const struct vme_config *cfg);

/* Write back every dirty page, unmap every emulated mapping and restore the
 * SIGSEGV disposition vmemu replaced.  Returns 0; or -1 with errno (EIO,
 * ENOSPC, ...) if a write-back failed, in which case nothing is released and
 * the dirty data stays in place so that the call can be retried. */
int vme_shutdown(void);

/* Counters in the spirit of /proc/vmstat, cumulative since initialisation. */
struct vme_stats {
	uint64_t pgfault;		/* faults handled by vmemu */
	uint64_t pgmajfault;		/* of which needed I/O (page cache fill) */
	uint64_t anon_fault;		/* do_anonymous_page */
	uint64_t read_fault;		/* do_read_fault */
	uint64_t cow_fault;		/* do_cow_fault */
	uint64_t shared_fault;		/* do_shared_fault */
	uint64_t wp_fault;		/* do_wp_page */
	uint64_t wp_copy;		/* do_wp_page that broke COW */
	uint64_t spurious_fault;	/* raced another thread, nothing to do */
	uint64_t pgpgin;		/* pages read from files */
	uint64_t pgpgout;		/* pages written back to files */
	uint64_t writeback_error;	/* write-backs that failed; page kept dirty */
	uint64_t read_error;		/* fills that failed (SIGBUS) */
	uint64_t sigsegv_delivered;	/* SIGSEGV passed on to the program */
	uint64_t sigbus_delivered;	/* SIGBUS raised for the program */
	uint64_t foreign_fault;		/* faults outside every emulated VMA */
	uint64_t populate;		/* pages prefaulted (MAP_POPULATE, MADV_POPULATE_*) */
	uint64_t pgevict;		/* page-cache pages evicted (reclaim or MADV_PAGEOUT) */
	uint64_t pgscan;		/* frames the reclaim clock looked at */
	uint64_t pgdeactivate;		/* frames the clock unmapped to see if they are used again */
	uint64_t pgactivate;		/* ... and that were: a fault mapped them back */
	uint64_t pswpin;		/* pages read back from swap */
	uint64_t pswpout;		/* pages written to swap */
	uint64_t pgreadahead;		/* pages read ahead of the faulting one */
	uint64_t pgfaultaround;		/* cached pages mapped around the faulting one */
	uint64_t host_vma_reclaim;	/* times the host mapping count forced pages out */
	/* Where the fault handler's time goes, in nanoseconds summed over all
	 * faults.  Signal delivery and return happen outside the handler: a
	 * fault's measured latency minus fault_ns / pgfault is their share. */
	uint64_t fault_ns;		/* in the handler, entry to return */
	uint64_t lookup_ns;		/* taking mmap_lock and finding the VMA */
	uint64_t fill_ns;		/* filling page-cache pages (pread) */
	uint64_t protect_ns;		/* host protection changes (mprotect) */
	uint64_t trace_dropped;		/* trace events lost because the tracer fell behind */
	uint64_t nr_vmas;		/* emulated VMAs now */
	uint64_t nr_mapped_files;	/* page caches (files and shared anonymous objects) now */
	uint64_t nr_resident;		/* pages this process holds: frames it maps, private pages (never above nr_budget) */
	uint64_t nr_budget;		/* the memory budget, in pages */
	uint64_t nr_swap;		/* pages in swap now */
	uint64_t nr_host_vmas;		/* host mappings of the process, as last counted */
	uint64_t nr_cached;		/* frames in use in the shared page cache, all processes */
};
int vme_stats(struct vme_stats *out);

/* Tracing: a callback that receives one event per fault (and per
 * write-back), in the spirit of the kernel's tracepoints.  Events are
 * recorded in the fault handler into a preallocated ring and delivered to fn
 * by a thread of vmemu's, outside any handler, in order; fn may do anything.
 * If fn falls behind by more than the ring (4096 events), the excess is
 * counted in vme_stats.trace_dropped.  fn = NULL stops tracing;
 * vme_trace_flush waits until every event recorded so far was delivered. */
enum vme_trace_kind {
	VME_TRACE_ANON_FAULT = 1,	/* do_anonymous_page */
	VME_TRACE_READ_FAULT,		/* do_read_fault */
	VME_TRACE_COW_FAULT,		/* do_cow_fault */
	VME_TRACE_SHARED_FAULT,		/* do_shared_fault */
	VME_TRACE_WP_FAULT,		/* do_wp_page */
	VME_TRACE_SIGBUS,		/* the access got SIGBUS */
	VME_TRACE_SIGSEGV,		/* the access got SIGSEGV */
	VME_TRACE_WRITEBACK,		/* a dirty page was written back */
};
#define VME_TRACE_MAJOR 0x1		/* the fault read the page (filemap_fault) */
/* pages: a major fault's are the pages it read from the file in one read,
 * the faulting page and those read ahead of it; any other fault's are the
 * pages it mapped at once, the faulting page and the cached neighbours
 * mapped around it (fault-around); a write-back's is 1. */
struct vme_trace_event {
	uint64_t time_ns;		/* CLOCK_MONOTONIC at the event */
	uint64_t address;		/* faulting address (0 for write-back) */
	uint64_t pgoff;			/* page index in the file or object */
	uint32_t latency_ns;		/* time in the handler */
	uint16_t kind;			/* enum vme_trace_kind */
	uint16_t flags;			/* VME_TRACE_MAJOR */
	int32_t tid;			/* thread that faulted */
	uint32_t pages;			/* pages read (major fault) or mapped: see above */
};
typedef void (*vme_tracer_fn)(const struct vme_trace_event *ev, void *arg);
int vme_set_tracer(vme_tracer_fn fn, void *arg);
int vme_trace_flush(void);

/* Write the emulated VMAs to fd in /proc/self/maps format.  Returns 0, or
 * -1 with errno from write(2), or ENOMEM. */
int vme_dump_maps(int fd);

#ifdef __cplusplus
}
#endif
#endif /* VMEMU_H */
