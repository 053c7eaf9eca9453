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

/*
 * The program's SIGSEGV handler touches emulated memory it never touched
 * before (a GC, a JIT, a crash reporter), then jumps back.  A second fault
 * after the jump must reach the handler again: the mask went with the jump.
 */
static volatile unsigned char *hm_file, *hm_anon, *hm_ro;

static void hm_handler(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	w_out->sig = sig;
	w_out->code = info->si_code;
	w_out->addr = (unsigned long)info->si_addr;
	w_out->nsig++;
	w_out->v[2 + w_out->nsig] = hm_file[(unsigned)w_out->nsig * PG + 5];	/* untouched until now */
	hm_anon[PG + w_out->nsig] = (char)(40 + w_out->nsig);			/* likewise */
	siglongjmp(w_env, 1);
}

static void scenario_handler_touches_emulated(const struct world *w, struct outcome *out)
{
	int fd = pattern_file(4 * PG, 0);
	struct sigaction sa = { 0 };

	no_core();
	hm_file = w->mmap(NULL, 4 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	hm_anon = w->mmap(NULL, 2 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	hm_ro = w->mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->madvise((void *)hm_file, 4 * PG, MADV_RANDOM))	/* one fault per page */
		_exit(2);
	sa.sa_sigaction = hm_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (w->sigaction(SIGSEGV, &sa, NULL))
		_exit(3);
	out->v[0] = hm_ro[7];				/* the read before the fault */
	if (sigsetjmp(w_env, 1) == 0)
		hm_ro[7] = 1;				/* SEGV_ACCERR */
	out->v[1] = out->code;
	out->v[5] = (long)(out->addr - (unsigned long)hm_ro);
	if (sigsetjmp(w_env, 1) == 0)
		*wild(40) = 1;				/* SEGV_MAPERR: the handler runs again */
	out->v[2] = hm_anon[PG + 1] + hm_anon[PG + 2];
}

Test(hmask, sigsegv_handler_can_touch_emulated_memory, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_handler_touches_emulated);
	struct outcome *v = w_run(&vme_world, scenario_handler_touches_emulated);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.nsig, 2);
	cr_assert_eq(h.v[1], SEGV_ACCERR);
	cr_assert_eq(h.v[5], 7);
	cr_assert_eq(h.code, SEGV_MAPERR);
	cr_assert_eq(h.addr, 40);
	cr_assert_eq(h.v[3], pattern_byte(PG + 5));
	cr_assert_eq(h.v[4], pattern_byte(2 * PG + 5));
	w_compare(&h, v, "a SIGSEGV handler that reads and writes untouched emulated pages");
}

/* A GC's write barrier: the handler unprotects the page and returns, and
 * the store goes through.  It also reads a page nobody touched yet. */
static volatile unsigned char *gc_page, *gc_other;
static const struct world *gc_world;

static void gc_handler(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	w_out->sig = sig;
	w_out->code = info->si_code;
	w_out->addr = (unsigned long)info->si_addr - (unsigned long)gc_page;
	w_out->nsig++;
	w_out->v[w_out->nsig] = gc_other[(unsigned)w_out->nsig * PG];
	if (gc_world->mprotect((void *)gc_page, PG, RW))
		_exit(4);
}

static void scenario_write_barrier(const struct world *w, struct outcome *out)
{
	int fd = pattern_file(4 * PG, 0);
	struct sigaction sa = { 0 };

	no_core();
	gc_world = w;
	gc_page = w->mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gc_other = w->mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, fd, 0);
	w->madvise((void *)gc_other, 4 * PG, MADV_RANDOM);
	sa.sa_sigaction = gc_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (w->sigaction(SIGSEGV, &sa, NULL))
		_exit(3);
	out->v[5] = gc_page[9];		/* read before: 0 */
	for (int round = 0; round < 3; round++) {
		gc_page[9] = (char)(10 + round);	/* faults; the handler unprotects */
		out->v[6 + round] = gc_page[9];
		if (w->mprotect((void *)gc_page, PG, PROT_READ))
			_exit(5);
	}
}

Test(hmask, handler_that_unprotects_and_returns_like_a_gc, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_write_barrier);
	struct outcome *v = w_run(&vme_world, scenario_write_barrier);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.nsig, 3);
	cr_assert_eq(h.code, SEGV_ACCERR);
	cr_assert_eq(h.addr, 9);
	cr_assert_eq(h.v[8], 12);
	w_compare(&h, v, "a handler that reads emulated memory, unprotects and returns");
}

/* Inside the handler SIGSEGV is blocked: a fault there that is really the
 * program's (not vmemu's) kills the process, as the kernel's force-delivery
 * of a blocked SIGSEGV does.  The emulated read before it goes through. */
static void nested_foreign_handler(int sig, siginfo_t *info, void *uc)
{
	(void)sig, (void)uc;
	w_out->code = info->si_code;
	w_out->addr = (unsigned long)info->si_addr - (unsigned long)hm_ro;
	w_out->v[1] = hm_file[PG + 3];
	w_out->nsig++;
	*wild(48) = 1;
	w_out->v[2] = 1;	/* never: the process is dead */
}

static void scenario_foreign_fault_in_handler(const struct world *w, struct outcome *out)
{
	int fd = pattern_file(2 * PG, 0);
	struct sigaction sa = { 0 };

	no_core();
	hm_file = w->mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	hm_ro = w->mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sa.sa_sigaction = nested_foreign_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	w->sigaction(SIGSEGV, &sa, NULL);
	out->v[0] = hm_ro[0] + 1;
	hm_ro[0] = 1;
}

Test(hmask, foreign_fault_inside_the_handler_kills_as_linux, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_foreign_fault_in_handler);
	struct outcome *v = w_run(&vme_world, scenario_foreign_fault_in_handler);

	cr_assert(WIFSIGNALED(h.status) && WTERMSIG(h.status) == SIGSEGV, "host: %s", w_status(h.status));
	cr_assert_eq(h.v[0], 1);
	cr_assert_eq(h.v[1], pattern_byte(PG + 3));
	cr_assert_eq(h.code, SEGV_ACCERR);
	w_compare(&h, v, "a foreign fault inside a SIGSEGV handler");
}

/* SIGBUS is blocked in the program's SIGBUS handler: another page past end
 * of file read there kills with SIGBUS, as the kernel forces it. */
static void bus_in_bus_handler(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	w_out->sig = sig;
	w_out->code = info->si_code;
	w_out->addr = (unsigned long)info->si_addr - (unsigned long)hm_file;
	w_out->nsig++;
	w_out->v[1] = hm_file[5];		/* an emulated read that works */
	w_out->v[2] = hm_file[2 * PG + 9];	/* past end of file again */
	w_out->v[3] = 1;			/* never */
}

static void scenario_sigbus_in_sigbus_handler(const struct world *w, struct outcome *out)
{
	int fd = pattern_file(PG, 0);
	struct sigaction sa = { 0 };

	no_core();
	hm_file = w->mmap(NULL, 3 * PG, PROT_READ, MAP_SHARED, fd, 0);
	sa.sa_sigaction = bus_in_bus_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	w->sigaction(SIGBUS, &sa, NULL);
	out->v[0] = hm_file[PG - 1];
	(void)hm_file[PG + 3];
}

Test(hmask, sigbus_inside_the_sigbus_handler_kills_as_linux, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_sigbus_in_sigbus_handler);
	struct outcome *v = w_run(&vme_world, scenario_sigbus_in_sigbus_handler);

	cr_assert(WIFSIGNALED(h.status) && WTERMSIG(h.status) == SIGBUS, "host: %s", w_status(h.status));
	cr_assert_eq(h.v[0], pattern_byte(PG - 1));
	cr_assert_eq(h.code, BUS_ADRERR);
	cr_assert_eq(h.addr, PG + 3);
	cr_assert_eq(h.v[1], pattern_byte(5));
	w_compare(&h, v, "a SIGBUS inside the SIGBUS handler");
}

/* SIGSEGV stays blocked in a SIGBUS handler that runs inside the SIGSEGV
 * handler: a foreign fault there kills. */
static void segv_then_bus_segv(int sig, siginfo_t *info, void *uc)
{
	(void)sig, (void)uc;
	w_out->code = info->si_code;
	w_out->addr = (unsigned long)info->si_addr - (unsigned long)hm_ro;
	w_out->nsig++;
	w_out->v[1] = hm_file[PG + 1];		/* SIGBUS: past end of file */
	w_out->v[4] = 1;			/* never */
}

static void segv_then_bus_bus(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	w_out->sig = sig;
	w_out->v[2] = info->si_code;
	w_out->v[3] = (long)((unsigned long)info->si_addr - (unsigned long)hm_file);
	w_out->nsig++;
	w_out->v[5] = hm_file[7];		/* emulated, fine */
	*wild(88) = 1;				/* SIGSEGV is still blocked: death */
	w_out->v[6] = 1;			/* never */
}

static void scenario_segv_then_bus(const struct world *w, struct outcome *out)
{
	int fd = pattern_file(PG, 0);
	struct sigaction sa = { 0 };

	no_core();
	hm_file = w->mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	hm_ro = w->mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sa.sa_sigaction = segv_then_bus_segv;
	w->sigaction(SIGSEGV, &sa, NULL);
	sa.sa_sigaction = segv_then_bus_bus;
	w->sigaction(SIGBUS, &sa, NULL);
	out->v[0] = hm_ro[3] + 1;
	hm_ro[3] = 1;
}

Test(hmask, sigsegv_stays_blocked_in_a_sigbus_handler_inside_the_sigsegv_handler, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_segv_then_bus);
	struct outcome *v = w_run(&vme_world, scenario_segv_then_bus);

	cr_assert(WIFSIGNALED(h.status) && WTERMSIG(h.status) == SIGSEGV, "host: %s", w_status(h.status));
	cr_assert_eq(h.nsig, 2);
	cr_assert_eq(h.code, SEGV_ACCERR);
	cr_assert_eq(h.addr, 3);
	cr_assert_eq(h.sig, SIGBUS);
	cr_assert_eq(h.v[2], BUS_ADRERR);
	cr_assert_eq(h.v[3], PG + 1);
	cr_assert_eq(h.v[5], pattern_byte(7));
	w_compare(&h, v, "a foreign fault in a SIGBUS handler inside the SIGSEGV handler");
}

/* SA_NODEFER: SIGSEGV is not blocked in the handler, so a foreign fault
 * there runs the handler again, nested. */
static volatile int nodefer_depth;

static void nodefer_handler(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	w_out->sig = sig;
	w_out->code = info->si_code;
	w_out->addr = (unsigned long)info->si_addr;
	w_out->nsig++;
	w_out->v[3 + w_out->nsig] = hm_file[(unsigned)w_out->nsig * PG];
	if (nodefer_depth++ == 0)
		*wild(56) = 1;
	siglongjmp(w_env, 1);
}

static void scenario_nodefer(const struct world *w, struct outcome *out)
{
	int fd = pattern_file(4 * PG, 0);
	struct sigaction sa = { 0 };

	no_core();
	hm_file = w->mmap(NULL, 4 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	w->madvise((void *)hm_file, 4 * PG, MADV_RANDOM);
	sa.sa_sigaction = nodefer_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	w->sigaction(SIGSEGV, &sa, NULL);
	if (sigsetjmp(w_env, 1) == 0)
		*wild(64) = 1;
	out->v[0] = 1;
}

Test(hmask, nodefer_handler_sees_a_nested_fault, .timeout = 30)
{
	struct outcome h = *w_run(&host_world, scenario_nodefer);
	struct outcome *v = w_run(&vme_world, scenario_nodefer);

	cr_assert_eq(h.status, 0, "host: %s", w_status(h.status));
	cr_assert_eq(h.nsig, 2);
	cr_assert_eq(h.addr, 56);
	cr_assert_eq(h.code, SEGV_MAPERR);
	w_compare(&h, v, "an SA_NODEFER handler faulting again");
}

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
	cr_assert_eq(vme_madvise((void *)rt_region, RT_PAGES * PG, MADV_RANDOM), 0);	/* no anonymous fault-around */
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

