/*
 * device.c - device mappings: a driver's own mmap, fault and page_mkwrite,
 * through the two example drivers and a recording one.
 */
#include <criterion/criterion.h>
#include <vmemu.h>

#include "testutil.h"

#define RW (PROT_READ | PROT_WRITE)

Test(device, framebuffer_writes_are_seen_by_every_mapping_and_a_child)
{
	struct vme_framebuffer fb = { .size = 8 * PG };
	int fd = vme_device_open(&vme_framebuffer_ops, &fb);
	cr_assert_geq(fd, 0);
	volatile unsigned char *a = vme_mmap(NULL, 8 * PG, RW, MAP_SHARED, fd, 0);
	volatile unsigned char *b = vme_mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, fd, 4 * PG);
	cr_assert_neq((void *)a, MAP_FAILED);
	cr_assert_neq((void *)b, MAP_FAILED);
	cr_assert_eq(a[5 * PG], 0, "a new framebuffer page is black");
	a[5 * PG + 9] = 0xf0;
	cr_assert_eq(b[PG + 9], 0xf0, "the other mapping sees it at once");
	pid_t pid = fork();
	if (pid == 0) {
		a[7 * PG] = 0x0f;
		_exit(b[PG + 9] == 0xf0 ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(b[3 * PG], 0x0f, "the child's write reached the parent's mapping");
	struct vme_stats st;
	cr_assert_eq(vme_stats(&st), 0);
	cr_assert_eq(st.pgpgin, 0, "no file was read");
}

Test(device, framebuffer_tracks_damage_with_page_mkwrite)
{
	struct vme_framebuffer fb = { .size = 16 * PG };
	int fd = vme_device_open(&vme_framebuffer_ops, &fb);
	unsigned char *a = vme_mmap(NULL, 16 * PG, RW, MAP_SHARED, fd, 0);
	unsigned long bitmap[64];

	a[0] = 1;
	a[3 * PG] = 1;
	a[3 * PG + 1] = 1;	/* the same page again: already damaged */
	(void)((volatile unsigned char *)a)[9 * PG];	/* a read is no damage */
	cr_assert_eq(vme_framebuffer_damage(&fb, bitmap), 2);
	cr_assert_eq(bitmap[0], (1UL << 0) | (1UL << 3));
	a[3 * PG + 2] = 1;
	cr_assert_eq(vme_framebuffer_damage(&fb, NULL), 0, "still writable: not seen until re-armed");
	cr_assert_eq(vme_msync(a, 16 * PG, MS_SYNC), 0, "re-arm: write-protect the damaged pages");
	a[3 * PG + 3] = 1;
	a[9 * PG] = 1;
	cr_assert_eq(vme_framebuffer_damage(&fb, bitmap), 2);
	cr_assert_eq(bitmap[0], (1UL << 3) | (1UL << 9));
	cr_assert_eq(a[3 * PG + 1], 1, "and nothing written was lost");
}

Test(device, framebuffer_refuses_mappings_beyond_its_size)
{
	struct vme_framebuffer fb = { .size = 4 * PG };
	int fd = vme_device_open(&vme_framebuffer_ops, &fb);
	errno = 0;
	cr_assert_eq(vme_mmap(NULL, 8 * PG, RW, MAP_SHARED, fd, 0), MAP_FAILED);
	cr_assert_eq(errno, EINVAL, "the driver's mmap said no");
	cr_assert_neq(vme_mmap(NULL, 2 * PG, RW, MAP_SHARED, fd, 2 * PG), MAP_FAILED);
}

Test(device, private_mapping_of_a_device_copies_on_write)
{
	struct vme_framebuffer fb = { .size = 2 * PG };
	int fd = vme_device_open(&vme_framebuffer_ops, &fb);
	volatile unsigned char *s = vme_mmap(NULL, 2 * PG, RW, MAP_SHARED, fd, 0);
	volatile unsigned char *p = vme_mmap(NULL, 2 * PG, RW, MAP_PRIVATE, fd, 0);
	s[1] = 5;
	cr_assert_eq(p[1], 5);
	p[1] = 6;
	cr_assert_eq(s[1], 5, "a private write stays private");
}

Test(device, pattern_pages_are_generated_once_never_read)
{
	struct vme_pattern pat = { .seed = 0xfeedUL };
	int fd = vme_device_open(&vme_pattern_ops, &pat);
	unsigned long *a = vme_mmap(NULL, 32 * PG, PROT_READ, MAP_SHARED, fd, 0);
	unsigned long *b = vme_mmap(NULL, 32 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	for (unsigned long p = 0; p < 32; p += 3)
		for (unsigned long i = 0; i < PG / 8; i += 61)
			cr_assert_eq(a[p * 512 + i], 0xfeedUL ^ (p * 512 + i), "page %lu word %lu", p, i);
	cr_assert_eq(pat.fills, 11);
	cr_assert_eq(b[3 * 512 + 7], 0xfeedUL ^ (3 * 512 + 7));
	cr_assert_eq(pat.fills, 11, "the second mapping found the page in the device's cache");
	struct vme_stats st;
	cr_assert_eq(vme_stats(&st), 0);
	cr_assert_eq(st.pgpgin, 0, "no disk");
}

Test(device, a_page_the_driver_does_not_have_is_sigbus, .signal = SIGBUS)
{
	struct vme_pattern pat = { .seed = 1, .pages = 2 };
	int fd = vme_device_open(&vme_pattern_ops, &pat);
	volatile unsigned long *a = vme_mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_eq(a[512], 1UL ^ 512);
	(void)a[2 * 512];
}

static int opened, closed;
static int rec_open(void *p) { (void)p; opened++; return 0; }
static void rec_close(void *p) { (void)p; closed++; }
static int rec_fault(struct vme_fault *vmf)
{
	memset(vmf->page, (int)vmf->pgoff, vmf->page_size);
	return 0;
}
static const struct vme_device_ops recorder = {
	.name = "recorder", .open = rec_open, .close = rec_close, .fault = rec_fault,
};

Test(device, close_runs_when_the_device_is_closed_and_unmapped)
{
	int fd = vme_device_open(&recorder, NULL);
	cr_assert_eq(opened, 1);
	unsigned char *a = vme_mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_eq(a[PG], 1);
	cr_assert_eq(vme_device_close(fd), 0);
	cr_assert_eq(closed, 0, "still mapped");
	cr_assert_eq(a[PG + 5], 1, "the mapping still works");
	cr_assert_eq(vme_munmap(a, 2 * PG), 0);
	cr_assert_eq(closed, 1, "the last reference is gone");
	errno = 0;
	cr_assert_eq(vme_device_close(fd), -1);
	cr_assert_eq(errno, EBADF);
	errno = 0;
	cr_assert_eq(vme_device_open(&(struct vme_device_ops){ .name = "x" }, NULL), -1, "no fault hook");
	cr_assert_eq(errno, EINVAL);
}

Test(device, shows_in_the_maps)
{
	struct vme_pattern pat = { 0 };
	int fd = vme_device_open(&vme_pattern_ops, &pat);
	cr_assert_neq(vme_mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0), MAP_FAILED);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(vme_dump_maps(p[1]), 0);
	close(p[1]);
	char buf[1024] = { 0 };
	cr_assert_gt(read(p[0], buf, sizeof(buf) - 1), 0);
	cr_assert_not_null(strstr(buf, "/dev/vmemu/pattern"), "%s", buf);
}
