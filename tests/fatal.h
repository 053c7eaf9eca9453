/*
 * fatal.h - tests that end in the signal that kills them (Criterion's
 * .signal = SIGSEGV or SIGBUS).  ".signal = SIGSEGV" alone would pass if the
 * trap were broken and the first touch of an emulated page killed the
 * process, so the scenario runs in a child first, where the parent can see
 * how far it got and what killed it:
 *
 *   static void body(void)
 *   {
 *           ... map p ...
 *           expect_fatal(SIGSEGV, SEGV_ACCERR, p);
 *           REQUIRE(p[0] == 0);	the accesses that must work
 *           fatal_arm();		right before the fatal access
 *           p[0] = 1;
 *   }
 *   Test(x, y, .signal = SIGSEGV) { run_fatal(body); }
 *
 * run_fatal checks in the child that every REQUIRE held, that the signal
 * came after fatal_arm, that the program's handler saw it with the expected
 * si_code and si_addr, and that the child then died of it; then it runs
 * the body again in the test's own process, which dies for .signal.  The
 * handler is installed with SA_RESETHAND: it records and returns, and the
 * access, run again, meets the default action.
 */
#ifndef VMEMU_TESTS_FATAL_H
#define VMEMU_TESTS_FATAL_H

#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vmemu.h>

/* What the scenario and its handler saw, in memory a child shares. */
struct fatal_state {
	int want_sig, want_code;
	const volatile void *want_addr;
	int armed;		/* fatal_arm() was reached */
	int failed_line;	/* a REQUIRE that did not hold */
	int sig, code;		/* what the handler saw */
	const void *addr;
	int early;		/* a signal before fatal_arm */
};

static struct fatal_state fatal_local, *fatal = &fatal_local;

/* Inside a scenario: a condition that must hold (no Criterion in a child). */
#define REQUIRE(cond) do { if (!(cond)) { fatal->failed_line = __LINE__; _exit(6); } } while (0)

static inline void fatal_check(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	if (!fatal->armed) {
		fatal->early = sig;
		_exit(3);
	}
	fatal->sig = sig;
	fatal->code = info->si_code;
	fatal->addr = info->si_addr;
}

static inline void expect_fatal(int sig, int code, const volatile void *addr)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fatal_check;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	fatal->want_sig = sig;
	fatal->want_code = code;
	fatal->want_addr = addr;
	REQUIRE(vme_sigaction(SIGSEGV, &sa, NULL) == 0 && vme_sigaction(SIGBUS, &sa, NULL) == 0);
}

static inline void fatal_arm(void)
{
	fatal->armed = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static inline void run_fatal(void (*body)(void))
{
	struct fatal_state *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int status;

	cr_assert_neq(sh, MAP_FAILED);
	memset(sh, 0, sizeof(*sh));
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct rlimit none = { 0, 0 };
		setrlimit(RLIMIT_CORE, &none);
		fatal = sh;
		body();
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(sh->failed_line, 0, "REQUIRE at line %d did not hold", sh->failed_line);
	cr_assert_eq(sh->early, 0, "signal %d before the last access", sh->early);
	cr_assert(sh->armed, "the child died before the last access (status %#x)", status);
	cr_assert_eq(sh->sig, sh->want_sig, "the handler saw signal %d", sh->sig);
	cr_assert_eq(sh->code, sh->want_code, "si_code %d", sh->code);
	cr_assert_eq(sh->addr, (const void *)sh->want_addr, "si_addr %p, wanted %p", sh->addr,
		     (const void *)sh->want_addr);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == sh->want_sig, "the child ended with status %#x",
		  status);
	munmap(sh, sizeof(*sh));
	body();		/* again, to die of it here */
}

#endif /* VMEMU_TESTS_FATAL_H */
