/*
 * leaks.c - 100,000 map/touch/unmap cycles leak nothing.
 *
 * The cycles mix the four kinds of mapping (anonymous private, anonymous
 * shared, file shared, file private), touching one page each time (a write,
 * so that shared file pages are written back at munmap).  After a warm-up
 * that brings every lazily grown structure of the library to its high-water
 * mark, we take a baseline and check after the 100,000 cycles that:
 *
 *   - /proc/self/fd has exactly as many entries (no descriptor leaked);
 *   - mallinfo2().uordblks (bytes allocated with malloc and not freed) grew
 *     by at most LEAK_SLACK_BYTES;
 *   - the resident set (/proc/self/statm) grew by at most RSS_SLACK_PAGES;
 *   - the host has as many mappings (/proc/self/maps lines) as before, and
 *     vmemu as many VMAs and page caches (vme_stats).
 *
 * Slack: the warm-up has done the same cycles, so a leak-free library ends
 * where it started; what can differ is malloc's own bookkeeping and an
 * amortised structure doubling once more.  64 KiB is far below any real
 * leak: even one byte lost per cycle is 100,000 bytes, and a leaked VMA or
 * file (a few hundred bytes) would be tens of megabytes.  Likewise one page
 * lost every hundred cycles would be 1,000 pages of RSS; we allow 256 pages
 * (1 MiB) for the stack, the page tables' own growth and libc.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <malloc.h>
#include <time.h>
#include <vmemu.h>

#include "testutil.h"

/* Under ASan, malloc is ASan's (mallinfo2 says nothing) and freed blocks
 * wait in its quarantine (RSS grows by design); LeakSanitizer checks the
 * heap there instead.  Descriptors and mappings are checked everywhere. */
#if defined(__SANITIZE_ADDRESS__)
#define HEAP_CHECKED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_CHECKED 0
#endif
#endif
#ifndef HEAP_CHECKED
#define HEAP_CHECKED 1
#endif

#define CYCLES 100000
#define WARMUP 2000
#define LEAK_SLACK_BYTES (64 * 1024)
#define RSS_SLACK_PAGES 256

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own descriptor */
}

static long rss_pages(void)
{
	long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%ld %ld", &size, &rss), 2);
	fclose(f);
	return rss;
}

static int count_host_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, c;

	cr_assert_not_null(f);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

struct snapshot {
	int fds, host_maps;
	size_t heap;
	long rss;
	uint64_t vmas, files;
};

static struct snapshot snap(void)
{
	struct snapshot s;
	struct vme_stats st;

	cr_assert_eq(vme_stats(&st), 0);
	s.vmas = st.nr_vmas;
	s.files = st.nr_mapped_files;
	s.fds = count_fds();
	s.host_maps = count_host_maps();
	s.heap = mallinfo2().uordblks;
	s.rss = rss_pages();
	return s;
}

static int file_shared_fd, file_private_fd;

/* One cycle of kind i % 4, over a mapping of 1 to 4 pages at varying offsets. */
static void cycle(unsigned long i)
{
	static const int flags[4] = {
		MAP_PRIVATE | MAP_ANONYMOUS, MAP_SHARED | MAP_ANONYMOUS, MAP_SHARED, MAP_PRIVATE,
	};
	int k = (int)(i % 4);
	size_t pages = 1 + (i / 4) % 4;
	off_t off = k >= 2 ? (off_t)(((i / 16) % 4) * PG) : 0;
	int fd = k == 2 ? file_shared_fd : k == 3 ? file_private_fd : -1;
	volatile unsigned char *p = vme_mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, flags[k], fd, off);

	if ((void *)p == MAP_FAILED)
		cr_assert_fail("cycle %lu: vme_mmap: %s", i, strerror(errno));
	p[((i / 4) % pages) * PG + (i % PG)] = (unsigned char)i;
	if (vme_munmap((void *)p, pages * PG))
		cr_assert_fail("cycle %lu: vme_munmap: %s", i, strerror(errno));
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(leaks, map_unmap_cycles_leak_no_fd_memory_or_mapping, .timeout = 60)
{
	file_shared_fd = pattern_file(8 * PG, 0);
	file_private_fd = pattern_file(8 * PG, 0);
	for (unsigned long i = 0; i < WARMUP; i++)
		cycle(i);
	struct snapshot before = snap();
	double t0 = now_s();
	for (unsigned long i = 0; i < CYCLES; i++)
		cycle(WARMUP + i);
	double t = now_s() - t0;
	struct snapshot after = snap();

	cr_log_info("leaks: %d cycles in %.2f s, %.1f us per cycle; heap %+ld bytes, rss %+ld pages",
		    CYCLES, t, t / CYCLES * 1e6, (long)(after.heap - before.heap), after.rss - before.rss);
	cr_expect_eq(after.fds, before.fds, "descriptors: %d before, %d after", before.fds, after.fds);
	cr_expect_eq(after.host_maps, before.host_maps, "host mappings: %d before, %d after",
		     before.host_maps, after.host_maps);
	cr_expect_eq(after.vmas, before.vmas, "VMAs");
	cr_expect_eq(after.files, before.files, "page caches");
	if (HEAP_CHECKED) {
		cr_expect_leq(after.heap, before.heap + LEAK_SLACK_BYTES, "malloc'd bytes: %zu before, %zu after",
			      before.heap, after.heap);
		cr_expect_leq(after.rss, before.rss + RSS_SLACK_PAGES, "resident pages: %ld before, %ld after",
			      before.rss, after.rss);
	}
}

/* The same with vme_shutdown and a fresh initialisation every 1,000 cycles:
 * each init/shutdown pair gives back what it took. */
Test(leaks, init_shutdown_cycles_leak_no_fd_or_memory, .timeout = 60)
{
	file_shared_fd = pattern_file(8 * PG, 0);
	file_private_fd = pattern_file(8 * PG, 0);
	for (unsigned long i = 0; i < 400; i++)
		cycle(i);
	cr_assert_eq(vme_shutdown(), 0);
	int fds = count_fds();
	size_t heap = mallinfo2().uordblks;
	int maps = count_host_maps();
	for (int round = 0; round < 100; round++) {
		for (unsigned long i = 0; i < 40; i++)
			cycle(i);
		cr_assert_eq(vme_shutdown(), 0);
	}
	cr_expect_eq(count_fds(), fds, "descriptors after 100 init/shutdown rounds");
	cr_expect_eq(count_host_maps(), maps, "host mappings after 100 init/shutdown rounds");
	if (HEAP_CHECKED)
		cr_expect_leq(mallinfo2().uordblks, heap + LEAK_SLACK_BYTES, "malloc'd bytes: %zu before, %zu after",
			      heap, mallinfo2().uordblks);
}
