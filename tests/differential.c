/*
 * differential.c - seeded random operation sequences, host vs vmemu.
 *
 * Two worlds run the same random sequence of operations:
 *   host:  mmap/munmap/mprotect/msync/madvise/mincore on temp file A,
 *   vmemu: vme_mmap/vme_munmap/... on temp file B (identical content).
 * Each world owns an arena of NPAGES pages, reserved PROT_NONE with its own
 * mmap; every mapping is placed inside it with MAP_FIXED (or
 * MAP_FIXED_NOREPLACE), so page i of one arena corresponds to page i of the
 * other.  Every return value and errno is compared, every byte read, whole
 * pages periodically, anonymous residency (mincore), and the files (pread)
 * after msync(MS_SYNC) and after unmapping everything.  Every 50
 * operations and at the end, vmemu's invariant walker (check_vm) must find
 * its own structures consistent.
 *
 * A per-page model of the host world (mapped, prot, kind, file page) decides
 * which accesses are legal; illegal ones (PROT_NONE, unmapped, writes to
 * read-only, pages past EOF of a file mapping) are skipped.  The model is
 * checked against /proc/self/maps, and re-read from it after calls that
 * fail part-way (mprotect, mmap).  The probe_seed_* tests additionally make
 * the refused accesses on purpose and compare the signals both worlds get.
 *
 * On a mismatch the report names the seed, the operation index, the
 * operation and the ones before it; DIFF_TRACE=1 logs every operation.
 */
#include <criterion/criterion.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>

#include "difftest.h"
#include "mm/debug.h"

#define NPAGES		64	/* arena size */
#define FILE_PAGES	40	/* file size; mappings reach up to page 56 */
#define MAX_FPAGE	44	/* highest file page offset used by mmap */
#define MAX_RUN		16	/* longest range (pages) of a random op */
#define NOPS		20000	/* operations per seed */
#define LOGN		12	/* recent operations shown on failure */

#define HOST_ARENA	((void *)0x200000000000UL)
#define VME_ARENA	((void *)0x210000000000UL)

enum kind { K_ANON_PRIV, K_ANON_SHARED, K_FILE_PRIV, K_FILE_SHARED, K_FILE_RO_SHARED, K_FILE_RO_PRIV, K__COUNT };
static const char *const kind_name[K__COUNT] = {
	"anon private", "anon shared", "file private", "file shared",
	"file(O_RDONLY) shared", "file(O_RDONLY) private",
};
#define IS_ANON(k) ((k) == K_ANON_PRIV || (k) == K_ANON_SHARED)
#define IS_SHARED_FILE(k) ((k) == K_FILE_SHARED || (k) == K_FILE_RO_SHARED)

struct page {
	unsigned char mapped;
	unsigned char prot;	/* PROT_READ | PROT_WRITE bits */
	unsigned char kind;
	short fpage;		/* file page for file kinds */
};

struct world {
	const struct dt_api *api;
	unsigned char *arena;
	int fd_rw, fd_ro;
	char path[64];
};

struct rv {
	long ret;	/* 0 / -1 (mmap: 0 success at the requested address, 1 elsewhere) */
	int err;
};

static struct sim {
	uint64_t seed;
	unsigned op;
	struct dt_rng rng;
	struct world w[2];	/* [0] host, [1] vmemu */
	struct page m[NPAGES];
	char desc[256];
	char log[LOGN][256];
	unsigned nlog;
	int trace;
	int probes;			/* also make accesses the host refuses */
	volatile sig_atomic_t armed;	/* a probe access is in progress */
	sigjmp_buf jb;
	int sig, code;			/* what the probe got */
	void *addr;
	unsigned char init[FILE_PAGES * 4096];
	unsigned char fbuf[2][FILE_PAGES * 4096 + 4096];
	unsigned char vec[2][NPAGES + MAX_RUN];
	char maps[1 << 18];
} S;

static size_t PG;

/* ---- reporting ------------------------------------------------------------- */

static void fail_at(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_at(int line, const char *fmt, ...)
{
	static char msg[1024], all[LOGN * 260 + 2048];
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	len = (size_t)snprintf(all, sizeof all, "seed %llu, op #%u [%s]: %s (differential.c:%d)\n  recent ops (oldest first):",
			       (unsigned long long)S.seed, S.op, S.desc, msg, line);
	for (unsigned i = S.nlog > LOGN ? S.nlog - LOGN : 0; i < S.nlog && len < sizeof all; i++)
		len += (size_t)snprintf(all + len, sizeof all - len, "\n    %s", S.log[i % LOGN]);
	cr_assert_fail("%s", all);
}
#define FAILF(...) fail_at(__LINE__, __VA_ARGS__)

static void describe(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void describe(const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(S.desc, sizeof S.desc, "#%u ", S.op);
	va_start(ap, fmt);
	vsnprintf(S.desc + n, sizeof S.desc - (size_t)n, fmt, ap);
	va_end(ap);
	memcpy(S.log[S.nlog++ % LOGN], S.desc, sizeof S.desc);
	if (S.trace)	/* DIFF_TRACE=1 in the environment: log every operation */
		fprintf(stderr, "[seed %llu] %s\n", (unsigned long long)S.seed, S.desc);
}

/* SIGSEGV/SIGBUS, registered with vme_sigaction.  During a probe access it
 * records the signal and jumps back; otherwise a signal means vmemu (or the
 * model) let a legal access fault: say which operation did it, then die. */
static void on_signal(int sig, siginfo_t *si, void *uc)
{
	static const char hdr[] = "\ndifferential: fatal signal during ";
	char num[16];
	int n = 0;

	(void)uc;
	if (S.armed) {
		S.armed = 0;
		S.sig = sig;
		S.code = si->si_code;
		S.addr = si->si_addr;
		siglongjmp(S.jb, 1);
	}
	num[n++] = ' ';
	num[n++] = 's';
	num[n++] = 'i';
	num[n++] = 'g';
	if (sig >= 10)
		num[n++] = (char)('0' + sig / 10);
	num[n++] = (char)('0' + sig % 10);
	num[n++] = '\n';
	if (write(2, hdr, sizeof hdr - 1) < 0 || write(2, S.desc, strnlen(S.desc, sizeof S.desc)) < 0 ||
	    write(2, num, (size_t)n) < 0)
		_exit(99);
	for (unsigned i = S.nlog > LOGN ? S.nlog - LOGN : 0; i < S.nlog; i++) {
		if (write(2, "    ", 4) < 0 || write(2, S.log[i % LOGN], strnlen(S.log[i % LOGN], 256)) < 0 ||
		    write(2, "\n", 1) < 0)
			break;
	}
	abort();
}

/* ", file page N" for file pages, "" for anonymous ones. */
static const char *fpage_str(int i)
{
	static char buf[4][24];
	static unsigned next;
	char *b = buf[next++ % 4];

	if (IS_ANON(S.m[i].kind))
		return "";
	snprintf(b, sizeof buf[0], ", file page %d", S.m[i].fpage);
	return b;
}

static const char *prot_name(int prot)
{
	static const char *const n[] = { "NONE", "R", "W", "RW" };

	return n[prot & 3];
}

static void cmp_rv(const char *what, struct rv h, struct rv v)
{
	if (h.ret != v.ret || (h.ret == -1 && h.err != v.err))
		FAILF("%s: host returned %ld (%s), vmemu returned %ld (%s)", what,
		      h.ret, h.ret == -1 ? dt_errname(h.err) : "ok",
		      v.ret, v.ret == -1 ? dt_errname(v.err) : (v.ret == 1 ? "wrong address" : "ok"));
}

/* ---- the model ---------------------------------------------------------------- */

static int readable(int i)
{
	const struct page *p = &S.m[i];

	if (!p->mapped || !(p->prot & (PROT_READ | PROT_WRITE)))
		return 0;
#if !defined(__x86_64__) && !defined(__i386__)
	if (!(p->prot & PROT_READ))	/* write-only is readable on x86 only */
		return 0;
#endif
	return IS_ANON(p->kind) || p->fpage < FILE_PAGES;
}

static int writable(int i)
{
	const struct page *p = &S.m[i];

	return p->mapped && (p->prot & PROT_WRITE) && (IS_ANON(p->kind) || p->fpage < FILE_PAGES);
}

static void model_reset(void)
{
	for (int i = 0; i < NPAGES; i++)
		S.m[i] = (struct page){ 1, PROT_NONE, K_ANON_PRIV, 0 };
}

/* Read /proc/self/maps; for each arena page report mapped and prot.  With
 * `resync` set, take prot from it (after a call that may have applied
 * part-way); always check that mapped-ness agrees with the model. */
static void model_check_maps(int resync)
{
	unsigned char mapped[NPAGES] = { 0 }, prot[NPAGES] = { 0 };
	uintptr_t a0 = (uintptr_t)S.w[0].arena, a1 = a0 + NPAGES * PG;
	size_t len = 0;
	int fd = open("/proc/self/maps", O_RDONLY);
	char *line;

	if (fd < 0)
		FAILF("open /proc/self/maps: %s", strerror(errno));
	for (;;) {
		ssize_t n = read(fd, S.maps + len, sizeof S.maps - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	S.maps[len] = 0;
	for (line = S.maps; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		unsigned long s, e;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &s, &e, perms) != 3)
			continue;
		if (e <= a0 || s >= a1)
			continue;
		for (uintptr_t a = s > a0 ? s : a0; a < e && a < a1; a += PG) {
			int i = (int)((a - a0) / PG);

			mapped[i] = 1;
			prot[i] = (unsigned char)((perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0));
		}
	}
	for (int i = 0; i < NPAGES; i++) {
		if (mapped[i] != S.m[i].mapped)
			FAILF("test model broken: host arena page %d is %smapped in /proc/self/maps, model says %smapped",
			      i, mapped[i] ? "" : "not ", S.m[i].mapped ? "" : "not ");
		if (resync)
			S.m[i].prot = prot[i];
		else if (mapped[i] && prot[i] != S.m[i].prot)
			FAILF("test model broken: host arena page %d has prot %s, model says %s", i,
			      prot_name(prot[i]), prot_name(S.m[i].prot));
	}
}

/* Before mapping over pages the model says are unmapped, make sure nobody
 * else (malloc, the library) put something in that host hole: MAP_FIXED
 * would destroy it. */
static void host_hole_check(int s, int n)
{
	unsigned char v;

	for (int i = s; i < s + n; i++) {
		if (S.m[i].mapped)
			continue;
		errno = 0;
		if (mincore(S.w[0].arena + (size_t)i * PG, PG, &v) != -1 || errno != ENOMEM)
			FAILF("environment: something was mapped into the host arena hole at page %d", i);
	}
}

/* ---- worlds ------------------------------------------------------------------- */

static void world_reserve(struct world *w, void *where)
{
	void *p = w->api->mmap(where, NPAGES * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED)	/* address taken (or NOREPLACE unsupported): anywhere will do */
		p = w->api->mmap(NULL, NPAGES * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		FAILF("%s: reserving the arena: %s", w->api->name, strerror(errno));
	w->arena = p;
}

static void world_init(struct world *w, const struct dt_api *api, void *where)
{
	w->api = api;
	w->fd_rw = dt_tmpfile(S.init, sizeof S.init, O_RDWR, w->path);
	w->fd_ro = open(w->path, O_RDONLY);
	cr_assert(w->fd_ro >= 0);
	world_reserve(w, where);
}

static void world_fini(struct world *w)
{
	close(w->fd_rw);
	close(w->fd_ro);
	unlink(w->path);
}

static struct rv rv_of(long ret)
{
	struct rv r = { ret, ret == -1 ? errno : 0 };

	return r;
}

/* ---- file comparisons --------------------------------------------------------- */

/* Compare the file pages selected by `only` (NULL: the whole file, and the
 * sizes) between file A and file B. */
static void compare_files(const char *when, const unsigned char *only)
{
	struct stat st[2];
	size_t n[2];

	for (int k = 0; k < 2; k++) {
		if (fstat(S.w[k].fd_rw, &st[k]) != 0)
			FAILF("fstat: %s", strerror(errno));
		n[k] = dt_pread_all(S.w[k].fd_rw, S.fbuf[k], sizeof S.fbuf[k]);
	}
	if (!only && (st[0].st_size != st[1].st_size || n[0] != n[1]))
		FAILF("%s: file sizes differ: host file %lld bytes, vmemu file %lld bytes", when,
		      (long long)st[0].st_size, (long long)st[1].st_size);
	for (size_t pg = 0; pg < FILE_PAGES; pg++) {
		const unsigned char *a = S.fbuf[0] + pg * PG, *b = S.fbuf[1] + pg * PG;

		if (only && !only[pg])
			continue;
		if (memcmp(a, b, PG)) {
			size_t i = 0;

			while (a[i] == b[i])
				i++;
			FAILF("%s: file contents differ at page %zu byte %zu: host file 0x%02x, vmemu file 0x%02x",
			      when, pg, i, a[i], b[i]);
		}
	}
}

/* Compare every page both worlds may read. */
static void compare_memory(const char *when)
{
	for (int i = 0; i < NPAGES; i++) {
		const unsigned char *a = S.w[0].arena + (size_t)i * PG, *b = S.w[1].arena + (size_t)i * PG;

		if (!readable(i) || !memcmp(a, b, PG))
			continue;
		for (size_t j = 0; j < PG; j++)
			if (a[j] != b[j])
				FAILF("%s: memory differs at arena page %d (%s, prot %s%s) byte %zu: host 0x%02x, vmemu 0x%02x",
				      when, i, kind_name[S.m[i].kind], prot_name(S.m[i].prot), fpage_str(i), j, a[j], b[j]);
	}
}

/* mincore over [s, s+n): same result; same residency for anonymous pages. */
static void op_mincore(int s, int n)
{
	struct rv r[2];

	for (int k = 0; k < 2; k++) {
		memset(S.vec[k], 0xee, sizeof S.vec[k]);
		errno = 0;
		r[k] = rv_of(S.w[k].api->mincore(S.w[k].arena + (size_t)s * PG, (size_t)n * PG, S.vec[k]));
	}
	cmp_rv("mincore", r[0], r[1]);
	if (r[0].ret != 0)
		return;
	for (int i = 0; i < n; i++)
		if (IS_ANON(S.m[s + i].kind) && (S.vec[0][i] & 1) != (S.vec[1][i] & 1))
			FAILF("mincore: arena page %d (%s, prot %s) resident: host %d, vmemu %d", s + i,
			      kind_name[S.m[s + i].kind], prot_name(S.m[s + i].prot), S.vec[0][i] & 1, S.vec[1][i] & 1);
}

static void checkpoint_msync(void)
{
	unsigned char shared[FILE_PAGES] = { 0 };
	struct rv r[2];

	describe("checkpoint: msync(arena, MS_SYNC), compare shared-mapped file pages, memory, mincore per page");
	for (int k = 0; k < 2; k++) {
		errno = 0;
		r[k] = rv_of(S.w[k].api->msync(S.w[k].arena, NPAGES * PG, MS_SYNC));
	}
	cmp_rv("msync(whole arena, MS_SYNC)", r[0], r[1]);
	/* After msync(MS_SYNC) every file page mapped shared must be on file. */
	for (int i = 0; i < NPAGES; i++)
		if (S.m[i].mapped && IS_SHARED_FILE(S.m[i].kind) && S.m[i].fpage < FILE_PAGES)
			shared[S.m[i].fpage] = 1;
	compare_files("after msync(MS_SYNC)", shared);
	compare_memory("checkpoint");
	model_check_maps(0);
	for (int i = 0; i < NPAGES; i++)
		op_mincore(i, 1);
}

static void checkpoint_unmap_all(const char *why)
{
	struct rv r[2];

	describe("checkpoint (%s): munmap(whole arena), compare files", why);
	for (int k = 0; k < 2; k++) {
		errno = 0;
		r[k] = rv_of(S.w[k].api->munmap(S.w[k].arena, NPAGES * PG));
	}
	cmp_rv("munmap(whole arena)", r[0], r[1]);
	compare_files("after unmapping everything", NULL);
}

/* ---- random operations ---------------------------------------------------------- */

static unsigned rnd(unsigned n)
{
	return dt_below(&S.rng, n);
}

static void rand_range(int *s, int *n)
{
	if (rnd(20) == 0) {
		*s = 0;
		*n = NPAGES;
		return;
	}
	*s = (int)rnd(NPAGES);
	*n = 1 + (int)rnd((unsigned)(NPAGES - *s < MAX_RUN ? NPAGES - *s : MAX_RUN));
}

static int rand_prot(void)
{
	static const int prots[] = {
		PROT_NONE, PROT_READ, PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
		PROT_READ | PROT_WRITE,
#if defined(__x86_64__) || defined(__i386__)
		PROT_WRITE,
#endif
	};

	return prots[rnd(sizeof prots / sizeof prots[0])];
}

static void op_mmap(void)
{
	int s, n, prot = rand_prot(), kind = (int)rnd(K__COUNT), fpage = 0, fd[2] = { -1, -1 };
	int flags = rnd(8) == 0 ? MAP_FIXED_NOREPLACE : MAP_FIXED;
	char fpn[32];
	struct rv r[2];

	rand_range(&s, &n);
	if (kind == K_FILE_RO_SHARED && (prot & PROT_WRITE) && rnd(4))
		prot &= ~PROT_WRITE;	/* mostly legal; sometimes EACCES */
	if (rnd(5) == 0)
		flags |= MAP_POPULATE;
	switch (kind) {
	case K_ANON_PRIV: flags |= MAP_PRIVATE | MAP_ANONYMOUS; break;
	case K_ANON_SHARED: flags |= MAP_SHARED | MAP_ANONYMOUS; break;
	case K_FILE_PRIV: flags |= MAP_PRIVATE; break;
	case K_FILE_SHARED: flags |= MAP_SHARED; break;
	case K_FILE_RO_SHARED: flags |= MAP_SHARED; break;
	case K_FILE_RO_PRIV: flags |= MAP_PRIVATE; break;
	}
	if (!IS_ANON(kind)) {
		fpage = (int)rnd(MAX_FPAGE + 1);
		for (int k = 0; k < 2; k++)
			fd[k] = kind == K_FILE_RO_SHARED || kind == K_FILE_RO_PRIV ? S.w[k].fd_ro : S.w[k].fd_rw;
	}
	snprintf(fpn, sizeof fpn, " file page %d", fpage);
	describe("mmap pages [%d,+%d) prot %s %s%s%s%s", s, n, prot_name(prot), kind_name[kind],
		 flags & MAP_FIXED_NOREPLACE ? " MAP_FIXED_NOREPLACE" : " MAP_FIXED",
		 flags & MAP_POPULATE ? " MAP_POPULATE" : "", IS_ANON(kind) ? "" : fpn);
	host_hole_check(s, n);
	for (int k = 0; k < 2; k++) {
		unsigned char *want = S.w[k].arena + (size_t)s * PG;
		void *p;

		errno = 0;
		p = S.w[k].api->mmap(want, (size_t)n * PG, prot, flags, fd[k], (off_t)fpage * (off_t)PG);
		r[k] = rv_of(p == MAP_FAILED ? -1 : p == want ? 0 : 1);
		if (r[k].ret == 1)
			FAILF("%s mmap returned %p, asked for %p", S.w[k].api->name, p, (void *)want);
	}
	cmp_rv("mmap", r[0], r[1]);
	if (r[0].ret == 0) {
		for (int i = 0; i < n; i++)
			S.m[s + i] = (struct page){ 1, (unsigned char)prot, (unsigned char)kind, (short)(fpage + i) };
	} else {
		model_check_maps(1);
	}
}

static void op_munmap(void)
{
	int s, n;
	struct rv r[2];

	rand_range(&s, &n);
	describe("munmap pages [%d,+%d)", s, n);
	for (int k = 0; k < 2; k++) {
		errno = 0;
		r[k] = rv_of(S.w[k].api->munmap(S.w[k].arena + (size_t)s * PG, (size_t)n * PG));
	}
	cmp_rv("munmap", r[0], r[1]);
	if (r[0].ret == 0)
		for (int i = s; i < s + n; i++)
			S.m[i].mapped = 0;
}

static void op_mprotect(void)
{
	int s, n, prot = rand_prot();
	struct rv r[2];

	rand_range(&s, &n);
	describe("mprotect pages [%d,+%d) %s", s, n, prot_name(prot));
	for (int k = 0; k < 2; k++) {
		errno = 0;
		r[k] = rv_of(S.w[k].api->mprotect(S.w[k].arena + (size_t)s * PG, (size_t)n * PG, prot));
	}
	cmp_rv("mprotect", r[0], r[1]);
	if (r[0].ret == 0) {
		for (int i = s; i < s + n; i++)
			S.m[i].prot = (unsigned char)prot;
	} else {
		/* Linux applies the change up to the hole / the refusing VMA:
		 * take the host's word for what happened.  vmemu's outcome is
		 * then checked by the accesses and page comparisons. */
		model_check_maps(1);
	}
}

static void op_msync(void)
{
	static const int fl[] = { MS_SYNC, MS_ASYNC, MS_INVALIDATE, MS_SYNC | MS_INVALIDATE, MS_ASYNC | MS_INVALIDATE, 0 };
	static const char *const fln[] = { "MS_SYNC", "MS_ASYNC", "MS_INVALIDATE", "MS_SYNC|MS_INVALIDATE",
					   "MS_ASYNC|MS_INVALIDATE", "0" };
	int s, n, f = (int)rnd(sizeof fl / sizeof fl[0]);
	struct rv r[2];

	rand_range(&s, &n);
	describe("msync pages [%d,+%d) %s", s, n, fln[f]);
	for (int k = 0; k < 2; k++) {
		errno = 0;
		r[k] = rv_of(S.w[k].api->msync(S.w[k].arena + (size_t)s * PG, (size_t)n * PG, fl[f]));
	}
	cmp_rv("msync", r[0], r[1]);
}

static void op_madvise(void)
{
	static const int adv[] = { MADV_DONTNEED, MADV_DONTNEED, MADV_DONTNEED, MADV_DONTNEED,
				   MADV_WILLNEED, MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL };
	static const char *const advn[] = { "MADV_DONTNEED", "MADV_DONTNEED", "MADV_DONTNEED", "MADV_DONTNEED",
					    "MADV_WILLNEED", "MADV_NORMAL", "MADV_RANDOM", "MADV_SEQUENTIAL" };
	int s, n, a = (int)rnd(sizeof adv / sizeof adv[0]);
	struct rv r[2];

	rand_range(&s, &n);
	describe("madvise pages [%d,+%d) %s", s, n, advn[a]);
	for (int k = 0; k < 2; k++) {
		errno = 0;
		r[k] = rv_of(S.w[k].api->madvise(S.w[k].arena + (size_t)s * PG, (size_t)n * PG, adv[a]));
	}
	cmp_rv("madvise", r[0], r[1]);
}

/* A random page satisfying `ok`, or -1. */
static int pick_page(int (*ok)(int))
{
	int cand[NPAGES], nc = 0;

	for (int i = 0; i < NPAGES; i++)
		if (ok(i))
			cand[nc++] = i;
	return nc ? cand[rnd((unsigned)nc)] : -1;
}

static void op_read(void)
{
	int i = pick_page(readable);
	size_t off;
	unsigned char a, b;

	if (i < 0)
		return;
	off = (size_t)i * PG + rnd((unsigned)PG);
	describe("read byte at page %d +%zu (%s, prot %s%s)", i, off % PG, kind_name[S.m[i].kind],
		 prot_name(S.m[i].prot), fpage_str(i));
	a = *(volatile unsigned char *)(S.w[0].arena + off);
	b = *(volatile unsigned char *)(S.w[1].arena + off);
	if (a != b)
		FAILF("read: host 0x%02x, vmemu 0x%02x", a, b);
}

static void op_write(void)
{
	int i = pick_page(writable);
	size_t off, len;
	unsigned char buf[64];

	if (i < 0)
		return;
	off = rnd((unsigned)PG);
	len = 1 + rnd(rnd(4) ? 1 : sizeof buf);
	if (off + len > PG)
		len = PG - off;
	for (size_t j = 0; j < len; j++)
		buf[j] = (unsigned char)dt_next(&S.rng);
	describe("write %zu bytes (0x%02x...) at page %d +%zu (%s, prot %s%s)", len, buf[0], i, off,
		 kind_name[S.m[i].kind], prot_name(S.m[i].prot), fpage_str(i));
	off += (size_t)i * PG;
	for (int k = 0; k < 2; k++) {
		volatile unsigned char *d = S.w[k].arena + off;

		for (size_t j = 0; j < len; j++)
			d[j] = buf[j];
	}
}

/* An access the host refuses (PROT_NONE, unmapped, write to read-only, page
 * past EOF of a file mapping): both worlds must deliver the same signal with
 * the same si_code at the same arena offset, and the access must not land. */
static int probe_read_ok(int i)
{
	return !readable(i);
}

static int probe_write_ok(int i)
{
	return !writable(i);
}

static void probe_one(int k, size_t off, int wr, unsigned char val, int res[3])
{
	volatile unsigned char *p = S.w[k].arena + off;

	S.sig = 0;
	S.code = 0;
	S.addr = NULL;
	if (sigsetjmp(S.jb, 1) == 0) {
		S.armed = 1;
		if (wr)
			*p = val;
		else
			(void)*p;
		S.armed = 0;
	}
	res[0] = S.sig;
	res[1] = S.code;
	res[2] = S.addr ? (int)((unsigned char *)S.addr - S.w[k].arena) : -1;
}

static void op_probe(void)
{
	int wr = (int)rnd(2), i = pick_page(wr ? probe_write_ok : probe_read_ok);
	unsigned char val = (unsigned char)dt_next(&S.rng);
	int r[2][3];
	size_t off;

	if (i < 0)
		return;
	off = (size_t)i * PG + rnd((unsigned)PG);
	describe("probe: %s page %d +%zu (%smapped, %s, prot %s%s), expecting a signal", wr ? "write" : "read", i,
		 off % PG, S.m[i].mapped ? "" : "un", kind_name[S.m[i].kind], prot_name(S.m[i].prot), fpage_str(i));
	for (int k = 0; k < 2; k++)
		probe_one(k, off, wr, val, r[k]);
	if (r[0][0] == 0)
		FAILF("test model broken: the host allowed the access");
	if (r[1][0] != r[0][0] || r[1][1] != r[0][1] || r[1][2] != r[0][2])
		FAILF("host got signal %d si_code %d at arena offset %d; vmemu got signal %d si_code %d at arena offset %d",
		      r[0][0], r[0][1], r[0][2], r[1][0], r[1][1], r[1][2]);
}

/* The invariant walker (src/mm/debug.c) finds vmemu's own structures
 * consistent: counts against what they count, PTEs against frames. */
static void check_invariants(void)
{
	struct vm_check c = { .report = true };

	if (check_vm(&c))
		FAILF("the invariant walker found %lu violations; the first: %s", c.errors, c.first);
}

static void run_seed(uint64_t seed, int probes)
{
	struct sigaction sa;

	memset(&S, 0, sizeof S);
	S.seed = seed;
	S.probes = probes;
	S.trace = getenv("DIFF_TRACE") != NULL;
	S.rng.s = seed * 0x2545f4914f6cdd1dULL + 1;
	PG = dt_pagesize();
	cr_assert(sizeof S.init == FILE_PAGES * PG, "this test is written for 4 KiB pages");
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);	/* deterministic host anon residency */

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	vme_sigaction(SIGSEGV, &sa, NULL);
	vme_sigaction(SIGBUS, &sa, NULL);

	for (size_t i = 0; i < sizeof S.init; i++)
		S.init[i] = (unsigned char)dt_next(&S.rng);
	describe("setup");
	world_init(&S.w[0], &dt_host, HOST_ARENA);
	world_init(&S.w[1], &dt_vme, VME_ARENA);
	model_reset();
	model_check_maps(0);

	for (S.op = 0; S.op < NOPS; S.op++) {
		unsigned x = rnd(100);

		if (x < 12)
			op_mmap();
		else if (x < 19)
			op_munmap();
		else if (x < 30)
			op_mprotect();
		else if (x < 35)
			op_msync();
		else if (x < 42)
			op_madvise();
		else if (x < 46) {
			int s, n;

			rand_range(&s, &n);
			describe("mincore pages [%d,+%d)", s, n);
			op_mincore(s, n);
		} else if (S.probes && x < 49)
			op_probe();
		else if (x < 70)
			op_read();
		else
			op_write();

		if (S.op % 50 == 49) {
			describe("compare all readable pages");
			compare_memory("periodic page comparison");
			check_invariants();
		}
		if (S.op % 200 == 199)
			checkpoint_msync();
		if (S.op % 600 == 599 && S.op + 1 < NOPS) {
			checkpoint_unmap_all("periodic");
			for (int k = 0; k < 2; k++) {
				unsigned char *old = S.w[k].arena;

				world_reserve(&S.w[k], old);
				if (S.w[k].arena != old)
					FAILF("%s: could not re-reserve the arena at %p", S.w[k].api->name, (void *)old);
			}
			model_reset();
		}
	}
	describe("final comparison");
	compare_memory("final");
	checkpoint_msync();
	checkpoint_unmap_all("final");
	check_invariants();
	world_fini(&S.w[0]);
	world_fini(&S.w[1]);
}

Test(differential, seed_1, .timeout = 60) { run_seed(1, 0); }
Test(differential, seed_2, .timeout = 60) { run_seed(2, 0); }
Test(differential, seed_3, .timeout = 60) { run_seed(3, 0); }
Test(differential, seed_4, .timeout = 60) { run_seed(4, 0); }
Test(differential, seed_5, .timeout = 60) { run_seed(0xdeadbeef, 0); }
Test(differential, seed_6, .timeout = 60) { run_seed(20240611, 0); }

/* The same, plus accesses the host refuses: vmemu must deliver the same
 * SIGSEGV/SIGBUS (signal, si_code, address) to the handler registered with
 * vme_sigaction, for its own mappings and for the host arena alike, and
 * survive the handler leaving with siglongjmp. */
Test(differential, probe_seed_1, .timeout = 60) { run_seed(101, 1); }
Test(differential, probe_seed_2, .timeout = 60) { run_seed(202, 1); }
