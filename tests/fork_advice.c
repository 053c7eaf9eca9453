/*
 * fork_advice.c - MADV_DONTFORK, MADV_DOFORK, MADV_WIPEONFORK and
 * MADV_KEEPONFORK, against the kernel.
 *
 * A range advised MADV_DONTFORK is not in a forked child at all: a touch
 * there is SIGSEGV (SEGV_MAPERR), calls find a hole (ENOMEM), and a new
 * mapping may take its place; the parent keeps it.  A private anonymous
 * range advised MADV_WIPEONFORK is in the child, empty (zero-filled).
 * Their inverses undo them.  (Issue 13, case 11: vmemu passed DONTFORK to
 * the host only, and the child, keeping the emulated VMA over host memory
 * that was gone, spun forever on its first touch.)
 *
 * Differential: each scenario runs in a child over the host's calls and in
 * another over vmemu's (worlds.h); that child forks, and its child reports
 * through the shared outcome.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <vmemu.h>

#include "testutil.h"
#include "worlds.h"

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

static char *base;

/* si_addr relative to base */
static long rel(unsigned long addr)
{
	return addr ? (long)(addr - (unsigned long)base) : 0;
}

static void scenario_dontfork(const struct world *w, struct outcome *out)
{
	char path[] = "/tmp/vmemu-dontfork-XXXXXX";
	int fd = mkstemp(path);
	unsigned char vec[1];

	no_core();
	if (fd < 0 || ftruncate(fd, 2 * PG))
		_exit(2);
	unlink(path);
	/* private anon [0, 4), shared file [4, 6), shared anon [6, 8): one
	 * reservation, so the addresses compare */
	base = w->mmap(NULL, 8 * PG, RW, ANON, -1, 0);
	if (base == MAP_FAILED || w_install(w, SIGSEGV) ||
	    w->mmap(base + 4 * PG, 2 * PG, RW, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED ||
	    w->mmap(base + 6 * PG, 2 * PG, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		_exit(3);
	for (int i = 0; i < 8; i++)
		base[i * PG] = (char)(i + 1);
	out->v[0] = w_ret(w->madvise(base + PG, PG, MADV_DONTFORK));
	out->v[1] = w_ret(w->madvise(base + 3 * PG, 4 * PG, MADV_DONTFORK));	/* anon, file, shmem */
	out->v[2] = w_ret(w->madvise(base + 3 * PG, PG, MADV_DOFORK));	/* page 3 comes again */
	base[4 * PG + 1] = 9;	/* a page made present after the advice */
	base[6 * PG + PG] = 8;
	pid_t pid = fork();
	if (pid == 0) {
		out->v[3] = base[0] + base[2 * PG] + base[3 * PG];	/* 1 + 3 + 4 */
		out->v[4] = w_touch(base + PG + 8, false, 0);		/* SIGSEGV */
		out->v[5] = out->code * 1000 + rel(out->addr);
		out->v[6] = w_touch(base + 4 * PG + 1, true, 1);		/* the file: gone too */
		out->v[7] = w_touch(base + 7 * PG, false, 0);		/* shmem: gone too */
		out->v[8] = w_ret(w->msync(base + 4 * PG, PG, MS_SYNC));	/* ENOMEM */
		out->v[9] = w_ret(w->mincore(base + PG, PG, vec));	/* ENOMEM */
		out->v[10] = w_ret(w->munmap(base + PG, PG));		/* a hole: 0 */
		char *m = w->mmap(base + PG, PG, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0);
		out->v[11] = m == MAP_FAILED ? -errno : m - base;		/* the place is free */
		out->v[12] = m == MAP_FAILED ? -1 : m[0];
		_exit(0);
	}
	int status;
	out->v[13] = waitpid(pid, &status, 0) == pid ? status : -1;
	out->v[14] = base[PG] + base[4 * PG + 1] + base[7 * PG];	/* the parent keeps all: 2 + 9 + 8 */
	out->addr = (unsigned long)rel(out->addr);
}

Test(fork_advice, dontfork_ranges_are_not_in_the_child, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_dontfork);
	struct outcome *v = w_run(&vme_world, scenario_dontfork);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.v[3], 8);
	cr_assert_eq(h.v[4], SIGSEGV);
	cr_assert_eq(h.v[5], SEGV_MAPERR * 1000 + PG + 8);
	cr_assert_eq(h.v[8], -ENOMEM);
	cr_assert_eq(h.v[11], PG);
	cr_assert_eq(h.v[14], 19);
	w_compare(&h, v, "MADV_DONTFORK");
}

static void scenario_wipeonfork(const struct world *w, struct outcome *out)
{
	char path[] = "/tmp/vmemu-wipe-XXXXXX";
	int fd = mkstemp(path);

	no_core();
	if (fd < 0 || ftruncate(fd, PG))
		_exit(2);
	unlink(path);
	base = w->mmap(NULL, 4 * PG, RW, ANON, -1, 0);
	char *s = w->mmap(NULL, PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *f = w->mmap(NULL, PG, RW, MAP_PRIVATE, fd, 0);
	if (base == MAP_FAILED || s == MAP_FAILED || f == MAP_FAILED)
		_exit(3);
	for (int i = 0; i < 4; i++)
		base[i * PG] = (char)(i + 1);
	out->v[0] = w_ret(w->madvise(base + PG, 2 * PG, MADV_WIPEONFORK));
	out->v[1] = w_ret(w->madvise(s, PG, MADV_WIPEONFORK));	/* shared: EINVAL */
	out->v[2] = w_ret(w->madvise(f, PG, MADV_WIPEONFORK));	/* a file: EINVAL */
	out->v[3] = w_ret(w->madvise(base + 2 * PG, PG, MADV_KEEPONFORK));
	pid_t pid = fork();
	if (pid == 0) {
		out->v[4] = base[0] * 1000 + base[PG] * 100 + base[2 * PG] * 10 + base[3 * PG];	/* 1034 */
		base[PG] = 7;		/* still mapped, writable */
		out->v[5] = base[PG];
		pid_t gpid = fork();	/* wiped for the child's child too */
		if (gpid == 0) {
			out->v[6] = base[PG];
			_exit(0);
		}
		waitpid(gpid, NULL, 0);
		_exit(0);
	}
	int status;
	out->v[7] = waitpid(pid, &status, 0) == pid ? status : -1;
	out->v[8] = base[PG];	/* the parent keeps its page: 2 */
}

Test(fork_advice, wipeonfork_ranges_are_empty_in_the_child, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_wipeonfork);
	struct outcome *v = w_run(&vme_world, scenario_wipeonfork);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.v[1], -EINVAL);
	cr_assert_eq(h.v[4], 1034);
	cr_assert_eq(h.v[6], 0);
	cr_assert_eq(h.v[8], 2);
	w_compare(&h, v, "MADV_WIPEONFORK");
}
