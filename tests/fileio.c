/*
 * fileio.c - read, write, truncate and fsync meet the mappings of the same
 * file, host against vmemu (iodiff.h): both must log the same return
 * values, errno, bytes in memory, bytes on disk and signals.
 *
 *   write -> map      pwrite, pwritev, write at the file position, O_APPEND,
 *                     at and past the end (over a mapped hole)
 *   map -> read       a MAP_SHARED store is seen by pread, preadv, read and
 *                     readv before any msync; a store past the end is not
 *   truncate -> map   shrink: whole pages past the end are SIGBUS (BUS_ADRERR,
 *                     exact address), the partial page's tail reads zeros,
 *                     private copies past the end go; grow: zeros, no stale page
 *   map -> fsync      vme_fsync and vme_fdatasync write the stores back with
 *                     no msync, the end-of-file page only up to the end
 *
 * Each scenario runs in one process on one file, so vmemu's cache is the
 * only way the two halves of a scenario can agree with the host.
 */
#include <criterion/criterion.h>
#include <vmemu.h>

#include "iodiff.h"

#define RW (PROT_READ | PROT_WRITE)

static volatile unsigned char *map_file(const struct io_world *w, size_t len, int prot, int flags, int fd)
{
	volatile unsigned char *p = w->mmap(NULL, len, prot, flags, fd, 0);
	cr_assert_neq((void *)p, MAP_FAILED, "%s: mmap: %s", w->name, strerror(errno));
	return p;
}

/* --- write -> map ----------------------------------------------------------- */

/* pwrite over a page boundary of pages the mapping has read (present) and
 * of one it has not: every byte shows, at once, and reaches the file. */
static void pwrite_then_map(const struct io_world *w, struct io_log *l)
{
	char path[64];
	int fd = io_pattern_file(path, 3 * PG);
	volatile unsigned char *p = map_file(w, 3 * PG, RW, MAP_SHARED, fd);

	io_logf(l, "read first %02x %02x", p[0], p[PG + 5]);
	io_log_ret(l, "pwrite", w->pwrite(fd, "boundary", 8, PG - 4));
	io_log_ret(l, "pwrite page 2", w->pwrite(fd, "fresh", 5, 2 * PG + 100));
	io_log_bytes(l, "map", p + PG - 8, 16);
	io_log_bytes(l, "map page 2", p + 2 * PG + 98, 9);
	io_log_file(l, fd, PG - 8, 16);
	io_log_file(l, fd, 2 * PG + 98, 9);
	w->munmap((void *)p, 3 * PG);
	close(fd);
	unlink(path);
}

Test(fileio, pwrite_is_seen_at_once_by_a_mapping_of_the_pages, .fini = remove_tracked_files, .timeout = 20)
{
	struct io_log h;
	unsigned char want[16];
	io_compare(pwrite_then_map, &h);
	for (size_t i = 0; i < 16; i++)
		want[i] = pattern_byte(PG - 8 + i);
	memcpy(want + 4, "boundary", 8);
	io_host_said(&h, "map: %s", hexof(want, 16));
}

/* pwritev of three pieces over pages 0..2, seen by a shared mapping, by a
 * private mapping's pages it has not copied, and not by one it copied. */
static void pwritev_then_maps(const struct io_world *w, struct io_log *l)
{
	char path[64];
	int fd = io_pattern_file(path, 3 * PG);
	volatile unsigned char *s = map_file(w, 3 * PG, PROT_READ, MAP_SHARED, fd);
	volatile unsigned char *priv = map_file(w, 3 * PG, RW, MAP_PRIVATE, fd);

	io_logf(l, "read %02x %02x", s[0], priv[0]);
	priv[2 * PG + 1] = 0xcc;	/* page 2: a private copy now */
	struct iovec iov[3] = {
		{ .iov_base = "aaaa", .iov_len = 4 },
		{ .iov_base = "bbbbbbbb", .iov_len = 8 },
		{ .iov_base = "cc", .iov_len = 2 },
	};
	io_log_ret(l, "pwritev", w->pwritev(fd, iov, 3, PG - 6));
	iov[0].iov_base = "dddd";
	io_log_ret(l, "pwritev page 2", w->pwritev(fd, iov, 1, 2 * PG));
	io_log_bytes(l, "shared", s + PG - 8, 18);
	io_log_bytes(l, "private, not copied", priv + PG - 8, 18);
	io_log_bytes(l, "shared page 2", s + 2 * PG, 4);
	io_log_bytes(l, "private copy page 2", priv + 2 * PG, 4);
	io_log_file(l, fd, PG - 8, 18);
	w->munmap((void *)s, 3 * PG);
	w->munmap((void *)priv, 3 * PG);
	close(fd);
	unlink(path);
}

Test(fileio, pwritev_is_seen_by_shared_and_uncopied_private_pages, .fini = remove_tracked_files, .timeout = 20)
{
	io_compare(pwritev_then_maps, NULL);
}

/* write and writev at the file position: the position moves as on Linux and
 * the mapping shows the bytes. */
static void write_at_position(const struct io_world *w, struct io_log *l)
{
	char path[64];
	int fd = io_pattern_file(path, 2 * PG);
	volatile unsigned char *p = map_file(w, 2 * PG, PROT_READ, MAP_SHARED, fd);

	io_logf(l, "read %02x", p[PG + 10]);
	io_log_ret(l, "lseek", lseek(fd, PG + 10, SEEK_SET));
	io_log_ret(l, "write", w->write(fd, "position", 8));
	io_log_ret(l, "offset after", lseek(fd, 0, SEEK_CUR));
	struct iovec iov[2] = { { .iov_base = "vec", .iov_len = 3 }, { .iov_base = "tor", .iov_len = 3 } };
	io_log_ret(l, "writev", w->writev(fd, iov, 2));
	io_log_ret(l, "offset after writev", lseek(fd, 0, SEEK_CUR));
	io_log_bytes(l, "map", p + PG + 8, 20);
	io_log_file(l, fd, PG + 8, 20);
	w->munmap((void *)p, 2 * PG);
	close(fd);
	unlink(path);
}

Test(fileio, write_and_writev_at_the_file_position_are_seen_by_the_mapping,
     .fini = remove_tracked_files, .timeout = 20)
{
	io_compare(write_at_position, NULL);
}

/* O_APPEND: the bytes land at the end, whatever the offset says, and the
 * mapping (two pages over a file of a page and a half) shows them in the
 * end-of-file page it had read; a plain descriptor's write follows. */
static void append(const struct io_world *w, struct io_log *l, bool positioned)
{
	char path[64];
	int fd = io_pattern_file(path, PG + PG / 2);
	int app = open(path, O_WRONLY | O_APPEND);
	cr_assert(app >= 0);
	volatile unsigned char *p = map_file(w, 2 * PG, PROT_READ, MAP_SHARED, fd);

	io_logf(l, "read eof page %02x %02x", p[PG + 5], p[PG + PG / 2 + 5]);
	if (positioned)	/* pwrite on O_APPEND appends too: Linux's documented bug */
		io_log_ret(l, "pwrite O_APPEND", w->pwrite(app, "APPENDED", 8, 0));
	else
		io_log_ret(l, "write O_APPEND", w->write(app, "APPENDED", 8));
	io_log_ret(l, "write O_APPEND again", w->write(app, "++", 2));
	io_log_bytes(l, "map at the old end", p + PG + PG / 2 - 4, 16);
	io_log_bytes(l, "map at 0", p, 8);
	io_log_file(l, fd, PG + PG / 2 - 4, 16);
	w->munmap((void *)p, 2 * PG);
	close(app);
	close(fd);
	unlink(path);
}

static void write_append(const struct io_world *w, struct io_log *l)
{
	append(w, l, false);
}

static void pwrite_append(const struct io_world *w, struct io_log *l)
{
	append(w, l, true);
}

Test(fileio, write_with_o_append_lands_at_the_end_and_the_mapping_shows_it,
     .fini = remove_tracked_files, .timeout = 20)
{
	struct io_log h;
	io_compare(write_append, &h);
	io_host_said(&h, "write O_APPEND = 8");
}

Test(fileio, pwrite_with_o_append_appends_as_on_linux, .fini = remove_tracked_files, .timeout = 20)
{
	io_compare(pwrite_append, NULL);
}

/* A write past the end over a mapping four pages long of a file of a page
 * and a bit: the mapped end-of-file page (with a store past the end in it)
 * and the hole read zeros, the new page shows the bytes, and nothing that
 * was SIGBUS before is SIGBUS any more. */
static void pwrite_past_eof(const struct io_world *w, struct io_log *l)
{
	char path[64];
	int fd = io_pattern_file(path, PG + 100);
	volatile unsigned char *p = map_file(w, 4 * PG, RW, MAP_SHARED, fd);
	const unsigned char z = 'z';

	io_logf(l, "read %02x %02x", p[0], p[PG + 50]);
	io_log_probe(l, "page 2 before", p, 2 * PG + 1, NULL);
	io_log_probe(l, "store past the end, in the last page", p, PG + 300, &z);
	io_log_ret(l, "pwrite far", w->pwrite(fd, "far", 3, 3 * PG + 7));
	io_log_bytes(l, "old last page around the old end", p + PG + 96, 8);
	io_log_bytes(l, "the store past the old end", p + PG + 298, 4);
	io_log_bytes(l, "the hole", p + 2 * PG, 16);
	io_log_bytes(l, "the new page", p + 3 * PG, 12);
	io_log_probe(l, "page 3 past the new end", p, 3 * PG + 4000, NULL);
	io_log_file(l, fd, PG + 96, 8);
	io_log_file(l, fd, PG + 296, 8);
	io_log_file(l, fd, 3 * PG, 12);
	cr_assert_eq(w->msync((void *)p, 4 * PG, MS_SYNC), 0);
	io_log_file(l, fd, PG + 296, 8);
	w->munmap((void *)p, 4 * PG);
	close(fd);
	unlink(path);
}

Test(fileio, pwrite_past_the_end_extends_the_file_over_a_mapped_hole,
     .fini = remove_tracked_files, .timeout = 20)
{
	struct io_log h;
	io_compare(pwrite_past_eof, &h);
	io_host_said(&h, "page 2 before: signal %d code %d at +%ld (probed %zu)", SIGBUS, BUS_ADRERR,
		     (long)(2 * PG + 1), (size_t)(2 * PG + 1));
}

/* A write exactly at the end, inside the end-of-file page the mapping has. */
static void pwrite_at_eof(const struct io_world *w, struct io_log *l)
{
	char path[64];
	int fd = io_pattern_file(path, PG + 100);
	volatile unsigned char *p = map_file(w, 2 * PG, PROT_READ, MAP_SHARED, fd);

	io_logf(l, "read %02x", p[PG + 99]);
	io_log_bytes(l, "past the end before", p + PG + 98, 6);
	io_log_ret(l, "pwrite at the end", w->pwrite(fd, "eof", 3, PG + 100));
	io_log_bytes(l, "after", p + PG + 98, 6);
	io_log_file(l, fd, PG + 98, 6);
	w->munmap((void *)p, 2 * PG);
	close(fd);
	unlink(path);
}

Test(fileio, pwrite_at_the_end_shows_in_the_end_of_file_page, .fini = remove_tracked_files, .timeout = 20)
{
	io_compare(pwrite_at_eof, NULL);
}

/* --- map -> read ------------------------------------------------------------ */

/* Stores through MAP_SHARED, no msync: every read call sees them. */
static void store_then_reads(const struct io_world *w, struct io_log *l)
{
	char path[64];
	int fd = io_pattern_file(path, 3 * PG);
	volatile unsigned char *p = map_file(w, 3 * PG, RW, MAP_SHARED, fd);
	unsigned char a[16] = { 0 }, b[16] = { 0 }, c[16] = { 0 };

	memcpy((void *)(p + PG - 3), "STORED", 6);
	memcpy((void *)(p + 2 * PG + 7), "second", 6);
	io_log_ret(l, "pread", w->pread(fd, a, 16, PG - 8));
	io_log_bytes(l, "pread", a, 16);
	struct iovec iov[2] = { { .iov_base = b, .iov_len = 5 }, { .iov_base = c, .iov_len = 11 } };
	io_log_ret(l, "preadv", w->preadv(fd, iov, 2, PG - 8));
	io_log_bytes(l, "preadv 1", b, 5);
	io_log_bytes(l, "preadv 2", c, 11);
	io_log_ret(l, "lseek", lseek(fd, 2 * PG + 4, SEEK_SET));
	memset(a, 0, sizeof(a));
	io_log_ret(l, "read", w->read(fd, a, 12));
	io_log_bytes(l, "read", a, 12);
	io_log_ret(l, "lseek", lseek(fd, PG - 4, SEEK_SET));
	memset(b, 0, sizeof(b));
	memset(c, 0, sizeof(c));
	io_log_ret(l, "readv", w->readv(fd, iov, 2));
	io_log_bytes(l, "readv 1", b, 5);
	io_log_bytes(l, "readv 2", c, 11);
	io_log_ret(l, "offset after", lseek(fd, 0, SEEK_CUR));
	w->munmap((void *)p, 3 * PG);
	close(fd);
	unlink(path);
}

Test(fileio, a_shared_store_is_seen_by_pread_preadv_read_readv_before_writeback,
     .fini = remove_tracked_files, .timeout = 20)
{
	struct io_log h;
	unsigned char want[12];
	io_compare(store_then_reads, &h);
	for (size_t i = 0; i < 12; i++)
		want[i] = pattern_byte(2 * PG + 4 + i);
	memcpy(want + 3, "second", 6);
	io_host_said(&h, "read: %s", hexof(want, 12));
}

/* A store in the end-of-file page, before and past the end: read returns
 * the one before the end and stops there. */
static void store_past_eof_then_read(const struct io_world *w, struct io_log *l)
{
	char path[64];
	int fd = io_pattern_file(path, PG + 100);
	volatile unsigned char *p = map_file(w, 2 * PG, RW, MAP_SHARED, fd);
	unsigned char b[PG] = { 0 };

	p[PG + 50] = 'i';
	p[PG + 200] = 'o';
	io_log_ret(l, "pread of the last page", w->pread(fd, b, PG, PG));
	io_log_bytes(l, "it", b + 48, 4);
	io_log_ret(l, "pread past the end", w->pread(fd, b, 10, PG + 200));
	io_log_bytes(l, "map keeps the store past the end", p + PG + 199, 3);
	w->munmap((void *)p, 2 * PG);
	close(fd);
	unlink(path);
}

Test(fileio, a_store_past_the_end_is_not_read_but_stays_in_the_page,
     .fini = remove_tracked_files, .timeout = 20)
{
	io_compare(store_past_eof_then_read, NULL);
}

/* --- truncate -> map ------------------------------------------------------- */

/* Shrink to a page and 100 bytes under a shared mapping of four pages,
 * all read, one stored past the new end: the tail reads zeros, pages 2
 * and 3 are SIGBUS at the exact address, by read and by write. */
static void shrink(const struct io_world *w, struct io_log *l, bool by_path)
{
	char path[64];
	int fd = io_pattern_file(path, 4 * PG);
	volatile unsigned char *p = map_file(w, 4 * PG, RW, MAP_SHARED, fd);
	const unsigned char x = 'x';

	for (size_t i = 0; i < 4; i++)
		(void)p[i * PG];
	p[PG + 300] = 'd';	/* dirty, past the coming end */
	p[3 * PG + 1] = 'd';
	io_log_ret(l, "truncate", by_path ? w->truncate(path, PG + 100) : w->ftruncate(fd, PG + 100));
	io_log_bytes(l, "around the new end", p + PG + 96, 8);
	io_log_bytes(l, "the dirty byte's place", p + PG + 298, 4);
	io_log_bytes(l, "the page's last bytes", p + 2 * PG - 4, 4);
	io_log_probe(l, "page 2", p, 2 * PG, NULL);
	io_log_probe(l, "page 3", p, 3 * PG + 17, NULL);
	io_log_probe(l, "store to page 2", p, 2 * PG + 5, &x);
	io_log_probe(l, "store past the end in page 1", p, PG + 500, &x);
	cr_assert_eq(w->msync((void *)p, 2 * PG, MS_SYNC), 0);
	io_log_file(l, fd, PG + 90, 20);
	w->munmap((void *)p, 4 * PG);
	close(fd);
	unlink(path);
}

static void shrink_fd(const struct io_world *w, struct io_log *l)
{
	shrink(w, l, false);
}

static void shrink_path(const struct io_world *w, struct io_log *l)
{
	shrink(w, l, true);
}

Test(fileio, shrinking_ftruncate_sigbus_past_the_end_and_zero_tail, .fini = remove_tracked_files, .timeout = 20)
{
	struct io_log h;
	io_compare(shrink_fd, &h);
	io_host_said(&h, "page 3: signal %d code %d at +%ld (probed %zu)", SIGBUS, BUS_ADRERR, (long)(3 * PG + 17),
		     (size_t)(3 * PG + 17));
	unsigned char want[8] = { 0 };
	for (size_t i = 0; i < 4; i++)
		want[i] = pattern_byte(PG + 96 + i);
	io_host_said(&h, "around the new end: %s", hexof(want, 8));
}

Test(fileio, shrinking_truncate_by_path_does_the_same, .fini = remove_tracked_files, .timeout = 20)
{
	io_compare(shrink_path, NULL);
}

/* MAP_PRIVATE: copies past the new end go with the file's pages (SIGBUS),
 * a copy inside stays, an uncopied partial page shows the zeroed tail. */
static void shrink_private(const struct io_world *w, struct io_log *l)
{
	char path[64];
	int fd = io_pattern_file(path, 4 * PG);
	volatile unsigned char *p = map_file(w, 4 * PG, RW, MAP_PRIVATE, fd);

	p[5] = 'P';		/* copy inside the coming end */
	(void)p[PG];		/* read only: stays the cache's */
	p[2 * PG + 5] = 'P';	/* copy past the coming end */
	p[3 * PG + 5] = 'P';
	io_log_ret(l, "ftruncate", w->ftruncate(fd, PG + 100));
	io_log_bytes(l, "copy inside", p + 4, 3);
	io_log_bytes(l, "uncopied end-of-file page", p + PG + 98, 4);
	io_log_probe(l, "copy past the end", p, 2 * PG + 5, NULL);
	io_log_probe(l, "other copy past the end", p, 3 * PG + 5, NULL);
	w->munmap((void *)p, 4 * PG);
	close(fd);
	unlink(path);
}

Test(fileio, shrinking_truncate_takes_private_copies_past_the_end, .fini = remove_tracked_files, .timeout = 20)
{
	struct io_log h;
	io_compare(shrink_private, &h);
	io_host_said(&h, "copy past the end: signal %d code %d at +%ld (probed %zu)", SIGBUS, BUS_ADRERR,
		     (long)(2 * PG + 5), (size_t)(2 * PG + 5));
}

/* Shrink then grow again: no stale byte comes back, anywhere. */
static void shrink_then_grow(const struct io_world *w, struct io_log *l)
{
	char path[64];
	int fd = io_pattern_file(path, 4 * PG);
	volatile unsigned char *p = map_file(w, 4 * PG, RW, MAP_SHARED, fd);

	for (size_t i = 0; i < 4; i++)
		(void)p[i * PG];
	p[2 * PG + 9] = 'd';
	io_log_ret(l, "shrink", w->ftruncate(fd, PG + 100));
	io_log_ret(l, "grow", w->ftruncate(fd, 3 * PG + 10));
	io_log_bytes(l, "old tail", p + PG + 96, 8);
	io_log_bytes(l, "page 1 end", p + 2 * PG - 4, 4);
	io_log_bytes(l, "page 2", p + 2 * PG, 16);
	io_log_bytes(l, "page 3", p + 3 * PG, 16);
	io_log_probe(l, "page 3 past the end", p, 3 * PG + 100, NULL);
	unsigned char b[16];
	io_log_ret(l, "pread page 2", w->pread(fd, b, 16, 2 * PG));
	io_log_bytes(l, "pread", b, 16);
	io_log_file(l, fd, 2 * PG, 16);
	w->munmap((void *)p, 4 * PG);
	close(fd);
	unlink(path);
}

Test(fileio, growing_truncate_reads_zeros_never_stale_pages, .fini = remove_tracked_files, .timeout = 20)
{
	io_compare(shrink_then_grow, NULL);
}

/* --- map -> fsync -> file ----------------------------------------------------- */

/* Stores in three pages (one the end-of-file page, one store past the end),
 * then fsync or fdatasync: the file holds them, up to its end, with no
 * msync, and its size has not changed.  (What the mapping shows past the
 * end afterwards is the file system's choice: ext4 zeroes the tail of the
 * end-of-file page when it writes it back, vmemu leaves the store there;
 * POSIX leaves it unspecified, so it is not compared.) */
static void store_then_sync(const struct io_world *w, struct io_log *l, bool data_only)
{
	char path[64];
	int fd = io_pattern_file(path, 2 * PG + 100);
	volatile unsigned char *p = map_file(w, 3 * PG, RW, MAP_SHARED, fd);

	memcpy((void *)(p + 10), "one", 3);
	memcpy((void *)(p + PG + 10), "two", 3);
	memcpy((void *)(p + 2 * PG + 90), "three", 5);
	memcpy((void *)(p + 2 * PG + 200), "past", 4);
	io_log_ret(l, data_only ? "fdatasync" : "fsync", data_only ? w->fdatasync(fd) : w->fsync(fd));
	io_log_file(l, fd, 8, 8);
	io_log_file(l, fd, PG + 8, 8);
	io_log_file(l, fd, 2 * PG + 88, 16);
	w->munmap((void *)p, 3 * PG);
	close(fd);
	unlink(path);
}

static void store_fsync(const struct io_world *w, struct io_log *l)
{
	store_then_sync(w, l, false);
}

static void store_fdatasync(const struct io_world *w, struct io_log *l)
{
	store_then_sync(w, l, true);
}

Test(fileio, fsync_writes_mapped_stores_to_the_file_without_msync, .fini = remove_tracked_files, .timeout = 20)
{
	struct io_log h;
	io_compare(store_fsync, &h);
	io_host_said(&h, "file size %ld, 12 bytes at %ld", (long)(2 * PG + 100), (long)(2 * PG + 88));
}

Test(fileio, fdatasync_writes_mapped_stores_to_the_file_without_msync,
     .fini = remove_tracked_files, .timeout = 20)
{
	io_compare(store_fdatasync, NULL);
}

/* fsync through another descriptor of the file (not the one mapped). */
static void store_then_fsync_other_fd(const struct io_world *w, struct io_log *l)
{
	char path[64];
	int fd = io_pattern_file(path, 2 * PG);
	volatile unsigned char *p = map_file(w, 2 * PG, RW, MAP_SHARED, fd);
	int other = open(path, O_RDWR);

	cr_assert(other >= 0);
	memcpy((void *)(p + PG + 1), "other", 5);
	io_log_ret(l, "fsync other", w->fsync(other));
	io_log_file(l, other, PG, 8);
	w->munmap((void *)p, 2 * PG);
	close(other);
	close(fd);
	unlink(path);
}

Test(fileio, fsync_through_a_second_descriptor_writes_the_stores_back,
     .fini = remove_tracked_files, .timeout = 20)
{
	io_compare(store_then_fsync_other_fd, NULL);
}

/* --- errors are the host's --------------------------------------------------- */

static void io_errors(const struct io_world *w, struct io_log *l)
{
	char path[64];
	int fd = io_pattern_file(path, 2 * PG);
	int ro = open(path, O_RDONLY);
	volatile unsigned char *p = map_file(w, 2 * PG, PROT_READ, MAP_SHARED, fd);
	unsigned char b[8];

	(void)p[0];
	errno = 0;
	io_log_ret(l, "pwrite on O_RDONLY", w->pwrite(ro, "x", 1, 0));
	io_log_ret(l, "pread at a negative offset", w->pread(fd, b, 1, -1));
	io_log_ret(l, "ftruncate to a negative length", w->ftruncate(fd, -1));
	io_log_ret(l, "ftruncate on O_RDONLY", w->ftruncate(ro, 0));
	io_log_ret(l, "pread past the end", w->pread(fd, b, 8, 10 * PG));
	io_log_ret(l, "fsync of a closed descriptor", w->fsync(1000));
	io_log_bytes(l, "map unchanged", p, 4);
	io_log_file(l, fd, 0, 4);
	w->munmap((void *)p, 2 * PG);
	close(ro);
	close(fd);
	unlink(path);
}

Test(fileio, io_errors_are_the_hosts_and_change_nothing, .fini = remove_tracked_files, .timeout = 20)
{
	io_compare(io_errors, NULL);
}
