/*
 * writeback.c - writing dirty pages back to their files
 * (mm/page-writeback.c).
 *
 * write_cache_pages gathers the dirty pages of a range into batches of
 * consecutive pages, each locked (struct wb_batch, the run one bio would
 * carry), and writes each batch as Linux does a folio: clean, then write.
 * Cleaning write-protects this process's writable mappings of the batch's
 * pages (mkclean_batch: page_mkclean, with the host protection, Linux's TLB
 * flush, done once per run of consecutive PTEs) and clears PG_dirty under
 * the page locks; then PG_writeback (with this slot as owner) covers the
 * write, one pwritev of the run with no lock held.  A store meanwhile faults
 * and dirties its page again.
 *
 * A page another live process maps writable is written but stays dirty, and
 * keeps its writable mappings here too: that process may store to it
 * without a fault, and only it can write-protect its own mappings.  So does
 * a page the host would not write-protect here.  A failed write leaves its
 * page dirty and the error with the address_space that wrote, for msync or
 * fsync to report; the pages after it are written all the same.  A process
 * that dies in the middle of a write leaves PG_writeback behind; its reaper
 * makes the page dirty again (domain.c).
 *
 * vmemu's own writes must never look like a change made outside vmemu, so
 * each write-back records the file's state it leaves (file_writepages,
 * inode_write_record), unless the file had already changed behind vmemu's
 * back before it (revalidation then sees that).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "host/host.h"
#include "mm/mm.h"
#include "mm/trace.h"
#include "mm/vmstat.h"

/* Pages first .. first + nr - 1 of mapping's object, locked by the writer,
 * dirty and not under write-back (Linux's folio_batch, consecutive here).
 * Their frames are in the caller's array: reclaim's batch of one, in the
 * fault handler, keeps WB_BATCH of them off a small signal stack. */
struct wb_batch {
	struct address_space *mapping;
	unsigned long first;		/* page offset of pfn[0] */
	unsigned int nr, max;		/* pages, and room in pfn[] (at most WB_BATCH) */
	uint32_t keep_dirty;		/* bit i: page i stays dirty and writable here */
	unsigned long *pfn;
};
_Static_assert(WB_BATCH <= 32, "keep_dirty has a bit per page");

/* This process's PTEs of one VMA, consecutive, that mkclean_batch made
 * read-only and holds locked until one host call protects them all. */
struct mkclean_run {
	struct wb_batch *b;
	struct vm_area_struct *vma;
	unsigned long start, end;	/* [start, end): empty when equal */
};

/* handler-safe: protect the run on the host.  If the host refuses, a part
 * of the range may have changed: each page is tried on its own, and a page
 * it still refuses gets its PTE_WRITE back (the host never refuses what the
 * PTE grants) and stays dirty.  Unlocks the run's PTEs. */
static void mkclean_flush(struct mkclean_run *m)
{
	if (m->start == m->end)
		return;
	struct vm_area_struct *vma = m->vma;
	int prot = vma_host_prot(vma, PTE_PRESENT);
	int r = host_protect(m->start, m->end - m->start, prot);
	unsigned long calls = 1;

	for (unsigned long addr = m->start; addr < m->end; addr += PAGE_SIZE) {
		pte_t *ptep = pte_offset(addr, false);
		pte_t v = ptep_get(ptep);
		bool protected = !r;
		if (r) {
			protected = !host_protect(addr, PAGE_SIZE, prot);
			calls++;
		}
		if (protected) {
			frame_set_writable(pte_val(v), false);
		} else {
			set_pte_at(addr, ptep, v | PTE_WRITE);
			m->b->keep_dirty |= 1U << (linear_page_index(vma, addr) - m->b->first);
		}
		pte_unlock(ptep);
	}
	host_vmas_account(calls);
	m->start = m->end;
}

/* rmap_walk callback: write-protect this process's writable mapping at addr
 * of a page of the batch that is to be cleaned: the PTE first, under its
 * lock, then (mkclean_flush) the host, so the host never refuses what the
 * PTE grants; a store that lands before the host protection is still in
 * the page when it is written.  The lock is waited for only while the PTE
 * maps the page writable: its holder is then a fault that finds it so and
 * takes no page lock, or reclaim, which only try-locks them.  A PTE that
 * changed meanwhile (reclaim unmapped it) may be held by a fault that waits
 * for the page lock we hold: it is left alone, it maps nothing to clean. */
static int mkclean_one(struct vm_area_struct *vma, unsigned long addr, pte_t *ptep, void *arg)
{
	struct mkclean_run *m = arg;
	unsigned long i = linear_page_index(vma, addr) - m->b->first;
	pte_t want = mk_pte(PTE_PRESENT | PTE_WRITE, m->b->pfn[i]);

	if (!(vma->vm_flags & VM_SHARED) || (m->b->keep_dirty & (1U << i)))
		return 0;
	for (;;) {
		if (ptep_get(ptep) != want)
			return 0;	/* not writable here, or no longer */
		if (pte_trylock(ptep))
			break;
		host_yield();
	}
	pte_t v = ptep_get(ptep);
	if (v != want) {	/* changed as we took the lock */
		pte_unlock(ptep);
		return 0;
	}
	if (vma != m->vma || addr != m->end) {
		mkclean_flush(m);
		m->vma = vma;
		m->start = m->end = addr;
	}
	set_pte_at(addr, ptep, v & ~(pte_t)PTE_WRITE);
	m->end = addr + PAGE_SIZE;
	return 0;
}

/* handler-safe: write-protect this process's writable mappings, in shared
 * VMAs, of the batch's pages that are to be cleaned (page_mkclean, one rmap
 * walk for the batch), so that their next write is seen.  A page that stays
 * writable here gets its keep_dirty bit.  Caller holds the page locks. */
static void mkclean_batch(struct wb_batch *b)
{
	struct mkclean_run m = { .b = b };

	rmap_walk(b->mapping, b->first, b->first + b->nr - 1, mkclean_one, &m);
	mkclean_flush(&m);
}

/* handler-safe: page pfn of inode, locked by the caller, is being written
 * by this process from now on (set_page_writeback), or no longer
 * (end_page_writeback).  A truncation, an eviction and fsync wait for it. */
static void set_page_writeback(struct inode *inode, unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);

	page->owner = (uint32_t)dom.slot;
	__atomic_or_fetch(&page->flags, PG_writeback, __ATOMIC_ACQ_REL);
	__atomic_add_fetch(&inode->nrwriteback, 1, __ATOMIC_ACQ_REL);
}

static void end_page_writeback(struct inode *inode, unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);

	__atomic_sub_fetch(&inode->nrwriteback, 1, __ATOMIC_ACQ_REL);
	if (__atomic_fetch_and(&page->flags, ~(uint32_t)(PG_writeback | PG_waiters), __ATOMIC_RELEASE) & PG_waiters)
		host_futex_wake(&page->flags, 0x7fffffff);
}

/* handler-safe: write the batch's pages, under PG_writeback and no lock,
 * in one run (writepages) unless one fails: that page is dirty again and
 * the error is the mapping's, and the pages after it are written all the
 * same.  Returns 0 or the first -errno. */
static int write_batch(struct wb_batch *b)
{
	struct address_space *mapping = b->mapping;
	struct inode *inode = mapping->host;
	unsigned int from = 0;
	int err = 0;

	while (from < b->nr) {
		unsigned long t0 = host_now_ns();
		unsigned int done;
		int r = mapping->a_ops->writepages(mapping, b->first + from, b->pfn + from, b->nr - from, &done);
		/* a vme_write that raced this write-back learns it (filemap_write) */
		__atomic_add_fetch(&inode->wb_seq, 1, __ATOMIC_ACQ_REL);
		for (unsigned long t = host_now_ns() - t0; done && from < b->nr; done--, from++)
			trace_writeback(b->first + from, t);
		if (!r || from == b->nr)
			break;
		struct page *page = pfn_to_page(b->pfn[from]);
		if (!(__atomic_fetch_or(&page->flags, PG_dirty, __ATOMIC_ACQ_REL) & PG_dirty))
			__atomic_add_fetch(&inode->nrdirty, 1, __ATOMIC_ACQ_REL);
		if (!mapping->wb_err)
			mapping->wb_err = r;
		if (!err)
			err = r;
		count_vm_event(EV_writeback_error);
		from++;
	}
	view_account(b->nr);
	return err;
}

/* handler-safe: write back the batch (its pages locked, dirty, not under
 * write-back): clean them (mkclean_batch, then PG_dirty cleared unless a
 * writable mapping stays), put them under write-back, unlock them, write
 * them, end their write-back.  Empties the batch.  Returns 0 or the first
 * -errno of the write; the pages that failed stay dirty. */
static int writeback_batch(struct wb_batch *b)
{
	struct inode *inode = b->mapping->host;
	int r;

	if (!b->nr)
		return 0;
	b->keep_dirty = 0;
	for (unsigned int i = 0; i < b->nr; i++)
		if (page_mapped_elsewhere(pfn_to_page(b->pfn[i]), true))
			b->keep_dirty |= 1U << i;
	mkclean_batch(b);
	for (unsigned int i = 0; i < b->nr; i++) {
		set_page_writeback(inode, b->pfn[i]);
		if (!(b->keep_dirty & (1U << i))) {
			__atomic_and_fetch(&pfn_to_page(b->pfn[i])->flags, ~(uint32_t)PG_dirty, __ATOMIC_ACQ_REL);
			__atomic_sub_fetch(&inode->nrdirty, 1, __ATOMIC_ACQ_REL);
		}
		unlock_page(b->pfn[i]);
	}
	r = write_batch(b);
	for (unsigned int i = 0; i < b->nr; i++)
		end_page_writeback(inode, b->pfn[i]);
	b->nr = 0;
	return r;
}

/* handler-safe: page pfn of mapping's object, locked by the caller, starts
 * the batch if it is dirty and no write-back of it is in flight; else it is
 * unlocked. */
static void batch_start(struct wb_batch *b, unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);

	if ((page->flags & (PG_dirty | PG_writeback)) != PG_dirty) {
		unlock_page(pfn);
		return;
	}
	b->first = page->index;
	b->pfn[0] = pfn;
	b->nr = 1;
}

/* Page index, cached as frame pfn (a lockless lookup), joins the batch if
 * it comes next, there is room, and its lock is free: a writer holding the
 * batch's page locks never waits for another.  Returns true if it joined,
 * or needs nothing (clean); false: write the batch out first, then take
 * the page on its own. */
static bool batch_add(struct wb_batch *b, unsigned long index, unsigned long pfn)
{
	struct inode *inode = b->mapping->host;
	struct page *page = pfn_to_page(pfn);

	if (!b->nr || index != b->first + b->nr || b->nr == b->max || !trylock_page(pfn))
		return false;
	if (page->inode != inode_index(inode) + 1 || page->index != index ||
	    radix_lookup(inode, index) != (uint32_t)pfn + 1 || (page->flags & PG_writeback)) {
		unlock_page(pfn);	/* evicted and reused meanwhile, or busy */
		return false;
	}
	if (!(page->flags & PG_dirty)) {
		unlock_page(pfn);
		return true;
	}
	b->pfn[b->nr++] = pfn;
	return true;
}

/* Write back the dirty pages first..last of mapping's object, in batches
 * (write_cache_pages), once any write-back of them in flight (another
 * thread's or process's; one whose writer died is dirty again) has landed,
 * as fsync waits for it.  Returns 0 or the first -errno; failed pages stay
 * dirty.  Caller holds mmap_lock. */
static int write_cache_pages(struct address_space *mapping, unsigned long first, unsigned long last)
{
	struct inode *inode = mapping->host;
	unsigned long pfns[WB_BATCH];
	struct wb_batch b = { .mapping = mapping, .max = WB_BATCH, .pfn = pfns };
	uint32_t e;
	int err = 0, r;

	for (unsigned long i = radix_next(inode, first, &e);
	     i <= last && i != ~0UL &&
	     (__atomic_load_n(&inode->nrdirty, __ATOMIC_ACQUIRE) ||
	      __atomic_load_n(&inode->nrwriteback, __ATOMIC_ACQUIRE));
	     i = i == ~0UL - 1 ? ~0UL : radix_next(inode, i + 1, &e)) {
		if ((e & RADIX_SWAP) || e > MAX_FRAMES ||
		    !(__atomic_load_n(&pfn_to_page(e - 1)->flags, __ATOMIC_ACQUIRE) & (PG_dirty | PG_writeback)) ||
		    batch_add(&b, i, e - 1))
			continue;
		if ((r = writeback_batch(&b)) && !err)
			err = r;
		unsigned long pfn = find_lock_page(inode, i);
		if (pfn == NO_PAGE)
			continue;
		wait_on_page_writeback(pfn);
		batch_start(&b, pfn);
	}
	if ((r = writeback_batch(&b)) && !err)
		err = r;
	return err;
}

/* handler-safe: wait until the write-back of locked page pfn that is in
 * flight, if any, has landed (folio_wait_writeback): asleep on the page's
 * flags word (PG_waiters tells the writer to wake it), looking every 10 ms
 * whether the writer still lives.  No other write-back can start while the
 * caller holds the page lock.  A writer that died never clears
 * PG_writeback: it is reaped, which makes the page dirty again. */
void wait_on_page_writeback(unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);

	for (;;) {
		uint32_t f = __atomic_load_n(&page->flags, __ATOMIC_ACQUIRE);
		if (!(f & PG_writeback))
			return;
		int owner = (int)__atomic_load_n(&page->owner, __ATOMIC_ACQUIRE);
		if (owner != dom.slot && !slot_alive(owner)) {
			domain_reap(owner);
			continue;
		}
		if (!(f & PG_waiters) &&
		    !__atomic_compare_exchange_n(&page->flags, &f, f | PG_waiters, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			continue;
		host_futex_wait(&page->flags, f | PG_waiters, 10000000UL);
	}
}

/* handler-safe: write back frame pfn if it is still a page of mapping's
 * inode (reclaim found it dirty) and its lock is free (reclaim never waits:
 * its caller may hold other page locks).  Returns 0 or the write's -errno. */
int writeback_pfn(struct address_space *mapping, unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);
	unsigned long one;
	struct wb_batch b = { .mapping = mapping, .max = 1, .pfn = &one };

	if (!trylock_page(pfn))
		return 0;
	if (page->inode != inode_index(mapping->host) + 1 || page_is_orphan(pfn)) {
		unlock_page(pfn);
		return 0;
	}
	batch_start(&b, pfn);
	return writeback_batch(&b);
}

/* Write back the dirty pages first..last (inclusive) of mapping's inode,
 * whoever dirtied them, and, if sync, make them durable with fdatasync.
 * Returns 0 or the first -errno; failed pages stay dirty.  Caller holds
 * mmap_lock. */
int filemap_write_and_wait_range(struct address_space *mapping, unsigned long first,
				 unsigned long last, bool sync)
{
	struct inode *inode = mapping->host;
	int err = 0, r;

	if (!mapping->a_ops->writepages)
		return 0;
	err = write_cache_pages(mapping, first, last);
	if (sync && !err && mapping->fd >= 0 && (r = host_fdatasync(mapping->fd)))
		err = r;
	if (!err && !__atomic_load_n(&inode->nrdirty, __ATOMIC_ACQUIRE))
		mapping->wb_err = 0;
	return err;
}

/* A descriptor that can write fd's file: fd, or one opened again through
 * /proc/self/fd (not appending: write-back writes where it is told).
 * Returns it (the caller closes it if it is not fd) or -errno. */
int writable_fd(int fd)
{
	int fl = host_fd_flags(fd);

	if (fl < 0)
		return fl;
	if ((fl & O_ACCMODE) != O_RDONLY && !(fl & (O_APPEND | O_PATH)))
		return fd;
	return host_reopen(fd, O_WRONLY);
}

/* filemap_write_and_wait_range for a process that holds the file however
 * it does: through mapping's descriptor if it can write, else through one
 * opened again for writing (mapping's, or fd if this process does not map
 * the file).  fsync and msync need no write access, and the dirty pages
 * may be another process's; writing them back needs it.  Returns 0 or
 * -errno: -EIO if the file cannot be opened for writing.  Caller holds
 * mmap_lock. */
int writeback_range(struct address_space *mapping, struct inode *inode, int fd, unsigned long first,
		    unsigned long last, bool sync)
{
	if (mapping && (!mapping_is_file(mapping) || mapping->fd_writable))
		return filemap_write_and_wait_range(mapping, first, last, sync);
	int src = mapping ? mapping->fd : fd;
	if (!__atomic_load_n(&inode->nrdirty, __ATOMIC_ACQUIRE) && !__atomic_load_n(&inode->nrwriteback, __ATOMIC_ACQUIRE))
		return sync && src >= 0 ? host_fdatasync(src) : 0;
	int wfd = src >= 0 ? writable_fd(src) : -EBADF;
	if (wfd < 0)
		return -EIO;
	/* This process maps it read-only, if at all: its rmap has nothing
	 * writable to protect, but is walked all the same. */
	struct address_space tmp = { .host = inode, .fd = wfd, .fd_writable = true, .a_ops = &file_aops,
				     .i_mmap = mapping ? mapping->i_mmap : NULL };
	int r = filemap_write_and_wait_range(&tmp, first, last, sync);
	if (wfd != src)
		host_close(wfd);
	return r;
}

/* Evict page pgoff from a file's cache now (MADV_PAGEOUT): this process's
 * mappings of it go, it is written back if dirty, and it leaves the cache
 * unless another process maps it.  Its next access reads it again.  Returns
 * 0, or the write-back's -errno (the page then stays, dirty).  Caller holds
 * mmap_lock for writing. */
int evict_page(struct address_space *mapping, unsigned long pgoff)
{
	unsigned long pfn = find_lock_page(mapping->host, pgoff);
	int r;

	if (pfn == NO_PAGE)
		return 0;
	unlock_page(pfn);
	reclaim_pfn_now(pfn, true);
	if ((r = write_cache_pages(mapping, pgoff, pgoff)))
		return r;
	if ((pfn = find_lock_page(mapping->host, pgoff)) == NO_PAGE)
		return 0;
	struct page *page = pfn_to_page(pfn);
	if ((page->flags & (PG_dirty | PG_writeback)) || page_mapped_elsewhere(page, false) ||
	    (page->mapped & SLOT_BIT(dom.slot))) {
		unlock_page(pfn);	/* dirtied again, or in use: it stays */
		return 0;
	}
	delete_from_page_cache(pfn);
	free_page_frame(pfn);
	count_vm_event(EV_pgevict);
	return 0;
}

/* Open the file inode names, for writing, if it still exists: by the path
 * the inode recorded, or, if that names another file or nothing (renamed
 * since, as a file written under a temporary name and renamed into place),
 * by the entry of the same directory that is it.  Returns the descriptor or
 * -1.  Not in the handler. */
static int open_orphan(const struct inode *inode)
{
	char path[I_PATH_MAX];
	dev_t dev;
	ino_t ino;
	uint64_t gen;

	for (int pass = 0; pass < 2; pass++) {
		if (pass) {
			/* the directory, and the name found in it */
			char *slash = strrchr(path, '/');
			if (!slash || slash == path)
				return -1;
			*slash = '\0';
			char name[256];
			size_t dlen = strlen(path);
			if (host_find_in_dir(path, inode->dev, inode->ino, name, sizeof(name)) ||
			    dlen + 1 + strlen(name) >= sizeof(path))
				return -1;
			path[dlen] = '/';
			strcpy(path + dlen + 1, name);
		} else {
			memcpy(path, inode->path, sizeof(path));
			path[sizeof(path) - 1] = '\0';
		}
		int fd = host_open_file(path, O_RDWR);
		if (fd < 0)
			continue;
		if (!host_file_identity(fd, &dev, &ino, &gen) && (uint64_t)dev == inode->dev &&
		    (uint64_t)ino == inode->ino && gen == inode->gen)
			return fd;
		host_close(fd);
	}
	return -1;
}

/* Write back the dirty pages that processes which died left with no user:
 * each such file is opened again (open_orphan); if it is gone, its pages
 * are dropped, with a warning.  Not in the handler.  Returns the first
 * error. */
int writeback_orphans(bool all)
{
	struct domain_header *h = dom.hdr;
	int err = 0;

	if (!all && !__atomic_load_n(&h->orphans, __ATOMIC_ACQUIRE))
		return 0;
	for (uint32_t i = 0; i < h->inode_hwm; i++) {
		struct inode *inode = inode_of(i);
		if (inode->kind != I_FILE || !__atomic_load_n(&inode->nrdirty, __ATOMIC_ACQUIRE))
			continue;
		rlock_lock(&h->lock);
		bool mine = inode->kind == I_FILE && !(inode->users & live_slots()) &&
			    (all || (inode->flags & I_ORPHAN_DIRTY));
		if (mine) {
			if (inode->flags & I_ORPHAN_DIRTY)
				h->orphans--;
			inode->flags &= ~I_ORPHAN_DIRTY;
			__atomic_or_fetch(&inode->users, SLOT_BIT(dom.slot), __ATOMIC_ACQ_REL);
		}
		rlock_unlock(&h->lock);
		if (!mine)
			continue;
		int fd = open_orphan(inode);
		struct address_space *mapping = mapping_alloc(&file_aops, inode);
		if (fd >= 0 && mapping) {
			mapping->fd = fd;
			mapping->fd_writable = true;
			fd = -1;
			int r = filemap_write_and_wait_range(mapping, 0, ~0UL, true);
			if (r && !err)
				err = r;
		} else {
			/* The file is gone (or replaced): nobody can ever read
			 * these bytes again, and Linux too drops an unlinked
			 * file's pages.  Say so, unless it was unlinked already
			 * when it was cached. */
			size_t len = strlen(inode->path);
			if (len < 10 || strcmp(inode->path + len - 10, " (deleted)")) {
				host_write_num("vmemu: warning: dirty pages lost, their file is gone: ",
					       __atomic_load_n(&inode->nrdirty, __ATOMIC_ACQUIRE));
				host_write_str("vmemu: warning: ... of ");
				host_write_str(inode->path[0] ? inode->path : "(unnamed)");
				host_write_str("\n");
			}
			truncate_inode_pages(inode, 0);
		}
		if (fd >= 0)
			host_close(fd);
		if (mapping && mapping->fd >= 0)
			host_close(mapping->fd);
		free(mapping);
		iput(inode);
	}
	return err;
}
