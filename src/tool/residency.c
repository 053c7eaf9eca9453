/*
 * residency.c - which pages of the mapping are resident (vme_mincore), drawn
 * as vmtouch draws it: [OOOooo      ] 312/1024.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tool.h"

long residency(const struct target *t, unsigned char *vec)
{
	long n = 0;

	if (vme_mincore(t->map, t->length, vec))
		return -1;
	for (unsigned long i = 0; i < t->pages; i++)
		n += vec[i] & 1;
	return n;
}

int terminal_width(void)
{
	struct winsize ws;
	const char *env = getenv("COLUMNS");

	if (isatty(STDOUT_FILENO) && !ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_col >= 20)
		return ws.ws_col;
	if (env && atoi(env) >= 20)
		return atoi(env);
	return 80;
}

/* Columns the text after the bar takes at most: "] pages/pages". */
static int tail_width(unsigned long pages)
{
	char tail[64];

	return snprintf(tail, sizeof(tail), "] %lu/%lu", pages, pages);
}

unsigned long residency_scale(unsigned long pages, int width)
{
	int cols = width - tail_width(pages) - 1;
	unsigned long chars = cols < 1 ? 1 : (unsigned long)cols;

	return (pages + chars - 1) / chars;
}

void residency_bar(const unsigned char *vec, unsigned long pages, unsigned long resident,
		   int width, char *out, size_t size)
{
	char tail[64];
	int n = snprintf(tail, sizeof(tail), "] %lu/%lu", resident, pages);
	unsigned long scale = residency_scale(pages, width);
	unsigned long chars = (pages + scale - 1) / scale;
	size_t o = 0;

	if (size < chars + (size_t)n + 2)
		chars = size > (size_t)n + 2 ? size - (size_t)n - 2 : 0;
	out[o++] = '[';
	for (unsigned long c = 0; c < chars; c++) {
		unsigned long first = c * scale, last = first + scale < pages ? first + scale : pages;
		unsigned long in = 0;
		for (unsigned long p = first; p < last; p++)
			in += vec[p] & 1;
		out[o++] = in == 0 ? ' ' : in == last - first ? 'O' : 'o';
	}
	memcpy(out + o, tail, (size_t)n + 1);
}
