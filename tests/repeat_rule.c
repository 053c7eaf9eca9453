/*
 * repeat_rule.c - a fault that has nothing to do (another thread got there
 * first) is retried, not turned into SIGSEGV, unless the access type is
 * unknown and the page has not changed since this thread's last such fault.
 *
 * The interleavings are made exact by a hook on the trap's fault call
 * (host_trap_hook_fault), which runs another thread's store or an msync
 * right before or after a given fault of the thread under test.
 */
#include <criterion/criterion.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vmemu.h>

#include "host/host.h"
#include "mm/mm.h"
#include "testutil.h"
#include "worlds.h"

#define RW (PROT_READ | PROT_WRITE)

/*
 * A lost write race: thread A stores to a MAP_SHARED file page that msync
 * has write-protected.  Before A's fault looks at the page, thread B's store
 * makes it writable, so A's fault has nothing to do; then msync (thread C)
 * write-protects it again before A retries, and the same happens once more.
 * A has lost twice in a row, on a legal write.  The hook on the trap's fault
 * call puts B's store and C's msync exactly there.
 */
static volatile char *race_page;
static pthread_t race_victim;
static bool race_guess;			/* every fault's access type unknown */
static int race_faults;			/* A's faults on race_page so far */
static unsigned race_before, race_after;	/* bit n: interfere before / after A's fault n */
static int helper_cmd, helper_done;	/* 1: B stores, 2: C msyncs; done counts */
static int helper_stop;

static void helper_run(int cmd)
{
	int done = __atomic_load_n(&helper_done, __ATOMIC_ACQUIRE);

	__atomic_store_n(&helper_cmd, cmd, __ATOMIC_RELEASE);
	while (__atomic_load_n(&helper_done, __ATOMIC_ACQUIRE) == done)
		sched_yield();
}

/* B and C in one thread: a store to the page, or msync(MS_SYNC) of it. */
static void *helper_main(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&helper_stop, __ATOMIC_ACQUIRE)) {
		int cmd = __atomic_exchange_n(&helper_cmd, 0, __ATOMIC_ACQUIRE);
		if (cmd == 1)
			race_page[64]++;
		else if (cmd == 2)
			cr_assert_eq(vme_msync((void *)race_page, PG, MS_SYNC), 0);
		else {
			sched_yield();
			continue;
		}
		__atomic_fetch_add(&helper_done, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* The trap's fault call, with the interference put around A's faults. */
static enum host_fault race_fault(unsigned long addr, enum host_access access)
{
	bool victim = pthread_equal(pthread_self(), race_victim) &&
		      (addr & ~(PG - 1)) == (unsigned long)race_page;
	int n = victim ? race_faults++ : 0;

	if (race_guess)
		access = HOST_ACCESS_UNKNOWN;
	if (victim && (race_before & (1u << n)))
		helper_run(1);
	enum host_fault r = vmemu_fault(addr, access);
	if (victim && (race_after & (1u << n)))
		helper_run(2);
	return r;
}

static sigjmp_buf race_env;
static volatile siginfo_t race_info;

static void race_on_segv(int sig, siginfo_t *info, void *uc)
{
	(void)sig, (void)uc;
	race_info = *info;
	siglongjmp(race_env, 1);
}

/* Run the race: A stores 'A' to byte 0 of a write-protected shared page
 * while the hook interferes; A must not get SIGSEGV. */
static void run_write_race(bool guess, unsigned before, unsigned after)
{
	int fd = pattern_file(PG, 0);
	pthread_t helper;
	struct sigaction sa = { 0 };

	race_page = vme_mmap(NULL, PG, RW, MAP_SHARED, fd, 0);
	cr_assert_neq(race_page, MAP_FAILED);
	race_page[0] = 'x';			/* present, dirty ... */
	cr_assert_eq(vme_msync((void *)race_page, PG, MS_SYNC), 0);	/* ... clean and write-protected */
	cr_assert_eq(race_page[0], 'x');
	sa.sa_sigaction = race_on_segv;
	sa.sa_flags = SA_SIGINFO;
	cr_assert_eq(vme_sigaction(SIGSEGV, &sa, NULL), 0);
	race_victim = pthread_self();
	race_guess = guess;
	race_before = before;
	race_after = after;
	cr_assert_eq(pthread_create(&helper, NULL, helper_main, NULL), 0);
	host_fault_fn prev = host_trap_hook_fault(race_fault);

	if (sigsetjmp(race_env, 1) == 0)
		race_page[0] = 'A';
	int got = race_info.si_signo, code = race_info.si_code;
	void *where = race_info.si_addr;

	host_trap_hook_fault(prev);
	__atomic_store_n(&helper_stop, 1, __ATOMIC_RELEASE);
	pthread_join(helper, NULL);
	cr_assert_eq(got, 0, "a legal write after losing %d races got signal %d (si_code %d, si_addr %p, page %p)",
		     race_faults - 1, got, code, where, (void *)race_page);
	cr_assert_geq(race_faults, 2, "the hook saw %d faults of A", race_faults);
	cr_assert_eq(race_page[0], 'A');
	cr_assert_eq(race_page[64], (char)(pattern_byte(64) + (char)__builtin_popcount(before)), "B's stores");
	cr_assert_eq(vme_msync((void *)race_page, PG, MS_SYNC), 0);
	unsigned char *disk = file_bytes(fd, 0, 65);
	cr_assert_eq(disk[0], 'A');
	cr_assert_eq(disk[64], (unsigned char)race_page[64]);
	free(disk);
}

Test(races, write_that_loses_twice_to_another_writer_and_msync_is_not_sigsegv, .timeout = 30)
{
	/* B stores before A's faults 0 and 1; C write-protects after each. */
	run_write_race(false, 0x3, 0x3);
}

Test(races, unknown_access_that_finds_the_page_changed_is_not_sigsegv, .timeout = 30)
{
	/* No error code (as under valgrind).  A's first fault finds the page
	 * read-only and takes it for a read; before its second, B's store
	 * (two faults of its own) makes it writable: the PTE has changed, so
	 * A's second fault is no repeat. */
	run_write_race(true, 0x2, 0);
}

Test(races, unknown_access_write_to_read_only_is_still_sigsegv, .timeout = 30)
{
	/* The repeat rule still does its job: with no error code, a write to
	 * a present read-only page of a read-only mapping faults twice with the
	 * PTE unchanged, and that is SIGSEGV (SEGV_ACCERR). */
	volatile char *p = vme_mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sigaction sa = { 0 };

	sa.sa_sigaction = race_on_segv;
	sa.sa_flags = SA_SIGINFO;
	cr_assert_eq(vme_sigaction(SIGSEGV, &sa, NULL), 0);
	race_guess = true;
	host_fault_fn prev = host_trap_hook_fault(race_fault);
	cr_assert_eq(p[5], 0, "the read before went through");
	if (sigsetjmp(race_env, 1) == 0) {
		p[5] = 1;
		host_trap_hook_fault(prev);
		cr_assert_fail("the write went through");
	}
	host_trap_hook_fault(prev);
	cr_assert_eq(race_info.si_signo, SIGSEGV);
	cr_assert_eq(race_info.si_code, SEGV_ACCERR);
	cr_assert_eq(race_info.si_addr, (void *)(p + 5));
	cr_assert_eq(p[5], 0);
}


/*
 * A repeat that waited.  With no error code, A's store to a write-protected
 * shared page faults first as a read of a present page (nothing to do);
 * the PTE unchanged, its second fault is taken for the write it must be
 * and goes to do_wp_page.  Meanwhile B's own store to the page is in
 * do_wp_page, holding the page lock: A's fault sleeps on it, and when B is
 * done the PTE is writable, no longer the one A's fault started from, so
 * A's fault finds nothing to do.  The page changed during that fault: A
 * lost a race and retries; only a repeat that finds the PTE as it was is
 * the host refusing the access.  B is held in its host mprotect (page and
 * PTE locked) until A sleeps on the page lock.
 */
static volatile int wait_b_held, wait_a_sleeps;
static __thread int wait_role;		/* 1: B */
static volatile char *wait_page;

static int wait_mprotect(void *addr, size_t len, int prot)
{
	if (wait_role == 1 && addr == (void *)wait_page && len == PG && prot == RW) {
		__atomic_store_n(&wait_b_held, 1, __ATOMIC_RELEASE);
		for (int i = 0; i < 5000 && !__atomic_load_n(&wait_a_sleeps, __ATOMIC_ACQUIRE); i++)
			usleep(1000);
		usleep(20000);			/* A is in the futex now */
	}
	return mprotect(addr, len, prot);
}

static long wait_futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *timeout)
{
	if (pthread_equal(pthread_self(), race_victim) && op == FUTEX_WAIT)
		__atomic_store_n(&wait_a_sleeps, 1, __ATOMIC_RELEASE);
	return syscall(SYS_futex, uaddr, op, val, timeout, NULL, 0);
}

static void *wait_b_store(void *arg)
{
	(void)arg;
	wait_role = 1;
	wait_page[64] = 'B';
	return NULL;
}

Test(races, unknown_access_whose_repeat_waited_for_another_writer_is_not_sigsegv, .timeout = 30,
     .fini = host_sys_reset)
{
	int fd = pattern_file(PG, 0);
	pthread_t b;
	struct sigaction sa = { 0 };

	wait_page = race_page = vme_mmap(NULL, PG, RW, MAP_SHARED, fd, 0);
	cr_assert_neq(race_page, MAP_FAILED);
	race_page[0] = 'x';
	cr_assert_eq(vme_msync((void *)race_page, PG, MS_SYNC), 0);	/* clean, write-protected */
	sa.sa_sigaction = race_on_segv;
	sa.sa_flags = SA_SIGINFO;
	cr_assert_eq(vme_sigaction(SIGSEGV, &sa, NULL), 0);
	race_victim = pthread_self();
	race_guess = true;
	host_sys.mprotect = wait_mprotect;
	host_sys.futex = wait_futex;
	cr_assert_eq(pthread_create(&b, NULL, wait_b_store, NULL), 0);
	while (!__atomic_load_n(&wait_b_held, __ATOMIC_ACQUIRE))
		usleep(1000);
	host_fault_fn prev = host_trap_hook_fault(race_fault);
	if (sigsetjmp(race_env, 1) == 0)
		race_page[0] = 'A';
	host_trap_hook_fault(prev);
	pthread_join(b, NULL);
	host_sys_reset();
	cr_assert_eq(race_info.si_signo, 0, "a legal write got signal %d after %d faults", race_info.si_signo,
		     race_faults);
	cr_assert(wait_a_sleeps, "A's repeat never waited for B");
	cr_assert_eq(race_page[0], 'A');
	cr_assert_eq(race_page[64], 'B');
	cr_assert_eq(vme_msync((void *)race_page, PG, MS_SYNC), 0);
	unsigned char *disk = file_bytes(fd, 0, 65);
	cr_assert_eq(disk[0], 'A');
	cr_assert_eq(disk[64], 'B');
	free(disk);
}
