/*
 * target.c - the file being watched: the user's, or one generated in /tmp
 * whose pages say which page they are; its emulated mapping; one touch.
 *
 * A user's file is never changed unless asked: writes go to a MAP_PRIVATE
 * mapping unless --shared, and even then store back the byte they find.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int target_generate(struct target *t, unsigned long pages)
{
	char line[64];
	char *page = malloc(page_size);

	snprintf(t->path, sizeof(t->path), "/tmp/vmemu-demo-XXXXXX");
	if (!page)
		return tool_error("out of memory:");
	if ((t->fd = mkstemp(t->path)) < 0) {
		free(page);
		return tool_error("cannot create %s:", t->path);
	}
	t->generated = true;
	for (unsigned long p = 0; p < pages; p++) {
		for (size_t off = 0; off + sizeof(line) <= page_size; off += sizeof(line)) {
			char text[128];
			int n = snprintf(text, sizeof(text), "page %04lu, line %02zu, of the file vmemu demo generated",
					 p, off / sizeof(line));
			memset(line, ' ', sizeof(line));
			memcpy(line, text, n < (int)sizeof(line) - 1 ? (size_t)n : sizeof(line) - 1);
			line[sizeof(line) - 1] = '\n';
			memcpy(page + off, line, sizeof(line));
		}
		if (pwrite(t->fd, page, page_size, (off_t)(p * page_size)) != (ssize_t)page_size) {
			free(page);
			return tool_error("cannot write %s:", t->path);
		}
	}
	free(page);
	close(t->fd);
	t->fd = -1;
	return 0;
}

int target_map(struct target *t, unsigned long pages, bool write, int share, int advice)
{
	struct stat st;
	bool rdwr = t->generated || (write && share == MAP_SHARED);

	t->map = NULL;
	if ((t->fd = open(t->path, rdwr ? O_RDWR : O_RDONLY)) < 0)
		return tool_error("%s:", t->path);
	if (fstat(t->fd, &st))
		return tool_error("%s:", t->path);
	if (!S_ISREG(st.st_mode))
		return tool_error("%s: not a regular file", t->path);
	if (st.st_size == 0)
		return tool_error("%s: empty file, nothing to map", t->path);
	t->size = (uint64_t)st.st_size;
	t->pages = (unsigned long)((t->size + page_size - 1) / page_size);
	if (pages && pages < t->pages)
		t->pages = pages;
	t->length = t->pages * page_size;
	if (t->length > t->size)	/* only the last page may be partial */
		t->length = (size_t)t->size;
	t->flags = share ? share : (write && !t->generated) ? MAP_PRIVATE : MAP_SHARED;
	t->prot = write ? PROT_READ | PROT_WRITE : PROT_READ;
	t->map = vme_mmap(NULL, t->length, t->prot, t->flags, t->fd, 0);
	if (t->map == MAP_FAILED) {
		t->map = NULL;
		return tool_error("vme_mmap %s:", t->path);
	}
	t->advice = advice;
	if (advice != MADV_NORMAL && vme_madvise(t->map, t->length, advice))
		return tool_error("vme_madvise %s:", advice_macro(advice));
	return 0;
}

uint64_t target_touch(struct target *t, unsigned long page, bool write)
{
	char *p = t->map + page * page_size;
	char stamp[64];
	uint64_t t0;

	if (write && t->generated) {
		snprintf(stamp, sizeof(stamp), "PAGE %04lu WRITTEN THROUGH THE MAPPING", page);
		memset(stamp + strlen(stamp), ' ', sizeof(stamp) - 1 - strlen(stamp));
		t0 = now_ns();
		memcpy(p, stamp, sizeof(stamp) - 1);	/* the first store faults */
	} else if (write) {
		t0 = now_ns();
		__atomic_fetch_add((unsigned char *)p, 0, __ATOMIC_RELAXED);	/* a write fault, no change */
	} else {
		t0 = now_ns();
		(void)*(volatile char *)p;
	}
	return now_ns() - t0;
}

int target_close(struct target *t)
{
	int ret = 0;

	if (t->map && vme_munmap(t->map, t->length))
		ret = tool_error("vme_munmap:");
	t->map = NULL;
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (t->generated)
		unlink(t->path);
	t->generated = false;
	return ret;
}

const char *map_flags_name(int flags)
{
	return flags == MAP_SHARED ? "MAP_SHARED" : "MAP_PRIVATE";
}

const char *prot_name(int prot)
{
	return (prot & PROT_WRITE) ? "PROT_READ|PROT_WRITE" : "PROT_READ";
}

static const struct {
	int advice;
	const char *name, *macro;
} advices[] = {
	{ MADV_NORMAL, "normal", "MADV_NORMAL" },
	{ MADV_RANDOM, "random", "MADV_RANDOM" },
	{ MADV_SEQUENTIAL, "sequential", "MADV_SEQUENTIAL" },
};
#define NR_ADVICES (sizeof(advices) / sizeof(advices[0]))

int advice_parse(const char *name)
{
	for (size_t i = 0; i < NR_ADVICES; i++)
		if (!strcmp(name, advices[i].name))
			return advices[i].advice;
	return -1;
}

/* advice's row of the table; advice is one advice_parse returned. */
static size_t advice_row(int advice)
{
	for (size_t i = 1; i < NR_ADVICES; i++)
		if (advices[i].advice == advice)
			return i;
	return 0;	/* MADV_NORMAL */
}

const char *advice_name(int advice)
{
	return advices[advice_row(advice)].name;
}

const char *advice_macro(int advice)
{
	return advices[advice_row(advice)].macro;
}
