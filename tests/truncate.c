/*
 * truncate.c - a file that changes under its mappings: truncation, write(2)
 * from elsewhere, a replaced file.  The rule (docs/limitations.md): a page
 * is checked against the file's size whenever it faults, and the cache
 * catches up with any change at the next vme_mmap of the file or at
 * vme_msync(MS_INVALIDATE).
 */
#include <criterion/criterion.h>
#include <vmemu.h>

#include "testutil.h"

Test(truncate, a_page_wholly_past_the_new_end_is_sigbus_on_its_next_fault, .signal = SIGBUS)
{
	int fd = pattern_file(4 * PG, 0);
	volatile unsigned char *a = vme_mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, fd, 0);
	volatile unsigned char *b = vme_mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_eq(a[3 * PG], pattern_byte(3 * PG));	/* cached now */
	cr_assert_eq(ftruncate(fd, 2 * PG), 0);
	(void)b[3 * PG];	/* cached, but past the end: a minor fault must not serve it */
}

Test(truncate, ms_invalidate_drops_mapped_pages_past_the_end, .signal = SIGBUS)
{
	int fd = pattern_file(4 * PG, 0);
	volatile unsigned char *a = vme_mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_eq(a[3 * PG], pattern_byte(3 * PG));	/* present */
	cr_assert_eq(ftruncate(fd, 2 * PG), 0);
	cr_assert_eq(vme_msync((void *)a, 4 * PG, MS_INVALIDATE), 0);
	cr_assert_eq(a[PG], pattern_byte(PG), "inside the file: still there");
	(void)a[3 * PG];
}

Test(truncate, the_tail_of_a_partial_last_page_reads_zero_as_on_linux)
{
	int fd = pattern_file(2 * PG, 0);
	unsigned char *v = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_eq(v[PG + 200], pattern_byte(PG + 200));
	cr_assert_eq(ftruncate(fd, PG + 100), 0);
	unsigned char *h = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_eq(vme_msync(v, 2 * PG, MS_INVALIDATE), 0);
	for (size_t i = PG; i < 2 * PG; i++)
		cr_assert_eq(v[i], h[i], "byte %zu: host %d vmemu %d", i, h[i], v[i]);
	cr_assert_eq(v[PG + 200], 0);
}

Test(truncate, a_write_from_elsewhere_is_seen_after_a_new_mmap_or_ms_invalidate)
{
	int fd = pattern_file(2 * PG, 0);
	unsigned char *a = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_eq(a[5], pattern_byte(5));
	a[PG] = 0x77;				/* dirty: ours, newer than the file */
	unsigned char x = 0x99;
	cr_assert_eq(pwrite(fd, &x, 1, 5), 1);	/* behind vmemu's back */
	cr_assert_eq(pwrite(fd, &x, 1, PG + 1), 1);
	unsigned char *b = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_eq(b[5], 0x99, "a new mapping revalidates: the clean page is read again");
	cr_assert_eq(a[5], 0x99, "and every mapping of the file sees it (one cache)");
	cr_assert_eq(a[PG], 0x77, "the dirty page keeps this process's data");
	cr_assert_eq(pwrite(fd, &x, 1, 9), 1);
	cr_assert_eq(vme_msync(a, 2 * PG, MS_INVALIDATE), 0);
	cr_assert_eq(a[9], 0x99, "MS_INVALIDATE catches up too");
}

Test(truncate, a_replaced_file_never_shows_the_old_pages)
{
	char dir[] = "/tmp/vmemu-replace-XXXXXX", path[64];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	unsigned char old[PG], fresh[PG];
	memset(old, 'o', PG);
	memset(fresh, 'n', PG);
	cr_assert_eq(pwrite(fd, old, PG, 0), (ssize_t)PG);
	unsigned char *a = vme_mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_eq(a[0], 'o');
	struct stat st_old;
	fstat(fd, &st_old);
	/* Replace it while the old one is still mapped: its inode stays alive
	 * (vmemu holds it open), so the new file cannot reuse its number... */
	unlink(path);
	int fd2 = open(path, O_RDWR | O_CREAT, 0600);
	cr_assert_eq(pwrite(fd2, fresh, PG, 0), (ssize_t)PG);
	unsigned char *b = vme_mmap(NULL, PG, PROT_READ, MAP_SHARED, fd2, 0);
	cr_assert_eq(b[0], 'n', "the new file's bytes, not the old cache's");
	cr_assert_eq(a[0], 'o', "the old mapping still maps the old file, as on Linux");
	/* ...and once the old one is gone, a reused inode number starts a fresh cache. */
	cr_assert_eq(vme_munmap(a, PG), 0);
	cr_assert_eq(vme_munmap(b, PG), 0);
	close(fd);
	close(fd2);
	unlink(path);
	int fd3 = open(path, O_RDWR | O_CREAT, 0600);
	memset(fresh, '3', PG);
	cr_assert_eq(pwrite(fd3, fresh, PG, 0), (ssize_t)PG);
	unsigned char *c = vme_mmap(NULL, PG, PROT_READ, MAP_SHARED, fd3, 0);
	cr_assert_eq(c[0], '3');
	unlink(path);
	rmdir(dir);
}
