/*
 * file.c - file and memory-object I/O for the page cache.
 *
 * host_read_full completes short reads and retries EINTR, so a fill sees
 * either the whole page, end of file, or a real error.  host_splice_full
 * does the same into another file (the page cache's segment) inside the
 * host kernel, through a pipe.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include "host/host.h"
#include "host/sysret.h"

/* handler-safe: read up to len bytes; returns the bytes read (less than len
 * only at end of file) or -errno. */
ssize_t host_read_full(int fd, void *dst, size_t len, off_t off)
{
	int saved = errno;
	size_t done = 0;

	while (done < len) {
		ssize_t n = host_sys.pread(fd, (char *)dst + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			errno = saved;
			return -e;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	errno = saved;
	return (ssize_t)done;
}

/* The pipe for host_splice_full, used by one thread at a time (busy, an
 * atomic flag: a thread takes it if it is free, else does without; the
 * thread holding it runs with signals blocked and holds it for one call).
 * One only: the host writes into the segment under its inode lock, so two
 * threads splicing at once would take turns, while a second fill reading
 * into the view instead runs beside the first.  Made on first use; an
 * error leaves it possibly holding bytes, so it is closed and made again.
 * A forked child closes its copy.
 *
 * Its descriptors are in the program's table: a program that closes
 * descriptors it did not open (closefrom, a daemon's loop over
 * /proc/self/fd) and then opens its own may be given these very numbers.
 * A splice through them would then pour file bytes into the program's
 * pipe and its bytes into the page cache, and closing them would close the
 * program's.  So the pipe's identity (device, inode) is kept, and checked
 * before each use: numbers that no longer name it are the program's now,
 * forgotten without being closed, and a new pipe is made. */
#define SPLICE_PIPE_SIZE (1 << 20)	/* what an unprivileged process may ask */
static struct splice_pipe {
	int fd[2];
	int busy;
	dev_t dev;			/* the pipe's identity, both ends */
	ino_t ino;
} the_pipe = { { -1, -1 }, 0, 0, 0 };

static void splice_pipe_close(struct splice_pipe *p)
{
	if (p->fd[0] >= 0) {
		host_sys.close(p->fd[0]);
		host_sys.close(p->fd[1]);
	}
	p->fd[0] = p->fd[1] = -1;
}

/* Does descriptor fd of p still name the pipe made for it? */
static bool splice_pipe_end_ours(const struct splice_pipe *p, int fd)
{
	struct stat st;

	return !host_sys.fstat(fd, &st) && S_ISFIFO(st.st_mode) && st.st_dev == p->dev && st.st_ino == p->ino;
}

/* Are both of p's descriptors still its pipe's?  If not, the ends that are
 * still ours are closed, and the numbers that are the program's now are
 * forgotten without being closed. */
static bool splice_pipe_ours(struct splice_pipe *p)
{
	bool ours[2] = { splice_pipe_end_ours(p, p->fd[0]), splice_pipe_end_ours(p, p->fd[1]) };

	if (ours[0] && ours[1])
		return true;
	for (int i = 0; i < 2; i++)
		if (ours[i])
			host_sys.close(p->fd[i]);
	p->fd[0] = p->fd[1] = -1;
	return false;
}

/* The pipe, if no other thread is using it: made or made again if need
 * be.  NULL: do without. */
static struct splice_pipe *splice_pipe_get(void)
{
	struct splice_pipe *p = &the_pipe;
	struct stat st;

	if (__atomic_exchange_n(&p->busy, 1, __ATOMIC_ACQUIRE))
		return NULL;
	if (p->fd[0] >= 0)
		splice_pipe_ours(p);	/* numbers the program took are forgotten */
	if (p->fd[0] < 0) {
		if (host_sys.pipe2(p->fd, O_CLOEXEC)) {
			p->fd[0] = p->fd[1] = -1;
			goto none;
		}
		if (host_sys.fstat(p->fd[0], &st)) {
			splice_pipe_close(p);
			goto none;
		}
		p->dev = st.st_dev;
		p->ino = st.st_ino;
		host_sys.fcntl(p->fd[1], F_SETPIPE_SZ, SPLICE_PIPE_SIZE);	/* else 64 KiB a round */
	}
	return p;
none:
	__atomic_store_n(&p->busy, 0, __ATOMIC_RELEASE);
	return NULL;
}

static void splice_pipe_put(struct splice_pipe *p, bool clean)
{
	if (!clean)
		splice_pipe_close(p);
	__atomic_store_n(&p->busy, 0, __ATOMIC_RELEASE);
}

void host_splice_fork_child(void)
{
	splice_pipe_close(&the_pipe);
	the_pipe.busy = 0;
}

/* handler-safe: copy up to len bytes of fd at off to out at out_off, inside
 * the host kernel (file pages into a pipe, the pipe into out), so that no
 * page of this process is touched.  Returns the bytes copied (less than len
 * only at end of fd), -errno if reading fd failed, or -EOPNOTSUPP if
 * splicing cannot do it (no pipe to be had, a file that cannot splice, out
 * refusing, or the pipe in use by another thread): the caller then reads
 * another way, from the start. */
ssize_t host_splice_full(int fd, off_t off, int out, off_t out_off, size_t len)
{
	struct splice_pipe *p = splice_pipe_get();
	int saved = errno;
	size_t done = 0;
	ssize_t r = 0;

	if (!p)
		return -EOPNOTSUPP;
	while (done < len) {
		off_t in_pos = off + (off_t)done;
		ssize_t n = host_sys.splice(fd, &in_pos, p->fd[1], NULL, len - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = errno == EINVAL || errno == ENOSYS ? -EOPNOTSUPP : -errno;
			break;
		}
		if (n == 0)
			break;
		/* drain it all: a pipe left holding bytes would hand them to
		 * the next copy */
		for (ssize_t left = n; left > 0;) {
			off_t out_pos = out_off + (off_t)(done + (size_t)(n - left));
			ssize_t w = host_sys.splice(p->fd[0], NULL, out, &out_pos, (size_t)left, 0);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				r = -EOPNOTSUPP;
				goto out;
			}
			left -= w;
		}
		done += (size_t)n;
	}
out:
	errno = saved;
	splice_pipe_put(p, r == 0);
	return r ? r : (ssize_t)done;
}

ssize_t host_write_full(int fd, const void *src, size_t len, off_t off)
{
	int saved = errno;
	size_t done = 0;

	while (done < len) {
		ssize_t n = host_sys.pwrite(fd, (const char *)src + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			errno = saved;
			return -e;
		}
		done += (size_t)n;
	}
	errno = saved;
	return (ssize_t)done;
}

/* handler-safe: write the cnt buffers of iov, in order, at off, with one
 * pwritev when the host takes it all, completing short writes and retrying
 * EINTR; iov is used up as the write goes.  Returns the bytes written (all
 * of them), or -errno with the bytes written before the failure in *done
 * (a write that makes no progress is -EIO). */
ssize_t host_pwritev_full(int fd, struct iovec *iov, int cnt, off_t off, size_t *done)
{
	int saved = errno;

	*done = 0;
	while (cnt && !iov->iov_len)
		iov++, cnt--;
	while (cnt) {
		ssize_t n = host_sys.pwritev(fd, iov, cnt, off + (off_t)*done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			errno = saved;
			return -e;
		}
		*done += (size_t)n;
		/* what is left: past the buffers written whole, into the next */
		size_t k = (size_t)n;
		for (; cnt && k >= iov->iov_len; iov++, cnt--)
			k -= iov->iov_len;
		if (cnt) {
			iov->iov_base = (char *)iov->iov_base + k;
			iov->iov_len -= k;
		}
	}
	errno = saved;
	return (ssize_t)*done;
}

int host_fdatasync(int fd)
{
	int saved = errno, r;

	do
		r = host_sys.fdatasync(fd) < 0 ? -errno : 0;
	while (r == -EINTR);
	errno = saved;
	return r;
}

int host_fstat(int fd, struct stat *st)
{
	return SYSCALL_RET(host_sys.fstat(fd, st));
}

int host_memfd(const char *name, int *fd)
{
	int saved = errno, r = host_sys.memfd_create(name, MFD_CLOEXEC);
	if (r < 0)
		r = -errno;
	else
		*fd = r, r = 0;
	errno = saved;
	return r;
}

int host_truncate(int fd, off_t len)
{
	int saved = errno, r;

	do
		r = host_sys.ftruncate(fd, len) < 0 ? -errno : 0;
	while (r == -EINTR);
	errno = saved;
	return r;
}

int host_punch_hole(int fd, off_t off, off_t len)
{
	int saved = errno, r;

	do
		r = host_sys.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) < 0 ? -errno : 0;
	while (r == -EINTR);
	errno = saved;
	return r;
}

/* A close-on-exec duplicate sharing the open file description; -errno. */
int host_dup(int fd)
{
	return SYSCALL_VAL(host_sys.fcntl(fd, F_DUPFD_CLOEXEC, 0));
}

/* A new open file description of the same file (write-back must not inherit
 * O_APPEND, which would make pwrite append). */
int host_reopen(int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return SYSCALL_VAL(host_sys.open(path, flags | O_CLOEXEC, 0));
}

/* F_GETFL, or -errno (-EBADF for a descriptor that is not open). */
int host_fd_flags(int fd)
{
	return SYSCALL_VAL(host_sys.fcntl(fd, F_GETFL, 0));
}

/* The name, in directory dir, of the file (dev, ino), written into name
 * (of len bytes).  Returns 0, or -ENOENT if no entry names it (or the
 * directory cannot be read).  Not in the handler: 4 KiB of stack. */
int host_find_in_dir(const char *dir, uint64_t dev, uint64_t ino, char *name, size_t len)
{
	char buf[4096] __attribute__((aligned(8)));
	int saved = errno, r = -ENOENT;
	int fd = SYSCALL_VAL(host_sys.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0));
	ssize_t n;

	while (fd >= 0 && r && (n = host_sys.getdents64(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			const struct dirent64 *e = (const struct dirent64 *)(buf + off);
			struct stat st;
			off += e->d_reclen;
			if ((uint64_t)e->d_ino != ino || strlen(e->d_name) >= len ||
			    host_sys.fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
			    (uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino)
				continue;
			strcpy(name, e->d_name);
			r = 0;
			break;
		}
	}
	if (fd >= 0)
		host_sys.close(fd);
	errno = saved;
	return r;
}

/* Is fd's file append-only (chattr +a)?  Such a file cannot be truncated. */
bool host_fd_append_only(int fd)
{
	struct statx sx;
	int saved = errno;
	bool r = host_sys.statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) == 0 &&
		 (sx.stx_attributes_mask & STATX_ATTR_APPEND) && (sx.stx_attributes & STATX_ATTR_APPEND);
	errno = saved;
	return r;
}

bool host_fd_noexec(int fd)
{
	struct statvfs sv;
	int saved = errno;
	bool r = host_sys.fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_NOEXEC);
	errno = saved;
	return r;
}

/* handler-safe: is fd's file kept in memory only (tmpfs, ramfs), where
 * the kernel never writes a page back, so the bytes a mapping stored past
 * end of file stay in its last page? */
bool host_fd_in_memory(int fd)
{
	struct statfs sf;
	int saved = errno;
	bool r = host_sys.fstatfs(fd, &sf) == 0 && (sf.f_type == 0x01021994 /* TMPFS_MAGIC */ ||
					   sf.f_type == (__fsword_t)0x858458f6 /* RAMFS_MAGIC */);
	errno = saved;
	return r;
}

/* The path a descriptor was opened with, as /proc/self/maps shows it. */
int host_fd_path(int fd, char *buf, size_t size)
{
	char link[64];
	int saved = errno;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = host_sys.readlink(link, buf, size - 1);
	int r = n < 0 ? -errno : 0;
	buf[n < 0 ? 0 : n] = '\0';
	errno = saved;
	return r;
}

void host_close(int fd)
{
	int saved = errno;
	host_sys.close(fd);
	errno = saved;
}

/* Copy to or from the program's memory the way the kernel does: -EFAULT for
 * an address that is not accessible, instead of a crash. */
int host_copy_user(void *dst, const void *src, size_t len, bool to_user)
{
	struct iovec local = { .iov_base = to_user ? (void *)src : dst, .iov_len = len };
	struct iovec remote = { .iov_base = to_user ? dst : (void *)src, .iov_len = len };
	int saved = errno;
	pid_t self = host_sys.getpid();
	ssize_t n = to_user ? host_sys.process_vm_writev(self, &local, 1, &remote, 1, 0)
			    : host_sys.process_vm_readv(self, &local, 1, &remote, 1, 0);
	int r = n == (ssize_t)len ? 0 : n < 0 ? -errno : -EFAULT;
	errno = saved;
	return r;
}
