/*
 * cache_races.c - the page cache under concurrency: threads racing one page
 * (a fault, vme_pwrite, msync), one file opened twice, memory unmapped under
 * another thread's access, threads churning one file, and the races between
 * a write or a truncation and write-back, between a write and a cache that
 * appears meanwhile, between a write and another process's revalidation,
 * and between I/O calls' references to a mapped file.
 *
 * The stress tests assert what must hold whatever the interleaving (every
 * view of the page agrees at the end, no byte goes back in time, nothing
 * hangs); the races that lose data are made deterministic by stopping
 * vmemu's own host pwrite at the right moment (its host_sys table, as
 * tests/inject.c does) while the other party acts.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <semaphore.h>
#include <vmemu.h>

#include "host/host.h"
#include "iodiff.h"
#include "peer.h"
#include "vm_valid.h"

#define RW (PROT_READ | PROT_WRITE)

static void reset_host(void)
{
	host_sys_reset();
	remove_tracked_files();
}

static void reset_host_and_domains(void)
{
	host_sys_reset();
	remove_test_domains();
}

/* --- a fault, vme_pwrite and msync on one page ------------------------------ */

#define ROUNDS 200
#define SPAN 64		/* bytes 0..63: written by vme_pwrite, value k in round k */

struct race {
	int fd;
	volatile unsigned char *p;
	volatile int stop;
	volatile int writes_done;
	char err[256];
};

/* vme_pwrite the round number over bytes 0..SPAN-1, rounds 1..ROUNDS. */
static void *race_writer(void *arg)
{
	struct race *r = arg;
	unsigned char b[SPAN];

	for (int k = 1; k <= ROUNDS; k++) {
		memset(b, k, SPAN);
		if (vme_pwrite(r->fd, b, SPAN, 0) != SPAN)
			snprintf(r->err, sizeof(r->err), "vme_pwrite round %d: %s", k, strerror(errno));
		sched_yield();
	}
	__atomic_store_n(&r->writes_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Drop the page from this mapping and fault it back, again and again: no
 * byte may ever show a value older than one it showed before. */
static void *race_faulter(void *arg)
{
	struct race *r = arg;
	unsigned char last[SPAN] = { 0 };

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		vme_madvise((void *)r->p, PG, MADV_DONTNEED);
		for (int i = 0; i < SPAN; i++) {
			unsigned char b = r->p[i];
			if (b < last[i] || b > ROUNDS) {
				snprintf(r->err, sizeof(r->err), "byte %d went from %d to %d", i, last[i], b);
				return NULL;
			}
			last[i] = b;
		}
	}
	return NULL;
}

/* Store through the mapping elsewhere in the page (so that it is dirty)
 * and msync it, again and again. */
static void *race_syncer(void *arg)
{
	struct race *r = arg;

	for (unsigned n = 0; !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE); n++) {
		r->p[2048 + n % 64] = (unsigned char)n;
		if (vme_msync((void *)r->p, PG, MS_SYNC))
			snprintf(r->err, sizeof(r->err), "msync: %s", strerror(errno));
	}
	return NULL;
}

Test(cache_races, a_fault_vme_pwrite_and_msync_race_on_one_page, .fini = reset_host, .timeout = 60)
{
	static struct race r;
	unsigned char zeros[PG] = { 0 }, want[SPAN], b[SPAN];
	pthread_t t[3];

	r.fd = pattern_file(PG, 0);
	cr_assert_eq(vme_pwrite(r.fd, zeros, PG, 0), (ssize_t)PG);
	r.p = vme_mmap(NULL, PG, RW, MAP_SHARED, r.fd, 0);
	cr_assert_neq((void *)r.p, MAP_FAILED);
	cr_assert_eq(pthread_create(&t[0], NULL, race_writer, &r), 0);
	cr_assert_eq(pthread_create(&t[1], NULL, race_faulter, &r), 0);
	cr_assert_eq(pthread_create(&t[2], NULL, race_syncer, &r), 0);
	while (!__atomic_load_n(&r.writes_done, __ATOMIC_ACQUIRE))
		usleep(1000);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(r.err[0], '\0', "%s", r.err);

	memset(want, ROUNDS, SPAN);
	cr_assert_eq(memcmp((const void *)r.p, want, SPAN), 0, "map: %s", hexof((const void *)r.p, SPAN));
	cr_assert_eq(vme_pread(r.fd, b, SPAN, 0), SPAN);
	cr_assert_eq(memcmp(b, want, SPAN), 0, "vme_pread: %s", hexof(b, SPAN));
	/* A store makes the page dirty: fsync then writes what the cache holds
	 * (whether the file lost a racing write before is the next test's). */
	r.p[3000] = 1;
	cr_assert_eq(vme_fsync(r.fd), 0);
	unsigned char *f = file_bytes(r.fd, 0, SPAN);
	cr_assert_eq(memcmp(f, want, SPAN), 0, "file: %s", hexof(f, SPAN));
	free(f);
	vme_munmap((void *)r.p, PG);
	close(r.fd);
}

/* vme_pwrite writes the file, then the cached page. An msync in another
 * thread between the two writes the page's old bytes over the new ones in
 * the file and cleans the page; vme_pwrite sees the write-back happened
 * (inode.wb_seq) and writes its bytes again, so the file ends with the new
 * bytes, as Linux's, whose write goes through the page. (It used to keep
 * the old ones after fsync, munmap and exit.) Made deterministic: the host
 * pwrite of vme_pwrite lets the msync run first. */
static sem_t wb_go, wb_done;
static volatile int wb_armed;
static unsigned char *wb_map;

static ssize_t pwrite_then_let_msync_run(int fd, const void *b, size_t n, off_t off)
{
	ssize_t r = pwrite(fd, b, n, off);

	if (__atomic_exchange_n(&wb_armed, 0, __ATOMIC_ACQ_REL)) {
		sem_post(&wb_go);
		sem_wait(&wb_done);
	}
	return r;
}

static void *msync_when_told(void *arg)
{
	(void)arg;
	sem_wait(&wb_go);
	vme_msync(wb_map, PG, MS_SYNC);
	sem_post(&wb_done);
	return NULL;
}

Test(cache_races, an_msync_racing_vme_pwrite_keeps_the_write_in_the_file, .fini = reset_host, .timeout = 30)
{
	int fd = pattern_file(PG, 0);
	pthread_t t;

	wb_map = vme_mmap(NULL, PG, RW, MAP_SHARED, fd, 0);
	cr_assert_neq(wb_map, MAP_FAILED);
	wb_map[100] = 'd';	/* dirty: the msync has something to write */
	sem_init(&wb_go, 0, 0);
	sem_init(&wb_done, 0, 0);
	cr_assert_eq(pthread_create(&t, NULL, msync_when_told, NULL), 0);
	host_sys.pwrite = pwrite_then_let_msync_run;
	wb_armed = 1;
	cr_assert_eq(vme_pwrite(fd, "new", 3, 0), 3);
	pthread_join(t, NULL);
	host_sys_reset();
	cr_assert_eq(memcmp(wb_map, "new", 3), 0, "the cache");
	cr_assert_eq(vme_fsync(fd), 0);
	cr_assert_eq(vme_munmap(wb_map, PG), 0);
	unsigned char *f = file_bytes(fd, 0, 3);
	cr_assert_eq(memcmp(f, "new", 3), 0, "after vme_pwrite(\"new\"), fsync and munmap the file has %s (Linux: \"new\")",
		     hexof(f, 3));
	free(f);
	close(fd);
}

/* Write-back of a page another live process maps writable (writeback_batch:
 * write it, keep it dirty) is covered by PG_writeback all the same, so
 * another process's truncation waits for it to land before the file is cut
 * (drop_page_locked).  It used to run with no PG_writeback: the truncation
 * went first, and the write-back, which took the file's size before it,
 * grew the file back with the old bytes.  On Linux the truncation wins: the
 * file ends at the new size.  Made deterministic: the write-back's host
 * pwritev lets a forked child start truncating first. */
static int to_child[2], to_parent[2];
static volatile int trunc_armed;

static ssize_t pwritev_after_child_truncates(int fd, const struct iovec *iov, int cnt, off_t off)
{
	if (__atomic_exchange_n(&trunc_armed, 0, __ATOMIC_ACQ_REL)) {
		char c = 1;
		struct timespec ts = { .tv_nsec = 100 * 1000 * 1000 };
		if (write(to_child[1], &c, 1) != 1 || read(to_parent[0], &c, 1) != 1)
			return -1;
		nanosleep(&ts, NULL);	/* the child is inside its truncate now */
	}
	return pwritev(fd, iov, cnt, off);
}

Test(cache_races, a_writeback_racing_another_process_truncate_does_not_regrow_the_file, .fini = reset_host,
     .timeout = 30)
{
	char path[64];
	int fd = io_pattern_file(path, 2 * PG);
	volatile unsigned char *p = vme_mmap(NULL, 2 * PG, RW, MAP_SHARED, fd, 0);

	cr_assert_neq((void *)p, MAP_FAILED);
	p[PG + 5] = 'd';	/* dirty, writable here and (after fork) in the child */
	cr_assert_eq(pipe(to_child), 0);
	cr_assert_eq(pipe(to_parent), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char c;
		if (read(to_child[0], &c, 1) != 1)
			_exit(2);
		int f2 = open(path, O_RDWR);
		if (write(to_parent[1], &c, 1) != 1)
			_exit(3);
		_exit(vme_ftruncate(f2, 0) ? 1 : 0);
	}
	host_sys.pwritev = pwritev_after_child_truncates;
	trunc_armed = 1;
	int r = vme_msync((void *)p, 2 * PG, MS_SYNC);
	host_sys_reset();
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child's truncate failed: %#x", status);
	cr_assert_eq(r, 0);
	cr_assert_eq(file_size(fd), 0, "the file has %ld bytes after another process truncated it to 0 "
		     "(a write-back in flight grew it back; Linux: 0)", (long)file_size(fd));
	close(fd);
	unlink(path);
}

/* --- one file, two descriptors, two mappings --------------------------------- */

static void opened_twice(const struct io_world *w, struct io_log *l)
{
	char path[64];
	int fd1 = io_pattern_file(path, 3 * PG);
	int fd2 = open(path, O_RDWR);
	cr_assert(fd2 >= 0);
	volatile unsigned char *one = w->mmap(NULL, 3 * PG, RW, MAP_SHARED, fd1, 0);
	volatile unsigned char *two = w->mmap(NULL, 3 * PG, PROT_READ, MAP_SHARED, fd2, 0);
	cr_assert_neq((void *)one, MAP_FAILED);
	cr_assert_neq((void *)two, MAP_FAILED);

	io_logf(l, "read %02x %02x", one[0], two[PG]);
	memcpy((void *)(one + 10), "viaone", 6);
	io_log_bytes(l, "two sees one's store", two + 10, 6);
	io_log_ret(l, "pwrite fd2", w->pwrite(fd2, "viatwo", 6, PG + 5));
	io_log_bytes(l, "one sees fd2's write", one + PG + 5, 6);
	close(fd1);	/* the mapping keeps the file */
	io_log_ret(l, "msync one after close", w->msync((void *)one, 3 * PG, MS_SYNC));
	io_log_file(l, fd2, 8, 10);
	io_log_ret(l, "ftruncate fd2", w->ftruncate(fd2, PG + 10));
	io_log_probe(l, "one past the end", one, 2 * PG + 1, NULL);
	io_log_probe(l, "two past the end", two, 2 * PG + 2, NULL);
	io_log_bytes(l, "one's tail", one + PG + 8, 4);
	w->munmap((void *)one, 3 * PG);
	w->munmap((void *)two, 3 * PG);
	close(fd2);
	unlink(path);
}

Test(cache_races, a_file_opened_twice_is_one_cache_for_both_descriptors_and_mappings,
     .fini = reset_host, .timeout = 20)
{
	io_compare(opened_twice, NULL);
}

/* --- memory unmapped under another thread's access ----------------------------- */

#define UNMAP_PAGES 64

struct unmapped_reader {
	const struct io_world *w;
	volatile unsigned char *p;
	volatile int passes;
	int sig, code;
	long off;		/* si_addr - p */
};

static __thread sigjmp_buf *reader_env;
static __thread siginfo_t reader_info;

static void on_reader_signal(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	if (!reader_env)
		abort();	/* not the reader's: a real crash */
	reader_info = *info;
	siglongjmp(*reader_env, sig);
}

static void *read_until_gone(void *arg)
{
	struct unmapped_reader *r = arg;
	sigjmp_buf env;
	int sig;

	reader_env = &env;
	if ((sig = sigsetjmp(env, 1)) != 0) {
		r->sig = sig;
		r->code = reader_info.si_code;
		r->off = (long)((volatile unsigned char *)reader_info.si_addr - r->p);
		reader_env = NULL;
		return NULL;
	}
	for (;;) {
		for (size_t i = 0; i < UNMAP_PAGES; i++)
			(void)r->p[i * PG + (i & 7)];
		__atomic_add_fetch(&r->passes, 1, __ATOMIC_RELEASE);
	}
}

static void *join_thread(void *arg)
{
	pthread_join(*(pthread_t *)arg, NULL);
	return NULL;
}

static void unmap_under_reader(const struct io_world *w, struct io_log *l)
{
	struct unmapped_reader r = { .w = w };
	struct sigaction sa;
	int fd = pattern_file(UNMAP_PAGES * PG, 0);
	pthread_t t;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_reader_signal;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(vme_sigaction(SIGSEGV, &sa, NULL), 0);
	r.p = w->mmap(NULL, UNMAP_PAGES * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)r.p, MAP_FAILED);
	cr_assert_eq(pthread_create(&t, NULL, read_until_gone, &r), 0);
	while (__atomic_load_n(&r.passes, __ATOMIC_ACQUIRE) < 3)
		usleep(100);
	io_log_ret(l, "munmap under the reader", w->munmap((void *)r.p, UNMAP_PAGES * PG));
	run_within(5000, "the reader of unmapped memory", join_thread, &t);
	io_logf(l, "reader: signal %d code %d, inside %d", r.sig, r.code,
		r.off >= 0 && r.off < (long)(UNMAP_PAGES * PG));
	close(fd);
}

Test(cache_races, memory_unmapped_under_another_threads_reads_is_sigsegv_maperr,
     .fini = reset_host, .timeout = 30)
{
	struct io_log h;
	io_compare(unmap_under_reader, &h);
	io_host_said(&h, "reader: signal %d code %d, inside 1", SIGSEGV, SEGV_MAPERR);
}

/* Threads fault one file's pages while another maps and unmaps the same
 * file over and over, and another writes it with vme_pwrite: nothing hangs,
 * and every byte read is the file's. */
struct churn {
	int fd;
	volatile int stop;
	char err[256];
};

static void *churn_mapper(void *arg)
{
	struct churn *c = arg;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		volatile unsigned char *q = vme_mmap(NULL, 32 * PG, PROT_READ, MAP_SHARED, c->fd, 0);
		if ((void *)q == MAP_FAILED) {
			snprintf(c->err, sizeof(c->err), "mmap: %s", strerror(errno));
			return NULL;
		}
		for (size_t i = 0; i < 32; i += 3)
			if (q[i * PG + 100] != pattern_byte(i * PG + 100)) {
				snprintf(c->err, sizeof(c->err), "page %zu byte 100: %#x", i, q[i * PG + 100]);
				return NULL;
			}
		vme_munmap((void *)q, 32 * PG);
	}
	return NULL;
}

static void *churn_writer(void *arg)
{
	struct churn *c = arg;
	unsigned char b[16];

	/* rewrite bytes 0..15 of every page with the file's own bytes */
	for (unsigned n = 0; !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE); n++) {
		size_t page = n % 32;
		for (size_t i = 0; i < 16; i++)
			b[i] = pattern_byte(page * PG + i);
		vme_pwrite(c->fd, b, 16, (off_t)(page * PG));
	}
	return NULL;
}

static void *churn_faulter(void *arg)
{
	struct churn *c = arg;
	volatile unsigned char *q = vme_mmap(NULL, 32 * PG, PROT_READ, MAP_SHARED, c->fd, 0);

	if ((void *)q == MAP_FAILED)
		return NULL;
	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		vme_madvise((void *)q, 32 * PG, MADV_DONTNEED);
		for (size_t i = 0; i < 32; i++)
			if (q[i * PG + 7] != pattern_byte(i * PG + 7)) {
				snprintf(c->err, sizeof(c->err), "faulter: page %zu byte 7: %#x", i, q[i * PG + 7]);
				break;
			}
	}
	vme_munmap((void *)q, 32 * PG);
	return NULL;
}

static void *churn_all(void *arg)
{
	struct churn *c = arg;
	pthread_t t[3];

	pthread_create(&t[0], NULL, churn_mapper, c);
	pthread_create(&t[1], NULL, churn_writer, c);
	pthread_create(&t[2], NULL, churn_faulter, c);
	usleep(1500 * 1000);
	__atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	return NULL;
}

Test(cache_races, mapping_unmapping_faulting_and_writing_one_file_at_once, .fini = reset_host, .timeout = 60)
{
	static struct churn c;

	c.fd = pattern_file(32 * PG, 0);
	run_within(30000, "three threads churning one file", churn_all, &c);
	cr_assert_eq(c.err[0], '\0', "%s", c.err);
	close(c.fd);
}

/* io_get() takes a reference on this process's address_space of the file
 * under mmap_lock held for reading, alongside other threads' io_get: the
 * count is changed atomically. A plain increment lost counts, and the
 * io_put()s then freed the address_space under the mapping (nr_mapped_files
 * dropped to 0, and the next munmap used freed memory). Three threads read
 * for up to three seconds; the count was lost within a few hundred
 * milliseconds. */
struct pread_storm {
	int fd;
	volatile int stop;
};

static void *pread_loop(void *arg)
{
	struct pread_storm *s = arg;
	char b[16];

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
		vme_pread(s->fd, b, sizeof(b), 0);
	return NULL;
}

Test(cache_races, concurrent_vme_pread_of_a_mapped_file_keeps_its_address_space,
     .fini = reset_host, .timeout = 30)
{
	static struct pread_storm s;
	struct vme_stats st;
	pthread_t t[3];

	s.fd = pattern_file(PG, 0);
	volatile unsigned char *p = vme_mmap(NULL, PG, PROT_READ, MAP_SHARED, s.fd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	cr_assert_eq(p[0], pattern_byte(0));
	cr_assert_eq(vme_stats(&st), 0);
	cr_assert_eq(st.nr_mapped_files, 1);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, pread_loop, &s), 0);
	for (int ms = 0; ms < 3000 && st.nr_mapped_files == 1; ms += 10) {
		usleep(10000);
		cr_assert_eq(vme_stats(&st), 0);
	}
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	/* (no munmap when it failed: it would touch the freed address_space) */
	cr_assert_eq(st.nr_mapped_files, 1, "the file is mapped, but its address_space is gone (nr_mapped_files %lu)",
		     (unsigned long)st.nr_mapped_files);
	cr_assert_eq(p[0], pattern_byte(0));
	cr_assert_eq(vme_munmap((void *)p, PG), 0);
	close(s.fd);
}

/* --- a cache appears while a write runs without one ---------------------------- */

/* Nobody caches the file when vme_pwrite starts; while its host pwrite is
 * held, a peer maps the page and reads it (a cache with the old bytes);
 * then the write lands.  vme_pwrite must bring the new cache in line
 * (fileio.c: "a write that a cache appeared under while it ran is brought
 * into that cache afterwards"): the peer, and a new mapping here, show the
 * new bytes. */
static struct peer *appear_peer;
static volatile int appear_armed;

static ssize_t pwrite_after_peer_caches(int fd, const void *b, size_t n, off_t off)
{
	if (__atomic_exchange_n(&appear_armed, 0, __ATOMIC_ACQ_REL)) {
		if (write(appear_peer->in, "go\n", 3) != 3)
			return -1;
		const char *l = peer_line_within(appear_peer, 10000);
		if (!l || strcmp(l, "mapro ok") || !(l = peer_line_within(appear_peer, 10000)) || strcmp(l, "touch"))
			return -1;
	}
	return pwrite(fd, b, n, off);
}

static void cache_appears_during_write(int flags)
{
	char dname[64], path[64], open_op[96];
	struct peer b;

	test_domain(dname, sizeof(dname), flags == O_WRONLY ? "appearwo" : "appear");
	join_domain(dname, 0);
	int fd = pattern_file_at(path, sizeof(path), PG);
	int w = open(path, flags);
	cr_assert(w >= 0);
	snprintf(open_op, sizeof(open_op), "open:%s", path);
	peer_start(&b, dname, (const char *const[]){ open_op, "say:ready", "wait", "mapro:4096", "touch:0", "wait",
						   "get:0:3", "_exit:0", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "ready");
	appear_peer = &b;
	host_sys.pwrite = pwrite_after_peer_caches;
	appear_armed = 1;
	ssize_t r = vme_pwrite(w, "new", 3, 0);
	host_sys_reset();
	cr_assert_eq(r, 3);
	peer_go(&b);
	const char *l = peer_line(&b);
	char seen[64];
	snprintf(seen, sizeof(seen), "%s", l);
	cr_assert_eq(peer_finish(&b, 10), 0);
	volatile unsigned char *p = vme_mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	char here[8];
	snprintf(here, sizeof(here), "%.3s", (const char *)p);
	unsigned char *f = file_bytes(fd, 0, 3);
	cr_assert_eq(memcmp(f, "new", 3), 0, "the file");
	free(f);
	cr_assert_str_eq(seen, "get 6e6577", "the peer's mapping shows \"%s\" (6e6577 is \"new\")", seen);
	cr_assert_str_eq(here, "new", "a new mapping here shows %s", hexof(here, 3));
	vme_munmap((void *)p, PG);
	close(w);
	close(fd);
	unlink(path);
}

Test(cache_races, a_cache_that_appears_during_a_write_gets_the_written_bytes, .fini = reset_host_and_domains,
     .timeout = 30)
{
	cache_appears_during_write(O_RDWR);
}

/* A cache of the file appears while a write through a write-only descriptor
 * runs without one: the written range is brought into it from the program's
 * buffers (write_caught_up). It was read back through that descriptor once:
 * EBADF, ignored, and the page kept the old bytes while the file's new stat
 * was recorded, so no revalidation ever noticed. */
Test(cache_races, a_cache_that_appears_during_a_write_only_descriptors_write_gets_the_new_bytes,
     .fini = reset_host_and_domains, .timeout = 30)
{
	cache_appears_during_write(O_WRONLY);
}

/* --- revalidation racing a write ------------------------------------------------ */

/* A mapping's revalidation (mapping_revalidate at vme_mmap) that looks
 * while a vmemu write is between its host write and the record of the state
 * it left must not take it for an outside change: dropping the clean pages
 * would leave the writer's own mapping, and every process that had the page
 * mapped, on the dropped frame, reading the old bytes until its next fault
 * on the file. This is how the LMDB client test
 * (clients::lmdb_default_two_processes) lost keys. Made deterministic: the
 * peer maps the file while this process's host pwrite has landed; once the
 * write has returned, both mappings show it. */
static struct peer *reval_peer;
static volatile int reval_armed;

static ssize_t pwrite_then_peer_maps(int fd, const void *b, size_t n, off_t off)
{
	ssize_t r = pwrite(fd, b, n, off);

	if (__atomic_exchange_n(&reval_armed, 0, __ATOMIC_ACQ_REL)) {
		const char *l;
		if (write(reval_peer->in, "go\n", 3) != 3 || !(l = peer_line_within(reval_peer, 10000)) ||
		    strcmp(l, "mapro ok"))
			return -1;
	}
	return r;
}

Test(cache_races, a_mapping_made_during_a_vme_pwrite_does_not_take_it_for_an_outside_change,
     .fini = reset_host_and_domains, .timeout = 30)
{
	char dname[64], path[64], open_op[96];
	struct peer b;

	test_domain(dname, sizeof(dname), "reval");
	join_domain(dname, 0);
	int fd = pattern_file_at(path, sizeof(path), PG);
	volatile unsigned char *p = vme_mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	cr_assert_eq(p[0], pattern_byte(0));
	snprintf(open_op, sizeof(open_op), "open:%s", path);
	peer_start(&b, dname, (const char *const[]){ open_op, "say:ready", "wait", "mapro:4096", "wait", "get:0:3",
						   "_exit:0", NULL });
	peer_expect(&b, "open ok");
	peer_expect(&b, "ready");
	reval_peer = &b;
	host_sys.pwrite = pwrite_then_peer_maps;
	reval_armed = 1;
	ssize_t r = vme_pwrite(fd, "new", 3, 0);
	host_sys_reset();
	cr_assert_eq(r, 3);
	char here[4];
	memcpy(here, (const void *)p, 3);
	here[3] = '\0';
	peer_go(&b);		/* the write has returned: the peer looks now */
	peer_expect(&b, "get %s", hexof("new", 3));
	cr_assert_eq(peer_finish(&b, 10), 0);
	cr_assert_str_eq(here, "new", "right after vme_pwrite(\"new\"), this process's own mapping shows %s",
			 hexof(here, 3));
	vme_munmap((void *)p, PG);
	close(fd);
	unlink(path);
}

/* --- msync of a run of pages, and stores racing it --------------------------- */

/* Write-back cleans a run of consecutive dirty pages together: their PTEs
 * are made read-only, then one host mprotect protects the run, then their
 * PG_dirty is cleared and one pwritev writes them.  A store from another
 * thread may land anywhere in that sequence; none may be lost.  The same
 * operations run on the host kernel and on vmemu, where a hook on vmemu's
 * own host calls makes the store land at a chosen point: between the PTEs'
 * change and the host's protection (the page still writable on the host:
 * the store must be in the pages written), or right after the write (the
 * page write-protected: the store faults, and the page is dirty again for
 * the next msync).  On the host the store simply comes before the msync,
 * which is what the program can tell either way. */
#define RUN 8		/* pages */
#define RACED (3 * PG + 100)	/* where the racing store lands */

enum race_at { RACE_IN_PROTECT, RACE_AFTER_WRITE };

static struct {
	volatile unsigned char *p;	/* the mapping */
	sem_t go, done;			/* the storer stores, and says so */
	volatile int armed;		/* the next hooked call at race_at lets it store */
	enum race_at at;
	int protects, writes;		/* vmemu's host protections of the mapping, and writes */
	size_t protect_len[RUN];	/* ... the lengths protected, in order */
} rr;

static void *race_storer(void *arg)
{
	(void)arg;
	sem_wait(&rr.go);
	rr.p[RACED] = 0xee;
	sem_post(&rr.done);
	return NULL;
}

/* The store, from the other thread, now if the race is at this point: the
 * hook waits until it landed. */
static void let_store_land(enum race_at at)
{
	if (at == rr.at && __atomic_exchange_n(&rr.armed, 0, __ATOMIC_ACQ_REL)) {
		sem_post(&rr.go);
		sem_wait(&rr.done);
	}
}

static int mprotect_hook(void *addr, size_t len, int prot)
{
	if (prot == PROT_READ && (unsigned char *)addr >= rr.p && (unsigned char *)addr < rr.p + RUN * PG) {
		if (rr.protects < RUN)
			rr.protect_len[rr.protects] = len;
		rr.protects++;
		let_store_land(RACE_IN_PROTECT);	/* the PTEs are read-only, the host's pages not yet */
	}
	return mprotect(addr, len, prot);
}

static ssize_t pwritev_hook(int fd, const struct iovec *iov, int cnt, off_t off)
{
	ssize_t r = pwritev(fd, iov, cnt, off);

	rr.writes++;
	let_store_land(RACE_AFTER_WRITE);	/* written, and write-protected */
	return r;
}

static void store_racing_msync(const struct io_world *w, struct io_log *l, enum race_at at)
{
	char path[64];
	pthread_t t;

	int fd = io_pattern_file(path, RUN * PG);
	rr.p = w->mmap(NULL, RUN * PG, RW, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)rr.p, MAP_FAILED);
	for (int i = 0; i < RUN; i++)
		rr.p[i * PG + 7] = (unsigned char)(0x10 + i);	/* one run of dirty pages */
	sem_init(&rr.go, 0, 0);
	sem_init(&rr.done, 0, 0);
	cr_assert_eq(pthread_create(&t, NULL, race_storer, NULL), 0);
	rr.protects = rr.writes = 0;
	rr.at = at;
	rr.armed = 1;
	if (w == &io_host) {
		let_store_land(at);
	} else {
		host_sys.mprotect = mprotect_hook;
		host_sys.pwritev = pwritev_hook;
	}
	io_log_ret(l, "msync", w->msync((void *)rr.p, RUN * PG, MS_SYNC));
	host_sys_reset();
	pthread_join(t, NULL);
	if (w == &io_vme) {
		cr_assert_eq(rr.armed, 0, "the racing store was never let in");
		cr_assert_eq(rr.protects, 1, "one host protection for the run, not %d", rr.protects);
		cr_assert_eq(rr.protect_len[0], RUN * PG);
		cr_assert_eq(rr.writes, 1, "one write for the run, not %d", rr.writes);
	}
	if (at == RACE_IN_PROTECT)	/* landed before the write: in the file already */
		io_log_file(l, fd, RACED - 4, 8);
	io_log_ret(l, "msync again", w->msync((void *)rr.p, RUN * PG, MS_SYNC));
	io_log_file(l, fd, RACED - 4, 8);
	for (int i = 0; i < RUN; i++)
		io_log_file(l, fd, i * PG + 6, 2);
	rr.p[5 * PG + 9] = 0x55;	/* after the msyncs: dirty again, written by the next */
	io_log_ret(l, "msync after a store", w->msync((void *)rr.p, RUN * PG, MS_SYNC));
	io_log_file(l, fd, 5 * PG + 8, 2);
	io_log_bytes(l, "memory", rr.p + RACED - 4, 8);
	if (w == &io_vme)
		assert_vm_valid("after the racing msyncs");
	w->munmap((void *)rr.p, RUN * PG);
	close(fd);
	unlink(path);
}

static void store_between_pte_and_host_protection(const struct io_world *w, struct io_log *l)
{
	store_racing_msync(w, l, RACE_IN_PROTECT);
}

static void store_right_after_the_write(const struct io_world *w, struct io_log *l)
{
	store_racing_msync(w, l, RACE_AFTER_WRITE);
}

Test(cache_races, a_store_between_the_runs_ptes_and_its_host_protection_is_written, .fini = reset_host,
     .timeout = 30)
{
	io_compare(store_between_pte_and_host_protection, NULL);
}

Test(cache_races, a_store_right_after_the_runs_write_is_written_by_the_next_msync, .fini = reset_host,
     .timeout = 30)
{
	io_compare(store_right_after_the_write, NULL);
}

/* A run whose middle page another process maps writable: that page is
 * written with the others but stays dirty and writable here (only that
 * process could write-protect its mapping, and it may store without a
 * fault), so the run's host protection is split around it, in two calls,
 * and its write is not.  The other process's next store reaches the file
 * with the next msync; on Linux, which write-protects every process's
 * mapping, it faults and dirties the page again: the file ends the same.
 * The other process is a child forked before the mapping, which maps the
 * file itself and stores to page 3 only. */
static void run_split_by_another_process(const struct io_world *w, struct io_log *l)
{
	char path[64], c = 1;
	int go[2], ack[2];
	int fd = io_pattern_file(path, RUN * PG);

	cr_assert_eq(pipe(go), 0);
	cr_assert_eq(pipe(ack), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(go[1]), close(ack[0]);	/* a parent that fails ends the child too */
		volatile unsigned char *q = w->mmap(NULL, RUN * PG, RW, MAP_SHARED, fd, 0);
		if ((void *)q == MAP_FAILED)
			_exit(2);
		for (unsigned char v = 0xb1; v <= 0xb2; v++) {
			if (read(go[0], &c, 1) != 1)
				_exit(3);
			q[3 * PG + 200 + (v - 0xb1)] = v;
			if (write(ack[1], &c, 1) != 1)
				_exit(4);
		}
		if (read(go[0], &c, 1) != 1)
			_exit(5);
		w->munmap((void *)q, RUN * PG);	/* once the parent has looked at the file */
		_exit(0);
	}
	close(go[0]), close(ack[1]);
	volatile unsigned char *p = w->mmap(NULL, RUN * PG, RW, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	for (int i = 0; i < RUN; i++)
		p[i * PG + 7] = (unsigned char)(0x20 + i);
	cr_assert_eq(write(go[1], &c, 1), 1);
	cr_assert_eq(read(ack[0], &c, 1), 1);	/* the child stored 0xb1 to page 3 */
	rr.p = p;
	rr.armed = 0;		/* counting only */
	rr.protects = rr.writes = 0;
	if (w == &io_vme) {
		host_sys.mprotect = mprotect_hook;
		host_sys.pwritev = pwritev_hook;
	}
	io_log_ret(l, "msync", w->msync((void *)p, RUN * PG, MS_SYNC));
	host_sys_reset();
	if (w == &io_vme) {
		cr_assert_eq(rr.protects, 2, "the run's protection split around page 3: %d calls", rr.protects);
		cr_assert_eq(rr.protect_len[0], 3 * PG);
		cr_assert_eq(rr.protect_len[1], 4 * PG);
		cr_assert_eq(rr.writes, 1, "the run is one write all the same: %d", rr.writes);
	}
	for (int i = 0; i < RUN; i++)
		io_log_file(l, fd, i * PG + 6, 2);
	io_log_file(l, fd, 3 * PG + 200, 2);
	cr_assert_eq(write(go[1], &c, 1), 1);
	cr_assert_eq(read(ack[0], &c, 1), 1);	/* the child stored 0xb2 to page 3 */
	io_log_ret(l, "msync again", w->msync((void *)p, RUN * PG, MS_SYNC));
	io_log_file(l, fd, 3 * PG + 200, 2);
	cr_assert_eq(write(go[1], &c, 1), 1);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child: status %#x", status);
	io_log_bytes(l, "memory", p + 3 * PG + 200, 2);
	if (w == &io_vme)
		assert_vm_valid("after the split run");
	w->munmap((void *)p, RUN * PG);
	close(fd);
	close(go[1]), close(ack[0]);
	unlink(path);
}

Test(cache_races, a_run_with_a_page_another_process_maps_writable_loses_none_of_its_stores,
     .fini = reset_host, .timeout = 30)
{
	io_compare(run_split_by_another_process, NULL);
}
