/*
 * lock.c - mmap_lock and the page lock.
 *
 * mmap_lock is a reader-writer lock built from two futex words so that the
 * fault handler can take it for reading: a reader that finds a writer backs
 * off and sleeps, so readers never hold it while waiting.  Writers (vme_mmap, munmap,
 * mprotect, ...) run with asynchronous signals blocked, so no signal handler
 * on the writer's own thread can fault and wait for it.
 *
 * The page lock is an rlock in the shared struct page (mm.h, rlock.c).  At
 * fork the parent holds mmap_lock for writing, so the child never inherits
 * it half-taken, and gives the child its own slot of the domain; the child
 * then drops what Linux's dup_mmap would not copy (fork.c).
 */
#include <signal.h>

#include "host/host.h"
#include "mm/mm.h"

/* mmap_lock: readers counts the holders for reading and those about to
 * back off; writer is 1 while a writer holds it or waits for the readers to
 * leave, 2 once a reader may sleep on it.  Both are futex words: a reader
 * that finds a writer sleeps on writer, a writer waiting for readers sleeps
 * on readers, and whoever makes readers 0 while a writer is set wakes it.
 * writer_mutex orders the writers. */
static uint32_t readers;
static uint32_t writer;
static DEFINE_MUTEX(writer_mutex);

/* A reader leaving: the last one wakes a writer waiting for them. */
static void readers_dec(void)
{
	if (__atomic_sub_fetch(&readers, 1, __ATOMIC_SEQ_CST) == 0 && __atomic_load_n(&writer, __ATOMIC_SEQ_CST))
		host_futex_wake(&readers, 1);
}

/* handler-safe: takes mmap_lock for reading. */
void mmap_read_lock(void)
{
	for (;;) {
		__atomic_fetch_add(&readers, 1, __ATOMIC_SEQ_CST);
		if (!__atomic_load_n(&writer, __ATOMIC_SEQ_CST))
			return;
		readers_dec();
		for (uint32_t w; (w = __atomic_load_n(&writer, __ATOMIC_ACQUIRE));) {
			if (w == 1 && !__atomic_compare_exchange_n(&writer, &w, 2, false, __ATOMIC_ACQUIRE,
								   __ATOMIC_ACQUIRE))
				continue;
			host_futex_wait(&writer, 2, 0);
		}
	}
}

/* handler-safe: drops mmap_lock for reading. */
void mmap_read_unlock(void)
{
	readers_dec();
}

/* Takes mmap_lock for writing: excludes every fault handler. */
void mmap_write_lock(void)
{
	uint32_t n;

	mutex_lock(&writer_mutex);
	__atomic_store_n(&writer, 1, __ATOMIC_SEQ_CST);
	while ((n = __atomic_load_n(&readers, __ATOMIC_SEQ_CST)))
		host_futex_wait(&readers, n, 0);
}

void mmap_write_unlock(void)
{
	if (__atomic_exchange_n(&writer, 0, __ATOMIC_SEQ_CST) == 2)
		host_futex_wake(&writer, 0x7fffffff);	/* the readers that backed off */
	mutex_unlock(&writer_mutex);
}

/* fork: no child may inherit the lock half-taken.  The parent holds it for
 * writing across fork(), with asynchronous signals blocked meanwhile. */
static __thread sigset_t fork_saved_mask;

static void fork_prepare(void)
{
	host_trap_enter_emulator(&fork_saved_mask);
	mmap_write_lock();
	domain_fork_prepare();	/* the child's slot, with everything the parent maps */
}

static void fork_parent(void)
{
	domain_fork_parent();
	swap_fork_parent();
	mmap_write_unlock();
	host_trap_leave_emulator(&fork_saved_mask);
}

static void fork_child(void)
{
	domain_fork_child();
	vmscan_fork_child();
	swap_fork_child();
	host_splice_fork_child();
	dup_mmap(&init_mm);	/* no MADV_DONTFORK VMAs, no locks */
	readers = 0;
	__atomic_store_n(&writer, 0, __ATOMIC_RELEASE);
	writer_mutex = (struct mutex){ 0 };
	host_trap_leave_emulator(&fork_saved_mask);
}

int mmap_lock_init(void)
{
	static bool registered;

	if (registered)
		return 0;
	registered = true;
	return host_atfork(fork_prepare, fork_parent, fork_child);
}
