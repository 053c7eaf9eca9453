/*
 * mech_kernel.c - the host kernel's own mmap (default, and MADV_RANDOM), the
 * pread reference, and the helpers every mechanism shares.
 *
 * The host page cache is the kernel's own: a warm cell's pread pass warms
 * it, so the kernel needs no warm_cache of its own.
 * The kernel has no per-process memory budget (MADV_DONTNEED drops PTEs,
 * not the host page cache), so it has no evict hook: its budget-scan cell
 * is n/a, and the report compares that workload with its seq-warm cell.
 */
#include <errno.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

int backing_prot(enum backing b)
{
	return b == BK_FILE_RO ? PROT_READ : PROT_READ | PROT_WRITE;
}

int backing_flags(enum backing b)
{
	switch (b) {
	case BK_FILE_RO:
	case BK_FILE_SHARED:
		return MAP_SHARED;
	case BK_FILE_PRIVATE:
		return MAP_PRIVATE;
	case BK_ANON:
		break;
	}
	return MAP_PRIVATE | MAP_ANONYMOUS;
}

/* async-signal-safe: read len bytes at off, retrying short reads. */
int pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;	/* the benchmark's files never end mid-region */
		done += (size_t)n;
	}
	return 0;
}

int pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}

/* msync for the user-space pagers: write every page faulted in (they do not
 * track dirtiness) from src, then fdatasync.  Runs of pages go in one call. */
int write_back_touched(const struct region *r, const unsigned char *src)
{
	size_t pages = r->len / PG;
	int err;

	for (size_t i = 0; i < pages;) {
		if (!r->touched[i]) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < pages && r->touched[j])
			j++;
		if ((err = pwrite_full(r->fd, src + i * PG, (j - i) * PG, (off_t)(i * PG))))
			return err;
		i = j;
	}
	return fdatasync(r->fd) ? -errno : 0;
}

uint64_t rusage_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_minflt + (uint64_t)ru.ru_majflt;
}

/* --- the host kernel ---------------------------------------------------------- */

static int kernel_init(unsigned long budget_mb, char *why, size_t whylen)
{
	(void)budget_mb;
	(void)why;
	(void)whylen;
	return 0;
}

static int kernel_map(struct region *r)
{
	void *p = mmap(NULL, r->len, backing_prot(r->backing), backing_flags(r->backing),
		       r->backing == BK_ANON ? -1 : r->fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	r->base = p;
	return 0;
}

static int kernel_random_map(struct region *r)
{
	int err = kernel_map(r);

	if (!err && madvise(r->base, r->len, MADV_RANDOM))
		err = -errno;
	return err;
}

static int kernel_sync(struct region *r)
{
	return msync(r->base, r->len, MS_SYNC) ? -errno : 0;
}

static void kernel_unmap(struct region *r)
{
	munmap(r->base, r->len);
}

const struct mechanism mech_kernel = {
	.name = "kernel",
	.describe = "host mmap, default advice (fault-around, readahead)",
	.init = kernel_init,
	.map = kernel_map,
	.sync = kernel_sync,
	.unmap = kernel_unmap,
	.faults = rusage_faults,
	.faults_source = "getrusage minflt+majflt",
	.huge_maps = true,
};

const struct mechanism mech_kernel_random = {
	.name = "kernel-random",
	.describe = "host mmap with MADV_RANDOM (no readahead; Linux 6.18 still faults around)",
	.init = kernel_init,
	.map = kernel_random_map,
	.sync = kernel_sync,
	.unmap = kernel_unmap,
	.faults = rusage_faults,
	.faults_source = "getrusage minflt+majflt",
	.huge_maps = true,
};

/* The copy-cost reference: cell.c reads the same pages with pread (1 MiB
 * windows into an already-populated buffer for scans, 4 KiB for random
 * reads) and writes with pwrite; nothing is mapped. */
static uint64_t no_faults(void)
{
	return 0;
}

const struct mechanism mech_pread = {
	.name = "pread",
	.describe = "no mapping: pread of the same pages into already-populated buffers (the copy cost)",
	.init = kernel_init,
	.faults = no_faults,
	.faults_source = "none (no mapping)",
	.is_pread = true,
};

const struct mechanism *const mechanisms[NR_MECHANISMS] = {
	[M_KERNEL] = &mech_kernel,
	[M_KERNEL_RANDOM] = &mech_kernel_random,
	[M_VMEMU] = &mech_vmemu,
	[M_VMEMU_RANDOM] = &mech_vmemu_random,
	[M_FLOOR_UNSAFE] = &mech_floor_unsafe,
	[M_FLOOR_SAFE] = &mech_floor_safe,
	[M_UFFD_XCPU] = &mech_uffd_xcpu,
	[M_UFFD_SAMECPU] = &mech_uffd_samecpu,
	[M_PREAD] = &mech_pread,
};
