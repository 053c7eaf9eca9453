/*
 * trace.c - the tracer: one event per fault and write-back, delivered in
 * order outside the handler, drops counted, never lost silently.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <vmemu.h>

#include "testutil.h"

#define MAXEV 16384
static struct vme_trace_event evs[MAXEV];
static int nev;
static int flush_result = 1;

static void record(const struct vme_trace_event *ev, void *arg)
{
	(void)arg;
	if (nev < MAXEV)
		evs[nev++] = *ev;
}

Test(trace, each_fault_is_one_event_with_its_path_in_order)
{
	int fd = pattern_file(64 * PG, 0);
	/* volatile throughout: the accesses must fault in this order */
	volatile unsigned char *f = vme_mmap(NULL, 64 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	volatile unsigned char *a = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_eq(vme_set_tracer(record, NULL), 0);
	(void)f[PG + 5];				/* read fault, major: reads pages 0-15 */
	f[PG + 6] = 1;					/* write to a present page: wp */
	f[40 * PG] = 1;					/* write to a page not read yet: shared */
	a[0] = 1;					/* anonymous */
	cr_assert_eq(vme_trace_flush(), 0);
	cr_assert_eq(nev, 4, "%d events: kinds %d %d %d", nev, evs[0].kind, evs[1].kind, evs[2].kind);
	cr_assert_eq(evs[0].kind, VME_TRACE_READ_FAULT);
	cr_assert_eq(evs[0].flags & VME_TRACE_MAJOR, VME_TRACE_MAJOR);
	cr_assert_eq(evs[0].address, (uint64_t)(f + PG + 5));
	cr_assert_eq(evs[0].pgoff, 1);
	cr_assert_eq(evs[0].pages, 16, "read-around: 16 pages from page 0 in one read");
	cr_assert_eq(evs[1].kind, VME_TRACE_WP_FAULT);
	cr_assert_eq(evs[1].flags & VME_TRACE_MAJOR, 0, "already in the cache");
	cr_assert_eq(evs[1].pages, 1);
	cr_assert_eq(evs[2].kind, VME_TRACE_SHARED_FAULT);
	cr_assert_eq(evs[2].flags & VME_TRACE_MAJOR, VME_TRACE_MAJOR);
	cr_assert_eq(evs[2].pgoff, 40);
	cr_assert_eq(evs[2].pages, 16, "read-around: pages 32-47");
	cr_assert_eq(evs[3].kind, VME_TRACE_ANON_FAULT);
	cr_assert_eq(evs[3].pages, 1);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(evs[i].tid, (int32_t)syscall(SYS_gettid));
		cr_assert_gt(evs[i].latency_ns, 0);
		cr_assert(i == 0 || evs[i].time_ns >= evs[i - 1].time_ns, "in order");
	}
	nev = 0;
	cr_assert_eq(vme_msync((void *)f, 64 * PG, MS_SYNC), 0);
	cr_assert_eq(vme_trace_flush(), 0);
	cr_assert_eq(nev, 2, "two dirty pages written back");
	cr_assert_eq(evs[0].kind, VME_TRACE_WRITEBACK);
	cr_assert_eq(evs[0].pgoff + evs[1].pgoff, 1 + 40);
	cr_assert_eq(evs[0].pages + evs[1].pages, 2);
	cr_assert_eq(vme_set_tracer(NULL, NULL), 0);
	nev = 0;
	(void)f[20 * PG];				/* not read yet: a fault */
	cr_assert_eq(vme_trace_flush(), 0);
	cr_assert_eq(nev, 0, "stopped");
}

/* A file of pages pages mapped PROT_READ, MAP_SHARED at an address aligned
 * to the 16-page fault-around block, so that its blocks are the file's. */
static unsigned char *map_aligned(size_t pages)
{
	int fd = pattern_file(pages * PG, 0);
	char *room = vme_mmap(NULL, (pages + 16) * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(room, MAP_FAILED);
	char *at = (char *)(((uintptr_t)room + 16 * PG - 1) & ~(16 * PG - 1));
	unsigned char *f = vme_mmap(at, pages * PG, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
	cr_assert_eq(f, (unsigned char *)at);
	close(fd);
	return f;
}

Test(trace, a_major_fault_covers_the_pages_it_read_a_minor_one_those_it_mapped)
{
	volatile unsigned char *f = map_aligned(64);
	struct vme_stats st;
	static const struct { uint64_t pgoff; bool major; uint32_t pages; } want[] = {
		{ 0, true, 16 },	/* read-around: pages 0-15, all mapped */
		{ 16, true, 32 },	/* sequential: the window doubles to 16-47, and
					 * fault-around, where the last one ended, maps
					 * it all */
		{ 48, true, 16 },	/* the next window (64 pages) stops at end of file */
	};

	cr_assert_eq(vme_set_tracer(record, NULL), 0);
	for (size_t p = 0; p < 64; p++)
		(void)f[p * PG];
	cr_assert_eq(vme_trace_flush(), 0);
	cr_assert_eq(nev, 3, "%d events", nev);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(evs[i].kind, VME_TRACE_READ_FAULT);
		cr_assert_eq(evs[i].pgoff, want[i].pgoff, "event %d", i);
		cr_assert_eq(!!(evs[i].flags & VME_TRACE_MAJOR), want[i].major, "event %d", i);
		cr_assert_eq(evs[i].pages, want[i].pages, "event %d: %u pages", i, evs[i].pages);
	}
	cr_assert_eq(vme_stats(&st), 0);
	cr_assert_eq(st.pgpgin, 16 + 32 + 16, "the major faults' pages are the pages read");
	cr_assert_eq(st.pgreadahead, 15 + 31 + 15);
	cr_assert_eq(st.pgfaultaround, 15 + 31 + 15, "each fault mapped its whole window");
	cr_assert_eq(st.pgfault + st.pgfaultaround, 64, "every page mapped once");
}

Test(trace, with_madv_random_each_fault_reads_and_maps_one_page)
{
	volatile unsigned char *f = map_aligned(16);

	cr_assert_eq(vme_madvise((void *)f, 16 * PG, MADV_RANDOM), 0);
	cr_assert_eq(vme_set_tracer(record, NULL), 0);
	(void)f[5 * PG];
	(void)f[6 * PG];
	cr_assert_eq(vme_trace_flush(), 0);
	cr_assert_eq(nev, 2);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(evs[i].pgoff, (uint64_t)(5 + i));
		cr_assert_eq(evs[i].flags & VME_TRACE_MAJOR, VME_TRACE_MAJOR, "page %d read alone", 5 + i);
		cr_assert_eq(evs[i].pages, 1);
	}
}

static int slow_seen;
static void slow(const struct vme_trace_event *ev, void *arg)
{
	(void)ev, (void)arg;
	if (slow_seen++ == 0) {
		struct timespec ts = { 0, 300 * 1000000 };
		nanosleep(&ts, NULL);	/* fall behind while the faults pour in */
	}
}

Test(trace, a_tracer_that_falls_behind_loses_events_but_counts_them, .timeout = 60)
{
	const size_t n = 6000;
	unsigned char *a = vme_mmap(NULL, n * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct vme_stats st;
	cr_assert_eq(vme_madvise(a, n * PG, MADV_RANDOM), 0);	/* a fault, an event, per page */
	cr_assert_eq(vme_set_tracer(slow, NULL), 0);
	for (size_t i = 0; i < n; i++)
		a[i * PG] = 1;
	cr_assert_eq(vme_trace_flush(), 0);
	cr_assert_eq(vme_stats(&st), 0);
	cr_assert_gt(st.trace_dropped, 0, "the ring (4096) overflowed");
	cr_assert_eq(slow_seen + st.trace_dropped, n, "every event delivered or counted: %d + %lu",
		     slow_seen, (unsigned long)st.trace_dropped);
}

static void flush_inside(const struct vme_trace_event *ev, void *arg)
{
	(void)ev, (void)arg;
	if (flush_result == 1)
		flush_result = vme_trace_flush() == -1 && errno == EDEADLK ? 0 : 2;
}

Test(trace, flushing_from_the_tracer_itself_is_edeadlk)
{
	unsigned char *a = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_eq(vme_set_tracer(flush_inside, NULL), 0);
	a[0] = 1;
	cr_assert_eq(vme_trace_flush(), 0);
	cr_assert_eq(flush_result, 0);
}

#if defined(__has_include)
#if __has_include(<sys/sdt.h>)
/* Built with <sys/sdt.h>: the probes must be in the binary for perf and
 * bpftrace to attach (the test program links vmemu statically). */
Test(trace, usdt_probes_are_in_the_binary)
{
	char cmd[64], line[256];
	snprintf(cmd, sizeof(cmd), "readelf -n /proc/%d/exe 2>/dev/null", (int)getpid());
	FILE *p = popen(cmd, "r");
	int fault = 0, writeback = 0;
	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p)) {
		fault += strstr(line, "Name: fault") != NULL;
		writeback += strstr(line, "Name: writeback") != NULL;
	}
	pclose(p);
	cr_assert_gt(fault, 0, "vmemu:fault");
	cr_assert_gt(writeback, 0, "vmemu:writeback");
}
#endif
#endif

/* A scan through pages the cache holds already (the file mapped again):
 * each fault where the last fault-around ended maps twice as much ahead,
 * up to 2 MiB, so 512 pages take six faults (16, 32, 64, 128, 256, then the
 * last 16), not 32; every page is right. */
Test(trace, fault_around_doubles_along_a_stream_through_cached_pages)
{
	const size_t pages = 512;
	int fd = pattern_file(pages * PG, 0);
	volatile unsigned char *f = vme_mmap(NULL, pages * PG, PROT_READ, MAP_SHARED, fd, 0);
	struct vme_stats a, b;

	cr_assert_neq(f, MAP_FAILED);
	for (size_t p = 0; p < pages; p++)
		(void)f[p * PG];			/* into the cache */
	cr_assert_eq(vme_munmap((void *)f, pages * PG), 0);
	f = vme_mmap(NULL, pages * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(f, MAP_FAILED);
	cr_assert_eq(vme_stats(&a), 0);
	for (size_t p = 0; p < pages; p++)
		cr_assert_eq(f[p * PG + 7], pattern_byte(p * PG + 7), "page %zu", p);
	cr_assert_eq(vme_stats(&b), 0);
	cr_assert_eq(b.pgmajfault, a.pgmajfault, "cached: nothing read");
	cr_assert_leq(b.pgfault - a.pgfault, 8, "%lu faults for %zu cached pages",
		      (unsigned long)(b.pgfault - a.pgfault), pages);
	cr_assert_eq(b.pgfault - a.pgfault + b.pgfaultaround - a.pgfaultaround, pages, "every page mapped once");
	close(fd);
}

/* Two threads scanning the two halves of one file are two streams: each
 * finds its own in the cache (the pages just before its miss), so each
 * one's windows grow to 2 MiB however the two interleave, and each half
 * takes a handful of reads, not one per 16 pages. */
static const volatile unsigned char *two_map;

static void *scan_half(void *arg)
{
	size_t half = (size_t)arg;
	unsigned long sum = 0;

	for (size_t p = half * 1024; p < (half + 1) * 1024; p++)
		sum += two_map[p * PG];
	return (void *)sum;
}

Test(trace, two_threads_scanning_two_halves_of_a_file_each_get_growing_windows, .timeout = 30)
{
	int fd = pattern_file(2048 * PG, O_RDONLY);
	pthread_t t[2];

	two_map = vme_mmap(NULL, 2048 * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)two_map, MAP_FAILED);
	cr_assert_eq(vme_set_tracer(record, NULL), 0);
	for (long i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, scan_half, (void *)i), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(vme_trace_flush(), 0);
	for (int half = 0; half < 2; half++) {
		unsigned reads = 0, largest = 0;
		for (int i = 0; i < nev; i++) {
			bool ours = evs[i].pgoff >= (uint64_t)half * 1024 && evs[i].pgoff < (uint64_t)(half + 1) * 1024;
			if (!ours || !(evs[i].flags & VME_TRACE_MAJOR))
				continue;
			reads++;
			largest = evs[i].pages > largest ? evs[i].pages : largest;
		}
		cr_assert_leq(reads, 8, "half %d: %u reads for 1024 pages", half, reads);
		cr_assert_eq(largest, 512, "half %d: the largest window was %u pages", half, largest);
	}
	for (size_t p = 0; p < 2048; p += 5)
		cr_assert_eq(two_map[p * PG + 9], pattern_byte(p * PG + 9), "page %zu", p);
	close(fd);
}
