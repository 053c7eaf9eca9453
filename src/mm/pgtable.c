/*
 * pgtable.c - software page tables: the PTE state of every virtual page.
 *
 * Two levels, like the bottom of the kernel's: a directory with one entry per
 * 2 MiB (a PMD), pointing to a table of 512 one-byte PTEs.  Both live in
 * NORESERVE memory the host fills in lazily, so a 1 TiB reservation costs
 * nothing until it is touched, and a touched 2 MiB region costs 512 bytes of
 * table plus its share of a directory page.  Tables come from a bump pool and
 * are taken with one atomic compare-and-swap, so the fault handler can
 * allocate them without malloc or locks.
 */
#include <errno.h>

#include "host/host.h"
#include "mm/mm.h"

#define PMD_SHIFT	21
#define PTRS_PER_PTE	(1UL << (PMD_SHIFT - PAGE_SHIFT))
#define PGTABLE_SPAN	(1UL << 47)	/* the user half of the address space */
#define PTRS_PER_PGD	(PGTABLE_SPAN >> PMD_SHIFT)
#define POOL_TABLES	(1UL << 22)	/* 8 TiB of touched 2 MiB regions */

static uint32_t *pgd;		/* table index + 1 per PMD, 0 = none */
static pte_t *pool;		/* POOL_TABLES tables of PTRS_PER_PTE */
static uint32_t pool_next = 1;	/* index 0 is never handed out */

int pgtable_init(void)
{
	void *a, *b;
	int r;

	if (pgd)
		return 0;
	if ((r = host_alloc_private(PTRS_PER_PGD * sizeof(*pgd), &a)))
		return r;
	if ((r = host_alloc_private(POOL_TABLES * PTRS_PER_PTE, &b))) {
		host_free(a, PTRS_PER_PGD * sizeof(*pgd));
		return r;
	}
	pgd = a;
	pool = b;
	pool_next = 1;
	return 0;
}

void pgtable_exit(void)
{
	if (!pgd)
		return;
	host_free(pgd, PTRS_PER_PGD * sizeof(*pgd));
	host_free(pool, POOL_TABLES * PTRS_PER_PTE);
	pgd = NULL;
	pool = NULL;
}

/* handler-safe: the PTE of addr, allocating its table if alloc; NULL if there
 * is none (or the pool is exhausted). */
pte_t *pte_offset(unsigned long addr, bool alloc)
{
	if (addr >= PGTABLE_SPAN)
		return NULL;
	uint32_t *pmd = &pgd[addr >> PMD_SHIFT];
	uint32_t idx = __atomic_load_n(pmd, __ATOMIC_ACQUIRE);

	if (!idx) {
		if (!alloc)
			return NULL;
		uint32_t n = __atomic_fetch_add(&pool_next, 1, __ATOMIC_RELAXED);
		if (n >= POOL_TABLES)
			return NULL;
		uint32_t expected = 0;
		/* Losing the race wastes table n; it stays zero and unused. */
		idx = __atomic_compare_exchange_n(pmd, &expected, n, false, __ATOMIC_ACQ_REL,
						  __ATOMIC_ACQUIRE) ? n : expected;
	}
	return &pool[(unsigned long)idx * PTRS_PER_PTE + ((addr >> PAGE_SHIFT) & (PTRS_PER_PTE - 1))];
}

/* handler-safe */
void set_pte_at(unsigned long addr, pte_t *ptep, pte_t pte)
{
	(void)addr;
	__atomic_store_n(ptep, pte, __ATOMIC_RELEASE);
}

/* Where a walk over [addr, end) that found no table at addr goes next. */
unsigned long pte_next_table(unsigned long addr, unsigned long end)
{
	unsigned long next = (addr | ((1UL << PMD_SHIFT) - 1)) + 1;
	return next < end && next > addr ? next : end;
}
