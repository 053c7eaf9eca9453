/*
 * pressure.c - memory pressure and scale: a bounded page cache, reclaim,
 * swap, readahead, the host-mapping budget, and terabyte reservations.
 *
 * Each test runs in its own process (Criterion forks), so each sets the
 * budget it needs with vme_init before its first vme_ call.  Each ends
 * (before its last unmap) with the invariant walker: reclaim, swap and
 * eviction left every count agreeing with what it counts.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vmemu.h>

#include "host/host.h"
#include "testutil.h"
#include "vm_valid.h"

#define MB (1UL << 20)

/* The budget, in a domain of this process's own: the shared pool's
 * capacity is the largest budget of its processes, and these tests measure
 * one process's pool, not whatever other tests run meanwhile. */
static void init_budget(unsigned long mb, const char *swap)
{
	struct vme_config cfg = { .cache_mb = mb, .swap = swap, .domain = "private" };
	cr_assert_eq(vme_init(&cfg), 0);
}

static struct vme_stats stats(void)
{
	struct vme_stats s;
	cr_assert_eq(vme_stats(&s), 0);
	return s;
}

/* A field of /proc/self/status, in KiB. */
static unsigned long status_kb(const char *field)
{
	char line[256];
	unsigned long v = 0;
	FILE *f = fopen("/proc/self/status", "r");

	cr_assert(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			v = strtoul(line + strlen(field) + 1, NULL, 10);
	fclose(f);
	return v;
}

static void assert_within_budget(void)
{
	struct vme_stats s = stats();
	cr_assert_leq(s.nr_resident, s.nr_budget, "%lu resident, budget %lu",
		      (unsigned long)s.nr_resident, (unsigned long)s.nr_budget);
}

/* The page's bytes are the pattern file's at pgoff. */
static void assert_pattern_page(const volatile unsigned char *p, size_t pgoff)
{
	for (size_t i = 0; i < PG; i += 97)
		cr_assert_eq(p[i], pattern_byte(pgoff * PG + i), "page %zu byte %zu", pgoff, i);
	cr_assert_eq(p[PG - 1], pattern_byte(pgoff * PG + PG - 1));
}

Test(pressure, the_budget_is_configured_and_reported)
{
	init_budget(8, NULL);
	struct vme_stats s = stats();
	cr_assert_eq(s.nr_budget, 8 * MB / PG);
	cr_assert_eq(s.nr_resident, 0);
	assert_vm_valid("after the workload");
}

/* A file four times the budget, read sequentially then at random through
 * one mapping: every page right, resident frames (and the host's count of
 * our shared memory) never above the budget, and the eviction counters
 * move. */
Test(pressure, a_file_four_times_the_budget_reads_right_within_it, .timeout = 120)
{
	const size_t pages = 4 * 4 * MB / PG;
	init_budget(4, NULL);
	int fd = pattern_file(pages * PG, O_RDONLY);
	volatile unsigned char *p = vme_mmap(NULL, pages * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(p, MAP_FAILED);
	unsigned long shmem_before = status_kb("RssShmem:");
	for (size_t pg = 0; pg < pages; pg++) {
		assert_pattern_page(p + pg * PG, pg);
		if (pg % 256 == 0)
			assert_within_budget();
	}
	struct vme_stats seq = stats();
	cr_assert_gt(seq.pgevict, pages / 2, "the scan evicted as it went");
	cr_assert_gt(seq.pgreadahead, 0);
	srandom(7);
	for (int i = 0; i < 4000; i++) {
		size_t pg = (size_t)random() % pages;
		assert_pattern_page(p + pg * PG, pg);
	}
	assert_within_budget();
	cr_assert_gt(stats().pgevict, seq.pgevict, "random reads evict too");
	/* The host counts a frame once per mapping of it: the user's and
	 * vmemu's own view.  Without eviction this would be 32 MiB. */
	cr_assert_leq(status_kb("RssShmem:"), shmem_before + 2 * 4 * 1024 + 1024,
		      "the host sees no more frames than the budget (twice, plus 1 MiB of flags): "
		      "%lu KiB, was %lu", status_kb("RssShmem:"), shmem_before);
	assert_vm_valid("after the workload");
}

/* A /dev/shm too small for the budget (a container's 64 MiB one, say): the
 * pool stops growing where the file system is full, and reclaim works in
 * what there is, where touching a frame the host had no room for was SIGBUS.
 * The small tmpfs is mounted in a mount namespace of the test's own, so it
 * goes with the test's process whatever happens. */
Test(pressure, a_dev_shm_smaller_than_the_budget_caps_the_pool_without_sigbus, .timeout = 120)
{
	char dir[] = "/tmp/vmemu-smallshm-XXXXXX";
	const size_t pages = 16 * MB / PG;

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		cr_skip_test("no mount namespace of its own (not root?): %s", strerror(errno));
	cr_assert(mkdtemp(dir));
	cr_assert_eq(mount("tmpfs", dir, "tmpfs", 0, "size=4m"), 0, "%s", strerror(errno));
	setenv("VMEMU_SHM_DIR", dir, 1);
	struct vme_config cfg = { .cache_mb = 64, .domain = "small" };
	cr_assert_eq(vme_init(&cfg), 0);
	int fd = pattern_file(pages * PG, O_RDONLY);
	volatile unsigned char *p = vme_mmap(NULL, pages * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(p, MAP_FAILED);
	for (int pass = 0; pass < 2; pass++)
		for (size_t pg = 0; pg < pages; pg++)
			assert_pattern_page(p + pg * PG, pg);
	struct vme_stats s = stats();
	cr_assert_leq(s.nr_cached, 4 * MB / PG, "%lu frames in a 4 MiB /dev/shm", (unsigned long)s.nr_cached);
	cr_assert_gt(s.pgevict, pages / 2, "the pool recycled its frames");
	assert_vm_valid("after the workload");
	cr_assert_eq(vme_munmap((void *)p, pages * PG), 0);
	close(fd);
}

/* Pages written through a shared mapping reach the file when reclaim
 * evicts them, and read back right afterwards. */
Test(pressure, dirty_pages_survive_eviction_and_reach_the_file, .timeout = 120)
{
	const size_t pages = 4 * 4 * MB / PG;
	init_budget(4, NULL);
	int fd = pattern_file(pages * PG, 0);
	volatile unsigned char *p = vme_mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	for (size_t pg = 0; pg < pages; pg++)
		p[pg * PG + 11] = (unsigned char)(pg * 7 + 1);
	assert_within_budget();
	struct vme_stats s = stats();
	cr_assert_gt(s.pgpgout, pages / 2, "evicting dirty pages wrote them back");
	unsigned char *f = file_bytes(fd, 11, 1);	/* page 0 went long ago */
	cr_assert_eq(f[0], 1, "in the file before any msync");
	free(f);
	for (size_t pg = 0; pg < pages; pg++) {
		cr_assert_eq(p[pg * PG + 11], (unsigned char)(pg * 7 + 1), "page %zu", pg);
		cr_assert_eq(p[pg * PG + 12], pattern_byte(pg * PG + 12));
	}
	cr_assert_eq(vme_msync((void *)p, pages * PG, MS_SYNC), 0);
	for (size_t pg = 0; pg < pages; pg += 13) {
		f = file_bytes(fd, (off_t)(pg * PG + 11), 2);
		cr_assert_eq(f[0], (unsigned char)(pg * 7 + 1));
		cr_assert_eq(f[1], pattern_byte(pg * PG + 12));
		free(f);
	}
	assert_vm_valid("after the workload");
}

/* Fill n pages at p with a word that names each page, then check them. */
static void fill_pages(volatile unsigned char *p, size_t n, unsigned long seed)
{
	for (size_t pg = 0; pg < n; pg++)
		*(volatile unsigned long *)(p + pg * PG + (pg % 500) * 8) = seed ^ pg;
}

static void check_pages(volatile unsigned char *p, size_t n, unsigned long seed)
{
	for (size_t pg = 0; pg < n; pg++)
		cr_assert_eq(*(volatile unsigned long *)(p + pg * PG + (pg % 500) * 8), seed ^ pg,
			     "page %zu", pg);
}

Test(pressure, anonymous_pages_survive_a_trip_through_swap, .timeout = 120)
{
	const size_t pages = 4 * 4 * MB / PG;
	init_budget(4, NULL);
	volatile unsigned char *a = vme_mmap(NULL, pages * PG, PROT_READ | PROT_WRITE,
					     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fill_pages(a, pages, 0xabcdef);
	assert_within_budget();
	struct vme_stats s = stats();
	cr_assert_gt(s.pswpout, pages / 2);
	cr_assert_gt(s.nr_swap, 0);
	unsigned char vec[1];
	cr_assert_eq(vme_mincore((void *)a, PG, vec), 0);
	cr_assert_eq(vec[0] & 1, 0, "page 0 is in swap, not resident");
	check_pages(a, pages, 0xabcdef);
	cr_assert_gt(stats().pswpin, pages / 2);
	assert_within_budget();
	assert_vm_valid("after the workload");
	cr_assert_eq(vme_munmap((void *)a, pages * PG), 0);
	cr_assert_eq(stats().nr_swap, 0, "munmap frees the swap slots");
	cr_assert_eq(stats().nr_resident, 0, "... and the frames");
}

Test(pressure, private_copies_and_shared_anonymous_pages_swap_too, .timeout = 120)
{
	const size_t pages = 2 * 4 * MB / PG;
	init_budget(4, NULL);
	int fd = pattern_file(pages * PG, O_RDONLY);
	volatile unsigned char *c = vme_mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	volatile unsigned char *sh = vme_mmap(NULL, pages * PG, PROT_READ | PROT_WRITE,
					      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fill_pages(c, pages, 0x1234);
	fill_pages(sh, pages, 0x5678);
	cr_assert_gt(stats().pswpout, pages);
	check_pages(c, pages, 0x1234);
	check_pages(sh, pages, 0x5678);
	for (size_t pg = 0; pg < pages; pg += 7)	/* the copies kept the file's other bytes */
		cr_assert_eq(c[pg * PG + PG - 1], pattern_byte(pg * PG + PG - 1));
	assert_within_budget();
	assert_vm_valid("after the workload");
}

Test(pressure, madv_pageout_swaps_and_madv_cold_deactivates)
{
	init_budget(64, NULL);
	volatile unsigned char *a = vme_mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE,
					     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fill_pages(a, 8, 99);
	struct vme_stats before = stats();
	cr_assert_eq(vme_madvise((void *)a, 4 * PG, MADV_PAGEOUT), 0);
	cr_assert_eq(stats().pswpout - before.pswpout, 4);
	cr_assert_eq(vme_madvise((void *)(a + 4 * PG), 4 * PG, MADV_COLD), 0);
	cr_assert_eq(stats().pgdeactivate - before.pgdeactivate, 4);
	unsigned char vec[8];
	cr_assert_eq(vme_mincore((void *)a, 8 * PG, vec), 0);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(vec[i] & 1, i >= 4, "page %d: swapped out, or cold but resident", i);
	check_pages(a, 8, 99);
	struct vme_stats after = stats();
	cr_assert_eq(after.pswpin - before.pswpin, 4);
	cr_assert_eq(after.pgactivate - before.pgactivate, 4, "the cold pages were used again");
	assert_vm_valid("after the workload");
}

Test(pressure, without_swap_anonymous_memory_past_the_budget_gets_sigbus, .signal = SIGBUS,
     .timeout = 60)
{
	init_budget(4, "off");
	volatile unsigned char *a = vme_mmap(NULL, 8 * MB, PROT_READ | PROT_WRITE,
					     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (size_t pg = 0; pg < 8 * MB / PG; pg++)
		a[pg * PG] = 1;
}

/* A working set used throughout a one-pass scan of four budgets' worth of
 * another file stays resident: once reclaim is running, only the scan's
 * pages go.  (When the budget first fills, every frame is equally recent
 * and the clock's first turn may take a few working-set pages once, as the
 * kernel's first pass keeps every young page for one more round.) */
Test(pressure, a_one_pass_scan_does_not_flush_the_working_set, .timeout = 120)
{
	const size_t hot = 256, scan = 4 * 4 * MB / PG, warm = scan / 2;
	init_budget(4, NULL);
	int hfd = pattern_file(hot * PG, O_RDONLY), sfd = pattern_file(scan * PG, O_RDONLY);
	volatile unsigned char *h = vme_mmap(NULL, hot * PG, PROT_READ, MAP_SHARED, hfd, 0);
	volatile unsigned char *s = vme_mmap(NULL, scan * PG, PROT_READ, MAP_SHARED, sfd, 0);
	unsigned long sum = 0, reads = 0;
	for (size_t pg = 0; pg < scan; pg++) {
		if (pg == warm)
			reads = stats().pgpgin;
		sum += s[pg * PG];
		if (pg % 64 == 0)
			for (size_t i = 0; i < hot; i++)
				sum += h[i * PG + 5];
	}
	cr_assert_neq(sum, 0);
	struct vme_stats st = stats();
	cr_assert_gt(st.pgevict, scan / 2, "the budget was under pressure");
	cr_assert_leq(st.pgpgin - reads, scan - warm, "no working-set page was read again: %lu reads",
		      (unsigned long)(st.pgpgin - reads));
	unsigned char vec[256];
	cr_assert_eq(vme_mincore((void *)h, hot * PG, vec), 0);
	for (size_t i = 0; i < hot; i++)
		cr_assert_eq(vec[i] & 1, 1, "hot page %zu still cached", i);
	cr_assert_gt(st.pgactivate, 0);
	assert_vm_valid("after the workload");
}

static unsigned long max_map_count(void)
{
	unsigned long v = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	if (f) {
		cr_assert_eq(fscanf(f, "%lu", &v), 1);
		fclose(f);
	}
	return v;
}

static size_t count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	size_t n = 0;
	int c;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Every other page of a big file mapping: each touched page alone would be
 * a host mapping of its own, more than vm.max_map_count allows.  None
 * fails, and the process stays far below the limit.  (Pages of a file
 * mapping merge back fully once made PROT_NONE again; see limitations.md
 * for written anonymous pages.) */
Test(pressure, scattered_access_beyond_the_host_mapping_cap_never_fails, .timeout = 120)
{
	const size_t touches = max_map_count() * 6 / 10;	/* 1.2 x the cap in host mappings */
	int fd = pattern_file(2 * touches * PG, O_RDONLY);
	volatile unsigned char *a = vme_mmap(NULL, 2 * touches * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(a, MAP_FAILED);
	cr_assert_eq(vme_madvise((void *)a, 2 * touches * PG, MADV_RANDOM), 0);	/* one page per fault */
	for (size_t i = 0; i < touches; i++)
		cr_assert_eq(a[2 * i * PG + 9], pattern_byte(2 * i * PG + 9));
	for (size_t i = 0; i < touches; i += 3)
		cr_assert_eq(a[2 * i * PG + 10], pattern_byte(2 * i * PG + 10));
	struct vme_stats s = stats();
	cr_assert_gt(s.host_vma_reclaim, 0);
	cr_assert_lt(count_maps(), max_map_count() / 2, "well under the cap: %zu maps, last counted %lu",
		     count_maps(), (unsigned long)s.nr_host_vmas);
	assert_vm_valid("after the workload");
	cr_assert_eq(vme_munmap((void *)a, 2 * touches * PG), 0);
}

/* Counting the host's mappings reads /proc/self/maps, a walk of the host's
 * page tables: it runs with no lock held, so other threads' faults go on
 * meanwhile.  Made deterministic: the host refuses this thread's mprotect
 * (ENOMEM, its mapping limit), so its fault counts at once
 * (host_vmas_pressure); the count's open of /proc/self/maps lets another
 * thread take a first-touch fault, which needs lru_lock for its frames, and
 * waits for it.  With the count under lru_lock, that fault would wait for
 * the count, and the count for the fault (2 s, then the test fails). */
static pid_t counting_tid;
static volatile int enomem_left, helper_go, helper_done, maps_opened, helper_in_time;
static volatile unsigned char *helper_page;

static int mprotect_enomem_here(void *addr, size_t len, int prot)
{
	if (prot != PROT_NONE && gettid() == counting_tid && enomem_left > 0) {
		enomem_left--;
		errno = ENOMEM;
		return -1;
	}
	return mprotect(addr, len, prot);
}

static int open_maps_lets_helper_fault(const char *path, int flags, int mode)
{
	if (!strcmp(path, "/proc/self/maps") && gettid() == counting_tid && !maps_opened++) {
		struct timespec nap = { 0, 1000000 };
		helper_go = 1;
		for (int ms = 0; ms < 2000 && !helper_done; ms++)
			nanosleep(&nap, NULL);
		helper_in_time = helper_done;
	}
	return open(path, flags, mode);
}

static void *first_touch_when_told(void *arg)
{
	struct timespec nap = { 0, 1000000 };

	(void)arg;
	while (!helper_go)
		nanosleep(&nap, NULL);
	helper_page[5] = 0x42;		/* a first touch: frames from the budget, under lru_lock */
	helper_done = 1;
	return NULL;
}

Test(pressure, counting_host_mappings_holds_no_lock_other_faults_need, .timeout = 30)
{
	init_budget(64, "off");
	const int anon = MAP_PRIVATE | MAP_ANONYMOUS;
	volatile unsigned char *a = vme_mmap(NULL, 64 * PG, PROT_READ | PROT_WRITE, anon, -1, 0);
	helper_page = vme_mmap(NULL, 64 * PG, PROT_READ | PROT_WRITE, anon, -1, 0);
	cr_assert_neq(a, MAP_FAILED);
	cr_assert_neq(helper_page, MAP_FAILED);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, first_touch_when_told, NULL), 0);
	counting_tid = gettid();
	enomem_left = 2;		/* the fault's mprotect and its one retry */
	host_sys.mprotect = mprotect_enomem_here;
	host_sys.open = open_maps_lets_helper_fault;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);	/* the fault's handler sees the stores */
	a[3] = 0x24;			/* refused, counted, tried again */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	host_sys_reset();
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(enomem_left, 0, "the host's refusal was not reached");
	cr_assert_eq(maps_opened, 1, "the fault did not count the host's mappings");
	cr_assert(helper_in_time, "another thread's fault waited for the count of the host's mappings");
	cr_assert_eq(a[3], 0x24);
	cr_assert_eq(helper_page[5], 0x42);
	assert_vm_valid("after the count");
	cr_assert_eq(vme_munmap((void *)a, 64 * PG), 0);
	cr_assert_eq(vme_munmap((void *)helper_page, 64 * PG), 0);
}

/* Resident set plus our own shared memory, in KiB. */
static unsigned long memory_kb(void)
{
	return status_kb("VmRSS:");
}

/* A terabyte reserved costs under a MiB; then 100,000 random pages of it
 * work within the budget. */
Test(pressure, a_terabyte_anonymous_reservation_is_cheap_and_works, .timeout = 300)
{
	const size_t tib = 1UL << 40, touches = 100000;
	init_budget(64, NULL);
	vme_init(NULL);
	unsigned long before = memory_kb();
	volatile unsigned char *a = vme_mmap(NULL, tib, PROT_READ | PROT_WRITE,
					     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(a, MAP_FAILED);
	cr_assert_lt(memory_kb() - before, 1024, "%lu KiB for the reservation", memory_kb() - before);
	srandom(3);
	size_t *pg = malloc(touches * sizeof(*pg));
	for (size_t i = 0; i < touches; i++) {
		pg[i] = (size_t)random() % (tib / PG);
		*(volatile unsigned long *)(a + pg[i] * PG) = pg[i];
	}
	assert_within_budget();
	for (size_t i = 0; i < touches; i += 10)
		cr_assert_eq(*(volatile unsigned long *)(a + pg[i] * PG), pg[i]);
	free(pg);
	assert_vm_valid("after the workload");
	cr_assert_eq(vme_munmap((void *)a, tib), 0);
}

Test(pressure, a_terabyte_sparse_file_mapping_is_cheap_and_works, .timeout = 300)
{
	const size_t tib = 1UL << 40, touches = 100000;
	init_budget(64, NULL);
	char path[] = "/var/tmp/vmemu-sparse-XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	unlink(path);
	cr_assert_eq(ftruncate(fd, (off_t)tib), 0);
	unsigned char mark = 0x77;
	cr_assert_eq(pwrite(fd, &mark, 1, (off_t)(tib - PG)), 1);
	vme_init(NULL);
	unsigned long before = memory_kb();
	volatile unsigned char *p = vme_mmap(NULL, tib, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(p, MAP_FAILED);
	cr_assert_lt(memory_kb() - before, 1024, "%lu KiB for the mapping", memory_kb() - before);
	cr_assert_eq(vme_madvise((void *)p, tib, MADV_RANDOM), 0);
	srandom(5);
	unsigned long sum = 0;
	for (size_t i = 0; i < touches; i++)
		sum += p[((size_t)random() % (tib / PG)) * PG];
	cr_assert_eq(sum, 0, "a sparse file reads as zeros");
	cr_assert_eq(p[tib - PG], 0x77);
	assert_within_budget();
	assert_vm_valid("after the workload");
	cr_assert_eq(vme_munmap((void *)p, tib), 0);
}

/* Readahead: a sequential scan reads in growing windows, MADV_RANDOM reads
 * one page per fault, MADV_WILLNEED reads now. */
Test(pressure, readahead_follows_the_advice)
{
	const size_t pages = 512;
	init_budget(64, NULL);
	int fd = pattern_file(pages * PG, O_RDONLY);
	volatile unsigned char *p = vme_mmap(NULL, pages * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	struct vme_stats a = stats();
	for (size_t pg = 0; pg < pages; pg++)
		assert_pattern_page(p + pg * PG, pg);
	struct vme_stats b = stats();
	cr_assert_eq(b.pgpgin - a.pgpgin, pages, "each page read once");
	cr_assert_lt(b.pgmajfault - a.pgmajfault, pages / 16, "in windows");
	cr_assert_lt(b.pgfault - a.pgfault, pages / 8, "mapped around each fault");

	volatile unsigned char *r = vme_mmap(NULL, pages * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	cr_assert_eq(vme_madvise((void *)p, pages * PG, MADV_PAGEOUT), 0);
	cr_assert_eq(vme_madvise((void *)r, pages * PG, MADV_RANDOM), 0);
	b = stats();
	for (size_t pg = 0; pg < 64; pg++)
		assert_pattern_page(r + pg * PG, pg);
	struct vme_stats c = stats();
	cr_assert_eq(c.pgmajfault - b.pgmajfault, 64, "one read per fault");
	cr_assert_eq(c.pgreadahead, b.pgreadahead);
	cr_assert_eq(c.pgfaultaround, b.pgfaultaround);

	cr_assert_eq(vme_madvise((void *)(p + 128 * PG), 64 * PG, MADV_WILLNEED), 0);
	struct vme_stats d = stats();
	cr_assert_geq(d.pgpgin - c.pgpgin, 64, "read now");
	unsigned char vec[64];
	cr_assert_eq(vme_mincore((void *)(p + 128 * PG), 64 * PG, vec), 0);
	for (int i = 0; i < 64; i++)
		cr_assert_eq(vec[i] & 1, 1);
	assert_vm_valid("after the workload");
}

/* Across fork: swapped pages read right in both processes, each swaps to
 * an area of its own afterwards, and a page cache the child shares is not
 * paged out from under it. */
Test(pressure, fork_keeps_swapped_pages_and_shared_caches, .timeout = 120)
{
	const size_t pages = 2 * 4 * MB / PG;
	init_budget(4, NULL);
	volatile unsigned char *a = vme_mmap(NULL, pages * PG, PROT_READ | PROT_WRITE,
					     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = pattern_file(4 * PG, 0);
	volatile unsigned char *f = vme_mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, fd, 0);
	fill_pages(a, pages, 0x77);
	cr_assert_gt(stats().nr_swap, 0);
	cr_assert_eq(f[0], pattern_byte(0));
	pid_t pid = fork();
	if (pid == 0) {
		int bad = 0;
		for (size_t pg = 0; pg < pages; pg++)
			bad |= (*(volatile unsigned long *)(a + pg * PG + (pg % 500) * 8) != (0x77UL ^ pg)) << 0;
		fill_pages(a, pages, 0x99);	/* swaps again, to the child's own area */
		for (size_t pg = 0; pg < pages; pg++)
			bad |= (*(volatile unsigned long *)(a + pg * PG + (pg % 500) * 8) != (0x99UL ^ pg)) << 1;
		for (size_t i = 0; i < 4 * PG; i++)
			bad |= (f[i] != pattern_byte(i)) << 2;
		_exit(bad);
	}
	cr_assert_eq(vme_madvise((void *)f, 4 * PG, MADV_PAGEOUT), 0);
	fill_pages(a, pages, 0x55);
	check_pages(a, pages, 0x55);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the child read wrong bytes: %#x (1: inherited swap, 2: its own, 4: shared cache)",
		  WIFEXITED(status) ? WEXITSTATUS(status) : 0x100 | WTERMSIG(status));
	cr_assert_eq(f[PG + 3], pattern_byte(PG + 3));
	assert_vm_valid("after the workload");
}
