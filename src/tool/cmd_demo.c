/*
 * cmd_demo.c - vmemu demo: map a file, touch it in a pattern, and show each
 * fault as the tracer reports it, with the residency bar; at the end the
 * write-back, the VMA table and the counters.
 *
 * On a terminal the bar stays on the last line and is redrawn (\r) after
 * every touch; piped, everything is plain lines.  --json prints one object
 * with every event instead.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

static const char help[] =
	"Usage: vmemu demo [OPTION]... [FILE]\n"
	"Map FILE (default: a file generated in /tmp, removed at the end) with vme_mmap,\n"
	"touch its pages in a pattern and show each fault as it happens: the file page,\n"
	"the address, the kernel path (do_read_fault, do_cow_fault, do_shared_fault,\n"
	"do_anonymous_page, do_wp_page), major or minor, the pages read ahead or mapped\n"
	"around with it, and the time in the handler, with a live residency bar.  At\n"
	"the end: what was written back, the emulated VMAs (vme_dump_maps) and the\n"
	"counters (vme_stats).\n"
	"\n"
	"  -p, --pattern P  phases run in order, comma-separated: seq, reverse, random,\n"
	"                   stride:N (every Nth page), each optionally prefixed with\n"
	"                   read: or write:.  Default stride:8,seq; with --write,\n"
	"                   write:stride:8,read:seq,write:seq (so that do_shared_fault,\n"
	"                   fault-around and do_wp_page all show)\n"
	"  -w, --write      touches store instead of load.  On FILE the mapping is then\n"
	"                   MAP_PRIVATE (the file is never changed) unless --shared;\n"
	"                   the store adds 0 atomically, so even --shared changes no\n"
	"                   byte.  On the generated file it stamps each page it writes\n"
	"      --shared     map MAP_SHARED (the default, except for --write on FILE)\n"
	"      --private    map MAP_PRIVATE\n"
	"  -n, --pages N    size of the generated file (default 32), or map only the\n"
	"                   first N pages of FILE\n"
	"      --advice A   vme_madvise the mapping: normal (the default), random (no\n"
	"                   readahead, no fault-around: one fault per page touched) or\n"
	"                   sequential (larger readahead windows)\n"
	"  -d, --delay MS   pause between touches (default: on a terminal 40 ms, less for\n"
	"                   long runs; 0 when piped or with --json)\n"
	"      --seed S     seed of the random walk (default 1)\n"
	"      --json       one JSON object: the events, written-back pages, VMAs,\n"
	"                   residency and counters\n"
	"  -h, --help       this help\n"
	"\n"
	"Exit status: 0 done, 1 a file, mapping or I/O error, 2 a bad command line.\n";

#define DEFAULT_PAGES 32
#define DATA_BYTES 9		/* "page 0007": the start of each touched page */

struct demo {
	struct options o;
	struct target t;
	bool live;			/* stdout is a terminal: redraw the bar in place */
	bool bar_on_screen;		/* live: the bar is on the current line */
	int width;			/* columns for the bar line */
	unsigned char *vec;		/* vme_mincore's answer */
	long resident;
	struct vme_trace_event *events;	/* every event, for --json and the end */
	size_t nevents, cap;
	uint64_t touch_ns;		/* summed over the touches that faulted */
	unsigned long faulting_touches;
};

static int keep_events(struct demo *d, const struct vme_trace_event *evs, size_t n)
{
	if (!n)
		return 0;
	if (d->nevents + n > d->cap) {
		size_t cap = d->cap * 2 + n + 64;
		struct vme_trace_event *e = realloc(d->events, cap * sizeof(*e));
		if (!e)
			return tool_error("out of memory:");
		d->events = e;
		d->cap = cap;
	}
	memcpy(d->events + d->nevents, evs, n * sizeof(*evs));
	d->nevents += n;
	return 0;
}

/* --- the text output ---------------------------------------------------- */

static void clear_bar(struct demo *d)
{
	if (d->live && d->bar_on_screen)
		printf("\r%*s\r", d->width - 1, "");
	d->bar_on_screen = false;
}

static void show_bar(struct demo *d)
{
	char bar[4096];

	residency_bar(d->vec, d->t.pages, (unsigned long)d->resident, d->width - 2, bar, sizeof(bar));
	if (d->live) {
		printf("\r  %s", bar);
		d->bar_on_screen = true;
		fflush(stdout);
	} else {
		printf("  %s\n", bar);
	}
}

/* Live: leave the bar where it is and go on below it. */
static void keep_bar(struct demo *d)
{
	if (d->live && d->bar_on_screen)
		printf("\n");
	d->bar_on_screen = false;
}

static void refresh_residency(struct demo *d)
{
	long n = residency(&d->t, d->vec);

	if (n >= 0)
		d->resident = n;
}

/* Printable bytes from the start of the page, as the program sees them. */
static void page_data(const struct demo *d, unsigned long page, char *out)
{
	const char *p = d->t.map + page * page_size;
	size_t n = DATA_BYTES;

	if (page * page_size + n > d->t.size)
		n = (size_t)(d->t.size - page * page_size);
	out[0] = '"';
	for (size_t i = 0; i < n; i++)
		out[1 + i] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '.';
	out[1 + n] = '"';
	out[2 + n] = '\0';
}

/* The columns of an event line, and of a touch that did not fault. */
#define EVENT_LINE "  %5" PRIu64 "  0x%012" PRIx64 "  %-17s %-7s %-6s %6.1f us  %s\n"
#define NO_FAULT_LINE "  %5lu  0x%012" PRIxPTR "  %-42s  %s\n"

static void show_event(struct demo *d, const struct vme_trace_event *ev, const char *data)
{
	bool fault = ev->kind != VME_TRACE_WRITEBACK, major = ev->flags & VME_TRACE_MAJOR;
	char more[16] = "";

	if (fault && ev->pages > 1)	/* read ahead by a major fault, mapped around by a minor one */
		snprintf(more, sizeof(more), "+%" PRIu32 " %s", ev->pages - 1, major ? "ra" : "fa");
	else if (fault)
		snprintf(more, sizeof(more), "-");
	clear_bar(d);
	printf(EVENT_LINE, ev->pgoff, ev->address, event_path(ev->kind),
	       !fault ? "" : major ? "major" : "minor", more, ev->latency_ns / 1000.0, data);
}

static void show_intro(const struct demo *d)
{
	const struct target *t = &d->t;
	unsigned long scale = residency_scale(t->pages, d->width - 2);

	printf("vmemu demo: watch a file mapped with vme_mmap become resident, fault by fault.\n\n");
	if (t->generated)
		printf("  file     %s: %lu pages of %zu bytes, generated; each page\n"
		       "           begins \"page NNNN\" (removed at the end)\n", t->path, t->pages, page_size);
	else
		printf("  file     %s: %" PRIu64 " bytes; %lu pages mapped\n", t->path, t->size, t->pages);
	printf("  mapping  vme_mmap(NULL, %zu, %s, %s, fd, 0) = %p\n", t->length, prot_name(t->prot),
	       map_flags_name(t->flags), (void *)t->map);
	if (t->advice != MADV_NORMAL)
		printf("  advice   vme_madvise(%p, %zu, %s)\n", (void *)t->map, t->length,
		       advice_macro(t->advice));
	printf("\nvme_mmap read nothing: the %lu pages are PROT_NONE host memory.  Touching a\n"
	       "page that is not mapped yet raises a real SIGSEGV; vmemu's emulated kernel\n"
	       "handles it on the path Linux's page fault would take, and its tracer reports it:\n"
	       "  page, address  the file page and the faulting address\n"
	       "  path           the kernel function that handled the fault:\n"
	       "                   do_read_fault    a read of a page not mapped yet\n"
	       "                   do_shared_fault  a write to it, MAP_SHARED: the page is dirtied\n"
	       "                   do_cow_fault     a write to it, MAP_PRIVATE: a private copy\n"
	       "                   do_wp_page       a write to a page mapped read-only (a clean\n"
	       "                                    shared page, or one to copy on write)\n"
	       "  maj/min        major: the page was read from the file (filemap_fault);\n"
	       "                 minor: it was already in vmemu's page cache\n"
	       "  ra/fa          what came with it: \"+N ra\", N more pages read in the same\n"
	       "                 pread (readahead); \"+N fa\", N more cached pages mapped in\n"
	       "                 the same mprotect (fault-around)\n"
	       "  latency        time spent in the fault handler\n"
	       "  data           the page's first bytes, as the program then saw them\n",
	       t->pages);
	if (t->advice == MADV_RANDOM)
		printf("MADV_RANDOM turns readahead and fault-around off: each fault reads and maps\n"
		       "its page alone, so every page touched faults once.\n");
	else
		printf("Like Linux, vmemu bets that the neighbours are wanted next.  A miss reads a\n"
		       "window of pages in one read (readahead: 16 pages around the fault, or, after\n"
		       "cached pages, twice as many as are cached before it, up to 512) and maps\n"
		       "all it read; a read fault on a cached page maps the cached pages of its\n"
		       "16-page block, or more ahead in a stream (fault-around).  So most touches\n"
		       "find their page mapped, or fault minor.  --advice random turns both off.\n");
	if (scale == 1)
		printf("The bar is the mapping's residency (vme_mincore): one character per page,\n"
		       "'O' resident, ' ' not.\n");
	else
		printf("The bar is the mapping's residency (vme_mincore): one character per %lu\n"
		       "pages, 'O' all resident, 'o' some, ' ' none.\n", scale);
}

static void show_phase(struct demo *d, int i, const struct phase *ph, unsigned long touches)
{
	char what[128];

	phase_describe(ph, what, sizeof(what));
	clear_bar(d);
	printf("\nPhase %d of %d: %s, %lu touch%s\n", i + 1, d->o.pattern.nphases, what, touches,
	       touches == 1 ? "" : "es");
	printf("  %5s  %-14s  %-17s %-7s %-6s %9s  %s\n", "page", "address", "path", "maj/min",
	       "ra/fa", "latency", "data");
}

/* "0-7, 9, 12-15" */
static void show_pages(const struct vme_trace_event *evs, size_t n, unsigned kind)
{
	int shown = 0;

	for (size_t i = 0; i < n;) {
		if (evs[i].kind != kind) {
			i++;
			continue;
		}
		uint64_t first = evs[i].pgoff, last = first;
		size_t j = i + 1;
		for (; j < n && evs[j].kind == kind && evs[j].pgoff == last + 1; j++)
			last++;
		if (shown++ == 12) {
			printf(", ...");
			break;
		}
		printf(shown > 1 ? ", %" PRIu64 : "%" PRIu64, first);
		if (last > first)
			printf("-%" PRIu64, last);
		i = j;
	}
}

/* --- the run ----------------------------------------------------------- */

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int run_phase(struct demo *d, int i, unsigned long *order)
{
	const struct phase *ph = &d->o.pattern.phase[i];
	unsigned long n = phase_order(ph, d->t.pages, d->o.seed + (uint64_t)i, order);
	unsigned long refresh = d->t.pages > 4096 ? d->t.pages / 4096 : 1;
	unsigned long since_bar = 0;
	char data[DATA_BYTES + 3];

	if (!d->o.json)
		show_phase(d, i, ph, n);
	if (d->live && n)
		show_bar(d);
	for (unsigned long k = 0; k < n; k++) {
		struct vme_trace_event *evs;
		uint64_t ns = target_touch(&d->t, order[k], ph->write);
		size_t nev;

		if (d->o.json) {	/* take them now and then: the ring holds 4096 */
			if ((k + 1) % 1024 == 0 || k + 1 == n) {
				nev = events_take(&evs);
				int r = keep_events(d, evs, nev);
				free(evs);
				if (r)
					return r;
			}
			continue;
		}
		nev = events_take(&evs);
		if (nev) {
			d->touch_ns += ns;
			d->faulting_touches++;
		}
		page_data(d, order[k], data);
		for (size_t e = 0; e < nev; e++)
			show_event(d, &evs[e], e == 0 ? data : "");
		if (!nev) {
			clear_bar(d);
			printf(NO_FAULT_LINE, order[k], (uintptr_t)(d->t.map + order[k] * page_size),
			       ph->write ? "no fault: already mapped writable" : "no fault: already mapped",
			       data);
		}
		int r = keep_events(d, evs, nev);
		free(evs);
		if (r)
			return r;
		if ((k + 1) % refresh == 0 || k + 1 == n)
			refresh_residency(d);
		if (d->live)
			show_bar(d);
		else if (++since_bar == 16 || k + 1 == n) {
			show_bar(d);
			since_bar = 0;
		}
		if (k + 1 < n || i + 1 < d->o.pattern.nphases)
			pause_ms(d->o.delay_ms);
	}
	if (d->o.json)
		refresh_residency(d);
	keep_bar(d);
	return 0;
}

/* After the touches: write back (shared mappings), show it. */
static int write_back(struct demo *d, bool wrote)
{
	struct vme_trace_event *evs;
	size_t first = d->nevents, n;

	if (wrote && d->t.flags == MAP_SHARED && vme_msync(d->t.map, d->t.length, MS_SYNC))
		return tool_error("vme_msync:");
	n = events_take(&evs);
	int r = keep_events(d, evs, n);
	free(evs);
	if (r || d->o.json)
		return r;
	size_t wb = 0;
	for (size_t i = first; i < d->nevents; i++)
		wb += d->events[i].kind == VME_TRACE_WRITEBACK;
	printf("\nWrite-back: ");
	if (!wrote) {
		printf("nothing to write, no page was written.\n");
		return 0;
	}
	if (d->t.flags == MAP_PRIVATE) {
		printf("none.  The writes went to private copies (MAP_PRIVATE, do_cow_fault\n"
		       "and do_wp_page copy the page); the file is unchanged.\n");
		return 0;
	}
	printf("vme_msync(MS_SYNC) wrote %zu dirty page%s back to the file with pwritev:\n  pages ",
	       wb, wb == 1 ? "" : "s");
	show_pages(d->events + first, d->nevents - first, VME_TRACE_WRITEBACK);
	printf("\n");
	if (d->t.generated && wb) {
		char line[64] = "";
		uint64_t pg = d->events[first].pgoff;
		for (size_t i = first; i < d->nevents; i++)
			if (d->events[i].kind == VME_TRACE_WRITEBACK) {
				pg = d->events[i].pgoff;
				break;
			}
		if (pread(d->t.fd, line, 37, (off_t)(pg * page_size)) == 37)
			printf("  The file itself (read with pread) now has at page %" PRIu64 ": \"%.37s\"\n",
			       pg, line);
	}
	return 0;
}

static void json_output(const struct demo *d, const char *maps, const struct vme_stats *s)
{
	const struct target *t = &d->t;
	char spec[64];
	const char *sep = "";

	printf("{\"command\": \"demo\", \"file\": ");
	json_string(stdout, t->path);
	printf(", \"generated\": %s, \"size\": %" PRIu64 ", \"page_size\": %zu, \"pages\": %lu,\n",
	       t->generated ? "true" : "false", t->size, page_size, t->pages);
	printf(" \"mapping\": {\"length\": %zu, \"prot\": \"%s\", \"flags\": \"%s\", \"advice\": \"%s\"},\n",
	       t->length, prot_name(t->prot), map_flags_name(t->flags), advice_name(t->advice));
	printf(" \"pattern\": [");
	for (int i = 0; i < d->o.pattern.nphases; i++) {
		phase_spec(&d->o.pattern.phase[i], spec, sizeof(spec));
		printf("%s\"%s\"", i ? ", " : "", spec);
	}
	printf("],\n \"events\": [");
	for (size_t i = 0; i < d->nevents; i++) {
		const struct vme_trace_event *ev = &d->events[i];
		bool major = ev->flags & VME_TRACE_MAJOR;
		printf("%s\n  {\"time_ns\": %" PRIu64 ", \"address\": \"0x%" PRIx64 "\", \"pgoff\": %" PRIu64
		       ", \"kind\": \"%s\", \"path\": \"%s\", \"major\": %s, \"latency_ns\": %" PRIu32
		       ", \"tid\": %" PRId32 ", \"pages\": %" PRIu32,
		       sep, ev->time_ns, ev->address, ev->pgoff, event_kind_name(ev->kind),
		       event_path(ev->kind), major ? "true" : "false", ev->latency_ns, ev->tid, ev->pages);
		/* A major fault's pages are the ones it read, a minor one's those
		 * it mapped: the event tells one of the two. */
		if (ev->kind == VME_TRACE_WRITEBACK)
			printf(", \"readahead\": null, \"fault_around\": null}");
		else if (major)
			printf(", \"readahead\": %" PRIu32 ", \"fault_around\": null}", ev->pages - 1);
		else
			printf(", \"readahead\": 0, \"fault_around\": %" PRIu32 "}", ev->pages - 1);
		sep = ",";
	}
	printf("],\n \"written_back\": [");
	sep = "";
	for (size_t i = 0; i < d->nevents; i++)
		if (d->events[i].kind == VME_TRACE_WRITEBACK) {
			printf("%s%" PRIu64, sep, d->events[i].pgoff);
			sep = ", ";
		}
	printf("],\n \"maps\": %s,\n", maps);
	printf(" \"residency\": {\"resident\": %ld, \"pages\": %lu},\n \"counters\": ", d->resident,
	       t->pages);
	report_counters_json(stdout, s);
	printf("}\n");
}

int cmd_demo(int argc, char **argv)
{
	struct demo d = { .t = { .fd = -1 } };
	unsigned long *order = NULL, touches = 0;
	struct vme_stats s;
	bool wrote = false;
	char *maps = NULL;
	size_t maps_len = 0;
	int r;

	if ((r = options_parse(argc, argv, help, false, &d.o)) >= 0)
		return r;
	if (pattern_parse(d.o.pattern_spec ? d.o.pattern_spec :
			  d.o.write ? "write:stride:8,read:seq,write:seq" : "stride:8,seq", d.o.write,
			  &d.o.pattern))
		return EXIT_USAGE;
	for (int i = 0; i < d.o.pattern.nphases; i++)
		wrote |= d.o.pattern.phase[i].write;
	d.live = !d.o.json && isatty(STDOUT_FILENO);
	d.width = terminal_width();
	if (!d.live && d.width > 80)
		d.width = 80;
	if (d.o.file)
		snprintf(d.t.path, sizeof(d.t.path), "%s", d.o.file);
	else if ((r = target_generate(&d.t, d.o.pages ? d.o.pages : DEFAULT_PAGES)))
		goto out;
	if ((r = target_map(&d.t, d.o.pages, wrote, d.o.share, d.o.advice)))
		goto out;
	if (!(d.vec = calloc(d.t.pages, 1)) || !(order = calloc(d.t.pages, sizeof(*order)))) {
		r = tool_error("out of memory:");
		goto out;
	}
	for (int i = 0; i < d.o.pattern.nphases; i++)
		touches += phase_order(&d.o.pattern.phase[i], d.t.pages, 0, order);
	if (d.o.delay_ms < 0)
		d.o.delay_ms = !d.live ? 0 : touches * 40 <= 3000 ? 40 : (long)(3000 / touches);
	if ((r = events_start()))
		goto out;
	refresh_residency(&d);
	if (!d.o.json) {
		show_intro(&d);
		printf("\nAfter vme_mmap:\n");
		show_bar(&d);
		keep_bar(&d);
	}
	for (int i = 0; i < d.o.pattern.nphases; i++)
		if ((r = run_phase(&d, i, order)))
			goto out;
	if ((r = write_back(&d, wrote)))
		goto out;
	if (d.o.json) {	/* the VMA table, before munmap, printed at the end */
		FILE *f = open_memstream(&maps, &maps_len);
		if (!f) {
			r = tool_error("open_memstream:");
			goto out;
		}
		r = report_maps(f, true, "");
		fclose(f);
	} else {
		printf("\nThe emulated VMAs (vme_dump_maps, in /proc/self/maps format):\n");
		r = report_maps(stdout, false, "  ");
	}
	if (r)
		goto out;
	r = target_close(&d.t);
	struct vme_trace_event *evs;
	size_t n = events_take(&evs);	/* munmap's write-back, if any */
	keep_events(&d, evs, n);
	free(evs);
	events_stop();
	if (vme_shutdown() && !r)
		r = tool_error("vme_shutdown: write-back failed:");
	vme_stats(&s);
	if (d.o.json) {
		json_output(&d, maps, &s);
	} else {
		printf("\n");
		report_counters_text(stdout, &s, d.touch_ns, d.faulting_touches);
	}
	goto out_free;
out:
	target_close(&d.t);
	events_stop();
out_free:
	free(d.vec);
	free(order);
	free(d.events);
	free(maps);
	if (fflush(stdout) && !r)
		r = tool_error("write error:");
	return r;
}
