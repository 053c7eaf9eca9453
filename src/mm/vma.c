/*
 * vma.c - the VMA tree: lookup, link, split and merge (mm/mmap.c, mm/vma.c).
 *
 * The VMAs of the mm sit in an array sorted by address, so find_vma is a
 * binary search.  Writers change it under mmap_lock held for writing; the
 * fault handler reads it under mmap_lock held for reading.  The array and
 * the VMAs themselves are vmemu's own memory (vmalloc.c), reserved once
 * for up to VMAS_MAX of each and filled in as they are used, so that
 * vmemu maps nothing for itself where the program leaves holes.
 */
#include <errno.h>
#include <string.h>

#include "mm/mm.h"

/* handler-safe: index of the first VMA with vm_end > addr (map_count if none). */
static size_t vma_index_after(const struct mm_struct *mm, unsigned long addr)
{
	size_t lo = 0, hi = mm->map_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (mm->vmas[mid]->vm_end > addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* handler-safe: the first VMA that ends after addr, as in Linux: it may start
 * after addr too. */
struct vm_area_struct *find_vma(struct mm_struct *mm, unsigned long addr)
{
	size_t i = vma_index_after(mm, addr);
	return i < mm->map_count ? mm->vmas[i] : NULL;
}

struct vm_area_struct *find_vma_intersection(struct mm_struct *mm, unsigned long start,
					     unsigned long end)
{
	struct vm_area_struct *vma = find_vma(mm, start);
	return vma && vma->vm_start < end ? vma : NULL;
}

static size_t vma_index(const struct mm_struct *mm, const struct vm_area_struct *vma)
{
	return vma_index_after(mm, vma->vm_start);
}

struct vm_area_struct *vma_prev(struct mm_struct *mm, struct vm_area_struct *vma)
{
	size_t i = vma_index(mm, vma);
	return i ? mm->vmas[i - 1] : NULL;
}

struct vm_area_struct *vma_next(struct mm_struct *mm, struct vm_area_struct *vma)
{
	size_t i = vma_index(mm, vma);
	return i + 1 < mm->map_count ? mm->vmas[i + 1] : NULL;
}

#define VMAS_MAX	(1UL << 20)	/* VMAs per mm, and in all (Linux: vm.max_map_count) */

/* The VMA cache (the kernel's vm_area_cachep): VMAS_MAX slots, handed out
 * from the bottom, freed ones on a list through their first word.  Caller
 * holds mmap_lock for writing. */
static struct vm_area_struct *vm_area_cachep;
static unsigned long vm_area_next;
static struct vm_area_struct *vm_area_free_list;

/* Reserve the VMA cache, once.  Returns 0 or -errno. */
int vm_area_cache_init(void)
{
	void *p;
	int r;

	if (vm_area_cachep)
		return 0;
	if ((r = vmalloc(VMAS_MAX * sizeof(struct vm_area_struct), &p)))
		return r;
	vmalloc_scan_for_leaks(p, VMAS_MAX * sizeof(struct vm_area_struct));	/* vm_file */
	vm_area_cachep = p;
	return 0;
}

/* A zeroed VMA, or NULL. */
struct vm_area_struct *vm_area_alloc(void)
{
	struct vm_area_struct *vma = vm_area_free_list;

	if (vma) {
		vm_area_free_list = *(struct vm_area_struct **)vma;
	} else {
		if (vm_area_cache_init() || vm_area_next == VMAS_MAX)
			return NULL;
		vma = &vm_area_cachep[vm_area_next++];
	}
	memset(vma, 0, sizeof(*vma));
	return vma;
}

void vm_area_free(struct vm_area_struct *vma)
{
	*(struct vm_area_struct **)vma = vm_area_free_list;
	vm_area_free_list = vma;
}

void i_mmap_insert(struct vm_area_struct *vma)
{
	struct address_space *mapping = vma->vm_file->f_mapping;

	vma->shared_next = mapping->i_mmap;
	mapping->i_mmap = vma;
}

void i_mmap_remove(struct vm_area_struct *vma)
{
	struct vm_area_struct **p = &vma->vm_file->f_mapping->i_mmap;

	while (*p && *p != vma)
		p = &(*p)->shared_next;
	if (*p)
		*p = vma->shared_next;
	vma->shared_next = NULL;
}

/* [start, end) is emulated now: widen the span user_range_maybe_emulated
 * checks.  Caller holds mmap_lock for writing. */
void mm_span_include(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	if (start < mm->span_start || !mm->span_end)
		__atomic_store_n(&mm->span_start, start, __ATOMIC_RELEASE);
	if (end > mm->span_end)
		__atomic_store_n(&mm->span_end, end, __ATOMIC_RELEASE);
}

/* Room for one more VMA in mm's array (reserved whole at its first use).
 * Returns 0 or -ENOMEM. */
int vmas_reserve(struct mm_struct *mm)
{
	void *p;

	if (!mm->vmas) {
		if (vmalloc(VMAS_MAX * sizeof(*mm->vmas), &p))
			return -ENOMEM;
		mm->vmas = p;
		mm->vmas_cap = VMAS_MAX;
	}
	return mm->map_count < mm->vmas_cap ? 0 : -ENOMEM;
}

/* Give mm's array back (it has no VMAs left). */
void vmas_free(struct mm_struct *mm)
{
	if (mm->vmas)
		vfree(mm->vmas, mm->vmas_cap * sizeof(*mm->vmas));
	mm->vmas = NULL;
	mm->vmas_cap = 0;
}

/* Insert vma into the sorted array and its object's rmap.  Returns 0 or
 * -ENOMEM.  Caller holds mmap_lock for writing. */
int vma_link(struct mm_struct *mm, struct vm_area_struct *vma)
{
	int r = vmas_reserve(mm);
	if (r)
		return r;
	size_t i = vma_index_after(mm, vma->vm_start);
	memmove(&mm->vmas[i + 1], &mm->vmas[i], (mm->map_count - i) * sizeof(*mm->vmas));
	mm->vmas[i] = vma;
	mm->map_count++;
	if (vma->vm_file)
		i_mmap_insert(vma);
	if (vma->vm_start < mm->mmap_base || !mm->mmap_base)
		mm->mmap_base = vma->vm_start;
	mm_span_include(mm, vma->vm_start, vma->vm_end);
	return 0;
}

/* Remove vma from the array and the rmap; the caller frees it. */
void vma_unlink(struct mm_struct *mm, struct vm_area_struct *vma)
{
	size_t i = vma_index(mm, vma);

	memmove(&mm->vmas[i], &mm->vmas[i + 1], (mm->map_count - i - 1) * sizeof(*mm->vmas));
	mm->map_count--;
	if (vma->vm_file)
		i_mmap_remove(vma);
}

/* Split vma at addr.  The new VMA takes [vm_start, addr) if new_below, else
 * [addr, vm_end).  Returns 0 or -ENOMEM, leaving vma intact on failure. */
int split_vma(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long addr, int new_below)
{
	struct vm_area_struct *new = vm_area_alloc();
	int r;

	if (!new)
		return -ENOMEM;
	if ((r = vmas_reserve(mm))) {
		vm_area_free(new);
		return r;
	}
	*new = *vma;
	new->shared_next = NULL;
	if (new_below) {
		new->vm_end = addr;
		vma->vm_pgoff += (addr - vma->vm_start) >> PAGE_SHIFT;
		vma->vm_start = addr;
	} else {
		new->vm_start = addr;
		new->vm_pgoff += (addr - vma->vm_start) >> PAGE_SHIFT;
		vma->vm_end = addr;
	}
	if (new->vm_file)
		get_file(new->vm_file);
	return vma_link(mm, new);
}

/* Can b follow a directly, as one VMA? (is_mergeable_vma + pgoff continuity) */
static bool can_merge(const struct vm_area_struct *a, const struct vm_area_struct *b)
{
	if (a->vm_end != b->vm_start || a->vm_flags != b->vm_flags || a->vm_ops != b->vm_ops)
		return false;
	if (!a->vm_file != !b->vm_file)
		return false;
	if (a->vm_file && a->vm_file->f_mapping != b->vm_file->f_mapping)
		return false;
	return a->vm_pgoff + vma_pages(a) == b->vm_pgoff;
}

/* Absorb next into vma. */
static void vma_absorb(struct mm_struct *mm, struct vm_area_struct *vma, struct vm_area_struct *next)
{
	vma_unlink(mm, next);
	vma->vm_end = next->vm_end;
	if (next->vm_file)
		fput(mm, next->vm_file);
	vm_area_free(next);
}

/* Merge vma with its neighbours where they are compatible, as vma_merge
 * does after mmap and mprotect.  Returns the VMA that now covers vma. */
struct vm_area_struct *vma_merge(struct mm_struct *mm, struct vm_area_struct *vma)
{
	struct vm_area_struct *next = vma_next(mm, vma);
	struct vm_area_struct *prev = vma_prev(mm, vma);

	if (next && can_merge(vma, next))
		vma_absorb(mm, vma, next);
	if (prev && can_merge(prev, vma)) {
		vma_absorb(mm, prev, vma);
		vma = prev;
	}
	return vma;
}

/* handler-safe: the host protection of a page with software PTE pte. */
int vma_host_prot(const struct vm_area_struct *vma, pte_t pte)
{
	if (!(pte & PTE_PRESENT))
		return HOST_PROT_NONE;
	int prot = (int)(vma->vm_flags & VM_ACCESS_FLAGS);
	if (!(pte & PTE_WRITE)) {
		prot &= ~HOST_PROT_WRITE;
		/* x86's protection_map makes a write-only VMA readable; its
		 * read-only PTEs must stay readable too, or a read would take the
		 * write path (breaking COW, dirtying a shared page). */
		if (vma->vm_flags & VM_WRITE)
			prot |= HOST_PROT_READ;
	}
	return prot;
}
