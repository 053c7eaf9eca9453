/*
 * writeback.c - writing dirty pages back to their files
 * (mm/page-writeback.c).
 *
 * A page is cleaned before it is written: this process's writable mappings
 * of it are write-protected (page_mkclean) and PG_dirty cleared under the
 * page lock, then PG_writeback (with this slot as owner) covers the write,
 * done with no lock held; a store meanwhile faults and dirties the page
 * again.  A page another live process maps writable is written but stays
 * dirty: that process may store to it without a fault, and only it can
 * write-protect its own mappings.  A failed write leaves the page dirty and
 * the error with the address_space that wrote, for msync or fsync to
 * report.  A process that dies in the middle of a write leaves PG_writeback
 * behind; its reaper makes the page dirty again (domain.c).
 *
 * vmemu's own writes must never look like a change made outside vmemu, so
 * each write-back records the file's state it leaves (file_writepage,
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

/* handler-safe: write frame pfn's bytes as page pgoff of mapping. */
static int write_frame(struct address_space *mapping, unsigned long pgoff, unsigned long pfn)
{
	unsigned long t0 = host_now_ns();
	int r = mapping->a_ops->writepage(mapping, pgoff, page_address(pfn));

	/* a vme_write that raced this write-back learns it (filemap_write) */
	__atomic_add_fetch(&mapping->host->wb_seq, 1, __ATOMIC_ACQ_REL);
	view_account(1);
	if (!r) {
		trace_writeback(pgoff, host_now_ns() - t0);
		return 0;
	}
	if (!mapping->wb_err)
		mapping->wb_err = r;
	count_vm_event(EV_writeback_error);
	return r;
}

struct mkclean_args {
	unsigned long pfn;
	int err;
	bool busy;		/* a writable PTE of the frame was locked by someone else */
};

/* Is v a writable mapping of frame pfn? */
static bool pte_maps_writable(pte_t v, unsigned long pfn)
{
	return (v & (PTE_PRESENT | PTE_WRITE | PTE_ANON)) == (PTE_PRESENT | PTE_WRITE) && pte_val(v) == pfn;
}

/* Write-protect one PTE, under its lock, as every other change of a PTE is
 * made: reclaim unmaps a page with its PTE locked from the look until the
 * host change has landed, and a protection change made around it would
 * undo its work (a stale PTE written back would name a frame this process
 * no longer holds, and a host mprotect landing after the unmap makes the
 * reservation there readable).  Only a trylock: whoever holds it (reclaim
 * unmapping the page until its batch lands, a fault installing) is
 * changing the PTE itself.  A PTE locked by someone else is left as it is
 * and said to be busy: the page is written and stays dirty. */
static int mkclean_one(struct vm_area_struct *vma, unsigned long addr, pte_t *ptep, void *arg)
{
	struct mkclean_args *m = arg;

	if (!(vma->vm_flags & VM_SHARED) || !pte_maps_writable(ptep_get(ptep), m->pfn))
		return 0;
	if (!pte_trylock(ptep)) {
		m->busy = true;
		return 0;
	}
	pte_t v = ptep_get(ptep);	/* again, under the lock */
	if (!pte_maps_writable(v, m->pfn)) {
		pte_unlock(ptep);
		return 0;
	}
	/* PTE first: the host must never refuse what the PTE grants (a
	 * store before the protect is still written by writepage). */
	pte_t entry = v & ~(pte_t)PTE_WRITE;
	set_pte_at(addr, ptep, entry);
	int r = host_protect(addr, PAGE_SIZE, vma_host_prot(vma, entry));
	if (r)
		set_pte_at(addr, ptep, v);	/* still writable: say so */
	pte_unlock(ptep);
	if (r)
		return m->err = r;
	frame_set_writable(m->pfn, false);
	host_vmas_account(1);
	return 0;
}

/* handler-safe: write-protect this process's writable mappings of frame
 * pfn, page pgoff of mapping, in shared VMAs (rmap walk), so its next write
 * is seen.  Returns 0, -EBUSY if a writable PTE was locked by another
 * thread (a fault, or reclaim about to unmap it) and left writable, or the
 * host's -errno with the PTE that could not be protected left writable.
 * Either way the caller keeps the page dirty.  Caller holds the page lock;
 * takes and drops PTE locks. */
int page_mkclean(struct address_space *mapping, unsigned long pgoff, unsigned long pfn)
{
	struct mkclean_args m = { .pfn = pfn };

	rmap_walk(mapping, pgoff, pgoff, mkclean_one, &m);
	return m.err ? m.err : m.busy ? -EBUSY : 0;
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

/* handler-safe: write back page pfn of mapping, locked by the caller and
 * confirmed to be that page; unlocks it.  Returns 0 or the write's -errno. */
static int writeback_locked(struct address_space *mapping, unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);
	struct inode *inode = mapping->host;
	unsigned long pgoff = page->index;
	int r;

	if ((page->flags & (PG_dirty | PG_writeback)) != PG_dirty) {
		unlock_page(pfn);
		return 0;
	}
	if ((r = page_mkclean(mapping, pgoff, pfn)) && r != -EBUSY) {
		/* A mapping stays writable: cleaning would lose its next store. */
		unlock_page(pfn);
		count_vm_event(EV_writeback_error);
		return r;
	}
	set_page_writeback(inode, pfn);
	if (r == -EBUSY || page_mapped_elsewhere(page, true)) {
		/* A mapping may still be written unseen (another process's, or
		 * one of ours whose PTE was busy): write it, keep it dirty. */
		unlock_page(pfn);
		r = write_frame(mapping, pgoff, pfn);
		end_page_writeback(inode, pfn);
		return r;
	}
	__atomic_and_fetch(&page->flags, ~(uint32_t)PG_dirty, __ATOMIC_ACQ_REL);
	__atomic_sub_fetch(&inode->nrdirty, 1, __ATOMIC_ACQ_REL);
	unlock_page(pfn);

	r = write_frame(mapping, pgoff, pfn);
	if (r && !(__atomic_fetch_or(&page->flags, PG_dirty, __ATOMIC_ACQ_REL) & PG_dirty))
		__atomic_add_fetch(&inode->nrdirty, 1, __ATOMIC_ACQ_REL);
	end_page_writeback(inode, pfn);
	return r;
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

/* Write back page pgoff of mapping if it is cached and dirty, once any
 * write-back of it in flight (another thread's or process's; one whose
 * writer died is dirty again) has landed, as fsync waits for it.  Returns 0
 * or the write's -errno. */
int writeback_clean_page(struct address_space *mapping, unsigned long pgoff)
{
	unsigned long pfn = find_lock_page(mapping->host, pgoff);

	if (pfn == NO_PAGE)
		return 0;
	wait_on_page_writeback(pfn);
	return writeback_locked(mapping, pfn);
}

/* handler-safe: write back frame pfn if it is still a page of mapping's
 * inode (reclaim found it dirty) and its lock is free (reclaim never waits:
 * its caller may hold other page locks).  Returns 0 or the write's -errno. */
int writeback_pfn(struct address_space *mapping, unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);

	if (!trylock_page(pfn))
		return 0;
	if (page->inode != inode_index(mapping->host) + 1 || page_is_orphan(pfn)) {
		unlock_page(pfn);
		return 0;
	}
	return writeback_locked(mapping, pfn);
}

/* Write back the dirty pages first..last (inclusive) of mapping's inode,
 * whoever dirtied them, and, if sync, make them durable with fdatasync.
 * Returns 0 or the first -errno; failed pages stay dirty.  Caller holds
 * mmap_lock. */
int filemap_write_and_wait_range(struct address_space *mapping, unsigned long first,
				 unsigned long last, bool sync)
{
	struct inode *inode = mapping->host;
	uint32_t e;
	int err = 0, r;

	if (!mapping->a_ops->writepage)
		return 0;
	for (unsigned long i = radix_next(inode, first, &e);
	     i <= last && i != ~0UL &&
	     (__atomic_load_n(&inode->nrdirty, __ATOMIC_ACQUIRE) ||
	      __atomic_load_n(&inode->nrwriteback, __ATOMIC_ACQUIRE));
	     i = i == ~0UL - 1 ? ~0UL : radix_next(inode, i + 1, &e)) {
		if ((e & RADIX_SWAP) || e > MAX_FRAMES ||
		    !(__atomic_load_n(&pfn_to_page(e - 1)->flags, __ATOMIC_ACQUIRE) & (PG_dirty | PG_writeback)))
			continue;
		if ((r = writeback_clean_page(mapping, i)) && !err)
			err = r;
	}
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
	if ((r = writeback_clean_page(mapping, pgoff)))
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
