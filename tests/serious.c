/*
 * serious.c - libsigsegv calls its handler a second time, with serious = 1,
 * after the first call declined.  vmemu handles a fault once: a fault it
 * declines (no program handler, or SIGSEGV blocked) is counted once and
 * then kills, as the kernel's would.
 *
 * The child is traced, so its counters can be read at each SIGSEGV, even
 * the one that kills it.
 */
#include <sys/ptrace.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <vmemu.h>

#include "host/host.h"
#include "mm/mm.h"
#include "mm/vmstat.h"
#include "testutil.h"
#include "worlds.h"

#define RW (PROT_READ | PROT_WRITE)

/* Counters and siginfo of a child at each SIGSEGV, seen from a tracer. */
struct segv_stops {
	int n;				/* SIGSEGV stops seen */
	siginfo_t si[4];
	unsigned long ev[4][3];		/* foreign_fault, sigsegv_delivered, pgfault */
	int status;
};

static unsigned long peek(pid_t pid, const void *addr)
{
	errno = 0;
	long v = ptrace(PTRACE_PEEKDATA, pid, addr, NULL);
	return errno ? ~0UL : (unsigned long)v;
}

/* Run setup() then, stopped and traced, fault() in a child, and follow it to
 * its end: at each SIGSEGV stop (before the signal reaches the child) read
 * the siginfo and vmemu's counters.  The process runs on as it would: each
 * SIGSEGV is passed on. */
static void follow_segvs(void (*setup)(void), void (*fault)(void), struct segv_stops *t)
{
	memset(t, 0, sizeof(*t));
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		no_core();
		setup();
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		raise(SIGSTOP);
		fault();
		_exit(0);
	}
	for (;;) {
		int st;
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		if (!WIFSTOPPED(st)) {
			t->status = st;
			return;
		}
		int sig = WSTOPSIG(st);
		if (sig == SIGSEGV && t->n < 4) {
			ptrace(PTRACE_GETSIGINFO, pid, NULL, &t->si[t->n]);
			t->ev[t->n][0] = peek(pid, &vm_events[EV_foreign_fault]);
			t->ev[t->n][1] = peek(pid, &vm_events[EV_sigsegv_delivered]);
			t->ev[t->n][2] = peek(pid, &vm_events[EV_pgfault]);
			t->n++;
		} else if (sig == SIGSEGV) {
			kill(pid, SIGKILL);	/* looping */
		}
		ptrace(PTRACE_CONT, pid, NULL, (void *)(long)(sig == SIGSTOP ? 0 : sig));
	}
}

#define FIXED_AT ((char *)0x230000000000UL)
static const struct world *trace_world;

static void setup_ro_page(void)
{
	char *p = trace_world->mmap(FIXED_AT, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != FIXED_AT || *(volatile char *)p != 0)	/* the read before goes through */
		_exit(9);
}

static void write_ro_page(void)
{
	*(volatile char *)(FIXED_AT + 17) = 1;
}

static void write_wild(void)
{
	*wild(72) = 1;
}

/* The fatal SIGSEGV as the host gives it, against vmemu's: the same
 * signal, si_code, si_addr and death; vmemu counts the fault once. */
static void compare_fatal(void (*setup)(void), void (*fault)(void), int code, void *addr, int ev)
{
	struct segv_stops h, v;

	trace_world = &host_world;
	follow_segvs(setup, fault, &h);
	trace_world = &vme_world;
	follow_segvs(setup, fault, &v);
	cr_assert(WIFSIGNALED(h.status) && WTERMSIG(h.status) == SIGSEGV, "host: %s", w_status(h.status));
	cr_assert_eq(h.n, 1);
	cr_assert_eq(h.si[0].si_code, code);
	cr_assert_eq(h.si[0].si_addr, addr);
	cr_assert_eq(v.status, h.status, "vmemu's child: %s", w_status(v.status));
	/* vmemu sees the fault, declines it, and the access runs again into
	 * the default action: two stops, the same siginfo both times. */
	cr_assert_eq(v.n, 2, "%d SIGSEGV stops", v.n);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(v.si[i].si_code, code, "stop %d", i);
		cr_assert_eq(v.si[i].si_addr, addr, "stop %d", i);
	}
	cr_assert_eq(v.ev[1][ev] - v.ev[0][ev], 1, "counted %lu times (foreign %lu, delivered %lu, pgfault %lu)",
		     v.ev[1][ev] - v.ev[0][ev], v.ev[1][0] - v.ev[0][0], v.ev[1][1] - v.ev[0][1],
		     v.ev[1][2] - v.ev[0][2]);
	cr_assert_eq(v.ev[1][1] - v.ev[0][1], 1, "sigsegv_delivered");
}

Test(serious, unhandled_foreign_fault_is_counted_once_and_kills, .timeout = 30)
{
	compare_fatal(setup_ro_page, write_wild, SEGV_MAPERR, (void *)72, 0);
}

Test(serious, unhandled_write_to_read_only_page_is_handled_once_and_kills, .timeout = 30)
{
	compare_fatal(setup_ro_page, write_ro_page, SEGV_ACCERR, FIXED_AT + 17, 2);
}

static volatile int foreign_calls;
static sigjmp_buf foreign_env;
static volatile siginfo_t foreign_info;

static void foreign_handler(int sig, siginfo_t *info, void *uc)
{
	(void)sig, (void)uc;
	foreign_calls++;
	foreign_info = *info;
	siglongjmp(foreign_env, 1);
}

Test(serious, foreign_fault_runs_the_handler_once_and_counts_once, .timeout = 30)
{
	volatile char *p = vme_mmap(NULL, PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sigaction sa = { 0 };

	sa.sa_sigaction = foreign_handler;
	sa.sa_flags = SA_SIGINFO;
	cr_assert_eq(vme_sigaction(SIGSEGV, &sa, NULL), 0);
	p[0] = 1;
	struct vme_stats s0 = w_stats();
	if (sigsetjmp(foreign_env, 1) == 0) {
		*wild(80) = 1;
		cr_assert_fail("the wild store went through");
	}
	struct vme_stats s1 = w_stats();
	cr_assert_eq(p[0], 1, "the access before went through");
	cr_assert_eq(foreign_calls, 1);
	cr_assert_eq(foreign_info.si_code, SEGV_MAPERR);
	cr_assert_eq(foreign_info.si_addr, (void *)80);
	cr_assert_eq(s1.foreign_fault - s0.foreign_fault, 1);
	cr_assert_eq(s1.sigsegv_delivered - s0.sigsegv_delivered, 1);
	cr_assert_eq(s1.pgfault, s0.pgfault, "not an emulated fault");
}

