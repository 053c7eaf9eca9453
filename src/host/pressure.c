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
#include <stdio.h>
#include <string.h>
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

/* handler-safe: how many mappings the host has for this process (the number
 * vm.max_map_count limits), or -errno. */
int host_count_mappings(void)
{
	char buf[4096];
	int fd = SYSCALL_VAL(host_sys.open("/proc/self/maps", O_RDONLY | O_CLOEXEC, 0)), lines = 0;

	if (fd < 0)
		return fd;
	for (;;) {
		ssize_t n = host_sys.read(fd, buf, sizeof(buf));
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
	return lines;
}

/* vm.max_map_count, or the kernel's default if it cannot be read. */
unsigned long host_max_map_count(void)
{
	unsigned long v = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");

	if (f) {
		if (fscanf(f, "%lu", &v) != 1 || !v)
			v = 65530;
		fclose(f);
	}
	return v;
}

unsigned long host_phys_pages(void)
{
	long n = sysconf(_SC_PHYS_PAGES);
	return n > 0 ? (unsigned long)n : 0;
}
