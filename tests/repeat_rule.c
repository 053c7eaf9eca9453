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
 * and goes to do_wp_page, which sleeps on the page lock without the PTE
 * lock: B's store through a second mapping of the page holds it.  While A
 * sleeps, reclaim (another thread's fault, short of a slot) unmaps the
 * page from A's address.  When B lets go, A's PTE is no longer the one its
 * fault started from, and the fault finds nothing to do: A lost a race and
 * retries.  Only a repeat that finds the PTE as it was is the host
 * refusing the access.  B is held in its host mprotect (the page locked)
 * until A sleeps on the page lock and reclaim has run.
 */
static volatile int wait_b_held, wait_a_sleeps, wait_b_go;
static __thread int wait_role;		/* 1: B */
static volatile char *wait_x1, *wait_x2;
static const volatile unsigned char *wait_other;

static int wait_mprotect(void *addr, size_t len, int prot)
{
	if (wait_role == 1 && addr == (void *)wait_x2 && len == PG && prot == RW) {
		__atomic_store_n(&wait_b_held, 1, __ATOMIC_RELEASE);
		for (int i = 0; i < 5000 && !__atomic_load_n(&wait_b_go, __ATOMIC_ACQUIRE); i++)
			usleep(1000);
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
	wait_x2[64] = 'B';
	return NULL;
}

static void *wait_a_store(void *arg)
{
	(void)arg;
	race_victim = pthread_self();
	if (sigsetjmp(race_env, 1) == 0)
		wait_x1[0] = 'A';
	return NULL;
}

static void *wait_fault_one_more(void *arg)
{
	return (void *)(uintptr_t)wait_other[(size_t)arg * PG];
}

/* The frame mapped at addr, or ~0UL. */
static unsigned long frame_at(const volatile void *addr)
{
	pte_t *pte = pte_offset((unsigned long)addr, false);
	pte_t v = pte ? ptep_get(pte) : 0;

	return (v & PTE_PRESENT) ? pte_val(v) : ~0UL;
}

Test(races, unknown_access_whose_repeat_waited_while_reclaim_unmapped_the_page_is_not_sigsegv,
     .timeout = 30, .fini = host_sys_reset)
{
	struct vme_config cfg = { .cache_mb = 1, .domain = "private" };
	cr_assert_eq(vme_init(&cfg), 0);
	struct vme_stats st;
	cr_assert_eq(vme_stats(&st), 0);
	size_t budget = st.nr_budget;
	int fd = pattern_file(PG, 0), ofd = pattern_file(budget * PG, O_RDONLY);
	pthread_t a, b, d;
	struct sigaction sa = { 0 };

	wait_x1 = vme_mmap(NULL, PG, RW, MAP_SHARED, fd, 0);
	wait_x2 = vme_mmap(NULL, PG, RW, MAP_SHARED, fd, 0);
	wait_other = vme_mmap(NULL, budget * PG, PROT_READ, MAP_SHARED, ofd, 0);
	cr_assert_neq(wait_x1, MAP_FAILED);
	cr_assert_neq(wait_x2, MAP_FAILED);
	cr_assert_neq((void *)wait_other, MAP_FAILED);
	cr_assert_eq(vme_madvise((void *)wait_other, budget * PG, MADV_RANDOM), 0);	/* a slot per fault */
	wait_x1[0] = 'x';			/* the page in slot 1, under the clock hand */
	cr_assert_eq(vme_msync((void *)wait_x1, PG, MS_SYNC), 0);	/* clean, write-protected */
	cr_assert_eq(wait_x2[0], 'x');		/* mapped at both addresses */
	for (size_t i = 0; i < budget - 1; i++)	/* slots 2 .. budget */
		(void)wait_other[i * PG];
	sa.sa_sigaction = race_on_segv;
	sa.sa_flags = SA_SIGINFO;
	cr_assert_eq(vme_sigaction(SIGSEGV, &sa, NULL), 0);
	race_guess = true;
	host_sys.mprotect = wait_mprotect;
	host_sys.futex = wait_futex;

	cr_assert_eq(pthread_create(&b, NULL, wait_b_store, NULL), 0);
	while (!__atomic_load_n(&wait_b_held, __ATOMIC_ACQUIRE))
		usleep(1000);
	host_fault_fn prev = host_trap_hook_fault(race_fault);
	race_page = wait_x1;
	race_faults = 0;
	cr_assert_eq(pthread_create(&a, NULL, wait_a_store, NULL), 0);
	for (int i = 0; i < 5000 && !__atomic_load_n(&wait_a_sleeps, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	cr_assert(wait_a_sleeps, "A's repeat never slept on the page lock");
	cr_assert_eq(pthread_create(&d, NULL, wait_fault_one_more, (void *)(budget - 1)), 0);
	pthread_join(d, NULL);
	cr_assert_eq(frame_at(wait_x1), ~0UL, "reclaim did not unmap the page from A's address");
	__atomic_store_n(&wait_b_go, 1, __ATOMIC_RELEASE);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	host_trap_hook_fault(prev);
	host_sys_reset();
	cr_assert_eq(race_info.si_signo, 0, "a legal write got signal %d after %d faults", race_info.si_signo,
		     race_faults);
	cr_assert_eq(wait_x1[0], 'A');
	cr_assert_eq(wait_x2[64], 'B');
	cr_assert_eq(vme_msync((void *)wait_x1, PG, MS_SYNC), 0);
	unsigned char *disk = file_bytes(fd, 0, 65);
	cr_assert_eq(disk[0], 'A');
	cr_assert_eq(disk[64], 'B');
	free(disk);
	close(fd);
	close(ofd);
}

/*
 * A read that meets reclaim half way.  Reclaim unmaps a page with its PTE
 * locked from its look until the host change has landed and the PTE is set
 * to match: in between, the host page is already the reservation while the
 * PTE still says present.  With no error code, a read there faults, finds
 * a present page (nothing to do), faults again with the PTE unchanged, and
 * in a read-only mapping that repeat is SIGSEGV: a legal read killed the
 * process.  A fault that finds the PTE locked must wait for whoever changes
 * it, as it did when it took the PTE lock first.  Reclaim is held right
 * after its host change, from the fault of another thread short of a slot.
 */
static volatile unsigned long half_addr;
static volatile int half_held, half_done;
static __thread int half_reclaimer;

static void *half_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *r = mmap(addr, len, prot, flags, fd, off);

	if (half_reclaimer && (unsigned long)addr == half_addr && prot == PROT_NONE) {
		__atomic_store_n(&half_held, 1, __ATOMIC_RELEASE);
		for (int i = 0; i < 5000 && !__atomic_load_n(&half_done, __ATOMIC_ACQUIRE); i++)
			usleep(1000);
	}
	return r;
}

static void *half_fault_one_more(void *arg)
{
	half_reclaimer = 1;
	return (void *)(uintptr_t)*(volatile unsigned char *)arg;
}

static enum host_fault half_fault(unsigned long addr, enum host_access access)
{
	(void)access;
	if (pthread_equal(pthread_self(), race_victim))
		race_faults++;
	return vmemu_fault(addr, HOST_ACCESS_UNKNOWN);
}

Test(races, unknown_access_read_of_a_page_reclaim_is_unmapping_is_not_sigsegv, .timeout = 30,
     .fini = host_sys_reset)
{
	struct vme_config cfg = { .cache_mb = 1, .domain = "private" };
	cr_assert_eq(vme_init(&cfg), 0);
	struct vme_stats st;
	cr_assert_eq(vme_stats(&st), 0);
	size_t budget = st.nr_budget;
	int fd = pattern_file((budget + 1) * PG, O_RDONLY);
	volatile unsigned char *p = vme_mmap(NULL, (budget + 1) * PG, PROT_READ, MAP_SHARED, fd, 0);
	struct sigaction sa = { 0 };
	pthread_t t;

	cr_assert_neq((void *)p, MAP_FAILED);
	cr_assert_eq(vme_madvise((void *)p, (budget + 1) * PG, MADV_RANDOM), 0);	/* a slot per fault */
	for (size_t i = 0; i < budget; i++)	/* page 0 in slot 1, under the clock hand */
		cr_assert_eq(p[i * PG], pattern_byte(i * PG));
	sa.sa_sigaction = race_on_segv;
	sa.sa_flags = SA_SIGINFO;
	cr_assert_eq(vme_sigaction(SIGSEGV, &sa, NULL), 0);
	half_addr = (unsigned long)p;
	host_sys.mmap = half_mmap;
	cr_assert_eq(pthread_create(&t, NULL, half_fault_one_more, (void *)(p + budget * PG)), 0);
	for (int i = 0; i < 5000 && !__atomic_load_n(&half_held, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	cr_assert(half_held, "reclaim never unmapped page 0");
	race_victim = pthread_self();
	race_faults = 0;
	host_fault_fn prev = host_trap_hook_fault(half_fault);
	unsigned char got = 0;
	if (sigsetjmp(race_env, 1) == 0)
		got = p[5];
	host_trap_hook_fault(prev);
	__atomic_store_n(&half_done, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	host_sys_reset();
	cr_assert_eq(race_info.si_signo, 0, "a legal read got signal %d after %d faults", race_info.si_signo,
		     race_faults);
	cr_assert_eq(got, pattern_byte(5));
}

/*
 * A repeat that waits for a PTE lock whose holder changes nothing.  With
 * no error code, A's store to a write-protected shared page faults first
 * as a read of a present page; before its second fault, reclaim locks the
 * page's PTE to unmap it, and its host call fails, so it puts the PTE back
 * as it was.  A's second fault waits for that lock (the PTE might have
 * been in the middle of changing), finds it unchanged, and must then take
 * the store for the write it is, not retry: a retry on an unchanged PTE is
 * a repeat that found nothing to do, which is SIGSEGV.
 */
static volatile int same_held, same_a_waits;
static __thread int same_reclaimer;
static volatile char *same_page;

static void *same_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (same_reclaimer && addr == (void *)same_page && prot == PROT_NONE) {
		__atomic_store_n(&same_held, 1, __ATOMIC_RELEASE);
		for (int i = 0; i < 5000 && !__atomic_load_n(&same_a_waits, __ATOMIC_ACQUIRE); i++)
			usleep(1000);
		errno = ENOMEM;			/* the unmap fails: the PTE goes back as it was */
		return MAP_FAILED;
	}
	return mmap(addr, len, prot, flags, fd, off);
}

/* A waits for the PTE lock asleep on its futex: that call says it waits. */
static long (*real_futex)(uint32_t *uaddr, int op, uint32_t val, const struct timespec *timeout);

static long same_futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *timeout)
{
	if (pthread_equal(pthread_self(), race_victim) && (op & 0x7f) == FUTEX_WAIT)
		__atomic_store_n(&same_a_waits, 1, __ATOMIC_RELEASE);
	return real_futex(uaddr, op, val, timeout);
}

static void *same_fault_one_more(void *arg)
{
	same_reclaimer = 1;
	return (void *)(uintptr_t)wait_other[(size_t)arg * PG];
}

static size_t same_budget;

/* A's faults on the page: after the first, another thread's fault has
 * reclaim lock the page's PTE (held in its host call) before A retries. */
static enum host_fault same_fault(unsigned long addr, enum host_access access)
{
	bool victim = pthread_equal(pthread_self(), race_victim) && (addr & ~(PG - 1)) == (unsigned long)same_page;
	enum host_fault r = vmemu_fault(addr, victim ? HOST_ACCESS_UNKNOWN : access);

	if (victim && race_faults++ == 0) {
		pthread_t d;
		pthread_create(&d, NULL, same_fault_one_more, (void *)(same_budget - 1));
		pthread_detach(d);
		while (!__atomic_load_n(&same_held, __ATOMIC_ACQUIRE))
			usleep(1000);
	}
	return r;
}

Test(races, unknown_access_repeat_that_waited_for_a_pte_lock_that_changed_nothing_is_not_sigsegv,
     .timeout = 30, .fini = host_sys_reset)
{
	struct vme_config cfg = { .cache_mb = 1, .domain = "private" };
	cr_assert_eq(vme_init(&cfg), 0);
	struct vme_stats st;
	cr_assert_eq(vme_stats(&st), 0);
	size_t budget = same_budget = st.nr_budget;
	int fd = pattern_file(PG, 0), ofd = pattern_file(budget * PG, O_RDONLY);
	struct sigaction sa = { 0 };

	same_page = vme_mmap(NULL, PG, RW, MAP_SHARED, fd, 0);
	wait_other = vme_mmap(NULL, budget * PG, PROT_READ, MAP_SHARED, ofd, 0);
	cr_assert_neq(same_page, MAP_FAILED);
	cr_assert_neq((void *)wait_other, MAP_FAILED);
	cr_assert_eq(vme_madvise((void *)wait_other, budget * PG, MADV_RANDOM), 0);	/* a slot per fault */
	same_page[0] = 'x';			/* slot 1, under the clock hand */
	cr_assert_eq(vme_msync((void *)same_page, PG, MS_SYNC), 0);	/* clean, write-protected */
	for (size_t i = 0; i < budget - 1; i++)	/* slots 2 .. budget */
		(void)wait_other[i * PG];
	sa.sa_sigaction = race_on_segv;
	sa.sa_flags = SA_SIGINFO;
	cr_assert_eq(vme_sigaction(SIGSEGV, &sa, NULL), 0);
	race_victim = pthread_self();
	race_faults = 0;
	host_sys.mmap = same_mmap;
	real_futex = host_sys.futex;
	host_sys.futex = same_futex;
	host_fault_fn prev = host_trap_hook_fault(same_fault);
	if (sigsetjmp(race_env, 1) == 0)
		same_page[0] = 'A';
	host_trap_hook_fault(prev);
	host_sys_reset();
	cr_assert_eq(race_info.si_signo, 0, "a legal write got signal %d after %d faults", race_info.si_signo,
		     race_faults);
	cr_assert(same_a_waits, "A's second fault never waited for the PTE lock");
	cr_assert_eq(same_page[0], 'A');
	cr_assert_eq(vme_msync((void *)same_page, PG, MS_SYNC), 0);
	unsigned char *disk = file_bytes(fd, 0, 1);
	cr_assert_eq(disk[0], 'A');
	free(disk);
	close(fd);
	close(ofd);
}
