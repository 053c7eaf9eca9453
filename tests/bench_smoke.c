/*
 * bench_smoke.c - vmemu-bench --smoke --json runs and says something sane.
 *
 * A few seconds of the benchmark in every `make test`, so that it cannot
 * rot: every workload x mechanism cell is present, every cell that ran has
 * positive numbers, and a cell is left out only where that is expected;
 * vmemu's budget-scan cell runs under the budget it was given; its warm
 * scan finds the file in vmemu's own cache; the two-thread cells time both
 * phases, the sparse cells measure RSS; issue 12's eleven targets are all
 * there; a long client (GDBM) runs once each way.
 *
 * The binary is $VMEMU_BENCH, else vmemu-bench next to this test runner's
 * directory (build/tests/run -> build/vmemu-bench), else build/vmemu-bench.
 */
#include <criterion/criterion.h>
#include <libgen.h>
#include <limits.h>

#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const workloads[] = {
	"rand-read", "seq-warm", "seq-first", "seq-cold", "anon-write", "shared-write", "cow-write",
	"budget-scan", "two-threads-scan", "two-threads-rand", "sparse-rss",
};
static const char *const mechanisms[] = {
	"kernel", "kernel-random", "vmemu", "vmemu-random", "floor-unsafe", "floor-safe",
	"uffd-xcpu", "uffd-samecpu", "pread",
};
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void bench_path(char *out, size_t len)
{
	built_program("VMEMU_BENCH", "vmemu-bench", out, len);
}

/* The whole stdout of cmd; *status gets its wait status. */
static char *run(const char *cmd, int *status)
{
	FILE *p = popen(cmd, "r");
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);

	cr_assert(p && buf, "popen %s", cmd);
	for (size_t k; (k = fread(buf + len, 1, cap - len - 1, p)) > 0;) {
		len += k;
		if (cap - len < 4096)
			cr_assert((buf = realloc(buf, cap *= 2)));
	}
	buf[len] = '\0';
	*status = pclose(p);
	return buf;
}

/* The number after "key": in line, or -1 if absent. */
static double field(const char *line, const char *key)
{
	char pat[64];
	const char *s;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	if (!(s = strstr(line, pat)))
		return -1;
	return strtod(s + strlen(pat), NULL);
}

static bool status_is(const char *line, const char *status)
{
	char pat[64];

	snprintf(pat, sizeof(pat), "\"status\": \"%s\"", status);
	return strstr(line, pat) != NULL;
}

Test(bench_smoke, every_cell_present_and_positive, .timeout = 120)
{
	char path[PATH_MAX + 32], cmd[PATH_MAX + 64];
	int status;

	bench_path(path, sizeof(path));
	cr_assert(access(path, X_OK) == 0, "%s is not built (make test builds it)", path);
	snprintf(cmd, sizeof(cmd), "'%s' --smoke --json", path);
	char *out = run(cmd, &status);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed (status %#x):\n%s", cmd, status, out);
	cr_assert(strstr(out, "\"cells\": [") && strstr(out, "\"targets\": ["), "not the JSON expected:\n%s", out);

	for (size_t w = 0; w < N(workloads); w++)
		for (size_t m = 0; m < N(mechanisms); m++) {
			char key[128];
			snprintf(key, sizeof(key), "{\"workload\": \"%s\", \"mechanism\": \"%s\",", workloads[w],
				 mechanisms[m]);
			char *line = strstr(out, key);
			cr_assert(line, "cell %s / %s is missing", workloads[w], mechanisms[m]);
			char *end = strchr(line, '\n');
			if (end)
				*end = '\0';
			bool vmemu = !strncmp(mechanisms[m], "vmemu", 5);
			bool budget_kernel = !strcmp(workloads[w], "budget-scan") && !strncmp(mechanisms[m], "kernel", 6);
			bool anon_pread = !strcmp(workloads[w], "anon-write") && !strcmp(mechanisms[m], "pread");
			/* seq-first is seq-warm but for a page cache of one's own */
			bool first_other = !strcmp(workloads[w], "seq-first") && !vmemu;
			/* the kernel's default read-around of holes is too slow; the pagers keep per-page state */
			bool sparse_other = !strcmp(workloads[w], "sparse-rss") && !vmemu &&
					    strcmp(mechanisms[m], "kernel-random");
			bool uffd = !strncmp(mechanisms[m], "uffd", 4);
			if (budget_kernel || anon_pread || first_other || sparse_other)
				cr_expect(status_is(line, "n/a"), "%s", line);
			else if (uffd && status_is(line, "skipped"))
				cr_expect(strstr(line, "userfaultfd") || strstr(line, "CPU"),
					  "a skipped uffd cell must say why: %s", line);
			else {
				cr_expect(status_is(line, "ok"), "%s", line);
				cr_expect(field(line, "accesses") > 0, "%s", line);
				cr_expect(field(line, "median_ns") > 0, "%s", line);
				cr_expect(field(line, "p99_ns") >= field(line, "median_ns"), "%s", line);
				cr_expect(field(line, "max_ns") >= field(line, "p999_ns"), "%s", line);
				cr_expect(field(line, "bulk_ns_per_page") > 0, "%s", line);
				if (strcmp(mechanisms[m], "pread"))
					cr_expect(field(line, "faults_per_page") > 0, "%s", line);
				if (!strncmp(workloads[w], "two-threads", 11))
					cr_expect(field(line, "tput_1thread") > 0 && field(line, "tput_2threads") > 0,
						  "two-thread cells time both phases: %s", line);
				if (!strcmp(workloads[w], "sparse-rss"))
					cr_expect(field(line, "growth") > 0 && field(line, "vs_data") > 0,
						  "sparse cells measure the RSS growth: %s", line);
				if (vmemu) {
					cr_expect(field(line, "handler_ns") > 0 && field(line, "faults") > 0,
						  "vmemu cells carry the breakdown: %s", line);
					cr_expect(strstr(line, "\"memory\": {") && field(line, "pgevict") >= 0,
						  "vmemu cells carry their memory: %s", line);
					cr_expect(!strstr(line, "\"within_budget\": false"), "over budget: %s", line);
				}
			}
			if (end)
				*end = '\n';
		}

	char *targets = strstr(out, "\"targets\": [");
	int n = 0;
	for (char *t = targets; (t = strstr(t, "{\"measure\": ")); t++)
		n++;
	cr_expect_eq(n, 11, "issue 12 has eleven goals; the JSON lists %d:\n%s", n, targets);
	cr_expect(strstr(targets, "LMDB MDB_WRITEMAP") && strstr(targets, "GDBM load, `gdbm-load --keys ") &&
		  strstr(targets, "RSS growth / data touched") && strstr(targets, "p99 / floor-safe p99"),
		  "a goal of issue 12 is missing:\n%s", targets);
	free(out);
}

/* Warm means the mechanism's own cache holds the file: vmemu's warm scan
 * starts with every page of the file in its cache, and reads none. */
Test(bench_smoke, seq_warm_finds_the_file_in_vmemus_cache, .timeout = 60)
{
	char path[PATH_MAX + 32], cmd[PATH_MAX + 128];
	int status;

	bench_path(path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "'%s' --smoke --json --workloads seq-warm --mechanisms vmemu", path);
	char *out = run(cmd, &status);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed (status %#x):\n%s", cmd, status, out);
	double file_pages = field(out, "size_bytes") / 4096;
	char *line = strstr(out, "{\"workload\": \"seq-warm\", \"mechanism\": \"vmemu\",");
	cr_assert(line, "no seq-warm / vmemu cell:\n%s", out);
	char *end = strchr(line, '\n');
	if (end)
		*end = '\0';
	cr_assert(status_is(line, "ok") && strstr(line, "\"warm\": {"), "%s", line);
	cr_expect(field(line, "cached") >= file_pages, "the warm pass left the file out of vmemu's cache: %s", line);
	cr_expect(field(line, "pgmajfault") == 0 && field(line, "pgpgin") == 0,
		  "the warm scan read from the file: %s", line);
	free(out);
}

/* The budget-scan cell hands vmemu --budget-mb (2 MiB with --smoke, half the
 * 4 MiB file) and brings its reference, the kernel's warm scan, along.  A
 * vmemu that reports a budget (nr_budget > 0) keeps at most the pages asked
 * for resident and evicts to stay there. */
Test(bench_smoke, budget_scan_keeps_the_budget, .timeout = 60)
{
	char path[PATH_MAX + 32], cmd[PATH_MAX + 128];
	int status;

	bench_path(path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "'%s' --smoke --json --workloads budget-scan --mechanisms vmemu", path);
	char *out = run(cmd, &status);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed (status %#x):\n%s", cmd, status, out);
	double file_pages = field(out, "size_bytes") / 4096, asked = field(out, "budget_pages");
	cr_assert(field(out, "budget_mb") == 2 && asked == 512, "%s", out);

	char *ref = strstr(out, "{\"workload\": \"seq-warm\", \"mechanism\": \"kernel\",");
	cr_assert(ref && status_is(ref, "ok"), "the reference cell seq-warm / kernel did not run:\n%s", out);
	char *line = strstr(out, "{\"workload\": \"budget-scan\", \"mechanism\": \"vmemu\",");
	cr_assert(line, "no budget-scan / vmemu cell:\n%s", out);
	char *end = strchr(line, '\n');
	if (end)
		*end = '\0';
	cr_assert(status_is(line, "ok"), "%s", line);
	cr_expect(field(line, "tput_vs_kernel") > 0, "the ratio to seq-warm / kernel is missing: %s", line);
	double budget = field(line, "nr_budget");
	cr_assert(budget >= 0, "no memory in %s", line);
	if (budget > 0) {
		cr_expect(budget <= asked, "vmemu's budget is above the %.0f pages asked: %s", asked, line);
		cr_expect(field(line, "resident_max") <= budget, "over budget: %s", line);
		if (budget < file_pages)
			cr_expect(field(line, "pgevict") > 0, "a scan larger than the budget evicted nothing: %s", line);
	}
	free(out);
}

/* A client (here map-scan, which needs nothing shared between processes) is
 * run natively and switched over, and reported with both medians, their
 * ratio, vmemu's faults and the output both builds printed.  The smoke
 * matrix times no client unless asked, so --workloads none leaves just it. */
Test(bench_smoke, a_client_is_timed_native_and_switched_over, .timeout = 60)
{
	char path[PATH_MAX + 32], cmd[PATH_MAX + 128];
	int status;

	bench_path(path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "'%s' --smoke --json --workloads none --clients map-scan --client-runs 3", path);
	char *out = run(cmd, &status);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed (status %#x):\n%s", cmd, status, out);
	cr_assert(!strstr(out, "{\"workload\": "), "--workloads none ran cells:\n%s", out);
	char *line = strstr(out, "{\"client\": \"map-scan\",");
	cr_assert(line, "no map-scan client:\n%s", out);
	char *end = strchr(line, '\n');
	if (end)
		*end = '\0';
	cr_assert(status_is(line, "ok"), "%s", line);
	cr_expect_eq(field(line, "runs"), 3, "%s", line);
	cr_expect(field(line, "native_s") > 0 && field(line, "vmemu_s") > 0, "%s", line);
	double ratio = field(line, "vmemu_s") / field(line, "native_s"), shown = field(line, "vmemu_vs_native");
	cr_expect(shown > ratio * 0.999 && shown < ratio * 1.001, "the ratio is not vmemu_s / native_s: %s", line);
	cr_expect(field(line, "pgfault") > 0, "the switched-over build did not fault on vmemu: %s", line);
	cr_expect(strstr(line, "\"output\": \"map-scan: 1024 pages, 3 rounds, sum "), "%s", line);
	cr_expect(strstr(line, "\"command\": \"map-scan --size 4M --repeat 3 FILE\""), "%s", line);
	free(out);
}

/* A long client, GDBM's, runs once each way with no untimed run first,
 * unless --client-runs says otherwise; it too must fault on vmemu. */
Test(bench_smoke, a_long_client_runs_once_each_way, .timeout = 60)
{
	char path[PATH_MAX + 32], cmd[PATH_MAX + 128];
	int status;

	bench_path(path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "'%s' --smoke --json --workloads none --clients gdbm-load", path);
	char *out = run(cmd, &status);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed (status %#x):\n%s", cmd, status, out);
	char *line = strstr(out, "{\"client\": \"gdbm-load\",");
	cr_assert(line, "no gdbm-load client:\n%s", out);
	char *end = strchr(line, '\n');
	if (end)
		*end = '\0';
	cr_assert(status_is(line, "ok"), "%s", line);
	cr_expect(field(line, "runs") == 1 && strstr(line, "\"warmup\": false"), "%s", line);
	cr_expect(field(line, "pgfault") > 0, "the switched-over build did not fault on vmemu: %s", line);
	cr_expect(strstr(line, "\"output\": \"gdbm: 1714 records, digest "), "%s", line);
	free(out);
}
