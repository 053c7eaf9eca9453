/*
 * filemap.c - the page cache: one address_space per file, filled with pread
 * and written back with pwrite (mm/filemap.c, mm/page-writeback.c).
 *
 * A file's cache is found by (device, inode), so two descriptors of one file,
 * and every mapping of it, share the same frames.  The cache lives while some
 * VMA maps the file; a mapping made after the last one is gone starts from a
 * fresh cache and so sees the file as it is then.  Pages are filled through
 * the library's own view of the frames, and a user mapping is made accessible
 * only once its page is PG_uptodate: no thread ever sees a partial page.
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

#define MAPPING_GROW_PAGES 512UL	/* grow frames and flags 2 MiB at a time */

static unsigned long mapping_dirty_add(struct address_space *mapping, long delta)
{
	return __atomic_add_fetch(&mapping->shared->nr_dirty, (unsigned long)delta, __ATOMIC_ACQ_REL);
}

/* writepage for regular files: only the bytes before end of file reach it. */
static int file_writepage(struct address_space *mapping, unsigned long pgoff, const char *src)
{
	struct stat st;
	off_t pos = (off_t)(pgoff << PAGE_SHIFT);
	int r;

	if ((r = host_fstat(mapping->fd, &st)))
		return r;
	if (pos >= st.st_size)
		return 0;
	size_t len = (size_t)(st.st_size - pos) < PAGE_SIZE ? (size_t)(st.st_size - pos) : PAGE_SIZE;
	ssize_t n = host_write_full(mapping->fd, src, len, pos);
	if (n < 0)
		return (int)n;
	count_vm_event(EV_pgpgout);
	return 0;
}

static const struct address_space_operations file_aops = {
	.writepage = file_writepage,	/* reads go through page_cache_fill */
};

/* handler-safe: vm_ops->fault for files and devices.  Makes mapping page
 * vmf->pgoff PG_uptodate, reading it (and a readahead window) if it is not,
 * and returns with it locked (the kernel's VM_FAULT_LOCKED), so reclaim
 * cannot take it before it is mapped.  Returns 0 for a cache hit,
 * VM_FAULT_MAJOR if it read, VM_FAULT_SIGBUS (unlocked) past end of file or
 * on an I/O error, VM_FAULT_OOM (unlocked) if no frame can be had. */
int filemap_fault(struct fault *vmf)
{
	struct address_space *mapping = vmf->vma->vm_file->f_mapping;
	unsigned long pgoff = vmf->pgoff;
	int r;

	if (pgoff >= mapping->nr_pages)
		return VM_FAULT_SIGBUS;
	lock_page(mapping, pgoff);
	pgflags_t f = mapping->flags[pgoff];
	if (f & PG_uptodate) {
		/* A cached page: is it still inside the file?  (Another process
		 * may have truncated it; Linux would have dropped the page.) */
		struct stat st;
		if (mapping->fd >= 0 && !host_fstat(mapping->fd, &st) &&
		    (off_t)(pgoff << PAGE_SHIFT) >= st.st_size) {
			unlock_page(mapping, pgoff);
			return VM_FAULT_SIGBUS;
		}
		if (!mapping->device)
			mark_frame_accessed(pg_val(f));
		ra_hit(vmf->vma->vm_file);
		return 0;
	}
	r = page_cache_fill(vmf);
	if (r) {
		unlock_page(mapping, pgoff);
		if (r == -ENOMEM)
			return VM_FAULT_OOM;
		if (r != -ENXIO)
			count_vm_event(EV_read_error);
		return VM_FAULT_SIGBUS;
	}
	count_vm_event(EV_pgmajfault);
	return VM_FAULT_MAJOR;
}

/* handler-safe: vm_ops->page_mkwrite.  Called with the page locked: the
 * first write to a clean shared page dirties it. */
static int filemap_page_mkwrite(struct fault *vmf)
{
	struct address_space *mapping = vmf->vma->vm_file->f_mapping;

	if (!(__atomic_fetch_or(&mapping->flags[vmf->pgoff], PG_dirty, __ATOMIC_ACQ_REL) & PG_dirty))
		mapping_dirty_add(mapping, 1);
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

/* Forget page pgoff (delete_from_page_cache): its dirty count, its frame
 * or swap slot and its flags (it stays locked).  Caller holds the page lock,
 * has unmapped it everywhere, and frees its memfd backing. */
void page_cache_drop(struct address_space *mapping, unsigned long pgoff)
{
	pgflags_t f = mapping->flags[pgoff];

	if (f & PG_dirty)
		__atomic_sub_fetch(&mapping->shared->nr_dirty, 1, __ATOMIC_ACQ_REL);
	if (f & PG_swap)
		swap_free(pg_val(f));
	else if ((f & PG_uptodate) && !mapping->device)
		release_frame(pg_val(f), mapping, pgoff);
	__atomic_store_n(&mapping->flags[pgoff], PG_locked, __ATOMIC_RELEASE);
}

/* The first page at or after pgoff that may be cached (has data in the
 * memfd), or nr_pages: walks only what is resident, so a terabyte file with
 * a few cached pages costs a few steps. */
unsigned long mapping_next_resident(struct address_space *mapping, unsigned long pgoff)
{
	if (pgoff >= mapping->nr_pages)
		return mapping->nr_pages;
	off_t off = host_seek_data(mapping->memfd, (off_t)(pgoff << PAGE_SHIFT));
	if (off < 0)
		return off == -ENXIO ? mapping->nr_pages : pgoff;	/* unknown: look at every page */
	unsigned long next = (unsigned long)off >> PAGE_SHIFT;
	return next < mapping->nr_pages ? next : mapping->nr_pages;
}

/* Take page pgoff out of every mapping of it that still shows the page
 * cache (private copies stay): unmap_mapping_range without even_cows. */
static int unmap_mapping_page(struct address_space *mapping, unsigned long pgoff)
{
	int r;

	for (struct vm_area_struct *vma = mapping->i_mmap; vma; vma = vma->shared_next) {
		if (pgoff < vma->vm_pgoff || pgoff >= vma->vm_pgoff + vma_pages(vma))
			continue;
		unsigned long addr = vma->vm_start + ((pgoff - vma->vm_pgoff) << PAGE_SHIFT);
		pte_t *pte = pte_offset(addr, false);
		if (pte && (ptep_get(pte) & (PTE_PRESENT | PTE_ANON | PTE_SWAP)) == PTE_PRESENT &&
		    (r = zap_page_range(vma, addr, addr + PAGE_SIZE)))
			return r;
	}
	return 0;
}

/* Bring a file's cache in line with the file, if the file changed behind
 * it (write(2), ftruncate(2), another process): clean pages are dropped
 * from the cache and from every mapping, to be read again; pages wholly
 * past a new end go, dirty or not, and a partial last page's tail becomes
 * zeros, as truncate_pagecache does.  Dirty pages inside the file stay:
 * they are this process's newer data.  Returns 0 or -errno.  Caller holds
 * mmap_lock for writing. */
int mapping_revalidate(struct address_space *mapping)
{
	struct stat st;
	int r = 0;

	if (mapping->fd < 0 || (r = host_fstat(mapping->fd, &st)))
		return mapping->fd < 0 ? 0 : r;
	if (st.st_size == mapping->i_stat.st_size &&
	    st.st_mtim.tv_sec == mapping->i_stat.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == mapping->i_stat.st_mtim.tv_nsec &&
	    st.st_ctim.tv_sec == mapping->i_stat.st_ctim.tv_sec &&
	    st.st_ctim.tv_nsec == mapping->i_stat.st_ctim.tv_nsec)
		return 0;
	unsigned long eof_page = (unsigned long)st.st_size >> PAGE_SHIFT;
	size_t tail = (size_t)st.st_size & (PAGE_SIZE - 1);
	for (unsigned long pgoff = mapping_next_resident(mapping, 0); pgoff < mapping->nr_pages;
	     pgoff = mapping_next_resident(mapping, pgoff + 1)) {
		pgflags_t f = mapping->flags[pgoff];
		if (!(f & PG_uptodate))
			continue;
		bool past_eof = pgoff > eof_page || (pgoff == eof_page && !tail);
		if (!past_eof && (f & PG_dirty)) {
			if (pgoff == eof_page)	/* a partial last page: zero its tail */
				memset(mapping->direct + (pgoff << PAGE_SHIFT) + tail, 0, PAGE_SIZE - tail);
			continue;
		}
		lock_page(mapping, pgoff);
		if ((r = unmap_mapping_page(mapping, pgoff))) {
			unlock_page(mapping, pgoff);
			return r;	/* still mapped somewhere: keep the page */
		}
		page_cache_drop(mapping, pgoff);
		host_punch_hole(mapping->memfd, (off_t)(pgoff << PAGE_SHIFT), (off_t)PAGE_SIZE);
		unlock_page(mapping, pgoff);
	}
	mapping->i_stat = st;
	return 0;
}

/* Evict page pgoff from a file's cache (shrink_folio_list and
 * __remove_mapping): write it back if dirty, take it out of every mapping
 * that shows it (private copies stay), forget it and free its frame.  Its
 * next access reads it again.  Returns 0, or the write-back's -errno (the
 * page then stays, dirty).  Caller holds mmap_lock for writing. */
int evict_page(struct address_space *mapping, unsigned long pgoff)
{
	int r;

	if (!(mapping->flags[pgoff] & PG_uptodate))
		return 0;
	/* Mapped by a forked process too: its mappings are out of our reach,
	 * so the page stays (MADV_PAGEOUT also leaves shared pages alone). */
	if (__atomic_load_n(&mapping->shared->forked, __ATOMIC_ACQUIRE))
		return 0;
	if ((mapping->flags[pgoff] & PG_dirty) && (r = writeback_clean_page(mapping, pgoff)))
		return r;
	lock_page(mapping, pgoff);
	if ((r = unmap_mapping_page(mapping, pgoff))) {
		unlock_page(mapping, pgoff);
		return r;	/* still mapped somewhere: keep the page */
	}
	if (mapping->flags[pgoff] & PG_dirty) {	/* dirtied again since: try later */
		unlock_page(mapping, pgoff);
		return 0;
	}
	page_cache_drop(mapping, pgoff);
	host_punch_hole(mapping->memfd, (off_t)(pgoff << PAGE_SHIFT), (off_t)PAGE_SIZE);
	unlock_page(mapping, pgoff);
	count_vm_event(EV_pgevict);
	return 0;
}

/* Is this the page cache of a regular file (its data safe on disk once
 * written back, so its pages may be evicted)? */
bool mapping_is_file(const struct address_space *mapping)
{
	return mapping->a_ops == &file_aops;
}

/* Write-protect page pgoff in every shared VMA that maps it writable
 * (rmap walk), so its next write is seen.  Returns 0, or the host's -errno
 * with the PTE that could not be protected left writable (the caller keeps
 * the page dirty).  Caller holds the page lock. */
int page_mkclean(struct address_space *mapping, unsigned long pgoff)
{
	for (struct vm_area_struct *vma = mapping->i_mmap; vma; vma = vma->shared_next) {
		if (!(vma->vm_flags & VM_SHARED) || pgoff < vma->vm_pgoff ||
		    pgoff >= vma->vm_pgoff + vma_pages(vma))
			continue;
		unsigned long addr = vma->vm_start + ((pgoff - vma->vm_pgoff) << PAGE_SHIFT);
		pte_t *pte = pte_offset(addr, false);
		if (!pte || (ptep_get(pte) & (PTE_WRITE | PTE_ANON)) != PTE_WRITE)
			continue;
		/* PTE first: the host must never refuse what the PTE grants (a
		 * store before the protect is still written by writepage). */
		pte_t orig = ptep_get(pte), entry = orig & ~(pte_t)PTE_WRITE;
		set_pte_at(addr, pte, entry);
		int r = host_protect(addr, PAGE_SIZE, vma_host_prot(vma, entry));
		if (r) {
			set_pte_at(addr, pte, orig);	/* still writable: say so */
			return r;
		}
		host_vmas_account(1);
	}
	return 0;
}

/* handler-safe: write back dirty page pgoff, locked by the caller and mapped
 * nowhere (reclaim unmapped it), so nothing can dirty it meanwhile.  On
 * failure it stays dirty and the mapping keeps the error.  Returns 0 or the
 * write's -errno. */
int writeback_locked_page(struct address_space *mapping, unsigned long pgoff)
{
	unsigned long t0 = host_now_ns();
	int r;

	__atomic_fetch_and(&mapping->flags[pgoff], ~(pgflags_t)PG_dirty, __ATOMIC_ACQ_REL);
	mapping_dirty_add(mapping, -1);
	r = mapping->a_ops->writepage(mapping, pgoff, mapping->direct + (pgoff << PAGE_SHIFT));
	if (!r) {
		trace_writeback(pgoff, host_now_ns() - t0);
		return 0;
	}
	__atomic_fetch_or(&mapping->flags[pgoff], PG_dirty, __ATOMIC_ACQ_REL);
	mapping_dirty_add(mapping, 1);
	if (!mapping->wb_err)
		mapping->wb_err = r;
	count_vm_event(EV_writeback_error);
	return r;
}

/* Write back page pgoff if dirty: clean it and write-protect it first, so a
 * store during the write re-dirties it; on failure it is dirty again.
 * Returns 0 or the write's -errno. */
int writeback_clean_page(struct address_space *mapping, unsigned long pgoff)
{
	int r;

	lock_page(mapping, pgoff);
	if (!(mapping->flags[pgoff] & PG_dirty)) {
		unlock_page(mapping, pgoff);
		return 0;
	}
	if (__atomic_load_n(&mapping->shared->forked, __ATOMIC_ACQUIRE)) {
		/* Another process may hold it writable: write it, keep it dirty. */
		unlock_page(mapping, pgoff);
		unsigned long t0 = host_now_ns();
		r = mapping->a_ops->writepage(mapping, pgoff, mapping->direct + (pgoff << PAGE_SHIFT));
		if (!r)
			trace_writeback(pgoff, host_now_ns() - t0);
		else
			count_vm_event(EV_writeback_error);
		if (r && !mapping->wb_err)
			mapping->wb_err = r;
		return r;
	}
	if ((r = page_mkclean(mapping, pgoff))) {
		/* A mapping stays writable: cleaning would lose its next store. */
		unlock_page(mapping, pgoff);
		count_vm_event(EV_writeback_error);
		return r;
	}
	__atomic_fetch_and(&mapping->flags[pgoff], ~(pgflags_t)PG_dirty, __ATOMIC_ACQ_REL);
	mapping_dirty_add(mapping, -1);
	unlock_page(mapping, pgoff);

	unsigned long t0 = host_now_ns();
	r = mapping->a_ops->writepage(mapping, pgoff, mapping->direct + (pgoff << PAGE_SHIFT));
	if (!r)
		trace_writeback(pgoff, host_now_ns() - t0);
	if (r) {
		if (!(__atomic_fetch_or(&mapping->flags[pgoff], PG_dirty, __ATOMIC_ACQ_REL) & PG_dirty))
			mapping_dirty_add(mapping, 1);
		if (!mapping->wb_err)
			mapping->wb_err = r;
		count_vm_event(EV_writeback_error);
	}
	return r;
}

/* Write back the dirty pages first..last (inclusive) and, if sync, make them
 * durable with fdatasync.  Returns 0 or the first -errno; failed pages stay
 * dirty.  Caller holds mmap_lock. */
int filemap_write_and_wait_range(struct address_space *mapping, unsigned long first,
				 unsigned long last, bool sync)
{
	int err = 0, r;

	if (!mapping->a_ops->writepage)
		return 0;
	if (last >= mapping->nr_pages)
		last = mapping->nr_pages - 1;
	for (unsigned long i = mapping_next_resident(mapping, first);
	     i <= last && mapping_nr_dirty(mapping) && first < mapping->nr_pages;
	     i = mapping_next_resident(mapping, i + 1)) {
		if ((mapping->flags[i] & PG_dirty) && (r = writeback_clean_page(mapping, i)) && !err)
			err = r;
	}
	if (sync && !err && mapping->fd >= 0 && (r = host_fdatasync(mapping->fd)))
		err = r;
	if (!err && !mapping_nr_dirty(mapping))
		mapping->wb_err = 0;
	return err;
}

/* Grow the memfd fd from old_len to new_len bytes and its view *view with
 * it (mapping it the first time).  Returns 0 or -errno, *view unchanged. */
static int grow_object(int fd, void **view, size_t old_len, size_t new_len)
{
	int r;

	if ((r = host_truncate(fd, (off_t)new_len)))
		return r;
	if (!*view)
		return host_map_view(fd, new_len, view);
	return host_resize_view(view, old_len, new_len);
}

/* Make room for pages [0, nr_pages): frames and flags grow together.  Both
 * are memfds, so a forked child keeps sharing them.  Caller holds mmap_lock
 * for writing (the handler reads these). */
int mapping_grow(struct address_space *mapping, unsigned long nr_pages)
{
	unsigned long old = mapping->nr_pages;
	size_t hdr = sizeof(struct mapping_shared);
	void *view = mapping->direct, *shared = mapping->shared;
	int r;

	if (nr_pages <= old)
		return 0;
	nr_pages = (nr_pages + MAPPING_GROW_PAGES - 1) & ~(MAPPING_GROW_PAGES - 1);
	if (nr_pages < old * 2)
		nr_pages = old * 2;
	if ((r = grow_object(mapping->memfd, &view, old << PAGE_SHIFT, nr_pages << PAGE_SHIFT)))
		return r;
	if ((r = grow_object(mapping->shared_fd, &shared, old ? hdr + old * sizeof(pgflags_t) : 0,
			       hdr + nr_pages * sizeof(pgflags_t)))) {
		/* Put the frames' view back as it was, so nothing leaks. */
		if (!old)
			host_free(view, nr_pages << PAGE_SHIFT);
		else if (host_resize_view(&view, nr_pages << PAGE_SHIFT, old << PAGE_SHIFT) == 0)
			mapping->direct = view;
		return r;
	}
	mapping->direct = view;
	mapping->shared = shared;
	mapping->flags = mapping->shared->flags;
	mapping->nr_pages = nr_pages;
	return 0;
}

/* A new, empty page cache with its memfd.  NULL on failure (errno-free). */
struct address_space *mapping_alloc(const struct address_space_operations *a_ops)
{
	struct address_space *mapping = calloc(1, sizeof(*mapping));

	if (!mapping)
		return NULL;
	mapping->fd = -1;
	mapping->a_ops = a_ops;
	if (host_memfd("vmemu-frames", &mapping->memfd)) {
		free(mapping);
		return NULL;
	}
	if (host_memfd("vmemu-page-flags", &mapping->shared_fd)) {
		host_close(mapping->memfd);
		free(mapping);
		return NULL;
	}
	return mapping;
}

static void mapping_free(struct mm_struct *mm, struct address_space *mapping)
{
	struct address_space **p = &mm->mappings;

	while (*p && *p != mapping)
		p = &(*p)->next;
	if (*p)
		*p = mapping->next;
	if (!mapping->device)
		free_mapping_frames(mapping);
	if (mapping->shared && mapping->nr_swapped)
		for (unsigned long pgoff = 0; pgoff < mapping->nr_pages; pgoff++)
			if (mapping->flags[pgoff] & PG_swap)
				swap_free(pg_val(mapping->flags[pgoff]));
	if (mapping->direct)
		host_free(mapping->direct, mapping->nr_pages << PAGE_SHIFT);
	if (mapping->shared)
		host_free(mapping->shared, sizeof(struct mapping_shared) + mapping->nr_pages * sizeof(pgflags_t));
	if (mapping->memfd >= 0)
		host_close(mapping->memfd);
	host_close(mapping->shared_fd);
	if (mapping->fd >= 0)
		host_close(mapping->fd);
	if (mapping->device && mapping->device->release)
		mapping->device->release(mapping->device);
	free(mapping);
}

/* Drop a reference.  The last one writes back dirty pages; if that fails the
 * cache stays (unreferenced) so nothing is lost, and vme_shutdown retries
 * and reports it. */
void mapping_put(struct mm_struct *mm, struct address_space *mapping)
{
	if (--mapping->refcount > 0)
		return;
	if (mapping_nr_dirty(mapping) &&
	    filemap_write_and_wait_range(mapping, 0, mapping->nr_pages - 1, false))
		return;
	mapping_free(mm, mapping);
}

/* Free every unreferenced cache whose write-back now succeeds; returns the
 * first failure.  For vme_shutdown. */
int mapping_release_orphans(struct mm_struct *mm)
{
	int err = 0;

	for (struct address_space *m = mm->mappings, *next; m; m = next) {
		next = m->next;
		if (m->refcount > 0)
			continue;
		int r = mapping_nr_dirty(m) ? filemap_write_and_wait_range(m, 0, m->nr_pages - 1, false) : 0;
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

/* Give the cache a descriptor it can write back through.  A descriptor with
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

/* The struct file for a mapping of fd: finds or creates the page cache of
 * its inode.  want_write: the mapping is shared and writable, so the cache
 * needs a writable descriptor.  Returns 0 or -errno.  Caller holds mmap_lock
 * for writing. */
int file_open_mapping(struct mm_struct *mm, int fd, bool want_write, struct file **filep)
{
	struct address_space *mapping;
	struct stat st;
	char path[4096];
	int fl, r;

	if ((r = host_fstat(fd, &st)) || (fl = host_fd_flags(fd)) < 0)
		return r ? r : fl;
	for (mapping = mm->mappings; mapping; mapping = mapping->next)
		if ((mapping->a_ops == &file_aops || mapping->device) && mapping->dev == st.st_dev &&
		    mapping->ino == st.st_ino)
			break;
	if (mapping && mapping->device)
		return device_open_file(mm, mapping, filep);
	if (mapping && (r = mapping_revalidate(mapping)))
		return r;
	bool fresh = !mapping;
	if (fresh) {
		if (!(mapping = mapping_alloc(&file_aops)))
			return -ENOMEM;
		mapping->dev = st.st_dev;
		mapping->ino = st.st_ino;
		mapping->i_stat = st;
	}
	if (mapping->fd < 0 || (want_write && !mapping->fd_writable)) {
		bool writable = (fl & O_ACCMODE) == O_RDWR;
		if ((r = mapping_set_fd(mapping, fd, fl, writable))) {
			if (fresh)
				mapping_free(mm, mapping);
			return r;
		}
	}
	struct file *file = calloc(1, sizeof(*file));
	if (!file || host_fd_path(fd, path, sizeof(path)) < 0 || !(file->f_path = strdup(path))) {
		free(file);
		if (fresh)
			mapping_free(mm, mapping);
		return -ENOMEM;
	}
	if (fresh) {
		mapping->next = mm->mappings;
		mm->mappings = mapping;
	}
	mapping->refcount++;
	file->f_mapping = mapping;
	file->f_op = &generic_file_operations;
	file->refcount = 1;
	*filep = file;
	return 0;
}
