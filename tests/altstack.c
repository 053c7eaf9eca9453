/*
 * altstack.c - vmemu's fault handler runs on the thread's alternate signal
 * stack when it has one (SA_ONSTACK), as Rust gives every thread: how deep
 * it goes there, measured by painting the stack.
 */
#include <criterion/criterion.h>
#include <sys/auxv.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <vmemu.h>

#include "host/host.h"
#include "mm/mm.h"
#include "testutil.h"
#include "worlds.h"

#define RW (PROT_READ | PROT_WRITE)

#define PAINT		0xa5

static ssize_t enomem_left;
static int (*real_mprotect)(void *, size_t, int);

/* The host refuses protection changes (its mapping limit) enomem_left
 * times, so the fault that meets them counts the host's mappings in the
 * handler (host_vmas_pressure).  Reclaim's PROT_NONE is left alone. */
static int mprotect_enomem(void *addr, size_t len, int prot)
{
	if (prot != PROT_NONE && __atomic_fetch_sub(&enomem_left, 1, __ATOMIC_RELAXED) > 0) {
		errno = ENOMEM;
		return -1;
	}
	return real_mprotect(addr, len, prot);
}

/* An alternate signal stack of size bytes, painted, with a PROT_NONE guard
 * page below it: running off its bottom faults at once instead of writing
 * over whatever lies there. */
static unsigned char *alt_stack(size_t size, stack_t *old)
{
	unsigned char *mem = mmap(NULL, size + 2 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(mem, MAP_FAILED);
	cr_assert_eq(mprotect(mem + PG, size, RW), 0);
	memset(mem + PG, PAINT, size);
	stack_t ss = { .ss_sp = mem + PG, .ss_size = size };
	cr_assert_eq(sigaltstack(&ss, old), 0);
	return mem + PG;
}

/* How deep the stack was used since it was painted (or this was last
 * called), and paint it again. */
static size_t used_depth(unsigned char *base, size_t size)
{
	size_t i = 0;

	while (i < size && base[i] == PAINT)
		i++;
	memset(base + i, PAINT, size - i);
	return size - i;
}

enum { FAULT_READ, FAULT_WRITE, FAULT_COW, FAULT_ANON, FAULT_COUNT, NR_KINDS };
static const char *const kind_name[NR_KINDS] = {
	"file read (readahead)", "shared write", "private write (COW)", "anonymous", "swap-in with the mappings counted",
};

/* One fault of each kind on the thread's own stack, so that the library
 * functions the handler calls are bound already: the dynamic linker's lazy
 * binding saves the vector registers on the stack at the first call of each
 * (about 2.7 KiB with AVX-512), which a program linked with -z now never
 * pays. */
static void warm_up(void)
{
	int fd = pattern_file(2 * PG, 0);
	volatile unsigned char *sh = vme_mmap(NULL, 2 * PG, RW, MAP_SHARED, fd, 0);
	volatile unsigned char *pr = vme_mmap(NULL, 2 * PG, RW, MAP_PRIVATE, fd, 0);
	volatile unsigned char *an = vme_mmap(NULL, 2 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	sh[1] = pr[1] = an[1] = sh[0];
	cr_assert_eq(vme_madvise((void *)an, PG, MADV_PAGEOUT), 0);
	cr_assert_eq(an[1], sh[0]);
	cr_assert_eq(vme_munmap((void *)sh, 2 * PG), 0);
	cr_assert_eq(vme_munmap((void *)pr, 2 * PG), 0);
	cr_assert_eq(vme_munmap((void *)an, 2 * PG), 0);
	close(fd);
}

/* Every kind of fault over np pages, on the alternate stack alt: the
 * deepest use of each kind in depth[]. */
static void take_faults(unsigned char *alt, size_t size, size_t np, size_t depth[NR_KINDS])
{
	int fd = pattern_file(np * PG, 0);
	volatile unsigned char *sh = vme_mmap(NULL, np * PG, RW, MAP_SHARED, fd, 0);
	volatile unsigned char *pr = vme_mmap(NULL, np * PG, RW, MAP_PRIVATE, fd, 0);
	volatile unsigned char *an = vme_mmap(NULL, np * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t d;

	memset(depth, 0, NR_KINDS * sizeof(depth[0]));
	used_depth(alt, size);
	for (size_t i = 0; i < np; i++) {
		cr_assert_eq(sh[i * PG], pattern_byte(i * PG));
		if ((d = used_depth(alt, size)) > depth[FAULT_READ])
			depth[FAULT_READ] = d;
		sh[i * PG + 1] = 1;
		if ((d = used_depth(alt, size)) > depth[FAULT_WRITE])
			depth[FAULT_WRITE] = d;
		pr[i * PG + 2] = 2;
		if ((d = used_depth(alt, size)) > depth[FAULT_COW])
			depth[FAULT_COW] = d;
		an[i * PG + 3] = 3;
		if ((d = used_depth(alt, size)) > depth[FAULT_ANON])
			depth[FAULT_ANON] = d;
	}
	cr_assert_eq(vme_madvise((void *)(an + 5 * PG), PG, MADV_PAGEOUT), 0);	/* to swap */
	real_mprotect = host_sys.mprotect;
	enomem_left = 2;
	host_sys.mprotect = mprotect_enomem;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);	/* the fault's handler sees the stores */
	unsigned char v = an[5 * PG + 3];		/* swapped in; the mappings counted */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	host_sys.mprotect = real_mprotect;
	depth[FAULT_COUNT] = used_depth(alt, size);
	cr_assert_leq(enomem_left, 0, "the injected ENOMEM was not reached");
	cr_assert_eq(v, 3);
	for (size_t i = 0; i < np; i += 37) {
		cr_assert_eq(sh[i * PG], pattern_byte(i * PG));
		cr_assert_eq(sh[i * PG + 1], 1);
		cr_assert_eq(pr[i * PG + 2], 2);
		cr_assert_eq(an[i * PG + 3], 3);
	}
	for (int k = 0; k < NR_KINDS; k++)
		cr_log_info("%-34s %5zu bytes of the alternate stack", kind_name[k], depth[k]);
}

/* These measure the production build's frames; a sanitizer's make them
 * larger (ASan puts redzones around every local). */
#if defined(__SANITIZE_ADDRESS__)
#define SKIP_UNDER_SANITIZER() cr_skip_test("ASan's redzones make every frame larger")
#else
#define SKIP_UNDER_SANITIZER() do { } while (0)
#endif

/* Rust gives every thread an alternate stack of SIGSTKSZ (8 KiB) or
 * AT_MINSIGSTKSZ if larger.  Every kind of fault fits 8 KiB, with room for
 * the kernel's signal frame (3.3 KiB on an AVX-512 machine); the next test
 * measures the faults that reclaim. */
Test(altstack, faults_fit_an_8k_sigaltstack, .timeout = 60)
{
	enum { SIZE = 8192 };
	size_t depth[NR_KINDS];
	stack_t old;

	SKIP_UNDER_SANITIZER();
	cr_assert_eq(vme_init(NULL), 0);	/* a budget far above what is used: no reclaim */
	warm_up();
	unsigned char *alt = alt_stack(SIZE, &old);
	take_faults(alt, SIZE, 256, depth);
	cr_assert_eq(sigaltstack(&old, NULL), 0);
	for (int k = 0; k < NR_KINDS; k++) {
		cr_assert_gt(depth[k], 0, "%s: the fault did not run on the alternate stack", kind_name[k]);
		cr_assert_lt(depth[k], SIZE - 512, "%s: %zu bytes, less than 512 to spare", kind_name[k], depth[k]);
	}
}

/* Under memory pressure the fault reclaims in the handler (shrink_frames,
 * swap-out, write-back), which goes deeper: measured on a 64 KiB stack. */
Test(altstack, deepest_fault_under_reclaim, .timeout = 60)
{
	enum { SIZE = 65536 };
	struct vme_config cfg = { .cache_mb = 2 };	/* 512 frames for 3 x 1024 pages */
	size_t depth[NR_KINDS], deepest = 0;
	stack_t old;

	SKIP_UNDER_SANITIZER();
	cr_assert_eq(vme_init(&cfg), 0);
	warm_up();
	unsigned char *alt = alt_stack(SIZE, &old);
	take_faults(alt, SIZE, 1024, depth);
	cr_assert_eq(sigaltstack(&old, NULL), 0);
	cr_assert_gt(w_stats().pswpout, 0, "reclaim ran");
	for (int k = 0; k < NR_KINDS; k++)
		deepest = depth[k] > deepest ? depth[k] : deepest;
	cr_log_info("deepest: %zu bytes, the kernel's signal frame included (AT_MINSIGSTKSZ %lu)",
		    deepest, getauxval(AT_MINSIGSTKSZ));
	cr_assert_lt(deepest, 12 * 1024, "%zu bytes", deepest);
}
