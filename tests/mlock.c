/*
 * mlock.c - memory locks, against the kernel: mlock, mlock2 (MLOCK_ONFAULT),
 * munlock, mlockall (MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT), munlockall,
 * MAP_LOCKED, RLIMIT_MEMLOCK and CAP_IPC_LOCK, what a lock forbids
 * (MS_INVALIDATE, MADV_DONTNEED and the like), fork; and that reclaim never
 * takes a locked page.
 *
 * Differential: each scenario runs in a child over the host's calls and in
 * another over vmemu's (worlds.h).  The tests run as root: each child drops
 * CAP_IPC_LOCK from its effective set, so that RLIMIT_MEMLOCK applies, and
 * sets the limit it needs.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <vmemu.h>

#include "testutil.h"
#include "worlds.h"

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

/* No CAP_IPC_LOCK, and RLIMIT_MEMLOCK of limit bytes. */
static void lock_limit(unsigned long limit)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	struct rlimit r = { limit, limit };

	if (syscall(SYS_capget, &hdr, data) || (data[0].effective &= ~(1U << CAP_IPC_LOCK), 0) ||
	    syscall(SYS_capset, &hdr, data) || setrlimit(RLIMIT_MEMLOCK, &r))
		_exit(40);
}

static long map_errno(void *p)
{
	return p == MAP_FAILED ? -errno : 0;
}

/* mincore of n pages as a bit mask (bit i: page i resident), or -errno. */
static long resident(const struct world *w, void *p, int n)
{
	unsigned char vec[16];
	long mask = 0;

	if (w->mincore(p, (size_t)n * PG, vec))
		return -errno;
	for (int i = 0; i < n; i++)
		mask |= (long)(vec[i] & 1) << i;
	return mask;
}

/* RLIMIT_MEMLOCK of 4 pages: what counts and what does not. */
static void scenario_accounting(const struct world *w, struct outcome *out)
{
	lock_limit(4 * PG);
	char *a = w->mmap(NULL, 8 * PG, RW, ANON, -1, 0);
	if (a == MAP_FAILED)
		_exit(2);
	out->v[0] = w_ret(w->mlock(a, 2 * PG));
	out->v[1] = w_ret(w->mlock(a + PG, 3 * PG));	/* page 1 counted once: 4 */
	out->v[2] = w_ret(w->mlock(a + 4 * PG, PG));	/* 5: ENOMEM */
	out->v[3] = w_ret(w->munmap(a, PG));		/* a locked page goes */
	out->v[4] = w_ret(w->mlock(a + 4 * PG, PG));	/* 4 again */
	out->v[5] = w_ret(w->munlock(a + PG, 8 * PG));	/* past the end: ENOMEM, all unlocked */
	out->v[6] = w_ret(w->mlock(a + PG, 4 * PG));
	out->v[7] = w_ret(w->mlock(a + 6 * PG + 100, 1));	/* rounded to a page: 5 */
	out->v[8] = w_ret(w->mlock2(a, PG, 2));
	out->v[9] = w_ret(w->mlockall(0));
	out->v[10] = w_ret(w->mlockall(MCL_ONFAULT));
	out->v[11] = map_errno(w->mmap(NULL, PG, RW, ANON | MAP_LOCKED, -1, 0));	/* EAGAIN */
	out->v[12] = w_ret(w->munlock(a + 2 * PG, PG));
	out->v[13] = map_errno(w->mmap(NULL, PG, RW, ANON | MAP_LOCKED, -1, 0));	/* room for 1 */
	out->v[14] = w_ret(w->mlockall(MCL_CURRENT));	/* the whole process: ENOMEM */
	out->v[15] = w_ret(w->munlockall());
}

Test(mlock, rlimit_memlock_counts_locked_pages, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_accounting);
	struct outcome *v = w_run(&vme_world, scenario_accounting);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.v[1], 0);
	cr_assert_eq(h.v[2], -ENOMEM);
	cr_assert_eq(h.v[11], -EAGAIN);
	w_compare(&h, v, "RLIMIT_MEMLOCK accounting");
}

/* RLIMIT_MEMLOCK of 0 and no CAP_IPC_LOCK: no lock at all (EPERM), after
 * the argument checks that come first. */
static void scenario_no_right(const struct world *w, struct outcome *out)
{
	lock_limit(0);
	char *a = w->mmap(NULL, 2 * PG, RW, ANON, -1, 0);
	if (a == MAP_FAILED)
		_exit(2);
	out->v[0] = w_ret(w->mlock(a, PG));
	out->v[1] = w_ret(w->mlock(a, 0));
	out->v[2] = w_ret(w->mlock2(a, PG, 7));
	out->v[3] = w_ret(w->mlock2(a, PG, MLOCK_ONFAULT));
	out->v[4] = w_ret(w->munlock(a, PG));
	out->v[5] = w_ret(w->mlockall(MCL_FUTURE));
	out->v[6] = w_ret(w->mlockall(0));
	out->v[7] = map_errno(w->mmap(NULL, PG, RW, ANON | MAP_LOCKED, -1, 0));
	out->v[8] = map_errno(w->mmap(NULL, 0, RW, ANON | MAP_LOCKED, -1, 0));
	out->v[9] = w_ret(w->munlockall());
	out->v[10] = map_errno(w->mmap(NULL, PG, RW, ANON, -1, 0));
}

Test(mlock, no_limit_no_capability_is_eperm, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_no_right);
	struct outcome *v = w_run(&vme_world, scenario_no_right);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.v[0], -EPERM);
	cr_assert_eq(h.v[7], -EPERM);
	w_compare(&h, v, "no RLIMIT_MEMLOCK, no CAP_IPC_LOCK");
}

/* What a lock does to the pages: faulted in (not with ONFAULT), resident;
 * a PROT_NONE mapping or a page past end of file cannot be faulted in
 * (ENOMEM, locked all the same); what would take pages away is refused. */
static void scenario_effects(const struct world *w, struct outcome *out)
{
	char path[] = "/tmp/vmemu-mlock-XXXXXX";
	int fd = mkstemp(path);

	lock_limit(64 * PG);
	if (fd < 0 || ftruncate(fd, PG))
		_exit(2);
	unlink(path);
	char *a = w->mmap(NULL, 4 * PG, RW, ANON, -1, 0);
	char *o = w->mmap(NULL, 4 * PG, RW, ANON, -1, 0);
	char *l = w->mmap(NULL, 2 * PG, RW, ANON | MAP_LOCKED, -1, 0);
	char *n = w->mmap(NULL, 2 * PG, PROT_NONE, ANON, -1, 0);
	char *f = w->mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	if (a == MAP_FAILED || o == MAP_FAILED || l == MAP_FAILED || n == MAP_FAILED || f == MAP_FAILED)
		_exit(3);
	out->v[0] = w_ret(w->mlock(a, 3 * PG));
	out->v[1] = resident(w, a, 4);				/* 0b0111 */
	out->v[2] = w_ret(w->mlock2(o, 4 * PG, MLOCK_ONFAULT));
	o[PG] = 1;
	out->v[3] = resident(w, o, 4);				/* 0b0010 */
	out->v[4] = resident(w, l, 2);				/* MAP_LOCKED: 0b11 */
	out->v[5] = w_ret(w->mlock(n, 2 * PG));		/* ENOMEM */
	out->v[6] = w_ret(w->mlock(f, 2 * PG));		/* page 1 past EOF: ENOMEM */
	out->v[7] = w_ret(w->msync(a, PG, MS_INVALIDATE));	/* EBUSY */
	out->v[8] = w_ret(w->msync(a, PG, MS_SYNC));
	out->v[9] = w_ret(w->madvise(a, PG, MADV_DONTNEED));	/* EINVAL */
	out->v[10] = w_ret(w->madvise(a, PG, MADV_COLD)) * 1000 + w_ret(w->madvise(a, PG, MADV_PAGEOUT));
	out->v[11] = w_ret(w->madvise(a, PG, MADV_FREE)) * 1000 + w_ret(w->madvise(f, PG, MADV_REMOVE));
	a[5] = 5;
	out->v[12] = w_ret(w->madvise(a, PG, MADV_DONTNEED_LOCKED));
	out->v[13] = a[5];					/* zero-filled again */
	out->v[14] = w_ret(w->munlock(a, 4 * PG)) + w_ret(w->madvise(a, PG, MADV_DONTNEED));
	out->v[15] = w_ret(w->msync(f, PG, MS_INVALIDATE | MS_SYNC));	/* EBUSY */
}

Test(mlock, locked_pages_are_resident_and_stay, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_effects);
	struct outcome *v = w_run(&vme_world, scenario_effects);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.v[1], 7);
	cr_assert_eq(h.v[3], 2);
	cr_assert_eq(h.v[7], -EBUSY);
	w_compare(&h, v, "what a lock does");
}

/* A locked mapping grows locked (populated, within the limit); MCL_FUTURE
 * locks every new mapping and the heap's growth, MCL_ONFAULT without
 * faulting them in; munlockall ends it. */
static void scenario_future(const struct world *w, struct outcome *out)
{
	lock_limit(8 * PG);
	char *a = w->mmap(NULL, 2 * PG, RW, ANON | MAP_LOCKED, -1, 0);
	if (a == MAP_FAILED)
		_exit(2);
	void *g = w->mremap(a, 2 * PG, 16 * PG, MREMAP_MAYMOVE);
	out->v[0] = map_errno(g);				/* EAGAIN */
	g = w->mremap(a, 2 * PG, 4 * PG, MREMAP_MAYMOVE);
	out->v[1] = map_errno(g);
	if (g != MAP_FAILED)
		a = g;
	out->v[2] = resident(w, a, 4);				/* 0b1111 */
	out->v[3] = w_ret(w->mlockall(MCL_FUTURE));
	char *b = w->mmap(NULL, 2 * PG, RW, ANON, -1, 0);
	out->v[4] = map_errno(b);
	out->v[5] = b == MAP_FAILED ? -1 : resident(w, b, 2);	/* 0b11 */
	out->v[6] = map_errno(w->mmap(NULL, 4 * PG, RW, ANON, -1, 0));	/* 6 + 4 > 8: EAGAIN */
	out->v[7] = w_ret(w->mlockall(MCL_FUTURE | MCL_ONFAULT));
	char *c = w->mmap(NULL, 2 * PG, RW, ANON, -1, 0);
	out->v[8] = c == MAP_FAILED ? -errno : resident(w, c, 2);	/* 0b00 */
	out->v[9] = map_errno(w->mmap(NULL, PG, RW, ANON, -1, 0));	/* 9 > 8: EAGAIN */
	out->v[10] = w->sbrk(PG) == (void *)-1 ? -errno : 0;		/* the heap too: ENOMEM */
	out->v[11] = w_ret(w->munlockall());
	out->v[12] = map_errno(w->mmap(NULL, 4 * PG, RW, ANON, -1, 0));
	out->v[13] = w_ret(w->mlock(a, 4 * PG));		/* nothing is locked now */
}

Test(mlock, mcl_future_and_growth_stay_within_the_limit, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_future);
	struct outcome *v = w_run(&vme_world, scenario_future);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.v[0], -EAGAIN);
	cr_assert_eq(h.v[6], -EAGAIN);
	cr_assert_eq(h.v[8], 0);
	w_compare(&h, v, "MCL_FUTURE and locked growth");
}

/* A forked child inherits no lock: it may lock as much again, and the
 * parent's MCL_FUTURE does not apply to it. */
static void scenario_fork(const struct world *w, struct outcome *out)
{
	lock_limit(4 * PG);
	char *a = w->mmap(NULL, 4 * PG, RW, ANON, -1, 0);
	if (a == MAP_FAILED)
		_exit(2);
	out->v[0] = w_ret(w->mlock(a, 4 * PG));
	out->v[1] = w_ret(w->mlockall(MCL_FUTURE));
	out->v[2] = map_errno(w->mmap(NULL, PG, RW, ANON, -1, 0));	/* EAGAIN */
	pid_t pid = fork();
	if (pid == 0) {
		char *c = w->mmap(NULL, 4 * PG, RW, ANON, -1, 0);
		out->v[3] = map_errno(c);
		out->v[4] = c == MAP_FAILED ? -1 : resident(w, c, 4);	/* not locked: 0 */
		out->v[5] = w_ret(w->mlock(a, 4 * PG));
		_exit(0);
	}
	int status;
	out->v[6] = waitpid(pid, &status, 0) == pid ? status : -1;
	out->v[7] = map_errno(w->mmap(NULL, PG, RW, ANON, -1, 0));	/* still EAGAIN here */
}

Test(mlock, a_forked_child_inherits_no_lock, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_fork);
	struct outcome *v = w_run(&vme_world, scenario_fork);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.v[3], 0);
	cr_assert_eq(h.v[5], 0);
	w_compare(&h, v, "locks across fork");
}

/* Reclaim never takes a locked page: with a budget of 256 pages, 64 locked
 * private pages and 16 locked pages of a shared file stay mapped (no fault
 * when they are touched again) while 2,000 other pages go through. */
static void scenario_reclaim(const struct world *w, struct outcome *out)
{
	struct vme_config cfg = { .cache_mb = 1, .domain = "private" };
	int fd = pattern_file(64 * PG, 0);

	(void)w;
	if (vme_init(&cfg))
		_exit(2);
	volatile char *a = vme_mmap(NULL, 64 * PG, RW, ANON, -1, 0);
	volatile char *f = vme_mmap(NULL, 64 * PG, RW, MAP_SHARED, fd, 0);
	volatile char *big = vme_mmap(NULL, 2000 * PG, RW, ANON, -1, 0);
	if (a == MAP_FAILED || f == MAP_FAILED || big == MAP_FAILED)
		_exit(3);
	if (vme_mlock((void *)a, 64 * PG) || vme_mlock((void *)f, 16 * PG))
		_exit(4);
	for (int i = 0; i < 64; i++)
		a[i * PG] = (char)i;
	for (int i = 0; i < 16; i++)
		f[i * PG + 1] = (char)i;
	struct vme_stats before = w_stats();
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 2000; i++)
			big[i * PG] = (char)(i + round);
	for (int i = 16; i < 64; i++)	/* the unlocked part of f too */
		(void)f[i * PG];
	struct vme_stats mid = w_stats();
	long sum = 0;
	for (int i = 0; i < 64; i++)
		sum += a[i * PG];
	for (int i = 0; i < 16; i++)
		sum += f[i * PG + 1];
	struct vme_stats after = w_stats();
	out->v[0] = (long)(mid.pgdeactivate - before.pgdeactivate) > 0;	/* reclaim did run */
	out->v[1] = (long)(after.pgfault - mid.pgfault);		/* no fault on the locked */
	out->v[2] = sum;
	out->v[3] = (long)(after.nr_resident <= after.nr_budget);
}

Test(mlock, reclaim_leaves_locked_pages_alone, .timeout = 60)
{
	struct outcome *v = w_run(&vme_world, scenario_reclaim);

	cr_assert_eq(v->status, 0, "vmemu: %s", w_status(v->status));
	cr_assert_eq(v->v[0], 1, "no reclaim happened: the test proves nothing");
	cr_assert_eq(v->v[1], 0, "%ld faults on locked pages: reclaim took them", v->v[1]);
	cr_assert_eq(v->v[2], 64 * 63 / 2 + 16 * 15 / 2);
	cr_assert_eq(v->v[3], 1);
}
