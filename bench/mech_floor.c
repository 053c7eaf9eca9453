/*
 * mech_floor.c - the raw SIGSEGV floor: what any SIGSEGV-based pager must pay,
 * with no emulation at all.  A bare sigaction handler, one page per fault.
 *
 *   floor-unsafe  the program's view is private anonymous PROT_NONE memory;
 *                 a fault does mprotect RW, then pread into the page in
 *                 place.  Another thread could see the page half filled.
 *   floor-safe    the view is a MAP_SHARED PROT_NONE mapping of a memfd; a
 *                 fault preads into a second, always-writable view of that
 *                 memfd, then mprotects the page: it appears complete.
 *
 * Anonymous memory has nothing to fill, so both floors are a bare mprotect
 * RW of private anonymous memory there.  Neither tracks dirtiness: msync
 * writes every page faulted in.  The handler is installed by init, in a
 * child where vmemu is never initialised (vmemu would own SIGSEGV).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

#define MAX_REGIONS 4

static struct region *regions[MAX_REGIONS];
static bool floor_is_safe;
static uint64_t floor_faults;

/* async-signal-safe: fill and expose the page at a, or decline. */
static void floor_handler(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	int saved = errno;

	(void)uc;
	for (int i = 0; i < MAX_REGIONS; i++) {
		struct region *r = __atomic_load_n(&regions[i], __ATOMIC_ACQUIRE);
		if (!r || a < (uintptr_t)r->base || a >= (uintptr_t)r->base + r->len)
			continue;
		size_t off = (a - (uintptr_t)r->base) & ~(PG - 1);
		bool file = r->backing != BK_ANON;
		int err = 0;
		if (!floor_is_safe || !file) {
			if (mprotect(r->base + off, PG, PROT_READ | PROT_WRITE))
				err = -errno;
			if (!err && file)
				err = pread_full(r->fd, r->base + off, PG, (off_t)off);
		} else {
			err = pread_full(r->fd, r->alias + off, PG, (off_t)off);
			if (!err && mprotect(r->base + off, PG, backing_prot(r->backing)))
				err = -errno;
		}
		if (err) {
			static const char msg[] = "vmemu-bench: floor: fill or mprotect failed\n";
			ssize_t w = write(2, msg, sizeof(msg) - 1);
			(void)w;
			_exit(3);
		}
		r->touched[off / PG] = 1;
		__atomic_fetch_add(&floor_faults, 1, __ATOMIC_RELAXED);
		errno = saved;
		return;
	}
	signal(sig, SIG_DFL);	/* not ours: the re-executed access dies */
	errno = saved;
}

static int floor_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = floor_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSEGV, &sa, NULL) ? -errno : 0;
}

static int floor_unsafe_init(unsigned long budget_mb, char *why, size_t whylen)
{
	(void)budget_mb;
	(void)why;
	(void)whylen;
	floor_is_safe = false;
	return floor_install();
}

static int floor_safe_init(unsigned long budget_mb, char *why, size_t whylen)
{
	(void)budget_mb;
	(void)why;
	(void)whylen;
	floor_is_safe = true;
	return floor_install();
}

static int floor_publish(struct region *r)
{
	for (int i = 0; i < MAX_REGIONS; i++) {
		struct region *expected = NULL;
		if (__atomic_compare_exchange_n(&regions[i], &expected, r, false, __ATOMIC_RELEASE,
						__ATOMIC_RELAXED))
			return 0;
	}
	return -EMFILE;
}

static int floor_map(struct region *r)
{
	bool file = r->backing != BK_ANON;
	int err;

	r->memfd = -1;
	r->alias = NULL;
	if (!(r->touched = calloc(r->len / PG, 1)))
		return -ENOMEM;
	if (!floor_is_safe || !file) {
		r->base = mmap(NULL, r->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (r->base == MAP_FAILED)
			return -errno;
		return floor_publish(r);
	}
	if ((r->memfd = memfd_create("floor-frames", MFD_CLOEXEC)) < 0)
		return -errno;
	if (ftruncate(r->memfd, (off_t)r->len))
		return -errno;
	r->base = mmap(NULL, r->len, PROT_NONE, MAP_SHARED | MAP_NORESERVE, r->memfd, 0);
	if (r->base == MAP_FAILED)
		return -errno;
	r->alias = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, r->memfd, 0);
	if (r->alias == MAP_FAILED)
		return -errno;
	if ((err = floor_publish(r)))
		return err;
	return 0;
}

static int floor_sync(struct region *r)
{
	return write_back_touched(r, r->alias ? r->alias : r->base);
}

/* Take pages away: PROT_NONE, then free the frames. */
static int floor_evict(struct region *r, size_t first, size_t n)
{
	if (mprotect(r->base + first * PG, n * PG, PROT_NONE))
		return -errno;
	if (r->memfd >= 0) {
		if (fallocate(r->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(first * PG),
			      (off_t)(n * PG)))
			return -errno;
	} else if (madvise(r->base + first * PG, n * PG, MADV_DONTNEED)) {
		return -errno;
	}
	memset(r->touched + first, 0, n);
	return 0;
}

static void floor_unmap(struct region *r)
{
	for (int i = 0; i < MAX_REGIONS; i++)
		if (regions[i] == r)
			__atomic_store_n(&regions[i], NULL, __ATOMIC_RELEASE);
	munmap(r->base, r->len);
	if (r->alias)
		munmap(r->alias, r->len);
	if (r->memfd >= 0)
		close(r->memfd);
	free(r->touched);
}

static uint64_t floor_fault_count(void)
{
	return __atomic_load_n(&floor_faults, __ATOMIC_RELAXED);
}

const struct mechanism mech_floor_unsafe = {
	.name = "floor-unsafe",
	.describe = "bare SIGSEGV handler: mprotect RW, pread in place (exposes partly filled pages)",
	.init = floor_unsafe_init,
	.map = floor_map,
	.sync = floor_sync,
	.evict = floor_evict,
	.unmap = floor_unmap,
	.faults = floor_fault_count,
	.faults_source = "SIGSEGVs handled",
};

const struct mechanism mech_floor_safe = {
	.name = "floor-safe",
	.describe = "bare SIGSEGV handler: pread into a memfd alias view, then mprotect the "
		    "MAP_SHARED user page (never exposes a partial page)",
	.init = floor_safe_init,
	.map = floor_map,
	.sync = floor_sync,
	.evict = floor_evict,
	.unmap = floor_unmap,
	.faults = floor_fault_count,
	.faults_source = "SIGSEGVs handled",
};
