/*
 * shared_edges.c - the edges of the shared page cache that a reviewer found
 * by reading: each test is a case where vmemu lost data, hung, or answered
 * differently from Linux, made deterministic where it was a race.
 *
 *  - a vme_write racing a write-back of the same page;
 *  - ftruncate refused after the cache was already cut;
 *  - fsync through a read-only descriptor;
 *  - MADV_REMOVE of shared anonymous memory seen by a forked process;
 *  - a child that ends with _exit keeping the domain's file alive;
 *  - domain names that are not file names;
 *  - a path that crosses into a page not present yet.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sys/mman.h>
#include <vmemu.h>

#include "host/host.h"
#include "mm/domain.h"
#include "testutil.h"

static void init_private(void)
{
	struct vme_config cfg = { .domain = "private" };
	cr_assert_eq(vme_init(&cfg), 0);
}

static void teardown(void)
{
	host_sys_reset();
}

/* A new temporary file of len bytes of c, opened read-write and unlinked. */
static int filled_file(size_t len, int c)
{
	char path[] = "/tmp/vmemu-edges-XXXXXX";
	int fd = mkstemp(path);
	char *buf = malloc(len);

	cr_assert(fd >= 0 && buf);
	memset(buf, c, len);
	cr_assert_eq(pwrite(fd, buf, len, 0), (ssize_t)len);
	free(buf);
	unlink(path);
	return fd;
}

/* --- vme_write against a write-back of the same page ----------------------- */

static char *race_map;
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static volatile int race_fired;

static void *msync_thread(void *arg)
{
	(void)arg;
	cr_assert_eq(vme_msync(race_map, PG, MS_SYNC), 0);
	return NULL;
}

/* The host's pwrite; right after vme_write's own (its bytes are 'Y'), a
 * write-back of the page runs to completion in another thread, before
 * vme_write has put the new bytes into the cached page. */
static ssize_t pwrite_then_writeback(int fd, const void *buf, size_t len, off_t off)
{
	ssize_t r = real_pwrite(fd, buf, len, off);

	if (len && ((const char *)buf)[0] == 'Y' && !race_fired) {
		race_fired = 1;
		pthread_t t;
		cr_assert_eq(pthread_create(&t, NULL, msync_thread, NULL), 0);
		cr_assert_eq(pthread_join(t, NULL), 0);
	}
	return r;
}

Test(shared_edges, a_write_back_between_vme_write_and_the_cache_does_not_undo_the_write, .init = init_private,
     .fini = teardown, .timeout = 30)
{
	int fd = filled_file(PG, 'a');
	race_map = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(race_map, MAP_FAILED);
	memset(race_map, 'X', PG);			/* dirty, not written back */
	char y[100];
	memset(y, 'Y', sizeof(y));
	real_pwrite = host_sys.pwrite;
	host_sys.pwrite = pwrite_then_writeback;
	cr_assert_eq(vme_pwrite(fd, y, sizeof(y), 200), (ssize_t)sizeof(y));
	host_sys.pwrite = real_pwrite;
	cr_assert(race_fired, "the write-back did not run inside the write");
	cr_assert_eq(race_map[200], 'Y');
	cr_assert_eq(race_map[299], 'Y');
	cr_assert_eq(race_map[300], 'X');
	/* The file, read past vmemu: the write-back's older 'X' did not stay
	 * over the 'Y' vme_write returned success for. */
	unsigned char *f = file_bytes(fd, 0, PG);
	cr_assert_eq(f[200], 'Y', "the write was undone in the file: %c", f[200]);
	cr_assert_eq(f[299], 'Y');
	free(f);
	cr_assert_eq(vme_msync(race_map, PG, MS_SYNC), 0);
	f = file_bytes(fd, 0, PG);
	cr_assert_eq(f[250], 'Y');
	cr_assert_eq(f[300], 'X');
	free(f);
}

/* --- ftruncate the host refuses ------------------------------------------- */

/* Linux checks the descriptor before it touches the page cache: a refused
 * truncation leaves every byte, the mapped ones included. */
Test(shared_edges, ftruncate_through_a_read_only_descriptor_is_einval_and_loses_nothing,
     .init = init_private, .fini = teardown, .timeout = 30)
{
	int fd = filled_file(4 * PG, 'a');
	char self[64];
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	int ro = open(self, O_RDONLY);
	cr_assert(ro >= 0);

	/* The kernel's answer, on a mapping of its own. */
	char *k = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	errno = 0;
	cr_assert_eq(ftruncate(ro, PG), -1);
	int kerr = errno;
	cr_assert_eq(k[3 * PG], 'a');
	munmap(k, 4 * PG);

	char *p = vme_mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(p, MAP_FAILED);
	p[3 * PG + 5] = 'D';				/* dirty, past the new end */
	errno = 0;
	cr_assert_eq(vme_ftruncate(ro, PG), -1);
	cr_assert_eq(errno, kerr, "errno %d, Linux %d", errno, kerr);
	cr_assert_eq(p[3 * PG + 5], 'D', "the refused truncation dropped a dirty page");
	cr_assert_eq(vme_msync(p, 4 * PG, MS_SYNC), 0);
	unsigned char *f = file_bytes(fd, 3 * PG, PG);
	cr_assert_eq(f[5], 'D');
	free(f);
	cr_assert_eq(file_size(fd), (off_t)(4 * PG));
	close(ro);
}

/* --- fsync through a read-only descriptor --------------------------------- */

/* fsync(2) needs no write access: it makes the file's dirty pages durable
 * whoever dirtied them.  Here a forked child dirties a page through a
 * writable mapping and waits; the parent, which holds the file only through
 * a read-only descriptor (and maps it or not), fsyncs. */
static void fsync_ro_case(bool parent_maps)
{
	int fd = filled_file(2 * PG, 'a');
	char self[64];
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	int ro = open(self, O_RDONLY);
	cr_assert(ro >= 0);
	char *mine = NULL;
	if (parent_maps) {
		mine = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, ro, 0);
		cr_assert_neq(mine, MAP_FAILED);
		cr_assert_eq(mine[PG], 'a');
	}
	int go[2], done[2];
	cr_assert_eq(pipe(go), 0);
	cr_assert_eq(pipe(done), 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		char *w = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (w == MAP_FAILED)
			_exit(2);
		w[PG + 7] = 'C';
		char c = 1;
		if (write(go[1], &c, 1) != 1 || read(done[0], &c, 1) != 1)
			_exit(3);
		_exit(0);
	}
	char c;
	cr_assert_eq(read(go[0], &c, 1), 1);
	unsigned char *f = file_bytes(fd, PG, PG);
	cr_assert_eq(f[7], 'a', "written back before the fsync: the test proves nothing");
	free(f);
	cr_assert_eq(vme_fsync(ro), 0, "%s", strerror(errno));
	f = file_bytes(fd, PG, PG);
	cr_assert_eq(f[7], 'C', "fsync left the child's store out of the file");
	free(f);
	cr_assert_eq(write(done[1], &c, 1), 1);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
	if (mine)
		cr_assert_eq(mine[PG + 7], 'C');
	close(ro);
}

Test(shared_edges, fsync_through_a_read_only_descriptor_writes_back_what_another_process_dirtied,
     .init = init_private, .fini = teardown, .timeout = 30)
{
	fsync_ro_case(false);
}

Test(shared_edges, fsync_through_a_read_only_mapping_writes_back_what_another_process_dirtied,
     .init = init_private, .fini = teardown, .timeout = 30)
{
	fsync_ro_case(true);
}

/* A write-back error is reported once, by the fsync that finds it, as
 * errseq reports it once to each open file; then the data still reaches
 * the file. */
static ssize_t (*pass_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t pwritev_eio(int fd, const struct iovec *iov, int cnt, off_t off)
{
	(void)fd, (void)iov, (void)cnt, (void)off;
	errno = EIO;
	return -1;
}

Test(shared_edges, a_write_back_error_is_reported_once_and_the_data_kept, .init = init_private,
     .fini = teardown, .timeout = 30)
{
	int fd = filled_file(PG, 'a');
	char *p = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	p[1] = 'E';
	pass_pwritev = host_sys.pwritev;
	host_sys.pwritev = pwritev_eio;
	errno = 0;
	cr_assert_eq(vme_fsync(fd), -1);
	cr_assert_eq(errno, EIO);
	host_sys.pwritev = pass_pwritev;
	cr_assert_eq(vme_fsync(fd), 0, "the old error again: %s", strerror(errno));
	cr_assert_eq(vme_fsync(fd), 0);
	unsigned char *f = file_bytes(fd, 0, 2);
	cr_assert_eq(f[1], 'E');
	free(f);
}

/* --- shared anonymous memory across fork ---------------------------------- */

/* MADV_REMOVE frees the pages of every mapping of the object.  The other
 * process cannot be reached at once (docs/limitations.md), but its next
 * fault on the object must drop what it still maps: then it reads zeros,
 * as under Linux. */
static void remove_across_fork(bool emulated)
{
	size_t len = 3 * PG;
	char *p = emulated ? vme_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)
			   : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	memset(p, 'S', 2 * PG);			/* the third page: not present anywhere */
	int go[2], mapped[2];
	cr_assert_eq(pipe(go), 0);
	cr_assert_eq(pipe(mapped), 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		char c = 1;
		/* mapped here, then removed there */
		if (p[0] != 'S' || write(mapped[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		volatile char touch = p[2 * PG];		/* a fault on the object */
		(void)touch;
		c = p[0];
		_exit(c == 0 ? 0 : c == 'S' ? 4 : 5);
	}
	char c = 1;
	cr_assert_eq(read(mapped[0], &c, 1), 1);
	cr_assert_eq((emulated ? vme_madvise : madvise)(p, PG, MADV_REMOVE), 0);
	cr_assert_eq(p[0], 0);
	cr_assert_eq(write(go[1], &c, 1), 1);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st), "child status %#x", st);
	cr_assert_eq(WEXITSTATUS(st), 0, "%s child: exit %d (4: still reads the removed page)",
		     emulated ? "vmemu" : "kernel", WEXITSTATUS(st));
}

Test(shared_edges, madv_remove_of_shared_anonymous_memory_reaches_a_forked_process, .init = init_private,
     .fini = teardown, .timeout = 30)
{
	remove_across_fork(false);
	remove_across_fork(true);
}

/* --- the domain's file ------------------------------------------------------ */

/* The last process to leave removes the domain's file, even when a child
 * ended with _exit (no atexit: its slot was never given back). */
Test(shared_edges, a_child_that_ends_with__exit_does_not_keep_the_domain_file, .fini = teardown,
     .timeout = 30)
{
	char dir[] = "/tmp/vmemu-edges-shm-XXXXXX";
	cr_assert(mkdtemp(dir));
	setenv("VMEMU_SHM_DIR", dir, 1);
	struct vme_config cfg = { .domain = "exitcase" };
	cr_assert_eq(vme_init(&cfg), 0);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/vmemu-%u-v%lu-exitcase", dir, (unsigned)geteuid(), DOMAIN_LAYOUT);
	cr_assert_eq(access(path, F_OK), 0, "the domain is not at %s", path);
	/* a file with a name: a dead process's dirty pages are written back
	 * by the path (one unlinked meanwhile cannot be, see limitations.md) */
	char fpath[PATH_MAX];
	snprintf(fpath, sizeof(fpath), "%s/file", dir);
	int fd = open(fpath, O_RDWR | O_CREAT, 0600);
	cr_assert(fd >= 0);
	cr_assert_eq(ftruncate(fd, PG), 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		char *w = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (w == MAP_FAILED)
			_exit(2);
		w[0] = 'z';
		_exit(0);	/* its dirty page is the parent's to write */
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert_eq(vme_shutdown(), 0);
	cr_assert_neq(access(path, F_OK), 0, "the domain's file outlived its last process");
	unsigned char *f = file_bytes(fd, 0, 1);
	cr_assert_eq(f[0], 'z', "the dead child's store was lost");
	free(f);
	unlink(fpath);
	rmdir(dir);
}

Test(shared_edges, a_domain_name_that_is_not_a_file_name_is_einval, .fini = teardown)
{
	const char *bad[] = { "a/b", ".", "..", "/abs" };	/* "" means unset: VMEMU_DOMAIN */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vme_config cfg = { .domain = bad[i] };
		errno = 0;
		cr_assert_eq(vme_init(&cfg), -1, "domain \"%s\" accepted", bad[i]);
		cr_assert_eq(errno, EINVAL, "domain \"%s\": %s", bad[i], strerror(errno));
	}
	char longname[300];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	struct vme_config cfg = { .domain = longname };
	cr_assert_eq(vme_init(&cfg), -1);
}

/* --- paths in emulated memory ------------------------------------------------ */

/* truncate(2)'s path lies across two pages of a private file mapping, the
 * second not present yet: the kernel would fault both in. */
Test(shared_edges, vme_truncate_reads_a_path_across_a_page_not_present, .init = init_private,
     .fini = teardown, .timeout = 30)
{
	char target[] = "/tmp/vmemu-edges-target-XXXXXX";
	int tfd = mkstemp(target);
	cr_assert(tfd >= 0);
	cr_assert_eq(ftruncate(tfd, 3 * PG), 0);
	size_t len = strlen(target) + 1, at = PG - len / 2;
	int fd = filled_file(2 * PG, 0);
	cr_assert_eq(pwrite(fd, target, len, (off_t)at), (ssize_t)len);
	char *p = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	cr_assert_neq(p, MAP_FAILED);
	cr_assert_eq(vme_madvise(p, 2 * PG, MADV_RANDOM), 0);	/* no readahead, no fault-around */
	cr_assert_eq(p[0], 0);					/* only the first page is present */
	cr_assert_eq(vme_truncate(p + at, PG), 0, "%s", strerror(errno));
	cr_assert_eq(file_size(tfd), (off_t)PG);
	unlink(target);
	close(tfd);
}

/* --- revalidation against a vmemu write in flight --------------------------- */

/* Another process's vme_mmap revalidates the cache against the file.  If
 * it looks while a vmemu write is between the host's write and the record
 * of the state it left, the new size or mtime must not pass for a change
 * made outside vmemu: that drops the clean pages, and every process that
 * maps them keeps reading the old frames.  (LMDB with two writers lost keys
 * this way, one run in ten.)  Here the write in flight is held at that very
 * point while a forked process maps the file. */
static int reval_go[2], reval_done[2];
static ssize_t (*reval_real_pwrite)(int, const void *, size_t, off_t);

static ssize_t pwrite_then_remap(int fd, const void *buf, size_t len, off_t off)
{
	ssize_t r = reval_real_pwrite(fd, buf, len, off);
	char c = 1;

	if (len && ((const char *)buf)[0] == 'Y') {
		cr_assert_eq(write(reval_go[1], &c, 1), 1);
		cr_assert_eq(read(reval_done[0], &c, 1), 1);
	}
	return r;
}

Test(shared_edges, a_vme_mmap_during_a_vme_write_does_not_drop_pages_others_map, .init = init_private,
     .fini = teardown, .timeout = 30)
{
	int fd = filled_file(2 * PG, 'a');
	char *p = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(p, MAP_FAILED);
	cr_assert_eq(p[0], 'a');			/* page 0 cached, mapped here */
	int go2[2], done2[2];
	cr_assert_eq(pipe(reval_go), 0);
	cr_assert_eq(pipe(reval_done), 0);
	cr_assert_eq(pipe(go2), 0);
	cr_assert_eq(pipe(done2), 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		char c = 1;
		if (read(reval_go[0], &c, 1) != 1)
			_exit(2);
		void *q = vme_mmap(NULL, 3 * PG, PROT_READ, MAP_SHARED, fd, 0);	/* revalidates */
		if (q == MAP_FAILED || write(reval_done[1], &c, 1) != 1 || read(go2[0], &c, 1) != 1)
			_exit(3);
		if (vme_pwrite(fd, "NEW", 3, 0) != 3 || write(done2[1], &c, 1) != 1)
			_exit(4);
		_exit(0);
	}
	reval_real_pwrite = host_sys.pwrite;
	host_sys.pwrite = pwrite_then_remap;
	/* past the end: the file's size changes, whatever the mtime's grain */
	cr_assert_eq(vme_pwrite(fd, "YYYY", 4, 2 * PG), 4);
	host_sys.pwrite = reval_real_pwrite;
	char c = 1;
	cr_assert_eq(write(go2[1], &c, 1), 1);
	cr_assert_eq(read(done2[0], &c, 1), 1);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
	cr_assert_eq(memcmp(p, "NEW", 3), 0, "this process still maps the frame revalidation dropped: %.3s", p);
}
