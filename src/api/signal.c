/*
 * signal.c - vme_sigaction and vme_signal.
 *
 * vmemu owns the host SIGSEGV handler.  The program's SIGSEGV disposition is
 * kept by the trap, which delivers to it exactly the faults the kernel would
 * have delivered.  Every other signal goes straight to the host.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include <vmemu.h>
#include "api/api.h"
#include "host/host.h"
#include "mm/mm.h"

VME_EXPORT int vme_sigaction(int signum, const struct sigaction *act, struct sigaction *oldact)
{
	struct sigaction copy, old;
	struct vme_call call;
	int r;

	/* The kernel copies the structures in and out, so bad pointers are
	 * EFAULT, not a crash, for every signal. */
	if ((r = vme_enter(&call)))
		return api_ret(r);
	if (act)
		r = copy_from_user(&init_mm, &copy, act, sizeof(copy));
	if (!r && signum == SIGSEGV)
		host_trap_sigaction(act ? &copy : NULL, &old);
	else if (!r)
		r = host_pass_sigaction(signum, act ? &copy : NULL, &old);
	if (!r && oldact)
		r = copy_to_user(&init_mm, oldact, &old, sizeof(old));
	vme_leave(&call);
	return api_ret(r);
}

/* signal() with glibc's semantics: BSD (the handler stays, the signal is
 * blocked in it, system calls restart) or, for sysv, System V (the handler
 * is reset when it runs and the signal not blocked in it).  SIGSEGV is the
 * trap's; any other signal is the host's, as signal() would set it, with
 * vmemu not initialised for it. */
api_sighandler_t api_signal(int signum, api_sighandler_t handler, bool sysv)
{
	struct sigaction act, old;

	if (handler == SIG_ERR || signum < 1 || signum >= NSIG) {
		errno = EINVAL;
		return SIG_ERR;
	}
	memset(&act, 0, sizeof(act));
	act.sa_handler = handler;
	sigemptyset(&act.sa_mask);
	if (sysv) {
		act.sa_flags = SA_RESETHAND | SA_NODEFER;
	} else {
		sigaddset(&act.sa_mask, signum);
		act.sa_flags = SA_RESTART;
	}
	if (signum != SIGSEGV) {
		int r = host_pass_sigaction(signum, &act, &old);
		if (r) {
			errno = -r;
			return SIG_ERR;
		}
	} else if (vme_sigaction(signum, &act, &old) < 0) {
		return SIG_ERR;
	}
	return old.sa_handler;
}

VME_EXPORT vme_sighandler_t vme_signal(int signum, vme_sighandler_t handler)
{
	return api_signal(signum, handler, false);
}
