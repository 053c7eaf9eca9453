/*
 * report.c - what vmemu-bench prints: the terminal table, CSV, JSON, the
 * results page (docs/bench/results.md) with its targets, and the latency
 * plot through gnuplot.
 *
 * Ratios are always between cells of this one run:
 *   tput/kernel  the kernel cell's bulk ns per page / this cell's (higher is
 *                faster); for budget-scan, the kernel's seq-warm cell, since
 *                the host kernel has no per-process budget
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
	return w == W_BUDGET ? W_SEQ_WARM : w;
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

/* --- targets -------------------------------------------------------------------- */

struct target {
	char measure[160];
	const char *goal;
	double value;		/* NAN: not measured */
	double threshold;
	bool higher_better;
	bool info;		/* no target: the value is shown beside the others */
	char evidence[1600];	/* why it is missed and what would close the gap */
};

/* The targets in its order, each with the reference the reader
 * needs beside it: the copy ceiling next to the warm scan, the budget scan
 * (shown, no target) next to the cold scan. */
enum { T_RAND_FLOOR, T_UFFD, T_WARM, T_COPY, T_COLD, T_BUDGET, T_ANON, T_THREADS, NR_TARGETS };

static bool target_met(const struct target *t)
{
	return !t->info && !isnan(t->value) &&
	       (t->higher_better ? t->value >= t->threshold : t->value <= t->threshold);
}

static bool target_missed(const struct target *t)
{
	return !t->info && !isnan(t->value) && !target_met(t);
}

static const char *target_verdict(const struct target *t)
{
	return isnan(t->value) ? "not measured" : t->info ? "shown (no target)" : target_met(t) ? "**met**"
											       : "**missed**";
}

/* One sentence on where a vmemu fault's time goes. */
static void breakdown_sentence(char *buf, size_t len, const struct cell_result *v)
{
	if (!v || !v->breakdown) {
		snprintf(buf, len, "(no vmemu breakdown for this cell)");
		return;
	}
	snprintf(buf, len, "per vmemu fault (%.2f faults per page): %.0f ns measured, of which %.0f ns in the "
		 "handler (lookup %.0f, fill %.0f, host mprotect %.0f, rest %.0f) and %.0f ns signal delivery, "
		 "return and the host's own fault",
		 v->faults_per_page, v->bd_latency, v->bd_handler, v->bd_lookup, v->bd_fill, v->bd_protect,
		 rest_ns(v), signal_ns(v));
}

static void compute_targets(const struct matrix *mx, struct target *t)
{
	const struct cell_result *vr = ok(mx, W_RAND, M_VMEMU), *fr = ok(mx, W_RAND, M_FLOOR_SAFE),
		*ur = ok(mx, W_RAND, M_UFFD_XCPU), *us = ok(mx, W_RAND, M_UFFD_SAMECPU), *pr = ok(mx, W_RAND, M_PREAD), *uf = ok(mx, W_RAND, M_FLOOR_UNSAFE);
	const struct cell_result *vw = ok(mx, W_SEQ_WARM, M_VMEMU), *kw = ok(mx, W_SEQ_WARM, M_KERNEL),
		*pw = ok(mx, W_SEQ_WARM, M_PREAD), *fw = ok(mx, W_SEQ_WARM, M_FLOOR_SAFE);
	const struct cell_result *vc = ok(mx, W_SEQ_COLD, M_VMEMU), *kc = ok(mx, W_SEQ_COLD, M_KERNEL),
		*pc = ok(mx, W_SEQ_COLD, M_PREAD);
	const struct cell_result *va = ok(mx, W_ANON, M_VMEMU), *ka = ok(mx, W_ANON, M_KERNEL),
		*fa = ok(mx, W_ANON, M_FLOOR_SAFE);
	const struct cell_result *vt = ok(mx, W_TWO_THREADS, M_VMEMU), *kt = ok(mx, W_TWO_THREADS, M_KERNEL),
		*ft = ok(mx, W_TWO_THREADS, M_FLOOR_SAFE), *ut = ok(mx, W_TWO_THREADS, M_FLOOR_UNSAFE);
	char bd[600];

	memset(t, 0, NR_TARGETS * sizeof(*t));
	t[T_RAND_FLOOR] = (struct target){ .measure = "vmemu random 4 KiB read fault, median / floor-safe median", .goal = "<= 1.2x",
		.value = vr && fr ? vr->p50 / fr->p50 : NAN, .threshold = 1.2, .higher_better = false };
	t[T_UFFD] = (struct target){ .measure = "userfaultfd pager (handler on another CPU) median / vmemu median, random 4 KiB read fault", .goal = ">= 4x faster",
		.value = vr && ur ? ur->p50 / vr->p50 : NAN, .threshold = 4.0, .higher_better = true };
	t[T_WARM] = (struct target){ .measure = "vmemu warm sequential scan throughput / kernel mmap", .goal = ">= 0.3x",
		.value = vs_kernel(mx, W_SEQ_WARM, M_VMEMU), .threshold = 0.3, .higher_better = true };
	t[T_COPY] = (struct target){ .measure = "copy ceiling: pread 1 MiB windows into recycled buffers + scan / "
		"kernel", .goal = "none (shown)",
		.value = vs_kernel(mx, W_SEQ_WARM, M_PREAD), .info = true };
	t[T_COLD] = (struct target){ .measure = "vmemu cold sequential scan throughput / kernel mmap", .goal = ">= 1.0x",
		.value = vs_kernel(mx, W_SEQ_COLD, M_VMEMU), .threshold = 1.0, .higher_better = true };
	t[T_BUDGET] = (struct target){ .goal = "none (shown)", .value = vs_kernel(mx, W_BUDGET, M_VMEMU),
		.info = true };
	snprintf(t[T_BUDGET].measure, sizeof(t[T_BUDGET].measure), "vmemu scan under a %lu MiB budget / kernel "
		 "warm scan (kernel: no budget)", mx->cfg->budget_mb);
	t[T_ANON] = (struct target){ .measure = "vmemu anonymous first-touch throughput / kernel", .goal = ">= 0.7x",
		.value = vs_kernel(mx, W_ANON, M_VMEMU), .threshold = 0.7, .higher_better = true };
	t[T_THREADS] = (struct target){ .measure = "vmemu two-thread / one-thread throughput, disjoint pages", .goal = ">= 1.7x",
		.value = vt && vt->tput1 > 0 ? vt->tput2 / vt->tput1 : NAN, .threshold = 1.7, .higher_better = true };

	if (vr && fr) {
		breakdown_sentence(bd, sizeof(bd), vr);
		snprintf(t[T_RAND_FLOOR].evidence, sizeof(t[0].evidence),
			 "vmemu's median fault is %.0f ns against %.0f ns for the safe floor, which does the same "
			 "pread into a memfd alias and mprotect with no emulation around it (the unsafe floor: "
			 "%.0f ns; a bare 4 KiB pread into a hot buffer: %.0f ns). Breakdown %s. The excess over "
			 "the floor is the emulation's own work (rest %.0f ns, lookup %.0f ns) and any fill or "
			 "mprotect cost above the floor's. What would close it: a shorter handler path (fewer "
			 "clock reads and atomics per fault), and recycled, already-populated frames so that the "
			 "fill copies into a page the host need not allocate and zero.",
			 vr->p50, fr->p50, uf ? uf->p50 : NAN, pr ? pr->p50 : NAN, bd, rest_ns(vr), vr->bd_lookup);
	}
	if (vr && ur)
		snprintf(t[T_UFFD].evidence, sizeof(t[0].evidence),
			 "with its handler thread on another CPU, the userfaultfd pager's median fault is %.0f ns "
			 "(p90 %.0f ns) against vmemu's %.0f ns; with the handler on the faulting thread's CPU it "
			 "is %.0f ns. A uffd fault puts the faulting thread to sleep and wakes the handler, and "
			 "UFFDIO_COPY wakes the faulting thread again: across CPUs that is two inter-processor "
			 "wake-ups, on one CPU two context switches. vmemu handles the fault on the faulting "
			 "thread, so its cost is its own handler plus signal delivery (breakdown above). The "
			 "ratio grows only as vmemu's own fault cost shrinks: the safe floor, the least any "
			 "SIGSEGV pager pays, is %.0f ns here.",
			 ur->p50, ur->p90, vr->p50, us ? us->p50 : NAN, fr ? fr->p50 : NAN);
	if (vw && kw) {
		breakdown_sentence(bd, sizeof(bd), vw);
		snprintf(t[T_WARM].evidence, sizeof(t[0].evidence),
			 "vmemu scans at %.2f GB/s against the kernel's %.2f GB/s, with %.3f faults per page "
			 "against the kernel's %.3f (fault-around maps whole folios and page-table runs per "
			 "fault); vmemu read %llu pages ahead and mapped %llu around the faulting ones. "
			 "Breakdown %s. The safe floor, one page per fault with no emulation, reaches %.2f GB/s: "
			 "at one SIGSEGV and one mprotect per 4 KiB page no pager reaches the target, whatever it "
			 "does inside the handler. The copy ceiling, pread of the same 1 MiB windows into "
			 "already-populated buffers and then the scan, is %.2f GB/s (%.2fx kernel). %s",
			 gbps(vw), gbps(kw), vw->faults_per_page, kw->faults_per_page,
			 (unsigned long long)vw->pgreadahead, (unsigned long long)vw->pgfaultaround, bd,
			 fw ? gbps(fw) : NAN, pw ? gbps(pw) : NAN, pw ? kw->bulk_ns / pw->bulk_ns : NAN,
			 vw->faults_per_page >= 0.5
				 ? "What would close the gap: fault-around and readahead windows that fill and "
				   "expose 16-256 pages per fault with one signal and one mprotect, into recycled "
				   "pre-populated frames, with clustered mprotect."
				 : "With fewer than one fault per two pages the signal is amortised; what is left "
				   "is the work per page of each window, the fill's copy (which the copy ceiling "
				   "bounds) and exposing the window: the breakdown's fill and protect, over the "
				   "pages each fault brings in.");
	}
	if (vc && kc) {
		bool per_page = vc->faults_per_page >= 0.5 && !vc->pgreadahead;
		breakdown_sentence(bd, sizeof(bd), vc);
		snprintf(t[T_COLD].evidence, sizeof(t[0].evidence),
			 "cold, vmemu scans at %.2f GB/s against the kernel's %.2f GB/s (pread of 1 MiB windows: "
			 "%.2f GB/s), with %.3f faults per page and %llu pages read ahead. Breakdown %s. %s",
			 gbps(vc), gbps(kc), pc ? gbps(pc) : NAN, vc->faults_per_page,
			 (unsigned long long)vc->pgreadahead, bd,
			 per_page
				 ? "Each fault reads 4 KiB synchronously; the host's readahead on vmemu's "
				   "descriptor helps, but every page still pays a signal, a pread and an "
				   "mprotect, while the kernel's readahead reads large blocks asynchronously and "
				   "fault-around maps many pages per fault. What would close the gap: vmemu "
				   "readahead, reading large windows ahead of the faulting page and exposing "
				   "them in clusters."
				 : "A cold scan is bound by the device, which the kernel's readahead keeps busy by "
				   "reading the next window while the program scans this one. What would close "
				   "the gap: readahead issued ahead of the scan, in windows large enough that the "
				   "device is never idle between them.");
	}
	if (va && ka) {
		double floor_ratio = vs_kernel(mx, W_ANON, M_FLOOR_SAFE);
		breakdown_sentence(bd, sizeof(bd), va);
		snprintf(t[T_ANON].evidence, sizeof(t[0].evidence),
			 "vmemu's anonymous first touch costs %.0f ns per page against the kernel's %.0f ns. "
			 "Breakdown %s. The fill is nothing (the host supplies the zero page); the cost is the "
			 "signal and the host mprotect, which the bare floor pays too: %.0f ns per page, %.2fx "
			 "kernel%s What would close the gap: fault-around for anonymous memory (make an aligned "
			 "cluster present on the first touch, one signal and one mprotect per cluster; issue 3), "
			 "at the price of committing memory that may never be touched.",
			 va->bulk_ns, ka->bulk_ns, bd, fa ? fa->bulk_ns : NAN, floor_ratio,
			 floor_ratio < 0.7 ? ": no design that takes one SIGSEGV per 4 KiB page meets this "
					     "target on this machine."
					   : ", so part of the gap is vmemu's own handler time.");
	}
	if (vt) {
		double fr2 = ft ? ft->tput2 / ft->tput1 : NAN;
		breakdown_sentence(bd, sizeof(bd), vt);
		snprintf(t[T_THREADS].evidence, sizeof(t[0].evidence),
			 "with two threads vmemu handles %.0f faults/s against %.0f with one (%.2fx). Breakdown "
			 "(two threads) %s. Every fault is a host mprotect, which takes the host mm's mmap_lock "
			 "for writing and splits or merges a host VMA, so the two threads serialise there. The "
			 "bare floors, which do nothing else, scale %.2fx (floor-safe) and %.2fx (floor-unsafe); "
			 "the kernel's own faults, %.2fx (with only %zu pages per run the kernel's cells last a "
			 "few ms and this ratio is noisy). %s What would close the gap: fewer host protection "
			 "changes per page (fault-around, clustered mprotect; issue 3), and never a protection "
			 "downgrade on the fault path.",
			 vt->tput2, vt->tput1, vt->tput2 / vt->tput1, bd, fr2,
			 ut ? ut->tput2 / ut->tput1 : NAN, kt ? kt->tput2 / kt->tput1 : NAN, mx->cfg->rand_pages,
			 fr2 < 1.7 ? "The floors miss the target as well: with one mprotect per 4 KiB fault, "
				     "the host's mmap_lock is the limit, not vmemu's own locking."
				   : "The floors scale, so vmemu's own locking is part of the limit.");
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

static double client_ratio(const struct client_result *r)
{
	return r && r->native_med > 0 ? r->vmemu_med / r->native_med : NAN;
}

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
		"%d run(s) each:\n%-17s %9s %9s %12s %9s  %s\n", mx->ccfg->runs, "client", "native s", "vmemu s",
		"vmemu/native", "pgfault", "output");
	for (int c = 0; c < NR_CLIENTS; c++) {
		const struct client_result *r = &mx->client[c];
		if (!mx->want_client[c])
			continue;
		if (r->status != CELL_OK) {
			fprintf(f, "%-17s %s\n", clients[c].name, status_text[r->status]);
			continue;
		}
		fprintf(f, "%-17s %9.3f %9.3f %12s %9llu  %s\n", clients[c].name, r->native_med, r->vmemu_med,
			ratio(a, sizeof(a), client_ratio(r)), (unsigned long long)r->pgfault, r->summary);
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
	for (int m = 0; m < NR_MECHANISMS; m++) {
		const struct cell_result *c = ok(mx, W_TWO_THREADS, m);
		if (!c || c->tput1 <= 0)
			continue;
		if (!any_tt)
			fprintf(f, "two threads on disjoint pages, pages/s with 1 and 2 threads:\n");
		any_tt = true;
		fprintf(f, "  %-20s %10.0f %10.0f  %s\n", mechanisms[m]->name, c->tput1, c->tput2,
			ratio(a, sizeof(a), c->tput2 / c->tput1));
	}
	if (any_tt)
		fprintf(f, "\n");

	client_lines(f, mx);

	compute_targets(mx, t);
	fprintf(f, "targets (same-run ratios):\n");
	for (int i = 0; i < NR_TARGETS; i++) {
		const char *v = isnan(t[i].value) ? "not measured" : t[i].info ? "shown" : target_met(&t[i]) ? "met"
														: "MISSED";
		fprintf(f, "  %-72s %-12s %8s  %s\n", t[i].measure, t[i].goal, ratio(a, sizeof(a), t[i].value), v);
	}
	fprintf(f, "\nnotes:\n");
	fprintf(f, "  vmemu-nofaultaround runs the same configuration as vmemu (vme_config has no switch for "
		"fault-around or readahead), so the two rows differ only by noise.\n");
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
		"pswpin,pswpout,host_vma_reclaim,note\n");
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
					 c->pswpout, c->host_vma_reclaim };
			for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++)
				csv_num(f, cn ? (double)n[i] : NAN);
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
		"\"pswpin\": %llu, \"pswpout\": %llu, \"host_vma_reclaim\": %llu}",
		(unsigned long long)c->pgevict, (unsigned long long)c->pgscan, (unsigned long long)c->pgreadahead,
		(unsigned long long)c->pgfaultaround, (unsigned long long)c->pswpin,
		(unsigned long long)c->pswpout, (unsigned long long)c->host_vma_reclaim);
}

void report_json(FILE *f, const struct matrix *mx)
{
	const struct machine *mc = &mx->machine;
	struct target t[NR_TARGETS];
	bool first = true;

	fprintf(f, "{\n  \"tool\": \"vmemu-bench\",\n  \"size_bytes\": %zu,\n  \"rand_pages\": %zu,\n"
		"  \"budget_mb\": %lu,\n  \"budget_pages\": %zu,\n", mx->cfg->size, mx->cfg->rand_pages,
		mx->cfg->budget_mb, budget_pages(mx));
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
				}
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
		fprintf(f, ", \"met\": %s}%s\n",
			isnan(t[i].value) || t[i].info ? "null" : target_met(&t[i]) ? "true" : "false",
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
			fprintf(f, "], \"pgfault\": %llu, \"pgmajfault\": %llu, \"output\": ",
				(unsigned long long)r->pgfault, (unsigned long long)r->pgmajfault);
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

/* The clients' table: each program's command, its medians and their ratio. */
static void report_clients_section(FILE *f, const struct matrix *mx)
{
	char a[16], cmd[512];

	if (!any_client(mx))
		return;
	fprintf(f, "\n## Real programs, native and switched over\n\nEach client is a program of `tests/clients/` "
		"built twice from the same objects (`make clients`): natively (`build/clients/PROGRAM`), and "
		"switched over to vmemu at link time (`PROGRAM-wrap`: `-Wl,--wrap` for every call in "
		"`src/api/wrap.syms`, against `libvmemu.so`). LMDB and SQLite are Debian's static `liblmdb.a` "
		"and `libsqlite3.a`, so their own calls are switched over too. After one untimed run of each "
		"build, the two run in turn, %d time(s) each, each run in a fresh directory under the test "
		"file's directory (map-scan's file is made once and reused). `native s` and `vmemu s` are the "
		"median wall times of the whole process (start, vmemu's setup, the workload with its own "
		"verification, vmemu's write-back at exit), with the fastest and slowest run; `vmemu / native` "
		"is their ratio (lower is better; 1.00x: as fast). Every run must exit 0 and print what the "
		"native build printed (each program verifies every record and exits 1 on any difference), and "
		"every switched-over run must fault on vmemu: `pgfault` and `pgmajfault` are vmemu's counters "
		"(`VMEMU_VERBOSE=1`) in the last switched-over run, over all its processes.\n\n", mx->ccfg->runs);
	fprintf(f, "| client | command | native s | vmemu s | vmemu / native | pgfault | pgmajfault | output "
		"(the same both ways) |\n|---|---|--:|--:|--:|--:|--:|---|\n");
	for (int c = 0; c < NR_CLIENTS; c++) {
		const struct client_result *r = &mx->client[c];
		if (!mx->want_client[c])
			continue;
		client_command(mx->ccfg, (enum client_id)c, cmd, sizeof(cmd));
		fprintf(f, "| %s | `%s` |", clients[c].name, cmd);
		if (r->status != CELL_OK) {
			fprintf(f, " %s | | | | | why: below |\n", status_text[r->status]);
			continue;
		}
		fprintf(f, " %.3f (%.3f-%.3f) | %.3f (%.3f-%.3f) | %s | %llu | %llu | %s |\n", r->native_med,
			runs_min(r->native_s, r->runs), runs_max(r->native_s, r->runs), r->vmemu_med,
			runs_min(r->vmemu_s, r->runs), runs_max(r->vmemu_s, r->runs),
			ratio(a, sizeof(a), client_ratio(r)), (unsigned long long)r->pgfault,
			(unsigned long long)r->pgmajfault, r->summary);
	}
	fprintf(f, "\nClients:\n\n");
	for (int c = 0; c < NR_CLIENTS; c++)
		if (mx->want_client[c])
			fprintf(f, "- `%s`: %s.\n", clients[c].name, clients[c].describe);
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
	fprintf(f, "- test file: %s, on %s; written with 1 MiB writes, fdatasync'ed; warm cells re-read it "
		"with 1 MiB preads right before measuring, in whatever folio sizes the file system chose\n",
		sz, mc->fs);
	fprintf(f, "- vm.unprivileged_userfaultfd: %s; uid %d\n", mc->uffd_sysctl, (int)getuid());
	fprintf(f, "- virtio-balloon free page reporting: %s\n", mc->page_reporting);
	fprintf(f, "- load average (1 minute, /proc/loadavg): %s before the run, %s after it; the run itself "
		"keeps about one CPU busy, so more than that means other work shared the CPUs\n",
		mc->load_start, mc->load_end);
	fprintf(f, "- timer: %s; an empty timed access costs %.0f ns and is included in every latency\n\n",
		timer_describe(), timer_overhead_ns());
	fprintf(f, "## Command\n\n```\n%s\n```\n\n", mc->command);
	size_text(def, sizeof(def), mx->default_size);
	if (mx->cfg->size == mx->default_size)
		fprintf(f, "The scan file is %s, the program's default size.", sz);
	else
		fprintf(f, "The scan file is %s rather than the program's %s default: `make bench` uses 256 MiB "
			"so that it finishes in under two minutes (the userfaultfd cells alone take tens of "
			"seconds per GiB). `make bench BENCHFLAGS='--size 1G'` runs the full size.", sz, def);
	fprintf(f, " The budget-scan workload's memory budget is %lu MiB (`--budget-mb`), %zu pages, %.0f%% "
		"of the file.\n\n", mx->cfg->budget_mb, budget_pages(mx),
		100.0 * (double)budget_pages(mx) / (double)(mx->cfg->size / PG));
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
		"faster; for budget-scan, the kernel's seq-warm bulk time, since the host kernel keeps no "
		"per-process budget); `p50/floor` = this median / floor-safe median (lower is faster).\n\n");
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

	fprintf(f, "\n## Two threads\n\nPages per second, one thread on the whole page set, then two threads on "
		"disjoint halves of it (fresh mappings each time).\n\n| mechanism | 1 thread | 2 threads | "
		"2 / 1 |\n|---|--:|--:|--:|\n");
	for (int m = 0; m < NR_MECHANISMS; m++) {
		const struct cell_result *c = ok(mx, W_TWO_THREADS, m);
		if (c && c->tput1 > 0)
			fprintf(f, "| %s | %.0f | %.0f | %.2fx |\n", mechanisms[m]->name, c->tput1, c->tput2,
				c->tput2 / c->tput1);
	}

	report_clients_section(f, mx);

	compute_targets(mx, t);
	fprintf(f, "\n## Targets\n\n| measure | target | this run | |\n|---|---|--:|---|\n");
	for (int i = 0; i < NR_TARGETS; i++)
		fprintf(f, "| %s | %s | %s | %s |\n", t[i].measure, t[i].goal, ratio(a, sizeof(a), t[i].value),
			target_verdict(&t[i]));
	bool missed = false;
	for (int i = 0; i < NR_TARGETS; i++) {
		if (!target_missed(&t[i]))
			continue;
		if (!missed)
			fprintf(f, "\n## Missed targets: why, and what would close the gap\n");
		missed = true;
		fprintf(f, "\n**%s** (%s, measured %s): %s\n", t[i].measure, t[i].goal,
			ratio(a, sizeof(a), t[i].value), t[i].evidence[0] ? t[i].evidence : "(no evidence: a cell failed)");
	}
	fprintf(f, "\n## Notes\n\n");
	fprintf(f, "- `vmemu-nofaultaround` runs the same configuration as `vmemu`: `struct vme_config` has "
		"no switch for fault-around or readahead, so the two rows differ only by noise.\n");
	fprintf(f, "- The kernel's MADV_RANDOM does not turn off fault-around on Linux 6.18 (see its faults "
		"per page on the read workloads); it does turn off readahead, which is what the cold scan "
		"shows.\n");
	fprintf(f, "- The floors and the userfaultfd pager do not track dirty pages: their msync writes back "
		"every page faulted in.\n");
	fprintf(f, "- Hygiene: each cell's child first populates and frees as much anonymous memory as the "
		"cell will allocate (twice the file for the cold scan and COW), because with free page "
		"reporting the hypervisor takes back memory freed a few seconds earlier, and the first cell "
		"to touch it again paid up to twice the fill cost. Warm cells re-read the file right before "
		"measuring; the cold cell drops it and checks with mincore that it is gone.\n");
	fprintf(f, "- Noise: cells on this VM vary between runs, most visibly the cold scans (host-side I/O "
		"caching) and anything with short runs (the kernel's two-thread cells last a few ms). A cell "
		"pair such as vmemu / vmemu-nofaultaround, configured identically, shows the run's noise level.\n");
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
