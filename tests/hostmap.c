/*
 * hostmap.c - mappings vmemu leaves to the host (character devices such as
 * /dev/zero, huge pages, grow-down stacks) placed with MAP_FIXED or
 * MREMAP_FIXED over emulated memory replace it, as any MAP_FIXED mapping
 * replaces what was there.
 *
 * Differential: each scenario runs over the host's calls and over vmemu's,
 * each in a child (worlds.h); addresses are compared relative to the
 * scenario's first mapping.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <vmemu.h>

#include "testutil.h"
#include "worlds.h"

#define RW (PROT_READ | PROT_WRITE)

static volatile char *base;

/* The signal's si_addr relative to base. */
static void rel_addr(struct outcome *out)
{
	out->addr -= (unsigned long)base;
}

/* An anonymous RW mapping of four pages, written, then /dev/zero mapped
 * read-only with MAP_FIXED over its middle two.  After MADV_DONTNEED of the
 * whole range, the middle is still the read-only /dev/zero mapping: a store
 * there is SIGSEGV (SEGV_ACCERR), the ends are zero-filled anonymous memory. */
static void scenario_fixed_dev_zero(const struct world *w, struct outcome *out)
{
	int zero = open("/dev/zero", O_RDWR);

	no_core();
	base = w->mmap(NULL, 4 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED || w_install(w, SIGSEGV))
		_exit(2);
	for (int i = 0; i < 4; i++)
		base[i * PG] = (char)(i + 1);
	char *q = w->mmap((void *)(base + PG), 2 * PG, PROT_READ, MAP_PRIVATE | MAP_FIXED, zero, 0);
	out->v[0] = q == MAP_FAILED ? -errno : q - (char *)base;
	out->v[1] = base[PG] + base[2 * PG];		/* /dev/zero now: 0 */
	out->v[2] = base[0] + base[3 * PG];		/* the ends kept theirs: 1 + 4 */
	out->v[3] = w->madvise((void *)base, 4 * PG, MADV_DONTNEED);
	out->v[4] = base[0] + base[3 * PG];		/* zero-filled again */
	out->v[5] = w_touch(base + PG + 5, false, 0);	/* the read goes through */
	out->v[6] = w_touch(base + PG + 5, true, 7);	/* SIGSEGV */
	rel_addr(out);
	out->v[7] = out->code;
	out->v[8] = (long)out->addr;
	out->v[9] = w_touch(base + 3 * PG, true, 9);	/* the ends are still writable */
	out->v[10] = w->mprotect((void *)base, 4 * PG, RW);
	out->v[11] = w_touch(base + 2 * PG, true, 3);	/* now writable: a private copy of zeros */
	out->v[12] = base[2 * PG] + base[3 * PG];
	out->v[13] = w->munmap((void *)base, 4 * PG);
	out->v[14] = w_touch(base + PG, false, 0);	/* unmapped: SEGV_MAPERR */
	rel_addr(out);
}

Test(hostmap, map_fixed_dev_zero_replaces_emulated_memory, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_fixed_dev_zero);
	struct outcome *v = w_run(&vme_world, scenario_fixed_dev_zero);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.v[0], PG);
	cr_assert_eq(h.v[1], 0);
	cr_assert_eq(h.v[2], 5);
	cr_assert_eq(h.v[5], 0);
	cr_assert_eq(h.v[6], SIGSEGV);
	cr_assert_eq(h.v[7], SEGV_ACCERR);
	cr_assert_eq(h.v[8], PG + 5);
	cr_assert_eq(h.v[9], 0);
	cr_assert_eq(h.v[14], SIGSEGV);
	cr_assert_eq(h.code, SEGV_MAPERR);
	cr_assert_eq(h.addr, PG);
	w_compare(&h, v, "/dev/zero with MAP_FIXED over emulated memory");
}

/* A host mapping moved with MREMAP_FIXED over emulated memory replaces it. */
static void scenario_mremap_fixed_host(const struct world *w, struct outcome *out)
{
	int zero = open("/dev/zero", O_RDWR);

	no_core();
	base = w->mmap(NULL, 4 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *h = w->mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE, zero, 0);
	if (base == MAP_FAILED || h == MAP_FAILED || w_install(w, SIGSEGV))
		_exit(2);
	for (int i = 0; i < 4; i++)
		base[i * PG] = (char)(i + 1);
	char *q = w->mremap(h, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)(base + PG));
	out->v[0] = q == MAP_FAILED ? -errno : q - (char *)base;
	out->v[1] = base[PG] + base[2 * PG];
	out->v[2] = w->madvise((void *)base, 4 * PG, MADV_DONTNEED);
	out->v[3] = w_touch(base + 2 * PG + 1, true, 1);	/* SIGSEGV */
	rel_addr(out);
	out->v[4] = out->code;
	out->v[5] = (long)out->addr;
	out->v[6] = w_touch(base, true, 1);
	out->v[7] = w->munmap((void *)base, 4 * PG);
	out->v[8] = w_touch(base + 3 * PG, false, 0);
	rel_addr(out);
}

Test(hostmap, mremap_fixed_of_a_host_mapping_replaces_emulated_memory, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_mremap_fixed_host);
	struct outcome *v = w_run(&vme_world, scenario_mremap_fixed_host);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.v[0], PG);
	cr_assert_eq(h.v[3], SIGSEGV);
	cr_assert_eq(h.v[4], SEGV_ACCERR);
	cr_assert_eq(h.v[5], 2 * PG + 1);
	cr_assert_eq(h.v[6], 0);
	cr_assert_eq(h.code, SEGV_MAPERR);
	cr_assert_eq(h.addr, 3 * PG);
	w_compare(&h, v, "a host mapping moved with MREMAP_FIXED over emulated memory");
}

/* A host-only MAP_FIXED mapping the host refuses (a pipe: ENODEV) leaves
 * the emulated mapping as it was, as Linux does; MAP_FIXED_NOREPLACE over
 * it is EEXIST. */
static void scenario_refused_fixed(const struct world *w, struct outcome *out)
{
	int p[2];
	int zero = open("/dev/zero", O_RDWR);

	no_core();
	if (pipe(p))
		_exit(3);
	base = w->mmap(NULL, 2 * PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED || w_install(w, SIGSEGV))
		_exit(2);
	base[PG] = 42;
	char *q = w->mmap((void *)base, 2 * PG, PROT_READ, MAP_SHARED | MAP_FIXED, p[0], 0);
	out->v[0] = q == MAP_FAILED ? errno : 0;
	q = w->mmap((void *)base, PG, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE, zero, 0);
	out->v[1] = q == MAP_FAILED ? errno : 0;
	out->v[2] = base[PG];
	out->v[3] = w_touch(base + 7, true, 5);
	out->v[4] = base[7];
}

Test(hostmap, refused_host_map_fixed_leaves_emulated_memory_alone, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_refused_fixed);
	struct outcome *v = w_run(&vme_world, scenario_refused_fixed);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.v[0], ENODEV);
	cr_assert_eq(h.v[1], EEXIST);
	cr_assert_eq(h.v[2], 42);
	cr_assert_eq(h.v[3], 0);
	cr_assert_eq(h.v[4], 5);
	cr_assert_eq(h.nsig, 0);
	w_compare(&h, v, "refused host-only MAP_FIXED");
}
