/*
 * prog.c - an autoconf program (see configure.ac), built with the flags
 * configure chose: vmemu/compat.h forced in, and config.h, which defines
 * _GNU_SOURCE, included after it.  configure must have found every call,
 * and the calls must reach vmemu.  Exits 0 if so.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if !(HAVE_MMAP && HAVE_MUNMAP && HAVE_MPROTECT && HAVE_MSYNC && HAVE_MADVISE && HAVE_MINCORE && \
      HAVE_MREMAP && HAVE_SIGACTION && HAVE_SIGNAL && HAVE_BRK && HAVE_SBRK && HAVE_READ && \
      HAVE_WRITE && HAVE_PREAD && HAVE_PWRITE && HAVE_READV && HAVE_WRITEV && HAVE_PREADV && \
      HAVE_PWRITEV && HAVE_FTRUNCATE && HAVE_TRUNCATE && HAVE_FSYNC && HAVE_FDATASYNC && \
      HAVE_SEND && HAVE_RECV && HAVE_SENDTO && HAVE_RECVFROM && HAVE_SENDMSG && HAVE_RECVMSG)
#error "configure did not find every call under vmemu/compat.h"
#endif

static int fail(const char *what)
{
	perror(what);
	return 1;
}

int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	char path[] = "/tmp/vmemu-autoconf-XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0 || pwrite(fd, "vmemu", 5, 0) != 5)
		return fail("temporary file");
	unlink(path);
	/* vme_mmap: nothing present yet, so the host's read would be EFAULT */
	char *p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return fail("mmap");
	if (read(fd, p, 5) != 5)
		return fail("read into a fresh mapping (not through vmemu?)");
	char *q = mremap(p, pg, 16 * pg, MREMAP_MAYMOVE);
	if (q == MAP_FAILED || memcmp(q, "vmemu", 5) != 0)
		return fail("mremap");
	if (msync(q, pg, MS_SYNC) != 0 || munmap(q, 16 * pg) != 0)
		return fail("msync, munmap");
	return 0;
}
