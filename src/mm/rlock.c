/*
 * rlock.c - locks shared by the processes of a domain, robust to the death
 * of their holder.
 *
 * The word holds the owner's slot + 1 (so a waiter knows whom it waits on)
 * and RLOCK_WAITERS when someone sleeps.  A waiter spins briefly, then
 * sleeps on the (shared) futex with a timeout; each time it wakes to find
 * the lock still held, it asks whether the owner's process is alive, and
 * if not reaps it (domain.c), which releases every lock the dead held.
 * Everything here is handler-safe.
 */
#include <errno.h>

#include "host/host.h"
#include "mm/domain.h"

#define RLOCK_SPINS	64
#define RLOCK_WAIT_NS	10000000UL	/* 10 ms between looks at the owner */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* handler-safe: take l, waiting as long as its owner lives. */
void rlock_lock(struct rlock *l)
{
	const uint32_t me = (uint32_t)dom.slot + 1;
	uint32_t take = me;

	for (int spin = 0;; spin++) {
		uint32_t w = 0;
		if (__atomic_compare_exchange_n(&l->word, &w, take, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return;
		if (spin < RLOCK_SPINS) {
			cpu_relax();
			continue;
		}
		if (!w)
			continue;
		if (!(w & RLOCK_WAITERS) &&
		    !__atomic_compare_exchange_n(&l->word, &w, w | RLOCK_WAITERS, false, __ATOMIC_RELAXED,
						 __ATOMIC_RELAXED))
			continue;
		/* Having slept, take the lock marked contended: others may
		 * sleep too, and the unlock that woke us woke them all but
		 * cleared the mark; the next unlock must wake whoever lost. */
		take = me | RLOCK_WAITERS;
		if (host_futex_wait(&l->word, w | RLOCK_WAITERS, RLOCK_WAIT_NS) != -ETIMEDOUT)
			continue;
		uint32_t owner = __atomic_load_n(&l->word, __ATOMIC_RELAXED) & RLOCK_OWNER_MASK;
		if (owner && owner != me && !slot_alive((int)owner - 1))
			domain_reap((int)owner - 1);
	}
}

/* handler-safe: take l if it is free. */
bool rlock_trylock(struct rlock *l)
{
	uint32_t w = 0;

	return __atomic_compare_exchange_n(&l->word, &w, (uint32_t)dom.slot + 1, false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

/* handler-safe */
void rlock_unlock(struct rlock *l)
{
	if (__atomic_exchange_n(&l->word, 0, __ATOMIC_RELEASE) & RLOCK_WAITERS)
		host_futex_wake(&l->word, 0x7fffffff);
}

/* handler-safe: release l if the (dead) slot holds it; true if it did.  For
 * the reaper only, after it has repaired what l guards. */
bool rlock_break(struct rlock *l, int slot)
{
	uint32_t w = __atomic_load_n(&l->word, __ATOMIC_ACQUIRE);

	while ((w & RLOCK_OWNER_MASK) == (uint32_t)slot + 1)
		if (__atomic_compare_exchange_n(&l->word, &w, 0, false, __ATOMIC_RELEASE, __ATOMIC_ACQUIRE)) {
			if (w & RLOCK_WAITERS)
				host_futex_wake(&l->word, 0x7fffffff);
			return true;
		}
	return false;
}
