/*
 * swapfile.c - swap for private and shared-anonymous pages (mm/swapfile.c,
 * mm/page_io.c).
 *
 * A swap entry is (type, offset): the swap area and the page slot in it,
 * packed as the kernel's swp_entry_t.  Each process writes one area, a file
 * of its own (VMEMU_SWAP, by default an unlinked temporary file), and hands
 * out page slots from a free stack or by bumping the end.
 *
 * fork: the child inherits the parent's swap entries, so neither may reuse a
 * slot both can see.  The child stops writing the parent's area and opens a
 * new one (type + 1); the parent never reuses a slot that was in use at the
 * fork.  Such slots are lost until exit, which costs disk, not data.
 *
 * Slots are taken and freed under swap_lock, a spinlock taken only in the
 * fault path and in reclaim with asynchronous signals blocked (mm/lock.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host/host.h"
#include "mm/mm.h"
#include "mm/vmstat.h"

#define MAX_SWAPFILES	16
#define SWP_TYPE_SHIFT	26	/* entries fit 30 bits: a page index entry holds one */
#define SWAP_MAX_PAGES	(1UL << 26)	/* 256 GiB per area */
#define swp_entry(type, off)	(((unsigned long)(type) << SWP_TYPE_SHIFT) | (off))
#define swp_type(e)	((e) >> SWP_TYPE_SHIFT)
#define swp_offset(e)	((e) & ((1UL << SWP_TYPE_SHIFT) - 1))

static int swap_fd[MAX_SWAPFILES] = { [0 ... MAX_SWAPFILES - 1] = -1 };
static char *swap_dir;			/* where a forked child opens its area */
static unsigned int cur_type;		/* the area this process writes */
static unsigned long next_slot = 1;	/* slot 0 is never handed out (entry 0 = none) */
static unsigned long frozen_end;	/* slots below this were in use at a fork */
static uint32_t *free_slots;		/* SWAP_MAX_PAGES, NORESERVE */
static unsigned long nr_free_slots;
static unsigned long nr_swap_used;
static int swap_lock;
/* Slots freed, counted in buckets by slot: a swap-in that read a slot
 * without the PTE lock learns from its bucket whether the slot was freed,
 * and so may hold another page's bytes, before it installed them. */
#define FREE_SEQ_BUCKETS 64
static unsigned long free_seq[FREE_SEQ_BUCKETS];
#define NR_BOUNCE	64	/* swap-in pages in flight at once */
static char *bounce;		/* NR_BOUNCE pages for swap-in */
static unsigned long bounce_busy;	/* bitmap */

static void swap_lock_take(void)
{
	while (__atomic_exchange_n(&swap_lock, 1, __ATOMIC_ACQUIRE))
		host_yield();
}

static void swap_lock_drop(void)
{
	__atomic_store_n(&swap_lock, 0, __ATOMIC_RELEASE);
}

/* Open area 0 at path ("off": no swap).  Without swap, private pages are
 * never reclaimed.  Returns 0 or -errno. */
int swap_init(const char *path)
{
	bool is_dir;
	void *mem;
	int r;

	if (swap_fd[cur_type] >= 0 || !strcmp(path, "off"))
		return 0;
	if (!(swap_dir = strdup(path)))
		return -ENOMEM;
	if ((r = host_open_swap(path, &swap_fd[0], &is_dir)) ||
	    (r = vmalloc(SWAP_MAX_PAGES * sizeof(*free_slots) + NR_BOUNCE * PAGE_SIZE, &mem))) {
		if (swap_fd[0] >= 0)
			host_close(swap_fd[0]);
		swap_fd[0] = -1;
		free(swap_dir);
		swap_dir = NULL;
		return r;
	}
	free_slots = mem;
	bounce = (char *)mem + SWAP_MAX_PAGES * sizeof(*free_slots);
	if (!is_dir) {		/* a forked child's area goes beside the named file */
		char *slash = strrchr(swap_dir, '/');
		if (slash)
			slash[slash == swap_dir] = '\0';
		else
			strcpy(swap_dir, ".");
	}
	return 0;
}

/* In a forked child: write a new area of our own from now on (see top). */
void swap_fork_child(void)
{
	bool is_dir;

	if (!swap_dir || swap_fd[cur_type] < 0)
		return;
	swap_lock = 0;
	next_slot = 1;
	nr_free_slots = 0;
	frozen_end = 0;
	if (cur_type + 1 < MAX_SWAPFILES && !host_open_swap(swap_dir, &swap_fd[cur_type + 1], &is_dir))
		cur_type++;
	else	/* no area of our own: never write the parent's */
		cur_type = MAX_SWAPFILES;
}

/* In the parent after a fork: the child may read every slot in use now. */
void swap_fork_parent(void)
{
	frozen_end = next_slot;
}

bool swap_enabled(void)
{
	return cur_type < MAX_SWAPFILES && swap_fd[cur_type] >= 0;
}

unsigned long nr_swap_pages(void)
{
	return __atomic_load_n(&nr_swap_used, __ATOMIC_RELAXED);
}

/* handler-safe: up to n consecutive swap slots; returns how many (0: swap is
 * off or full), the first entry in *entry. */
unsigned long get_swap_pages(unsigned long n, unsigned long *entry)
{
	unsigned long got = 0;

	if (!swap_enabled())
		return 0;
	swap_lock_take();
	if (nr_free_slots) {
		*entry = swp_entry(cur_type, free_slots[--nr_free_slots]);
		got = 1;
	} else if (next_slot < SWAP_MAX_PAGES) {
		got = SWAP_MAX_PAGES - next_slot < n ? SWAP_MAX_PAGES - next_slot : n;
		*entry = swp_entry(cur_type, next_slot);
		next_slot += got;
	}
	nr_swap_used += got;
	swap_lock_drop();
	return got;
}

/* handler-safe: the slot of entry is free again.  Slots of another area, or
 * that a forked child may still read, are never reused. */
void swap_free(unsigned long entry)
{
	__atomic_add_fetch(&free_seq[swp_offset(entry) % FREE_SEQ_BUCKETS], 1, __ATOMIC_RELEASE);
	swap_lock_take();
	nr_swap_used--;
	if (swp_type(entry) == cur_type && swp_offset(entry) >= frozen_end)
		free_slots[nr_free_slots++] = (uint32_t)swp_offset(entry);
	swap_lock_drop();
}

/* handler-safe: a count that changes whenever entry's slot is freed (and
 * sometimes when another is).  Read it while entry is known to be in use:
 * if it is the same later, the slot was in use all along, so it still
 * holds what it held. */
unsigned long swap_free_seq(unsigned long entry)
{
	return __atomic_load_n(&free_seq[swp_offset(entry) % FREE_SEQ_BUCKETS], __ATOMIC_ACQUIRE);
}

/* handler-safe: write n pages from buf to the slots from entry on.  Returns
 * 0 or -errno. */
int swap_writepage(unsigned long entry, const void *buf, unsigned long n)
{
	ssize_t r = host_write_full(swap_fd[swp_type(entry)], buf, n << PAGE_SHIFT,
				    (off_t)(swp_offset(entry) << PAGE_SHIFT));

	if (r < 0)
		return (int)r;
	count_vm_events(EV_pswpout, n);
	return 0;
}

/* handler-safe: read the page at entry into buf.  Returns 0 or -errno. */
int swap_readpage(unsigned long entry, void *buf)
{
	ssize_t r = host_read_full(swap_fd[swp_type(entry)], buf, PAGE_SIZE,
				   (off_t)(swp_offset(entry) << PAGE_SHIFT));

	if (r < 0)
		return (int)r;
	if (r != (ssize_t)PAGE_SIZE)
		return -EIO;
	count_vm_event(EV_pswpin);
	return 0;
}

/* handler-safe: a page to read a swapped page into before it is written to
 * its place; waits while all NR_BOUNCE are in use. */
char *swap_bounce_get(void)
{
	for (;;) {
		unsigned long busy = __atomic_load_n(&bounce_busy, __ATOMIC_RELAXED);
		if (~busy) {
			int i = __builtin_ctzl(~busy);
			if (__atomic_compare_exchange_n(&bounce_busy, &busy, busy | (1UL << i), false,
							__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				return bounce + ((unsigned long)i << PAGE_SHIFT);
		} else {
			host_yield();
		}
	}
}

void swap_bounce_put(char *buf)
{
	__atomic_fetch_and(&bounce_busy, ~(1UL << ((unsigned long)(buf - bounce) >> PAGE_SHIFT)),
			   __ATOMIC_RELEASE);
}
