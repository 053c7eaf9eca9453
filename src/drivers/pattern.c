/*
 * pattern.c - an example driver: pages generated on demand, no disk.
 *
 * The 8-byte word i of page p is seed ^ (p * 512 + i).  A device of a given
 * size gives SIGBUS beyond it, as a file past its end.  Uses only the public
 * interface; fault runs in the SIGSEGV handler.
 */
#include <vmemu.h>

#define VME_EXPORT __attribute__((visibility("default")))

/* handler-safe */
static int pattern_fault(struct vme_fault *vmf)
{
	struct vme_pattern *pat = vmf->private_data;
	unsigned long *words = vmf->page;

	if (pat->pages && vmf->pgoff >= pat->pages)
		return VME_FAULT_SIGBUS;
	for (unsigned long i = 0; i < vmf->page_size / sizeof(*words); i++)
		words[i] = pat->seed ^ (vmf->pgoff * 512 + i);
	__atomic_fetch_add(&pat->fills, 1, __ATOMIC_RELAXED);
	return 0;
}

VME_EXPORT const struct vme_device_ops vme_pattern_ops = {
	.name = "pattern",
	.fault = pattern_fault,
};
