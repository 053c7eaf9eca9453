/*
 * fuzz_ops.c - libFuzzer target: operation sequences decoded from the input,
 * run on the host kernel and on vmemu side by side.
 *
 * Two worlds, as in tests/differential.c:
 *   host:  mmap/munmap/mprotect/msync/madvise/mincore/mremap on file A,
 *          pread/pwrite through a second open of it,
 *   vmemu: the vme_ calls on file B, made identical to A before each input.
 * Each file is opened three times: read-write (mkstemp), read-only, and
 * read-write again; shared and private mappings take either read-write
 * descriptor, and pread/pwrite use the third, so one page cache must serve
 * them all.  Its size is not a multiple of the page size for most inputs:
 * its last page holds bytes past end of file, which stores through a
 * mapping reach and the file never does.
 * Each world owns an arena of NPAGES pages (reserved PROT_NONE at a fixed
 * address); every mapping is made inside it with MAP_FIXED or
 * MAP_FIXED_NOREPLACE, so page i of one arena corresponds to page i of the
 * other.  Return values and errno are compared after every call; bytes are
 * compared on reads, on "compare" operations and at the end of the input;
 * the files after msync(MS_SYNC) of the arena and after unmapping it.  At
 * the end of each input vmemu's invariant walker (check_vm) must find its
 * own structures consistent, before and after the unmap.
 *
 * A per-page model of the host world (mapped, prot, kind, backing object and
 * page in it) decides which accesses are legal.  Probe operations make
 * accesses the model says are illegal, on purpose, and compare the signal,
 * si_code and address both worlds deliver.  After a call that fails (and may
 * have been applied part-way) the model takes mapped-ness and protection
 * from /proc/self/maps; at the end of each input it is checked against it.
 *
 * Inputs are independent: at the end of each one both arenas are unmapped;
 * at the start of the next both files are truncated and rewritten (to a
 * size derived from the input) and the arenas reserved again.
 *
 * Bytes past end of file in the last page are compared too, until the two
 * worlds may disagree on them for a reason Linux allows: a store there
 * through MAP_SHARED stays in the cached page until the page is written
 * back, when ext4 zeroes it; Linux writes back at msync(MS_SYNC) or when
 * its flusher runs (seconds later), vmemu also at munmap and mremap.  Once
 * such a write-back may have happened in one world only, the tail is left
 * out of the comparisons for the rest of the input.
 *
 * On a mismatch the target prints the operations of the input and abort()s,
 * so that libFuzzer saves the input.  FUZZ_TRACE=1 logs every operation.
 *
 * vmemu owns SIGSEGV: run with -handle_segv=0 -handle_bus=0 (libFuzzer) and
 * ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:allow_user_segv_handler=1.
 * LLVMFuzzerInitialize appends the libFuzzer flags and __asan_default_options
 * gives the ASan ones, so the binary also works when run by hand.
 *
 * The input format (every byte read past the end of the input is 0):
 *   op   := opcode-byte arguments...  (opcode-byte % 32 indexes op_table)
 *   range:= a b   a == 0xff: the whole arena; else pages [a % NPAGES, +n),
 *                 n = 1 + (b & 31) % room; b >> 5 == 6: length shortened by
 *                 a few bytes (the call rounds it up); b >> 5 == 7: zero
 *                 length (b odd) or a misaligned address (b even)
 *   mmap    range prot kind+flags file-page
 *   munmap  range
 *   mprotect range prot
 *   msync   range flags
 *   madvise range advice
 *   mremap  old-page old-pages new-page new-pages mode
 *   mincore range
 *   read    page-selector off-hi off-lo
 *   write   page-selector off-hi off-lo len value
 *   probe   write?+page-selector off-hi off-lo
 *   compare (no arguments)
 *   punch   page-selector pages     munmap 1 or 2 pages inside a mapping
 *   pread   file-page off-hi off-lo len
 *   pwrite  file-page off-hi off-lo len value   (never past end of file)
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmemu.h"
#include "mm/debug.h"	/* check_vm: the invariant walker */

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

#define PG		4096UL
#define NPAGES		32	/* arena size */
#define FILE_PAGES	20	/* file size */
#define MAX_FPAGE	24	/* highest file page offset mmap uses */
#define MAX_RUN		12	/* longest range (pages) of an operation */
#define MAX_OPS		80	/* operations per input */
#define LOGN		(MAX_OPS + 16)

#define HOST_ARENA	((unsigned char *)0x200000000000UL)
#define VME_ARENA	((unsigned char *)0x210000000000UL)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum kind { K_ANON_PRIV, K_ANON_SHARED, K_FILE_PRIV, K_FILE_SHARED, K_FILE_RO_SHARED, K_FILE_RO_PRIV, K__COUNT };
static const char *const kind_name[K__COUNT] = {
	"anon-private", "anon-shared", "file-private", "file-shared", "file(RO)-shared", "file(RO)-private",
};
#define IS_ANON(k) ((k) == K_ANON_PRIV || (k) == K_ANON_SHARED)
#define IS_SHARED_FILE(k) ((k) == K_FILE_SHARED || (k) == K_FILE_RO_SHARED)

struct page {
	uint8_t mapped;
	uint8_t prot;		/* PROT_READ | PROT_WRITE bits */
	uint8_t kind;
	uint8_t obj;		/* anon-shared: which object */
	int16_t off;		/* page in the file or the object */
};

struct api {
	const char *name;
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	int (*munmap)(void *, size_t);
	int (*mprotect)(void *, size_t, int);
	int (*msync)(void *, size_t, int);
	int (*madvise)(void *, size_t, int);
	int (*mincore)(void *, size_t, unsigned char *);
	void *(*mremap)(void *, size_t, size_t, int, ...);
	ssize_t (*pread)(int, void *, size_t, off_t);
	ssize_t (*pwrite)(int, const void *, size_t, off_t);
	int (*ftruncate)(int, off_t);
};

/* The raw system call: glibc's stub passes an undefined fifth argument
 * without MREMAP_FIXED (see docs/limitations.md). */
static void *host_mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL;

	if (flags & MREMAP_FIXED) {
		va_list ap;

		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
}

static const struct api host_api = {
	"host", mmap, munmap, mprotect, msync, madvise, mincore, host_mremap, pread, pwrite, ftruncate,
};
static const struct api vme_api = {
	"vmemu", vme_mmap, vme_munmap, vme_mprotect, vme_msync, vme_madvise, vme_mincore, vme_mremap,
	vme_pread, vme_pwrite, vme_ftruncate,
};

struct world {
	const struct api *api;
	unsigned char *arena;
	int fd_rw, fd_ro, fd_rw2;	/* one file opened three times */
};

struct rv {
	long ret;	/* 0 or -1; mmap/mremap: 0 at the expected address, 1 elsewhere */
	int err;
};

static struct {
	struct world w[2];	/* [0] host, [1] vmemu */
	struct page m[NPAGES];
	uint8_t objsize[MAX_OPS + 2];	/* anon-shared object sizes, pages */
	unsigned nobj;
	const uint8_t *in;
	size_t inlen, inpos;
	unsigned op;
	char desc[200];
	char log[LOGN][200];
	unsigned nlog;
	int trace;
	int mremap_multi;	/* FUZZ_MREMAP_MULTI: also move ranges of several VMAs */
	unsigned long long inputs, ops;	/* made so far, for the summary at exit */
	size_t fsize;		/* the files' size in this input */
	int tail_stored;	/* a store reached the EOF page's tail through MAP_SHARED */
	int tail_diverged;	/* ... and a write-back may have zeroed it in one world only */
	volatile sig_atomic_t armed;	/* a probe access is in progress */
	sigjmp_buf jb;
	int sig, code;
	void *addr;
	unsigned char init[FILE_PAGES * PG];
	unsigned char fbuf[2][FILE_PAGES * PG + PG];
	unsigned char iobuf[2][PG];
	unsigned char vec[2][NPAGES + 1];
	char maps[1 << 18];
} S;

/* ---- reporting ---------------------------------------------------------------- */

static void print_log(void)
{
	fprintf(stderr, "fuzz_ops: operations of this input (input #%llu):\n", S.inputs);
	for (unsigned i = S.nlog > LOGN ? S.nlog - LOGN : 0; i < S.nlog; i++)
		fprintf(stderr, "    %s\n", S.log[i % LOGN]);
}

static void fail_at(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void fail_at(int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\nfuzz_ops: MISMATCH at [%s]: ", S.desc);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (fuzz_ops.c:%d)\n", line);
	print_log();
	abort();
}
#define FAILF(...) fail_at(__LINE__, __VA_ARGS__)

static void describe(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void describe(const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(S.desc, sizeof S.desc, "#%u ", S.op);

	va_start(ap, fmt);
	vsnprintf(S.desc + n, sizeof S.desc - (size_t)n, fmt, ap);
	va_end(ap);
	memcpy(S.log[S.nlog++ % LOGN], S.desc, sizeof S.desc);
	if (S.trace)
		fprintf(stderr, "[input %llu] %s\n", S.inputs, S.desc);
}

static const char *errname(int e)
{
	static char buf[4][24];
	static unsigned next;

	switch (e) {
	case 0: return "0";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EEXIST: return "EEXIST";
	case EFAULT: return "EFAULT";
	case EPERM: return "EPERM";
	case EBUSY: return "EBUSY";
	case EAGAIN: return "EAGAIN";
	case EIO: return "EIO";
	case ENODEV: return "ENODEV";
	case EBADF: return "EBADF";
	case EOVERFLOW: return "EOVERFLOW";
	default:
		snprintf(buf[next % 4], sizeof buf[0], "errno %d", e);
		return buf[next++ % 4];
	}
}

static const char *prot_name(int prot)
{
	static const char *const n[] = { "NONE", "R", "W", "RW" };

	return n[prot & 3];
}

static void cmp_rv(const char *what, struct rv h, struct rv v)
{
	if (h.ret != v.ret || (h.ret == -1 && h.err != v.err))
		FAILF("%s: host returned %s (%s), vmemu returned %s (%s)", what,
		      h.ret == -1 ? "-1" : h.ret ? "another address" : "ok", h.ret == -1 ? errname(h.err) : "-",
		      v.ret == -1 ? "-1" : v.ret ? "another address" : "ok", v.ret == -1 ? errname(v.err) : "-");
}

static struct rv rv_of(long ret)
{
	return (struct rv){ ret, ret == -1 ? errno : 0 };
}

/* SIGSEGV and SIGBUS, registered with vme_sigaction.  During a probe it
 * records the signal and jumps back; otherwise a legal access faulted. */
static void on_signal(int sig, siginfo_t *si, void *uc)
{
	static const char msg[] = "\nfuzz_ops: MISMATCH: fatal signal on an access the model allows, during: ";

	(void)uc;
	if (S.armed) {
		S.armed = 0;
		S.sig = sig;
		S.code = si->si_code;
		S.addr = si->si_addr;
		siglongjmp(S.jb, 1);
	}
	if (write(2, msg, sizeof msg - 1) < 0 || write(2, S.desc, strnlen(S.desc, sizeof S.desc)) < 0 ||
	    write(2, "\n", 1) < 0)
		_exit(99);
	for (unsigned i = S.nlog > LOGN ? S.nlog - LOGN : 0; i < S.nlog; i++)
		if (write(2, "    ", 4) < 0 || write(2, S.log[i % LOGN], strnlen(S.log[i % LOGN], 200)) < 0 ||
		    write(2, "\n", 1) < 0)
			break;
	abort();
}

/* ---- input -------------------------------------------------------------------- */

static uint8_t next(void)
{
	return S.inpos < S.inlen ? S.in[S.inpos++] : 0;
}

static unsigned next16(void)
{
	unsigned hi = next();

	return hi << 8 | next();
}

/* ---- the model ------------------------------------------------------------------ */

static int in_object(int i)
{
	const struct page *p = &S.m[i];

	if (p->kind == K_ANON_PRIV)
		return 1;
	if (p->kind == K_ANON_SHARED)
		return p->off < S.objsize[p->obj];
	return p->off < FILE_PAGES;
}

/* The file's last page, and where end of file falls in it (PG: no tail). */
#define EOF_PAGE	(FILE_PAGES - 1)
static size_t eof_in_page(void)
{
	return S.fsize - (size_t)EOF_PAGE * PG;
}

/* Is byte off of arena page i past end of file in the file's last page? */
static int in_eof_tail(int i, size_t off)
{
	const struct page *p = &S.m[i];

	return p->mapped && !IS_ANON(p->kind) && p->off == EOF_PAGE && off >= eof_in_page();
}

/* Is that byte one the two worlds may disagree on (see the top)? */
static int tail_unknown(int i, size_t off)
{
	return S.tail_diverged && in_eof_tail(i, off);
}

/* Before a call that removes or replaces the mappings of arena pages
 * [s, s + n): vmemu writes back a dirty shared page it unmaps, Linux does
 * not, so a tail stored to may now differ. */
static void note_writeback(int s, int n)
{
	for (int i = s < 0 ? 0 : s; i < s + n && i < NPAGES; i++)
		if (S.tail_stored && S.m[i].mapped && IS_SHARED_FILE(S.m[i].kind) && S.m[i].off == EOF_PAGE)
			S.tail_diverged = 1;
}

static int readable(int i)
{
	const struct page *p = &S.m[i];

	/* write-only is readable on x86 */
	return p->mapped && (p->prot & (PROT_READ | PROT_WRITE)) && in_object(i);
}

static int writable(int i)
{
	const struct page *p = &S.m[i];

	return p->mapped && (p->prot & PROT_WRITE) && in_object(i);
}

static int not_readable(int i) { return !readable(i); }
static int is_mapped(int i) { return S.m[i].mapped; }
static int not_writable(int i) { return !writable(i); }

static const char *page_str(int i)
{
	static char buf[4][80];
	static unsigned next_buf;
	char *b = buf[next_buf++ % 4];
	const struct page *p = &S.m[i];

	if (!p->mapped)
		snprintf(b, sizeof buf[0], "unmapped");
	else if (p->kind == K_ANON_PRIV)
		snprintf(b, sizeof buf[0], "%s %s", kind_name[p->kind], prot_name(p->prot));
	else if (p->kind == K_ANON_SHARED)
		snprintf(b, sizeof buf[0], "%s %s obj %d page %d/%d", kind_name[p->kind], prot_name(p->prot), p->obj,
			 p->off, S.objsize[p->obj]);
	else
		snprintf(b, sizeof buf[0], "%s %s file page %d", kind_name[p->kind], prot_name(p->prot), p->off);
	return b;
}

static void model_reset(void)
{
	for (int i = 0; i < NPAGES; i++)
		S.m[i] = (struct page){ 1, PROT_NONE, K_ANON_PRIV, 0, 0 };
	S.nobj = 0;
}

/* Compare mapped-ness (and, unless resync, protection) of the host arena
 * with /proc/self/maps.  With resync, take protection and unmapped pages
 * from it: a call that failed may have been applied part-way. */
static void model_check_maps(int resync)
{
	unsigned char mapped[NPAGES] = { 0 }, prot[NPAGES] = { 0 };
	uintptr_t a0 = (uintptr_t)S.w[0].arena, a1 = a0 + NPAGES * PG;
	size_t len = 0;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	char *line;

	if (fd < 0)
		FAILF("environment: open /proc/self/maps: %s", strerror(errno));
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

		if (sscanf(line, "%lx-%lx %7s", &s, &e, perms) != 3 || e <= a0 || s >= a1)
			continue;
		for (uintptr_t a = s > a0 ? s : a0; a < e && a < a1; a += PG) {
			int i = (int)((a - a0) / PG);

			mapped[i] = 1;
			prot[i] = (unsigned char)((perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0));
		}
	}
	for (int i = 0; i < NPAGES; i++) {
		if (mapped[i] && !S.m[i].mapped)
			FAILF("test model broken: host arena page %d is mapped in /proc/self/maps, model says unmapped", i);
		if (!mapped[i] && S.m[i].mapped) {
			if (!resync)
				FAILF("test model broken: host arena page %d is not mapped, model says %s", i, page_str(i));
			S.m[i].mapped = 0;
		}
		if (resync)
			S.m[i].prot = prot[i];
		else if (mapped[i] && prot[i] != S.m[i].prot)
			FAILF("test model broken: host arena page %d has prot %s, model says %s", i, prot_name(prot[i]),
			      page_str(i));
	}
}

/* Is the host arena free where the model says it is unmapped?  Something
 * else (the allocator, the library) may have put a mapping in a hole, and
 * MAP_FIXED would destroy it: the caller then skips the operation. */
static int host_holes_free(int s, int n)
{
	unsigned char v;

	for (int i = s; i < s + n && i < NPAGES; i++) {
		if (S.m[i].mapped)
			continue;
		errno = 0;
		if (mincore(S.w[0].arena + (size_t)i * PG, PG, &v) != -1 || errno != ENOMEM)
			return 0;
	}
	return 1;
}

/* ---- worlds and files ------------------------------------------------------------- */

static void reserve_arena(struct world *w, unsigned char *where)
{
	void *p = w->api->mmap(where, NPAGES * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p != where) {
		fprintf(stderr, "fuzz_ops: %s: cannot reserve the arena at %p: %s\n", w->api->name, (void *)where,
			p == MAP_FAILED ? strerror(errno) : "placed elsewhere");
		abort();
	}
	w->arena = p;
}

static void write_all(const struct world *w, int fd, const unsigned char *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = w->api->pwrite(fd, buf + done, len - done, (off_t)done);

		if (n <= 0) {
			fprintf(stderr, "fuzz_ops: pwrite: %s\n", strerror(errno));
			abort();
		}
		done += (size_t)n;
	}
}

static size_t read_all(int fd, unsigned char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)done);

		if (n < 0)
			FAILF("pread: %s", strerror(errno));
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return done;
}

static void world_open(struct world *w, const struct api *api)
{
	char path[] = "/tmp/vmemu-fuzz-XXXXXX";

	w->api = api;
	w->fd_rw = mkstemp(path);
	if (w->fd_rw < 0 || (w->fd_ro = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    (w->fd_rw2 = open(path, O_RDWR | O_CLOEXEC)) < 0) {
		fprintf(stderr, "fuzz_ops: temporary file %s: %s\n", path, strerror(errno));
		abort();
	}
	unlink(path);
}

/* The start of every input: both files as S.init, S.fsize bytes of it,
 * both arenas reserved.  Each world rewrites its file with its own calls:
 * a change made outside vmemu reaches what it has cached only when it
 * revalidates (docs/limitations.md), and pread may come before any mmap. */
static void input_setup(void)
{
	for (int k = 0; k < 2; k++) {
		if (S.w[k].api->ftruncate(S.w[k].fd_rw, 0) != 0) {
			fprintf(stderr, "fuzz_ops: ftruncate: %s\n", strerror(errno));
			abort();
		}
		write_all(&S.w[k], S.w[k].fd_rw, S.init, S.fsize);
	}
	reserve_arena(&S.w[0], HOST_ARENA);
	reserve_arena(&S.w[1], VME_ARENA);
	model_reset();
	S.tail_stored = S.tail_diverged = 0;
}

/* Compare the file pages selected by `only` (NULL: the whole files and their sizes). */
static void compare_files(const char *when, const unsigned char *only)
{
	size_t n[2];

	memset(S.fbuf, 0, sizeof S.fbuf);
	for (int k = 0; k < 2; k++)
		n[k] = read_all(S.w[k].fd_rw, S.fbuf[k], sizeof S.fbuf[k]);
	if (!only && n[0] != n[1])
		FAILF("%s: file sizes differ: host %zu bytes, vmemu %zu bytes", when, n[0], n[1]);
	for (size_t pg = 0; pg < FILE_PAGES; pg++) {
		const unsigned char *a = S.fbuf[0] + pg * PG, *b = S.fbuf[1] + pg * PG;
		size_t i = 0;

		if ((only && !only[pg]) || !memcmp(a, b, PG))
			continue;
		while (a[i] == b[i])
			i++;
		FAILF("%s: files differ at page %zu byte %zu: host 0x%02x, vmemu 0x%02x", when, pg, i, a[i], b[i]);
	}
}

/* Compare every page both worlds may read. */
static void compare_memory(const char *when)
{
	for (int i = 0; i < NPAGES; i++) {
		const volatile unsigned char *a = S.w[0].arena + (size_t)i * PG, *b = S.w[1].arena + (size_t)i * PG;

		if (!readable(i))
			continue;
		for (size_t j = 0; j < PG; j++)
			if (a[j] != b[j] && !tail_unknown(i, j))
				FAILF("%s: memory differs at arena page %d (%s) byte %zu: host 0x%02x, vmemu 0x%02x", when,
				      i, page_str(i), j, a[j], b[j]);
	}
}

/* ---- operations ---------------------------------------------------------------- */

struct range {
	int s, n;		/* pages the call covers once its length is rounded */
	size_t off, len;	/* what is passed: arena offset and length */
	const char *shape;
};

static struct range get_range(void)
{
	uint8_t a = next(), b = next();
	struct range r = { 0, NPAGES, 0, 0, "" };

	if (a != 0xff) {
		int room = NPAGES - a % NPAGES;

		r.s = a % NPAGES;
		r.n = 1 + (b & 31) % (room < MAX_RUN ? room : MAX_RUN);
	}
	r.off = (size_t)r.s * PG;
	r.len = (size_t)r.n * PG;
	if (b >> 5 == 6) {
		r.len -= 1 + (size_t)(b & 7) * 500;
		r.shape = " (length not page-aligned)";
	} else if (b >> 5 == 7 && (b & 1)) {
		r.len = 0;
		r.n = 0;
		r.shape = " (length 0)";
	} else if (b >> 5 == 7) {
		r.off += 1 + (size_t)(b & 0x1e) * 16;
		r.shape = " (address not page-aligned)";
	}
	return r;
}

static int range_aligned(const struct range *r)
{
	return r->off % PG == 0;
}

static int pick_prot(uint8_t b)
{
	static const int prots[] = {
		PROT_NONE, PROT_READ, PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
		PROT_READ | PROT_WRITE, PROT_WRITE, PROT_READ | PROT_WRITE,
	};

	return prots[b % 8];
}

static void op_mmap(void)
{
	struct range r = get_range();
	int prot = pick_prot(next()), kb = next(), fb = next();
	int kind = kb % K__COUNT, flags = (kb >> 3) % 8 == 0 ? MAP_FIXED_NOREPLACE : MAP_FIXED;
	int fpage = fb % (MAX_FPAGE + 1), fd[2] = { -1, -1 };
	off_t foff = 0;
	struct rv rv[2];

	if (kb >> 6 == 3)
		flags |= MAP_POPULATE;
	flags |= kind == K_ANON_PRIV || kind == K_FILE_PRIV || kind == K_FILE_RO_PRIV ? MAP_PRIVATE : MAP_SHARED;
	if (IS_ANON(kind)) {
		flags |= MAP_ANONYMOUS;
	} else {
		foff = (off_t)fpage * (off_t)PG + (fb >= 0xfc ? 512 : 0);
		for (int k = 0; k < 2; k++)	/* the read-write ones: either open of the file */
			fd[k] = kind == K_FILE_RO_SHARED || kind == K_FILE_RO_PRIV ? S.w[k].fd_ro
				: fb & 0x80 ? S.w[k].fd_rw2 : S.w[k].fd_rw;
	}
	describe("mmap [%d,+%d)%s prot %s %s%s%s offset %lld%s", r.s, r.n, r.shape, prot_name(prot), kind_name[kind],
		 flags & MAP_FIXED_NOREPLACE ? " MAP_FIXED_NOREPLACE" : " MAP_FIXED",
		 flags & MAP_POPULATE ? " MAP_POPULATE" : "", (long long)foff,
		 !IS_ANON(kind) && fd[0] == S.w[0].fd_rw2 ? " (second open)" : "");
	if (!host_holes_free(r.s, r.n)) {
		describe("(skipped: something else is mapped in a hole of the host arena)");
		return;
	}
	if (!(flags & MAP_FIXED_NOREPLACE))
		note_writeback(r.s, r.n);
	for (int k = 0; k < 2; k++) {
		unsigned char *want = S.w[k].arena + r.off;
		void *p;

		errno = 0;
		p = S.w[k].api->mmap(want, r.len, prot, flags, fd[k], foff);
		rv[k] = rv_of(p == MAP_FAILED ? -1 : p == want ? 0 : 1);
		if (rv[k].ret == 1)	/* outside the arena: nothing to compare it with */
			FAILF("%s mmap returned %p, not the MAP_FIXED address %p", S.w[k].api->name, p, (void *)want);
	}
	cmp_rv("mmap", rv[0], rv[1]);
	if (rv[0].ret == 0 && range_aligned(&r)) {
		int obj = 0;

		if (kind == K_ANON_SHARED) {
			obj = (int)S.nobj++;
			S.objsize[obj] = (uint8_t)r.n;
		}
		for (int i = 0; i < r.n; i++)
			S.m[r.s + i] = (struct page){ 1, (uint8_t)prot, (uint8_t)kind, (uint8_t)obj,
						      (int16_t)(IS_ANON(kind) ? i : fpage + i) };
	} else if (rv[0].ret != 0) {
		model_check_maps(1);
	}
}

static void op_munmap(void)
{
	struct range r = get_range();
	struct rv rv[2];

	describe("munmap [%d,+%d)%s", r.s, r.n, r.shape);
	note_writeback(r.s, r.n);
	for (int k = 0; k < 2; k++) {
		errno = 0;
		rv[k] = rv_of(S.w[k].api->munmap(S.w[k].arena + r.off, r.len));
	}
	cmp_rv("munmap", rv[0], rv[1]);
	if (rv[0].ret == 0 && range_aligned(&r))
		for (int i = r.s; i < r.s + r.n; i++)
			S.m[i].mapped = 0;
}

static void op_mprotect(void)
{
	struct range r = get_range();
	int prot = pick_prot(next());
	struct rv rv[2];

	describe("mprotect [%d,+%d)%s %s", r.s, r.n, r.shape, prot_name(prot));
	for (int k = 0; k < 2; k++) {
		errno = 0;
		rv[k] = rv_of(S.w[k].api->mprotect(S.w[k].arena + r.off, r.len, prot));
	}
	cmp_rv("mprotect", rv[0], rv[1]);
	if (rv[0].ret == 0 && range_aligned(&r))
		for (int i = r.s; i < r.s + r.n; i++)
			S.m[i].prot = (uint8_t)prot;
	else if (rv[0].ret != 0)
		model_check_maps(1);	/* Linux applies it up to the hole or the refusing VMA */
}

static void op_msync(void)
{
	static const int fl[] = { MS_SYNC, MS_ASYNC, MS_INVALIDATE, MS_SYNC | MS_INVALIDATE,
				  MS_ASYNC | MS_INVALIDATE, 0, MS_SYNC | MS_ASYNC, 0x100 };
	static const char *const fln[] = { "MS_SYNC", "MS_ASYNC", "MS_INVALIDATE", "MS_SYNC|MS_INVALIDATE",
					   "MS_ASYNC|MS_INVALIDATE", "0", "MS_SYNC|MS_ASYNC", "0x100" };
	struct range r = get_range();
	int f = next() % 8;
	struct rv rv[2];

	describe("msync [%d,+%d)%s %s", r.s, r.n, r.shape, fln[f]);
	for (int k = 0; k < 2; k++) {
		errno = 0;
		rv[k] = rv_of(S.w[k].api->msync(S.w[k].arena + r.off, r.len, fl[f]));
	}
	cmp_rv("msync", rv[0], rv[1]);
}

static void op_madvise(void)
{
	static const int adv[] = { MADV_DONTNEED, MADV_DONTNEED, MADV_DONTNEED, MADV_POPULATE_READ,
				   MADV_POPULATE_WRITE, MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_WILLNEED,
				   MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, 12345 };
	static const char *const advn[] = { "DONTNEED", "DONTNEED", "DONTNEED", "POPULATE_READ",
					    "POPULATE_WRITE", "POPULATE_READ", "POPULATE_WRITE", "WILLNEED",
					    "NORMAL", "RANDOM", "SEQUENTIAL", "12345" };
	struct range r = get_range();
	int a = next() % 12;
	struct rv rv[2];

	describe("madvise [%d,+%d)%s MADV_%s", r.s, r.n, r.shape, advn[a]);
	for (int k = 0; k < 2; k++) {
		errno = 0;
		rv[k] = rv_of(S.w[k].api->madvise(S.w[k].arena + r.off, r.len, adv[a]));
	}
	cmp_rv("madvise", rv[0], rv[1]);
}

/* mincore: the same result; the same residency for anonymous pages. */
static void mincore_range(struct range r)
{
	struct rv rv[2];

	for (int k = 0; k < 2; k++) {
		memset(S.vec[k], 0xee, sizeof S.vec[k]);
		errno = 0;
		rv[k] = rv_of(S.w[k].api->mincore(S.w[k].arena + r.off, r.len, S.vec[k]));
	}
	cmp_rv("mincore", rv[0], rv[1]);
	if (rv[0].ret != 0 || !range_aligned(&r))
		return;
	for (int i = 0; i < r.n; i++)
		if (S.m[r.s + i].mapped && IS_ANON(S.m[r.s + i].kind) && (S.vec[0][i] & 1) != (S.vec[1][i] & 1))
			FAILF("mincore: arena page %d (%s) resident: host %d, vmemu %d", r.s + i, page_str(r.s + i),
			      S.vec[0][i] & 1, S.vec[1][i] & 1);
}

static void op_mincore(void)
{
	struct range r = get_range();

	describe("mincore [%d,+%d)%s", r.s, r.n, r.shape);
	mincore_range(r);
}

/* Is [s, s + n) of the host arena inside one VMA (one line of /proc/self/maps)? */
static int host_one_vma(int s, int n)
{
	uintptr_t lo = (uintptr_t)S.w[0].arena + (size_t)s * PG, hi = lo + (size_t)(n ? n : 1) * PG;
	size_t len = 0;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		FAILF("environment: open /proc/self/maps: %s", strerror(errno));
	for (;;) {
		ssize_t r = read(fd, S.maps + len, sizeof S.maps - 1 - len);

		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	S.maps[len] = 0;
	for (char *line = S.maps; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		unsigned long vs, ve;

		if (sscanf(line, "%lx-%lx", &vs, &ve) == 2 && vs <= lo && lo < ve)
			return hi <= ve;
	}
	return 0;
}

/* mremap inside the arena.  Modes: in place (no flags, or MREMAP_MAYMOVE
 * with a size that does not grow), moved with MREMAP_FIXED (and
 * MREMAP_DONTUNMAP), and invalid flag sets.  Never MREMAP_MAYMOVE alone
 * with a size that grows: the kernel would choose an address outside. */
static void op_mremap(void)
{
	int s = next() % NPAGES, nold = next() % (MAX_RUN + 1), d = next() % NPAGES, nb = next(), mode = next() % 8;
	int nnew = nb == 0xff ? 0 : 1 + nb % MAX_RUN, flags, dst;
	static const char *const mode_name[] = {
		"in place", "in place", "MREMAP_MAYMOVE|MREMAP_FIXED", "MREMAP_MAYMOVE|MREMAP_FIXED",
		"MREMAP_MAYMOVE|MREMAP_FIXED|MREMAP_DONTUNMAP", "MREMAP_MAYMOVE (not growing)", "MREMAP_FIXED alone",
		"flags 0x80",
	};
	struct page moved[NPAGES];
	struct rv rv[2];

	if (nold > NPAGES - s)
		nold = NPAGES - s;
	switch (mode) {
	case 0: case 1: flags = 0; dst = s; break;
	case 2: case 3: flags = MREMAP_MAYMOVE | MREMAP_FIXED; dst = d; break;
	case 4: flags = MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP; dst = d; nnew = nold; break;
	case 5: flags = MREMAP_MAYMOVE; dst = s; nnew = nnew < nold ? nnew : nold; break;
	case 6: flags = MREMAP_FIXED; dst = d; break;
	default: flags = 0x80; dst = s; break;
	}
	if (nnew > NPAGES - dst)
		nnew = NPAGES - dst;
	describe("mremap [%d,+%d) -> [%d,+%d) %s", s, nold, dst, nnew, mode_name[mode]);
	if (!(flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP)) && nold &&
	    !host_one_vma(s, (flags & MREMAP_FIXED) && nnew < nold ? nnew : nold) && !S.mremap_multi) {
		/* An old range that is not inside one VMA: Linux 6.17 and later
		 * move several VMAs, and the gaps between them, in one
		 * MREMAP_FIXED call, and answer ENOMEM where earlier kernels (and
		 * vmemu) say EFAULT for an in-place resize; the answer depends on
		 * the kernel version.  FUZZ_MREMAP_MULTI=1 makes these calls anyway. */
		describe("(skipped: the range moved is not one VMA's)");
		return;
	}
	if (!host_holes_free(dst, nnew)) {
		describe("(skipped: something else is mapped in a hole of the host arena)");
		return;
	}
	note_writeback(s, nold);
	if (flags & MREMAP_FIXED)
		note_writeback(dst, nnew);
	for (int k = 0; k < 2; k++) {
		unsigned char *old = S.w[k].arena + (size_t)s * PG, *want = S.w[k].arena + (size_t)dst * PG;
		void *p;

		errno = 0;
		p = S.w[k].api->mremap(old, (size_t)nold * PG, (size_t)nnew * PG, flags, want);
		rv[k] = rv_of(p == MAP_FAILED ? -1 : p == want ? 0 : 1);
		if (rv[k].ret == 1)
			FAILF("%s mremap returned %p, expected %p", S.w[k].api->name, p, (void *)want);
	}
	cmp_rv("mremap", rv[0], rv[1]);
	if (rv[0].ret != 0) {
		model_check_maps(1);	/* MREMAP_FIXED may have unmapped the destination first */
		return;
	}
	if (!(flags & MREMAP_FIXED)) {
		/* In place: shrinking unmaps the tail (the kernel checks only the
		 * first page); growing needs the old range in one VMA and extends it. */
		for (int i = nnew; i < nold; i++)
			S.m[s + i].mapped = 0;
		for (int i = nold; i < nnew; i++) {
			S.m[s + i] = S.m[s];
			S.m[s + i].off = (int16_t)(S.m[s].off + i);
		}
		return;
	}
	/* Moved: the pages keep their VMA's attributes; growing extends the
	 * last VMA (an old length of 0 maps the first page's object again). */
	for (int i = 0; i < nnew; i++) {
		int base = nold ? (i < nold ? s + i : s + nold - 1) : s;

		moved[i] = S.m[base];
		moved[i].off = (int16_t)(S.m[base].off + (nold ? (i < nold ? 0 : i - nold + 1) : i));
	}
	if (!(flags & MREMAP_DONTUNMAP))
		for (int i = s; i < s + nold; i++)
			S.m[i].mapped = 0;
	for (int i = 0; i < nnew; i++)
		S.m[dst + i] = moved[i];
}

/* A page satisfying ok(), chosen by sel, or -1. */
static int pick_page(int (*ok)(int), unsigned sel)
{
	int cand[NPAGES], nc = 0;

	for (int i = 0; i < NPAGES; i++)
		if (ok(i))
			cand[nc++] = i;
	return nc ? cand[sel % (unsigned)nc] : -1;
}

static void op_read(void)
{
	int i = pick_page(readable, next());
	size_t off = next16() % PG;
	unsigned char a, b;

	if (i < 0)
		return;
	describe("read page %d +%zu (%s)", i, off, page_str(i));
	int unknown = tail_unknown(i, off);
	off += (size_t)i * PG;
	a = *(volatile unsigned char *)(S.w[0].arena + off);
	b = *(volatile unsigned char *)(S.w[1].arena + off);
	if (a != b && !unknown)
		FAILF("read: host 0x%02x, vmemu 0x%02x", a, b);
}

static void op_write(void)
{
	int i = pick_page(writable, next());
	size_t off = next16() % PG, len;
	uint8_t lb = next(), val = next();

	if (i < 0)
		return;
	len = lb < 0xc0 ? 1 + lb % 8 : 1 + (size_t)(lb & 0x3f) * 64;
	if (off + len > PG)
		len = PG - off;
	describe("write %zu bytes (0x%02x+7j) at page %d +%zu (%s)", len, val, i, off, page_str(i));
	if (S.m[i].kind == K_FILE_SHARED && in_eof_tail(i, off + len - 1))
		S.tail_stored = 1;
	off += (size_t)i * PG;
	for (int k = 0; k < 2; k++) {
		volatile unsigned char *p = S.w[k].arena + off;

		for (size_t j = 0; j < len; j++)
			p[j] = (unsigned char)(val + 7 * j);
	}
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

/* An access the host refuses: both worlds deliver the same signal, si_code
 * and address, and the access does not land. */
static void op_probe(void)
{
	uint8_t b = next();
	int wr = b & 1, i = pick_page(wr ? not_writable : not_readable, b >> 1);
	size_t off = next16() % PG;
	int res[2][3];

	if (i < 0)
		return;
	describe("probe: %s page %d +%zu (%s), expecting a signal", wr ? "write" : "read", i, off, page_str(i));
	if (!host_holes_free(i, 1)) {
		describe("(skipped: something else is mapped in a hole of the host arena)");
		return;
	}
	off += (size_t)i * PG;
	for (int k = 0; k < 2; k++)
		probe_one(k, off, wr, 0xa5, res[k]);
	if (res[0][0] == 0)
		FAILF("test model broken: the host allowed the access");
	if (res[1][0] != res[0][0] || res[1][1] != res[0][1] || res[1][2] != res[0][2])
		FAILF("host got signal %d si_code %d at arena offset %d; vmemu got signal %d si_code %d at arena offset %d",
		      res[0][0], res[0][1], res[0][2], res[1][0], res[1][1], res[1][2]);
}

/* A hole inside a mapping: munmap of 1 or 2 pages of a mapped run. */
static void op_punch(void)
{
	int i = pick_page(is_mapped, next()), n = 1 + next() % 2;
	struct rv rv[2];

	if (i < 0)
		return;
	if (n > NPAGES - i)
		n = NPAGES - i;
	describe("punch: munmap [%d,+%d) (%s)", i, n, page_str(i));
	note_writeback(i, n);
	for (int k = 0; k < 2; k++) {
		errno = 0;
		rv[k] = rv_of(S.w[k].api->munmap(S.w[k].arena + (size_t)i * PG, (size_t)n * PG));
	}
	cmp_rv("munmap", rv[0], rv[1]);
	if (rv[0].ret == 0)
		for (int j = i; j < i + n; j++)
			S.m[j].mapped = 0;
}

/* Where pread and pwrite start, and how much they move: inside the file. */
static void file_span(off_t *pos, size_t *len)
{
	int fpage = next() % FILE_PAGES;
	size_t off = next16() % PG;
	uint8_t lb = next();

	*len = lb < 0xc0 ? 1 + lb % 16 : 1 + (size_t)(lb & 0x3f) * 128;
	if (fpage * PG + off >= S.fsize)
		off = S.fsize - (size_t)fpage * PG - 1;
	*pos = (off_t)((size_t)fpage * PG + off);
	if ((size_t)*pos + *len > S.fsize)
		*len = S.fsize - (size_t)*pos;
	if (*len > PG)
		*len = PG;
}

/* pread through the file's second open: it sees the stores made through
 * the mappings, at once, as the kernel's page cache does. */
static void op_pread(void)
{
	off_t pos;
	size_t len;
	ssize_t n[2];

	file_span(&pos, &len);
	describe("pread %zu bytes at file offset %lld (second open)", len, (long long)pos);
	for (int k = 0; k < 2; k++) {
		errno = 0;
		n[k] = S.w[k].api->pread(S.w[k].fd_rw2, S.iobuf[k], len, pos);
	}
	if (n[0] != n[1])
		FAILF("pread: host returned %zd, vmemu %zd (%s)", n[0], n[1], strerror(errno));
	if (n[0] > 0 && memcmp(S.iobuf[0], S.iobuf[1], (size_t)n[0])) {
		size_t j = 0;
		while (S.iobuf[0][j] == S.iobuf[1][j])
			j++;
		FAILF("pread: byte %zu (file offset %lld): host 0x%02x, vmemu 0x%02x", j, (long long)(pos + (off_t)j),
		      S.iobuf[0][j], S.iobuf[1][j]);
	}
}

/* pwrite through the file's second open, never past its end: every
 * mapping of those bytes sees them at once. */
static void op_pwrite(void)
{
	off_t pos;
	size_t len;
	uint8_t val;
	ssize_t n[2];

	file_span(&pos, &len);
	val = next();
	describe("pwrite %zu bytes (0x%02x+3j) at file offset %lld (second open)", len, val, (long long)pos);
	for (size_t j = 0; j < len; j++)
		S.iobuf[0][j] = S.iobuf[1][j] = (unsigned char)(val + 3 * j);
	for (int k = 0; k < 2; k++) {
		errno = 0;
		n[k] = S.w[k].api->pwrite(S.w[k].fd_rw2, S.iobuf[k], len, pos);
	}
	if (n[0] != n[1])
		FAILF("pwrite: host returned %zd, vmemu %zd (%s)", n[0], n[1], strerror(errno));
}

static void op_compare(void)
{
	describe("compare every readable page");
	compare_memory("compare");
}

/* The end of every input: write back, compare, unmap both arenas. */
/* vmemu's own structures agree with themselves (src/mm/debug.c): counts
 * against what they count, PTEs against frames. */
static void check_invariants(const char *when)
{
	struct vm_check c = { .report = true };

	if (check_vm(&c))
		FAILF("%s: the invariant walker found %lu violations; the first: %s", when, c.errors, c.first);
}

static void input_finish(void)
{
	unsigned char shared[FILE_PAGES] = { 0 };
	struct rv rv[2];

	describe("end: compare every readable page");
	compare_memory("end of input");
	describe("end: msync(arena, MS_SYNC), compare the file pages mapped shared");
	for (int k = 0; k < 2; k++) {
		errno = 0;
		rv[k] = rv_of(S.w[k].api->msync(S.w[k].arena, NPAGES * PG, MS_SYNC));
	}
	cmp_rv("msync(arena, MS_SYNC)", rv[0], rv[1]);
	for (int i = 0; i < NPAGES; i++)
		if (S.m[i].mapped && IS_SHARED_FILE(S.m[i].kind) && S.m[i].off < FILE_PAGES)
			shared[S.m[i].off] = 1;
	compare_files("after msync(MS_SYNC)", shared);
	describe("end: check the model against /proc/self/maps, mincore page by page");
	model_check_maps(0);
	for (int i = 0; i < NPAGES; i++)
		mincore_range((struct range){ i, 1, (size_t)i * PG, PG, "" });
	describe("end: the invariant walker");
	check_invariants("end of input");
	describe("end: munmap(arena), compare the files");
	for (int k = 0; k < 2; k++) {
		errno = 0;
		rv[k] = rv_of(S.w[k].api->munmap(S.w[k].arena, NPAGES * PG));
	}
	cmp_rv("munmap(arena)", rv[0], rv[1]);
	compare_files("after unmapping everything", NULL);
	check_invariants("after unmapping everything");
}

static void (*const op_table[32])(void) = {
	op_mmap, op_mmap, op_mmap, op_mmap, op_mmap,
	op_munmap, op_munmap, op_punch,
	op_mprotect, op_mprotect, op_mprotect,
	op_msync, op_msync,
	op_madvise, op_madvise, op_madvise,
	op_mremap, op_mremap, op_mremap,
	op_mincore,
	op_read, op_read, op_read,
	op_write, op_write, op_write, op_write,
	op_probe, op_probe,
	op_compare, op_pread, op_pwrite,
};

/* ---- libFuzzer ------------------------------------------------------------------ */

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(FUZZ_ASAN)
/* ASan must leave SIGSEGV to vmemu and SIGBUS to the program.  ASAN_OPTIONS
 * in the environment overrides these. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "handle_segv=0:handle_sigbus=0:allow_user_segv_handler=1";
}
#endif

/* At exit: how much was run (make fuzz FUZZ_RUNS=... sizes a run by it). */
static void summary(void)
{
	fprintf(stderr, "fuzz_ops: %llu inputs, %llu operations\n", S.inputs, S.ops);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* libFuzzer's own SIGSEGV/SIGBUS handlers would displace vmemu's:
	 * append -handle_segv=0 -handle_bus=0 (libFuzzer parses the flags after
	 * this function returns; the last of a flag wins). */
	static char *args[256];
	static char segv[] = "-handle_segv=0", bus[] = "-handle_bus=0";
	struct sigaction sa;
	int n = *argc < 250 ? *argc : 250;

	memcpy(args, *argv, (size_t)n * sizeof *args);
	args[n++] = segv;
	args[n++] = bus;
	args[n] = NULL;
	*argc = n;
	*argv = args;

	S.trace = getenv("FUZZ_TRACE") != NULL;
	S.mremap_multi = getenv("FUZZ_MREMAP_MULTI") != NULL;
	if (sysconf(_SC_PAGESIZE) != (long)PG) {
		fprintf(stderr, "fuzz_ops: written for 4 KiB pages\n");
		exit(1);
	}
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);	/* deterministic host residency */
	if (vme_init(NULL) != 0 && errno != EBUSY) {
		fprintf(stderr, "fuzz_ops: vme_init: %s\n", strerror(errno));
		exit(1);
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	vme_sigaction(SIGSEGV, &sa, NULL);
	vme_sigaction(SIGBUS, &sa, NULL);
	for (size_t i = 0; i < sizeof S.init; i++)
		S.init[i] = (unsigned char)((i * 131u) ^ (i >> 12) ^ 0x5a);
	world_open(&S.w[0], &host_api);
	world_open(&S.w[1], &vme_api);
	atexit(summary);
	return 0;
}

/* The files' size for this input, from the input itself (so that a saved
 * input replays): a page or less short of FILE_PAGES pages, or exactly
 * that for a quarter of the inputs. */
static size_t file_size_of(const uint8_t *data, size_t size)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	return FILE_PAGES * PG - (h % 4 ? 1 + (h >> 2) % (PG - 1) : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	S.inputs++;
	S.nlog = 0;
	S.op = 0;
	S.fsize = file_size_of(data, size);
	describe("setup: files rewritten (%zu bytes), arenas reserved", S.fsize);
	input_setup();
	S.in = data;
	S.inlen = size;
	S.inpos = 0;
	for (S.op = 1; S.op <= MAX_OPS && S.inpos < size; S.op++, S.ops++)
		op_table[next() % 32]();
	input_finish();
	return 0;
}
