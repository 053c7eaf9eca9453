/*
 * truncate.c - pages leaving the cache without being evicted (mm/truncate.c):
 * truncation, hole punching, invalidation after a change made outside
 * vmemu, and a process catching up with such changes made by another.
 *
 * A page taken out of the index is an orphan: its frame is freed at once if
 * no live process maps it, else by the last one to let go.  This process's
 * own mappings of it are zapped here; another process's are its own to
 * drop, which it does at its next fault on the file or vmemu call
 * (mapping_resync): the inode's seq tells it something left.
 */
#include <errno.h>
#include <string.h>

#include "host/host.h"
#include "mm/mm.h"
#include "mm/vmstat.h"

/* handler-safe: pages left inode's cache by truncation, a hole or
 * invalidation: every process unmaps its own mappings of them at its next
 * fault on the file (inode.seq) or its next vmemu call (cache_seq). */
static void inode_pages_left(struct inode *inode)
{
	__atomic_add_fetch(&inode->seq, 1, __ATOMIC_ACQ_REL);
	__atomic_add_fetch(&dom.hdr->cache_seq, 1, __ATOMIC_ACQ_REL);
}

/* handler-safe: zero frame pfn from byte from to its end. */
void zero_page_tail(unsigned long pfn, size_t from)
{
	memset(page_address(pfn) + from, 0, PAGE_SIZE - from);
}

/* handler-safe: take locked page pfn out of the cache: freed, or an orphan
 * until the processes that map it let go. */
static void drop_page_locked(unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);

	wait_on_page_writeback(pfn);	/* it must not land after the truncation */
	delete_from_page_cache(pfn);
	if (__atomic_load_n(&page->mapped, __ATOMIC_ACQUIRE) & live_slots())
		unlock_page(pfn);
	else
		free_page_frame(pfn);
}

/* handler-safe: take pages [first, last] (and swap entries) out of inode's
 * cache.  keep_dirty: dirty pages stay.  Returns how many left. */
static unsigned long drop_pages(struct inode *inode, unsigned long first, unsigned long last,
				bool keep_dirty)
{
	unsigned long dropped = 0;
	uint32_t e;

	for (unsigned long i = radix_next(inode, first, &e); i <= last && i != ~0UL;
	     i = i == ~0UL - 1 ? ~0UL : radix_next(inode, i + 1, &e)) {
		if (e & RADIX_SWAP) {
			rlock_lock(&inode->i_pages_lock);
			if (radix_replace(inode, i, e, 0) == 0) {
				swap_free(e & ~RADIX_SWAP);
				__atomic_sub_fetch(&inode->nrswapped, 1, __ATOMIC_ACQ_REL);
				dropped++;
			}
			rlock_unlock(&inode->i_pages_lock);
			continue;
		}
		unsigned long pfn = find_lock_page(inode, i);
		if (pfn == NO_PAGE)
			continue;
		if (keep_dirty && (pfn_to_page(pfn)->flags & PG_dirty)) {
			unlock_page(pfn);
			continue;
		}
		drop_page_locked(pfn);
		dropped++;
	}
	return dropped;
}

/* handler-safe: truncate_inode_pages: the pages wholly at or past byte
 * lstart leave inode's cache, and the tail of the page lstart cuts through
 * becomes zeros.  Other processes catch up through the inode's seq. */
void truncate_inode_pages(struct inode *inode, uint64_t lstart)
{
	size_t partial = lstart & (PAGE_SIZE - 1);

	if (partial) {
		unsigned long pfn = find_lock_page(inode, lstart >> PAGE_SHIFT);
		if (pfn != NO_PAGE) {
			zero_page_tail(pfn, partial);
			unlock_page(pfn);
		}
	}
	if (drop_pages(inode, (lstart + PAGE_SIZE - 1) >> PAGE_SHIFT, ~0UL, false))
		inode_pages_left(inode);
}

struct zap_args {
	struct address_space *mapping;
	uint64_t size_pages;		/* pages inside the file: a PTE at or past goes */
	bool even_cows;			/* private copies go too (truncation) */
	bool only_stale;		/* only pages no longer in the cache (catching up) */
};

/* rmap_walk callback: drop this process's mapping at addr if asked. */
static int zap_one_mapping(struct vm_area_struct *vma, unsigned long addr, pte_t *ptep, void *arg)
{
	struct zap_args *z = arg;
	pte_t v = ptep_get(ptep);
	unsigned long pgoff = linear_page_index(vma, addr);

	if (!(v & (PTE_PRESENT | PTE_ANON | PTE_SWAP)))
		return 0;
	if (v & (PTE_ANON | PTE_SWAP)) {
		if (!z->even_cows || pgoff < z->size_pages)
			return 0;
	} else if (z->only_stale) {
		if (pgoff < z->size_pages && radix_lookup(z->mapping->host, pgoff) == (uint32_t)pte_val(v) + 1)
			return 0;
	} else if (pgoff < z->size_pages) {
		return 0;
	}
	if (!pte_trylock(ptep))
		return 0;	/* a fault holds it: it will see the change itself */
	v = ptep_get(ptep);
	if (host_map_anon(addr, PAGE_SIZE) == 0)
		zap_pte(addr, ptep, v);
	pte_unlock(ptep);
	return 0;
}

/* truncate_pagecache: this process's mappings past newsize go (private
 * copies too, as Linux's), then the cache's pages.  Caller holds mmap_lock
 * for writing and the inode's i_rwsem, and has set i_size already. */
void truncate_pagecache(struct mm_struct *mm, struct address_space *mapping, uint64_t newsize)
{
	struct zap_args z = { .mapping = mapping, .even_cows = true,
			      .size_pages = (newsize + PAGE_SIZE - 1) >> PAGE_SHIFT };

	(void)mm;
	rmap_walk(mapping, z.size_pages, ~0UL, zap_one_mapping, &z);
	truncate_inode_pages(mapping->host, newsize);
	mapping->seq = __atomic_load_n(&mapping->host->seq, __ATOMIC_ACQUIRE);
}

/* handler-safe: catch up with pages that left the cache by another
 * process's truncation, hole punch or invalidation: drop this process's
 * mappings of them (and its private copies past the end).  A PTE a fault
 * holds is left to that fault. */
void mapping_resync(struct address_space *mapping)
{
	uint32_t seq = __atomic_load_n(&mapping->host->seq, __ATOMIC_ACQUIRE);
	struct zap_args z = { .mapping = mapping, .even_cows = true, .only_stale = true,
			      .size_pages = inode_size_pages(mapping->host) };

	if (seq == mapping->seq)
		return;
	rmap_walk(mapping, 0, ~0UL, zap_one_mapping, &z);
	mapping->seq = seq;
}

/* Bring the cache in line with the file, which changed behind vmemu's back
 * (write(2), ftruncate(2), another program): clean pages are dropped, from
 * the cache and this process's mappings, to be read again; pages wholly past
 * a new end go, dirty or not, and a partial last page's tail becomes zeros,
 * as truncate_pagecache does.  Dirty pages inside the file stay: they are
 * newer data.  st is the file now.  Returns 0.  Caller holds mmap_lock for
 * writing. */
int invalidate_inode_pages(struct address_space *mapping, const struct stat *st)
{
	struct inode *inode = mapping->host;
	uint64_t size = (uint64_t)st->st_size;
	size_t tail = size & (PAGE_SIZE - 1);
	unsigned long eof = size >> PAGE_SHIFT;

	__atomic_store_n(&inode->i_size, size, __ATOMIC_RELEASE);
	if (tail) {
		unsigned long pfn = find_lock_page(inode, eof);
		if (pfn != NO_PAGE) {
			if (pfn_to_page(pfn)->flags & PG_dirty)
				zero_page_tail(pfn, tail);
			unlock_page(pfn);
		}
	}
	unsigned long end = (size + PAGE_SIZE - 1) >> PAGE_SHIFT;	/* first page wholly past */
	unsigned long n = drop_pages(inode, end, ~0UL, false);
	if (end)
		n += drop_pages(inode, 0, end - 1, true);
	if (n)
		inode_pages_left(inode);
	mapping_resync(mapping);
	inode_set_stat(inode, st);
	return 0;
}

/* Has the file changed behind vmemu's back since it was cached or last
 * written through vmemu (inode_changed_outside: never while a vmemu write
 * is in flight)?  Then catch up (invalidate_inode_pages).  Returns 0 or
 * -errno.  Caller holds mmap_lock for writing. */
int mapping_revalidate(struct address_space *mapping)
{
	struct stat st;
	int r;

	if (mapping->host->kind != I_FILE || mapping->fd < 0)
		return 0;
	if ((r = inode_changed_outside(mapping->host, mapping->fd, &st)) <= 0)
		return r;
	return invalidate_inode_pages(mapping, &st);
}

/* MADV_REMOVE (fallocate PUNCH_HOLE + truncate_pagecache_range): pages
 * first..last of the object leave the file, the cache and every mapping
 * here (private copies stay, as Linux's).  Returns 0 or -errno. */
int punch_pagecache(struct address_space *mapping, unsigned long first, unsigned long last)
{
	struct inode *inode = mapping->host;
	struct zap_args z = { .mapping = mapping, .size_pages = 0 };
	struct stat st;
	int r = 0;

	if (mapping->fd >= 0) {
		uint32_t gen = inode_write_begin(inode);
		r = host_punch_hole(mapping->fd, (off_t)(first << PAGE_SHIFT), (off_t)((last - first + 1) << PAGE_SHIFT));
		if (!r && inode->kind == I_FILE && !host_fstat(mapping->fd, &st))
			inode_write_record(inode, gen, NULL, &st);
		inode_write_end(inode);
		if (r)
			return r;
	}
	rmap_walk(mapping, first, last, zap_one_mapping, &z);
	if (drop_pages(inode, first, last, false))
		inode_pages_left(inode);
	mapping->seq = __atomic_load_n(&inode->seq, __ATOMIC_ACQUIRE);
	return 0;
}
