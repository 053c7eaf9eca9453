/*
 * host_table.c - every system call goes through host_sys (issue 12).
 *
 * tests/host_syms.sh proves, at build time, that no object but
 * src/host/syscalls.o calls a libc function that makes a system call.
 * These tests prove the routes are the ones used: every entry of the table
 * is replaced by a counting wrapper that passes through (built from
 * HOST_SYSCALLS, so a new entry gets one too), and each call that used to
 * bypass the table must now be counted by it.  A test fails if its call
 * goes back to calling libc directly.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <vmemu.h>

#include "host/host.h"
#include "testutil.h"

static struct host_syscalls real;

/* count_NAME: count the call, then make the real one.  Not as a tail call
 * (the empty asm after it): its frame stays on the stack, so that under
 * `strace -f -k` every system call the library makes shows a count_ frame
 * unless it went around the table. */
#define COUNTER(ret, name, params, args)						\
	static unsigned long n_##name;							\
	static ret count_##name params							\
	{										\
		__atomic_add_fetch(&n_##name, 1, __ATOMIC_RELAXED);			\
		ret r_ = real.name args;						\
		__asm__ volatile("");							\
		return r_;								\
	}
HOST_SYSCALLS(COUNTER)
#undef COUNTER

/* .init: every entry counted, before vmemu makes its first call. */
static void count_everything(void)
{
	host_sys_reset();
	real = host_sys;
#define INSTALL(ret, name, params, args) host_sys.name = count_##name;
	HOST_SYSCALLS(INSTALL)
#undef INSTALL
}

/* The wrappers stay until the process ends (each test is a process of its
 * own), so that vmemu's write-back at exit(3) goes through them too. */
TestSuite(host_table, .init = count_everything, .timeout = 30);

Test(host_table, every_entry_has_its_real_call)
{
	host_sys_reset();
#define NONNULL(ret, name, params, args) cr_assert_not_null(host_sys.name, "host_sys." #name " is missing");
	HOST_SYSCALLS(NONNULL)
#undef NONNULL
}

/* A shared mapping of a new pattern file, faulted in: vme_init, mmap, a
 * fault and a write fault have run. */
static volatile unsigned char *mapped_file(int *fdp, size_t pages)
{
	int fd = pattern_file(pages * PG, 0);
	volatile unsigned char *p = vme_mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	cr_assert_neq((void *)p, MAP_FAILED);
	cr_assert_eq(p[0], pattern_byte(0));
	p[1] = 0x42;
	*fdp = fd;
	return p;
}

Test(host_table, copies_to_and_from_the_programs_memory_go_through_it)
{
	int fd;
	volatile unsigned char *p = mapped_file(&fd, 4);
	unsigned char buf[64];

	memset(buf, 0x17, sizeof(buf));
	cr_assert_eq(vme_pwrite(fd, buf, sizeof(buf), PG), (ssize_t)sizeof(buf));
	cr_assert_eq(vme_pread(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	cr_assert_eq(buf[1], 0x42);
	cr_assert_eq(p[PG], 0x17);
	cr_assert_gt(n_process_vm_readv, 0);
	cr_assert_gt(n_process_vm_writev, 0);
	cr_assert_gt(n_getpid, 0);
}

Test(host_table, a_file_mapping_names_its_file_and_mount_through_it)
{
	int fd;

	mapped_file(&fd, 1);
	cr_assert_gt(n_readlink, 0, "host_fd_path");
	cr_assert_gt(n_fstatvfs, 0, "host_fd_noexec");
	cr_assert_gt(n_open, 0);
	cr_assert_gt(n_sysinfo, 0, "the default budget: physical memory");
	cr_assert_gt(n_geteuid, 0, "the domain's name");
}

Test(host_table, signals_and_masks_go_through_it)
{
	struct sigaction sa = { .sa_handler = SIG_IGN }, old;

	cr_assert_eq(vme_sigaction(SIGUSR1, &sa, &old), 0);
	unsigned long sigactions = n_sigaction;
	cr_assert_gt(sigactions, 0);
	cr_assert_neq(vme_signal(SIGUSR2, SIG_IGN), SIG_ERR);
	cr_assert_gt(n_sigaction, sigactions, "vme_signal of another signal than SIGSEGV");
	cr_assert_gt(n_sigprocmask, 0, "vme_enter blocks asynchronous signals");
}

Test(host_table, the_fork_hooks_are_registered_through_it)
{
	int fd, status;
	volatile unsigned char *p = mapped_file(&fd, 1);

	cr_assert_eq(n_atfork, 1);
	pid_t pid = fork();
	if (pid == 0)
		_exit(p[1] == 0x42 ? 0 : 1);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void tracer(const struct vme_trace_event *ev, void *arg)
{
	(void)ev;
	__atomic_add_fetch((unsigned long *)arg, 1, __ATOMIC_RELAXED);
}

Test(host_table, the_trace_thread_and_its_clock_go_through_it)
{
	unsigned long events = 0;
	int fd;

	cr_assert_eq(vme_set_tracer(tracer, &events), 0);
	cr_assert_eq(n_thread_create, 1);
	mapped_file(&fd, 2);
	cr_assert_eq(vme_trace_flush(), 0);
	cr_assert_gt(events, 0);
	cr_assert_gt(n_gettid, 0, "the faulting thread's id, in its events");
	cr_assert_gt(n_clock_gettime, 0, "the events' times");
	cr_assert_eq(vme_set_tracer(NULL, NULL), 0);
	cr_assert_eq(n_thread_join, 1);
}

Test(host_table, the_heaps_limit_goes_through_it)
{
	cr_assert_neq(vme_sbrk(PG), (void *)-1);
	cr_assert_gt(n_getrlimit, 0);
}

Test(host_table, maps_are_written_through_it)
{
	int fd = open("/dev/null", O_WRONLY);
	int fd2;

	mapped_file(&fd2, 1);
	unsigned long writes = n_write;
	cr_assert_eq(vme_dump_maps(fd), 0);
	cr_assert_gt(n_write, writes);
	close(fd);
}

Test(host_table, a_directory_is_searched_through_it)
{
	char dir[] = "/tmp/vmemu-table-XXXXXX", path[64], name[64];
	struct stat st;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/needle", dir);
	int fd = open(path, O_CREAT | O_RDWR, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	int r = host_find_in_dir(dir, st.st_dev, st.st_ino, name, sizeof(name));
	unlink(path);
	rmdir(dir);
	close(fd);
	cr_assert_eq(r, 0);
	cr_assert_str_eq(name, "needle");
	cr_assert_gt(n_getdents64, 0);
	cr_assert_gt(n_fstatat, 0);
}

Test(host_table, the_hosts_limits_are_read_through_it)
{
	cr_assert_gt(host_max_map_count(), 0);
	cr_assert_gt(n_open, 0);
	cr_assert_gt(n_read, 0);
}

static int exit_42(void)
{
	_exit(42);
}

/* host_die ends the process with the table's abort: a test's replacement
 * that exits with 42 instead is what runs. */
Test(host_table, dying_goes_through_it, .exit_code = 42)
{
	host_sys.abort = exit_42;
	host_die("tests/host_table.c: dying through the table, on purpose");
}

static int raise_exits_43(int sig)
{
	_exit(sig == SIGBUS ? 43 : 1);
}

/* A read past end of file with no SIGBUS handler kills the process with
 * the table's raise (the trap's deliver_sigbus). */
Test(host_table, a_fatal_sigbus_is_raised_through_it, .exit_code = 43)
{
	int fd = pattern_file(PG, 0);
	volatile unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);

	cr_assert_neq((void *)p, MAP_FAILED);
	host_sys.raise = raise_exits_43;
	(void)p[PG];
	cr_assert_fail("the read past end of file returned");
}
