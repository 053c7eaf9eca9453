/*
 * vmalloc.c - vmemu's own memory: its page tables, frame table, the
 * domain's views, its VMAs, its swap buffers (the kernel's vmalloc area).
 *
 * On Linux the kernel's memory is not in the program's address space.
 * vmemu's is, where the host placed it, and the program must not reach it:
 * every mapping vmemu makes for itself is made here, at initialisation
 * (so never in a hole the program leaves later), and recorded in vmlist.
 * The calls the program makes treat those ranges as the kernel's:
 *
 *  - a hole for munmap (nothing is done there: do_munmap), mprotect,
 *    msync, madvise and mincore (ENOMEM: walk_range), and mremap of them
 *    (EFAULT), as for addresses the program never mapped;
 *  - no place for a new mapping: MAP_FIXED there fails with ENOMEM and
 *    MREMAP_FIXED with EINVAL, as Linux answers for addresses past the top
 *    of the user address space (do_mmap, mremap).
 *
 * Loads and stores the program makes there are not caught (the memory is
 * accessible); see docs/limitations.md.  The list is changed at
 * initialisation and shutdown only, under mmap_lock held for writing or
 * before any other thread can call vmemu; readers hold mmap_lock.
 */
#include <errno.h>

#include "host/host.h"
#include "mm/mm.h"

#define NR_VMLIST	16

/* One of vmemu's own mappings (the kernel's struct vm_struct). */
struct vm_struct {
	unsigned long addr;
	unsigned long size;
};

static struct vm_struct vmlist[NR_VMLIST];
static unsigned int nr_vmlist;

static int vm_area_add(void *addr, size_t size)
{
	if (nr_vmlist == NR_VMLIST) {
		host_write_str("vmemu: warning: more than 16 mappings of vmemu's own\n");
		return -ENOMEM;
	}
	vmlist[nr_vmlist++] = (struct vm_struct){ (unsigned long)addr, PAGE_ALIGN(size) };
	return 0;
}

/* size bytes of zeroed, private, NORESERVE memory of vmemu's own (the host
 * fills it in as it is touched).  Returns 0 with it in *addr, or -errno. */
int vmalloc(size_t size, void **addr)
{
	int r = host_alloc_private(size, addr);

	if (!r && (r = vm_area_add(*addr, size)))
		host_free(*addr, size);
	return r;
}

/* Bytes [off, off + size) of the segment fd, shared and writable, as
 * vmemu's own view of it.  Returns 0 with it in *addr, or -errno. */
int vmap_segment(int fd, off_t off, size_t size, void **addr)
{
	int r = host_map_segment(fd, off, size, addr);

	if (!r && (r = vm_area_add(*addr, size)))
		host_free(*addr, size);
	return r;
}

/* A leak checker (LeakSanitizer, under make asan) does not look into memory
 * the program mapped itself, so what vmemu keeps only there, a pointer to
 * what it got from malloc (a VMA's struct file), would look lost at exit.
 * Such memory is shown to it, when it is there. */
extern void __lsan_register_root_region(const void *p, size_t size) __attribute__((weak));

void vmalloc_scan_for_leaks(void *addr, size_t size)
{
	if (__lsan_register_root_region)
		__lsan_register_root_region(addr, size);
}

/* Unmap what vmalloc or vmap_segment returned. */
void vfree(void *addr, size_t size)
{
	for (unsigned int i = 0; i < nr_vmlist; i++) {
		if (vmlist[i].addr != (unsigned long)addr)
			continue;
		vmlist[i] = vmlist[--nr_vmlist];
		break;
	}
	host_free(addr, size);
}

/* The first part of [start, end) that is all vmemu's own memory (*own
 * true) or has none of it: returns where that part ends. */
unsigned long vmalloc_part(unsigned long start, unsigned long end, bool *own)
{
	unsigned long next = end;

	*own = false;
	for (unsigned int i = 0; i < nr_vmlist; i++) {
		unsigned long a = vmlist[i].addr, b = a + vmlist[i].size;
		if (a <= start && start < b) {
			*own = true;
			return b < end ? b : end;
		}
		if (a > start && a < next)
			next = a;
	}
	return next;
}

/* Does [start, end) meet vmemu's own memory? */
bool vmalloc_intersects(unsigned long start, unsigned long end)
{
	bool own;

	return start < end && (vmalloc_part(start, end, &own) < end || own);
}

/* The bytes of vmemu's own mappings. */
unsigned long vmalloc_total(void)
{
	unsigned long n = 0;

	for (unsigned int i = 0; i < nr_vmlist; i++)
		n += vmlist[i].size;
	return n;
}
