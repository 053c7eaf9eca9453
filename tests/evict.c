/*
 * evict.c - eviction (MADV_PAGEOUT): file pages leave the cache and every
 * mapping, dirty ones are written back first, and faults racing eviction
 * never see a torn page, a lost write, a page filled twice, or a deadlock.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <time.h>
#include <vmemu.h>

#include "host/host.h"
#include "testutil.h"

static struct vme_stats stats(void)
{
	struct vme_stats s;
	cr_assert_eq(vme_stats(&s), 0);
	return s;
}

Test(evict, pageout_writes_back_drops_and_reads_again)
{
	int fd = pattern_file(4 * PG, 0);
	volatile unsigned char *s = vme_mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	volatile unsigned char *p = vme_mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	cr_assert_eq(vme_madvise((void *)s, 4 * PG, MADV_RANDOM), 0);	/* page by page */
	for (size_t i = 0; i < 4; i++)
		cr_assert_eq(s[i * PG], pattern_byte(i * PG));
	s[PG + 1] = 0xd1;		/* dirty */
	p[2 * PG] = 0xc2;		/* a private copy */
	cr_assert_eq(p[3 * PG], pattern_byte(3 * PG));	/* private, still the cache's page */
	struct vme_stats before = stats();
	cr_assert_eq(vme_madvise((void *)s, 4 * PG, MADV_PAGEOUT), 0);
	struct vme_stats after = stats();
	cr_assert_eq(after.pgevict - before.pgevict, 4);
	cr_assert_eq(after.pgpgout - before.pgpgout, 1, "the dirty page was written back first");
	unsigned char *f = file_bytes(fd, PG + 1, 1);
	cr_assert_eq(f[0], 0xd1);
	free(f);
	unsigned char vec[4];
	cr_assert_eq(vme_mincore((void *)s, 4 * PG, vec), 0);
	cr_assert_eq(vec[0] | vec[1] | vec[3], 0, "gone from the cache");
	cr_assert_eq(s[PG + 1], 0xd1, "read again from the file");
	cr_assert_eq(stats().pgpgin - after.pgpgin, 1);
	cr_assert_eq(p[2 * PG], 0xc2, "a private copy is not the cache's to evict");
	unsigned char x = 0x3e;
	cr_assert_eq(pwrite(fd, &x, 1, 3 * PG), 1);
	cr_assert_eq(p[3 * PG], 0x3e, "an uncopied private page was evicted too, and reads the file again");
}

static ssize_t enospc_pwritev(int fd, const struct iovec *iov, int cnt, off_t o)
{
	(void)fd, (void)iov, (void)cnt, (void)o;
	errno = ENOSPC;
	return -1;
}

Test(evict, a_page_that_cannot_be_written_back_stays)
{
	int fd = pattern_file(2 * PG, 0);
	volatile unsigned char *s = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	s[7] = 0x55;
	host_sys.pwritev = enospc_pwritev;
	errno = 0;
	cr_assert_eq(vme_madvise((void *)s, 2 * PG, MADV_PAGEOUT), -1);
	cr_assert_eq(errno, ENOSPC);
	host_sys_reset();
	cr_assert_eq(s[7], 0x55, "nothing lost");
	cr_assert_eq(vme_msync((void *)s, 2 * PG, MS_SYNC), 0);
	unsigned char *f = file_bytes(fd, 7, 1);
	cr_assert_eq(f[0], 0x55);
	free(f);
}

Test(evict, anonymous_and_shmem_pages_stay_without_swap)
{
	volatile unsigned char *a = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile unsigned char *sh = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	a[0] = 1;
	sh[0] = 2;
	cr_assert_eq(vme_madvise((void *)a, PG, MADV_PAGEOUT), 0);
	cr_assert_eq(vme_madvise((void *)sh, PG, MADV_PAGEOUT), 0);
	cr_assert_eq(a[0], 1);
	cr_assert_eq(sh[0], 2);
}

/* --- eight threads under eviction pressure --- */

#define NT 8
#define NP 32

static volatile unsigned char *map;
static int map_fd;
static int inflight[NP];		/* fills of a page in progress */
static volatile int double_fill;
static volatile int stop_evictor, stop_workers;
static unsigned char last_written[NT][NP];	/* what each writer last stored in each page */
static pthread_barrier_t bar;
static int errors[NT];

/* Slow, two-part pread that also catches two fills of one page at once. */
static ssize_t watched_pread(int fd, void *buf, size_t len, off_t off)
{
	size_t pg = (size_t)off / PG, half = len / 2;
	struct timespec ts = { 0, 50000 };
	if (fd == map_fd && pg < NP && __atomic_fetch_add(&inflight[pg], 1, __ATOMIC_ACQ_REL))
		double_fill = 1;
	ssize_t a = pread(fd, buf, half, off);
	if (a == (ssize_t)half) {
		nanosleep(&ts, NULL);
		a += pread(fd, (char *)buf + half, len - half, off + (off_t)half);
	}
	if (fd == map_fd && pg < NP)
		__atomic_fetch_sub(&inflight[pg], 1, __ATOMIC_ACQ_REL);
	return a;
}

/* Threads 0..3 read and check whole pages (the pattern outside the bytes
 * writers own); threads 4..7 write their own byte of every page. */
static void *worker(void *arg)
{
	long id = (long)arg;
	pthread_barrier_wait(&bar);
	for (int r = 0; !stop_workers; r++)
		for (size_t k = 0; k < NP; k++) {
			size_t pg = (k * 5 + (size_t)id) % NP;
			volatile unsigned char *p = map + pg * PG;
			if (id < 4) {
				if (p[PG - 1] != pattern_byte(pg * PG + PG - 1))
					errors[id]++;	/* torn: the tail first */
				for (size_t i = 64; i < PG; i += 61)
					if (p[i] != pattern_byte(pg * PG + i))
						errors[id]++;
			} else {
				unsigned char v = (unsigned char)(id * 16 + (r & 15));
				p[id] = v;
				last_written[id][pg] = v;
			}
		}
	return NULL;
}

static void *evictor(void *arg)
{
	(void)arg;
	while (!stop_evictor)
		if (vme_madvise((void *)map, NP * PG, MADV_PAGEOUT))
			errors[0] += 1000;
	return NULL;
}

Test(evict, eight_threads_fault_while_pages_are_evicted, .timeout = 120)
{
	pthread_t t[NT], ev;
	map_fd = pattern_file(NP * PG, 0);
	map = vme_mmap(NULL, NP * PG, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	host_sys.pread = watched_pread;
	fill_with_pread_only();
	pthread_barrier_init(&bar, NULL, NT);
	pthread_create(&ev, NULL, evictor, NULL);
	for (long i = 0; i < NT; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	struct timespec run = { 1, 500000000 };
	nanosleep(&run, NULL);
	stop_workers = 1;
	for (int i = 0; i < NT; i++)
		pthread_join(t[i], NULL);
	stop_evictor = 1;
	pthread_join(ev, NULL);
	for (int i = 0; i < NT; i++)
		cr_assert_eq(errors[i], 0, "thread %d: %d torn or wrong pages", i, errors[i]);
	cr_assert_eq(double_fill, 0, "a page was filled twice at once");
	cr_assert_gt(stats().pgevict, NP, "eviction really happened");
	cr_assert_eq(vme_msync((void *)map, NP * PG, MS_SYNC), 0);
	unsigned char *f = file_bytes(map_fd, 0, NP * PG);
	for (size_t pg = 0; pg < NP; pg++)
		for (long id = 4; id < NT; id++)
			cr_assert_eq(f[pg * PG + (size_t)id], last_written[id][pg],
				     "page %zu: thread %ld's last write was lost", pg, id);
	free(f);
}
