/*
 * compat_program.c - plain <sys/mman.h> code, compiled with
 * -include vmemu/compat.h (see the Makefile), must run on vmemu unchanged.
 */
#include <criterion/criterion.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <vmemu.h>

#include "testutil.h"

static sigjmp_buf env;
static void on_segv(int sig, siginfo_t *info, void *uc)
{
	(void)info, (void)uc;
	siglongjmp(env, sig);
}

Test(compat, unchanged_mman_code_runs_on_vmemu)
{
	int fd = pattern_file(4 * PG, 0);
	unsigned char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(p, MAP_FAILED);
	p[PG] = 0x7e;
	cr_assert_eq(msync(p, 4 * PG, MS_SYNC), 0);
	unsigned char vec[4];
	cr_assert_eq(mincore(p, 4 * PG, vec), 0);
	cr_assert_eq(mprotect(p, PG, PROT_READ), 0);
	cr_assert_eq(madvise(p, 4 * PG, MADV_DONTNEED), 0);

	struct sigaction sa;	/* struct vme_sigaction under compat.h */
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGSEGV, &sa, NULL), 0);
	if (sigsetjmp(env, 1) == 0) {
		p[0] = 1;	/* read-only now */
		cr_assert_fail("no SIGSEGV");
	}
	cr_assert_eq(munmap(p, 4 * PG), 0);
	unsigned char *f = file_bytes(fd, PG, 1);
	cr_assert_eq(f[0], 0x7e);
	free(f);

	struct vme_stats st;
	cr_assert_eq(vme_stats(&st), 0);
	cr_assert_gt(st.shared_fault, 0, "the first write went through vmemu's do_shared_fault");
	void *(*fp)(void *, size_t, int, int, int, off_t) = mmap;
	cr_assert_eq((void *)fp, (void *)vme_mmap, "mmap names vme_mmap");
}

Test(compat, host_memory_keeps_working_through_the_macros)
{
	char *heap = aligned_alloc(PG, 2 * PG);
	cr_assert_eq(mprotect(heap, PG, PROT_READ), 0, "malloc'd memory passes through");
	cr_assert_eq(mprotect(heap, PG, PROT_READ | PROT_WRITE), 0);
	heap[0] = 1;
	free(heap);
	cr_assert_eq(signal(SIGUSR2, SIG_IGN), SIG_DFL);
	raise(SIGUSR2);
	char *b = sbrk(PG);	/* vme_sbrk: the emulated heap */
	cr_assert_neq(b, (void *)-1);
	b[0] = 1;
	cr_assert_eq(brk(b), 0);
}
