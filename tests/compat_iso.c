/*
 * compat_iso.c - a strict ISO C program (built with -std=c11 -pedantic and
 * no feature macro, see the Makefile), where glibc's signal is
 * __sysv_signal, which resets the handler once it has run.  Under
 * vmemu/compat.h signal must be vme_signal, whose handler stays (BSD
 * semantics).
 */
#include <criterion/criterion.h>
#include <signal.h>

#include "vme_support.h"

static volatile sig_atomic_t caught;

static void on_usr1(int sig)
{
	(void)sig;
	caught++;
}

Test(compat_iso, signal_is_vmemus_and_stays_installed)
{
	cr_assert((vme_fn)signal == vme_symbol("signal"), "signal is not vme_signal");
	cr_assert_neq(signal(SIGUSR1, on_usr1), SIG_ERR);
	raise(SIGUSR1);
	raise(SIGUSR1);		/* System V's signal would have reset it: death */
	cr_assert_eq(caught, 2);
}
