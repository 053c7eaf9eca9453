/*
 * report.c - what the commands print at the end: the counters (vme_stats)
 * and the emulated VMA table (vme_dump_maps), for a human or as JSON.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tool.h"

/* Every field of struct vme_stats, in its order. */
#define VME_STATS_FIELDS(X)                                                                   \
	X(pgfault) X(pgmajfault) X(anon_fault) X(read_fault) X(cow_fault) X(shared_fault)     \
	X(wp_fault) X(wp_copy) X(spurious_fault) X(pgpgin) X(pgpgout) X(writeback_error)     \
	X(read_error) X(sigsegv_delivered) X(sigbus_delivered) X(foreign_fault) X(populate)   \
	X(pgevict) X(pgscan) X(pgdeactivate) X(pgactivate) X(pswpin) X(pswpout)             \
	X(pgreadahead) X(pgfaultaround) X(host_vma_reclaim) X(fault_ns) X(lookup_ns)         \
	X(fill_ns) X(protect_ns) X(trace_dropped) X(nr_vmas) X(nr_mapped_files)             \
	X(nr_resident) X(nr_budget) X(nr_swap) X(nr_host_vmas) X(nr_cached)

/* A field added to struct vme_stats must be added to the list too. */
#define ONE(name) +1
_Static_assert(sizeof(struct vme_stats) == (0 VME_STATS_FIELDS(ONE)) * sizeof(uint64_t),
	       "VME_STATS_FIELDS must list every field of struct vme_stats");
#undef ONE

void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Faults that went through the SIGSEGV handler: the ones fault_ns and
 * lookup_ns time (prefaults by MADV_POPULATE_* are counted in pgfault too). */
static uint64_t handled_faults(const struct vme_stats *s)
{
	return s->pgfault > s->populate ? s->pgfault - s->populate : 0;
}

void report_counters_json(FILE *f, const struct vme_stats *s)
{
	uint64_t n = handled_faults(s);
	const char *sep = "";

	fputc('{', f);
#define X(name) fprintf(f, "%s\"" #name "\": %llu", sep, (unsigned long long)s->name), sep = ", ";
	VME_STATS_FIELDS(X)
#undef X
	fputs(", \"avg_ns\": {", f);
	sep = "";
#define AVG(name)                                                                        \
	do {                                                                             \
		if (n)                                                                   \
			fprintf(f, "%s\"" #name "\": %llu", sep,                         \
				(unsigned long long)(s->name##_ns / n));                 \
		else                                                                     \
			fprintf(f, "%s\"" #name "\": null", sep);                        \
		sep = ", ";                                                              \
	} while (0)
	AVG(fault);
	AVG(lookup);
	AVG(fill);
	AVG(protect);
#undef AVG
	fputs("}}", f);
}

static void row(FILE *f, const char *name, uint64_t v, const char *what)
{
	fprintf(f, "  %-16s %8llu  %s\n", name, (unsigned long long)v, what);
}

void report_counters_text(FILE *f, const struct vme_stats *s, uint64_t touch_ns,
			  unsigned long touches)
{
	uint64_t n = handled_faults(s);
	char what[96];

	fprintf(f, "Counters (vme_stats):\n");
	row(f, "pgfault", s->pgfault, "faults handled by vmemu");
	row(f, "pgmajfault", s->pgmajfault, "  of which major: the page was read from the file");
	row(f, "read_fault", s->read_fault, "  do_read_fault     (read, page not mapped yet)");
	row(f, "cow_fault", s->cow_fault, "  do_cow_fault      (write, MAP_PRIVATE: private copy)");
	row(f, "shared_fault", s->shared_fault, "  do_shared_fault   (write, MAP_SHARED: page dirtied)");
	snprintf(what, sizeof(what), "  do_wp_page        (write to a read-only page; %llu copied)",
		 (unsigned long long)s->wp_copy);
	row(f, "wp_fault", s->wp_fault, what);
	row(f, "anon_fault", s->anon_fault, "  do_anonymous_page (anonymous memory)");
	row(f, "pgpgin", s->pgpgin, "pages read from files (pread)");
	row(f, "pgreadahead", s->pgreadahead, "  of which read ahead of the faulting page");
	row(f, "pgfaultaround", s->pgfaultaround, "cached pages mapped around a read fault");
	row(f, "pgpgout", s->pgpgout, "pages written back to files (pwritev, a run at a time)");
#define OTHER(name, text) \
	if (s->name)      \
		row(f, #name, s->name, text);
	OTHER(spurious_fault, "faults another thread had already handled")
	OTHER(populate, "pages prefaulted (MADV_POPULATE_*, MAP_POPULATE)")
	OTHER(pgevict, "page-cache pages evicted (reclaim, MADV_PAGEOUT)")
	OTHER(pgscan, "frames the reclaim clock looked at")
	OTHER(pgdeactivate, "  unmapped to see whether they are used again")
	OTHER(pgactivate, "  and mapped back by a fault: they were")
	OTHER(pswpin, "pages read back from swap")
	OTHER(pswpout, "pages written to swap")
	OTHER(host_vma_reclaim, "times the host's mapping count forced pages out")
	OTHER(writeback_error, "write-backs that failed")
	OTHER(read_error, "page fills that failed")
	OTHER(sigsegv_delivered, "SIGSEGV passed on to the program")
	OTHER(sigbus_delivered, "SIGBUS raised for the program")
	OTHER(foreign_fault, "faults outside every emulated mapping")
	OTHER(trace_dropped, "trace events lost (the tracer fell behind)")
#undef OTHER
	if (!n)
		return;
	double us = 1000.0 * (double)n;
	double fault = (double)s->fault_ns / us, lookup = (double)s->lookup_ns / us;
	double fill = (double)s->fill_ns / us, protect = (double)s->protect_ns / us;
	double rest = fault - lookup - fill - protect;
	fprintf(f, "Cost of a fault, averaged over %llu:\n", (unsigned long long)n);
	fprintf(f, "  in the handler   %6.1f us = lookup %.2f + fill (pread) %.2f + protect (mprotect) %.2f\n"
		   "                              + the rest %.2f\n", fault, lookup, fill, protect, rest < 0 ? 0 : rest);
	if (touches && touch_ns) {
		double touch = (double)touch_ns / 1000.0 / (double)touches;
		fprintf(f, "  whole access     %6.1f us, measured around the faulting load or store:\n"
			   "                   the other %.1f us are the signal's delivery and return\n",
			touch, touch > fault ? touch - fault : 0);
	}
}

int report_maps(FILE *f, bool json, const char *indent)
{
	int fd = memfd_create("vmemu-maps", 0);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t k;

	if (fd < 0)
		return tool_error("memfd_create:");
	if (vme_dump_maps(fd)) {
		close(fd);
		return tool_error("vme_dump_maps:");
	}
	lseek(fd, 0, SEEK_SET);
	do {
		if (cap - len < 4096) {
			char *b = realloc(buf, cap = cap * 2 + 4096);
			if (!b) {
				free(buf);
				close(fd);
				return tool_error("out of memory:");
			}
			buf = b;
		}
		k = read(fd, buf + len, cap - len - 1);
		if (k > 0)
			len += (size_t)k;
	} while (k > 0);
	close(fd);
	buf[len] = '\0';
	if (json)
		fputc('[', f);
	const char *sep = "";
	for (char *line = buf, *nl; *line; line = nl + 1) {
		if (!(nl = strchr(line, '\n')))
			nl = line + strlen(line) - 1;
		else
			*nl = '\0';
		if (json) {
			fputs(sep, f);
			json_string(f, line);
			sep = ", ";
		} else {
			fprintf(f, "%s%s\n", indent, line);
		}
		if (!nl[1])
			break;
	}
	if (json)
		fputc(']', f);
	free(buf);
	return 0;
}
