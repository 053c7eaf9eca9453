/*
 * demo.c - watch a mapped file become resident, fault by fault.
 *
 * Generates a small file, maps it with vme_mmap, touches it in a stride
 * pattern and, after each touch, shows which fault path ran and the
 * mapping's residency (vme_mincore).  Then it writes one page, syncs it and
 * prints the emulated VMAs in /proc/self/maps format.  Uses only the public
 * API: this is what a program linked with -lvmemu sees.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmemu.h>

#define PG 4096
#define NPAGES 32

static struct vme_stats last;

/* Which path the faults since the last call took, from the counters. */
static void describe_faults(char *out, size_t size)
{
	struct vme_stats s;

	vme_stats(&s);
	if (s.pgpgout > last.pgpgout)
		snprintf(out, size, "%lu dirty page(s) written back, then fdatasync",
			 (unsigned long)(s.pgpgout - last.pgpgout));
	else
		snprintf(out, size, "%s%s%s%s%s",
			 s.read_fault > last.read_fault ? "do_read_fault " : "",
			 s.shared_fault > last.shared_fault ? "do_shared_fault (dirty) " : "",
			 s.wp_fault > last.wp_fault ? "do_wp_page (dirty) " : "",
			 s.pgmajfault > last.pgmajfault ? "(major: filemap_fault read the page)" : "",
			 s.pgfault == last.pgfault ? "no fault: already present" : "");
	last = s;
}

static void residency(const void *map, char *bar)
{
	unsigned char vec[NPAGES];
	int n = 0;

	vme_mincore((void *)map, NPAGES * PG, vec);
	for (int i = 0; i < NPAGES; i++) {
		bar[i] = vec[i] ? 'O' : '.';
		n += vec[i];
	}
	sprintf(bar + NPAGES, "] %2d/%d", n, NPAGES);
}

int main(void)
{
	char path[] = "/tmp/vmemu-demo-XXXXXX", line[PG], what[160], bar[64];
	int fd = mkstemp(path);

	if (fd < 0)
		return perror("mkstemp"), 1;
	for (int i = 0; i < NPAGES; i++) {	/* every page says which page it is */
		memset(line, 0, sizeof(line));
		snprintf(line, sizeof(line), "page %02d of the demo file", i);
		if (write(fd, line, PG) != PG)
			return perror("write"), 1;
	}
	printf("vmemu demo: %s, %d pages, mapped MAP_SHARED with vme_mmap.\n"
	       "Nothing is read at mmap time; each first touch raises a real SIGSEGV\n"
	       "that vmemu handles like the kernel's page fault.\n\n", path, NPAGES);

	char *map = vme_mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return perror("vme_mmap"), 1;
	vme_stats(&last);
	residency(map, bar);
	printf("  %-32s [%s\n", "after vme_mmap:", bar);
	int order[] = { 0, 8, 16, 24, 8, 1, 2, 3 };
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		char text[40];
		snprintf(text, sizeof(text), "%s", map + order[i] * PG);	/* the touch */
		describe_faults(what, sizeof(what));
		residency(map, bar);
		printf("  read page %02d: \"%s\"\n      %-26s [%s  %s\n", order[i], text, "", bar, what);
	}
	memcpy(map + 5 * PG, "PAGE 05, WRITTEN THROUGH THE MAPPING", 37);
	describe_faults(what, sizeof(what));
	residency(map, bar);
	printf("  write page 05:\n      %-26s [%s  %s\n", "", bar, what);
	map[PG + 30] = '!';	/* page 01 was read: present, clean, read-only */
	describe_faults(what, sizeof(what));
	residency(map, bar);
	printf("  write page 01:\n      %-26s [%s  %s\n", "", bar, what);
	vme_msync(map, NPAGES * PG, MS_SYNC);
	describe_faults(what, sizeof(what));
	if (pread(fd, line, 40, 5 * PG) != 40)
		return perror("pread"), 1;
	printf("  vme_msync(MS_SYNC): %s; the file now says \"%s\"\n\n", what, line);

	printf("The emulated VMAs (vme_dump_maps, /proc/self/maps format):\n");
	fflush(stdout);
	vme_dump_maps(STDOUT_FILENO);
	struct vme_stats s;
	vme_stats(&s);
	printf("\nCounters: %lu faults (%lu major), %lu do_read_fault, %lu do_shared_fault, "
	       "%lu do_wp_page, %lu pages read, %lu written back.\n",
	       (unsigned long)s.pgfault, (unsigned long)s.pgmajfault, (unsigned long)s.read_fault,
	       (unsigned long)s.shared_fault, (unsigned long)s.wp_fault, (unsigned long)s.pgpgin,
	       (unsigned long)s.pgpgout);
	vme_munmap(map, NPAGES * PG);
	unlink(path);
	return vme_shutdown();
}
