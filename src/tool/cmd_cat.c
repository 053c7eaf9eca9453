/*
 * cmd_cat.c - vmemu cat: copy a file to stdout through emulated MAP_PRIVATE
 * read-only mappings, a window at a time, so that `cmp FILE <(vmemu cat
 * FILE)` checks vmemu's fault path byte for byte.
 *
 * write(2) from the mapping runs in the host kernel, which cannot take
 * vmemu's faults: an unpopulated emulated page makes it fail with EFAULT.
 * So each chunk is prefaulted with MADV_POPULATE_READ before it is written.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

#define WINDOW (4UL << 20)	/* bytes mapped at a time */
#define CHUNK (64UL << 10)	/* bytes prefaulted and written at a time */

static const char help[] =
	"Usage: vmemu cat [OPTION]... FILE\n"
	"Copy FILE to standard output through vme_mmap: MAP_PRIVATE, PROT_READ, 4 MiB\n"
	"at a time, each 64 KiB prefaulted with vme_madvise(MADV_POPULATE_READ) and\n"
	"then written with write(2).  The output is FILE's bytes, exactly.\n"
	"\n"
	"      --json   also print a JSON summary (bytes, pages, windows, counters) on\n"
	"               standard error once the copy is done; stdout stays the file\n"
	"  -h, --help   this help\n"
	"\n"
	"Exit status: 0 done, 1 a file, mapping or I/O error (FILE missing, not a\n"
	"regular file, shrunk while read, a write error), 2 a bad command line.\n";

/* Write [p, p + len) to fd; a page gone since it was populated (EFAULT) is
 * populated again, a few times.  Returns 0 or -1 with errno. */
static int write_mapped(int fd, char *p, size_t len)
{
	int retries = 3;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EFAULT && retries--) {
			char *page = (char *)((uintptr_t)p & ~(uintptr_t)(page_size - 1));
			if (vme_madvise(page, len + (size_t)(p - page), MADV_POPULATE_READ))
				return -1;
			continue;
		}
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int cmd_cat(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long windows = 0;
	bool json = false;
	struct stat st;
	int c, fd;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'h')
			return fputs(help, stdout), EXIT_OK;
		else
			return usage_error("unknown option '%s'", argv[optind - 1]);
	}
	if (optind == argc)
		return usage_error("FILE is missing");
	if (optind + 1 < argc)
		return usage_error("one FILE at most; '%s' is one too many", argv[optind + 1]);
	const char *path = argv[optind];

	if ((fd = open(path, O_RDONLY)) < 0)
		return tool_error("%s:", path);
	if (fstat(fd, &st)) {
		close(fd);
		return tool_error("%s:", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return tool_error("%s: not a regular file", path);
	}
	uint64_t size = (uint64_t)st.st_size;
	for (uint64_t off = 0; off < size; off += WINDOW) {
		size_t len = size - off < WINDOW ? (size_t)(size - off) : WINDOW;
		char *map = vme_mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, (off_t)off);
		if (map == MAP_FAILED) {
			close(fd);
			return tool_error("vme_mmap %s at offset %" PRIu64 ":", path, off);
		}
		windows++;
		for (size_t pos = 0; pos < len; pos += CHUNK) {
			size_t n = len - pos < CHUNK ? len - pos : CHUNK;
			if (vme_madvise(map + pos, n, MADV_POPULATE_READ)) {
				int e = errno;
				vme_munmap(map, len);
				close(fd);
				errno = e;
				if (e == EFAULT)
					return tool_error("%s: the file shrank while being read", path);
				return tool_error("vme_madvise(MADV_POPULATE_READ) %s:", path);
			}
			if (write_mapped(STDOUT_FILENO, map + pos, n)) {
				int e = errno;
				vme_munmap(map, len);
				close(fd);
				errno = e;
				return tool_error("write error:");
			}
		}
		if (vme_munmap(map, len)) {
			close(fd);
			return tool_error("vme_munmap:");
		}
	}
	close(fd);
	if (vme_shutdown())
		return tool_error("vme_shutdown:");
	if (json) {
		struct vme_stats s;
		vme_stats(&s);
		fprintf(stderr, "{\"command\": \"cat\", \"file\": ");
		json_string(stderr, path);
		fprintf(stderr, ", \"bytes\": %" PRIu64 ", \"page_size\": %zu, \"pages\": %" PRIu64
			", \"windows\": %lu, \"window_bytes\": %lu, \"chunk_bytes\": %lu,\n \"counters\": ",
			size, page_size, (size + page_size - 1) / page_size, windows, WINDOW, CHUNK);
		report_counters_json(stderr, &s);
		fprintf(stderr, "}\n");
	}
	return EXIT_OK;
}
