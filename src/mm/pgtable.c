/*
 * pgtable.c - software page tables: the PTE state of every virtual page.
 *
 * Two levels: a directory with one entry per 256 KiB, pointing to a table of
 * 64 eight-byte PTEs.  Tables are smaller than the kernel's 4 KiB ones so
 * that scattered touches cost little: 100,000 random pages of a terabyte
 * cost about 50 MiB of tables rather than 400.  Both levels live in NORESERVE
 * memory the host fills in lazily, so a 1 TiB reservation costs nothing until
 * it is touched.  Tables come from a bump pool and are taken with one atomic
 * compare-and-swap, so the fault handler can allocate them without malloc or
 * locks.
 */
#include <errno.h>

#include "host/host.h"
#include "mm/mm.h"

#define TABLE_SHIFT	18
#define PTRS_PER_PTE	(1UL << (TABLE_SHIFT - PAGE_SHIFT))
#define PGTABLE_SPAN	(1UL << 47)	/* the user half of the address space */
#define PTRS_PER_PGD	(PGTABLE_SPAN >> TABLE_SHIFT)
#define POOL_TABLES	(1UL << 23)	/* 2 TiB of touched 256 KiB regions */

#define PTE_LOCK_BITS	(PTE_LOCKED | PTE_WAITERS)
#define PTE_LOCK_SPINS	100	/* tries before sleeping on a locked PTE */

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the PTE lock's futex is the PTE's first 32 bits");
_Static_assert(PTE_LOCK_BITS <= 0xffffffffUL, "both lock bits are in the futex word");

/* The futex word of a PTE's lock: its low 32 bits. */
static uint32_t *pte_futex(pte_t *ptep)
{
	return (uint32_t *)ptep;
}

static uint32_t *pgd;		/* table index + 1 per 256 KiB, 0 = none */
static pte_t *pool;		/* POOL_TABLES tables of PTRS_PER_PTE */
static uint32_t pool_next = 1;	/* index 0 is never handed out */

int pgtable_init(void)
{
	void *a, *b;
	int r;

	if (pgd)
		return 0;
	if ((r = vmalloc(PTRS_PER_PGD * sizeof(*pgd), &a)))
		return r;
	if ((r = vmalloc(POOL_TABLES * PTRS_PER_PTE * sizeof(pte_t), &b))) {
		vfree(a, PTRS_PER_PGD * sizeof(*pgd));
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
	vfree(pgd, PTRS_PER_PGD * sizeof(*pgd));
	vfree(pool, POOL_TABLES * PTRS_PER_PTE * sizeof(pte_t));
	pgd = NULL;
	pool = NULL;
}

/* handler-safe: the PTE of addr, allocating its table if alloc; NULL if there
 * is none (or the pool is exhausted). */
pte_t *pte_offset(unsigned long addr, bool alloc)
{
	if (addr >= PGTABLE_SPAN)
		return NULL;
	uint32_t *pmd = &pgd[addr >> TABLE_SHIFT];
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

/* handler-safe: the PTE's value, without the lock bits. */
pte_t ptep_get(const pte_t *ptep)
{
	return __atomic_load_n(ptep, __ATOMIC_ACQUIRE) & ~(pte_t)PTE_LOCK_BITS;
}

/* handler-safe: set the PTE, keeping the lock bit as it is (whoever holds
 * the lock keeps it). */
void set_pte_at(unsigned long addr, pte_t *ptep, pte_t pte)
{
	pte_t old = __atomic_load_n(ptep, __ATOMIC_RELAXED);

	(void)addr;
	while (!__atomic_compare_exchange_n(ptep, &old, (pte & ~(pte_t)PTE_LOCK_BITS) | (old & PTE_LOCK_BITS),
					    true, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
}

/* handler-safe: take the PTE lock; returns the PTE's value.  A waiter
 * spins briefly (holders only install a page or unmap it), then sets
 * PTE_WAITERS and sleeps on a futex on the PTE's low 32 bits, where both
 * lock bits are; once it has slept it takes the lock with PTE_WAITERS set,
 * as others may still sleep (the mutex.c scheme, on two bits of the PTE). */
pte_t pte_lock(pte_t *ptep)
{
	pte_t mark = 0;

	for (int spin = 0;; spin++) {
		pte_t old = __atomic_load_n(ptep, __ATOMIC_RELAXED);
		if (!(old & PTE_LOCKED)) {
			if (__atomic_compare_exchange_n(ptep, &old, old | PTE_LOCKED | mark, false, __ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED))
				return old & ~(pte_t)PTE_LOCK_BITS;
			continue;
		}
		if (spin < PTE_LOCK_SPINS)
			continue;
		if (!(old & PTE_WAITERS) &&
		    !__atomic_compare_exchange_n(ptep, &old, old | PTE_WAITERS, false, __ATOMIC_RELAXED,
						 __ATOMIC_RELAXED))
			continue;
		host_futex_wait(pte_futex(ptep), (uint32_t)(old | PTE_WAITERS), 0);
		mark = PTE_WAITERS;
	}
}

/* handler-safe: take the PTE lock if it is free. */
bool pte_trylock(pte_t *ptep)
{
	pte_t old = __atomic_load_n(ptep, __ATOMIC_RELAXED);

	return !(old & PTE_LOCKED) &&
	       __atomic_compare_exchange_n(ptep, &old, old | PTE_LOCKED, false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

/* handler-safe: release the PTE lock, waking one sleeper if there may be one. */
void pte_unlock(pte_t *ptep)
{
	if (__atomic_fetch_and(ptep, ~(pte_t)PTE_LOCK_BITS, __ATOMIC_RELEASE) & PTE_WAITERS)
		host_futex_wake(pte_futex(ptep), 1);
}

/* handler-safe: if someone holds the PTE lock, wait until they let go (their
 * change has landed).  Returns whether it waited. */
bool pte_wait_unlocked(pte_t *ptep)
{
	if (!(__atomic_load_n(ptep, __ATOMIC_ACQUIRE) & PTE_LOCKED))
		return false;
	pte_lock(ptep);		/* asleep on the futex, as any waiter */
	pte_unlock(ptep);
	return true;
}

/* Where a walk over [addr, end) that found no table at addr goes next. */
unsigned long pte_next_table(unsigned long addr, unsigned long end)
{
	unsigned long next = (addr | ((1UL << TABLE_SHIFT) - 1)) + 1;
	return next < end && next > addr ? next : end;
}

/* Call fn for every PTE of [start, end) that is not none, skipping absent
 * tables; stop at fn's first non-zero return and return it. */
int walk_ptes(unsigned long start, unsigned long end,
	      int (*fn)(unsigned long addr, pte_t *ptep, void *arg), void *arg)
{
	int r;

	for (unsigned long addr = start; addr < end;) {
		pte_t *pte = pte_offset(addr, false);
		if (!pte) {
			addr = pte_next_table(addr, end);
			continue;
		}
		if (ptep_get(pte) && (r = fn(addr, pte, arg)))
			return r;
		addr += PAGE_SIZE;
	}
	return 0;
}
