/*
 * vmscan.c - the memory budgets and reclaim (mm/vmscan.c, mm/swap.c).
 *
 * Two budgets (docs/design.md, "Memory pressure"):
 *
 *  - What this process holds: every frame it maps and every private page
 *    (anonymous, private copies) takes a slot of its frame table, which has
 *    as many slots as the budget has pages.  When no slot is free, the
 *    faulting thread reclaims its own slots with a clock and a software
 *    referenced bit (shrink_frames): a mapped frame is unmapped from every
 *    VMA of this process (the rmap, rmap.c) and stays in the pool; a private
 *    page is deactivated (PROT_NONE, still resident) the first time the hand
 *    finds it referenced, and goes to swap the next.  This process never
 *    touches another's mappings.
 *
 *  - What the pool holds: frames in use in the domain stay within its
 *    capacity.  When the pool is full, the allocating process evicts cached
 *    pages that no live process maps, with a second clock over the frames
 *    whose hand the domain shares (shrink_pool).
 *
 * Host changes (a page made PROT_NONE, a mapping replaced by the
 * reservation) are batched over neighbouring pages; the PTEs they concern
 * stay locked until the host change has landed, so no fault can map a page
 * again in between (and have the batch unmap it after).
 *
 * The frame table is guarded by lru_lock, a futex mutex taken in the fault
 * path and in system calls with asynchronous signals blocked, so no handler
 * can interrupt its holder.  Reclaim takes page and PTE locks only with
 * trylock, and does its write-back and swap I/O, and its count of the
 * host's mappings, with lru_lock dropped.
 */
#include <errno.h>
#include <string.h>

#include "host/host.h"
#include "mm/mm.h"
#include "mm/trace.h"
#include "mm/vmstat.h"

#define FRAME_ANON	1UL	/* a private page: index is its address */
#define FRAME_RESERVED	2UL	/* being installed by a fault */
#define MAX_BUDGET_PAGES MAX_FRAMES	/* 64 GiB */
#define BATCH_MAX	64	/* pages per host call of a reclaim batch */

/* A slot of this process's frame table. */
struct frame {
	unsigned long owner;		/* address_space * of a mapped frame, FRAME_*, or 0: free */
	unsigned long index;		/* its page offset, or a private page's address */
	unsigned long pfn;		/* the pool frame this process maps */
	unsigned int mapcount;		/* PTEs of this process mapping pfn */
	unsigned int wcount;		/* ... writable */
	unsigned long referenced;	/* used since the hand last passed: 1, or 2 once
					 * used again after a deactivation (active) */
};

static struct frame *frame_table;	/* slots 1 .. nr_slots; 0 means "no slot" */
static uint32_t *free_list;		/* freed slots */
static uint32_t *pfn_slot;		/* pool frame -> its slot here, 0 if not mapped here */
static unsigned long nr_slots, nr_free, high_water, hand = 1;
static DEFINE_MUTEX(lru_lock);
static int self_mem = -1;		/* /proc/self/mem: PROT_NONE pages read and written */

/* The host-mapping budget: vm.max_map_count, how many mappings reclaim lets
 * the process reach, and an upper bound on how many it has now. */
static unsigned long host_vma_limit, host_vma_soft, host_vma_estimate, host_vmas_counted;
static unsigned long host_vma_next_check;	/* count again when the estimate reaches this */
static pid_t host_vma_counter;			/* the thread counting (and reclaiming), or 0 */

static void lru_lock_take(void)
{
	mutex_lock(&lru_lock);
}

static void lru_lock_drop(void)
{
	mutex_unlock(&lru_lock);
}

/* Slot s is free again.  Caller holds lru_lock. */
static void put_slot(unsigned long s)
{
	frame_table[s].owner = 0;
	__atomic_store_n(&frame_table[s].referenced, 0UL, __ATOMIC_RELAXED);
	free_list[nr_free++] = (uint32_t)s;
}

/* Slot s is inactive now: the next to go unless it is used again. */
static void clear_referenced(unsigned long s)
{
	__atomic_store_n(&frame_table[s].referenced, 0UL, __ATOMIC_RELAXED);
}

/* The slot under the clock hand; the hand moves on.  Caller holds lru_lock. */
static unsigned long clock_tick(void)
{
	unsigned long s = hand;

	hand = hand >= high_water ? 1 : hand + 1;
	return s;
}

/* A budget of cache_mb MiB in pages, or the default: a quarter of physical
 * memory, at least 64 MiB, at most 64 GiB. */
unsigned long budget_frames(unsigned long cache_mb)
{
	unsigned long pages = cache_mb << (20 - PAGE_SHIFT);

	if (!pages) {
		pages = host_phys_pages() / 4;
		if (pages < (64UL << (20 - PAGE_SHIFT)))
			pages = 64UL << (20 - PAGE_SHIFT);
	}
	return pages > MAX_BUDGET_PAGES ? MAX_BUDGET_PAGES : pages;
}

/* Set up the frame table for cache_mb MiB.  Returns 0 or -errno. */
int vmscan_init(unsigned long cache_mb)
{
	unsigned long pages = budget_frames(cache_mb);
	size_t table = (pages + 1) * sizeof(struct frame);
	size_t list_len = PAGE_ALIGN(pages * sizeof(*free_list));
	void *a, *b, *c;
	int r;

	if (frame_table)
		return 0;
	if ((r = host_self_mem_open(&self_mem)))
		return r;
	if ((r = vmalloc(table, &a)))
		goto out_close;
	if ((r = vmalloc(list_len, &b))) {
		vfree(a, table);
		goto out_close;
	}
	if ((r = vmalloc(MAX_FRAMES * sizeof(*pfn_slot), &c))) {
		vfree(a, table);
		vfree(b, list_len);
		goto out_close;
	}
	frame_table = a;
	free_list = b;
	pfn_slot = c;
	nr_slots = pages;
	host_vma_limit = host_max_map_count();
	host_vma_soft = host_vma_limit / 4;
	host_vma_next_check = host_vma_soft;
	int count = host_count_mappings();
	host_vmas_counted = host_vma_estimate = count > 0 ? (unsigned long)count : 0;
	return 0;

out_close:
	host_close(self_mem);
	self_mem = -1;
	return r;
}

/* In a forked child: /proc/self/mem still shows the parent; the locks and
 * the counting of host mappings belong to threads it does not have. */
void vmscan_fork_child(void)
{
	lru_lock = (struct mutex){ 0 };
	host_vma_counter = 0;
	if (self_mem >= 0) {
		host_close(self_mem);
		if (host_self_mem_open(&self_mem))
			self_mem = -1;
	}
}

unsigned long nr_budget_pages(void)
{
	return nr_slots;
}

unsigned long nr_resident_pages(void)
{
	return __atomic_load_n(&high_water, __ATOMIC_RELAXED) - __atomic_load_n(&nr_free, __ATOMIC_RELAXED);
}

unsigned long nr_host_mappings(void)
{
	return __atomic_load_n(&host_vmas_counted, __ATOMIC_RELAXED);
}

/* handler-safe: fd of /proc/self/mem, for swap-in. */
int self_mem_fd(void)
{
	return self_mem;
}

/* ---- batches of host changes ------------------------------------------- */

enum batch_op {
	BATCH_PROTNONE,		/* make the pages PROT_NONE, keeping their data */
	BATCH_ZAP,		/* replace them with the reservation (PROT_NONE, empty) */
};

/* A page reclaim has taken out of a PTE: the PTE stays locked, holding what
 * it will hold once the host agrees, until the batch is flushed. */
struct batch_entry {
	unsigned long addr;
	pte_t *ptep;
	pte_t old;		/* to put back if the host refuses */
	pte_t new;		/* the PTE's value after */
	unsigned long slot;	/* a private page's slot to free after, or 0 */
};

struct reclaim_batch {
	enum batch_op op;
	unsigned int nr;
	struct batch_entry e[BATCH_MAX];
	unsigned long progress;		/* slots freed */
	unsigned long unmapped;		/* pages made inaccessible */
};

/* The one batch, used only under lru_lock: 2.5 KiB kept off the stack of
 * the fault handler, which may run on a small sigaltstack. */
static struct reclaim_batch lru_batch;

/* A fresh batch.  Caller holds lru_lock until it has flushed it. */
static struct reclaim_batch *batch_begin(void)
{
	lru_batch.nr = 0;
	lru_batch.progress = lru_batch.unmapped = 0;
	return &lru_batch;
}

/* Land the pending host change, then complete or undo each entry.  Caller
 * holds lru_lock. */
static void flush_batch(struct reclaim_batch *b)
{
	if (!b->nr)
		return;
	unsigned long start = b->e[0].addr, len = (unsigned long)b->nr << PAGE_SHIFT;
	int r = b->op == BATCH_PROTNONE ? host_protect(start, len, HOST_PROT_NONE) : host_map_anon(start, len);

	for (unsigned int i = 0; i < b->nr; i++) {
		struct batch_entry *e = &b->e[i];
		if (r) {	/* still accessible: nothing changes */
			set_pte_at(e->addr, e->ptep, e->old);
			pte_unlock(e->ptep);
			continue;
		}
		set_pte_at(e->addr, e->ptep, e->new);
		pte_unlock(e->ptep);
		b->unmapped++;
		if ((e->old & (PTE_PRESENT | PTE_ANON)) == PTE_PRESENT) {
			/* a mapped frame: one mapping fewer here; the last one
			 * leaves it deactivated, still in its slot */
			unsigned long pfn = pte_val(e->old), s = pfn_slot[pfn];
			struct frame *f = &frame_table[s];
			struct page *page = pfn_to_page(pfn);
			if (!s)
				continue;
			if ((e->old & PTE_WRITE) && f->wcount && !--f->wcount)
				__atomic_and_fetch(&page->wmapped, ~SLOT_BIT(dom.slot), __ATOMIC_ACQ_REL);
			if (f->mapcount)
				f->mapcount--;
		} else if (e->slot) {
			put_slot(e->slot);
			b->progress++;
		}
	}
	b->nr = 0;
}

/* Queue a PTE, locked by the caller, for op: it becomes new once the host
 * change lands. */
static void batch_add(struct reclaim_batch *b, enum batch_op op, unsigned long addr, pte_t *ptep,
		      pte_t old, pte_t new, unsigned long slot)
{
	if (b->nr && (op != b->op || addr != b->e[b->nr - 1].addr + PAGE_SIZE || b->nr == BATCH_MAX))
		flush_batch(b);
	b->op = op;
	b->e[b->nr++] = (struct batch_entry){ .addr = addr, .ptep = ptep, .old = old, .new = new,
					       .slot = slot };
}

/* ---- one slot ------------------------------------------------------- */

struct unmap_args {
	struct reclaim_batch *b;
	unsigned long pfn;
	bool busy;		/* a PTE was locked by a fault */
};

/* rmap_walk callback: queue this process's mapping of the frame at addr. */
static int unmap_one(struct vm_area_struct *vma, unsigned long addr, pte_t *ptep, void *arg)
{
	struct unmap_args *u = arg;
	pte_t v = ptep_get(ptep);

	(void)vma;
	if ((v & (PTE_PRESENT | PTE_ANON)) != PTE_PRESENT || pte_val(v) != u->pfn)
		return 0;
	if (!pte_trylock(ptep)) {
		u->busy = true;
		return 0;
	}
	v = ptep_get(ptep);	/* again, under the lock */
	if ((v & (PTE_PRESENT | PTE_ANON)) != PTE_PRESENT || pte_val(v) != u->pfn) {
		pte_unlock(ptep);
		return 0;
	}
	batch_add(u->b, BATCH_ZAP, addr, ptep, v, 0, 0);
	return 0;
}

/* Frames whose write-back eviction queued, to be written once lru_lock is
 * dropped (lru_unlock). */
static unsigned long pending_wb[RECLAIM_BATCH];
static unsigned int nr_pending_wb;

/* Private pages eviction chose for swap, PROT_NONE and their PTEs locked,
 * to be written once lru_lock is dropped (lru_unlock). */
struct pending_swap {
	unsigned long addr, slot;
	pte_t *ptep;
	pte_t old;
};
static struct pending_swap pending_swap[RECLAIM_BATCH];
static unsigned int nr_pending_swap;

/* handler-safe: write the private page ps (PROT_NONE, its PTE locked) to
 * swap, with no lock held: read through /proc/self/mem into a bounce page,
 * then the swap slot.  Returns its swap entry, or 0 (it stays in memory:
 * nothing lost). */
static unsigned long swap_out_page(const struct pending_swap *ps)
{
	unsigned long entry = 0;
	char *buf = swap_bounce_get();

	if (host_self_mem_rw(self_mem, buf, PAGE_SIZE, ps->addr, false) < 0 || !get_swap_pages(1, &entry)) {
		entry = 0;
	} else if (swap_writepage(entry, buf, 1)) {
		swap_free(entry);
		entry = 0;
	}
	swap_bounce_put(buf);
	return entry;
}

/* Forget slot s, which holds a frame this process no longer maps: it no
 * longer holds it either. */
static void drop_slot(unsigned long s)
{
	unsigned long pfn = frame_table[s].pfn;

	page_unhold(pfn_to_page(pfn), dom.slot);
	pfn_slot[pfn] = 0;
	put_slot(s);
}

/* The frame in slot s was deactivated and not used since: let it go from
 * this process, and from the pool unless another process maps it.  A clean
 * file page is dropped, a shared anonymous page only this process uses goes
 * to swap, a dirty page is queued for write-back (and goes at the next
 * turn).  Caller holds lru_lock.  Returns 0 (slot freed) or -EAGAIN. */
static int evict_slot(unsigned long s)
{
	struct frame *f = &frame_table[s];
	struct address_space *mapping = (struct address_space *)f->owner;
	struct inode *inode = mapping->host;
	unsigned long pfn = f->pfn;
	struct page *page = pfn_to_page(pfn);

	if (!trylock_page(pfn))
		return -EAGAIN;
	bool ours = page->inode == inode_index(inode) + 1 && page->index == f->index && !page_is_orphan(pfn);
	if (!ours || page_mapped_elsewhere(page, false)) {
		unlock_page(pfn);	/* someone else's now: just not ours to hold */
		drop_slot(s);
		return 0;
	}
	uint32_t flags = __atomic_load_n(&page->flags, __ATOMIC_ACQUIRE);
	if (flags & PG_writeback)
		goto busy;
	if (inode->kind == I_SHMEM) {
		/* its only copy goes to swap, if nobody else can see it */
		if ((inode->users & live_slots()) != SLOT_BIT(dom.slot) || !shmem_reclaim_page(pfn))
			goto busy;
		drop_slot(s);
		return 0;
	}
	if (flags & PG_dirty) {
		unlock_page(pfn);
		if (nr_pending_wb < RECLAIM_BATCH)
			pending_wb[nr_pending_wb++] = pfn;
		return -EAGAIN;
	}
	delete_from_page_cache(pfn);
	free_page_frame(pfn);
	count_vm_event(EV_pgevict);
	drop_slot(s);
	return 0;
busy:
	unlock_page(pfn);
	return -EAGAIN;
}

/* Drop lru_lock, then write back what eviction queued meanwhile, through
 * this process's descriptors, and evict what is clean then and still
 * unused (the sweep chose it already).  Caller holds mmap_lock.  Returns
 * the slots freed. */
static unsigned long lru_unlock(void)
{
	unsigned long wb[RECLAIM_BATCH], freed = 0;

	/* The private pages eviction chose for swap, one at a time: the I/O
	 * with the lock dropped, then the page gone from the host and its PTE
	 * a swap entry, or its protection back. */
	while (nr_pending_swap) {
		struct pending_swap ps = pending_swap[--nr_pending_swap];
		lru_lock_drop();
		unsigned long entry = swap_out_page(&ps);
		lru_lock_take();
		if (entry && host_map_anon(ps.addr, PAGE_SIZE)) {
			swap_free(entry);
			entry = 0;
		}
		if (entry) {
			set_pte_at(ps.addr, ps.ptep, mk_pte(PTE_SWAP, entry));
			put_slot(ps.slot);
			freed++;
		} else if (ps.old & PTE_PRESENT) {
			host_protect(ps.addr, PAGE_SIZE, vma_host_prot(find_vma(&init_mm, ps.addr), ps.old));
		}
		pte_unlock(ps.ptep);
	}
	unsigned int n = nr_pending_wb;
	for (unsigned int i = 0; i < n; i++)
		wb[i] = pending_wb[i];
	nr_pending_wb = 0;
	lru_lock_drop();
	for (unsigned int i = 0; i < n; i++) {
		uint32_t ino = __atomic_load_n(&pfn_to_page(wb[i])->inode, __ATOMIC_ACQUIRE);
		struct address_space *mapping = ino ? mapping_find(&init_mm, inode_of(ino - 1)) : NULL;
		if (!mapping || mapping->fd < 0 || writeback_pfn(mapping, wb[i]))
			continue;
		lru_lock_take();
		unsigned long s = pfn_slot[wb[i]];
		if (s && !frame_table[s].mapcount && !frame_table[s].referenced && !evict_slot(s))
			freed++;
		lru_lock_drop();
	}
	return freed;
}

/* Reclaim the frame in slot s: a mapped one is deactivated (unmapped from
 * every VMA of this process, still in its slot: a fault that finds it again
 * is minor and marks it referenced); a deactivated one not used since is
 * evicted (evict_slot).  Returns 0, or -EAGAIN if it is busy. */
static int reclaim_mapped_frame(struct reclaim_batch *b, unsigned long s, bool evict)
{
	struct frame *f = &frame_table[s];

	if (f->mapcount) {
		struct unmap_args u = { .b = b, .pfn = f->pfn };
		rmap_walk((struct address_space *)f->owner, f->index, f->index, unmap_one, &u);
		count_vm_event(EV_pgdeactivate);
		return u.busy ? -EAGAIN : 0;
	}
	if (!evict)
		return 0;
	int r = evict_slot(s);
	if (!r)
		b->progress++;
	return r;
}

/* Reclaim the private page in slot s, mapped at its index: deactivate it
 * (referenced), or write it to swap.  Returns 0 or -EAGAIN (busy, no swap). */
static int reclaim_anon_frame(struct reclaim_batch *b, unsigned long s, bool evict)
{
	struct frame *f = &frame_table[s];
	unsigned long addr = f->index;
	pte_t *pte = pte_offset(addr, false);

	if (!pte || (evict && !swap_enabled()) || !pte_trylock(pte))
		return -EAGAIN;
	pte_t v = ptep_get(pte);
	if (!(v & PTE_ANON) || pte_val(v) != s)
		goto busy;
	if (!evict) {
		if (v & PTE_PRESENT)
			batch_add(b, BATCH_PROTNONE, addr, pte, v, mk_pte(PTE_ANON | (v & PTE_FRESH), s), 0);
		else
			pte_unlock(pte);
		count_vm_event(EV_pgdeactivate);
		return 0;
	}
	if (nr_pending_swap == RECLAIM_BATCH)
		goto busy;
	/* No store may land after the copy: PROT_NONE first, now.  The copy
	 * and the write to swap are lru_unlock's, with lru_lock dropped; the
	 * PTE stays locked until then. */
	if ((v & PTE_PRESENT) && host_protect(addr, PAGE_SIZE, HOST_PROT_NONE))
		goto busy;
	pending_swap[nr_pending_swap++] = (struct pending_swap){ .addr = addr, .slot = s, .ptep = pte, .old = v };
	return 0;
busy:
	pte_unlock(pte);
	return -EAGAIN;
}


/* Reclaim slot s: a mapped frame is unmapped, a private page deactivated
 * or (evict) swapped.  Returns 0, or -EAGAIN if it is free, busy, pinned
 * or mlocked. */
static int reclaim_slot(struct reclaim_batch *b, unsigned long s, bool evict)
{
	unsigned long owner = frame_table[s].owner;
	int r;

	if (owner == 0 || owner == FRAME_RESERVED)
		return -EAGAIN;
	if (page_mlocked(owner == FRAME_ANON ? NULL : (struct address_space *)owner, frame_table[s].index))
		return -EAGAIN;		/* mlocked: never unmapped, evicted nor swapped */
	if (owner == FRAME_ANON)
		r = reclaim_anon_frame(b, s, evict);
	else
		r = reclaim_mapped_frame(b, s, evict);
	if (!r && frame_table[s].owner)
		clear_referenced(s);
	return r;
}

/* The clock over this process's slots: sweep until want slots are freed.
 * A slot in use whose referenced bit is set loses it and is deactivated
 * (a mapped frame unmapped, a private page made PROT_NONE: still resident,
 * and a fault that finds it again marks it referenced); one whose bit is
 * clear was not used for a whole turn and is evicted.  The hand looks at no more
 * than scan slots (at most a turn): it moves with the rate at which pages
 * are reclaimed, as Linux scans its lists a cluster at a time.  A full write-back queue ends the sweep too (the writes must
 * happen first).  frames_only: the pool needs room, so private pages are
 * passed by.  Caller holds lru_lock.  Returns the slots freed. */
static unsigned long sweep(unsigned long want, unsigned long scan, bool frames_only)
{
	struct reclaim_batch *b = batch_begin();

	if (scan > high_water)
		scan = high_water;
	for (unsigned long seen = 0; b->progress + nr_pending_swap < want && seen < scan && nr_pending_wb < RECLAIM_BATCH &&
				     nr_pending_swap < RECLAIM_BATCH;
	     seen++) {
		unsigned long s = clock_tick();
		if (frames_only && frame_table[s].owner == FRAME_ANON)
			continue;
		count_vm_event(EV_pgscan);
		unsigned long ref = __atomic_load_n(&frame_table[s].referenced, __ATOMIC_RELAXED);
		if (ref > 1) {	/* active: a turn more before it is deactivated */
			__atomic_store_n(&frame_table[s].referenced, 1UL, __ATOMIC_RELAXED);
			continue;
		}
		reclaim_slot(b, s, !ref);
		if (b->nr == BATCH_MAX)
			flush_batch(b);
	}
	flush_batch(b);
	return b->progress;
}

static unsigned long shrink_frames(unsigned long want, unsigned long scan)
{
	return sweep(want, scan, false);
}

/* A free slot, if the budget has one, without reclaiming.  Caller holds
 * lru_lock. */
static unsigned long take_free_slot(void)
{
	if (nr_free)
		return free_list[--nr_free];
	if (high_water < nr_slots)
		return ++high_water;
	return 0;
}

/* A free slot, reclaiming if the budget is reached.  Caller holds
 * lru_lock (dropped and retaken while the busy finish).  0 if nothing can
 * be reclaimed. */
static unsigned long take_slot(void)
{
	for (int tries = 0; tries < 8; tries++) {
		unsigned long s = take_free_slot();
		if (s)
			return s;
		/* a cluster at a time; harder (a whole turn) when that frees nothing */
		if (!shrink_frames(RECLAIM_BATCH, tries ? high_water : 4 * RECLAIM_BATCH)) {
			lru_unlock();	/* and the write-backs happen */
			host_yield();
			lru_lock_take();
		}
	}
	return 0;
}

/* ---- private pages ------------------------------------------------------ */

/* handler-safe: a free slot for a private page (reserve: for the page a
 * fault maps), reclaiming if the budget is reached, unless may_reclaim is
 * false (the caller holds a PTE lock: reclaim writes back); 0 if nothing
 * can be had: the caller fails the fault, or maps no neighbour. */
static unsigned long get_frame(bool may_reclaim)
{
	lru_lock_take();
	unsigned long s = may_reclaim ? take_slot() : take_free_slot();
	if (s) {
		frame_table[s].owner = FRAME_RESERVED;
		__atomic_store_n(&frame_table[s].referenced, 1UL, __ATOMIC_RELAXED);	/* in use now */
	}
	if (may_reclaim)
		lru_unlock();
	else
		lru_lock_drop();
	return s;
}

unsigned long alloc_frame(void)
{
	return get_frame(true);
}

/* handler-safe: alloc_frame without reclaim, for a caller holding a PTE lock. */
unsigned long alloc_free_frame(void)
{
	return get_frame(false);
}

/* handler-safe: slot s now holds the private page at addr. */
void set_frame(unsigned long s, unsigned long addr)
{
	frame_table[s].index = addr;
	__atomic_store_n(&frame_table[s].owner, FRAME_ANON, __ATOMIC_RELEASE);
}

/* handler-safe: the private page in slot s is gone. */
void free_frame(unsigned long s)
{
	lru_lock_take();
	put_slot(s);
	lru_lock_drop();
}

/* handler-safe: the private page at addr, in slot s (as its PTE says), is
 * gone.  The check keeps a slot number read from a PTE inherited across fork
 * from freeing another page's slot. */
void release_frame(unsigned long s, unsigned long addr)
{
	if (!s || s > nr_slots)
		return;
	lru_lock_take();
	if (frame_table[s].owner == FRAME_ANON && frame_table[s].index == addr)
		put_slot(s);
	lru_lock_drop();
}

/* handler-safe: the page in slot s was used: a fault mapped it back.  One
 * reclaim had deactivated it (its bit was clear) is active now: it was used
 * again, so it gets a turn more than a page used once (Linux's active
 * list). */
void mark_frame_accessed(unsigned long s)
{
	unsigned long inactive = 0;

	if (s && __atomic_compare_exchange_n(&frame_table[s].referenced, &inactive, 2UL, false, __ATOMIC_RELAXED,
					     __ATOMIC_RELAXED))
		count_vm_event(EV_pgactivate);
}

/* The private page in slot s moved to addr (mremap). */
void move_frame(unsigned long s, unsigned long addr)
{
	frame_table[s].index = addr;
}

/* ---- frames this process maps ------------------------------------------ */

/* handler-safe: this process is about to map frame pfn, page pgoff of
 * mapping (writable or not), at one more address, because the program
 * touched it (accessed) or around a fault; the caller holds the page lock,
 * and the PTE lock.  The frame's first mapping here takes a slot of the
 * budget, *spare if the caller reserved one (alloc_frame, before its PTE
 * lock: taking one may reclaim, and reclaim writes back), else a free one
 * if there is one, never reclaiming; or it finds the slot it kept when
 * reclaim deactivated it.  The process's bits are set in the frame's masks
 * before the host maps it, as eviction expects.  Device frames take no slot: they
 * are never evicted.  Returns 0, or -ENOMEM if no slot can be had. */
int frame_map(unsigned long pfn, struct address_space *mapping, unsigned long pgoff, bool writable,
	      bool accessed, unsigned long *spare)
{
	struct page *page = pfn_to_page(pfn);
	int r = 0;

	if (mapping->device)
		return 0;
	lru_lock_take();
	unsigned long s = pfn_slot[pfn];
	if (s && (frame_table[s].owner != (unsigned long)mapping || frame_table[s].index != pgoff))
		drop_slot(s);	/* the frame was evicted by another process and reused */
	if (!(s = pfn_slot[pfn])) {
		if (spare && *spare) {
			s = *spare;
			*spare = 0;
		} else if (!(s = take_free_slot())) {
			r = -ENOMEM;
			goto out;
		}
		frame_table[s] = (struct frame){ .owner = (unsigned long)mapping, .index = pgoff, .pfn = pfn,
						 .referenced = 1 };
		pfn_slot[pfn] = (uint32_t)s;
		page_hold(page, dom.slot);
	}
	/* A fault touched it, or mapped it around a touch of its neighbours
	 * after a reclaim had deactivated it: either way it is in use. */
	if (accessed || !frame_table[s].mapcount)
		mark_frame_accessed(s);
	frame_table[s].mapcount++;
	if (writable && !frame_table[s].wcount++)
		__atomic_or_fetch(&page->wmapped, SLOT_BIT(dom.slot), __ATOMIC_ACQ_REL);
out:
	lru_lock_drop();	/* it reclaimed nothing: no I/O to do, with the caller's PTE locked */
	return r;
}

/* handler-safe: does frame pfn already hold a slot here as page pgoff of
 * mapping (so mapping it takes none)?  A hint, read without lru_lock. */
bool frame_has_slot(unsigned long pfn, struct address_space *mapping, unsigned long pgoff)
{
	unsigned long s = __atomic_load_n(&pfn_slot[pfn], __ATOMIC_RELAXED);

	return s && frame_table[s].owner == (unsigned long)mapping && frame_table[s].index == pgoff;
}

/* handler-safe: this process read frame pfn, page pgoff of mapping, ahead
 * of its use: it holds it, unmapped, in a slot of its budget (as a page it
 * filled), so its own clock ages it with the pages it maps.  The caller
 * holds the page lock.  No slot to be had without reclaim: the pool holds
 * it alone. */
void frame_hold(unsigned long pfn, struct address_space *mapping, unsigned long pgoff)
{
	if (mapping->device)
		return;
	lru_lock_take();
	if (!pfn_slot[pfn] && (nr_free || high_water < nr_slots)) {
		unsigned long s = nr_free ? free_list[--nr_free] : ++high_water;
		frame_table[s] = (struct frame){ .owner = (unsigned long)mapping, .index = pgoff, .pfn = pfn,
						 .referenced = 1 };
		pfn_slot[pfn] = (uint32_t)s;
		page_hold(pfn_to_page(pfn), dom.slot);
	}
	lru_lock_drop();
}

/* handler-safe: one mapping of frame pfn here (writable or not) is gone
 * (munmap, a zap, a private copy replacing it): the host no longer maps it
 * at that address.  The last one gives the slot back and clears the
 * process's bits; an orphan frame nobody maps is then free. */
void frame_unmap(unsigned long pfn, bool writable)
{
	struct page *page = pfn_to_page(pfn);
	bool last = false;

	lru_lock_take();
	unsigned long s = pfn_slot[pfn];
	if (s) {
		struct frame *f = &frame_table[s];
		if (writable && f->wcount && !--f->wcount)
			__atomic_and_fetch(&page->wmapped, ~SLOT_BIT(dom.slot), __ATOMIC_ACQ_REL);
		if (f->mapcount && !--f->mapcount) {
			drop_slot(s);
			last = true;
		}
	}
	lru_lock_drop();
	if (last)
		put_page_if_orphan(pfn);
}

/* handler-safe: one of this process's mappings of frame pfn becomes
 * writable (before the host makes it so) or read-only (after). */
void frame_set_writable(unsigned long pfn, bool writable)
{
	struct page *page = pfn_to_page(pfn);

	lru_lock_take();
	unsigned long s = pfn_slot[pfn];
	if (s) {
		struct frame *f = &frame_table[s];
		if (writable && !f->wcount++)
			__atomic_or_fetch(&page->wmapped, SLOT_BIT(dom.slot), __ATOMIC_ACQ_REL);
		else if (!writable && f->wcount && !--f->wcount)
			__atomic_and_fetch(&page->wmapped, ~SLOT_BIT(dom.slot), __ATOMIC_ACQ_REL);
	}
	lru_lock_drop();
}

/* MADV_COLD (evict false) and MADV_PAGEOUT (true) of the private page in
 * slot s: deactivate it, or swap it now.  Returns 0 or -EAGAIN. */
int reclaim_frame_now(unsigned long s, bool evict)
{
	int r;

	lru_lock_take();
	struct reclaim_batch *b = batch_begin();	/* the one batch: under lru_lock */
	r = reclaim_slot(b, s, evict);
	flush_batch(b);
	lru_unlock();
	return r;
}

/* MADV_COLD and MADV_PAGEOUT of a frame this process maps: deactivated
 * here (unmapped, unreferenced: reclaim takes it first), and for PAGEOUT
 * let go of at once.  Returns 0 or -EAGAIN. */
int reclaim_pfn_now(unsigned long pfn, bool evict)
{
	int r = -EAGAIN;

	lru_lock_take();
	struct reclaim_batch *b = batch_begin();	/* the one batch: under lru_lock */
	unsigned long s = pfn_slot[pfn];
	if (s) {
		r = reclaim_slot(b, s, false);
		flush_batch(b);
		clear_referenced(s);
		if (!r && evict && pfn_slot[pfn] == s && !frame_table[s].mapcount)
			drop_slot(s);	/* the caller evicts it from the pool */
	}
	lru_unlock();
	return r;
}

/* Forget every frame this process maps (vme_shutdown: its mappings are
 * gone). */
void unmap_all_frames(void)
{
	lru_lock_take();
	for (unsigned long s = 1; s <= high_water; s++) {
		struct frame *f = &frame_table[s];
		if (f->owner <= FRAME_RESERVED)
			continue;
		__atomic_and_fetch(&pfn_to_page(f->pfn)->wmapped, ~SLOT_BIT(dom.slot), __ATOMIC_ACQ_REL);
		drop_slot(s);
	}
	lru_lock_drop();
}

/* ---- the pool ------------------------------------------------------------ */

/* What eviction should do with a frame the hand found, its page locked. */
enum pool_verdict {
	POOL_SKIP,		/* in use, referenced, busy: leave it */
	POOL_FREE,		/* free it: out of the index if it is in one */
	POOL_WRITEBACK,		/* dirty: write it back (outside the lock), evict later */
	POOL_SWAP,		/* a shared anonymous page only this process uses */
};

static enum pool_verdict pool_judge(unsigned long pfn, bool second_chance)
{
	struct page *page = pfn_to_page(pfn);
	uint32_t flags = __atomic_load_n(&page->flags, __ATOMIC_ACQUIRE);

	if (!page->inode || (flags & (PG_reserved | PG_writeback)))
		return POOL_SKIP;
	if (__atomic_load_n(&page->mapped, __ATOMIC_ACQUIRE) & live_slots())
		return POOL_SKIP;
	if (page_is_orphan(pfn))
		return POOL_FREE;
	struct inode *inode = inode_of(page->inode - 1);
	if (inode->kind == I_DEVICE)
		return POOL_SKIP;
	slotmask_t users = __atomic_load_n(&inode->users, __ATOMIC_ACQUIRE) & live_slots();
	if (inode->kind == I_SHMEM && !users)
		return POOL_FREE;		/* garbage: nobody can see it any more */
	if ((flags & PG_referenced) && second_chance) {
		__atomic_and_fetch(&page->flags, ~(uint32_t)PG_referenced, __ATOMIC_RELAXED);
		return POOL_SKIP;
	}
	if (inode->kind == I_SHMEM)
		return users == SLOT_BIT(dom.slot) && swap_enabled() ? POOL_SWAP : POOL_SKIP;
	if (flags & PG_dirty)
		return POOL_WRITEBACK;
	return POOL_FREE;
}

/* handler-safe: act on locked frame pfn as pool_judge says (unlocking it):
 * free it, swap it, or queue it in wb[] for write-back.  True if freed. */
static bool evict_locked(unsigned long pfn, bool second_chance, unsigned long *wb, unsigned long *nwb)
{
	switch (pool_judge(pfn, second_chance)) {
	case POOL_FREE:
		if (!page_is_orphan(pfn)) {
			delete_from_page_cache(pfn);
			count_vm_event(EV_pgevict);
		}
		free_page_frame(pfn);
		return true;
	case POOL_SWAP:
		if (shmem_reclaim_page(pfn))	/* frees the frame */
			return true;
		break;
	case POOL_WRITEBACK:
		if (*nwb < RECLAIM_BATCH)
			wb[(*nwb)++] = pfn;
		break;
	case POOL_SKIP:
		break;
	}
	unlock_page(pfn);
	return false;
}

/* handler-safe: write back the dirty frames eviction found, with no lock
 * held, through this process's descriptor of their files (a file it does
 * not have open is left to those that do). */
static void writeback_victims(const unsigned long *wb, unsigned long nwb)
{
	for (unsigned long i = 0; i < nwb; i++) {
		struct page *page = pfn_to_page(wb[i]);
		uint32_t ino = __atomic_load_n(&page->inode, __ATOMIC_ACQUIRE);
		struct address_space *mapping = ino ? mapping_find(&init_mm, inode_of(ino - 1)) : NULL;
		if (mapping && mapping->fd >= 0)
			writeback_pfn(mapping, wb[i]);
	}
}

/* handler-safe: evict up to want frames of the pool that no live process
 * maps: the domain's clock.  Dirty pages are written back (by this process,
 * if it has the file open) with no lock held, and go on a later pass.
 * Caller holds mmap_lock (the write-back looks its files up) and no page
 * lock.  Returns the frames freed. */
unsigned long shrink_pool(unsigned long want)
{
	struct domain_header *h = dom.hdr;
	unsigned long wb[RECLAIM_BATCH] = { 0 }, freed = 0, nwb = 0;
	unsigned long nr = __atomic_load_n(&h->nr_frames, __ATOMIC_ACQUIRE);

	for (unsigned long seen = 0; nr && seen < 2 * nr && freed < want; seen++) {
		unsigned long pfn = __atomic_fetch_add(&h->hand, 1, __ATOMIC_RELAXED) % nr;
		struct page *page = pfn_to_page(pfn);
		if (!__atomic_load_n(&page->inode, __ATOMIC_RELAXED) || !trylock_page(pfn))
			continue;
		count_vm_event(EV_pgscan);
		if (evict_locked(pfn, true, wb, &nwb))
			freed++;
	}
	writeback_victims(wb, nwb);
	if (!freed)
		domain_reap_dead();	/* frames held by the dead are free to go */
	return freed;
}

/* handler-safe: the pool is full of what this process holds: its own clock
 * runs over its frames, as for its budget (deactivating what it maps,
 * evicting what it deactivated and did not use since), looking at no more
 * than scan slots.  Returns the frames freed. */
unsigned long shrink_own_frames(unsigned long want, unsigned long scan)
{
	lru_lock_take();
	unsigned long n = sweep(want, scan, true);
	return n + lru_unlock();
}

/* ---- the host's mapping limit ------------------------------------------- */

/* handler-safe: count the host's mappings of the process, with no lock
 * held (the count reads /proc/self/maps, which walks the host's page
 * tables); if it is at its share of vm.max_map_count, unmap frames in clock
 * order, under lru_lock a round at a time, until it is back under half of
 * that, so every scattered page made PROT_NONE again merges with its
 * neighbours, counting again between rounds.  Then set the next check
 * point.  Caller is host_vma_counter. */
static void host_vmas_count(void)
{
	int count = host_count_mappings();

	if (count >= 0 && (unsigned long)count >= host_vma_soft) {
		count_vm_event(EV_host_vma_reclaim);
		for (int round = 0; round < 8 && count >= 0 && (unsigned long)count > host_vma_soft / 2;
		     round++) {
			/* Each page unmapped merges one or two host mappings
			 * away (a written private page keeps the host's
			 * anon_vma and merges on one side only). */
			lru_lock_take();
			struct reclaim_batch *b = batch_begin();	/* the one batch: under lru_lock */
			unsigned long goal = (unsigned long)count - host_vma_soft / 2;
			for (unsigned long seen = 0; b->unmapped + b->nr < goal && seen < high_water; seen++) {
				reclaim_slot(b, clock_tick(), false);
				if (b->nr == BATCH_MAX)
					flush_batch(b);
			}
			flush_batch(b);
			lru_lock_drop();
			count = host_count_mappings();
		}
	}
	if (count >= 0) {
		/* Mappings that are not ours to merge (the program's own) keep
		 * the count high: look again only after a quarter of the room
		 * left, not at every fault. */
		unsigned long c = (unsigned long)count, next = host_vma_soft;
		if (c >= host_vma_soft / 2)
			next = c + (host_vma_limit > c ? (host_vma_limit - c) / 4 : 1);
		__atomic_store_n(&host_vmas_counted, c, __ATOMIC_RELAXED);
		__atomic_store_n(&host_vma_estimate, c, __ATOMIC_RELAXED);
		__atomic_store_n(&host_vma_next_check, next < host_vma_soft ? host_vma_soft : next,
				 __ATOMIC_RELAXED);
	}
}

/* handler-safe: become the thread that counts, if no other thread is; with
 * wait, wait for the one that is to finish first. */
static bool host_vmas_count_begin(bool wait)
{
	if (!wait && __atomic_load_n(&host_vma_counter, __ATOMIC_RELAXED))
		return false;

	pid_t none = 0, self = host_gettid();

	while (!__atomic_compare_exchange_n(&host_vma_counter, &none, self, false, __ATOMIC_ACQUIRE,
					    __ATOMIC_RELAXED)) {
		if (!wait || none == self)	/* a count in this very thread: nothing to wait for */
			return false;
		none = 0;
		host_yield();
	}
	return true;
}

static void host_vmas_count_end(void)
{
	__atomic_store_n(&host_vma_counter, 0, __ATOMIC_RELEASE);
}

/* handler-safe: account n host protection changes, each of which can split
 * a host mapping in three.  When the bound says the process may be near
 * its share of vm.max_map_count, count for real and reclaim if need be
 * (host_vmas_count), unless another thread is doing so already.  Never
 * fails: an access then goes on and faults them back as needed. */
void host_vmas_account(unsigned long n)
{
	if (__atomic_add_fetch(&host_vma_estimate, 2 * n, __ATOMIC_RELAXED) <
	    __atomic_load_n(&host_vma_next_check, __ATOMIC_RELAXED) ||
	    !host_vmas_count_begin(false))
		return;
	host_vmas_count();
	host_vmas_count_end();
}

/* handler-safe: the host refused a protection change (ENOMEM: its mapping
 * limit).  Bring the count down now, whatever the estimate says, once a
 * count another thread is making has ended. */
void host_vmas_pressure(void)
{
	__atomic_store_n(&host_vma_next_check, 0UL, __ATOMIC_RELAXED);
	if (!host_vmas_count_begin(true))
		return;
	host_vmas_count();
	host_vmas_count_end();
}

/* ---- the frame table as it is (debug.c, filemap.c) ----------------------- */

/* The table's counts and arrays, read without lru_lock: exact when no other
 * thread of the process is in vmemu (the walker), a hint otherwise. */
void frame_table_info(struct frame_table_info *t)
{
	*t = (struct frame_table_info){ .nr_slots = nr_slots, .high_water = high_water, .nr_free = nr_free,
					.free_list = free_list, .pfn_slot = pfn_slot };
}

/* Slot s (1 .. high water) as it is, read the same way. */
void frame_slot_info(unsigned long s, struct frame_info *fi)
{
	const struct frame *f = &frame_table[s];

	*fi = (struct frame_info){ .index = f->index };
	if (f->owner == 0)
		fi->kind = FI_FREE;
	else if (f->owner == FRAME_RESERVED)
		fi->kind = FI_RESERVED;
	else if (f->owner == FRAME_ANON)
		fi->kind = FI_ANON;
	else
		*fi = (struct frame_info){ .kind = FI_MAPPED, .mapping = (struct address_space *)f->owner,
					   .index = f->index, .pfn = f->pfn, .mapcount = f->mapcount,
					   .wcount = f->wcount };
}
