/*
 * signals.c - faults the kernel would turn into signals, and the program's
 * own handlers.
 */
#include <criterion/criterion.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/resource.h>
#include <vmemu.h>

#include "fatal.h"
#include "host/host.h"
#include "testutil.h"

static volatile int *wild(unsigned long addr);

/* --- the process dies as it would without vmemu ---
 *
 * Each test checks the signal that kills it (fatal.h): its si_code, its
 * si_addr, and that the accesses before it went through. */

static void ro_write(void)
{
	volatile char *p = vme_mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	expect_fatal(SIGSEGV, SEGV_ACCERR, p + 3);
	REQUIRE(p[3] == 0);
	fatal_arm();
	p[3] = 1;
}

Test(signals, write_to_read_only_page_is_sigsegv, .signal = SIGSEGV)
{
	run_fatal(ro_write);
}

static void ro_untouched_write(void)
{
	int fd = pattern_file(2 * PG, 0);
	volatile char *p = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	expect_fatal(SIGSEGV, SEGV_ACCERR, p + 5);
	REQUIRE(vme_madvise((void *)p, 2 * PG, MADV_RANDOM) == 0);	/* no fault-around */
	REQUIRE(p[PG] == (char)pattern_byte(PG));	/* the other page ... */
	fatal_arm();
	p[5] = 1;			/* ... not this one: untouched */
}

Test(signals, write_to_untouched_read_only_page_is_sigsegv, .signal = SIGSEGV)
{
	run_fatal(ro_untouched_write);
}

static void prot_none_read(void)
{
	volatile char *p = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	expect_fatal(SIGSEGV, SEGV_ACCERR, p + PG + 1);
	REQUIRE(p[PG + 1] == 0);
	REQUIRE(vme_mprotect((void *)(p + PG), PG, PROT_NONE) == 0);
	REQUIRE(p[0] == 0);		/* the page below keeps its protection */
	fatal_arm();
	(void)p[PG + 1];
}

Test(signals, prot_none_is_sigsegv, .signal = SIGSEGV)
{
	run_fatal(prot_none_read);
}

static void mprotect_then_write(void)
{
	volatile char *p = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	expect_fatal(SIGSEGV, SEGV_ACCERR, p);
	p[0] = 1;
	REQUIRE(vme_mprotect((void *)p, PG, PROT_READ) == 0);
	REQUIRE(p[0] == 1);
	fatal_arm();
	p[0] = 2;
}

Test(signals, mprotect_read_only_then_write_is_sigsegv, .signal = SIGSEGV)
{
	run_fatal(mprotect_then_write);
}

static void after_munmap(void)
{
	volatile char *p = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	expect_fatal(SIGSEGV, SEGV_MAPERR, p + 9);
	p[0] = 1;
	REQUIRE(p[0] == 1);
	REQUIRE(vme_munmap((void *)p, PG) == 0);
	fatal_arm();
	p[9] = 2;
}

Test(signals, access_after_munmap_is_sigsegv, .signal = SIGSEGV)
{
	run_fatal(after_munmap);
}

static void outside_every_mapping(void)
{
	volatile char *p = vme_mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	expect_fatal(SIGSEGV, SEGV_MAPERR, wild(16));
	REQUIRE(p[0] == 0);
	fatal_arm();
	*wild(16) = 1;
}

Test(signals, fault_outside_every_mapping_still_kills, .signal = SIGSEGV)
{
	run_fatal(outside_every_mapping);
}

static void past_eof(void)
{
	int fd = pattern_file(PG + 10, 0);
	volatile char *p = vme_mmap(NULL, 3 * PG, PROT_READ, MAP_SHARED, fd, 0);
	expect_fatal(SIGBUS, BUS_ADRERR, p + 2 * PG + 4);
	REQUIRE(p[PG + 9] == (char)pattern_byte(PG + 9));
	REQUIRE(p[PG + 100] == 0);	/* the tail of the last page reads as zeros */
	fatal_arm();
	(void)p[2 * PG + 4];
}

Test(signals, page_wholly_past_eof_is_sigbus, .signal = SIGBUS)
{
	run_fatal(past_eof);
}

static ssize_t eio_pread(int fd, void *buf, size_t len, off_t off)
{
	(void)fd, (void)buf, (void)len, (void)off;
	errno = EIO;
	return -1;
}

static void io_error(void)
{
	int fd = pattern_file(2 * PG, 0);
	volatile char *p = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	REQUIRE(vme_madvise((void *)p, 2 * PG, MADV_RANDOM) == 0);	/* no readahead */
	expect_fatal(SIGBUS, BUS_ADRERR, p + PG + 6);
	REQUIRE(p[0] == (char)pattern_byte(0));
	host_sys.pread = eio_pread;
	fill_with_pread_only();
	fatal_arm();
	(void)p[PG + 6];
}

Test(signals, io_error_while_filling_is_sigbus, .signal = SIGBUS)
{
	run_fatal(io_error);
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

/* What the forked child's handler saw, in memory shared with the parent. */
static volatile long *child_seen;

static void count_in_child(int sig, siginfo_t *info, void *uc)
{
	(void)sig, (void)uc;
	child_seen[0]++;
	child_seen[1] = info->si_code;
	child_seen[2] = (long)info->si_addr;
}

Test(handlers, handler_that_returns_sees_the_fault_again_until_fixed)
{
	char *p = vme_mmap((void *)0x240000000000UL, PG, PROT_READ,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	struct sigaction sa = { 0 }, old;
	child_seen = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(child_seen, MAP_FAILED);
	sa.sa_sigaction = count_in_child;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	cr_assert_eq(vme_sigaction(SIGSEGV, &sa, NULL), 0);
	cr_assert_eq(vme_sigaction(SIGSEGV, NULL, &old), 0);
	cr_assert_eq(old.sa_sigaction, count_in_child);
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit none = { 0, 0 };
		setrlimit(RLIMIT_CORE, &none);
		child_seen[3] = p[8] + 1;	/* the read goes through */
		p[8] = 1;	/* handler once, then SA_RESETHAND: the default kills */
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "status %#x", status);
	cr_assert_eq(child_seen[3], 1);
	cr_assert_eq(child_seen[0], 1, "the handler ran %ld times", child_seen[0]);
	cr_assert_eq(child_seen[1], SEGV_ACCERR);
	cr_assert_eq(child_seen[2], (long)(p + 8));
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
