/*
 * bench.h - vmemu-bench, the fault-latency benchmark: shared declarations.
 *
 *   vmemu_bench.c  options, the test file, the matrix, the machine
 *   cell.c         one cell (workload x mechanism) measured in a forked child
 *   timer.c        the per-access clock: calibrated TSC, or clock_gettime
 *   mech_kernel.c  the host kernel's mmap, the pread reference, shared helpers
 *   mech_vmemu.c   vmemu, through its public API (default, and MADV_RANDOM)
 *   mech_floor.c   the raw SIGSEGV floors (unsafe and safe)
 *   mech_uffd.c    a minimal userfaultfd pager
 *   clients.c      real programs (LMDB, SQLite, GDBM, a map-scan loop), native
 *                  and switched over to vmemu at link time, timed whole
 *   report.c       the table, CSV, JSON, the results page with issue 12's
 *                  targets, and the plot
 *
 * Every cell runs in its own child process, so that each mechanism owns the
 * process's SIGSEGV disposition alone: vmemu installs its handler at its
 * first vme_ call and keeps it; the floors install their own.
 */
#ifndef VMEMU_BENCH_H
#define VMEMU_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <sys/types.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#define PG 4096UL
#define CDF_POINTS 160		/* quantiles of each cell's latencies, for --plot */

/* --- timer.c ------------------------------------------------------------------ */

extern bool timer_tsc;		/* per-access stamps are TSC ticks, else ns */

static inline uint64_t timer_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A stamp for one access: serialised so that the access falls between two. */
static inline uint64_t timer_now(void)
{
#if defined(__x86_64__) || defined(__i386__)
	if (timer_tsc) {
		_mm_lfence();
		uint64_t t = __rdtsc();
		_mm_lfence();
		return t;
	}
#endif
	return timer_clock_ns();
}

void timer_calibrate(void);
double timer_to_ns(uint64_t ticks);
const char *timer_describe(void);	/* "TSC 2.45 GHz (calibrated)" */
double timer_overhead_ns(void);		/* median cost of an empty timed access */

/* --- workloads and mechanisms ------------------------------------------------- */

enum backing {
	BK_FILE_RO,		/* MAP_SHARED, PROT_READ of the file */
	BK_FILE_SHARED,		/* MAP_SHARED, PROT_READ|PROT_WRITE of the file */
	BK_FILE_PRIVATE,	/* MAP_PRIVATE, PROT_READ|PROT_WRITE of the file (COW) */
	BK_ANON,		/* MAP_PRIVATE|MAP_ANONYMOUS, PROT_READ|PROT_WRITE */
};

enum workload_id {
	W_RAND, W_SEQ_WARM, W_SEQ_FIRST, W_SEQ_COLD, W_ANON, W_SHARED_WRITE, W_COW, W_BUDGET,
	W_THREADS_SCAN, W_THREADS_RAND, W_SPARSE, NR_WORKLOADS
};

/* What holds the file when a file workload starts (each phase of a
 * two-thread one).  The host page cache is the kernel's own, and the
 * floors, the userfaultfd pager and pread read from it; vmemu has a page
 * cache of its own (frames in its domain segment) in front of it. */
enum cache_state {
	CS_FIRST,	/* the host page cache holds the file, a mechanism's own cache
			 * is empty: a fresh process's first mapping of a file just read */
	CS_WARM,	/* the mechanism's own cache holds it too (warm_cache) */
	CS_COLD,	/* nothing holds it: dropped from the host page cache */
};

struct workload {
	const char *name;	/* short, for tables and JSON */
	const char *describe;	/* one line, for the results page */
	enum backing backing;
	enum cache_state cache;
	bool write;		/* the access is a store (else a load) */
	bool random;		/* a random subset of the file's pages (else all, in order) */
	bool scan;		/* read the whole page after the timed first touch */
	bool sync;		/* msync(MS_SYNC) at the end, inside the bulk time */
	bool budget;		/* keep at most bench_config.budget_mb resident */
	bool sparse;		/* the 1 TiB sparse file (its pages read as zeros), and the
				 * process's RSS growth measured over the run */
	int threads;		/* 2: compare 2 threads with 1 on disjoint pages */
};
extern const struct workload workloads[NR_WORKLOADS];

/* One mapping under test. */
struct region {
	unsigned char *base;	/* the program's view: the timed accesses go here */
	size_t len;		/* bytes, a multiple of PG */
	enum backing backing;
	int fd;			/* the file (O_RDWR), or -1 for anonymous memory */
	unsigned char *alias;	/* floor-safe: always-writable view of the frames */
	int memfd;		/* floor-safe: the frames, or -1 */
	unsigned char *touched;	/* floors, uffd: one byte a page, set when faulted in */
};

enum mechanism_id {
	M_KERNEL, M_KERNEL_RANDOM, M_VMEMU, M_VMEMU_RANDOM, M_FLOOR_UNSAFE, M_FLOOR_SAFE, M_UFFD_XCPU,
	M_UFFD_SAMECPU, M_PREAD, NR_MECHANISMS
};

struct cell_result;

/* A way of making pages appear.  Every hook returns 0 or -errno.
 *
 * The budget-scan workload keeps a memory budget in one of two ways: a
 * budget_self mechanism is given the budget at init and keeps it by itself
 * (vmemu: vme_config.cache_mb); otherwise the cell calls evict on the
 * oldest pages when over.  A mechanism with neither has no budget, and its
 * budget-scan cell is n/a.
 *
 * A mechanism with a page cache of its own (own_cache: vmemu) warms it for
 * CS_WARM workloads and empties it between the phases of a two-thread one;
 * for the others, the host page cache is the only one. */
struct mechanism {
	const char *name;
	const char *describe;
	/* Once per child, before anything is mapped.  budget_mb is the budget a
	 * budget_self mechanism must keep, in MiB, or 0 for its default; the
	 * others ignore it.  A nonzero return skips the cell with the reason
	 * written to why. */
	int (*init)(unsigned long budget_mb, char *why, size_t whylen);
	int (*map)(struct region *r);
	int (*sync)(struct region *r);		/* msync(MS_SYNC) or its equivalent */
	int (*evict)(struct region *r, size_t first_page, size_t npages);	/* NULL: the cell never evicts */
	void (*unmap)(struct region *r);
	/* own_cache: fill the mechanism's cache with the first size bytes of fd,
	 * after init, recording in res what held them after each step. */
	int (*warm_cache)(int fd, size_t size, unsigned char *buf, size_t buflen, struct cell_result *res);
	/* own_cache: empty it of the pages of a region just mapped. */
	int (*drop_cache)(struct region *r);
	uint64_t (*faults)(void);		/* faults taken so far, as the mechanism counts them */
	const char *faults_source;		/* where faults() comes from */
	bool is_vmemu;				/* vme_stats breakdown applies */
	bool own_cache;				/* a page cache of its own (see above) */
	bool budget_self;			/* keeps the budget itself (see above) */
	bool huge_maps;				/* maps 1 TiB for next to nothing up front (the floors
						 * and pagers keep a byte a page and a memfd that size) */
	bool is_pread;				/* no mapping: pread/pwrite the same pages */
	bool slow;				/* tens of us a fault: the default matrix runs it
						 * on the random workloads only */
};
extern const struct mechanism *const mechanisms[NR_MECHANISMS];
extern const struct mechanism mech_kernel, mech_kernel_random, mech_vmemu, mech_vmemu_random,
	mech_floor_unsafe, mech_floor_safe, mech_uffd_xcpu, mech_uffd_samecpu, mech_pread;

/* Shared by the mechanisms: prot and flags for a backing, full pread/pwrite. */
int backing_prot(enum backing b);
int backing_flags(enum backing b);
int pread_full(int fd, void *buf, size_t len, off_t off);	/* async-signal-safe */
int pwrite_full(int fd, const void *buf, size_t len, off_t off);
int write_back_touched(const struct region *r, const unsigned char *src);
uint64_t rusage_faults(void);		/* this process's minflt + majflt */

/* --- one cell ------------------------------------------------------------------- */

/* vmemu cells sample vme_stats (nr_resident, nr_host_vmas) every this many
 * accesses, 2 MiB of a scan: about 2 us a call here, inside the bulk time. */
#define SAMPLE_EVERY 512UL

enum cell_status { CELL_OK, CELL_SKIPPED, CELL_NA, CELL_FAILED };

struct cell_result {
	int status;			/* enum cell_status */
	char note[400];			/* why skipped or failed, or a remark */
	uint64_t accesses;		/* timed accesses */
	uint64_t pages;			/* pages the workload covers (bulk divisor) */
	double p50, p90, p99, p999, max, mean;	/* ns per access */
	double bulk_ns;			/* wall time of the whole workload / pages */
	double faults_per_page;		/* mechanism's faults / pages */
	double tput1, tput2;		/* two-thread workload: pages/s with 1 and 2 threads */
	double phase_faults[2];		/* the same: the mechanism's faults per page, 1 and 2 threads */
	double phase_major_pages[2];	/* the same, vmemu: pages read per major fault (pgpgin / pgmajfault) */
	bool breakdown;			/* vmemu: the fields below are valid */
	double bd_faults;		/* vme_stats pgfault delta */
	double bd_latency;		/* measured latency per fault (sum of access times / faults) */
	double bd_handler, bd_lookup, bd_fill, bd_protect;	/* ns per fault, from vme_stats */
	bool mem;			/* vmemu: the memory fields below are valid */
	uint64_t nr_budget;		/* vme_stats nr_budget at the end, in pages (0: not reported) */
	uint64_t resident_max;		/* the most nr_resident seen: sampled during the run and at its end */
	uint64_t resident_end;		/* nr_resident at the end of the run, before munmap */
	uint64_t host_vmas_max;		/* the most nr_host_vmas seen, the same way */
	uint64_t pgevict, pgscan, pgreadahead, pgfaultaround;	/* vme_stats deltas over the run */
	uint64_t pswpin, pswpout, host_vma_reclaim;		/* the same */
	uint64_t pgmajfault, pgpgin;				/* the same */
	bool warm;			/* vmemu, CS_WARM: its cache was warmed; the fields below are valid */
	uint64_t warm_read_cached;	/* nr_cached after the vme_pread pass, in pages */
	uint64_t warm_cached;		/* nr_cached when the run started */
	bool warm_mapped;		/* the vme_pread pass left pages out: a mapped read pass followed */
	uint64_t drop_left;		/* nr_cached after drop_cache between phases (0: emptied) */
	bool rss;			/* sparse workload: the RSS fields below are valid */
	int64_t rss_growth;		/* VmRSS at the end of the run - before mapping, bytes */
	int64_t rss_anon, rss_file, rss_shmem;	/* the same for RssAnon, RssFile, RssShmem */
	int64_t segment_growth;		/* vmemu's domain segment's allocated size, the same; -1: none */
	int64_t held_growth;		/* memory held: rss_anon + rss_file + segment_growth, the
					 * frames mapped or not (rss_shmem without a segment) */
	double cdf[CDF_POINTS];		/* latency at quantile i / (CDF_POINTS - 1) */
};

/* The sparse workload's file: 1 TiB, nothing written. */
#define SPARSE_SIZE (1UL << 40)

struct bench_config {
	size_t size;			/* bytes of the scan file */
	size_t rand_pages;		/* pages touched by the random workloads */
	size_t sparse_pages;		/* pages touched in the sparse file */
	int sparse_fd;			/* the sparse file, O_RDWR, or -1 */
	unsigned long budget_mb;	/* budget-scan: the memory budget, in MiB */
	int file_fd;			/* the test file, O_RDWR; children reopen it */
	unsigned timeout_s;		/* per cell, and per run of a client */
	const char *dir;		/* where the test file and the clients' directories go */
};

void cell_run(const struct bench_config *cfg, enum workload_id w, enum mechanism_id m,
	      struct cell_result *out);

/* --- clients.c: real programs, native and switched over ------------------------------ */

/* Each client is a program of tests/clients/ built twice from the same
 * objects (make clients): build/clients/PROGRAM natively, PROGRAM-wrap
 * switched over to vmemu by -Wl,--wrap.  Both run whole, in turn, and the
 * report gives the ratio of their median wall times. */
enum client_id {
	C_LMDB_DEFAULT, C_LMDB_WRITEMAP, C_LMDB_TWO_PROCS, C_SQLITE_WAL, C_SQLITE_DELETE, C_SQLITE_WAL_TWO_PROCS,
	C_GDBM, C_MAP_SCAN, NR_CLIENTS
};

#define CLIENT_ARGS_MAX 12
#define CLIENT_RUNS_MAX 25
#define CLIENT_RUNS_DEFAULT 5

struct client {
	const char *name;		/* short, for tables and JSON */
	const char *describe;		/* one line, for the results page */
	const char *program;		/* the file name in the clients' directory */
	const char *args[CLIENT_ARGS_MAX];	/* "@": the run's work directory, or the shared file */
	const char *smoke_args[CLIENT_ARGS_MAX];	/* the same, --smoke sizes */
	bool shared_file;		/* "@" is one file that every run reuses (made by the first),
					 * else a fresh directory per run */
	bool long_run;			/* tens of seconds a run switched over: unless --client-runs
					 * says otherwise, one timed run of each build, no untimed one */
};
extern const struct client clients[NR_CLIENTS];

struct client_config {
	char dir[4096];			/* where the programs are */
	int runs;			/* timed runs of each build */
	bool runs_given;		/* --client-runs: runs holds for every client */
	bool smoke;			/* smoke_args, not args */
};

/* The vme_stats counters a switched-over client prints at exit
 * (VMEMU_VERBOSE=1), the ones the report uses. */
struct client_counters {
	uint64_t reports;		/* processes that printed them */
	uint64_t pgfault, pgmajfault, shared_fault, wp_fault, pgpgin, pgpgout;
	uint64_t fault_ns, lookup_ns, fill_ns, protect_ns;
};

struct client_result {
	int status;			/* enum cell_status */
	char note[480];			/* why skipped or failed */
	int runs;			/* timed runs of each build, in turn after one untimed run each */
	double native_s[CLIENT_RUNS_MAX];	/* wall time of each native run, seconds */
	double vmemu_s[CLIENT_RUNS_MAX];	/* the same for the switched-over build */
	double native_med, vmemu_med;	/* their medians */
	bool warmup;			/* one untimed run of each build came first */
	struct client_counters vm;	/* vmemu's counters in the last switched-over run,
					 * summed over its processes */
	char summary[200];		/* the last line both builds printed */
};

/* The command line of a client, "@" shown as DIR (or FILE), without the
 * directory of the programs. */
void client_command(const struct client_config *cc, enum client_id c, char *buf, size_t len);
void client_run(const struct bench_config *cfg, const struct client_config *cc, enum client_id c,
		struct client_result *out);

/* --- report.c ------------------------------------------------------------------- */

struct machine {
	long nproc;
	char model[128];
	char kernel[128];
	unsigned long mem_mib;
	char thp[64], fs[32], uffd_sysctl[16], date[40];
	char page_reporting[16];	/* virtio-balloon free page reporting: on, off, none */
	char load_start[16], load_end[16];	/* /proc/loadavg's 1-minute load before and after the matrix */
	char command[1024];
};

struct matrix {
	const struct bench_config *cfg;
	struct machine machine;
	bool want[NR_WORKLOADS][NR_MECHANISMS];
	struct cell_result cell[NR_WORKLOADS][NR_MECHANISMS];
	const struct client_config *ccfg;
	bool want_client[NR_CLIENTS];
	struct client_result client[NR_CLIENTS];
	bool smoke;
	size_t default_size;		/* the program's own --size default */
};

void report_table(FILE *f, const struct matrix *mx);
void report_csv(FILE *f, const struct matrix *mx);
void report_json(FILE *f, const struct matrix *mx);
int report_results_page(const char *path, const struct matrix *mx);
int report_plot(const char *path, const struct matrix *mx);

#endif /* VMEMU_BENCH_H */
