/*
 * pattern.c - access patterns: which page is touched when.
 *
 * A pattern is a list of phases run one after the other, each a walk over
 * the mapping (seq, reverse, random, stride:N) that reads or writes.  Every
 * walk touches each of its pages once; random is a permutation from a seed,
 * so a run can be repeated.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static int parse_phase(const char *s, size_t len, bool write, struct phase *ph)
{
	char buf[64], *end;

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *w = buf;
	ph->write = write;
	if (!strncmp(w, "read:", 5))
		ph->write = false, w += 5;
	else if (!strncmp(w, "write:", 6))
		ph->write = true, w += 6;
	ph->stride = 1;
	if (!strcmp(w, "seq"))
		ph->walk = WALK_SEQ;
	else if (!strcmp(w, "reverse"))
		ph->walk = WALK_REVERSE;
	else if (!strcmp(w, "random"))
		ph->walk = WALK_RANDOM;
	else if (!strncmp(w, "stride:", 7) && w[7] >= '1' && w[7] <= '9') {
		ph->walk = WALK_STRIDE;
		ph->stride = strtoul(w + 7, &end, 10);
		if (*end || !ph->stride)
			return -1;
	} else
		return -1;
	return 0;
}

int pattern_parse(const char *spec, bool write, struct pattern *out)
{
	const char *s = spec;

	out->nphases = 0;
	for (;;) {
		size_t len = strcspn(s, ",");
		if (out->nphases == MAX_PHASES)
			return usage_error("--pattern: at most %d phases", MAX_PHASES), -1;
		if (parse_phase(s, len, write, &out->phase[out->nphases]))
			return usage_error("--pattern: '%.*s' is not [read:|write:]seq, reverse, random "
					   "or stride:N", (int)len, s), -1;
		out->nphases++;
		if (!s[len])
			return 0;
		s += len + 1;
	}
}

/* xorshift64*: small, and the same sequence everywhere for a seed. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

unsigned long phase_order(const struct phase *ph, unsigned long pages, uint64_t seed,
			  unsigned long *order)
{
	unsigned long n = 0;
	uint64_t state = seed ? seed : 0x9E3779B97F4A7C15ULL;

	switch (ph->walk) {
	case WALK_SEQ:
	case WALK_RANDOM:
		for (n = 0; n < pages; n++)
			order[n] = n;
		if (ph->walk == WALK_RANDOM)
			for (unsigned long i = pages; i > 1; i--) {	/* Fisher-Yates */
				unsigned long j = (unsigned long)(next_random(&state) % i), tmp = order[i - 1];
				order[i - 1] = order[j];
				order[j] = tmp;
			}
		break;
	case WALK_REVERSE:
		for (n = 0; n < pages; n++)
			order[n] = pages - 1 - n;
		break;
	case WALK_STRIDE:
		for (unsigned long p = 0; p < pages; p += ph->stride)
			order[n++] = p;
		break;
	}
	return n;
}

void phase_describe(const struct phase *ph, char *buf, size_t size)
{
	const char *verb = ph->write ? "write" : "read";
	char spec[64];

	phase_spec(ph, spec, sizeof(spec));
	switch (ph->walk) {
	case WALK_SEQ:
		snprintf(buf, size, "%s every page in order (%s)", verb, spec);
		break;
	case WALK_REVERSE:
		snprintf(buf, size, "%s every page, last to first (%s)", verb, spec);
		break;
	case WALK_RANDOM:
		snprintf(buf, size, "%s every page in random order (%s)", verb, spec);
		break;
	case WALK_STRIDE:
		if (ph->stride == 1)
			snprintf(buf, size, "%s every page in order (%s)", verb, spec);
		else
			snprintf(buf, size, "%s every %lu%s page (%s)", verb, ph->stride,
				 ph->stride % 10 == 1 && ph->stride % 100 != 11 ? "st" :
				 ph->stride % 10 == 2 && ph->stride % 100 != 12 ? "nd" :
				 ph->stride % 10 == 3 && ph->stride % 100 != 13 ? "rd" : "th", spec);
		break;
	}
}

void phase_spec(const struct phase *ph, char *buf, size_t size)
{
	static const char *const walks[] = {
		[WALK_SEQ] = "seq", [WALK_REVERSE] = "reverse", [WALK_RANDOM] = "random",
		[WALK_STRIDE] = "stride",
	};

	if (ph->walk == WALK_STRIDE)
		snprintf(buf, size, "%s%s:%lu", ph->write ? "write:" : "", walks[ph->walk], ph->stride);
	else
		snprintf(buf, size, "%s%s", ph->write ? "write:" : "", walks[ph->walk]);
}
