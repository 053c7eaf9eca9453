/*
 * map_scan.c - map-scan: map a file, read every page, unmap; again and again.
 *
 *   map-scan [--size N] [--repeat R] FILE
 *
 * FILE is created with --size bytes (default 32M) of a pattern unless it
 * already has that size, so that repeated runs reuse one file.  Each of the
 * R rounds (default 20) maps the whole file MAP_SHARED, PROT_READ, loads
 * two words of every page in order, checks that the first is the page's
 * number, and unmaps.  A page cache that outlives its mappings, fault-around
 * and readahead make the later rounds cheap.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

#define PG 4096UL
#define WORDS (PG / sizeof(uint64_t))
#define CHUNK (1UL << 20)

/* Word k of page pg: the page's number, then a pattern. */
static uint64_t file_word(uint64_t pg, uint64_t k)
{
	uint64_t x = pg * WORDS + k;

	return k ? x * 0x9e3779b97f4a7c15ULL ^ (x >> 7) : pg;
}

/* FILE with size bytes of the pattern, unless it has that size already. */
static void make_file(const char *path, uint64_t size)
{
	struct stat st;
	uint64_t *buf;
	int fd;

	if (stat(path, &st) == 0 && (uint64_t)st.st_size == size)
		return;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
		die("open %s: %s", path, strerror(errno));
	if (!(buf = malloc(CHUNK)))
		die("out of memory");
	for (uint64_t off = 0; off < size; off += CHUNK) {
		size_t len = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		for (size_t w = 0; w < len / sizeof(*buf); w++) {
			uint64_t byte = off + w * sizeof(*buf);
			buf[w] = file_word(byte / PG, byte % PG / sizeof(*buf));
		}
		for (size_t done = 0; done < len;) {
			ssize_t k = write(fd, (char *)buf + done, len - done);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				die("write %s: %s", path, k < 0 ? strerror(errno) : "wrote nothing");
			done += (size_t)k;
		}
	}
	free(buf);
	if (close(fd))
		die("close %s: %s", path, strerror(errno));
}

/* One round: map, read two words of every page, unmap.  Adds the second
 * word of each page to *sum; dies if a page's number is wrong. */
static void scan_once(const char *path, uint64_t size, unsigned round, uint64_t *sum)
{
	const uint64_t *p;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0)
		die("open %s: %s", path, strerror(errno));
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap %s: %s", path, strerror(errno));
	close(fd);
	for (uint64_t pg = 0; pg < size / PG; pg++) {
		const uint64_t *page = p + pg * WORDS;
		uint64_t k = 1 + pg % (WORDS - 1);
		if (page[0] != pg || page[k] != file_word(pg, k))
			die("round %u: page %llu reads %016llx %016llx, not %016llx %016llx", round,
			    (unsigned long long)pg, (unsigned long long)page[0], (unsigned long long)page[k],
			    (unsigned long long)pg, (unsigned long long)file_word(pg, k));
		*sum += page[k];
	}
	if (munmap((void *)p, size))
		die("munmap: %s", strerror(errno));
}

static void usage(FILE *f)
{
	fprintf(f, "usage: map-scan [--size N] [--repeat R] FILE\n"
		"  --size N     bytes, a multiple of 4096 (default 32M); FILE is made with this size\n"
		"               unless it has it already\n"
		"  --repeat R   map, read every page, unmap: R times (default 20)\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' }, { "repeat", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	uint64_t size = 32UL << 20, repeat = 20, sum = 0;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': size = parse_count("--size", optarg, PG, 1UL << 40); break;
		case 'r': repeat = parse_count("--repeat", optarg, 1, 1UL << 20); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	if (size % PG)
		die("--size %llu is not a multiple of %lu", (unsigned long long)size, PG);
	make_file(argv[optind], size);
	for (unsigned r = 0; r < repeat; r++)
		scan_once(argv[optind], size, r, &sum);
	printf("map-scan: %llu pages, %llu rounds, sum %016llx\n", (unsigned long long)(size / PG),
	       (unsigned long long)repeat, (unsigned long long)sum);
	return 0;
}
