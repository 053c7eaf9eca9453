/*
 * clients.c - real programs switched over to vmemu at link time give the
 * same answers as their native builds.
 *
 * Each workload in tests/clients/ (LMDB, SQLite and GDBM through Debian's
 * static libraries, and a map-read-unmap loop) is built twice from the same
 * objects: build/clients/NAME natively, NAME-wrap with -Wl,--wrap for every
 * call in src/api/wrap.syms against libvmemu.so.  A test runs both, each in
 * a fresh temporary directory, with the same arguments.  Both must exit 0
 * (a workload exits 1 on any missing key, wrong value or failed
 * integrity_check, and says which on stderr), print the same summary, and
 * the wrapped one must have run on vmemu: with VMEMU_VERBOSE=1 vmemu prints
 * its counters at exit, and pgfault must be above 0.  The nm tests check
 * the switch-over in the binaries themselves: every wrappable call the
 * native build imports, the wrapped build imports as __wrap_X instead.
 *
 * The programs are in $VMEMU_CLIENTS if set, else in clients/ beside the
 * test runner's directory (build/tests/run -> build/clients/), else in
 * build/clients/.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <signal.h>
#include <sys/prctl.h>

#include "testutil.h"

#define CLIENT_TIMEOUT 60	/* seconds a Test may take: natively each run is well under one */
#define PATH_LEN (PATH_MAX + 256)	/* a program's path: the runner's directory, "/../clients/", a name */

struct client_run {
	int status;		/* exit code, or 128 + signal */
	char *out;		/* stdout */
	char *err;		/* stderr without vmemu's counter lines */
	unsigned long pgfault;	/* vmemu's pgfault, summed over the processes that reported it */
	int reports;		/* processes that printed vmemu's counters */
};

static void client_path(const char *name, char *out, size_t len)
{
	const char *dir = getenv("VMEMU_CLIENTS");
	char rel[128];

	if (dir && *dir) {
		snprintf(out, len, "%s/%s", dir, name);
		return;
	}
	snprintf(rel, sizeof(rel), "clients/%s", name);
	built_program("VMEMU_CLIENTS", rel, out, len);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t cap = 4096, len = 0, k;
	char *buf = malloc(cap);

	cr_assert(f && buf, "open %s", path);
	while ((k = fread(buf + len, 1, cap - len - 1, f)) > 0)
		if ((len += k) + 1 == cap)
			cr_assert((buf = realloc(buf, cap *= 2)));
	buf[len] = '\0';
	fclose(f);
	return buf;
}

/* Take vmemu's counter lines ("vmemu: name N") out of err; sum pgfault. */
static void take_counters(struct client_run *r)
{
	char *in = r->err, *o = r->err;

	while (*in) {
		char *nl = strchr(in, '\n'), name[64];
		size_t len = nl ? (size_t)(nl - in + 1) : strlen(in);
		unsigned long v;
		int used = 0;
		if (sscanf(in, "vmemu: %63[a-z_] %lu%n", name, &v, &used) == 2 && in[used] == '\n') {
			if (!strcmp(name, "pgfault")) {
				r->pgfault += v;
				r->reports++;
			}
		} else {
			memmove(o, in, len);
			o += len;
		}
		in += len;
	}
	*o = '\0';
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* Run build/clients/NAME (wrapped: NAME-wrap, with VMEMU_VERBOSE=1) with
 * args, then "@" replaced by a path in a fresh temporary directory. */
static struct client_run run_client(const char *name, bool wrapped, const char *const *args)
{
	char prog[PATH_LEN], tmp[] = "/tmp/vmemu-clients-XXXXXX", out[64], err[64], target[64], exe[96];
	char *argv[24];
	struct client_run r = { 0 };
	int n = 0, status;
	pid_t pid;

	snprintf(exe, sizeof(exe), "%s%s", name, wrapped ? "-wrap" : "");
	client_path(exe, prog, sizeof(prog));
	cr_assert(access(prog, X_OK) == 0, "%s is not built (make test builds it)", prog);
	cr_assert_not_null(mkdtemp(tmp));
	snprintf(out, sizeof(out), "%s/stdout", tmp);
	snprintf(err, sizeof(err), "%s/stderr", tmp);
	snprintf(target, sizeof(target), "%s/work", tmp);
	argv[n++] = prog;
	for (; *args && n < 23; args++)
		argv[n++] = (char *)(strcmp(*args, "@") ? *args : target);
	argv[n] = NULL;

	fflush(NULL);
	pid = fork();
	cr_assert(pid >= 0, "fork");
	if (pid == 0) {
		/* killed with this test if it times out */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!freopen(out, "w", stdout) || !freopen(err, "w", stderr))
			_exit(126);
		if (wrapped)
			setenv("VMEMU_VERBOSE", "1", 1);
		else
			unsetenv("VMEMU_VERBOSE");
		execv(prog, argv);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r.out = slurp(out);
	r.err = slurp(err);
	take_counters(&r);
	nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return r;
}

static void client_run_free(struct client_run *r)
{
	free(r->out);
	free(r->err);
}

/* The workload, native and wrapped: both succeed with the same summary,
 * and the wrapped one ran on vmemu. */
static void same_on_vmemu(const char *name, const char *const *args)
{
	struct client_run native = run_client(name, false, args);
	cr_assert_eq(native.status, 0, "%s (native) exited with %d:\n%s", name, native.status, native.err);
	cr_assert(native.out[0], "%s (native) printed nothing", name);
	cr_expect_eq(native.reports, 0, "%s (native) printed vmemu's counters", name);

	struct client_run wrapped = run_client(name, true, args);
	cr_assert_eq(wrapped.status, 0, "%s-wrap exited with %d (vmemu: pgfault %lu):\n%s", name, wrapped.status,
		     wrapped.pgfault, wrapped.err);
	cr_assert(wrapped.reports > 0 && wrapped.pgfault > 0,
		  "%s-wrap did not run on vmemu: %d counter report(s), pgfault %lu", name, wrapped.reports,
		  wrapped.pgfault);
	cr_assert_str_eq(wrapped.out, native.out, "%s-wrap printed\n%s\nbut %s (native) printed\n%s", name,
			 wrapped.out, name, native.out);
	client_run_free(&native);
	client_run_free(&wrapped);
}

/* --- LMDB ------------------------------------------------------------------------- */

Test(clients, lmdb_default_pwrite_and_read_only_map, .timeout = CLIENT_TIMEOUT)
{
	same_on_vmemu("lmdb-load", (const char *const[]){ "--keys", "5000", "@", NULL });
}

Test(clients, lmdb_writemap, .timeout = CLIENT_TIMEOUT)
{
	same_on_vmemu("lmdb-load", (const char *const[]){ "--writemap", "--keys", "5000", "@", NULL });
}

Test(clients, lmdb_default_two_processes, .timeout = CLIENT_TIMEOUT)
{
	same_on_vmemu("lmdb-load", (const char *const[]){ "--procs", "2", "--keys", "5000", "--batch", "20", "@",
							   NULL });
}

Test(clients, lmdb_writemap_two_processes, .timeout = CLIENT_TIMEOUT)
{
	same_on_vmemu("lmdb-load", (const char *const[]){ "--writemap", "--procs", "2", "--keys", "5000", "--batch",
							   "20", "@", NULL });
}

Test(clients, lmdb_default_copy_and_compact_copy, .timeout = CLIENT_TIMEOUT)
{
	same_on_vmemu("lmdb-load", (const char *const[]){ "--copy", "--keys", "5000", "@", NULL });
}

Test(clients, lmdb_writemap_copy_and_compact_copy, .timeout = CLIENT_TIMEOUT)
{
	same_on_vmemu("lmdb-load", (const char *const[]){ "--writemap", "--copy", "--keys", "5000", "@", NULL });
}

/* --- SQLite ----------------------------------------------------------------------- */

Test(clients, sqlite_mmap_wal, .timeout = CLIENT_TIMEOUT)
{
	same_on_vmemu("sqlite-load", (const char *const[]){ "--journal", "wal", "--rows", "5000", "@", NULL });
}

Test(clients, sqlite_mmap_delete_journal, .timeout = CLIENT_TIMEOUT)
{
	same_on_vmemu("sqlite-load", (const char *const[]){ "--journal", "delete", "--rows", "5000", "@", NULL });
}

Test(clients, sqlite_mmap_wal_two_processes, .timeout = CLIENT_TIMEOUT)
{
	same_on_vmemu("sqlite-load", (const char *const[]){ "--journal", "wal", "--procs", "2", "--rows", "5000",
							     "--batch", "20", "@", NULL });
}

Test(clients, sqlite_mmap_delete_journal_two_processes, .timeout = CLIENT_TIMEOUT)
{
	same_on_vmemu("sqlite-load", (const char *const[]){ "--journal", "delete", "--procs", "2", "--rows",
							     "5000", "--batch", "20", "@", NULL });
}

/* --- GDBM ------------------------------------------------------------------------- */

/* GDBM maps its file itself (read-write, MAP_SHARED, mapped again as it
 * grows), so the switched-over build faults on vmemu for every access to
 * the database. */
Test(clients, gdbm_load_through_its_own_map, .timeout = CLIENT_TIMEOUT)
{
	same_on_vmemu("gdbm-load", (const char *const[]){ "--keys", "20000", "@", NULL });
}

/* --- map, read every page, unmap ---------------------------------------------------- */

Test(clients, map_scan_map_read_unmap_loop, .timeout = CLIENT_TIMEOUT)
{
	same_on_vmemu("map-scan", (const char *const[]){ "--size", "8M", "--repeat", "5", "@", NULL });
}

/* --- the switch-over, in the binaries ------------------------------------------------- */

/* "name" for each line "U name" or "U name@VERSION" of nm -u, one a line. */
static char *undefined_symbols(const char *path)
{
	char cmd[PATH_LEN + 32], line[512];
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap);
	FILE *p;

	snprintf(cmd, sizeof(cmd), "nm -u '%s'", path);
	cr_assert((p = popen(cmd, "r")) && out, "popen %s", cmd);
	out[0] = '\n';
	len = 1;
	while (fgets(line, sizeof(line), p)) {
		char name[256];
		if (sscanf(line, " U %255[^@ \n]", name) != 1)
			continue;
		if (len + strlen(name) + 2 >= cap)
			cr_assert((out = realloc(out, cap *= 2)));
		len += (size_t)sprintf(out + len, "%s\n", name);
	}
	cr_assert_eq(pclose(p), 0, "%s failed (nm is in binutils)", cmd);
	return out;
}

static bool has_symbol(const char *list, const char *name)
{
	char pat[300];

	snprintf(pat, sizeof(pat), "\n%.290s\n", name);
	return strstr(list, pat) != NULL;
}

/* Every call libvmemu.so offers as __wrap_X that the native build of
 * program imports, the wrapped build imports as __wrap_X and not as X;
 * the calls in must are among them. */
static void switched_over(const char *program, const char *const *must)
{
	char native[PATH_LEN], wrapped[PATH_LEN + 8], lib[PATH_LEN], cmd[PATH_LEN + 64], line[512];
	int n = 0;
	FILE *p;

	client_path(program, native, sizeof(native));
	snprintf(wrapped, sizeof(wrapped), "%s-wrap", native);
	built_program("VMEMU_LIB", "libvmemu.so", lib, sizeof(lib));
	char *nat = undefined_symbols(native), *wr = undefined_symbols(wrapped);
	for (; *must; must++)
		cr_assert(has_symbol(nat, *must), "%s does not call %s: it is not the program this test expects",
			  native, *must);

	snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s'", lib);
	cr_assert((p = popen(cmd, "r")), "popen %s", cmd);
	while (fgets(line, sizeof(line), p)) {
		char name[256];
		if (sscanf(line, "%*s %*s __wrap_%255s", name) != 1)
			continue;
		char wrap_name[300];
		snprintf(wrap_name, sizeof(wrap_name), "__wrap_%s", name);
		if (!has_symbol(nat, name))
			continue;
		n++;
		cr_expect(has_symbol(wr, wrap_name), "%s calls %s, but %s does not import %s", native, name, wrapped,
			  wrap_name);
		cr_expect(!has_symbol(wr, name), "%s still imports %s itself", wrapped, name);
	}
	cr_assert_eq(pclose(p), 0, "%s failed", cmd);
	cr_assert(n > 0, "%s exports no __wrap_ call that %s makes", lib, native);
	free(nat);
	free(wr);
}

Test(clients, lmdb_static_library_calls_reach_vmemu, .timeout = 30)
{
	switched_over("lmdb-load", (const char *const[]){ "mmap", "pwrite", "pread", "msync", "fdatasync", NULL });
}

Test(clients, sqlite_static_library_calls_reach_vmemu, .timeout = 30)
{
	switched_over("sqlite-load", (const char *const[]){ "mmap64", "mremap", "pread64", "pwrite64", "ftruncate64",
							      NULL });
}

Test(clients, gdbm_static_library_calls_reach_vmemu, .timeout = 30)
{
	switched_over("gdbm-load", (const char *const[]){ "mmap", "munmap", "msync", "write", "ftruncate", NULL });
}

Test(clients, map_scan_calls_reach_vmemu, .timeout = 30)
{
	switched_over("map-scan", (const char *const[]){ "mmap", "munmap", "write", NULL });
}
