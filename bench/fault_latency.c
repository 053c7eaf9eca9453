/*
 * fault_latency.c - per-fault latency of vmemu next to the host kernel.
 *
 * Every access is timed on its own (clock_gettime around one load or
 * store), so a cell reports the distribution of single faults, not an
 * average.  Ratios are computed within this one run.
 *
 *   warm-file read fault: a warm file, pages touched in random order
 *   anonymous first touch: a store to each page of fresh anonymous memory
 *
 * Usage: vmemu-fault-latency [PAGES]   (default 16384 = 64 MiB)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <vmemu.h>

#define PG 4096UL

static inline unsigned long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;
	return x < y ? -1 : x > y;
}

struct result {
	double p50, p90, p99, bulk;
};

static struct result summarise(unsigned long long *ns, size_t n, unsigned long long total)
{
	qsort(ns, n, sizeof(*ns), cmp);
	return (struct result){ ns[n / 2], ns[n * 9 / 10], ns[n * 99 / 100], (double)total / (double)n };
}

/* Touch every page of p once, in order[], timing each access. */
static struct result run(volatile unsigned char *p, const size_t *order, size_t n, int write,
			 unsigned long long *ns)
{
	unsigned long long t0 = now_ns();
	unsigned sink = 0;

	for (size_t i = 0; i < n; i++) {
		volatile unsigned char *a = p + order[i] * PG;
		unsigned long long s = now_ns();
		if (write)
			*a = 1;
		else
			sink += *a;
		ns[i] = now_ns() - s;
	}
	(void)sink;
	return summarise(ns, n, now_ns() - t0);
}

static void print(const char *what, struct result r, double ref)
{
	printf("  %-34s %8.0f %8.0f %8.0f %10.0f", what, r.p50, r.p90, r.p99, r.bulk);
	if (ref > 0)
		printf("   %5.2fx", r.p50 / ref);
	printf("\n");
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 0) : 16384;
	size_t *order = malloc(n * sizeof(*order));
	unsigned long long *ns = malloc(n * sizeof(*ns));
	char path[] = "/tmp/vmemu-bench-XXXXXX";
	int fd = mkstemp(path);
	char *buf = malloc(PG);

	if (fd < 0 || !order || !ns || !buf)
		return perror("setup"), 1;
	unlink(path);
	for (size_t i = 0; i < n; i++) {
		memset(buf, (int)(i & 0xff), PG);
		if (write(fd, buf, PG) != (ssize_t)PG)
			return perror("write"), 1;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	srand(42);
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)rand() % (i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (off_t off = 0; off < (off_t)(n * PG); off += PG)	/* warm the host cache */
		if (pread(fd, buf, PG, off) != (ssize_t)PG)
			return perror("pread"), 1;

	printf("vmemu fault latency, %zu pages, ns per access (one run)\n", n);
	printf("  %-34s %8s %8s %8s %10s   %s\n", "", "p50", "p90", "p99", "bulk/page", "p50 vs kernel");

	unsigned char *k = mmap(NULL, n * PG, PROT_READ, MAP_SHARED, fd, 0);
	madvise(k, n * PG, MADV_RANDOM);
	struct result kr = run(k, order, n, 0, ns);
	munmap(k, n * PG);
	unsigned char *v = vme_mmap(NULL, n * PG, PROT_READ, MAP_SHARED, fd, 0);
	struct result vr = run(v, order, n, 0, ns);
	vme_munmap(v, n * PG);
	print("kernel: warm-file read fault", kr, 0);
	print("vmemu:  warm-file read fault", vr, kr.p50);

	k = mmap(NULL, n * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	kr = run(k, order, n, 1, ns);
	munmap(k, n * PG);
	v = vme_mmap(NULL, n * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	vr = run(v, order, n, 1, ns);
	vme_munmap(v, n * PG);
	print("kernel: anonymous first touch", kr, 0);
	print("vmemu:  anonymous first touch", vr, kr.p50);
	printf("  (MADV_RANDOM on the kernel's file mapping; Linux 6.18 still faults around)\n");
	return 0;
}
