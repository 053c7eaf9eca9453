/*
 * signals.c - faults the kernel would turn into signals, and the program's
 * own handlers.
 */
#include <criterion/criterion.h>
#include <setjmp.h>
#include <signal.h>
#include <vmemu.h>

#include "host/host.h"
#include "testutil.h"

static volatile int *wild(unsigned long addr);

/* --- the process dies as it would without vmemu --- */

Test(signals, write_to_read_only_page_is_sigsegv, .signal = SIGSEGV)
{
	volatile char *p = vme_mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	(void)p[0];
	p[0] = 1;
}

Test(signals, write_to_untouched_read_only_page_is_sigsegv, .signal = SIGSEGV)
{
	int fd = pattern_file(PG, 0);
	volatile char *p = vme_mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	p[0] = 1;
}

Test(signals, prot_none_is_sigsegv, .signal = SIGSEGV)
{
	volatile char *p = vme_mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	(void)p[0];
}

Test(signals, mprotect_read_only_then_write_is_sigsegv, .signal = SIGSEGV)
{
	volatile char *p = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p[0] = 1;
	cr_assert_eq(vme_mprotect((void *)p, PG, PROT_READ), 0);
	cr_assert_eq(p[0], 1);
	p[0] = 2;
}

Test(signals, access_after_munmap_is_sigsegv, .signal = SIGSEGV)
{
	volatile char *p = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p[0] = 1;
	cr_assert_eq(vme_munmap((void *)p, PG), 0);
	p[0] = 2;
}

Test(signals, fault_outside_every_mapping_still_kills, .signal = SIGSEGV)
{
	cr_assert_neq(vme_mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), MAP_FAILED);
	*wild(16) = 1;
}

Test(signals, page_wholly_past_eof_is_sigbus, .signal = SIGBUS)
{
	int fd = pattern_file(PG + 10, 0);
	volatile char *p = vme_mmap(NULL, 3 * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_eq(p[PG + 9], (char)pattern_byte(PG + 9));
	(void)p[2 * PG];
}

static ssize_t eio_pread(int fd, void *buf, size_t len, off_t off)
{
	(void)fd, (void)buf, (void)len, (void)off;
	errno = EIO;
	return -1;
}

Test(signals, io_error_while_filling_is_sigbus, .signal = SIGBUS)
{
	int fd = pattern_file(PG, 0);
	volatile char *p = vme_mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0);
	host_sys.pread = eio_pread;
	(void)p[0];
}

/* --- the program's own handlers --- */

/* An address no mapping covers, hidden from the compiler's bounds checks. */
static volatile int *wild(unsigned long addr)
{
	volatile unsigned long a = addr;
	return (volatile int *)a;
}

static sigjmp_buf env;
static volatile siginfo_t seen;
static volatile int calls;

static void on_fault(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	calls++;
	seen = *info;
	siglongjmp(env, sig);
}

static void install(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(vme_sigaction(sig, &sa, NULL), 0);
}

Test(handlers, sigsegv_handler_gets_accerr_and_address_but_never_our_faults)
{
	int fd = pattern_file(16 * PG, 0);
	char *f = vme_mmap(NULL, 16 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	char *a = vme_mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	install(SIGSEGV);
	for (size_t i = 0; i < 16 * PG; i += PG) {	/* 32 emulated faults */
		a[i] = f[i];
	}
	cr_assert_eq(calls, 0, "the emulator's own faults are not the program's");
	if (sigsetjmp(env, 1) == 0) {
		f[PG + 5] = 1;
		cr_assert_fail("the write went through");
	}
	cr_assert_eq(calls, 1);
	cr_assert_eq(seen.si_signo, SIGSEGV);
	cr_assert_eq(seen.si_code, SEGV_ACCERR);
	cr_assert_eq(seen.si_addr, f + PG + 5);
	if (sigsetjmp(env, 1) == 0)
		*wild(24) = 1;
	cr_assert_eq(calls, 2);
	cr_assert_eq(seen.si_code, SEGV_MAPERR);
	cr_assert_eq(seen.si_addr, (void *)24);
	a[3] = 4;	/* faulting still works after siglongjmp out of a handler */
	cr_assert_eq(a[3], 4);
}

Test(handlers, sigbus_handler_gets_adrerr_and_exact_address)
{
	int fd = pattern_file(PG, 0);
	char *p = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	install(SIGBUS);
	if (sigsetjmp(env, 1) == 0) {
		(void)*(volatile char *)(p + PG + 77);
		cr_assert_fail("no SIGBUS");
	}
	cr_assert_eq(seen.si_signo, SIGBUS);
	cr_assert_eq(seen.si_code, BUS_ADRERR);
	cr_assert_eq(seen.si_addr, p + PG + 77);
	cr_assert_eq(vme_madvise(p, 2 * PG, MADV_DONTNEED), 0);
	cr_assert_eq(p[1], (char)pattern_byte(1), "the rest of the mapping still works");
}

static void count_and_fix(int sig)
{
	(void)sig;
	calls++;
}

Test(handlers, handler_that_returns_sees_the_fault_again_until_fixed)
{
	char *p = vme_mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sigaction sa = { 0 }, old;
	sa.sa_handler = count_and_fix;
	sa.sa_flags = SA_RESETHAND;
	cr_assert_eq(vme_sigaction(SIGSEGV, &sa, NULL), 0);
	cr_assert_eq(vme_sigaction(SIGSEGV, NULL, &old), 0);
	cr_assert_eq(old.sa_handler, count_and_fix);
	pid_t pid = fork();
	if (pid == 0) {
		p[0] = 1;	/* handler once, then SA_RESETHAND: the default kills */
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "status %#x", status);
}

Test(handlers, signal_returns_previous_handler)
{
	cr_assert_eq(vme_signal(SIGSEGV, count_and_fix), SIG_DFL);
	cr_assert_eq(vme_signal(SIGSEGV, SIG_DFL), count_and_fix);
	cr_assert_eq(vme_signal(SIGUSR1, count_and_fix), SIG_DFL, "other signals pass through");
	raise(SIGUSR1);
	cr_assert_eq(calls, 1);
	errno = 0;
	cr_assert_eq(vme_signal(SIGKILL, count_and_fix), SIG_ERR);
	cr_assert_eq(errno, EINVAL);
}

Test(handlers, sigaction_rejects_bad_pointers_like_linux)
{
	errno = 0;
	cr_assert_eq(vme_sigaction(SIGSEGV, (struct sigaction *)8, NULL), -1);
	cr_assert_eq(errno, EFAULT);
	errno = 0;
	cr_assert_eq(vme_sigaction(SIGSEGV, NULL, (struct sigaction *)8), -1);
	cr_assert_eq(errno, EFAULT);
}

Test(handlers, shutdown_gives_sigsegv_back_to_the_program, .signal = SIGSEGV)
{
	install(SIGSEGV);
	cr_assert_eq(vme_shutdown(), 0);
	if (sigsetjmp(env, 1) == 0)
		*wild(32) = 1;
	cr_assert_eq(calls, 1, "the program's handler is the host handler again");
	struct sigaction dfl = { 0 };
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGSEGV, &dfl, NULL);
	*wild(32) = 1;
}

Test(handlers, write_to_a_read_only_page_past_eof_is_sigsegv_even_after_sigbus)
{
	int fd = pattern_file(PG, 0);
	volatile char *p = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	install(SIGBUS);
	install(SIGSEGV);
	if (sigsetjmp(env, 1) == 0)
		(void)p[PG];
	cr_assert_eq(seen.si_signo, SIGBUS);
	if (sigsetjmp(env, 1) == 0)
		p[PG] = 1;
	cr_assert_eq(seen.si_signo, SIGSEGV, "the protection is checked first, as by the kernel");
	cr_assert_eq(seen.si_code, SEGV_ACCERR);
}
