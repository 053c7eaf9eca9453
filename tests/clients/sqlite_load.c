/*
 * sqlite_load.c - sqlite-load: SQLite (Debian's libsqlite3.a) with the
 * database memory-mapped inserts, updates, deletes and verifies rows, in one
 * process or several.
 *
 *   sqlite-load [--journal wal|delete] [--rows N] [--batch N] [--procs P]
 *               [--mmap-mb M] [--nosync] DIR
 *
 * DIR/test.db is created and must not exist yet.  PRAGMA mmap_size is set
 * to M MiB (default 256), more than the database grows to, so SQLite reads
 * every page through its MAP_SHARED read-only mapping (mmap64, grown with
 * mremap) and writes pages with pwrite64.  The plan of client.h runs over
 * rows 0..N-1 of t(id INTEGER PRIMARY KEY, k TEXT UNIQUE, v BLOB), in
 * BEGIN IMMEDIATE transactions of --batch statements; the update pass finds
 * each row by k (the index), the delete pass by id, and both compare the
 * row with what it must hold first.  In WAL mode, wal_autocheckpoint is 100
 * pages so that checkpoints write the database often, and the journal is
 * checkpointed (TRUNCATE) before the verification.  With --procs P, P
 * worker processes (this program again) run the plan on disjoint rows at
 * once, with busy_timeout set; in WAL mode they share the wal-index, a
 * MAP_SHARED -shm file.  The parent, which made the table and kept its
 * connection open, verifies afterwards.
 *
 * Verification: PRAGMA integrity_check must say "ok"; every row is looked
 * up by id; a scan in id order must hold exactly the expected rows.
 * --nosync sets PRAGMA synchronous=OFF.
 */
#include <errno.h>
#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

#define MAX_PROCS 8
#define BUSY_TIMEOUT_MS 60000

struct options {
	bool wal;		/* journal_mode=WAL, else DELETE */
	uint64_t rows;
	uint64_t batch;		/* statements per transaction */
	unsigned procs;
	uint64_t mmap_mb;
	bool nosync;
	int worker;		/* -1: the parent; else this worker's rank */
	const char *dir;
};

static const char *mode_name(const struct options *o)
{
	return o->wal ? "wal" : "delete";
}

static void sql_die(sqlite3 *db, const char *what)
{
	die("%s: %s (%s)", what, sqlite3_errmsg(db), sqlite3_errstr(sqlite3_extended_errcode(db)));
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		sql_die(db, sql);
	return st;
}

static void exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		sql_die(db, sql);
}

/* The first column of the first row of a statement as text (a PRAGMA's answer). */
static void query_text(sqlite3 *db, const char *sql, char *out, size_t len)
{
	sqlite3_stmt *st = prepare(db, sql);
	int rc = sqlite3_step(st);

	if (rc != SQLITE_ROW)
		sql_die(db, sql);
	snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

/* A connection set up as every process of the workload has it. */
static sqlite3 *db_open(const struct options *o)
{
	char path[4200], sql[128], got[64], want[64];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/test.db", o->dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		die("sqlite3_open_v2 %s: %s", path, sqlite3_errmsg(db));
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);

	snprintf(sql, sizeof(sql), "PRAGMA mmap_size=%llu", (unsigned long long)(o->mmap_mb << 20));
	snprintf(want, sizeof(want), "%llu", (unsigned long long)(o->mmap_mb << 20));
	query_text(db, sql, got, sizeof(got));
	if (strcmp(got, want))
		die("PRAGMA mmap_size=%s gives %s: this SQLite limits its mappings (SQLITE_MAX_MMAP_SIZE)",
		    want, got);

	snprintf(sql, sizeof(sql), "PRAGMA journal_mode=%s", mode_name(o));
	query_text(db, sql, got, sizeof(got));
	if (strcmp(got, mode_name(o)))
		die("%s gives %s", sql, got);
	if (o->wal)
		exec(db, "PRAGMA wal_autocheckpoint=100");
	if (o->nosync)
		exec(db, "PRAGMA synchronous=OFF");
	return db;
}

/* --- the plan ------------------------------------------------------------------- */

enum pass { PASS_INSERT, PASS_UPDATE, PASS_DELETE };

static bool in_pass(enum pass p, uint64_t i)
{
	return p == PASS_INSERT || (p == PASS_UPDATE ? record_updated(i) : record_deleted(i));
}

/* The row a statement found (or SQLITE_DONE: none) must be record i at
 * version; the statement's columns are (id, k, v).  Resets it. */
static void expect_row(struct check *c, sqlite3_stmt *st, uint64_t i, unsigned version)
{
	static unsigned char want[RECORD_VALUE_MAX];
	char key[RECORD_KEY_MAX];
	size_t klen = record_key(i, key), len = record_value(i, version, want);
	int rc = sqlite3_step(st);

	if (rc == SQLITE_DONE) {
		check_error(c, "row %llu (%s) is missing (written at version %u)", (unsigned long long)i, key,
			    version);
	} else if (rc != SQLITE_ROW) {
		check_error(c, "reading row %llu: %s", (unsigned long long)i, sqlite3_errstr(rc));
	} else {
		const void *k = sqlite3_column_text(st, 1), *v = sqlite3_column_blob(st, 2);
		size_t kl = (size_t)sqlite3_column_bytes(st, 1), vl = (size_t)sqlite3_column_bytes(st, 2);
		if ((uint64_t)sqlite3_column_int64(st, 0) != i || kl != klen || memcmp(k, key, klen))
			check_error(c, "row %llu holds id %lld, k '%.*s', not %s", (unsigned long long)i,
				    (long long)sqlite3_column_int64(st, 0), (int)kl, (const char *)k, key);
		else if (vl != len || (len && memcmp(v, want, len)))
			check_error(c, "row %llu (%s) holds %zu bytes that are not its version %u value "
				    "(%zu bytes)", (unsigned long long)i, key, vl, version, len);
		if (sqlite3_step(st) != SQLITE_DONE)
			check_error(c, "row %llu (%s) is there twice", (unsigned long long)i, key);
	}
	sqlite3_reset(st);
}

/* A write statement changed exactly one row. */
static void step_write(struct check *c, sqlite3 *db, sqlite3_stmt *st, const char *what, uint64_t i)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
		check_error(c, "%s row %llu: it is there already", what, (unsigned long long)i);
	else if (rc != SQLITE_DONE)
		sql_die(db, what);
	else if (sqlite3_changes(db) != 1)
		check_error(c, "%s row %llu changed %d rows", what, (unsigned long long)i, sqlite3_changes(db));
	sqlite3_reset(st);
}

struct statements {
	sqlite3_stmt *insert, *update, *delete, *by_id, *by_key;
};

static void prepare_all(sqlite3 *db, struct statements *s)
{
	s->insert = prepare(db, "INSERT INTO t(id, k, v) VALUES(?1, ?2, ?3)");
	s->update = prepare(db, "UPDATE t SET v = ?2 WHERE id = ?1");
	s->delete = prepare(db, "DELETE FROM t WHERE id = ?1");
	s->by_id = prepare(db, "SELECT id, k, v FROM t WHERE id = ?1");
	s->by_key = prepare(db, "SELECT id, k, v FROM t WHERE k = ?1");
}

static void finalize_all(struct statements *s)
{
	sqlite3_finalize(s->insert);
	sqlite3_finalize(s->update);
	sqlite3_finalize(s->delete);
	sqlite3_finalize(s->by_id);
	sqlite3_finalize(s->by_key);
}

/* One pass of the plan over rows [lo, hi), batch statements a transaction. */
static void run_pass(const struct options *o, sqlite3 *db, struct statements *s, enum pass p, uint64_t lo,
		     uint64_t hi, struct check *c)
{
	static unsigned char val[RECORD_VALUE_MAX];
	char key[RECORD_KEY_MAX];
	uint64_t i = lo;

	while (i < hi) {
		exec(db, "BEGIN IMMEDIATE");
		for (uint64_t ops = 0; i < hi && ops < o->batch; i++) {
			if (!in_pass(p, i))
				continue;
			ops++;
			switch (p) {
			case PASS_INSERT:
				sqlite3_bind_int64(s->insert, 1, (sqlite3_int64)i);
				sqlite3_bind_text(s->insert, 2, key, (int)record_key(i, key), SQLITE_STATIC);
				sqlite3_bind_blob(s->insert, 3, val, (int)record_value(i, 0, val), SQLITE_STATIC);
				step_write(c, db, s->insert, "insert", i);
				break;
			case PASS_UPDATE:
				sqlite3_bind_text(s->by_key, 1, key, (int)record_key(i, key), SQLITE_STATIC);
				expect_row(c, s->by_key, i, 0);
				sqlite3_bind_int64(s->update, 1, (sqlite3_int64)i);
				sqlite3_bind_blob(s->update, 2, val, (int)record_value(i, 1, val), SQLITE_STATIC);
				step_write(c, db, s->update, "update", i);
				break;
			case PASS_DELETE:
				sqlite3_bind_int64(s->by_id, 1, (sqlite3_int64)i);
				expect_row(c, s->by_id, i, record_updated(i));
				sqlite3_bind_int64(s->delete, 1, (sqlite3_int64)i);
				step_write(c, db, s->delete, "delete", i);
				break;
			}
		}
		exec(db, "COMMIT");
	}
}

static void run_plan(const struct options *o, sqlite3 *db, uint64_t lo, uint64_t hi, const char *what)
{
	struct check c = { what, 0 };
	struct statements s;

	prepare_all(db, &s);
	run_pass(o, db, &s, PASS_INSERT, lo, hi, &c);
	run_pass(o, db, &s, PASS_UPDATE, lo, hi, &c);
	run_pass(o, db, &s, PASS_DELETE, lo, hi, &c);
	finalize_all(&s);
	check_done(&c);
}

/* --- verification ------------------------------------------------------------------ */

/* In WAL mode, copy the whole journal into the database and empty it, so
 * that the verification reads the database file itself, through its map. */
static void checkpoint(const struct options *o, sqlite3 *db, struct check *c)
{
	if (!o->wal)
		return;
	sqlite3_stmt *st = prepare(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	if (sqlite3_step(st) != SQLITE_ROW)
		sql_die(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	if (sqlite3_column_int(st, 0) != 0)
		check_error(c, "PRAGMA wal_checkpoint(TRUNCATE) could not finish (busy) with no other "
			    "connection open");
	sqlite3_finalize(st);
}

/* PRAGMA integrity_check must answer one row, "ok"; asked for at most 10
 * problems, since a broken tree can have thousands. */
static void integrity(sqlite3 *db, struct check *c)
{
	sqlite3_stmt *st = prepare(db, "PRAGMA integrity_check(10)");
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *msg = (const char *)sqlite3_column_text(st, 0);
		if (strcmp(msg, "ok"))
			check_error(c, "integrity_check: %s", msg);
	}
	if (rc != SQLITE_DONE)
		check_error(c, "integrity_check failed: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
}

/* Every row as the plan left it; returns the digest of a scan in id order.
 * Dies on any difference. */
static struct digest verify(const struct options *o, sqlite3 *db, const char *what)
{
	struct check c = { what, 0 };
	struct statements s;
	struct digest got, want;
	sqlite3_stmt *scan;
	int rc;

	checkpoint(o, db, &c);
	integrity(db, &c);
	prepare_all(db, &s);
	exec(db, "BEGIN");
	for (uint64_t i = 0; i < o->rows; i++) {
		sqlite3_bind_int64(s.by_id, 1, (sqlite3_int64)i);
		if (!record_deleted(i)) {
			expect_row(&c, s.by_id, i, record_updated(i));
			continue;
		}
		if ((rc = sqlite3_step(s.by_id)) == SQLITE_ROW)
			check_error(&c, "row %llu is there, but was deleted", (unsigned long long)i);
		else if (rc != SQLITE_DONE)
			check_error(&c, "reading row %llu: %s", (unsigned long long)i, sqlite3_errstr(rc));
		sqlite3_reset(s.by_id);
	}

	digest_init(&got);
	scan = prepare(db, "SELECT k, v FROM t ORDER BY id");
	while ((rc = sqlite3_step(scan)) == SQLITE_ROW)
		digest_add(&got, sqlite3_column_text(scan, 0), (size_t)sqlite3_column_bytes(scan, 0),
			   sqlite3_column_blob(scan, 1), (size_t)sqlite3_column_bytes(scan, 1));
	if (rc != SQLITE_DONE)
		check_error(&c, "the scan stopped after %llu rows: %s", (unsigned long long)got.count,
			    sqlite3_errmsg(db));
	sqlite3_finalize(scan);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		check_error(&c, "ending the read transaction: %s", sqlite3_errmsg(db));
	finalize_all(&s);

	digest_expected(o->rows, &want);
	if (got.count != want.count || got.hash != want.hash)
		check_error(&c, "a scan finds %llu rows, digest %016llx; expected %llu, digest %016llx",
			    (unsigned long long)got.count, (unsigned long long)got.hash,
			    (unsigned long long)want.count, (unsigned long long)want.hash);
	check_done(&c);
	return got;
}

/* --- processes ---------------------------------------------------------------------- */

static void worker_range(const struct options *o, unsigned rank, uint64_t *lo, uint64_t *hi)
{
	*lo = o->rows * rank / o->procs;
	*hi = o->rows * (rank + 1) / o->procs;
}

/* The workers' command lines: this one's options, and --worker R. */
static void start_workers(const struct options *o, pid_t *pids)
{
	char rows[32], batch[32], procs[32], mmap_mb[32], rank[16];

	snprintf(rows, sizeof(rows), "%llu", (unsigned long long)o->rows);
	snprintf(batch, sizeof(batch), "%llu", (unsigned long long)o->batch);
	snprintf(procs, sizeof(procs), "%u", o->procs);
	snprintf(mmap_mb, sizeof(mmap_mb), "%llu", (unsigned long long)o->mmap_mb);
	for (unsigned r = 0; r < o->procs; r++) {
		char *argv[20];
		int n = 0;
		argv[n++] = program_invocation_name;
		argv[n++] = "--journal";
		argv[n++] = (char *)mode_name(o);
		if (o->nosync)
			argv[n++] = "--nosync";
		argv[n++] = "--rows";
		argv[n++] = rows;
		argv[n++] = "--batch";
		argv[n++] = batch;
		argv[n++] = "--procs";
		argv[n++] = procs;
		argv[n++] = "--mmap-mb";
		argv[n++] = mmap_mb;
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
	fprintf(f, "usage: sqlite-load [--journal wal|delete] [--rows N] [--batch N] [--procs P] [--mmap-mb M] "
		"[--nosync] DIR\n"
		"  --journal J  journal_mode WAL or DELETE (default wal)\n"
		"  --rows N     rows 0..N-1 (default 5000)\n"
		"  --batch N    statements per transaction (default 100)\n"
		"  --procs P    P worker processes on disjoint rows at once (default 1: this one)\n"
		"  --mmap-mb M  PRAGMA mmap_size in MiB (default 256)\n"
		"  --nosync     PRAGMA synchronous=OFF\n"
		"DIR is created if missing; DIR/test.db must not exist.\n");
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { O_JOURNAL = 256, O_ROWS, O_BATCH, O_PROCS, O_MMAP, O_NOSYNC, O_WORKER };
	static const struct option opts[] = {
		{ "journal", required_argument, NULL, O_JOURNAL }, { "rows", required_argument, NULL, O_ROWS },
		{ "batch", required_argument, NULL, O_BATCH }, { "procs", required_argument, NULL, O_PROCS },
		{ "mmap-mb", required_argument, NULL, O_MMAP }, { "nosync", no_argument, NULL, O_NOSYNC },
		{ "worker", required_argument, NULL, O_WORKER }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct options){ .wal = true, .rows = 5000, .batch = 100, .procs = 1, .mmap_mb = 256,
			       .worker = -1 };
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_JOURNAL:
			if (strcmp(optarg, "wal") && strcmp(optarg, "delete"))
				die("bad --journal '%s': wal or delete", optarg);
			o->wal = !strcmp(optarg, "wal");
			break;
		case O_ROWS: o->rows = parse_count("--rows", optarg, 1, 1UL << 26); break;
		case O_BATCH: o->batch = parse_count("--batch", optarg, 1, 1UL << 26); break;
		case O_PROCS: o->procs = (unsigned)parse_count("--procs", optarg, 1, MAX_PROCS); break;
		case O_MMAP: o->mmap_mb = parse_count("--mmap-mb", optarg, 1, 1UL << 20); break;
		case O_NOSYNC: o->nosync = true; break;
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
	char what[64], path[4200];
	sqlite3 *db;

	parse_options(argc, argv, &o);
	snprintf(what, sizeof(what), "sqlite %s", mode_name(&o));
	if (o.worker >= 0) {
		uint64_t lo, hi;
		worker_range(&o, (unsigned)o.worker, &lo, &hi);
		snprintf(what, sizeof(what), "sqlite %s worker %d", mode_name(&o), o.worker);
		db = db_open(&o);
		run_plan(&o, db, lo, hi, what);
		if (sqlite3_close(db) != SQLITE_OK)
			sql_die(db, "sqlite3_close");
		return 0;
	}

	if (mkdir(o.dir, 0755) && errno != EEXIST)
		die("mkdir %s: %s", o.dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/test.db", o.dir);
	if (access(path, F_OK) == 0)
		die("%s exists already", path);
	db = db_open(&o);
	exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE, v BLOB NOT NULL)");
	if (o.procs == 1) {
		run_plan(&o, db, 0, o.rows, what);
	} else {
		pid_t pids[MAX_PROCS];
		start_workers(&o, pids);
		workers_wait(pids, (int)o.procs);
	}
	struct digest d = verify(&o, db, what);
	printf("%s: %llu rows, %u process%s, %llu statements a transaction, mmap_size %llu MiB\n", what,
	       (unsigned long long)o.rows, o.procs, o.procs == 1 ? "" : "es", (unsigned long long)o.batch,
	       (unsigned long long)o.mmap_mb);
	printf("%s: integrity_check ok, %llu rows, digest %016llx\n", what, (unsigned long long)d.count,
	       (unsigned long long)d.hash);
	if (sqlite3_close(db) != SQLITE_OK)
		sql_die(db, "sqlite3_close");
	return 0;
}
