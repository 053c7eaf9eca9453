/*
 * pressure.c - what reclaim needs from the host: a swap file, access to the
 * process's own PROT_NONE pages, readahead hints, and the host's limits.
 *
 * /proc/self/mem reads and writes a page whatever its protection (the
 * kernel's FOLL_FORCE, as a debugger's), so a swapped-out private page can
 * be filled while it is still PROT_NONE and exposed only when complete.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "host/host.h"
#include "host/sysret.h"

/* A swap file: an unlinked temporary file in the directory path names, or
 * else path itself, created or truncated (*is_dir says which).  Returns 0
 * or -errno. */
int host_open_swap(const char *path, int *fd, bool *is_dir)
{
	int r = SYSCALL_VAL(host_sys.open(path, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600));

	*is_dir = r >= 0;
	if (r == -ENOTDIR || r == -ENOENT)	/* a file name: vmemu owns the file from now on */
		r = SYSCALL_VAL(host_sys.open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
	if (r < 0)
		return r;
	*fd = r;
	return 0;
}

int host_self_mem_open(int *fd)
{
	int r = SYSCALL_VAL(host_sys.open("/proc/self/mem", O_RDWR | O_CLOEXEC, 0));

	if (r < 0)
		return r;
	*fd = r;
	return 0;
}

/* handler-safe: len bytes between buf and this process's memory at addr,
 * whatever addr's protection.  Returns len or -errno. */
ssize_t host_self_mem_rw(int fd, void *buf, size_t len, unsigned long addr, bool write)
{
	if (write)
		return host_write_full(fd, buf, len, (off_t)addr);
	ssize_t n = host_read_full(fd, buf, len, (off_t)addr);
	return n >= 0 && (size_t)n < len ? -EIO : n;
}

/* handler-safe: ask the host to start reading [off, off + len) of fd into
 * its own cache, asynchronously.  A hint: failure changes nothing. */
void host_readahead(int fd, off_t off, off_t len)
{
	SYSCALL_RET(host_sys.fadvise(fd, off, len, POSIX_FADV_WILLNEED));
}

/* The buffer host_count_mappings reads /proc/self/maps into: static, so
 * that the fault handler, which may run on a small alternate signal stack,
 * does not carry 4 KiB on it.  One caller at a time has it; another (a
 * second thread, or a fault nested in a counting one) reads through a few
 * bytes of its own stack instead, which only takes more read calls. */
static char maps_buf[4096];
static int maps_buf_busy;

/* handler-safe: how many mappings the host has for this process (the number
 * vm.max_map_count limits), or -errno. */
int host_count_mappings(void)
{
	char small[128];
	int saved = errno;
	bool own = !__atomic_exchange_n(&maps_buf_busy, 1, __ATOMIC_ACQUIRE);
	char *buf = own ? maps_buf : small;
	size_t size = own ? sizeof(maps_buf) : sizeof(small);
	int fd = SYSCALL_VAL(host_sys.open("/proc/self/maps", O_RDONLY | O_CLOEXEC, 0)), lines = 0;

	if (fd < 0) {
		lines = fd;
		goto out;
	}
	for (;;) {
		ssize_t n = host_sys.read(fd, buf, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				lines = -errno;
			break;
		}
		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
	}
	host_sys.close(fd);
out:
	if (own)
		__atomic_store_n(&maps_buf_busy, 0, __ATOMIC_RELEASE);
	errno = saved;
	return lines;
}

/* vm.max_map_count, or the kernel's default if it cannot be read. */
unsigned long host_max_map_count(void)
{
	char buf[32];
	unsigned long v = 0;
	int saved = errno, fd = SYSCALL_VAL(host_sys.open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC, 0));
	ssize_t n = fd >= 0 ? host_sys.read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		host_sys.close(fd);
	errno = saved;
	for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		v = v * 10 + (unsigned long)(buf[i] - '0');
	return v ? v : 65530;
}

/* The host's physical memory, in pages (sysconf's _SC_PHYS_PAGES). */
unsigned long host_phys_pages(void)
{
	struct sysinfo si;
	int saved = errno, r = host_sys.sysinfo(&si);

	errno = saved;
	return r ? 0 : (unsigned long)si.totalram * si.mem_unit / (unsigned long)getpagesize();
}
