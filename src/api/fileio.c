/*
 * fileio.c - vme_read, vme_write and their p/v forms, vme_ftruncate,
 * vme_truncate, vme_fsync, vme_fdatasync.
 *
 * Every call first faults in the program's buffers that lie in emulated
 * memory, as the kernel's own access would, so the host never says EFAULT
 * where Linux would not.  On a regular file that some process caches, the
 * page cache comes along (mm/readwrite.c): a read sees its pages, a write
 * and a truncate change them, fsync writes them back.  A cache that
 * appears while a write runs without one is brought in line from the file
 * afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <vmemu.h>
#include "api/api.h"
#include "api/uio.h"
#include "mm/mm.h"

/* Which host call carries a read or write. */
enum io_form {
	IO_PLAIN,	/* read / write at the file position */
	IO_POS,		/* pread / pwrite at off */
	IO_VEC,		/* readv / writev at the file position */
	IO_POSVEC,	/* preadv / pwritev at off */
};

static ssize_t host_io(enum io_form form, bool write, int fd, const struct user_iov *u, off_t off)
{
	const struct iovec *v = u->iov;

	switch (form) {
	case IO_PLAIN:
		return write ? host_user_write(fd, v->iov_base, v->iov_len)
			     : host_user_read(fd, v->iov_base, v->iov_len);
	case IO_POS:
		return write ? host_user_pwrite(fd, v->iov_base, v->iov_len, off)
			     : host_user_pread(fd, v->iov_base, v->iov_len, off);
	case IO_VEC:
		return write ? host_user_writev(fd, v, u->cnt) : host_user_readv(fd, v, u->cnt);
	default:
		return write ? host_user_pwritev(fd, v, u->cnt, off)
			     : host_user_preadv(fd, v, u->cnt, off);
	}
}

/* The host's call, its buffers faulted in (again on EFAULT). */
static ssize_t host_io_retry(enum io_form form, bool write, int fd, struct user_iov *u, off_t off)
{
	int tries = 0;
	ssize_t r;

	do
		r = host_io(form, write, fd, u, off);
	while (user_iov_retry(u, r, &tries, !write));
	return r;
}

static bool positioned(enum io_form form)
{
	return form == IO_POS || form == IO_POSVEC;
}

/* A read of a cached file: the host's, then the cache's pages over it.  If
 * a buffer page could not take them, the read is short there, and the file
 * position says so. */
static ssize_t cached_read(enum io_form form, int fd, struct user_iov *u, off_t off, struct file_io *io)
{
	off_t pos = positioned(form) ? off : host_user_lseek(fd, 0, SEEK_CUR);
	ssize_t r = host_io_retry(form, false, fd, u, off);

	if (r > 0 && pos >= 0) {
		ssize_t n = filemap_read_overlay(&init_mm, io->inode, pos, (size_t)r, u->iov, u->cnt);
		if (n != r && !positioned(form))
			host_user_lseek(fd, pos + (n > 0 ? n : 0), SEEK_SET);
		r = n;
	}
	return r;
}

/* A write to a cached file, under its i_rwsem (mm/readwrite.c). */
static ssize_t cached_write(enum io_form form, int fd, struct user_iov *u, off_t off, struct file_io *io)
{
	struct inode *inode = io->inode;
	size_t n = user_iov_length(u);
	int fl = host_fd_flags(fd);
	struct stat st;
	ssize_t r;

	/* what write(2) checks before it copies a byte: the host's answer */
	if (!n || fl < 0 || (fl & O_PATH) || (fl & O_ACCMODE) == O_RDONLY || (positioned(form) && off < 0))
		return host_io(form, true, fd, u, off);
	rlock_lock(&inode->i_rwsem);
	/* A change made outside vmemu before this write: recording the file's
	 * state after it would hide that change from revalidation for good. */
	bool outside = inode_changed_outside(inode, fd, &st) > 0;
	uint32_t gen = inode_write_begin(inode);
	r = filemap_write(&init_mm, inode, fd, off, positioned(form), u->iov, u->cnt, n);
	if (r > 0 && !outside)
		inode_record_fd(inode, gen, fd);
	inode_write_end(inode);
	rlock_unlock(&inode->i_rwsem);
	return r;
}

/* A write made without a cache, under which one appeared (another process
 * mapped the file meanwhile): bring its pages in line.  If that fails, the
 * write is not recorded as vmemu's own, so the next mmap's revalidation
 * drops the stale pages. */
static void write_caught_up(int fd, struct user_iov *u, off_t pos, size_t n, uint64_t old, struct file_io *io)
{
	rlock_lock(&io->inode->i_rwsem);
	uint32_t gen = inode_write_begin(io->inode);
	if (!filemap_write_caught_up(&init_mm, io->inode, fd, pos, n, old, u->iov, u->cnt))
		inode_record_fd(io->inode, gen, fd);
	inode_write_end(io->inode);
	rlock_unlock(&io->inode->i_rwsem);
}

/* A read (write false: into the buffers) or a write (from them). */
static ssize_t do_io(enum io_form form, bool write, int fd, struct user_iov *u, off_t off)
{
	struct file_io io;
	struct stat st;
	ssize_t r;

	user_iov_fault_in(u, !write);
	if (io_get(&init_mm, fd, false, &io) || !io.inode) {
		/* Not cached: the host's call. */
		uint64_t old = write && !host_fstat(fd, &st) ? (uint64_t)st.st_size : 0;
		int fl = write ? host_fd_flags(fd) : 0;
		off_t pos = write && !positioned(form) ? host_user_lseek(fd, 0, SEEK_CUR) : off;
		r = host_io_retry(form, write, fd, u, off);
		if (write && r > 0 && !io_get(&init_mm, fd, false, &io) && io.inode) {
			if (fl > 0 && (fl & O_APPEND) && !host_fstat(fd, &st))
				pos = st.st_size - r;	/* appended, wherever the offset said */
			if (pos >= 0)
				write_caught_up(fd, u, pos, (size_t)r, old, &io);
			io_put(&init_mm, &io);
		}
		return r;
	}
	r = write ? cached_write(form, fd, u, off, &io) : cached_read(form, fd, u, off, &io);
	io_put(&init_mm, &io);
	return r;
}

static ssize_t io_single(enum io_form form, bool write, int fd, const void *buf, size_t count,
			 off_t off)
{
	struct vme_call call;
	struct user_iov u;
	ssize_t r;

	if ((r = vme_enter(&call)))
		return api_ret((int)r);
	user_iov_single(&u, buf, count);
	r = do_io(form, write, fd, &u, off);
	vme_leave(&call);
	return r < 0 ? api_ret((int)r) : r;
}

static ssize_t io_vector(enum io_form form, bool write, int fd, const struct iovec *iov, int cnt,
			 off_t off)
{
	struct vme_call call;
	struct user_iov u;
	ssize_t r;

	if ((r = vme_enter(&call)))
		return api_ret((int)r);
	if (!(r = user_iov_import(&u, iov, cnt))) {
		r = do_io(form, write, fd, &u, off);
		user_iov_release(&u);
	}
	vme_leave(&call);
	return r < 0 ? api_ret((int)r) : r;
}

VME_EXPORT ssize_t vme_read(int fd, void *buf, size_t count)
{
	return io_single(IO_PLAIN, false, fd, buf, count, 0);
}

VME_EXPORT ssize_t vme_write(int fd, const void *buf, size_t count)
{
	return io_single(IO_PLAIN, true, fd, buf, count, 0);
}

VME_EXPORT ssize_t vme_pread(int fd, void *buf, size_t count, off_t offset)
{
	return io_single(IO_POS, false, fd, buf, count, offset);
}

VME_EXPORT ssize_t vme_pwrite(int fd, const void *buf, size_t count, off_t offset)
{
	return io_single(IO_POS, true, fd, buf, count, offset);
}

VME_EXPORT ssize_t vme_readv(int fd, const struct iovec *iov, int iovcnt)
{
	return io_vector(IO_VEC, false, fd, iov, iovcnt, 0);
}

VME_EXPORT ssize_t vme_writev(int fd, const struct iovec *iov, int iovcnt)
{
	return io_vector(IO_VEC, true, fd, iov, iovcnt, 0);
}

VME_EXPORT ssize_t vme_preadv(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
	return io_vector(IO_POSVEC, false, fd, iov, iovcnt, offset);
}

VME_EXPORT ssize_t vme_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
	return io_vector(IO_POSVEC, true, fd, iov, iovcnt, offset);
}

/* ftruncate of fd, the cache coming along.  Caller is inside vme_enter. */
static int truncate_fd(int fd, off_t length)
{
	struct file_io io;
	int r;

	if (length < 0 || io_get(&init_mm, fd, false, &io) || !io.inode) {
		/* Not cached: the host's; a cache that appeared meanwhile loses
		 * what is past the end now. */
		if ((r = host_user_ftruncate(fd, length)) || io_get(&init_mm, fd, false, &io) || !io.inode)
			return r;
		rlock_lock(&io.inode->i_rwsem);
		uint32_t gen = inode_write_begin(io.inode);
		__atomic_store_n(&io.inode->i_size, (uint64_t)length, __ATOMIC_RELEASE);
		truncate_inode_pages(io.inode, (uint64_t)length);
		inode_record_fd(io.inode, gen, fd);
		inode_write_end(io.inode);
		rlock_unlock(&io.inode->i_rwsem);
		io_put(&init_mm, &io);
		return 0;
	}
	rlock_lock(&io.inode->i_rwsem);
	r = do_truncate(&init_mm, &io, fd, length);
	rlock_unlock(&io.inode->i_rwsem);
	io_put(&init_mm, &io);
	return r;
}

VME_EXPORT int vme_ftruncate(int fd, off_t length)
{
	struct vme_call call;
	int r;

	if ((r = vme_enter(&call)))
		return api_ret(r);
	r = truncate_fd(fd, length);
	vme_leave(&call);
	return api_ret(r);
}

/* truncate(2) by path: the file is opened for writing (what truncate needs
 * too) to find its cache; where it cannot be opened, the host's truncate
 * gives its own answer. */
VME_EXPORT int vme_truncate(const char *path, off_t length)
{
	struct vme_call call;
	int r, fd;

	char kpath[PATH_MAX];

	if ((r = vme_enter(&call)))
		return api_ret(r);
	if ((r = (int)strncpy_from_user(&init_mm, kpath, path, sizeof(kpath))) < 0) {
		vme_leave(&call);
		return api_ret(r);
	}
	if ((fd = host_open_file(kpath, O_WRONLY | O_NONBLOCK | O_NOCTTY)) < 0) {
		r = host_user_truncate(kpath, length);
	} else {
		r = truncate_fd(fd, length);
		host_close(fd);
	}
	vme_leave(&call);
	return api_ret(r);
}

/* fsync and fdatasync: the file's dirty pages first, then the host's. */
static int fsync_common(int fd, bool data_only)
{
	struct vme_call call;
	struct file_io io;
	int r, e = 0;

	if ((r = vme_enter(&call)))
		return api_ret(r);
	if (!io_get(&init_mm, fd, false, &io) && io.inode) {
		e = do_fsync(&init_mm, &io, fd);
		io_put(&init_mm, &io);
	}
	r = host_user_fsync(fd, data_only);
	vme_leave(&call);
	return api_ret(e ? e : r);
}

VME_EXPORT int vme_fsync(int fd)
{
	return fsync_common(fd, false);
}

VME_EXPORT int vme_fdatasync(int fd)
{
	return fsync_common(fd, true);
}
