/*
 * eof_page.c - the end-of-file page and msync, against the kernel.
 *
 * The last page of a file whose size is not a multiple of the page size
 * holds bytes past end of file.  A store there through MAP_SHARED never
 * reaches the file; on Linux it stays in the cached page until the page is
 * written back, and ext4, xfs and btrfs then zero that tail in the cache
 * (tmpfs never writes a page back, so there it stays).  msync(MS_ASYNC)
 * writes nothing back (Linux since 2.6.19); MS_SYNC does.  vmemu's own
 * write-back must never look like a change made outside it: mapping the
 * file again keeps what the cache holds.  Nor may its own writes hide one:
 * a change made outside vmemu reaches the cache at the next mmap.
 *
 * Differential: each scenario runs in a child over the host's calls and in
 * another over vmemu's (worlds.h), on a file in /tmp (ext4 here) or in
 * /dev/shm (tmpfs).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sys/statfs.h>
#include <vmemu.h>

#include "testutil.h"
#include "worlds.h"

#define RW (PROT_READ | PROT_WRITE)
#define FSIZE (2 * PG - 100)	/* page 1 is the end-of-file page: bytes 3996.. are past EOF */

static const char *dir = "/tmp";

/* A file of FSIZE bytes of pattern in dir, unlinked. */
static int eof_file(void)
{
	char path[64];
	snprintf(path, sizeof(path), "%s/vmemu-eof-XXXXXX", dir);
	int fd = mkstemp(path);
	if (fd < 0)
		_exit(2);
	unlink(path);
	for (size_t i = 0; i < FSIZE; i++) {
		unsigned char b = pattern_byte(i);
		if (pwrite(fd, &b, 1, (off_t)i) != 1)
			_exit(2);
	}
	return fd;
}

static long file_byte(int fd, off_t off)
{
	unsigned char b;
	return pread(fd, &b, 1, off) == 1 ? b : -1;
}

/* Case 12 of issue 13: vmemu's write-back of page 0 changes the file's
 * mtime; mapping the file again must not take that for a change made
 * elsewhere and drop or zero the dirty end-of-file page. */
static void scenario_own_writeback(const struct world *w, struct outcome *out)
{
	int fd = eof_file();
	volatile char *p = w->mmap(NULL, 2 * PG, RW, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		_exit(3);
	p[PG + 4000] = 'X';		/* past EOF, in the dirty EOF page */
	p[PG + 10] = 'Y';		/* inside the file, same page */
	p[0] = 'a';
	out->v[0] = w->msync((void *)p, PG, MS_SYNC);	/* page 0 only */
	volatile char *q = w->mmap(NULL, 2 * PG, RW, MAP_SHARED, fd, 0);
	if (q == MAP_FAILED)
		_exit(4);
	out->v[1] = p[PG + 4000];
	out->v[2] = q[PG + 4000];
	out->v[3] = q[PG + 10];
	out->v[4] = q[0];
	out->v[5] = file_byte(fd, 0);
	out->v[6] = w->munmap((void *)q, 2 * PG);
	out->v[7] = w->msync((void *)p, 2 * PG, MS_SYNC);
	out->v[8] = file_byte(fd, PG + 10);
	out->v[9] = lseek(fd, 0, SEEK_END);
}

Test(eof_page, own_writeback_keeps_the_dirty_eof_page)
{
	struct outcome h = *w_run(&host_world, scenario_own_writeback);
	struct outcome *v = w_run(&vme_world, scenario_own_writeback);

	cr_assert_eq(h.v[2], 'X', "the host lost the store past EOF: %ld", h.v[2]);
	w_compare(&h, v, "own write-back, then mmap again");
}

/* Case 13: MS_ASYNC does nothing; MS_SYNC writes the EOF page back, and the
 * file system decides what becomes of the bytes past EOF in the cache. */
static void scenario_ms_async_then_sync(const struct world *w, struct outcome *out)
{
	int fd = eof_file();
	volatile char *p = w->mmap(NULL, 2 * PG, RW, MAP_SHARED, fd, 0);
	volatile char *c = w->mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED || c == MAP_FAILED)
		_exit(3);
	p[PG + 4000] = 'X';
	p[PG + 10] = 'Y';
	out->v[0] = w->msync((void *)p, 2 * PG, MS_ASYNC);
	out->v[1] = p[PG + 4000];
	out->v[2] = w->msync((void *)p, 2 * PG, MS_SYNC);
	out->v[3] = p[PG + 4000];
	out->v[4] = c[PG + 4000];		/* a private mapping reads the same cache */
	out->v[5] = file_byte(fd, PG + 10);
	out->v[6] = lseek(fd, 0, SEEK_END);
	p[PG + 4001] = 'Z';		/* dirty again: stays until the next write-back */
	out->v[7] = p[PG + 4001];
	out->v[8] = w->msync((void *)p, 2 * PG, MS_SYNC);
	out->v[9] = p[PG + 4001];
	out->v[10] = lseek(fd, 0, SEEK_END);
}

Test(eof_page, ms_async_is_a_no_op_and_ext4_zeroes_the_tail_at_writeback)
{
	struct statfs sf;

	cr_assert_eq(statfs(dir, &sf), 0);
	struct outcome h = *w_run(&host_world, scenario_ms_async_then_sync);
	struct outcome *v = w_run(&vme_world, scenario_ms_async_then_sync);

	if (sf.f_type == 0xEF53) {	/* ext4: what the issue reproduces */
		cr_assert_eq(h.v[1], 'X', "ext4 keeps the byte after MS_ASYNC");
		cr_assert_eq(h.v[3], 0, "ext4 zeroes the byte past EOF at write-back");
	}
	w_compare(&h, v, "store past EOF, MS_ASYNC, MS_SYNC");
}

Test(eof_page, tmpfs_keeps_the_tail)
{
	dir = "/dev/shm";
	struct outcome h = *w_run(&host_world, scenario_ms_async_then_sync);
	struct outcome *v = w_run(&vme_world, scenario_ms_async_then_sync);

	cr_assert_eq(h.v[3], 'X', "tmpfs writes no page back: the byte stays");
	w_compare(&h, v, "tmpfs: store past EOF, MS_ASYNC, MS_SYNC");
}

/* A change made outside vmemu (the host's pwrite, which vmemu sees only
 * when it revalidates), then a write through vmemu on another descriptor:
 * the next mmap must still see the outside change.  (vmemu recorded the
 * file's state after its own write as its own doing, outside change
 * included, and kept the stale page for good.) */
static bool by_truncate;	/* the write through vmemu is a truncation */

static void scenario_own_write_after_outside_change(const struct world *w, struct outcome *out)
{
	ssize_t (*pw)(int, const void *, size_t, off_t) = w == &vme_world ? vme_pwrite : pwrite;
	int (*ft)(int, off_t) = w == &vme_world ? vme_ftruncate : ftruncate;
	int fd = eof_file();
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int fd2 = open(path, O_RDWR);
	volatile char *p = w->mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	if (fd2 < 0 || p == MAP_FAILED)
		_exit(3);
	out->v[0] = p[PG + 7];				/* page 1 cached */
	out->v[1] = w->munmap((void *)p, 2 * PG);
	out->v[2] = pwrite(fd, "outside", 7, PG + 7);	/* the host's own, and it grows the file */
	out->v[3] = pwrite(fd, "", 1, 2 * PG + 50);
	out->v[4] = by_truncate ? ft(fd2, 3 * PG) : pw(fd2, "vmemu", 5, 10);	/* through vmemu */
	p = w->mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		_exit(4);
	out->v[5] = p[PG + 7];
	out->v[6] = p[10];
	out->v[7] = p[PG + 4000];			/* inside the file now */
}

Test(eof_page, own_write_does_not_hide_an_outside_change)
{
	struct outcome h = *w_run(&host_world, scenario_own_write_after_outside_change);
	struct outcome *v = w_run(&vme_world, scenario_own_write_after_outside_change);

	cr_assert_eq(h.v[5], 'o');
	w_compare(&h, v, "outside change, then a write through vmemu, then mmap");
}

Test(eof_page, own_truncate_does_not_hide_an_outside_change)
{
	by_truncate = true;
	struct outcome h = *w_run(&host_world, scenario_own_write_after_outside_change);
	struct outcome *v = w_run(&vme_world, scenario_own_write_after_outside_change);

	cr_assert_eq(h.v[5], 'o');
	w_compare(&h, v, "outside change, then a truncation through vmemu, then mmap");
}
