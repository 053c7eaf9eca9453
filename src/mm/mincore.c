/*
 * mincore.c - which pages are resident (mm/mincore.c).
 *
 * For file and shared anonymous mappings, a page is resident when it is in
 * vmemu's page cache (whether or not this mapping has touched it), as Linux
 * reports page-cache residency.  A private page (anonymous memory, a
 * private copy of a file page) is resident once accessed, unless it is in
 * swap; one that anonymous fault-around made present before any access
 * (PTE_FRESH) is resident if the host has given it memory since.
 */
#include <errno.h>

#include "host/host.h"
#include "mm/mm.h"

struct mincore_args {
	unsigned long start;	/* the address vec[0] describes */
	unsigned char *vec;
};

static int mincore_vma(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long start,
		       unsigned long end, void *arg)
{
	struct mincore_args *a = arg;
	struct address_space *mapping = vma->vm_file ? vma->vm_file->f_mapping : NULL;

	(void)mm;
	for (unsigned long addr = start; addr < end; addr += PAGE_SIZE) {
		pte_t *pte = pte_offset(addr, false);
		unsigned long pgoff = linear_page_index(vma, addr);
		pte_t v = pte ? ptep_get(pte) : 0;
		bool present = v & PTE_PRESENT;

		if ((v & (PTE_ANON | PTE_FRESH)) == (PTE_ANON | PTE_FRESH)) {
			/* mapped around another's touch: has the host given it
			 * memory (was it accessed)? */
			unsigned char host = 0;
			present = host_pass_mincore(addr, PAGE_SIZE, &host) == 0 && (host & 1);
		} else if (v & PTE_ANON) {
			present = true;	/* a private page in memory, mapped or not */
		} else if (!present && !(v & PTE_SWAP) && mapping) {
			uint32_t e = radix_lookup(mapping->host, pgoff);
			present = e && !(e & RADIX_SWAP) && e <= MAX_FRAMES &&
				  (__atomic_load_n(&pfn_to_page(e - 1)->flags, __ATOMIC_ACQUIRE) & PG_uptodate);
		}
		a->vec[(addr - a->start) >> PAGE_SHIFT] = present;
	}
	return 0;
}

static int mincore_gap(unsigned long start, unsigned long end, void *arg)
{
	struct mincore_args *a = arg;

	return host_pass_mincore(start, end - start, a->vec + ((start - a->start) >> PAGE_SHIFT));
}

/* Fill vec[0 .. pages) for the pages from start.  Returns 0, or -ENOMEM at
 * the first hole.  vec must not be emulated memory (the API copies).  Caller
 * holds mmap_lock for reading. */
int do_mincore(struct mm_struct *mm, unsigned long start, unsigned long pages, unsigned char *vec)
{
	static const struct range_walk_ops ops = { .vma_range = mincore_vma, .gap = mincore_gap };
	struct mincore_args a = { .start = start, .vec = vec };

	return walk_range(mm, start, start + (pages << PAGE_SHIFT), &ops, &a);
}
