/*
 * tool.c - the vmemu command-line tool, run as a program: its JSON output
 * is parsed and checked against what each pattern must make the library
 * count, and `vmemu cat` is compared with the file byte for byte.
 *
 * The binary is $VMEMU_TOOL, else vmemu next to this test runner's
 * directory (build/tests/run -> build/vmemu), else build/vmemu (make test
 * runs the suite from the repository's root).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>

#include "testutil.h"
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096UL

extern char **environ;

/* --- a JSON parser for what the tool prints ------------------------------- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct json {
	enum jtype type;
	double num;			/* J_NUM; J_BOOL: 0 or 1 */
	char *str;			/* J_STR */
	size_t n;			/* J_ARR, J_OBJ: how many items */
	struct json **items;		/* J_ARR, J_OBJ */
	char **keys;			/* J_OBJ */
};

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
		s++;
	return s;
}

static struct json *jparse(const char **sp);

static char *jstring(const char **sp)
{
	const char *s = *sp + 1;
	char *out = malloc(strlen(s) + 1), *o = out;

	while (*s && *s != '"') {
		if (*s == '\\') {
			s++;
			if (*s == 'n')
				*o++ = '\n';
			else if (*s == 'u') {
				*o++ = (char)strtol((char[]){ s[1], s[2], s[3], s[4], 0 }, NULL, 16);
				s += 4;
			} else
				*o++ = *s;
			s++;
		} else
			*o++ = *s++;
	}
	if (*s != '"') {
		free(out);
		return NULL;
	}
	*o = '\0';
	*sp = s + 1;
	return out;
}

static struct json *jparse_list(const char **sp, bool object)
{
	struct json *j = calloc(1, sizeof(*j));
	const char *s = skip_ws(*sp + 1);
	char close = object ? '}' : ']';

	j->type = object ? J_OBJ : J_ARR;
	if (*s == close) {
		*sp = s + 1;
		return j;
	}
	for (;;) {
		j->items = realloc(j->items, (j->n + 1) * sizeof(*j->items));
		j->keys = realloc(j->keys, (j->n + 1) * sizeof(*j->keys));
		j->keys[j->n] = NULL;
		if (object) {
			if (*s != '"' || !(j->keys[j->n] = jstring(&s)))
				return NULL;
			s = skip_ws(s);
			if (*s++ != ':')
				return NULL;
		}
		s = skip_ws(s);
		if (!(j->items[j->n++] = jparse(&s)))
			return NULL;
		s = skip_ws(s);
		if (*s == ',') {
			s = skip_ws(s + 1);
			continue;
		}
		if (*s != close)
			return NULL;
		*sp = s + 1;
		return j;
	}
}

/* One JSON value from *sp, which moves past it; NULL if malformed. */
static struct json *jparse(const char **sp)
{
	const char *s = skip_ws(*sp);
	struct json *j;
	char *end;

	if (*s == '{' || *s == '[') {
		j = jparse_list(&s, *s == '{');
	} else if (*s == '"') {
		j = calloc(1, sizeof(*j));
		j->type = J_STR;
		if (!(j->str = jstring(&s)))
			return NULL;
	} else if (!strncmp(s, "true", 4) || !strncmp(s, "false", 5)) {
		j = calloc(1, sizeof(*j));
		j->type = J_BOOL;
		j->num = *s == 't';
		s += *s == 't' ? 4 : 5;
	} else if (!strncmp(s, "null", 4)) {
		j = calloc(1, sizeof(*j));
		s += 4;
	} else {
		j = calloc(1, sizeof(*j));
		j->type = J_NUM;
		j->num = strtod(s, &end);
		if (end == s)
			return NULL;
		s = end;
	}
	*sp = s;
	return j;
}

/* The whole text as one JSON value, or fail the test. */
static struct json *json_doc(const char *text)
{
	const char *s = text;
	struct json *j = jparse(&s);

	cr_assert(j, "malformed JSON near: %.80s", s);
	cr_assert_eq(*skip_ws(s), '\0', "text after the JSON value: %.80s", s);
	return j;
}

static void json_free(struct json *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->n; i++) {
		json_free(j->items[i]);
		if (j->keys)
			free(j->keys[i]);
	}
	free(j->items);
	free(j->keys);
	free(j->str);
	free(j);
}

/* obj.key, or fail the test. */
static struct json *get(const struct json *obj, const char *key)
{
	cr_assert(obj && obj->type == J_OBJ, "not an object looking up \"%s\"", key);
	for (size_t i = 0; i < obj->n; i++)
		if (!strcmp(obj->keys[i], key))
			return obj->items[i];
	cr_assert_fail("no \"%s\" in the JSON", key);
	return NULL;
}

static double num(const struct json *obj, const char *key)
{
	struct json *j = get(obj, key);

	cr_assert_eq(j->type, J_NUM, "\"%s\" is not a number", key);
	return j->num;
}

static const char *str(const struct json *obj, const char *key)
{
	struct json *j = get(obj, key);

	cr_assert_eq(j->type, J_STR, "\"%s\" is not a string", key);
	return j->str;
}

/* --- running the tool ----------------------------------------------------- */

static void tool_path(char *out, size_t len)
{
	built_program("VMEMU_TOOL", "vmemu", out, len);
}

struct result {
	int status;			/* exit code, or 128 + signal */
	char *out, *err;		/* stdout and stderr, NUL-terminated */
	size_t out_len, err_len;
};

static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;

	cr_assert(fd >= 0 && fstat(fd, &st) == 0, "open %s", path);
	char *buf = malloc((size_t)st.st_size + 1);
	cr_assert_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
	buf[st.st_size] = '\0';
	*len = (size_t)st.st_size;
	close(fd);
	return buf;
}

/* Run vmemu with args (NULL-terminated), stdout and stderr to files. */
static struct result run_tool(const char *const *args)
{
	char tool[PATH_MAX], out[] = "/tmp/vmemu-tool-out-XXXXXX", err[] = "/tmp/vmemu-tool-err-XXXXXX";
	char *argv[32];
	int ofd = mkstemp(out), efd = mkstemp(err), n = 0, status;
	posix_spawn_file_actions_t fa;
	struct result r;
	pid_t pid;

	cr_assert(ofd >= 0 && efd >= 0);
	tool_path(tool, sizeof(tool));
	argv[n++] = tool;
	for (; *args && n < 31; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, ofd, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, efd, STDERR_FILENO);
	cr_assert_eq(posix_spawn(&pid, tool, &fa, NULL, argv, environ), 0, "spawn %s", tool);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r.out = slurp(out, &r.out_len);
	r.err = slurp(err, &r.err_len);
	close(ofd);
	close(efd);
	unlink(out);
	unlink(err);
	return r;
}

static void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

/* The byte at offset i of a test file: differs page to page and within. */
static unsigned char byte_at(size_t i)
{
	return (unsigned char)((i * 131u) ^ (i >> 12) ^ 0x5a);
}

/* A file of size bytes of byte_at in /tmp; its path into path. */
static void make_file(char *path, size_t size)
{
	int fd;

	strcpy(path, "/tmp/vmemu-tool-XXXXXX");
	cr_assert((fd = mkstemp(path)) >= 0);
	unsigned char *buf = malloc(size + 1);
	for (size_t i = 0; i < size; i++)
		buf[i] = byte_at(i);
	cr_assert_eq(write(fd, buf, size), (ssize_t)size);
	free(buf);
	close(fd);
}

/* The file still holds byte_at everywhere, and size bytes. */
static void assert_file_unchanged(const char *path, size_t size)
{
	size_t len;
	char *buf = slurp(path, &len);

	cr_assert_eq(len, size, "size %zu, was %zu", len, size);
	for (size_t i = 0; i < size; i++)
		cr_assert_eq((unsigned char)buf[i], byte_at(i), "byte %zu changed", i);
	free(buf);
}

/* The tool's JSON from `vmemu stat --json ARGS... FILE`. */
static struct json *stat_json(const char *path, const char *const *args)
{
	const char *argv[16] = { "stat", "--json" };
	int n = 2;

	while (*args)
		argv[n++] = *args++;
	argv[n++] = path;
	argv[n] = NULL;
	struct result r = run_tool(argv);
	cr_assert_eq(r.status, 0, "vmemu stat exited %d: %s", r.status, r.err);
	struct json *j = json_doc(r.out);
	result_free(&r);
	return j;
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* --- vmemu stat ----------------------------------------------------------- */

Test(tool, stat_seq_read_with_madv_random_is_one_major_read_fault_per_page, .timeout = 30)
{
	char path[64];

	make_file(path, 16 * PG);
	struct json *j = stat_json(path, ARGS("--pattern", "seq", "--advice", "random"));
	struct json *c = get(j, "counters"), *res = get(j, "residency");
	cr_assert_eq(num(j, "pages"), 16);
	cr_assert_eq(num(j, "touches"), 16);
	cr_assert_str_eq(str(get(j, "mapping"), "flags"), "MAP_SHARED");
	cr_assert_str_eq(str(get(j, "mapping"), "advice"), "random");
	cr_assert_eq(num(c, "pgfault"), 16);
	cr_assert_eq(num(c, "read_fault"), 16);
	cr_assert_eq(num(c, "pgmajfault"), 16);
	cr_assert_eq(num(c, "pgpgin"), 16);
	cr_assert_eq(num(c, "pgreadahead"), 0, "MADV_RANDOM: no readahead");
	cr_assert_eq(num(c, "pgfaultaround"), 0, "MADV_RANDOM: no fault-around");
	cr_assert_eq(num(c, "cow_fault") + num(c, "shared_fault") + num(c, "wp_fault") + num(c, "anon_fault"), 0);
	cr_assert_eq(num(c, "pgpgout"), 0);
	cr_assert_eq(num(res, "resident"), 16);
	cr_assert_eq(num(res, "pages"), 16);
	cr_assert_gt(num(get(c, "avg_ns"), "fault"), 0, "a fault takes time");
	json_free(j);
	unlink(path);
}

Test(tool, stat_seq_read_reads_ahead_in_growing_windows_and_maps_around, .timeout = 30)
{
	char path[64];

	make_file(path, 64 * PG);
	struct json *j = stat_json(path, ARGS("--pattern", "seq"));
	struct json *c = get(j, "counters");
	cr_assert_str_eq(str(get(j, "mapping"), "advice"), "normal");
	/* Reads of 16 pages (read-around at page 0), 32 (the window doubles
	 * at page 16), and 64 cut to the 16 left (at page 48). */
	cr_assert_eq(num(c, "pgmajfault"), 3);
	cr_assert_eq(num(c, "pgpgin"), 64, "each page read once");
	cr_assert_eq(num(c, "pgreadahead"), 64 - 3);
	cr_assert_eq(num(c, "read_fault"), num(c, "pgfault"));
	cr_assert_eq(num(c, "pgfault") + num(c, "pgfaultaround"), 64,
		     "each page mapped once, by its fault or around another's");
	/* A fault maps the cached part of its 16-page block, or, where the
	 * last fault-around ended, twice as far ahead: one fault per read if
	 * the mapping is 64 KiB aligned; else the blocks straddle the read
	 * windows and each read takes a second fault. */
	cr_assert(num(c, "pgfault") == 3 || num(c, "pgfault") == 6, "%.0f faults", num(c, "pgfault"));
	cr_assert_eq(num(get(j, "residency"), "resident"), 64);
	json_free(j);
	unlink(path);
}

Test(tool, stat_stride_touches_every_nth_page_of_a_partial_last_page, .timeout = 30)
{
	char path[64];

	make_file(path, 10 * PG + 100);	/* 11 pages, the last one partial */
	struct json *j = stat_json(path, ARGS("--pattern", "stride:3", "--advice", "random"));
	struct json *c = get(j, "counters"), *res = get(j, "residency");
	cr_assert_eq(num(j, "pages"), 11);
	cr_assert_eq(num(j, "touches"), 4, "pages 0, 3, 6, 9");
	cr_assert_eq(num(c, "pgfault"), 4);
	cr_assert_eq(num(c, "read_fault"), 4);
	cr_assert_eq(num(c, "pgpgin"), 4);
	cr_assert_eq(num(res, "resident"), 4);
	cr_assert_eq(num(res, "pages"), 11);
	json_free(j);
	unlink(path);
}

Test(tool, stat_readahead_stops_at_a_partial_last_page, .timeout = 30)
{
	char path[64];

	make_file(path, 10 * PG + 100);	/* 11 pages, the last one partial */
	struct json *j = stat_json(path, ARGS("--pattern", "stride:3"));
	struct json *c = get(j, "counters");
	cr_assert_eq(num(c, "pgmajfault"), 1, "the first fault reads the whole file");
	cr_assert_eq(num(c, "pgpgin"), 11);
	cr_assert_eq(num(c, "pgreadahead"), 10);
	cr_assert_eq(num(get(j, "residency"), "resident"), 11);
	json_free(j);
	unlink(path);
}

Test(tool, stat_pages_maps_only_the_first_pages, .timeout = 30)
{
	char path[64];

	make_file(path, 20 * PG);
	struct json *j = stat_json(path, ARGS("--pages", "5", "--pattern", "reverse"));
	struct json *c = get(j, "counters");
	cr_assert_eq(num(j, "pages"), 5);
	cr_assert_eq(num(c, "pgmajfault"), 1);
	cr_assert_eq(num(c, "pgpgin"), 16, "read-around reads the file, past the mapping too");
	cr_assert_eq(num(c, "read_fault") + num(c, "pgfaultaround"), 5, "fault-around stays in the mapping");
	cr_assert_eq(num(get(j, "residency"), "resident"), 5);
	cr_assert_eq(num(get(j, "residency"), "pages"), 5);
	json_free(j);
	unlink(path);
}

Test(tool, stat_random_touches_each_page_once, .timeout = 30)
{
	char path[64];

	make_file(path, 33 * PG);
	struct json *j = stat_json(path, ARGS("--pattern", "random", "--seed", "7", "--advice", "random"));
	cr_assert_eq(num(get(j, "counters"), "pgfault"), 33);
	cr_assert_eq(num(get(j, "counters"), "spurious_fault"), 0);
	cr_assert_eq(num(get(j, "residency"), "resident"), 33);
	json_free(j);
	unlink(path);
}

Test(tool, stat_random_order_still_reads_and_maps_each_page_once, .timeout = 30)
{
	char path[64];

	make_file(path, 33 * PG);
	struct json *j = stat_json(path, ARGS("--pattern", "random", "--seed", "7"));
	struct json *c = get(j, "counters");
	cr_assert_eq(num(c, "pgpgin"), 33, "a window never reads a cached page again");
	cr_assert_eq(num(c, "pgpgin"), num(c, "pgmajfault") + num(c, "pgreadahead"));
	cr_assert_eq(num(c, "pgfault") + num(c, "pgfaultaround"), 33);
	cr_assert_lt(num(c, "pgfault"), 33, "readahead and fault-around saved faults");
	cr_assert_eq(num(c, "spurious_fault"), 0);
	cr_assert_eq(num(get(j, "residency"), "resident"), 33);
	json_free(j);
	unlink(path);
}

Test(tool, stat_write_maps_a_users_file_private_and_leaves_it_alone, .timeout = 30)
{
	char path[64];

	make_file(path, 8 * PG);
	struct json *j = stat_json(path, ARGS("--write"));
	struct json *c = get(j, "counters");
	cr_assert_str_eq(str(get(j, "mapping"), "flags"), "MAP_PRIVATE");
	cr_assert_eq(num(c, "cow_fault"), 8);
	cr_assert_eq(num(c, "pgpgin"), 8, "do_cow_fault copies from the page cache");
	cr_assert_eq(num(c, "shared_fault"), 0);
	cr_assert_eq(num(c, "pgpgout"), 0);
	assert_file_unchanged(path, 8 * PG);
	json_free(j);
	unlink(path);
}

Test(tool, stat_write_shared_writes_back_every_page_unchanged, .timeout = 30)
{
	char path[64];

	make_file(path, 8 * PG + 17);
	struct json *j = stat_json(path, ARGS("--write", "--shared"));
	struct json *c = get(j, "counters");
	cr_assert_str_eq(str(get(j, "mapping"), "flags"), "MAP_SHARED");
	cr_assert_eq(num(c, "shared_fault"), 9);
	cr_assert_eq(num(c, "pgpgout"), 9, "every page dirtied, written back at munmap");
	cr_assert_eq(num(c, "writeback_error"), 0);
	assert_file_unchanged(path, 8 * PG + 17);
	json_free(j);
	unlink(path);
}

Test(tool, stat_read_then_write_takes_do_wp_page_for_read_pages, .timeout = 30)
{
	char path[64];

	make_file(path, 8 * PG);
	struct json *j = stat_json(path, ARGS("--shared", "--pattern", "stride:2,write:seq", "--advice", "random"));
	struct json *c = get(j, "counters");
	cr_assert_eq(num(c, "read_fault"), 4);
	cr_assert_eq(num(c, "wp_fault"), 4, "pages 0, 2, 4, 6 were read first");
	cr_assert_eq(num(c, "shared_fault"), 4);
	cr_assert_eq(num(c, "pgmajfault"), 8);
	cr_assert_eq(num(c, "pgfault"), 12);
	cr_assert_eq(num(c, "pgpgout"), 8);
	assert_file_unchanged(path, 8 * PG);
	json_free(j);
	unlink(path);
}

Test(tool, stat_pages_mapped_around_a_read_are_write_protected, .timeout = 30)
{
	char path[64];

	make_file(path, 8 * PG);
	struct json *j = stat_json(path, ARGS("--shared", "--pattern", "seq,write:seq"));
	struct json *c = get(j, "counters");
	cr_assert_eq(num(c, "pgmajfault"), 1, "one read brings the whole file in");
	cr_assert_eq(num(c, "pgpgin"), 8);
	cr_assert_eq(num(c, "read_fault") + num(c, "pgfaultaround"), 8);
	cr_assert_eq(num(c, "wp_fault"), 8, "every page was mapped read-only, so each write is seen");
	cr_assert_eq(num(c, "shared_fault"), 0);
	cr_assert_eq(num(c, "pgpgout"), 8);
	assert_file_unchanged(path, 8 * PG);
	json_free(j);
	unlink(path);
}

/* --- vmemu demo ----------------------------------------------------------- */

static size_t count_kind(const struct json *evs, const char *kind)
{
	size_t n = 0;

	for (size_t i = 0; i < evs->n; i++)
		n += !strcmp(str(evs->items[i], "kind"), kind);
	return n;
}

Test(tool, demo_json_has_one_event_per_fault_in_pattern_order, .timeout = 30)
{
	struct result r = run_tool(ARGS("demo", "--json", "--pages", "16", "--pattern", "stride:4,seq",
					"--advice", "random"));
	static const int order[] = { 0, 4, 8, 12, 1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15 };

	cr_assert_eq(r.status, 0, "%s", r.err);
	struct json *j = json_doc(r.out), *evs = get(j, "events");
	cr_assert_str_eq(str(get(j, "mapping"), "advice"), "random");
	cr_assert_eq(evs->type, J_ARR);
	cr_assert_eq(evs->n, 16, "%zu events", evs->n);
	for (size_t i = 0; i < evs->n; i++) {
		struct json *ev = evs->items[i];
		cr_assert_str_eq(str(ev, "kind"), "read_fault");
		cr_assert_str_eq(str(ev, "path"), "do_read_fault");
		cr_assert_eq(num(ev, "pgoff"), order[i], "event %zu", i);
		cr_assert_eq(get(ev, "major")->num, 1, "a first read of the file");
		cr_assert_eq(num(ev, "pages"), 1, "MADV_RANDOM: the page alone");
		cr_assert_eq(num(ev, "readahead"), 0);
		cr_assert_eq(get(ev, "fault_around")->type, J_NULL, "a major fault tells the pages read");
		cr_assert_gt(num(ev, "latency_ns"), 0);
	}
	cr_assert_eq(num(get(j, "counters"), "pgfault"), 16);
	cr_assert_eq(num(get(j, "counters"), "read_fault"), 16);
	cr_assert_eq(num(get(j, "residency"), "resident"), 16);
	cr_assert_eq(get(j, "written_back")->n, 0);
	cr_assert_eq(get(j, "maps")->n, 1, "one emulated VMA");
	cr_assert(strstr(get(j, "maps")->items[0]->str, str(j, "file")), "the VMA names the file");
	cr_assert_neq(access(str(j, "file"), F_OK), 0, "the generated file is removed");
	json_free(j);
	result_free(&r);
}

Test(tool, demo_json_shows_readahead_and_fault_around_per_fault, .timeout = 30)
{
	struct result r = run_tool(ARGS("demo", "--json", "--pages", "64", "--pattern", "seq"));
	/* The reads: read-around at page 0, then windows twice as long as
	 * the pages cached before them (16, then 48, cut at the end of the
	 * file), each mapped whole by the fault that read it: three faults. */
	static const struct { int pgoff, pages; } reads[] = { { 0, 16 }, { 16, 32 }, { 48, 16 } };
	size_t nreads = 0;
	double readahead = 0;

	cr_assert_eq(r.status, 0, "%s", r.err);
	struct json *j = json_doc(r.out), *evs = get(j, "events"), *c = get(j, "counters");
	cr_assert_eq(evs->n, num(c, "pgfault"), "one event per fault");
	cr_assert_eq(evs->n, 3, "%zu faults", evs->n);
	for (size_t i = 0; i < evs->n; i++) {
		struct json *ev = evs->items[i];
		double pgoff = num(ev, "pgoff"), pages = num(ev, "pages");
		cr_assert_str_eq(str(ev, "kind"), "read_fault");
		readahead += num(ev, "readahead");
		cr_assert(get(ev, "major")->num, "fault %zu read", i);
		cr_assert_eq(pgoff, reads[nreads].pgoff, "read %zu", nreads);
		cr_assert_eq(pages, reads[nreads].pages, "read %zu", nreads);
		cr_assert_eq(num(ev, "readahead"), pages - 1);
		cr_assert_eq(get(ev, "fault_around")->type, J_NULL);
		nreads++;
	}
	cr_assert_eq(nreads, 3);
	cr_assert_eq(readahead, num(c, "pgreadahead"));
	cr_assert_eq(num(c, "pgpgin"), 64);
	cr_assert_eq(num(c, "pgfault") + num(c, "pgfaultaround"), 64);
	cr_assert_eq(num(get(j, "residency"), "resident"), 64);
	json_free(j);
	result_free(&r);
}

/* The events of kind, and the pages they cover, summed. */
static double sum_pages(const struct json *evs, const char *kind)
{
	double n = 0;

	for (size_t i = 0; i < evs->n; i++)
		if (!strcmp(str(evs->items[i], "kind"), kind))
			n += num(evs->items[i], "pages");
	return n;
}

Test(tool, demo_json_write_shows_wp_shared_and_write_back, .timeout = 30)
{
	/* default with --write: write stride:8, read seq, write seq */
	struct result r = run_tool(ARGS("demo", "--json", "--write", "--pages", "16"));

	cr_assert_eq(r.status, 0, "%s", r.err);
	struct json *j = json_doc(r.out), *evs = get(j, "events"), *c = get(j, "counters");
	cr_assert_str_eq(str(get(j, "mapping"), "flags"), "MAP_SHARED");
	size_t reads = count_kind(evs, "read_fault");
	cr_assert_eq(evs->n, 2 + reads + 14 + 16, "%zu events", evs->n);
	cr_assert_eq(count_kind(evs, "shared_fault"), 2);
	/* One fault maps every cached page of its block but 0 and 8, which are
	 * mapped already; an unaligned mapping's blocks take two. */
	cr_assert_geq(reads, 1);
	cr_assert_eq(count_kind(evs, "wp_fault"), 14);
	cr_assert_eq(count_kind(evs, "writeback"), 16);
	cr_assert_str_eq(str(evs->items[0], "kind"), "shared_fault");
	cr_assert_eq(get(evs->items[0], "major")->num, 1);
	cr_assert_eq(num(evs->items[0], "readahead"), 15, "the first write read the whole file");
	cr_assert_str_eq(str(evs->items[1], "kind"), "shared_fault");
	cr_assert_eq(num(evs->items[1], "pgoff"), 8);
	cr_assert_eq(get(evs->items[1], "major")->num, 0, "read ahead by the first");
	for (size_t i = 2; i < 2 + reads; i++) {
		cr_assert_str_eq(str(evs->items[i], "kind"), "read_fault");
		cr_assert_eq(get(evs->items[i], "major")->num, 0, "cached: only mapped");
	}
	cr_assert_eq(sum_pages(evs, "read_fault"), 14, "the reads mapped each other page once");
	cr_assert_eq(sum_pages(evs, "wp_fault"), 14);
	cr_assert_eq(get(j, "written_back")->n, 16);
	cr_assert_eq(num(c, "pgfault"), 2 + reads + 14);
	cr_assert_eq(num(c, "pgmajfault"), 1);
	cr_assert_eq(num(c, "pgpgin"), 16);
	cr_assert_eq(num(c, "pgfaultaround"), 14 - reads);
	cr_assert_eq(num(c, "wp_fault"), 14);
	cr_assert_eq(num(c, "shared_fault"), 2);
	cr_assert_eq(num(c, "pgpgout"), 16);
	json_free(j);
	result_free(&r);
}

Test(tool, demo_json_write_on_a_users_file_copies_on_write, .timeout = 30)
{
	char path[64];

	make_file(path, 16 * PG);
	struct result r = run_tool(ARGS("demo", "--json", "--write", path));
	cr_assert_eq(r.status, 0, "%s", r.err);
	struct json *j = json_doc(r.out), *evs = get(j, "events"), *c = get(j, "counters");
	cr_assert_str_eq(str(get(j, "mapping"), "flags"), "MAP_PRIVATE");
	cr_assert_eq(count_kind(evs, "cow_fault"), 2);
	cr_assert_eq(num(evs->items[0], "readahead"), 15);
	cr_assert_geq(count_kind(evs, "read_fault"), 1);
	cr_assert_eq(sum_pages(evs, "read_fault"), 14, "the private copies are not mapped around");
	cr_assert_eq(count_kind(evs, "wp_fault"), 14);
	cr_assert_eq(count_kind(evs, "writeback"), 0);
	cr_assert_eq(num(c, "wp_copy"), 14, "do_wp_page copies the page-cache page");
	cr_assert_eq(num(c, "pgpgout"), 0);
	assert_file_unchanged(path, 16 * PG);
	json_free(j);
	result_free(&r);
	unlink(path);
}

Test(tool, demo_text_names_the_paths_and_draws_the_bar, .timeout = 30)
{
	struct result r = run_tool(ARGS("demo", "--write", "--pages", "16", "--advice", "random"));

	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "vme_madvise(") && strstr(r.out, "MADV_RANDOM)"), "%s", r.out);
	cr_assert(strstr(r.out, "do_read_fault"));
	cr_assert(strstr(r.out, "do_wp_page"));
	cr_assert(strstr(r.out, "do_shared_fault"));
	cr_assert(strstr(r.out, "[OOOOOOOOOOOOOOOO] 16/16"), "%s", r.out);
	cr_assert(strstr(r.out, "[O       O       ] 2/16"), "after write:stride:8");
	cr_assert(!strstr(r.out, " ra  ") && !strstr(r.out, " fa  "), "no readahead, no fault-around");
	cr_assert(!strchr(r.out, '\r'), "no redrawing when piped");
	result_free(&r);
}

Test(tool, demo_text_shows_readahead_and_fault_around, .timeout = 30)
{
	struct result r = run_tool(ARGS("demo", "--write", "--pages", "16"));

	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "readahead") && strstr(r.out, "fault-around"), "the intro explains both");
	cr_assert(strstr(r.out, "do_shared_fault   major   +15 ra "), "%s", r.out);
	cr_assert(strstr(r.out, "do_read_fault     minor   +"), "some read maps neighbours: %s", r.out);
	const char *p1 = strstr(r.out, "Phase 1"), *p2 = strstr(r.out, "Phase 2");
	const char *bar = p1 ? strstr(p1, "[OOOOOOOOOOOOOOOO] 16/16") : NULL;
	cr_assert(p2 && bar && bar < p2, "the first write read the whole file: %s", r.out);
	result_free(&r);
}

/* --- vmemu cat ------------------------------------------------------------ */

static void check_cat(size_t size)
{
	char path[64];

	make_file(path, size);
	struct result r = run_tool(ARGS("cat", path));
	cr_assert_eq(r.status, 0, "vmemu cat exited %d: %s", r.status, r.err);
	cr_assert_eq(r.out_len, size, "%zu bytes out of %zu", r.out_len, size);
	for (size_t i = 0; i < size; i++)
		cr_assert_eq((unsigned char)r.out[i], byte_at(i), "byte %zu", i);
	cr_assert_eq(r.err_len, 0, "%s", r.err);
	result_free(&r);
	unlink(path);
}

Test(tool, cat_copies_a_file_that_is_not_a_page_multiple, .timeout = 30)
{
	check_cat(3 * PG + 123);
}

Test(tool, cat_copies_an_empty_file, .timeout = 30)
{
	check_cat(0);
}

Test(tool, cat_copies_across_mapping_windows, .timeout = 60)
{
	check_cat((9UL << 20) + 1);	/* three 4 MiB windows, the last one byte */
}

Test(tool, cat_json_summary_goes_to_stderr, .timeout = 30)
{
	char path[64];

	make_file(path, 5 * PG + 1);
	struct result r = run_tool(ARGS("cat", "--json", path));
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(r.out_len, 5 * PG + 1, "stdout is the file alone");
	struct json *j = json_doc(r.err);
	cr_assert_eq(num(j, "bytes"), 5 * PG + 1);
	cr_assert_eq(num(j, "pages"), 6);
	cr_assert_eq(num(get(j, "counters"), "pgpgin"), 6);
	cr_assert_eq(num(get(j, "counters"), "populate"), 6, "each chunk is prefaulted");
	json_free(j);
	result_free(&r);
	unlink(path);
}

Test(tool, cat_of_a_missing_file_fails_with_a_message, .timeout = 30)
{
	struct result r = run_tool(ARGS("cat", "/nonexistent/vmemu-tool-test"));

	cr_assert_eq(r.status, 1);
	cr_assert_eq(r.out_len, 0);
	cr_assert(strstr(r.err, "/nonexistent/vmemu-tool-test") && strstr(r.err, "No such file"), "%s", r.err);
	result_free(&r);
}

/* --- the command line ----------------------------------------------------- */

Test(tool, help_exits_0_and_bad_usage_exits_2, .timeout = 30)
{
	struct result r = run_tool(ARGS("--help"));
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "Usage: vmemu"));
	result_free(&r);
	r = run_tool(ARGS("stat", "--help"));
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "Usage: vmemu stat"));
	result_free(&r);
	r = run_tool(ARGS("demo", "--pattern", "zigzag"));
	cr_assert_eq(r.status, 2, "%s", r.err);
	cr_assert(strstr(r.err, "zigzag"));
	result_free(&r);
	r = run_tool(ARGS("stat"));
	cr_assert_eq(r.status, 2, "FILE is required");
	result_free(&r);
	r = run_tool(ARGS("frobnicate"));
	cr_assert_eq(r.status, 2);
	result_free(&r);
}
