/*
 * filemap.c - the page cache (mm/filemap.c): finding, adding and removing
 * pages; filemap_fault; and this process's side of each cache (struct
 * address_space, struct file).
 *
 * The cache itself is the domain's: an inode per file, its page index, and
 * frames from the shared pool (domain.h).  A page found in the index is
 * confirmed under its page lock (its struct page still names the inode and
 * the index), since another process may have evicted it and reused the
 * frame meanwhile.  Pages are filled through the library's own view of the
 * frames (readahead.c) and a user mapping gets a frame only once it is
 * PG_uptodate: no thread ever sees a partial page.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host/host.h"
#include "mm/mm.h"
#include "mm/trace.h"
#include "mm/vmstat.h"

/* handler-safe: writepages for regular files: the run in one vector write
 * (host_pwritev_full); only the bytes before end of file reach it, and the
 * file's state after it is vmemu's own doing (inode_write_record). */
static int file_writepages(struct address_space *mapping, unsigned long pgoff, const unsigned long *pfn,
			   unsigned int nr, unsigned int *written)
{
	struct inode *inode = mapping->host;
	struct stat before, after;
	struct iovec iov[WB_BATCH];
	off_t pos = (off_t)(pgoff << PAGE_SHIFT);
	uint32_t gen = inode_write_begin(inode);
	size_t len = 0, done = 0;
	unsigned int n;
	int r;

	*written = 0;
	if ((r = host_fstat(mapping->fd, &before)))
		goto out;
	for (n = 0; n < nr && pos + (off_t)len < before.st_size; n++) {
		size_t left = (size_t)(before.st_size - pos) - len;
		iov[n].iov_base = page_address(pfn[n]);
		iov[n].iov_len = left < PAGE_SIZE ? left : PAGE_SIZE;
		len += iov[n].iov_len;
	}
	ssize_t w = host_pwritev_full(mapping->fd, iov, (int)n, pos, &done);
	if (done && !host_fstat(mapping->fd, &after))
		inode_write_record(inode, gen, &before, &after);
	if (w < 0) {
		r = (int)w;
		*written = (unsigned int)(done >> PAGE_SHIFT);
		count_vm_events(EV_pgpgout, *written);
		goto out;
	}
	/* As ext4, xfs and btrfs do at write-back: the bytes past end of file
	 * become zeros in the cached page (tmpfs never writes a page back). */
	if (n && (len & ~PAGE_MASK) && !host_fd_in_memory(mapping->fd))
		memset(page_address(pfn[n - 1]) + (len & ~PAGE_MASK), 0, PAGE_SIZE - (len & ~PAGE_MASK));
	*written = nr;		/* pages wholly past end of file have nothing to write */
	count_vm_events(EV_pgpgout, n);
out:
	inode_write_end(inode);
	return r;
}

const struct address_space_operations file_aops = {
	.writepages = file_writepages,	/* reads go through page_cache_fill */
};

/* Is this the page cache of a regular file (its data safe on disk once
 * written back, so its pages may be evicted)? */
bool mapping_is_file(const struct address_space *mapping)
{
	return mapping->a_ops == &file_aops;
}

/* handler-safe: the cached page pgoff of inode, locked (uptodate or not:
 * the caller looks), or NO_PAGE. */
unsigned long find_lock_page(struct inode *inode, unsigned long pgoff)
{
	for (;;) {
		uint32_t e = radix_lookup(inode, pgoff);
		if (!e || (e & RADIX_SWAP) || e > MAX_FRAMES)
			return NO_PAGE;
		unsigned long pfn = e - 1;
		struct page *page = pfn_to_page(pfn);
		lock_page(pfn);
		/* still this page of this inode?  (evicted and reused meanwhile?) */
		if (page->inode == inode_index(inode) + 1 && page->index == pgoff &&
		    radix_lookup(inode, pgoff) == e)
			return pfn;
		unlock_page(pfn);
	}
}

/* handler-safe: frame pfn, reserved and locked by the caller, becomes page
 * pgoff of inode.  Caller holds inode's i_pages_lock.  Returns 0, -EEXIST
 * (someone cached that page first) or -ENOMEM (no index node). */
static int page_cache_insert(struct inode *inode, unsigned long pfn, unsigned long pgoff)
{
	int r = radix_replace(inode, pgoff, 0, (uint32_t)pfn + 1);
	struct page *page = pfn_to_page(pfn);

	if (r)
		return r;
	page->inode = inode_index(inode) + 1;
	page->index = pgoff;
	__atomic_and_fetch(&page->flags, ~(uint32_t)PG_reserved, __ATOMIC_ACQ_REL);
	__atomic_add_fetch(&inode->nrpages, 1, __ATOMIC_ACQ_REL);
	return 0;
}

/* handler-safe: as page_cache_insert, taking the inode's i_pages_lock. */
int add_to_page_cache(struct inode *inode, unsigned long pfn, unsigned long pgoff)
{
	rlock_lock(&inode->i_pages_lock);
	int r = page_cache_insert(inode, pfn, pgoff);
	rlock_unlock(&inode->i_pages_lock);
	return r;
}

/* handler-safe: as add_to_page_cache, for a caller that holds i_pages_lock. */
int add_to_page_cache_locked(struct inode *inode, unsigned long pfn, unsigned long pgoff)
{
	return page_cache_insert(inode, pfn, pgoff);
}

/* handler-safe: take page pfn, locked by the caller, out of its inode's
 * index (__filemap_remove_folio).  It keeps naming its inode and index: an
 * orphan until the last process that maps it lets go (put_page_if_orphan). */
void delete_from_page_cache(unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);
	struct inode *inode = inode_of(page->inode - 1);

	rlock_lock(&inode->i_pages_lock);
	if (radix_replace(inode, page->index, (uint32_t)pfn + 1, 0) == 0)
		__atomic_sub_fetch(&inode->nrpages, 1, __ATOMIC_ACQ_REL);
	rlock_unlock(&inode->i_pages_lock);
	uint32_t old = __atomic_fetch_and(&page->flags, ~(uint32_t)(PG_uptodate | PG_dirty | PG_referenced),
					  __ATOMIC_ACQ_REL);
	if (old & PG_dirty)
		__atomic_sub_fetch(&inode->nrdirty, 1, __ATOMIC_ACQ_REL);
}

/* handler-safe: is page pfn, locked by the caller, out of its inode's index? */
bool page_is_orphan(unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);

	return page->inode && radix_lookup(inode_of(page->inode - 1), page->index) != (uint32_t)pfn + 1;
}

/* handler-safe: an orphan frame nobody maps any more is free.  Called by
 * whoever lets go of it; a busy one is left to the pool's clock. */
void put_page_if_orphan(unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);

	if (!trylock_page(pfn))
		return;
	if (page_is_orphan(pfn) && !(__atomic_load_n(&page->mapped, __ATOMIC_ACQUIRE) & live_slots()) &&
	    !(page->flags & PG_writeback))
		free_page_frame(pfn);
	else
		unlock_page(pfn);
}

/* handler-safe: page pfn (locked, in a cache) must be written back. */
void set_page_dirty(unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);

	if (!(__atomic_fetch_or(&page->flags, PG_dirty, __ATOMIC_ACQ_REL) & PG_dirty))
		__atomic_add_fetch(&inode_of(page->inode - 1)->nrdirty, 1, __ATOMIC_ACQ_REL);
}

/* handler-safe: the page was used (mark_page_accessed): the pool's clock
 * gives it another turn. */
void mark_page_accessed(unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);

	if (!(__atomic_load_n(&page->flags, __ATOMIC_RELAXED) & PG_referenced))
		__atomic_or_fetch(&page->flags, PG_referenced, __ATOMIC_RELAXED);
}

/* handler-safe: is page pgoff inside the file?  The inode's size is what
 * vmemu knows; a file grown behind its back is looked at again here, and
 * one truncated behind its back is caught by the fstat of a hit (see
 * filemap_fault). */
static bool page_in_file(struct address_space *mapping, unsigned long pgoff)
{
	struct inode *inode = mapping->host;
	struct stat st;

	if (pgoff < inode_size_pages(inode))
		return true;
	if (inode->kind != I_FILE || mapping->fd < 0 || host_fstat(mapping->fd, &st))
		return false;
	uint64_t size = __atomic_load_n(&inode->i_size, __ATOMIC_ACQUIRE);
	while ((uint64_t)st.st_size > size &&
	       !__atomic_compare_exchange_n(&inode->i_size, &size, (uint64_t)st.st_size, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
	return pgoff < inode_size_pages(inode);
}

/* handler-safe: fill page pfn (locked, in the index, not uptodate: its
 * filler died or failed) on its own. */
static int readpage_locked(struct fault *vmf, unsigned long pfn)
{
	struct address_space *mapping = vmf->vma->vm_file->f_mapping;
	char *dst = page_address(pfn);
	int r = 0;

	if (mapping->device) {
		r = mapping->a_ops->readpage(vmf, dst);
	} else if (mapping->fd >= 0) {
		ssize_t n = host_read_full(mapping->fd, dst, PAGE_SIZE, (off_t)(vmf->pgoff << PAGE_SHIFT));
		if (n < 0)
			r = (int)n;
		else if (n == 0)
			r = -ENXIO;
		else
			memset(dst + n, 0, PAGE_SIZE - (size_t)n);
	} else {
		memset(dst, 0, PAGE_SIZE);	/* shmem never leaves a page half made */
	}
	view_account(1);
	if (!r)
		__atomic_or_fetch(&pfn_to_page(pfn)->flags, PG_uptodate, __ATOMIC_RELEASE);
	return r;
}

static int fault_errno(int r)
{
	if (r == -ENOMEM)
		return VM_FAULT_OOM;
	if (r != -ENXIO)
		count_vm_event(EV_read_error);
	return VM_FAULT_SIGBUS;
}

/* handler-safe: vm_ops->fault for files and devices.  Makes page vmf->pgoff
 * uptodate in the cache, reading it (and a readahead window) if it is not
 * there, and returns with its frame in vmf->pfn, locked (the kernel's
 * VM_FAULT_LOCKED), so reclaim cannot take it before it is mapped.  Returns
 * 0 for a cache hit, VM_FAULT_MAJOR if it read, VM_FAULT_SIGBUS past end of
 * file or on an I/O error, VM_FAULT_OOM if no frame can be had. */
int filemap_fault(struct fault *vmf)
{
	struct address_space *mapping = vmf->vma->vm_file->f_mapping;
	struct inode *inode = mapping->host;
	unsigned long pgoff = vmf->pgoff;
	int r;

	if (__atomic_load_n(&inode->seq, __ATOMIC_ACQUIRE) != mapping->seq)
		mapping_resync(mapping);
	if (!page_in_file(mapping, pgoff))
		return VM_FAULT_SIGBUS;
	for (;;) {
		unsigned long pfn = find_lock_page(inode, pgoff);
		if (pfn != NO_PAGE) {
			struct stat st;
			/* Still inside the file?  (Truncated behind vmemu's back:
			 * Linux would have dropped the page.) */
			if (inode->kind == I_FILE && mapping->fd >= 0 && !host_fstat(mapping->fd, &st) &&
			    (off_t)(pgoff << PAGE_SHIFT) >= st.st_size) {
				unlock_page(pfn);
				return VM_FAULT_SIGBUS;
			}
			if (!(pfn_to_page(pfn)->flags & PG_uptodate) && (r = readpage_locked(vmf, pfn))) {
				unlock_page(pfn);
				return fault_errno(r);
			}
			vmf->pfn = pfn;
			mark_page_accessed(pfn);
			ra_hit(vmf->vma->vm_file);
			return 0;
		}
		r = page_cache_fill(vmf);
		if (r == -EEXIST)
			continue;	/* another fault cached it first: use it */
		if (r)
			return fault_errno(r);
		count_vm_event(EV_pgmajfault);
		return VM_FAULT_MAJOR;
	}
}

/* handler-safe: vm_ops->page_mkwrite.  Called with the page locked: the
 * first write to a clean shared page dirties it. */
static int filemap_page_mkwrite(struct fault *vmf)
{
	set_page_dirty(vmf->pfn);
	return 0;
}

const struct vm_operations_struct generic_file_vm_ops = {
	.fault = filemap_fault,
	.page_mkwrite = filemap_page_mkwrite,
	.name = "filemap",
};

/* f_op->mmap for regular files. */
static int generic_file_mmap(struct file *file, struct vm_area_struct *vma)
{
	(void)file;
	vma->vm_ops = &generic_file_vm_ops;
	return 0;
}

const struct file_operations generic_file_operations = {
	.mmap = generic_file_mmap,
};

/* ---- this process's side of a cache -------------------------------- */

/* A new address_space for host (whose user this process already is). */
struct address_space *mapping_alloc(const struct address_space_operations *a_ops, struct inode *host)
{
	struct address_space *mapping = calloc(1, sizeof(*mapping));

	if (!mapping)
		return NULL;
	mapping->fd = -1;
	mapping->a_ops = a_ops;
	mapping->host = host;
	mapping->seq = __atomic_load_n(&host->seq, __ATOMIC_ACQUIRE);
	return mapping;
}

/* This process's address_space of inode, if it has one.  Caller holds
 * mmap_lock (the handler may call it). */
struct address_space *mapping_find(struct mm_struct *mm, const struct inode *inode)
{
	for (struct address_space *m = mm->mappings; m; m = m->next)
		if (m->host == inode)
			return m;
	return NULL;
}

/* The frames of mapping this process still holds, unmapped (read ahead,
 * or deactivated), leave its frame table: the table must not name an
 * address_space that is about to be freed (eviction would read it).  A
 * slot is let go of as MADV_PAGEOUT lets go of it.  Caller holds
 * mmap_lock; mapping has no VMA left. */
static void mapping_drop_frames(struct address_space *mapping)
{
	struct frame_table_info t;
	struct frame_info fi;

	frame_table_info(&t);
	for (unsigned long s = 1; s <= t.high_water; s++) {
		frame_slot_info(s, &fi);
		if (fi.kind == FI_MAPPED && fi.mapping == mapping)
			reclaim_pfn_now(fi.pfn, true);
	}
}

static void mapping_free(struct mm_struct *mm, struct address_space *mapping)
{
	struct address_space **p = &mm->mappings;

	while (*p && *p != mapping)
		p = &(*p)->next;
	if (*p)
		*p = mapping->next;
	mapping_drop_frames(mapping);
	if (mapping->fd >= 0)
		host_close(mapping->fd);
	struct device *dev = mapping->device;
	iput(mapping->host);
	if (dev && dev->release)
		dev->release(dev);
	free(mapping);
}

/* Drop a reference.  The last one writes back dirty pages first; if that
 * fails the address_space stays (unreferenced, with its descriptor) so the
 * data can still be written, and vme_shutdown retries and reports it.
 * The cache itself stays in the domain either way. */
void mapping_put(struct mm_struct *mm, struct address_space *mapping)
{
	if (--mapping->refcount > 0)
		return;
	if (mapping_is_file(mapping) && mapping_nr_dirty(mapping) &&
	    filemap_write_and_wait_range(mapping, 0, ~0UL, false))
		return;
	mapping_free(mm, mapping);
}

/* Free every unreferenced address_space whose write-back now succeeds;
 * returns the first failure.  For vme_shutdown. */
int mapping_release_orphans(struct mm_struct *mm)
{
	int err = 0;

	for (struct address_space *m = mm->mappings, *next; m; m = next) {
		next = m->next;
		if (m->refcount > 0)
			continue;
		int r = mapping_nr_dirty(m) ? filemap_write_and_wait_range(m, 0, ~0UL, false) : 0;
		if (r && !err)
			err = r;
		if (!r)
			mapping_free(mm, m);
	}
	return err;
}

struct file *get_file(struct file *file)
{
	file->refcount++;
	return file;
}

void fput(struct mm_struct *mm, struct file *file)
{
	if (--file->refcount > 0)
		return;
	mapping_put(mm, file->f_mapping);
	free(file->f_path);
	free(file);
}

/* Give the address_space a descriptor it can write back through.  One with
 * O_APPEND would make pwrite append, so that one is reopened instead. */
static int mapping_set_fd(struct address_space *mapping, int fd, int fl, bool writable)
{
	int nfd = (fl & O_APPEND) ? host_reopen(fd, writable ? O_RDWR : O_RDONLY) : host_dup(fd);

	if (nfd < 0)
		return nfd;
	if (mapping->fd >= 0)
		host_close(mapping->fd);
	mapping->fd = nfd;
	mapping->fd_writable = writable;
	return 0;
}

/* This process's address_space for the regular file fd, found or made,
 * with one more reference, the file's inode found or created in the domain,
 * and (if want_write) a writable descriptor.  An existing cache is
 * revalidated against the file first.  Returns 0 or -errno.  Caller holds
 * mmap_lock for writing. */
static int mapping_get(struct mm_struct *mm, int fd, bool want_write, char *path, size_t pathlen,
		       struct address_space **out)
{
	struct address_space *mapping;
	struct inode *inode;
	struct stat st;
	int fl, r;

	if ((r = host_fstat(fd, &st)) || (fl = host_fd_flags(fd)) < 0)
		return r ? r : fl;
	if (host_fd_path(fd, path, pathlen) < 0)
		path[0] = '\0';
	if ((r = iget_file(fd, &st, path, true, &inode)))
		return r;
	bool fresh = !(mapping = mapping_find(mm, inode));
	if (fresh) {
		if (!(mapping = mapping_alloc(&file_aops, inode))) {
			iput(inode);
			return -ENOMEM;
		}
		mapping->next = mm->mappings;
		mm->mappings = mapping;
	}
	if (mapping->fd < 0 || (want_write && !mapping->fd_writable)) {
		bool writable = (fl & O_ACCMODE) == O_RDWR;
		if ((r = mapping_set_fd(mapping, fd, fl, writable)))
			goto out_put;
	}
	if ((r = mapping_revalidate(mapping)))
		goto out_put;
	mapping->refcount++;
	*out = mapping;
	return 0;

out_put:
	if (fresh)
		mapping_free(mm, mapping);
	return r;
}

/* The struct file for a mapping of fd.  Returns 0 or -errno.  Caller holds
 * mmap_lock for writing. */
int file_open_mapping(struct mm_struct *mm, int fd, bool want_write, struct file **filep)
{
	char path[4096];
	struct address_space *mapping;
	struct file *file;
	int r;

	for (struct address_space *m = mm->mappings; m; m = m->next) {
		struct stat st;
		/* a device is found by its descriptor's inode, not by a file */
		if (m->device && !host_fstat(fd, &st) && m->host->dev == (uint64_t)st.st_dev &&
		    m->host->ino == (uint64_t)st.st_ino)
			return device_open_file(mm, m, filep);
	}
	if ((r = mapping_get(mm, fd, want_write, path, sizeof(path), &mapping)))
		return r;
	if (!(file = calloc(1, sizeof(*file))) || !(file->f_path = strdup(path))) {
		free(file);
		mapping_put(mm, mapping);
		return -ENOMEM;
	}
	file->f_mapping = mapping;
	file->f_op = &generic_file_operations;
	file->refcount = 1;
	*filep = file;
	return 0;
}
