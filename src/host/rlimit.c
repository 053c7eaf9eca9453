/*
 * rlimit.c - the host's resource limits that the emulated kernel applies to
 * its own address space: RLIMIT_DATA for the heap (check_data_rlimit).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "host/host.h"
#include "host/sysret.h"

/* RLIMIT_DATA's soft limit in bytes, read at each call as the kernel's brk
 * does; ULONG_MAX if there is none. */
unsigned long host_data_rlimit(void)
{
	struct rlimit r;
	int saved = errno;

	if (getrlimit(RLIMIT_DATA, &r) || r.rlim_cur == RLIM_INFINITY || r.rlim_cur > ULONG_MAX)
		r.rlim_cur = ULONG_MAX;
	errno = saved;
	return (unsigned long)r.rlim_cur;
}

/* The process's data segment as the kernel counts it against RLIMIT_DATA
 * in brk: end_data - start_data, fields 46 and 45 of /proc/self/stat.
 * 0 if they cannot be read. */
unsigned long host_data_segment(void)
{
	char buf[1024];
	unsigned long start = 0, end = 0;
	int saved = errno, fd = SYSCALL_VAL(host_sys.open("/proc/self/stat", O_RDONLY | O_CLOEXEC, 0));
	ssize_t n = fd >= 0 ? host_sys.read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		host_sys.close(fd);
	errno = saved;
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');	/* after the command name, field 3 */
	for (int field = 2; p && field < 45; field++)
		p = strchr(p + 1, ' ');
	if (p) {
		start = strtoul(p + 1, &p, 10);
		end = strtoul(p, NULL, 10);
	}
	return end > start ? end - start : 0;
}
