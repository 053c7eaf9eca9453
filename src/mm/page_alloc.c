/*
 * page_alloc.c - the frame pool (mm/page_alloc.c).
 *
 * Frames are the domain segment's pages after its metadata, shared by every
 * process of the domain and recycled: a frame freed by eviction is handed
 * out again already populated, so a fill never waits for the host to
 * allocate and zero a page (only a frame's first use does).  The pool grows
 * 2 MiB at a time up to the domain's capacity, the largest budget among its
 * live processes.  Allocation is next-fit over a bitmap of free frames and
 * hands out runs of contiguous frames, so a readahead window is one run:
 * one host mapping when it is mapped, and the clock (vmscan.c), which
 * evicts in frame order, frees runs for the next windows.
 *
 * A frame comes out reserved (PG_reserved, owner = this slot) and locked by
 * this process; it becomes a page-cache page when it is inserted into an
 * index (filemap.c).  The bitmap, nr_free and the cursor are guarded by the
 * domain's alloc_lock, held only for the bit operations.
 */
#include <errno.h>

#include "host/host.h"
#include "mm/mm.h"
#include "mm/vmstat.h"

#define POOL_CHUNK	512UL	/* frames the segment grows by (2 MiB) */
#define ALLOC_TRIES	16	/* reclaim rounds before an allocation fails */

static bool test_free(unsigned long pfn)
{
	return dom.bitmap[pfn / 64] & (1UL << (pfn % 64));
}

/* Grow the pool towards cap frames, a chunk at a time.  Caller holds
 * alloc_lock.  Returns 0 or -errno (the segment could not grow: /dev/shm
 * full; the pool then stays as it is, and reclaim makes room). */
static int pool_grow(struct domain_header *h, unsigned long cap)
{
	unsigned long old = h->nr_frames, new = old + POOL_CHUNK;
	int r;

	if (new > MAX_FRAMES)
		new = MAX_FRAMES;
	if (new > ((cap + POOL_CHUNK - 1) & ~(POOL_CHUNK - 1)))
		new = (cap + POOL_CHUNK - 1) & ~(POOL_CHUNK - 1);
	if (new <= old)
		return -ENOMEM;
	/* the frames and their struct pages and bitmap words, all at once */
	if ((r = domain_populate(SEG_PAGES + old * sizeof(struct page), (new - old) * sizeof(struct page))) ||
	    (r = domain_populate(SEG_BITMAP + old / 8, (new - old) / 8)) ||
	    (r = domain_populate(SEGMENT_META + (old << PAGE_SHIFT), (new - old) << PAGE_SHIFT))) {
		static bool warned;
		if (r == -ENOSPC && !__atomic_exchange_n(&warned, true, __ATOMIC_RELAXED))
			host_write_num("vmemu: warning: no room in /dev/shm: the page cache stops growing at MiB ",
				       (old << PAGE_SHIFT) >> 20);
		return r;
	}
	for (unsigned long pfn = old; pfn < new; pfn++)
		dom.bitmap[pfn / 64] |= 1UL << (pfn % 64);
	h->nr_free += new - old;
	h->cursor = old;
	__atomic_store_n(&h->nr_frames, new, __ATOMIC_RELEASE);
	return 0;
}

/* Take up to want free frames in a row, from the cursor on (wrapping once);
 * a single frame is the one freed last if it is still free (hot: in the
 * caches and already populated, as Linux's per-cpu lists hand out).  Caller
 * holds alloc_lock and knows one is free.  Returns how many. */
static unsigned long take_run(struct domain_header *h, unsigned long want, unsigned long *first)
{
	unsigned long nr = h->nr_frames, pfn = h->cursor < nr ? h->cursor : 0, n = 0;

	if (want == 1 && h->hot && h->hot <= nr && test_free(h->hot - 1)) {
		pfn = h->hot - 1;
		h->hot = 0;
		dom.bitmap[pfn / 64] &= ~(1UL << (pfn % 64));
		h->nr_free--;
		*first = pfn;
		return 1;
	}

	for (unsigned long seen = 0; seen < nr && !test_free(pfn); seen++) {
		if (!(pfn % 64) && !dom.bitmap[pfn / 64] && pfn + 64 <= nr) {
			pfn += 63;	/* a whole word of used frames */
			seen += 63;
		}
		pfn = pfn + 1 < nr ? pfn + 1 : 0;
	}
	if (!test_free(pfn))
		return 0;
	*first = pfn;
	while (n < want && pfn + n < nr && test_free(pfn + n)) {
		dom.bitmap[(pfn + n) / 64] &= ~(1UL << ((pfn + n) % 64));
		n++;
	}
	h->nr_free -= n;
	h->cursor = pfn + n;
	return n;
}

/* Frames [pfn, pfn + n), just taken from the bitmap, become reserved for
 * this process and locked by it, inside alloc_lock, so no reaper ever sees
 * one half taken.  A free frame's lock is free (a stale waiter holds it
 * only for a moment: wait for it). */
static void reserve_run(unsigned long pfn, unsigned long n)
{
	for (unsigned long i = 0; i < n; i++) {
		struct page *page = pfn_to_page(pfn + i);
		while (!rlock_trylock(&page->lock))
			host_yield();
		page->inode = 0;
		page->index = 0;
		page->owner = (uint32_t)dom.slot;
		__atomic_store_n(&page->mapped, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&page->wmapped, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&page->flags, PG_reserved, __ATOMIC_RELEASE);
	}
}

/* handler-safe: up to want frames in a row, at least one, reserved for this
 * process and locked by it (a run shorter than want when the free frames
 * are scattered or the pool is nearly full).  Evicts from the pool when it
 * is full.  Returns how many, with the first in *pfn; 0 if nothing can be
 * freed. */
unsigned long alloc_pages_run(unsigned long want, unsigned long *pfn)
{
	struct domain_header *h = dom.hdr;
	unsigned long n = 0, excess = 0;
	bool freed = false, reaped = false, starved = false;

	for (int tries = 0; !n && tries < ALLOC_TRIES; tries++) {
		rlock_lock(&h->alloc_lock);
		unsigned long in_use = h->nr_frames - h->nr_free;
		unsigned long cap = __atomic_load_n(&h->capacity, __ATOMIC_RELAXED);
		/* Every frame is held by a live process and none could be freed,
		 * while this one holds less than its budget: its budget is its
		 * due whatever the others hold, so the pool grows past the
		 * capacity (which bounds only what nobody holds). */
		if (starved && in_use + want > cap && nr_resident_pages() + want <= nr_budget_pages())
			cap = in_use + want;
		if (in_use < cap) {
			unsigned long room = cap - in_use < want ? cap - in_use : want;
			if (h->nr_free)
				n = take_run(h, room, pfn);
			if (n < room && h->nr_frames < MAX_FRAMES && pool_grow(h, cap) == 0) {
				/* scattered or none: the new chunk gives a whole run */
				if (n) {
					for (unsigned long i = 0; i < n; i++)
						dom.bitmap[(*pfn + i) / 64] |= 1UL << ((*pfn + i) % 64);
					h->nr_free += n;
				}
				n = take_run(h, room, pfn);
			}
		} else if (freed && h->nr_free) {
			/* over capacity (a larger budget left the domain): only
			 * what reclaim just freed, so the pool shrinks back */
			n = take_run(h, want, pfn);
		} else {
			excess = in_use - cap;
		}
		if (n)
			reserve_run(*pfn, n);
		rlock_unlock(&h->alloc_lock);
		if (!n) {
			unsigned long goal = want > RECLAIM_BATCH ? want : RECLAIM_BATCH;
			/* What nobody holds goes first (the pool's clock), then
			 * what this process holds (its own clock). */
			unsigned long held = __atomic_load_n(&h->nr_held, __ATOMIC_RELAXED);
			freed = false;
			if (nr_cached_pages() > held)
				freed = shrink_pool(goal + (excess < 4 * goal ? excess : 4 * goal)) > 0;
			if (!freed)	/* a cluster at a time, harder on each try */
				freed = shrink_own_frames(goal, (4 * goal) << (tries < 8 ? tries : 8)) > 0;
			if (!freed && !reaped) {
				/* processes that left without detaching (_exit,
				 * killed, exec) still hold what they mapped */
				domain_reap_dead();
				reaped = freed = true;
			} else if (!freed) {
				starved = __atomic_load_n(&h->nr_held, __ATOMIC_RELAXED) >= nr_cached_pages();
			}
		}
	}
	return n;
}

/* handler-safe: frame pfn, whose page lock the caller holds and which no
 * index holds and no live process maps, is free again (the one way a frame
 * is freed; the reaper calls it for the dead).  Caller holds alloc_lock.
 * The page lock is released inside alloc_lock, so a reaper never sees the
 * frame half freed; a stale waiter then finds a free frame (inode 0) and
 * looks again. */
void __free_page_frame(unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);

	page->inode = 0;
	page_unhold_all(page);	/* only the dead can still have a bit here */
	__atomic_store_n(&page->wmapped, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&page->flags, 0, __ATOMIC_RELEASE);
	dom.bitmap[pfn / 64] |= 1UL << (pfn % 64);
	dom.hdr->nr_free++;
	rlock_unlock(&page->lock);
}

/* handler-safe: __free_page_frame, taking alloc_lock; the frame is the next
 * single frame handed out (hot: in the caches and populated). */
void free_page_frame(unsigned long pfn)
{
	struct domain_header *h = dom.hdr;

	rlock_lock(&h->alloc_lock);
	__free_page_frame(pfn);
	h->hot = pfn + 1;
	rlock_unlock(&h->alloc_lock);
}

/* Frames in use in the domain (cached pages, and reserved ones). */
unsigned long nr_cached_pages(void)
{
	struct domain_header *h = dom.hdr;

	return __atomic_load_n(&h->nr_frames, __ATOMIC_RELAXED) - __atomic_load_n(&h->nr_free, __ATOMIC_RELAXED);
}

/* Pages of the library's view of the frames this process has touched since
 * it last dropped them, and when to drop them: the host counts every page a
 * process maps in its RSS, and the view's pages are not the program's. */
static unsigned long view_pages, view_limit = 4096;

void view_set_limit(unsigned long budget)
{
	view_limit = budget / 8 < 256 ? 256 : budget / 8 > 16384 ? 16384 : budget / 8;
}

/* handler-safe: pages of the view were touched (filled, written back,
 * copied); past the limit, the whole view's page tables are dropped (the
 * frames stay: the view is a shared mapping). */
void view_account(unsigned long pages)
{
	if (__atomic_add_fetch(&view_pages, pages, __ATOMIC_RELAXED) < view_limit)
		return;
	__atomic_store_n(&view_pages, 0, __ATOMIC_RELAXED);
	host_discard((unsigned long)dom.frames, __atomic_load_n(&dom.hdr->nr_frames, __ATOMIC_RELAXED) << PAGE_SHIFT);
}
