/*
 * difftest.h - helpers shared by the differential tests (errno_table.c and
 * differential.c): the two "worlds" (host mmap family vs vme_ family) behind
 * one table of function pointers, temporary files and a seeded PRNG.
 */
#ifndef VMEMU_TESTS_DIFFTEST_H
#define VMEMU_TESTS_DIFFTEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "vmemu.h"

/* One world: either the host kernel's mmap family or vmemu's. */
struct dt_api {
	const char *name;
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	int (*munmap)(void *, size_t);
	int (*mprotect)(void *, size_t, int);
	int (*msync)(void *, size_t, int);
	int (*madvise)(void *, size_t, int);
	int (*mincore)(void *, size_t, unsigned char *);
};

static const struct dt_api dt_host = {
	"host", mmap, munmap, mprotect, msync, madvise, mincore,
};

static const struct dt_api dt_vme = {
	"vmemu", vme_mmap, vme_munmap, vme_mprotect, vme_msync, vme_madvise, vme_mincore,
};

static inline size_t dt_pagesize(void)
{
	static size_t pg;

	if (!pg)
		pg = (size_t)sysconf(_SC_PAGESIZE);
	return pg;
}

/* A temporary regular file of `size` bytes, filled with `fill` (or zeros),
 * opened with `flags`; unlinked immediately unless `path_out` is given, in
 * which case the caller gets the name (up to 64 bytes) and unlinks it. */
static inline int dt_tmpfile(const unsigned char *fill, size_t size, int flags, char *path_out)
{
	char path[64];
	int fd;

	snprintf(path, sizeof path, "/tmp/vmemu-dt-XXXXXX");
	fd = mkstemp(path);
	cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
	if (fill) {
		size_t done = 0;

		while (done < size) {
			ssize_t n = pwrite(fd, fill + done, size - done, (off_t)done);

			cr_assert(n > 0, "pwrite: %s", strerror(errno));
			done += (size_t)n;
		}
	} else {
		cr_assert(ftruncate(fd, (off_t)size) == 0, "ftruncate: %s", strerror(errno));
	}
	if (flags != O_RDWR) {
		int fd2 = open(path, flags);

		cr_assert(fd2 >= 0, "reopen %s: %s", path, strerror(errno));
		close(fd);
		fd = fd2;
	}
	if (path_out)
		memcpy(path_out, path, sizeof path);
	else
		unlink(path);
	return fd;
}

/* Read all of a file (up to `size` bytes) with pread. Returns bytes read. */
static inline size_t dt_pread_all(int fd, unsigned char *buf, size_t size)
{
	size_t done = 0;

	while (done < size) {
		ssize_t n = pread(fd, buf + done, size - done, (off_t)done);

		cr_assert(n >= 0, "pread: %s", strerror(errno));
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return done;
}

/* splitmix64: small, seedable, good enough. */
struct dt_rng {
	uint64_t s;
};

static inline uint64_t dt_next(struct dt_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static inline unsigned dt_below(struct dt_rng *r, unsigned n)
{
	return n ? (unsigned)(dt_next(r) % n) : 0;
}

static inline const char *dt_errname(int e)
{
	static char bufs[4][32];
	static unsigned next;
	char *buf;

	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case ENFILE: return "ENFILE";
	case EMFILE: return "EMFILE";
	case ETXTBSY: return "ETXTBSY";
	case EFBIG: return "EFBIG";
	case ENOSPC: return "ENOSPC";
	case ESPIPE: return "ESPIPE";
	case EOVERFLOW: return "EOVERFLOW";
	case ENOSYS: return "ENOSYS";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	default:
		buf = bufs[next++ % 4];
		snprintf(buf, sizeof bufs[0], "errno %d", e);
		return buf;
	}
}

#endif /* VMEMU_TESTS_DIFFTEST_H */
