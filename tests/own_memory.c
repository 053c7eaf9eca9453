/*
 * own_memory.c - vmemu's own memory is out of the program's reach.
 *
 * vmemu keeps its page tables, frame table, the domain's views and its
 * other bookkeeping in the program's address space, where the host placed
 * them.  To the program those addresses are unmapped, as on Linux, where
 * the kernel's memory is not in the user's address space at all: munmap
 * there changes nothing and succeeds, mprotect, madvise, msync and mincore
 * fail with ENOMEM, mremap of them with EFAULT; a new mapping cannot be put
 * there (MAP_FIXED: ENOMEM, MREMAP_FIXED: EINVAL, as for addresses past the
 * top of the user address space).  Whatever the program does to them,
 * vmemu keeps working.
 *
 * vmemu's ranges are found as a program could: the mappings
 * /proc/self/maps shows after vme_init that were not there before.
 * Differential where Linux can answer: the host world's "own memory" is a
 * hole it made itself.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdint.h>
#include <vmemu.h>

#include "testutil.h"
#include "worlds.h"

#define RW (PROT_READ | PROT_WRITE)
#define MAXR 65536

struct range {
	unsigned long start, end;
};

static struct range maps_before[MAXR], maps_now[MAXR], own[64];
static int nbefore, nnow, nown;
static char maps_buf[8 << 20];

/* The ranges of /proc/self/maps into r (at most max): their number. */
static int read_maps(struct range *r, int max)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), n = 0;
	size_t len = 0;
	ssize_t k;

	if (fd < 0)
		_exit(20);
	while ((k = read(fd, maps_buf + len, sizeof(maps_buf) - 1 - len)) > 0)
		len += (size_t)k;
	close(fd);
	maps_buf[len] = 0;
	for (char *l = maps_buf; *l && n < max; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l))
		if (sscanf(l, "%lx-%lx", &r[n].start, &r[n].end) == 2)
			n++;
	return n;
}

static bool overlaps(const struct range *r, int n, unsigned long start, unsigned long end)
{
	for (int i = 0; i < n; i++)
		if (r[i].start < end && start < r[i].end)
			return true;
	return false;
}

/* In the vmemu world: start vmemu, and find what it mapped for itself.
 * In the host world: make a hole of four pages, the "own memory". */
static void find_own(const struct world *w)
{
	nown = 0;
	if (w == &host_world) {
		char *h = mmap(NULL, 4 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (h == MAP_FAILED || munmap(h, 4 * PG))
			_exit(21);
		own[nown++] = (struct range){ (unsigned long)h, (unsigned long)h + 4 * PG };
		return;
	}
	nbefore = read_maps(maps_before, MAXR);
	if (vme_init(NULL))
		_exit(22);
	nnow = read_maps(maps_now, MAXR);
	for (int i = 0; i < nnow && nown < 64; i++)
		if (!overlaps(maps_before, nbefore, maps_now[i].start, maps_now[i].end))
			own[nown++] = maps_now[i];
	if (nown < 3)
		_exit(23);	/* page tables, frame table, the domain at least */
}

/* The same result for every range: the result, or 999 if they differ. */
static void same(long *slot, int i, long r)
{
	if (i == 0)
		*slot = r;
	else if (*slot != r)
		*slot = 999;
}

/* Emulated memory of every kind still works. */
static void exercise(const struct world *w, struct outcome *out, int first)
{
	char path[] = "/tmp/vmemu-own-XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0 || ftruncate(fd, 2 * PG))
		_exit(24);
	unlink(path);
	volatile char *f = w->mmap(NULL, 2 * PG, RW, MAP_SHARED, fd, 0);
	volatile char *s = w->mmap(NULL, 4 * PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	volatile char *a = w->mmap(NULL, 64 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (f == MAP_FAILED || s == MAP_FAILED || a == MAP_FAILED)
		_exit(25);
	f[0] = 'a';
	f[PG + 1] = 'b';
	s[3 * PG] = 7;
	for (int i = 0; i < 64; i++)
		a[i * PG] = (char)i;
	out->v[first] = w->msync((void *)f, 2 * PG, MS_SYNC);
	char b = 0;
	out->v[first + 1] = pread(fd, &b, 1, PG + 1) == 1 ? b : -1;
	long sum = 0;
	for (int i = 0; i < 64; i++)
		sum += a[i * PG];
	out->v[first + 2] = sum + s[3 * PG] + f[0];
	out->v[first + 3] = w->munmap((void *)f, 2 * PG) | w->munmap((void *)s, 4 * PG) |
			    w->munmap((void *)a, 64 * PG);
}

/* Every call the program can make on vmemu's own memory, the way it would
 * on a hole; munmap last.  Then emulated memory must work as before. */
static void scenario_calls_on_own_memory(const struct world *w, struct outcome *out)
{
	unsigned char vec[1];

	no_core();
	find_own(w);
	for (int i = 0; i < nown; i++) {
		void *p = (void *)own[i].start;
		size_t len = own[i].end - own[i].start;
		same(&out->v[0], i, w_ret(w->mprotect(p, len, PROT_NONE)));
		same(&out->v[1], i, w_ret(w->madvise(p, len, MADV_DONTNEED)));
		same(&out->v[2], i, w_ret(w->msync(p, len, MS_SYNC)));
		same(&out->v[3], i, w_ret(w->mincore(p, PG, vec)));
		void *m = w->mremap(p, PG, 2 * PG, MREMAP_MAYMOVE);
		same(&out->v[4], i, m == MAP_FAILED ? -errno : 0);
		same(&out->v[5], i, w_ret(w->madvise(p, len, MADV_REMOVE)));
		same(&out->v[6], i, w_ret(w->munmap(p, len)));
	}
	exercise(w, out, 8);
}

Test(own_memory, calls_on_vmemu_memory_find_a_hole, .timeout = 60)
{
	struct outcome h = *w_run(&host_world, scenario_calls_on_own_memory);
	struct outcome *v = w_run(&vme_world, scenario_calls_on_own_memory);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.v[0], -ENOMEM);
	cr_assert_eq(h.v[4], -EFAULT);
	cr_assert_eq(h.v[6], 0);
	cr_assert_eq(h.v[9], 'b');
	w_compare(&h, v, "calls on vmemu's own memory (a hole to the program)");
}

/* The reproducer of issue 13, case 7: a hole left by a partial munmap,
 * another mapping, then munmap of the first mapping's whole range. */
static void scenario_hole_reproducer(const struct world *w, struct outcome *out)
{
	no_core();
	if (w_install(w, SIGSEGV))
		_exit(2);
	char *a = w->mmap(NULL, 4 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		_exit(3);
	a[0] = 1;
	a[3 * PG] = 2;
	out->v[0] = w->munmap(a + PG, 2 * PG);
	volatile char *b = w->mmap(NULL, 4 * PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		_exit(4);
	b[0] = 3;
	b[3 * PG] = 4;
	out->v[1] = w->munmap(a, 4 * PG);
	out->v[2] = b[0] + b[3 * PG];
	out->v[3] = w->munmap((void *)b, 4 * PG);
	out->v[4] = w_touch(b, false, 0);
	out->v[5] = out->code;
	out->v[6] = out->addr == (unsigned long)b;
	exercise(w, out, 8);
	out->addr = 0;
}

Test(own_memory, munmap_of_a_range_with_a_hole_spares_vmemu, .timeout = 60)
{
	struct outcome h = *w_run(&host_world, scenario_hole_reproducer);
	struct outcome *v = w_run(&vme_world, scenario_hole_reproducer);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.v[4], SIGSEGV);
	cr_assert_eq(h.v[5], SEGV_MAPERR);
	w_compare(&h, v, "munmap over a hole");
}

/* No new mapping may take vmemu's addresses: MAP_FIXED (emulated or the
 * host's) fails with ENOMEM, MREMAP_FIXED with EINVAL, and vmemu's memory
 * is untouched.  (Linux would map there: for it the range is a hole.) */
static void scenario_fixed_onto_own_memory(const struct world *w, struct outcome *out)
{
	int zero = open("/dev/zero", O_RDWR);

	no_core();
	find_own(w);
	for (int i = 0; i < nown; i++) {
		void *p = (void *)own[i].start;
		void *m = w->mmap(p, PG, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		same(&out->v[0], i, m == MAP_FAILED ? -errno : 0);
		m = w->mmap(p, PG, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		same(&out->v[1], i, m == MAP_FAILED ? -errno : 0);
		m = w->mmap(p, PG, PROT_READ, MAP_PRIVATE | MAP_FIXED, zero, 0);
		same(&out->v[2], i, m == MAP_FAILED ? -errno : 0);
		char *e = w->mmap(NULL, PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		m = w->mremap(e, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, p);
		same(&out->v[3], i, m == MAP_FAILED ? -errno : 0);
		char *z = w->mmap(NULL, PG, PROT_READ, MAP_PRIVATE, zero, 0);
		m = w->mremap(z, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, p);
		same(&out->v[4], i, m == MAP_FAILED ? -errno : 0);
		w->munmap(e, PG);
		w->munmap(z, PG);
	}
	exercise(w, out, 8);
}

Test(own_memory, no_mapping_can_be_put_on_vmemu_memory, .timeout = 60)
{
	struct outcome *v = w_run(&vme_world, scenario_fixed_onto_own_memory);

	cr_assert_eq(v->status, 0, "vmemu: %s", w_status(v->status));
	cr_assert_eq(v->v[0], -ENOMEM, "MAP_FIXED: %ld", v->v[0]);
	cr_assert_eq(v->v[1], -ENOMEM, "MAP_FIXED_NOREPLACE: %ld", v->v[1]);
	cr_assert_eq(v->v[2], -ENOMEM, "MAP_FIXED of /dev/zero: %ld", v->v[2]);
	cr_assert_eq(v->v[3], -EINVAL, "MREMAP_FIXED: %ld", v->v[3]);
	cr_assert_eq(v->v[4], -EINVAL, "MREMAP_FIXED of a host mapping: %ld", v->v[4]);
	cr_assert_eq(v->v[8], 0);
	cr_assert_eq(v->v[9], 'b');
	cr_assert_eq(v->v[10], 64 * 63 / 2 + 7 + 'a');
}

static int by_start(const void *x, const void *y)
{
	const struct range *a = x, *b = y;
	return a->start < b->start ? -1 : a->start > b->start;
}

static int in_range(const void *key, const void *elem)
{
	unsigned long a = *(const unsigned long *)key;
	const struct range *r = elem;
	return a < r->start ? -1 : a >= r->end;
}

/* vmemu maps nothing for itself once it has started, even as its tables
 * grow: 20,000 VMAs later, every new host mapping is the program's.  (A
 * mapping vmemu made then could land in a hole the program left, and the
 * program's next munmap there would take it.) */
static void scenario_nothing_mapped_later(const struct world *w, struct outcome *out)
{
	enum { N = 20000 };
	static struct range mine[N];

	no_core();
	find_own(w);
	nbefore = read_maps(maps_before, MAXR);
	for (int i = 0; i < N; i++) {
		char *m = w->mmap(NULL, PG, i % 2 ? PROT_READ : RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			_exit(30);
		mine[i] = (struct range){ (unsigned long)m, (unsigned long)m + PG };
	}
	nnow = read_maps(maps_now, MAXR);
	qsort(mine, N, sizeof(*mine), by_start);	/* after: its buffer is the C library's */
	for (int i = 0; i < nnow; i++) {
		const struct range *r = &maps_now[i];
		if (overlaps(maps_before, nbefore, r->start, r->end))
			continue;	/* was there (the heap may have grown) */
		for (unsigned long a = r->start; a < r->end; a += PG)
			if (!bsearch(&a, mine, N, sizeof(*mine), in_range)) {
				out->v[0] = (long)(r->end - r->start);
				return;
			}
	}
	out->v[1] = w_stats().nr_vmas >= N;
}

Test(own_memory, vmemu_maps_nothing_for_itself_after_init, .timeout = 120)
{
	struct outcome *v = w_run(&vme_world, scenario_nothing_mapped_later);

	cr_assert_eq(v->status, 0, "vmemu: %s", w_status(v->status));
	cr_assert_eq(v->v[0], 0, "vmemu mapped %ld bytes for itself after vme_init", v->v[0]);
	cr_assert_eq(v->v[1], 1);
}
