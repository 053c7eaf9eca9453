/*
 * cell.c - the workloads, and one cell of the matrix (a workload run by one
 * mechanism), measured in a forked child.
 *
 * The child reopens the test file (a fresh open file description, so no
 * readahead state is inherited), sets the mechanism up, puts the file in the
 * workload's cache state (warms or drops the host page cache, and warms a
 * mechanism's own cache for CS_WARM), maps, and runs the workload, stamping
 * every access on its own.  It sends one struct cell_result back through a
 * pipe and leaves with _exit, so nothing of the parent (stdio buffers,
 * atexit) runs twice.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vmemu.h>

#include "bench.h"

#define WINDOW_PAGES 256UL	/* pread reference: 1 MiB windows */
#define KILL_GRACE_S 5		/* the parent kills a child this long after its own alarm */

const struct workload workloads[NR_WORKLOADS] = {
	[W_RAND] = { "rand-read", "random 4 KiB reads of a file the host page cache holds (a random subset "
		     "of its pages); vmemu's own cache starts empty, so its faults read from the "
		     "host's, as the floors do", BK_FILE_RO, CS_FIRST, .random = true, .threads = 1 },
	[W_SEQ_WARM] = { "seq-warm", "sequential scan of a warm file: the first load of each page is timed, "
			 "then the whole page is read.  Warm means the mechanism's page cache holds the file: "
			 "the host's (a pass of 1 MiB preads) and, for vmemu, its own too (a pass of 1 MiB "
			 "vme_preads, as a switched-over program reads, then, if that left pages out of vmemu's "
			 "cache, a mapped read pass, vme_mmap, a load from every page, vme_munmap), in the cell's "
			 "child before the timed scan", BK_FILE_RO, CS_WARM, .scan = true, .threads = 1 },
	[W_SEQ_FIRST] = { "seq-first", "the same scan when the host page cache holds the file but vmemu's "
			  "own is empty: the first mapping of a file by a fresh process.  Only for a mechanism "
			  "with a cache of its own; for the others it is seq-warm, and its tput/kernel is against "
			  "seq-warm / kernel", BK_FILE_RO, CS_FIRST, .scan = true, .threads = 1 },
	[W_SEQ_COLD] = { "seq-cold", "the same scan with the file dropped from the host page cache "
			 "(fdatasync, then posix_fadvise POSIX_FADV_DONTNEED); vmemu's cache is empty too",
			 BK_FILE_RO, CS_COLD, .scan = true, .threads = 1 },
	[W_ANON] = { "anon-write", "first-touch store to each page of fresh private anonymous memory",
		     BK_ANON, CS_FIRST, .write = true, .threads = 1 },
	[W_SHARED_WRITE] = { "shared-write", "first store to each page of a MAP_SHARED file mapping, "
			     "then msync(MS_SYNC) (inside the bulk time)", BK_FILE_SHARED, CS_FIRST,
			     .write = true, .sync = true, .threads = 1 },
	[W_COW] = { "cow-write", "first store to each page of a MAP_PRIVATE file mapping (copy on write)",
		    BK_FILE_PRIVATE, CS_FIRST, .write = true, .threads = 1 },
	[W_BUDGET] = { "budget-scan", "the scan of seq-first under a memory budget (--budget-mb): vmemu keeps "
		       "it itself (vme_config.cache_mb; its own reclaim evicts), the floors and the userfaultfd "
		       "pager evict their oldest quarter-budget when over, pread reads windows no larger than "
		       "the budget; the host kernel has no per-process budget, so its cells are n/a and this "
		       "workload's tput/kernel compares with the kernel's seq-warm cell", BK_FILE_RO, CS_FIRST,
		       .scan = true, .budget = true, .threads = 1 },
	[W_THREADS_SCAN] = { "two-threads-scan", "the scan of seq-first (the host page cache holds the file, "
			     "vmemu's cache is emptied before each phase with MADV_PAGEOUT), by 1 thread over "
			     "the whole file, then by 2 threads each scanning one half in order (two streams in "
			     "one file), each phase on a fresh mapping", BK_FILE_RO, CS_FIRST, .scan = true,
			     .threads = 2 },
	[W_THREADS_RAND] = { "two-threads-rand", "the random 4 KiB read faults of rand-read, 1 thread on the "
			     "whole page set, then 2 threads on disjoint halves of it, each phase on a fresh "
			     "mapping with vmemu's cache emptied first", BK_FILE_RO, CS_FIRST, .random = true,
			     .threads = 2 },
	[W_SPARSE] = { "sparse-rss", "random 4 KiB reads of a 1 TiB sparse file (ftruncate, nothing written: "
		       "every page a hole, read as zeros), mapped whole; the process's RSS growth over the "
		       "run (VmRSS in /proc/self/status, before mapping and after the last access) against "
		       "the data touched, pages x 4 KiB", BK_FILE_RO, CS_FIRST, .random = true, .sparse = true,
		       .threads = 1 },
};

/* The expected first word of page i of the test file (vmemu_bench.c writes
 * it); the sparse file is all zeros. */
static inline uint64_t page_tag(const struct workload *w, size_t i)
{
	return w->sparse ? 0 : (uint64_t)i;
}

/* One thread's share of a workload. */
struct run {
	const struct workload *w;
	const struct mechanism *m;
	struct region *r;
	const size_t *order;	/* page indices, or NULL: first, first + 1, ... */
	size_t first;		/* without order: the first page */
	size_t n;		/* accesses */
	uint64_t *lat;		/* n stamps' differences, in timer ticks */
	size_t budget;		/* pages that may stay resident, or 0: the cell never evicts */
	int fd;
	unsigned char *buf;	/* pread: a populated window buffer */
	size_t window;		/* pread: pages per window */
	uint64_t bad;		/* accesses that read the wrong data */
	uint64_t sink;
	int err;		/* first -errno of an evict, pread or pwrite */
	pthread_barrier_t *start;
	uint64_t t_start, t_end;	/* a worker's own wall clock, ns */
	uint64_t resident_max;	/* vmemu: the most nr_resident sampled */
	uint64_t host_vmas_max;	/* vmemu: the most nr_host_vmas sampled */
};

static uint64_t sum_page(const unsigned char *p)
{
	const uint64_t *q = (const uint64_t *)(const void *)p;
	uint64_t s = 0;

	for (size_t k = 0; k < PG / sizeof(*q); k++)
		s += q[k];
	return s;
}

/* The timed access of page pg (index i), started at t0: a store to word 1
 * (word 0 keeps the tag) or a load of the tag, checked; a scan also reads
 * the rest of the page, untimed. */
static inline void touch(struct run *x, unsigned char *p, size_t pg, size_t i, uint64_t t0)
{
	const struct workload *w = x->w;
	uint64_t v = 0;

	if (w->write)
		*(volatile unsigned char *)(p + 8) = 1;
	else
		v = *(volatile uint64_t *)(void *)p;
	x->lat[i] = timer_now() - t0;
	if (!w->write && v != page_tag(w, pg))
		x->bad++;
	if (w->scan)
		x->sink += sum_page(p);
}

/* vmemu: note the resident frames and host mappings, for the most seen. */
static void sample_memory(struct run *x)
{
	struct vme_stats st;

	if (vme_stats(&st))
		return;
	if (st.nr_resident > x->resident_max)
		x->resident_max = st.nr_resident;
	if (st.nr_host_vmas > x->host_vmas_max)
		x->host_vmas_max = st.nr_host_vmas;
}

/* Touch the pages of a mapping, one timed access each.  Under vmemu, sample
 * its memory every SAMPLE_EVERY accesses, untimed but inside the bulk time. */
static void run_mapped(struct run *x)
{
	unsigned char *base = x->r->base;
	size_t lo = x->first, chunk = x->budget / 4 ? x->budget / 4 : 1;

	for (size_t i = 0; i < x->n; i++) {
		size_t pg = x->order ? x->order[i] : x->first + i;
		uint64_t t0 = timer_now();	/* taken right before the access */
		touch(x, base + pg * PG, pg, i, t0);
		if (x->m->is_vmemu && i % SAMPLE_EVERY == SAMPLE_EVERY - 1)
			sample_memory(x);
		if (x->budget && x->first + i + 1 - lo > x->budget) {
			int err = x->m->evict(x->r, lo, chunk);
			if (err && !x->err)
				x->err = err;
			lo += chunk;
		}
	}
}

/* The same pages through pread and pwrite, nothing mapped: 4 KiB preads for
 * random reads, 1 MiB windows into the populated buffer otherwise; a
 * written window is written back with pwrite when left if the workload
 * syncs. */
static void run_pread(struct run *x)
{
	const struct workload *w = x->w;
	size_t win = x->window;
	int err = 0;

	for (size_t i = 0; i < x->n; i++) {
		size_t pg = x->order ? x->order[i] : x->first + i;
		unsigned char *p;
		uint64_t t0 = timer_now();
		if (x->order) {
			p = x->buf;
			err = pread_full(x->fd, p, PG, (off_t)(pg * PG));
		} else {
			if (i % win == 0) {
				size_t k = x->n - i < win ? x->n - i : win;
				err = pread_full(x->fd, x->buf, k * PG, (off_t)(pg * PG));
			}
			p = x->buf + (i % win) * PG;
		}
		touch(x, p, pg, i, t0);
		if (w->sync && !x->order && (i % win == win - 1 || i == x->n - 1)) {
			size_t first = i - i % win;
			int e = pwrite_full(x->fd, x->buf, (i - first + 1) * PG, (off_t)((x->first + first) * PG));
			if (e && !err)
				err = e;
		}
		if (err && !x->err)
			x->err = err;
	}
}

static void run_one(struct run *x)
{
	if (x->m->is_pread)
		run_pread(x);
	else
		run_mapped(x);
}

/* A worker of the two-thread workload: free to run on any CPU (a mechanism
 * may have pinned the main thread), timed by itself, since the main thread
 * may not run again before both workers are done. */
static void *run_thread(void *arg)
{
	struct run *x = arg;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	CPU_ZERO(&set);
	for (long c = 0; c < ncpu && c < CPU_SETSIZE; c++)
		CPU_SET(c, &set);
	sched_setaffinity(0, sizeof(set), &set);
	pthread_barrier_wait(x->start);
	x->t_start = timer_clock_ns();
	run_one(x);
	x->t_end = timer_clock_ns();
	return NULL;
}

/* Populate and free len bytes of anonymous memory, so that the host memory
 * the cell is about to allocate (frames, copies, page tables) has been
 * touched recently.  Under a hypervisor with free page reporting (the
 * virtio-balloon here), pages freed a few seconds ago may have been handed
 * back, and whichever cell first touches them again pays the hypervisor's
 * fault: cells measured in turn would not be comparable. */
static void prefault_host_memory(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p != MAP_FAILED)
		munmap(p, len);
}

/* xorshift64*: the same page set for every mechanism. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* n distinct pages of [0, pages), in random order. */
static size_t *random_pages(size_t pages, size_t n)
{
	size_t *all = malloc(pages * sizeof(*all));
	uint64_t s = 0x9e3779b97f4a7c15ULL;

	if (!all)
		return NULL;
	for (size_t i = 0; i < pages; i++)
		all[i] = i;
	for (size_t i = 0; i < n; i++) {	/* partial Fisher-Yates */
		size_t j = i + (size_t)(rng_next(&s) % (pages - i)), t = all[i];
		all[i] = all[j];
		all[j] = t;
	}
	return all;
}

/* n distinct pages of [0, pages), pages a power of two too large to
 * shuffle: an odd multiplier and an offset make i -> page a bijection
 * modulo pages, which scatters consecutive i. */
static size_t *scattered_pages(size_t pages, size_t n)
{
	size_t *order = malloc(n * sizeof(*order));

	if (!order)
		return NULL;
	for (size_t i = 0; i < n; i++)
		order[i] = (size_t)((i * 0x9e3779b97f4a7c15ULL + 0x5bd1e995ULL) & (pages - 1));
	return order;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Percentiles, mean and quantile curve of n stamps; returns their sum in ns. */
static double summarise(uint64_t *lat, size_t n, struct cell_result *res)
{
	double sum = 0;

	qsort(lat, n, sizeof(*lat), cmp_u64);
	for (size_t i = 0; i < n; i++)
		sum += timer_to_ns(lat[i]);
	res->accesses = n;
	res->p50 = timer_to_ns(lat[n / 2]);
	res->p90 = timer_to_ns(lat[n * 9 / 10]);
	res->p99 = timer_to_ns(lat[n * 99 / 100]);
	res->p999 = timer_to_ns(lat[n * 999 / 1000]);
	res->max = timer_to_ns(lat[n - 1]);
	res->mean = sum / (double)n;
	for (size_t i = 0; i < CDF_POINTS; i++)
		res->cdf[i] = timer_to_ns(lat[(n - 1) * i / (CDF_POINTS - 1)]);
	return sum;
}

/* Warm the host page cache (read it all), or drop it and say how much stayed. */
static int prepare_file(int fd, size_t size, bool cold, unsigned char *buf, size_t buflen,
			char *note, size_t notelen)
{
	if (!cold) {
		for (size_t off = 0; off < size; off += buflen) {
			int err = pread_full(fd, buf, size - off < buflen ? size - off : buflen, (off_t)off);
			if (err)
				return err;
		}
		return 0;
	}
	if (fdatasync(fd))
		return -errno;
	if ((errno = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)))
		return -errno;
	/* mincore of a fresh mapping reports the host page cache's residency */
	void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	unsigned char *vec = malloc(size / PG);
	size_t resident = 0;
	if (p != MAP_FAILED && vec && !mincore(p, size, vec))
		for (size_t i = 0; i < size / PG; i++)
			resident += vec[i] & 1;
	if (p != MAP_FAILED)
		munmap(p, size);
	free(vec);
	if (resident)
		snprintf(note, notelen, "%.1f%% of the file still cached after the drop; ",
			 100.0 * (double)resident / (double)(size / PG));
	return 0;
}

static void vmemu_snapshot(const struct mechanism *m, struct vme_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (m->is_vmemu)
		vme_stats(st);
}

static void set_breakdown(struct cell_result *res, const struct vme_stats *a, const struct vme_stats *b,
			  double lat_sum)
{
	double f = (double)(b->pgfault - a->pgfault);

	if (f <= 0)
		return;
	res->breakdown = true;
	res->bd_faults = f;
	res->bd_latency = lat_sum / f;
	res->bd_handler = (double)(b->fault_ns - a->fault_ns) / f;
	res->bd_lookup = (double)(b->lookup_ns - a->lookup_ns) / f;
	res->bd_fill = (double)(b->fill_ns - a->fill_ns) / f;
	res->bd_protect = (double)(b->protect_ns - a->protect_ns) / f;
}

/* vmemu's memory over the run: levels at its end (b), the most seen in the
 * workers' samples and at the end, and the reclaim counters' deltas. */
static void set_memory(struct cell_result *res, const struct vme_stats *a, const struct vme_stats *b,
		       const struct run *run, size_t nruns)
{
	res->mem = true;
	res->nr_budget = b->nr_budget;
	res->resident_end = b->nr_resident;
	res->resident_max = b->nr_resident;
	res->host_vmas_max = b->nr_host_vmas;
	for (size_t t = 0; t < nruns; t++) {
		if (run[t].resident_max > res->resident_max)
			res->resident_max = run[t].resident_max;
		if (run[t].host_vmas_max > res->host_vmas_max)
			res->host_vmas_max = run[t].host_vmas_max;
	}
	res->pgevict = b->pgevict - a->pgevict;
	res->pgscan = b->pgscan - a->pgscan;
	res->pgreadahead = b->pgreadahead - a->pgreadahead;
	res->pgfaultaround = b->pgfaultaround - a->pgfaultaround;
	res->pswpin = b->pswpin - a->pswpin;
	res->pswpout = b->pswpout - a->pswpout;
	res->host_vma_reclaim = b->host_vma_reclaim - a->host_vma_reclaim;
	res->pgmajfault = b->pgmajfault - a->pgmajfault;
	res->pgpgin = b->pgpgin - a->pgpgin;
}

/* The process's resident memory from /proc/self/status, in bytes:
 * VmRSS, RssAnon, RssFile, RssShmem; and what vmemu's domain segment (the
 * frames and the shared metadata, a memfd or a /dev/shm file it keeps
 * open) has allocated, mapped here or not, or -1 if the process has none. */
struct rss {
	int64_t total, anon, file, shmem;
	int64_t segment;
};

/* The allocated size of vmemu's domain segment, found among the process's
 * descriptors by its name, or -1. */
static int64_t segment_bytes(void)
{
	DIR *d = opendir("/proc/self/fd");
	int64_t bytes = -1;
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[64], target[256];
		struct stat st;
		snprintf(path, sizeof(path), "/proc/self/fd/%.20s", e->d_name);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if ((strstr(target, "/memfd:vmemu-domain") || strstr(target, "/dev/shm/vmemu-")) &&
		    !stat(path, &st)) {
			bytes = (int64_t)st.st_blocks * 512;
			break;
		}
	}
	if (d)
		closedir(d);
	return bytes;
}

static int read_rss(struct rss *r)
{
	static const char *const key[] = { "VmRSS:", "RssAnon:", "RssFile:", "RssShmem:" };
	int64_t *field[] = { &r->total, &r->anon, &r->file, &r->shmem };
	char line[256];
	int found = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		for (int k = 0; k < 4; k++)
			if (!strncmp(line, key[k], strlen(key[k]))) {
				*field[k] = strtoll(line + strlen(key[k]), NULL, 10) * 1024;
				found++;
			}
	fclose(f);
	r->segment = segment_bytes();
	return found == 4 ? 0 : -ENOENT;
}

#define NOTE(...) snprintf(res->note + strlen(res->note), sizeof(res->note) - strlen(res->note), __VA_ARGS__)
#define FAIL(...) do { res->status = CELL_FAILED; NOTE(__VA_ARGS__); return; } while (0)

static void cell_child(const struct bench_config *cfg, enum workload_id wid, enum mechanism_id mid,
		       struct cell_result *res)
{
	const struct workload *w = &workloads[wid];
	const struct mechanism *m = mechanisms[mid];
	size_t size = w->sparse ? SPARSE_SIZE : cfg->size;
	size_t file_pages = size / PG;
	size_t n = w->sparse ? cfg->sparse_pages : w->random ? cfg->rand_pages : file_pages;
	size_t budget = w->budget ? cfg->budget_mb * ((1UL << 20) / PG) : 0;	/* pages */
	size_t window = budget && budget < WINDOW_PAGES ? budget : WINDOW_PAGES;
	char path[64];
	int err, fd;

	alarm(cfg->timeout_s);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", w->sparse ? cfg->sparse_fd : cfg->file_fd);
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		FAIL("reopening the %s file: %s", w->sparse ? "sparse" : "test", strerror(errno));
	if (budget >= file_pages)
		NOTE("the %lu MiB budget holds the whole file: nothing has to be evicted; ", cfg->budget_mb);

	/* Everything the measurement touches is allocated and populated now. */
	size_t *order = w->sparse ? scattered_pages(file_pages, n) : w->random ? random_pages(file_pages, n) : NULL;
	uint64_t *lat = malloc(n * sizeof(*lat));
	unsigned char *buf[2];
	for (int t = 0; t < 2; t++)
		buf[t] = mmap(NULL, window * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if ((w->random && !order) || !lat || buf[0] == MAP_FAILED || buf[1] == MAP_FAILED)
		FAIL("out of memory");
	memset(lat, 0, n * sizeof(*lat));
	memset(buf[0], 0, window * PG);
	memset(buf[1], 0, window * PG);

	/* a cold file and a COW copy allocate a second size's worth: page
	 * cache, or private copies on top of the frames; the sparse file's
	 * pages are cached by the host and by vmemu, with page tables besides */
	bool twice = w->cache == CS_COLD || w->backing == BK_FILE_PRIVATE;
	prefault_host_memory(w->sparse ? 4 * n * PG + (16UL << 20) : (twice ? 2 : 1) * cfg->size + (16UL << 20));
	if ((err = m->init(m->budget_self && w->budget ? cfg->budget_mb : 0, res->note, sizeof(res->note)))) {
		res->status = CELL_SKIPPED;
		return;
	}
	if (w->backing != BK_ANON && !w->sparse &&
	    (err = prepare_file(fd, cfg->size, w->cache == CS_COLD, buf[0], window * PG, res->note,
				sizeof(res->note))))
		FAIL("preparing the file: %s", strerror(-err));
	if (w->cache == CS_WARM && m->own_cache && (err = m->warm_cache(fd, cfg->size, buf[0], window * PG, res)))
		FAIL("warming %s's page cache: %s", m->name, strerror(-err));

	struct region reg[2];
	struct run run[2];
	struct vme_stats s0, s1;
	struct rss rss0 = { 0 }, rss1 = { 0 };
	size_t nthreads = (size_t)w->threads, pages = n;
	double wall[2] = { 0, 0 };
	uint64_t f0 = 0, f1 = 0;

	for (size_t phase = 0; phase < nthreads; phase++) {
		size_t threads = phase + 1;	/* single-threaded workloads: one phase */
		pthread_barrier_t start;
		pthread_t tid[2];

		memset(reg, 0, sizeof(reg));
		reg[0] = (struct region){ .len = size, .backing = w->backing,
					  .fd = w->backing == BK_ANON ? -1 : fd, .memfd = -1 };
		if (w->sparse && (err = read_rss(&rss0)))
			FAIL("reading /proc/self/status: %s", strerror(-err));
		if (!m->is_pread && (err = m->map(&reg[0])))
			FAIL("map: %s", strerror(-err));
		/* every phase starts from the workload's cache state: the first
		 * left the file in the mechanism's own cache */
		if (phase && m->own_cache && w->cache != CS_WARM) {
			if ((err = m->drop_cache(&reg[0])))
				FAIL("emptying %s's page cache: %s", m->name, strerror(-err));
			vmemu_snapshot(m, &s0);
			res->drop_left = s0.nr_cached;
			if (res->drop_left)
				NOTE("%llu pages stayed in vmemu's cache when it was emptied for the 2-thread phase; ",
				     (unsigned long long)res->drop_left);
		}
		pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
		for (size_t t = 0; t < threads; t++) {
			size_t first = n * t / threads, last = n * (t + 1) / threads;
			run[t] = (struct run){ .w = w, .m = m, .r = &reg[0], .order = order ? order + first : NULL,
					       .first = order ? 0 : first, .n = last - first, .lat = lat + first,
					       .fd = fd, .buf = buf[t], .window = window, .start = &start,
					       .budget = m->budget_self ? 0 : budget };
			if (threads > 1 && (errno = pthread_create(&tid[t], NULL, run_thread, &run[t])))
				FAIL("pthread_create: %s", strerror(errno));
		}
		vmemu_snapshot(m, &s0);
		f0 = m->faults();
		uint64_t t0;
		if (threads > 1) {
			pthread_barrier_wait(&start);
			for (size_t t = 0; t < threads; t++)
				pthread_join(tid[t], NULL);
			t0 = run[0].t_start;
			uint64_t t_end = run[0].t_end;
			for (size_t t = 1; t < threads; t++) {
				t0 = run[t].t_start < t0 ? run[t].t_start : t0;
				t_end = run[t].t_end > t_end ? run[t].t_end : t_end;
			}
			wall[phase] = (double)(t_end - t0);
		} else {
			t0 = timer_clock_ns();
			run_one(&run[0]);
		}
		if (w->sync) {
			if (m->is_pread)
				err = fdatasync(fd) ? -errno : 0;
			else
				err = m->sync(&reg[0]);
			if (err)
				FAIL("msync: %s", strerror(-err));
		}
		if (threads == 1 || w->sync)
			wall[phase] = (double)(timer_clock_ns() - t0);
		f1 = m->faults();
		vmemu_snapshot(m, &s1);
		if (w->sparse && (err = read_rss(&rss1)))
			FAIL("reading /proc/self/status: %s", strerror(-err));
		res->phase_faults[phase] = (double)(f1 - f0) / (double)pages;
		if (s1.pgmajfault > s0.pgmajfault)
			res->phase_major_pages[phase] = (double)(s1.pgpgin - s0.pgpgin) /
							(double)(s1.pgmajfault - s0.pgmajfault);
		pthread_barrier_destroy(&start);
		if (!m->is_pread)
			m->unmap(&reg[0]);
		for (size_t t = 0; t < threads; t++) {
			if (run[t].err)
				FAIL("%s", strerror(-run[t].err));
			if (run[t].bad)
				FAIL("%lu of %zu accesses read the wrong data", (unsigned long)run[t].bad, run[t].n);
		}
	}
	/* the last phase is the one reported: one thread, or two.  A stamp
	 * pair longer than the whole phase is a clock glitch (seen once: a TSC
	 * jump in this VM), not a latency: drop it and say so. */
	size_t kept = 0;
	for (size_t i = 0; i < n; i++)
		if (timer_to_ns(lat[i]) <= wall[nthreads - 1])
			lat[kept++] = lat[i];
	if (kept < n)
		NOTE("%zu timer glitch(es) dropped; ", n - kept);
	if (!kept)
		FAIL("every timed access was a clock glitch");
	double lat_sum = summarise(lat, kept, res);
	res->pages = pages;
	res->bulk_ns = wall[nthreads - 1] / (double)pages;
	res->faults_per_page = (double)(f1 - f0) / (double)pages;
	if (nthreads == 2) {
		res->tput1 = (double)pages * 1e9 / wall[0];
		res->tput2 = (double)pages * 1e9 / wall[1];
	}
	if (w->sparse) {
		res->rss = true;
		res->rss_growth = rss1.total - rss0.total;
		res->rss_anon = rss1.anon - rss0.anon;
		res->rss_file = rss1.file - rss0.file;
		res->rss_shmem = rss1.shmem - rss0.shmem;
		/* vmemu's cache may hold frames no longer mapped here, which RSS
		 * does not count: the memory held counts the segment instead */
		res->segment_growth = rss1.segment >= 0 && rss0.segment >= 0 ? rss1.segment - rss0.segment : -1;
		res->held_growth = res->rss_anon + res->rss_file +
				   (res->segment_growth >= 0 ? res->segment_growth : res->rss_shmem);
	}
	if (m->is_vmemu) {
		set_breakdown(res, &s0, &s1, lat_sum);
		set_memory(res, &s0, &s1, run, nthreads);
		/* nr_budget 0: this vmemu reports no budget, nothing to check */
		if (res->nr_budget && budget && res->nr_budget != budget)
			NOTE("vmemu reports a budget of %llu pages for the %zu asked; ",
			     (unsigned long long)res->nr_budget, budget);
		if (res->nr_budget && res->resident_max > res->nr_budget)
			NOTE("over budget: nr_resident reached %llu pages, nr_budget %llu; ",
			     (unsigned long long)res->resident_max, (unsigned long long)res->nr_budget);
	}
	res->status = CELL_OK;
}

/* Cells decided without running anything. */
static bool cell_static(enum workload_id wid, enum mechanism_id mid, struct cell_result *out)
{
	const struct workload *w = &workloads[wid];
	const struct mechanism *m = mechanisms[mid];

	if (w->backing == BK_ANON && m->is_pread) {
		out->status = CELL_NA;
		snprintf(out->note, sizeof(out->note), "no file behind anonymous memory: nothing to pread");
		return true;
	}
	if (w->budget && !m->is_pread && !m->evict && !m->budget_self) {
		out->status = CELL_NA;
		snprintf(out->note, sizeof(out->note), "no per-process memory budget in the host kernel "
			 "(MADV_DONTNEED drops PTEs, not the page cache); budget-scan is compared with "
			 "seq-warm / kernel");
		return true;
	}
	if (wid == W_SEQ_FIRST && !m->own_cache) {
		out->status = CELL_NA;
		snprintf(out->note, sizeof(out->note), "no page cache of its own: the host's holds the file, "
			 "so seq-first is seq-warm");
		return true;
	}
	if (w->sparse && mid == M_KERNEL) {
		out->status = CELL_NA;
		snprintf(out->note, sizeof(out->note), "the host's mmap read-around reads read_ahead_kb around "
			 "every fault (8 MiB on this machine class's disk), and reading that much of a hole took "
			 "16 ms a fault here, which fault-around's hits keep from ever counting as misses: the cell "
			 "would outlast its time limit; kernel-random (MADV_RANDOM, no read-around) is the kernel's "
			 "reference");
		return true;
	}
	if (w->sparse && !m->huge_maps) {
		out->status = CELL_NA;
		snprintf(out->note, sizeof(out->note), "%s", m->is_pread ? "no mapping: the RSS of a pread "
			 "loop is its buffer" : "keeps state for every page of a mapping (a byte a page, a "
			 "memfd its size): sparse-rss runs the kernel and vmemu");
		return true;
	}
	return false;
}

void cell_run(const struct bench_config *cfg, enum workload_id w, enum mechanism_id m,
	      struct cell_result *out)
{
	int fds[2], status;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (cell_static(w, m, out))
		return;
	if (pipe(fds)) {
		out->status = CELL_FAILED;
		snprintf(out->note, sizeof(out->note), "pipe: %s", strerror(errno));
		return;
	}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		out->status = CELL_FAILED;
		snprintf(out->note, sizeof(out->note), "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		struct cell_result res;
		memset(&res, 0, sizeof(res));
		close(fds[0]);
		cell_child(cfg, w, m, &res);
		ssize_t k = write(fds[1], &res, sizeof(res));
		_exit(k == (ssize_t)sizeof(res) ? 0 : 2);
	}
	close(fds[1]);
	/* The child's alarm cannot end it while the signal is blocked, as it
	 * is inside vmemu's fault handler: past the limit, the parent kills. */
	uint64_t deadline = timer_clock_ns() + (uint64_t)(cfg->timeout_s + KILL_GRACE_S) * 1000000000ULL;
	bool killed = false;
	size_t got = 0;
	while (got < sizeof(*out)) {
		if (cfg->timeout_s) {
			uint64_t now = timer_clock_ns();
			struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
			int r = now < deadline ? poll(&pfd, 1, (int)((deadline - now) / 1000000 + 1)) : 0;
			if (r < 0 && errno == EINTR)
				continue;
			if (r == 0) {
				kill(pid, SIGKILL);
				killed = true;
				break;
			}
		}
		ssize_t k = read(fds[0], (char *)out + got, sizeof(*out) - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got == sizeof(*out) && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	memset(out, 0, sizeof(*out));
	out->status = CELL_FAILED;
	if (killed)
		snprintf(out->note, sizeof(out->note), "the child was still running %d s past the per-cell time "
			 "limit (%u s; SIGALRM did not end it) and was killed", KILL_GRACE_S, cfg->timeout_s);
	else if (WIFSIGNALED(status))
		snprintf(out->note, sizeof(out->note), "the child died of %s%s", strsignal(WTERMSIG(status)),
			 WTERMSIG(status) == SIGALRM ? " (the per-cell time limit)" : "");
	else
		snprintf(out->note, sizeof(out->note), "the child exited with status %d",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}
