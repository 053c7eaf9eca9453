/*
 * readwrite.c - read, write, truncate and fsync of a file through its page
 * cache (fs/read_write.c, generic_file_read_iter, generic_perform_write,
 * do_truncate, vfs_fsync).
 *
 * The host does the I/O; the cache comes along with it:
 *
 *  - read: the host reads the file into the program's buffers, then the
 *    bytes of every page the cache holds are copied over them, so a read
 *    sees stores made through MAP_SHARED that are not written back yet;
 *  - write: under the inode's i_rwsem, the host writes the file, then the
 *    written bytes go into every cached page of the range, under each
 *    page's lock, so every mapping in every process sees them at once;
 *  - truncate: pages past the new end leave the cache (and this process's
 *    mappings of them), the partial last page's tail becomes zeros;
 *  - fsync: the file's dirty pages are written back first.
 *
 * vmemu's own writes are recorded in the inode (inode_set_stat), so they
 * never look like a change made behind its back.  None of this runs in the
 * fault handler.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host/host.h"
#include "mm/mm.h"
#include "mm/vmstat.h"

/* The cache of the regular file fd, if some process of the domain caches
 * it, with a reference for the call (this process's address_space if it
 * has one, else this process among the inode's users until io_put).
 * create: make the cache if there is none.  Returns 0 with io->inode set
 * (NULL: not a regular file, or not cached), or -errno. */
int io_get(struct mm_struct *mm, int fd, bool create, struct file_io *io)
{
	struct stat st;
	dev_t dev;
	ino_t ino;
	uint64_t gen;
	int r;

	*io = (struct file_io){ 0 };
	if (host_fstat(fd, &st) || !S_ISREG(st.st_mode))
		return 0;	/* the host's call decides (EBADF, a pipe, a socket) */
	if (!create && !ilookup_any(st.st_dev, st.st_ino))
		return 0;	/* the common case: nobody caches it */
	if ((r = host_file_identity(fd, &dev, &ino, &gen)))
		return r;
	mmap_read_lock();
	for (struct address_space *m = mm->mappings; m; m = m->next)
		if (m->host->kind == I_FILE && m->host->dev == (uint64_t)dev && m->host->ino == (uint64_t)ino &&
		    m->host->gen == gen) {
			io->mapping = m;
			m->refcount++;
			break;
		}
	mmap_read_unlock();
	if (io->mapping) {
		io->inode = io->mapping->host;
		return 0;
	}
	r = iget_file(fd, &st, NULL, create, &io->inode);
	if (r == -ENOENT)
		return 0;
	io->temp = !r;
	return r;
}

/* Done with the cache io_get found. */
void io_put(struct mm_struct *mm, struct file_io *io)
{
	if (io->mapping) {
		mmap_write_lock();
		mapping_put(mm, io->mapping);
		mmap_write_unlock();
	} else if (io->temp) {
		iput(io->inode);
	}
	*io = (struct file_io){ 0 };
}

/* Copy between a buffer and bytes [from, from + len) of the program's
 * iovecs (counted from the start of the call), as the kernel copies to and
 * from user memory: a page that is not there is -EFAULT, not a crash. */
static int iov_copy(struct mm_struct *mm, const struct iovec *iov, int cnt, size_t from, void *buf,
		    size_t len, bool to_user)
{
	for (int i = 0; i < cnt && len; i++) {
		size_t l = iov[i].iov_len;
		if (from >= l) {
			from -= l;
			continue;
		}
		size_t n = l - from < len ? l - from : len;
		char *user = (char *)iov[i].iov_base + from;
		int r = to_user ? copy_to_user(mm, user, buf, n) : copy_from_user(mm, buf, user, n);
		if (r)
			return r;
		buf = (char *)buf + n;
		len -= n;
		from = 0;
	}
	return 0;
}

/* After the host read n bytes at off into the program's iovecs: the bytes
 * of every page the cache holds replace what the file had.  Returns 0 or
 * -EFAULT. */
int filemap_read_overlay(struct mm_struct *mm, struct inode *inode, off_t off, size_t n,
			 const struct iovec *iov, int cnt)
{
	char *bounce = NULL;
	int r = 0;

	if (!n || !__atomic_load_n(&inode->nrpages, __ATOMIC_ACQUIRE))
		return 0;
	uint64_t start = (uint64_t)off, end = start + n;
	uint32_t e;
	for (unsigned long i = radix_next(inode, start >> PAGE_SHIFT, &e); i != ~0UL && (i << PAGE_SHIFT) < end;
	     i = radix_next(inode, i + 1, &e)) {
		if (e & RADIX_SWAP)
			continue;
		unsigned long pfn = find_lock_page(inode, i);
		if (pfn == NO_PAGE)
			continue;
		if (!(pfn_to_page(pfn)->flags & PG_uptodate)) {
			unlock_page(pfn);
			continue;
		}
		uint64_t a = (uint64_t)i << PAGE_SHIFT > start ? (uint64_t)i << PAGE_SHIFT : start;
		uint64_t b = ((uint64_t)i + 1) << PAGE_SHIFT < end ? ((uint64_t)i + 1) << PAGE_SHIFT : end;
		if (!bounce && !(bounce = malloc(PAGE_SIZE))) {
			unlock_page(pfn);
			return -ENOMEM;
		}
		/* The page's bytes, under its lock; then to the program, with
		 * no lock held (its buffer may be this very page, mapped). */
		memcpy(bounce, page_address(pfn) + (a & (PAGE_SIZE - 1)), b - a);
		unlock_page(pfn);
		view_account(1);
		if ((r = iov_copy(mm, iov, cnt, a - start, bounce, b - a, true)))
			break;
	}
	free(bounce);
	return r;
}

/* After the host wrote n bytes at off from the program's iovecs (the file
 * was old_size bytes before): the cache holds the same bytes.  If the file
 * grew, a page past the old end that the cache still held from before a
 * truncation goes, and the old last page's tail becomes zeros, as the
 * file's bytes there are; every cached page of the range gets the written
 * bytes.  from_file: take
 * them from the file, not the buffers (a cache appeared during the write).
 * Caller holds i_rwsem.  Returns 0 or -errno. */
int filemap_write_update(struct mm_struct *mm, struct inode *inode, int fd, off_t off, size_t n,
			 uint64_t old_size, const struct iovec *iov, int cnt, bool from_file)
{
	char *bounce = NULL;
	int r = 0;
	uint64_t start = (uint64_t)off, end = start + n;

	if (end > old_size) {
		/* nothing cached past the old end may survive into the new file */
		truncate_inode_pages(inode, old_size);
		uint64_t size = __atomic_load_n(&inode->i_size, __ATOMIC_ACQUIRE);
		while (end > size && !__atomic_compare_exchange_n(&inode->i_size, &size, end, false,
								  __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			;
	}
	if (!__atomic_load_n(&inode->nrpages, __ATOMIC_ACQUIRE))
		return 0;
	uint32_t e;
	for (unsigned long i = radix_next(inode, start >> PAGE_SHIFT, &e); i != ~0UL && (i << PAGE_SHIFT) < end;
	     i = radix_next(inode, i + 1, &e)) {
		if (e & RADIX_SWAP)
			continue;
		uint64_t a = (uint64_t)i << PAGE_SHIFT > start ? (uint64_t)i << PAGE_SHIFT : start;
		uint64_t b = ((uint64_t)i + 1) << PAGE_SHIFT < end ? ((uint64_t)i + 1) << PAGE_SHIFT : end;
		if (!bounce && !(bounce = malloc(PAGE_SIZE)))
			return -ENOMEM;
		/* The bytes first, faulting the program's buffer in if need be,
		 * with no page lock held; then into the page, under its lock. */
		if (from_file) {
			ssize_t got = host_read_full(fd, bounce, b - a, (off_t)a);
			if (got < 0) {
				r = (int)got;
				break;
			}
			memset(bounce + got, 0, b - a - (size_t)got);
		} else if ((r = iov_copy(mm, iov, cnt, a - start, bounce, b - a, false))) {
			break;
		}
		unsigned long pfn = find_lock_page(inode, i);
		if (pfn == NO_PAGE)
			continue;
		if (pfn_to_page(pfn)->flags & PG_uptodate)
			memcpy(page_address(pfn) + (a & (PAGE_SIZE - 1)), bounce, b - a);
		unlock_page(pfn);
		view_account(1);
	}
	free(bounce);
	return r;
}

/* Record the file's state after a write through vmemu: vmemu's own doing,
 * never an outside change for revalidation. */
void inode_record_fd(struct inode *inode, int fd)
{
	struct stat st;

	if (!host_fstat(fd, &st))
		inode_set_stat(inode, &st);
}

/* The page cache's side of ftruncate(fd, length), with i_rwsem held: the
 * pages past the new end leave the cache and this process's mappings
 * (private copies too), the new last page's tail becomes zeros, the host
 * truncates the file.  Returns 0 or the host's -errno. */
int do_truncate(struct mm_struct *mm, struct file_io *io, int fd, off_t length)
{
	struct inode *inode = io->inode;
	uint64_t old = __atomic_load_n(&inode->i_size, __ATOMIC_ACQUIRE);
	struct stat st;
	int r;

	if (!host_fstat(fd, &st))
		old = (uint64_t)st.st_size;
	if ((uint64_t)length < old) {
		/* the new size first: a fault past it is SIGBUS from now on */
		__atomic_store_n(&inode->i_size, (uint64_t)length, __ATOMIC_RELEASE);
		mmap_write_lock();
		if (io->mapping)
			truncate_pagecache(mm, io->mapping, (uint64_t)length);
		else
			truncate_inode_pages(inode, (uint64_t)length);
		mmap_write_unlock();
	} else {
		/* nothing stale past the old end, and the old last page's tail
		 * is zeros, as the file's bytes there are */
		truncate_inode_pages(inode, old);
	}
	if ((r = host_user_ftruncate(fd, length))) {
		__atomic_store_n(&inode->i_size, old, __ATOMIC_RELEASE);	/* the file is as it was */
		return r;
	}
	__atomic_store_n(&inode->i_size, (uint64_t)length, __ATOMIC_RELEASE);
	inode_record_fd(inode, fd);
	return 0;
}

/* The page cache's side of fsync(fd): write back the file's dirty pages,
 * whoever dirtied them, through this process's descriptor of the file, or
 * fd if it can write.  Returns 0 or the first -errno. */
int do_fsync(struct mm_struct *mm, struct file_io *io, int fd)
{
	struct address_space *mapping = io->mapping;
	int r = 0;

	if (!__atomic_load_n(&io->inode->nrdirty, __ATOMIC_ACQUIRE))
		return mapping && mapping->wb_err ? mapping->wb_err : 0;
	mmap_read_lock();
	if (mapping) {
		r = filemap_write_and_wait_range(mapping, 0, ~0UL, false);
	} else {
		struct address_space tmp = { .host = io->inode, .fd = fd, .a_ops = &file_aops };
		int fl = host_fd_flags(fd);
		if (fl >= 0 && (fl & O_ACCMODE) != O_RDONLY)
			r = filemap_write_and_wait_range(&tmp, 0, ~0UL, false);
	}
	mmap_read_unlock();
	(void)mm;
	return r;
}
