/*
 * cmd_stat.c - vmemu stat: map a file, run a pattern, print only the
 * counters and the residency.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

#include "tool.h"

static const char help[] =
	"Usage: vmemu stat [OPTION]... FILE\n"
	"Map FILE with vme_mmap, touch its pages in a pattern, and print the residency\n"
	"(vme_mincore) and the counters (vme_stats), nothing per fault.\n"
	"\n"
	"  -p, --pattern P  phases run in order, comma-separated: seq, reverse, random,\n"
	"                   stride:N, each optionally prefixed with read: or write:\n"
	"                   (default seq)\n"
	"  -w, --write      touches store instead of load: the mapping is MAP_PRIVATE\n"
	"                   unless --shared, and the store adds 0 atomically, so FILE's\n"
	"                   bytes never change\n"
	"      --shared     map MAP_SHARED (the default, except with --write)\n"
	"      --private    map MAP_PRIVATE\n"
	"  -n, --pages N    map only the first N pages\n"
	"      --advice A   vme_madvise the mapping: normal (the default), random (no\n"
	"                   readahead, no fault-around: one fault per page touched) or\n"
	"                   sequential (larger readahead windows)\n"
	"  -d, --delay MS   pause between touches (default 0)\n"
	"      --seed S     seed of the random walk (default 1)\n"
	"      --json       one JSON object: residency and counters\n"
	"  -h, --help       this help\n"
	"\n"
	"The counters are read after vme_munmap and vme_shutdown, so pgpgout includes\n"
	"the write-back of a shared mapping; the residency is taken before vme_munmap.\n"
	"Exit status: 0 done, 1 a file, mapping or I/O error, 2 a bad command line.\n";

int cmd_stat(int argc, char **argv)
{
	struct options o;
	struct target t = { .fd = -1 };
	unsigned long *order = NULL, touches = 0;
	unsigned char *vec = NULL;
	uint64_t touch_ns = 0;
	struct vme_stats s;
	bool wrote = false;
	long resident = 0;
	char bar[4096], spec[64];
	int r;

	if ((r = options_parse(argc, argv, help, true, &o)) >= 0)
		return r;
	if (pattern_parse(o.pattern_spec ? o.pattern_spec : "seq", o.write, &o.pattern))
		return EXIT_USAGE;
	for (int i = 0; i < o.pattern.nphases; i++)
		wrote |= o.pattern.phase[i].write;
	snprintf(t.path, sizeof(t.path), "%s", o.file);
	if ((r = target_map(&t, o.pages, wrote, o.share, o.advice)))
		goto out;
	if (!(vec = calloc(t.pages, 1)) || !(order = calloc(t.pages, sizeof(*order)))) {
		r = tool_error("out of memory:");
		goto out;
	}
	for (int i = 0; i < o.pattern.nphases; i++) {
		unsigned long n = phase_order(&o.pattern.phase[i], t.pages, o.seed + (uint64_t)i, order);
		for (unsigned long k = 0; k < n; k++) {
			touch_ns += target_touch(&t, order[k], o.pattern.phase[i].write);
			if (o.delay_ms > 0) {
				struct timespec ts = { o.delay_ms / 1000, (o.delay_ms % 1000) * 1000000L };
				while (nanosleep(&ts, &ts) && errno == EINTR)
					;
			}
		}
		touches += n;
	}
	if ((resident = residency(&t, vec)) < 0) {
		r = tool_error("vme_mincore:");
		goto out;
	}
	if ((r = target_close(&t)))
		goto out;
	if (vme_shutdown()) {
		r = tool_error("vme_shutdown: write-back failed:");
		goto out;
	}
	vme_stats(&s);
	if (o.json) {
		printf("{\"command\": \"stat\", \"file\": ");
		json_string(stdout, o.file);
		printf(", \"size\": %" PRIu64 ", \"page_size\": %zu, \"pages\": %lu,\n", t.size, page_size,
		       t.pages);
		printf(" \"mapping\": {\"length\": %zu, \"prot\": \"%s\", \"flags\": \"%s\", \"advice\": \"%s\"},\n",
		       t.length, prot_name(t.prot), map_flags_name(t.flags), advice_name(t.advice));
		printf(" \"pattern\": [");
		for (int i = 0; i < o.pattern.nphases; i++) {
			phase_spec(&o.pattern.phase[i], spec, sizeof(spec));
			printf("%s\"%s\"", i ? ", " : "", spec);
		}
		printf("], \"touches\": %lu,\n \"residency\": {\"resident\": %ld, \"pages\": %lu},\n"
		       " \"counters\": ", touches, resident, t.pages);
		report_counters_json(stdout, &s);
		printf("}\n");
	} else {
		int width = terminal_width();
		printf("%s: %" PRIu64 " bytes, %lu pages mapped %s %s", o.file, t.size, t.pages,
		       prot_name(t.prot), map_flags_name(t.flags));
		if (t.advice != MADV_NORMAL)
			printf(" %s", advice_macro(t.advice));
		printf("; pattern ");
		for (int i = 0; i < o.pattern.nphases; i++) {
			phase_spec(&o.pattern.phase[i], spec, sizeof(spec));
			printf("%s%s", i ? "," : "", spec);
		}
		printf(", %lu touches\n", touches);
		unsigned long scale;
		width = (width > 80 ? 80 : width) - 2;
		scale = residency_scale(t.pages, width);
		residency_bar(vec, t.pages, (unsigned long)resident, width, bar, sizeof(bar));
		if (scale == 1)
			printf("Residency (vme_mincore) after the pattern, one character per page:\n");
		else
			printf("Residency (vme_mincore) after the pattern, one character per %lu pages\n"
			       "('O' all resident, 'o' some, ' ' none):\n", scale);
		printf("  %s\n", bar);
		report_counters_text(stdout, &s, touch_ns, (unsigned long)(s.pgfault - s.populate));
	}
out:
	target_close(&t);
	free(vec);
	free(order);
	if (fflush(stdout) && !r)
		r = tool_error("write error:");
	return r;
}
