/*
 * inject.c - injected host faults (issue 4, "Injected faults").
 *
 * Every system call vmemu makes goes through host_sys; each test replaces the
 * entries with wrappers that pass through to the real call unless a struct
 * inj tells them to fail: the Nth call (counted from the INJECT), the calls
 * from the Nth on, or a script of errnos call by call.  pread and pwrite can
 * also be made short.  The outcome asserted is the one Linux gives for the
 * same hardware condition:
 *
 *   EINTR                      retried
 *   short read / short write   completed
 *   EIO filling a page         SIGBUS (BUS_ADRERR, exact address)
 *   EIO/ENOSPC writing back    msync fails with it, the page stays dirty, a
 *                              later msync succeeds and nothing is lost
 *   ENOMEM from mmap/mprotect  the Linux error, nothing left behind
 *
 * and, for every error exit path of do_mmap, mmap_region, file_open_mapping,
 * the pool's growth, write-back, mremap and the API, that it leaves no VMA,
 * page cache, descriptor or host mapping behind and loses no data.
 */
#include <criterion/criterion.h>
#include <linux/falloc.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <vmemu.h>

#include "host/host.h"
#include "testutil.h"
#include "vm_valid.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

/* --- the injector ----------------------------------------------------------- */

struct inj {
	int err;		/* errno to inject; 0 = none (pass through) */
	int first;		/* the first call to fail, 1-based from the INJECT */
	int count;		/* calls failing from first on; -1 = all of them */
	int script[8];		/* or: call i+1 fails with script[i] (if non-zero) */
	long cmd;		/* fcntl only: count only this command; -1 = any */
	int calls;		/* calls counted since the INJECT */
	int failed;		/* calls made to fail */
};

/* volatile: a read of a counter must stay after the access that faulted,
 * which the compiler does not know runs the wrappers. */
static volatile struct inj inj_pread, inj_pwrite, inj_fdatasync, inj_mmap, inj_munmap, inj_mprotect,
	inj_madvise, inj_mincore, inj_msync, inj_mremap, inj_fstat, inj_ftruncate, inj_fallocate,
	inj_memfd, inj_fcntl;
static size_t pread_chunk, pwrite_chunk;	/* short I/O: at most this many bytes a call */
static bool pwrite_zero;			/* pwrite returns 0 (no progress) */
static off_t pwrite_bad = -1;			/* a bad block: a write stops short of it, and one
						 * that starts there fails with EIO */
static off_t pwritev_last_off;			/* where the last vector write that wrote landed */
static size_t pwritev_last_len;

/* Fail calls first .. first + count - 1 (count -1: every call from first). */
#define INJECT(in, e, nth, cnt) ((in) = (struct inj){ .err = (e), .first = (nth), .count = (cnt), .cmd = -1 })
/* Fail only the nth call. */
#define INJECT_NTH(in, e, nth) INJECT(in, e, nth, 1)
/* Fail every call from now on. */
#define INJECT_ALL(in, e) INJECT(in, e, 1, -1)
/* Fail call by call: INJECT_SCRIPT(inj_mremap, EFAULT, 0, ENOMEM). */
#define INJECT_SCRIPT(in, ...) ((in) = (struct inj){ .script = { __VA_ARGS__ }, .cmd = -1 })

/* handler-safe: does this call fail?  Sets errno if so. */
static bool inj_fail(volatile struct inj *in)
{
	int n = __atomic_add_fetch(&in->calls, 1, __ATOMIC_SEQ_CST);
	int e = 0;

	if (n <= 8 && in->script[n - 1])
		e = in->script[n - 1];
	else if (in->err && n >= in->first && (in->count < 0 || n < in->first + in->count))
		e = in->err;
	if (!e)
		return false;
	__atomic_add_fetch(&in->failed, 1, __ATOMIC_SEQ_CST);
	errno = e;
	return true;
}

static ssize_t w_pread(int fd, void *buf, size_t len, off_t off)
{
	if (inj_fail(&inj_pread))
		return -1;
	if (pread_chunk && len > pread_chunk)
		len = pread_chunk;
	return pread(fd, buf, len, off);
}

/* A fill reads a file by splicing it into a pipe (then the pipe into the
 * segment): that read is a read of the file, which inj_pread and
 * pread_chunk govern as they govern pread.  splice_off makes the host
 * refuse splicing altogether (the fill then reads with pread). */
static bool splice_off;
static volatile struct inj inj_splice_out;	/* the pipe into the segment */

static ssize_t w_splice(int in, off_t *off_in, int out, off_t *off_out, size_t len, unsigned int flags)
{
	if (splice_off) {
		errno = EINVAL;
		return -1;
	}
	if (off_in) {
		if (inj_fail(&inj_pread))
			return -1;
		if (pread_chunk && len > pread_chunk)
			len = pread_chunk;
	} else if (inj_fail(&inj_splice_out)) {
		return -1;
	}
	return splice(in, off_in, out, off_out, len, flags);
}

static ssize_t w_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	if (inj_fail(&inj_pwrite))
		return -1;
	if (pwrite_zero)
		return 0;
	if (pwrite_chunk && len > pwrite_chunk)
		len = pwrite_chunk;
	return pwrite(fd, buf, len, off);
}

/* Write-back's call: one vector write of a run of pages.  The same
 * injector, and the same short writes, as pwrite. */
static ssize_t w_pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	struct iovec v[64];
	size_t max = pwrite_chunk ? pwrite_chunk : SIZE_MAX, total = 0;
	int n = 0;

	if (inj_fail(&inj_pwrite))
		return -1;
	if (pwrite_zero)
		return 0;
	if (pwrite_bad >= off) {
		if (pwrite_bad == off) {
			errno = EIO;
			return -1;
		}
		if ((size_t)(pwrite_bad - off) < max)
			max = (size_t)(pwrite_bad - off);
	}
	for (int i = 0; i < cnt && i < 64 && total < max; i++) {
		v[n] = iov[i];
		if (v[n].iov_len > max - total)
			v[n].iov_len = max - total;
		total += v[n++].iov_len;
	}
	ssize_t r = pwritev(fd, v, n, off);
	if (r > 0) {
		pwritev_last_off = off;
		pwritev_last_len = (size_t)r;
	}
	return r;
}

static int w_fdatasync(int fd)
{
	return inj_fail(&inj_fdatasync) ? -1 : fdatasync(fd);
}

static void *w_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return inj_fail(&inj_mmap) ? MAP_FAILED : mmap(addr, len, prot, flags, fd, off);
}

static int w_munmap(void *addr, size_t len)
{
	return inj_fail(&inj_munmap) ? -1 : munmap(addr, len);
}

static int w_mprotect(void *addr, size_t len, int prot)
{
	return inj_fail(&inj_mprotect) ? -1 : mprotect(addr, len, prot);
}

static int w_madvise(void *addr, size_t len, int advice)
{
	return inj_fail(&inj_madvise) ? -1 : madvise(addr, len, advice);
}

static int w_mincore(void *addr, size_t len, unsigned char *vec)
{
	return inj_fail(&inj_mincore) ? -1 : mincore(addr, len, vec);
}

static int w_msync(void *addr, size_t len, int flags)
{
	return inj_fail(&inj_msync) ? -1 : msync(addr, len, flags);
}

static void *w_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	return inj_fail(&inj_mremap) ? MAP_FAILED : mremap(old, old_len, new_len, flags, new_addr);
}

static int w_fstat(int fd, struct stat *st)
{
	return inj_fail(&inj_fstat) ? -1 : fstat(fd, st);
}

static int w_ftruncate(int fd, off_t len)
{
	return inj_fail(&inj_ftruncate) ? -1 : ftruncate(fd, len);
}

static int w_fallocate(int fd, int mode, off_t off, off_t len)
{
	return inj_fail(&inj_fallocate) ? -1 : fallocate(fd, mode, off, len);
}

static int w_memfd_create(const char *name, unsigned int flags)
{
	return inj_fail(&inj_memfd) ? -1 : memfd_create(name, flags);
}

static int w_fcntl(int fd, int cmd, long arg)
{
	if ((inj_fcntl.cmd < 0 || inj_fcntl.cmd == cmd) && inj_fail(&inj_fcntl))
		return -1;
	return fcntl(fd, cmd, arg);
}

/* Put the wrappers in (passing through until an INJECT). */
static void install_wrappers(void)
{
	host_sys.pread = w_pread;
	host_sys.splice = w_splice;
	host_sys.pwrite = w_pwrite;
	host_sys.pwritev = w_pwritev;
	host_sys.fdatasync = w_fdatasync;
	host_sys.mmap = w_mmap;
	host_sys.munmap = w_munmap;
	host_sys.mprotect = w_mprotect;
	host_sys.madvise = w_madvise;
	host_sys.mincore = w_mincore;
	host_sys.msync = w_msync;
	host_sys.mremap = w_mremap;
	host_sys.fstat = w_fstat;
	host_sys.ftruncate = w_ftruncate;
	host_sys.fallocate = w_fallocate;
	host_sys.memfd_create = w_memfd_create;
	host_sys.fcntl = w_fcntl;
}

/* Stop injecting: the real system calls, and nothing armed. */
static void heal(void)
{
	host_sys_reset();
	pread_chunk = pwrite_chunk = 0;
	pwrite_zero = splice_off = false;
	pwrite_bad = -1;
	INJECT(inj_pread, 0, 0, 0);
	INJECT(inj_splice_out, 0, 0, 0);
	INJECT(inj_pwrite, 0, 0, 0);
	INJECT(inj_fdatasync, 0, 0, 0);
	INJECT(inj_mmap, 0, 0, 0);
	INJECT(inj_munmap, 0, 0, 0);
	INJECT(inj_mprotect, 0, 0, 0);
	INJECT(inj_madvise, 0, 0, 0);
	INJECT(inj_mincore, 0, 0, 0);
	INJECT(inj_msync, 0, 0, 0);
	INJECT(inj_mremap, 0, 0, 0);
	INJECT(inj_fstat, 0, 0, 0);
	INJECT(inj_ftruncate, 0, 0, 0);
	INJECT(inj_fallocate, 0, 0, 0);
	INJECT(inj_memfd, 0, 0, 0);
	INJECT(inj_fcntl, 0, 0, 0);
}

/* vmemu initialised before anything is counted, then the wrappers. */
static void setup(void)
{
	cr_assert_eq(vme_init(NULL), 0);
	install_wrappers();
}

/* Only the wrappers: for the tests of initialisation itself. */
static void setup_uninitialised(void)
{
	install_wrappers();
}

/* Nothing stays injected for the exit-time write-back. */
static void teardown(void)
{
	heal();
}

/* --- observation helpers ---------------------------------------------------- */

static struct vme_stats stats(void)
{
	struct vme_stats s;
	cr_assert_eq(vme_stats(&s), 0);
	return s;
}

/* Open descriptors, without allocating one to count them. */
static int count_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/* Host mappings of the shared page cache's segment in /proc/self/maps: its
 * metadata and view, and the frames mapped at user addresses. */
static int count_cache_views(void)
{
	static char buf[1 << 20];
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), n = 0;
	size_t len = 0;
	ssize_t r;

	cr_assert(fd >= 0);
	while (len < sizeof(buf) - 1 && (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	buf[len] = '\0';
	for (char *p = buf; (p = strstr(p, "vmemu-")); p++)
		if (!strncmp(p - 1, "/vmemu-", 7) || !strncmp(p, "vmemu-domain", 12))
			n++;
	return n;
}

/* What a failed call must leave as it was. */
struct snapshot {
	uint64_t vmas, files;
	int fds, views;
};

static struct snapshot snap(void)
{
	struct vme_stats s = stats();
	return (struct snapshot){ s.nr_vmas, s.nr_mapped_files, count_fds(), count_cache_views() };
}

static void assert_nothing_left(struct snapshot before)
{
	struct snapshot now = snap();
	cr_assert_eq(now.vmas, before.vmas, "emulated VMAs: %lu before, %lu after",
		     (unsigned long)before.vmas, (unsigned long)now.vmas);
	cr_assert_eq(now.files, before.files, "page caches: %lu before, %lu after",
		     (unsigned long)before.files, (unsigned long)now.files);
	cr_assert_eq(now.fds, before.fds, "descriptors: %d before, %d after", before.fds, now.fds);
	cr_assert_eq(now.views, before.views, "page-cache host mappings: %d before, %d after",
		     before.views, now.views);
}

static void assert_pattern(const volatile unsigned char *p, size_t file_off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != pattern_byte(file_off + i))
			cr_assert_fail("byte %zu: %#x, want %#x", file_off + i, p[i],
				       pattern_byte(file_off + i));
}

static void assert_file_byte(int fd, off_t off, unsigned char want)
{
	unsigned char c = 0;
	cr_assert_eq(pread(fd, &c, 1, off), 1);	/* libc: never injected */
	cr_assert_eq(c, want, "file byte %ld: %#x, want %#x", (long)off, c, want);
}

static void fill(volatile unsigned char *p, size_t len, unsigned char seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(seed + i * 7);
}

static void assert_file_filled(int fd, off_t off, size_t len, unsigned char seed)
{
	unsigned char *b = file_bytes(fd, off, len);
	for (size_t i = 0; i < len; i++)
		if (b[i] != (unsigned char)(seed + i * 7))
			cr_assert_fail("file byte %ld: %#x, want %#x", (long)(off + (off_t)i), b[i],
				       (unsigned char)(seed + i * 7));
	free(b);
}

/* A shared writable mapping of a new pattern file with its pages dirtied. */
static unsigned char *dirty_shared(int *fdp, size_t pages, unsigned char seed)
{
	int fd = pattern_file(pages * PG, 0);
	unsigned char *p = vme_mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(p, MAP_FAILED);
	fill(p, pages * PG, seed);
	*fdp = fd;
	return p;
}

/* The program's SIGBUS and SIGSEGV handlers: record and jump back. */
static sigjmp_buf env;
static volatile siginfo_t seen;
static volatile int nsignals;

static void on_signal(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	nsignals++;
	seen = *info;
	siglongjmp(env, sig);
}

/* SIGBUS is the host's (plain sigaction); SIGSEGV is vmemu's to deliver. */
static void catch_signal(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sig == SIGBUS)
		cr_assert_eq(sigaction(sig, &sa, NULL), 0);
	else
		cr_assert_eq(vme_sigaction(sig, &sa, NULL), 0);
}

/* Read one byte; the signal it raised (0 if none). */
static int try_read(const volatile unsigned char *p, unsigned char *out)
{
	int sig = sigsetjmp(env, 1);
	if (sig == 0) {
		*out = *p;
		return 0;
	}
	return sig;
}

static int try_write(volatile unsigned char *p, unsigned char v)
{
	int sig = sigsetjmp(env, 1);
	if (sig == 0) {
		*p = v;
		return 0;
	}
	return sig;
}

/* ===================================================================== */
/* Filling a page: pread                                                  */
/* ===================================================================== */

Test(inject, pread_eintr_is_retried, .init = setup, .fini = teardown, .timeout = 20)
{
	int fd = pattern_file(2 * PG, 0);
	unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	cr_assert_neq(p, MAP_FAILED);
	INJECT(inj_pread, EINTR, 1, 3);
	assert_pattern(p, 0, PG);
	cr_assert_eq(inj_pread.failed, 3, "the first three preads got EINTR");
	assert_pattern(p + PG, PG, PG);
	cr_assert_eq(stats().read_error, 0);
}

Test(inject, pread_one_byte_at_a_time_is_completed, .init = setup, .fini = teardown, .timeout = 20)
{
	int fd = pattern_file(2 * PG, 0);
	unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	pread_chunk = 1;
	INJECT(inj_pread, 0, 0, 0);
	assert_pattern(p + PG, PG, PG);
	cr_assert_geq(inj_pread.calls, (int)PG, "the page came one byte a call");
	assert_pattern(p, 0, PG);
}

Test(inject, pread_half_page_at_a_time_is_completed, .init = setup, .fini = teardown, .timeout = 20)
{
	int fd = pattern_file(2 * PG, 0);
	unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	cr_assert_eq(vme_madvise(p, 2 * PG, MADV_RANDOM), 0);	/* one pread per page */
	pread_chunk = PG / 2;
	INJECT(inj_pread, 0, 0, 0);
	((volatile unsigned char *)p)[PG + 5] = 0xee;	/* a COW fault fills first */
	cr_assert_eq(inj_pread.calls, 2, "calls %d", inj_pread.calls);
	assert_pattern(p + PG, PG, 5);
	assert_pattern(p + PG + 6, PG + 6, PG - 6);
	assert_pattern(p, 0, PG);
}

Test(inject, short_reads_up_to_end_of_file_zero_the_tail, .init = setup, .fini = teardown, .timeout = 20)
{
	int fd = pattern_file(PG + 10, 0);
	unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	pread_chunk = 3;
	INJECT(inj_pread, EINTR, 2, 2);		/* and interrupted in between */
	assert_pattern(p + PG, PG, 10);
	for (size_t i = 10; i < PG; i++)
		cr_assert_eq(p[PG + i], 0, "byte %zu past end of file", PG + i);
	cr_assert_eq(inj_pread.failed, 2);
}

Test(inject, pread_eio_while_filling_is_sigbus, .init = setup, .fini = teardown, .signal = SIGBUS,
     .timeout = 20)
{
	int fd = pattern_file(PG, 0);
	volatile unsigned char *p = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	INJECT_ALL(inj_pread, EIO);
	p[0] = 1;				/* do_shared_fault */
}

/* A file system that cannot splice: fills read with pread, whose errors
 * are the fault's. */
Test(inject, a_file_that_cannot_splice_is_read_with_pread, .init = setup, .fini = teardown, .timeout = 20)
{
	int fd = pattern_file(64 * PG + 100, 0);
	unsigned char *p = vme_mmap(NULL, 65 * PG, PROT_READ, MAP_SHARED, fd, 0);

	splice_off = true;
	INJECT(inj_pread, 0, 0, 0);
	assert_pattern(p, 0, 64 * PG + 100);
	cr_assert_gt(inj_pread.calls, 0, "no pread when splice is refused");
	for (size_t i = 100; i < PG; i++)
		cr_assert_eq(p[64 * PG + i], 0, "byte %zu past end of file", 64 * PG + i);
}

Test(inject, pread_eio_when_splice_is_refused_is_sigbus, .init = setup, .fini = teardown,
     .signal = SIGBUS, .timeout = 20)
{
	int fd = pattern_file(PG, 0);
	volatile unsigned char *p = vme_mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);

	splice_off = true;
	INJECT_ALL(inj_pread, EIO);
	(void)p[0];
}

/* The pipe refusing to go into the segment (after the file's bytes went
 * into it) : the fill reads the window again with pread, and the next fill
 * gets a clean pipe, not the bytes left in the old one. */
Test(inject, a_splice_into_the_segment_failing_reads_again_and_leaves_no_bytes_behind, .init = setup,
     .fini = teardown, .timeout = 20)
{
	int fd = pattern_file(256 * PG, 0);
	unsigned char *p = vme_mmap(NULL, 256 * PG, PROT_READ, MAP_SHARED, fd, 0);

	INJECT(inj_pread, 0, 0, 0);
	INJECT_NTH(inj_splice_out, EFAULT, 1);
	assert_pattern(p, 0, 256 * PG);
	cr_assert_eq(inj_splice_out.failed, 1);
	cr_assert_gt(inj_pread.calls, 1, "the window was not read again");
	cr_assert_eq(stats().read_error, 0);
}

Test(inject, pread_eio_sigbus_has_adrerr_exact_address_and_counts_read_error, .init = setup,
     .fini = teardown, .timeout = 20)
{
	int fd = pattern_file(3 * PG, 0);
	unsigned char *p = vme_mmap(NULL, 3 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	cr_assert_eq(vme_madvise(p, 3 * PG, MADV_RANDOM), 0);	/* one pread per page */
	unsigned char c;

	assert_pattern(p, 0, PG);
	struct vme_stats before = stats();
	catch_signal(SIGBUS);
	INJECT_NTH(inj_pread, EIO, 1);		/* the next fill only */
	cr_assert_eq(try_read(p + PG + 123, &c), SIGBUS, "no SIGBUS for a failed fill");
	cr_assert_eq(seen.si_signo, SIGBUS);
	cr_assert_eq(seen.si_code, BUS_ADRERR);
	cr_assert_eq(seen.si_addr, p + PG + 123);
	struct vme_stats after = stats();
	cr_assert_eq(after.read_error, before.read_error + 1);
	cr_assert_eq(after.sigbus_delivered, before.sigbus_delivered + 1);
	assert_pattern(p + 2 * PG, 2 * PG, PG);	/* the next page reads */
}

/* A SIGBUS handler the program never installed: only what a failed query
 * of the disposition left in its output names it. */
static void stale_sigbus_handler(int sig)
{
	(void)sig;
	_exit(42);
}

/* sigaction, except that asking for SIGBUS's disposition fails.  A failed
 * call promises nothing about *old: this one leaves it naming a handler,
 * as stack garbage might. */
static int w_sigaction_sigbus_query_fails(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (sig == SIGBUS && !act) {
		if (old) {
			memset(old, 0, sizeof(*old));
			old->sa_handler = stale_sigbus_handler;
		}
		errno = EINVAL;
		return -1;
	}
	return sigaction(sig, act, old);
}

/* The trap cannot learn SIGBUS's disposition: it must not run whatever the
 * failed query left behind, but end the access as the kernel does when no
 * handler can run it, with death by SIGBUS. */
Test(inject, sigbus_whose_disposition_cannot_be_read_kills_with_sigbus, .init = setup, .fini = teardown,
     .signal = SIGBUS, .timeout = 20)
{
	int fd = pattern_file(PG, 0);
	volatile unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);

	cr_assert_neq((void *)p, MAP_FAILED);
	host_sys.sigaction = w_sigaction_sigbus_query_fails;
	(void)p[PG];				/* past end of file */
}

Test(inject, pread_eio_on_the_nth_fill_fails_that_page_only, .init = setup, .fini = teardown,
     .timeout = 20)
{
	int fd = pattern_file(4 * PG, 0);
	unsigned char *p = vme_mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	cr_assert_eq(vme_madvise(p, 4 * PG, MADV_RANDOM), 0);	/* one pread per page */
	unsigned char c;

	catch_signal(SIGBUS);
	INJECT_NTH(inj_pread, EIO, 3);
	for (int pg = 0; pg < 4; pg++) {
		int sig = try_write(p + pg * PG + 1, 0xab);	/* do_cow_fault */
		cr_assert_eq(sig, pg == 2 ? SIGBUS : 0, "page %d: signal %d", pg, sig);
	}
	cr_assert_eq(seen.si_addr, p + 2 * PG + 1);
	for (int pg = 0; pg < 4; pg++) {
		if (pg == 2)
			continue;
		cr_assert_eq(try_read(p + pg * PG, &c), 0);
		cr_assert_eq(c, pattern_byte(pg * PG));
		cr_assert_eq(p[pg * PG + 1], 0xab);
	}
}

/* Linux's filemap_fault leaves a page whose read failed !uptodate and maps
 * nothing: the next access faults again and reads again. */
Test(inject, after_a_transient_eio_the_next_access_reads_again, .init = setup, .fini = teardown,
     .timeout = 20)
{
	int fd = pattern_file(PG, 0);
	unsigned char *p = vme_mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	unsigned char c = 0;

	catch_signal(SIGBUS);
	INJECT_NTH(inj_pread, EIO, 1);
	cr_assert_eq(try_read(p + 9, &c), SIGBUS);
	cr_assert_eq(try_read(p + 9, &c), 0, "the fault is gone, yet the page still raises SIGBUS");
	cr_assert_eq(c, pattern_byte(9));
}

Test(inject, pread_eio_during_map_populate_is_ignored, .init = setup, .fini = teardown, .timeout = 20)
{
	int fd = pattern_file(2 * PG, 0);
	INJECT_ALL(inj_pread, EIO);
	unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
	cr_assert_neq(p, MAP_FAILED, "mm_populate's errors are ignored: %s", strerror(errno));
	cr_assert_geq(inj_pread.failed, 1);
	heal();
	assert_pattern(p, 0, 2 * PG);
}

Test(inject, pread_eio_during_madv_populate_read_is_efault, .init = setup, .fini = teardown,
     .timeout = 20)
{
	int fd = pattern_file(2 * PG, 0);
	unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	INJECT_ALL(inj_pread, EIO);
	errno = 0;
	cr_assert_eq(vme_madvise(p, 2 * PG, MADV_POPULATE_READ), -1);
	cr_assert_eq(errno, EFAULT);
	heal();
	assert_pattern(p, 0, 2 * PG);
}

Test(inject, pread_eio_during_madv_willneed_is_ignored, .init = setup, .fini = teardown, .timeout = 20)
{
	int fd = pattern_file(2 * PG, 0);
	unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	INJECT_ALL(inj_pread, EIO);
	cr_assert_eq(vme_madvise(p, 2 * PG, MADV_WILLNEED), 0);
	cr_assert_eq(inj_pread.failed, 1, "readahead stops at the first error");
	heal();
	assert_pattern(p, 0, 2 * PG);
}

Test(inject, pread_eio_faulting_in_a_syscall_buffer_is_efault, .init = setup, .fini = teardown,
     .timeout = 20)
{
	int fd = pattern_file(PG, 0);
	unsigned char *vec = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	unsigned char *a = vme_mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	INJECT_ALL(inj_pread, EIO);
	errno = 0;
	cr_assert_eq(vme_mincore(a, PG, vec), -1, "copy_to_user into a page that cannot be read");
	cr_assert_eq(errno, EFAULT);
	heal();
	cr_assert_eq(vme_mincore(a, PG, vec), 0);
}

/* ===================================================================== */
/* Write-back: pwrite, fstat, fdatasync                                   */
/* ===================================================================== */

static void writeback_error_stays_dirty(int err)
{
	int fd;
	unsigned char *p = dirty_shared(&fd, 2, 0x30);
	uint64_t wb_before = stats().writeback_error;

	INJECT_ALL(inj_pwrite, err);
	errno = 0;
	cr_assert_eq(vme_msync(p, 2 * PG, MS_SYNC), -1);
	cr_assert_eq(errno, err, "errno %d (%s), want %d", errno, strerror(errno), err);
	cr_assert_geq(stats().writeback_error, wb_before + 1);
	assert_file_byte(fd, 0, pattern_byte(0));	/* nothing reached the file */
	errno = 0;
	cr_assert_eq(vme_msync(p, 2 * PG, MS_SYNC), -1, "the page stayed dirty: tried again");
	cr_assert_eq(errno, err);
	heal();
	cr_assert_eq(vme_msync(p, 2 * PG, MS_SYNC), 0, "%s", strerror(errno));
	assert_file_filled(fd, 0, 2 * PG, 0x30);
	cr_assert_eq(vme_munmap(p, 2 * PG), 0);
	cr_assert_eq(vme_shutdown(), 0, "nothing left to report: %s", strerror(errno));
}

Test(inject, pwrite_eio_msync_fails_page_stays_dirty_nothing_lost, .init = setup, .fini = teardown,
     .timeout = 20)
{
	writeback_error_stays_dirty(EIO);
}

Test(inject, pwrite_enospc_msync_fails_page_stays_dirty_nothing_lost, .init = setup,
     .fini = teardown, .timeout = 20)
{
	writeback_error_stays_dirty(ENOSPC);
}

Test(inject, pwrite_eio_on_the_nth_page_fails_that_page_only, .init = setup, .fini = teardown,
     .timeout = 20)
{
	int fd;
	unsigned char *p = dirty_shared(&fd, 3, 0x41);

	pwrite_bad = PG;
	errno = 0;
	cr_assert_eq(vme_msync(p, 3 * PG, MS_SYNC), -1);
	cr_assert_eq(errno, EIO);
	assert_file_filled(fd, 0, PG, 0x41);
	assert_file_byte(fd, PG, pattern_byte(PG));
	assert_file_filled(fd, 2 * PG, PG, (unsigned char)(0x41 + 2 * PG * 7));
	pwrite_bad = -1;
	int calls = inj_pwrite.calls;
	cr_assert_eq(vme_msync(p, 3 * PG, MS_SYNC), 0, "the failure was transient");
	cr_assert_eq(inj_pwrite.calls, calls + 1, "only the failed page was written again");
	cr_assert_eq(pwritev_last_off, (off_t)PG);
	cr_assert_eq(pwritev_last_len, PG);
	assert_file_filled(fd, 0, 3 * PG, 0x41);
}

/* A run of eight dirty pages is one vector write; a bad block under its
 * fourth page stops it there: the three before reach the file, the write
 * goes on after the bad page, and exactly that page stays dirty (the next
 * msync writes it and nothing else), while the others were cleaned (write-
 * protected: their next store faults again).  Linux reports the error
 * alike; it drops the failed page's dirty bit, where vmemu keeps the data
 * for a later try (docs/design.md, "Write-back: runs of pages"). */
Test(inject, eio_in_the_middle_of_a_run_leaves_exactly_that_page_dirty, .init = setup, .fini = teardown,
     .timeout = 20)
{
	int fd;
	unsigned char *p = dirty_shared(&fd, 8, 0x5d);

	pwrite_bad = 3 * PG;
	errno = 0;
	int calls = inj_pwrite.calls;
	uint64_t errors = stats().writeback_error;
	cr_assert_eq(vme_msync(p, 8 * PG, MS_SYNC), -1);
	cr_assert_eq(errno, EIO);
	cr_assert_eq(inj_pwrite.calls - calls, 3, "the run (short at the bad block), the bad page, the rest");
	cr_assert_eq(pwritev_last_off, (off_t)(4 * PG), "the write went on after the bad page");
	cr_assert_eq(pwritev_last_len, 4 * PG);
	assert_file_filled(fd, 0, 3 * PG, 0x5d);
	assert_file_byte(fd, 3 * PG, pattern_byte(3 * PG));
	assert_file_byte(fd, 4 * PG - 1, pattern_byte(4 * PG - 1));
	assert_file_filled(fd, 4 * PG, 4 * PG, (unsigned char)(0x5d + 4 * PG * 7));
	cr_assert_eq(stats().writeback_error - errors, 1, "one page failed");

	pwrite_bad = -1;
	calls = inj_pwrite.calls;
	cr_assert_eq(vme_msync(p, 8 * PG, MS_SYNC), 0, "%s", strerror(errno));
	cr_assert_eq(inj_pwrite.calls - calls, 1, "only the failed page was dirty");
	cr_assert_eq(pwritev_last_off, (off_t)(3 * PG));
	cr_assert_eq(pwritev_last_len, PG);
	assert_file_filled(fd, 0, 8 * PG, 0x5d);

	uint64_t wp = stats().wp_fault;
	for (int i = 0; i < 8; i++)
		p[i * PG] = 0x77;
	cr_assert_eq(stats().wp_fault - wp, 8, "every page was clean and write-protected again");
	assert_vm_valid("after the failed and the healed msync");
}

Test(inject, pwrite_eintr_is_retried, .init = setup, .fini = teardown, .timeout = 20)
{
	int fd;
	unsigned char *p = dirty_shared(&fd, 2, 0x52);

	INJECT(inj_pwrite, EINTR, 1, 3);
	cr_assert_eq(vme_msync(p, 2 * PG, MS_SYNC), 0, "%s", strerror(errno));
	cr_assert_eq(inj_pwrite.failed, 3);
	assert_file_filled(fd, 0, 2 * PG, 0x52);
	cr_assert_eq(stats().writeback_error, 0);
}

Test(inject, pwrite_one_byte_at_a_time_is_completed, .init = setup, .fini = teardown, .timeout = 30)
{
	int fd;
	unsigned char *p = dirty_shared(&fd, 2, 0x63);

	pwrite_chunk = 1;
	INJECT(inj_pwrite, 0, 0, 0);
	cr_assert_eq(vme_msync(p, 2 * PG, MS_SYNC), 0, "%s", strerror(errno));
	cr_assert_geq(inj_pwrite.calls, (int)(2 * PG));
	assert_file_filled(fd, 0, 2 * PG, 0x63);
}

Test(inject, pwrite_short_and_interrupted_is_completed, .init = setup, .fini = teardown, .timeout = 20)
{
	int fd;
	unsigned char *p = dirty_shared(&fd, 1, 0x74);

	pwrite_chunk = 1000;
	INJECT_SCRIPT(inj_pwrite, 0, EINTR, 0, EINTR, 0, 0);
	cr_assert_eq(vme_munmap(p, PG), 0);	/* write-back at munmap */
	cr_assert_eq(inj_pwrite.failed, 2);
	assert_file_filled(fd, 0, PG, 0x74);
	cr_assert_eq(vme_shutdown(), 0);
}

Test(inject, pwrite_making_no_progress_is_eio, .init = setup, .fini = teardown, .timeout = 20)
{
	int fd;
	unsigned char *p = dirty_shared(&fd, 1, 0x85);

	pwrite_zero = true;
	errno = 0;
	cr_assert_eq(vme_msync(p, PG, MS_SYNC), -1);
	cr_assert_eq(errno, EIO);
	pwrite_zero = false;
	cr_assert_eq(vme_msync(p, PG, MS_SYNC), 0);
	assert_file_filled(fd, 0, PG, 0x85);
}

Test(inject, fstat_failure_in_writepage_fails_msync_and_keeps_the_page_dirty, .init = setup,
     .fini = teardown, .timeout = 20)
{
	int fd;
	unsigned char *p = dirty_shared(&fd, 1, 0x96);

	INJECT_ALL(inj_fstat, EIO);
	errno = 0;
	cr_assert_eq(vme_msync(p, PG, MS_SYNC), -1);
	cr_assert_eq(errno, EIO);
	assert_file_byte(fd, 0, pattern_byte(0));
	heal();
	cr_assert_eq(vme_msync(p, PG, MS_SYNC), 0);
	assert_file_filled(fd, 0, PG, 0x96);
}

Test(inject, fdatasync_eio_fails_ms_sync_after_the_data_is_written, .init = setup, .fini = teardown,
     .timeout = 20)
{
	int fd;
	unsigned char *p = dirty_shared(&fd, 2, 0xa7);

	INJECT_ALL(inj_fdatasync, EIO);
	errno = 0;
	cr_assert_eq(vme_msync(p, 2 * PG, MS_SYNC), -1);
	cr_assert_eq(errno, EIO);
	assert_file_filled(fd, 0, 2 * PG, 0xa7);	/* written, not made durable */
	heal();
	cr_assert_eq(vme_msync(p, 2 * PG, MS_SYNC), 0);
	cr_assert_eq(vme_shutdown(), 0);
}

Test(inject, fdatasync_eintr_is_retried, .init = setup, .fini = teardown, .timeout = 20)
{
	int fd;
	unsigned char *p = dirty_shared(&fd, 1, 0xb8);

	INJECT(inj_fdatasync, EINTR, 1, 2);
	cr_assert_eq(vme_msync(p, PG, MS_SYNC), 0, "%s", strerror(errno));
	cr_assert_eq(inj_fdatasync.failed, 2);
	assert_file_filled(fd, 0, PG, 0xb8);
}

/* MS_ASYNC is a no-op, as on Linux since 2.6.19: nothing is written, no
 * error can come back; the page stays dirty for MS_SYNC. */
Test(inject, ms_async_writes_nothing_back, .init = setup, .fini = teardown, .timeout = 20)
{
	int fd;
	unsigned char *p = dirty_shared(&fd, 1, 0xc9);

	INJECT_ALL(inj_pwrite, EIO);
	INJECT_ALL(inj_fdatasync, EIO);
	cr_assert_eq(vme_msync(p, PG, MS_ASYNC), 0);
	cr_assert_eq(inj_pwrite.calls, 0);
	cr_assert_eq(inj_fdatasync.calls, 0);
	heal();
	assert_file_byte(fd, 0, pattern_byte(0));
	cr_assert_eq(vme_msync(p, PG, MS_SYNC), 0);
	assert_file_filled(fd, 0, PG, 0xc9);
}

Test(inject, failed_writeback_at_munmap_is_reported_by_shutdown, .init = setup, .fini = teardown,
     .timeout = 20)
{
	int fds_before = count_fds();
	int fd;
	unsigned char *p = dirty_shared(&fd, 2, 0xda);

	INJECT_ALL(inj_pwrite, EIO);
	cr_assert_eq(vme_munmap(p, 2 * PG), 0, "munmap does not report write-back errors (Linux)");
	cr_assert_eq(stats().nr_vmas, 0);
	errno = 0;
	cr_assert_eq(vme_shutdown(), -1);
	cr_assert_eq(errno, EIO);
	cr_assert_eq(stats().nr_mapped_files, 1, "the dirty cache was kept");
	assert_file_byte(fd, 0, pattern_byte(0));
	errno = 0;
	cr_assert_eq(vme_shutdown(), -1, "still failing: still reported");
	cr_assert_eq(errno, EIO);
	heal();
	cr_assert_eq(vme_shutdown(), 0, "%s", strerror(errno));
	assert_file_filled(fd, 0, 2 * PG, 0xda);
	cr_assert_leq(count_fds(), fds_before + 1, "only the test's own file is left open (shutdown "
		      "also closed vmemu's own)");
}

Test(inject, failed_writeback_at_shutdown_releases_nothing, .init = setup, .fini = teardown,
     .timeout = 20)
{
	int fd;
	unsigned char *p = dirty_shared(&fd, 2, 0xeb);
	struct snapshot before = snap();

	INJECT_ALL(inj_pwrite, ENOSPC);
	errno = 0;
	cr_assert_eq(vme_shutdown(), -1);
	cr_assert_eq(errno, ENOSPC);
	heal();
	assert_nothing_left(before);
	cr_assert_eq(p[5], (unsigned char)(0xeb + 5 * 7), "the mapping is still there");
	p[6] = 1;				/* and still writable */
	cr_assert_eq(vme_shutdown(), 0, "%s", strerror(errno));
	assert_file_byte(fd, 6, 1);
	assert_file_byte(fd, PG + 1, (unsigned char)(0xeb + (PG + 1) * 7));
}

Test(inject, mapping_again_after_a_failed_munmap_writeback_sees_the_data, .init = setup,
     .fini = teardown, .timeout = 20)
{
	int fd;
	unsigned char *p = dirty_shared(&fd, 1, 0x17);

	INJECT_ALL(inj_pwrite, EIO);
	cr_assert_eq(vme_munmap(p, PG), 0);
	unsigned char *q = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(q, MAP_FAILED);
	cr_assert_eq(q[3], (unsigned char)(0x17 + 21), "the unwritten bytes are in the cache");
	heal();
	cr_assert_eq(vme_msync(q, PG, MS_SYNC), 0);
	assert_file_filled(fd, 0, PG, 0x17);
}

/* A remembered write-back error whose page is gone must not block
 * vme_shutdown forever (Linux reports such an error once). */
Test(inject, a_remembered_writeback_error_does_not_block_shutdown_forever, .init = setup,
     .fini = teardown, .timeout = 20)
{
	int fd;
	unsigned char *p = dirty_shared(&fd, 2, 0x28);

	INJECT_ALL(inj_pwrite, EIO);
	cr_assert_eq(vme_msync(p, 2 * PG, MS_SYNC), -1);
	heal();
	cr_assert_eq(vme_madvise(p, 2 * PG, MADV_REMOVE), 0, "%s", strerror(errno));
	int r1 = vme_shutdown();
	int r2 = r1 ? vme_shutdown() : 0;
	cr_assert_eq(r2, 0, "vme_shutdown keeps failing with %s with nothing dirty left",
		     strerror(errno));
}

/* Write-back write-protects the page so the next store is seen.  If that
 * protect fails, the next store must still reach the file. */
Test(inject, a_store_after_writeback_whose_protect_failed_is_not_lost, .init = setup,
     .fini = teardown, .timeout = 20)
{
	int fd;
	unsigned char *p = dirty_shared(&fd, 1, 0x39);

	INJECT_ALL(inj_mprotect, ENOMEM);
	int r = vme_msync(p, PG, MS_SYNC);
	heal();
	p[0] = 0x99;				/* after a successful (or failed) msync */
	cr_assert_eq(vme_msync(p, PG, MS_SYNC), 0);
	cr_assert_eq(vme_munmap(p, PG), 0);
	assert_file_byte(fd, 0, 0x99);
	(void)r;
}

/* ===================================================================== */
/* vme_mmap: ENOMEM and other host failures, nothing left behind          */
/* ===================================================================== */

Test(inject, host_mmap_enomem_anonymous_is_enomem_and_leaves_nothing, .init = setup,
     .fini = teardown, .timeout = 20)
{
	struct snapshot before = snap();
	INJECT_ALL(inj_mmap, ENOMEM);
	errno = 0;
	cr_assert_eq(vme_mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
		     MAP_FAILED);
	cr_assert_eq(errno, ENOMEM);
	heal();
	assert_nothing_left(before);
}

/* The file path calls the host mmap four times: the reservation, the
 * frames' view, the flags' view, and the VMA's backing. */
static void file_mmap_fails_cleanly(volatile struct inj *in, int err, int nth, int want_errno, int flags)
{
	int fd = pattern_file(4 * PG, 0);
	volatile unsigned char *warm = vme_mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	(void)warm[0];
	struct snapshot before = snap();

	/* The reservation and the backing are retried once on ENOMEM: fail
	 * the retry too, so the error is the final one. */
	INJECT(*in, err, nth, in == &inj_mmap && err == ENOMEM ? 2 : 1);
	if (in == &inj_fcntl)
		in->cmd = F_DUPFD_CLOEXEC;
	errno = 0;
	void *p = vme_mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, flags, fd, 0);
	int e = errno;
	int failed = in->failed;
	heal();
	cr_assert_geq(failed, 1, "the injection was not reached");
	cr_assert_eq(p, MAP_FAILED);
	cr_assert_eq(e, want_errno, "errno %d (%s), want %s", e, strerror(e), strerror(want_errno));
	assert_nothing_left(before);
	unsigned char *q = vme_mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, flags, fd, 0);
	cr_assert_neq(q, MAP_FAILED, "mapping works again once the fault is gone");
	assert_pattern(q, 0, 4 * PG);
}

Test(inject, host_mmap_enomem_file_reservation, .init = setup, .fini = teardown, .timeout = 20)
{
	file_mmap_fails_cleanly(&inj_mmap, ENOMEM, 1, ENOMEM, MAP_SHARED);
}

/* mmap(2) never returns EMFILE: Linux takes no descriptor for a mapping. */
Test(inject, dup_of_the_descriptor_failing_is_not_emfile, .init = setup, .fini = teardown,
     .timeout = 20)
{
	file_mmap_fails_cleanly(&inj_fcntl, EMFILE, 1, ENOMEM, MAP_SHARED);
}

Test(inject, fcntl_getfl_ebadf_is_ebadf, .init = setup, .fini = teardown, .timeout = 20)
{
	int fd = pattern_file(PG, 0);
	struct snapshot before = snap();
	INJECT_ALL(inj_fcntl, EBADF);
	inj_fcntl.cmd = F_GETFL;
	errno = 0;
	cr_assert_eq(vme_mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0), MAP_FAILED);
	cr_assert_eq(errno, EBADF);
	heal();
	assert_nothing_left(before);
}

Test(inject, fstat_ebadf_is_ebadf, .init = setup, .fini = teardown, .timeout = 20)
{
	int fd = pattern_file(PG, 0);
	struct snapshot before = snap();
	INJECT_ALL(inj_fstat, EBADF);
	errno = 0;
	cr_assert_eq(vme_mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0), MAP_FAILED);
	cr_assert_eq(errno, EBADF);
	heal();
	assert_nothing_left(before);
}

/* The second fstat (file_open_mapping's), after the first let it through. */
Test(inject, fstat_failure_opening_the_page_cache_leaves_nothing, .init = setup, .fini = teardown,
     .timeout = 20)
{
	int fd = pattern_file(PG, 0);
	struct snapshot before = snap();
	INJECT_NTH(inj_fstat, EBADF, 2);
	errno = 0;
	cr_assert_eq(vme_mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0), MAP_FAILED);
	cr_assert_eq(errno, EBADF);
	cr_assert_eq(inj_fstat.failed, 1);
	heal();
	assert_nothing_left(before);
}

static void shmem_mmap_fails_cleanly(volatile struct inj *in, int nth)
{
	struct snapshot before = snap();
	INJECT(*in, ENOMEM, nth, in == &inj_mmap ? 2 : 1);	/* and its retry */
	errno = 0;
	void *p = vme_mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int e = errno, failed = in->failed;
	heal();
	cr_assert_geq(failed, 1, "the injection was not reached");
	cr_assert_eq(p, MAP_FAILED);
	cr_assert_eq(e, ENOMEM);
	assert_nothing_left(before);
}

Test(inject, shared_anonymous_host_mmap_enomem_reservation, .init = setup, .fini = teardown, .timeout = 20)
{
	shmem_mmap_fails_cleanly(&inj_mmap, 1);
}

Test(inject, map_fixed_noreplace_reservation_enomem, .init = setup, .fini = teardown, .timeout = 20)
{
	unsigned char *hint = vme_mmap(NULL, 4 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_eq(vme_munmap(hint, 4 * PG), 0);
	int fd = pattern_file(4 * PG, 0);
	struct snapshot before = snap();
	INJECT_ALL(inj_mmap, ENOMEM);
	errno = 0;
	cr_assert_eq(vme_mmap(hint, 4 * PG, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0), MAP_FAILED);
	cr_assert_eq(errno, ENOMEM);
	heal();
	assert_nothing_left(before);
}

/* The table: ENOMEM from the host mmap is "reclaim, retry, then the
 * Linux error".  A single transient ENOMEM must not fail the call. */
Test(inject, transient_host_mmap_enomem_is_retried, .init = setup, .fini = teardown, .timeout = 20)
{
	INJECT_NTH(inj_mmap, ENOMEM, 1);
	void *p = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED, "one transient ENOMEM failed vme_mmap: %s", strerror(errno));
}

/* ===================================================================== */
/* The host mprotect: in the fault path, vme_mprotect, write-protect      */
/* ===================================================================== */

/* Today: finish_fault turns the failure into VM_FAULT_OOM, and the access
 * gets SIGBUS (BUS_ADRERR) at its address.  (Linux would run the OOM killer
 * and retry the access: it never raises SIGBUS for VM_FAULT_OOM.)  A file
 * page's frame is mapped at the address with the host's mmap. */
Test(inject, host_mmap_enomem_mapping_a_frame_in_a_fault_is_sigbus_at_the_address, .init = setup,
     .fini = teardown, .timeout = 20)
{
	int fd = pattern_file(2 * PG, 0);
	unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	unsigned char c;
	uint64_t sigbus = stats().sigbus_delivered, read_error = stats().read_error;

	catch_signal(SIGBUS);
	INJECT_ALL(inj_mmap, ENOMEM);
	cr_assert_eq(try_read(p + PG + 17, &c), SIGBUS);
	cr_assert_geq(inj_mmap.failed, 1);
	cr_assert_eq(seen.si_code, BUS_ADRERR);
	cr_assert_eq(seen.si_addr, p + PG + 17);
	cr_assert_eq(stats().sigbus_delivered, sigbus + 1);
	cr_assert_eq(stats().read_error, read_error, "the page was read fine");
	heal();
	cr_assert_eq(try_read(p + PG + 17, &c), 0, "the next access maps it");
	cr_assert_eq(c, pattern_byte(PG + 17));
}

/* The pool grows by growing the domain's segment in /dev/shm.  If that
 * fails (the tmpfs is full), no frame can be had: the access gets SIGBUS
 * at its address, nothing is left half made, and once there is room the
 * next access works. */
Test(inject, segment_growth_failure_in_a_fault_is_sigbus_then_retried, .init = setup_uninitialised,
     .fini = teardown, .timeout = 20)
{
	struct vme_config cfg = { .cache_mb = 8, .domain = "private" };	/* a pool of its own: empty */
	cr_assert_eq(vme_init(&cfg), 0);
	int fd = pattern_file(4 * PG, 0);
	unsigned char *p = vme_mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, fd, 0);
	unsigned char c;

	catch_signal(SIGBUS);
	INJECT_ALL(inj_fallocate, ENOSPC);
	cr_assert_eq(try_read(p + 2 * PG + 9, &c), SIGBUS);
	cr_assert_geq(inj_fallocate.failed, 1, "the segment was not grown");
	cr_assert_eq(seen.si_addr, p + 2 * PG + 9);
	cr_assert_eq(stats().nr_cached, 0, "no frame half taken");
	heal();
	cr_assert_eq(try_read(p + 2 * PG + 9, &c), 0);
	cr_assert_eq(c, pattern_byte(2 * PG + 9));
}

Test(inject, host_mprotect_enomem_in_an_anonymous_fault_kills_with_sigbus, .init = setup,
     .fini = teardown, .signal = SIGBUS, .timeout = 20)
{
	volatile unsigned char *p = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	INJECT_ALL(inj_mprotect, ENOMEM);
	p[0] = 1;
}

Test(inject, transient_host_mprotect_enomem_in_a_fault_is_retried, .init = setup, .fini = teardown,
     .timeout = 20)
{
	unsigned char *p = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	catch_signal(SIGBUS);
	INJECT_NTH(inj_mprotect, ENOMEM, 1);
	cr_assert_eq(try_write(p, 5), 0, "one transient ENOMEM killed the access");
	cr_assert_eq(p[0], 5);
}

Test(inject, host_mprotect_enomem_in_madv_populate_is_enomem, .init = setup, .fini = teardown,
     .timeout = 20)
{
	unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	INJECT_ALL(inj_mprotect, ENOMEM);
	errno = 0;
	cr_assert_eq(vme_madvise(p, 2 * PG, MADV_POPULATE_WRITE), -1);
	cr_assert_eq(errno, ENOMEM);
	heal();
	p[PG] = 3;
	cr_assert_eq(p[PG], 3);
}

/* mprotect(2) fails with ENOMEM when the kernel cannot allocate; vmemu's
 * change_protection only warns and returns 0. */
Test(inject, host_mprotect_enomem_makes_vme_mprotect_fail_with_enomem, .init = setup,
     .fini = teardown, .timeout = 20)
{
	unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p[0] = 1;
	INJECT_ALL(inj_mprotect, ENOMEM);
	errno = 0;
	int r = vme_mprotect(p, 2 * PG, PROT_READ);
	cr_assert_eq(r, -1, "vme_mprotect returned %d though the host refused", r);
	cr_assert_eq(errno, ENOMEM);
}

/* Whatever vme_mprotect returned: if it said PROT_READ, PROT_READ holds. */
Test(inject, a_host_mprotect_failure_never_leaves_a_read_only_page_writable, .init = setup,
     .fini = teardown, .timeout = 20)
{
	unsigned char *p = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p[0] = 1;
	INJECT_NTH(inj_mprotect, ENOMEM, 1);
	int r = vme_mprotect(p, PG, PROT_READ);
	heal();
	if (r != 0)
		cr_skip_test("vme_mprotect reported the failure (%s)", strerror(errno));
	catch_signal(SIGSEGV);
	cr_assert_eq(try_write(p, 2), SIGSEGV, "a write to a PROT_READ page went through");
	cr_assert_eq(p[0], 1);
}

Test(inject, host_mprotect_failure_outside_vmemu_passes_through, .init = setup, .fini = teardown,
     .timeout = 20)
{
	void *h = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	INJECT_ALL(inj_mprotect, ENOMEM);
	errno = 0;
	cr_assert_eq(vme_mprotect(h, PG, PROT_READ), -1);
	cr_assert_eq(errno, ENOMEM);
	munmap(h, PG);
}

/* ===================================================================== */
/* madvise, msync, mincore, munmap                                        */
/* ===================================================================== */

Test(inject, dontneed_with_host_mprotect_failure_never_shows_old_bytes, .init = setup,
     .fini = teardown, .timeout = 20)
{
	unsigned char *p = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(p, 0x55, PG);
	INJECT_ALL(inj_mprotect, ENOMEM);
	int r = vme_madvise(p, PG, MADV_DONTNEED);
	heal();
	if (r == 0)
		cr_assert_eq(p[0], 0, "MADV_DONTNEED succeeded but the old bytes are still there");
}

Test(inject, dontneed_with_host_madvise_failure_never_shows_old_bytes, .init = setup,
     .fini = teardown, .timeout = 20)
{
	unsigned char *p = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(p, 0x55, PG);
	INJECT_ALL(inj_madvise, EAGAIN);
	int r = vme_madvise(p, PG, MADV_DONTNEED);
	heal();
	if (r == 0)
		cr_assert_eq(p[0], 0, "MADV_DONTNEED succeeded but the old bytes are still there");
}

Test(inject, madv_remove_punch_hole_failure_returns_it_and_keeps_the_data, .init = setup,
     .fini = teardown, .timeout = 20)
{
	int fd;
	unsigned char *p = dirty_shared(&fd, 1, 0x4a);
	INJECT_ALL(inj_fallocate, EOPNOTSUPP);
	errno = 0;
	cr_assert_eq(vme_madvise(p, PG, MADV_REMOVE), -1);
	cr_assert_eq(errno, EOPNOTSUPP);
	heal();
	cr_assert_eq(p[1], (unsigned char)(0x4a + 7));
	cr_assert_eq(vme_msync(p, PG, MS_SYNC), 0);
	assert_file_filled(fd, 0, PG, 0x4a);
}

Test(inject, madvise_passed_to_the_host_returns_its_error, .init = setup, .fini = teardown,
     .timeout = 20)
{
	void *p = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	INJECT_ALL(inj_madvise, EAGAIN);
	errno = 0;
	cr_assert_eq(vme_madvise(p, PG, MADV_DONTDUMP), -1);
	cr_assert_eq(errno, EAGAIN);
}

Test(inject, msync_of_a_host_mapping_returns_the_host_error, .init = setup, .fini = teardown,
     .timeout = 20)
{
	void *h = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	INJECT_ALL(inj_msync, EIO);
	errno = 0;
	cr_assert_eq(vme_msync(h, PG, MS_SYNC), -1);
	cr_assert_eq(errno, EIO);
	munmap(h, PG);
}

Test(inject, mincore_of_a_host_mapping_returns_the_host_error, .init = setup, .fini = teardown,
     .timeout = 20)
{
	void *h = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char vec[1];
	INJECT_ALL(inj_mincore, EAGAIN);
	errno = 0;
	cr_assert_eq(vme_mincore(h, PG, vec), -1);
	cr_assert_eq(errno, EAGAIN);
	munmap(h, PG);
}

/* munmap(2) that fails (ENOMEM: too many mappings after a split) has
 * changed nothing; vmemu drops its VMAs first and then fails. */
Test(inject, host_munmap_failure_leaves_the_mapping_in_place, .init = setup, .fini = teardown,
     .timeout = 20)
{
	unsigned char *p = vme_mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(p, 0x66, 3 * PG);
	uint64_t vmas = stats().nr_vmas;
	INJECT_ALL(inj_munmap, ENOMEM);
	errno = 0;
	int r = vme_munmap(p + PG, PG);
	heal();
	cr_assert_eq(r, -1);
	cr_assert_eq(errno, ENOMEM);
	cr_assert_eq(stats().nr_vmas, vmas, "a failed munmap removed VMAs");
	cr_assert_eq(p[PG], 0x66);
}

/* ===================================================================== */
/* mremap                                                                 */
/* ===================================================================== */

/* A mapping of n pages with a neighbour right after it (no room to grow in
 * place), filled with 0x70 + page. */
static unsigned char *blocked_anon(size_t n, unsigned char **next)
{
	unsigned char *p = vme_mmap(NULL, (n + 1) * PG, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	*next = vme_mmap(p + n * PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	cr_assert_eq(*next, p + n * PG);
	for (size_t i = 0; i < n; i++)
		memset(p + i * PG, 0x70 + (int)i, PG);
	return p;
}

static void assert_blocked_anon(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < PG; j += 511)
			cr_assert_eq(p[i * PG + j], 0x70 + i, "page %zu byte %zu", i, j);
}

Test(inject, mremap_grow_in_place_backing_failure_keeps_the_mapping, .init = setup,
     .fini = teardown, .timeout = 20)
{
	unsigned char *p = vme_mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_eq(vme_munmap(p + 2 * PG, 2 * PG), 0);	/* room to grow in place */
	memset(p, 0x70, 2 * PG);
	memset(p + PG, 0x71, PG);
	struct snapshot before = snap();
	INJECT_NTH(inj_mmap, ENOMEM, 2);	/* 1: the room after it, 2: its backing */
	errno = 0;
	cr_assert_eq(vme_mremap(p, 2 * PG, 4 * PG, 0), MAP_FAILED);
	cr_assert_eq(errno, ENOMEM);
	cr_assert_eq(inj_mmap.failed, 1);
	heal();
	assert_nothing_left(before);
	assert_blocked_anon(p, 2);
	cr_assert_eq(vme_mremap(p, 2 * PG, 4 * PG, 0), p, "the room was given back");
}

Test(inject, mremap_move_reservation_failure_keeps_the_mapping, .init = setup, .fini = teardown,
     .timeout = 20)
{
	unsigned char *next, *p = blocked_anon(2, &next);
	struct snapshot before = snap();
	INJECT_ALL(inj_mmap, ENOMEM);
	errno = 0;
	cr_assert_eq(vme_mremap(p, 2 * PG, 4 * PG, MREMAP_MAYMOVE), MAP_FAILED);
	cr_assert_eq(errno, ENOMEM);
	heal();
	assert_nothing_left(before);
	assert_blocked_anon(p, 2);
}

Test(inject, mremap_host_move_failure_keeps_the_mapping, .init = setup, .fini = teardown,
     .timeout = 20)
{
	unsigned char *next, *p = blocked_anon(4, &next);
	struct snapshot before = snap();
	INJECT_ALL(inj_mremap, ENOMEM);
	errno = 0;
	cr_assert_eq(vme_mremap(p, 4 * PG, 8 * PG, MREMAP_MAYMOVE), MAP_FAILED);
	cr_assert_eq(errno, ENOMEM);
	heal();
	assert_nothing_left(before);
	assert_blocked_anon(p, 4);
}

/* The host moves the range in pieces (EFAULT: it spans host mappings); the
 * first piece moves, the second fails.  The first must come back. */
Test(inject, mremap_host_move_failing_halfway_keeps_every_page, .init = setup, .fini = teardown,
     .timeout = 20)
{
	unsigned char *next, *p = blocked_anon(4, &next);
	catch_signal(SIGSEGV);
	catch_signal(SIGBUS);
	INJECT_SCRIPT(inj_mremap, EFAULT, 0, ENOMEM);
	errno = 0;
	cr_assert_eq(vme_mremap(p, 4 * PG, 8 * PG, MREMAP_MAYMOVE), MAP_FAILED);
	cr_assert_eq(errno, ENOMEM);
	heal();
	for (size_t i = 0; i < 4; i++) {
		unsigned char c = 0;
		int sig = try_read(p + i * PG, &c);
		cr_assert_eq(sig, 0, "page %zu of the old mapping: signal %d", i, sig);
		cr_assert_eq(c, 0x70 + i, "page %zu lost its data", i);
	}
}

/* Moved, then growing the new range's backing fails: the pages must be back
 * at the old address, not unmapped with the new range. */
Test(inject, mremap_move_then_backing_failure_keeps_every_page, .init = setup, .fini = teardown,
     .timeout = 20)
{
	unsigned char *next, *p = blocked_anon(2, &next);
	catch_signal(SIGSEGV);
	catch_signal(SIGBUS);
	INJECT_NTH(inj_mmap, ENOMEM, 2);	/* 1: the new range, 2: backing its growth */
	errno = 0;
	cr_assert_eq(vme_mremap(p, 2 * PG, 4 * PG, MREMAP_MAYMOVE), MAP_FAILED);
	cr_assert_eq(errno, ENOMEM);
	cr_assert_eq(inj_mmap.failed, 1);
	heal();
	for (size_t i = 0; i < 2; i++) {
		unsigned char c = 0;
		int sig = try_read(p + i * PG, &c);
		cr_assert_eq(sig, 0, "page %zu of the old mapping: signal %d", i, sig);
		cr_assert_eq(c, 0x70 + i, "page %zu lost its data", i);
	}
}

Test(inject, mremap_second_mapping_backing_failure_leaves_nothing, .init = setup, .fini = teardown,
     .timeout = 20)
{
	int fd;
	unsigned char *p = dirty_shared(&fd, 1, 0x3c);
	struct snapshot before = snap();
	INJECT(inj_mmap, ENOMEM, 2, 2);	/* 1: the new range, 2-3: its backing and the retry */
	errno = 0;
	cr_assert_eq(vme_mremap(p, 0, PG, MREMAP_MAYMOVE), MAP_FAILED);
	cr_assert_eq(errno, ENOMEM);
	heal();
	assert_nothing_left(before);
	unsigned char *q = vme_mremap(p, 0, PG, MREMAP_MAYMOVE);
	cr_assert_neq(q, MAP_FAILED);
	cr_assert_eq(q[7], (unsigned char)(0x3c + 49));
}

Test(inject, mremap_second_mapping_reservation_failure_is_enomem, .init = setup, .fini = teardown,
     .timeout = 20)
{
	int fd;
	unsigned char *p = dirty_shared(&fd, 1, 0x3c);
	struct snapshot before = snap();
	INJECT_ALL(inj_mmap, ENOMEM);
	errno = 0;
	cr_assert_eq(vme_mremap(p, 0, PG, MREMAP_MAYMOVE), MAP_FAILED);
	cr_assert_eq(errno, ENOMEM);
	heal();
	assert_nothing_left(before);
}

Test(inject, mremap_fixed_reservation_failure_keeps_the_source, .init = setup, .fini = teardown,
     .timeout = 20)
{
	unsigned char *next, *p = blocked_anon(2, &next);
	unsigned char *dst = vme_mmap(NULL, 2 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_eq(vme_munmap(dst, 2 * PG), 0);
	INJECT_ALL(inj_mmap, ENOMEM);
	errno = 0;
	cr_assert_eq(vme_mremap(p, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, dst), MAP_FAILED);
	cr_assert_eq(errno, ENOMEM);
	heal();
	assert_blocked_anon(p, 2);
}

/* MREMAP_DONTUNMAP: the old range keeps its VMA, and reads zeros (private
 * anonymous) afterwards.  If its new backing cannot be had, the call must
 * fail, or the old range must still read zeros: never SIGBUS. */
Test(inject, mremap_dontunmap_backing_failure_never_leaves_a_dead_range, .init = setup,
     .fini = teardown, .timeout = 20)
{
	unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(p, 0x44, 2 * PG);
	catch_signal(SIGBUS);
	catch_signal(SIGSEGV);
	INJECT_NTH(inj_mmap, ENOMEM, 2);	/* 1: the new range, 2: the old one's backing */
	unsigned char *q = vme_mremap(p, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
	heal();
	unsigned char c = 0xff;
	if (q == MAP_FAILED) {
		cr_assert_eq(try_read(p, &c), 0);
		cr_assert_eq(c, 0x44, "failed, yet the data is gone");
	} else {
		cr_assert_eq(q[PG], 0x44);
		int sig = try_read(p, &c);
		cr_assert_eq(sig, 0, "the old range of a DONTUNMAP move raises signal %d", sig);
		cr_assert_eq(c, 0);
	}
}

Test(inject, mremap_of_a_host_mapping_returns_the_host_error, .init = setup, .fini = teardown,
     .timeout = 20)
{
	void *h = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	INJECT_ALL(inj_mremap, EAGAIN);
	errno = 0;
	cr_assert_eq(vme_mremap(h, PG, 2 * PG, MREMAP_MAYMOVE), MAP_FAILED);
	cr_assert_eq(errno, EAGAIN);
	heal();
	munmap(h, PG);
}

Test(inject, mmap_passed_to_the_host_returns_its_error, .init = setup, .fini = teardown,
     .timeout = 20)
{
	struct snapshot before = snap();
	INJECT_ALL(inj_mmap, ENOMEM);
	errno = 0;
	cr_assert_eq(vme_mmap(NULL, 2UL << 20, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0), MAP_FAILED);
	cr_assert_eq(errno, ENOMEM);
	cr_assert_eq(inj_mmap.failed, 1, "MAP_HUGETLB goes to the host");
	heal();
	assert_nothing_left(before);
}

/* A second mapping of a file revalidates its cache with fstat. */
Test(inject, fstat_failure_revalidating_a_second_mapping_leaves_nothing, .init = setup,
     .fini = teardown, .timeout = 20)
{
	int fd;
	unsigned char *p = dirty_shared(&fd, 1, 0x1d);
	struct snapshot before = snap();
	INJECT_NTH(inj_fstat, EIO, 3);		/* host_only, file_open_mapping, revalidate */
	void *q = vme_mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	int failed = inj_fstat.failed;
	heal();
	cr_assert_eq(failed, 1);
	cr_assert_eq(q, MAP_FAILED);
	assert_nothing_left(before);
	cr_assert_eq(p[2], (unsigned char)(0x1d + 14), "the dirty cache is untouched");
	cr_assert_eq(vme_msync(p, PG, MS_SYNC), 0);
	assert_file_filled(fd, 0, PG, 0x1d);
}

Test(inject, fstat_failure_in_ms_invalidate_keeps_the_dirty_pages, .init = setup, .fini = teardown,
     .timeout = 20)
{
	int fd;
	unsigned char *p = dirty_shared(&fd, 1, 0x2e);
	INJECT_ALL(inj_fstat, EIO);
	errno = 0;
	cr_assert_eq(vme_msync(p, PG, MS_INVALIDATE), -1);
	cr_assert_eq(errno, EIO);
	heal();
	cr_assert_eq(p[2], (unsigned char)(0x2e + 14));
	cr_assert_eq(vme_msync(p, PG, MS_SYNC), 0);
	assert_file_filled(fd, 0, PG, 0x2e);
}

/* ===================================================================== */
/* brk, devices, initialisation, vme_sigaction                            */
/* ===================================================================== */

Test(inject, brk_reservation_failure_is_enomem, .init = setup, .fini = teardown, .timeout = 20)
{
	INJECT_ALL(inj_mmap, ENOMEM);
	errno = 0;
	cr_assert_eq(vme_sbrk(PG), (void *)-1);
	cr_assert_eq(errno, ENOMEM);
	errno = 0;
	cr_assert_eq(vme_brk((void *)0x10000), -1);
	cr_assert_eq(errno, ENOMEM);
	heal();
	unsigned char *b = vme_sbrk(PG);
	cr_assert_neq(b, (void *)-1);
	b[0] = 1;
	cr_assert_eq(b[0], 1);
}

static int dev_opens, dev_closes;
static int tdev_open(void *priv)
{
	(void)priv;
	dev_opens++;
	return 0;
}
static void tdev_close(void *priv)
{
	(void)priv;
	dev_closes++;
}
static int tdev_fault(struct vme_fault *f)
{
	memset(f->page, 0x77, f->page_size);
	return 0;
}
static const struct vme_device_ops tdev_ops = {
	.name = "inject-dev", .open = tdev_open, .close = tdev_close, .fault = tdev_fault,
};

static void device_open_fails_cleanly(volatile struct inj *in, int err, int nth, int want)
{
	int fds = count_fds();
	/* The reservation and the backing are retried once on ENOMEM: fail
	 * the retry too, so the error is the final one. */
	INJECT(*in, err, nth, in == &inj_mmap && err == ENOMEM ? 2 : 1);
	if (in == &inj_fcntl)
		in->cmd = F_DUPFD_CLOEXEC;
	errno = 0;
	int fd = vme_device_open(&tdev_ops, NULL);
	int e = errno, failed = in->failed;
	heal();
	cr_assert_eq(failed, 1, "the injection was not reached");
	cr_assert_eq(fd, -1);
	cr_assert_eq(e, want, "errno %s, want %s", strerror(e), strerror(want));
	cr_assert_eq(count_fds(), fds, "a descriptor leaked");
	cr_assert_eq(dev_opens, dev_closes, "open %d, close %d", dev_opens, dev_closes);
	fd = vme_device_open(&tdev_ops, NULL);
	cr_assert_geq(fd, 0);
	unsigned char *p = vme_mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_eq(p[10], 0x77);
}

Test(inject, device_open_memfd_failure, .init = setup, .fini = teardown, .timeout = 20)
{
	device_open_fails_cleanly(&inj_memfd, EMFILE, 1, EMFILE);
}

Test(inject, device_open_fstat_failure, .init = setup, .fini = teardown, .timeout = 20)
{
	device_open_fails_cleanly(&inj_fstat, EIO, 1, EIO);
}

static int tdev_mmap_refuse(void *priv, const struct vme_vm_area *vma)
{
	(void)priv, (void)vma;
	return -ENODEV;
}

/* mmap_region's f_op->mmap failing (a driver refusing) leaves nothing. */
Test(inject, driver_mmap_refusal_leaves_nothing, .init = setup, .fini = teardown, .timeout = 20)
{
	struct vme_device_ops ops = tdev_ops;
	ops.mmap = tdev_mmap_refuse;
	int fd = vme_device_open(&ops, NULL);
	cr_assert_geq(fd, 0);
	struct snapshot before = snap();
	errno = 0;
	cr_assert_eq(vme_mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0), MAP_FAILED);
	cr_assert_eq(errno, ENODEV);
	assert_nothing_left(before);
	cr_assert_eq(vme_device_close(fd), 0);
}

Test(inject, init_fails_with_enomem_when_page_tables_cannot_be_had, .init = setup_uninitialised,
     .fini = teardown, .timeout = 20)
{
	INJECT_NTH(inj_mmap, ENOMEM, 2);	/* the PTE pool, after the directory */
	errno = 0;
	cr_assert_eq(vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
		     MAP_FAILED);
	cr_assert_eq(errno, ENOMEM);
	cr_assert_eq(inj_mmap.failed, 1);
	heal();
	unsigned char *p = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED, "initialisation is retried");
	p[0] = 1;
	cr_assert_eq(p[0], 1);
}

Test(inject, sigaction_reading_an_unreadable_emulated_struct_is_efault, .init = setup,
     .fini = teardown, .timeout = 20)
{
	int fd = pattern_file(PG, 0);
	struct sigaction *act = vme_mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0);
	INJECT_ALL(inj_pread, EIO);
	errno = 0;
	cr_assert_eq(vme_sigaction(SIGSEGV, act, NULL), -1);
	cr_assert_eq(errno, EFAULT);
}
