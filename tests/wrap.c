/*
 * wrap.c - the entries of the link-time switch-over (src/api/wrap.c) that
 * do more than call their vme_ function.
 *
 * glibc's signal is __sysv_signal in objects built as strict ISO C: System
 * V semantics, the handler reset to SIG_DFL as it runs.  vmemu-wrap must
 * redirect it (else such an object's signal(SIGSEGV, ...) displaces vmemu's
 * trap) and keep those semantics.
 */
#include <criterion/criterion.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <vmemu.h>

#include "testutil.h"

typedef void (*sighandler_fn)(int);
sighandler_fn __wrap___sysv_signal(int signum, sighandler_fn handler);

static sigjmp_buf back;
static volatile sig_atomic_t caught;

static void on_segv(int sig)
{
	(void)sig;
	caught++;
	siglongjmp(back, 1);
}

Test(wrap, sysv_signal_for_sigsegv_goes_through_vmemu_and_resets_once_run, .signal = SIGSEGV)
{
	char *emu = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(emu, MAP_FAILED);
	char *bad = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(bad, MAP_FAILED);
	cr_assert_eq(__wrap___sysv_signal(SIGSEGV, on_segv), SIG_DFL);
	struct sigaction now;
	cr_assert_eq(vme_sigaction(SIGSEGV, NULL, &now), 0);
	cr_assert_eq(now.sa_handler, on_segv, "the handler did not reach vmemu");
	emu[0] = 1;			/* vmemu's trap still serves emulated memory */
	if (!sigsetjmp(back, 1))
		*(volatile char *)bad = 1;
	cr_assert_eq(caught, 1);
	cr_assert_eq(emu[0], 1);
	cr_assert_eq(vme_sigaction(SIGSEGV, NULL, &now), 0);
	cr_assert_eq(now.sa_handler, SIG_DFL, "System V's signal resets the handler once it has run");
	*(volatile char *)bad = 1;	/* now the default: death by SIGSEGV */
}

Test(wrap, sysv_signal_for_another_signal_is_the_hosts)
{
	cr_assert_eq(__wrap___sysv_signal(SIGUSR1, SIG_IGN), SIG_DFL);
	struct sigaction now;
	cr_assert_eq(sigaction(SIGUSR1, NULL, &now), 0);
	cr_assert_eq(now.sa_handler, SIG_IGN);
	cr_assert(now.sa_flags & SA_RESETHAND);
}
