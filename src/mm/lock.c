/*
 * lock.c - mmap_lock and the page lock.
 *
 * mmap_lock is a reader-writer lock built from two atomics so that the fault
 * handler can take it for reading: a reader that finds a writer backs off and
 * waits, so readers never hold it while waiting.  Writers (vme_mmap, munmap,
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

static int readers;
static int writer;
static DEFINE_MUTEX(writer_mutex);

/* handler-safe: takes mmap_lock for reading. */
void mmap_read_lock(void)
{
	for (;;) {
		__atomic_fetch_add(&readers, 1, __ATOMIC_SEQ_CST);
		if (!__atomic_load_n(&writer, __ATOMIC_SEQ_CST))
			return;
		__atomic_fetch_sub(&readers, 1, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&writer, __ATOMIC_ACQUIRE))
			host_yield();
	}
}

/* handler-safe: drops mmap_lock for reading. */
void mmap_read_unlock(void)
{
	__atomic_fetch_sub(&readers, 1, __ATOMIC_RELEASE);
}

/* Takes mmap_lock for writing: excludes every fault handler. */
void mmap_write_lock(void)
{
	mutex_lock(&writer_mutex);
	__atomic_store_n(&writer, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&readers, __ATOMIC_SEQ_CST))
		host_yield();
}

void mmap_write_unlock(void)
{
	__atomic_store_n(&writer, 0, __ATOMIC_RELEASE);
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
