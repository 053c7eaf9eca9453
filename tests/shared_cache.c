/*
 * shared_cache.c - one page cache per file for every process of a domain,
 * whether or not they are related by fork: processes started with exec
 * (vmemu-peer, tests/peer.h) see each other's stores, writes and
 * truncations, and a cache outlives the processes that filled it.
 *
 * Each test uses a domain of its own (its pid in the name), so that other
 * tests and other users of the machine cannot disturb it, except the one
 * that checks the default domain itself.
 *
 * Another process's truncation reaches this process lazily: Linux would
 * raise SIGBUS at once on a page past the new end that this process still
 * maps; vmemu unmaps such pages at this process's next fault on the file
 * (checked here) or its next vmemu call (docs/design.md, "Another process
 * changed the cache"), and until then the page keeps its old bytes.
 */
#include <criterion/criterion.h>
#include <vmemu.h>

#include "iodiff.h"
#include "peer.h"

#define RW (PROT_READ | PROT_WRITE)

/* "open:PATH" for a peer. */
static const char *op_open(const char *path)
{
	static char ops[4][96];
	static unsigned next;
	char *s = ops[next++ % 4];

	snprintf(s, sizeof(ops[0]), "open:%s", path);
	return s;
}

/* Two peers, both started with exec, neither the test process: each sees
 * the other's stores through its own mapping, with no msync or munmap.
 * (They exit(3) afterwards, writing back, so that nothing dirty of a file
 * about to be unlinked is left in a domain others use.) */
static void two_peers_both_ways(const char *dname)
{
	char path[64];
	struct peer a, b;
	int fd = pattern_file_at(path, sizeof(path), 4 * PG);

	peer_start(&a, dname, (const char *const[]){ op_open(path), "map:16384", "put:5:fromA", "say:stored", "wait",
						     "get:12300:5", "exit:0", NULL });
	peer_expect(&a, "open ok");
	peer_expect(&a, "map ok");
	peer_expect(&a, "put ok");
	peer_expect(&a, "stored");
	peer_start(&b, dname, (const char *const[]){ op_open(path), "map:16384", "get:5:5", "put:12300:fromB",
						     "exit:0", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "map ok");
	peer_expect(&b, "get %s", hexof("fromA", 5));
	peer_expect(&b, "put ok");
	cr_assert_eq(peer_finish(&b, 10), 0);
	peer_go(&a);
	peer_expect(&a, "get %s", hexof("fromB", 5));
	cr_assert_eq(peer_finish(&a, 10), 0);
	close(fd);
	unlink(path);
}

Test(shared_cache, two_exec_processes_see_each_others_stores_both_ways,
     .fini = remove_test_domains, .timeout = 30)
{
	char dname[64];
	test_domain(dname, sizeof(dname), "both");
	two_peers_both_ways(dname);
}

Test(shared_cache, the_default_domain_is_shared_by_every_vmemu_process,
     .fini = remove_test_domains, .timeout = 30)
{
	two_peers_both_ways("default");
}

/* The cache outlives the process that filled it: another process, started
 * later, maps the file and reads nothing from it. */
Test(shared_cache, a_cache_filled_by_one_process_serves_the_next_without_reading,
     .fini = remove_test_domains, .timeout = 30)
{
	char dname[64], path[64], stats[128];
	struct peer a, b;

	test_domain(dname, sizeof(dname), "outlive");
	join_domain(dname, 0);	/* keeps the domain alive between the two */
	int fd = pattern_file_at(path, sizeof(path), 32 * PG);
	peer_start(&a, dname, (const char *const[]){ op_open(path), "mapro:131072", "scan:0:131072", "stats",
						     "exit:0", NULL });
	peer_expect(&a, "open ok");
	peer_expect(&a, "mapro ok");
	peer_expect(&a, "scan");
	snprintf(stats, sizeof(stats), "stats pgpgin 32 ");
	const char *l = peer_line(&a);
	cr_assert(!strncmp(l, stats, strlen(stats)), "the first process: \"%s\"", l);
	cr_assert_eq(peer_finish(&a, 10), 0);
	peer_start(&b, dname, (const char *const[]){ op_open(path), "mapro:131072", "scan:0:131072", "get:4097:3",
						     "stats", "exit:0", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "mapro ok");
	peer_expect(&b, "scan");
	unsigned char want[3] = { pattern_byte(4097), pattern_byte(4098), pattern_byte(4099) };
	peer_expect(&b, "get %s", hexof(want, 3));
	l = peer_line(&b);
	cr_assert(!strncmp(l, "stats pgpgin 0 pgmajfault 0 ", 28), "the second process read the file again: \"%s\"", l);
	cr_assert_eq(peer_finish(&b, 10), 0);
	close(fd);
	unlink(path);
}

/* vme_pwrite in another process: a page this process maps shows it with no
 * fault; a page it has not cached reads it from the file. */
Test(shared_cache, a_peers_vme_pwrite_is_seen_through_this_process_mapping,
     .fini = remove_test_domains, .timeout = 30)
{
	char dname[64], path[64];
	struct peer b;
	struct vme_stats s0, s1;

	test_domain(dname, sizeof(dname), "pwrite");
	join_domain(dname, 0);
	int fd = pattern_file_at(path, sizeof(path), 64 * PG);
	volatile unsigned char *p = vme_mmap(NULL, 64 * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	cr_assert_eq(vme_madvise((void *)p, 64 * PG, MADV_RANDOM), 0);	/* page 0 alone */
	cr_assert_eq(p[10], pattern_byte(10));

	peer_start(&b, dname, (const char *const[]){ op_open(path), "pwrite:10:hello", "pwrite:40970:world",
						     "_exit:0", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "pwrite 5 0");
	peer_expect(&b, "pwrite 5 0");
	cr_assert_eq(peer_finish(&b, 10), 0);
	cr_assert_eq(vme_stats(&s0), 0);
	cr_assert_eq(memcmp((const void *)(p + 10), "hello", 5), 0, "page 0: %s", hexof((const void *)(p + 10), 5));
	cr_assert_eq(vme_stats(&s1), 0);
	cr_assert_eq(s1.pgfault, s0.pgfault, "the mapped page had to fault to show another process's write");
	cr_assert_eq(memcmp((const void *)(p + 10 * PG + 10), "world", 5), 0, "page 10: %s",
		     hexof((const void *)(p + 10 * PG + 10), 5));
	vme_munmap((void *)p, 64 * PG);
	close(fd);
	unlink(path);
}

/* The other way: this process's vme_pwrite is seen through a peer's
 * mapping of a page the peer had read. */
Test(shared_cache, vme_pwrite_is_seen_through_a_peers_mapping, .fini = remove_test_domains, .timeout = 30)
{
	char dname[64], path[64];
	struct peer b;

	test_domain(dname, sizeof(dname), "pwrite2");
	join_domain(dname, 0);
	int fd = pattern_file_at(path, sizeof(path), 4 * PG);
	peer_start(&b, dname, (const char *const[]){ op_open(path), "mapro:16384", "touch:0", "say:ready", "wait",
						     "get:10:5", "_exit:0", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "mapro ok");
	peer_expect(&b, "touch");
	peer_expect(&b, "ready");
	cr_assert_eq(vme_pwrite(fd, "hello", 5, 10), 5);
	peer_go(&b);
	peer_expect(&b, "get %s", hexof("hello", 5));
	cr_assert_eq(peer_finish(&b, 10), 0);
	close(fd);
	unlink(path);
}

/* fsync in one process writes back what another process stored and has
 * not written back (it is alive and still maps the page). */
static void peer_stores_then_we_fsync(int flags)
{
	char dname[64], path[64];
	struct peer b;

	test_domain(dname, sizeof(dname), flags == O_RDONLY ? "fsyncro" : "fsync");
	join_domain(dname, 0);
	int fd = pattern_file_at(path, sizeof(path), 2 * PG);
	peer_start(&b, dname, (const char *const[]){ op_open(path), "map:8192", "put:100:durable", "say:stored", "wait",
						     "_exit:0", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "map ok");
	peer_expect(&b, "put ok");
	peer_expect(&b, "stored");
	int f = open(path, flags);
	cr_assert(f >= 0);
	cr_assert_eq(vme_fsync(f), 0);
	unsigned char *disk = file_bytes(fd, 100, 7);
	cr_assert_eq(memcmp(disk, "durable", 7), 0, "fsync returned 0, the file has %s (Linux: \"durable\")",
		     hexof(disk, 7));
	free(disk);
	peer_go(&b);
	cr_assert_eq(peer_finish(&b, 10), 0);
	close(f);
	close(fd);
	unlink(path);
}

Test(shared_cache, fsync_writes_back_another_process_stores, .fini = remove_test_domains, .timeout = 30)
{
	peer_stores_then_we_fsync(O_RDWR);
}

/* vme_fsync through a read-only descriptor, in a process that does not map
 * the file itself, writes back every dirty page of the file, whatever the
 * descriptor's mode, as Linux's fsync does (through a descriptor opened
 * again for writing: writeback_range). It used to write nothing and return
 * 0. */
Test(shared_cache, fsync_through_a_read_only_descriptor_writes_back_the_peers_pages,
     .fini = remove_test_domains, .timeout = 30)
{
	peer_stores_then_we_fsync(O_RDONLY);
}

/* --- another process truncates ---------------------------------------------- */

/* This process maps four pages twice (p read, so present; q untouched); a
 * peer then truncates to newsize. */
struct trunc_setup {
	char dname[64], path[64];
	int fd;
	volatile unsigned char *p, *q;
};

static void peer_truncates(struct trunc_setup *t, const char *tag, const char *const *ops)
{
	struct peer b;

	test_domain(t->dname, sizeof(t->dname), tag);
	join_domain(t->dname, 0);
	t->fd = pattern_file_at(t->path, sizeof(t->path), 4 * PG);
	t->p = vme_mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, t->fd, 0);
	t->q = vme_mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, t->fd, 0);
	cr_assert_neq((void *)t->p, MAP_FAILED);
	cr_assert_neq((void *)t->q, MAP_FAILED);
	for (size_t i = 0; i < 4; i++)
		cr_assert_eq(t->p[i * PG + 5], pattern_byte(i * PG + 5));
	const char *argv[8];
	size_t n = 0;
	argv[n++] = op_open(t->path);
	for (size_t i = 0; ops[i] && n < 7; i++)
		argv[n++] = ops[i];
	argv[n] = NULL;
	peer_start(&b, t->dname, argv);
	peer_expect(&b, "open ok");
	for (size_t i = 0; ops[i]; i++)
		peer_expect(&b, "ftruncate 0 0");
	cr_assert_eq(peer_finish(&b, 10), 0);
	/* What Linux would do now, vmemu does lazily: p[3 * PG] still shows its
	 * old bytes until this process catches up (documented). */
	cr_log_info("before catching up, a present page past the new end reads %#x (Linux: SIGBUS)", t->p[3 * PG]);
}

static void trunc_done(struct trunc_setup *t)
{
	vme_munmap((void *)t->p, 4 * PG);
	vme_munmap((void *)t->q, 4 * PG);
	close(t->fd);
	unlink(t->path);
}

Test(shared_cache, a_peers_truncation_is_seen_at_this_process_next_fault_on_the_file,
     .fini = remove_test_domains, .timeout = 30)
{
	struct trunc_setup t;
	struct io_log l = { .n = 0 };
	char want[512];

	peer_truncates(&t, "trunc", (const char *const[]){ "ftruncate:4196", NULL });
	cr_assert_eq(t.q[7], pattern_byte(7), "a fault on the file: this process catches up");
	io_catch_signals();
	io_log_probe(&l, "page 3", t.p, 3 * PG + 9, NULL);
	io_log_probe(&l, "page 2", t.p, 2 * PG, NULL);
	io_log_probe(&l, "tail", t.p, PG + 100, NULL);
	io_log_probe(&l, "inside", t.p, PG + 99, NULL);
	snprintf(want, sizeof(want),
		 "page 3: signal %d code %d at +%ld (probed %lu)\npage 2: signal %d code %d at +%ld (probed %lu)\n"
		 "tail: byte 00 at %lu\ninside: byte %02x at %lu\n",
		 SIGBUS, BUS_ADRERR, (long)(3 * PG + 9), 3 * PG + 9, SIGBUS, BUS_ADRERR, (long)(2 * PG), 2 * PG,
		 PG + 100, pattern_byte(PG + 99), PG + 99);
	cr_assert_str_eq(l.s, want, "after the peer's ftruncate(%lu) and a fault on the file:\n%s(Linux:\n%s)",
			 PG + 100, l.s, want);
	trunc_done(&t);
}

Test(shared_cache, a_peers_shrink_and_regrow_leaves_zeros_not_stale_bytes,
     .fini = remove_test_domains, .timeout = 30)
{
	struct trunc_setup t;
	unsigned char zeros[16] = { 0 };

	peer_truncates(&t, "regrow", (const char *const[]){ "ftruncate:100", "ftruncate:16384", NULL });
	cr_assert_eq(t.q[7], pattern_byte(7), "a fault on the file: this process catches up");
	cr_assert_eq(memcmp((const void *)(t.p + 2 * PG), zeros, 16), 0, "page 2 shows %s (Linux: zeros)",
		     hexof((const void *)(t.p + 2 * PG), 16));
	cr_assert_eq(memcmp((const void *)(t.p + 100), zeros, 16), 0, "page 0's old tail shows %s (Linux: zeros)",
		     hexof((const void *)(t.p + 100), 16));
	trunc_done(&t);
}

/* Another process's truncation reaches this process at its next vmemu call
 * too (vme_enter -> mm_maybe_catch_up: the domain's cache_seq moved), not
 * only at its next fault on the same file: after a vme_pread of the very
 * file, a page past the new end raises SIGBUS, as under Linux, instead of
 * showing its old bytes. */
Test(shared_cache, a_peers_truncation_is_seen_at_the_next_vmemu_call,
     .fini = remove_test_domains, .timeout = 30)
{
	struct trunc_setup t;
	struct io_log l = { .n = 0 };
	char b[4], want[256];

	peer_truncates(&t, "truncall", (const char *const[]){ "ftruncate:4196", NULL });
	cr_assert_eq(vme_pread(t.fd, b, 4, 0), 4);	/* a vmemu call, no fault on the file */
	io_catch_signals();
	io_log_probe(&l, "page 3", t.p, 3 * PG + 9, NULL);
	snprintf(want, sizeof(want), "page 3: signal %d code %d at +%ld (probed %lu)\n", SIGBUS, BUS_ADRERR,
		 (long)(3 * PG + 9), 3 * PG + 9);
	cr_assert_str_eq(l.s, want, "after the peer's truncation and a vme_pread: %s(Linux: %s)", l.s, want);
	trunc_done(&t);
}

/* A peer's private copy past the new end goes too, at its next fault on the
 * file (Linux: at once), and a private page it never copied shows the
 * truncation's zeroed tail. */
Test(shared_cache, a_peers_truncation_takes_this_process_private_copies_past_the_end,
     .fini = remove_test_domains,
     .timeout = 30)
{
	char dname[64], path[64];
	struct peer b;
	struct io_log l = { .n = 0 };
	char want[512];

	test_domain(dname, sizeof(dname), "privtrunc");
	join_domain(dname, 0);
	int fd = pattern_file_at(path, sizeof(path), 4 * PG);
	volatile unsigned char *priv = vme_mmap(NULL, 4 * PG, RW, MAP_PRIVATE, fd, 0);
	volatile unsigned char *q = vme_mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)priv, MAP_FAILED);
	cr_assert_neq((void *)q, MAP_FAILED);
	priv[3 * PG + 1] = 'c';	/* a private copy of page 3 */
	(void)priv[PG];		/* page 1: the cache's, not copied */
	peer_start(&b, dname, (const char *const[]){ op_open(path), "ftruncate:4196", "_exit:0", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "ftruncate 0 0");
	cr_assert_eq(peer_finish(&b, 10), 0);
	cr_assert_eq(q[9], pattern_byte(9), "a fault on the file: catch up");
	io_catch_signals();
	io_log_probe(&l, "the copy past the end", priv, 3 * PG + 1, NULL);
	io_log_probe(&l, "the uncopied page's tail", priv, PG + 200, NULL);
	snprintf(want, sizeof(want), "the copy past the end: signal %d code %d at +%ld (probed %lu)\n"
		 "the uncopied page's tail: byte 00 at %lu\n", SIGBUS, BUS_ADRERR, (long)(3 * PG + 1),
		 3 * PG + 1, PG + 200);
	cr_assert_str_eq(l.s, want, "%s(Linux:\n%s)", l.s, want);
	close(fd);
	unlink(path);
}

/* MAP_PRIVATE in a peer: its pages it has not copied show this process's
 * stores through MAP_SHARED (one cache, as Linux); once it writes a page,
 * that page is its own. */
Test(shared_cache, a_peers_private_mapping_sees_shared_stores_until_it_copies, .fini = remove_test_domains,
     .timeout = 30)
{
	char dname[64], path[64];
	struct peer b;

	test_domain(dname, sizeof(dname), "private");
	join_domain(dname, 0);
	int fd = pattern_file_at(path, sizeof(path), 2 * PG);
	volatile unsigned char *p = vme_mmap(NULL, 2 * PG, RW, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	peer_start(&b, dname, (const char *const[]){ op_open(path), "mappriv:8192", "touch:0", "put:4100:own",
						   "say:ready", "wait", "get:0:6", "get:4100:3", "get:4200:6", "_exit:0",
						   NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "mappriv ok");
	peer_expect(&b, "touch");
	peer_expect(&b, "put ok");
	peer_expect(&b, "ready");
	memcpy((void *)p, "shared", 6);		/* page 0: the peer read it, not copied */
	memcpy((void *)(p + PG + 100), "hidden", 6);	/* page 1: the peer copied it */
	peer_go(&b);
	peer_expect(&b, "get %s", hexof("shared", 6));
	peer_expect(&b, "get %s", hexof("own", 3));
	unsigned char old[6];
	for (int i = 0; i < 6; i++)
		old[i] = pattern_byte(PG + 104 + (size_t)i);
	peer_expect(&b, "get %s", hexof(old, 6));
	cr_assert_eq(peer_finish(&b, 10), 0);
	close(fd);
	unlink(path);
}

/* vmemu's own writes are not outside changes: after a peer's vme_pwrite
 * and vme_ftruncate, a new mapping here keeps the cache (nothing is read
 * again) and shows the new bytes. */
Test(shared_cache, a_peers_vme_writes_do_not_invalidate_the_cache, .fini = remove_test_domains, .timeout = 30)
{
	char dname[64], path[64];
	struct peer b;
	struct vme_stats s0, s1;

	test_domain(dname, sizeof(dname), "ownwrite");
	join_domain(dname, 0);
	int fd = pattern_file_at(path, sizeof(path), 16 * PG);
	volatile unsigned char *p = vme_mmap(NULL, 16 * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	for (size_t i = 0; i < 16; i++)
		(void)p[i * PG];
	cr_assert_eq(vme_munmap((void *)p, 16 * PG), 0);	/* the cache stays */
	peer_start(&b, dname, (const char *const[]){ op_open(path), "pwrite:5:ours", "ftruncate:61440", "_exit:0",
						   NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "pwrite 4 0");
	peer_expect(&b, "ftruncate 0 0");
	cr_assert_eq(peer_finish(&b, 10), 0);
	cr_assert_eq(vme_stats(&s0), 0);
	p = vme_mmap(NULL, 15 * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	for (size_t i = 0; i < 15; i++)
		(void)p[i * PG + 100];
	cr_assert_eq(vme_stats(&s1), 0);
	cr_assert_eq(memcmp((const void *)(p + 5), "ours", 4), 0);
	cr_assert_eq(s1.pgpgin, s0.pgpgin, "%lu pages read again: the peer's own writes looked like outside changes",
		     (unsigned long)(s1.pgpgin - s0.pgpgin));
	vme_munmap((void *)p, 15 * PG);
	close(fd);
	unlink(path);
}

/* Domains do not share: a peer in another domain, or in "private", maps the
 * file and sees the file's bytes, not a store made in this domain; a
 * private domain leaves nothing in /dev/shm. */
static void other_domain_sees_file(const char *other)
{
	char dname[64], path[64];
	struct peer b;

	test_domain(dname, sizeof(dname), "mine");
	join_domain(dname, 0);
	int fd = pattern_file_at(path, sizeof(path), PG);
	volatile unsigned char *p = vme_mmap(NULL, PG, RW, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	memcpy((void *)p, "here", 4);
	peer_start(&b, other, (const char *const[]){ op_open(path), "mapro:4096", "get:0:4", "_exit:0", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "mapro ok");
	unsigned char file[4] = { pattern_byte(0), pattern_byte(1), pattern_byte(2), pattern_byte(3) };
	peer_expect(&b, "get %s", hexof(file, 4));
	cr_assert_eq(peer_finish(&b, 10), 0);
	vme_munmap((void *)p, PG);
	close(fd);
	unlink(path);
}

Test(shared_cache, another_domain_does_not_share_the_cache, .fini = remove_test_domains, .timeout = 30)
{
	char other[64];
	test_domain(other, sizeof(other), "other");
	other_domain_sees_file(other);
}

Test(shared_cache, the_private_domain_shares_nothing, .fini = remove_test_domains, .timeout = 30)
{
	char path[PATH_MAX];
	other_domain_sees_file("private");
	snprintf(path, sizeof(path), "/dev/shm/vmemu-%u-v%lu-private", (unsigned)geteuid(), DOMAIN_LAYOUT);
	cr_assert_neq(access(path, F_OK), 0, "a private domain was published as %s", path);
}

/* A page another live process maps writable is never cleaned by this
 * process's write-back: that process stores again without a fault, and the
 * next msync here must still write the page (Linux write-protects every
 * mapping when it cleans a page; vmemu cannot reach the peer's). */
Test(shared_cache, a_peers_store_after_this_process_msync_is_written_by_the_next, .fini = remove_test_domains,
     .timeout = 30)
{
	char dname[64], path[64];
	struct peer b;

	test_domain(dname, sizeof(dname), "reclean");
	join_domain(dname, 0);
	int fd = pattern_file_at(path, sizeof(path), PG);
	volatile unsigned char *p = vme_mmap(NULL, PG, RW, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	peer_start(&b, dname, (const char *const[]){ op_open(path), "map:4096", "put:40:first", "say:stored", "wait",
						   "put:40:again", "say:stored", "wait", "_exit:0", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "map ok");
	peer_expect(&b, "put ok");
	peer_expect(&b, "stored");
	cr_assert_eq(vme_msync((void *)p, PG, MS_SYNC), 0);
	unsigned char *f = file_bytes(fd, 40, 5);
	cr_assert_eq(memcmp(f, "first", 5), 0, "msync here wrote the peer's store: %s", hexof(f, 5));
	free(f);
	peer_go(&b);
	peer_expect(&b, "put ok");
	peer_expect(&b, "stored");
	cr_assert_eq(vme_msync((void *)p, PG, MS_SYNC), 0);
	f = file_bytes(fd, 40, 5);
	cr_assert_eq(memcmp(f, "again", 5), 0, "the peer's second store never reached the file: %s", hexof(f, 5));
	free(f);
	peer_go(&b);
	cr_assert_eq(peer_finish(&b, 10), 0);
	vme_munmap((void *)p, PG);
	close(fd);
	unlink(path);
}
