/*
 * rlimit.c - the host's resource limits that the emulated kernel applies to
 * its own address space: RLIMIT_DATA for the heap (check_data_rlimit),
 * RLIMIT_MEMLOCK and CAP_IPC_LOCK for memory locks (can_do_mlock).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "host/host.h"
#include "host/sysret.h"

/* A soft limit in bytes, read at each call as the kernel reads it;
 * ULONG_MAX if there is none. */
static unsigned long soft_limit(int resource)
{
	struct rlimit r;
	int saved = errno;

	if (host_sys.getrlimit(resource, &r) || r.rlim_cur == RLIM_INFINITY || r.rlim_cur > ULONG_MAX)
		r.rlim_cur = ULONG_MAX;
	errno = saved;
	return (unsigned long)r.rlim_cur;
}

unsigned long host_data_rlimit(void)
{
	return soft_limit(RLIMIT_DATA);
}

unsigned long host_memlock_rlimit(void)
{
	return soft_limit(RLIMIT_MEMLOCK);
}

/* capable(CAP_IPC_LOCK): the bit in the thread's effective set, asked at
 * each call (a thread may drop it at any time). */
bool host_capable_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	int saved = errno;
	bool r = host_sys.capget(&hdr, data) == 0 && (data[0].effective & (1U << CAP_IPC_LOCK));

	errno = saved;
	return r;
}

/* The start of the file at path, up to size - 1 bytes and a NUL, into
 * buf: false if nothing could be read. */
static bool read_head(const char *path, char *buf, size_t size)
{
	int saved = errno, fd = SYSCALL_VAL(host_sys.open(path, O_RDONLY | O_CLOEXEC, 0));
	ssize_t n = fd >= 0 ? host_sys.read(fd, buf, size - 1) : -1;

	if (fd >= 0)
		host_sys.close(fd);
	errno = saved;
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* The pages of every host mapping of the process: the first field of
 * /proc/self/statm.  0 if it cannot be read. */
unsigned long host_total_vm(void)
{
	char buf[128];

	return read_head("/proc/self/statm", buf, sizeof(buf)) ? strtoul(buf, NULL, 10) : 0;
}

/* The process's data segment as the kernel counts it against RLIMIT_DATA
 * in brk: end_data - start_data, fields 46 and 45 of /proc/self/stat.
 * 0 if they cannot be read. */
unsigned long host_data_segment(void)
{
	char buf[1024];
	unsigned long start = 0, end = 0;

	if (!read_head("/proc/self/stat", buf, sizeof(buf)))
		return 0;
	char *p = strrchr(buf, ')');	/* after the command name, field 3 */
	for (int field = 2; p && field < 45; field++)
		p = strchr(p + 1, ' ');
	if (p) {
		start = strtoul(p + 1, &p, 10);
		end = strtoul(p, NULL, 10);
	}
	return end > start ? end - start : 0;
}
