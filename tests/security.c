/*
 * security.c - no mapping shows another's bytes, protections hold, every
 * descriptor of the library is close-on-exec, every caller input is checked.
 *
 * Frame reuse: a file is filled with a secret through a shared mapping and
 * unmapped; every kind of new mapping (anonymous private and shared, another
 * file shared and private, a short file's tail, a device) must then show
 * exactly what Linux would show, never a byte of the secret.
 *
 * Input validation is differential where the host can answer: the same call
 * with the host's function and vmemu's, same result and errno.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <vmemu.h>

#include "testutil.h"

#define RW (PROT_READ | PROT_WRITE)
#define NPG 16
#define SECRET 0xa5

/* --- frame reuse ----------------------------------------------------------- */

/* File A: NPG pages, filled with the secret through a shared mapping that
 * is then unmapped (written back, its frames released). */
static void plant_secret(void)
{
	int fd = pattern_file(NPG * PG, 0);
	unsigned char *a = vme_mmap(NULL, NPG * PG, RW, MAP_SHARED, fd, 0);
	cr_assert_neq(a, MAP_FAILED);
	memset(a, SECRET, NPG * PG);
	unsigned char *pa = vme_mmap(NULL, NPG * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(pa, SECRET, NPG * PG);		/* private anonymous frames too */
	unsigned char *sa = vme_mmap(NULL, NPG * PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(sa, SECRET, NPG * PG);		/* and shared anonymous ones */
	cr_assert_eq(vme_munmap(a, NPG * PG), 0);
	cr_assert_eq(vme_munmap(pa, NPG * PG), 0);
	cr_assert_eq(vme_munmap(sa, NPG * PG), 0);
	close(fd);
}

/* Every byte of [p, p + len) is want(i); a first write at offset 0 of every
 * other page first, so both fault paths (read and write) are covered. */
static void expect_bytes(const char *what, volatile unsigned char *p, size_t len,
			 unsigned char (*want)(size_t), bool writable)
{
	if (writable)
		for (size_t pg = 0; pg < len / PG; pg += 2)
			p[pg * PG] = want(pg * PG);
	for (size_t i = 0; i < len; i++)
		if (p[i] != want(i))
			cr_assert_fail("%s: byte %zu is %#x, expected %#x%s", what, i, p[i], want(i),
				       p[i] == SECRET ? " (the secret)" : "");
}

static unsigned char zero(size_t i)
{
	(void)i;
	return 0;
}

static size_t short_len;
static unsigned char short_file(size_t i)
{
	return i < short_len ? pattern_byte(i) : 0;
}

static void new_mappings_show_no_secret(void)
{
	volatile unsigned char *p;

	p = vme_mmap(NULL, NPG * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	expect_bytes("private anonymous", p, NPG * PG, zero, true);
	p = vme_mmap(NULL, NPG * PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	expect_bytes("shared anonymous", p, NPG * PG, zero, true);
	int b = pattern_file(NPG * PG, 0);
	p = vme_mmap(NULL, NPG * PG, PROT_READ, MAP_SHARED, b, 0);
	expect_bytes("file B shared, read", p, NPG * PG, pattern_byte, false);
	p = vme_mmap(NULL, NPG * PG, RW, MAP_PRIVATE, b, 0);
	expect_bytes("file B private", p, NPG * PG, pattern_byte, true);
	int z = pattern_file(0, 0);
	cr_assert_eq(ftruncate(z, NPG * PG), 0);	/* a sparse file: holes read as zeros */
	p = vme_mmap(NULL, NPG * PG, RW, MAP_SHARED, z, 0);
	expect_bytes("sparse file shared", p, NPG * PG, zero, true);
	short_len = 100;
	int s = pattern_file(short_len, 0);
	p = vme_mmap(NULL, PG, PROT_READ, MAP_SHARED, s, 0);
	expect_bytes("the tail of a 100-byte file's page", p, PG, short_file, false);
	p = vme_mmap(NULL, PG, RW, MAP_PRIVATE, s, 0);
	expect_bytes("the tail of a 100-byte file's page, private", p, PG, short_file, true);
}

Test(security, reused_frames_never_show_a_previous_mappings_bytes)
{
	plant_secret();
	new_mappings_show_no_secret();
}

Test(security, reused_frames_show_nothing_after_shutdown_and_reinit)
{
	plant_secret();
	cr_assert_eq(vme_shutdown(), 0);
	new_mappings_show_no_secret();	/* the first vme_mmap initialises again */
	plant_secret();
	cr_assert_eq(vme_shutdown(), 0);
	cr_assert_eq(vme_init(NULL), 0);
	new_mappings_show_no_secret();
}

Test(security, a_hole_punched_and_refilled_shows_zeros)
{
	/* Shared anonymous pages unmapped in the middle, then a new mapping
	 * placed exactly there. */
	unsigned char *s = vme_mmap(NULL, 4 * PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(s, SECRET, 4 * PG);
	cr_assert_eq(vme_munmap(s + PG, 2 * PG), 0);
	volatile unsigned char *n = vme_mmap(s + PG, 2 * PG, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	cr_assert_eq((void *)n, s + PG);
	expect_bytes("shared anon over the hole", n, 2 * PG, zero, true);
	n = vme_mmap(s, PG, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	expect_bytes("private anon MAP_FIXED over a secret page", n, PG, zero, false);
}

Test(security, truncated_file_mapped_again_shows_zeros_not_the_old_cache)
{
	int fd = pattern_file(NPG * PG, 0);
	unsigned char *a = vme_mmap(NULL, NPG * PG, RW, MAP_SHARED, fd, 0);
	memset(a, SECRET, NPG * PG);
	cr_assert_eq(vme_munmap(a, NPG * PG), 0);
	cr_assert_eq(ftruncate(fd, 0), 0);
	cr_assert_eq(ftruncate(fd, NPG * PG), 0);
	volatile unsigned char *p = vme_mmap(NULL, NPG * PG, PROT_READ, MAP_SHARED, fd, 0);
	expect_bytes("the file erased by truncation", p, NPG * PG, zero, false);
}

Test(security, private_anon_shrunk_and_regrown_shows_zeros_like_the_host)
{
	unsigned char *h = mmap(NULL, 4 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *v = vme_mmap(NULL, 4 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(h, SECRET, 4 * PG);
	memset(v, SECRET, 4 * PG);
	cr_assert_eq(mremap(h, 4 * PG, PG, 0), h);
	cr_assert_eq(vme_mremap(v, 4 * PG, PG, 0), v);
	unsigned char *h2 = mremap(h, PG, 4 * PG, MREMAP_MAYMOVE);
	volatile unsigned char *v2 = vme_mremap(v, PG, 4 * PG, MREMAP_MAYMOVE);
	cr_assert_neq(h2, MAP_FAILED);
	cr_assert_neq((void *)v2, MAP_FAILED);
	for (size_t i = 0; i < 4 * PG; i++)
		cr_assert_eq(v2[i], h2[i], "byte %zu: vmemu %#x, host %#x", i, v2[i], h2[i]);
	cr_assert_eq(h2[2 * PG], 0, "host: the regrown part is new zeroed memory");
}

/* A driver that fills nothing: whatever the frame held shows. */
static int lazy_fault(struct vme_fault *vmf)
{
	(void)vmf;
	return 0;
}
static const struct vme_device_ops lazy_ops = { .name = "lazy", .fault = lazy_fault };

Test(security, a_device_frame_never_holds_another_devices_bytes)
{
	struct vme_framebuffer fb = { .size = NPG * PG };
	int d = vme_device_open(&vme_framebuffer_ops, &fb);
	cr_assert_geq(d, 0);
	unsigned char *p = vme_mmap(NULL, NPG * PG, RW, MAP_SHARED, d, 0);
	cr_assert_neq(p, MAP_FAILED);
	memset(p, SECRET, NPG * PG);
	cr_assert_eq(vme_munmap(p, NPG * PG), 0);
	cr_assert_eq(vme_device_close(d), 0);
	plant_secret();
	int l = vme_device_open(&lazy_ops, NULL);
	cr_assert_geq(l, 0);
	volatile unsigned char *q = vme_mmap(NULL, NPG * PG, RW, MAP_SHARED, l, 0);
	cr_assert_neq((void *)q, MAP_FAILED);
	expect_bytes("a device whose fault fills nothing", q, NPG * PG, zero, true);
	q = vme_mmap(NULL, NPG * PG, RW, MAP_PRIVATE, l, 0);
	expect_bytes("the same, mapped private", q, NPG * PG, zero, true);
}

/* --- protections ------------------------------------------------------------ */

Test(security, write_to_present_read_only_shared_file_page_is_sigsegv, .signal = SIGSEGV, .timeout = 10)
{
	int fd = pattern_file(2 * PG, 0);
	volatile unsigned char *w = vme_mmap(NULL, 2 * PG, RW, MAP_SHARED, fd, 0);
	volatile unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	w[0] = 1;				/* the frame is present, dirty, writable elsewhere */
	cr_assert_eq(p[0], 1);			/* and present here */
	p[0] = 2;
	cr_assert_fail("a store to a PROT_READ mapping went through");
}

Test(security, write_to_populated_read_only_private_file_page_is_sigsegv, .signal = SIGSEGV, .timeout = 10)
{
	int fd = pattern_file(2 * PG, 0);
	volatile unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	cr_assert_eq(p[PG], pattern_byte(PG));
	p[PG] = 2;
	cr_assert_fail("a store to a PROT_READ private mapping went through");
}

Test(security, write_after_mprotect_read_of_dirty_shared_file_page_is_sigsegv, .signal = SIGSEGV, .timeout = 10)
{
	int fd = pattern_file(2 * PG, 0);
	volatile unsigned char *p = vme_mmap(NULL, 2 * PG, RW, MAP_SHARED, fd, 0);
	p[5] = 1;	/* present, dirty, writable */
	cr_assert_eq(vme_mprotect((void *)p, 2 * PG, PROT_READ), 0);
	cr_assert_eq(p[5], 1);
	p[5] = 2;
	cr_assert_fail("a store after mprotect(PROT_READ) went through");
}

Test(security, write_after_mprotect_read_of_dirty_private_anon_page_is_sigsegv, .signal = SIGSEGV, .timeout = 10)
{
	volatile unsigned char *p = vme_mmap(NULL, 2 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p[5] = 1;
	cr_assert_eq(vme_mprotect((void *)p, PG, PROT_READ), 0);
	p[5] = 2;
	cr_assert_fail("a store after mprotect(PROT_READ) went through");
}

Test(security, write_after_mprotect_read_of_copied_private_file_page_is_sigsegv, .signal = SIGSEGV, .timeout = 10)
{
	int fd = pattern_file(2 * PG, 0);
	volatile unsigned char *p = vme_mmap(NULL, 2 * PG, RW, MAP_PRIVATE, fd, 0);
	p[5] = 1;	/* the private copy */
	cr_assert_eq(vme_mprotect((void *)p, 2 * PG, PROT_READ), 0);
	p[5] = 2;
	cr_assert_fail("a store after mprotect(PROT_READ) went through");
}

Test(security, write_after_mprotect_read_of_shared_anon_page_is_sigsegv, .signal = SIGSEGV, .timeout = 10)
{
	volatile unsigned char *p = vme_mmap(NULL, 2 * PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	p[5] = 1;
	cr_assert_eq(vme_mprotect((void *)p, 2 * PG, PROT_READ), 0);
	p[5] = 2;
	cr_assert_fail("a store after mprotect(PROT_READ) went through");
}

Test(security, read_after_mprotect_none_of_present_private_anon_page_is_sigsegv, .signal = SIGSEGV, .timeout = 10)
{
	volatile unsigned char *p = vme_mmap(NULL, 2 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p[5] = 1;
	cr_assert_eq(vme_mprotect((void *)p, PG, PROT_NONE), 0);
	(void)p[5];
	cr_assert_fail("a load after mprotect(PROT_NONE) went through");
}

Test(security, read_after_mprotect_none_of_present_shared_file_page_is_sigsegv, .signal = SIGSEGV, .timeout = 10)
{
	int fd = pattern_file(2 * PG, 0);
	volatile unsigned char *p = vme_mmap(NULL, 2 * PG, RW, MAP_SHARED, fd, 0);
	p[5] = 1;
	cr_assert_eq(vme_mprotect((void *)p, 2 * PG, PROT_NONE), 0);
	(void)p[5];
	cr_assert_fail("a load after mprotect(PROT_NONE) went through");
}

Test(security, read_of_never_touched_prot_none_page_is_sigsegv, .signal = SIGSEGV, .timeout = 10)
{
	int fd = pattern_file(2 * PG, 0);
	volatile unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_NONE, MAP_SHARED, fd, 0);
	(void)p[PG];
	cr_assert_fail("a load from a PROT_NONE mapping went through");
}

Test(security, read_only_page_moved_by_mremap_stays_read_only, .signal = SIGSEGV, .timeout = 10)
{
	int fd = pattern_file(2 * PG, 0);
	volatile unsigned char *w = vme_mmap(NULL, 2 * PG, RW, MAP_SHARED, fd, 0);
	volatile unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	w[0] = 1;
	(void)p[0];
	volatile unsigned char *q = vme_mremap((void *)p, 2 * PG, 8 * PG, MREMAP_MAYMOVE);
	cr_assert_neq((void *)q, MAP_FAILED);
	cr_assert_eq(q[0], 1);
	q[0] = 2;
	cr_assert_fail("a store to a moved PROT_READ mapping went through");
}

/* x86-64: C3 is ret.  Calling a non-executable page must fault (NX); the
 * same code made PROT_EXEC returns, which proves the fault is the NX one. */
typedef int (*fn_t)(void);
static const unsigned char ret42[] = { 0xb8, 42, 0, 0, 0, 0xc3 };	/* mov eax, 42; ret */

static fn_t plant_code(int final_prot)
{
	unsigned char *p = vme_mmap(NULL, PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	memcpy(p, ret42, sizeof(ret42));
	cr_assert_eq(vme_mprotect(p, PG, final_prot), 0);
	fn_t f;
	memcpy(&f, &p, sizeof(f));
	return f;
}

#if defined(__x86_64__)
Test(security, exec_of_present_read_only_page_is_sigsegv, .signal = SIGSEGV, .timeout = 10)
{
	fn_t f = plant_code(PROT_READ);
	(void)f();
	cr_assert_fail("code ran from a PROT_READ page");
}

Test(security, exec_of_never_touched_read_write_page_is_sigsegv, .signal = SIGSEGV, .timeout = 10)
{
	void *p = vme_mmap(NULL, PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fn_t f;
	memcpy(&f, &p, sizeof(f));
	(void)f();	/* a zero page: would run "add [rax], al" if executable */
	cr_assert_fail("code ran from a PROT_READ|PROT_WRITE page");
}

Test(security, exec_of_prot_exec_page_runs, .timeout = 10)
{
	fn_t f = plant_code(PROT_READ | PROT_EXEC);
	cr_assert_eq(f(), 42, "the control: PROT_EXEC code runs");
}
#endif

/* --- close-on-exec ------------------------------------------------------------- */

#define MAXFD 1024

static void open_fds(bool set[MAXFD])
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	cr_assert_not_null(d);
	memset(set, 0, MAXFD);
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd != dirfd(d) && fd < MAXFD)
			set[fd] = true;
	}
	closedir(d);
}

static void tracer(const struct vme_trace_event *ev, void *arg)
{
	(void)ev;
	(void)arg;
}

Test(security, every_descriptor_the_library_opens_is_close_on_exec, .timeout = 20)
{
	static bool before[MAXFD], after[MAXFD], mine[MAXFD];

	open_fds(before);	/* nothing of vmemu's yet: no vme_ call so far */
	int f = pattern_file(4 * PG, 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", f);
	int app = open(path, O_RDWR | O_APPEND);	/* write-back reopens it */
	int ro = open(path, O_RDONLY);
	cr_assert_geq(app, 0);
	cr_assert_geq(ro, 0);
	mine[f] = mine[app] = mine[ro] = true;

	volatile unsigned char *p;
	p = vme_mmap(NULL, 4 * PG, RW, MAP_SHARED, f, 0);
	p[0] = 1;
	p = vme_mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, app, 0);
	(void)p[PG];
	p = vme_mmap(NULL, 4 * PG, RW, MAP_PRIVATE, ro, 0);
	p[2 * PG] = 1;
	p = vme_mmap(NULL, 4 * PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	p[0] = 1;
	p = vme_mmap(NULL, 4 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p[0] = 1;
	struct vme_framebuffer fb = { .size = 4 * PG };
	int d = vme_device_open(&vme_framebuffer_ops, &fb);
	cr_assert_geq(d, 0);
	p = vme_mmap(NULL, 4 * PG, RW, MAP_SHARED, d, 0);
	p[0] = 1;
	struct vme_pattern pat = { .seed = 1 };
	int d2 = vme_device_open(&vme_pattern_ops, &pat);
	cr_assert_geq(d2, 0);
	p = vme_mmap(NULL, 4 * PG, PROT_READ, MAP_PRIVATE, d2, 0);
	(void)p[0];
	cr_assert_eq(vme_set_tracer(tracer, NULL), 0);
	p = vme_mmap(NULL, PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p[0] = 1;
	cr_assert_eq(vme_trace_flush(), 0);
	char *brk0 = vme_sbrk(0);
	cr_assert_neq(brk0, (void *)-1);
	cr_assert_eq(vme_brk(brk0 + 4 * PG), 0);
	brk0[PG] = 1;

	open_fds(after);
	int checked = 0;
	for (int fd = 0; fd < MAXFD; fd++) {
		if (!after[fd] || before[fd] || mine[fd])
			continue;
		int fl = fcntl(fd, F_GETFD);
		char target[256] = "?";
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n > 0)
			target[n] = 0;
		cr_expect(fl >= 0 && (fl & FD_CLOEXEC), "descriptor %d (%s) is not close-on-exec", fd, target);
		checked++;
	}
	cr_assert_geq(checked, 2, "the library opened descriptors (devices at least): %d seen", checked);
	cr_expect(after[d] && after[d2], "the device descriptors were among those checked");
}

/* --- input validation --------------------------------------------------------- */

/* Result of one call: its return (0 ok / -1 fail) and errno. */
struct res {
	long ret;
	int err;
};

/* Any success is 1 (addresses differ between the two sides). */
#define CALL(expr) ({ errno = 0; long r_ = (long)(expr); (struct res){ r_ == -1 ? -1 : r_ ? 1 : 0, r_ == -1 ? errno : 0 }; })

static void same(const char *what, struct res h, struct res v)
{
	cr_expect(h.ret == v.ret && h.err == v.err, "%s: host %ld (%s), vmemu %ld (%s)", what, h.ret,
		  h.err ? strerror(h.err) : "-", v.ret, v.err ? strerror(v.err) : "-");
}

/* mmap returns an address: success is 0 here, and the mapping is undone. */
static struct res try_mmap(bool vme, void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	errno = 0;
	void *p = vme ? vme_mmap(addr, len, prot, flags, fd, off) : mmap(addr, len, prot, flags, fd, off);
	if (p == MAP_FAILED)
		return (struct res){ -1, errno };
	vme ? vme_munmap(p, len) : munmap(p, len);
	return (struct res){ 0, 0 };
}

static void same_mmap(const char *what, void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct res h = try_mmap(false, addr, len, prot, flags, fd, off);
	struct res v = try_mmap(true, addr, len, prot, flags, fd, off);
	same(what, h, v);
}

#define TOP 0x800000000000UL	/* TASK_SIZE with 4-level paging, plus one page */

Test(security, input_mmap_huge_and_wrapping_lengths_fail_like_linux)
{
	int fd = pattern_file(4 * PG, 0);
	/* 32 TiB fits both the host's mapping and vmemu's (which also maps its
	 * own view of a shared object), except under ASan, whose shadow takes
	 * most of the address space: 1 TiB there. */
#if defined(__SANITIZE_ADDRESS__)
	static const size_t lens[] = { 0, SIZE_MAX, SIZE_MAX - PG + 2, SIZE_MAX / 2, TOP, TOP - PG, 1UL << 40 };
#else
	static const size_t lens[] = { 0, SIZE_MAX, SIZE_MAX - PG + 2, SIZE_MAX / 2, TOP, TOP - PG, 1UL << 45 };
#endif
	static const int kinds[] = { MAP_PRIVATE | MAP_ANONYMOUS, MAP_SHARED | MAP_ANONYMOUS, MAP_SHARED, MAP_PRIVATE };
	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
		for (size_t k = 0; k < 4; k++) {
			char what[96];
			snprintf(what, sizeof(what), "mmap len %#zx flags %#x", lens[l], kinds[k]);
			same_mmap(what, NULL, lens[l], PROT_READ, kinds[k] | MAP_NORESERVE,
				  kinds[k] & MAP_ANONYMOUS ? -1 : fd, 0);
		}
}

Test(security, input_mmap_negative_and_overflowing_offsets_fail_like_linux)
{
	int fd = pattern_file(4 * PG, 0);
	static const off_t offs[] = { -(off_t)PG, -1, INT64_MIN, INT64_MAX & ~(off_t)(PG - 1),
				      (INT64_MAX & ~(off_t)(PG - 1)) - (off_t)PG, -((off_t)1 << 62), (off_t)1 << 44, 1 };
	static const int kinds[] = { MAP_PRIVATE | MAP_ANONYMOUS, MAP_SHARED | MAP_ANONYMOUS, MAP_SHARED, MAP_PRIVATE };
	for (size_t o = 0; o < sizeof(offs) / sizeof(offs[0]); o++)
		for (size_t k = 0; k < 4; k++) {
			char what[96];
			snprintf(what, sizeof(what), "mmap offset %#llx flags %#x",
				 (unsigned long long)offs[o], kinds[k]);
			same_mmap(what, NULL, 2 * PG, PROT_READ, kinds[k], kinds[k] & MAP_ANONYMOUS ? -1 : fd, offs[o]);
		}
}

/* Every file offset Linux accepts maps, as on Linux (the page index is a
 * radix tree, not an array): the same result and errno as the host, up to
 * the largest offset, and the bytes of a sparse file read through a mapping
 * at 8 TiB. */
Test(security, input_mmap_file_offsets_at_any_size_map_as_on_linux)
{
	int fd = pattern_file(4 * PG, 0);
	static const off_t offs[] = { (off_t)1 << 62, ((off_t)1 << 47) - (off_t)PG, (off_t)1 << 48,
				      (off_t)(INT64_MAX - 2 * PG + 1) };
	for (size_t o = 0; o < sizeof(offs) / sizeof(offs[0]); o++)
		for (int shared = 0; shared < 2; shared++) {
			int flags = shared ? MAP_SHARED : MAP_PRIVATE;
			struct res h = try_mmap(false, NULL, PG, PROT_READ, flags, fd, offs[o]);
			struct res v = try_mmap(true, NULL, PG, PROT_READ, flags, fd, offs[o]);
			cr_expect_eq(v.ret == -1, h.ret == -1, "offset %#llx: vmemu %ld (%s), host %ld (%s)",
				     (unsigned long long)offs[o], v.ret, strerror(v.err), h.ret, strerror(h.err));
			cr_expect_eq(v.err, h.err, "offset %#llx", (unsigned long long)offs[o]);
		}
	char path[] = "/var/tmp/vmemu-far-XXXXXX";
	int big = mkstemp(path);
	cr_assert(big >= 0);
	unlink(path);
	const off_t far = (off_t)1 << 43;
	cr_assert_eq(pwrite(big, "far away", 9, far + 100), 9);
	const char *p = vme_mmap(NULL, PG, PROT_READ, MAP_SHARED, big, far);
	cr_assert_neq(p, MAP_FAILED, "%s", strerror(errno));
	cr_expect_str_eq(p + 100, "far away");
	cr_expect_eq(p[0], 0);
	cr_assert_eq(vme_munmap((void *)p, PG), 0);
}

Test(security, input_mmap_invalid_flags_prot_and_addresses_fail_like_linux)
{
	int fd = pattern_file(4 * PG, 0);
	struct {
		const char *what;
		void *addr;
		int prot, flags;
	} rows[] = {
		{ "no MAP_SHARED or MAP_PRIVATE", NULL, PROT_READ, MAP_ANONYMOUS },
		{ "MAP_SHARED_VALIDATE with an unknown flag", NULL, PROT_READ, MAP_SHARED_VALIDATE | 0x200000 },
		{ "MAP_SHARED_VALIDATE with MAP_SYNC on tmpfs/ext4", NULL, PROT_READ, MAP_SHARED_VALIDATE | MAP_SYNC },
		{ "MAP_TYPE 0xf", NULL, PROT_READ, 0xf },
		{ "unknown prot bits", NULL, 0x100 | PROT_READ, MAP_PRIVATE },
		{ "PROT_GROWSDOWN", NULL, PROT_READ | PROT_GROWSDOWN, MAP_PRIVATE },
		{ "MAP_FIXED unaligned", (void *)(TOP / 4 + 1), PROT_READ, MAP_PRIVATE | MAP_FIXED },
		{ "MAP_FIXED at the top of the address space", (void *)(TOP - PG), PROT_READ, MAP_PRIVATE | MAP_FIXED },
		{ "MAP_FIXED past the top", (void *)TOP, PROT_READ, MAP_PRIVATE | MAP_FIXED },
		{ "MAP_FIXED in the kernel half", (void *)0xffff800000000000UL, PROT_READ, MAP_PRIVATE | MAP_FIXED },
		{ "MAP_FIXED that wraps", (void *)(0UL - PG), PROT_READ, MAP_PRIVATE | MAP_FIXED },
		{ "MAP_FIXED_NOREPLACE past the top", (void *)TOP, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE },
		{ "hint past the top", (void *)TOP, PROT_READ, MAP_PRIVATE },
		{ "hint unaligned", (void *)(TOP / 4 + 3), PROT_READ, MAP_PRIVATE },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char what[128];
		snprintf(what, sizeof(what), "%s (anonymous)", rows[i].what);
		same_mmap(what, rows[i].addr, 2 * PG, rows[i].prot, rows[i].flags | MAP_ANONYMOUS, -1, 0);
		snprintf(what, sizeof(what), "%s (file)", rows[i].what);
		same_mmap(what, rows[i].addr, 2 * PG, rows[i].prot, rows[i].flags, fd, 0);
	}
}

Test(security, input_mmap_bad_descriptors_fail_like_linux)
{
	int fd = pattern_file(4 * PG, 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int ro = open(path, O_RDONLY), wo = open(path, O_WRONLY), app = open(path, O_RDWR | O_APPEND);
	int closed = dup(fd);
	close(closed);
	int dir = open("/tmp", O_RDONLY | O_DIRECTORY);
	struct {
		const char *what;
		int fd, prot, flags;
	} rows[] = {
		{ "fd -1", -1, PROT_READ, MAP_SHARED },
		{ "a closed fd", closed, PROT_READ, MAP_PRIVATE },
		{ "fd 1 << 20", 1 << 20, PROT_READ, MAP_PRIVATE },
		{ "INT_MIN", -2147483647 - 1, PROT_READ, MAP_SHARED },
		{ "O_WRONLY", wo, PROT_READ, MAP_SHARED },
		{ "O_WRONLY, PROT_NONE", wo, PROT_NONE, MAP_PRIVATE },
		{ "O_RDONLY shared writable", ro, RW, MAP_SHARED },
		{ "O_RDONLY shared writable, validated", ro, RW, MAP_SHARED_VALIDATE },
		{ "O_RDONLY private writable", ro, RW, MAP_PRIVATE },
		{ "O_APPEND shared writable", app, RW, MAP_SHARED },
		{ "O_APPEND shared read-only", app, PROT_READ, MAP_SHARED },
		{ "a directory", dir, PROT_READ, MAP_PRIVATE },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		same_mmap(rows[i].what, NULL, 2 * PG, rows[i].prot, rows[i].flags, rows[i].fd, 0);
}

/* munmap, mprotect, msync, madvise and mincore over ranges no program owns. */
enum range_call { R_MUNMAP, R_MPROTECT, R_MSYNC, R_MADVISE, R_MINCORE };

static long range_call(bool vme, enum range_call c, void *a, size_t l)
{
	unsigned char vec[4];
	switch (c) {
	case R_MUNMAP: return vme ? vme_munmap(a, l) : munmap(a, l);
	case R_MPROTECT: return vme ? vme_mprotect(a, l, PROT_READ) : mprotect(a, l, PROT_READ);
	case R_MSYNC: return vme ? vme_msync(a, l, MS_SYNC) : msync(a, l, MS_SYNC);
	case R_MADVISE: return vme ? vme_madvise(a, l, MADV_DONTNEED) : madvise(a, l, MADV_DONTNEED);
	default: return vme ? vme_mincore(a, l, vec) : mincore(a, l, vec);
	}
}

static void wild_ranges(enum range_call c, const char *name)
{
	struct {
		const char *what;
		unsigned long addr;
		size_t len;
	} rows[] = {
		{ "kernel half", 0xffff800000000000UL, PG },
		{ "top page of the address space", TOP - PG, PG },
		{ "straddling the top", TOP - PG, 2 * PG },
		{ "wrapping", 0UL - PG, 2 * PG },
		{ "length SIZE_MAX", TOP / 2, SIZE_MAX },
		{ "length wraps on rounding", TOP / 2, SIZE_MAX - PG + 2 },
		{ "address 0", 0, PG },
		{ "unaligned", TOP / 2 + 1, PG },
		{ "zero length", TOP / 2, 0 },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		void *a = (void *)rows[i].addr;
		size_t l = rows[i].len;
		char what[128];
		if (c == R_MINCORE && l > 4 * PG && l < SIZE_MAX - 2 * PG)
			continue;	/* the vector would be too small */
		snprintf(what, sizeof(what), "%s %s", name, rows[i].what);
		same(what, CALL(range_call(false, c, a, l)), CALL(range_call(true, c, a, l)));
	}
}

Test(security, input_munmap_wild_ranges_fail_like_linux) { wild_ranges(R_MUNMAP, "munmap"); }
Test(security, input_mprotect_wild_ranges_fail_like_linux) { wild_ranges(R_MPROTECT, "mprotect"); }
Test(security, input_msync_wild_ranges_fail_like_linux) { wild_ranges(R_MSYNC, "msync"); }
Test(security, input_madvise_wild_ranges_fail_like_linux) { wild_ranges(R_MADVISE, "madvise"); }
Test(security, input_mincore_wild_ranges_fail_like_linux) { wild_ranges(R_MINCORE, "mincore"); }

/* Invalid flags, advice and protections on a real mapping of each side. */
Test(security, input_invalid_flags_advice_and_prot_fail_like_linux)
{
	void *h = mmap(NULL, 2 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *v = vme_mmap(NULL, 2 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	same("mprotect prot 0x100", CALL(mprotect(h, PG, 0x100)), CALL(vme_mprotect(v, PG, 0x100)));
	same("mprotect GROWSDOWN|GROWSUP", CALL(mprotect(h, PG, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP)),
	     CALL(vme_mprotect(v, PG, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP)));
	same("mprotect -1", CALL(mprotect(h, PG, -1)), CALL(vme_mprotect(v, PG, -1)));
	same("msync flags -1", CALL(msync(h, PG, -1)), CALL(vme_msync(v, PG, -1)));
	same("msync ASYNC|SYNC", CALL(msync(h, PG, MS_ASYNC | MS_SYNC)), CALL(vme_msync(v, PG, MS_ASYNC | MS_SYNC)));
	same("msync 0x10", CALL(msync(h, PG, 0x10)), CALL(vme_msync(v, PG, 0x10)));
	static const int advice[] = { -1, 5, 6, 7, 1000, 0x7fffffff };
	for (size_t i = 0; i < sizeof(advice) / sizeof(advice[0]); i++) {
		char what[48];
		snprintf(what, sizeof(what), "madvise advice %d", advice[i]);
		same(what, CALL(madvise(h, PG, advice[i])), CALL(vme_madvise(v, PG, advice[i])));
	}
}

Test(security, input_mremap_bad_sizes_and_targets_fail_like_linux)
{
	void *h = mmap(NULL, 2 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *v = vme_mmap(NULL, 2 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	same("mremap flags -1", CALL(mremap(h, PG, 2 * PG, -1)), CALL(vme_mremap(v, PG, 2 * PG, -1)));
	same("mremap new size SIZE_MAX", CALL(mremap(h, PG, SIZE_MAX, MREMAP_MAYMOVE)),
	     CALL(vme_mremap(v, PG, SIZE_MAX, MREMAP_MAYMOVE)));
	same("mremap new size 1 << 47", CALL(mremap(h, PG, 1UL << 47, MREMAP_MAYMOVE)),
	     CALL(vme_mremap(v, PG, 1UL << 47, MREMAP_MAYMOVE)));
	same("mremap old size wraps", CALL(mremap(h, SIZE_MAX, PG, 0)), CALL(vme_mremap(v, SIZE_MAX, PG, 0)));
	same("mremap FIXED to the top", CALL(mremap(h, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)(TOP - PG))),
	     CALL(vme_mremap(v, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)(TOP - PG))));
	same("mremap FIXED to the kernel half",
	     CALL(mremap(h, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)0xffff800000000000UL)),
	     CALL(vme_mremap(v, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)0xffff800000000000UL)));
}

/* mincore's vector: written with copy_to_user's rules. */
Test(security, input_mincore_bad_vectors_are_efault_like_linux)
{
	void *h = mmap(NULL, 4 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *v = vme_mmap(NULL, 4 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *hro = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *vro = vme_mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	(void)((volatile unsigned char *)vro)[0];	/* present, read-only */
	unsigned char *vro2 = vme_mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);	/* absent */
	unsigned char *gone = vme_mmap(NULL, PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	vme_munmap(gone, PG);
	/* A vector of 2 bytes whose second byte is on an unmapped page. */
	unsigned char *edge_h = mmap(NULL, 2 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(edge_h + PG, PG);
	unsigned char *edge_v = vme_mmap(NULL, 2 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	vme_munmap(edge_v + PG, PG);

	same("NULL", CALL(mincore(h, PG, NULL)), CALL(vme_mincore(v, PG, NULL)));
	same("(void *)8", CALL(mincore(h, PG, (void *)8)), CALL(vme_mincore(v, PG, (void *)8)));
	same("kernel half", CALL(mincore(h, PG, (void *)0xffff800000001000UL)),
	     CALL(vme_mincore(v, PG, (void *)0xffff800000001000UL)));
	same("read-only page", CALL(mincore(h, PG, hro)), CALL(vme_mincore(v, PG, vro)));
	same("absent read-only page", CALL(mincore(h, PG, hro)), CALL(vme_mincore(v, PG, vro2)));
	same("unmapped emulated page", CALL(mincore(h, PG, gone)), CALL(vme_mincore(v, PG, gone)));
	same("vector crosses into an unmapped page", CALL(mincore(h, 2 * PG, edge_h + PG - 1)),
	     CALL(vme_mincore(v, 2 * PG, edge_v + PG - 1)));
	same("vector is the emulated range itself, untouched", CALL(mincore(h, 4 * PG, h)),
	     CALL(vme_mincore(v, 4 * PG, v)));
	/* vmemu's own calls fault their buffers in (limitations.md). */
	unsigned char *vec = vme_mmap(NULL, PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_eq(vme_mincore(v, 4 * PG, vec + PG - 4), 0, "an untouched writable vector is fine");
}

/* rt_sigaction as the kernel sees it: EFAULT for a bad pointer, whichever
 * signal.  (glibc's sigaction copies the struct in user space first and so
 * crashes on a bad pointer; the kernel call is the reference here.) */
static int raw_sigaction(int sig, const void *act, void *old)
{
	return (int)syscall(SYS_rt_sigaction, sig, act, old, (size_t)8);
}

Test(security, input_sigaction_bad_pointers_are_efault_for_sigsegv)
{
	void *gone = vme_mmap(NULL, PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	vme_munmap(gone, PG);
	void *ro = vme_mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *none = vme_mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	const void *bad_act[] = { (void *)8, gone, none, (void *)0xffff800000000000UL };
	void *bad_old[] = { (void *)8, gone, none, ro, (void *)0xffff800000000000UL };
	for (size_t i = 0; i < sizeof(bad_act) / sizeof(bad_act[0]); i++) {
		char what[64];
		snprintf(what, sizeof(what), "act %p", bad_act[i]);
		same(what, CALL(raw_sigaction(SIGUSR2, bad_act[i], NULL)),
		     CALL(vme_sigaction(SIGSEGV, (const struct sigaction *)bad_act[i], NULL)));
	}
	for (size_t i = 0; i < sizeof(bad_old) / sizeof(bad_old[0]); i++) {
		char what[64];
		snprintf(what, sizeof(what), "oldact %p", bad_old[i]);
		same(what, CALL(raw_sigaction(SIGUSR2, NULL, bad_old[i])),
		     CALL(vme_sigaction(SIGSEGV, NULL, (struct sigaction *)bad_old[i])));
	}
}

Test(security, input_sigaction_bad_pointers_are_efault_for_other_signals, .timeout = 10)
{
	void *gone = vme_mmap(NULL, PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	vme_munmap(gone, PG);
	same("SIGUSR1 act (void *)8", CALL(raw_sigaction(SIGUSR2, (void *)8, NULL)),
	     CALL(vme_sigaction(SIGUSR1, (const struct sigaction *)8, NULL)));
	same("SIGUSR1 oldact unmapped", CALL(raw_sigaction(SIGUSR2, NULL, gone)),
	     CALL(vme_sigaction(SIGUSR1, NULL, (struct sigaction *)gone)));
}

Test(security, input_sigaction_reads_and_writes_emulated_pages_not_present)
{
	/* act on a shared anonymous page dropped by MADV_DONTNEED (data kept,
	 * page absent); oldact on a page never touched. */
	struct sigaction *act = vme_mmap(NULL, PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct sigaction *old = vme_mmap(NULL, PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(act, 0, sizeof(*act));
	act->sa_handler = SIG_IGN;
	cr_assert_eq(vme_madvise(act, PG, MADV_DONTNEED), 0);
	cr_assert_eq(vme_sigaction(SIGSEGV, act, old), 0);
	cr_assert_eq(vme_sigaction(SIGSEGV, NULL, old), 0);
	cr_assert_eq(old->sa_handler, SIG_IGN);
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	cr_assert_eq(vme_sigaction(SIGSEGV, &dfl, NULL), 0);
}

Test(security, input_sigaction_bad_signal_numbers_fail_like_linux)
{
	struct sigaction sa = { .sa_handler = SIG_IGN };
	static const int sigs[] = { 0, -1, 65, 1000, SIGKILL, SIGSTOP };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		char what[48];
		snprintf(what, sizeof(what), "signal %d", sigs[i]);
		same(what, CALL(sigaction(sigs[i], &sa, NULL)), CALL(vme_sigaction(sigs[i], &sa, NULL)));
	}
	same("vme_signal(SIGKILL)", CALL(signal(SIGKILL, SIG_IGN) == SIG_ERR ? -1 : 0),
	     CALL(vme_signal(SIGKILL, SIG_IGN) == SIG_ERR ? -1 : 0));
}

/* The host's brk and sbrk (glibc over the kernel's brk) with breaks it can
 * never grant leave the real break where it is, so they can be the oracle. */
Test(security, input_brk_and_sbrk_refuse_impossible_breaks_like_linux)
{
	char *b0 = vme_sbrk(0);
	cr_assert_neq(b0, (void *)-1);
	static const intptr_t incs[] = { INTPTR_MAX, INTPTR_MIN, -(intptr_t)(1UL << 40), (intptr_t)(1UL << 47) };
	for (size_t i = 0; i < sizeof(incs) / sizeof(incs[0]); i++) {
		char what[48];
		snprintf(what, sizeof(what), "sbrk(%#lx)", (long)incs[i]);
		void *h0 = sbrk(0);
		same(what, CALL(sbrk(incs[i]) == (void *)-1 ? -1 : 0), CALL(vme_sbrk(incs[i]) == (void *)-1 ? -1 : 0));
		cr_expect_eq(sbrk(0), h0, "%s: the host break did not move", what);
		cr_expect_eq(vme_sbrk(0), b0, "%s: the emulated break did not move", what);
	}
	static const uintptr_t addrs[] = { 0xffff800000000000UL, 0UL - PG, TOP, 1 };
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		char what[48];
		snprintf(what, sizeof(what), "brk(%#lx)", (unsigned long)addrs[i]);
		void *h0 = sbrk(0);
		same(what, CALL(brk((void *)addrs[i])), CALL(vme_brk((void *)addrs[i])));
		cr_expect_eq(sbrk(0), h0, "%s: the host break did not move", what);
		cr_expect_eq(vme_sbrk(0), b0, "%s: the emulated break did not move", what);
	}
}

Test(security, input_library_calls_check_their_arguments, .timeout = 10)
{
	errno = 0;
	cr_expect_eq(vme_stats(NULL), -1);
	cr_expect_eq(errno, EFAULT);
	void *m = vme_mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);	/* something to dump */
	cr_assert_neq(m, MAP_FAILED);
	errno = 0;
	cr_expect_eq(vme_dump_maps(-1), -1);
	cr_expect_eq(errno, EBADF);
	errno = 0;
	cr_expect_eq(vme_device_open(NULL, NULL), -1);
	cr_expect_eq(errno, EINVAL);
	struct vme_device_ops nofault = { .name = "x" };
	errno = 0;
	cr_expect_eq(vme_device_open(&nofault, NULL), -1, "a device without a fault handler");
	cr_expect_eq(errno, EINVAL);
	static const int bad[] = { -1, 0, 1 << 20, 100000 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		cr_expect_eq(vme_device_close(bad[i]), -1, "vme_device_close(%d)", bad[i]);
		cr_expect_eq(errno, EBADF, "vme_device_close(%d)", bad[i]);
	}
	int f = pattern_file(PG, 0);
	errno = 0;
	cr_expect_eq(vme_device_close(f), -1, "a plain file is not a device");
	cr_expect_eq(errno, EBADF);
	struct vme_pattern pat = { .seed = 1 };
	int d = vme_device_open(&vme_pattern_ops, &pat);
	cr_assert_geq(d, 0);
	cr_expect_eq(vme_device_close(d), 0);
	errno = 0;
	cr_expect_eq(vme_device_close(d), -1, "closed twice");
	cr_expect_eq(errno, EBADF);
}

Test(security, input_stats_with_a_bad_pointer_is_efault, .timeout = 10)
{
	void *gone = vme_mmap(NULL, PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	vme_munmap(gone, PG);
	void *ro = vme_mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	errno = 0;
	cr_expect_eq(vme_stats((struct vme_stats *)8), -1);
	cr_expect_eq(errno, EFAULT);
	errno = 0;
	cr_expect_eq(vme_stats(gone), -1);
	cr_expect_eq(errno, EFAULT);
	errno = 0;
	cr_expect_eq(vme_stats(ro), -1);
	cr_expect_eq(errno, EFAULT);
}
