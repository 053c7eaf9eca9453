/*
 * unit_vma.c - the VMA tree and the page-cache index, without signals.
 */
#include <criterion/criterion.h>

#include "mm/mm.h"
#include "testutil.h"

static struct mm_struct mm;

/* Free what a test left in mm (the tests build VMAs by hand). */
static void teardown(void)
{
	while (mm.map_count) {
		struct vm_area_struct *vma = mm.vmas[mm.map_count - 1];
		vma_unlink(&mm, vma);
		if (vma->vm_file)
			fput(&mm, vma->vm_file);
		vm_area_free(vma);
	}
	vmas_free(&mm);
	mm = (struct mm_struct){ 0 };
}

static struct vm_area_struct *anon_vma(unsigned long start, unsigned long end, unsigned long flags)
{
	struct vm_area_struct *vma = vm_area_alloc();
	vma->vm_start = start;
	vma->vm_end = end;
	vma->vm_flags = flags;
	vma->vm_pgoff = start >> PAGE_SHIFT;
	cr_assert_eq(vma_link(&mm, vma), 0);
	return vma;
}

static void assert_sorted_and_disjoint(void)
{
	for (size_t i = 1; i < mm.map_count; i++)
		cr_assert(mm.vmas[i - 1]->vm_end <= mm.vmas[i]->vm_start, "VMA %zu overlaps or is out of order", i);
}

Test(vma_tree, find_vma_returns_first_vma_ending_after_addr, .fini = teardown)
{
	anon_vma(0x10000, 0x20000, VM_READ);
	anon_vma(0x40000, 0x50000, VM_READ);
	anon_vma(0x30000, 0x38000, VM_READ);
	assert_sorted_and_disjoint();
	cr_assert_eq(find_vma(&mm, 0x0)->vm_start, 0x10000);
	cr_assert_eq(find_vma(&mm, 0x1ffff)->vm_start, 0x10000);
	cr_assert_eq(find_vma(&mm, 0x20000)->vm_start, 0x30000);	/* a hole: the next one */
	cr_assert_eq(find_vma(&mm, 0x4ffff)->vm_start, 0x40000);
	cr_assert_null(find_vma(&mm, 0x50000));
	cr_assert_null(find_vma_intersection(&mm, 0x20000, 0x30000));
	cr_assert_not_null(find_vma_intersection(&mm, 0x20000, 0x30001));
}

Test(vma_tree, lookup_stays_correct_with_many_vmas, .fini = teardown)
{
	for (unsigned long i = 0; i < 5000; i++) {
		unsigned long s = ((i * 7919) % 5000) * 0x3000;	/* inserted out of order */
		anon_vma(s, s + 0x2000, VM_READ);
	}
	assert_sorted_and_disjoint();
	for (unsigned long i = 0; i < 5000; i++) {
		struct vm_area_struct *v = find_vma(&mm, i * 0x3000 + 0x1fff);
		cr_assert_eq(v->vm_start, i * 0x3000);
		cr_assert_eq(find_vma(&mm, i * 0x3000 + 0x2000), i + 1 < 5000 ? mm.vmas[i + 1] : NULL);
	}
}

Test(vma_tree, split_below_and_above_keeps_pgoff_continuous, .fini = teardown)
{
	struct vm_area_struct *v = anon_vma(0x100000, 0x108000, VM_READ | VM_WRITE);
	unsigned long pgoff = v->vm_pgoff;

	cr_assert_eq(split_vma(&mm, v, 0x102000, 1), 0);
	cr_assert_eq(mm.map_count, 2);
	cr_assert_eq(v->vm_start, 0x102000);
	cr_assert_eq(v->vm_pgoff, pgoff + 2);
	cr_assert_eq(mm.vmas[0]->vm_end, 0x102000);
	cr_assert_eq(mm.vmas[0]->vm_pgoff, pgoff);
	cr_assert_eq(split_vma(&mm, v, 0x105000, 0), 0);
	cr_assert_eq(mm.map_count, 3);
	cr_assert_eq(v->vm_end, 0x105000);
	cr_assert_eq(mm.vmas[2]->vm_start, 0x105000);
	cr_assert_eq(mm.vmas[2]->vm_pgoff, pgoff + 5);
	assert_sorted_and_disjoint();
}

Test(vma_tree, merge_joins_compatible_neighbours_only, .fini = teardown)
{
	struct vm_area_struct *a = anon_vma(0x100000, 0x108000, VM_READ | VM_WRITE);
	cr_assert_eq(split_vma(&mm, a, 0x104000, 0), 0);
	struct vm_area_struct *b = mm.vmas[1];

	b->vm_flags = VM_READ;				/* different flags: no merge */
	cr_assert_eq(vma_merge(&mm, b), b);
	cr_assert_eq(mm.map_count, 2);
	b->vm_flags = VM_READ | VM_WRITE;		/* same again: one VMA */
	struct vm_area_struct *m = vma_merge(&mm, b);
	cr_assert_eq(mm.map_count, 1);
	cr_assert_eq(m->vm_start, 0x100000);
	cr_assert_eq(m->vm_end, 0x108000);

	/* Adjacent but with a pgoff jump (as after a move): no merge. */
	struct vm_area_struct *c = anon_vma(0x108000, 0x10a000, VM_READ | VM_WRITE);
	c->vm_pgoff += 100;
	vma_merge(&mm, c);
	cr_assert_eq(mm.map_count, 2);
}

Test(vma_tree, unlink_removes_exactly_one, .fini = teardown)
{
	anon_vma(0x1000, 0x2000, VM_READ);
	struct vm_area_struct *b = anon_vma(0x3000, 0x4000, VM_READ);
	anon_vma(0x5000, 0x6000, VM_READ);
	vma_unlink(&mm, b);
	vm_area_free(b);
	cr_assert_eq(mm.map_count, 2);
	cr_assert_eq(find_vma(&mm, 0x3000)->vm_start, 0x5000);
}

/* --- the page cache and its index --- */

/* These tests use the emulated kernel without the trap: a private domain
 * and a frame table of their own. */
static void attach_private(void)
{
	cr_assert_eq(vmscan_init(64), 0);
	if (!dom.hdr)
		cr_assert_eq(domain_attach("private", nr_budget_pages()), 0);
}

Test(page_cache, one_cache_per_inode_across_descriptors)
{
	attach_private();
	int fd1 = pattern_file(3 * PG, 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd1);
	int fd2 = open(path, O_RDONLY);
	struct file *f1, *f2;

	cr_assert_eq(file_open_mapping(&mm, fd1, true, &f1), 0);
	cr_assert_eq(file_open_mapping(&mm, fd2, false, &f2), 0);
	cr_assert_eq(f1->f_mapping, f2->f_mapping, "two descriptors of one file share one cache");
	cr_assert_eq(f1->f_mapping->refcount, 2);
	struct inode *inode = f1->f_mapping->host;
	cr_assert(inode->users & SLOT_BIT(dom.slot));
	fput(&mm, f1);
	cr_assert_eq(mm.mappings, f2->f_mapping, "still referenced");
	fput(&mm, f2);
	cr_assert_null(mm.mappings, "the last reference frees this process's side");
	cr_assert_eq(inode->kind, I_FREE, "an inode with no pages and no user is freed");
}

Test(page_cache, fill_reads_the_file_and_zeroes_the_tail)
{
	attach_private();
	int fd = pattern_file(PG + 100, 0);
	struct file *f;
	struct vm_area_struct vma = { .vm_start = 0, .vm_end = 3 * PG, .vm_flags = VM_READ | VM_RAND_READ };	/* no readahead */

	cr_assert_eq(file_open_mapping(&mm, fd, false, &f), 0);
	vma.vm_file = f;
	struct fault vmf = { .vma = &vma, .pgoff = 1 };
	cr_assert_eq(filemap_fault(&vmf), VM_FAULT_MAJOR);
	unsigned long pfn = vmf.pfn;
	unlock_page(pfn);	/* it returns the page locked */
	cr_assert_eq(filemap_fault(&vmf), 0, "the second lookup hits the cache");
	cr_assert_eq(vmf.pfn, pfn, "the same frame");
	unlock_page(vmf.pfn);
	const unsigned char *page = (unsigned char *)page_address(pfn);
	for (size_t i = 0; i < 100; i++)
		cr_assert_eq(page[i], pattern_byte(PG + i));
	for (size_t i = 100; i < PG; i++)
		cr_assert_eq(page[i], 0, "byte %zu past end of file", i);
	struct inode *inode = f->f_mapping->host;
	cr_assert(pfn_to_page(pfn)->flags & PG_uptodate);
	cr_assert_eq(radix_lookup(inode, 1), pfn + 1);
	cr_assert_eq(radix_lookup(inode, 0), 0, "only the page asked for is read");
	vmf.pgoff = 2;
	cr_assert_eq(filemap_fault(&vmf), VM_FAULT_SIGBUS, "a page wholly past EOF");
	fput(&mm, f);
	cr_assert_null(mm.mappings);
	cr_assert_eq(inode->nrpages, 1, "the cache outlives the last user");
}

Test(page_cache, the_index_is_sparse_and_reaches_every_offset)
{
	attach_private();
	struct inode *inode = iget_anon(I_SHMEM, 1ULL << 62);
	cr_assert_not_null(inode);
	unsigned long offsets[] = { 0, 1, 63, 64, 4095, 1UL << 20, (1UL << 36) + 5, 1UL << 48,
				    (1UL << 51) - 1 };
	size_t n = sizeof(offsets) / sizeof(offsets[0]);
	uint32_t before = dom.hdr->node_hwm;
	rlock_lock(&inode->i_pages_lock);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(radix_replace(inode, offsets[i], 0, (uint32_t)(100 + i)), 0, "offset %lu", offsets[i]);
	cr_assert_eq(radix_replace(inode, 63, 0, 7), -EEXIST, "an occupied slot is not overwritten");
	rlock_unlock(&inode->i_pages_lock);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(radix_lookup(inode, offsets[i]), 100 + i, "offset %lu", offsets[i]);
	cr_assert_eq(radix_lookup(inode, 2), 0);
	cr_assert_eq(radix_lookup(inode, (1UL << 48) + 1), 0);
	/* a walk in order finds exactly those */
	uint32_t e;
	size_t seen = 0;
	for (unsigned long i = radix_next(inode, 0, &e); i != ~0UL; i = radix_next(inode, i + 1, &e)) {
		cr_assert_lt(seen, n);
		cr_assert_eq(i, offsets[seen], "entry %zu", seen);
		cr_assert_eq(e, 100 + seen);
		seen++;
	}
	cr_assert_eq(seen, n);
	cr_assert_lt(dom.hdr->node_hwm - before, 9 * n, "nodes grow with the entries, not the offsets");
	rlock_lock(&inode->i_pages_lock);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(radix_replace(inode, offsets[i], (uint32_t)(100 + i), 0), 0);
	rlock_unlock(&inode->i_pages_lock);
	cr_assert_eq(radix_next(inode, 0, &e), ~0UL);
	iput(inode);
	cr_assert_eq(inode->kind, I_FREE);
}
