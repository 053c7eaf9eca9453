/*
 * races.c - accesses racing munmap and mprotect in another thread, and a
 * fault raised inside the emulator itself.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <vmemu.h>

#include "testutil.h"

#define NPAGES 256

static volatile unsigned char *region;
static volatile int stop_flag;
static __thread sigjmp_buf tls_env;
static __thread volatile int tls_sig;
static volatile unsigned long faults_after_unmap, good_accesses;

static void on_fault(int sig, siginfo_t *info, void *uc)
{
	(void)info, (void)uc;
	tls_sig = sig;
	siglongjmp(tls_env, 1);
}

static void install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	cr_assert_eq(vme_sigaction(SIGSEGV, &sa, NULL), 0);
}

/* Touch the region over and over; count what the accesses got. */
static void *toucher(void *arg)
{
	unsigned long i = (unsigned long)arg;
	int write = (int)(i & 1);

	while (!stop_flag) {
		volatile unsigned char *p = region + (i++ % NPAGES) * PG;
		if (sigsetjmp(tls_env, 1) == 0) {
			if (write)
				*p = 1;
			else
				(void)*p;
			__atomic_fetch_add(&good_accesses, 1, __ATOMIC_RELAXED);
		} else {
			__atomic_fetch_add(&faults_after_unmap, 1, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

Test(races, accesses_racing_munmap_end_in_sigsegv_never_a_hang, .timeout = 30)
{
	int fd = pattern_file(NPAGES * PG, 0);
	pthread_t t[4];

	region = vme_mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	install();
	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, toucher, (void *)i);
	while (__atomic_load_n(&good_accesses, __ATOMIC_RELAXED) < 2000)
		sched_yield();
	cr_assert_eq(vme_munmap((void *)region, NPAGES * PG), 0, "while four threads fault on it");
	unsigned long seen = faults_after_unmap;
	while (faults_after_unmap < seen + 100)
		sched_yield();
	stop_flag = 1;
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	cr_assert_gt(faults_after_unmap, 0, "after munmap every access is SIGSEGV");
	struct vme_stats st;
	cr_assert_eq(vme_stats(&st), 0);
	cr_assert_eq(st.nr_vmas, 0);
	cr_assert_gt(st.foreign_fault, 0, "outside every VMA, as the kernel would say");
}

Test(races, writes_racing_mprotect_read_only_get_accerr, .timeout = 30)
{
	pthread_t t[2];

	region = vme_mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	install();
	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, toucher, (void *)(2 * i + 1));	/* writers */
	while (__atomic_load_n(&good_accesses, __ATOMIC_RELAXED) < 2000)
		sched_yield();
	cr_assert_eq(vme_mprotect((void *)region, NPAGES * PG, PROT_READ), 0);
	unsigned long seen = faults_after_unmap;
	while (faults_after_unmap < seen + 100)
		sched_yield();
	stop_flag = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(region[0], 1, "written before the mprotect, still there");
	cr_assert_eq(vme_mprotect((void *)region, NPAGES * PG, PROT_READ | PROT_WRITE), 0);
	((volatile unsigned char *)region)[PG] = 7;
	cr_assert_eq(region[PG], 7, "writable again");
}

/* A driver whose fault hook touches emulated memory that is not present: a
 * fault inside the fault handler, which vmemu reports instead of hanging. */
static volatile unsigned char *victim;
static int nested_fault(struct vme_fault *vmf)
{
	memset(vmf->page, victim[0], vmf->page_size);
	return 0;
}

Test(races, a_fault_inside_the_emulator_is_reported_not_a_hang, .timeout = 30)
{
	static const struct vme_device_ops ops = { .name = "nested", .fault = nested_fault };
	int err[2];
	cr_assert_eq(pipe(err), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(err[1], 2);
		victim = vme_mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int fd = vme_device_open(&ops, NULL);
		volatile unsigned char *d = vme_mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
		(void)d[0];
		_exit(0);
	}
	close(err[1]);
	int status;
	waitpid(pid, &status, 0);
	char buf[512] = { 0 };
	cr_assert_gt(read(err[0], buf, sizeof(buf) - 1), 0);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x", status);
	cr_assert_not_null(strstr(buf, "page fault inside the emulator"), "%s", buf);
}
