/*
 * brk.c - the emulated heap: vme_brk and vme_sbrk.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <vmemu.h>

#include "fatal.h"
#include "testutil.h"

Test(brk, sbrk_returns_the_old_break_and_the_heap_is_usable)
{
	char *base = vme_sbrk(0);
	cr_assert_neq(base, (void *)-1);
	cr_assert_eq((unsigned long)base % PG, 0);
	cr_assert_eq(vme_sbrk(3 * PG), base);
	cr_assert_eq(vme_sbrk(0), base + 3 * PG);
	for (size_t i = 0; i < 3 * PG; i++)
		cr_assert_eq(base[i], 0, "fresh heap is zero");
	memset(base, 0x5a, 3 * PG);
	cr_assert_eq(vme_brk(base + 5 * PG + 7), 0, "an unaligned break is kept as given");
	cr_assert_eq(vme_sbrk(0), base + 5 * PG + 7);
	base[5 * PG + 100] = 1;		/* the page holding the break is mapped */
	struct vme_stats st;
	cr_assert_eq(vme_stats(&st), 0);
	cr_assert_eq(st.nr_vmas, 1, "one heap VMA, merged as it grew");
}

Test(brk, shrinking_releases_the_pages)
{
	char *base = vme_sbrk(4 * PG);
	memset(base, 0x77, 4 * PG);
	cr_assert_eq(vme_sbrk(-2 * (intptr_t)PG), base + 4 * PG);
	cr_assert_eq(vme_sbrk(0), base + 2 * PG);
	cr_assert_eq(base[PG], 0x77, "below the break: kept");
	cr_assert_eq(vme_sbrk(2 * PG), base + 2 * PG);
	cr_assert_eq(base[3 * PG], 0, "released and grown again: zero-filled");
}

static void store_above_the_break(void)
{
	char *base = vme_sbrk(PG);
	expect_fatal(SIGSEGV, SEGV_MAPERR, base + PG);
	base[PG - 1] = 1;
	REQUIRE(base[PG - 1] == 1);
	fatal_arm();
	base[PG] = 1;
}

Test(brk, above_the_break_is_unmapped, .signal = SIGSEGV)
{
	run_fatal(store_above_the_break);
}

Test(brk, refuses_to_run_into_another_mapping)
{
	char *brk0 = vme_sbrk(0);
	char *m = vme_mmap(brk0 + 4 * PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	cr_assert_eq(m, brk0 + 4 * PG);
	cr_assert_eq(vme_sbrk(3 * PG), brk0, "up to one guard page below it");
	errno = 0;
	cr_assert_eq(vme_sbrk(PG), (void *)-1);
	cr_assert_eq(errno, ENOMEM);
	cr_assert_eq(vme_sbrk(0), brk0 + 3 * PG, "a refused break leaves it unchanged");
	errno = 0;
	cr_assert_eq(vme_brk(brk0 + 10 * PG), -1);
	cr_assert_eq(errno, ENOMEM);
}

Test(brk, below_the_start_changes_nothing)
{
	char *start = vme_sbrk(0);
	/* As glibc over Linux: the kernel keeps the break, which is above the
	 * address asked for, so brk() reports success. */
	cr_assert_eq(vme_brk(start - PG), 0);
	cr_assert_eq(vme_sbrk(0), start);
	cr_assert_eq(vme_sbrk(-(intptr_t)PG), start);
	cr_assert_eq(vme_sbrk(0), start);
}

Test(brk, shows_as_heap_in_the_maps)
{
	char *base = vme_sbrk(2 * PG);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(vme_dump_maps(p[1]), 0);
	close(p[1]);
	char buf[1024] = { 0 }, want[64];
	cr_assert_gt(read(p[0], buf, sizeof(buf) - 1), 0);
	snprintf(want, sizeof(want), "%08lx-%08lx rw-p", (unsigned long)base, (unsigned long)base + 2 * PG);
	cr_assert_not_null(strstr(buf, want), "%s", buf);
	cr_assert_not_null(strstr(buf, "[heap]"), "%s", buf);
}

/* A small first-fit allocator whose memory comes only from vme_sbrk. */
struct block {
	size_t size;		/* payload bytes */
	int free;
	struct block *next;
};
static struct block *heap_head;

static void *heap_alloc(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	for (struct block *b = heap_head; b; b = b->next)
		if (b->free && b->size >= n) {
			b->free = 0;
			return b + 1;
		}
	struct block *b = vme_sbrk((intptr_t)(sizeof(*b) + n));
	if (b == (void *)-1)
		return NULL;
	*b = (struct block){ .size = n, .free = 0, .next = heap_head };
	heap_head = b;
	return b + 1;
}

static void heap_free(void *p)
{
	((struct block *)p - 1)->free = 1;
}

Test(brk, a_small_allocator_runs_on_the_emulated_heap)
{
	enum { N = 400 };
	unsigned char *ptr[N] = { 0 };
	size_t len[N] = { 0 };
	char *start = vme_sbrk(0);
	unsigned seed = 7;

	for (int round = 0; round < 20000; round++) {
		int i = (int)(rand_r(&seed) % N);
		if (ptr[i]) {
			for (size_t k = 0; k < len[i]; k++)
				cr_assert_eq(ptr[i][k], (unsigned char)(i + k), "block %d byte %zu", i, k);
			heap_free(ptr[i]);
			ptr[i] = NULL;
		} else {
			len[i] = 1 + rand_r(&seed) % 3000;
			cr_assert_not_null(ptr[i] = heap_alloc(len[i]));
			cr_assert((char *)ptr[i] >= start && (char *)ptr[i] + len[i] <= (char *)vme_sbrk(0),
				  "inside the heap");
			for (size_t k = 0; k < len[i]; k++)
				ptr[i][k] = (unsigned char)(i + k);
		}
	}
	struct vme_stats st;
	cr_assert_eq(vme_stats(&st), 0);
	cr_assert_gt(st.anon_fault, 10, "the heap's pages were faulted in by vmemu");
}
