/*
 * vme_support.c - helpers for the compat_ tests; see vme_support.h.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <vmemu.h>

#include "vme_support.h"

#define CALL(call, fn) { #call, (vme_fn)fn }
static const struct {
	const char *call;
	vme_fn fn;
} calls[] = {
	CALL(mmap, vme_mmap), CALL(mmap64, vme_mmap), CALL(munmap, vme_munmap),
	CALL(mprotect, vme_mprotect), CALL(msync, vme_msync), CALL(madvise, vme_madvise),
	CALL(mincore, vme_mincore), CALL(mremap, vme_mremap), CALL(mlock, vme_mlock),
	CALL(mlock2, vme_mlock2), CALL(munlock, vme_munlock), CALL(mlockall, vme_mlockall),
	CALL(munlockall, vme_munlockall), CALL(sigaction, vme_sigaction),
	CALL(signal, vme_signal), CALL(brk, vme_brk), CALL(sbrk, vme_sbrk),
	CALL(read, vme_read), CALL(write, vme_write), CALL(pread, vme_pread),
	CALL(pread64, vme_pread), CALL(pwrite, vme_pwrite), CALL(pwrite64, vme_pwrite),
	CALL(readv, vme_readv), CALL(writev, vme_writev), CALL(preadv, vme_preadv),
	CALL(preadv64, vme_preadv), CALL(pwritev, vme_pwritev), CALL(pwritev64, vme_pwritev),
	CALL(ftruncate, vme_ftruncate), CALL(ftruncate64, vme_ftruncate),
	CALL(truncate, vme_truncate), CALL(truncate64, vme_truncate), CALL(fsync, vme_fsync),
	CALL(fdatasync, vme_fdatasync), CALL(send, vme_send), CALL(recv, vme_recv),
	CALL(sendto, vme_sendto), CALL(recvfrom, vme_recvfrom), CALL(sendmsg, vme_sendmsg),
	CALL(recvmsg, vme_recvmsg),
};

vme_fn vme_symbol(const char *call)
{
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (!strcmp(calls[i].call, call))
			return calls[i].fn;
	return NULL;
}

void *emulated_pages(size_t n)
{
	void *p = vme_mmap(NULL, n * (size_t)getpagesize(), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(p, MAP_FAILED);
	return p;
}

const void *emulated_copy(const void *data, size_t len)
{
	char path[] = "/tmp/vmemu-compat-XXXXXX";
	int fd = mkstemp(path);

	cr_assert(fd >= 0, "mkstemp");
	unlink(path);
	cr_assert_eq(pwrite(fd, data, len, 0), (ssize_t)len);
	void *p = vme_mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	cr_assert_neq(p, MAP_FAILED);
	close(fd);
	return p;
}

int numbered_file(size_t size)
{
	char path[] = "/tmp/vmemu-compat-XXXXXX";
	int fd = mkstemp(path);
	unsigned char *buf = malloc(size);

	cr_assert(fd >= 0 && buf, "mkstemp");
	unlink(path);
	for (size_t i = 0; i < size; i++)
		buf[i] = (unsigned char)(i * 7);
	cr_assert_eq(pwrite(fd, buf, size, 0), (ssize_t)size);
	free(buf);
	return fd;
}
