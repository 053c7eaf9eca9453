/*
 * shmem.c - shared anonymous memory (mm/shmem.c).
 *
 * A MAP_SHARED|MAP_ANONYMOUS mapping gets its own object, as the kernel's
 * shmem_zero_setup gives it a "/dev/zero (deleted)" file: an anonymous inode
 * of the domain, whose pages are frames of the pool that start as zeros.
 * Every VMA split from it, and a forked child, map the same frames.  It dies
 * with its last user.  A page of an object only this process uses can go to
 * swap: its index entry then holds the swap entry (shmem_swapin_folio reads
 * it back).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mm/mm.h"
#include "mm/vmstat.h"

static const struct address_space_operations shmem_aops = { 0 };

/* handler-safe: vm_ops->fault for shmem.  A page is a frame from its first
 * fault on (zeros until written), or comes back from swap.  Returns with the
 * frame locked in vmf->pfn, as filemap_fault. */
static int shmem_fault(struct fault *vmf)
{
	struct address_space *mapping = vmf->vma->vm_file->f_mapping;
	struct inode *inode = mapping->host;
	unsigned long pgoff = vmf->pgoff, pfn;

	/* pages another process punched out (MADV_REMOVE) go from here too */
	if (__atomic_load_n(&inode->seq, __ATOMIC_ACQUIRE) != mapping->seq)
		mapping_resync(mapping);
	/* Past the object's size (a mapping grown by mremap): SIGBUS, as shmem */
	if (pgoff >= inode_size_pages(inode))
		return VM_FAULT_SIGBUS;
	for (;;) {
		if ((pfn = find_lock_page(inode, pgoff)) != NO_PAGE) {
			vmf->pfn = pfn;
			mark_page_accessed(pfn);
			return 0;
		}
		uint32_t e = radix_lookup(inode, pgoff);
		int ret = 0;
		if (e && !(e & RADIX_SWAP))
			continue;	/* cached meanwhile */
		if (!alloc_pages_run(1, &pfn))
			return VM_FAULT_OOM;
		unsigned long seq = 0;
		if (e & RADIX_SWAP) {
			/* The slot's free count while the index still names it:
			 * if it moved by the time the read is put in the index,
			 * the slot was freed (another fault read it back) and may
			 * hold newer bytes under the very same entry. */
			seq = swap_free_seq(e & ~RADIX_SWAP);
			if (radix_lookup(inode, pgoff) != e) {
				free_page_frame(pfn);
				continue;
			}
			if (swap_readpage(e & ~RADIX_SWAP, page_address(pfn))) {
				free_page_frame(pfn);
				return VM_FAULT_SIGBUS;	/* stays in swap: a later access retries */
			}
			ret = VM_FAULT_MAJOR;
		} else {
			memset(page_address(pfn), 0, PAGE_SIZE);	/* a recycled frame */
		}
		view_account(1);
		/* In the index, in place of the swap entry or the hole. */
		rlock_lock(&inode->i_pages_lock);
		int r = (e & RADIX_SWAP) && swap_free_seq(e & ~RADIX_SWAP) != seq ?
			-EAGAIN : radix_replace(inode, pgoff, e, (uint32_t)pfn + 1);
		if (!r) {
			struct page *page = pfn_to_page(pfn);
			page->inode = inode_index(inode) + 1;
			page->index = pgoff;
			__atomic_store_n(&page->flags, PG_uptodate, __ATOMIC_RELEASE);
			__atomic_add_fetch(&inode->nrpages, 1, __ATOMIC_ACQ_REL);
			if (e & RADIX_SWAP)
				__atomic_sub_fetch(&inode->nrswapped, 1, __ATOMIC_ACQ_REL);
		}
		rlock_unlock(&inode->i_pages_lock);
		if (r) {
			free_page_frame(pfn);
			if (r == -ENOMEM)
				return VM_FAULT_OOM;
			continue;	/* another fault got there first, or the slot was reused */
		}
		if (e & RADIX_SWAP) {
			swap_free(e & ~RADIX_SWAP);
			count_vm_event(EV_pgmajfault);
		}
		vmf->pfn = pfn;
		return ret;
	}
}

/* handler-safe: swap out shmem page pfn (locked, mapped by nobody, of an
 * object only this process uses) and free its frame (shmem_writepage).
 * Returns true if it did; false leaves it, locked. */
bool shmem_reclaim_page(unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);
	struct inode *inode = inode_of(page->inode - 1);
	unsigned long entry;

	if (!get_swap_pages(1, &entry))
		return false;
	if (swap_writepage(entry, page_address(pfn), 1)) {
		swap_free(entry);
		return false;
	}
	view_account(1);
	rlock_lock(&inode->i_pages_lock);
	int r = radix_replace(inode, page->index, (uint32_t)pfn + 1, RADIX_SWAP | (uint32_t)entry);
	if (!r) {
		__atomic_sub_fetch(&inode->nrpages, 1, __ATOMIC_ACQ_REL);
		__atomic_add_fetch(&inode->nrswapped, 1, __ATOMIC_ACQ_REL);
	}
	rlock_unlock(&inode->i_pages_lock);
	if (r) {
		swap_free(entry);
		return false;
	}
	free_page_frame(pfn);
	return true;
}

static const struct vm_operations_struct shmem_vm_ops = {
	.fault = shmem_fault,
	.name = "shmem",
};

/* Give vma a new shared anonymous object of its size.  Returns 0 or -errno.
 * Caller holds mmap_lock for writing. */
int shmem_zero_setup(struct mm_struct *mm, struct vm_area_struct *vma)
{
	struct inode *inode = iget_anon(I_SHMEM, vma->vm_end - vma->vm_start);	/* fixed, as shmem's */
	struct address_space *mapping = inode ? mapping_alloc(&shmem_aops, inode) : NULL;
	struct file *file = calloc(1, sizeof(*file));

	if (!mapping || !file || !(file->f_path = strdup("/dev/zero (deleted)"))) {
		if (mapping)
			free(mapping);
		if (inode)
			iput(inode);
		if (file)
			free(file->f_path);
		free(file);
		return -ENOMEM;
	}
	mapping->refcount = 1;
	mapping->next = mm->mappings;
	mm->mappings = mapping;
	file->f_mapping = mapping;
	file->refcount = 1;
	vma->vm_file = file;
	vma->vm_pgoff = 0;
	vma->vm_ops = &shmem_vm_ops;
	return 0;
}
