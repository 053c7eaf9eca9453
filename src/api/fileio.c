/*
 * fileio.c - vme_read, vme_write and their p/v forms, vme_ftruncate,
 * vme_truncate, vme_fsync, vme_fdatasync.
 *
 * Every call first faults in the program's buffers that lie in emulated
 * memory, as the kernel's own access would, so the host never says EFAULT
 * where Linux would not.
 */
#include <errno.h>
#include <fcntl.h>
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

/* A read (write false: into the buffers) or a write (from them). */
static ssize_t do_io(enum io_form form, bool write, int fd, struct user_iov *u, off_t off)
{
	int tries = 0;
	ssize_t r;

	user_iov_fault_in(u, !write);
	do
		r = host_io(form, write, fd, u, off);
	while (user_iov_retry(u, r, &tries, !write));
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

VME_EXPORT int vme_ftruncate(int fd, off_t length)
{
	struct vme_call call;
	int r;

	if ((r = vme_enter(&call)))
		return api_ret(r);
	r = host_user_ftruncate(fd, length);
	vme_leave(&call);
	return api_ret(r);
}

VME_EXPORT int vme_truncate(const char *path, off_t length)
{
	struct vme_call call;
	int r;

	if ((r = vme_enter(&call)))
		return api_ret(r);
	fault_in_user(&init_mm, path, 1, false);
	r = host_user_truncate(path, length);
	vme_leave(&call);
	return api_ret(r);
}

static int fsync_common(int fd, bool data_only)
{
	struct vme_call call;
	int r;

	if ((r = vme_enter(&call)))
		return api_ret(r);
	r = host_user_fsync(fd, data_only);
	vme_leave(&call);
	return api_ret(r);
}

VME_EXPORT int vme_fsync(int fd)
{
	return fsync_common(fd, false);
}

VME_EXPORT int vme_fdatasync(int fd)
{
	return fsync_common(fd, true);
}
