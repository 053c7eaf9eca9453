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
 * "vmemu-random" is the mirror of kernel-random: vme_madvise(MADV_RANDOM)
 * over each mapping, which in vmemu turns off readahead (a miss reads only
 * the faulting page), fault-around of cached file pages, and anonymous
 * fault-around (one page per first touch): one page per fault.
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

static int vmemu_random_map(struct region *r)
{
	int err = vmemu_map(r);

	if (!err && vme_madvise(r->base, r->len, MADV_RANDOM)) {
		err = -errno;
		vme_munmap(r->base, r->len);
	}
	return err;
}

static int vmemu_sync(struct region *r)
{
	return vme_msync(r->base, r->len, MS_SYNC) ? -errno : 0;
}

static void vmemu_unmap(struct region *r)
{
	vme_munmap(r->base, r->len);
}

static uint64_t vmemu_cached(void)
{
	struct vme_stats st;

	return vme_stats(&st) ? 0 : st.nr_cached;
}

/* Fill vmemu's cache with the file: first as a switched-over program's
 * reads would, vme_pread 1 MiB at a time; then, if that left pages out of
 * the cache, with a mapped read pass (vme_mmap, a load from every page,
 * vme_munmap), whose pages the cache keeps after the unmap.  nr_cached
 * counts the frames in use in the domain: the cell's private domain holds
 * nothing else. */
static int vmemu_warm_cache(int fd, size_t size, unsigned char *buf, size_t buflen, struct cell_result *res)
{
	for (size_t off = 0; off < size;) {
		ssize_t k = vme_pread(fd, buf, size - off < buflen ? size - off : buflen, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		off += (size_t)k;
	}
	res->warm = true;
	res->warm_read_cached = vmemu_cached();
	if (res->warm_read_cached < size / PG) {
		volatile unsigned char *p = vme_mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return -errno;
		for (size_t off = 0; off < size; off += PG)
			(void)p[off];
		vme_munmap((void *)p, size);
		res->warm_mapped = true;
	}
	res->warm_cached = vmemu_cached();
	return 0;
}

/* MADV_PAGEOUT evicts the clean pages of the mapped range from the cache,
 * mapped here or not. */
static int vmemu_drop_cache(struct region *r)
{
	return vme_madvise(r->base, r->len, MADV_PAGEOUT) ? -errno : 0;
}

static uint64_t vmemu_faults(void)
{
	struct vme_stats st;

	return vme_stats(&st) ? 0 : st.pgfault;
}

const struct mechanism mech_vmemu = {
	.name = "vmemu",
	.describe = "vme_mmap, default configuration (readahead, fault-around, anonymous fault-around); "
		    "in budget-scan, vme_config.cache_mb = --budget-mb",
	.init = vmemu_init,
	.map = vmemu_map,
	.sync = vmemu_sync,
	.unmap = vmemu_unmap,
	.warm_cache = vmemu_warm_cache,
	.drop_cache = vmemu_drop_cache,
	.faults = vmemu_faults,
	.faults_source = "vme_stats pgfault",
	.is_vmemu = true,
	.own_cache = true,
	.budget_self = true,
	.huge_maps = true,
};

const struct mechanism mech_vmemu_random = {
	.name = "vmemu-random",
	.describe = "vme_mmap, then vme_madvise(MADV_RANDOM) over the mapping, the mirror of kernel-random: "
		    "in vmemu that turns off readahead (a miss reads only its page), fault-around of cached "
		    "file pages and anonymous fault-around, so every fault maps one page",
	.init = vmemu_init,
	.map = vmemu_random_map,
	.sync = vmemu_sync,
	.unmap = vmemu_unmap,
	.warm_cache = vmemu_warm_cache,
	.drop_cache = vmemu_drop_cache,
	.faults = vmemu_faults,
	.faults_source = "vme_stats pgfault",
	.is_vmemu = true,
	.own_cache = true,
	.budget_self = true,
	.huge_maps = true,
};
