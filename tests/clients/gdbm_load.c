/*
 * gdbm_load.c - gdbm-load: GDBM (Debian's libgdbm.a) loads, updates,
 * deletes and verifies records in one database file.
 *
 *   gdbm-load [--keys N] DIR
 *
 * DIR is created if missing; DIR/test.gdbm must not exist yet.  The plan of
 * client.h runs over keys 0..N-1 through one writer (gdbm_open GDBM_NEWDB):
 * gdbm_store GDBM_INSERT of every record, then GDBM_REPLACE of the updated
 * ones and gdbm_delete of the deleted ones, each read back with gdbm_fetch
 * first, so a write that a later read does not see is caught where it
 * happens.  The writer closes (gdbm_close syncs), and a reader opened
 * afterwards verifies: every key by gdbm_fetch, in key order (the digest),
 * then a gdbm_firstkey / gdbm_nextkey walk, which must find each live
 * record once and nothing else.
 *
 * GDBM maps its file itself unless told GDBM_NOMMAP: the whole file,
 * MAP_SHARED, read-write for a writer (GDBM_SETMAXMAPSIZE would bound the
 * window; by default there is no bound).  Its reads and writes of buckets,
 * the directory and the records are memcpy through that map.  When a write
 * goes past the end, it extends the file (write of zeros at the end) and
 * maps it again, munmap then mmap of the new size; gdbm_sync and
 * gdbm_close msync the map.  So switched over, every access to the
 * database is a page of a vmemu mapping, and every growth a new vme_mmap of
 * a file whose cache vmemu keeps.
 */
#include <errno.h>
#include <gdbm.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

struct options {
	uint64_t keys;
	const char *dir;
};

static void gdbm_check(int rc, GDBM_FILE dbf, const char *what)
{
	if (rc)
		die("%s: %s", what, dbf ? gdbm_db_strerror(dbf) : gdbm_strerror(gdbm_errno));
}

static GDBM_FILE db_open(const char *path, int flags)
{
	GDBM_FILE dbf = gdbm_open(path, 0, flags, 0644, NULL);

	if (!dbf)
		die("gdbm_open %s: %s", path, gdbm_strerror(gdbm_errno));
	return dbf;
}

static datum key_datum(uint64_t i, char key[RECORD_KEY_MAX])
{
	return (datum){ .dptr = key, .dsize = (int)record_key(i, key) };
}

/* The record must hold its value at version; returns false if it is missing. */
static bool expect_value(struct check *c, GDBM_FILE dbf, uint64_t i, unsigned version)
{
	static unsigned char want[RECORD_VALUE_MAX];
	char key[RECORD_KEY_MAX];
	size_t len = record_value(i, version, want);
	datum v = gdbm_fetch(dbf, key_datum(i, key));

	if (!v.dptr) {
		if (gdbm_errno == GDBM_ITEM_NOT_FOUND)
			check_error(c, "%s is missing (written at version %u)", key, version);
		else
			check_error(c, "gdbm_fetch %s: %s", key, gdbm_db_strerror(dbf));
		return false;
	}
	if ((size_t)v.dsize != len || memcmp(v.dptr, want, len))
		check_error(c, "%s holds %d bytes that are not its version %u value (%zu bytes)", key, v.dsize,
			    version, len);
	free(v.dptr);
	return true;
}

/* --- the plan ------------------------------------------------------------------- */

static void run_plan(const struct options *o, GDBM_FILE dbf, struct check *c)
{
	static unsigned char val[RECORD_VALUE_MAX];
	char key[RECORD_KEY_MAX];

	for (uint64_t i = 0; i < o->keys; i++) {
		datum v = { .dptr = (char *)val, .dsize = (int)record_value(i, 0, val) };
		int rc = gdbm_store(dbf, key_datum(i, key), v, GDBM_INSERT);
		if (rc == 1)
			check_error(c, "insert %s: the key is there already", key);
		else
			gdbm_check(rc, dbf, "gdbm_store (insert)");
	}
	for (uint64_t i = 0; i < o->keys; i++) {
		if (!record_updated(i))
			continue;
		expect_value(c, dbf, i, 0);
		datum v = { .dptr = (char *)val, .dsize = (int)record_value(i, 1, val) };
		gdbm_check(gdbm_store(dbf, key_datum(i, key), v, GDBM_REPLACE), dbf, "gdbm_store (replace)");
	}
	for (uint64_t i = 0; i < o->keys; i++) {
		if (!record_deleted(i))
			continue;
		if (expect_value(c, dbf, i, record_updated(i)))
			gdbm_check(gdbm_delete(dbf, key_datum(i, key)), dbf, "gdbm_delete");
	}
}

/* --- verification ------------------------------------------------------------------ */

/* Index of a key the plan wrote, or UINT64_MAX if k is no such key. */
static uint64_t key_index(const struct options *o, datum k)
{
	char key[RECORD_KEY_MAX];
	uint64_t i;

	if (k.dsize <= 4 || k.dsize >= RECORD_KEY_MAX || memcmp(k.dptr, "key-", 4))
		return UINT64_MAX;
	i = strtoull(k.dptr + 4, NULL, 10);
	if (i >= o->keys || record_key(i, key) != (size_t)k.dsize || memcmp(key, k.dptr, (size_t)k.dsize))
		return UINT64_MAX;
	return i;
}

/* Every record as the plan left it, by lookup in key order (the digest)
 * and by a walk in GDBM's own order.  Dies on any difference. */
static struct digest verify(const struct options *o, GDBM_FILE dbf, const char *what)
{
	static unsigned char want[RECORD_VALUE_MAX];
	struct check c = { what, 0 };
	struct digest got, expected;
	unsigned char *seen = calloc(o->keys, 1);
	char key[RECORD_KEY_MAX];
	uint64_t walked = 0;

	if (!seen)
		die("out of memory");
	digest_init(&got);
	for (uint64_t i = 0; i < o->keys; i++) {
		datum v = gdbm_fetch(dbf, key_datum(i, key));
		if (record_deleted(i)) {
			if (v.dptr)
				check_error(&c, "%s is there, but was deleted", key);
			else if (gdbm_errno != GDBM_ITEM_NOT_FOUND)
				check_error(&c, "gdbm_fetch %s: %s", key, gdbm_db_strerror(dbf));
			free(v.dptr);
			continue;
		}
		size_t len = record_value(i, record_updated(i), want);
		if (!v.dptr) {
			check_error(&c, "%s is missing", key);
			continue;
		}
		if ((size_t)v.dsize != len || memcmp(v.dptr, want, len))
			check_error(&c, "%s holds %d bytes that are not its value (%zu bytes)", key, v.dsize, len);
		digest_add(&got, key, strlen(key), v.dptr, (size_t)v.dsize);
		free(v.dptr);
	}

	for (datum k = gdbm_firstkey(dbf); k.dptr;) {
		uint64_t i = key_index(o, k);
		if (i == UINT64_MAX)
			check_error(&c, "the walk finds a key the plan never wrote (%d bytes)", k.dsize);
		else if (record_deleted(i))
			check_error(&c, "the walk finds %.*s, which was deleted", k.dsize, k.dptr);
		else if (seen[i]++)
			check_error(&c, "the walk finds %.*s twice", k.dsize, k.dptr);
		walked++;
		datum next = gdbm_nextkey(dbf, k);
		free(k.dptr);
		k = next;
	}
	if (gdbm_errno != GDBM_ITEM_NOT_FOUND)
		check_error(&c, "the walk stopped after %llu records: %s", (unsigned long long)walked,
			    gdbm_db_strerror(dbf));

	digest_expected(o->keys, &expected);
	if (walked != expected.count || got.count != expected.count || got.hash != expected.hash)
		check_error(&c, "%llu records by lookup (digest %016llx), %llu by the walk; expected %llu, "
			    "digest %016llx", (unsigned long long)got.count, (unsigned long long)got.hash,
			    (unsigned long long)walked, (unsigned long long)expected.count,
			    (unsigned long long)expected.hash);
	free(seen);
	check_done(&c);
	return got;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: gdbm-load [--keys N] DIR\n"
		"  --keys N     records 0..N-1 (default 5000)\n"
		"DIR is created if missing; DIR/test.gdbm must not exist.\n");
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "keys", required_argument, NULL, 'k' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct options){ .keys = 5000 };
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': o->keys = parse_count("--keys", optarg, 1, 1UL << 26); break;
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
	struct check c = { "gdbm", 0 };
	char path[4200];
	GDBM_FILE dbf;

	parse_options(argc, argv, &o);
	if (mkdir(o.dir, 0755) && errno != EEXIST)
		die("mkdir %s: %s", o.dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/test.gdbm", o.dir);
	if (access(path, F_OK) == 0)
		die("%s exists already", path);

	dbf = db_open(path, GDBM_NEWDB);
	run_plan(&o, dbf, &c);
	check_done(&c);
	gdbm_check(gdbm_close(dbf), NULL, "gdbm_close");

	dbf = db_open(path, GDBM_READER);
	struct digest d = verify(&o, dbf, "gdbm");
	gdbm_check(gdbm_close(dbf), NULL, "gdbm_close (reader)");
	printf("gdbm: %llu keys, one writer, then a reader\n", (unsigned long long)o.keys);
	printf("gdbm: %llu records, digest %016llx\n", (unsigned long long)d.count, (unsigned long long)d.hash);
	return 0;
}
