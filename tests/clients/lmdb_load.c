/*
 * lmdb_load.c - lmdb-load: LMDB (Debian's liblmdb.a) loads, updates,
 * deletes and verifies records, in one process or several, and copies its
 * environment.
 *
 *   lmdb-load [--writemap] [--keys N] [--batch N] [--procs P] [--copy] [--nosync] DIR
 *
 * DIR is created if missing and must not hold an environment yet.  The plan
 * of client.h runs over keys 0..N-1 in write transactions of --batch
 * operations.  The update and delete passes read each record before they
 * change it, inside the write transaction, so a write that a later read
 * does not see is caught where it happens.  With --procs P, P worker
 * processes (this program again) run the plan on disjoint key ranges at the
 * same time, sharing LMDB's writer mutex and reader table in lock.mdb, a
 * MAP_SHARED file; the parent, which opened the environment before them,
 * verifies afterwards through its own map.
 *
 * Verification reads every key with mdb_get and walks the whole database
 * with a cursor: every record must be there with the right value, no other.
 * --copy then copies the environment with mdb_env_copy (into DIR/copy) and
 * compacts it with mdb_env_copyfd2 (into DIR/compact.mdb), and verifies
 * each copy through an environment of its own.
 *
 * By default LMDB maps the file read-only and writes pages with pwrite;
 * --writemap maps it read-write and writes through the map (MDB_WRITEMAP),
 * syncing with msync.  --nosync leaves out the syncs at commit (MDB_NOSYNC).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

#define MAX_PROCS 8

struct options {
	unsigned env_flags;	/* MDB_WRITEMAP, MDB_NOSYNC */
	uint64_t keys;
	uint64_t batch;		/* operations per write transaction */
	unsigned procs;
	bool copy;
	int worker;		/* -1: the parent; else this worker's rank */
	const char *dir;
};

static const char *mode_name(const struct options *o)
{
	return o->env_flags & MDB_WRITEMAP ? "writemap" : "default";
}

/* Room for the records, their overflow pages and the pages LMDB keeps free
 * for its readers; the map is only reserved, never filled. */
static size_t map_size(const struct options *o)
{
	return (size_t)(16UL << 20) + (size_t)o->keys * 2048;
}

static void lmdb_check(int rc, const char *what)
{
	if (rc)
		die("%s: %s", what, mdb_strerror(rc));
}

static MDB_env *env_open(const struct options *o, const char *path, unsigned extra_flags)
{
	MDB_env *env;
	char what[4200];

	lmdb_check(mdb_env_create(&env), "mdb_env_create");
	lmdb_check(mdb_env_set_mapsize(env, map_size(o)), "mdb_env_set_mapsize");
	snprintf(what, sizeof(what), "mdb_env_open %s", path);
	lmdb_check(mdb_env_open(env, path, o->env_flags | extra_flags, 0644), what);
	return env;
}

static MDB_dbi main_dbi(MDB_env *env)
{
	MDB_txn *txn;
	MDB_dbi dbi;

	lmdb_check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "mdb_txn_begin");
	lmdb_check(mdb_dbi_open(txn, NULL, 0, &dbi), "mdb_dbi_open");
	mdb_txn_abort(txn);
	return dbi;
}

/* --- the plan ------------------------------------------------------------------- */

enum pass { PASS_INSERT, PASS_UPDATE, PASS_DELETE };

static const char *const pass_name[] = { "insert", "update", "delete" };

static bool in_pass(enum pass p, uint64_t i)
{
	return p == PASS_INSERT || (p == PASS_UPDATE ? record_updated(i) : record_deleted(i));
}

/* The record must hold its value at version as the pass reads it back. */
static void expect_value(struct check *c, MDB_txn *txn, MDB_dbi dbi, uint64_t i, unsigned version)
{
	static unsigned char want[RECORD_VALUE_MAX];
	char key[RECORD_KEY_MAX];
	MDB_val k = { record_key(i, key), key }, v;
	size_t len = record_value(i, version, want);
	int rc = mdb_get(txn, dbi, &k, &v);

	if (rc == MDB_NOTFOUND)
		check_error(c, "%s is missing (written at version %u)", key, version);
	else if (rc)
		check_error(c, "mdb_get %s: %s", key, mdb_strerror(rc));
	else if (v.mv_size != len || memcmp(v.mv_data, want, len))
		check_error(c, "%s holds %zu bytes that are not its version %u value (%zu bytes)", key,
			    v.mv_size, version, len);
}

/* One pass of the plan over keys [lo, hi), batch operations a transaction. */
static void run_pass(const struct options *o, MDB_env *env, MDB_dbi dbi, enum pass p, uint64_t lo, uint64_t hi,
		     struct check *c)
{
	static unsigned char val[RECORD_VALUE_MAX];
	char key[RECORD_KEY_MAX], what[64];
	uint64_t i = lo;

	snprintf(what, sizeof(what), "%s pass", pass_name[p]);
	while (i < hi) {
		MDB_txn *txn;
		lmdb_check(mdb_txn_begin(env, NULL, 0, &txn), "mdb_txn_begin (write)");
		for (uint64_t ops = 0; i < hi && ops < o->batch; i++) {
			if (!in_pass(p, i))
				continue;
			MDB_val k = { record_key(i, key), key };
			int rc = 0;
			ops++;
			switch (p) {
			case PASS_INSERT: {
				MDB_val v = { record_value(i, 0, val), val };
				rc = mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE);
				break;
			}
			case PASS_UPDATE: {
				expect_value(c, txn, dbi, i, 0);
				MDB_val v = { record_value(i, 1, val), val };
				rc = mdb_put(txn, dbi, &k, &v, 0);
				break;
			}
			case PASS_DELETE:
				expect_value(c, txn, dbi, i, record_updated(i));
				rc = mdb_del(txn, dbi, &k, NULL);
				break;
			}
			if (rc == MDB_KEYEXIST || rc == MDB_NOTFOUND)
				check_error(c, "%s %s: %s", pass_name[p], key, mdb_strerror(rc));
			else
				lmdb_check(rc, what);
		}
		lmdb_check(mdb_txn_commit(txn), "mdb_txn_commit");
	}
}

static void run_plan(const struct options *o, MDB_env *env, uint64_t lo, uint64_t hi, const char *what)
{
	struct check c = { what, 0 };
	MDB_dbi dbi = main_dbi(env);

	run_pass(o, env, dbi, PASS_INSERT, lo, hi, &c);
	run_pass(o, env, dbi, PASS_UPDATE, lo, hi, &c);
	run_pass(o, env, dbi, PASS_DELETE, lo, hi, &c);
	check_done(&c);
}

/* --- verification ------------------------------------------------------------------ */

/* Every record as the plan left it, by lookup and by a cursor walk in key
 * order; returns the walk's digest.  Dies on any difference. */
static struct digest verify(const struct options *o, MDB_env *env, const char *what)
{
	struct check c = { what, 0 };
	struct digest got, want;
	MDB_dbi dbi = main_dbi(env);
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	char key[RECORD_KEY_MAX];
	int rc;

	lmdb_check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "mdb_txn_begin (read)");
	for (uint64_t i = 0; i < o->keys; i++) {
		if (!record_deleted(i)) {
			expect_value(&c, txn, dbi, i, record_updated(i));
			continue;
		}
		k = (MDB_val){ record_key(i, key), key };
		if ((rc = mdb_get(txn, dbi, &k, &v)) == 0)
			check_error(&c, "%s is there, but was deleted", key);
		else if (rc != MDB_NOTFOUND)
			check_error(&c, "mdb_get %s: %s", key, mdb_strerror(rc));
	}

	digest_init(&got);
	lmdb_check(mdb_cursor_open(txn, dbi, &cur), "mdb_cursor_open");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		digest_add(&got, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
	if (rc != MDB_NOTFOUND)
		check_error(&c, "cursor walk stopped after %llu records: %s", (unsigned long long)got.count,
			    mdb_strerror(rc));
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);

	digest_expected(o->keys, &want);
	if (got.count != want.count || got.hash != want.hash)
		check_error(&c, "a cursor walk finds %llu records, digest %016llx; expected %llu, digest %016llx",
			    (unsigned long long)got.count, (unsigned long long)got.hash,
			    (unsigned long long)want.count, (unsigned long long)want.hash);
	check_done(&c);
	return got;
}

static void print_summary(const char *what, const struct digest *d)
{
	printf("%s: %llu records, digest %016llx\n", what, (unsigned long long)d->count,
	       (unsigned long long)d->hash);
}

/* mdb_env_copy into DIR/copy and a compacting mdb_env_copyfd2 into
 * DIR/compact.mdb; each copy verified through its own environment. */
static void copy_and_verify(const struct options *o, MDB_env *env)
{
	char path[4200], what[64];
	struct digest d;
	MDB_env *copy;
	int fd;

	snprintf(path, sizeof(path), "%s/copy", o->dir);
	if (mkdir(path, 0755))
		die("mkdir %s: %s", path, strerror(errno));
	lmdb_check(mdb_env_copy(env, path), "mdb_env_copy");
	copy = env_open(o, path, 0);
	snprintf(what, sizeof(what), "lmdb %s copy", mode_name(o));
	d = verify(o, copy, what);
	mdb_env_close(copy);
	print_summary(what, &d);

	snprintf(path, sizeof(path), "%s/compact.mdb", o->dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644)) < 0)
		die("open %s: %s", path, strerror(errno));
	lmdb_check(mdb_env_copyfd2(env, fd, MDB_CP_COMPACT), "mdb_env_copyfd2 (MDB_CP_COMPACT)");
	if (close(fd))
		die("close %s: %s", path, strerror(errno));
	copy = env_open(o, path, MDB_NOSUBDIR);
	snprintf(what, sizeof(what), "lmdb %s compact copy", mode_name(o));
	d = verify(o, copy, what);
	mdb_env_close(copy);
	print_summary(what, &d);
}

/* --- processes ---------------------------------------------------------------------- */

/* Keys [lo, hi) of worker rank out of procs. */
static void worker_range(const struct options *o, unsigned rank, uint64_t *lo, uint64_t *hi)
{
	*lo = o->keys * rank / o->procs;
	*hi = o->keys * (rank + 1) / o->procs;
}

/* The workers' command lines: this one's options, and --worker R. */
static void start_workers(const struct options *o, pid_t *pids)
{
	char keys[32], batch[32], procs[32], rank[16];

	snprintf(keys, sizeof(keys), "%llu", (unsigned long long)o->keys);
	snprintf(batch, sizeof(batch), "%llu", (unsigned long long)o->batch);
	snprintf(procs, sizeof(procs), "%u", o->procs);
	for (unsigned r = 0; r < o->procs; r++) {
		char *argv[16];
		int n = 0;
		argv[n++] = program_invocation_name;
		if (o->env_flags & MDB_WRITEMAP)
			argv[n++] = "--writemap";
		if (o->env_flags & MDB_NOSYNC)
			argv[n++] = "--nosync";
		argv[n++] = "--keys";
		argv[n++] = keys;
		argv[n++] = "--batch";
		argv[n++] = batch;
		argv[n++] = "--procs";
		argv[n++] = procs;
		snprintf(rank, sizeof(rank), "%u", r);
		argv[n++] = "--worker";
		argv[n++] = rank;
		argv[n++] = (char *)o->dir;
		argv[n] = NULL;
		pids[r] = worker_start(argv);
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: lmdb-load [--writemap] [--keys N] [--batch N] [--procs P] [--copy] [--nosync] DIR\n"
		"  --writemap   MDB_WRITEMAP: write through a read-write map (default: pwrite, read-only map)\n"
		"  --keys N     records 0..N-1 (default 5000)\n"
		"  --batch N    operations per write transaction (default 100)\n"
		"  --procs P    P worker processes on disjoint key ranges at once (default 1: this one)\n"
		"  --copy       then mdb_env_copy and a compacting mdb_env_copyfd2, each verified\n"
		"  --nosync     MDB_NOSYNC: no sync at commit\n"
		"DIR is created if missing; it must not hold an environment yet.\n");
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { O_WRITEMAP = 256, O_KEYS, O_BATCH, O_PROCS, O_COPY, O_NOSYNC, O_WORKER };
	static const struct option opts[] = {
		{ "writemap", no_argument, NULL, O_WRITEMAP }, { "keys", required_argument, NULL, O_KEYS },
		{ "batch", required_argument, NULL, O_BATCH }, { "procs", required_argument, NULL, O_PROCS },
		{ "copy", no_argument, NULL, O_COPY }, { "nosync", no_argument, NULL, O_NOSYNC },
		{ "worker", required_argument, NULL, O_WORKER }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct options){ .keys = 5000, .batch = 100, .procs = 1, .worker = -1 };
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_WRITEMAP: o->env_flags |= MDB_WRITEMAP; break;
		case O_KEYS: o->keys = parse_count("--keys", optarg, 1, 1UL << 26); break;
		case O_BATCH: o->batch = parse_count("--batch", optarg, 1, 1UL << 26); break;
		case O_PROCS: o->procs = (unsigned)parse_count("--procs", optarg, 1, MAX_PROCS); break;
		case O_COPY: o->copy = true; break;
		case O_NOSYNC: o->env_flags |= MDB_NOSYNC; break;
		case O_WORKER: o->worker = (int)parse_count("--worker", optarg, 0, MAX_PROCS - 1); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		exit(2);
	}
	o->dir = argv[optind];
}

int main(int argc, char **argv)
{
	struct options o;
	char what[64];
	MDB_env *env;

	parse_options(argc, argv, &o);
	snprintf(what, sizeof(what), "lmdb %s", mode_name(&o));
	if (o.worker >= 0) {
		uint64_t lo, hi;
		worker_range(&o, (unsigned)o.worker, &lo, &hi);
		snprintf(what, sizeof(what), "lmdb %s worker %d", mode_name(&o), o.worker);
		env = env_open(&o, o.dir, 0);
		run_plan(&o, env, lo, hi, what);
		mdb_env_close(env);
		return 0;
	}

	if (mkdir(o.dir, 0755) && errno != EEXIST)
		die("mkdir %s: %s", o.dir, strerror(errno));
	env = env_open(&o, o.dir, 0);
	MDB_stat st;
	lmdb_check(mdb_env_stat(env, &st), "mdb_env_stat");
	if (st.ms_entries)
		die("%s already holds an environment with %zu records", o.dir, st.ms_entries);
	if (o.procs == 1) {
		run_plan(&o, env, 0, o.keys, what);
	} else {
		pid_t pids[MAX_PROCS];
		start_workers(&o, pids);
		workers_wait(pids, (int)o.procs);
	}
	struct digest d = verify(&o, env, what);
	printf("%s: %llu keys, %u process%s, %llu operations a transaction\n", what,
	       (unsigned long long)o.keys, o.procs, o.procs == 1 ? "" : "es", (unsigned long long)o.batch);
	print_summary(what, &d);
	if (o.copy)
		copy_and_verify(&o, env);
	mdb_env_close(env);
	return 0;
}
