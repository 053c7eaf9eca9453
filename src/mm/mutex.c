/*
 * mutex.c - a sleeping lock for the threads of this process
 * (kernel/locking/mutex.c).
 *
 * A futex word: 0 free, 1 held, 2 held and someone may sleep on it (the
 * second mutex of Drepper's "Futexes Are Tricky").  Taking a free mutex and
 * releasing one nobody waits for are one atomic each; a waiter spins
 * briefly, then sleeps on the futex, through the host table like every
 * system call.  handler-safe, so the fault handler may take one (lru_lock)
 * if every holder has asynchronous signals blocked and none holds it across
 * I/O.  Not recursive, and not robust to a dead holder: the locks the
 * processes of a domain share are rlocks (rlock.c).
 */
#include "host/host.h"
#include "mm/mm.h"

#define MUTEX_SPINS	64	/* tries before sleeping: holders are brief */

/* Takes m, sleeping while another thread holds it. */
void mutex_lock(struct mutex *m)
{
	uint32_t c = 0;

	for (int spin = 0; spin < MUTEX_SPINS; spin++, c = 0)
		if (__atomic_compare_exchange_n(&m->state, &c, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return;
	if (c != 2)
		c = __atomic_exchange_n(&m->state, 2, __ATOMIC_ACQUIRE);
	while (c) {
		host_futex_wait(&m->state, 2, 0);
		c = __atomic_exchange_n(&m->state, 2, __ATOMIC_ACQUIRE);
	}
}

/* Releases m, waking one sleeper if there may be one. */
void mutex_unlock(struct mutex *m)
{
	if (__atomic_exchange_n(&m->state, 0, __ATOMIC_RELEASE) == 2)
		host_futex_wake(&m->state, 1);
}
