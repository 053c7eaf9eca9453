/*
 * compat_late_gnu.c - a program that asks for _GNU_SOURCE at the top of its
 * own source, as the SQLite amalgamation does, after the forced
 * vmemu/compat.h: glibc's GNU declarations (mremap's MREMAP_MAYMOVE) must
 * still be there.  Built without -D_GNU_SOURCE (see the Makefile), so a
 * compat.h that read a system header first fails to compile this.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <vmemu.h>

#define COMPAT_SUITE compat_late_gnu
#include "compat_calls.h"

Test(compat_late_gnu, mremap_maymove_moves_an_emulated_mapping)
{
	struct vme_stats before, after;
	char *p = (char *)mmap(NULL, CPG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(p, MAP_FAILED);
	p[0] = 42;
	char *q = (char *)mremap(p, CPG, 64 * CPG, MREMAP_MAYMOVE);
	cr_assert_neq(q, MAP_FAILED);
	cr_assert_eq(q[0], 42);
	cr_assert_eq(vme_stats(&before), 0);
	q[63 * CPG] = 1;
	cr_assert_eq(vme_stats(&after), 0);
	cr_assert_gt(after.anon_fault, before.anon_fault, "the grown mapping is vmemu's");
}
