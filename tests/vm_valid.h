/* vm_valid.h - assert_vm_valid(): the invariant walker (src/mm/debug.c),
 * called by suites after their operations. */
#ifndef VMEMU_VM_VALID_H
#define VMEMU_VM_VALID_H

#include <criterion/criterion.h>

#include "mm/debug.h"

/* The walker finds nothing wrong with this process and its domain.  Call
 * it where no other thread of the process is inside vmemu.  The violations
 * (up to 16) are on stderr; the first is in the failure. */
static inline void assert_vm_valid(const char *where)
{
	struct vm_check c = { .report = true };

	cr_assert_eq(check_vm(&c), 0, "%s: the invariant walker found %lu violations; the first: %s", where,
		     c.errors, c.first);
}

#endif
