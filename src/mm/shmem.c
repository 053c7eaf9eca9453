/*
 * shmem.c - shared anonymous memory (mm/shmem.c).
 *
 * A MAP_SHARED|MAP_ANONYMOUS mapping gets its own object, as the kernel's
 * shmem_zero_setup gives it a "/dev/zero (deleted)" file: a page cache with no
 * backing file, whose frames start as zeros.  Every VMA split from it, and a
 * forked child, maps the same frames.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mm/mm.h"
#include "mm/vmstat.h"

static const struct address_space_operations shmem_aops = { 0 };

/* handler-safe: vm_ops->fault for shmem.  A page is a frame from its first
 * fault on (zeros until written), or comes back from swap.  Returns with the
 * page locked, as filemap_fault. */
static int shmem_fault(struct fault *vmf)
{
	struct address_space *mapping = vmf->vma->vm_file->f_mapping;
	unsigned long pgoff = vmf->pgoff, slot;
	int ret = 0;

	/* Past the object's size (a mapping grown by mremap): SIGBUS, as shmem */
	if (pgoff >= mapping->nr_pages || (off_t)(pgoff << PAGE_SHIFT) >= mapping->i_stat.st_size)
		return VM_FAULT_SIGBUS;
	lock_page(mapping, pgoff);
	pgflags_t f = mapping->flags[pgoff];
	if (f & PG_uptodate) {
		mark_frame_accessed(pg_val(f));
		return 0;
	}
	if (!(slot = alloc_frame())) {
		unlock_page(mapping, pgoff);
		return VM_FAULT_OOM;
	}
	if (f & PG_swap) {	/* shmem_swapin: back into the frame, then the slot is free */
		if (swap_readpage(pg_val(f), mapping->direct + (pgoff << PAGE_SHIFT))) {
			free_frame(slot);
			unlock_page(mapping, pgoff);
			return VM_FAULT_SIGBUS;
		}
		swap_free(pg_val(f));
		mapping->nr_swapped--;
		count_vm_event(EV_pgmajfault);
		ret = VM_FAULT_MAJOR;
	}
	set_frame(slot, mapping, pgoff);
	__atomic_store_n(&mapping->flags[pgoff], PG_locked | PG_uptodate | ((pgflags_t)slot << PG_VAL_SHIFT),
			 __ATOMIC_RELEASE);
	return ret;
}

static const struct vm_operations_struct shmem_vm_ops = {
	.fault = shmem_fault,
	.name = "shmem",
};

/* Give vma a new shared anonymous object of its size.  Returns 0 or -errno.
 * Caller holds mmap_lock for writing. */
int shmem_zero_setup(struct mm_struct *mm, struct vm_area_struct *vma)
{
	struct address_space *mapping = mapping_alloc(&shmem_aops);
	struct file *file = calloc(1, sizeof(*file));
	int r = -ENOMEM;

	if (!mapping || !file || !(file->f_path = strdup("/dev/zero (deleted)")))
		goto out_free;
	if ((r = mapping_grow(mapping, vma_pages(vma))))
		goto out_free;
	mapping->refcount = 1;
	mapping->i_stat.st_size = (off_t)(vma->vm_end - vma->vm_start);	/* fixed, as shmem's */
	mapping->next = mm->mappings;
	mm->mappings = mapping;
	file->f_mapping = mapping;
	file->refcount = 1;
	vma->vm_file = file;
	vma->vm_pgoff = 0;
	vma->vm_ops = &shmem_vm_ops;
	return 0;

out_free:
	if (mapping) {
		mapping->refcount = 1;
		mapping->next = mm->mappings;
		mm->mappings = mapping;
		mapping_put(mm, mapping);
	}
	if (file)
		free(file->f_path);
	free(file);
	return r;
}
