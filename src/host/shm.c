/*
 * shm.c - the "hardware" the shared page cache stands on: a segment in
 * /dev/shm that every process of a domain maps, the open-file-description
 * locks that say which processes are alive, shared futexes, and the
 * identity of a file.
 *
 * A segment is created unnamed (O_TMPFILE), set up by the caller, then
 * linked under its name, so no process ever opens half a header.  One that
 * is opened by name must be a regular file of ours, mode 0600.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/futex.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "host/host.h"
#include "host/sysret.h"

int host_shm_open(const char *path, int *fd)
{
	struct stat st;
	int r = SYSCALL_VAL(host_sys.open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0));

	if (r < 0)
		return r;
	if (host_fstat(r, &st) || !S_ISREG(st.st_mode) || st.st_uid != host_sys.geteuid() ||
	    (st.st_mode & 077)) {
		host_close(r);
		return -EPERM;	/* not ours: never trust it */
	}
	*fd = r;
	return 0;
}

int host_shm_create(const char *dir, size_t size, int *fd)
{
	int r = SYSCALL_VAL(host_sys.open(dir, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600));

	if (r < 0)
		return r;
	int e = SYSCALL_RET(host_sys.fchmod(r, 0600));	/* whatever the umask said */
	if (!e)
		e = host_truncate(r, (off_t)size);
	if (e) {
		host_close(r);
		return e;
	}
	*fd = r;
	return 0;
}

int host_shm_publish(int fd, const char *path)
{
	char self[64];

	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	return SYSCALL_RET(host_sys.linkat(AT_FDCWD, self, AT_FDCWD, path, AT_SYMLINK_FOLLOW));
}

int host_shm_unlink(const char *path)
{
	return SYSCALL_RET(host_sys.unlink(path));
}

/* handler-safe: give bytes [off, off + len) of the segment their memory
 * now (the file grows to cover them), so that a full /dev/shm is ENOSPC
 * here, not SIGBUS at the first touch. */
int host_shm_allocate(int fd, off_t off, off_t len)
{
	return SYSCALL_RET(host_sys.fallocate(fd, 0, off, len));
}

/* handler-safe: a second open file description of fd's file (its OFD locks
 * are its own). */
int host_shm_reopen(int fd, int *out)
{
	char self[64];
	int i = 0;

	/* snprintf is not async-signal-safe: build the path by hand */
	const char *prefix = "/proc/self/fd/";
	while (prefix[i]) {
		self[i] = prefix[i];
		i++;
	}
	char digits[16];
	int n = 0;
	do
		digits[n++] = (char)('0' + fd % 10);
	while ((fd /= 10) && n < 15);
	while (n)
		self[i++] = digits[--n];
	self[i] = '\0';
	int r = SYSCALL_VAL(host_sys.open(self, O_RDWR | O_CLOEXEC, 0));
	if (r < 0)
		return r;
	*out = r;
	return 0;
}

int host_map_segment(int fd, off_t off, size_t len, void **view)
{
	int saved = errno;
	void *p = host_sys.mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, off);
	int r = p == MAP_FAILED ? -errno : 0;

	errno = saved;
	if (!r)
		*view = p;
	return r;
}

/* handler-safe: map [off, off + len) of the segment at addr, replacing
 * whatever is there: the present pages of a VMA. */
int host_map_frames(unsigned long addr, size_t len, int fd, off_t off, int prot, bool shared)
{
	int saved = errno;
	int flags = MAP_FIXED | MAP_NORESERVE | (shared ? MAP_SHARED : MAP_PRIVATE);
	void *p = host_sys.mmap((void *)addr, len, prot, flags, fd, off);

	if (p == MAP_FAILED && errno == ENOMEM)	/* passing, as host_protect's */
		p = host_sys.mmap((void *)addr, len, prot, flags, fd, off);
	int r = p == MAP_FAILED ? -errno : 0;
	errno = saved;
	return r;
}

static int ofd(int fd, int cmd, short type, unsigned int byte, struct flock *fl)
{
	*fl = (struct flock){ .l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };
	return SYSCALL_RET(host_sys.fcntl(fd, cmd, (long)fl));
}

/* handler-safe: take the write lock on byte of fd's file for fd's open file
 * description; -EAGAIN if another description holds it. */
int host_ofd_trylock(int fd, unsigned int byte)
{
	struct flock fl;
	int r = ofd(fd, F_OFD_SETLK, F_WRLCK, byte, &fl);

	return r == -EACCES ? -EAGAIN : r;
}

/* handler-safe */
void host_ofd_unlock(int fd, unsigned int byte)
{
	struct flock fl;

	ofd(fd, F_OFD_SETLK, F_UNLCK, byte, &fl);
}

/* handler-safe: does another open file description hold byte?  An error
 * says yes: never declare a process dead on a doubt. */
bool host_ofd_locked(int fd, unsigned int byte)
{
	struct flock fl;

	return ofd(fd, F_OFD_GETLK, F_WRLCK, byte, &fl) || fl.l_type != F_UNLCK;
}

/* handler-safe: sleep while *word == val, at most timeout_ns (0: no limit).
 * A shared futex: the word is in memory other processes map.  Returns 0
 * (woken, or the word changed), -ETIMEDOUT or -EINTR. */
int host_futex_wait(uint32_t *word, uint32_t val, unsigned long timeout_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(timeout_ns / 1000000000UL),
			       .tv_nsec = (long)(timeout_ns % 1000000000UL) };
	int saved = errno;
	long r = host_sys.futex(word, FUTEX_WAIT, val, timeout_ns ? &ts : NULL);
	int e = r < 0 ? errno : 0;

	errno = saved;
	return e == EAGAIN ? 0 : -e;
}

/* handler-safe */
void host_futex_wake(uint32_t *word, int n)
{
	int saved = errno;

	host_sys.futex(word, FUTEX_WAKE, (uint32_t)n, NULL);
	errno = saved;
}

int host_file_identity(int fd, dev_t *dev, ino_t *ino, uint64_t *gen)
{
	struct statx sx;
	int version = 0, saved = errno;
	int r = SYSCALL_RET(host_sys.statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_BTIME, &sx));

	if (r)
		return r;
	*dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	*ino = sx.stx_ino;
	*gen = 0;
	if (host_sys.ioctl(fd, FS_IOC_GETVERSION, &version) == 0)
		*gen = (uint32_t)version;
	if (sx.stx_mask & STATX_BTIME)
		*gen ^= ((uint64_t)sx.stx_btime.tv_sec << 32) ^ (uint64_t)sx.stx_btime.tv_nsec ^
			((uint64_t)sx.stx_btime.tv_sec >> 32);
	errno = saved;
	return 0;
}

int host_open_file(const char *path, int flags)
{
	return SYSCALL_VAL(host_sys.open(path, flags | O_CLOEXEC, 0));
}
