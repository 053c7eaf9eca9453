/*
 * mremap.c - vme_mremap, variadic as glibc's mremap: new_address is read
 * only with MREMAP_FIXED.  An old range vmemu does not manage is the host's,
 * but for the heap's reservation and vmemu's own memory, which are no
 * mapping (EFAULT); a host mapping moved over emulated memory replaces it,
 * and one moved onto vmemu's own memory is refused (EINVAL).
 */
#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>

#include <vmemu.h>
#include "api/api.h"
#include "mm/brk.h"
#include "mm/mm.h"

VME_EXPORT void *vme_mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...)
{
	unsigned long addr = (unsigned long)old_address, new_addr = 0, out;
	struct vme_call call;
	int r;

	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		new_addr = (unsigned long)va_arg(ap, void *);
		va_end(ap);
	}
	if ((r = vme_enter(&call)))
		return errno = -r, MAP_FAILED;
	mmap_write_lock();
	struct vm_area_struct *vma = find_vma(&init_mm, addr);
	unsigned long new_end = new_addr + PAGE_ALIGN(new_size);
	if (vma && vma->vm_start <= addr) {
		/* Where the old range of a VMA in the heap's reservation was,
		 * the reservation's placeholder goes back. */
		if (!(r = do_mremap(&init_mm, addr, old_size, new_size, flags, new_addr, &out)))
			brk_restore(&init_mm, addr, addr + PAGE_ALIGN(old_size));
	} else if (brk_range_is_hole(&init_mm, addr & PAGE_MASK, (addr & PAGE_MASK) + PAGE_SIZE) ||
		   vmalloc_intersects(addr & PAGE_MASK, (addr & PAGE_MASK) + PAGE_SIZE)) {
		/* The heap's reservation and vmemu's own memory are no
		 * mapping of the program's. */
		if (!(r = mremap_check_args(addr, old_size, new_size, flags)))
			r = -EFAULT;
	} else if ((flags & MREMAP_FIXED) && !offset_in_page(new_addr) && new_size && new_end > new_addr &&
		   vmalloc_intersects(new_addr, new_end)) {
		if (!(r = mremap_check_args(addr, old_size, new_size, flags)))
			r = -EINVAL;	/* as do_mremap refuses it */
	} else if ((flags & MREMAP_FIXED) && !offset_in_page(new_addr) && new_size && new_end > new_addr) {
		/* The host's mapping moves over whatever is at new_addr,
		 * emulated VMAs included. */
		if (!(r = host_fixed_begin(&init_mm, new_addr, new_end))) {
			r = host_pass_mremap(addr, old_size, new_size, flags, new_addr, &out);
			host_fixed_end(&init_mm, new_addr, new_end, r);
		}
		if (!r)
			brk_host_mapped(&init_mm, new_addr, new_end);
	} else {
		r = host_pass_mremap(addr, old_size, new_size, flags, new_addr, &out);
		if (!r)
			brk_host_mapped(&init_mm, out, out + PAGE_ALIGN(new_size));
	}
	mmap_write_unlock();
	vme_leave(&call);
	return r ? (errno = -r, MAP_FAILED) : (void *)out;
}
