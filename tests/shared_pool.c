/*
 * shared_pool.c - the frame pool is the domain's, shared by its processes:
 * pressure from one process evicts what nobody maps, never a frame another
 * live process maps (which would show it another file's bytes), and a
 * process with room in its own budget can still get frames.
 *
 * Budgets are 4 MiB (1024 frames) everywhere, so the pool's capacity (the
 * largest budget among the domain's live processes) is 1024 frames.
 */
#include <criterion/criterion.h>
#include <vmemu.h>

#include "peer.h"

#define RW (PROT_READ | PROT_WRITE)
#define BUDGET_MB 4
#define BIG_PAGES (6 * BUDGET_MB * 256)	/* six budgets */

static const char *op_open(const char *path)
{
	static char ops[4][96];
	static unsigned next;
	char *s = ops[next++ % 4];

	snprintf(s, sizeof(ops[0]), "open:%s", path);
	return s;
}

/* A sparse file of pages pages (zeros), named in path. */
static int sparse_file(char *path, size_t len, size_t pages)
{
	snprintf(path, len, "/tmp/vmemu-pool-XXXXXX");
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	track_file(path);
	cr_assert_eq(ftruncate(fd, (off_t)(pages * PG)), 0);
	return fd;
}

/* A peer with a 4 MiB budget reads a file six budgets long. */
static int peer_scans_big_file(const char *dname, const char *path)
{
	static char map[64], scan[64];
	struct peer b;

	snprintf(map, sizeof(map), "mapro:%lu", BIG_PAGES * PG);
	snprintf(scan, sizeof(scan), "scan:0:%lu", BIG_PAGES * PG);
	peer_start_env(&b, dname, BUDGET_MB, (const char *const[]){ op_open(path), map, scan, "exit:0", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "mapro ok");
	const char *l = peer_line_within(&b, 20000);
	bool scanned = l && !strcmp(l, "scan");
	int code = peer_finish(&b, 20);
	return scanned ? code : code == 0 ? -2 : code;
}

Test(shared_pool, another_process_pressure_never_takes_a_frame_this_one_maps, .fini = remove_test_domains,
     .timeout = 60)
{
	char dname[64], ypath[64];
	struct vme_stats s0, s1;

	test_domain(dname, sizeof(dname), "pool");
	join_domain(dname, BUDGET_MB);
	int xfd = pattern_file(64 * PG, 0);
	volatile unsigned char *p = vme_mmap(NULL, 64 * PG, RW, MAP_SHARED, xfd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	for (size_t i = 0; i < 64; i++)
		(void)p[i * PG];
	memcpy((void *)(p + 3 * PG + 9), "mine", 4);	/* dirty, in this process only */
	int yfd = sparse_file(ypath, sizeof(ypath), BIG_PAGES);

	int code = peer_scans_big_file(dname, ypath);
	cr_assert_eq(code, 0, "the peer reading another file ended with %d", code);
	cr_assert_eq(vme_stats(&s0), 0);
	for (size_t i = 0; i < 64; i++)
		for (size_t off = 0; off < PG; off += 509) {
			size_t at = i * PG + off;
			if (i == 3 && off >= 9 && off < 13)
				continue;
			cr_assert_eq(p[at], pattern_byte(at), "byte %zu: %#x, not the file's %#x", at, p[at],
				     pattern_byte(at));
		}
	cr_assert_eq(memcmp((const void *)(p + 3 * PG + 9), "mine", 4), 0);
	cr_assert_eq(vme_stats(&s1), 0);
	cr_assert_eq(s1.pgfault, s0.pgfault, "this process's mapped pages were taken away meanwhile");
	cr_assert_eq(vme_msync((void *)p, 64 * PG, MS_SYNC), 0);
	unsigned char *f = file_bytes(xfd, 3 * PG + 9, 4);
	cr_assert_eq(memcmp(f, "mine", 4), 0);
	free(f);
	vme_munmap((void *)p, 64 * PG);
	close(xfd);
	close(yfd);
	unlink(ypath);
}

/* What nobody maps any more is recycled for whoever needs it: this process
 * read and unmapped a file of the whole capacity, then a peer reads six
 * capacities of another. */
Test(shared_pool, frames_nobody_maps_are_recycled_for_another_process,
     .fini = remove_test_domains, .timeout = 60)
{
	char dname[64], ypath[64];

	test_domain(dname, sizeof(dname), "recycle");
	join_domain(dname, BUDGET_MB);
	int xfd = pattern_file(1024 * PG, 0);
	volatile unsigned char *p = vme_mmap(NULL, 1024 * PG, PROT_READ, MAP_SHARED, xfd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	for (size_t i = 0; i < 1024; i++)
		(void)p[i * PG];
	cr_assert_eq(vme_munmap((void *)p, 1024 * PG), 0);
	int yfd = sparse_file(ypath, sizeof(ypath), BIG_PAGES);
	int code = peer_scans_big_file(dname, ypath);
	cr_assert_eq(code, 0, "the peer ended with %d", code);
	close(xfd);
	close(yfd);
	unlink(ypath);
}

/* The pool's capacity is the largest budget among the domain's live
 * processes, and a frame a live process maps can be freed only by that
 * process. So when this process maps as many pages as its budget allows
 * (the whole pool), a peer with nothing resident finds every frame held and
 * none it can free: the pool then grows past the capacity for it, up to its
 * own budget (alloc_pages_run: the capacity bounds only what nobody holds).
 * It used to get SIGBUS at its first file fault. Linux reclaims from any
 * process; here each process's budget is its due. */
Test(shared_pool, a_process_mapping_the_whole_pool_does_not_starve_another_with_an_empty_budget,
     .fini = remove_test_domains, .timeout = 60)
{
	char dname[64], ypath[64];

	test_domain(dname, sizeof(dname), "starve");
	join_domain(dname, BUDGET_MB);
	int xfd = pattern_file(1024 * PG, 0);
	volatile unsigned char *p = vme_mmap(NULL, 1024 * PG, PROT_READ, MAP_SHARED, xfd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	for (size_t i = 0; i < 1024; i++)
		(void)p[i * PG];
	int yfd = sparse_file(ypath, sizeof(ypath), BIG_PAGES);
	int code = peer_scans_big_file(dname, ypath);
	cr_assert_eq(code, 0, "the peer, its own budget empty, ended with %d (1000 + %d: SIGBUS)", code, SIGBUS);
	vme_munmap((void *)p, 1024 * PG);
	close(xfd);
	close(yfd);
	unlink(ypath);
}
