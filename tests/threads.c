/*
 * threads.c - several threads fault the same pages at once.
 *
 * Fills are made slow and done in two halves (through the host syscall
 * table), so a page exposed before it is complete would show zeros in its
 * second half to the threads racing to read it.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>
#include <vmemu.h>

#include <linux/futex.h>
#include <sys/syscall.h>

#include "host/host.h"
#include "mm/mm.h"
#include "testutil.h"
#include "vm_valid.h"

#define NTHREADS 8
#define NPAGES 64

static ssize_t slow_pread(int fd, void *buf, size_t len, off_t off)
{
	size_t half = len / 2;
	ssize_t a = pread(fd, buf, half, off);
	struct timespec ts = { 0, 200000 };

	if (a < (ssize_t)half)
		return a;
	nanosleep(&ts, NULL);
	return a + pread(fd, (char *)buf + half, len - half, off + (off_t)half);
}

static unsigned char *map;
static pthread_barrier_t barrier;
static int torn[NTHREADS];

static void *reader(void *arg)
{
	long id = (long)arg;

	pthread_barrier_wait(&barrier);
	for (size_t k = 0; k < NPAGES; k++) {
		size_t pg = (k * 7 + (size_t)id) % NPAGES;	/* different orders, same pages */
		const unsigned char *p = map + pg * PG;
		if (p[PG - 1] != pattern_byte(pg * PG + PG - 1))	/* the tail first */
			torn[id]++;
		for (size_t i = 0; i < PG; i++)
			if (p[i] != pattern_byte(pg * PG + i)) {
				torn[id]++;
				break;
			}
	}
	return NULL;
}

Test(threads, no_thread_sees_a_partly_filled_page, .timeout = 60)
{
	int fd = pattern_file(NPAGES * PG, 0);
	pthread_t t[NTHREADS];
	struct vme_stats st;

	map = vme_mmap(NULL, NPAGES * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(map, MAP_FAILED);
	host_sys.pread = slow_pread;
	fill_with_pread_only();
	pthread_barrier_init(&barrier, NULL, NTHREADS);
	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, reader, (void *)i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < NTHREADS; i++)
		cr_assert_eq(torn[i], 0, "thread %d saw %d torn pages", i, torn[i]);
	cr_assert_eq(vme_stats(&st), 0);
	cr_assert_eq(st.pgpgin, NPAGES, "each page filled exactly once, not once per thread");
}

static void *writer(void *arg)
{
	long id = (long)arg;

	pthread_barrier_wait(&barrier);
	for (int round = 0; round < 200; round++)
		for (size_t pg = 0; pg < NPAGES; pg++)
			map[pg * PG + (size_t)id * 8 + (size_t)round % 8] = (unsigned char)(id + 1);
	return NULL;
}

Test(threads, concurrent_writes_and_msync_lose_nothing, .timeout = 60)
{
	int fd = pattern_file(NPAGES * PG, 0);
	pthread_t t[NTHREADS];

	map = vme_mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	pthread_barrier_init(&barrier, NULL, NTHREADS);
	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, writer, (void *)i);
	for (int k = 0; k < 20; k++)	/* write-back races the writers */
		cr_assert_eq(vme_msync(map, NPAGES * PG, MS_SYNC), 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(vme_msync(map, NPAGES * PG, MS_SYNC), 0);
	unsigned char *f = file_bytes(fd, 0, NPAGES * PG);
	for (size_t pg = 0; pg < NPAGES; pg++)
		for (size_t id = 0; id < NTHREADS; id++)
			for (size_t b = 0; b < 8; b++)
				cr_assert_eq(f[pg * PG + id * 8 + b], id + 1, "page %zu thread %zu byte %zu lost", pg, id, b);
	free(f);
}

static void *toucher(void *arg)
{
	unsigned char *a = arg;

	pthread_barrier_wait(&barrier);
	for (size_t pg = 0; pg < NPAGES; pg++)
		a[pg * PG + (pg % 13)] += 1;	/* read-modify-write of shared anonymous memory */
	return NULL;
}

Test(threads, first_touches_of_anonymous_memory_race_cleanly, .timeout = 60)
{
	unsigned char *a = vme_mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_t t[NTHREADS];

	pthread_barrier_init(&barrier, NULL, NTHREADS);
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, toucher, a);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	for (size_t pg = 0; pg < NPAGES; pg++)
		cr_assert_leq(a[pg * PG + (pg % 13)], NTHREADS, "page %zu", pg);
	for (size_t pg = 0; pg < NPAGES; pg++)
		cr_assert_geq(a[pg * PG + (pg % 13)], 1, "page %zu: a first touch was lost", pg);
}

/* Writers store to their pages over and over, under a memory budget far
 * smaller than what the process touches, while another thread streams
 * through a larger file (so reclaim deactivates and evicts everything,
 * the writers' pages too) and a third loops msync(MS_SYNC) (write-back
 * cleans the writers' pages, write-protecting them first).  Every page's
 * last store must reach the file.  A store that lands on a page cleaned
 * without its mapping write-protected, or on one whose deactivation left
 * it writable on the host, is lost: no fault, no dirty bit.  (This test once
 * died of "page fault inside the emulator itself": see the next one.) */
#define SB_PAGES 64		/* the writers' file */
#define SB_STREAM 2048		/* the streamed file: 8 MiB, eight budgets */
#define SB_WRITERS 3
static volatile uint64_t *sb_map;
static volatile const unsigned char *sb_stream;
static volatile int sb_stop;
static uint64_t sb_last[SB_WRITERS];

static void *sb_writer(void *arg)
{
	long id = (long)arg;
	uint64_t k;

	for (k = 1; !__atomic_load_n(&sb_stop, __ATOMIC_ACQUIRE); k++)
		for (size_t pg = (size_t)id; pg < SB_PAGES; pg += SB_WRITERS)
			sb_map[pg * (PG / 8)] = k << 32 | pg;
	sb_last[id] = k - 1;
	return NULL;
}

static void *sb_streamer(void *arg)
{
	unsigned long sum = 0;

	(void)arg;
	while (!__atomic_load_n(&sb_stop, __ATOMIC_ACQUIRE))
		for (size_t pg = 0; pg < SB_STREAM; pg++)
			sum += sb_stream[pg * PG];
	return (void *)sum;
}

static void *sb_syncer(void *arg)
{
	unsigned long n = 0;

	(void)arg;
	while (!__atomic_load_n(&sb_stop, __ATOMIC_ACQUIRE)) {
		cr_assert_eq(vme_msync((void *)sb_map, SB_PAGES * PG, MS_SYNC), 0);
		n++;
	}
	return (void *)n;
}

Test(threads, writers_under_a_small_budget_with_an_msync_loop_lose_no_store, .timeout = 120)
{
	struct vme_config cfg = { .cache_mb = 1, .domain = "private" };
	cr_assert_eq(vme_init(&cfg), 0);
	int fd = pattern_file(SB_PAGES * PG, 0), sfd = pattern_file(SB_STREAM * PG, O_RDONLY);
	pthread_t w[SB_WRITERS], streamer, syncer;
	void *syncs;

	sb_map = vme_mmap(NULL, SB_PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	sb_stream = vme_mmap(NULL, SB_STREAM * PG, PROT_READ, MAP_SHARED, sfd, 0);
	cr_assert_neq((void *)sb_map, MAP_FAILED);
	cr_assert_neq((void *)sb_stream, MAP_FAILED);
	for (long i = 0; i < SB_WRITERS; i++)
		cr_assert_eq(pthread_create(&w[i], NULL, sb_writer, (void *)i), 0);
	cr_assert_eq(pthread_create(&streamer, NULL, sb_streamer, NULL), 0);
	cr_assert_eq(pthread_create(&syncer, NULL, sb_syncer, NULL), 0);
	struct timespec run = { .tv_sec = 1, .tv_nsec = 500000000 };
	nanosleep(&run, NULL);
	__atomic_store_n(&sb_stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < SB_WRITERS; i++)
		pthread_join(w[i], NULL);
	pthread_join(streamer, NULL);
	pthread_join(syncer, &syncs);
	cr_assert_eq(vme_msync((void *)sb_map, SB_PAGES * PG, MS_SYNC), 0);
	struct vme_stats st;
	cr_assert_eq(vme_stats(&st), 0);
	cr_assert_gt(st.pgdeactivate, SB_STREAM, "reclaim ran: %lu deactivations", (unsigned long)st.pgdeactivate);
	cr_assert_gt((unsigned long)syncs, 1, "msync raced the writers");
	for (size_t pg = 0; pg < SB_PAGES; pg++) {
		uint64_t v, want = sb_last[pg % SB_WRITERS] << 32 | pg;
		cr_assert_eq(pread(fd, &v, 8, (off_t)(pg * PG)), 8);
		cr_assert_eq(v, want, "page %zu: the file has store %lu, the last was %lu", pg,
			     (unsigned long)(v >> 32), (unsigned long)(want >> 32));
	}
	close(fd);
	close(sfd);
}

/* A gate for a hooked host call, to make an interleaving exact: the hook
 * calls gate_stop, which says it got there and waits while the gate is
 * closed; the test waits for that (gate_await), acts, then opens it. */
struct gate {
	int closed, reached;
};

static void gate_stop(struct gate *g)
{
	struct timespec ms = { 0, 1000000 };

	__atomic_store_n(&g->reached, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&g->closed, __ATOMIC_ACQUIRE))
		nanosleep(&ms, NULL);
}

static void gate_await(struct gate *g)
{
	struct timespec ms = { 0, 1000000 };

	while (!__atomic_load_n(&g->reached, __ATOMIC_ACQUIRE))
		nanosleep(&ms, NULL);
}

static void gate_open(struct gate *g)
{
	__atomic_store_n(&g->closed, 0, __ATOMIC_RELEASE);
}

/* --- a fault waiting for another's fill --------------------------------------
 * The PTE lock covers only the install (issue 12): a fault that finds the
 * page being read by another waits for the page, asleep, and then finds the
 * PTE changed and retries onto the page the other mapped.  Were the PTE lock
 * held across the read, the second fault would spin on it, yielding the CPU
 * call after call.  The fill is held at a gate, deterministically. */

static struct gate fill_gate;
static unsigned long yields;

static ssize_t gated_pread(int fd, void *buf, size_t len, off_t off)
{
	gate_stop(&fill_gate);
	return pread(fd, buf, len, off);
}

static int counted_yield(void)
{
	__atomic_add_fetch(&yields, 1, __ATOMIC_RELAXED);
	return sched_yield();
}

static void *touch_first_page(void *arg)
{
	(void)arg;
	return (void *)(uintptr_t)*(volatile unsigned char *)map;
}

Test(threads, a_fault_waiting_for_another_fill_sleeps_then_takes_its_page, .timeout = 60)
{
	int fd = pattern_file(16 * PG, 0);
	pthread_t filler, waiter;
	void *a, *b;
	struct timespec wait = { 0, 300000000 };

	map = vme_mmap(NULL, 16 * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(map, MAP_FAILED);
	cr_assert_eq(vme_madvise(map, 16 * PG, MADV_RANDOM), 0);	/* one page, one read */
	fill_gate.closed = 1;
	host_sys.pread = gated_pread;
	host_sys.sched_yield = counted_yield;
	fill_with_pread_only();
	cr_assert_eq(pthread_create(&filler, NULL, touch_first_page, NULL), 0);
	gate_await(&fill_gate);
	__atomic_store_n(&yields, 0, __ATOMIC_RELAXED);
	cr_assert_eq(pthread_create(&waiter, NULL, touch_first_page, NULL), 0);
	nanosleep(&wait, NULL);			/* the waiter is in its fault now */
	unsigned long spun = __atomic_load_n(&yields, __ATOMIC_RELAXED);
	gate_open(&fill_gate);
	pthread_join(filler, &a);
	pthread_join(waiter, &b);
	host_sys_reset();
	cr_assert_lt(spun, 20, "the waiting fault spun %lu times instead of sleeping", spun);
	cr_assert_eq((uintptr_t)a, pattern_byte(0));
	cr_assert_eq((uintptr_t)b, pattern_byte(0));
	struct vme_stats st;
	cr_assert_eq(vme_stats(&st), 0);
	cr_assert_eq(st.pgmajfault, 1, "the page was read once");
	close(fd);
}

/* The race behind the stress test above, made exact.  msync write-protects
 * a writable page (page_mkclean: the PTE, then the host protection) while
 * a fault in another thread, short of a slot, has reclaim unmap the same
 * page (its PTE locked until the host change lands).  Write-back used to
 * change the PTE without its lock, so the two interleaved:
 *  - reclaim's unmap between write-back's look at the PTE and its store:
 *    the stale PTE came back, naming a frame this process no longer held;
 *    once evicted and freed, the next store faulted into do_wp_page on a
 *    free frame, and set_page_dirty read inode -1: the SIGSEGV inside the
 *    emulator that the stress test died of (reproduced by widening that
 *    window);
 *  - reclaim's unmap between the PTE store and the host mprotect, made
 *    exact here by stopping write-back's mprotect until the other thread's
 *    fault has reclaimed: the mprotect then makes the reservation left in
 *    the page's place readable, and the page reads as zeros, with no fault.
 * Write-back now changes the PTE under its lock, and leaves the page dirty
 * (written, not cleaned) when the lock is busy. */
static volatile unsigned long mk_addr;		/* write-back's mprotect to stop */
static volatile int mk_stopped;
static sem_t mk_go, mk_done;
static const volatile unsigned char *mk_other;	/* a file as large as the budget */

static int mprotect_then_reclaim(void *addr, size_t len, int prot)
{
	if ((unsigned long)addr == mk_addr && len == PG && prot == PROT_READ) {
		struct timespec until;
		mk_addr = 0;
		mk_stopped = 1;
		sem_post(&mk_go);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 20;
		sem_timedwait(&mk_done, &until);
	}
	return mprotect(addr, len, prot);
}

/* One page the budget has no slot for: its fault reclaims, with the clock
 * hand on slot 1 first. */
static void *fault_one_more(void *arg)
{
	sem_wait(&mk_go);
	(void)mk_other[(size_t)arg * PG];
	sem_post(&mk_done);
	return NULL;
}

Test(threads, reclaim_unmapping_a_page_msync_is_write_protecting_leaves_it_correct, .timeout = 60)
{
	struct vme_config cfg = { .cache_mb = 1, .domain = "private" };
	cr_assert_eq(vme_init(&cfg), 0);
	struct vme_stats st;
	cr_assert_eq(vme_stats(&st), 0);
	size_t budget = st.nr_budget;
	int fd = pattern_file(PG, 0), ofd = pattern_file(budget * PG, O_RDONLY);
	volatile unsigned char *w = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	mk_other = vme_mmap(NULL, budget * PG, PROT_READ, MAP_SHARED, ofd, 0);
	cr_assert_neq((void *)w, MAP_FAILED);
	cr_assert_neq((void *)mk_other, MAP_FAILED);
	/* a page per fault, a slot per page, in order: no readahead, no
	 * fault-around */
	cr_assert_eq(vme_madvise((void *)w, PG, MADV_RANDOM), 0);
	cr_assert_eq(vme_madvise((void *)mk_other, budget * PG, MADV_RANDOM), 0);
	w[0] = 0x5a;				/* slot 1: present, writable, dirty */
	for (size_t i = 0; i < budget - 1; i++)	/* slots 2 .. budget */
		(void)mk_other[i * PG];
	cr_assert_eq(vme_stats(&st), 0);
	cr_assert_eq(st.nr_resident, budget, "the budget is full: %lu of %lu", (unsigned long)st.nr_resident,
		     (unsigned long)budget);

	pthread_t t;
	sem_init(&mk_go, 0, 0);
	sem_init(&mk_done, 0, 0);
	cr_assert_eq(pthread_create(&t, NULL, fault_one_more, (void *)(budget - 1)), 0);
	mk_addr = (unsigned long)w;
	host_sys.mprotect = mprotect_then_reclaim;
	int r = vme_msync((void *)w, PG, MS_SYNC);
	host_sys_reset();
	if (!mk_stopped)
		sem_post(&mk_go);
	pthread_join(t, NULL);
	cr_assert_eq(r, 0);
	cr_assert(mk_stopped, "write-back never write-protected the page");
	cr_assert_eq(w[0], 0x5a, "the page reads %#x after msync and reclaim met: not its frame", w[0]);
	w[1] = 0x6b;				/* and a store still reaches the file */
	cr_assert_eq(vme_msync((void *)w, PG, MS_SYNC), 0);
	unsigned char *f = file_bytes(fd, 0, 2);
	cr_assert_eq(f[0], 0x5a);
	cr_assert_eq(f[1], 0x6b);
	free(f);
	assert_vm_valid("after msync and reclaim met on one page");
	close(fd);
	close(ofd);
}

/* --- a swap-in that read the slot before it was used again ------------------
 * do_swap_page reads the swap slot without the PTE lock and then checks
 * that the PTE is still the swap entry it read.  Meanwhile another thread
 * may swap the page in (freeing the slot), store to it, and reclaim may
 * write it out again: the free stack hands the same slot back, so the PTE
 * is again that very swap entry, but the slot holds the new bytes.  The
 * late swap-in must not put the old bytes it read over them.  Made exact:
 * the first swap-in is held at a gate after its read. */
static struct gate swap_gate;
static __thread int sg_held;		/* this thread's swap read stops at the gate */

static ssize_t gated_swap_pread(int fd, void *buf, size_t len, off_t off)
{
	ssize_t r = pread(fd, buf, len, off);

	if (sg_held) {
		sg_held = 0;
		gate_stop(&swap_gate);
	}
	return r;
}

static void *late_swap_in(void *arg)
{
	sg_held = 1;
	return (void *)(uintptr_t)*(volatile uint64_t *)arg;
}

Test(threads, a_late_swap_in_does_not_undo_a_store_made_after_an_earlier_one, .timeout = 60)
{
	struct vme_config cfg = { .cache_mb = 1, .domain = "private" };
	cr_assert_eq(vme_init(&cfg), 0);
	struct vme_stats st;
	cr_assert_eq(vme_stats(&st), 0);
	size_t scan = 4 * st.nr_budget;
	int fd = pattern_file(scan * PG, O_RDONLY);
	volatile uint64_t *x = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	const volatile unsigned char *f = vme_mmap(NULL, scan * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)x, MAP_FAILED);
	cr_assert_neq((void *)f, MAP_FAILED);
	x[0] = 1;
	cr_assert_eq(vme_madvise((void *)x, PG, MADV_PAGEOUT), 0);
	cr_assert_eq(vme_stats(&st), 0);
	cr_assert_eq(st.pswpout, 1, "the page went to swap");

	pthread_t t;
	void *late;
	swap_gate.closed = 1;
	host_sys.pread = gated_swap_pread;
	cr_assert_eq(pthread_create(&t, NULL, late_swap_in, (void *)x), 0);
	gate_await(&swap_gate);
	cr_assert_eq(x[0], 1, "swapped in by this thread first");
	x[0] = 2;				/* the store that must stay */
	/* the page's only other use: it goes to swap again, into the slot
	 * its first swap-in freed */
	for (int round = 0; round < 8 && st.pswpout < 2; round++) {
		for (size_t i = 0; i < scan; i++)
			(void)f[i * PG];
		cr_assert_eq(vme_stats(&st), 0);
	}
	cr_assert_eq(st.pswpout, 2, "reclaim swapped the page out again");
	gate_open(&swap_gate);
	pthread_join(t, &late);
	host_sys_reset();
	cr_assert_eq(x[0], 2, "the store was undone: the page reads %lu", (unsigned long)x[0]);
	assert_vm_valid("after two swap-ins of one page");
	close(fd);
}

/* --- a write fault that waited for a page lock the frame lost --------------
 * do_wp_page reads the PTE without its lock, takes the page lock of the
 * frame the PTE named, then the PTE lock.  While it waits for the page
 * lock, reclaim may unmap the page and evict it, and the frame may become
 * a page of another file.  The fault then holds that other page's lock
 * while it spins on its own PTE lock, which a fault installing the page
 * again holds: the lock order (a page's lock, then the PTE lock of an
 * address that page is mapped at) is broken, and anyone who needs the
 * other page waits on a PTE lock of an unrelated file; the installer
 * itself may need it (its reclaim writes back dirty pages under the PTE
 * lock, locking each), and then nothing moves.  Made exact:
 *   - msync holds the page's lock, stopped in write-back's mprotect of its
 *     second mapping, while the writer faults on the first (already
 *     read-only) and goes to sleep on that lock (its futex call held);
 *   - reclaim, from this thread's faults on another file under a 1 MiB
 *     budget, unmaps and evicts the page, until the frame serves a page Q
 *     of that other file;
 *   - a reader faults the first mapping again and is stopped in the host
 *     mmap of its install, holding the PTE lock;
 *   - the writer wakes up, with Q's lock free.
 * A fault on Q, through another mapping, must then go through while the
 * reader is stopped. */
static __thread int sl_role;		/* 1 msync, 2 writer, 3 reader */
static volatile int sl_msync_held, sl_writer_held, sl_reader_held, sl_release;
static volatile unsigned long sl_first_ro;	/* the mapping write-back protected first */
static volatile unsigned long sl_reader_addr;

static void sl_hold(volatile int *flag)
{
	struct timespec ms = { 0, 1000000 };

	__atomic_store_n(flag, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(flag, __ATOMIC_ACQUIRE) == 1 && !__atomic_load_n(&sl_release, __ATOMIC_ACQUIRE))
		nanosleep(&ms, NULL);
}

static int sl_mprotect(void *addr, size_t len, int prot)
{
	if (sl_role == 1 && len == PG && prot == PROT_READ) {
		if (!sl_first_ro)
			sl_first_ro = (unsigned long)addr;
		else
			sl_hold(&sl_msync_held);	/* the second mapping: the page lock is held */
	}
	return mprotect(addr, len, prot);
}

static unsigned long sl_yields, sl_sleeps;	/* the writer's, once woken up */

static long sl_futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *timeout)
{
	if (sl_role == 2 && op == FUTEX_WAIT && !sl_writer_held) {
		sl_hold(&sl_writer_held);	/* asleep on the page lock, for as long as we say */
		return 0;
	}
	if (sl_role == 2 && op == FUTEX_WAIT)
		__atomic_add_fetch(&sl_sleeps, 1, __ATOMIC_RELAXED);
	return syscall(SYS_futex, uaddr, op, val, timeout, NULL, 0);
}

static int sl_yield(void)
{
	if (sl_role == 2)
		__atomic_add_fetch(&sl_yields, 1, __ATOMIC_RELAXED);
	return sched_yield();
}

static void *sl_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (sl_role == 3 && (unsigned long)addr == sl_reader_addr && (flags & MAP_FIXED))
		sl_hold(&sl_reader_held);	/* installing: the PTE lock is held */
	return mmap(addr, len, prot, flags, fd, off);
}

static void *sl_msync(void *arg)
{
	sl_role = 1;
	return (void *)(intptr_t)vme_msync(arg, PG, MS_SYNC);
}

static void *sl_write(void *arg)
{
	sl_role = 2;
	*(volatile unsigned char *)arg = 0x77;
	return NULL;
}

static void *sl_read(void *arg)
{
	sl_role = 3;
	return (void *)(uintptr_t)*(volatile unsigned char *)arg;
}

struct sl_touch {
	const volatile unsigned char *p;
	volatile int done;
};

static void *sl_touch(void *arg)
{
	struct sl_touch *t = arg;

	(void)*t->p;
	__atomic_store_n(&t->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void sl_wait(volatile int *flag, const char *what)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 10000 && !__atomic_load_n(flag, __ATOMIC_ACQUIRE); i++)
		nanosleep(&ms, NULL);
	cr_assert(__atomic_load_n(flag, __ATOMIC_ACQUIRE), "%s never happened", what);
}

static void sl_go(volatile int *flag)
{
	__atomic_store_n(flag, 2, __ATOMIC_RELEASE);
}

/* The frame mapped at addr, or NO_PAGE. */
static unsigned long sl_pfn(const volatile void *addr)
{
	pte_t *pte = pte_offset((unsigned long)addr, false);
	pte_t v = pte ? ptep_get(pte) : 0;

	return (v & (PTE_PRESENT | PTE_ANON)) == PTE_PRESENT ? pte_val(v) : NO_PAGE;
}

Test(threads, a_write_fault_never_holds_another_pages_lock_while_it_waits_for_its_pte, .timeout = 60,
     .fini = host_sys_reset)
{
	struct vme_config cfg = { .cache_mb = 1, .domain = "private" };
	cr_assert_eq(vme_init(&cfg), 0);
	struct vme_stats st;
	cr_assert_eq(vme_stats(&st), 0);
	size_t other_pages = 4 * st.nr_budget;
	int fd = pattern_file(PG, 0), ofd = pattern_file(other_pages * PG, 0);
	volatile unsigned char *x1 = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	volatile unsigned char *x2 = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	const volatile unsigned char *o = vme_mmap(NULL, other_pages * PG, PROT_READ, MAP_SHARED, ofd, 0);
	const volatile unsigned char *o2 = vme_mmap(NULL, other_pages * PG, PROT_READ, MAP_SHARED, ofd, 0);
	cr_assert_neq((void *)x1, MAP_FAILED);
	cr_assert_neq((void *)x2, MAP_FAILED);
	cr_assert_neq((void *)o, MAP_FAILED);
	cr_assert_eq(vme_madvise((void *)o, other_pages * PG, MADV_RANDOM), 0);	/* a frame per fault */
	cr_assert_eq(vme_madvise((void *)o2, other_pages * PG, MADV_RANDOM), 0);
	x1[0] = 1;
	x2[1] = 2;				/* dirty, writable at both addresses */
	unsigned long f = sl_pfn(x1);
	cr_assert_neq(f, NO_PAGE);
	host_sys.mprotect = sl_mprotect;
	host_sys.futex = sl_futex;
	host_sys.mmap = sl_mmap;
	host_sys.sched_yield = sl_yield;

	pthread_t m, w, r, c;
	void *ret;
	cr_assert_eq(pthread_create(&m, NULL, sl_msync, (void *)x1), 0);
	sl_wait(&sl_msync_held, "write-back holding the page lock");
	volatile unsigned char *ro = (volatile unsigned char *)sl_first_ro;
	cr_assert_eq(pthread_create(&w, NULL, sl_write, (void *)ro), 0);
	sl_wait(&sl_writer_held, "the write fault waiting for the page lock");
	sl_go(&sl_msync_held);
	pthread_join(m, &ret);
	cr_assert_eq((intptr_t)ret, 0, "msync");

	/* reclaim: the page goes, and its frame serves a page of the other file */
	size_t q = other_pages;
	for (size_t i = 0; i < other_pages && q == other_pages; i++) {
		(void)o[i * PG];
		if (sl_pfn(o + i * PG) == f)
			q = i;
	}
	cr_assert_lt(q, other_pages, "the frame never served the other file");

	sl_reader_addr = (unsigned long)ro;
	cr_assert_eq(pthread_create(&r, NULL, sl_read, (void *)ro), 0);
	sl_wait(&sl_reader_held, "the reader installing the page again");
	sl_go(&sl_writer_held);			/* the writer wakes up; the frame's lock is free */
	/* it spins on the PTE lock, or sleeps on the page the reader installs */
	for (int i = 0; i < 5000 && __atomic_load_n(&sl_yields, __ATOMIC_RELAXED) < 100 &&
			!__atomic_load_n(&sl_sleeps, __ATOMIC_RELAXED); i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	struct sl_touch t = { .p = o2 + q * PG };
	cr_assert_eq(pthread_create(&c, NULL, sl_touch, &t), 0);
	struct timespec ms = { 0, 1000000 };
	for (int i = 0; i < 500 && !__atomic_load_n(&t.done, __ATOMIC_ACQUIRE); i++)
		nanosleep(&ms, NULL);
	int done = __atomic_load_n(&t.done, __ATOMIC_ACQUIRE);
	__atomic_store_n(&sl_release, 1, __ATOMIC_RELEASE);
	pthread_join(r, &ret);
	pthread_join(w, NULL);
	pthread_join(c, NULL);
	host_sys_reset();
	cr_assert(done, "a fault on another file's page waited on this file's PTE lock");
	cr_assert_eq(ro[0], 0x77, "the write landed");
	cr_assert_eq(o2[q * PG], pattern_byte(q * PG));
	assert_vm_valid("after the write fault lost its frame");
	close(fd);
	close(ofd);
}

/* --- fills racing for the one pipe ------------------------------------------
 * A process has one pipe to splice fills through; a fill that finds it in
 * use reads into the library's view instead.  Eight threads fill pages of
 * one file at once, the splice made slow so that most find the pipe busy:
 * both ways are taken, and every byte is right. */
static unsigned long splices, preads;

static ssize_t slow_splice(int in, off_t *off_in, int out, off_t *off_out, size_t len, unsigned int flags)
{
	if (off_in) {
		struct timespec ts = { 0, 200000 };
		__atomic_add_fetch(&splices, 1, __ATOMIC_RELAXED);
		nanosleep(&ts, NULL);
	}
	return splice(in, off_in, out, off_out, len, flags);
}

static ssize_t counted_pread(int fd, void *buf, size_t len, off_t off)
{
	__atomic_add_fetch(&preads, 1, __ATOMIC_RELAXED);
	return pread(fd, buf, len, off);
}

static void *fill_every_eighth(void *arg)
{
	long id = (long)arg;

	pthread_barrier_wait(&barrier);
	for (size_t pg = (size_t)id; pg < 8 * NPAGES; pg += NTHREADS)
		for (size_t i = 0; i < PG; i += 511)
			if (map[pg * PG + i] != pattern_byte(pg * PG + i)) {
				torn[id]++;
				break;
			}
	return NULL;
}

Test(threads, fills_racing_for_the_one_pipe_read_into_the_view_and_read_right, .timeout = 60)
{
	int fd = pattern_file(8 * NPAGES * PG, O_RDONLY);
	pthread_t t[NTHREADS];

	map = vme_mmap(NULL, 8 * NPAGES * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(map, MAP_FAILED);
	cr_assert_eq(vme_madvise(map, 8 * NPAGES * PG, MADV_RANDOM), 0);	/* a fill per page */
	host_sys.splice = slow_splice;
	host_sys.pread = counted_pread;
	pthread_barrier_init(&barrier, NULL, NTHREADS);
	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, fill_every_eighth, (void *)i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	host_sys_reset();
	for (int i = 0; i < NTHREADS; i++)
		cr_assert_eq(torn[i], 0, "thread %d read %d wrong pages", i, torn[i]);
	cr_assert_gt(splices, 0, "no fill spliced");
	cr_assert_gt(preads, 0, "no fill found the pipe busy");
	assert_vm_valid("after fills raced for the pipe");
	close(fd);
}

/* The same race for shared anonymous memory, whose swap entries are in the
 * object's page index (shmem_fault): a late swap-in must not put the bytes
 * it read in place of the entry once that entry stands for newer ones. */
Test(threads, a_late_shmem_swap_in_does_not_undo_a_store_made_after_an_earlier_one, .timeout = 60)
{
	struct vme_config cfg = { .cache_mb = 1, .domain = "private" };
	cr_assert_eq(vme_init(&cfg), 0);
	struct vme_stats st;
	cr_assert_eq(vme_stats(&st), 0);
	size_t scan = 4 * st.nr_budget;
	int fd = pattern_file(scan * PG, O_RDONLY);
	volatile uint64_t *x = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	const volatile unsigned char *f = vme_mmap(NULL, scan * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)x, MAP_FAILED);
	cr_assert_neq((void *)f, MAP_FAILED);
	x[0] = 1;
	cr_assert_eq(vme_madvise((void *)x, PG, MADV_PAGEOUT), 0);
	cr_assert_eq(vme_stats(&st), 0);
	cr_assert_eq(st.pswpout, 1, "the page went to swap");

	pthread_t t;
	void *late;
	swap_gate.closed = 1;
	host_sys.pread = gated_swap_pread;
	cr_assert_eq(pthread_create(&t, NULL, late_swap_in, (void *)x), 0);
	gate_await(&swap_gate);
	cr_assert_eq(x[0], 1, "swapped in by this thread first");
	x[0] = 2;				/* the store that must stay */
	for (int round = 0; round < 8 && st.pswpout < 2; round++) {
		for (size_t i = 0; i < scan; i++)
			(void)f[i * PG];
		cr_assert_eq(vme_stats(&st), 0);
	}
	cr_assert_eq(st.pswpout, 2, "reclaim swapped the page out again");
	gate_open(&swap_gate);
	pthread_join(t, &late);
	host_sys_reset();
	cr_assert_eq(x[0], 2, "the store was undone: the page reads %lu", (unsigned long)x[0]);
	assert_vm_valid("after two swap-ins of one shared anonymous page");
	close(fd);
}

/* --- a fault waiting for a PTE lock ------------------------------------------
 * A first touch of anonymous memory installs the page with the PTE locked
 * (an mprotect).  Held there at a gate, it makes a second fault on the same
 * page wait for the PTE lock itself: the waiter must sleep on it (a futex),
 * not spin yielding the CPU, and then find the page present. */

static void *anon_page;
static struct gate install_gate;

static int gated_mprotect(void *addr, size_t len, int prot)
{
	if (addr == anon_page && __atomic_load_n(&install_gate.closed, __ATOMIC_ACQUIRE))
		gate_stop(&install_gate);
	return mprotect(addr, len, prot);
}

static void *store_anon(void *arg)
{
	((volatile long *)anon_page)[(long)arg] = (long)arg;	/* each its own word */
	return NULL;
}

Test(threads, a_fault_waiting_for_a_pte_lock_sleeps, .timeout = 60)
{
	pthread_t first, second;
	struct timespec wait = { 0, 300000000 };

	anon_page = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(anon_page, MAP_FAILED);
	install_gate.closed = 1;
	host_sys.mprotect = gated_mprotect;
	host_sys.sched_yield = counted_yield;
	cr_assert_eq(pthread_create(&first, NULL, store_anon, (void *)1L), 0);
	gate_await(&install_gate);
	__atomic_store_n(&yields, 0, __ATOMIC_RELAXED);
	cr_assert_eq(pthread_create(&second, NULL, store_anon, (void *)2L), 0);
	nanosleep(&wait, NULL);			/* the second fault waits for the PTE now */
	unsigned long spun = __atomic_load_n(&yields, __ATOMIC_RELAXED);
	gate_open(&install_gate);
	pthread_join(first, NULL);
	pthread_join(second, NULL);
	host_sys_reset();
	cr_assert_lt(spun, 20, "the waiting fault spun %lu times instead of sleeping", spun);
	cr_assert_eq(((volatile long *)anon_page)[1], 1L, "the first store was lost");
	cr_assert_eq(((volatile long *)anon_page)[2], 2L, "the second store was lost");
	assert_vm_valid("after two faults met on one PTE");
}

/* --- a fault waiting for mmap_lock -------------------------------------------
 * munmap of a dirty shared mapping writes it back holding mmap_lock for
 * writing.  Held there at a gate (the write), it makes a fault of another
 * thread, elsewhere, wait for mmap_lock: the fault must sleep, not spin
 * yielding the CPU, and then complete. */

static struct gate wb_gate;

static ssize_t gated_pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	gate_stop(&wb_gate);
	return pwritev(fd, iov, cnt, off);
}

static ssize_t gated_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	struct iovec v = { (void *)buf, len };

	return gated_pwritev(fd, &v, 1, off);
}

static void *store_anon_at(void *arg)
{
	*(volatile unsigned char *)arg = 0x42;
	return NULL;
}

static void *munmap_dirty(void *arg)
{
	return (void *)(intptr_t)vme_munmap(arg, 4 * PG);
}

Test(threads, a_fault_waiting_for_mmap_lock_sleeps, .timeout = 60)
{
	int fd = pattern_file(4 * PG, 0);
	unsigned char *shared = vme_mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	volatile unsigned char *anon = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_t unmapper;
	struct timespec wait = { 0, 300000000 };
	void *r;

	cr_assert_neq(shared, MAP_FAILED);
	cr_assert_neq((void *)anon, MAP_FAILED);
	memset(shared, 0x77, 4 * PG);		/* dirty: munmap writes it back */
	wb_gate.closed = 1;
	host_sys.pwritev = gated_pwritev;
	host_sys.pwrite = gated_pwrite;
	cr_assert_eq(pthread_create(&unmapper, NULL, munmap_dirty, shared), 0);
	gate_await(&wb_gate);
	host_sys.sched_yield = counted_yield;
	__atomic_store_n(&yields, 0, __ATOMIC_RELAXED);
	pthread_t toucher;
	cr_assert_eq(pthread_create(&toucher, NULL, store_anon_at, (void *)anon), 0);
	nanosleep(&wait, NULL);			/* the fault waits for mmap_lock now */
	unsigned long spun = __atomic_load_n(&yields, __ATOMIC_RELAXED);
	gate_open(&wb_gate);
	pthread_join(unmapper, &r);
	pthread_join(toucher, NULL);
	host_sys_reset();
	cr_assert_eq((intptr_t)r, 0);
	cr_assert_lt(spun, 20, "the waiting fault spun %lu times instead of sleeping", spun);
	cr_assert_eq(anon[0], 0x42);
	unsigned char *f = file_bytes(fd, 0, 4 * PG);
	for (size_t i = 0; i < 4 * PG; i++)
		cr_assert_eq(f[i], 0x77, "byte %zu of the file", i);
	free(f);
	close(fd);
}

/* --- reclaim for a fault's slot happens before its PTE lock ------------------
 * With the budget full of dirty pages, a read fault's page needs a slot,
 * and reclaim writes a dirty page back to free one.  That write must not
 * happen while the fault holds its PTE lock (taking the slot first,
 * reserve_fault_slot): with it held, another thread faulting there would
 * wait for a disk write. */

static volatile unsigned long io_watch;
static volatile int io_calls, io_under_pte_lock;

static void io_check(void)
{
	if (!io_watch)
		return;
	pte_t *p = pte_offset(io_watch, false);
	io_calls++;
	if (p && (__atomic_load_n(p, __ATOMIC_RELAXED) & PTE_LOCKED))
		io_under_pte_lock++;
}

static ssize_t io_pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	io_check();
	return pwritev(fd, iov, cnt, off);
}

static ssize_t io_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	io_check();
	return pwrite(fd, buf, len, off);
}

Test(threads, reclaim_for_a_faults_slot_writes_back_before_its_pte_is_locked, .timeout = 60)
{
	struct vme_config cfg = { .cache_mb = 1, .domain = "private" };
	cr_assert_eq(vme_init(&cfg), 0);
	int dfd = pattern_file(512 * PG, 0), rfd = pattern_file(64 * PG, O_RDONLY);
	volatile unsigned char *d = vme_mmap(NULL, 512 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0);
	volatile unsigned char *r = vme_mmap(NULL, 64 * PG, PROT_READ, MAP_SHARED, rfd, 0);

	cr_assert_neq((void *)d, MAP_FAILED);
	cr_assert_neq((void *)r, MAP_FAILED);
	cr_assert_eq(vme_madvise((void *)d, 512 * PG, MADV_RANDOM), 0);
	cr_assert_eq(vme_madvise((void *)r, 64 * PG, MADV_RANDOM), 0);
	for (size_t i = 0; i < 250; i++)	/* the budget full of dirty pages */
		d[i * PG] = 1;
	host_sys.pwritev = io_pwritev;
	host_sys.pwrite = io_pwrite;
	for (size_t i = 0; i < 64; i++) {
		io_watch = (unsigned long)(r + i * PG);
		cr_assert_eq(r[i * PG], pattern_byte(i * PG));
		io_watch = 0;
	}
	host_sys_reset();
	cr_assert_gt(io_calls, 0, "reclaim never wrote back during a read fault");
	cr_assert_eq(io_under_pte_lock, 0, "%d of %d write-backs ran with the fault's PTE locked", io_under_pte_lock,
		     io_calls);
	cr_assert_eq(vme_msync((void *)d, 512 * PG, MS_SYNC), 0);
	unsigned char *f = file_bytes(dfd, 0, 250 * PG);
	for (size_t i = 0; i < 250; i++)
		cr_assert_eq(f[i * PG], 1, "page %zu lost its store", i);
	free(f);
	close(dfd);
	close(rfd);
}
