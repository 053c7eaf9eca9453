/*
 * reproducers.c - the shared page cache issue's reproducers, F1 to F5, each
 * asserting what Linux gives (differentially where the host can answer):
 *
 *   F1  map, read p[0], pwrite "new" at 0: the map shows "new"; and the
 *       reverse, read() sees a MAP_SHARED store before write-back
 *   F2  ftruncate shrink, pwrite regrow, mremap grow: no stale page
 *   F3  process A stores "new" through MAP_SHARED, fork+execs B, which maps
 *       the file and reads "new"; B's reply is seen by A with no msync or
 *       munmap; a PTHREAD_PROCESS_SHARED mutex in the mapped file, locked by
 *       one process, is contended by the other
 *   F4  write(fd, map, n) from pages never touched succeeds, as on Linux
 *   F5  map, read every page, unmap, twenty times: the file is read once
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <vmemu.h>

#include "iodiff.h"
#include "peer.h"

#define RW (PROT_READ | PROT_WRITE)

/* --- F1 ------------------------------------------------------------------ */

static void f1_pwrite_then_map(const struct io_world *w, struct io_log *l)
{
	char path[64];
	int fd = io_pattern_file(path, PG);
	volatile unsigned char *p = w->mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);

	cr_assert_neq((void *)p, MAP_FAILED);
	io_logf(l, "p[0] %02x", p[0]);
	io_log_ret(l, "pwrite", w->pwrite(fd, "new", 3, 0));
	io_log_bytes(l, "map", p, 3);
	w->munmap((void *)p, PG);
	close(fd);
	unlink(path);
}

Test(reproducers, f1_pwrite_after_the_map_read_the_page_shows_in_the_map,
     .fini = remove_tracked_files, .timeout = 20)
{
	struct io_log h;
	io_compare(f1_pwrite_then_map, &h);
	io_host_said(&h, "map: %s", hexof("new", 3));
}

static void f1_store_then_read(const struct io_world *w, struct io_log *l)
{
	char path[64];
	int fd = io_pattern_file(path, PG);
	volatile unsigned char *p = w->mmap(NULL, PG, RW, MAP_SHARED, fd, 0);
	char b[3] = { 0 };

	cr_assert_neq((void *)p, MAP_FAILED);
	memcpy((void *)p, "new", 3);
	io_log_ret(l, "read", w->read(fd, b, 3));
	io_log_bytes(l, "read", (unsigned char *)b, 3);
	w->munmap((void *)p, PG);
	close(fd);
	unlink(path);
}

Test(reproducers, f1_read_sees_a_map_shared_store_before_writeback, .fini = remove_tracked_files, .timeout = 20)
{
	struct io_log h;
	io_compare(f1_store_then_read, &h);
	io_host_said(&h, "read: %s", hexof("new", 3));
}

/* --- F2 ------------------------------------------------------------------ */

static void f2_shrink_regrow_mremap(const struct io_world *w, struct io_log *l)
{
	char path[64];
	int fd = io_pattern_file(path, 2 * PG);
	volatile unsigned char *p = w->mmap(NULL, 2 * PG, RW, MAP_SHARED, fd, 0);

	cr_assert_neq((void *)p, MAP_FAILED);
	io_logf(l, "read %02x %02x", p[0], p[PG + 1]);
	io_log_ret(l, "ftruncate shrink", w->ftruncate(fd, 100));
	io_log_ret(l, "pwrite regrow", w->pwrite(fd, "regrown", 7, 3 * PG + 5));
	volatile unsigned char *q = w->mremap((void *)p, 2 * PG, 4 * PG, MREMAP_MAYMOVE);
	cr_assert_neq((void *)q, MAP_FAILED, "%s: mremap: %s", w->name, strerror(errno));
	io_log_bytes(l, "page 0 tail", q + 96, 8);
	io_log_bytes(l, "page 1 (was cached)", q + PG, 16);
	io_log_bytes(l, "page 2", q + 2 * PG, 16);
	io_log_bytes(l, "page 3", q + 3 * PG, 16);
	io_log_file(l, fd, PG, 16);
	w->munmap((void *)q, 4 * PG);
	close(fd);
	unlink(path);
}

Test(reproducers, f2_shrink_regrow_and_mremap_show_no_stale_page, .fini = remove_tracked_files, .timeout = 20)
{
	struct io_log h;
	unsigned char zeros[16] = { 0 };
	io_compare(f2_shrink_regrow_mremap, &h);
	io_host_said(&h, "page 1 (was cached): %s", hexof(zeros, 16));
}

/* --- F3: another process, started with exec -------------------------------- */

Test(reproducers, f3_a_store_is_seen_by_an_exec_peer_and_its_reply_without_msync, .fini = remove_test_domains,
     .timeout = 30)
{
	char dname[64], path[64], op_open[96];
	struct peer b;

	test_domain(dname, sizeof(dname), "f3");
	join_domain(dname, 0);
	int fd = pattern_file_at(path, sizeof(path), 2 * PG);
	volatile unsigned char *p = vme_mmap(NULL, 2 * PG, RW, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	memcpy((void *)p, "new", 3);	/* A: no msync, ever */

	snprintf(op_open, sizeof(op_open), "open:%s", path);
	peer_start(&b, dname, (const char *const[]){ op_open, "map:8192", "get:0:3", "put:4096:reply", "say:stored",
						   "wait", "_exit:0", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "map ok");
	peer_expect(&b, "get %s", hexof("new", 3));	/* Linux: B reads "new" */
	peer_expect(&b, "put ok");
	peer_expect(&b, "stored");
	cr_assert_eq(memcmp((const void *)(p + PG), "reply", 5), 0, "A does not see B's reply: %s",
		     hexof((const void *)(p + PG), 5));
	peer_go(&b);
	cr_assert_eq(peer_finish(&b, 10), 0);
	vme_munmap((void *)p, 2 * PG);
	close(fd);
	unlink(path);
}

Test(reproducers, f3_a_process_shared_mutex_in_a_mapped_file_is_contended_across_exec,
     .fini = remove_test_domains, .timeout = 30)
{
	char dname[64], path[64], op_open[96];
	struct peer b;

	test_domain(dname, sizeof(dname), "mutex");
	join_domain(dname, 0);
	int fd = pattern_file_at(path, sizeof(path), PG);
	unsigned char *p = vme_mmap(NULL, PG, RW, MAP_SHARED, fd, 0);
	cr_assert_neq(p, MAP_FAILED);
	pthread_mutex_t *m = (pthread_mutex_t *)(void *)(p + 64);
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	cr_assert_eq(pthread_mutex_init(m, &a), 0);
	cr_assert_eq(pthread_mutex_lock(m), 0);
	memcpy(p + 512, "before", 6);

	snprintf(op_open, sizeof(op_open), "open:%s", path);
	peer_start(&b, dname, (const char *const[]){ op_open, "map:4096", "trylock:64", "say:locking", "lock:64",
						   "get:512:6", "unlock:64", "_exit:0", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "map ok");
	peer_expect(&b, "trylock %d", EBUSY);	/* held by A, seen through B's own mapping */
	peer_expect(&b, "locking");
	/* B now sleeps on the mutex (a futex on the shared frame): it must not
	 * get it while A holds it. */
	const char *early = peer_line_within(&b, 200);
	cr_assert_null(early, "B took the mutex A holds: \"%s\"", early);
	memcpy(p + 512, "A-done", 6);
	cr_assert_eq(pthread_mutex_unlock(m), 0);
	peer_expect(&b, "lock 0");
	peer_expect(&b, "get %s", hexof("A-done", 6));	/* what A wrote under the mutex */
	peer_expect(&b, "unlock 0");
	cr_assert_eq(peer_finish(&b, 10), 0);
	cr_assert_eq(pthread_mutex_trylock(m), 0, "B's unlock reached A's mapping");
	pthread_mutex_unlock(m);
	vme_munmap(p, PG);
	close(fd);
	unlink(path);
}

/* --- F4 ------------------------------------------------------------------ */

/* write(2) from a mapping nobody touched: the whole of it (and, over a
 * mapping longer than its file, up to the end of the file's last page). */
static void f4_write_from_untouched(const struct io_world *w, struct io_log *l, size_t file_size)
{
	char src_path[64], dst_path[64];
	int src = io_pattern_file(src_path, file_size);
	int dst = io_pattern_file(dst_path, 0);
	volatile unsigned char *p = w->mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, src, 0);

	cr_assert_neq((void *)p, MAP_FAILED);
	errno = 0;
	io_log_ret(l, "write from the mapping", w->write(dst, (const void *)p, 4 * PG));
	io_log_file(l, dst, PG - 4, 8);
	io_log_file(l, dst, 2 * PG + PG / 2 - 4, 8);
	w->munmap((void *)p, 4 * PG);
	close(src);
	close(dst);
	unlink(src_path);
	unlink(dst_path);
}

static void f4_whole(const struct io_world *w, struct io_log *l)
{
	f4_write_from_untouched(w, l, 4 * PG);
}

static void f4_past_eof(const struct io_world *w, struct io_log *l)
{
	f4_write_from_untouched(w, l, 2 * PG + PG / 2);
}

Test(reproducers, f4_write_from_pages_never_touched_succeeds, .fini = remove_tracked_files, .timeout = 20)
{
	struct io_log h;
	io_compare(f4_whole, &h);
	io_host_said(&h, "write from the mapping = %lu", 4 * PG);
}

Test(reproducers, f4_write_from_a_mapping_longer_than_its_file_stops_where_linux_does,
     .fini = remove_tracked_files, .timeout = 20)
{
	io_compare(f4_past_eof, NULL);
}

/* --- F5 ------------------------------------------------------------------ */

Test(reproducers, f5_twenty_map_read_unmap_cycles_read_the_file_once,
     .fini = remove_test_domains, .timeout = 30)
{
	const size_t pages = 64;
	char dname[64];
	struct vme_stats s0, s1;

	test_domain(dname, sizeof(dname), "f5");	/* no other process's pressure */
	join_domain(dname, 0);
	int fd = pattern_file(pages * PG, 0);

	cr_assert_eq(vme_stats(&s0), 0);
	for (int round = 0; round < 20; round++) {
		volatile unsigned char *p = vme_mmap(NULL, pages * PG, PROT_READ, MAP_SHARED, fd, 0);
		cr_assert_neq((void *)p, MAP_FAILED);
		for (size_t i = 0; i < pages; i++)
			cr_assert_eq(p[i * PG + 7], pattern_byte(i * PG + 7), "round %d page %zu", round, i);
		cr_assert_eq(vme_munmap((void *)p, pages * PG), 0);
	}
	cr_assert_eq(vme_stats(&s1), 0);
	cr_assert_eq(s1.pgpgin - s0.pgpgin, pages, "pgpgin %lu: the cache did not outlive the unmaps",
		     (unsigned long)(s1.pgpgin - s0.pgpgin));
	cr_assert_leq(s1.pgmajfault - s0.pgmajfault, pages);
	close(fd);
}
