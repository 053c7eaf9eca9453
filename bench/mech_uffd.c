/*
 * mech_uffd.c - a minimal userfaultfd pager, the mechanism UMap and similar
 * libraries use: the program's view is private anonymous memory registered
 * for missing-page faults; a handler thread reads each fault, preads the
 * page into a bounce buffer and answers with UFFDIO_COPY (atomic: the page
 * appears complete).  Anonymous memory is answered with a zero page.
 *
 * Where the handler thread runs decides its cost: waking a thread on another
 * CPU (which may have to leave an idle state, in a VM through the
 * hypervisor) costs far more than switching to it on the same CPU.  So there
 * are two variants, each pinning the faulting thread to one CPU:
 *   uffd-xcpu     the handler thread pinned to a second CPU (a pager with a
 *                 dedicated service thread on a multi-core machine);
 *   uffd-samecpu  the handler thread pinned to the same CPU.
 * The two-thread workload unpins its faulting threads (cell.c).
 *
 * Like the floors it does not track dirtiness: msync writes every page
 * faulted in.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

#define MAX_REGIONS 4

static int uffd = -1;
static struct region *regions[MAX_REGIONS];
static uint64_t uffd_faults;
static unsigned char bounce[PG] __attribute__((aligned(4096)));
static const unsigned char zero_page[PG] __attribute__((aligned(4096)));

static struct region *find_region(uintptr_t a)
{
	for (int i = 0; i < MAX_REGIONS; i++) {
		struct region *r = __atomic_load_n(&regions[i], __ATOMIC_ACQUIRE);
		if (r && a >= (uintptr_t)r->base && a < (uintptr_t)r->base + r->len)
			return r;
	}
	return NULL;
}

static void serve_locked(const struct uffd_msg *msg);

/* Held by the handler thread while it uses a region, and by uffd_unmap
 * while it takes one away: a late fault never sees a freed region. */
static pthread_mutex_t regions_lock = PTHREAD_MUTEX_INITIALIZER;

static void serve(const struct uffd_msg *msg)
{
	pthread_mutex_lock(&regions_lock);
	serve_locked(msg);
	pthread_mutex_unlock(&regions_lock);
}

static void serve_locked(const struct uffd_msg *msg)
{
	uintptr_t a = (uintptr_t)msg->arg.pagefault.address & ~(PG - 1);
	struct region *r = find_region(a);
	const void *src = zero_page;

	if (!r) {
		fprintf(stderr, "vmemu-bench: uffd: fault at %#lx outside every region\n", (unsigned long)a);
		_exit(3);
	}
	size_t off = a - (uintptr_t)r->base;
	if (r->backing != BK_ANON) {
		if (pread_full(r->fd, bounce, PG, (off_t)off)) {
			fprintf(stderr, "vmemu-bench: uffd: pread failed\n");
			_exit(3);
		}
		src = bounce;
	}
	struct uffdio_copy copy = { .dst = a, .src = (uintptr_t)src, .len = PG, .mode = 0 };
	while (ioctl(uffd, UFFDIO_COPY, &copy)) {
		if (errno == EEXIST)	/* another fault on the page got there first */
			break;
		if (errno != EAGAIN) {
			fprintf(stderr, "vmemu-bench: uffd: UFFDIO_COPY: %s\n", strerror(errno));
			_exit(3);
		}
		copy.copy = 0;
	}
	r->touched[off / PG] = 1;
	__atomic_fetch_add(&uffd_faults, 1, __ATOMIC_RELAXED);
}

static void *handler_thread(void *arg)
{
	struct uffd_msg msg[16];

	(void)arg;
	for (;;) {
		struct pollfd pfd = { .fd = uffd, .events = POLLIN };
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			break;
		ssize_t n = read(uffd, msg, sizeof(msg));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;
		for (size_t i = 0; i < (size_t)n / sizeof(msg[0]); i++)
			if (msg[i].event == UFFD_EVENT_PAGEFAULT)
				serve(&msg[i]);
	}
	return NULL;
}

/* Open userfaultfd.  UFFD_USER_MODE_ONLY (Linux 5.11) is allowed even with
 * vm.unprivileged_userfaultfd=0; older kernels need the sysctl or
 * CAP_SYS_PTRACE. */
static int uffd_open(char *why, size_t whylen)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);

	if (fd < 0 && errno == EINVAL)
		fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0)
		return fd;
	int err = errno;
	if (err == ENOSYS)
		snprintf(why, whylen, "userfaultfd is not available: this kernel was built without "
			 "CONFIG_USERFAULTFD (or seccomp forbids it)");
	else if (err == EPERM)
		snprintf(why, whylen, "userfaultfd is not permitted (EPERM): vm.unprivileged_userfaultfd=0 "
			 "and this process lacks CAP_SYS_PTRACE; allow it with `sysctl "
			 "vm.unprivileged_userfaultfd=1`, or run as root (or with CAP_SYS_PTRACE)");
	else
		snprintf(why, whylen, "userfaultfd() failed: %s", strerror(err));
	return -err;
}

/* The first two CPUs this process may run on: *a for the faulting thread,
 * *b for the handler (xcpu).  False if there is only one. */
static bool two_cpus(int *a, int *b)
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		return false;
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &set))
			*(n++ ? b : a) = c;
	return n == 2;
}

static int uffd_init(char *why, size_t whylen, bool same_cpu)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	pthread_attr_t attr;
	cpu_set_t set;
	pthread_t t;
	int fd, cpu_fault = 0, cpu_handler = 0;

	if (!two_cpus(&cpu_fault, &cpu_handler)) {
		if (!same_cpu) {
			snprintf(why, whylen, "needs two CPUs for the handler thread");
			return -EINVAL;
		}
	}
	if (same_cpu)
		cpu_handler = cpu_fault;

	if ((fd = uffd_open(why, whylen)) < 0)
		return fd;
	if (ioctl(fd, UFFDIO_API, &api)) {
		int err = errno;
		snprintf(why, whylen, "UFFDIO_API failed: %s", strerror(err));
		close(fd);
		return -err;
	}
	uffd = fd;
	CPU_ZERO(&set);
	CPU_SET(cpu_fault, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		snprintf(why, whylen, "sched_setaffinity: %s", strerror(errno));
		return -errno;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu_handler, &set);
	pthread_attr_init(&attr);
	pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	errno = pthread_create(&t, &attr, handler_thread, NULL);
	pthread_attr_destroy(&attr);
	if (errno) {
		snprintf(why, whylen, "pthread_create: %s", strerror(errno));
		return -errno;
	}
	pthread_detach(t);
	return 0;
}

static int uffd_xcpu_init(unsigned long budget_mb, char *why, size_t whylen)
{
	(void)budget_mb;
	return uffd_init(why, whylen, false);
}

static int uffd_samecpu_init(unsigned long budget_mb, char *why, size_t whylen)
{
	(void)budget_mb;
	return uffd_init(why, whylen, true);
}

static int uffd_map(struct region *r)
{
	if (!(r->touched = calloc(r->len / PG, 1)))
		return -ENOMEM;
	r->base = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (r->base == MAP_FAILED)
		return -errno;
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)r->base, .len = r->len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return -errno;
	for (int i = 0; i < MAX_REGIONS; i++) {
		struct region *expected = NULL;
		if (__atomic_compare_exchange_n(&regions[i], &expected, r, false, __ATOMIC_RELEASE,
						__ATOMIC_RELAXED))
			return 0;
	}
	return -EMFILE;
}

static int uffd_sync(struct region *r)
{
	return write_back_touched(r, r->base);
}

/* MADV_DONTNEED makes the pages missing again: their next touch faults. */
static int uffd_evict(struct region *r, size_t first, size_t n)
{
	if (madvise(r->base + first * PG, n * PG, MADV_DONTNEED))
		return -errno;
	memset(r->touched + first, 0, n);
	return 0;
}

static void uffd_unmap(struct region *r)
{
	struct uffdio_range range = { .start = (uintptr_t)r->base, .len = r->len };

	ioctl(uffd, UFFDIO_UNREGISTER, &range);
	pthread_mutex_lock(&regions_lock);	/* waits out a fault being served */
	for (int i = 0; i < MAX_REGIONS; i++)
		if (regions[i] == r)
			__atomic_store_n(&regions[i], NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&regions_lock);
	munmap(r->base, r->len);
	free(r->touched);
}

static uint64_t uffd_fault_count(void)
{
	return __atomic_load_n(&uffd_faults, __ATOMIC_RELAXED);
}

const struct mechanism mech_uffd_xcpu = {
	.name = "uffd-xcpu",
	.describe = "userfaultfd pager: a handler thread pinned to another CPU than the faulting "
		    "thread, pread + UFFDIO_COPY per 4 KiB fault",
	.init = uffd_xcpu_init,
	.map = uffd_map,
	.sync = uffd_sync,
	.evict = uffd_evict,
	.unmap = uffd_unmap,
	.faults = uffd_fault_count,
	.faults_source = "uffd page-fault events served",
	.slow = true,
};

const struct mechanism mech_uffd_samecpu = {
	.name = "uffd-samecpu",
	.describe = "the same pager with its handler thread pinned to the faulting thread's CPU",
	.init = uffd_samecpu_init,
	.map = uffd_map,
	.sync = uffd_sync,
	.evict = uffd_evict,
	.unmap = uffd_unmap,
	.faults = uffd_fault_count,
	.faults_source = "uffd page-fault events served",
};
