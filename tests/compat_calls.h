/*
 * compat_calls.h - every call vmemu/compat.h redirects must reach vmemu.
 *
 * Included by the compat_ programs, each compiled with vmemu/compat.h and
 * its own flags (see the Makefile); COMPAT_SUITE names the Criterion suite.
 * A program defines its feature macros before it includes this, as a real
 * program does at the top of its source.  C and C++.
 *
 * Two kinds of check:
 *  - each call, as this program binds it, is the library's vme_ function
 *    (taken in vme_support.c, compiled without compat.h): a call glibc gave
 *    another symbol (pread64 under _FILE_OFFSET_BITS=64) would not be;
 *  - the calls that take a buffer accept fresh emulated pages, which only
 *    vmemu faults in: the host's call fails on them with EFAULT.  This also
 *    covers _FORTIFY_SOURCE, whose inline read, pread, recv and recvfrom a
 *    function's address does not show.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vme_support.h"

#define CPG 4096

#define BOUND(call) { #call, (vme_fn)call }
static const struct {
	const char *call;
	vme_fn fn;
} compat_bound[] = {
	BOUND(mmap), BOUND(mmap64), BOUND(munmap), BOUND(mprotect), BOUND(msync),
	BOUND(madvise), BOUND(mincore), BOUND(mremap), BOUND(mlock), BOUND(mlock2), BOUND(munlock),
	BOUND(mlockall), BOUND(munlockall), BOUND(sigaction), BOUND(signal),
	BOUND(brk), BOUND(sbrk), BOUND(read), BOUND(write), BOUND(pread), BOUND(pread64),
	BOUND(pwrite), BOUND(pwrite64), BOUND(readv), BOUND(writev), BOUND(preadv),
	BOUND(preadv64), BOUND(pwritev), BOUND(pwritev64), BOUND(ftruncate),
	BOUND(ftruncate64), BOUND(truncate), BOUND(truncate64), BOUND(fsync),
	BOUND(fdatasync), BOUND(send), BOUND(recv), BOUND(sendto), BOUND(recvfrom),
	BOUND(sendmsg), BOUND(recvmsg),
};

Test(COMPAT_SUITE, every_call_binds_to_vmemu)
{
	for (size_t i = 0; i < sizeof(compat_bound) / sizeof(compat_bound[0]); i++) {
		vme_fn want = vme_symbol(compat_bound[i].call);
		cr_assert(want, "%s: no vme_ function", compat_bound[i].call);
		cr_expect(compat_bound[i].fn == want, "%s does not bind to vmemu's function",
			  compat_bound[i].call);
	}
}

/* Bytes [off, off + len) of a numbered_file are at buf. */
static void expect_numbered(const char *buf, size_t len, size_t off)
{
	for (size_t i = 0; i < len; i++)
		cr_assert_eq((unsigned char)buf[i], (unsigned char)((off + i) * 7),
			     "byte %zu of the %zu read from %zu", i, len, off);
}

/* Each call gets fresh pages: not present, so only vmemu can fill them. */
Test(COMPAT_SUITE, reads_fill_emulated_buffers)
{
	int fd = numbered_file(4 * CPG);
	char *b = (char *)emulated_pages(10);
	struct iovec v[2] = { { b + 2 * CPG, 100 }, { b + 3 * CPG, 50 } };
	struct iovec pv[2] = { { b + 4 * CPG, 100 }, { b + 5 * CPG, 50 } };
	struct iovec pv64[2] = { { b + 8 * CPG, 100 }, { b + 9 * CPG, 50 } };

	cr_assert_eq(read(fd, b, 100), 100);
	expect_numbered(b, 100, 0);
	cr_assert_eq(pread(fd, b + CPG, 100, 1000), 100);
	expect_numbered(b + CPG, 100, 1000);
	cr_assert_eq(readv(fd, v, 2), 150);
	expect_numbered(b + 2 * CPG, 100, 100);
	expect_numbered(b + 3 * CPG, 50, 200);
	cr_assert_eq(preadv(fd, pv, 2, 3000), 150);
	expect_numbered(b + 4 * CPG, 100, 3000);
	expect_numbered(b + 5 * CPG, 50, 3100);
	cr_assert_eq(pread64(fd, b + 6 * CPG, 100, 5000), 100);
	expect_numbered(b + 6 * CPG, 100, 5000);
	cr_assert_eq(preadv64(fd, pv64, 2, 7000), 150);
	expect_numbered(b + 8 * CPG, 100, 7000);
	expect_numbered(b + 9 * CPG, 50, 7100);
	close(fd);
}

Test(COMPAT_SUITE, writes_take_emulated_buffers)
{
	int fd = numbered_file(4 * CPG);
	char *b = (char *)emulated_pages(10);
	struct iovec v[2] = { { b + 2 * CPG, 100 }, { b + 3 * CPG, 50 } };
	struct iovec pv[2] = { { b + 4 * CPG, 100 }, { b + 5 * CPG, 50 } };
	struct iovec pv64[2] = { { b + 8 * CPG, 100 }, { b + 9 * CPG, 50 } };
	char check[150], zero[150] = { 0 };

	cr_assert_eq(write(fd, b, 100), 100);
	cr_assert_eq(pwrite(fd, b + CPG, 100, 1000), 100);
	cr_assert_eq(writev(fd, v, 2), 150);
	cr_assert_eq(pwritev(fd, pv, 2, 3000), 150);
	cr_assert_eq(pwrite64(fd, b + 6 * CPG, 100, 5000), 100);
	cr_assert_eq(pwritev64(fd, pv64, 2, 7000), 150);
	/* the anonymous pages read as zeros, and so do the ranges written */
	const size_t at[] = { 0, 1000, 100, 3000, 5000, 7000 };
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		cr_assert_eq(pread(fd, check, 100, (off_t)at[i]), 100);
		cr_assert_eq(memcmp(check, zero, 100), 0, "bytes at %zu", at[i]);
	}
	close(fd);
}

Test(COMPAT_SUITE, socket_calls_take_emulated_buffers)
{
	int sv[2];
	char *b = (char *)emulated_pages(6);
	struct iovec out = { b + 4 * CPG, 10 }, in = { b + 5 * CPG, 10 };
	struct msghdr mout, min;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	memset(&mout, 0, sizeof(mout));
	mout.msg_iov = &out;
	mout.msg_iovlen = 1;
	min = mout;
	min.msg_iov = &in;
	cr_assert_eq(send(sv[0], b, 10, 0), 10);
	cr_assert_eq(recv(sv[1], b + CPG, 10, 0), 10);
	cr_assert_eq(sendto(sv[0], b + 2 * CPG, 10, 0, NULL, 0), 10);
	cr_assert_eq(recvfrom(sv[1], b + 3 * CPG, 10, 0, NULL, NULL), 10);
	cr_assert_eq(sendmsg(sv[0], &mout, 0), 10);
	cr_assert_eq(recvmsg(sv[1], &min, 0), 10);
	close(sv[0]);
	close(sv[1]);
}

/* A fresh emulated buffer whose size _FORTIFY_SOURCE can see, so that a
 * fortified call with a length the compiler does not know takes glibc's
 * checked path (__read_chk, __pread_chk, __recv_chk, __recvfrom_chk). */
static void *sized_buffer(size_t size) __attribute__((alloc_size(1), noinline));
static void *sized_buffer(size_t size)
{
	(void)size;
	return emulated_pages(1);
}

Test(COMPAT_SUITE, checked_reads_reach_vmemu)
{
	volatile size_t n = 16;	/* unknown at compile time */
	int fd = numbered_file(CPG), sv[2];
	char *b;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	b = (char *)sized_buffer(64);
	cr_assert_eq(read(fd, b, n), 16);
	expect_numbered(b, 16, 0);
	b = (char *)sized_buffer(64);
	cr_assert_eq(pread(fd, b, n, 100), 16);
	expect_numbered(b, 16, 100);
	b = (char *)sized_buffer(64);
	cr_assert_eq(pread64(fd, b, n, 200), 16);
	expect_numbered(b, 16, 200);
	cr_assert_eq(send(sv[0], "0123456789abcdef", 16, 0), 16);
	cr_assert_eq(send(sv[0], "0123456789abcdef", 16, 0), 16);
	b = (char *)sized_buffer(64);
	cr_assert_eq(recv(sv[1], b, n, 0), 16);
	cr_assert_eq(memcmp(b, "0123456789abcdef", 16), 0);
	b = (char *)sized_buffer(64);
	cr_assert_eq(recvfrom(sv[1], b, n, 0, NULL, NULL), 16);
	cr_assert_eq(memcmp(b, "0123456789abcdef", 16), 0);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

/* The locks reach vmemu: the host's mlock would fail with ENOMEM on the
 * PROT_NONE placeholder of pages not present yet; vmemu's faults them in. */
Test(COMPAT_SUITE, locks_reach_vmemu)
{
	char *b = (char *)emulated_pages(4);
	unsigned char vec[4];

	cr_assert_eq(mlock(b, 2 * CPG), 0);
	cr_assert_eq(mincore(b, 4 * CPG, vec), 0);
	cr_assert(vec[0] & vec[1] & 1, "locked pages are resident");
	cr_assert_eq(vec[2] & 1, 0);
	cr_assert_eq(mlock2(b + 2 * CPG, CPG, MLOCK_ONFAULT), 0);
	cr_assert_eq(mincore(b, 4 * CPG, vec), 0);
	cr_assert_eq(vec[2] & 1, 0, "locked on fault: not yet");
	cr_assert_eq(munlock(b, 4 * CPG), 0);
	cr_assert_eq(mlockall(MCL_FUTURE), 0);
	cr_assert_eq(munlockall(), 0);
}

/* vme_truncate faults the path in: the path lives in a file mapping not
 * yet present.  ftruncate, fsync and fdatasync take no buffer; the first
 * test shows they bind to vmemu. */
Test(COMPAT_SUITE, truncate_reads_an_emulated_path)
{
	char path[] = "/tmp/vmemu-compat-XXXXXX";
	int fd = mkstemp(path);
	struct stat st;

	cr_assert(fd >= 0, "mkstemp");
	cr_assert_eq(ftruncate(fd, 3 * CPG), 0);
	cr_assert_eq(truncate((const char *)emulated_copy(path, sizeof(path)), 2 * CPG), 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, 2 * CPG);
	cr_assert_eq(truncate64((const char *)emulated_copy(path, sizeof(path)), CPG), 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, CPG);
	cr_assert_eq(fsync(fd), 0);
	cr_assert_eq(fdatasync(fd), 0);
	unlink(path);
	close(fd);
}
