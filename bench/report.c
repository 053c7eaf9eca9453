/*
 * report.c - what vmemu-bench prints: the terminal table, CSV, JSON, the
 * results page (docs/bench/results.md) with its targets, and the latency
 * plot through gnuplot.
 *
 * Ratios are always between cells of this one run:
 *   tput/kernel  the kernel cell's bulk ns per page / this cell's (higher is
 *                faster); for budget-scan and seq-first, the kernel's
 *                seq-warm cell, since the host kernel has no per-process
 *                budget, and no page cache but the host's
 *   p50/floor    this cell's median / the floor-safe cell's median (lower is faster)
 *   vmemu/native a client's median wall time switched over to vmemu / its
 *                native build's (lower is faster; 1.00x: as fast)
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static const char *status_name[] = {
	[CELL_OK] = "ok", [CELL_SKIPPED] = "skipped", [CELL_NA] = "n/a", [CELL_FAILED] = "failed",
};

static const char *status_text[] = {
	[CELL_OK] = "", [CELL_SKIPPED] = "skipped", [CELL_NA] = "n/a", [CELL_FAILED] = "FAILED",
};

/* The cell if it was run and succeeded, else NULL. */
static const struct cell_result *ok(const struct matrix *mx, int w, int m)
{
	if (!mx->want[w][m] || mx->cell[w][m].status != CELL_OK)
		return NULL;
	return &mx->cell[w][m];
}

/* The workload whose kernel cell is w's throughput reference. */
static int kernel_reference(int w)
{
	return w == W_BUDGET || w == W_SEQ_FIRST ? W_SEQ_WARM : w;
}

static double vs_kernel(const struct matrix *mx, int w, int m)
{
	const struct cell_result *c = ok(mx, w, m), *k = ok(mx, kernel_reference(w), M_KERNEL);

	return c && k && c->bulk_ns > 0 ? k->bulk_ns / c->bulk_ns : NAN;
}

static double vs_floor(const struct matrix *mx, int w, int m)
{
	const struct cell_result *c = ok(mx, w, m), *f = ok(mx, w, M_FLOOR_SAFE);

	return c && f && f->p50 > 0 ? c->p50 / f->p50 : NAN;
}

static double gbps(const struct cell_result *c)
{
	return c->bulk_ns > 0 ? (double)PG / c->bulk_ns : NAN;
}

static double rest_ns(const struct cell_result *c)
{
	return c->bd_handler - c->bd_lookup - c->bd_fill - c->bd_protect;
}

static double signal_ns(const struct cell_result *c)
{
	return c->bd_latency - c->bd_handler;
}

/* "1.23x" or "-" into buf. */
static const char *ratio(char *buf, size_t len, double r)
{
	if (isnan(r))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.2fx", r);
	return buf;
}

/* vme_stats reported the memory levels: a vmemu without a budget reports
 * nr_budget 0, and then nr_resident and nr_host_vmas mean nothing either. */
static bool mem_reported(const struct cell_result *c)
{
	return c->mem && c->nr_budget;
}

static size_t budget_pages(const struct matrix *mx)
{
	return mx->cfg->budget_mb * ((1UL << 20) / PG);
}

static void size_text(char *buf, size_t len, size_t bytes)
{
	if (bytes >= (1UL << 30) && bytes % (1UL << 30) == 0)
		snprintf(buf, len, "%zu GiB", bytes >> 30);
	else if (bytes >= (1UL << 20))
		snprintf(buf, len, "%zu MiB", bytes >> 20);
	else
		snprintf(buf, len, "%zu KiB", bytes >> 10);
}

/* --- the clients' ratios ---------------------------------------------------------------- */

static double client_ratio(const struct client_result *r)
{
	return r && r->native_med > 0 ? r->vmemu_med / r->native_med : NAN;
}

static const struct client_result *client_ok(const struct matrix *mx, int c)
{
	return mx->want_client[c] && mx->client[c].status == CELL_OK ? &mx->client[c] : NULL;
}

/* --- targets -------------------------------------------------------------------- */

/* Issue 12's goals, in the order of its table: each a ratio between cells
 * (or client runs) of this one run. */
struct target {
	char measure[200];
	char goal[48];
	double value;		/* NAN: not measured */
	double threshold;
	double stretch;		/* a further goal beyond threshold, or 0 */
	bool higher_better;
	char evidence[3000];	/* for a missed goal: where the time or memory goes, what would close it */
};

enum {
	T_WARM, T_COLD, T_ANON, T_THREADS_SCAN, T_THREADS_RAND, T_BUDGET, T_RAND_P50, T_RAND_P99, T_SPARSE,
	T_LMDB_WRITEMAP, T_GDBM, NR_TARGETS
};

static bool beats(const struct target *t, double bar)
{
	return t->higher_better ? t->value >= bar : t->value <= bar;
}

static bool target_met(const struct target *t)
{
	return !isnan(t->value) && beats(t, t->threshold);
}

static bool target_missed(const struct target *t)
{
	return !isnan(t->value) && !target_met(t);
}

/* "met", "met (stretch 0.5x: not yet)", "missed" or "not measured";
 * bold: markdown. */
static const char *target_verdict(char *buf, size_t len, const struct target *t, bool bold)
{
	const char *b = bold ? "**" : "";

	if (isnan(t->value))
		snprintf(buf, len, "not measured");
	else if (!target_met(t))
		snprintf(buf, len, "%smissed%s", b, b);
	else if (t->stretch)
		snprintf(buf, len, "%smet%s (stretch %.1fx: %s)", b, b, t->stretch,
			 beats(t, t->stretch) ? "met too" : "not yet");
	else
		snprintf(buf, len, "%smet%s", b, b);
	return buf;
}

/* How far a missed target is: the factor the value must grow or shrink by. */
static void gap_sentence(char *buf, size_t len, const struct target *t)
{
	double f = t->higher_better ? t->threshold / t->value : t->value / t->threshold;

	snprintf(buf, len, "It must %s %.2fx to reach %.2fx", t->higher_better ? "grow" : "shrink", f, t->threshold);
}

/* One sentence on where a vmemu fault's time goes. */
static void breakdown_sentence(char *buf, size_t len, const struct cell_result *v)
{
	if (!v || !v->breakdown) {
		snprintf(buf, len, "(no vmemu breakdown for this cell)");
		return;
	}
	snprintf(buf, len, "per vmemu fault (%.3f faults per page): %.0f ns measured, of which %.0f ns in the "
		 "handler (lookup %.0f, fill %.0f, host mprotect/mmap %.0f, rest %.0f) and %.0f ns signal "
		 "delivery, return and the host's own faults on the pages it mapped",
		 v->faults_per_page, v->bd_latency, v->bd_handler, v->bd_lookup, v->bd_fill, v->bd_protect,
		 rest_ns(v), signal_ns(v));
}

/* Where a vmemu scan's time per page goes, beside a kernel scan's: the
 * timed first load of each page (vmemu's handler, then the signals and the
 * host's own minor faults), and the untimed read of the rest of it. */
static void scan_split(char *buf, size_t len, const struct cell_result *v, const struct cell_result *k)
{
	double handler = v->breakdown ? v->faults_per_page * v->bd_handler : 0;
	char bd[600];

	breakdown_sentence(bd, sizeof(bd), v);
	snprintf(buf, len, "Per page, vmemu takes %.0f ns against the kernel's %.0f ns: the timed first load of "
		 "each page averages %.0f ns (the kernel's %.0f ns), of which %.0f ns is vmemu's handler and "
		 "%.0f ns the signals' delivery and return and the host's own minor fault on each page the "
		 "handler mapped; reading the rest of the page, untimed, takes %.0f ns (the kernel's %.0f ns). "
		 "Breakdown %s.",
		 v->bulk_ns, k ? k->bulk_ns : NAN, v->mean, k ? k->mean : NAN, handler, v->mean - handler,
		 v->bulk_ns - v->mean, k ? k->bulk_ns - k->mean : NAN, bd);
}

/* Where a switched-over client's extra time goes, from vmemu's counters. */
static void client_split(char *buf, size_t len, const struct client_result *r)
{
	const struct client_counters *c = &r->vm;
	double handler = (double)c->fault_ns / 1e9, excess = r->vmemu_med - r->native_med;
	double per = c->pgfault ? (double)c->fault_ns / (double)c->pgfault : NAN;

	snprintf(buf, len, "Switched over, it takes %.3f s against %.3f s natively, %.3f s more. vmemu handled "
		 "%llu faults (%llu major, %llu first writes to shared pages, %llu write-protect faults) in "
		 "%.3f s of handler time, %.0f ns each (lookup %.3f s, fill %.3f s, host mprotect/mmap %.3f s, "
		 "rest %.3f s in all); the other %.3f s of the difference is outside the handler: the "
		 "signals' delivery and return for each fault, and vmemu's calls, among them the write-back "
		 "of %llu pages (%.0f MiB, pgpgout) and the read of %llu (pgpgin)",
		 r->vmemu_med, r->native_med, excess, (unsigned long long)c->pgfault,
		 (unsigned long long)c->pgmajfault, (unsigned long long)c->shared_fault,
		 (unsigned long long)c->wp_fault, handler, per, (double)c->lookup_ns / 1e9,
		 (double)c->fill_ns / 1e9, (double)c->protect_ns / 1e9,
		 ((double)c->fault_ns - (double)c->lookup_ns - (double)c->fill_ns - (double)c->protect_ns) / 1e9,
		 excess - handler,
		 (unsigned long long)c->pgpgout, (double)c->pgpgout * PG / (1 << 20), (unsigned long long)c->pgpgin);
}

static double two_thread_ratio(const struct cell_result *c)
{
	return c && c->tput1 > 0 ? c->tput2 / c->tput1 : NAN;
}

/* sparse-rss: the memory the process came to hold (its RSS, with the
 * frames of vmemu's cache counted whether they are mapped or not) / the
 * data touched; rss_only: RSS alone. */
static double sparse_ratio(const struct matrix *mx, const struct cell_result *c, bool rss_only)
{
	if (!c || !c->rss)
		return NAN;
	return (double)(rss_only ? c->rss_growth : c->held_growth) / ((double)mx->cfg->sparse_pages * PG);
}

#define EVIDENCE(i, ...) snprintf(t[i].evidence, sizeof(t[i].evidence), __VA_ARGS__)

static void compute_targets(const struct matrix *mx, struct target *t)
{
	const struct cell_result *vw = ok(mx, W_SEQ_WARM, M_VMEMU), *kw = ok(mx, W_SEQ_WARM, M_KERNEL),
		*pw = ok(mx, W_SEQ_WARM, M_PREAD), *vf = ok(mx, W_SEQ_FIRST, M_VMEMU);
	const struct cell_result *vc = ok(mx, W_SEQ_COLD, M_VMEMU), *kc = ok(mx, W_SEQ_COLD, M_KERNEL),
		*pc = ok(mx, W_SEQ_COLD, M_PREAD);
	const struct cell_result *va = ok(mx, W_ANON, M_VMEMU), *ka = ok(mx, W_ANON, M_KERNEL),
		*fa = ok(mx, W_ANON, M_FLOOR_SAFE);
	const struct cell_result *vs = ok(mx, W_THREADS_SCAN, M_VMEMU), *ks = ok(mx, W_THREADS_SCAN, M_KERNEL),
		*fs = ok(mx, W_THREADS_SCAN, M_FLOOR_SAFE);
	const struct cell_result *vt = ok(mx, W_THREADS_RAND, M_VMEMU), *kt = ok(mx, W_THREADS_RAND, M_KERNEL),
		*ft = ok(mx, W_THREADS_RAND, M_FLOOR_SAFE), *ut = ok(mx, W_THREADS_RAND, M_FLOOR_UNSAFE);
	const struct cell_result *vb = ok(mx, W_BUDGET, M_VMEMU);
	const struct cell_result *vr = ok(mx, W_RAND, M_VMEMU), *fr = ok(mx, W_RAND, M_FLOOR_SAFE),
		*rr = ok(mx, W_RAND, M_VMEMU_RANDOM), *pr = ok(mx, W_RAND, M_PREAD);
	const struct cell_result *vx = ok(mx, W_SPARSE, M_VMEMU), *kx = ok(mx, W_SPARSE, M_KERNEL),
		*rx = ok(mx, W_SPARSE, M_VMEMU_RANDOM), *qx = ok(mx, W_SPARSE, M_KERNEL_RANDOM);
	const struct client_result *lw = client_ok(mx, C_LMDB_WRITEMAP), *gd = client_ok(mx, C_GDBM);
	char bd[600], split[1400], gap[160], cmd[512], r1[16], r2[16], r3[16];

	memset(t, 0, NR_TARGETS * sizeof(*t));
	t[T_WARM] = (struct target){ .measure = "warm sequential scan, vmemu / kernel mmap (throughput; each "
		"mechanism's page cache holds the file)", .goal = ">= 0.3x (stretch 0.5x)",
		.value = vs_kernel(mx, W_SEQ_WARM, M_VMEMU), .threshold = 0.3, .stretch = 0.5, .higher_better = true };
	t[T_COLD] = (struct target){ .measure = "cold sequential scan, vmemu / kernel mmap (throughput)",
		.goal = ">= 1.0x", .value = vs_kernel(mx, W_SEQ_COLD, M_VMEMU), .threshold = 1.0,
		.higher_better = true };
	t[T_ANON] = (struct target){ .measure = "anonymous first touch, vmemu / kernel (throughput)",
		.goal = ">= 0.7x", .value = vs_kernel(mx, W_ANON, M_VMEMU), .threshold = 0.7, .higher_better = true };
	snprintf(t[T_THREADS_SCAN].measure, sizeof(t[0].measure), "vmemu, 2 threads scanning disjoint halves "
		 "of one %zu MiB file / 1 thread scanning it all (throughput)", mx->cfg->size >> 20);
	t[T_THREADS_SCAN].value = two_thread_ratio(vs);
	t[T_THREADS_RAND] = (struct target){ .measure = "vmemu, the same with random 4 KiB read faults, 2 threads "
		"/ 1 thread (throughput)", .goal = ">= 1.3x", .value = two_thread_ratio(vt), .threshold = 1.3,
		.higher_better = true };
	snprintf(t[T_BUDGET].measure, sizeof(t[0].measure), "vmemu scan under a %lu MiB budget / kernel warm "
		 "scan (throughput; the kernel has no budget)", mx->cfg->budget_mb);
	t[T_BUDGET].value = vs_kernel(mx, W_BUDGET, M_VMEMU);
	t[T_RAND_P50] = (struct target){ .measure = "random 4 KiB read fault, vmemu p50 / floor-safe p50",
		.goal = "<= 1.0x", .value = vr && fr ? vr->p50 / fr->p50 : NAN, .threshold = 1.0 };
	t[T_RAND_P99] = (struct target){ .measure = "random 4 KiB read fault, vmemu p99 / floor-safe p99",
		.goal = "<= 1.5x", .value = vr && fr ? vr->p99 / fr->p99 : NAN, .threshold = 1.5 };
	snprintf(t[T_SPARSE].measure, sizeof(t[0].measure), "%zu random pages of a 1 TiB sparse file, vmemu: "
		 "RSS growth / data touched (counting the frames of its cache it holds but no longer maps, "
		 "which RSS leaves out)", mx->cfg->sparse_pages);
	t[T_SPARSE].value = sparse_ratio(mx, vx, false);
	t[T_LMDB_WRITEMAP] = (struct target){ .goal = "<= 1.5x", .value = client_ratio(lw), .threshold = 1.5 };
	client_command(mx->ccfg, C_LMDB_WRITEMAP, cmd, sizeof(cmd));
	snprintf(t[T_LMDB_WRITEMAP].measure, sizeof(t[0].measure), "LMDB MDB_WRITEMAP workload, `%.100s` (client "
		 "lmdb-writemap): vmemu / native wall time", cmd);
	t[T_GDBM] = (struct target){ .goal = "<= 1.5x", .value = client_ratio(gd), .threshold = 1.5 };
	client_command(mx->ccfg, C_GDBM, cmd, sizeof(cmd));
	snprintf(t[T_GDBM].measure, sizeof(t[0].measure), "GDBM load, `%.100s` (client gdbm-load; the goal's load "
		 "is 300,000 pairs): vmemu / native wall time", cmd);
	snprintf(t[T_THREADS_SCAN].goal, sizeof(t[0].goal), ">= 1.7x");
	snprintf(t[T_BUDGET].goal, sizeof(t[0].goal), ">= 0.2x");
	snprintf(t[T_SPARSE].goal, sizeof(t[0].goal), "<= 1.05x");
	t[T_THREADS_SCAN].threshold = 1.7;
	t[T_THREADS_SCAN].higher_better = true;
	t[T_BUDGET].threshold = 0.2;
	t[T_BUDGET].higher_better = true;
	t[T_SPARSE].threshold = 1.05;

	if (vw && kw) {
		gap_sentence(gap, sizeof(gap), &t[T_WARM]);
		scan_split(split, sizeof(split), vw, kw);
		EVIDENCE(T_WARM, "%s. vmemu scans at %.2f GB/s against the kernel's %.2f GB/s, with %.3f faults "
			 "per page against the kernel's %.3f. vmemu's cache held %llu of the file's %zu pages when "
			 "the scan began, and the scan read %llu pages from the file (%llu major faults)%s; its "
			 "faults mapped %llu cached pages around the faulting ones. %s For scale: the copy ceiling, pread of the same 1 MiB windows into a "
			 "populated buffer and the scan, is %.2f GB/s; the first mapping of the file by a fresh "
			 "process, vmemu's cache empty (seq-first), %.2f GB/s. What would close it: fewer faults "
			 "per page (fault-around runs as long as the cached run of frames, which the scan's "
			 "faults per page show) and the host's own minor fault on each mapped page gone (the "
			 "timed first loads above the handler's share: populate the host page tables of a run "
			 "when it is mapped, as MAP_POPULATE does).",
			 gap, gbps(vw), gbps(kw), vw->faults_per_page, kw->faults_per_page,
			 (unsigned long long)vw->warm_cached, mx->cfg->size / PG, (unsigned long long)vw->pgpgin,
			 (unsigned long long)vw->pgmajfault, vw->pgpgin ? "" : ", so the fill is no part of it",
			 (unsigned long long)vw->pgfaultaround, split,
			 pw ? gbps(pw) : NAN, vf ? gbps(vf) : NAN);
	}
	if (vc && kc) {
		gap_sentence(gap, sizeof(gap), &t[T_COLD]);
		scan_split(split, sizeof(split), vc, kc);
		EVIDENCE(T_COLD, "%s. Cold, vmemu scans at %.2f GB/s against the kernel's %.2f GB/s (pread of "
			 "1 MiB windows: %.2f GB/s), reading %.1f pages per major fault (%llu major faults, %llu "
			 "pages read ahead). %s A cold scan is bound by the device, which the kernel keeps busy "
			 "by reading the next window while the program scans this one. What would close it: "
			 "readahead issued ahead of the scan, asynchronously, in windows large enough that the "
			 "device is never idle between them; the fill time per fault above is the wait for a "
			 "window that was not read ahead.",
			 gap, gbps(vc), gbps(kc), pc ? gbps(pc) : NAN,
			 vc->pgmajfault ? (double)vc->pgpgin / (double)vc->pgmajfault : NAN,
			 (unsigned long long)vc->pgmajfault, (unsigned long long)vc->pgreadahead, split);
	}
	if (va && ka) {
		double floor_ratio = vs_kernel(mx, W_ANON, M_FLOOR_SAFE);
		gap_sentence(gap, sizeof(gap), &t[T_ANON]);
		breakdown_sentence(bd, sizeof(bd), va);
		EVIDENCE(T_ANON, "%s. vmemu's anonymous first touch costs %.0f ns per page against the kernel's "
			 "%.0f ns, with %.3f faults per page (each first touch maps its 16-page block). Breakdown "
			 "%s. The fill is nothing (the host supplies zero pages); the bare floor, one SIGSEGV and "
			 "one mprotect a page, costs %.0f ns per page, %.2fx kernel. What would close it: larger "
			 "blocks per fault and fewer host calls per block, since the signal+host share is paid per "
			 "page as the host populates each one at its first access.",
			 gap, va->bulk_ns, ka->bulk_ns, va->faults_per_page, bd, fa ? fa->bulk_ns : NAN, floor_ratio);
	}
	if (vs) {
		gap_sentence(gap, sizeof(gap), &t[T_THREADS_SCAN]);
		breakdown_sentence(bd, sizeof(bd), vs);
		bool shrunk = vs->phase_major_pages[1] < 0.75 * vs->phase_major_pages[0];
		EVIDENCE(T_THREADS_SCAN, "%s. One thread scans at %.2f GB/s, two at %.2f GB/s (two threads need "
			 "the machine's two CPUs to themselves: see the load average under Machine). With one thread "
			 "vmemu takes %.3f faults per page and reads %.1f pages per major fault; with two, %.3f "
			 "and %.1f%s Breakdown (two threads) %s. The kernel's own two streams scale %.2fx, the "
			 "safe floor's (one fault a page, nothing shared) %.2fx. What would close it: %s, and "
			 "faults of two threads that do not serialise on a lock of vmemu's or on the host's "
			 "mmap_lock (each install is a host call that takes it for writing).",
			 gap, vs->tput1 * PG / 1e9, vs->tput2 * PG / 1e9, vs->phase_faults[0],
			 vs->phase_major_pages[0], vs->phase_faults[1], vs->phase_major_pages[1],
			 shrunk ? ": the two streams share one readahead state (the open file's file_ra_state), "
				  "so each stream's misses break the other's window, which stays small." :
				  ": the windows keep their size with two streams, so the loss is in the faults "
				  "themselves.", bd, two_thread_ratio(ks), two_thread_ratio(fs),
			 shrunk ? "readahead state per stream (Linux keeps one per open file, and its readahead "
				  "tells interleaved streams apart)" : "a shorter fault path per window");
	}
	if (vt) {
		gap_sentence(gap, sizeof(gap), &t[T_THREADS_RAND]);
		breakdown_sentence(bd, sizeof(bd), vt);
		EVIDENCE(T_THREADS_RAND, "%s. With two threads vmemu handles %.0f faults/s against %.0f with "
			 "one (two threads need the machine's two CPUs to themselves: see the load average under "
			 "Machine), each phase starting with vmemu's cache empty (%.1f and %.1f pages read per major "
			 "fault). Breakdown (two threads) %s. Every fault is a host mprotect or mmap, which takes "
			 "the host mm's mmap_lock for writing, so two threads serialise there: the bare floors, "
			 "which do nothing else, scale %.2fx (floor-safe) and %.2fx (floor-unsafe); the kernel's "
			 "own faults, %.2fx (with %zu pages per run the kernel's cells last a few ms and this "
			 "ratio is noisy). What would close it: fewer host calls per fault and no lock of "
			 "vmemu's own held across one.",
			 gap, vt->tput2 * vt->faults_per_page, vt->tput1 * vt->phase_faults[0],
			 vt->phase_major_pages[0], vt->phase_major_pages[1], bd, two_thread_ratio(ft),
			 two_thread_ratio(ut), two_thread_ratio(kt), mx->cfg->rand_pages);
	}
	if (vb && kw) {
		gap_sentence(gap, sizeof(gap), &t[T_BUDGET]);
		scan_split(split, sizeof(split), vb, kw);
		EVIDENCE(T_BUDGET, "%s. Under its %lu MiB budget vmemu scans at %.2f GB/s against the kernel's "
			 "warm scan at %.2f GB/s (its own unbudgeted first scan, seq-first: %.2f GB/s); it evicted "
			 "%llu pages and its clock looked at %llu, at most %llu pages resident against a budget of "
			 "%llu. %s What would close it: reclaim that costs less per evicted page than the fill "
			 "that brings a page in (clustered eviction, one host call per run of victims), so the "
			 "budgeted scan runs at the speed of the unbudgeted first scan.",
			 gap, mx->cfg->budget_mb, gbps(vb), gbps(kw), vf ? gbps(vf) : NAN,
			 (unsigned long long)vb->pgevict, (unsigned long long)vb->pgscan,
			 (unsigned long long)vb->resident_max, (unsigned long long)vb->nr_budget, split);
	}
	if (vr && fr) {
		double per_major = vr->pgmajfault ? (double)vr->pgpgin / (double)vr->pgmajfault : NAN;
		breakdown_sentence(bd, sizeof(bd), vr);
		gap_sentence(gap, sizeof(gap), &t[T_RAND_P50]);
		EVIDENCE(T_RAND_P50, "%s. vmemu's median random read fault takes %.0f ns, the safe floor's %.0f ns "
			 "(pread of 4 KiB into a memfd alias, then mprotect, nothing else; a bare 4 KiB pread: "
			 "%.0f ns), vmemu-random's (one page per fault, no readahead) %.0f ns. vmemu read %.1f "
			 "pages per major fault (%llu major of %.0f faults), where the floor reads one. Mean "
			 "breakdown %s. What would close it: a handler path no longer than the floor's (the rest "
			 "and lookup above are the emulation's own work), and a fill no larger than the pages a "
			 "random reader uses.",
			 gap, vr->p50, fr->p50, pr ? pr->p50 : NAN, rr ? rr->p50 : NAN, per_major,
			 (unsigned long long)vr->pgmajfault, vr->bd_faults, bd);
		gap_sentence(gap, sizeof(gap), &t[T_RAND_P99]);
		EVIDENCE(T_RAND_P99, "%s. vmemu's random read fault: p90 %.0f ns, p99 %.0f, p99.9 %.0f; the safe "
			 "floor's: p90 %.0f, p99 %.0f, p99.9 %.0f; vmemu-random's (no readahead): p99 %.0f. The "
			 "mean fault (breakdown with the median goal above) spends %.0f ns filling, %.1f pages "
			 "per major fault. What would close it: no fault that waits on a lock held across another "
			 "fault's I/O or a host call, and no read-around window larger than the pages a random "
			 "reader will use, whichever of the two vmemu-random's tail points at.",
			 gap, vr->p90, vr->p99, vr->p999, fr->p90, fr->p99, fr->p999, rr ? rr->p99 : NAN,
			 vr->bd_fill, per_major);
	}
	if (vx) {
		double data = (double)mx->cfg->sparse_pages * PG, pages = (double)mx->cfg->sparse_pages;
		gap_sentence(gap, sizeof(gap), &t[T_SPARSE]);
		EVIDENCE(T_SPARSE, "%s. vmemu touched %zu pages (%.1f MiB). Its RSS grew %.1f MiB (%.2fx the data): "
			 "anonymous memory %.1f MiB (%.0f bytes per page touched: vmemu's per-process structures, "
			 "its page directory and tables among them), shared memory %.1f MiB (the frames mapped at "
			 "the program's addresses, and the library's own view of those it filled, which counts "
			 "them a second time), files %.1f MiB. RSS leaves out the frames vmemu holds in its cache "
			 "but no longer maps here: its host mapping count made it unmap pages %llu times "
			 "(host_vma_reclaim), each scattered page being a host mapping of its own. Its domain "
			 "segment, which holds every frame and the shared metadata whether mapped or not, grew "
			 "%.1f MiB (%.0f bytes per page touched), so the process came to hold %.1f MiB. It took "
			 "%.3f faults per page and read %.1f pages per major fault; vme_stats counted %llu pages "
			 "resident (nr_resident) at the end. Beside it (-: not run, see the notes): vmemu-random "
			 "%s, the kernel %s, kernel-random %s. So per page touched the process holds %.0f bytes "
			 "besides the page's own 4096: %.0f of anonymous memory and %.0f of segment beyond one "
			 "frame (the shared metadata, and the frames of pages read besides the ones touched), "
			 "where the goal allows 205 (5%%). What would close it: per-page metadata, per-process "
			 "and shared, that small, and no page read besides the ones a random reader touches.",
			 gap, mx->cfg->sparse_pages, data / (1 << 20), (double)vx->rss_growth / (1 << 20),
			 sparse_ratio(mx, vx, true), (double)vx->rss_anon / (1 << 20), (double)vx->rss_anon / pages,
			 (double)vx->rss_shmem / (1 << 20), (double)vx->rss_file / (1 << 20),
			 (unsigned long long)vx->host_vma_reclaim, (double)vx->segment_growth / (1 << 20),
			 (double)vx->segment_growth / pages, (double)vx->held_growth / (1 << 20),
			 vx->faults_per_page, vx->pgmajfault ? (double)vx->pgpgin / (double)vx->pgmajfault : NAN,
			 (unsigned long long)vx->resident_end, ratio(r1, sizeof(r1), sparse_ratio(mx, rx, false)),
			 ratio(r2, sizeof(r2), sparse_ratio(mx, kx, false)),
			 ratio(r3, sizeof(r3), sparse_ratio(mx, qx, false)), (double)vx->held_growth / pages - PG,
			 (double)vx->rss_anon / pages, (double)vx->segment_growth / pages - PG);
	}
	if (lw) {
		gap_sentence(gap, sizeof(gap), &t[T_LMDB_WRITEMAP]);
		client_split(split, sizeof(split), lw);
		EVIDENCE(T_LMDB_WRITEMAP, "%s. %s. LMDB with MDB_WRITEMAP stores through its read-write map and "
			 "msyncs at each commit: after a write-back vmemu maps the page read-only again, so the "
			 "next transaction's first store to it faults again (the write-protect faults above). "
			 "What would close it: fewer faults per transaction (re-arm write-protection only where "
			 "the next store needs to be seen, in batched host calls) and a cheaper msync.",
			 gap, split);
	}
	if (gd) {
		gap_sentence(gap, sizeof(gap), &t[T_GDBM]);
		client_split(split, sizeof(split), gd);
		EVIDENCE(T_GDBM, "%s. %s. GDBM maps its whole file and maps it again each time the file grows "
			 "(munmap, then mmap of the new size): vmemu writes a mapping's dirty pages back at munmap, "
			 "where Linux leaves them in the page cache for its flusher, so the same pages are written "
			 "again at every growth (pgpgout above), and each new mapping faults them in again. What would close it: dirty pages that stay "
			 "cached across munmap (written back by msync, fsync, eviction and exit), and cheaper "
			 "faults on pages already cached.",
			 gap, split);
	}
}

/* --- terminal table and notes ----------------------------------------------------- */

static void header_lines(FILE *f, const struct matrix *mx, const char *prefix)
{
	char sz[32];

	size_text(sz, sizeof(sz), mx->cfg->size);
	fprintf(f, "%svmemu-bench: %s file (%zu pages), %zu random pages; ns per timed access "
		"(one load or store each)\n", prefix, sz, mx->cfg->size / PG, mx->cfg->rand_pages);
	fprintf(f, "%stimer: %s, %.0f ns per empty timed access (included below)\n", prefix,
		timer_describe(), timer_overhead_ns());
	for (int m = 0; m < NR_MECHANISMS; m++)
		if (mx->want[W_SPARSE][m]) {
			fprintf(f, "%ssparse-rss: %zu random pages of a 1 TiB sparse file\n", prefix,
				mx->cfg->sparse_pages);
			break;
		}
	for (int m = 0; m < NR_MECHANISMS; m++)
		if (mx->want[W_BUDGET][m]) {
			fprintf(f, "%sbudget-scan: %lu MiB budget (%zu pages, %.0f%% of the file); its tput/kern is "
				"against seq-warm / kernel\n", prefix, mx->cfg->budget_mb, budget_pages(mx),
				100.0 * (double)budget_pages(mx) / (double)(mx->cfg->size / PG));
			break;
		}
}

/* A memory level of a vmemu cell, or "-" when vme_stats reports none. */
static const char *level(char *buf, size_t len, const struct cell_result *c, uint64_t v)
{
	if (mem_reported(c))
		snprintf(buf, len, "%llu", (unsigned long long)v);
	else
		snprintf(buf, len, "-");
	return buf;
}

/* "yes", "NO", or "-" when vme_stats reports no budget. */
static const char *within_budget(const struct cell_result *c)
{
	return !mem_reported(c) ? "-" : c->resident_max <= c->nr_budget ? "yes" : "NO";
}

static void cell_line(FILE *f, const struct matrix *mx, int w, int m)
{
	const struct cell_result *c = &mx->cell[w][m];
	char a[16], b[16];

	fprintf(f, "%-13s %-20s", workloads[w].name, mechanisms[m]->name);
	if (c->status != CELL_OK) {
		fprintf(f, " %s\n", status_text[c->status]);
		return;
	}
	fprintf(f, " %8.0f %8.0f %8.0f %8.0f %9.0f %9.0f %6.2f %7.3f %9s %9s\n", c->p50, c->p90, c->p99,
		c->p999, c->max, c->bulk_ns, gbps(c), c->faults_per_page,
		ratio(a, sizeof(a), vs_kernel(mx, w, m)), ratio(b, sizeof(b), vs_floor(mx, w, m)));
}

static void print_notes(FILE *f, const struct matrix *mx, const char *bullet)
{
	for (int w = 0; w < NR_WORKLOADS; w++)
		for (int m = 0; m < NR_MECHANISMS; m++) {
			const struct cell_result *c = &mx->cell[w][m];
			if (!mx->want[w][m] || !c->note[0])
				continue;
			fprintf(f, "%s%s / %s: %s%s%s\n", bullet, workloads[w].name, mechanisms[m]->name,
				c->status == CELL_OK ? "" : status_text[c->status],
				c->status == CELL_OK ? "" : ": ", c->note);
		}
}

/* --- the clients ---------------------------------------------------------------------- */

static double runs_min(const double *v, int n)
{
	double m = v[0];

	for (int i = 1; i < n; i++)
		m = v[i] < m ? v[i] : m;
	return m;
}

static double runs_max(const double *v, int n)
{
	double m = v[0];

	for (int i = 1; i < n; i++)
		m = v[i] > m ? v[i] : m;
	return m;
}

static bool any_client(const struct matrix *mx)
{
	for (int c = 0; c < NR_CLIENTS; c++)
		if (mx->want_client[c])
			return true;
	return false;
}

static void client_notes(FILE *f, const struct matrix *mx, const char *bullet)
{
	for (int c = 0; c < NR_CLIENTS; c++)
		if (mx->want_client[c] && mx->client[c].status != CELL_OK)
			fprintf(f, "%sclient %s: %s: %s\n", bullet, clients[c].name, status_text[mx->client[c].status],
				mx->client[c].note);
}

static void client_lines(FILE *f, const struct matrix *mx)
{
	char a[16];

	if (!any_client(mx))
		return;
	fprintf(f, "real programs, native and switched over to vmemu (-Wl,--wrap), whole-run wall time, median of "
		"the runs each:\n%-17s %4s %9s %9s %12s %9s  %s\n", "client", "runs", "native s", "vmemu s",
		"vmemu/native", "pgfault", "output");
	for (int c = 0; c < NR_CLIENTS; c++) {
		const struct client_result *r = &mx->client[c];
		if (!mx->want_client[c])
			continue;
		if (r->status != CELL_OK) {
			fprintf(f, "%-17s %s\n", clients[c].name, status_text[r->status]);
			continue;
		}
		fprintf(f, "%-17s %4d %9.3f %9.3f %12s %9llu  %s\n", clients[c].name, r->runs, r->native_med,
			r->vmemu_med, ratio(a, sizeof(a), client_ratio(r)), (unsigned long long)r->vm.pgfault,
			r->summary);
	}
	fprintf(f, "\n");
}

void report_table(FILE *f, const struct matrix *mx)
{
	struct target t[NR_TARGETS];
	char a[16];

	header_lines(f, mx, "");
	fprintf(f, "\n%-13s %-20s %8s %8s %8s %8s %9s %9s %6s %7s %9s %9s\n", "workload", "mechanism", "p50",
		"p90", "p99", "p99.9", "max", "bulk/page", "GB/s", "flt/pg", "tput/kern", "p50/floor");
	for (int w = 0; w < NR_WORKLOADS; w++) {
		bool any = false;
		for (int m = 0; m < NR_MECHANISMS; m++)
			if (mx->want[w][m]) {
				cell_line(f, mx, w, m);
				any = true;
			}
		if (any)
			fprintf(f, "\n");
	}

	bool any_bd = false;
	for (int w = 0; w < NR_WORKLOADS; w++)
		for (int m = 0; m < NR_MECHANISMS; m++) {
			const struct cell_result *c = ok(mx, w, m);
			if (!c || !c->breakdown)
				continue;
			if (!any_bd)
				fprintf(f, "vmemu fault breakdown, mean ns per fault (vme_stats deltas):\n"
					"%-13s %-20s %8s %8s %8s %8s %8s %8s %8s %11s\n", "workload", "mechanism",
					"faults", "latency", "handler", "lookup", "fill", "protect", "rest",
					"signal+host");
			any_bd = true;
			fprintf(f, "%-13s %-20s %8.0f %8.0f %8.0f %8.0f %8.0f %8.0f %8.0f %11.0f\n", workloads[w].name,
				mechanisms[m]->name, c->bd_faults, c->bd_latency, c->bd_handler, c->bd_lookup,
				c->bd_fill, c->bd_protect, rest_ns(c), signal_ns(c));
		}
	if (any_bd)
		fprintf(f, "\n");

	bool any_mem = false;
	for (int w = 0; w < NR_WORKLOADS; w++)
		for (int m = 0; m < NR_MECHANISMS; m++) {
			const struct cell_result *c = ok(mx, w, m);
			char b1[24], b2[24], b3[24], b4[24];
			if (!c || !c->mem)
				continue;
			if (!any_mem)
				fprintf(f, "vmemu memory (vme_stats), in pages. Levels: the budget; resident frames, the most "
					"seen (sampled every %lu\naccesses and at the end) and at the end; host mappings, the "
					"most seen. The rest count over the run.\nfits: resident never above the budget; "
					"-: vme_stats reports no budget\n"
					"%-13s %-20s %8s %8s %8s %4s %8s %8s %9s %9s %8s %8s %7s\n", SAMPLE_EVERY,
					"workload", "mechanism", "budget", "res.max", "res.end", "fits", "evicted",
					"scanned", "readahead", "faultarnd", "swapout", "hostvmas", "vmarecl");
			any_mem = true;
			fprintf(f, "%-13s %-20s %8s %8s %8s %4s %8llu %8llu %9llu %9llu %8llu %8s %7llu\n",
				workloads[w].name, mechanisms[m]->name, level(b1, sizeof(b1), c, c->nr_budget),
				level(b2, sizeof(b2), c, c->resident_max), level(b3, sizeof(b3), c, c->resident_end),
				within_budget(c), (unsigned long long)c->pgevict, (unsigned long long)c->pgscan,
				(unsigned long long)c->pgreadahead, (unsigned long long)c->pgfaultaround,
				(unsigned long long)c->pswpout, level(b4, sizeof(b4), c, c->host_vmas_max),
				(unsigned long long)c->host_vma_reclaim);
		}
	if (any_mem)
		fprintf(f, "\n");

	bool any_tt = false;
	for (int w = 0; w < NR_WORKLOADS; w++)
		for (int m = 0; m < NR_MECHANISMS; m++) {
			const struct cell_result *c = ok(mx, w, m);
			if (!c || c->tput1 <= 0)
				continue;
			if (!any_tt)
				fprintf(f, "two threads on disjoint pages, pages/s with 1 and 2 threads:\n");
			any_tt = true;
			fprintf(f, "  %-17s %-20s %10.0f %10.0f  %s\n", workloads[w].name, mechanisms[m]->name,
				c->tput1, c->tput2, ratio(a, sizeof(a), c->tput2 / c->tput1));
		}
	if (any_tt)
		fprintf(f, "\n");

	bool any_rss = false;
	for (int m = 0; m < NR_MECHANISMS; m++) {
		const struct cell_result *c = ok(mx, W_SPARSE, m);
		char seg[24] = "-";
		if (!c || !c->rss)
			continue;
		if (c->segment_growth >= 0)
			snprintf(seg, sizeof(seg), "%.1f", (double)c->segment_growth / (1 << 20));
		if (!any_rss)
			fprintf(f, "%zu random pages of a 1 TiB sparse file, growth in MiB: RSS (anon, file, shmem), "
				"vmemu's segment, held (anon + file + segment); RSS / data, held / data:\n",
				mx->cfg->sparse_pages);
		any_rss = true;
		fprintf(f, "  %-20s %8.1f (%6.1f %6.1f %6.1f) %8s %8.1f  %s", mechanisms[m]->name,
			(double)c->rss_growth / (1 << 20), (double)c->rss_anon / (1 << 20),
			(double)c->rss_file / (1 << 20), (double)c->rss_shmem / (1 << 20), seg,
			(double)c->held_growth / (1 << 20), ratio(a, sizeof(a), sparse_ratio(mx, c, true)));
		fprintf(f, " %s\n", ratio(a, sizeof(a), sparse_ratio(mx, c, false)));
	}
	if (any_rss)
		fprintf(f, "\n");

	client_lines(f, mx);

	compute_targets(mx, t);
	fprintf(f, "issue 12's targets (same-run ratios):\n");
	for (int i = 0; i < NR_TARGETS; i++) {
		char v[64];
		fprintf(f, "  %-100.100s %-22s %8s  %s\n", t[i].measure, t[i].goal, ratio(a, sizeof(a), t[i].value),
			target_verdict(v, sizeof(v), &t[i], false));
	}
	fprintf(f, "(docs/bench/results.md, written by --results, says for each missed one how far it is and "
		"what would close it)\n\nnotes:\n");
	print_notes(f, mx, "  ");
	client_notes(f, mx, "  ");
}

/* --- CSV and JSON ------------------------------------------------------------------ */

static void csv_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void csv_num(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fprintf(f, ",");
	else
		fprintf(f, ",%.6g", v);
}

void report_csv(FILE *f, const struct matrix *mx)
{
	fprintf(f, "workload,mechanism,status,accesses,p50_ns,p90_ns,p99_ns,p999_ns,max_ns,mean_ns,"
		"bulk_ns_per_page,gb_per_s,faults_per_page,tput_vs_kernel,p50_vs_floor_safe,"
		"tput_1thread,tput_2threads,handler_ns,lookup_ns,fill_ns,protect_ns,rest_ns,signal_host_ns,"
		"nr_budget,resident_max,resident_end,host_vmas_max,pgevict,pgscan,pgreadahead,pgfaultaround,"
		"pswpin,pswpout,host_vma_reclaim,pgmajfault,pgpgin,rss_growth,rss_vs_data,held_growth,held_vs_data,"
		"note\n");
	for (int w = 0; w < NR_WORKLOADS; w++)
		for (int m = 0; m < NR_MECHANISMS; m++) {
			const struct cell_result *c = &mx->cell[w][m];
			if (!mx->want[w][m])
				continue;
			bool o = c->status == CELL_OK, bd = o && c->breakdown;
			fprintf(f, "%s,%s,%s,%llu", workloads[w].name, mechanisms[m]->name, status_name[c->status],
				(unsigned long long)c->accesses);
			double v[] = { c->p50, c->p90, c->p99, c->p999, c->max, c->mean, c->bulk_ns, gbps(c),
				       c->faults_per_page };
			for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
				csv_num(f, o ? v[i] : NAN);
			csv_num(f, vs_kernel(mx, w, m));
			csv_num(f, vs_floor(mx, w, m));
			csv_num(f, o && c->tput1 > 0 ? c->tput1 : NAN);
			csv_num(f, o && c->tput2 > 0 ? c->tput2 : NAN);
			csv_num(f, bd ? c->bd_handler : NAN);
			csv_num(f, bd ? c->bd_lookup : NAN);
			csv_num(f, bd ? c->bd_fill : NAN);
			csv_num(f, bd ? c->bd_protect : NAN);
			csv_num(f, bd ? rest_ns(c) : NAN);
			csv_num(f, bd ? signal_ns(c) : NAN);
			bool lv = o && mem_reported(c), cn = o && c->mem;
			csv_num(f, lv ? (double)c->nr_budget : NAN);
			csv_num(f, lv ? (double)c->resident_max : NAN);
			csv_num(f, lv ? (double)c->resident_end : NAN);
			csv_num(f, lv ? (double)c->host_vmas_max : NAN);
			uint64_t n[] = { c->pgevict, c->pgscan, c->pgreadahead, c->pgfaultaround, c->pswpin,
					 c->pswpout, c->host_vma_reclaim, c->pgmajfault, c->pgpgin };
			for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++)
				csv_num(f, cn ? (double)n[i] : NAN);
			csv_num(f, o && c->rss ? (double)c->rss_growth : NAN);
			csv_num(f, o ? sparse_ratio(mx, c, true) : NAN);
			csv_num(f, o && c->rss ? (double)c->held_growth : NAN);
			csv_num(f, o ? sparse_ratio(mx, c, false) : NAN);
			fputc(',', f);
			csv_string(f, c->note);
			fputc('\n', f);
		}
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, const char *key, double v)
{
	if (isnan(v) || isinf(v))
		fprintf(f, ", \"%s\": null", key);
	else
		fprintf(f, ", \"%s\": %.6g", key, v);
}

/* vmemu's memory: levels (null when vme_stats reports no budget), then the
 * counters over the run. */
static void json_memory(FILE *f, const struct cell_result *c)
{
	bool lv = mem_reported(c);

	fprintf(f, ", \"memory\": {\"nr_budget\": %llu", (unsigned long long)c->nr_budget);
	json_num(f, "resident_max", lv ? (double)c->resident_max : NAN);
	json_num(f, "resident_end", lv ? (double)c->resident_end : NAN);
	json_num(f, "host_vmas_max", lv ? (double)c->host_vmas_max : NAN);
	fprintf(f, ", \"within_budget\": %s", !lv ? "null" : c->resident_max <= c->nr_budget ? "true" : "false");
	fprintf(f, ", \"pgevict\": %llu, \"pgscan\": %llu, \"pgreadahead\": %llu, \"pgfaultaround\": %llu, "
		"\"pswpin\": %llu, \"pswpout\": %llu, \"host_vma_reclaim\": %llu, \"pgmajfault\": %llu, "
		"\"pgpgin\": %llu}",
		(unsigned long long)c->pgevict, (unsigned long long)c->pgscan, (unsigned long long)c->pgreadahead,
		(unsigned long long)c->pgfaultaround, (unsigned long long)c->pswpin,
		(unsigned long long)c->pswpout, (unsigned long long)c->host_vma_reclaim,
		(unsigned long long)c->pgmajfault, (unsigned long long)c->pgpgin);
	if (c->warm)
		fprintf(f, ", \"warm\": {\"cached_after_pread\": %llu, \"cached\": %llu, \"mapped_pass\": %s}",
			(unsigned long long)c->warm_read_cached, (unsigned long long)c->warm_cached,
			c->warm_mapped ? "true" : "false");
}

void report_json(FILE *f, const struct matrix *mx)
{
	const struct machine *mc = &mx->machine;
	struct target t[NR_TARGETS];
	bool first = true;

	fprintf(f, "{\n  \"tool\": \"vmemu-bench\",\n  \"size_bytes\": %zu,\n  \"rand_pages\": %zu,\n"
		"  \"sparse_pages\": %zu,\n  \"budget_mb\": %lu,\n  \"budget_pages\": %zu,\n", mx->cfg->size,
		mx->cfg->rand_pages, mx->cfg->sparse_pages, mx->cfg->budget_mb, budget_pages(mx));
	fprintf(f, "  \"timer\": ");
	json_string(f, timer_describe());
	fprintf(f, ",\n  \"timer_overhead_ns\": %.1f,\n  \"machine\": {\"nproc\": %ld, \"model\": ",
		timer_overhead_ns(), mc->nproc);
	json_string(f, mc->model);
	fprintf(f, ", \"kernel\": ");
	json_string(f, mc->kernel);
	fprintf(f, ", \"mem_mib\": %lu, \"thp\": ", mc->mem_mib);
	json_string(f, mc->thp);
	fprintf(f, ", \"fs\": ");
	json_string(f, mc->fs);
	fprintf(f, ", \"load_start\": ");
	json_string(f, mc->load_start);
	fprintf(f, ", \"load_end\": ");
	json_string(f, mc->load_end);
	fprintf(f, ", \"date\": ");
	json_string(f, mc->date);
	fprintf(f, "},\n  \"command\": ");
	json_string(f, mc->command);
	fprintf(f, ",\n  \"cells\": [\n");
	for (int w = 0; w < NR_WORKLOADS; w++)
		for (int m = 0; m < NR_MECHANISMS; m++) {
			const struct cell_result *c = &mx->cell[w][m];
			if (!mx->want[w][m])
				continue;
			fprintf(f, "%s    {\"workload\": \"%s\", \"mechanism\": \"%s\", \"status\": \"%s\"",
				first ? "" : ",\n", workloads[w].name, mechanisms[m]->name, status_name[c->status]);
			first = false;
			if (c->status == CELL_OK) {
				fprintf(f, ", \"accesses\": %llu", (unsigned long long)c->accesses);
				json_num(f, "median_ns", c->p50);
				json_num(f, "p90_ns", c->p90);
				json_num(f, "p99_ns", c->p99);
				json_num(f, "p999_ns", c->p999);
				json_num(f, "max_ns", c->max);
				json_num(f, "mean_ns", c->mean);
				json_num(f, "bulk_ns_per_page", c->bulk_ns);
				json_num(f, "faults_per_page", c->faults_per_page);
				json_num(f, "tput_vs_kernel", vs_kernel(mx, w, m));
				json_num(f, "p50_vs_floor_safe", vs_floor(mx, w, m));
				if (c->tput1 > 0) {
					json_num(f, "tput_1thread", c->tput1);
					json_num(f, "tput_2threads", c->tput2);
					json_num(f, "faults_per_page_1thread", c->phase_faults[0]);
				}
				if (c->rss)
					fprintf(f, ", \"rss\": {\"pages\": %zu, \"growth\": %lld, \"anon\": %lld, "
						"\"file\": %lld, \"shmem\": %lld, \"segment\": %lld, \"held\": %lld, "
						"\"vs_data\": %.6g, \"held_vs_data\": %.6g}", mx->cfg->sparse_pages,
						(long long)c->rss_growth, (long long)c->rss_anon, (long long)c->rss_file,
						(long long)c->rss_shmem, (long long)c->segment_growth,
						(long long)c->held_growth, sparse_ratio(mx, c, true),
						sparse_ratio(mx, c, false));
				if (c->breakdown) {
					fprintf(f, ", \"breakdown\": {\"faults\": %.0f", c->bd_faults);
					json_num(f, "latency_ns", c->bd_latency);
					json_num(f, "handler_ns", c->bd_handler);
					json_num(f, "lookup_ns", c->bd_lookup);
					json_num(f, "fill_ns", c->bd_fill);
					json_num(f, "protect_ns", c->bd_protect);
					json_num(f, "rest_ns", rest_ns(c));
					json_num(f, "signal_host_ns", signal_ns(c));
					fprintf(f, "}");
				}
				if (c->mem)
					json_memory(f, c);
			}
			fprintf(f, ", \"note\": ");
			json_string(f, c->note);
			fprintf(f, "}");
		}
	compute_targets(mx, t);
	fprintf(f, "\n  ],\n  \"targets\": [\n");
	for (int i = 0; i < NR_TARGETS; i++) {
		fprintf(f, "    {\"measure\": ");
		json_string(f, t[i].measure);
		fprintf(f, ", \"goal\": ");
		json_string(f, t[i].goal);
		json_num(f, "value", t[i].value);
		json_num(f, "threshold", t[i].threshold);
		if (t[i].stretch)
			json_num(f, "stretch", t[i].stretch);
		fprintf(f, ", \"met\": %s}%s\n", isnan(t[i].value) ? "null" : target_met(&t[i]) ? "true" : "false",
			i + 1 < NR_TARGETS ? "," : "");
	}
	fprintf(f, "  ],\n  \"clients\": [\n");
	first = true;
	for (int c = 0; c < NR_CLIENTS; c++) {
		const struct client_result *r = &mx->client[c];
		char cmd[512];
		if (!mx->want_client[c])
			continue;
		client_command(mx->ccfg, (enum client_id)c, cmd, sizeof(cmd));
		fprintf(f, "%s    {\"client\": \"%s\", \"command\": ", first ? "" : ",\n", clients[c].name);
		json_string(f, cmd);
		fprintf(f, ", \"status\": \"%s\"", status_name[r->status]);
		first = false;
		if (r->status == CELL_OK) {
			fprintf(f, ", \"runs\": %d", r->runs);
			json_num(f, "native_s", r->native_med);
			json_num(f, "vmemu_s", r->vmemu_med);
			json_num(f, "vmemu_vs_native", client_ratio(r));
			fprintf(f, ", \"native_runs_s\": [");
			for (int i = 0; i < r->runs; i++)
				fprintf(f, "%s%.6g", i ? ", " : "", r->native_s[i]);
			fprintf(f, "], \"vmemu_runs_s\": [");
			for (int i = 0; i < r->runs; i++)
				fprintf(f, "%s%.6g", i ? ", " : "", r->vmemu_s[i]);
			fprintf(f, "], \"warmup\": %s, \"pgfault\": %llu, \"pgmajfault\": %llu, \"wp_fault\": %llu, "
				"\"pgpgin\": %llu, \"pgpgout\": %llu, \"fault_ns\": %llu, \"output\": ",
				r->warmup ? "true" : "false", (unsigned long long)r->vm.pgfault,
				(unsigned long long)r->vm.pgmajfault, (unsigned long long)r->vm.wp_fault,
				(unsigned long long)r->vm.pgpgin, (unsigned long long)r->vm.pgpgout,
				(unsigned long long)r->vm.fault_ns);
			json_string(f, r->summary);
		}
		fprintf(f, ", \"note\": ");
		json_string(f, r->note);
		fprintf(f, "}");
	}
	fprintf(f, "%s  ]\n}\n", first ? "" : "\n");
}

/* --- the results page ------------------------------------------------------------- */

/* vmemu's memory per cell, and what the budget scan showed. */
static void report_memory_section(FILE *f, const struct matrix *mx)
{
	const struct cell_result *vb = ok(mx, W_BUDGET, M_VMEMU), *kw = ok(mx, W_SEQ_WARM, M_KERNEL);
	char b1[24], b2[24], b3[24], b4[24], a[16];
	bool any = false;

	for (int w = 0; w < NR_WORKLOADS; w++)
		for (int m = 0; m < NR_MECHANISMS; m++)
			any |= ok(mx, w, m) && mx->cell[w][m].mem;
	if (!any)
		return;
	fprintf(f, "\n## vmemu memory and reclaim\n\nFrom `vme_stats`, in 4 KiB pages. Levels: `budget` is "
		"`nr_budget`; `resident max` is the most `nr_resident` seen, sampled every %lu accesses (about "
		"2 us a call, inside the bulk time) and at the end of the run; `resident end` is `nr_resident` "
		"at the end, before munmap; `host VMAs` is the most `nr_host_vmas` seen; `fits` says whether "
		"`resident max` stayed within `budget`. The other columns count over the run. `-`: vme_stats "
		"reports no budget (`nr_budget` 0), so this vmemu keeps none.\n\n", SAMPLE_EVERY);
	fprintf(f, "| workload | mechanism | budget | resident max | resident end | fits | pgevict | pgscan | "
		"pgreadahead | pgfaultaround | pswpin | pswpout | host VMAs | host_vma_reclaim |\n"
		"|---|---|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
	for (int w = 0; w < NR_WORKLOADS; w++)
		for (int m = 0; m < NR_MECHANISMS; m++) {
			const struct cell_result *c = ok(mx, w, m);
			if (!c || !c->mem)
				continue;
			fprintf(f, "| %s | %s | %s | %s | %s | %s | %llu | %llu | %llu | %llu | %llu | %llu | %s | "
				"%llu |\n", workloads[w].name, mechanisms[m]->name,
				level(b1, sizeof(b1), c, c->nr_budget), level(b2, sizeof(b2), c, c->resident_max),
				level(b3, sizeof(b3), c, c->resident_end), within_budget(c),
				(unsigned long long)c->pgevict, (unsigned long long)c->pgscan,
				(unsigned long long)c->pgreadahead, (unsigned long long)c->pgfaultaround,
				(unsigned long long)c->pswpin, (unsigned long long)c->pswpout,
				level(b4, sizeof(b4), c, c->host_vmas_max), (unsigned long long)c->host_vma_reclaim);
		}
	bool budget = false;
	for (int m = 0; m < NR_MECHANISMS; m++)
		budget |= mx->want[W_BUDGET][m];
	if (!budget)
		return;
	fprintf(f, "\nThe budget scan hands vmemu `vme_config.cache_mb` = %lu and leaves eviction to vmemu's "
		"own reclaim: nothing in the benchmark evicts for vmemu. The floors and the userfaultfd pager keep the "
		"same number of pages by evicting their oldest quarter-budget when over, and pread reads "
		"windows no larger than the budget. The host kernel has no per-process budget, so its "
		"budget-scan cells are n/a and the reference is its plain warm scan of the same file "
		"(seq-warm / kernel).", mx->cfg->budget_mb);
	if (vb && kw)
		fprintf(f, " Here vmemu's budget scan ran at %.2f GB/s, %s the kernel's warm scan (%.2f GB/s), "
			"and evicted %llu pages.", gbps(vb), ratio(a, sizeof(a), vs_kernel(mx, W_BUDGET, M_VMEMU)),
			gbps(kw), (unsigned long long)vb->pgevict);
	if (vb && mem_reported(vb))
		fprintf(f, " At most %llu pages were resident against a budget of %llu: %s.",
			(unsigned long long)vb->resident_max, (unsigned long long)vb->nr_budget,
			vb->resident_max <= vb->nr_budget ? "within the budget" : "**over the budget**");
	else if (vb)
		fprintf(f, " This vmemu reports no budget (`nr_budget` 0): it kept none, and the cell measured "
			"an unbounded scan.");
	fprintf(f, "\n");
}

/* What warmed vmemu's cache in the CS_WARM cells, and what the scan read. */
static void report_warm_section(FILE *f, const struct matrix *mx)
{
	bool any = false;

	for (int w = 0; w < NR_WORKLOADS; w++)
		for (int m = 0; m < NR_MECHANISMS; m++) {
			const struct cell_result *c = ok(mx, w, m);
			if (!c || !c->warm)
				continue;
			if (!any)
				fprintf(f, "\n## Warm, for vmemu\n\nA warm cell's file is in the mechanism's own page "
					"cache. For the kernel that is the host page cache, which a pass of 1 MiB "
					"preads fills. vmemu keeps a cache of its own, frames in its domain segment, "
					"so its warm cells first read the file with 1 MiB `vme_pread`s, as a "
					"switched-over program would; `vme_pread` reads through the host and copies "
					"over only the pages vmemu's cache already holds, so when that pass leaves "
					"the file out of the cache (`nr_cached` below), a mapped read pass follows: "
					"`vme_mmap`, a load from every page, `vme_munmap`; the cache keeps the pages "
					"after the unmap. The timed scan's own `pgpgin` (pages read from the file) "
					"and `pgmajfault` then show whether it found them there.\n\n| workload | "
					"mechanism | file pages | cached after vme_pread | mapped pass | cached at "
					"the start | scan pgpgin | scan pgmajfault |\n|---|---|--:|--:|---|--:|--:|--:|\n");
			any = true;
			fprintf(f, "| %s | %s | %zu | %llu | %s | %llu | %llu | %llu |\n", workloads[w].name,
				mechanisms[m]->name, mx->cfg->size / PG, (unsigned long long)c->warm_read_cached,
				c->warm_mapped ? "yes" : "no", (unsigned long long)c->warm_cached,
				(unsigned long long)c->pgpgin, (unsigned long long)c->pgmajfault);
		}
}

/* The two-thread workloads: each mechanism's throughput with 1 and 2 threads. */
static void report_threads_section(FILE *f, const struct matrix *mx)
{
	char a[16];
	bool any = false;

	for (int w = 0; w < NR_WORKLOADS; w++)
		for (int m = 0; m < NR_MECHANISMS; m++) {
			const struct cell_result *c = ok(mx, w, m);
			if (!c || c->tput1 <= 0)
				continue;
			if (!any)
				fprintf(f, "\n## Two threads\n\nPages per second, one thread on the whole page set, "
					"then two threads on disjoint halves of it, each phase on a fresh mapping; "
					"for vmemu, pages read per major fault in each phase (`-`: none).\n\n"
					"| workload | mechanism | 1 thread | 2 threads | 2 / 1 | faults/page, 1 | "
					"faults/page, 2 | pages/major, 1 | pages/major, 2 |\n"
					"|---|---|--:|--:|--:|--:|--:|--:|--:|\n");
			any = true;
			fprintf(f, "| %s | %s | %.0f | %.0f | %s | %.3f | %.3f |", workloads[w].name,
				mechanisms[m]->name, c->tput1, c->tput2, ratio(a, sizeof(a), c->tput2 / c->tput1),
				c->phase_faults[0], c->phase_faults[1]);
			for (int p = 0; p < 2; p++)
				fprintf(f, c->phase_major_pages[p] > 0 ? " %.1f |" : " - |", c->phase_major_pages[p]);
			fprintf(f, "\n");
		}
}

/* sparse-rss: what each mechanism's RSS grew by, and of what. */
static void report_sparse_section(FILE *f, const struct matrix *mx)
{
	double data = (double)mx->cfg->sparse_pages * PG;
	char a[16];
	bool any = false;

	for (int m = 0; m < NR_MECHANISMS; m++) {
		const struct cell_result *c = ok(mx, W_SPARSE, m);
		if (!c || !c->rss)
			continue;
		if (!any)
			fprintf(f, "\n## Memory of a sparse terabyte\n\n%zu random pages of a 1 TiB sparse file, "
				"%.1f MiB of data: how much the process's resident memory grew from before the "
				"mapping to after the last access (`/proc/self/status`, in MiB), by kind. For "
				"vmemu, `shmem` is the frames of its domain segment mapped at the program's "
				"addresses and in the library's own view of them (a page in both counts twice); "
				"`anon`, its per-process structures. RSS leaves out the frames vmemu's cache "
				"holds but this process no longer maps (its host mapping budget unmaps scattered "
				"pages), so `segment` is what the domain segment allocated meanwhile, frames and "
				"shared metadata, mapped or not, and `held` = anon + file + segment (the kernel: "
				"its RSS) is the memory the process came to hold; issue 12's goal is judged on "
				"`held / data`.\n\n| mechanism | RSS growth | anon | file | shmem | segment | held "
				"| RSS / data | held / data | faults/page |\n"
				"|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n", mx->cfg->sparse_pages,
				data / (1 << 20));
		any = true;
		fprintf(f, "| %s | %.1f | %.1f | %.1f | %.1f |", mechanisms[m]->name,
			(double)c->rss_growth / (1 << 20), (double)c->rss_anon / (1 << 20),
			(double)c->rss_file / (1 << 20), (double)c->rss_shmem / (1 << 20));
		if (c->segment_growth >= 0)
			fprintf(f, " %.1f |", (double)c->segment_growth / (1 << 20));
		else
			fprintf(f, " - |");
		fprintf(f, " %.1f | %s |", (double)c->held_growth / (1 << 20),
			ratio(a, sizeof(a), sparse_ratio(mx, c, true)));
		fprintf(f, " %s | %.3f |\n", ratio(a, sizeof(a), sparse_ratio(mx, c, false)), c->faults_per_page);
	}
}

/* The clients' table: each program's command, its medians and their ratio. */
static void report_clients_section(FILE *f, const struct matrix *mx)
{
	char a[16], cmd[512];

	if (!any_client(mx))
		return;
	fprintf(f, "\n## Real programs, native and switched over\n\nEach client is a program of `tests/clients/` "
		"built twice from the same objects (`make clients`): natively (`build/clients/PROGRAM`), and "
		"switched over to vmemu at link time (`PROGRAM-wrap`: `-Wl,--wrap` for every call in "
		"`src/api/wrap.syms`, against `libvmemu.so`). LMDB, SQLite and GDBM are Debian's static "
		"`liblmdb.a`, `libsqlite3.a` and `libgdbm.a`, so their own calls are switched over too. After "
		"one untimed run of each build, the two run in turn, `runs` times each (a long client, "
		"gdbm-load, runs once each, with no untimed run first, unless `--client-runs` is given), each "
		"run in a fresh directory under the test file's directory (map-scan's file is made once and "
		"reused). `native s` and `vmemu s` are the median wall times of the whole process (start, "
		"vmemu's setup, the workload with its own verification, vmemu's write-back at exit), with the "
		"fastest and slowest run; `vmemu / native` is their ratio (lower is better; 1.00x: as fast). "
		"Every run must exit 0 and print what the native build printed (each program verifies every "
		"record and exits 1 on any difference), and every switched-over run must fault on vmemu: "
		"`pgfault`, `pgmajfault`, `handler s` (`fault_ns`, the time in vmemu's fault handler) and "
		"`pgpgout` (pages written back) are vmemu's counters (`VMEMU_VERBOSE=1`) in the last "
		"switched-over run, over all its processes.\n\n");
	fprintf(f, "| client | command | runs | native s | vmemu s | vmemu / native | pgfault | pgmajfault | "
		"handler s | pgpgout | output (the same both ways) |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|\n");
	for (int c = 0; c < NR_CLIENTS; c++) {
		const struct client_result *r = &mx->client[c];
		if (!mx->want_client[c])
			continue;
		client_command(mx->ccfg, (enum client_id)c, cmd, sizeof(cmd));
		fprintf(f, "| %s | `%s` |", clients[c].name, cmd);
		if (r->status != CELL_OK) {
			fprintf(f, " %s | | | | | | | | why: below |\n", status_text[r->status]);
			continue;
		}
		fprintf(f, " %d | %.3f (%.3f-%.3f) | %.3f (%.3f-%.3f) | %s | %llu | %llu | %.3f | %llu | %s |\n",
			r->runs, r->native_med, runs_min(r->native_s, r->runs), runs_max(r->native_s, r->runs),
			r->vmemu_med, runs_min(r->vmemu_s, r->runs), runs_max(r->vmemu_s, r->runs),
			ratio(a, sizeof(a), client_ratio(r)), (unsigned long long)r->vm.pgfault,
			(unsigned long long)r->vm.pgmajfault, (double)r->vm.fault_ns / 1e9,
			(unsigned long long)r->vm.pgpgout, r->summary);
	}
	fprintf(f, "\nClients:\n\n");
	for (int c = 0; c < NR_CLIENTS; c++)
		if (mx->want_client[c])
			fprintf(f, "- `%s`: %s.\n", clients[c].name, clients[c].describe);
	if (client_ok(mx, C_MAP_SCAN))
		fprintf(f, "\nIssue 11 asked the map/read/unmap loop (map-scan) to come within 3x of the kernel; "
			"here it is at %s.\n", ratio(a, sizeof(a), client_ratio(client_ok(mx, C_MAP_SCAN))));
	bool failed = false;
	for (int c = 0; c < NR_CLIENTS; c++)
		failed |= mx->want_client[c] && mx->client[c].status != CELL_OK;
	if (failed) {
		fprintf(f, "\nNot measured:\n\n");
		client_notes(f, mx, "- ");
	}
}

int report_results_page(const char *path, const struct matrix *mx)
{
	const struct machine *mc = &mx->machine;
	struct target t[NR_TARGETS];
	char sz[32], def[32], a[16], b[16];
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	size_text(sz, sizeof(sz), mx->cfg->size);
	fprintf(f, "# vmemu-bench results\n\n");
	fprintf(f, "Written by `vmemu-bench` (the command below; `make bench` runs it) on %s. Every number "
		"on this page comes from that one run; the ratios compare cells of the same run, since these machines are too "
		"noisy for anything else.\n\n", mc->date);
	fprintf(f, "## Machine\n\n");
	fprintf(f, "- CPU: %s, %ld online CPUs (nproc)\n", mc->model, mc->nproc);
	fprintf(f, "- kernel: %s (uname -r)\n", mc->kernel);
	fprintf(f, "- memory: %lu MiB\n", mc->mem_mib);
	fprintf(f, "- transparent huge pages (anonymous): `%s`\n", mc->thp);
	fprintf(f, "- test file: %s, on %s; written with 1 MiB writes, fdatasync'ed; every cell but the cold "
		"ones re-reads it with 1 MiB preads right before measuring, in whatever folio sizes the file "
		"system chose; sparse-rss's file: 1 TiB, ftruncate'd, in the same directory\n", sz, mc->fs);
	fprintf(f, "- vm.unprivileged_userfaultfd: %s; uid %d\n", mc->uffd_sysctl, (int)getuid());
	fprintf(f, "- virtio-balloon free page reporting: %s\n", mc->page_reporting);
	fprintf(f, "- load average (1 minute, /proc/loadavg): %s before the run, %s after it; the run itself "
		"keeps about one CPU busy (two in the two-thread phases), so more than that means other work "
		"shared the CPUs\n",
		mc->load_start, mc->load_end);
	fprintf(f, "- timer: %s; an empty timed access costs %.0f ns and is included in every latency\n\n",
		timer_describe(), timer_overhead_ns());
	fprintf(f, "## Command\n\n```\n%s\n```\n\n", mc->command);
	size_text(def, sizeof(def), mx->default_size);
	if (mx->cfg->size == mx->default_size)
		fprintf(f, "The scan file is %s, the program's default size.", sz);
	else
		fprintf(f, "The scan file is %s rather than the program's %s default: `make bench` uses 256 MiB "
			"so that it finishes in a few minutes (the userfaultfd cells alone take tens of "
			"seconds per GiB). `make bench BENCHFLAGS='--size 1G'` runs the full size.", sz, def);
	fprintf(f, " The budget-scan workload's memory budget is %lu MiB (`--budget-mb`), %zu pages, %.0f%% "
		"of the file; sparse-rss touches %zu pages (`--sparse-pages`).\n", mx->cfg->budget_mb,
		budget_pages(mx), 100.0 * (double)budget_pages(mx) / (double)(mx->cfg->size / PG),
		mx->cfg->sparse_pages);

	compute_targets(mx, t);
	fprintf(f, "\n## Issue 12's targets\n\nEach goal of issue 12's table, as a ratio between cells (or "
		"client runs) of this run; the cells are below.\n\n| measure | goal | this run | |\n"
		"|---|---|--:|---|\n");
	for (int i = 0; i < NR_TARGETS; i++) {
		char v[64];
		fprintf(f, "| %s | %s | %s | %s |\n", t[i].measure, t[i].goal, ratio(a, sizeof(a), t[i].value),
			target_verdict(v, sizeof(v), &t[i], true));
	}
	bool missed = false;
	for (int i = 0; i < NR_TARGETS; i++) {
		if (isnan(t[i].value) || target_met(&t[i]))
			continue;
		if (!missed)
			fprintf(f, "\n### Missed: how far, where the time (or memory) goes, what would close it\n");
		missed = true;
		if (target_missed(&t[i]))
			fprintf(f, "\n**%s** (goal %s, measured %s): %s\n", t[i].measure, t[i].goal,
				ratio(a, sizeof(a), t[i].value), t[i].evidence);
		else
			fprintf(f, "\n**%s** (goal %s): not measured, since a cell or client run it needs did not "
				"run or failed (see the notes at the end).\n", t[i].measure, t[i].goal);
	}
	fprintf(f, "\n");
	fprintf(f, "## What is measured\n\nEach cell (workload x mechanism) runs in its own forked child, "
		"so each mechanism owns SIGSEGV alone. Every access is timed on its own (%s); a cell reports "
		"the median, p90, p99, p99.9 and max of those times, the bulk time (wall time of the whole "
		"workload, including untimed work such as reading the rest of each page, evictions, "
		"msync and vmemu's memory samples) per page, and faults per page as the mechanism counts them.\n\n", timer_describe());
	fprintf(f, "Mechanisms:\n\n");
	for (int m = 0; m < NR_MECHANISMS; m++)
		fprintf(f, "- `%s`: %s. Faults: %s.\n", mechanisms[m]->name, mechanisms[m]->describe,
			mechanisms[m]->faults_source);
	fprintf(f, "\nWorkloads (%zu random pages for the random ones):\n\n", mx->cfg->rand_pages);
	for (int w = 0; w < NR_WORKLOADS; w++)
		fprintf(f, "- `%s`: %s.\n", workloads[w].name, workloads[w].describe);

	fprintf(f, "\n## Results\n\nns per access; `tput/kernel` = kernel bulk time / this bulk time (higher is "
		"faster; for budget-scan and seq-first, the kernel's seq-warm bulk time, since the host kernel "
		"keeps no per-process budget and no page cache but the host's); `p50/floor` = this median / "
		"floor-safe median (lower is faster).\n\n");
	fprintf(f, "| workload | mechanism | p50 | p90 | p99 | p99.9 | max | bulk ns/page | GB/s | faults/page "
		"| tput/kernel | p50/floor |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
	for (int w = 0; w < NR_WORKLOADS; w++)
		for (int m = 0; m < NR_MECHANISMS; m++) {
			const struct cell_result *c = &mx->cell[w][m];
			if (!mx->want[w][m])
				continue;
			fprintf(f, "| %s | %s |", workloads[w].name, mechanisms[m]->name);
			if (c->status != CELL_OK) {
				fprintf(f, " %s | | | | | | | | | |\n", status_text[c->status]);
				continue;
			}
			fprintf(f, " %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f | %.3f | %s | %s |\n", c->p50,
				c->p90, c->p99, c->p999, c->max, c->bulk_ns, gbps(c), c->faults_per_page,
				ratio(a, sizeof(a), vs_kernel(mx, w, m)), ratio(b, sizeof(b), vs_floor(mx, w, m)));
		}

	fprintf(f, "\n## Where vmemu's fault time goes\n\nMean ns per fault, from `vme_stats` deltas over each "
		"cell: `handler` is `fault_ns`/`pgfault`; `rest` = handler - (lookup + fill + protect); "
		"`signal+host` = the measured latency per fault - handler, i.e. signal delivery, the return "
		"and the host's own fault on the now-accessible page.\n\n");
	fprintf(f, "| workload | mechanism | faults | latency | handler | lookup | fill | protect | rest | "
		"signal+host |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
	for (int w = 0; w < NR_WORKLOADS; w++)
		for (int m = 0; m < NR_MECHANISMS; m++) {
			const struct cell_result *c = ok(mx, w, m);
			if (c && c->breakdown)
				fprintf(f, "| %s | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n",
					workloads[w].name, mechanisms[m]->name, c->bd_faults, c->bd_latency,
					c->bd_handler, c->bd_lookup, c->bd_fill, c->bd_protect, rest_ns(c),
					signal_ns(c));
		}

	report_memory_section(f, mx);
	report_warm_section(f, mx);
	report_threads_section(f, mx);
	report_sparse_section(f, mx);
	report_clients_section(f, mx);

	fprintf(f, "\n## Notes\n\n");
	fprintf(f, "- `vmemu-random` is to `vmemu` what `kernel-random` is to `kernel`: MADV_RANDOM over the "
		"mapping. In vmemu it turns readahead, fault-around and anonymous fault-around off, so every "
		"fault maps one page. The kernel's MADV_RANDOM does not turn off fault-around on Linux 6.18 "
		"(see its faults per page on the read workloads); it does turn off readahead, which is what "
		"the cold scan shows.\n");
	fprintf(f, "- The floors and the userfaultfd pager do not track dirty pages: their msync writes back "
		"every page faulted in.\n");
	fprintf(f, "- Hygiene: each cell's child first populates and frees as much anonymous memory as the "
		"cell will allocate (twice the file for the cold scan and COW), because with free page "
		"reporting the hypervisor takes back memory freed a few seconds earlier, and the first cell "
		"to touch it again paid up to twice the fill cost. Every cell but the cold ones re-reads the "
		"file right before measuring; the cold cell drops it and checks with mincore that it is gone.\n");
	fprintf(f, "- Noise: cells on this VM vary between runs, most visibly the cold scans (host-side I/O "
		"caching) and anything with short runs (the kernel's two-thread cells last a few ms); the load "
		"average above says whether other work shared the CPUs.\n");
	print_notes(f, mx, "- ");
	fclose(f);
	return 0;
}

/* --- the plot ----------------------------------------------------------------------- */

/* Write a gnuplot script drawing each workload's per-access latency CDFs,
 * with the data inline, and run gnuplot on it when it is installed. */
int report_plot(const char *path, const struct matrix *mx)
{
	const char *ext = strrchr(path, '.');
	bool svg = ext && !strcmp(ext, ".svg"), png = ext && !strcmp(ext, ".png");
	char script[4200];
	FILE *f;

	if (!svg && !png) {
		fprintf(stderr, "vmemu-bench: --plot wants a file name ending in .svg or .png\n");
		return -EINVAL;
	}
	snprintf(script, sizeof(script), "%s.gp", path);
	if (!(f = fopen(script, "w")))
		return -errno;
	fprintf(f, "# vmemu-bench latency CDFs; run: gnuplot %s\n", script);
	fprintf(f, "set terminal %s size 1800,1200%s\nset output '%s'\n", svg ? "svg" : "pngcairo",
		svg ? " dynamic" : "", path);
	fprintf(f, "set multiplot layout 3,3 title 'vmemu-bench: per-access latency CDF (%s)'\n", mx->machine.date);
	fprintf(f, "set logscale x\nset xlabel 'ns per access'\nset ylabel 'fraction of accesses'\n"
		"set yrange [0:1]\nset key bottom right font ',8'\nset grid\n");
	for (int w = 0; w < NR_WORKLOADS; w++) {
		int n = 0;
		for (int m = 0; m < NR_MECHANISMS; m++)
			n += ok(mx, w, m) != NULL;
		if (!n)
			continue;
		fprintf(f, "set title '%s'\nplot ", workloads[w].name);
		int k = 0;
		for (int m = 0; m < NR_MECHANISMS; m++)
			if (ok(mx, w, m))
				fprintf(f, "%s'-' using 1:2 with lines lw 2 title '%s'", k++ ? ", " : "",
					mechanisms[m]->name);
		fprintf(f, "\n");
		for (int m = 0; m < NR_MECHANISMS; m++) {
			const struct cell_result *c = ok(mx, w, m);
			if (!c)
				continue;
			for (int i = 0; i < CDF_POINTS; i++)
				fprintf(f, "%.1f %.5f\n", c->cdf[i] > 1 ? c->cdf[i] : 1.0,
					(double)i / (CDF_POINTS - 1));
			fprintf(f, "e\n");
		}
	}
	fprintf(f, "unset multiplot\n");
	fclose(f);
	if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
		fprintf(stderr, "vmemu-bench: --plot: gnuplot is not installed (`command -v gnuplot` found "
			"nothing), so %s was not drawn. The script with its data is in %s: run `gnuplot %s` "
			"where gnuplot is installed.\n", path, script, script);
		return 0;
	}
	char cmd[8600];
	snprintf(cmd, sizeof(cmd), "gnuplot '%s'", script);
	if (system(cmd) != 0) {
		fprintf(stderr, "vmemu-bench: --plot: gnuplot failed on %s\n", script);
		return -EIO;
	}
	fprintf(stderr, "vmemu-bench: latency CDFs drawn in %s (script: %s)\n", path, script);
	return 0;
}
