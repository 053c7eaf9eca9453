/*
 * handler_mask.c - the program's signal handlers and their masks.
 *
 * The program's SIGSEGV handler runs with the mask the kernel would give it,
 * but SIGSEGV in that mask is kept virtual, so the handler can touch
 * emulated memory (a GC, a JIT, a crash reporter do); a fault there that is
 * really the program's still kills, as the kernel's forced delivery of a
 * blocked SIGSEGV does.  Other signals never run in the middle of a fault.
 *
 * Most tests are differential: the same scenario runs in a child over the
 * host's calls and in another over vmemu's (worlds.h), and what each saw
 * must match.
 */
#include <sys/syscall.h>
#include <time.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <vmemu.h>

#include "host/host.h"
#include "mm/mm.h"
#include "testutil.h"
#include "worlds.h"

#define RW (PROT_READ | PROT_WRITE)
#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

static volatile unsigned char *hm_ro;

/* The program's handler runs with the program's mask: the interrupted mask,
 * plus sa_mask, plus SIGSEGV.  A signal outside it (SIGRTMIN) is delivered
 * at once inside the handler; one in sa_mask (SIGUSR2) waits. */
static volatile int rt_seen, usr2_seen;

static void count_rt(int sig)
{
	if (sig == SIGUSR2)
		usr2_seen++;
	else
		rt_seen++;
}

static void mask_handler(int sig, siginfo_t *info, void *uc)
{
	sigset_t now;

	(void)uc;
	w_out->sig = sig;
	w_out->code = info->si_code;
	w_out->addr = (unsigned long)info->si_addr - (unsigned long)hm_ro;
	w_out->nsig++;
	pthread_kill(pthread_self(), SIGRTMIN);
	pthread_kill(pthread_self(), SIGUSR2);
	w_out->v[1] = rt_seen;
	w_out->v[2] = usr2_seen;
	pthread_sigmask(SIG_BLOCK, NULL, &now);
	w_out->v[3] = sigismember(&now, SIGRTMIN);
	w_out->v[4] = sigismember(&now, SIGUSR2);
	w_out->v[5] = sigismember(&now, SIGUSR1);	/* blocked before the fault */
	w_out->v[6] = ((ucontext_t *)uc)->uc_sigmask.__val[0] & ~(1UL << (SIGSEGV - 1));
	siglongjmp(w_env, 1);
}

static void scenario_handler_mask(const struct world *w, struct outcome *out)
{
	struct sigaction sa = { 0 };
	sigset_t usr1;

	no_core();
	hm_ro = w->mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	signal(SIGRTMIN, count_rt);
	signal(SIGUSR2, count_rt);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	sa.sa_sigaction = mask_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	w->sigaction(SIGSEGV, &sa, NULL);
	out->v[0] = hm_ro[1];
	if (sigsetjmp(w_env, 1) == 0)
		hm_ro[1] = 1;
	out->v[7] = usr2_seen;	/* delivered once the handler's mask went */
}

Test(hmask, handler_runs_with_the_programs_own_mask, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_handler_mask);
	struct outcome *v = w_run(&vme_world, scenario_handler_mask);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.v[1], 1, "SIGRTMIN ran inside the handler");
	cr_assert_eq(h.v[2], 0, "SIGUSR2 waited");
	cr_assert_eq(h.v[7], 1);
	cr_assert_eq(h.code, SEGV_ACCERR);
	w_compare(&h, v, "the handler's signal mask");
}

/*
 * A real-time signal whose handler reads emulated memory, at ~20 kHz, while
 * the thread faults through a file page by page: the timer fires in the
 * middle of faults, and its handler must never run there.
 */
#define RT_PAGES	4096	/* the handler's region: one untouched page per tick */
#define SCAN_PAGES	8192	/* the file the thread faults through */
static volatile unsigned char *rt_region;
static volatile unsigned long rt_ticks, rt_in_fault, rt_bad;

static void rt_handler(int sig)
{
	(void)sig;
	if (host_trap_in_emulator())
		rt_in_fault++;
	unsigned long t = rt_ticks++;
	if (t < RT_PAGES && rt_region[t * PG + 3] != 0)	/* a fresh emulated fault */
		rt_bad++;
}

Test(hmask, realtime_signal_never_runs_inside_a_fault, .timeout = 120)
{
	int fd = pattern_file(SCAN_PAGES * PG, 0);
	volatile unsigned char *f = vme_mmap(NULL, SCAN_PAGES * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	struct sigevent sev = { 0 };
	struct itimerspec its = { { 0, 50000 }, { 0, 50000 } };	/* 20 kHz */
	struct sigaction sa = { 0 };
	timer_t timer;

	rt_region = vme_mmap(NULL, RT_PAGES * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(f, MAP_FAILED);
	cr_assert_neq(rt_region, MAP_FAILED);
	cr_assert_eq(vme_madvise((void *)f, SCAN_PAGES * PG, MADV_RANDOM), 0);	/* a fault per page */
	sa.sa_handler = rt_handler;
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(vme_sigaction(SIGRTMIN, &sa, NULL), 0);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGRTMIN;
	sev.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
	cr_assert_eq(timer_create(CLOCK_MONOTONIC, &sev, &timer), 0);
	cr_assert_eq(timer_settime(timer, 0, &its, NULL), 0);
	unsigned long faults0 = w_stats().pgfault, t0 = host_now_ns();
	for (int pass = 0; rt_ticks < RT_PAGES && host_now_ns() - t0 < 20000000000UL; pass++) {
		for (size_t i = 0; i < SCAN_PAGES; i++)
			cr_assert_eq(f[i * PG + (i % 97)], pattern_byte(i * PG + i % 97), "page %zu", i);
		cr_assert_eq(vme_madvise((void *)f, SCAN_PAGES * PG, MADV_DONTNEED), 0);
	}
	its.it_value.tv_nsec = 0;
	its.it_interval.tv_nsec = 0;
	timer_settime(timer, 0, &its, NULL);
	timer_delete(timer);
	cr_assert_gt(rt_ticks, 1000, "only %lu ticks", rt_ticks);
	cr_assert_gt(w_stats().pgfault - faults0, SCAN_PAGES + 1000, "faults in the scan and in the handler");
	cr_assert_eq(rt_bad, 0);
	cr_assert_eq(rt_in_fault, 0, "%lu of %lu ticks ran inside vmemu", rt_in_fault, rt_ticks);
}

