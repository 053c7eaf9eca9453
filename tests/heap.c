/*
 * heap.c - the address space above the break is unmapped, as on Linux.
 *
 * vmemu keeps a range of its own for the emulated heap (a PROT_NONE host
 * reservation above the break, so that nothing else is placed where the
 * heap will grow).  To the program that range must be what it is on Linux:
 * unmapped address space.  Calls on it fail with ENOMEM, loads there are
 * SIGSEGV with SEGV_MAPERR, munmap of it changes nothing, and mappings put
 * there with MAP_FIXED stop the heap until they are unmapped.
 *
 * Differential: each scenario runs in a child over the host's brk, sbrk
 * and mmap family, and in another over vmemu's (worlds.h).  Addresses are
 * compared relative to the break.  The host child allocates nothing once it
 * has moved its break, so that malloc never moves it too.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <vmemu.h>

#include "testutil.h"
#include "worlds.h"

#define RW (PROT_READ | PROT_WRITE)

static char *top;	/* the break, page-aligned, after a page of heap */

/* A page of heap, with the break left page-aligned at its end. */
static void heap_page(const struct world *w)
{
	char *b = w->sbrk(0);
	if (b == (void *)-1)
		_exit(2);
	if ((uintptr_t)b % PG && w->sbrk((intptr_t)(PG - (uintptr_t)b % PG)) == (void *)-1)
		_exit(3);
	b = w->sbrk(PG);
	if (b == (void *)-1)
		_exit(4);
	b[0] = 1;
	top = b + PG;
	if (w->sbrk(0) != top || w_install(w, SIGSEGV) || w_install(w, SIGBUS))
		_exit(5);
}

static long ret_errno(long r)
{
	return r < 0 ? -errno : r;
}

/* The signal's si_addr relative to the break. */
static long rel(unsigned long addr)
{
	return (long)(addr - (unsigned long)top);
}

static void scenario_calls_above_the_break(const struct world *w, struct outcome *out)
{
	unsigned char vec[2];

	no_core();
	heap_page(w);
	out->v[0] = ret_errno(w->mprotect(top, PG, PROT_READ));
	out->v[1] = ret_errno(w->msync(top, PG, MS_SYNC));
	out->v[2] = ret_errno(w->mincore(top, 2 * PG, vec));
	out->v[3] = ret_errno(w->madvise(top, PG, MADV_DONTNEED));
	out->v[4] = ret_errno(w->mprotect(top - PG, 2 * PG, RW));	/* heap, then the hole */
	void *m = w->mremap(top + 2 * PG, PG, 2 * PG, MREMAP_MAYMOVE);
	out->v[5] = m == MAP_FAILED ? -errno : 0;
	out->v[6] = w_touch(top + 8, false, 0);		/* SIGSEGV, SEGV_MAPERR */
	out->v[7] = out->code;
	out->v[8] = rel(out->addr);
	out->v[9] = w_touch(top - 1, true, 9);		/* the heap's last byte: fine */
	out->v[10] = ret_errno(w->munmap(top, PG));		/* nothing there: 0 */
	out->v[11] = w->sbrk(PG) == top;			/* grows over it */
	out->v[12] = w_touch(top + 5, true, 5);		/* and works */
	out->v[13] = top[5] + top[6];
	out->v[14] = ret_errno(w->munmap(top + 64 * PG, 8 * PG));	/* further up: 0 */
	out->v[15] = w->sbrk(80 * PG) == top + PG && w_touch(top + 70 * PG, true, 1) == 0;
	out->addr = (unsigned long)rel(out->addr);
}

Test(heap, the_range_above_the_break_is_unmapped, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_calls_above_the_break);
	struct outcome *v = w_run(&vme_world, scenario_calls_above_the_break);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.v[0], -ENOMEM);
	cr_assert_eq(h.v[1], -ENOMEM);
	cr_assert_eq(h.v[2], -ENOMEM);
	cr_assert_eq(h.v[3], -ENOMEM);
	cr_assert_eq(h.v[4], -ENOMEM);
	cr_assert_eq(h.v[5], -EFAULT);
	cr_assert_eq(h.v[6], SIGSEGV);
	cr_assert_eq(h.v[7], SEGV_MAPERR);
	cr_assert_eq(h.v[8], 8);
	cr_assert_eq(h.v[9], 0);
	cr_assert_eq(h.v[10], 0);
	cr_assert_eq(h.v[11], 1);
	cr_assert_eq(h.v[12], 0);
	cr_assert_eq(h.v[13], 5);
	cr_assert_eq(h.v[15], 1);
	w_compare(&h, v, "calls and accesses above the break");
}

/* A mapping put above the break with MAP_FIXED_NOREPLACE (emulated) or
 * MAP_FIXED (a /dev/zero mapping, the host's) stops the heap's growth, with
 * a guard page; once it is unmapped the heap grows over its place. */
static void scenario_mapping_in_the_way(const struct world *w, struct outcome *out, bool dev_zero)
{
	int zero = open("/dev/zero", O_RDWR);

	no_core();
	heap_page(w);
	char *m = dev_zero ? w->mmap(top + 4 * PG, PG, RW, MAP_PRIVATE | MAP_FIXED, zero, 0)
			   : w->mmap(top + 4 * PG, PG, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	out->v[0] = m == MAP_FAILED ? -errno : m - top;
	out->v[1] = w_touch(m + 3, true, 3);
	out->v[2] = w->sbrk(3 * PG) == top;			/* up to the guard page */
	out->v[3] = w->sbrk(PG) == (void *)-1 ? errno : 0;	/* into it: ENOMEM */
	out->v[4] = (char *)w->sbrk(0) - top;
	out->v[5] = ret_errno(w->mprotect(top + 5 * PG, PG, PROT_READ));	/* above it: a hole */
	out->v[6] = ret_errno(w->munmap(m, PG));
	out->v[7] = w_touch(m + 3, false, 0);			/* gone */
	out->v[8] = rel(out->addr);
	out->v[9] = w->sbrk(8 * PG) == top + 3 * PG;	/* now the heap grows through */
	out->v[10] = w_touch(m + 3, true, 4);
	out->v[11] = m[3] + m[2];
	out->v[12] = (char *)w->sbrk(0) - top;
	out->v[13] = w_touch(top + 11 * PG, false, 0);		/* above the new break */
	out->v[14] = rel(out->addr);
	out->addr = (unsigned long)rel(out->addr);
}

static void scenario_anon_in_the_way(const struct world *w, struct outcome *out)
{
	scenario_mapping_in_the_way(w, out, false);
}

static void scenario_dev_zero_in_the_way(const struct world *w, struct outcome *out)
{
	scenario_mapping_in_the_way(w, out, true);
}

static void check_mapping_in_the_way(const struct outcome *h, const struct outcome *v, const char *what)
{
	cr_assert_eq(h->status, 0, "host: %s", w_status(h->status));
	cr_assert_eq(h->v[0], 4 * PG);
	cr_assert_eq(h->v[1], 0);
	cr_assert_eq(h->v[2], 1);
	cr_assert_eq(h->v[3], ENOMEM);
	cr_assert_eq(h->v[4], 3 * PG);
	cr_assert_eq(h->v[5], -ENOMEM);
	cr_assert_eq(h->v[6], 0);
	cr_assert_eq(h->v[7], SIGSEGV);
	cr_assert_eq(h->v[8], 4 * PG + 3);
	cr_assert_eq(h->v[9], 1);
	cr_assert_eq(h->v[10], 0);
	cr_assert_eq(h->v[11], 4);
	cr_assert_eq(h->v[12], 11 * PG);
	cr_assert_eq(h->v[13], SIGSEGV);
	cr_assert_eq(h->code, SEGV_MAPERR);
	w_compare(h, v, what);
}

Test(heap, an_emulated_mapping_in_the_way_stops_the_heap_until_unmapped, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_anon_in_the_way);
	struct outcome *v = w_run(&vme_world, scenario_anon_in_the_way);

	check_mapping_in_the_way(&h, v, "an anonymous mapping above the break");
}

Test(heap, a_host_mapping_in_the_way_stops_the_heap_until_unmapped, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_dev_zero_in_the_way);
	struct outcome *v = w_run(&vme_world, scenario_dev_zero_in_the_way);

	check_mapping_in_the_way(&h, v, "a /dev/zero mapping above the break");
}

/* Shrinking the heap gives its pages back: above the new break is a hole
 * again, and the pages come back zero-filled. */
static void scenario_shrink(const struct world *w, struct outcome *out)
{
	no_core();
	heap_page(w);
	out->v[0] = w->sbrk(4 * PG) == top;
	memset(top, 7, 4 * PG);
	out->v[1] = w->sbrk(-3 * (intptr_t)PG) == top + 4 * PG;
	out->v[2] = ret_errno(w->mprotect(top + PG, PG, PROT_READ));
	out->v[3] = w_touch(top + 2 * PG, false, 0);
	out->v[4] = rel(out->addr);
	out->v[5] = out->code;
	out->v[6] = w->sbrk(3 * PG) == top + PG;
	out->v[7] = top[0] + top[2 * PG];	/* kept, and zero-filled */
	out->addr = (unsigned long)rel(out->addr);
}

Test(heap, above_a_shrunk_break_is_a_hole_again, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_shrink);
	struct outcome *v = w_run(&vme_world, scenario_shrink);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.v[2], -ENOMEM);
	cr_assert_eq(h.v[3], SIGSEGV);
	cr_assert_eq(h.v[4], 2 * PG);
	cr_assert_eq(h.v[5], SEGV_MAPERR);
	cr_assert_eq(h.v[7], 7);
	w_compare(&h, v, "a shrunk heap");
}

/* A mapping above the break moved away with mremap leaves unmapped address
 * space behind: the heap grows over it.  mremap of an address there with
 * nothing mapped is EFAULT. */
static void scenario_moved_away(const struct world *w, struct outcome *out)
{
	no_core();
	heap_page(w);
	char *m = w->mmap(top + 4 * PG, 2 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	char *elsewhere = w->mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	out->v[0] = m == MAP_FAILED ? -errno : m - top;
	m[PG] = 6;
	char *n = w->mremap(m, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, elsewhere);
	out->v[1] = n == elsewhere;
	out->v[2] = n[PG];
	out->v[3] = w->sbrk(0) == top && w->sbrk(8 * PG) == top;	/* through where it was */
	out->v[4] = w_touch(top + 5 * PG, true, 2);
	out->v[5] = top[5 * PG] + top[4 * PG];
	void *r = w->mremap(top + 12 * PG, PG, PG, 0);	/* same size: still EFAULT */
	out->v[6] = r == MAP_FAILED ? -errno : 0;
	r = w->mremap(top + 12 * PG + 1, PG, PG, 0);		/* unaligned: EINVAL first */
	out->v[9] = r == MAP_FAILED ? -errno : 0;
	r = w->mremap(top + 12 * PG, PG, 0, MREMAP_MAYMOVE);	/* no length: EINVAL first */
	out->v[10] = r == MAP_FAILED ? -errno : 0;
	out->v[7] = w_touch(top + 9 * PG, false, 0);	/* above the new break */
	out->v[8] = rel(out->addr);
	out->addr = (unsigned long)rel(out->addr);
}

Test(heap, a_mapping_moved_away_from_above_the_break_leaves_room, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_moved_away);
	struct outcome *v = w_run(&vme_world, scenario_moved_away);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.v[0], 4 * PG);
	cr_assert_eq(h.v[1], 1);
	cr_assert_eq(h.v[2], 6);
	cr_assert_eq(h.v[3], 1);
	cr_assert_eq(h.v[4], 0);
	cr_assert_eq(h.v[5], 2);
	cr_assert_eq(h.v[6], -EFAULT);
	cr_assert_eq(h.v[7], SIGSEGV);
	cr_assert_eq(h.v[9], -EINVAL);
	cr_assert_eq(h.v[10], -EINVAL);
	cr_assert_eq(h.code, SEGV_MAPERR);
	w_compare(&h, v, "a mapping moved away from above the break");
}

/* --- RLIMIT_DATA ------------------------------------------------------------ */


/* Fields of /proc/self/stat: n counts from 1, as proc(5) does. */
static unsigned long stat_field(int n)
{
	char buf[1024];
	int fd = open("/proc/self/stat", O_RDONLY);
	ssize_t len = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (len <= 0)
		_exit(6);
	buf[len] = '\0';
	char *p = strrchr(buf, ')');
	for (int i = 2; p && i < n; i++)
		p = strchr(p + 1, ' ');
	return p ? strtoul(p + 1, NULL, 10) : 0;
}

/* What the kernel counts against RLIMIT_DATA for brk (check_data_rlimit):
 * the heap from its start to the break, plus the data segment. */
static unsigned long heap_start;

static unsigned long data_counted(const struct world *w)
{
	unsigned long data = stat_field(46) - stat_field(45);
	return (unsigned long)((char *)w->sbrk(0) - (char *)heap_start) + data;
}

static void set_data_limit(unsigned long bytes)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_DATA, &r))
		_exit(7);
	r.rlim_cur = bytes;
	if (setrlimit(RLIMIT_DATA, &r))
		_exit(8);
}

static void heap_with_start(const struct world *w)
{
	heap_start = w == &host_world ? stat_field(47) : (unsigned long)w->sbrk(0);
	heap_page(w);
}

/* A limit just above what is counted: the break cannot go far beyond it. */
static void scenario_rlimit_grow(const struct world *w, struct outcome *out)
{
	no_core();
	heap_with_start(w);
	set_data_limit(data_counted(w) + (1 << 20));
	out->v[0] = w->sbrk(64 << 20) == (void *)-1 ? errno : 0;
	out->v[1] = (char *)w->sbrk(0) - top;
	out->v[2] = w->brk(top + (2 << 20)) < 0 ? errno : 0;
	out->v[3] = (char *)w->sbrk(0) - top;
	out->v[4] = w_touch(top - 1, true, 1);
	set_data_limit(RLIM_INFINITY);
	out->v[5] = w->sbrk(PG) == top;		/* no limit: fine again */
}

Test(heap, rlimit_data_stops_the_break, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_rlimit_grow);
	struct outcome *v = w_run(&vme_world, scenario_rlimit_grow);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.v[0], ENOMEM);
	cr_assert_eq(h.v[1], 0);
	cr_assert_eq(h.v[2], ENOMEM);
	cr_assert_eq(h.v[5], 1);
	w_compare(&h, v, "brk beyond RLIMIT_DATA");
}

/* Linux checks the limit before it looks at the direction: with the heap
 * above a lowered limit, even a shrink that stays above it is refused (the
 * break does not move; glibc's sbrk still returns the old break), down to
 * the limit it is allowed, and a byte beyond is refused. */
static void scenario_rlimit_shrink(const struct world *w, struct outcome *out)
{
	no_core();
	heap_with_start(w);
	if (w->sbrk(8 * PG) != top)
		_exit(9);
	set_data_limit(data_counted(w) - 4 * PG);
	out->v[0] = (char *)w->sbrk(-(intptr_t)PG) - top;	/* refused */
	out->v[1] = (char *)w->sbrk(0) - top;
	out->v[2] = w->brk(top + 4 * PG);			/* exactly at the limit */
	out->v[3] = (char *)w->sbrk(0) - top;
	errno = 0;
	out->v[4] = w->brk(top + 4 * PG + 1) < 0 ? errno : 0;	/* a byte beyond */
	out->v[5] = (char *)w->sbrk(0) - top;
	out->v[6] = w->brk(top + 2 * PG);
	out->v[7] = (char *)w->sbrk(0) - top;
	/* vmemu's own memory counts against the limit on the host, so a
	 * first touch under this limit would fail there (docs/limitations.md). */
	set_data_limit(RLIM_INFINITY);
	out->v[8] = w_touch(top + PG, true, 1);
	out->v[9] = w_touch(top + 3 * PG, false, 0);		/* released: SIGSEGV */
	out->v[10] = out->code;
	out->v[11] = rel(out->addr);
	out->addr = (unsigned long)rel(out->addr);
}

Test(heap, rlimit_data_is_checked_before_a_shrink_too, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_rlimit_shrink);
	struct outcome *v = w_run(&vme_world, scenario_rlimit_shrink);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.v[0], 8 * PG);
	cr_assert_eq(h.v[1], 8 * PG);
	cr_assert_eq(h.v[2], 0);
	cr_assert_eq(h.v[3], 4 * PG);
	cr_assert_eq(h.v[4], ENOMEM);
	cr_assert_eq(h.v[5], 4 * PG);
	cr_assert_eq(h.v[7], 2 * PG);
	cr_assert_eq(h.v[8], 0);
	cr_assert_eq(h.v[9], SIGSEGV);
	cr_assert_eq(h.v[10], SEGV_MAPERR);
	w_compare(&h, v, "RLIMIT_DATA below the heap");
}

/* The exact limit on growth, where the host's own limit on its mappings
 * (may_expand_vm, which vmemu does not emulate) does not interfere: the
 * break may reach start + limit - data segment, and not a byte more. */
Test(heap, rlimit_data_allows_the_break_up_to_the_limit_exactly, .timeout = 30)
{
	struct outcome out = { 0 };
	char *start = vme_sbrk(0);
	struct rlimit old;

	w_out = &out;
	heap_start = (unsigned long)start;
	unsigned long data = stat_field(46) - stat_field(45);
	unsigned long limit = data + (1UL << 30) + 123;	/* not page-aligned, as the kernel allows */
	char *most = start + (limit - data);

	cr_assert_eq(getrlimit(RLIMIT_DATA, &old), 0);
	/* The host counts vmemu's own memory against the limit too, so nothing
	 * is touched while it is this low (docs/limitations.md). */
	set_data_limit(limit);
	int at_limit = vme_brk(most);
	void *brk_then = vme_sbrk(0);
	errno = 0;
	int beyond = vme_brk(most + 1);
	int beyond_errno = errno;
	void *sbrk_beyond = vme_sbrk(1);
	void *brk_after = vme_sbrk(0);
	cr_assert_eq(setrlimit(RLIMIT_DATA, &old), 0);

	cr_assert_eq(at_limit, 0);
	cr_assert_eq(brk_then, most);
	cr_assert_eq(beyond, -1);
	cr_assert_eq(beyond_errno, ENOMEM);
	cr_assert_eq(sbrk_beyond, (void *)-1);
	cr_assert_eq(brk_after, most);
	start[5] = 5;
	most[-1] = 6;
	cr_assert_eq(start[5] + most[-1], 11);
	cr_assert_eq(vme_brk(start + PG), 0);
}
