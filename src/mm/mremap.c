/*
 * mremap.c - grow, shrink and move mappings (mm/mremap.c).
 *
 * Growing in place extends the VMA over free address space.  Moving takes
 * the host's own mremap to carry the pages: their contents, protections and
 * private copies go with them, and a page-cache page stays the same frame,
 * so the dirty state and the sharing are kept.  One emulated VMA may be several
 * host mappings (pages of different protections), so a move goes run by run
 * where the whole range cannot go at once.  The software PTEs move along.
 */
#include <errno.h>
#include <linux/mman.h>

#include "host/host.h"
#include "mm/mm.h"

/* Move the host pages of [old, old + len) to new, by the largest pieces the
 * host accepts (its mremap needs a range inside one host mapping). */
static int move_host_range(unsigned long old, unsigned long len, unsigned long new)
{
	int r = host_move(old, len, new);

	if (r != -EFAULT || len == PAGE_SIZE)
		return r;
	unsigned long half = (len / 2) & PAGE_MASK;
	if ((r = move_host_range(old, half, new)))
		return r;
	if ((r = move_host_range(old + half, len - half, new + half)))
		move_host_range(new, half, old);	/* all or nothing: put the first half back */
	return r;
}

struct move_args {
	unsigned long old, new;
};

static int move_one(unsigned long addr, pte_t *src, void *arg)
{
	struct move_args *m = arg;
	unsigned long to = m->new + (addr - m->old);
	pte_t pte = ptep_get(src), *dst = pte_offset(to, true);

	if (dst)
		set_pte_at(to, dst, pte);
	set_pte_at(addr, src, 0);
	if ((pte & PTE_ANON) && !(pte & PTE_SWAP))
		move_frame(pte_val(pte), to);	/* the frame table finds it at to now */
	return 0;
}

/* Move the PTEs of [old, old + len) to new, and the frames' reverse map. */
static void move_ptes(unsigned long old, unsigned long len, unsigned long new)
{
	struct move_args m = { .old = old, .new = new };

	walk_ptes(old, old + len, move_one, &m);
}

static int any_pte(unsigned long addr, pte_t *ptep, void *arg)
{
	(void)addr, (void)ptep, (void)arg;
	return 1;
}

/* Has any page of [start, end) ever been made present (or is it now)? */
static bool range_has_ptes(unsigned long start, unsigned long end)
{
	return walk_ptes(start, end, any_pte, NULL) != 0;
}

/* Back [start, end) of vma on the host: the reservation. */
static int vma_extend_backing(struct vm_area_struct *vma, unsigned long start, unsigned long end)
{
	return vma_map_backing(vma, start, end);
}

/* move_vma: [old_addr, old_addr + old_len), exactly one VMA's range after
 * the splits, goes to new_addr (reserved), new_len long.  With dontunmap
 * the old VMA stays, empty.  Returns 0 or -errno. */
static int move_vma(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long old_addr,
		    unsigned long old_len, unsigned long new_len, unsigned long new_addr, bool dontunmap)
{
	struct vm_area_struct *new = vm_area_alloc();
	int r;

	if (!new)
		return -ENOMEM;
	if (vma->vm_start < old_addr && (r = split_vma(mm, vma, old_addr, 1)))
		goto out_free;
	if (vma->vm_end > old_addr + old_len && (r = split_vma(mm, vma, old_addr + old_len, 0)))
		goto out_free;
	*new = *vma;
	new->shared_next = NULL;
	new->vm_start = new_addr;
	new->vm_end = new_addr + new_len;
	/* As copy_vma: anonymous memory never faulted (no anon_vma) takes its
	 * new address as pgoff, so it can merge with its new neighbours. */
	if (vma_is_anonymous(vma) && !range_has_ptes(old_addr, old_addr + old_len))
		new->vm_pgoff = new_addr >> PAGE_SHIFT;
	/* The grown part's backing first: once pages have moved, a failure
	 * could not put them back. */
	if (new_len > old_len && (r = vma_extend_backing(new, new_addr + old_len, new_addr + new_len)))
		goto out_free;
	if ((r = move_host_range(old_addr, old_len, new_addr)))
		goto out_free;
	move_ptes(old_addr, old_len, new_addr);
	if (new->vm_file)
		get_file(new->vm_file);
	if ((r = vma_link(mm, new))) {
		if (new->vm_file)
			fput(mm, new->vm_file);
		goto out_free;
	}
	if (dontunmap) {
		/* The old range keeps its VMA and gets fresh backing: anonymous
		 * pages start again from zero, file pages from the page cache. */
		if ((r = vma_map_backing(vma, old_addr, old_addr + old_len))) {
			/* No backing for the old range: undo the move. */
			move_ptes(new_addr, old_len, old_addr);
			move_host_range(new_addr, old_len, old_addr);
			vma_unlink(mm, new);
			if (new->vm_file)
				fput(mm, new->vm_file);
			goto out_free;
		}
		vma->vm_flags &= ~VM_LOCKED_MASK;	/* the lock moved with the pages */
	} else {
		vma_unlink(mm, vma);
		if (vma->vm_file)
			fput(mm, vma->vm_file);
		vm_area_free(vma);
	}
	if (new->vm_flags & VM_LOCKED)	/* the old range's pages are the new's now */
		mm->locked_vm += (new_len - old_len) >> PAGE_SHIFT;
	vma_merge(mm, new);
	/* The emptied old range (DONTUNMAP) rejoins its neighbours, as on
	 * Linux, where it has lost its anon_vma.  Looked up again: the merge
	 * above may have changed the tree. */
	if (dontunmap && (vma = find_vma(mm, old_addr)) && vma->vm_start <= old_addr)
		vma_merge(mm, vma);
	return 0;

out_free:
	vm_area_free(new);
	return r;
}

/* vma_to_resize: the VMA holding all of [addr, addr + old_len), which may
 * grow by delta bytes if it is locked and RLIMIT_MEMLOCK has room
 * (resize_is_valid): -EFAULT, -EAGAIN or 0. */
static int vma_to_resize(struct mm_struct *mm, unsigned long addr, unsigned long old_len,
			 unsigned long delta, struct vm_area_struct **vmap)
{
	struct vm_area_struct *vma = find_vma(mm, addr);

	if (!vma || vma->vm_start > addr)
		return -EFAULT;
	if (old_len > vma->vm_end - addr)
		return -EFAULT;
	if (delta && !mlock_future_ok(mm, vma->vm_flags, delta))
		return -EAGAIN;
	*vmap = vma;
	return 0;
}

/* The checks of a MREMAP_FIXED destination, then its unmapping and
 * reservation.  Done before the source is looked up: unmapping the
 * destination may split or free VMAs.  Returns 0 or -errno. */
static int fixed_destination(struct mm_struct *mm, unsigned long addr, unsigned long old_len,
			     unsigned long new_addr, unsigned long new_len)
{
	int r;

	if (offset_in_page(new_addr))
		return -EINVAL;
	if (new_len > TASK_SIZE || new_addr > TASK_SIZE - new_len ||
	    vmalloc_intersects(new_addr, new_addr + new_len))	/* as past TASK_SIZE */
		return -EINVAL;
	if (addr + old_len > new_addr && new_addr + new_len > addr)
		return -EINVAL;		/* overlap */
	if ((r = do_munmap(mm, new_addr, new_len, false)))
		return r;
	return host_reserve(new_addr, new_len, HOST_RESERVE_FIXED, &new_addr);
}

/* mremap_to: MREMAP_FIXED and MREMAP_DONTUNMAP. */
static int mremap_to(struct mm_struct *mm, unsigned long addr, unsigned long old_len,
		     unsigned long new_addr, unsigned long new_len, int flags, unsigned long *out)
{
	struct vm_area_struct *vma;
	int r;

	/* Linux's order: the destination goes first, then the tail of the
	 * source, and only then is the source looked up (an earlier lookup
	 * could be freed by these unmaps). */
	if ((flags & MREMAP_FIXED) && (r = fixed_destination(mm, addr, old_len, new_addr, new_len)))
		return r;
	if (old_len > new_len) {
		if ((r = do_munmap(mm, addr + new_len, old_len - new_len, true)))
			goto out_unreserve;
		old_len = new_len;
	}
	if ((r = vma_to_resize(mm, addr, old_len, new_len - old_len, &vma)))
		goto out_unreserve;
	if (!(flags & MREMAP_FIXED) && (r = host_reserve(0, new_len, 0, &new_addr)))
		return r;
	if ((r = move_vma(mm, vma, addr, old_len, new_len, new_addr, flags & MREMAP_DONTUNMAP))) {
		host_unmap(new_addr, new_len);
		return r;
	}
	*out = new_addr;
	return 0;

out_unreserve:
	if (flags & MREMAP_FIXED)	/* the destination stays unmapped, as in Linux */
		host_unmap(new_addr, new_len);
	return r;
}

/* Can vma grow by delta in place?  Its successor must leave room, and the
 * host must have the addresses free; if so they are now reserved. */
static bool vma_expandable(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long delta)
{
	unsigned long end = vma->vm_end + delta, got;

	if (end < vma->vm_end || end > TASK_SIZE || find_vma_intersection(mm, vma->vm_end, end))
		return false;
	return host_reserve(vma->vm_end, delta, HOST_RESERVE_NOREPLACE, &got) == 0;
}

/* The checks Linux's mremap makes before it looks up the old range (the
 * first of do_mremap's): 0 or -EINVAL. */
int mremap_check_args(unsigned long addr, unsigned long old_len, unsigned long new_len, int flags)
{
	if (flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP))
		return -EINVAL;
	if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE))
		return -EINVAL;
	if ((flags & MREMAP_DONTUNMAP) && (!(flags & MREMAP_MAYMOVE) || old_len != new_len))
		return -EINVAL;
	if (offset_in_page(addr))
		return -EINVAL;
	new_len = PAGE_ALIGN(new_len);
	if (!new_len || new_len > TASK_SIZE)
		return -EINVAL;
	return 0;
}

static int mremap_vma(struct mm_struct *mm, unsigned long addr, unsigned long old_len,
		      unsigned long new_len, int flags, unsigned long new_addr, unsigned long *out);

/* The mremap system call, after the API edge has rounded nothing: returns 0
 * with the new address in *out, or -errno.  The grown part of a locked
 * mapping is populated, as Linux's mremap does.  Caller holds mmap_lock for
 * writing. */
int do_mremap(struct mm_struct *mm, unsigned long addr, unsigned long old_len,
	      unsigned long new_len, int flags, unsigned long new_addr, unsigned long *out)
{
	int r = mremap_vma(mm, addr, old_len, new_len, flags, new_addr, out);
	struct vm_area_struct *vma;

	old_len = PAGE_ALIGN(old_len);
	new_len = PAGE_ALIGN(new_len);
	if (!r && new_len > old_len && (vma = find_vma(mm, *out + old_len)) && (vma->vm_flags & VM_LOCKED))
		mm_populate(mm, *out + old_len, *out + new_len, true);
	return r;
}

static int mremap_vma(struct mm_struct *mm, unsigned long addr, unsigned long old_len,
		      unsigned long new_len, int flags, unsigned long new_addr, unsigned long *out)
{
	struct vm_area_struct *vma;
	int r;

	if ((r = mremap_check_args(addr, old_len, new_len, flags)))
		return r;
	old_len = PAGE_ALIGN(old_len);
	new_len = PAGE_ALIGN(new_len);

	if (!old_len) {		/* a second mapping of a shared object */
		/* The source is checked before anything is unmapped, as in
		 * Linux, and looked up again after: the unmap may free it. */
		r = vma_to_resize(mm, addr, PAGE_SIZE, new_len, &vma);
		if (!r && (!(vma->vm_flags & VM_MAYSHARE) || !vma->vm_file))
			r = -EINVAL;
		if (!r && !(flags & MREMAP_MAYMOVE))
			r = -ENOMEM;		/* it cannot grow in place from nothing */
		if (r)
			return r;
		if (flags & MREMAP_FIXED) {
			if ((r = fixed_destination(mm, addr, 0, new_addr, new_len)))
				return r;
			if ((r = vma_to_resize(mm, addr, PAGE_SIZE, 0, &vma))) {
				host_unmap(new_addr, new_len);
				return r;
			}
		} else if ((r = host_reserve(0, new_len, 0, &new_addr))) {
			return r;
		}
		struct vm_area_struct *dup = vm_area_alloc();
		if (!dup) {
			host_unmap(new_addr, new_len);
			return -ENOMEM;
		}
		*dup = *vma;
		dup->shared_next = NULL;
		dup->vm_pgoff = linear_page_index(vma, addr);
		dup->vm_start = new_addr;
		dup->vm_end = new_addr + new_len;
		get_file(dup->vm_file);
		if ((r = vma_extend_backing(dup, new_addr, new_addr + new_len)) ||
		    (r = vma_link(mm, dup))) {
			fput(mm, dup->vm_file);
			vm_area_free(dup);
			host_unmap(new_addr, new_len);
			return r;
		}
		if (dup->vm_flags & VM_LOCKED)
			mm->locked_vm += new_len >> PAGE_SHIFT;
		vma_merge(mm, dup);
		*out = new_addr;
		return 0;
	}

	if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP))
		return mremap_to(mm, addr, old_len, new_addr, new_len, flags, out);

	if (old_len >= new_len) {	/* shrink in place */
		if (old_len > new_len && (r = do_munmap(mm, addr + new_len, old_len - new_len, true)))
			return r;
		*out = addr;
		return 0;
	}
	if ((r = vma_to_resize(mm, addr, old_len, new_len - old_len, &vma)))
		return r;
	/* Grow in place, if the range ends where the VMA ends and there is room. */
	if (old_len == vma->vm_end - addr && vma_expandable(mm, vma, new_len - old_len)) {
		unsigned long old_end = vma->vm_end;
		if ((r = vma_extend_backing(vma, old_end, addr + new_len))) {
			host_unmap(old_end, addr + new_len - old_end);
			return r;
		}
		vma->vm_end = addr + new_len;
		if (vma->vm_flags & VM_LOCKED)
			mm->locked_vm += (new_len - old_len) >> PAGE_SHIFT;
		mm_span_include(mm, vma->vm_start, vma->vm_end);
		vma_merge(mm, vma);
		*out = addr;
		return 0;
	}
	if (!(flags & MREMAP_MAYMOVE))
		return -ENOMEM;
	if ((r = host_reserve(0, new_len, 0, &new_addr)))
		return r;
	if ((r = move_vma(mm, vma, addr, old_len, new_len, new_addr, false))) {
		host_unmap(new_addr, new_len);
		return r;
	}
	*out = new_addr;
	return 0;
}
