/*
 * framebuffer.c - an example driver: a framebuffer with damage tracking.
 *
 * Every mapping of the device shares its frames, so what one writes the
 * others (and a forked child) see.  Like Linux's framebuffer deferred I/O,
 * page_mkwrite records which pages were written; vme_msync(MS_SYNC) on a
 * mapping write-protects them again, so the next write is recorded too.
 *
 * Uses only the public interface.  fault and page_mkwrite run in the SIGSEGV
 * handler: atomics only.
 */
#include <errno.h>
#include <string.h>

#include <vmemu.h>

#define VME_EXPORT __attribute__((visibility("default")))
#define BITS (8 * sizeof(unsigned long))

static int fb_mmap(void *private_data, const struct vme_vm_area *vma)
{
	const struct vme_framebuffer *fb = private_data;
	size_t page = 4096;

	if (vma->pgoff > fb->size / page || vma->length > fb->size - vma->pgoff * page)
		return -EINVAL;		/* as fb_mmap: nothing beyond the framebuffer */
	return 0;
}

/* handler-safe: a new page of the framebuffer is black. */
static int fb_fault(struct vme_fault *vmf)
{
	const struct vme_framebuffer *fb = vmf->private_data;

	if (vmf->pgoff * vmf->page_size >= fb->size)
		return VME_FAULT_SIGBUS;
	memset(vmf->page, 0, vmf->page_size);
	return 0;
}

/* handler-safe: record the damage. */
static int fb_page_mkwrite(struct vme_fault *vmf)
{
	struct vme_framebuffer *fb = vmf->private_data;
	unsigned long bit = 1UL << (vmf->pgoff % BITS);

	if (vmf->pgoff >= 64 * BITS)
		return 0;
	if (!(__atomic_fetch_or(&fb->damage[vmf->pgoff / BITS], bit, __ATOMIC_RELAXED) & bit))
		__atomic_fetch_add(&fb->damaged, 1, __ATOMIC_RELAXED);
	return 0;
}

VME_EXPORT const struct vme_device_ops vme_framebuffer_ops = {
	.name = "fb0",
	.mmap = fb_mmap,
	.fault = fb_fault,
	.page_mkwrite = fb_page_mkwrite,
};

VME_EXPORT unsigned long vme_framebuffer_damage(struct vme_framebuffer *fb, unsigned long bitmap[64])
{
	unsigned long n = 0;

	for (int i = 0; i < 64; i++) {
		unsigned long w = __atomic_exchange_n(&fb->damage[i], 0UL, __ATOMIC_ACQ_REL);
		if (bitmap)
			bitmap[i] = w;
		n += (unsigned long)__builtin_popcountl(w);
	}
	__atomic_fetch_sub(&fb->damaged, n, __ATOMIC_RELAXED);
	return n;
}
