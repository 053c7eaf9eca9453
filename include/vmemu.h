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
#include <signal.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sigaction;

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

/* The heap: brk(2) and sbrk(3) over an emulated heap of its own (the real
 * program break stays the host malloc's).  vme_brk returns 0, or -1 with
 * ENOMEM; vme_sbrk returns the old break, or (void *)-1 with ENOMEM. */
int vme_brk(void *addr);
void *vme_sbrk(intptr_t increment);

/* Signal dispositions.  vmemu owns the host SIGSEGV handler; a program's own
 * SIGSEGV handler must be registered here to receive the faults the kernel
 * would have given it (and never the emulator's own).  Other signals are
 * passed through to sigaction(2) and signal(2).
 *
 * vme_sigaction takes struct sigaction, and also struct vme_sigaction: the
 * same layout under the name vmemu/compat.h gives it (its object-like
 * "#define sigaction vme_sigaction" renames the struct tag too). */
struct vme_sigaction;
#ifdef __cplusplus
int vme_sigaction(int signum, const struct sigaction *act, struct sigaction *oldact);
}
inline int vme_sigaction(int signum, const struct vme_sigaction *act, struct vme_sigaction *oldact)
{
	return vme_sigaction(signum, reinterpret_cast<const struct sigaction *>(act),
			     reinterpret_cast<struct sigaction *>(oldact));
}
extern "C" {
#else
typedef union {
	const struct sigaction *sa;
	const struct vme_sigaction *vsa;
} __attribute__((__transparent_union__)) vme_const_sigaction_arg;
typedef union {
	struct sigaction *sa;
	struct vme_sigaction *vsa;
} __attribute__((__transparent_union__)) vme_sigaction_arg;
int vme_sigaction(int signum, vme_const_sigaction_arg act, vme_sigaction_arg oldact);
#endif
typedef void (*vme_sighandler_t)(int);
vme_sighandler_t vme_signal(int signum, vme_sighandler_t handler);

/* Configuration.  Zero-initialise it (a zero field means "default"); the
 * environment variable named beside each field overrides the default but
 * not an explicit value. */
struct vme_config {
	int verbose;		/* VMEMU_VERBOSE: 1 = print the counters on stderr at exit(3) and vme_shutdown */
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
	/* Where the fault handler's time goes, in nanoseconds summed over all
	 * faults.  Signal delivery and return happen outside the handler: a
	 * fault's measured latency minus fault_ns / pgfault is their share. */
	uint64_t fault_ns;		/* in the handler, entry to return */
	uint64_t lookup_ns;		/* taking mmap_lock and finding the VMA */
	uint64_t fill_ns;		/* filling page-cache pages (pread) */
	uint64_t protect_ns;		/* host protection changes (mprotect) */
	uint64_t nr_vmas;		/* emulated VMAs now */
	uint64_t nr_mapped_files;	/* page caches (files and shared anonymous objects) now */
};
int vme_stats(struct vme_stats *out);

/* Write the emulated VMAs to fd in /proc/self/maps format.  Returns 0, or
 * -1 with errno from write(2), or ENOMEM. */
int vme_dump_maps(int fd);

#ifdef __cplusplus
}
#endif
#endif /* VMEMU_H */
