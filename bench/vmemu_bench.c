/*
 * vmemu_bench.c - vmemu-bench: fault latency of vmemu beside the host kernel,
 * the raw SIGSEGV floor, a userfaultfd pager and plain pread.
 *
 * It runs a matrix of workloads x mechanisms in one run, each cell in its own
 * child (cell.c), then the real programs natively and switched over
 * (clients.c), and prints a table (report.c).  This file holds the options,
 * the test file, the machine description and the loops.  The parent never
 * calls vme_: each child decides alone who owns SIGSEGV.
 *
 * Usage: vmemu-bench [--size N[KMG]] [--rand-pages N] [--sparse-pages N] [--budget-mb N]
 *                    [--smoke] [--json | --csv]
 *                    [--plot FILE.svg|.png] [--results FILE.md] [--dir DIR]
 *                    [--workloads a,b|none] [--mechanisms a,b]
 *                    [--clients a,b|none] [--client-runs N] [--clients-dir DIR]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"

#define DEFAULT_SIZE (1UL << 30)
#define SMOKE_SIZE (4UL << 20)
#define DEFAULT_BUDGET_MB 64UL	/* issue 3's budget-scan */
#define SMOKE_BUDGET_MB 2UL	/* half the smoke file, so that reclaim runs */
#define MAX_RAND_PAGES 8192UL	/* far below the host VMA cap for the page-per-fault pagers */
#define DEFAULT_SPARSE_PAGES 100000UL	/* issue 12's 100,000 random pages of a 1 TiB sparse file */
#define SMOKE_SPARSE_PAGES 1000UL

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vmemu-bench [options]\n"
		"  --size N[K|M|G]    scan file size (default 1G; `make bench` uses 256M)\n"
		"  --rand-pages N     pages touched by the random workloads (default size/8, at most %lu)\n"
		"  --sparse-pages N   pages sparse-rss touches in its 1 TiB file (default %lu; --smoke: %lu)\n"
		"  --budget-mb N      budget-scan's memory budget in MiB (default %lu; --smoke: %lu)\n"
		"  --smoke            a tiny matrix that runs in a few seconds (4 MiB)\n"
		"  --json | --csv     machine-readable output on stdout instead of the table\n"
		"  --plot FILE        draw latency CDFs to FILE.svg or FILE.png with gnuplot\n"
		"  --results FILE     also write the results page (markdown) to FILE\n"
		"  --dir DIR          where to create the test file (default $TMPDIR, else /var/tmp)\n"
		"  --workloads LIST   comma-separated subset of, or none (budget-scan and seq-first bring\n"
		"                     their reference, seq-warm / kernel, along):",
		MAX_RAND_PAGES, DEFAULT_SPARSE_PAGES, SMOKE_SPARSE_PAGES, DEFAULT_BUDGET_MB, SMOKE_BUDGET_MB);
	for (int w = 0; w < NR_WORKLOADS; w++)
		fprintf(f, " %s", workloads[w].name);
	fprintf(f, "\n  --mechanisms LIST  comma-separated subset of:");
	for (int m = 0; m < NR_MECHANISMS; m++)
		fprintf(f, " %s", mechanisms[m]->name);
	fprintf(f, "\n  --timeout S        per-cell (and per client run) time limit in seconds (default 120)\n");
	fprintf(f, "  --clients LIST     real programs, native and switched over to vmemu, timed whole:\n"
		"                     comma-separated subset of, all or none (default: all; --smoke: none):");
	for (int c = 0; c < NR_CLIENTS; c++)
		fprintf(f, " %s", clients[c].name);
	fprintf(f, "\n  --client-runs N    timed runs of each build of a client, for the medians (default %d;\n"
		"                     gdbm-load, tens of seconds a run: 1, with no untimed run first)\n"
		"  --clients-dir DIR  where the clients are (default: clients/ beside vmemu-bench)\n"
		"  (--csv lists the matrix's cells only; the table, --json and the results page also\n"
		"  have the clients)\n", CLIENT_RUNS_DEFAULT);
}

static bool parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'B')
		end += *end == 'i' && end[1] == 'B' ? 2 : 1;
	if (*end || end == s || v < 64 * PG)
		return false;
	*out = (size_t)v & ~(PG - 1);
	return true;
}

/* Mark the names in the comma-separated list; false on an unknown one. */
static bool parse_list(const char *list, const char *(*name)(int), int n, bool *pick)
{
	char *copy = strdup(list), *save = NULL;

	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int i;
		for (i = 0; i < n && strcmp(tok, name(i)); i++)
			;
		if (i == n) {
			fprintf(stderr, "vmemu-bench: unknown name '%s'\n", tok);
			free(copy);
			return false;
		}
		pick[i] = true;
	}
	free(copy);
	return true;
}

static const char *workload_name(int i)
{
	return workloads[i].name;
}

static const char *mechanism_name(int i)
{
	return mechanisms[i]->name;
}

static const char *client_name(int i)
{
	return clients[i].name;
}

/* The clients' default directory: clients/ beside this program (build/). */
static void default_clients_dir(char *out, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0) {
		snprintf(out, len, "build/clients");
		return;
	}
	exe[n] = '\0';
	snprintf(out, len, "%s/clients", dirname(exe));
}

/* The test file: page i starts with the 64-bit word i (cell.c checks it),
 * the rest is a pattern.  Unlinked at once; children reopen it through
 * /proc/self/fd.  fdatasync'ed so that later drops do not wait on it. */
static int make_test_file(const char *dir, size_t size)
{
	char path[4096];
	size_t chunk = 1UL << 20;
	uint64_t *buf = malloc(chunk);
	int fd;

	snprintf(path, sizeof(path), "%s/vmemu-bench-XXXXXX", dir);
	if (!buf || (fd = mkstemp(path)) < 0) {
		fprintf(stderr, "vmemu-bench: cannot create a test file in %s: %s\n", dir, strerror(errno));
		exit(1);
	}
	unlink(path);
	for (size_t off = 0; off < size; off += chunk) {
		size_t len = size - off < chunk ? size - off : chunk;
		for (size_t k = 0; k < len / 8; k++) {
			size_t byte = off + k * 8;
			buf[k] = byte % PG ? (uint64_t)byte * 0x9e3779b97f4a7c15ULL : byte / PG;
		}
		if (pwrite_full(fd, buf, len, (off_t)off)) {
			fprintf(stderr, "vmemu-bench: writing the test file: %s\n", strerror(errno));
			exit(1);
		}
	}
	free(buf);
	fdatasync(fd);
	return fd;
}

/* The sparse workload's file: SPARSE_SIZE bytes, all of them a hole.
 * Unlinked at once, like the test file.  -1 if the file system refuses
 * (the cells then fail and say so). */
static int make_sparse_file(const char *dir)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/vmemu-bench-sparse-XXXXXX", dir);
	if ((fd = mkstemp(path)) < 0) {
		fprintf(stderr, "vmemu-bench: cannot create a file in %s: %s\n", dir, strerror(errno));
		return -1;
	}
	unlink(path);
	if (ftruncate(fd, (off_t)SPARSE_SIZE)) {
		fprintf(stderr, "vmemu-bench: cannot make a 1 TiB sparse file in %s: %s\n", dir, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void read_line_value(const char *file, const char *key, char *out, size_t len)
{
	FILE *f = fopen(file, "r");
	char line[512];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, strlen(key)))
			continue;
		char *v = strchr(line, ':');
		v = v ? v + 1 : line + strlen(key);
		while (*v == ' ' || *v == '\t')
			v++;
		v[strcspn(v, "\n")] = '\0';
		snprintf(out, len, "%s", v);
		break;
	}
	fclose(f);
}

static const char *fs_name(const char *dir)
{
	struct statfs sf;

	if (statfs(dir, &sf))
		return "unknown";
	switch ((unsigned long)sf.f_type) {
	case 0xEF53: return "ext4";
	case 0x01021994: return "tmpfs";
	case 0x58465342: return "xfs";
	case 0x9123683E: return "btrfs";
	case 0x794c7630: return "overlayfs";
	default: return "another file system";
	}
}

/* Does a virtio-balloon report free pages to the hypervisor (feature bit 5,
 * VIRTIO_BALLOON_F_REPORTING)?  Then recently freed memory may have to be
 * faulted back in by the hypervisor (see prefault_host_memory in cell.c). */
static const char *page_reporting(void)
{
	const char *r = "no balloon";
	glob_t g;

	if (glob("/sys/bus/virtio/devices/*/device", 0, NULL, &g))
		return r;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		char id[16] = "", feat[256] = "", path[4096];
		FILE *f = fopen(g.gl_pathv[i], "r");
		if (f && fgets(id, sizeof(id), f) && strtoul(id, NULL, 0) == 5) {
			snprintf(path, sizeof(path), "%.*sfeatures", (int)(strlen(g.gl_pathv[i]) - 6), g.gl_pathv[i]);
			FILE *ff = fopen(path, "r");
			if (ff && fgets(feat, sizeof(feat), ff))
				r = strlen(feat) > 5 && feat[5] == '1' ? "on" : "off";
			if (ff)
				fclose(ff);
		}
		if (f)
			fclose(f);
	}
	globfree(&g);
	return r;
}

/* The 1-minute load average: other work on the machine shows here. */
static void load_average(char *out, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "r");

	snprintf(out, len, "unknown");
	if (f && fscanf(f, "%15s", out) != 1)
		snprintf(out, len, "unknown");
	if (f)
		fclose(f);
}

static void describe_machine(struct machine *mc, const char *dir, int argc, char **argv)
{
	struct utsname u;
	char mem[64] = "", buf[64] = "";
	time_t now = time(NULL);

	mc->nproc = sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(mc->model, sizeof(mc->model), "unknown");
	read_line_value("/proc/cpuinfo", "model name", mc->model, sizeof(mc->model));
	if (!uname(&u))
		snprintf(mc->kernel, sizeof(mc->kernel), "%s", u.release);
	read_line_value("/proc/meminfo", "MemTotal", mem, sizeof(mem));
	mc->mem_mib = strtoul(mem, NULL, 10) / 1024;
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f && fgets(buf, sizeof(buf), f))
		buf[strcspn(buf, "\n")] = '\0';
	if (f)
		fclose(f);
	snprintf(mc->thp, sizeof(mc->thp), "%s", buf[0] ? buf : "unknown");
	snprintf(mc->fs, sizeof(mc->fs), "%s", fs_name(dir));
	snprintf(mc->uffd_sysctl, sizeof(mc->uffd_sysctl), "unknown");
	f = fopen("/proc/sys/vm/unprivileged_userfaultfd", "r");
	if (f && fgets(mc->uffd_sysctl, sizeof(mc->uffd_sysctl), f))
		mc->uffd_sysctl[strcspn(mc->uffd_sysctl, "\n")] = '\0';
	if (f)
		fclose(f);
	snprintf(mc->page_reporting, sizeof(mc->page_reporting), "%s", page_reporting());
	load_average(mc->load_start, sizeof(mc->load_start));
	strftime(mc->date, sizeof(mc->date), "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
	size_t n = 0;
	for (int i = 0; i < argc && n < sizeof(mc->command) - 1; i++)
		n += (size_t)snprintf(mc->command + n, sizeof(mc->command) - n, "%s%s", i ? " " : "", argv[i]);
}

int main(int argc, char **argv)
{
	static struct matrix mx;
	static struct bench_config cfg = { .size = DEFAULT_SIZE, .timeout_s = 120, .sparse_fd = -1 };
	static struct client_config ccfg = { .runs = CLIENT_RUNS_DEFAULT };
	const char *plot = NULL, *results = NULL, *wl = NULL, *ml = NULL, *dir = NULL, *cl = NULL;
	bool json = false, csv = false, size_given = false, rand_given = false, budget_given = false;
	bool sparse_given = false;
	enum { O_SIZE = 256, O_RAND, O_SPARSE, O_BUDGET, O_SMOKE, O_JSON, O_CSV, O_PLOT, O_RESULTS, O_DIR, O_WL,
	       O_ML, O_TIMEOUT, O_CLIENTS, O_CLIENT_RUNS, O_CLIENTS_DIR };
	static const struct option opts[] = {
		{ "size", required_argument, NULL, O_SIZE }, { "rand-pages", required_argument, NULL, O_RAND },
		{ "sparse-pages", required_argument, NULL, O_SPARSE },
		{ "budget-mb", required_argument, NULL, O_BUDGET },
		{ "smoke", no_argument, NULL, O_SMOKE }, { "json", no_argument, NULL, O_JSON },
		{ "csv", no_argument, NULL, O_CSV }, { "plot", required_argument, NULL, O_PLOT },
		{ "results", required_argument, NULL, O_RESULTS }, { "dir", required_argument, NULL, O_DIR },
		{ "workloads", required_argument, NULL, O_WL }, { "mechanisms", required_argument, NULL, O_ML },
		{ "timeout", required_argument, NULL, O_TIMEOUT }, { "clients", required_argument, NULL, O_CLIENTS },
		{ "client-runs", required_argument, NULL, O_CLIENT_RUNS },
		{ "clients-dir", required_argument, NULL, O_CLIENTS_DIR }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_SIZE:
			if (!parse_size(optarg, &cfg.size)) {
				fprintf(stderr, "vmemu-bench: bad --size '%s' (at least 256K)\n", optarg);
				return 2;
			}
			size_given = true;
			break;
		case O_RAND:
			cfg.rand_pages = strtoul(optarg, NULL, 0);
			rand_given = true;
			break;
		case O_SPARSE: {
			char *end;
			cfg.sparse_pages = strtoul(optarg, &end, 0);
			if (*end || cfg.sparse_pages < 1 || cfg.sparse_pages > SPARSE_SIZE / PG) {
				fprintf(stderr, "vmemu-bench: bad --sparse-pages '%s' (1 to %lu)\n", optarg,
					SPARSE_SIZE / PG);
				return 2;
			}
			sparse_given = true;
			break;
		}
		case O_BUDGET: {
			char *end;
			cfg.budget_mb = strtoul(optarg, &end, 0);
			if (*end || !cfg.budget_mb || cfg.budget_mb > SIZE_MAX >> 20) {
				fprintf(stderr, "vmemu-bench: bad --budget-mb '%s' (a whole number of MiB, "
					"at least 1)\n", optarg);
				return 2;
			}
			budget_given = true;
			break;
		}
		case O_SMOKE:
			mx.smoke = true;
			break;
		case O_JSON:
			json = true;
			break;
		case O_CSV:
			csv = true;
			break;
		case O_PLOT:
			plot = optarg;
			break;
		case O_RESULTS:
			results = optarg;
			break;
		case O_DIR:
			dir = optarg;
			break;
		case O_WL:
			wl = optarg;
			break;
		case O_ML:
			ml = optarg;
			break;
		case O_TIMEOUT:
			cfg.timeout_s = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case O_CLIENTS:
			cl = optarg;
			break;
		case O_CLIENT_RUNS: {
			char *end;
			long n = strtol(optarg, &end, 0);
			if (*end || n < 1 || n > CLIENT_RUNS_MAX) {
				fprintf(stderr, "vmemu-bench: bad --client-runs '%s' (1 to %d)\n", optarg,
					CLIENT_RUNS_MAX);
				return 2;
			}
			ccfg.runs = (int)n;
			ccfg.runs_given = true;
			break;
		}
		case O_CLIENTS_DIR:
			snprintf(ccfg.dir, sizeof(ccfg.dir), "%s", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || (json && csv)) {
		usage(stderr);
		return 2;
	}
	if (!budget_given)
		cfg.budget_mb = mx.smoke ? SMOKE_BUDGET_MB : DEFAULT_BUDGET_MB;
	if (!sparse_given)
		cfg.sparse_pages = mx.smoke ? SMOKE_SPARSE_PAGES : DEFAULT_SPARSE_PAGES;
	if (mx.smoke) {
		if (!size_given)
			cfg.size = SMOKE_SIZE;
		if (cfg.timeout_s == 120)
			cfg.timeout_s = 30;
	}
	mx.default_size = DEFAULT_SIZE;
	size_t pages = cfg.size / PG;
	if (!rand_given)
		cfg.rand_pages = pages / 8 < MAX_RAND_PAGES ? pages / 8 : MAX_RAND_PAGES;
	if (cfg.rand_pages < 2 || cfg.rand_pages > pages) {
		fprintf(stderr, "vmemu-bench: --rand-pages must be between 2 and the file's %zu pages\n", pages);
		return 2;
	}

	/* "none": no cells (or no clients); a list: those; nothing (or "all" for the clients): all */
	bool pickw[NR_WORKLOADS] = { false }, pickm[NR_MECHANISMS] = { false }, pickc[NR_CLIENTS] = { false };
	if (wl && strcmp(wl, "none") && !parse_list(wl, workload_name, NR_WORKLOADS, pickw))
		return 2;
	if (cl && !strcmp(cl, "all"))
		memset(pickc, true, sizeof(pickc));
	else if (cl && strcmp(cl, "none") && !parse_list(cl, client_name, NR_CLIENTS, pickc))
		return 2;
	/* --smoke times no client unless asked: `make test` runs it, and the clients are timed whole */
	for (int k = 0; k < NR_CLIENTS; k++)
		mx.want_client[k] = cl ? pickc[k] : !mx.smoke;
	ccfg.smoke = mx.smoke;
	if (mx.smoke && !ccfg.runs_given)
		ccfg.runs = 1;
	if (!ccfg.dir[0])
		default_clients_dir(ccfg.dir, sizeof(ccfg.dir));
	mx.ccfg = &ccfg;
	if (ml && !parse_list(ml, mechanism_name, NR_MECHANISMS, pickm))
		return 2;
	int total = 0;
	for (int w = 0; w < NR_WORKLOADS; w++)
		for (int m = 0; m < NR_MECHANISMS; m++) {
			mx.want[w][m] = (!wl || pickw[w]) && (!ml || pickm[m]);
			/* A slow mechanism on a whole-file workload would take minutes;
			 * the default matrix says so instead (named, it runs). */
			if (mx.want[w][m] && !ml && mechanisms[m]->slow && !workloads[w].random && !mx.smoke) {
				mx.cell[w][m].status = CELL_SKIPPED;
				snprintf(mx.cell[w][m].note, sizeof(mx.cell[w][m].note),
					 "left out of the default matrix to keep it to a few minutes (about "
					 "100 us a fault here); `--mechanisms %s` runs it", mechanisms[m]->name);
				continue;
			}
			total += mx.want[w][m];
		}
	/* The host kernel has no per-process budget, nor a page cache besides
	 * the host's: budget-scan's and seq-first's ratios are against the
	 * kernel's plain warm scan of the same file. */
	bool reference_wanted = false, sparse_wanted = false;
	for (int m = 0; m < NR_MECHANISMS; m++) {
		reference_wanted |= mx.want[W_BUDGET][m] || mx.want[W_SEQ_FIRST][m];
		sparse_wanted |= mx.want[W_SPARSE][m];
	}
	if (reference_wanted && !mx.want[W_SEQ_WARM][M_KERNEL]) {
		mx.want[W_SEQ_WARM][M_KERNEL] = true;
		total++;
	}

	if (!dir)
		dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	describe_machine(&mx.machine, dir, argc, argv);
	if (!strcmp(mx.machine.fs, "tmpfs"))
		fprintf(stderr, "vmemu-bench: warning: %s is tmpfs, so the cold scan cannot be cold; "
			"use --dir on a disk file system\n", dir);
	timer_calibrate();
	cfg.dir = dir;
	cfg.file_fd = total ? make_test_file(dir, cfg.size) : -1;
	if (sparse_wanted)
		cfg.sparse_fd = make_sparse_file(dir);
	mx.cfg = &cfg;
	for (int k = 0; k < NR_CLIENTS; k++)
		total += mx.want_client[k];

	bool progress = isatty(STDERR_FILENO);
	int done = 0, failed = 0;
	for (int w = 0; w < NR_WORKLOADS; w++)
		for (int m = 0; m < NR_MECHANISMS; m++) {
			if (!mx.want[w][m] || mx.cell[w][m].status == CELL_SKIPPED)
				continue;
			if (progress)
				fprintf(stderr, "\r\033[Kvmemu-bench: [%d/%d] %s / %s", ++done, total, workloads[w].name,
					mechanisms[m]->name);
			cell_run(&cfg, (enum workload_id)w, (enum mechanism_id)m, &mx.cell[w][m]);
			failed += mx.cell[w][m].status == CELL_FAILED;
		}
	if (cfg.file_fd >= 0)
		close(cfg.file_fd);
	if (cfg.sparse_fd >= 0)
		close(cfg.sparse_fd);
	for (int k = 0; k < NR_CLIENTS; k++) {
		if (!mx.want_client[k])
			continue;
		if (progress)
			fprintf(stderr, "\r\033[Kvmemu-bench: [%d/%d] client %s, native and switched over, %d run%s "
				"each", ++done, total, clients[k].name, ccfg.runs, ccfg.runs == 1 ? "" : "s");
		client_run(&cfg, &ccfg, (enum client_id)k, &mx.client[k]);
		failed += mx.client[k].status == CELL_FAILED;
	}
	if (progress)
		fprintf(stderr, "\r\033[K");
	load_average(mx.machine.load_end, sizeof(mx.machine.load_end));

	if (json)
		report_json(stdout, &mx);
	else if (csv)
		report_csv(stdout, &mx);
	else
		report_table(stdout, &mx);
	fflush(stdout);
	if (results) {
		int err = report_results_page(results, &mx);
		if (err)
			fprintf(stderr, "vmemu-bench: writing %s: %s\n", results, strerror(-err));
		else
			fprintf(stderr, "vmemu-bench: results page written to %s\n", results);
		failed += err != 0;
	}
	if (plot && report_plot(plot, &mx))
		failed++;
	if (failed)
		fprintf(stderr, "vmemu-bench: %d cell(s) or outputs failed; see the notes\n", failed);
	return failed ? 1 : 0;
}
