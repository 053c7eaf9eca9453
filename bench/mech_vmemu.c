/*
 * mech_vmemu.c - vmemu itself, through its public API only.
 *
 * "vmemu-nofaultaround" is meant to be vmemu with fault-around and readahead
 * off (one page per fault).  vmemu has neither yet, so today it is the same
 * configuration measured again in its own child; the report says so.  When
 * fault-around lands, its off switch goes in vmemu_nofa_init.
 */
#include <errno.h>
#include <string.h>

#include <vmemu.h>

#include "bench.h"

static int vmemu_init(char *why, size_t whylen)
{
	if (vme_init(NULL)) {
		snprintf(why, whylen, "vme_init failed: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static int vmemu_map(struct region *r)
{
	void *p = vme_mmap(NULL, r->len, backing_prot(r->backing), backing_flags(r->backing),
			   r->backing == BK_ANON ? -1 : r->fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	r->base = p;
	return 0;
}

static int vmemu_sync(struct region *r)
{
	return vme_msync(r->base, r->len, MS_SYNC) ? -errno : 0;
}

static void vmemu_unmap(struct region *r)
{
	vme_munmap(r->base, r->len);
}

static uint64_t vmemu_faults(void)
{
	struct vme_stats st;

	return vme_stats(&st) ? 0 : st.pgfault;
}

const struct mechanism mech_vmemu = {
	.name = "vmemu",
	.describe = "vme_mmap, default configuration",
	.init = vmemu_init,
	.map = vmemu_map,
	.sync = vmemu_sync,
	.evict = NULL,		/* no page budget in vmemu yet (issue 3) */
	.unmap = vmemu_unmap,
	.faults = vmemu_faults,
	.faults_source = "vme_stats pgfault",
	.is_vmemu = true,
};

const struct mechanism mech_vmemu_nofa = {
	.name = "vmemu-nofaultaround",
	.describe = "vme_mmap, one page per fault; identical to vmemu until fault-around lands",
	.init = vmemu_init,
	.map = vmemu_map,
	.sync = vmemu_sync,
	.evict = NULL,
	.unmap = vmemu_unmap,
	.faults = vmemu_faults,
	.faults_source = "vme_stats pgfault",
	.is_vmemu = true,
};
