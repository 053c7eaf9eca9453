/*
 * debug.h - the invariant walker (debug.c).
 *
 * Tests call check_vm() after operations, as mimalloc's tests call
 * mi_page_is_valid: it compares everything vmemu keeps twice (a count and
 * the things counted, a PTE and the frame it names) and reports where the
 * two disagree.  It is built into every library (it costs nothing until it
 * is called) and hidden, like every internal function: tests link the
 * static library and include this header.
 */
#ifndef VMEMU_DEBUG_H
#define VMEMU_DEBUG_H

#include <stdbool.h>
#include <stdint.h>

/* What a walk found.  check_vm fills it. */
struct vm_check {
	bool report;			/* in: print each violation (up to 16) on stderr */
	unsigned long errors;		/* violations found */
	bool domain_wide;		/* no other live process in the domain: its own counts were checked */
	unsigned long slots, ptes, frames, inodes;	/* what was looked at */
	char first[320];		/* the first violation */
};

/* Walk this process's and its domain's structures; returns c->errors (0:
 * all consistent; also when vmemu is not initialised).  Takes mmap_lock for
 * writing, the domain lock and alloc_lock, and each inode's i_pages_lock,
 * with asynchronous signals blocked.  Call it when no other thread of the
 * process is inside vmemu (no vme_ call, no fault); other processes of the
 * domain may run (see debug.c for what is then left out).  Not
 * handler-safe: it allocates. */
unsigned long check_vm(struct vm_check *c);

#endif /* VMEMU_DEBUG_H */
