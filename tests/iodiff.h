/*
 * iodiff.h - differential tests of file I/O with mappings: the same
 * scenario runs once on the host (mmap, pread, pwrite, ftruncate, ...) and
 * once on vmemu (vme_mmap, vme_pread, ...), writing what it observes to a
 * log: return values and errno, bytes in memory, bytes on disk, the signal
 * an access raised (with si_code and the offset of si_addr).  The two logs
 * must be identical; a mismatch is reported at its first differing line.
 */
#ifndef VMEMU_TESTS_IODIFF_H
#define VMEMU_TESTS_IODIFF_H

#include <criterion/criterion.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <vmemu.h>

#include "testutil.h"

/* One world: the host's calls or vmemu's. */
struct io_world {
	const char *name;
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	int (*munmap)(void *, size_t);
	int (*msync)(void *, size_t, int);
	void *(*mremap)(void *, size_t, size_t, int);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*pread)(int, void *, size_t, off_t);
	ssize_t (*pwrite)(int, const void *, size_t, off_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*preadv)(int, const struct iovec *, int, off_t);
	ssize_t (*pwritev)(int, const struct iovec *, int, off_t);
	int (*ftruncate)(int, off_t);
	int (*truncate)(const char *, off_t);
	int (*fsync)(int);
	int (*fdatasync)(int);
};

/* mremap is variadic: these take only what the tests pass (MREMAP_MAYMOVE). */
static inline void *host_mremap4(void *a, size_t o, size_t n, int f)
{
	return mremap(a, o, n, f);
}

static inline void *vme_mremap4(void *a, size_t o, size_t n, int f)
{
	return vme_mremap(a, o, n, f);
}

static const struct io_world io_host = {
	"host", mmap, munmap, msync, host_mremap4, read, write, pread, pwrite, readv, writev, preadv, pwritev,
	ftruncate, truncate, fsync, fdatasync,
};

static const struct io_world io_vme = {
	"vmemu", vme_mmap, vme_munmap, vme_msync, vme_mremap4, vme_read, vme_write, vme_pread, vme_pwrite,
	vme_readv, vme_writev, vme_preadv, vme_pwritev, vme_ftruncate, vme_truncate, vme_fsync, vme_fdatasync,
};

/* What a scenario observed, one line per observation. */
struct io_log {
	char s[65536];
	size_t n;
};

static inline void io_logf(struct io_log *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int k = vsnprintf(l->s + l->n, sizeof(l->s) - l->n, fmt, ap);
	va_end(ap);
	cr_assert(k >= 0 && (size_t)k < sizeof(l->s) - l->n - 1, "log full");
	l->n += (size_t)k;
	l->s[l->n++] = '\n';
	l->s[l->n] = '\0';
}

/* A call's result: its value, and errno when it failed. */
static inline void io_log_ret(struct io_log *l, const char *what, long r)
{
	if (r < 0)
		io_logf(l, "%s = %ld errno %d", what, r, errno);
	else
		io_logf(l, "%s = %ld", what, r);
}

/* Bytes, in hex. */
static inline void io_log_bytes(struct io_log *l, const char *what, const volatile unsigned char *p, size_t n)
{
	char h[2 * 512 + 1];

	cr_assert(n <= 512);
	for (size_t i = 0; i < n; i++)
		sprintf(h + 2 * i, "%02x", p[i]);
	h[2 * n] = '\0';
	io_logf(l, "%s: %s", what, h);
}

/* The file as the host has it (what is "on disk"): size, and bytes
 * [off, off + n) read with the host's pread (a short read is logged). */
static inline void io_log_file(struct io_log *l, int fd, off_t off, size_t n)
{
	unsigned char b[512] = { 0 };
	struct stat st;

	cr_assert(n <= sizeof(b));
	cr_assert_eq(fstat(fd, &st), 0);
	ssize_t got = pread(fd, b, n, off);
	io_logf(l, "file size %ld, %zd bytes at %ld", (long)st.st_size, got, (long)off);
	io_log_bytes(l, "file", b, got > 0 ? (size_t)got : 0);
}

/* --- an access that may raise SIGBUS or SIGSEGV ---------------------------- */

static sigjmp_buf io_probe_env;
static volatile siginfo_t io_probe_info;

static inline void io_on_signal(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	io_probe_info = *info;
	siglongjmp(io_probe_env, sig);
}

/* SIGBUS goes to the host's handler (vmemu raises the host's SIGBUS);
 * SIGSEGV is vmemu's to pass on, so its handler is registered there. */
static inline void io_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = io_on_signal;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGBUS, &sa, NULL), 0);
	cr_assert_eq(vme_sigaction(SIGSEGV, &sa, NULL), 0);
}

/* Read (or, with store, write) the byte at p, base + off: log the byte, or
 * the signal with its code and the offset of its address from base. */
static inline void io_log_probe(struct io_log *l, const char *what, volatile unsigned char *base, size_t off,
				const unsigned char *store)
{
	volatile unsigned char *p = base + off;
	int sig = sigsetjmp(io_probe_env, 1);

	if (sig == 0) {
		if (store) {
			*p = *store;
			io_logf(l, "%s: stored at %zu", what, off);
		} else {
			io_logf(l, "%s: byte %02x at %zu", what, *p, off);
		}
		return;
	}
	io_logf(l, "%s: signal %d code %d at %+ld (probed %zu)", what, sig, io_probe_info.si_code,
		(long)((volatile unsigned char *)io_probe_info.si_addr - base), off);
}

/* A named file of size pattern bytes; its path goes to path (64 bytes). */
static inline int io_pattern_file(char *path, size_t size)
{
	snprintf(path, 64, "/tmp/vmemu-io-XXXXXX");
	int fd = mkstemp(path);
	cr_assert(fd >= 0, "mkstemp");
	track_file(path);
	unsigned char *buf = malloc(size ? size : 1);
	for (size_t i = 0; i < size; i++)
		buf[i] = pattern_byte(i);
	cr_assert_eq(pwrite(fd, buf, size, 0), (ssize_t)size);
	free(buf);
	return fd;
}

/* Run scenario in both worlds; the logs must match line for line.  The
 * host's log is returned for the caller's own checks of what Linux did
 * (so that a wrong assumption in the test shows as such). */
static inline void io_compare(void (*scenario)(const struct io_world *, struct io_log *), struct io_log *host_out)
{
	static struct io_log h, v;

	memset(&h, 0, sizeof(h));
	memset(&v, 0, sizeof(v));
	io_catch_signals();
	scenario(&io_host, &h);
	scenario(&io_vme, &v);
	const char *a = h.s, *b = v.s;
	int line = 1;
	while (*a && *a == *b) {
		if (*a == '\n')
			line++;
		a++, b++;
	}
	if (*a || *b) {
		const char *ha = a, *vb = b;
		while (ha > h.s && ha[-1] != '\n')
			ha--;
		while (vb > v.s && vb[-1] != '\n')
			vb--;
		int hl = (int)(strchr(ha, '\n') ? strchr(ha, '\n') - ha : (long)strlen(ha));
		int vl = (int)(strchr(vb, '\n') ? strchr(vb, '\n') - vb : (long)strlen(vb));
		cr_assert_fail("line %d differs:\n  host:  %.*s\n  vmemu: %.*s\nhost log:\n%s\nvmemu log:\n%s", line,
			       hl, ha, vl, vb, h.s, v.s);
	}
	if (host_out)
		*host_out = h;
}

/* The host's log must contain this line (the test's assumption about Linux). */
static inline void io_host_said(const struct io_log *h, const char *fmt, ...)
{
	char want[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	size_t n = strlen(want);
	for (const char *s = h->s; (s = strstr(s, want)); s++)
		if ((s == h->s || s[-1] == '\n') && (s[n] == '\n' || !s[n]))
			return;
	cr_assert_fail("the host did not say \"%s\" (the test's assumption is wrong):\n%s", want, h->s);
}

#endif /* VMEMU_TESTS_IODIFF_H */
