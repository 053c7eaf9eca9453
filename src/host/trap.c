/*
 * trap.c - the page-fault exception: SIGSEGV, caught with GNU libsigsegv.
 *
 * libsigsegv installs the catch-all SIGSEGV handler and hands us the fault
 * address.  In front of it sits a thin SA_SIGINFO entry that only records the
 * kernel's siginfo_t and ucontext for this thread, because libsigsegv does not
 * pass them on and a program's own SIGSEGV handler must receive the real ones.
 *
 * The entry blocks every signal but the synchronous ones while a fault is
 * emulated, so no other handler runs in the middle of one.
 *
 * Outcomes of a fault (enum host_fault):
 *  - handled: return and re-execute the access;
 *  - SIGSEGV: the program's handler (registered with vme_sigaction) is called
 *    with the kernel's siginfo and ucontext, with the signal mask the kernel
 *    would have set (SIGSEGV in it kept virtual, see run_handler); with no
 *    handler, or SIGSEGV blocked for the program, the fault is declined:
 *    libsigsegv resets SIGSEGV to SIG_DFL and the re-executed access kills
 *    the process with a real SIGSEGV and a core;
 *  - SIGBUS: the program's SIGBUS handler (set with sigaction or
 *    vme_sigaction) is called with BUS_ADRERR, the exact address and the
 *    kernel's ucontext of the fault; with no handler, or SIGBUS blocked, the
 *    process dies of SIGBUS.  Nothing stays behind, so the next access tries
 *    again, as on Linux after a transient I/O error.
 *
 * Everything here that runs in the handler is async-signal-safe.
 */
#include <errno.h>
#include <sigsegv.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "host/host.h"
#include "host/sysret.h"


static host_fault_fn fault_fn;
/* The emulated kernel's test for addresses it keeps reserved on the host but
 * that are unmapped for the program (set once; handler-safe). */
static bool (*unmapped_fn)(unsigned long addr);
static struct sigaction libsigsegv_act;	/* what sigsegv_install_handler set */

/* The program's SIGSEGV disposition, as vme_sigaction sees it, under a
 * sequence count: even while it is stable, odd while a writer copies it.
 * Readers copy it and retry if the count moved.  A writer makes the count
 * odd with a compare-and-swap from the even value it saw (that is the writer
 * lock), copies, and makes it even again.  The handler's SA_RESETHAND reset
 * is such a writer, one that wins only if the count is still the one it read
 * the disposition under: the read and the reset are one step, as the
 * kernel's reset under its siglock at delivery.  No writer can be interrupted
 * by a handler of its own thread while it holds the count odd: vme_sigaction
 * copies the program's structure in first and blocks asynchronous signals,
 * and the handler's reset stores only vmemu's own memory. */
static struct sigaction user_act;
static unsigned user_seq;

static __thread const siginfo_t *tls_info __attribute__((tls_model("initial-exec")));
static __thread void *tls_uc __attribute__((tls_model("initial-exec")));
static __thread int tls_in_fault __attribute__((tls_model("initial-exec")));
static __thread int tls_in_emulator __attribute__((tls_model("initial-exec")));
/* How often libsigsegv has called on_sigsegv for the fault being handled. */
static __thread int tls_calls __attribute__((tls_model("initial-exec")));

/* Every signal but those a faulting instruction raises (the kernel kills a
 * thread that has these blocked when they arise). */
static void all_but_synchronous(sigset_t *set)
{
	static const int sync[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS };

	sigfillset(set);
	for (size_t i = 0; i < sizeof(sync) / sizeof(sync[0]); i++)
		sigdelset(set, sync[i]);
}

/* handler-safe: copy the disposition; returns the (even) count it was read
 * under. */
static unsigned read_user_act(struct sigaction *out)
{
	unsigned seq;

	do {
		while ((seq = __atomic_load_n(&user_seq, __ATOMIC_ACQUIRE)) & 1)
			host_yield();
		memcpy(out, &user_act, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while (__atomic_load_n(&user_seq, __ATOMIC_RELAXED) != seq);
	return seq;
}

/* handler-safe: take the writer side if the count is still seq (even). */
static bool user_write_begin(unsigned seq)
{
	if (!__atomic_compare_exchange_n(&user_seq, &seq, seq + 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return false;
	__atomic_thread_fence(__ATOMIC_RELEASE);	/* odd before any byte changes */
	return true;
}

static void user_write_end(unsigned seq)
{
	__atomic_store_n(&user_seq, seq + 2, __ATOMIC_RELEASE);
}

/* Replace the disposition with *in (if in), the one replaced in *old (if
 * old), as one step.  Not in the handler: the caller's copies are its own
 * memory, and asynchronous signals are blocked or no emulated memory exists
 * yet (vme_init). */
static void exchange_user_act(const struct sigaction *in, struct sigaction *old)
{
	struct sigaction cur;

	for (;;) {
		unsigned seq = read_user_act(&cur);
		if (!in)
			break;
		if (!user_write_begin(seq))
			continue;
		memcpy(&user_act, in, sizeof(user_act));
		user_write_end(seq);
		break;
	}
	if (old)
		*old = cur;
}

/*
 * SIGSEGV in the program's mask is virtual.  Inside the program's SIGSEGV
 * handler the kernel blocks SIGSEGV; blocked for real, vmemu's own faults
 * there (the handler touching emulated memory, as a GC or a crash reporter
 * does) would be forced on the process by the kernel and kill it.  So the
 * handler runs with SIGSEGV unblocked, and vmemu remembers that it is
 * blocked for the program: its own faults go on being emulated, and a
 * fault it would deliver kills instead, as the kernel's forced delivery of
 * a blocked SIGSEGV does.
 *
 * The handler may leave by siglongjmp, and vmemu would not know.  So in
 * place of SIGSEGV it blocks SEGV_MARK, which whatever restores the mask on
 * the way out (siglongjmp, sigreturn, setcontext) unblocks again, and keeps
 * the stack address of the outermost such handler's frame: SIGSEGV is
 * blocked for the program while SEGV_MARK is blocked in the interrupted
 * context and that context runs below the frame.  SEGV_MARK is SIGSTKFLT,
 * which nothing sends (SIGPWR where there is none); it stays blocked while
 * such a handler runs.
 */
#ifdef SIGSTKFLT
#define SEGV_MARK	SIGSTKFLT
#else
#define SEGV_MARK	SIGPWR
#endif
static __thread unsigned long tls_segv_frame __attribute__((tls_model("initial-exec")));

/* handler-safe: the stack pointer of the interrupted context, or 0. */
static unsigned long interrupted_sp(const ucontext_t *uc)
{
#if defined(__x86_64__)
	return (unsigned long)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
	return (unsigned long)uc->uc_mcontext.sp;
#else
	(void)uc;
	return 0;
#endif
}

/* handler-safe: is SIGSEGV blocked for the program where the fault being
 * handled happened?  Forgets a handler left by a jump. */
static bool segv_blocked(void)
{
	const ucontext_t *uc = tls_uc;
	unsigned long sp;

	if (!tls_segv_frame)
		return false;
	if (sigismember(&uc->uc_sigmask, SEGV_MARK) == 1 &&
	    (!(sp = interrupted_sp(uc)) || sp < tls_segv_frame))
		return true;
	tls_segv_frame = 0;
	return false;
}

/* handler-safe: run handler act for sig as the kernel would have: mask =
 * interrupted mask | sa_mask | sig (unless SA_NODEFER), with SIGSEGV in it
 * kept virtual (above). */
static void run_handler(int sig, const struct sigaction *act, const siginfo_t *info)
{
	void *uc = tls_uc;
	sigset_t mask = ((ucontext_t *)uc)->uc_sigmask, saved;
	unsigned long outer_frame = tls_segv_frame;

	if (segv_blocked())
		sigaddset(&mask, SIGSEGV);
	for (int s = 1; s < NSIG; s++)
		if (sigismember(&act->sa_mask, s) == 1)
			sigaddset(&mask, s);
	if (!(act->sa_flags & SA_NODEFER))
		sigaddset(&mask, sig);
	if (sigismember(&mask, SIGSEGV) == 1) {
		sigdelset(&mask, SIGSEGV);
		sigaddset(&mask, SEGV_MARK);
		if (!tls_segv_frame)
			tls_segv_frame = (unsigned long)&mask;	/* the handler's frames are below */
	}
	host_sys.sigprocmask(SIG_SETMASK, &mask, &saved);
	if (act->sa_flags & SA_SIGINFO)
		act->sa_sigaction(sig, (siginfo_t *)info, uc);
	else
		act->sa_handler(sig);
	host_sys.sigprocmask(SIG_SETMASK, &saved, NULL);
	tls_segv_frame = outer_frame;
}

static bool is_default(const struct sigaction *act)
{
	/* the kernel forces death for an ignored fault signal too */
	return !(act->sa_flags & SA_SIGINFO) && (act->sa_handler == SIG_DFL || act->sa_handler == SIG_IGN);
}

/* handler-safe: the program's SIGSEGV disposition for one delivery, in
 * *act; false if it is the default (or ignored: the kernel forces death for
 * a fault signal).  A handler with SA_RESETHAND is reset to SIG_DFL in the
 * same step (the count it was read under must still hold, or the new
 * disposition is read again): two threads faulting at once run it once, and
 * a vme_sigaction racing the delivery is never undone by the reset. */
static bool claim_user_act(struct sigaction *act)
{
	for (;;) {
		unsigned seq = read_user_act(act);
		if (is_default(act))
			return false;
		if (!(act->sa_flags & SA_RESETHAND))
			return true;
		if (!user_write_begin(seq))
			continue;
		memset(&user_act, 0, sizeof(user_act));
		user_act.sa_handler = SIG_DFL;
		user_write_end(seq);
		return true;
	}
}

/* handler-safe: the program's SIGSEGV handler, with the kernel's siginfo.
 * Returns 0 if there is none, or if SIGSEGV is blocked (virtually) where
 * the fault happened: libsigsegv then lets the default kill, as the kernel
 * forces a blocked fault signal. */
static int deliver_sigsegv(void)
{
	bool (*unmapped)(unsigned long) = __atomic_load_n(&unmapped_fn, __ATOMIC_ACQUIRE);
	const siginfo_t *info = tls_info;
	struct sigaction act;
	siginfo_t maperr;

	if (segv_blocked() || !claim_user_act(&act))
		return 0;
	/* The host has the emulator's reservation there and says "no access";
	 * the program has nothing mapped there: "no mapping". */
	if (info->si_code == SEGV_ACCERR && unmapped && unmapped((unsigned long)info->si_addr)) {
		maperr = *info;
		maperr.si_code = SEGV_MAPERR;
		info = &maperr;
	}
	run_handler(SIGSEGV, &act, info);
	return 1;
}

/* handler-safe: make SIGBUS's host disposition the default, so that raising
 * it kills as the kernel's would; dies with vmemu's message if the host
 * refuses (the signal could otherwise reach a handler that must not run). */
static void sigbus_default(void)
{
	struct sigaction dfl;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	if (host_sys.sigaction(SIGBUS, &dfl, NULL))
		host_die("cannot reset SIGBUS to its default action to deliver a bus error");
}

/* handler-safe: SIGBUS at addr, as the kernel raises it for a page past end
 * of file or an I/O error: the program's handler, or death by SIGBUS if
 * there is none or SIGBUS is blocked where the fault happened.  If the
 * host will not say what the disposition is, no handler can be trusted
 * (act would be whatever the stack held): death by SIGBUS too, which is
 * what the kernel's forced delivery does when it cannot run a handler. */
static void deliver_sigbus(void *addr)
{
	const ucontext_t *uc = tls_uc;
	struct sigaction act;
	siginfo_t info;

	bool fatal = host_sys.sigaction(SIGBUS, NULL, &act) != 0 || is_default(&act) ||
		     sigismember(&uc->uc_sigmask, SIGBUS) == 1;
	if (fatal) {
		sigset_t bus;
		sigbus_default();
		sigemptyset(&bus);
		sigaddset(&bus, SIGBUS);
		host_sys.sigprocmask(SIG_UNBLOCK, &bus, NULL);
		host_sys.raise(SIGBUS);
		host_die("SIGBUS did not end the process");
	}
	if (act.sa_flags & SA_RESETHAND)
		sigbus_default();
	memset(&info, 0, sizeof(info));
	info.si_signo = SIGBUS;
	info.si_code = BUS_ADRERR;
	info.si_addr = addr;
	run_handler(SIGBUS, &act, &info);
}

/* handler-safe: the access type, from the page-fault error code the kernel
 * puts in the ucontext (REG_ERR: bit 1 write, bit 4 instruction fetch) when
 * the trap was a page fault (REG_TRAPNO 14). */
static enum host_access fault_access(void)
{
#if defined(__x86_64__)
	const ucontext_t *uc = tls_uc;

	if (!uc || uc->uc_mcontext.gregs[REG_TRAPNO] != 14)
		return HOST_ACCESS_UNKNOWN;
	greg_t err = uc->uc_mcontext.gregs[REG_ERR];
	if (err & 0x10)
		return HOST_ACCESS_EXEC;
	return (err & 0x2) ? HOST_ACCESS_WRITE : HOST_ACCESS_READ;
#else
	return HOST_ACCESS_UNKNOWN;
#endif
}

/* handler-safe: libsigsegv's callback.  Returns 1 if the fault is dealt
 * with (the access runs again, or the program's handler ran), 0 to decline:
 * libsigsegv then resets SIGSEGV to SIG_DFL and the access, run again,
 * kills the process as the kernel would.  After a decline libsigsegv calls
 * again with serious = 1; that second call is declined at once, so a fault
 * is emulated, counted and traced once. */
static int on_sigsegv(void *fault_address, int serious)
{
	(void)serious;
	if (tls_calls++)
		return 0;
	if (tls_in_fault || tls_in_emulator)
		host_die("page fault inside the emulator itself (a vmemu bug, or a "
			 "vme_ call passed an unpopulated emulated buffer)");
	tls_in_fault = 1;
	host_fault_fn fn = __atomic_load_n(&fault_fn, __ATOMIC_ACQUIRE);
	enum host_fault r = fn((unsigned long)fault_address, fault_access());
	tls_in_fault = 0;
	if (r == HOST_FAULT_SIGSEGV)
		return deliver_sigsegv();
	if (r == HOST_FAULT_SIGBUS)
		deliver_sigbus(fault_address);
	return 1;
}

static void trap_entry(int sig, siginfo_t *info, void *uc)
{
	int saved_errno = errno;
	const siginfo_t *outer_info = tls_info;
	void *outer_uc = tls_uc;
	int outer_calls = tls_calls;

	tls_info = info;
	tls_uc = uc;
	tls_calls = 0;
	libsigsegv_act.sa_sigaction(sig, info, uc);
	tls_info = outer_info;
	tls_uc = outer_uc;
	tls_calls = outer_calls;
	errno = saved_errno;
}

/* fn(addr) says whether addr, where the host has a mapping of the
 * emulator's, is unmapped for the program: a SIGSEGV there is delivered
 * with SEGV_MAPERR, as the kernel would give it.  fn is handler-safe. */
void host_trap_set_unmapped(bool (*fn)(unsigned long addr))
{
	__atomic_store_n(&unmapped_fn, fn, __ATOMIC_RELEASE);
}

/* Tests only: route every fault through fn from now on, which must call
 * the function it replaces (returned) to emulate it.  This is how a test
 * makes an interleaving happen at an exact point of the fault path. */
host_fault_fn host_trap_hook_fault(host_fault_fn fn)
{
	return __atomic_exchange_n(&fault_fn, fn, __ATOMIC_SEQ_CST);
}

int host_trap_install(host_fault_fn fn)
{
	struct sigaction prev, entry;

	__atomic_store_n(&fault_fn, fn, __ATOMIC_RELEASE);
	if (host_sys.sigaction(SIGSEGV, NULL, &prev))
		return -errno;
	if (sigsegv_install_handler(on_sigsegv))
		return -ENOTSUP;
	if (host_sys.sigaction(SIGSEGV, NULL, &libsigsegv_act))
		return -errno;
	/* The front entry blocks every signal but the synchronous ones while
	 * it emulates, as vme_ calls do: libsigsegv's own mask leaves out the
	 * real-time signals and more, whose handlers could run in the middle
	 * of a fault, touch emulated memory and find the emulator busy.  The
	 * program's handlers get the program's mask (run_handler). */
	memset(&entry, 0, sizeof(entry));
	entry.sa_sigaction = trap_entry;
	all_but_synchronous(&entry.sa_mask);
	entry.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART;
	if (host_sys.sigaction(SIGSEGV, &entry, NULL))
		return -errno;
	exchange_user_act(&prev, NULL);
	return 0;
}

/* Give SIGSEGV back to the program: its own disposition, as last set. */
void host_trap_uninstall(void)
{
	struct sigaction act;

	sigsegv_deinstall_handler();
	read_user_act(&act);
	host_sys.sigaction(SIGSEGV, &act, NULL);
}

/* vme_sigaction(SIGSEGV, ...): the program's disposition, kept for delivery. */
int host_trap_sigaction(const struct sigaction *act, struct sigaction *oldact)
{
	exchange_user_act(act, oldact);
	return 0;
}

/* vme_sigaction of any other signal: the host's, as the program asked. */
int host_pass_sigaction(int sig, const struct sigaction *act, struct sigaction *oldact)
{
	return SYSCALL_RET(host_sys.sigaction(sig, act, oldact));
}

/* Enter a vme_ call: block the asynchronous signals, so that no signal
 * handler can fault on emulated memory while this thread holds an emulator
 * lock (which would deadlock).  Synchronous faults stay deliverable, and one
 * raised by the emulator itself is reported as the bug it is. */
void host_trap_enter_emulator(sigset_t *saved)
{
	sigset_t all;

	all_but_synchronous(&all);
	host_sys.sigprocmask(SIG_BLOCK, &all, saved);
	tls_in_emulator++;
}

void host_trap_leave_emulator(const sigset_t *saved)
{
	tls_in_emulator--;
	host_sys.sigprocmask(SIG_SETMASK, saved, NULL);
}

bool host_trap_in_emulator(void)
{
	return tls_in_emulator || tls_in_fault;
}
