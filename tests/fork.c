/*
 * fork.c - what a forked child sees of each kind of mapping, both ways.
 *
 * Most tests are differential: the same scenario runs once with the host's
 * mmap family and once with vmemu's, and what the two processes observed
 * (a bitmask, one bit per page or check) must match, and match Linux's
 * documented behaviour:
 *
 *   MAP_SHARED file, MAP_SHARED|MAP_ANONYMOUS   shared with the parent, both
 *                                               ways, pages touched or not
 *   MAP_PRIVATE file, MAP_PRIVATE|MAP_ANONYMOUS private copies, both ways
 *
 * Each scenario uses pages in four states at fork time: present and clean,
 * present and dirty (written), and two never touched by the parent (one of
 * which the child touches first).  Children report through their exit code
 * and never call Criterion.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <vmemu.h>

#include "host/host.h"
#include "testutil.h"

#define RW (PROT_READ | PROT_WRITE)
#define NP 4	/* pages per scenario mapping */

struct world {
	const char *name;
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	int (*munmap)(void *, size_t);
	int (*mprotect)(void *, size_t, int);
	int (*msync)(void *, size_t, int);
};

static const struct world host_world = { "host", mmap, munmap, mprotect, msync };
static const struct world vme_world = { "vmemu", vme_mmap, vme_munmap, vme_mprotect, vme_msync };

enum kind { FILE_SHARED, ANON_SHARED, FILE_PRIVATE, ANON_PRIVATE };
static const char *const kind_name[] = { "file shared", "anon shared", "file private", "anon private" };

static int kind_flags(enum kind k)
{
	switch (k) {
	case FILE_SHARED: return MAP_SHARED;
	case ANON_SHARED: return MAP_SHARED | MAP_ANONYMOUS;
	case FILE_PRIVATE: return MAP_PRIVATE;
	default: return MAP_PRIVATE | MAP_ANONYMOUS;
	}
}

static bool kind_is_file(enum kind k)
{
	return k == FILE_SHARED || k == FILE_PRIVATE;
}

/* The byte a fresh mapping shows at offset i. */
static unsigned char initial(enum kind k, size_t i)
{
	return kind_is_file(k) ? pattern_byte(i) : 0;
}

/* --- parent/child plumbing ------------------------------------------------ */

struct kid {
	pid_t pid;
	int to_child[2], to_parent[2];
};

/* fork with two pipes; returns 0 in the child. */
static pid_t kid_fork(struct kid *k)
{
	cr_assert_eq(pipe(k->to_child), 0);
	cr_assert_eq(pipe(k->to_parent), 0);
	k->pid = fork();
	cr_assert_geq(k->pid, 0, "fork");
	if (k->pid == 0) {
		close(k->to_child[1]);
		close(k->to_parent[0]);
	} else {
		close(k->to_child[0]);
		close(k->to_parent[1]);
	}
	return k->pid;
}

static void post(int fd)
{
	char c = 1;
	while (write(fd, &c, 1) < 0 && errno == EINTR)
		;
}

/* Returns false if the other side went away. */
static bool await(int fd)
{
	char c;
	ssize_t n;
	while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
		;
	return n == 1;
}

/* The child's exit code, or 1000 + signal, or -1 for a child that did not
 * end within timeout_s seconds (it is killed). */
static int reap_within(pid_t pid, int timeout_s)
{
	struct timespec t0, now, nap = { 0, 1000000 };
	int status;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		cr_assert_eq(r, 0, "waitpid: %s", strerror(errno));
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= timeout_s) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		nanosleep(&nap, NULL);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return WIFSIGNALED(status) ? 1000 + WTERMSIG(status) : 2000;
}

static int reap(struct kid *k)
{
	close(k->to_child[1]);
	close(k->to_parent[0]);
	return reap_within(k->pid, 20);
}

/* A scenario mapping: NP pages of kind k; for files, *fdp gets the file. */
static volatile unsigned char *map_kind(const struct world *w, enum kind k, int *fdp)
{
	int fd = -1;
	if (kind_is_file(k))
		fd = pattern_file(NP * PG, 0);
	volatile unsigned char *p = w->mmap(NULL, NP * PG, RW, kind_flags(k), fd, 0);
	cr_assert_neq((void *)p, MAP_FAILED, "%s: mmap %s: %s", w->name, kind_name[k], strerror(errno));
	*fdp = fd;
	return p;
}

/* Page states at fork: 0 present clean, 1 present dirty, 2 and 3 untouched
 * by the parent. */
static void prepare_pages(volatile unsigned char *p, enum kind k)
{
	cr_assert_eq(p[0 * PG + 9], initial(k, 0 * PG + 9));
	p[1 * PG + 9] = 0x5d;
}

/* --- the child writes, the parent looks --------------------------------- */

#define CHILD_BYTE(i) ((unsigned char)(0xc0 + (i)))
#define PARENT_BYTE(i) ((unsigned char)(0xa0 + (i)))

/* Bit i: the parent sees the child's write to page i.  Bit 4 + i: after the
 * parent's msync, the file holds it.  Bit 8: the child itself saw its write. */
static unsigned child_writes(const struct world *w, enum kind k)
{
	int fd;
	volatile unsigned char *p = map_kind(w, k, &fd);
	struct kid kid;
	unsigned seen = 0;

	prepare_pages(p, k);
	if (kid_fork(&kid) == 0) {
		bool ok = true;
		for (size_t i = 0; i < NP; i++) {
			p[i * PG + 1] = CHILD_BYTE(i);
			ok &= p[i * PG + 1] == CHILD_BYTE(i);
		}
		_exit(ok ? 0 : 1);
	}
	int code = reap(&kid);
	cr_assert_eq(code, 0, "%s %s: child ended with %d", w->name, kind_name[k], code);
	seen |= 1u << 8;
	for (size_t i = 0; i < NP; i++)
		if (p[i * PG + 1] == CHILD_BYTE(i))
			seen |= 1u << i;
	if (fd >= 0) {
		cr_assert_eq(w->msync((void *)p, NP * PG, MS_SYNC), 0);
		unsigned char *f = file_bytes(fd, 0, NP * PG);
		for (size_t i = 0; i < NP; i++)
			if (f[i * PG + 1] == CHILD_BYTE(i))
				seen |= 1u << (4 + i);
		free(f);
	}
	/* The parent's own pre-fork write survives either way. */
	cr_assert_eq(p[1 * PG + 9], 0x5d, "%s %s: parent's own write", w->name, kind_name[k]);
	return seen;
}

static void check_child_writes(enum kind k, unsigned want)
{
	unsigned h = child_writes(&host_world, k);
	unsigned v = child_writes(&vme_world, k);
	cr_assert_eq(h, want, "host %s: saw %#x, expected %#x (test assumption wrong)", kind_name[k], h, want);
	cr_assert_eq(v, h, "vmemu %s: saw %#x, host saw %#x", kind_name[k], v, h);
}

Test(fork, file_shared_child_writes_reach_parent_and_file_after_msync, .timeout = 30)
{
	check_child_writes(FILE_SHARED, 0x100 | 0xf | 0xf0);
}

Test(fork, anon_shared_child_writes_reach_parent, .timeout = 30)
{
	check_child_writes(ANON_SHARED, 0x100 | 0xf);
}

Test(fork, file_private_child_writes_stay_in_child, .timeout = 30)
{
	check_child_writes(FILE_PRIVATE, 0x100);
}

Test(fork, anon_private_child_writes_stay_in_child, .timeout = 30)
{
	check_child_writes(ANON_PRIVATE, 0x100);
}

/* --- the parent writes after fork, the child looks ---------------------- */

/* The child first reads page 2 (present in the child only); the parent then
 * writes every page; bit i: the child saw the parent's write to page i.
 * Bit 4 + i: the child still saw the pre-fork contents of page i (for a
 * private copy).  Bit 8: the file is unchanged after the parent's msync. */
static unsigned parent_writes(const struct world *w, enum kind k)
{
	int fd;
	volatile unsigned char *p = map_kind(w, k, &fd);
	struct kid kid;

	prepare_pages(p, k);
	if (kid_fork(&kid) == 0) {
		unsigned seen = 0;
		if (p[2 * PG + 1] != initial(k, 2 * PG + 1))
			_exit(255);
		post(kid.to_parent[1]);
		if (!await(kid.to_child[0]))
			_exit(254);
		for (size_t i = 0; i < NP; i++) {
			unsigned char before = initial(k, i * PG + 1);
			unsigned char b = p[i * PG + 1];
			if (b == PARENT_BYTE(i))
				seen |= 1u << i;
			else if (b == before)
				seen |= 1u << (4 + i);
		}
		if (p[1 * PG + 9] != 0x5d)	/* the pre-fork write is inherited */
			_exit(253);
		_exit((int)seen);
	}
	cr_assert(await(kid.to_parent[0]), "%s %s: child died before the writes", w->name, kind_name[k]);
	for (size_t i = 0; i < NP; i++)
		p[i * PG + 1] = PARENT_BYTE(i);
	post(kid.to_child[1]);
	int code = reap(&kid);
	cr_assert(code >= 0 && code < 253, "%s %s: child ended with %d", w->name, kind_name[k], code);
	unsigned seen = (unsigned)code;
	if (fd >= 0) {
		cr_assert_eq(w->msync((void *)p, NP * PG, MS_SYNC), 0);
		unsigned char *f = file_bytes(fd, 0, NP * PG);
		bool unchanged = true;
		for (size_t i = 0; i < NP; i++)
			unchanged &= f[i * PG + 1] == pattern_byte(i * PG + 1);
		free(f);
		if (unchanged)
			seen |= 1u << 8;
	}
	return seen;
}

static void check_parent_writes(enum kind k, unsigned want)
{
	unsigned h = parent_writes(&host_world, k);
	unsigned v = parent_writes(&vme_world, k);
	cr_assert_eq(h, want, "host %s: saw %#x, expected %#x (test assumption wrong)", kind_name[k], h, want);
	cr_assert_eq(v, h, "vmemu %s: saw %#x, host saw %#x", kind_name[k], v, h);
}

Test(fork, file_shared_parent_writes_after_fork_seen_by_child, .timeout = 30)
{
	check_parent_writes(FILE_SHARED, 0xf);
}

Test(fork, anon_shared_parent_writes_after_fork_seen_by_child, .timeout = 30)
{
	check_parent_writes(ANON_SHARED, 0xf);
}

Test(fork, file_private_parent_writes_after_fork_not_seen_by_child, .timeout = 30)
{
	check_parent_writes(FILE_PRIVATE, 0x100 | 0xf0);
}

Test(fork, anon_private_parent_writes_after_fork_not_seen_by_child, .timeout = 30)
{
	check_parent_writes(ANON_PRIVATE, 0xf0);
}

/* A private file page the child has not copied is still the page cache's:
 * a write the parent makes through a shared mapping of the file shows
 * through (Linux's MAP_PRIVATE semantics), until the child writes to it.
 * Bit 0: page 0 (read by the child before) shows it; bit 1: page 1
 * (untouched by the child) shows it; bit 2: page 2 (copied by the child's
 * write before) does not. */
static unsigned private_sees_shared(const struct world *w)
{
	int fd = pattern_file(NP * PG, 0);
	volatile unsigned char *priv = w->mmap(NULL, NP * PG, RW, MAP_PRIVATE, fd, 0);
	volatile unsigned char *shr = w->mmap(NULL, NP * PG, RW, MAP_SHARED, fd, 0);
	struct kid kid;

	cr_assert_neq((void *)priv, MAP_FAILED);
	cr_assert_neq((void *)shr, MAP_FAILED);
	if (kid_fork(&kid) == 0) {
		unsigned seen = 0;
		(void)priv[0];
		priv[2 * PG] = 0x11;
		post(kid.to_parent[1]);
		if (!await(kid.to_child[0]))
			_exit(254);
		if (priv[3] == 0x77)
			seen |= 1;
		if (priv[PG + 3] == 0x77)
			seen |= 2;
		if (priv[2 * PG + 3] == pattern_byte(2 * PG + 3))
			seen |= 4;
		_exit((int)seen);
	}
	cr_assert(await(kid.to_parent[0]));
	shr[3] = shr[PG + 3] = shr[2 * PG + 3] = 0x77;
	post(kid.to_child[1]);
	int code = reap(&kid);
	cr_assert(code >= 0 && code < 254, "%s: child ended with %d", w->name, code);
	return (unsigned)code;
}

Test(fork, file_private_uncopied_pages_show_parents_shared_writes, .timeout = 30)
{
	unsigned h = private_sees_shared(&host_world), v = private_sees_shared(&vme_world);
	cr_assert_eq(h, 7, "host saw %#x (test assumption wrong)", h);
	cr_assert_eq(v, h, "vmemu saw %#x, host %#x", v, h);
}

/* --- the child keeps working -------------------------------------------- */

/* In the child: fault new pages of inherited mappings of every kind, map
 * new memory of every kind, write, mprotect, unmap.  The exit code is the
 * number of the first step that went wrong. */
static int child_keeps_working(const struct world *w, volatile unsigned char **inh, const int *fd)
{
	for (int k = 0; k < 4; k++) {
		/* pages 2 and 3 were never touched by the parent */
		if (inh[k][3 * PG + 5] != initial((enum kind)k, 3 * PG + 5))
			return 10 + k;
		inh[k][2 * PG + 5] = 0x21;
		if (inh[k][2 * PG + 5] != 0x21)
			return 20 + k;
	}
	for (int k = 0; k < 4; k++) {
		int mfd = kind_is_file((enum kind)k) ? fd[k] : -1;
		volatile unsigned char *n = w->mmap(NULL, 8 * PG, RW, kind_flags((enum kind)k), mfd, 0);
		if ((void *)n == MAP_FAILED)
			return 30 + k;
		for (size_t i = 0; i < 8; i++) {
			if (n[i * PG + 7] != initial((enum kind)k, i * PG + 7))
				return 40 + k;
			n[i * PG + 7] = (unsigned char)i;
		}
		if (w->mprotect((void *)n, 4 * PG, PROT_READ))
			return 50 + k;
		if (n[7] != 0)
			return 60 + k;
		if (w->munmap((void *)(n + 4 * PG), 4 * PG))
			return 70 + k;
		if (w->mprotect((void *)n, 4 * PG, RW))
			return 80 + k;
		n[PG + 7] = 0x99;
		if (w->munmap((void *)n, 4 * PG))
			return 90 + k;
	}
	for (int k = 0; k < 4; k++)
		if (w->munmap((void *)inh[k], NP * PG))
			return 100 + k;
	return 0;
}

static int keeps_working(const struct world *w)
{
	int fd[4] = { pattern_file(8 * PG, 0), -1, pattern_file(8 * PG, 0), -1 };	/* new maps */
	volatile unsigned char *inh[4];
	int fds[4];

	for (int k = 0; k < 4; k++) {
		inh[k] = map_kind(w, (enum kind)k, &fds[k]);
		prepare_pages(inh[k], (enum kind)k);
	}
	struct kid kid;
	if (kid_fork(&kid) == 0)
		exit(child_keeps_working(w, inh, fd));
	int code = reap(&kid);
	/* The child's munmaps left the parent's mappings alone. */
	for (int k = 0; k < 4; k++) {
		cr_assert_eq(inh[k][1 * PG + 9], 0x5d, "%s %s: parent's page", w->name, kind_name[k]);
		cr_assert_eq(inh[k][0 * PG + 9], initial((enum kind)k, 9));
	}
	return code;
}

Test(fork, child_faults_maps_mprotects_unmaps_and_exits_cleanly, .timeout = 30)
{
	int h = keeps_working(&host_world), v = keeps_working(&vme_world);
	cr_assert_eq(h, 0, "host child failed at step %d (test assumption wrong)", h);
	cr_assert_eq(v, 0, "vmemu child failed at step %d", v);
}

/* A child unmaps everything it inherited; the parent's shared data (and its
 * dirty state) is untouched: the child's last reference is not the object's. */
static unsigned child_unmap_then_parent(const struct world *w, bool shutdown)
{
	volatile unsigned char *inh[4];
	int fds[4];
	unsigned ok = 0;

	for (int k = 0; k < 4; k++) {
		inh[k] = map_kind(w, (enum kind)k, &fds[k]);
		prepare_pages(inh[k], (enum kind)k);
	}
	struct kid kid;
	if (kid_fork(&kid) == 0) {
		for (int k = 0; k < 4; k++)
			inh[k][2 * PG] = 0x31;	/* a child-only page of every kind */
		if (shutdown)
			_exit(vme_shutdown() ? 1 : 0);
		for (int k = 0; k < 4; k++)
			if (w->munmap((void *)inh[k], NP * PG))
				_exit(2);
		_exit(0);
	}
	int code = reap(&kid);
	cr_assert_eq(code, 0, "%s: child ended with %d", w->name, code);
	for (int k = 0; k < 4; k++) {
		bool good = inh[k][1 * PG + 9] == 0x5d && inh[k][9] == initial((enum kind)k, 9) &&
			    inh[k][3 * PG + 9] == initial((enum kind)k, 3 * PG + 9);
		bool shared = k == FILE_SHARED || k == ANON_SHARED;
		good &= inh[k][2 * PG] == (shared ? 0x31 : initial((enum kind)k, 2 * PG));
		if (good)
			ok |= 1u << k;
	}
	inh[FILE_SHARED][3 * PG] = 0x41;
	cr_assert_eq(w->msync((void *)inh[FILE_SHARED], NP * PG, MS_SYNC), 0);
	unsigned char *f = file_bytes(fds[FILE_SHARED], 0, NP * PG);
	if (f[1 * PG + 9] == 0x5d && f[2 * PG] == 0x31 && f[3 * PG] == 0x41)
		ok |= 1u << 4;
	free(f);
	return ok;
}

Test(fork, child_munmap_leaves_parents_objects_and_dirty_pages, .timeout = 30)
{
	unsigned h = child_unmap_then_parent(&host_world, false);
	unsigned v = child_unmap_then_parent(&vme_world, false);
	cr_assert_eq(h, 0x1f, "host: %#x (test assumption wrong)", h);
	cr_assert_eq(v, h, "vmemu: %#x (bit k: kind k intact in the parent; bit 4: file written back)", v);
}

Test(fork, child_vme_shutdown_leaves_parents_mappings, .timeout = 30)
{
	unsigned v = child_unmap_then_parent(&vme_world, true);
	cr_assert_eq(v, 0x1f, "vmemu: %#x (bit k: kind k intact in the parent; bit 4: file written back)", v);
}

/* The child's mprotect(PROT_READ) is enforced in the child, and only there. */
static int child_mprotect_enforced(const struct world *w)
{
	int fd;
	volatile unsigned char *p = map_kind(w, FILE_SHARED, &fd);
	prepare_pages(p, FILE_SHARED);
	struct kid kid;
	if (kid_fork(&kid) == 0) {
		if (w->mprotect((void *)p, NP * PG, PROT_READ))
			_exit(1);
		p[1 * PG + 9] = 1;	/* present, dirty, now read-only */
		_exit(0);
	}
	int code = reap(&kid);
	p[1 * PG + 9] = 2;	/* still writable in the parent */
	cr_assert_eq(p[1 * PG + 9], 2);
	return code;
}

Test(fork, child_mprotect_is_enforced_in_the_child_only, .timeout = 30)
{
	int h = child_mprotect_enforced(&host_world), v = child_mprotect_enforced(&vme_world);
	cr_assert_eq(h, 1000 + SIGSEGV, "host: %d", h);
	cr_assert_eq(v, h, "vmemu child ended with %d", v);
}

/* --- exit(3) in the child writes back ------------------------------------ */

/* The child dirties shared pages (present clean, present dirty, untouched in
 * the parent) and calls exit(3): read(2) in the parent finds the bytes with
 * no msync anywhere.  Bit i: page i's byte reached the file. */
static unsigned child_exit_writes_back(const struct world *w, bool mapped_in_child)
{
	int fd = pattern_file(NP * PG, 0);
	volatile unsigned char *p = NULL;
	if (!mapped_in_child) {
		p = w->mmap(NULL, NP * PG, RW, MAP_SHARED, fd, 0);
		cr_assert_neq((void *)p, MAP_FAILED);
		prepare_pages(p, FILE_SHARED);
	}
	struct kid kid;
	if (kid_fork(&kid) == 0) {
		if (mapped_in_child && (void *)(p = w->mmap(NULL, NP * PG, RW, MAP_SHARED, fd, 0)) == MAP_FAILED)
			_exit(2);
		for (size_t i = 0; i < NP; i++)
			p[i * PG + 2] = CHILD_BYTE(i);
		exit(3);
	}
	int code = reap(&kid);
	cr_assert_eq(code, 3, "%s: child ended with %d", w->name, code);
	unsigned char *f = file_bytes(fd, 0, NP * PG);
	unsigned seen = 0;
	for (size_t i = 0; i < NP; i++)
		if (f[i * PG + 2] == CHILD_BYTE(i))
			seen |= 1u << i;
	free(f);
	return seen;
}

Test(fork, child_exit_writes_back_inherited_shared_pages, .timeout = 30)
{
	unsigned h = child_exit_writes_back(&host_world, false);
	unsigned v = child_exit_writes_back(&vme_world, false);
	cr_assert_eq(h, 0xf, "host: %#x", h);
	cr_assert_eq(v, h, "vmemu: %#x (bit i: page i reached the file)", v);
}

Test(fork, child_exit_writes_back_its_own_shared_mapping, .timeout = 30)
{
	unsigned h = child_exit_writes_back(&host_world, true);
	unsigned v = child_exit_writes_back(&vme_world, true);
	cr_assert_eq(h, 0xf, "host: %#x", h);
	cr_assert_eq(v, h, "vmemu: %#x (bit i: page i reached the file)", v);
}

/* --- fork while another thread faults ------------------------------------- */

#define SPIN_PAGES 256

static volatile unsigned char *spin_anon, *spin_file;
static volatile bool spin_stop;
static volatile unsigned long spin_rounds;

/* Touch every page of two mappings, drop them, again: a fault all the time. */
static void *spinner(void *arg)
{
	(void)arg;
	while (!spin_stop) {
		for (size_t i = 0; i < SPIN_PAGES && !spin_stop; i++) {
			spin_anon[i * PG] = (unsigned char)i;
			spin_file[i * PG + 1] = (unsigned char)i;
		}
		vme_madvise((void *)spin_anon, SPIN_PAGES * PG, MADV_DONTNEED);
		vme_madvise((void *)spin_file, SPIN_PAGES * PG, MADV_DONTNEED);
		__atomic_fetch_add(&spin_rounds, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

Test(fork, fork_while_another_thread_faults_does_not_deadlock_child, .timeout = 60)
{
	int fd = pattern_file(SPIN_PAGES * PG, 0);
	spin_anon = vme_mmap(NULL, SPIN_PAGES * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	spin_file = vme_mmap(NULL, SPIN_PAGES * PG, RW, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)spin_anon, MAP_FAILED);
	cr_assert_neq((void *)spin_file, MAP_FAILED);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, spinner, NULL), 0);
	while (!__atomic_load_n(&spin_rounds, __ATOMIC_RELAXED))
		sched_yield();
	int bad = 0, first_bad = 0;
	for (int n = 0; n < 40; n++) {
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			/* Only this thread exists here; the emulator must be usable. */
			int err = 0;
			for (size_t i = 0; i < SPIN_PAGES; i += 17) {
				spin_anon[i * PG + 3] = 7;
				if (spin_file[i * PG + 4] != pattern_byte(i * PG + 4))
					err = 1;
			}
			volatile unsigned char *m = vme_mmap(NULL, 4 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if ((void *)m == MAP_FAILED)
				_exit(2);
			m[PG] = 1;
			if (vme_munmap((void *)m, 4 * PG))
				_exit(3);
			exit(err);	/* exit(3): the write-back at exit takes mmap_lock too */
		}
		int code = reap_within(pid, 10);
		if (code != 0 && !bad++)
			first_bad = code;
	}
	spin_stop = true;
	pthread_join(t, NULL);
	cr_assert_eq(bad, 0, "%d of 40 children failed; first: %d (-1 = hung, killed)", bad, first_bad);
}

/* --- write-back after the other process cleaned the page ------------------ */

/* A page dirty in both processes' eyes: one of them writes it back (msync
 * cleans it), then the other, whose page was already writable, stores
 * again.  Linux write-protects the page in every process that maps it
 * (page_mkclean walks the rmap), so that store re-dirties it and the next
 * msync writes it.  Bit 0: the second store reached the file. */
static unsigned store_after_other_cleaned(const struct world *w, bool child_cleans)
{
	int fd = pattern_file(NP * PG, 0);
	volatile unsigned char *p = w->mmap(NULL, NP * PG, RW, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	p[PG + 5] = 0x01;	/* dirty and writable in the parent, and so in the child */
	struct kid kid;
	if (kid_fork(&kid) == 0) {
		if (child_cleans)
			_exit(w->msync((void *)p, NP * PG, MS_SYNC) ? 1 : 0);
		p[PG + 6] = 0x02;	/* the child's own store: writable already */
		post(kid.to_parent[1]);
		if (!await(kid.to_child[0]))	/* the parent has cleaned it */
			_exit(254);
		p[PG + 7] = 0x03;	/* must re-dirty the page */
		_exit(0);		/* no write-back of its own */
	}
	if (child_cleans) {
		cr_assert_eq(reap(&kid), 0);
		p[PG + 7] = 0x03;	/* the parent's store after the child's msync */
	} else {
		cr_assert(await(kid.to_parent[0]));
		cr_assert_eq(w->msync((void *)p, NP * PG, MS_SYNC), 0);
		post(kid.to_child[1]);
		cr_assert_eq(reap(&kid), 0);
	}
	cr_assert_eq(w->msync((void *)p, NP * PG, MS_SYNC), 0);
	unsigned char *f = file_bytes(fd, PG, PG);
	unsigned seen = f[7] == 0x03 ? 1 : 0;
	cr_assert_eq(f[5], 0x01, "%s: the first store", w->name);
	free(f);
	return seen;
}

Test(fork, parent_store_after_child_msync_is_written_back, .timeout = 30)
{
	unsigned h = store_after_other_cleaned(&host_world, true);
	unsigned v = store_after_other_cleaned(&vme_world, true);
	cr_assert_eq(h, 1, "host");
	cr_assert_eq(v, h, "vmemu: the parent's store after the child's msync never reached the file");
}

Test(fork, child_store_after_parent_msync_is_written_back, .timeout = 30)
{
	unsigned h = store_after_other_cleaned(&host_world, false);
	unsigned v = store_after_other_cleaned(&vme_world, false);
	cr_assert_eq(h, 1, "host");
	cr_assert_eq(v, h, "vmemu: the child's store after the parent's msync never reached the file");
}

/* The parent unmaps everything after fork (its last references): the child
 * still sees every byte, its own and the parent's.  Bit k: kind k intact. */
static unsigned parent_unmaps_child_keeps(const struct world *w)
{
	volatile unsigned char *inh[4];
	int fds[4];

	for (int k = 0; k < 4; k++) {
		inh[k] = map_kind(w, (enum kind)k, &fds[k]);
		prepare_pages(inh[k], (enum kind)k);
	}
	struct kid kid;
	if (kid_fork(&kid) == 0) {
		for (int k = 0; k < 4; k++)
			inh[k][2 * PG] = 0x31;
		post(kid.to_parent[1]);
		if (!await(kid.to_child[0]))
			_exit(254);
		unsigned ok = 0;
		for (int k = 0; k < 4; k++)
			if (inh[k][1 * PG + 9] == 0x5d && inh[k][2 * PG] == 0x31 &&
			    inh[k][9] == initial((enum kind)k, 9) &&
			    inh[k][3 * PG + 9] == initial((enum kind)k, 3 * PG + 9))
				ok |= 1u << k;
		_exit((int)ok);
	}
	cr_assert(await(kid.to_parent[0]));
	for (int k = 0; k < 4; k++)
		cr_assert_eq(w->munmap((void *)inh[k], NP * PG), 0);
	post(kid.to_child[1]);
	int code = reap(&kid);
	cr_assert(code >= 0 && code < 254, "%s: child ended with %d", w->name, code);
	return (unsigned)code;
}

Test(fork, parent_munmap_leaves_childs_view, .timeout = 30)
{
	unsigned h = parent_unmaps_child_keeps(&host_world), v = parent_unmaps_child_keeps(&vme_world);
	cr_assert_eq(h, 0xf, "host: %#x", h);
	cr_assert_eq(v, h, "vmemu: %#x (bit k: kind k intact in the child)", v);
}

/* --- fork while another thread's fill is in the middle of its splice --------
 * A fill splices the file into vmemu's pipe, then the pipe into the segment.
 * A fork while the pipe holds a fill's bytes must neither hand the child
 * that pipe (its next fill would drain the parent's bytes, or the parent
 * the child's) nor cut the parent's fill short.  The splice into the
 * segment is held until the main thread is inside fork: fork waits for the
 * fault (mmap_lock), and the child's fills go through a pipe of its own. */
static volatile int fs_in_pipe, fs_forking;
static __thread int fs_filler;

static ssize_t fs_splice(int in, off_t *off_in, int out, off_t *off_out, size_t len, unsigned int flags)
{
	if (fs_filler && !off_in && !fs_in_pipe) {
		struct timespec ms = { 0, 1000000 };
		__atomic_store_n(&fs_in_pipe, 1, __ATOMIC_RELEASE);	/* the file's bytes are in the pipe */
		while (!__atomic_load_n(&fs_forking, __ATOMIC_ACQUIRE))
			nanosleep(&ms, NULL);
		nanosleep(&(struct timespec){ 0, 50000000 }, NULL);	/* fork is waiting now */
	}
	return splice(in, off_in, out, off_out, len, flags);
}

static void *fs_fill(void *arg)
{
	fs_filler = 1;
	return (void *)(uintptr_t)*(volatile unsigned char *)arg;
}

/* The pipes in this process's table, by inode. */
static int pipe_inodes(unsigned long *ino, int max)
{
	char path[300], link[64];
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	while (d && (e = readdir(d)) && n < max) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		ssize_t r = readlink(path, link, sizeof(link) - 1);
		if (r > 0 && (link[r] = 0, sscanf(link, "pipe:[%lu]", &ino[n]) == 1))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

Test(fork, a_fork_during_a_fills_splice_waits_for_it_and_the_child_gets_its_own_pipe, .timeout = 30)
{
	int fd = pattern_file(256 * PG, O_RDONLY);
	const volatile unsigned char *p = vme_mmap(NULL, 256 * PG, PROT_READ, MAP_SHARED, fd, 0);
	unsigned long before[64], inherited[64];
	pthread_t t;
	void *first;

	cr_assert_neq((void *)p, MAP_FAILED);
	int nbefore = pipe_inodes(before, 64);
	host_sys.splice = fs_splice;
	cr_assert_eq(pthread_create(&t, NULL, fs_fill, (void *)(p + 100 * PG)), 0);
	while (!__atomic_load_n(&fs_in_pipe, __ATOMIC_ACQUIRE))
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	int ninherited = pipe_inodes(inherited, 64);
	cr_assert_eq(ninherited, nbefore + 2, "the fill made one pipe");
	__atomic_store_n(&fs_forking, 1, __ATOMIC_RELEASE);
	pid_t pid = fork();
	if (pid == 0) {
		unsigned long mine[64];
		for (size_t pg = 0; pg < 256; pg += 7)	/* fills of its own, wherever */
			for (size_t i = 0; i < PG; i += 1024)
				if (p[pg * PG + i] != pattern_byte(pg * PG + i))
					_exit(1);
		int n = pipe_inodes(mine, 64);
		for (int i = 0; i < n; i++) {
			bool parents = false;	/* the parent's fill pipe */
			for (int j = 0; j < ninherited; j++)
				parents |= mine[i] == inherited[j];
			for (int j = 0; j < nbefore; j++)
				parents &= mine[i] != before[j];
			if (parents)
				_exit(2);
		}
		_exit(0);
	}
	cr_assert_gt(pid, 0);
	pthread_join(t, &first);
	cr_assert_eq((uintptr_t)first, pattern_byte(100 * PG));
	for (size_t pg = 96; pg < 112; pg++)
		for (size_t i = 0; i < PG; i += 512)
			cr_assert_eq(p[pg * PG + i], pattern_byte(pg * PG + i), "page %zu byte %zu", pg, i);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st), "the child died: status %#x", st);
	cr_assert_eq(WEXITSTATUS(st), 0, "the child read wrong bytes (1) or used the parent's pipe (2)");
	host_sys_reset();
}
