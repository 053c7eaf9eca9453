/*
 * vm_check.c - the invariant walker (src/mm/debug.c) finds what it is for.
 *
 * Each test builds a small consistent state in a domain of its own (so the
 * walker checks the domain's counts too), breaks one thing the way a bug
 * would, asserts that check_vm reports exactly that, then mends it and
 * asserts that the walk is clean again: the walker neither misses the
 * corruption nor cries wolf.  The suites that call it after their
 * operations (differential, pressure, the fuzz target) rely on both.
 */
#include <criterion/criterion.h>
#include <sys/mman.h>
#include <vmemu.h>

#include "mm/debug.h"
#include "mm/mm.h"
#include "testutil.h"

#define FILE_PAGES 8

static struct vm_check result;
static volatile unsigned char *shared, *anon;
static int file_fd;

/* .init: a file mapped shared, pages 0-3 read and page 1 written (dirty);
 * private anonymous memory touched; all consistent. */
static void setup(void)
{
	struct vme_config cfg = { .cache_mb = 16, .domain = "private" };

	cr_assert_eq(vme_init(&cfg), 0);
	file_fd = pattern_file(FILE_PAGES * PG, 0);
	shared = vme_mmap(NULL, FILE_PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, file_fd, 0);
	anon = vme_mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq((void *)shared, MAP_FAILED);
	cr_assert_neq((void *)anon, MAP_FAILED);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(shared[i * PG], pattern_byte(i * PG));
	shared[PG + 5] = 0xab;
	anon[0] = 1;
	anon[2 * PG] = 2;
}

TestSuite(vm_check, .init = setup, .timeout = 30);

static unsigned long walk(void)
{
	result = (struct vm_check){ .report = false };
	return check_vm(&result);
}

/* The PTE and frame of the shared mapping's page i. */
static pte_t *pte_of(unsigned long i)
{
	pte_t *ptep = pte_offset((unsigned long)shared + i * PG, false);

	cr_assert_not_null(ptep);
	cr_assert(ptep_get(ptep) & PTE_PRESENT, "page %lu is not mapped", i);
	return ptep;
}

static unsigned long pfn_of(unsigned long i)
{
	return pte_val(ptep_get(pte_of(i)));
}

static struct inode *file_inode(void)
{
	return inode_of(pfn_to_page(pfn_of(0))->inode - 1);
}

/* The walk finds exactly the corruption: errors, and the first names it. */
static void assert_reported(const char *what)
{
	cr_assert_gt(walk(), 0, "check_vm missed it: %s", what);
	cr_assert_not_null(strstr(result.first, what), "the first violation is \"%s\", expected \"%s\"",
			   result.first, what);
}

static void assert_clean(void)
{
	cr_assert_eq(walk(), 0, "%lu violations, the first: %s", result.errors, result.first);
}

/* A count off by delta is reported as what, and only while it is off. */
static void assert_count_checked(uint64_t *count, int delta, const char *what)
{
	__atomic_add_fetch(count, (uint64_t)(int64_t)delta, __ATOMIC_RELAXED);
	assert_reported(what);
	__atomic_sub_fetch(count, (uint64_t)(int64_t)delta, __ATOMIC_RELAXED);
	assert_clean();
}

Test(vm_check, a_consistent_state_passes_and_is_looked_at_whole)
{
	assert_clean();
	cr_assert(result.domain_wide, "a private domain has no other process");
	cr_assert_geq(result.slots, 6, "the frame table: 4 file frames, 2 private pages");
	cr_assert_geq(result.ptes, 6);
	cr_assert_geq(result.frames, 4);
	cr_assert_geq(result.inodes, 1);
}

Test(vm_check, an_nrdirty_off_by_one_is_reported)
{
	assert_count_checked(&file_inode()->nrdirty, +1, "nrdirty");
}

Test(vm_check, a_dirty_bit_nrdirty_does_not_count_is_reported)
{
	struct page *page = pfn_to_page(pfn_of(2));

	__atomic_or_fetch(&page->flags, PG_dirty, __ATOMIC_RELAXED);
	assert_reported("nrdirty");
	__atomic_and_fetch(&page->flags, ~(uint32_t)PG_dirty, __ATOMIC_RELAXED);
	assert_clean();
}

Test(vm_check, an_nrwriteback_off_by_one_is_reported)
{
	assert_count_checked(&file_inode()->nrwriteback, +1, "nrwriteback");
}

Test(vm_check, an_nrpages_off_by_one_is_reported)
{
	assert_count_checked(&file_inode()->nrpages, -1, "nrpages");
}

Test(vm_check, a_pool_nr_free_off_by_one_is_reported)
{
	assert_count_checked(&dom.hdr->nr_free, +1, "nr_free");
}

Test(vm_check, an_nr_held_off_by_one_is_reported)
{
	assert_count_checked(&dom.hdr->nr_held, +1, "nr_held");
}

/* The lost-store bug: a page written back clean while a PTE still maps it
 * writable, so the next store is never seen (counts all agree). */
Test(vm_check, a_writable_pte_of_a_clean_page_is_reported)
{
	struct page *page = pfn_to_page(pfn_of(1));
	struct inode *inode = file_inode();

	cr_assert(ptep_get(pte_of(1)) & PTE_WRITE, "the written page is mapped writable");
	__atomic_and_fetch(&page->flags, ~(uint32_t)PG_dirty, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&inode->nrdirty, 1, __ATOMIC_RELAXED);
	assert_reported("is clean: its next store would not be written back");
	__atomic_or_fetch(&page->flags, PG_dirty, __ATOMIC_RELAXED);
	__atomic_add_fetch(&inode->nrdirty, 1, __ATOMIC_RELAXED);
	assert_clean();
}

Test(vm_check, a_pte_mapping_another_pages_frame_is_reported)
{
	pte_t *ptep = pte_of(2), old = ptep_get(ptep);

	set_pte_at((unsigned long)shared + 2 * PG, ptep, (old & 0xff) | mk_pte(0, pfn_of(3)));
	assert_reported("maps frame");
	set_pte_at((unsigned long)shared + 2 * PG, ptep, old);
	assert_clean();
}

Test(vm_check, a_lost_mapped_bit_is_reported)
{
	struct page *page = pfn_to_page(pfn_of(0));

	__atomic_and_fetch(&page->mapped, ~SLOT_BIT(dom.slot), __ATOMIC_RELAXED);
	assert_reported("bit in mapped is clear");
	__atomic_or_fetch(&page->mapped, SLOT_BIT(dom.slot), __ATOMIC_RELAXED);
	assert_clean();
}

/* wcount counted one writable mapping more than the PTEs have. */
Test(vm_check, a_map_count_the_ptes_do_not_have_is_reported)
{
	frame_set_writable(pfn_of(0), true);
	assert_reported("wcount 1");
	frame_set_writable(pfn_of(0), false);
	assert_clean();
}

Test(vm_check, a_page_lock_left_held_is_reported)
{
	unsigned long pfn = pfn_of(3);

	lock_page(pfn);
	assert_reported("holds its page lock");
	unlock_page(pfn);
	assert_clean();
}

Test(vm_check, a_pte_lock_left_held_is_reported)
{
	pte_t *ptep = pte_offset((unsigned long)anon, false);

	cr_assert_not_null(ptep);
	pte_lock(ptep);
	assert_reported("is locked");
	pte_unlock(ptep);
	assert_clean();
}

/* A private page's PTE that names a slot past the table: the slot that
 * holds the page is named by no PTE any more. */
Test(vm_check, a_private_pte_naming_the_wrong_slot_is_reported)
{
	pte_t *ptep = pte_offset((unsigned long)anon, false), old;

	cr_assert_not_null(ptep);
	old = ptep_get(ptep);
	cr_assert(old & PTE_ANON);
	set_pte_at((unsigned long)anon, ptep, (old & 0xff) | mk_pte(0, pte_val(old) + 100000));
	assert_reported("holds the private page at");
	set_pte_at((unsigned long)anon, ptep, old);
	assert_clean();
}

/* Found by the walker in the differential suite: the frames readahead
 * holds for a mapping, unmapped, kept naming its address_space in the
 * frame table after the last munmap freed it (reclaim then read the freed
 * memory).  Its last reference gone, the mapping leaves the table. */
Test(vm_check, a_file_unmapped_leaves_no_slot_naming_it)
{
	int fd = pattern_file(64 * PG, 0);
	volatile unsigned char *p = vme_mmap(NULL, 64 * PG, PROT_READ, MAP_SHARED, fd, 0);

	cr_assert_neq((void *)p, MAP_FAILED);
	cr_assert_eq(p[20 * PG], pattern_byte(20 * PG));	/* read around: neighbours held, unmapped */
	assert_clean();
	cr_assert_eq(vme_munmap((void *)p, 64 * PG), 0);
	assert_clean();
	close(fd);
}
