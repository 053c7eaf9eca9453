/*
 * clients.c - real programs on vmemu: each client of tests/clients/ run
 * whole, natively and switched over at link time, and timed.
 *
 * A client's two builds come from the same objects (make clients): PROGRAM
 * calls the host, PROGRAM-wrap sends the same calls to libvmemu.so through
 * -Wl,--wrap.  After one untimed run of each (it warms the host's page
 * cache and makes map-scan's file), they run in turn, --client-runs times
 * each, every run in a fresh directory under --dir; a long client (GDBM's
 * 300,000 pairs) runs once each, with no untimed run, unless --client-runs
 * is given.  Every run must exit 0
 * and print what the first native run printed (each program checks its own
 * results and exits 1 on any inconsistency), and every switched-over run
 * must have faulted on vmemu (VMEMU_VERBOSE=1 makes vmemu print its
 * counters at exit); else the client FAILED, in the program's own words.
 * The wall time runs from fork to the last wait, so it includes starting
 * the program and, switched over, vmemu's setup and its write-back at
 * exit: what a user of the program waits for.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

const struct client clients[NR_CLIENTS] = {
	[C_LMDB_DEFAULT] = { "lmdb-default", "LMDB's default mode (pages written with pwrite, read through a "
			     "read-only map): load, update and delete in transactions of 100, verify every key, "
			     "then mdb_env_copy and a compacting copy, each verified", "lmdb-load",
			     { "--keys", "20000", "--copy", "@" }, { "--keys", "2000", "--copy", "@" } },
	[C_LMDB_WRITEMAP] = { "lmdb-writemap", "the same with MDB_WRITEMAP (written through a read-write map, "
			      "synced with msync)", "lmdb-load",
			      { "--writemap", "--keys", "20000", "--copy", "@" },
			      { "--writemap", "--keys", "2000", "--copy", "@" } },
	[C_LMDB_TWO_PROCS] = { "lmdb-2proc", "LMDB's default mode, two processes writing disjoint keys into one "
			       "environment at once in transactions of 20 (writer mutex and reader table in "
			       "lock.mdb, a MAP_SHARED file), then the parent verifies", "lmdb-load",
			       { "--procs", "2", "--keys", "20000", "--batch", "20", "@" },
			       { "--procs", "2", "--keys", "2000", "--batch", "20", "@" } },
	[C_SQLITE_WAL] = { "sqlite-wal", "SQLite with PRAGMA mmap_size over the whole database, journal_mode=WAL: "
			   "insert, update and delete in transactions of 100, checkpoint, integrity_check, "
			   "verify every row", "sqlite-load",
			   { "--journal", "wal", "--rows", "20000", "@" }, { "--journal", "wal", "--rows", "2000", "@" } },
	[C_SQLITE_DELETE] = { "sqlite-delete", "the same with journal_mode=DELETE", "sqlite-load",
			      { "--journal", "delete", "--rows", "20000", "@" },
			      { "--journal", "delete", "--rows", "2000", "@" } },
	[C_SQLITE_WAL_TWO_PROCS] = { "sqlite-wal-2proc", "SQLite WAL, two processes inserting, updating and "
				     "deleting disjoint rows at once in transactions of 20 (busy_timeout; the "
				     "wal-index is a MAP_SHARED file), then the parent verifies", "sqlite-load",
				     { "--journal", "wal", "--procs", "2", "--rows", "20000", "--batch", "20", "@" },
				     { "--journal", "wal", "--procs", "2", "--rows", "2000", "--batch", "20", "@" } },
	[C_GDBM] = { "gdbm-load", "GDBM (its own MAP_SHARED read-write map of the whole file, mapped again each "
		     "time the file grows): insert 300,000 pairs, update every third, delete every seventh, "
		     "reading each back first, close, then verify every record through a reader by lookup and "
		     "by a walk", "gdbm-load", { "--keys", "300000", "@" }, { "--keys", "2000", "@" },
		     .long_run = true },
	[C_MAP_SCAN] = { "map-scan", "map a file (MAP_SHARED, PROT_READ), read two words of every page, unmap; "
			 "again and again on the same file", "map-scan",
			 { "--size", "32M", "--repeat", "20", "@" }, { "--size", "4M", "--repeat", "3", "@" },
			 .shared_file = true },
};

/* One run of one build. */
struct client_once {
	int status;		/* exit status, 128 + signal, or -1: killed at the time limit */
	double seconds;		/* wall time */
	char *out, *err;	/* stdout, and stderr without vmemu's counter lines */
	struct client_counters vm;	/* summed over the processes that printed them */
};

/* The counters kept, by their names in vmemu's "vmemu: name N" lines. */
static const struct {
	const char *name;
	size_t off;		/* in struct client_counters */
} counter_names[] = {
	{ "pgfault", offsetof(struct client_counters, pgfault) },
	{ "pgmajfault", offsetof(struct client_counters, pgmajfault) },
	{ "shared_fault", offsetof(struct client_counters, shared_fault) },
	{ "wp_fault", offsetof(struct client_counters, wp_fault) },
	{ "pgpgin", offsetof(struct client_counters, pgpgin) },
	{ "pgpgout", offsetof(struct client_counters, pgpgout) },
	{ "fault_ns", offsetof(struct client_counters, fault_ns) },
	{ "lookup_ns", offsetof(struct client_counters, lookup_ns) },
	{ "fill_ns", offsetof(struct client_counters, fill_ns) },
	{ "protect_ns", offsetof(struct client_counters, protect_ns) },
};

static const char *const *client_args(const struct client_config *cc, enum client_id c)
{
	return cc->smoke ? clients[c].smoke_args : clients[c].args;
}

void client_command(const struct client_config *cc, enum client_id c, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "%s", clients[c].program);

	for (const char *const *a = client_args(cc, c); *a && n < len; a++)
		n += (size_t)snprintf(buf + n, len - n, " %s",
				      strcmp(*a, "@") ? *a : clients[c].shared_file ? "FILE" : "DIR");
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void remove_tree(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The whole of a small file, NUL-terminated, or an empty string. */
static char *slurp(const char *path)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t k;

	if (!buf)
		abort();
	while (fd >= 0 && (k = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)k;
		if (len + 1 == cap && !(buf = realloc(buf, cap *= 2)))
			abort();
	}
	if (fd >= 0)
		close(fd);
	buf[len] = '\0';
	return buf;
}

/* Take vmemu's counter lines ("vmemu: name N") out of r->err, summing the
 * counters kept over the processes that printed them (one pgfault line
 * each). */
static void take_counters(struct client_once *r)
{
	char *in = r->err, *o = r->err;

	while (*in) {
		char *nl = strchr(in, '\n'), name[64];
		size_t len = nl ? (size_t)(nl - in + 1) : strlen(in);
		unsigned long long v;
		int used = 0;
		if (sscanf(in, "vmemu: %63[a-z_] %llu%n", name, &v, &used) == 2 && in[used] == '\n') {
			for (size_t k = 0; k < sizeof(counter_names) / sizeof(counter_names[0]); k++)
				if (!strcmp(name, counter_names[k].name))
					*(uint64_t *)(void *)((char *)&r->vm + counter_names[k].off) += v;
			r->vm.reports += !strcmp(name, "pgfault");
		} else {
			memmove(o, in, len);
			o += len;
		}
		in += len;
	}
	*o = '\0';
}

/* Wait for pid, at most timeout_s (0: no limit); past it, kill its process
 * group.  Returns its wait status, or -1 if it was killed for the time. */
static int wait_limited(pid_t pid, unsigned timeout_s)
{
	int pfd = timeout_s ? pidfd_open(pid, 0) : -1, status;
	bool killed = false;

	if (pfd >= 0) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };
		uint64_t deadline = timer_clock_ns() + (uint64_t)timeout_s * 1000000000ULL;
		for (;;) {
			uint64_t now = timer_clock_ns();
			int r = now < deadline ? poll(&p, 1, (int)((deadline - now) / 1000000 + 1)) : 0;
			if (r > 0)
				break;
			if (r < 0 && errno == EINTR)
				continue;
			kill(-pid, SIGKILL);
			killed = true;
			break;
		}
		close(pfd);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return killed ? -1 : status;
}

/* Run prog with args ("@" is target, or DIR/work in a fresh directory under
 * cfg->dir), stdout and stderr to files there; wrapped with VMEMU_VERBOSE=1. */
static int run_once(const struct bench_config *cfg, const char *prog, bool wrapped, const char *const *args,
		    const char *target, struct client_once *r)
{
	char dir[4096], work[4160], out[4160], err[4160];
	char *argv[CLIENT_ARGS_MAX + 2];
	int n = 0, ofd, efd, status;
	uint64_t t0;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	snprintf(dir, sizeof(dir), "%s/vmemu-bench-client-XXXXXX", cfg->dir);
	if (!mkdtemp(dir))
		return -errno;
	snprintf(work, sizeof(work), "%s/work", dir);
	snprintf(out, sizeof(out), "%s/stdout", dir);
	snprintf(err, sizeof(err), "%s/stderr", dir);
	argv[n++] = (char *)prog;
	for (; *args && n < CLIENT_ARGS_MAX + 1; args++)
		argv[n++] = (char *)(strcmp(*args, "@") ? *args : target ? target : work);
	argv[n] = NULL;
	ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	efd = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (ofd < 0 || efd < 0) {
		int e = errno;
		remove_tree(dir);
		return -e;
	}

	fflush(NULL);
	t0 = timer_clock_ns();
	if ((pid = fork()) < 0) {
		int e = errno;
		remove_tree(dir);
		return -e;
	}
	if (pid == 0) {
		/* its own process group, so that a time limit kills its workers too */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (dup2(ofd, STDOUT_FILENO) < 0 || dup2(efd, STDERR_FILENO) < 0)
			_exit(126);
		if (wrapped)
			setenv("VMEMU_VERBOSE", "1", 1);
		else
			unsetenv("VMEMU_VERBOSE");
		execv(prog, argv);
		_exit(127);
	}
	setpgid(pid, pid);
	status = wait_limited(pid, cfg->timeout_s);
	r->seconds = (double)(timer_clock_ns() - t0) / 1e9;
	close(ofd);
	close(efd);
	r->status = status == -1 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r->out = slurp(out);
	r->err = slurp(err);
	take_counters(r);
	remove_tree(dir);
	return 0;
}

static void once_free(struct client_once *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

/* The first two lines of s, joined by " / ", into buf. */
static void first_lines(const char *s, char *buf, size_t len)
{
	const char *nl = strchr(s, '\n');
	int a = nl ? (int)(nl - s) : (int)strlen(s);

	if (!*s)
		snprintf(buf, len, "(nothing on stderr)");
	else if (nl && nl[1])
		snprintf(buf, len, "%.*s / %.*s", a, s, (int)strcspn(nl + 1, "\n"), nl + 1);
	else
		snprintf(buf, len, "%.*s", a, s);
}

/* A run is good if it exited 0 and printed ref; a switched-over run must
 * also have faulted on vmemu.  Else says why in res->note. */
static bool run_ok(const struct client_once *r, const char *name, bool wrapped, const char *ref,
		   unsigned timeout_s, struct client_result *res)
{
	char lines[400];

	if (r->status == -1) {
		snprintf(res->note, sizeof(res->note), "%s was still running after %u s and was killed", name,
			 timeout_s);
		return false;
	}
	if (r->status) {
		first_lines(r->err, lines, sizeof(lines));
		snprintf(res->note, sizeof(res->note), "%s exited with %d: %s", name, r->status, lines);
		return false;
	}
	if (ref && strcmp(r->out, ref)) {
		snprintf(res->note, sizeof(res->note), "%s printed '%.*s', the native build '%.*s'", name,
			 (int)strcspn(r->out, "\n"), r->out, (int)strcspn(ref, "\n"), ref);
		return false;
	}
	if (wrapped && (!r->vm.reports || !r->vm.pgfault)) {
		snprintf(res->note, sizeof(res->note), "%s did not run on vmemu: %llu counter report(s), pgfault "
			 "%llu", name, (unsigned long long)r->vm.reports, (unsigned long long)r->vm.pgfault);
		return false;
	}
	return true;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[CLIENT_RUNS_MAX];

	memcpy(s, v, (size_t)n * sizeof(*v));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* The last line of out, into buf. */
static void last_line(const char *out, char *buf, size_t len)
{
	size_t n = strlen(out);

	while (n && out[n - 1] == '\n')
		n--;
	size_t start = n;
	while (start && out[start - 1] != '\n')
		start--;
	snprintf(buf, len, "%.*s", (int)(n - start), out + start);
}

void client_run(const struct bench_config *cfg, const struct client_config *cc, enum client_id c,
		struct client_result *res)
{
	const struct client *cl = &clients[c];
	const char *const *args = client_args(cc, c);
	char prog[2][4096 + 128], name[2][64], shared_dir[4096] = "", shared[4160], *ref = NULL;
	struct client_once r;
	int err;

	memset(res, 0, sizeof(*res));
	for (int w = 0; w < 2; w++) {
		snprintf(name[w], sizeof(name[w]), "%s%s", cl->program, w ? "-wrap" : "");
		snprintf(prog[w], sizeof(prog[w]), "%s/%s", cc->dir, name[w]);
		if (access(prog[w], X_OK)) {
			res->status = CELL_SKIPPED;
			snprintf(res->note, sizeof(res->note), "%.360s is not built: `make clients` builds it "
				 "(--clients-dir says where to look)", prog[w]);
			return;
		}
	}
	if (cl->shared_file) {
		snprintf(shared_dir, sizeof(shared_dir), "%s/vmemu-bench-shared-XXXXXX", cfg->dir);
		if (!mkdtemp(shared_dir)) {
			res->status = CELL_FAILED;
			snprintf(res->note, sizeof(res->note), "mkdtemp in %s: %s", cfg->dir, strerror(errno));
			return;
		}
		snprintf(shared, sizeof(shared), "%s/file", shared_dir);
	}

	/* one untimed run of each build first, but for a long client; the first
	 * native run's output is the reference */
	int runs = cl->long_run && !cc->runs_given ? 1 : cc->runs;
	res->warmup = !cl->long_run || cc->runs_given;
	res->status = CELL_FAILED;
	for (int i = res->warmup ? -1 : 0; i < runs; i++)
		for (int w = 0; w < 2; w++) {
			if ((err = run_once(cfg, prog[w], w, args, cl->shared_file ? shared : NULL, &r))) {
				snprintf(res->note, sizeof(res->note), "running %s: %s", name[w], strerror(-err));
				goto out;
			}
			if (!run_ok(&r, name[w], w, ref, cfg->timeout_s, res)) {
				once_free(&r);
				goto out;
			}
			if (!ref) {
				ref = r.out;
				r.out = NULL;
			}
			if (i >= 0)
				(w ? res->vmemu_s : res->native_s)[i] = r.seconds;
			if (w)
				res->vm = r.vm;
			once_free(&r);
		}
	res->runs = runs;
	res->native_med = median(res->native_s, runs);
	res->vmemu_med = median(res->vmemu_s, runs);
	last_line(ref, res->summary, sizeof(res->summary));
	res->status = CELL_OK;
out:
	free(ref);
	if (shared_dir[0])
		remove_tree(shared_dir);
}
