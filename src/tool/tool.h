/*
 * tool.h - the vmemu command-line tool: what its files share.
 *
 * The tool is a program like any other linked with -lvmemu: it includes
 * <vmemu.h> and nothing of the library's insides.  One concept per file:
 *
 *   vmemu.c      main: the subcommands, exit codes, the tool's --help
 *   options.c    the options demo and stat share (--pattern, --write, ...)
 *   pattern.c    access patterns: which page is touched when
 *   target.c     the file (given or generated), its mapping, one touch
 *   residency.c  vme_mincore and the vmtouch-style residency bar
 *   events.c     the tracer: events collected from vmemu's thread
 *   report.c     counters, the VMA table and JSON, as text or JSON
 *   cmd_demo.c, cmd_stat.c, cmd_cat.c   the subcommands
 */
#ifndef VMEMU_TOOL_H
#define VMEMU_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <vmemu.h>

/* Exit codes, as documented in vmemu(1). */
#define EXIT_OK 0		/* done */
#define EXIT_ERR 1		/* a file, mapping or I/O error; the message is on stderr */
#define EXIT_USAGE 2		/* bad command line */

extern const char *progname;	/* "vmemu demo", ... for messages */
extern size_t page_size;

/* Print "progname: message" (and ": strerror(errno)" if the format ends in
 * ':') on stderr; return EXIT_ERR. */
int tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same for a bad command line, with a pointer to --help; EXIT_USAGE. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The subcommands: argv[0] is the subcommand's name.  Return the exit code. */
int cmd_demo(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_cat(int argc, char **argv);

/* --- pattern.c ------------------------------------------------------------- */
enum walk { WALK_SEQ, WALK_REVERSE, WALK_RANDOM, WALK_STRIDE };

struct phase {
	enum walk walk;			/* the order of the touches */
	unsigned long stride;		/* WALK_STRIDE: every stride-th page */
	bool write;			/* the touches store instead of load */
};

#define MAX_PHASES 8
struct pattern {
	struct phase phase[MAX_PHASES];	/* run one after the other */
	int nphases;
};

/* Parse "[read:|write:]WALK[,...]" with WALK seq, reverse, random or
 * stride:N; a phase without a prefix writes if write is set.  Returns 0, or
 * -1 after printing a usage error. */
int pattern_parse(const char *spec, bool write, struct pattern *out);
/* The pages phase touches, in order, into order[] (room for pages entries).
 * Returns how many. */
unsigned long phase_order(const struct phase *ph, unsigned long pages, uint64_t seed,
			  unsigned long *order);
/* "read every 8th page (stride:8)" */
void phase_describe(const struct phase *ph, char *buf, size_t size);
/* "stride:8" or "write:seq": the phase as --pattern spells it. */
void phase_spec(const struct phase *ph, char *buf, size_t size);

/* --- options.c ------------------------------------------------------------- */
struct options {
	struct pattern pattern;		/* --pattern, with --write applied */
	const char *pattern_spec;	/* as given, or NULL for the default */
	bool write;			/* --write */
	int share;			/* --shared: MAP_SHARED, --private: MAP_PRIVATE, else 0 */
	unsigned long pages;		/* --pages: 0 = the whole file (or the default size) */
	long delay_ms;			/* --delay; -1 = the default */
	uint64_t seed;			/* --seed, for random */
	bool json;			/* --json */
	int advice;			/* --advice: MADV_NORMAL, MADV_RANDOM or MADV_SEQUENTIAL */
	const char *file;		/* the operand, or NULL */
};

/* Parse demo's and stat's command line (argv[0] is the subcommand).  help is
 * printed for --help.  Returns -1 to go on, else the exit code. */
int options_parse(int argc, char **argv, const char *help, bool file_required, struct options *o);

/* --- target.c -------------------------------------------------------------- */
struct target {
	char path[4096];		/* the file */
	bool generated;			/* made by us in /tmp; removed by target_close */
	int fd;
	uint64_t size;			/* the file's size in bytes */
	unsigned long pages;		/* pages mapped */
	size_t length;			/* bytes mapped */
	int prot, flags;		/* as given to vme_mmap */
	int advice;			/* as given to vme_madvise (MADV_NORMAL: not called) */
	char *map;			/* the mapping, or NULL */
};

/* Generate a file of pages pages in /tmp whose pages say which page they are
 * ("page 0007 of the vmemu demo file ..."). Returns 0 or EXIT_ERR. */
int target_generate(struct target *t, unsigned long pages);
/* Open t->path (or the generated file) and map its first pages pages (0:
 * all) with vme_mmap: MAP_SHARED, except MAP_PRIVATE for writes to a user's
 * file unless share says MAP_SHARED; then vme_madvise the mapping with
 * advice unless it is MADV_NORMAL.  Returns 0 or EXIT_ERR. */
int target_map(struct target *t, unsigned long pages, bool write, int share, int advice);
/* Touch page: load its first byte, or store.  The store is the generated
 * file's stamp "PAGE nnnn WRITTEN THROUGH THE MAPPING", and on anyone
 * else's file an atomic add of 0, which faults as a write and changes no
 * byte.  Returns the touch's duration in nanoseconds. */
uint64_t target_touch(struct target *t, unsigned long page, bool write);
/* Unmap, close, remove the generated file.  Returns 0, or EXIT_ERR if the
 * final write-back failed. */
int target_close(struct target *t);
/* "MAP_SHARED", "PROT_READ|PROT_WRITE" */
const char *map_flags_name(int flags);
const char *prot_name(int prot);
/* --advice's names: "random" -> MADV_RANDOM, or -1 for an unknown name;
 * MADV_RANDOM -> "random" (advice_name) or "MADV_RANDOM" (advice_macro). */
int advice_parse(const char *name);
const char *advice_name(int advice);
const char *advice_macro(int advice);
uint64_t now_ns(void);

/* --- residency.c ----------------------------------------------------------- */
/* vme_mincore over the mapping into vec (t->pages bytes).  Returns how many
 * pages are resident, or -1 with errno. */
long residency(const struct target *t, unsigned char *vec);
/* The bar "[OOOooo      ] 312/1024" in at most width columns: one char per
 * page, or per several ('O' all resident, 'o' some, ' ' none). */
void residency_bar(const unsigned char *vec, unsigned long pages, unsigned long resident,
		   int width, char *out, size_t size);
/* Pages each character of a bar width columns wide stands for (1 or more). */
unsigned long residency_scale(unsigned long pages, int width);
/* The terminal's width, or 80 (COLUMNS if set) when stdout is not one. */
int terminal_width(void);

/* --- events.c -------------------------------------------------------------- */
/* Start collecting trace events (vme_set_tracer).  Returns 0 or EXIT_ERR. */
int events_start(void);
/* Wait for every event so far (vme_trace_flush) and move them to *evs
 * (malloc'd; the caller frees it).  Returns how many. */
size_t events_take(struct vme_trace_event **evs);
void events_stop(void);
/* The kernel function a kind names: "do_read_fault", ..., "writeback". */
const char *event_path(unsigned kind);
/* The JSON name of a kind: "read_fault", ... */
const char *event_kind_name(unsigned kind);

/* --- report.c -------------------------------------------------------------- */
void json_string(FILE *f, const char *s);
/* The counters as a JSON object, with per-fault averages of the cost
 * breakdown (null where there were no faults to average over). */
void report_counters_json(FILE *f, const struct vme_stats *s);
/* The counters for a human: faults by path, I/O, the cost breakdown.
 * touch_ns: the tool's own measure of the faulting touches (0: unknown). */
void report_counters_text(FILE *f, const struct vme_stats *s, uint64_t touch_ns,
			  unsigned long touches);
/* vme_dump_maps, each line prefixed with indent (text), or a JSON array of
 * strings.  Returns 0 or EXIT_ERR. */
int report_maps(FILE *f, bool json, const char *indent);

#endif
