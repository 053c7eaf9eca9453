/*
 * client.h - what the real-client workloads (lmdb_load.c, sqlite_load.c,
 * map_scan.c) share: the records they store, the digest they print, the
 * failure report, the worker processes and the option parsing.
 *
 * Each workload is a plain program against the host's API (<sys/mman.h>,
 * pread, pwrite, ...) and a Debian library.  The Makefile links each one
 * twice from the same objects: natively, and switched over to vmemu with
 * -Wl,--wrap (build/clients/NAME and NAME-wrap).  On success a program
 * prints only deterministic lines on stdout, the same for both builds; on
 * any inconsistency it says what differs on stderr and exits 1.
 */
#ifndef VMEMU_CLIENT_H
#define VMEMU_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RECORD_KEY_MAX 32
#define RECORD_VALUE_MAX 9000

/* --- records ---------------------------------------------------------------- */

/* Every workload runs the same plan over records 0..n-1: insert each at
 * version 0, then update every third (i % 3 == 1) to version 1, then
 * delete every seventh (i % 7 == 3).  About 1% of the values (i % 101 == 50)
 * are several KiB, so that both libraries use overflow pages. */
bool record_updated(uint64_t i);
bool record_deleted(uint64_t i);

/* The key of record i: "key-%010llu", NUL-terminated; returns its length. */
size_t record_key(uint64_t i, char key[RECORD_KEY_MAX]);

/* The value of record i at a version into buf; returns its length. */
size_t record_value(uint64_t i, unsigned version, unsigned char buf[RECORD_VALUE_MAX]);

/* --- digests ------------------------------------------------------------------ */

/* FNV-1a over (key, value) pairs in the order given, with their lengths:
 * two sets of records digest alike only if they are the same, in the same
 * order. */
struct digest {
	uint64_t hash;
	uint64_t count;		/* records added */
};

void digest_init(struct digest *d);
void digest_add(struct digest *d, const void *key, size_t klen, const void *val, size_t vlen);

/* The digest of records 0..n-1 after the whole plan, in key order: what a
 * correct store holds at the end. */
void digest_expected(uint64_t n, struct digest *d);

/* --- failures ----------------------------------------------------------------- */

/* Print "program: message" on stderr and exit 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A verification: the first few inconsistencies are printed as they are
 * found, the rest counted; check_done exits 1 if there were any. */
struct check {
	const char *what;	/* "lmdb default", for the messages */
	unsigned long errors;
};

void check_error(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void check_done(const struct check *c);

/* --- worker processes ----------------------------------------------------------- */

/* Start this same program (/proc/self/exe) again with argv; the worker is
 * killed if this process dies.  Returns its pid; dies on failure. */
pid_t worker_start(char *const argv[]);

/* Wait for the n workers; if one fails, kill the others and die with what
 * happened to it. */
void workers_wait(const pid_t *pids, int n);

/* --- options ------------------------------------------------------------------ */

/* A count or size: digits with an optional K, M or G (powers of 1024).
 * Dies with a message naming opt if arg is not one, or not in [min, max]. */
uint64_t parse_count(const char *opt, const char *arg, uint64_t min, uint64_t max);

#endif /* VMEMU_CLIENT_H */
