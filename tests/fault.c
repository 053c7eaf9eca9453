/*
 * fault.c - the fault path through real faults, for each kind of mapping.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <vmemu.h>

#include "testutil.h"

static struct vme_stats stats(void)
{
	struct vme_stats s;
	cr_assert_eq(vme_stats(&s), 0);
	return s;
}

/* --- private anonymous --- */

Test(anon_private, zero_filled_on_demand_and_private_to_each_mapping)
{
	unsigned char *a = vme_mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *b = vme_mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(a, MAP_FAILED);
	cr_assert_neq(b, MAP_FAILED);
	struct vme_stats before = stats();
	for (size_t i = 0; i < 4 * PG; i += 97)
		cr_assert_eq(a[i], 0);
	a[PG + 1] = 0xab;
	cr_assert_eq(a[PG + 1], 0xab);
	/* A first touch maps the fresh pages of its aligned 16-page block with
	 * it (fault-around): the four pages lie in one block or two (and the
	 * host may have put b next to a, in the same anonymous VMA, whose
	 * pages in the block are mapped too). */
	unsigned long faults = stats().anon_fault - before.anon_fault;
	cr_assert(faults == 1 || faults == 2, "%lu do_anonymous_page for 4 pages", faults);
	cr_assert_geq(faults + stats().pgfaultaround - before.pgfaultaround, 4, "each page mapped");
	cr_assert_eq(b[PG + 1], 0, "another mapping is another object");
}

/* Anonymous fault-around maps the untouched pages of the block, but they
 * are resident only once accessed, as on Linux: mincore, after a store to
 * one page and a load from another, says the same for both worlds. */
static void touch_two_and_look(void *(*map)(void *, size_t, int, int, int, off_t),
			       int (*core)(void *, size_t, unsigned char *), unsigned char *vec)
{
	unsigned char *a = map(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(a, MAP_FAILED);
	a[3 * PG] = 1;
	cr_assert_eq(((volatile unsigned char *)a)[9 * PG], 0);
	cr_assert_eq(core(a, 16 * PG, vec), 0);
}

Test(anon_private, pages_mapped_around_a_touch_are_resident_only_once_accessed)
{
	unsigned char host[16], emu[16];
	struct vme_stats before = stats();

	touch_two_and_look(mmap, mincore, host);
	touch_two_and_look(vme_mmap, vme_mincore, emu);
	cr_assert_gt(stats().pgfaultaround, before.pgfaultaround, "the touch mapped its neighbours");
	for (int i = 0; i < 16; i++)
		cr_assert_eq(emu[i] & 1, host[i] & 1, "page %d: vmemu %d, Linux %d", i, emu[i] & 1, host[i] & 1);
}

Test(anon_private, nothing_is_read_at_mmap_time)
{
	struct vme_stats before = stats();
	unsigned char *a = vme_mmap(NULL, 1UL << 30, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(a, MAP_FAILED);
	cr_assert_eq(stats().pgfault, before.pgfault);
	unsigned char vec[4];
	cr_assert_eq(vme_mincore(a, 4 * PG, vec), 0);
	cr_assert_eq(vec[0] | vec[1] | vec[2] | vec[3], 0, "untouched pages are not resident");
	a[2 * PG] = 1;
	cr_assert_eq(vme_mincore(a, 4 * PG, vec), 0);
	cr_assert_eq(vec[2], 1);
	cr_assert_eq(vec[0] | vec[1] | vec[3], 0);
}

Test(anon_private, fork_child_gets_a_private_copy)
{
	unsigned char *a = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	a[0] = 1;
	pid_t pid = fork();
	if (pid == 0) {
		a[0] = 2;
		a[PG] = 3;	/* first touch in the child */
		_exit(a[0] == 2 && a[PG] == 3 ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(a[0], 1, "the child's write stays in the child");
	cr_assert_eq(a[PG], 0);
}

/* --- shared anonymous --- */

Test(anon_shared, shared_with_a_forked_child_both_ways)
{
	volatile unsigned char *s = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq((void *)s, MAP_FAILED);
	s[0] = 1;
	pid_t pid = fork();
	if (pid == 0) {
		int ok = s[0] == 1;
		s[PG] = 7;	/* untouched before fork */
		while (s[1] != 9)
			;
		_exit(ok ? 0 : 1);
	}
	while (s[PG] != 7)
		;
	s[1] = 9;
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(anon_shared, dontneed_keeps_the_data)
{
	unsigned char *s = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	s[10] = 5;
	cr_assert_eq(vme_madvise(s, 2 * PG, MADV_DONTNEED), 0);
	cr_assert_eq(s[10], 5);
}

/* --- shared file --- */

Test(file_shared, reads_the_file_lazily)
{
	int fd = pattern_file(8 * PG, 0);
	struct vme_stats before = stats();
	unsigned char *p = vme_mmap(NULL, 8 * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(p, MAP_FAILED);
	cr_assert_eq(stats().pgpgin, before.pgpgin, "mmap reads nothing");
	cr_assert_eq(vme_madvise(p, 8 * PG, MADV_RANDOM), 0);	/* no readahead */
	cr_assert_eq(p[3 * PG + 5], pattern_byte(3 * PG + 5));
	cr_assert_eq(stats().pgpgin - before.pgpgin, 1, "one page read for one touch");
	for (size_t i = 0; i < 8 * PG; i++)
		cr_assert_eq(p[i], pattern_byte(i), "byte %zu", i);
}

Test(file_shared, two_mappings_share_one_frame)
{
	int fd = pattern_file(4 * PG, 0);
	volatile unsigned char *a = vme_mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	volatile unsigned char *b = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 2 * PG);
	cr_assert_eq(b[0], pattern_byte(2 * PG));
	a[2 * PG] = 0x11;
	cr_assert_eq(b[0], 0x11, "a write through one mapping is seen through the other at once");
	b[PG + 3] = 0x22;
	cr_assert_eq(a[3 * PG + 3], 0x22);
}

Test(file_shared, msync_writes_back_exactly_the_dirty_pages)
{
	int fd = pattern_file(4 * PG, 0);
	unsigned char *p = vme_mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	for (size_t i = 0; i < 4; i++)	/* all four present and clean */
		cr_assert_eq(((volatile unsigned char *)p)[i * PG], pattern_byte(i * PG));
	struct vme_stats before = stats();
	p[PG + 7] = 0xee;
	cr_assert_eq(stats().wp_fault - before.wp_fault, 1, "the first write to a clean page is seen");
	p[PG + 8] = 0xef;
	cr_assert_eq(stats().wp_fault - before.wp_fault, 1, "later writes run at hardware speed");
	/* The file changes underneath a clean cached page: write-back must not
	 * overwrite it, since that page was never written through the mapping. */
	unsigned char other = 0x77;
	cr_assert_eq(pwrite(fd, &other, 1, 3 * PG), 1);
	cr_assert_eq(vme_msync(p, 4 * PG, MS_SYNC), 0);
	cr_assert_eq(stats().pgpgout - before.pgpgout, 1, "one dirty page, one page written");
	unsigned char *f = file_bytes(fd, 0, 4 * PG);
	cr_assert_eq(f[PG + 7], 0xee);
	cr_assert_eq(f[PG + 8], 0xef);
	cr_assert_eq(f[3 * PG], 0x77, "a clean page is not written back");
	free(f);
	/* Clean again: a new write is seen again and reaches the file. */
	p[PG + 9] = 0xaa;
	cr_assert_eq(stats().wp_fault - before.wp_fault, 2);
	cr_assert_eq(vme_msync(p, 4 * PG, MS_ASYNC), 0);
	f = file_bytes(fd, PG + 9, 1);
	cr_assert_neq(f[0], 0xaa, "MS_ASYNC writes nothing back, as on Linux");
	free(f);
	cr_assert_eq(vme_msync(p, 4 * PG, MS_SYNC), 0);
	f = file_bytes(fd, PG + 9, 1);
	cr_assert_eq(f[0], 0xaa);
	free(f);
}

Test(file_shared, munmap_writes_back_and_read_finds_the_bytes)
{
	int fd = pattern_file(3 * PG, 0);
	unsigned char *p = vme_mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	memset(p + PG, 0x3c, PG);
	cr_assert_eq(vme_munmap(p, 3 * PG), 0);
	unsigned char *f = file_bytes(fd, 0, 3 * PG);
	for (size_t i = 0; i < 3 * PG; i++)
		cr_assert_eq(f[i], i / PG == 1 ? 0x3c : pattern_byte(i), "byte %zu", i);
	free(f);
}

Test(file_shared, shutdown_writes_back)
{
	int fd = pattern_file(2 * PG, 0);
	unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	p[5] = 0x99;
	cr_assert_eq(vme_shutdown(), 0);
	unsigned char *f = file_bytes(fd, 5, 1);
	cr_assert_eq(f[0], 0x99);
	free(f);
}

Test(file_shared, past_eof_tail_is_zero_and_stores_never_reach_the_file)
{
	int fd = pattern_file(PG + 100, 0);
	unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_eq(p[PG + 99], pattern_byte(PG + 99));
	for (size_t i = PG + 100; i < 2 * PG; i++)
		cr_assert_eq(p[i], 0, "tail byte %zu", i);
	p[PG + 50] = 1;
	p[PG + 200] = 2;	/* past EOF, inside the last page */
	cr_assert_eq(vme_munmap(p, 2 * PG), 0);
	cr_assert_eq(file_size(fd), (off_t)(PG + 100), "the file did not grow");
	unsigned char *f = file_bytes(fd, PG + 50, 1);
	cr_assert_eq(f[0], 1);
	free(f);
}

Test(file_shared, fork_child_writes_reach_the_parent)
{
	int fd = pattern_file(2 * PG, 0);
	volatile unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	(void)p[0];
	pid_t pid = fork();
	if (pid == 0) {
		p[1] = 0x42;
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(p[1], 0x42);
}

Test(file_shared, dontneed_keeps_the_data)
{
	int fd = pattern_file(2 * PG, 0);
	unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	p[3] = 0x5e;
	cr_assert_eq(vme_madvise(p, 2 * PG, MADV_DONTNEED), 0);
	cr_assert_eq(p[3], 0x5e);
}

/* --- private file --- */

Test(file_private, write_copies_and_nothing_reaches_the_file)
{
	int fd = pattern_file(2 * PG, 0);
	unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	struct vme_stats before = stats();
	cr_assert_eq(p[0], pattern_byte(0));
	p[0] = 0xcd;
	cr_assert_eq(stats().wp_copy - before.wp_copy, 1, "the first write copies the page");
	cr_assert_eq(vme_msync(p, 2 * PG, MS_SYNC), 0);
	cr_assert_eq(vme_munmap(p, 2 * PG), 0);
	unsigned char *f = file_bytes(fd, 0, 1);
	cr_assert_eq(f[0], pattern_byte(0));
	free(f);
}

Test(file_private, sees_shared_writes_until_it_copies)
{
	int fd = pattern_file(2 * PG, 0);
	volatile unsigned char *s = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	volatile unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	cr_assert_eq(p[0], pattern_byte(0));
	s[0] = 1;
	cr_assert_eq(p[0], 1, "not yet copied: the page cache shows through");
	p[1] = 2;			/* copy */
	s[0] = 3;
	cr_assert_eq(p[0], 1, "copied: later shared writes are not seen");
	cr_assert_eq(p[1], 2);
	cr_assert_eq(s[1], pattern_byte(1), "the private write is not seen by the shared mapping");
}

Test(file_private, populate_write_copies_at_once)
{
	int fd = pattern_file(PG, 0);
	volatile unsigned char *s = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	volatile unsigned char *p = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	struct vme_stats before = stats();
	cr_assert_eq(vme_madvise((void *)p, PG, MADV_POPULATE_WRITE), 0);
	cr_assert_eq(stats().cow_fault - before.cow_fault, 1, "do_cow_fault");
	s[0] = 9;
	cr_assert_eq(p[0], pattern_byte(0), "the copy was made by populate, before the shared write");
}

Test(file_private, dontneed_brings_back_the_file)
{
	int fd = pattern_file(2 * PG, 0);
	unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	p[PG] = 0;
	cr_assert_eq(vme_madvise(p, 2 * PG, MADV_DONTNEED), 0);
	cr_assert_eq(p[PG], pattern_byte(PG));
}

Test(anon_private, dontneed_brings_back_zeros)
{
	unsigned char *a = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	a[PG] = 4;
	cr_assert_eq(vme_madvise(a, 2 * PG, MADV_DONTNEED), 0);
	cr_assert_eq(a[PG], 0);
}

/* --- mmap variants --- */

Test(mmap, map_fixed_replaces_emulated_mapping)
{
	int fd = pattern_file(2 * PG, 0);
	unsigned char *a = vme_mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	a[PG] = 1;
	unsigned char *f = vme_mmap(a + PG, 2 * PG, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
	cr_assert_eq(f, a + PG);
	cr_assert_eq(f[0], pattern_byte(0));
	cr_assert_eq(a[0], 0);
	cr_assert_eq(a[3 * PG], 0);
	cr_assert_eq(stats().nr_vmas, 3, "anon | file | anon");
	errno = 0;
	cr_assert_eq(vme_mmap(a, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0), MAP_FAILED);
	cr_assert_eq(errno, EEXIST);
}

Test(mmap, unaligned_length_and_hint)
{
	/* A hint known to be free: where a host mapping just was (once vmemu
	 * has made its own first mappings). */
	vme_init(NULL);
	void *hint = mmap(NULL, 64 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	hint = (char *)hint + 32 * PG;
	munmap((char *)hint - 32 * PG, 64 * PG);
	unsigned char *a = vme_mmap(hint, 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(a, MAP_FAILED);
	cr_assert_eq((void *)a, hint, "a free hint is used");
	a[PG - 1] = 1;		/* the whole page is mapped */
	cr_assert_eq(vme_munmap(a, 10), 0);
}

Test(mmap, populate_prefaults_so_read_syscall_works)
{
	int fd = pattern_file(2 * PG, 0);
	unsigned char *buf = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	errno = 0;
	cr_assert_eq(pread(fd, buf, 2 * PG, 0), -1, "the kernel raises no signal inside read()");
	cr_assert_eq(errno, EFAULT);
	cr_assert_eq(vme_madvise(buf, 2 * PG, MADV_POPULATE_WRITE), 0);
	cr_assert_eq(pread(fd, buf, 2 * PG, 0), (ssize_t)(2 * PG));
	cr_assert_eq(buf[PG + 1], pattern_byte(PG + 1));
	unsigned char *m = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
	int pipefd[2];
	cr_assert_eq(pipe(pipefd), 0);
	cr_assert_eq(write(pipefd[1], m, PG), (ssize_t)PG, "MAP_POPULATE made the pages present");
}

Test(mprotect, splits_and_merges_again)
{
	unsigned char *a = vme_mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	a[PG] = 1;
	unsigned long base = stats().nr_vmas;
	cr_assert_eq(vme_mprotect(a + PG, PG, PROT_READ), 0);
	cr_assert_eq(stats().nr_vmas, base + 2);
	cr_assert_eq(a[PG], 1, "still readable");
	cr_assert_eq(vme_mprotect(a + PG, PG, PROT_READ | PROT_WRITE), 0);
	cr_assert_eq(stats().nr_vmas, base, "vma_merge joins them again");
	a[PG] = 2;
	cr_assert_eq(a[PG], 2);
}

Test(mprotect, passes_through_for_host_memory)
{
	unsigned char *h = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_eq(munmap(h + 2 * PG, 2 * PG), 0);	/* room for the emulated half */
	unsigned char *e = vme_mmap(h + 2 * PG, 2 * PG, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	cr_assert_eq(e, h + 2 * PG);
	h[0] = 1;
	e[0] = 2;
	cr_assert_eq(vme_mprotect(h, 4 * PG, PROT_READ), 0, "one call over host and emulated parts");
	unsigned char vec[4];
	cr_assert_eq(vme_mincore(h, 4 * PG, vec), 0);
	cr_assert_eq(vec[0], 1);
	cr_assert_eq(vec[2], 1);
	cr_assert_eq(vme_mprotect(h, 4 * PG, PROT_READ | PROT_WRITE), 0);
	h[1] = 3;
	e[1] = 4;
	cr_assert_eq(vme_munmap(h, 4 * PG), 0);
	errno = 0;
	cr_assert_eq(vme_mincore(h, PG, vec), -1);
	cr_assert_eq(errno, ENOMEM, "both parts are gone");
}

Test(maps, dump_shows_each_vma_in_proc_maps_format)
{
	int fd = pattern_file(PG, 0);
	char *a = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *f = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(vme_dump_maps(p[1]), 0);
	close(p[1]);
	char buf[4096] = { 0 };
	cr_assert_gt(read(p[0], buf, sizeof(buf) - 1), 0);
	char want[128];
	snprintf(want, sizeof(want), "%08lx-%08lx r--p 00000000 00:00 0", (unsigned long)a, (unsigned long)a + 2 * PG);
	cr_assert_not_null(strstr(buf, want), "%s in\n%s", want, buf);
	snprintf(want, sizeof(want), "%08lx-%08lx rw-s 00000000 ", (unsigned long)f, (unsigned long)f + PG);
	cr_assert_not_null(strstr(buf, want), "%s in\n%s", want, buf);
	cr_assert_not_null(strstr(buf, "/tmp/vmemu-test-"), "the file's path");
}

Test(file_private, reading_a_write_only_mapping_does_not_copy)
{
	int fd = pattern_file(PG, 0);
	volatile unsigned char *w = vme_mmap(NULL, PG, PROT_WRITE, MAP_PRIVATE, fd, 0);
	volatile unsigned char *s = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	struct vme_stats before = stats();
	cr_assert_eq(w[0], pattern_byte(0), "PROT_WRITE implies PROT_READ on x86");
	cr_assert_eq(stats().wp_copy, before.wp_copy, "a read is not a write");
	s[0] = 0x42;
	cr_assert_eq(w[0], 0x42, "still the page cache page");
}

Test(file_shared, exit_writes_back_dirty_pages)
{
	int fd = pattern_file(2 * PG, 0);
	pid_t pid = fork();
	if (pid == 0) {
		unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		p[PG + 1] = 0xb7;
		exit(0);	/* no msync, no munmap: as on Linux, the bytes reach the file */
	}
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	unsigned char *f = file_bytes(fd, PG + 1, 1);
	cr_assert_eq(f[0], 0xb7);
	free(f);
}

Test(file_shared, pages_a_forked_child_dirtied_are_written_back_with_the_parents)
{
	int fd = pattern_file(3 * PG, 0);
	unsigned char *p = vme_mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	p[2 * PG] = 0xa1;		/* dirty in the parent */
	pid_t pid = fork();
	if (pid == 0) {
		p[0] = 0xc1;		/* dirty in the child */
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	cr_assert_eq(vme_munmap(p, 3 * PG), 0);
	unsigned char *f = file_bytes(fd, 0, 3 * PG);
	cr_assert_eq(f[0], 0xc1, "the child's write");
	cr_assert_eq(f[2 * PG], 0xa1, "the parent's write");
	free(f);
}

Test(mmap, populate_refuses_what_the_protection_forbids)
{
	char *none = vme_mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *ro = vme_mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	errno = 0;
	cr_assert_eq(vme_madvise(none, PG, MADV_POPULATE_READ), -1);
	cr_assert_eq(errno, EINVAL, "as the host: check_vma_flags");
	errno = 0;
	cr_assert_eq(vme_madvise(ro, PG, MADV_POPULATE_WRITE), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(vme_madvise(ro, PG, MADV_POPULATE_READ), 0);
	int fd = pattern_file(PG, 0);
	char *eof = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	errno = 0;
	cr_assert_eq(vme_madvise(eof, 2 * PG, MADV_POPULATE_READ), -1);
	cr_assert_eq(errno, EFAULT, "the page past EOF would raise SIGBUS");
}

Test(file_shared, madv_remove_punches_a_hole_like_linux)
{
	int fd = pattern_file(4 * PG, 0), hfd = pattern_file(4 * PG, 0);
	unsigned char *v = vme_mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	unsigned char *h = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, hfd, 0);
	unsigned char *other = vme_mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, fd, 0);
	v[PG] = h[PG] = 0x33;	/* dirty, then removed */
	cr_assert_eq(other[PG], 0x33);
	cr_assert_eq(vme_madvise(v + PG, 2 * PG, MADV_REMOVE), madvise(h + PG, 2 * PG, MADV_REMOVE));
	for (size_t i = 0; i < 4 * PG; i++) {
		cr_assert_eq(v[i], h[i], "byte %zu", i);
		cr_assert_eq(other[i], h[i], "byte %zu through the other mapping", i);
	}
	cr_assert_eq(vme_munmap(v, 4 * PG), 0);
	munmap(h, 4 * PG);
	unsigned char *fv = file_bytes(fd, 0, 4 * PG), *fh = file_bytes(hfd, 0, 4 * PG);
	cr_assert_eq(memcmp(fv, fh, 4 * PG), 0, "the files match");
	cr_assert_eq(fv[PG], 0, "a hole reads as zeros");
	free(fv);
	free(fh);
	int ro = open("/proc/self/fd/0", O_RDONLY);	/* any read-only descriptor of a file */
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	close(ro);
	ro = open(path, O_RDONLY);
	unsigned char *never_writable = vme_mmap(NULL, PG, PROT_READ, MAP_SHARED, ro, 0);
	errno = 0;
	cr_assert_eq(vme_madvise(never_writable, PG, MADV_REMOVE), -1);
	cr_assert_eq(errno, EACCES, "a shared mapping that can never be written");
	unsigned char *priv = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	errno = 0;
	cr_assert_eq(vme_madvise(priv, PG, MADV_REMOVE), -1);
	cr_assert_eq(errno, EACCES, "a private file mapping");
	cr_assert_eq(vme_madvise(other, PG, MADV_REMOVE), 0, "read-only now, but may be written");
}

Test(file_shared, first_write_to_a_missing_page_is_one_shared_fault)
{
	int fd = pattern_file(2 * PG, 0);
	unsigned char *p = vme_mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	struct vme_stats before = stats();
	p[PG] = 1;
	struct vme_stats after = stats();
	cr_assert_eq(after.pgfault - before.pgfault, 1, "the trap knows it was a write");
	cr_assert_eq(after.shared_fault - before.shared_fault, 1, "do_shared_fault");
	cr_assert_eq(vme_msync(p, 2 * PG, MS_SYNC), 0);
	cr_assert_eq(stats().pgpgout - after.pgpgout, 1, "and the page was dirtied");
}

Test(file_private, first_write_to_a_missing_page_is_one_cow_fault)
{
	int fd = pattern_file(PG, 0);
	unsigned char *p = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	struct vme_stats before = stats();
	p[1] = 1;
	struct vme_stats after = stats();
	cr_assert_eq(after.pgfault - before.pgfault, 1);
	cr_assert_eq(after.cow_fault - before.cow_fault, 1, "do_cow_fault");
	cr_assert_eq(p[0], pattern_byte(0), "the copy has the file's bytes");
}

Test(config, verbose_prints_the_counters_at_shutdown)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(vme_init(&(struct vme_config){ .verbose = 1 }), 0);
	errno = 0;
	cr_assert_eq(vme_init(&(struct vme_config){ .verbose = 1 }), -1, "already initialised");
	cr_assert_eq(errno, EBUSY);
	unsigned char *a = vme_mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	a[0] = 1;
	int saved = dup(2);
	dup2(p[1], 2);
	cr_assert_eq(vme_shutdown(), 0);
	dup2(saved, 2);
	close(p[1]);
	char buf[2048] = { 0 };
	cr_assert_gt(read(p[0], buf, sizeof(buf) - 1), 0);
	cr_assert_not_null(strstr(buf, "vmemu: anon_fault 1\n"), "%s", buf);
}

Test(stats, the_handler_accounts_for_its_time)
{
	int fd = pattern_file(8 * PG, 0);
	unsigned char *p = vme_mmap(NULL, 8 * PG, PROT_READ, MAP_SHARED, fd, 0);
	struct vme_stats before = stats();
	for (size_t i = 0; i < 8; i++)
		cr_assert_eq(((volatile unsigned char *)p)[i * PG], pattern_byte(i * PG));
	struct vme_stats s = stats();
	cr_assert_gt(s.fill_ns, before.fill_ns, "eight preads took time");
	cr_assert_gt(s.protect_ns, before.protect_ns);
	cr_assert_gt(s.lookup_ns, before.lookup_ns);
	cr_assert_geq(s.fault_ns - before.fault_ns,
		      (s.fill_ns - before.fill_ns) + (s.protect_ns - before.protect_ns),
		      "the parts fit inside the whole");
}

/* --- the fill pipe and the program's descriptors -------------------------
 * Fills splice file pages into the segment through a pipe whose two
 * descriptors sit in the program's table.  A program that closes
 * descriptors it did not open (closefrom, a daemon's sweep of
 * /proc/self/fd) and opens its own may get those very numbers.  vmemu must
 * then leave them alone: not pour the file into the program's pipe and the
 * program's bytes into the page cache, not close the program's files, and
 * not fail the fill. */

/* The pipe descriptors in the table, as a bitmap of numbers below 1024. */
static void pipe_fds(unsigned long set[16])
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[300], link[64];

	memset(set, 0, 16 * sizeof(*set));
	cr_assert(d);
	while ((e = readdir(d))) {
		int n = atoi(e->d_name);
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		ssize_t r = readlink(path, link, sizeof(link) - 1);
		if (r > 0 && n < 1024 && !strncmp(link, "pipe:", 5))
			set[n / 64] |= 1UL << (n % 64);
	}
	closedir(d);
}

/* Map a 256-page pattern file, fill its first pages, and close the pipe
 * that fill made, as a program sweeping its descriptors would.  Returns
 * the mapping; the pipe's numbers in fds[]. */
static const volatile unsigned char *fill_then_close_the_pipe(int fds[2])
{
	unsigned long before[16], after[16];
	int fd = pattern_file(256 * PG, O_RDONLY), n = 0;

	pipe_fds(before);
	const volatile unsigned char *p = vme_mmap(NULL, 256 * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	cr_assert_eq(p[0], pattern_byte(0));
	pipe_fds(after);
	for (int i = 0; i < 1024 && n < 2; i++)
		if ((after[i / 64] & ~before[i / 64]) & (1UL << (i % 64)))
			fds[n++] = i;
	cr_assert_eq(n, 2, "the fill made a pipe");
	close(fds[0]);
	close(fds[1]);
	return p;
}

Test(fill_pipe, a_program_pipe_given_its_numbers_keeps_its_bytes_and_the_cache_the_files, .timeout = 20)
{
	int fds[2], mine[2];
	const volatile unsigned char *p = fill_then_close_the_pipe(fds);
	char buf[32];

	cr_assert_eq(pipe(mine), 0);
	cr_assert(mine[0] == fds[0] && mine[1] == fds[1], "the program's pipe got the numbers");
	cr_assert_eq(write(mine[1], "the program's", 13), 13);
	for (size_t pg = 96; pg < 112; pg++)	/* a fill, away from the first */
		for (size_t i = 0; i < PG; i += 512)
			cr_assert_eq(p[pg * PG + i], pattern_byte(pg * PG + i), "page %zu byte %zu", pg, i);
	cr_assert_eq(fcntl(mine[0], F_SETFL, O_NONBLOCK), 0);
	cr_assert_eq(read(mine[0], buf, sizeof(buf)), 13, "the program's pipe holds its 13 bytes, no more");
	cr_assert_eq(memcmp(buf, "the program's", 13), 0);
}

Test(fill_pipe, program_files_given_its_numbers_stay_open_and_the_fill_succeeds, .timeout = 20)
{
	int fds[2];
	const volatile unsigned char *p = fill_then_close_the_pipe(fds);
	int a = pattern_file(PG, 0);
	int b = pattern_file(PG, 0);

	cr_assert(a == fds[0] && b == fds[1], "the program's files got the numbers");
	for (size_t i = 0; i < PG; i += 512)
		cr_assert_eq(p[100 * PG + i], pattern_byte(100 * PG + i), "byte %zu", i);
	cr_assert_eq(pwrite(a, "x", 1, 0), 1, "the program's file is still open");
	cr_assert_eq(pwrite(b, "y", 1, 0), 1, "the program's file is still open");
}

Test(fill_pipe, a_program_file_given_one_of_its_numbers_does_not_fail_the_fill, .timeout = 20)
{
	int fds[2];
	const volatile unsigned char *p = fill_then_close_the_pipe(fds);
	int a = pattern_file(PG, 0);

	cr_assert_eq(a, fds[0], "the program's file got the first number");
	for (size_t i = 0; i < PG; i += 512)
		cr_assert_eq(p[100 * PG + i], pattern_byte(100 * PG + i), "byte %zu", i);
	cr_assert_eq(pwrite(a, "x", 1, 0), 1, "the program's file is still open");
}

/* How many descriptors name the pipe fd names now (by its inode). */
static int descriptors_of_pipe(const char *link)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[300], l[64];
	int n = 0;

	cr_assert(d);
	while ((e = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		ssize_t r = readlink(path, l, sizeof(l) - 1);
		if (r > 0 && (l[r] = 0, !strcmp(l, link)))
			n++;
	}
	closedir(d);
	return n;
}

Test(fill_pipe, a_program_file_put_over_one_end_stays_and_the_other_end_is_not_leaked, .timeout = 20)
{
	unsigned long before[16], after[16];
	int fd = pattern_file(256 * PG, O_RDONLY), fds[2], n = 0;
	char path[64], link[64];

	pipe_fds(before);
	const volatile unsigned char *p = vme_mmap(NULL, 256 * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq((void *)p, MAP_FAILED);
	cr_assert_eq(p[0], pattern_byte(0));
	pipe_fds(after);
	for (int i = 0; i < 1024 && n < 2; i++)
		if ((after[i / 64] & ~before[i / 64]) & (1UL << (i % 64)))
			fds[n++] = i;
	cr_assert_eq(n, 2, "the fill made a pipe");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
	ssize_t r = readlink(path, link, sizeof(link) - 1);
	cr_assert_gt(r, 0);
	link[r] = 0;
	int mine = pattern_file(PG, 0);
	cr_assert_eq(dup2(mine, fds[1]), fds[1], "the program's file over the pipe's write end");
	for (size_t i = 0; i < PG; i += 512)
		cr_assert_eq(p[100 * PG + i], pattern_byte(100 * PG + i), "byte %zu", i);
	cr_assert_eq(pwrite(fds[1], "x", 1, 0), 1, "the program's file is still open there");
	cr_assert_eq(descriptors_of_pipe(link), 0, "the old pipe's read end was left open");
}
