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
 * vmemu's own writes are recorded in the inode (inode_write_record), so they
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
			/* other threads' io_get run alongside, under the read lock */
			__atomic_add_fetch(&m->refcount, 1, __ATOMIC_RELAXED);
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

#define WRITE_CHUNK	(64 * PAGE_SIZE)	/* bytes staged per host write */
#define COPY_TRIES	4			/* reclaim may take a buffer page back */

/* Copy len bytes between buf and bytes [from, from + len) of the program's
 * iovecs (counted from the start of the call) the way the kernel's
 * copy_to_iter and copy_from_iter do: a page that cannot be reached stops
 * the copy there, it is not a crash.  Returns the bytes copied. */
static size_t iov_copy(struct mm_struct *mm, const struct iovec *iov, int cnt, size_t from, char *buf,
		       size_t len, bool to_user)
{
	size_t done = 0;

	for (int i = 0; i < cnt && done < len; i++) {
		size_t l = iov[i].iov_len;
		if (from >= l) {
			from -= l;
			continue;
		}
		char *user = (char *)iov[i].iov_base + from;
		size_t n = l - from < len - done ? l - from : len - done;
		from = 0;
		/* the whole piece in one copy; page by page only if that fails */
		if (!(to_user ? copy_to_user(mm, user, buf + done, n) : copy_from_user(mm, buf + done, user, n))) {
			done += n;
			continue;
		}
		while (n) {
			size_t piece = PAGE_SIZE - ((unsigned long)user & (PAGE_SIZE - 1));
			int r = 0;
			if (piece > n)
				piece = n;
			for (int tries = 0; tries < COPY_TRIES; tries++)
				if (!(r = to_user ? copy_to_user(mm, user, buf + done, piece)
						  : copy_from_user(mm, buf + done, user, piece)))
					break;
			if (r)
				return done;
			done += piece;
			user += piece;
			n -= piece;
		}
	}
	return done;
}

/* After the host read n bytes at off into the program's iovecs: the bytes
 * of every page the cache holds replace what the file had.  Returns n, or
 * fewer if a buffer page could not be written (as a read that faults
 * part-way returns what it copied), or -EFAULT if none was. */
ssize_t filemap_read_overlay(struct mm_struct *mm, struct inode *inode, off_t off, size_t n,
			     const struct iovec *iov, int cnt)
{
	char bounce[PAGE_SIZE];

	if (!n || !__atomic_load_n(&inode->nrpages, __ATOMIC_ACQUIRE))
		return (ssize_t)n;
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
		/* The page's bytes, under its lock; then to the program, with
		 * no lock held (its buffer may be this very page, mapped). */
		memcpy(bounce, page_address(pfn) + (a & (PAGE_SIZE - 1)), b - a);
		unlock_page(pfn);
		view_account(1);
		size_t got = iov_copy(mm, iov, cnt, a - start, bounce, b - a, true);
		if (got < b - a)
			return a + got > start ? (ssize_t)(a + got - start) : -EFAULT;
	}
	return (ssize_t)n;
}

/* Bytes [pos, pos + n) of the file are now buf's (the file was old_size
 * bytes before): put them into every cached page of the range, under each
 * page's lock, once any write-back of it in flight has landed; dirty: and
 * mark the pages for write-back.  If the file
 * grew, a page past the old end that the cache still held from before a
 * truncation goes, and the old last page's tail becomes zeros, as the
 * file's bytes there are. */
static void cache_update(struct inode *inode, uint64_t pos, const char *buf, size_t n, uint64_t old_size,
			 bool dirty)
{
	uint64_t end = pos + n;

	if (end > old_size) {
		/* nothing cached past the old end may survive into the new file */
		truncate_inode_pages(inode, old_size);
		uint64_t size = __atomic_load_n(&inode->i_size, __ATOMIC_ACQUIRE);
		while (end > size && !__atomic_compare_exchange_n(&inode->i_size, &size, end, false,
								  __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			;
	}
	if (!__atomic_load_n(&inode->nrpages, __ATOMIC_ACQUIRE))
		return;
	uint32_t e;
	for (unsigned long i = radix_next(inode, pos >> PAGE_SHIFT, &e); i != ~0UL && (i << PAGE_SHIFT) < end;
	     i = radix_next(inode, i + 1, &e)) {
		if (e & RADIX_SWAP)
			continue;
		uint64_t a = (uint64_t)i << PAGE_SHIFT > pos ? (uint64_t)i << PAGE_SHIFT : pos;
		uint64_t b = ((uint64_t)i + 1) << PAGE_SHIFT < end ? ((uint64_t)i + 1) << PAGE_SHIFT : end;
		unsigned long pfn = find_lock_page(inode, i);
		if (pfn == NO_PAGE)
			continue;
		if (pfn_to_page(pfn)->flags & PG_uptodate) {
			wait_on_page_writeback(pfn);
			memcpy(page_address(pfn) + (a & (PAGE_SIZE - 1)), buf + (a - pos), b - a);
			if (dirty)
				set_page_dirty(pfn);
		}
		unlock_page(pfn);
		view_account(1);
	}
}

/* Write n bytes staged in buf at pos again, through a descriptor that
 * writes where it is told (fd's, unless it appends). */
static int rewrite(int fd, const char *buf, size_t n, uint64_t pos)
{
	int wfd = writable_fd(fd);

	if (wfd < 0)
		return wfd;
	ssize_t w = host_write_full(wfd, buf, n, (off_t)pos);
	if (wfd != fd)
		host_close(wfd);
	return w < 0 ? (int)w : (size_t)w < n ? -EIO : 0;
}

/* generic_perform_write for a cached file fd: write n bytes of the
 * program's iovecs at off (at_off), or at the file position.  Caller holds
 * i_rwsem.  A chunk at a time, the bytes are staged from the program's
 * buffers, then the same staged bytes go to the file (the host's write) and
 * into every cached page of the range, so the two cannot disagree whatever
 * the program's threads do to the buffers meanwhile, and a buffer that lies
 * in a mapping of this very file cannot deadlock on its page lock.  A
 * write-back that ran between the host's write and the copy into the page
 * may have put the page's older bytes over the new ones in the file
 * (inode.wb_seq moved): the chunk is written again (if that fails, its
 * pages are left dirty for write-back).  Returns the bytes
 * written, or -errno if none were (a buffer that cannot be read is
 * -EFAULT, as the kernel's). */
ssize_t filemap_write(struct mm_struct *mm, struct inode *inode, int fd, off_t off, bool at_off,
		      const struct iovec *iov, int cnt, size_t n)
{
	struct stat st;
	int fl = host_fd_flags(fd);
	bool append = fl >= 0 && (fl & O_APPEND);
	uint64_t old_size = host_fstat(fd, &st) ? __atomic_load_n(&inode->i_size, __ATOMIC_ACQUIRE)
						 : (uint64_t)st.st_size;
	size_t done = 0;
	ssize_t r = 0;
	char *buf = malloc(n < WRITE_CHUNK ? n : WRITE_CHUNK);

	if (!buf)
		return -ENOMEM;
	while (done < n) {
		size_t len = n - done < WRITE_CHUNK ? n - done : WRITE_CHUNK;
		size_t got = iov_copy(mm, iov, cnt, done, buf, len, false);
		if (!got) {
			r = -EFAULT;
			break;
		}
		uint32_t wb_seq = __atomic_load_n(&inode->wb_seq, __ATOMIC_ACQUIRE);
		ssize_t w = at_off ? host_user_pwrite(fd, buf, got, off + (off_t)done) : host_user_write(fd, buf, got);
		if (w <= 0) {
			r = w;
			break;
		}
		/* where it landed: appended (even by pwrite, as Linux's) at the
		 * end, or at off, or at the file position it moved past */
		off_t pos = append ? (host_fstat(fd, &st) ? -1 : st.st_size - w)
			  : at_off ? off + (off_t)done : host_user_lseek(fd, 0, SEEK_CUR) - w;
		if (pos < 0) {
			r = pos;
			break;
		}
		cache_update(inode, (uint64_t)pos, buf, (size_t)w, old_size, false);
		if ((uint64_t)pos + (uint64_t)w > old_size)
			old_size = (uint64_t)pos + (uint64_t)w;
		if (__atomic_load_n(&inode->wb_seq, __ATOMIC_ACQUIRE) != wb_seq &&
		    rewrite(fd, buf, (size_t)w, (uint64_t)pos))
			/* the cache has the bytes: write-back will put them in
			 * the file, or report why it cannot */
			cache_update(inode, (uint64_t)pos, buf, (size_t)w, old_size, true);
		done += (size_t)w;
		if ((size_t)w < got || got < len)
			break;	/* short: the file is full, or a buffer ended */
	}
	free(buf);
	return done ? (ssize_t)done : r;
}

/* A cache of fd's file appeared while n bytes were written at pos without
 * one (the file was old_size bytes before): bring its pages of the range in
 * line, from the program's buffers, else from the file.  Caller holds
 * i_rwsem.  Returns 0 or -errno (the cache may then be stale: the caller
 * leaves the change for revalidation to find). */
int filemap_write_caught_up(struct mm_struct *mm, struct inode *inode, int fd, off_t pos, size_t n,
			    uint64_t old_size, const struct iovec *iov, int cnt)
{
	char *buf = malloc(n < WRITE_CHUNK ? n : WRITE_CHUNK);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	for (size_t done = 0; done < n;) {
		size_t len = n - done < WRITE_CHUNK ? n - done : WRITE_CHUNK;
		if (iov_copy(mm, iov, cnt, done, buf, len, false) < len) {
			ssize_t got = host_read_full(fd, buf, len, pos + (off_t)done);
			if (got < 0 || (size_t)got < len) {
				r = got < 0 ? (int)got : -EIO;
				break;
			}
		}
		cache_update(inode, (uint64_t)pos + done, buf, len, old_size, false);
		done += len;
		if ((uint64_t)pos + done > old_size)
			old_size = (uint64_t)pos + done;
	}
	free(buf);
	return r;
}

/* Record the file's state after the write through vmemu begun as gen
 * (inode_write_begin): vmemu's own doing, never an outside change for
 * revalidation.  Not after a change made outside vmemu before the write
 * (inode_changed_outside): the record would hide it for good. */
void inode_record_fd(struct inode *inode, uint32_t gen, int fd)
{
	struct stat st;

	if (!host_fstat(fd, &st))
		inode_write_record(inode, gen, NULL, &st);
}

/* Would the host's ftruncate(fd, ...) refuse for a reason it checks before
 * touching the file (do_sys_ftruncate's order)?  The cache is changed
 * before the host's call, and must not be for nothing.  Returns 0 or the
 * -errno Linux gives. */
static int truncate_permitted(int fd)
{
	int fl = host_fd_flags(fd);

	if (fl < 0)
		return fl;
	if (fl & O_PATH)
		return -EBADF;
	if ((fl & O_ACCMODE) == O_RDONLY)
		return -EINVAL;
	if (host_fd_append_only(fd))
		return -EPERM;
	return 0;
}

/* The page cache's side of ftruncate(fd, length), with i_rwsem held:
 * shrinking, the new size holds at once (a fault past it is SIGBUS), the
 * pages past it leave the cache and this process's mappings (private
 * copies too), and the new last page's tail becomes zeros, as Linux's
 * truncate_setsize does before the file system truncates; then the host
 * truncates the file.  Growing, nothing stale may stay past the old end.
 * What the host refuses up front changes nothing; a failure of the
 * truncation itself (EIO) leaves the pages gone, as in Linux.  Returns 0 or
 * -errno. */
int do_truncate(struct mm_struct *mm, struct file_io *io, int fd, off_t length)
{
	struct inode *inode = io->inode;
	uint64_t old = __atomic_load_n(&inode->i_size, __ATOMIC_ACQUIRE);
	struct stat st;
	int r;

	if ((r = truncate_permitted(fd)))
		return r;
	/* a change made outside vmemu before: left for revalidation to find
	 * (the look takes the file's stat: its size is the old one) */
	int changed = inode_changed_outside(inode, fd, &st);
	bool outside = changed > 0;
	uint32_t gen = inode_write_begin(inode);
	if (changed >= 0)
		old = (uint64_t)st.st_size;
	if ((uint64_t)length < old) {
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
		if (!host_fstat(fd, &st))
			__atomic_store_n(&inode->i_size, (uint64_t)st.st_size, __ATOMIC_RELEASE);
	} else {
		__atomic_store_n(&inode->i_size, (uint64_t)length, __ATOMIC_RELEASE);
		if (!outside)
			inode_record_fd(inode, gen, fd);
	}
	inode_write_end(inode);
	return r;
}

/* The page cache's side of fsync(fd): write back the file's dirty pages,
 * whoever dirtied them, as Linux's fsync does whatever fd's access mode.
 * A write-back error not reported yet is reported now, once (errseq).
 * Returns 0 or -errno. */
int do_fsync(struct mm_struct *mm, struct file_io *io, int fd)
{
	struct address_space *mapping = io->mapping;
	int err = mapping ? mapping->wb_err : 0, r;

	mmap_read_lock();
	r = writeback_range(mapping, io->inode, fd, 0, ~0UL, false);
	mmap_read_unlock();
	if (mapping)
		mapping->wb_err = 0;
	(void)mm;
	return err ? err : r;
}
