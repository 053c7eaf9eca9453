/*
 * msync.c - write back a range of shared file mappings (mm/msync.c).
 *
 * MS_SYNC writes back the dirty pages of the range and calls fdatasync;
 * MS_ASYNC does nothing, as on Linux since 2.6.19 (the pages stay dirty
 * until MS_SYNC, munmap, reclaim or exit write them).  MS_INVALIDATE
 * makes the cache catch up with the file: if something outside vmemu
 * (write(2), ftruncate(2), another program) changed it, clean pages are
 * dropped and read again, and pages past a new end go (mapping_revalidate);
 * every mapping of the file, in every process, shares the one cache, so
 * nothing else needs invalidating.  A page whose write-back fails stays
 * dirty, and the error is returned; a later msync tries again.
 */
#include <errno.h>
#include <linux/mman.h>

#include "host/host.h"
#include "mm/mm.h"

static int msync_vma(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long start,
		     unsigned long end, void *arg)
{
	int flags = *(int *)arg;

	(void)mm;
	if ((flags & MS_INVALIDATE) && (vma->vm_flags & VM_LOCKED))
		return -EBUSY;		/* its pages may not go */
	if ((flags & MS_INVALIDATE) && vma->vm_file) {
		int r = mapping_revalidate(vma->vm_file->f_mapping);
		if (r)
			return r;
	}
	if (!vma_is_shared_file(vma) || !(flags & MS_SYNC))
		return 0;
	struct address_space *mapping = vma->vm_file->f_mapping;
	return writeback_range(mapping, mapping->host, -1, linear_page_index(vma, start),
			       linear_page_index(vma, end - PAGE_SIZE), true);
}

static int msync_gap(unsigned long start, unsigned long end, void *arg)
{
	return host_pass_msync(start, end - start, *(int *)arg);
}

/* Caller holds mmap_lock (for writing with MS_INVALIDATE); [start, start +
 * len) is page-aligned. */
int do_msync(struct mm_struct *mm, unsigned long start, size_t len, int flags)
{
	static const struct range_walk_ops ops = {
		.vma_range = msync_vma, .gap = msync_gap, .continue_past_holes = true,
	};

	return walk_range(mm, start, start + len, &ops, &flags);
}
