/*
 * timer.c - the per-access clock.
 *
 * On x86 with an invariant TSC (constant_tsc and nonstop_tsc in
 * /proc/cpuinfo) each access is stamped with lfence; rdtsc; lfence, and the
 * tick rate is calibrated against CLOCK_MONOTONIC at start-up.  Elsewhere
 * the stamps are clock_gettime(CLOCK_MONOTONIC) in nanoseconds.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

bool timer_tsc;
static double ns_per_tick = 1.0;
static double overhead_ns;

static bool cpu_has_invariant_tsc(void)
{
#if defined(__x86_64__) || defined(__i386__)
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	bool constant = false, nonstop = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		constant = strstr(line, " constant_tsc") != NULL;
		nonstop = strstr(line, " nonstop_tsc") != NULL;
		break;
	}
	fclose(f);
	return constant && nonstop;
#else
	return false;
#endif
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Pick the clock, calibrate it over about 50 ms, and measure what an empty
 * timed access costs. */
void timer_calibrate(void)
{
	uint64_t t[1001];

	timer_tsc = cpu_has_invariant_tsc() && !getenv("VMEMU_BENCH_CLOCK_GETTIME");
	if (timer_tsc) {
		double best = 0;
		for (int round = 0; round < 5; round++) {
			uint64_t n0 = timer_clock_ns(), c0 = timer_now(), n1, c1;
			do
				n1 = timer_clock_ns();
			while (n1 - n0 < 10000000);
			c1 = timer_now();
			double r = (double)(n1 - n0) / (double)(c1 - c0);
			if (round == 0 || r < best)	/* the least disturbed round */
				best = r;
		}
		ns_per_tick = best;
	}
	for (int i = 0; i < 1001; i++) {
		uint64_t a = timer_now();
		uint64_t b = timer_now();
		t[i] = b - a;
	}
	qsort(t, 1001, sizeof(t[0]), cmp_u64);
	overhead_ns = timer_to_ns(t[500]);
}

double timer_to_ns(uint64_t ticks)
{
	return (double)ticks * ns_per_tick;
}

const char *timer_describe(void)
{
	static char buf[96];

	if (timer_tsc)
		snprintf(buf, sizeof(buf), "TSC at %.3f GHz (calibrated against CLOCK_MONOTONIC)",
			 1.0 / ns_per_tick);
	else
		snprintf(buf, sizeof(buf), "clock_gettime(CLOCK_MONOTONIC)");
	return buf;
}

double timer_overhead_ns(void)
{
	return overhead_ns;
}
