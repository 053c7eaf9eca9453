/*
 * vmscan.c - the memory budget and reclaim (mm/vmscan.c, mm/swap.c).
 *
 * Every resident frame (a page-cache page, a private anonymous page, a
 * private COW copy) holds a slot in mem_map, the frame table, as every page
 * frame has a struct page.  There are as many slots as the budget has pages,
 * so resident frames can never exceed it.  A frame whose slot is wanted back
 * is found from the slot: a page-cache page through its address_space and
 * the VMAs that map it (the rmap, i_mmap), a private page through its
 * address.
 *
 * When no slot is free, the faulting thread reclaims (direct reclaim) with a
 * clock over the frame table, the software form of the kernel's two LRU
 * lists.  The host gives no accessed bit, so reclaim makes one: a frame the
 * hand finds referenced loses the bit and is unmapped (PROT_NONE, still
 * resident); if the program uses it again, a cheap fault maps it back and
 * sets the bit.  A frame the hand finds unreferenced was not used for a whole
 * turn and is evicted: a clean file page is dropped, a dirty one written back
 * first, a private or shared-anonymous page written to swap.  A one-pass scan
 * so passes through without pushing out a working set that is in use.
 * Host protection changes and hole punches are batched over neighbouring
 * frames, so a sequential stream is reclaimed in clusters.
 *
 * Device pages have no slot: the driver owns them (the kernel's VM_IO).
 * Page caches shared with a forked child are not reclaimed: the other
 * process may map them, and only it could unmap them.
 *
 * The frame table is guarded by lru_lock, a spinlock taken in the fault
 * path and in system calls with asynchronous signals blocked (mm/lock.c), so
 * no handler can interrupt its holder.  Reclaim takes page and PTE locks only
 * with trylock and skips what it cannot take, so it never waits on a fault.
 */
#include <errno.h>
#include <string.h>

#include "host/host.h"
#include "mm/mm.h"
#include "mm/vmstat.h"

#define PAGE_OWNER_ANON		1UL	/* a private page: index is its address */
#define PAGE_OWNER_RESERVED	2UL	/* being installed by a fault */
#define MAX_BUDGET_PAGES	(1UL << 24)	/* 64 GiB */
#define RECLAIM_BATCH		32	/* frames evicted per direct reclaim */
#define PENDING_MAX		64	/* evicted frames waiting for their hole punch */

struct page {
	unsigned long owner;	/* struct address_space *, PAGE_OWNER_*, or 0: free */
	unsigned long index;	/* pgoff in the owner, or the address of a private page */
	unsigned long referenced;	/* used since the hand last passed */
};

static struct page *mem_map;	/* slots 1 .. nr_frames; 0 means "no frame" */
static uint32_t *free_list;	/* freed slots */
static unsigned long nr_frames, nr_free, high_water, hand = 1;
static int lru_lock;
static char *swap_buf;		/* reclaim's bounce page for swap-out (under lru_lock) */
static int self_mem = -1;	/* /proc/self/mem: PROT_NONE pages read and written */

/* The host-mapping budget: vm.max_map_count, how many mappings reclaim lets
 * the process reach, and an upper bound on how many it has now. */
static unsigned long host_vma_limit, host_vma_soft, host_vma_estimate, host_vmas_counted;
static unsigned long host_vma_next_check;	/* count again when the estimate reaches this */

static void lru_lock_take(void)
{
	while (__atomic_exchange_n(&lru_lock, 1, __ATOMIC_ACQUIRE))
		host_yield();
}

static void lru_lock_drop(void)
{
	__atomic_store_n(&lru_lock, 0, __ATOMIC_RELEASE);
}

/* Slot s is free again.  Caller holds lru_lock. */
static void put_slot(unsigned long s)
{
	mem_map[s].owner = 0;
	__atomic_store_n(&mem_map[s].referenced, 0UL, __ATOMIC_RELAXED);
	free_list[nr_free++] = (uint32_t)s;
}

/* The slot under the clock hand; the hand moves on.  Caller holds lru_lock. */
static unsigned long clock_tick(void)
{
	unsigned long s = hand;

	hand = hand >= high_water ? 1 : hand + 1;
	return s;
}

/* The budget in pages: cache_mb, or a quarter of physical memory (at least
 * 64 MiB).  Returns 0 or -errno. */
int vmscan_init(unsigned long cache_mb)
{
	unsigned long pages = cache_mb << (20 - PAGE_SHIFT);
	void *a, *b;
	int r;

	if (mem_map)
		return 0;
	if (!pages) {
		pages = host_phys_pages() / 4;
		if (pages < (64UL << (20 - PAGE_SHIFT)))
			pages = 64UL << (20 - PAGE_SHIFT);
	}
	if (pages > MAX_BUDGET_PAGES)
		pages = MAX_BUDGET_PAGES;
	size_t list_len = PAGE_ALIGN(pages * sizeof(*free_list));
	if ((r = host_self_mem_open(&self_mem)))
		return r;
	if ((r = host_alloc_private((pages + 1) * sizeof(struct page), &a)))
		goto out_close;
	if ((r = host_alloc_private(list_len + PAGE_SIZE, &b))) {	/* the list, then swap_buf */
		host_free(a, (pages + 1) * sizeof(struct page));
		goto out_close;
	}
	mem_map = a;
	free_list = b;
	swap_buf = (char *)b + list_len;
	nr_frames = pages;
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

/* In a forked child: /proc/self/mem still shows the parent. */
void vmscan_fork_child(void)
{
	lru_lock = 0;
	if (self_mem >= 0) {
		host_close(self_mem);
		if (host_self_mem_open(&self_mem))
			self_mem = -1;
	}
}

unsigned long nr_budget_pages(void)
{
	return nr_frames;
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

/* ---- protection, hole-punch and discard batches --------------------- */

/* Frames reclaim has unmapped, written out and still holds locked, waiting
 * for their backing to be freed: a hole punched in their memfd (page cache)
 * or their host page discarded (private).  Freed in runs, then unlocked. */
struct reclaim_batch {
	unsigned long prot_start, prot_end;	/* pending PROT_NONE */
	unsigned int nr_prot;			/* ... the PTEs it covers, to undo */
	pte_t *prot_ptep[PENDING_MAX];
	pte_t prot_old[PENDING_MAX];
	int punch_fd;				/* pending hole: memfd, byte range */
	unsigned long punch_start, punch_end;
	unsigned long discard_start, discard_end;	/* pending MADV_DONTNEED */
	unsigned int nr;
	unsigned long slot[PENDING_MAX];
	pte_t *ptep[PENDING_MAX];		/* private: the locked PTE; page cache: NULL */
	pte_t newpte[PENDING_MAX];		/* private: the swap PTE to set */
	unsigned long progress;			/* frames freed */
	unsigned long unmapped;			/* pages made PROT_NONE */
};

/* Make the pending range PROT_NONE.  Its PTEs already say so; if the host
 * refuses (its mapping limit), the pages are still accessible, so their
 * PTEs are put back and the caller must not evict them. */
static int flush_protect(struct reclaim_batch *b)
{
	int r = 0;

	if (b->prot_end > b->prot_start &&
	    (r = host_protect(b->prot_start, b->prot_end - b->prot_start, HOST_PROT_NONE))) {
		for (unsigned int i = 0; i < b->nr_prot; i++) {
			pte_t expect = ptep_get(b->prot_ptep[i]);
			if (expect == 0 || expect == (b->prot_old[i] & ~(pte_t)(PTE_PRESENT | PTE_WRITE)))
				set_pte_at(0, b->prot_ptep[i], b->prot_old[i]);
		}
	}
	b->prot_start = b->prot_end = 0;
	b->nr_prot = 0;
	return r;
}

/* The PTE at addr, which was old, now says "not present": queue the host
 * side. */
static void batch_protect(struct reclaim_batch *b, unsigned long addr, pte_t *ptep, pte_t old)
{
	if (addr != b->prot_end || b->nr_prot == PENDING_MAX)
		flush_protect(b);
	if (b->prot_end == b->prot_start)
		b->prot_start = addr;
	b->prot_end = addr + PAGE_SIZE;
	b->prot_ptep[b->nr_prot] = ptep;
	b->prot_old[b->nr_prot++] = old;
	b->unmapped++;
}

/* Free the pending frames' backing, then the frames themselves. */
static void flush_pending(struct reclaim_batch *b)
{
	if (b->punch_end > b->punch_start)
		host_punch_hole(b->punch_fd, (off_t)b->punch_start, (off_t)(b->punch_end - b->punch_start));
	if (b->discard_end > b->discard_start)
		host_discard(b->discard_start, b->discard_end - b->discard_start);
	b->punch_start = b->punch_end = b->discard_start = b->discard_end = 0;
	for (unsigned int i = 0; i < b->nr; i++) {
		struct page *page = &mem_map[b->slot[i]];
		if (b->ptep[i]) {
			set_pte_at(page->index, b->ptep[i], b->newpte[i]);
			pte_unlock(b->ptep[i]);
		} else {
			struct address_space *mapping = (struct address_space *)page->owner;
			pgflags_t *f = &mapping->flags[page->index], v = __atomic_load_n(f, __ATOMIC_RELAXED);
			/* not uptodate, still locked; the swap entry stays if there is one */
			__atomic_store_n(f, (v & PG_swap) ? v : PG_locked, __ATOMIC_RELEASE);
			unlock_page(mapping, page->index);
			count_vm_event(EV_pgevict);
		}
		put_slot(b->slot[i]);
	}
	b->progress += b->nr;
	b->nr = 0;
}

static void batch_punch(struct reclaim_batch *b, int fd, unsigned long pgoff)
{
	unsigned long off = pgoff << PAGE_SHIFT;

	if (b->nr == PENDING_MAX || b->discard_end > b->discard_start ||
	    (b->punch_end > b->punch_start && (fd != b->punch_fd || off != b->punch_end)))
		flush_pending(b);
	if (b->punch_end == b->punch_start) {
		b->punch_fd = fd;
		b->punch_start = off;
	}
	b->punch_end = off + PAGE_SIZE;
}

static void batch_discard(struct reclaim_batch *b, unsigned long addr)
{
	if (b->nr == PENDING_MAX || b->punch_end > b->punch_start ||
	    (b->discard_end > b->discard_start && addr != b->discard_end))
		flush_pending(b);
	if (b->discard_end == b->discard_start)
		b->discard_start = addr;
	b->discard_end = addr + PAGE_SIZE;
}

/* ---- one frame ------------------------------------------------------- */

/* Take page-cache page pgoff out of every VMA that maps it (private copies
 * stay), adding the addresses to the protection batch.  False if a PTE is
 * locked by a fault: the page is in use, leave it. */
static bool unmap_cache_page(struct reclaim_batch *b, struct address_space *mapping,
			     unsigned long pgoff)
{
	for (struct vm_area_struct *vma = mapping->i_mmap; vma; vma = vma->shared_next) {
		if (pgoff < vma->vm_pgoff || pgoff >= vma->vm_pgoff + vma_pages(vma))
			continue;
		unsigned long addr = vma->vm_start + ((pgoff - vma->vm_pgoff) << PAGE_SHIFT);
		pte_t *pte = pte_offset(addr, false);
		if (!pte || (ptep_get(pte) & (PTE_PRESENT | PTE_ANON)) != PTE_PRESENT)
			continue;
		if (!pte_trylock(pte))
			return false;
		pte_t old = ptep_get(pte);
		set_pte_at(addr, pte, 0);
		pte_unlock(pte);
		batch_protect(b, addr, pte, old);
	}
	return true;
}

/* May this cache's pages be reclaimed at all? */
static bool mapping_reclaimable(const struct address_space *mapping)
{
	if (mapping->device || __atomic_load_n(&mapping->shared->forked, __ATOMIC_ACQUIRE))
		return false;
	return mapping->a_ops->writepage || swap_enabled();	/* shmem needs swap */
}

/* Reclaim the page-cache frame in slot s: unmap it (deactivate) or evict
 * it.  Returns 0, or -EAGAIN if it is busy or cannot go now. */
static int reclaim_cache_frame(struct reclaim_batch *b, unsigned long s, bool evict)
{
	struct page *page = &mem_map[s];
	struct address_space *mapping = (struct address_space *)page->owner;
	unsigned long pgoff = page->index, entry = 0;
	pgflags_t *f = &mapping->flags[pgoff];

	if (!mapping_reclaimable(mapping) || !trylock_page(mapping, pgoff))
		return -EAGAIN;
	if ((*f & (PG_uptodate | PG_swap)) != PG_uptodate || pg_val(*f) != s ||
	    !unmap_cache_page(b, mapping, pgoff))
		goto busy;
	if (!evict) {
		unlock_page(mapping, pgoff);
		count_vm_event(EV_pgdeactivate);
		return 0;
	}
	if (flush_protect(b))
		goto busy;
	char *data = mapping->direct + (pgoff << PAGE_SHIFT);
	if (!mapping->a_ops->writepage) {	/* shmem: its only copy goes to swap */
		if (!get_swap_pages(1, &entry))
			goto busy;
		if (swap_writepage(entry, data, 1)) {
			swap_free(entry);
			goto busy;
		}
		__atomic_store_n(f, PG_locked | PG_swap | ((pgflags_t)entry << PG_VAL_SHIFT), __ATOMIC_RELEASE);
		mapping->nr_swapped++;
	} else if ((*f & PG_dirty) && writeback_locked_page(mapping, pgoff)) {
		goto busy;	/* kept, dirty; the error is the mapping's to report */
	}
	batch_punch(b, mapping->memfd, pgoff);
	b->slot[b->nr] = s;
	b->ptep[b->nr++] = NULL;
	return 0;
busy:
	unlock_page(mapping, pgoff);
	return -EAGAIN;
}

/* Reclaim the private frame in slot s, mapped at page->index. */
static int reclaim_anon_frame(struct reclaim_batch *b, unsigned long s, bool evict)
{
	struct page *page = &mem_map[s];
	unsigned long addr = page->index, entry;
	pte_t *pte = pte_offset(addr, false);

	if (!pte || (evict && !swap_enabled()) || !pte_trylock(pte))
		return -EAGAIN;
	pte_t v = ptep_get(pte);
	if (!(v & PTE_ANON) || pte_val(v) != s)
		goto busy;
	if (v & PTE_PRESENT) {
		set_pte_at(addr, pte, mk_pte(PTE_ANON, s));
		batch_protect(b, addr, pte, v);
	}
	if (!evict) {
		pte_unlock(pte);
		count_vm_event(EV_pgdeactivate);
		return 0;
	}
	if (flush_protect(b))
		goto busy;
	if (!get_swap_pages(1, &entry))
		goto busy;
	if (host_self_mem_rw(self_mem, swap_buf, PAGE_SIZE, addr, false) < 0 ||
	    swap_writepage(entry, swap_buf, 1)) {
		swap_free(entry);
		goto busy;	/* still in memory, PROT_NONE: nothing lost */
	}
	batch_discard(b, addr);
	b->slot[b->nr] = s;
	b->ptep[b->nr] = pte;
	b->newpte[b->nr++] = mk_pte(PTE_SWAP, entry);
	return 0;
busy:
	pte_unlock(pte);
	return -EAGAIN;
}

/* Deactivate or evict the frame in slot s; either way it is no longer
 * referenced.  Returns 0, or -EAGAIN if it is free, busy or pinned. */
static int reclaim_frame(struct reclaim_batch *b, unsigned long s, bool evict)
{
	unsigned long owner = mem_map[s].owner;
	int r;

	if (owner == 0 || owner == PAGE_OWNER_RESERVED)
		return -EAGAIN;
	if (owner == PAGE_OWNER_ANON)
		r = reclaim_anon_frame(b, s, evict);
	else
		r = reclaim_cache_frame(b, s, evict);
	if (!r)
		__atomic_store_n(&mem_map[s].referenced, 0UL, __ATOMIC_RELAXED);
	return r;
}

static void finish_batch(struct reclaim_batch *b)
{
	flush_protect(b);
	flush_pending(b);
}

/* The clock: sweep until want frames are freed or two turns found nothing.
 * Caller holds lru_lock.  Returns the frames freed. */
static unsigned long shrink_frames(unsigned long want)
{
	struct reclaim_batch b = { .nr = 0 };

	for (unsigned long seen = 0; b.progress + b.nr < want && seen < 2 * high_water; seen++) {
		unsigned long s = clock_tick();
		count_vm_event(EV_pgscan);
		reclaim_frame(&b, s, !__atomic_load_n(&mem_map[s].referenced, __ATOMIC_RELAXED));
	}
	finish_batch(&b);
	return b.progress;
}

/* ---- the interface --------------------------------------------------- */

/* handler-safe: a free frame slot, reclaiming if the budget is reached; 0 if
 * nothing can be reclaimed (every frame is busy, dirty with a failing
 * write-back, or private with swap off): the caller fails the fault. */
unsigned long alloc_frame(void)
{
	unsigned long s = 0;

	lru_lock_take();
	for (int tries = 0; !s && tries < 8; tries++) {
		if (nr_free)
			s = free_list[--nr_free];
		else if (high_water < nr_frames)
			s = ++high_water;
		else if (!shrink_frames(RECLAIM_BATCH)) {	/* all busy: let their faults finish */
			lru_lock_drop();
			host_yield();
			lru_lock_take();
		}
	}
	if (s) {
		mem_map[s].owner = PAGE_OWNER_RESERVED;
		__atomic_store_n(&mem_map[s].referenced, 1UL, __ATOMIC_RELAXED);	/* in use now */
	}
	lru_lock_drop();
	return s;
}

/* handler-safe: the frame in slot s, if it still holds page index of owner
 * (NULL: the private page at address index), is gone.  The check keeps a
 * slot number inherited across fork from freeing another page's frame. */
void release_frame(unsigned long s, const struct address_space *owner, unsigned long index)
{
	unsigned long o = owner ? (unsigned long)owner : PAGE_OWNER_ANON;

	if (!s || s > nr_frames)
		return;
	lru_lock_take();
	if (mem_map[s].owner == o && mem_map[s].index == index)
		put_slot(s);
	lru_lock_drop();
}

/* handler-safe: slot s now holds the page index of owner (an address_space,
 * or NULL for the private page at address index). */
void set_frame(unsigned long s, const struct address_space *owner, unsigned long index)
{
	mem_map[s].index = index;
	__atomic_store_n(&mem_map[s].owner, owner ? (unsigned long)owner : PAGE_OWNER_ANON,
			 __ATOMIC_RELEASE);
}

/* handler-safe: the frame in slot s is gone (unmapped, truncated, freed). */
void free_frame(unsigned long s)
{
	lru_lock_take();
	put_slot(s);
	lru_lock_drop();
}

/* handler-safe: the frame was used: a fault mapped it (mark_page_accessed). */
void mark_frame_accessed(unsigned long s)
{
	if (s && !__atomic_exchange_n(&mem_map[s].referenced, 1UL, __ATOMIC_RELAXED))
		count_vm_event(EV_pgactivate);
}

/* The private page in slot s moved to addr (mremap). */
void move_frame(unsigned long s, unsigned long addr)
{
	mem_map[s].index = addr;
}

/* Free the slots of every frame of mapping (it is being freed). */
void free_mapping_frames(const struct address_space *mapping)
{
	lru_lock_take();
	for (unsigned long s = 1; s <= high_water; s++)
		if (mem_map[s].owner == (unsigned long)mapping)
			put_slot(s);
	lru_lock_drop();
}

/* MADV_COLD (evict false) and MADV_PAGEOUT (true) of the frame in slot s:
 * deactivate it, or reclaim it now.  Returns 0 or -EAGAIN (busy, pinned). */
int reclaim_frame_now(unsigned long s, bool evict)
{
	struct reclaim_batch b = { .nr = 0 };
	int r;

	lru_lock_take();
	r = reclaim_frame(&b, s, evict);
	finish_batch(&b);
	lru_lock_drop();
	return r;
}

/* handler-safe: account n host protection changes, each of which can split
 * a host mapping in three.  When the bound says the process may be near
 * its share of vm.max_map_count, count for real; if it is, unmap frames in
 * clock order until it is back under half of that, so every scattered page
 * made PROT_NONE again merges with its neighbours.  Never fails: an access
 * then goes on and faults them back as needed. */
void host_vmas_account(unsigned long n)
{
	if (__atomic_add_fetch(&host_vma_estimate, 2 * n, __ATOMIC_RELAXED) <
	    __atomic_load_n(&host_vma_next_check, __ATOMIC_RELAXED))
		return;
	lru_lock_take();
	int count = host_count_mappings();
	if (count >= 0 && (unsigned long)count >= host_vma_soft) {
		count_vm_event(EV_host_vma_reclaim);
		for (int round = 0; round < 8 && count >= 0 && (unsigned long)count > host_vma_soft / 2;
		     round++) {
			/* Each page unmapped merges one or two host mappings
			 * away (a written private page keeps the host's
			 * anon_vma and merges on one side only). */
			struct reclaim_batch b = { .nr = 0 };
			unsigned long goal = (unsigned long)count - host_vma_soft / 2;
			for (unsigned long seen = 0; b.unmapped < goal && seen < high_water; seen++)
				reclaim_frame(&b, clock_tick(), false);
			finish_batch(&b);
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
	lru_lock_drop();
}

/* handler-safe: the host refused a protection change (ENOMEM: its mapping
 * limit).  Bring the count down now, whatever the estimate says. */
void host_vmas_pressure(void)
{
	__atomic_store_n(&host_vma_next_check, 0UL, __ATOMIC_RELAXED);
	host_vmas_account(0);
}
