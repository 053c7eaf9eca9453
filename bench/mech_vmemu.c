/*
 * mech_vmemu.c - vmemu itself, through its public API only.
 *
 * vmemu keeps the budget-scan workload's memory budget by itself: init
 * passes it as vme_config.cache_mb, and reclaim inside vmemu evicts; the
 * cell never evicts for it.  Every other cell runs vmemu's default budget
 * (or VMEMU_CACHE_MB from the environment).  Each cell's page cache is its
 * own (a private domain): the shared cache's capacity is the largest budget
 * of the processes sharing it, and a cell measures its own, not whatever
 * else runs on the machine meanwhile.
 *
 * "vmemu-nofaultaround" is meant to be vmemu with fault-around and readahead
 * off (one page per fault).  struct vme_config has no switch for them, so it
 * is the same configuration measured again in its own child; the report
 * says so.  When such a switch exists, this mechanism gets an init of its
 * own that sets it.
 */
#include <errno.h>
#include <string.h>

#include <vmemu.h>

#include "bench.h"

/* The first vme_ call of the child: vmemu takes SIGSEGV here.  A zero
 * cache_mb is vmemu's default. */
static int vmemu_init(unsigned long budget_mb, char *why, size_t whylen)
{
	struct vme_config cfg = { .cache_mb = budget_mb, .domain = "private" };

	if (vme_init(&cfg)) {
		snprintf(why, whylen, "vme_init (cache_mb %lu) failed: %s", budget_mb, strerror(errno));
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
	.describe = "vme_mmap, default configuration; in budget-scan, vme_config.cache_mb = --budget-mb",
	.init = vmemu_init,
	.map = vmemu_map,
	.sync = vmemu_sync,
	.unmap = vmemu_unmap,
	.faults = vmemu_faults,
	.faults_source = "vme_stats pgfault",
	.is_vmemu = true,
	.budget_self = true,
};

const struct mechanism mech_vmemu_nofa = {
	.name = "vmemu-nofaultaround",
	.describe = "meant as vme_mmap with fault-around and readahead off; vme_config has no switch "
		    "for them, so for now the same configuration as vmemu",
	.init = vmemu_init,
	.map = vmemu_map,
	.sync = vmemu_sync,
	.unmap = vmemu_unmap,
	.faults = vmemu_faults,
	.faults_source = "vme_stats pgfault",
	.is_vmemu = true,
	.budget_self = true,
};
