/*
 * debug.c - the invariant walker (mm/debug.c's VM_BUG_ON and dump_page; in
 * the manner of mimalloc's mi_page_is_valid).
 *
 * check_vm() compares what vmemu keeps twice, and reports each place where
 * the two disagree:
 *
 *  - The frame table (vmscan.c) against the PTEs: a frame's mapcount and
 *    wcount are the present PTEs of this process's VMAs that map it
 *    (writable ones); pfn_slot names the slot that names the frame; this
 *    process's bit in a frame's `mapped` mask is set exactly when it holds
 *    a slot for it, its bit in `wmapped` exactly when it maps it writable;
 *    the free list holds exactly the free slots; a private page's slot is
 *    the one its PTE names.
 *  - The PTEs against the page cache: a present PTE of a file or shmem VMA
 *    maps a frame whose struct page names that VMA's inode and the page
 *    offset; if the index still holds that frame there, it is uptodate,
 *    and dirty when the PTE is writable in a file that is written back
 *    (else the frame is an orphan, which lazy invalidation allows).  No PTE
 *    lock is held; no PTE is set between two VMAs; only shared VMAs map a
 *    frame writable; every file VMA is on its mapping's i_mmap list.
 *  - The pool: nr_free against the free bitmap; a free frame's struct page
 *    is cleared; nr_held against the frames some slot holds.
 *  - Each inode: nrpages and nrswapped against its index, whose entries name
 *    frames that name them back; nrdirty and nrwriteback against the frames
 *    that name it with PG_dirty and PG_writeback.
 *  - This process holds no shared lock and no reserved frame.
 *
 * Locks: mmap_lock for writing (no fault of this process runs), with
 * asynchronous signals blocked; the domain lock and alloc_lock for the pool
 * (no process attaches, leaves or allocates meanwhile); each inode's
 * i_pages_lock for its index.  This process's own structures are then
 * still.  Other live processes of the domain may change the shared ones
 * meanwhile, so with another live process the walk checks only what they
 * cannot make disagree: the bitmap against nr_free (alloc_lock); this
 * process's bits, slots and locks; and the inodes only this process uses
 * (their users mask is its bit alone, before and after: another process
 * can then only evict their clean pages, under the page and i_pages
 * locks).  nr_held, the other inodes and frames in use that name no inode
 * are checked only when no other process is live (vm_check.domain_wide).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/host.h"
#include "mm/debug.h"
#include "mm/mm.h"

#define MAX_REPORTS	16
#define GAP_PAGES_CHECKED (1UL << 18)	/* gaps between VMAs of up to 1 GiB are walked */

/* One walk: its findings and what it learnt on the way. */
struct walk {
	struct vm_check *c;
	struct mm_struct *mm;
	struct frame_table_info t;
	unsigned long nr_frames;	/* the pool's size, as read under alloc_lock */
	uint32_t *map_tally;		/* per slot: present PTEs seen mapping its frame */
	uint32_t *write_tally;		/* ... writable */
	uint64_t *dirty;		/* per inode: frames naming it with PG_dirty */
	uint64_t *writeback;		/* ... with PG_writeback */
};

static void vm_bug(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Domain-wide checks hold only while no other process is live: one that
 * attached since the walk began may be in the middle of an allocation or a
 * free, which the walk would take for a broken frame.  Asked again at each
 * finding, after the state that looked wrong was read. */
static bool alone(const struct walk *w)
{
	return w->c->domain_wide && live_slots() == SLOT_BIT(dom.slot);
}

/* Record a violation: the first is kept, the first few are printed if asked. */
static void vm_bug(struct walk *w, const char *fmt, ...)
{
	char msg[sizeof(w->c->first)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!w->c->errors++)
		memcpy(w->c->first, msg, sizeof(msg));
	if (w->c->report && w->c->errors <= MAX_REPORTS) {
		host_write_str("vmemu: VM_BUG: ");
		host_write_str(msg);
		host_write_str("\n");
	}
}

/* Frame pfn's struct page, for a report (dump_page). */
static const char *dump_page(unsigned long pfn, char *buf, size_t len)
{
	const struct page *page = pfn_to_page(pfn);

	snprintf(buf, len, "frame %lu (flags %#x inode %u index %lu owner %u mapped %#lx wmapped %#lx lock %#x)",
		 pfn, __atomic_load_n(&page->flags, __ATOMIC_ACQUIRE), page->inode, (unsigned long)page->index,
		 page->owner, (unsigned long)page->mapped, (unsigned long)page->wmapped, page->lock.word);
	return buf;
}

static bool held_by_me(const struct rlock *l)
{
	return (__atomic_load_n(&l->word, __ATOMIC_ACQUIRE) & RLOCK_OWNER_MASK) == (uint32_t)dom.slot + 1;
}

static bool frame_is_free(unsigned long pfn)
{
	return __atomic_load_n(&dom.bitmap[pfn / 64], __ATOMIC_ACQUIRE) & (1UL << (pfn % 64));
}

static bool mapping_listed(const struct mm_struct *mm, const struct address_space *mapping)
{
	for (const struct address_space *m = mm->mappings; m; m = m->next)
		if (m == mapping)
			return true;
	return false;
}

/* May the walk compare inode's counts with its pages?  Yes if no other live
 * process can change them (see the top of the file). */
static bool inode_is_still(const struct walk *w, const struct inode *inode)
{
	return w->c->domain_wide || __atomic_load_n(&inode->users, __ATOMIC_ACQUIRE) == SLOT_BIT(dom.slot);
}

/* No fault and no vme_ call of this process runs: it holds no shared lock.
 * Page locks are looked at with the frames (check_pool). */
static void check_own_locks(struct walk *w)
{
	struct domain_header *h = dom.hdr;

	if (held_by_me(&h->lock))
		vm_bug(w, "this process holds the domain lock");
	if (held_by_me(&h->alloc_lock))
		vm_bug(w, "this process holds alloc_lock");
	if (held_by_me(&h->node_lock))
		vm_bug(w, "this process holds the node lock");
	for (uint32_t i = 0; i < __atomic_load_n(&h->inode_hwm, __ATOMIC_ACQUIRE); i++) {
		if (held_by_me(&inode_of(i)->i_pages_lock))
			vm_bug(w, "inode %u: this process holds its i_pages lock", i);
		if (held_by_me(&inode_of(i)->i_rwsem))
			vm_bug(w, "inode %u: this process holds its i_rwsem", i);
	}
}

/* The frame table on its own: the free list, and what each slot names. */
static void check_frame_table(struct walk *w)
{
	const struct frame_table_info *t = &w->t;
	unsigned char *listed = calloc(t->high_water + 1, 1);
	unsigned long nfree = 0;

	if (t->high_water > t->nr_slots || t->nr_free > t->high_water)
		vm_bug(w, "frame table: high water %lu, %lu free, of %lu slots", t->high_water, t->nr_free,
		       t->nr_slots);
	if (!listed) {
		vm_bug(w, "the walker ran out of memory");
		return;
	}
	for (unsigned long i = 0; i < t->nr_free && i <= t->high_water; i++) {
		uint32_t s = t->free_list[i];
		if (!s || s > t->high_water)
			vm_bug(w, "free list entry %lu is slot %u, past the high water %lu", i, s, t->high_water);
		else if (listed[s]++)
			vm_bug(w, "slot %u is on the free list twice", s);
	}
	for (unsigned long s = 1; s <= t->high_water; s++) {
		struct frame_info fi;
		frame_slot_info(s, &fi);
		w->c->slots++;
		if (fi.kind == FI_FREE) {
			nfree++;
			if (!listed[s])
				vm_bug(w, "slot %lu is free but not on the free list", s);
			continue;
		}
		if (listed[s])
			vm_bug(w, "slot %lu is on the free list but in use (kind %d)", s, fi.kind);
		switch (fi.kind) {
		case FI_RESERVED:
			vm_bug(w, "slot %lu is reserved for a fault, but no fault runs", s);
			break;
		case FI_ANON: {
			pte_t *ptep = pte_offset(fi.index, false);
			pte_t v = ptep ? ptep_get(ptep) : 0;
			if (!(v & PTE_ANON) || (v & PTE_SWAP) || pte_val(v) != s)
				vm_bug(w, "slot %lu holds the private page at %#lx, whose PTE is %#lx", s, fi.index,
				       (unsigned long)v);
			break;
		}
		case FI_MAPPED:
			if (!mapping_listed(w->mm, fi.mapping))
				vm_bug(w, "slot %lu: frame %lu of a page cache this process does not have", s, fi.pfn);
			else if (fi.pfn >= w->nr_frames)
				vm_bug(w, "slot %lu: frame %lu, past the pool's %lu", s, fi.pfn, w->nr_frames);
			else if (w->t.pfn_slot[fi.pfn] != s)
				vm_bug(w, "slot %lu holds frame %lu, but pfn_slot says slot %u", s, fi.pfn,
				       w->t.pfn_slot[fi.pfn]);
			break;
		case FI_FREE:
			break;
		}
	}
	if (nfree != t->nr_free)
		vm_bug(w, "frame table: nr_free %lu, but %lu slots are free", t->nr_free, nfree);
	free(listed);
}

/* This process's hold on frame pfn: its bits in the masks against its slot. */
static void check_frame_holder(struct walk *w, unsigned long pfn, slotmask_t mapped, slotmask_t wmapped)
{
	const slotmask_t me = SLOT_BIT(dom.slot);
	uint32_t s = w->t.pfn_slot[pfn];
	struct frame_info fi = { .kind = FI_FREE };
	char d[200];

	if (s && s <= w->t.high_water)
		frame_slot_info(s, &fi);
	if (s && (fi.kind != FI_MAPPED || fi.pfn != pfn))
		vm_bug(w, "pfn_slot[%lu] is slot %u, which does not hold it (kind %d, frame %lu)", pfn, s, fi.kind,
		       fi.pfn);
	if (!!(mapped & me) != !!s)
		vm_bug(w, "%s: this process's bit in mapped is %s, but it holds %s slot for it",
		       dump_page(pfn, d, sizeof(d)), (mapped & me) ? "set" : "clear", s ? "a" : "no");
	if (!!(wmapped & me) != (s && fi.wcount))
		vm_bug(w, "%s: this process's bit in wmapped is %s, but it maps it writable %u times",
		       dump_page(pfn, d, sizeof(d)), (wmapped & me) ? "set" : "clear", fi.wcount);
	if (s && fi.kind == FI_MAPPED && mapping_listed(w->mm, fi.mapping)) {
		const struct page *page = pfn_to_page(pfn);
		const struct inode *inode = fi.mapping->host;
		if (page->inode != inode_index(inode) + 1 || page->index != fi.index)
			vm_bug(w, "slot %u holds page %lu of inode %u, but %s names another", s, fi.index,
			       inode_index(inode), dump_page(pfn, d, sizeof(d)));
	}
}

/* The pool, under the domain lock and alloc_lock: the bitmap against
 * nr_free, every frame's struct page against its state, this process's
 * holds; and the per-inode counts of dirty and written-back frames, for
 * check_inodes. */
static void check_pool(struct walk *w)
{
	struct domain_header *h = dom.hdr;
	const slotmask_t me = SLOT_BIT(dom.slot);
	unsigned long nfree = 0, held = 0;
	char d[200];

	for (unsigned long pfn = 0; pfn < w->nr_frames; pfn++) {
		const struct page *page = pfn_to_page(pfn);
		uint32_t flags = __atomic_load_n(&page->flags, __ATOMIC_ACQUIRE);
		uint32_t ino = __atomic_load_n(&page->inode, __ATOMIC_ACQUIRE);
		slotmask_t mapped = __atomic_load_n(&page->mapped, __ATOMIC_ACQUIRE);
		slotmask_t wmapped = __atomic_load_n(&page->wmapped, __ATOMIC_ACQUIRE);

		w->c->frames++;
		if (held_by_me(&page->lock))
			vm_bug(w, "%s: this process holds its page lock", dump_page(pfn, d, sizeof(d)));
		check_frame_holder(w, pfn, mapped, wmapped);
		if (frame_is_free(pfn)) {
			nfree++;
			if (ino || flags || mapped || wmapped)
				vm_bug(w, "%s is free, but its struct page is not cleared", dump_page(pfn, d, sizeof(d)));
			continue;
		}
		held += mapped != 0;
		if ((flags & PG_reserved) && page->owner == (uint32_t)dom.slot)
			vm_bug(w, "%s is reserved by this process, which allocates nothing now",
			       dump_page(pfn, d, sizeof(d)));
		if ((wmapped & ~mapped) && alone(w))
			vm_bug(w, "%s: wmapped is not within mapped", dump_page(pfn, d, sizeof(d)));
		if (!ino) {
			if (!(flags & PG_reserved) && alone(w))
				vm_bug(w, "%s is in use, but neither reserved nor a page of an inode",
				       dump_page(pfn, d, sizeof(d)));
			continue;
		}
		if (ino > NR_INODES) {
			vm_bug(w, "%s names no inode", dump_page(pfn, d, sizeof(d)));
			continue;
		}
		w->dirty[ino - 1] += !!(flags & PG_dirty);
		w->writeback[ino - 1] += !!(flags & PG_writeback);
	}
	if (nfree != h->nr_free)
		vm_bug(w, "pool: nr_free %lu, but the bitmap has %lu free frames of %lu", (unsigned long)h->nr_free,
		       nfree, w->nr_frames);
	if (held != __atomic_load_n(&h->nr_held, __ATOMIC_ACQUIRE) && alone(w))
		vm_bug(w, "pool: nr_held %lu, but %lu frames have a mapped mask", (unsigned long)h->nr_held, held);
	if (!(live_slots() & me) || h->slots[dom.slot].state != SLOT_LIVE)
		vm_bug(w, "slot %d: this process is not live in its own domain", dom.slot);
}

/* One PTE of vma at addr (raw: the lock bits too): its state against the
 * VMA, the frame table and the page cache. */
static void check_pte(struct walk *w, struct vm_area_struct *vma, unsigned long addr, pte_t raw)
{
	pte_t v = raw & ~(pte_t)(PTE_LOCKED | PTE_WAITERS);
	char d[200];

	w->c->ptes++;
	if (raw & (PTE_LOCKED | PTE_WAITERS))
		vm_bug(w, "PTE at %#lx is locked (%#lx), but no fault runs", addr, (unsigned long)raw);
	if (!v)
		return;
	if ((v & PTE_WRITE) && !(vma->vm_flags & VM_WRITE))
		vm_bug(w, "PTE at %#lx (%#lx) is writable in a VMA without VM_WRITE (%#lx)", addr, (unsigned long)v,
		       vma->vm_flags);
	if ((v & PTE_WRITE) && !(v & PTE_PRESENT))
		vm_bug(w, "PTE at %#lx (%#lx) is writable but not present", addr, (unsigned long)v);
	if (v & PTE_SWAP) {
		if ((v & (PTE_PRESENT | PTE_ANON)) || !pte_val(v) || (vma->vm_flags & VM_SHARED))
			vm_bug(w, "swap PTE at %#lx (%#lx) in a VMA with flags %#lx", addr, (unsigned long)v,
			       vma->vm_flags);
		return;
	}
	if (v & PTE_ANON) {
		unsigned long s = pte_val(v);
		struct frame_info fi = { .kind = FI_FREE };
		if (vma->vm_flags & VM_SHARED)
			vm_bug(w, "private page at %#lx in a shared VMA", addr);
		if (s && s <= w->t.high_water)
			frame_slot_info(s, &fi);
		if (fi.kind != FI_ANON || fi.index != addr)
			vm_bug(w, "PTE at %#lx (%#lx) names slot %lu, of kind %d and index %#lx", addr,
			       (unsigned long)v, s, fi.kind, fi.index);
		return;
	}
	if (!(v & PTE_PRESENT) || (v & PTE_FRESH)) {
		vm_bug(w, "PTE at %#lx is %#lx: no such state", addr, (unsigned long)v);
		return;
	}
	/* a frame of a page cache */
	if (!vma->vm_file) {
		vm_bug(w, "PTE at %#lx maps frame %lu in an anonymous VMA", addr, (unsigned long)pte_val(v));
		return;
	}
	if ((v & PTE_WRITE) && !(vma->vm_flags & VM_SHARED))
		vm_bug(w, "PTE at %#lx maps frame %lu writable in a private VMA", addr, (unsigned long)pte_val(v));
	unsigned long pfn = pte_val(v);
	struct address_space *mapping = vma->vm_file->f_mapping;
	struct inode *inode = mapping->host;
	unsigned long pgoff = linear_page_index(vma, addr);
	if (pfn >= w->nr_frames) {
		vm_bug(w, "PTE at %#lx maps frame %lu, past the pool's %lu", addr, pfn, w->nr_frames);
		return;
	}
	const struct page *page = pfn_to_page(pfn);
	if (page->inode != inode_index(inode) + 1 || page->index != pgoff) {
		vm_bug(w, "PTE at %#lx (page %lu of inode %u) maps %s", addr, pgoff, inode_index(inode),
		       dump_page(pfn, d, sizeof(d)));
		return;
	}
	if (inode_is_still(w, inode) && radix_lookup(inode, pgoff) == (uint32_t)pfn + 1) {
		uint32_t flags = __atomic_load_n(&page->flags, __ATOMIC_ACQUIRE);
		if (!(flags & PG_uptodate))
			vm_bug(w, "PTE at %#lx maps %s, which is not uptodate", addr, dump_page(pfn, d, sizeof(d)));
		if ((v & PTE_WRITE) && mapping_is_file(mapping) && !(flags & PG_dirty))
			vm_bug(w, "PTE at %#lx maps %s writable, but it is clean: its next store would not be written back",
			       addr, dump_page(pfn, d, sizeof(d)));
	}
	if (mapping->device)
		return;		/* a device's frames take no slot */
	uint32_t s = w->t.pfn_slot[pfn];
	if (!s || s > w->t.high_water) {
		vm_bug(w, "PTE at %#lx maps %s, for which this process holds no slot", addr,
		       dump_page(pfn, d, sizeof(d)));
		return;
	}
	w->map_tally[s]++;
	w->write_tally[s] += !!(v & PTE_WRITE);
}

/* Every PTE of [start, end) that exists, raw; none set if vma is NULL (a
 * gap between VMAs). */
static void check_ptes(struct walk *w, struct vm_area_struct *vma, unsigned long start, unsigned long end)
{
	for (unsigned long addr = start; addr < end;) {
		pte_t *ptep = pte_offset(addr, false);
		if (!ptep) {
			addr = pte_next_table(addr, end);
			continue;
		}
		pte_t raw = __atomic_load_n(ptep, __ATOMIC_ACQUIRE);
		if (raw && vma)
			check_pte(w, vma, addr, raw);
		else if (raw)
			vm_bug(w, "PTE at %#lx is %#lx, but no VMA covers it", addr, (unsigned long)raw);
		addr += PAGE_SIZE;
	}
}

static bool on_i_mmap(const struct address_space *mapping, const struct vm_area_struct *vma)
{
	for (const struct vm_area_struct *v = mapping->i_mmap; v; v = v->shared_next)
		if (v == vma)
			return true;
	return false;
}

/* The VMA tree, the rmap lists, and every PTE; then mapcount and wcount of
 * each slot against the PTEs counted. */
static void check_vmas(struct walk *w)
{
	struct mm_struct *mm = w->mm;
	unsigned long prev_end = 0;

	for (size_t i = 0; i < mm->map_count; i++) {
		struct vm_area_struct *vma = mm->vmas[i];
		if (vma->vm_start >= vma->vm_end || offset_in_page(vma->vm_start | vma->vm_end) ||
		    vma->vm_start < prev_end)
			vm_bug(w, "VMA %zu [%#lx, %#lx) is empty, misaligned or out of order", i, vma->vm_start,
			       vma->vm_end);
		else if (find_vma(mm, vma->vm_start) != vma)
			vm_bug(w, "find_vma(%#lx) does not find its VMA", vma->vm_start);
		if (vma->vm_file) {
			struct address_space *mapping = vma->vm_file->f_mapping;
			if (!mapping_listed(mm, mapping))
				vm_bug(w, "VMA [%#lx, %#lx) maps a page cache this process does not list",
				       vma->vm_start, vma->vm_end);
			else if (!on_i_mmap(mapping, vma))
				vm_bug(w, "VMA [%#lx, %#lx) is not on its page cache's i_mmap", vma->vm_start,
				       vma->vm_end);
		}
		if (i && vma->vm_start > prev_end && (vma->vm_start - prev_end) >> PAGE_SHIFT <= GAP_PAGES_CHECKED)
			check_ptes(w, NULL, prev_end, vma->vm_start);
		check_ptes(w, vma, vma->vm_start, vma->vm_end);
		if (vma->vm_end > prev_end)
			prev_end = vma->vm_end;
	}
	for (struct address_space *m = mm->mappings; m; m = m->next) {
		if (m->host->kind == I_FREE || !(__atomic_load_n(&m->host->users, __ATOMIC_ACQUIRE) & SLOT_BIT(dom.slot)))
			vm_bug(w, "inode %u (kind %u): this process has its page cache, but is not one of its users",
			       inode_index(m->host), m->host->kind);
		for (struct vm_area_struct *vma = m->i_mmap; vma; vma = vma->shared_next)
			if (find_vma(mm, vma->vm_start) != vma || !vma->vm_file || vma->vm_file->f_mapping != m)
				vm_bug(w, "i_mmap of inode %u holds [%#lx, %#lx), which is not a VMA of it",
				       inode_index(m->host), vma->vm_start, vma->vm_end);
	}
	for (unsigned long s = 1; s <= w->t.high_water; s++) {
		struct frame_info fi;
		frame_slot_info(s, &fi);
		if (fi.kind == FI_MAPPED && (fi.mapcount != w->map_tally[s] || fi.wcount != w->write_tally[s]))
			vm_bug(w, "slot %lu (frame %lu): mapcount %u, wcount %u, but %u PTEs map it, %u writable", s,
			       fi.pfn, fi.mapcount, fi.wcount, w->map_tally[s], w->write_tally[s]);
	}
}

/* The frames of inode's index with PG_dirty, and with PG_writeback, counted
 * again (under its i_pages_lock). */
static void recount_flags(struct inode *inode, uint64_t *dirty, uint64_t *writeback)
{
	unsigned long index = 0;
	uint32_t e;

	*dirty = *writeback = 0;
	rlock_lock(&inode->i_pages_lock);
	while ((index = radix_next(inode, index, &e)) != ~0UL) {
		if (!(e & RADIX_SWAP) && e - 1 < __atomic_load_n(&dom.hdr->nr_frames, __ATOMIC_ACQUIRE)) {
			uint32_t f = __atomic_load_n(&pfn_to_page(e - 1)->flags, __ATOMIC_ACQUIRE);
			*dirty += !!(f & PG_dirty);
			*writeback += !!(f & PG_writeback);
		}
		if (index++ == ~0UL - 1)
			break;
	}
	rlock_unlock(&inode->i_pages_lock);
}

/* Inode i's index, under its i_pages_lock, and its counts. */
static void check_inode(struct walk *w, uint32_t i)
{
	struct inode *inode = inode_of(i);
	uint32_t kind = __atomic_load_n(&inode->kind, __ATOMIC_ACQUIRE);
	slotmask_t users = __atomic_load_n(&inode->users, __ATOMIC_ACQUIRE);
	unsigned long nframes = 0, nswap = 0, index = 0;
	uint32_t e;
	char d[200];

	if (kind == I_FREE) {
		if ((inode->nrpages || inode->nrswapped || inode->root) && alone(w))
			vm_bug(w, "inode %u is free, but has %lu pages, %lu in swap, root %#lx", i,
			       (unsigned long)inode->nrpages, (unsigned long)inode->nrswapped,
			       (unsigned long)inode->root);
		return;
	}
	if (!inode_is_still(w, inode))
		return;
	w->c->inodes++;
	rlock_lock(&inode->i_pages_lock);
	while ((index = radix_next(inode, index, &e)) != ~0UL) {
		if (e & RADIX_SWAP) {
			nswap++;
			if (kind != I_SHMEM)
				vm_bug(w, "inode %u (kind %u): a swap entry at page %lu", i, kind, index);
		} else if (e - 1 >= w->nr_frames &&
			   /* the pool only grows: another process may have grown
			    * it and filled this page since the walk began */
			   e - 1 >= __atomic_load_n(&dom.hdr->nr_frames, __ATOMIC_ACQUIRE)) {
			nframes++;
			vm_bug(w, "inode %u: page %lu is frame %lu, past the pool's %lu", i, index,
			       (unsigned long)e - 1, w->nr_frames);
		} else {
			const struct page *page = pfn_to_page(e - 1);
			nframes++;
			if (page->inode != i + 1 || page->index != index || frame_is_free(e - 1) ||
			    (page->flags & PG_reserved))
				vm_bug(w, "inode %u: page %lu is %s", i, index, dump_page(e - 1, d, sizeof(d)));
		}
		if (index++ == ~0UL - 1)
			break;
	}
	bool pages_ok = nframes == inode->nrpages && nswap == inode->nrswapped;
	uint64_t nrpages = inode->nrpages, nrswapped = inode->nrswapped;
	rlock_unlock(&inode->i_pages_lock);
	uint64_t nrdirty = __atomic_load_n(&inode->nrdirty, __ATOMIC_ACQUIRE);
	uint64_t nrwriteback = __atomic_load_n(&inode->nrwriteback, __ATOMIC_ACQUIRE);
	/* another process began to use it, or attached, meanwhile: the counts
	 * may have moved under the walk */
	if (w->c->domain_wide ? live_slots() != SLOT_BIT(dom.slot)
			      : __atomic_load_n(&inode->users, __ATOMIC_ACQUIRE) != users)
		return;
	if (!pages_ok)
		vm_bug(w, "inode %u: nrpages %lu, nrswapped %lu, but its index has %lu frames, %lu swap entries", i,
		       (unsigned long)nrpages, (unsigned long)nrswapped, nframes, nswap);
	uint64_t dirty = w->dirty[i], writeback = w->writeback[i];
	/* Another process's reclaim may be writing back a page of it that
	 * nobody holds (the pool's clock): its flag and the inode's count move
	 * in two steps.  Only a difference that stays is a bug. */
	for (int tries = 0; tries < 20 && (nrdirty != dirty || nrwriteback != writeback); tries++) {
		host_sleep_ns(1000000);
		recount_flags(inode, &dirty, &writeback);
		nrdirty = __atomic_load_n(&inode->nrdirty, __ATOMIC_ACQUIRE);
		nrwriteback = __atomic_load_n(&inode->nrwriteback, __ATOMIC_ACQUIRE);
	}
	if (nrdirty != dirty)
		vm_bug(w, "inode %u: nrdirty %lu, but %lu of its frames are PG_dirty", i, (unsigned long)nrdirty,
		       (unsigned long)dirty);
	if (nrwriteback != writeback)
		vm_bug(w, "inode %u: nrwriteback %lu, but %lu of its frames are PG_writeback", i,
		       (unsigned long)nrwriteback, (unsigned long)writeback);
}

/* Take the domain lock and alloc_lock, in that order, never waiting for
 * alloc_lock while holding the other: a wait may reap a dead holder, and
 * reaping takes the domain lock. */
static void lock_pool(struct domain_header *h)
{
	for (;;) {
		rlock_lock(&h->lock);
		if (rlock_trylock(&h->alloc_lock))
			return;
		rlock_unlock(&h->lock);
		rlock_lock(&h->alloc_lock);
		rlock_unlock(&h->alloc_lock);
	}
}

unsigned long check_vm(struct vm_check *c)
{
	struct walk w = { .c = c, .mm = &init_mm };
	struct domain_header *h;
	sigset_t saved;

	*c = (struct vm_check){ .report = c->report };
	host_trap_enter_emulator(&saved);
	mmap_write_lock();
	if (!(h = dom.hdr))
		goto out;	/* not initialised: nothing to look at */
	frame_table_info(&w.t);
	uint32_t nr_inodes = __atomic_load_n(&h->inode_hwm, __ATOMIC_ACQUIRE);
	w.map_tally = calloc(w.t.high_water + 1, sizeof(*w.map_tally));
	w.write_tally = calloc(w.t.high_water + 1, sizeof(*w.write_tally));
	w.dirty = calloc(NR_INODES, sizeof(*w.dirty));
	w.writeback = calloc(NR_INODES, sizeof(*w.writeback));
	if (!w.map_tally || !w.write_tally || !w.dirty || !w.writeback) {
		vm_bug(&w, "the walker ran out of memory");
		goto out_free;
	}
	check_own_locks(&w);

	lock_pool(h);
	c->domain_wide = live_slots() == SLOT_BIT(dom.slot);
	w.nr_frames = __atomic_load_n(&h->nr_frames, __ATOMIC_ACQUIRE);
	check_frame_table(&w);
	check_pool(&w);
	rlock_unlock(&h->alloc_lock);
	rlock_unlock(&h->lock);

	check_vmas(&w);
	for (uint32_t i = 0; i < nr_inodes; i++)
		check_inode(&w, i);
out_free:
	free(w.map_tally);
	free(w.write_tally);
	free(w.dirty);
	free(w.writeback);
out:
	mmap_write_unlock();
	host_trap_leave_emulator(&saved);
	return c->errors;
}
