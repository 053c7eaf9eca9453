/* testutil.h - helpers shared by the vmemu test suites. */
#ifndef VMEMU_TESTUTIL_H
#define VMEMU_TESTUTIL_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096UL

/* The byte at offset i of a pattern file: differs page to page and within. */
static inline unsigned char pattern_byte(size_t i)
{
	return (unsigned char)((i * 131u) ^ (i >> 12) ^ 0x5a);
}

/* A new temporary file of size bytes filled with pattern_byte, opened with
 * flags (O_RDWR if 0).  Unlinked at once; returns the descriptor. */
static inline int pattern_file(size_t size, int flags)
{
	char path[] = "/tmp/vmemu-test-XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0, "mkstemp");
	unsigned char *buf = malloc(size ? size : 1);
	for (size_t i = 0; i < size; i++)
		buf[i] = pattern_byte(i);
	cr_assert_eq(pwrite(fd, buf, size, 0), (ssize_t)size);
	free(buf);
	if (flags) {
		int fd2 = open(path, flags);
		cr_assert(fd2 >= 0, "reopen");
		close(fd);
		fd = fd2;
	}
	unlink(path);
	return fd;
}

/* The file's bytes [off, off + len) into a fresh buffer. */
static inline unsigned char *file_bytes(int fd, off_t off, size_t len)
{
	unsigned char *buf = calloc(1, len ? len : 1);
	cr_assert_eq(pread(fd, buf, len, off), (ssize_t)len);
	return buf;
}

static inline off_t file_size(int fd)
{
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	return st.st_size;
}

/* Where the built program name is: $env if set, else next to the test
 * runner's directory (so a sanitizer build's tests use that build's
 * program), else build/name. */
static inline void built_program(const char *env, const char *name, char *out, size_t len)
{
	const char *e = getenv(env);
	char exe[PATH_MAX];
	ssize_t n;

	if (e && *e) {
		snprintf(out, len, "%s", e);
		return;
	}
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		snprintf(out, len, "%s/../%s", dirname(exe), name);
		if (access(out, X_OK) == 0)
			return;
	}
	snprintf(out, len, "build/%s", name);
}

/* Named temporary files a test made (track_file), removed by
 * remove_tracked_files() in the test's .fini even when the test failed
 * before it could unlink them. */
static char tracked_files[16][64];
static int nr_tracked_files;

static inline void track_file(const char *path)
{
	if (nr_tracked_files < 16)
		snprintf(tracked_files[nr_tracked_files++], sizeof(tracked_files[0]), "%s", path);
}

static inline void remove_tracked_files(void)
{
	char moved[1100];

	for (int i = 0; i < nr_tracked_files; i++) {
		unlink(tracked_files[i]);
		snprintf(moved, sizeof(moved), "%s.moved", tracked_files[i]);	/* renamed by a test */
		unlink(moved);
	}
	nr_tracked_files = 0;
}

/* Hex of n bytes (up to 4095), in one of four static buffers used in turn:
 * how the shared cache tests compare bytes. */
static inline const char *hexof(const void *b, size_t n)
{
	static char bufs[4][8192];
	static unsigned next;
	char *out = bufs[next++ % 4];
	const unsigned char *c = b;

	if (n > (sizeof(bufs[0]) - 1) / 2)
		n = (sizeof(bufs[0]) - 1) / 2;
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", c[i]);
	out[2 * n] = '\0';
	return out;
}

#ifdef VMEMU_HOST_H
/* The host's splice refusing, as it does for a file that cannot splice. */
static inline ssize_t splice_unsupported(int in, off_t *off_in, int out, off_t *off_out, size_t len,
					 unsigned int flags)
{
	(void)in, (void)off_in, (void)out, (void)off_out, (void)len, (void)flags;
	errno = EINVAL;
	return -1;
}

/* Fills then read files with pread only, so that a test's pread hook sees
 * every read of a file. */
static inline void fill_with_pread_only(void)
{
	host_sys.splice = splice_unsupported;
}
#endif

#endif
