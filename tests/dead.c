/*
 * dead.c - a process of the domain killed at a chosen instruction must not
 * block the others, and what it stored must not be lost (docs/design.md,
 * "Processes that die").
 *
 * The instruction is chosen with vmemu-peer's hang:CALL (tests/peer/peer.c):
 * the peer's next host pread, pwrite, ftruncate or fallocate announces
 * itself and sleeps, holding whatever vmemu holds at that point; the test then kills
 * it with SIGKILL:
 *
 *   pread      in the middle of filling a readahead window: the window's
 *              page locks, its pages in the index, not uptodate
 *   pwrite     in the middle of writing a page back (PG_writeback), or of
 *              a vme_pwrite (the inode's i_rwsem)
 *   fallocate  growing the frame pool (the allocator lock)
 *
 * A survivor that needs such a lock waits 10 ms at a time, finds the owner
 * dead and reaps it.  A survivor that would wait for ever is a peer (killed
 * when it does not answer) or a thread of the test given a deadline
 * (run_within, peer.h): a test process stuck in vmemu cannot even exit,
 * since vmemu's write-back at exit(3) waits for the same locks, and
 * Criterion's timeout then hangs the whole run.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <semaphore.h>
#include <vmemu.h>

#include "host/host.h"
#include "peer.h"

#define RW (PROT_READ | PROT_WRITE)

static const char *op_open(const char *path)
{
	static char ops[4][96];
	static unsigned next;
	char *s = ops[next++ % 4];

	snprintf(s, sizeof(ops[0]), "open:%s", path);
	return s;
}

static void assert_pattern(const volatile unsigned char *p, size_t from, size_t len)
{
	for (size_t i = from; i < from + len; i += 61)
		cr_assert_eq(p[i], pattern_byte(i), "byte %zu: %#x, want %#x", i, p[i], pattern_byte(i));
}

static bool file_has(int fd, off_t off, const char *want)
{
	size_t n = strlen(want);
	unsigned char *b = file_bytes(fd, off, n);
	bool same = !memcmp(b, want, n);
	if (!same)
		cr_log_error("file bytes at %ld: %s, want \"%s\"", (long)off, hexof(b, n), want);
	free(b);
	return same;
}

/* --- killed while filling a page ----------------------------------------- */

struct reader {
	volatile unsigned char *p;
	size_t len;
	volatile int done;
	unsigned char first;
};

static void *read_page5(void *arg)
{
	struct reader *r = arg;

	r->first = r->p[5 * PG + 3];	/* waits on the page lock the peer holds */
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static bool wait_done(volatile int *done, int ms)
{
	for (int i = 0; i < ms && !__atomic_load_n(done, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	return __atomic_load_n(done, __ATOMIC_ACQUIRE);
}

Test(dead, a_fault_waiting_on_a_page_whose_filler_is_killed_reads_it, .fini = remove_test_domains,
     .timeout = 30)
{
	char dname[64], path[64];
	struct peer b;
	struct vme_stats s;

	test_domain(dname, sizeof(dname), "fill");
	join_domain(dname, 0);
	int fd = pattern_file_at(path, sizeof(path), 16 * PG);
	peer_start(&b, dname, (const char *const[]){ op_open(path), "mapro:65536", "hang:pread", "touch:20480", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "mapro ok");
	peer_expect(&b, "hang armed");
	peer_expect(&b, "hung pread");	/* the window's pages are in the index, locked by the peer */

	struct reader r = { .p = vme_mmap(NULL, 16 * PG, PROT_READ, MAP_SHARED, fd, 0), .len = 16 * PG };
	cr_assert_neq((void *)r.p, MAP_FAILED);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, read_page5, &r), 0);
	cr_assert_not(wait_done(&r.done, 200), "the fault did not wait for the page the peer is filling");
	peer_kill(&b);
	if (!wait_done(&r.done, 5000)) {	/* exit(3) would wait too: crash with the reason */
		fprintf(stderr, "vmemu hangs: the fault still waits on the killed peer's page lock\n");
		abort();
	}
	pthread_join(t, NULL);
	cr_assert_eq(r.first, pattern_byte(5 * PG + 3));
	assert_pattern(r.p, 0, 16 * PG);	/* every page of the dead peer's window */
	cr_assert_eq(vme_stats(&s), 0);
	cr_assert_eq(s.read_error, 0);
	cr_assert_eq(s.sigbus_delivered, 0);
	cr_assert_leq(s.pgpgin, 16, "pgpgin %lu for a 16-page file", (unsigned long)s.pgpgin);
	cr_assert_leq(s.nr_cached, s.nr_budget);
	/* and the locks it held are free: a write goes through the same pages */
	cr_assert_eq(vme_pwrite(fd, "after", 5, 5 * PG), 5);
	cr_assert_eq(memcmp((const void *)(r.p + 5 * PG), "after", 5), 0);
	vme_munmap((void *)r.p, 16 * PG);
	close(fd);
	unlink(path);
}

/* The same, the peer killed while its splice was writing the window into
 * the segment: some of the frames hold the file's bytes, one of them half,
 * none is uptodate.  The survivor reads each page again, whole. */
Test(dead, a_fault_waiting_on_a_page_whose_filler_is_killed_mid_splice_reads_it_whole,
     .fini = remove_test_domains, .timeout = 30)
{
	char dname[64], path[64];
	struct peer b;

	test_domain(dname, sizeof(dname), "drain");
	join_domain(dname, 0);
	int fd = pattern_file_at(path, sizeof(path), 16 * PG);
	peer_start(&b, dname, (const char *const[]){ op_open(path), "mapro:65536", "hang:drain", "touch:20480", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "mapro ok");
	peer_expect(&b, "hang armed");
	peer_expect(&b, "hung drain");

	struct reader r = { .p = vme_mmap(NULL, 16 * PG, PROT_READ, MAP_SHARED, fd, 0), .len = 16 * PG };
	cr_assert_neq((void *)r.p, MAP_FAILED);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, read_page5, &r), 0);
	cr_assert_not(wait_done(&r.done, 200), "the fault did not wait for the page the peer is filling");
	peer_kill(&b);
	if (!wait_done(&r.done, 5000)) {
		fprintf(stderr, "vmemu hangs: the fault still waits on the killed peer's page lock\n");
		abort();
	}
	pthread_join(t, NULL);
	cr_assert_eq(r.first, pattern_byte(5 * PG + 3));
	for (size_t i = 0; i < 16 * PG; i++)	/* every byte: one page was half written */
		cr_assert_eq(r.p[i], pattern_byte(i), "byte %zu", i);
	struct vme_stats s;
	cr_assert_eq(vme_stats(&s), 0);
	cr_assert_eq(s.read_error, 0);
	cr_assert_eq(s.sigbus_delivered, 0);
	vme_munmap((void *)r.p, 16 * PG);
	close(fd);
	unlink(path);
}

/* Map len bytes of fd and read every page (for run_within). */
struct map_read {
	int fd;
	size_t len;
	volatile unsigned char *p;
};

static void *map_and_read(void *arg)
{
	struct map_read *m = arg;

	m->p = vme_mmap(NULL, m->len, PROT_READ, MAP_SHARED, m->fd, 0);
	if ((void *)m->p != MAP_FAILED)
		for (size_t i = 0; i < m->len; i += PG)
			(void)m->p[i];
	return NULL;
}

Test(dead, a_process_attaching_after_a_filler_was_killed_reads_the_page, .fini = remove_test_domains,
     .timeout = 30)
{
	char dname[64], path[64];
	struct peer b, keep;

	test_domain(dname, sizeof(dname), "fill2");
	int fd = pattern_file_at(path, sizeof(path), 16 * PG);
	/* a live process keeps the domain (and the dead peer's half-filled
	 * window) in place until this one attaches */
	peer_start(&keep, dname, (const char *const[]){ "init", "say:attached", "wait", "exit:0", NULL });
	peer_expect(&keep, "init 0");
	peer_expect(&keep, "attached");
	peer_start(&b, dname, (const char *const[]){ op_open(path), "mapro:65536", "hang:pread", "touch:20480", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "mapro ok");
	peer_expect(&b, "hang armed");
	peer_expect(&b, "hung pread");
	peer_kill(&b);
	join_domain(dname, 0);
	struct map_read m = { .fd = fd, .len = 16 * PG };
	run_within(5000, "mapping and reading the dead filler's pages", map_and_read, &m);
	cr_assert_neq((void *)m.p, MAP_FAILED);
	assert_pattern(m.p, 0, 16 * PG);
	volatile unsigned char *p = m.p;
	peer_go(&keep);
	cr_assert_eq(peer_finish(&keep, 10), 0);
	vme_munmap((void *)p, 16 * PG);
	close(fd);
	unlink(path);
}

/* --- killed while writing back ---------------------------------------------- */

struct fsync_call {
	int fd, ret;
};

static void *fsync_call(void *arg)
{
	struct fsync_call *f = arg;

	f->ret = vme_fsync(f->fd);
	return NULL;
}

/* The peer dirties page 0 and is killed in the middle of writing it back
 * (its write has not happened).  attached: this process was in the domain
 * all along (else it attaches after the kill). */
static void killed_in_writeback_then_fsync(bool attached)
{
	char dname[64], path[64];
	struct peer b, keep;

	test_domain(dname, sizeof(dname), attached ? "wb" : "wb2");
	if (attached)
		join_domain(dname, 0);
	else
		peer_start(&keep, dname, (const char *const[]){ "init", "wait", "exit:0", NULL });
	int fd = pattern_file_at(path, sizeof(path), 2 * PG);
	peer_start(&b, dname, (const char *const[]){ op_open(path), "map:8192", "put:100:dirtyB", "hang:pwritev", "msync",
						   NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "map ok");
	peer_expect(&b, "put ok");
	peer_expect(&b, "hang armed");
	peer_expect(&b, "hung pwritev");
	peer_kill(&b);
	if (!attached) {
		peer_expect(&keep, "init 0");
		join_domain(dname, 0);
	}
	struct fsync_call f = { .fd = fd };
	run_within(5000, "vme_fsync after a write-back's death", fsync_call, &f);
	cr_assert_eq(f.ret, 0);
	cr_assert(file_has(fd, 100, "dirtyB"), "fsync returned 0 but the dead peer's store is not in the file");
	if (!attached) {
		peer_go(&keep);
		cr_assert_eq(peer_finish(&keep, 10), 0);
	}
	close(fd);
	unlink(path);
}

Test(dead, killed_in_writeback_fsync_by_a_process_attaching_later_writes_the_page, .fini = remove_test_domains,
     .timeout = 30)
{
	killed_in_writeback_then_fsync(false);
}

/* A process that was already attached when the peer died in the middle of a
 * write-back: the page is left clean, under the dead slot's PG_writeback
 * (writeback_batch cleared PG_dirty before the write). fsync waits for
 * write-back in flight, as Linux's does (write_cache_pages, counted by
 * inode.nrwriteback), so it finds the writer dead, reaps it (the page is
 * dirty again) and writes the page. It used to see no dirty page, return 0,
 * and leave the store out of the file. */
Test(dead, killed_in_writeback_fsync_by_a_process_already_attached_writes_it,
     .fini = remove_test_domains, .timeout = 30)
{
	killed_in_writeback_then_fsync(true);
}

/* The next process to attach, alone in the domain, writes back what a peer
 * killed in the middle of a write-back left. */
Test(dead, killed_in_writeback_the_next_process_to_attach_writes_it_back, .fini = remove_test_domains,
     .timeout = 30)
{
	char dname[64], path[64];
	struct peer b, c;

	test_domain(dname, sizeof(dname), "wb3");
	int fd = pattern_file_at(path, sizeof(path), 2 * PG);
	peer_start(&b, dname, (const char *const[]){ "init", op_open(path), "map:8192", "put:4000:orphan",
						   "hang:pwritev", "msync", NULL });
	peer_expect(&b, "init 0");
	peer_expect(&b, "open ok");
	peer_expect(&b, "map ok");
	peer_expect(&b, "put ok");
	peer_expect(&b, "hang armed");
	peer_expect(&b, "hung pwritev");
	peer_kill(&b);
	peer_start(&c, dname, (const char *const[]){ "init", "_exit:0", NULL });
	peer_expect(&c, "init 0");
	cr_assert_eq(peer_finish(&c, 10), 0);
	cr_assert(file_has(fd, 4000, "orphan"), "nobody wrote back the dead peer's page");
	close(fd);
	unlink(path);
}

/* --- killed holding the inode's i_rwsem ------------------------------------ */

struct pwrite_call {
	int fd;
	ssize_t ret;
};

static void *pwrite_after(void *arg)
{
	struct pwrite_call *w = arg;

	w->ret = vme_pwrite(w->fd, "after", 5, 0);
	return NULL;
}

Test(dead, killed_in_the_middle_of_vme_pwrite_does_not_block_writers,
     .fini = remove_test_domains, .timeout = 30)
{
	char dname[64], path[64];
	struct peer b;

	test_domain(dname, sizeof(dname), "rwsem");
	join_domain(dname, 0);
	int fd = pattern_file_at(path, sizeof(path), 2 * PG);
	volatile unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	cr_assert_eq(p[0], pattern_byte(0));	/* cached: the peer's write takes i_rwsem */
	peer_start(&b, dname, (const char *const[]){ op_open(path), "hang:pwrite", "pwrite:0:never", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "hang armed");
	peer_expect(&b, "hung pwrite");
	peer_kill(&b);
	struct pwrite_call w = { .fd = fd };
	run_within(5000, "vme_pwrite after the i_rwsem holder's death", pwrite_after, &w);
	cr_assert_eq(w.ret, 5);
	cr_assert_eq(memcmp((const void *)p, "after", 5), 0);
	cr_assert_eq(vme_ftruncate(fd, PG), 0);	/* takes i_rwsem too */
	cr_assert(file_has(fd, 0, "after"));
	vme_munmap((void *)p, 2 * PG);
	close(fd);
	unlink(path);
}

/* --- killed holding the allocator lock -------------------------------------- */

Test(dead, killed_while_growing_the_pool_does_not_block_faults, .fini = remove_test_domains, .timeout = 30)
{
	char dname[64], path[64];
	struct peer x;

	test_domain(dname, sizeof(dname), "alloc");
	join_domain(dname, 0);	/* an empty pool: the peer's first fault grows it */
	int fd = pattern_file_at(path, sizeof(path), 4 * PG);
	peer_start(&x, dname, (const char *const[]){ "init", op_open(path), "mapro:16384", "hang:fallocate",
						   "touch:0", NULL });
	peer_expect(&x, "init 0");
	peer_expect(&x, "open ok");
	peer_expect(&x, "mapro ok");
	peer_expect(&x, "hang armed");
	peer_expect(&x, "hung fallocate");
	peer_kill(&x);
	struct map_read m = { .fd = fd, .len = 4 * PG };
	run_within(5000, "a fault after the allocator lock's holder died", map_and_read, &m);
	cr_assert_neq((void *)m.p, MAP_FAILED);
	assert_pattern(m.p, 0, 4 * PG);
	vme_munmap((void *)m.p, 4 * PG);
	close(fd);
	unlink(path);
}

/* Two dead processes, one holding a page lock (killed filling), the other
 * the allocator lock (killed growing the pool). A fault on the page waits
 * and reaps the first; reap_frames() then takes alloc_lock, held by the
 * second dead process, and the same thread reaps that one too, inside
 * (src/mm/domain.c: domain_reap keeps the slots this thread is reaping; it
 * once spun for ever on its own flag). The survivor is a third peer,
 * attached before the two die (so that its attach does not reap them
 * first), so that a hang could be killed. */
Test(dead, two_dead_one_holding_a_page_the_other_the_allocator_do_not_hang_the_reaper,
     .fini = remove_test_domains, .timeout = 30)
{
	char dname[64], ypath[64], xpath[64];
	struct peer y, x, r;

	test_domain(dname, sizeof(dname), "two");
	int yfd = pattern_file_at(ypath, sizeof(ypath), 16 * PG);
	int xfd = pattern_file_at(xpath, sizeof(xpath), 1024 * PG);
	peer_start(&r, dname, (const char *const[]){ "init", op_open(ypath), "mapro:65536", "wait", "touch:28", "get:28:4",
						   "_exit:0", NULL });
	peer_expect(&r, "init 0");
	peer_expect(&r, "open ok");
	peer_expect(&r, "mapro ok");
	/* Y fills a window of its file: the pool grows to its first chunk */
	peer_start(&y, dname, (const char *const[]){ op_open(ypath), "mapro:65536", "hang:pread", "touch:0", NULL });
	peer_expect(&y, "open ok");
	peer_expect(&y, "mapro ok");
	peer_expect(&y, "hang armed");
	peer_expect(&y, "hung pread");
	/* X reads sequentially until a window no longer fits the chunk left:
	 * the pool grows again, and X hangs there, holding alloc_lock */
	peer_start(&x, dname, (const char *const[]){ op_open(xpath), "mapro:4194304", "seq", "hang:fallocate",
						   "scan:0:4194304", NULL });
	peer_expect(&x, "open ok");
	peer_expect(&x, "mapro ok");
	peer_expect(&x, "seq 0");
	peer_expect(&x, "hang armed");
	peer_expect(&x, "hung fallocate");
	peer_kill(&y);
	peer_kill(&x);

	peer_go(&r);
	const char *l = peer_line_within(&r, 5000);
	if (!l)
		peer_kill(&r);
	cr_assert_not_null(l, "the survivor's fault on the dead filler's page still waits after 5 s");
	cr_assert_str_eq(l, "touch");
	peer_expect(&r, "get %s", hexof((unsigned char[]){ pattern_byte(28), pattern_byte(29), pattern_byte(30),
							   pattern_byte(31) }, 4));
	cr_assert_eq(peer_finish(&r, 10), 0);
	close(xfd);
	close(yfd);
	unlink(xpath);
	unlink(ypath);
}

/* --- killed with dirty pages ------------------------------------------------ */

/* The peer stores through MAP_SHARED and kills itself: no write-back of its
 * own.  This process (attached all along) fsyncs the file. */
Test(dead, killed_with_dirty_pages_another_process_fsync_writes_them,
     .fini = remove_test_domains, .timeout = 30)
{
	char dname[64], path[64];
	struct peer b;

	test_domain(dname, sizeof(dname), "dirty");
	join_domain(dname, 0);
	int fd = pattern_file_at(path, sizeof(path), 4 * PG);
	peer_start(&b, dname, (const char *const[]){ op_open(path), "map:16384", "put:10:killed", "put:12298:too",
						   "kill", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "map ok");
	peer_expect(&b, "put ok");
	peer_expect(&b, "put ok");
	cr_assert_eq(peer_finish(&b, 10), 1000 + SIGKILL);
	cr_assert_eq(vme_fsync(fd), 0);
	cr_assert(file_has(fd, 10, "killed"));
	cr_assert(file_has(fd, 3 * PG + 10, "too"));
	close(fd);
	unlink(path);
}

/* ... and, this process mapping the file, its own msync writes them. */
Test(dead, killed_with_dirty_pages_another_process_msync_writes_them,
     .fini = remove_test_domains, .timeout = 30)
{
	char dname[64], path[64];
	struct peer b;

	test_domain(dname, sizeof(dname), "dirty2");
	join_domain(dname, 0);
	int fd = pattern_file_at(path, sizeof(path), 4 * PG);
	volatile unsigned char *p = vme_mmap(NULL, 4 * PG, RW, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	peer_start(&b, dname, (const char *const[]){ op_open(path), "map:16384", "put:10:killed", "kill", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "map ok");
	peer_expect(&b, "put ok");
	cr_assert_eq(peer_finish(&b, 10), 1000 + SIGKILL);
	cr_assert_eq(memcmp((const void *)(p + 10), "killed", 6), 0);
	cr_assert_eq(vme_msync((void *)p, 4 * PG, MS_SYNC), 0);
	cr_assert(file_has(fd, 10, "killed"));
	vme_munmap((void *)p, 4 * PG);
	close(fd);
	unlink(path);
}

/* Nobody left: the next process to attach writes back the dead one's
 * stores (orphan write-back, by the path the inode recorded). */
Test(dead, killed_with_dirty_pages_the_next_process_to_attach_writes_them, .fini = remove_test_domains,
     .timeout = 30)
{
	char dname[64], path[64];
	struct peer b, c;

	test_domain(dname, sizeof(dname), "dirty3");
	int fd = pattern_file_at(path, sizeof(path), 4 * PG);
	peer_start(&b, dname, (const char *const[]){ op_open(path), "map:16384", "put:8190:orphan", "kill", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "map ok");
	peer_expect(&b, "put ok");
	cr_assert_eq(peer_finish(&b, 10), 1000 + SIGKILL);
	peer_start(&c, dname, (const char *const[]){ "init", "_exit:0", NULL });
	peer_expect(&c, "init 0");
	cr_assert_eq(peer_finish(&c, 10), 0);
	cr_assert(file_has(fd, 8190, "orphan"), "the next process to attach did not write the orphan back");
	close(fd);
	unlink(path);
}

/* A forked child (no exec) stores through the inherited MAP_SHARED mapping
 * and is killed: the parent's msync writes its stores. */
Test(dead, a_forked_child_killed_with_dirty_pages_loses_nothing, .fini = remove_test_domains, .timeout = 30)
{
	char dname[64];

	test_domain(dname, sizeof(dname), "forkkill");
	join_domain(dname, 0);
	int fd = pattern_file(4 * PG, 0);
	volatile unsigned char *p = vme_mmap(NULL, 4 * PG, RW, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	p[1] = 'P';		/* dirty and writable in the parent, then the child */
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		p[2] = 'c';			/* a page the parent dirtied */
		memcpy((void *)(p + 3 * PG), "child", 5);	/* one it never touched */
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	cr_assert_eq(vme_msync((void *)p, 4 * PG, MS_SYNC), 0);
	cr_assert(file_has(fd, 1, "Pc"));
	cr_assert(file_has(fd, 3 * PG, "child"));
	vme_munmap((void *)p, 4 * PG);
	close(fd);
}

/* --- fork while another thread reaps ---------------------------------------- */

/* BUG: domain_reap() marks "this process is reaping" in a process-local
 * flag, reap_busy, and a fork in another thread while one thread reaps
 * copies it set into the child; domain_fork_child() does not clear it.
 * The child's first reap (a lock whose owner died) then spins on
 * reap_busy for ever (src/mm/domain.c: domain_reap, domain_fork_child).
 * Made deterministic: a thread of this process reaps peer B1 (killed
 * holding file 1's i_rwsem) and is held just after taking B1's slot byte,
 * the main thread forks, then B2 (holding file 2's i_rwsem) is killed and
 * the child writes file 2: it must reap B2 and go on. */
static sem_t reap_paused, reap_resume;
static volatile int reap_armed;

static int pause_after_reap_lock(int fd, int cmd, long arg)
{
	int r = fcntl(fd, cmd, arg);
	const struct flock *fl = (const struct flock *)arg;

	if (r == 0 && cmd == F_OFD_SETLK && fl->l_type == F_WRLCK &&
	    __atomic_exchange_n(&reap_armed, 0, __ATOMIC_ACQ_REL)) {
		sem_post(&reap_paused);
		sem_wait(&reap_resume);
	}
	return r;
}

static void *pwrite_file(void *arg)
{
	struct pwrite_call *w = arg;

	w->ret = vme_pwrite(w->fd, "after", 5, 0);
	return NULL;
}

/* domain_reap() marks "this process is reaping" in a process-local flag,
 * reap_busy, and a fork in another thread while one thread reaps copies it
 * set into the child: domain_fork_child() clears it, or the child's first
 * reap (a lock whose owner died) would spin on it for ever. Made
 * deterministic: a thread of this process reaps peer B1 (killed holding
 * file 1's i_rwsem) and is held just after taking B1's slot byte, the main
 * thread forks, then B2 (holding file 2's i_rwsem) is killed and the child
 * writes file 2: it must reap B2 and go on. */
static void peer_holding_i_rwsem(struct peer *b, const char *dname, const char *path)
{
	peer_start(b, dname, (const char *const[]){ op_open(path), "mapro:4096", "touch:0", "hang:pwrite",
						   "pwrite:0:never", NULL });
	peer_expect(b, "open ok");
	peer_expect(b, "mapro ok");
	peer_expect(b, "touch");
	peer_expect(b, "hang armed");
	peer_expect(b, "hung pwrite");
}

static void reset_host_and_domains(void)
{
	host_sys_reset();
	remove_test_domains();
}

Test(dead, a_fork_while_a_thread_reaps_leaves_the_child_able_to_reap, .fini = reset_host_and_domains,
     .timeout = 30)
{
	char dname[64], path1[64], path2[64];
	struct peer b1, b2;
	pthread_t t;

	test_domain(dname, sizeof(dname), "forkreap");
	join_domain(dname, 0);
	int fd1 = pattern_file_at(path1, sizeof(path1), PG);
	int fd2 = pattern_file_at(path2, sizeof(path2), PG);
	peer_holding_i_rwsem(&b1, dname, path1);
	peer_holding_i_rwsem(&b2, dname, path2);	/* before B1 dies: its fork would reap B1 */
	peer_kill(&b1);

	sem_init(&reap_paused, 0, 0);
	sem_init(&reap_resume, 0, 0);
	host_sys.fcntl = pause_after_reap_lock;
	reap_armed = 1;
	struct pwrite_call w1 = { .fd = fd1 };
	cr_assert_eq(pthread_create(&t, NULL, pwrite_file, &w1), 0);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	cr_assert_eq(sem_timedwait(&reap_paused, &until), 0, "the thread never reaped B1");	/* it is reaping B1 now */

	int go[2];
	cr_assert_eq(pipe(go), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char c;
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(vme_pwrite(fd2, "child", 5, 0) == 5 ? 0 : 1);
	}
	peer_kill(&b2);
	sem_post(&reap_resume);
	cr_assert_eq(write(go[1], "g", 1), 1);
	pthread_join(t, NULL);
	cr_assert_eq(w1.ret, 5, "the reaping thread's own write");
	int status = 0;
	bool ended = false;
	for (int i = 0; i < 5000 && !ended; i++) {
		ended = waitpid(pid, &status, WNOHANG) == pid;
		if (!ended)
			usleep(1000);
	}
	if (!ended) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	cr_assert(ended, "the child forked during a reap is stuck reaping B2 (reap_busy inherited set)");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child: %#x", status);
	unsigned char *f = file_bytes(fd2, 0, 5);
	cr_assert_eq(memcmp(f, "child", 5), 0);
	free(f);
	close(fd1);
	close(fd2);
	unlink(path1);
	unlink(path2);
}

/* The dirty pages a killed process leaves with no user are written back by
 * the next process to attach, through the path the inode recorded when it
 * was first cached, or, if the file was renamed within its directory
 * meanwhile (still the same file), through the entry of that directory that
 * is it (open_orphan in src/mm/writeback.c). They used to be dropped with
 * "dirty pages lost, their file is gone". Linux writes them to the file
 * whatever its name; vmemu cannot find a file moved to another directory. */
Test(dead, a_dead_process_dirty_pages_reach_the_file_renamed_in_its_directory, .fini = remove_test_domains,
     .timeout = 30)
{
	char dname[64], path[64], moved[80];
	struct peer b, c;

	test_domain(dname, sizeof(dname), "renamed");
	int fd = pattern_file_at(path, sizeof(path), 2 * PG);
	peer_start(&b, dname, (const char *const[]){ op_open(path), "map:8192", "put:300:renamed", "kill", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "map ok");
	peer_expect(&b, "put ok");
	cr_assert_eq(peer_finish(&b, 10), 1000 + SIGKILL);
	snprintf(moved, sizeof(moved), "%s.moved", path);
	cr_assert_eq(rename(path, moved), 0);
	peer_start(&c, dname, (const char *const[]){ "init", "_exit:0", NULL });
	peer_expect(&c, "init 0");
	cr_assert_eq(peer_finish(&c, 10), 0);
	bool ok = file_has(fd, 300, "renamed");
	close(fd);
	unlink(moved);
	cr_assert(ok, "the dead process's store never reached the renamed file");
}
