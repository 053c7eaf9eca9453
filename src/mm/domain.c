/*
 * domain.c - the processes that share one page cache.
 *
 * A domain is a segment in /dev/shm (vmemu-<uid>-v<layout>-<name>) that
 * every process of the domain maps: the shared page cache's metadata and its
 * frames (domain.h).  A process attaches by taking a free slot: it holds an
 * open-file-description lock on the slot's byte of the segment, through a
 * close-on-exec descriptor, for as long as it lives and does not exec.  So
 * "is slot s alive?" is one F_OFD_GETLK, and a dead process's slot is
 * reaped by whoever needs it: its locks are released (repairing what they
 * guarded), its bits cleared from every mask, its anonymous objects freed
 * and its files' dirty pages left for orphan write-back.
 *
 * The domain lock guards the slot table, the inode table and the capacity.
 * See docs/design.md, "Processes that die".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host/host.h"
#include "mm/mm.h"

struct domain dom = { .fd = -1, .slot = 0, .slot_fd = -1, .reap_fd = -1 };

static bool domain_abandoned(void);

/* One reaping thread per process at a time (the threads share the reaper's
 * OFD locks, so the byte lock alone cannot keep two of them from reaping
 * one slot).  The thread that reaps may reap another slot inside (a lock
 * it needs to repair what the first dead left is held by a second dead
 * process), never one it is reaping already: reaping. */
static int reap_busy;
static __thread slotmask_t reaping __attribute__((tls_model("initial-exec")));	/* this thread's */
static int fork_child_fd = -1;		/* the slot claimed for a child being forked */
static int fork_child_err;		/* why there is none: -EAGAIN, all 64 are taken */
static int fork_child_slot = -1;

/* Map the segment fd: its metadata, then the frames as the library's view. */
static int domain_map(int fd)
{
	void *meta, *frames;
	int r;

	if ((r = vmap_segment(fd, 0, SEGMENT_META, &meta)))
		return r;
	if ((r = vmap_segment(fd, (off_t)SEGMENT_META, MAX_FRAMES << PAGE_SHIFT, &frames))) {
		vfree(meta, SEGMENT_META);
		return r;
	}
	dom.hdr = meta;
	dom.inodes = (struct inode *)((char *)meta + SEG_INODES);
	dom.nodes = (struct radix_node *)((char *)meta + SEG_NODES);
	dom.pages = (struct page *)((char *)meta + SEG_PAGES);
	dom.bitmap = (uint64_t *)((char *)meta + SEG_BITMAP);
	dom.frames = frames;
	dom.fd = fd;
	return 0;
}

static void domain_unmap(void)
{
	if (dom.hdr)
		vfree(dom.hdr, SEGMENT_META);
	if (dom.frames)
		vfree(dom.frames, MAX_FRAMES << PAGE_SHIFT);
	if (dom.fd >= 0)
		host_close(dom.fd);
	dom.hdr = NULL;
	dom.frames = NULL;
	dom.fd = -1;
}

/* A new segment, header written, not yet visible to anyone. */
static int domain_create(const char *dir, int *fd)
{
	int r = dir ? host_shm_create(dir, SEGMENT_META, fd) : host_memfd("vmemu-domain", fd);

	if (r || (!dir && (r = host_truncate(*fd, (off_t)SEGMENT_META))))
		return r;
	if ((r = domain_map(*fd))) {
		host_close(*fd);
		return r;
	}
	if ((r = domain_populate(0, SEG_INODES))) {	/* the header */
		domain_unmap();				/* closes fd */
		return r;
	}
	dom.hdr->magic = DOMAIN_MAGIC;
	dom.hdr->layout = DOMAIN_LAYOUT;
	dom.hdr->state = DOMAIN_LIVE;
	dom.fd = -1;		/* the caller still owns fd until it is published */
	return 0;
}

/* handler-safe: give bytes [off, off + len) of the segment their memory
 * before they are first touched: /dev/shm (a tmpfs with a size) that is
 * full is then -ENOSPC here, not SIGBUS in whoever touches them. */
int domain_populate(unsigned long off, unsigned long len)
{
	unsigned long start = off & ~4095UL, end = SEG_ALIGN(off + len);

	return host_shm_allocate(dom.fd, (off_t)start, (off_t)(end - start));
}

/* handler-safe: is slot s's process alive?  Its OFD lock says. */
bool slot_alive(int s)
{
	if (s == dom.slot)
		return true;
	if (s < 0 || s >= NR_SLOTS || dom.slot_fd < 0)
		return false;
	return host_ofd_locked(dom.slot_fd, (unsigned int)s);
}

/* The capacity: the largest budget among live slots. */
void domain_set_capacity(void)
{
	struct domain_header *h = dom.hdr;
	unsigned long cap = 0;
	slotmask_t live = live_slots();

	for (int s = 0; s < NR_SLOTS; s++)
		if ((live & SLOT_BIT(s)) && h->slots[s].budget > cap)
			cap = h->slots[s].budget;
	if (cap)
		__atomic_store_n(&h->capacity, cap, __ATOMIC_RELEASE);
}

/* Take a lock the dead slot s holds over as this process's own. */
static bool rlock_steal(struct rlock *l, int s)
{
	uint32_t w = __atomic_load_n(&l->word, __ATOMIC_ACQUIRE);

	while ((w & RLOCK_OWNER_MASK) == (uint32_t)s + 1)
		if (__atomic_compare_exchange_n(&l->word, &w, (w & RLOCK_WAITERS) | ((uint32_t)dom.slot + 1),
						false, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE))
			return true;
	return false;
}

/* Undo what dead slot s left in the frames: its locks (a frame it had
 * reserved or was freeing is freed, one it was filling stays not uptodate
 * for the next fault to read, one it was writing back is dirty again), its
 * bits.  Caller holds byte s. */
static void reap_frames(int s)
{
	struct domain_header *h = dom.hdr;
	slotmask_t bit = SLOT_BIT(s);

	rlock_break(&h->alloc_lock, s);
	rlock_lock(&h->alloc_lock);	/* no allocation half done meanwhile */
	unsigned long nr = h->nr_frames;
	for (unsigned long pfn = 0; pfn < nr; pfn++) {
		struct page *page = pfn_to_page(pfn);
		page_unhold(page, s);
		__atomic_and_fetch(&page->wmapped, ~bit, __ATOMIC_ACQ_REL);
		uint32_t f = __atomic_load_n(&page->flags, __ATOMIC_ACQUIRE);
		if ((f & PG_writeback) && page->owner == (uint32_t)s) {
			/* it died writing: the write may not have happened */
			struct inode *inode = page->inode ? inode_of(page->inode - 1) : NULL;
			__atomic_or_fetch(&page->flags, PG_dirty, __ATOMIC_ACQ_REL);
			if (__atomic_fetch_and(&page->flags, ~(uint32_t)(PG_writeback | PG_waiters), __ATOMIC_ACQ_REL) &
			    PG_waiters)
				host_futex_wake(&page->flags, 0x7fffffff);
			if (inode && !(f & PG_dirty))
				__atomic_add_fetch(&inode->nrdirty, 1, __ATOMIC_ACQ_REL);
			if (inode)
				__atomic_sub_fetch(&inode->nrwriteback, 1, __ATOMIC_ACQ_REL);
		}
		if (!rlock_steal(&page->lock, s))
			continue;
		bool in_bitmap_free = dom.bitmap[pfn / 64] & (1UL << (pfn % 64));
		if (!in_bitmap_free && (!page->inode || (page->flags & PG_reserved)))
			__free_page_frame(pfn);	/* reserved, or half allocated or freed */
		else
			rlock_unlock(&page->lock);
	}
	rlock_unlock(&h->alloc_lock);
}

/* What the dead slot s left in the inodes: its locks, its user bits; and
 * what nobody uses any more. */
static void reap_inodes(int s)
{
	struct domain_header *h = dom.hdr;
	slotmask_t bit = SLOT_BIT(s);

	for (uint32_t i = 0; i < h->inode_hwm; i++) {
		struct inode *inode = inode_of(i);
		rlock_break(&inode->i_pages_lock, s);
		rlock_break(&inode->i_rwsem, s);
		__atomic_store_n(&inode->writing[s], 0, __ATOMIC_RELEASE);	/* its writes ended */
		if (inode->kind == I_FREE || !(__atomic_fetch_and(&inode->users, ~bit, __ATOMIC_ACQ_REL) & bit))
			continue;
		if (inode->users & live_slots())
			continue;
		if (inode->kind == I_FILE && __atomic_load_n(&inode->nrdirty, __ATOMIC_ACQUIRE)) {
			rlock_lock(&h->lock);
			if (!(inode->flags & I_ORPHAN_DIRTY)) {
				inode->flags |= I_ORPHAN_DIRTY;
				h->orphans++;
			}
			rlock_unlock(&h->lock);
		} else {
			inode_release_if_unused(inode);
		}
	}
}

/* Reap slot s, whose byte this process holds: it is not alive. */
static void reap_slot(int s)
{
	struct domain_header *h = dom.hdr;

	__atomic_and_fetch(&h->live, ~SLOT_BIT(s), __ATOMIC_ACQ_REL);
	rlock_break(&h->lock, s);
	rlock_break(&h->node_lock, s);
	reap_frames(s);
	reap_inodes(s);
	rlock_lock(&h->lock);
	h->slots[s] = (struct slot){ .state = SLOT_FREE };
	domain_set_capacity();
	rlock_unlock(&h->lock);
}

/* handler-safe: reap slot s if its process is gone and nobody else is
 * reaping it. */
void domain_reap(int s)
{
	if (s == dom.slot || s < 0 || s >= NR_SLOTS || dom.reap_fd < 0 || (reaping & SLOT_BIT(s)))
		return;
	bool outer = !reaping;
	if (outer)
		while (__atomic_exchange_n(&reap_busy, 1, __ATOMIC_ACQUIRE))
			host_yield();
	reaping |= SLOT_BIT(s);
	if (host_ofd_trylock(dom.reap_fd, (unsigned int)s) == 0) {
		if (__atomic_load_n(&dom.hdr->slots[s].state, __ATOMIC_ACQUIRE) != SLOT_FREE)
			reap_slot(s);
		host_ofd_unlock(dom.reap_fd, (unsigned int)s);
	}
	reaping &= ~SLOT_BIT(s);
	if (outer)
		__atomic_store_n(&reap_busy, 0, __ATOMIC_RELEASE);
}

/* Reap every slot whose process is gone.  Not in the handler. */
void domain_reap_dead(void)
{
	for (int s = 0; s < NR_SLOTS; s++)
		if (s != dom.slot && __atomic_load_n(&dom.hdr->slots[s].state, __ATOMIC_ACQUIRE) != SLOT_FREE &&
		    !slot_alive(s))
			domain_reap(s);
}

/* Take a free slot through the open file description fd: lock its byte
 * (reaping what a dead owner left there).  self: the slot is for this
 * process, which takes it as its identity before it reaps (the locks it
 * takes meanwhile must name it, not whatever dom.slot held: another live
 * process would be taken for their holder); otherwise (a child's slot, at
 * fork) the reaping is this process's own.  Returns the slot or -EAGAIN
 * (64 processes already). */
static int claim_slot(int fd, unsigned long budget, bool self)
{
	struct domain_header *h = dom.hdr;

	for (int s = 0; s < NR_SLOTS; s++) {
		if (host_ofd_trylock(fd, (unsigned int)s))
			continue;
		if (self)
			dom.slot = s;
		if (__atomic_load_n(&h->slots[s].state, __ATOMIC_ACQUIRE) != SLOT_FREE)
			reap_slot(s);
		rlock_lock(&h->lock);
		if (h->state == DOMAIN_DEAD) {	/* its last process removed it meanwhile */
			rlock_unlock(&h->lock);
			host_ofd_unlock(fd, (unsigned int)s);
			return -ESTALE;
		}
		h->slots[s] = (struct slot){ .state = SLOT_LIVE, .pid = (int32_t)host_getpid(), .budget = budget };
		__atomic_or_fetch(&h->live, SLOT_BIT(s), __ATOMIC_ACQ_REL);
		domain_set_capacity();
		rlock_unlock(&h->lock);
		return s;
	}
	return -EAGAIN;
}

/* Open (or create) the named domain in dir.  Returns 0 with the segment
 * mapped, or -errno. */
static int domain_open_shared(const char *dir, const char *path)
{
	for (int tries = 0; tries < 16; tries++) {
		int fd, r = host_shm_open(path, &fd);
		if (r == -ENOENT) {
			if ((r = domain_create(dir, &fd)))
				return r;
			if ((r = host_shm_publish(fd, path)) == 0) {
				dom.fd = fd;
				return 0;
			}
			dom.fd = fd;
			domain_unmap();
			if (r != -EEXIST)
				return r;
			continue;	/* someone else published first: use theirs */
		}
		if (r)
			return r;
		if ((r = domain_map(fd))) {
			host_close(fd);
			return r;
		}
		if (dom.hdr->magic != DOMAIN_MAGIC || dom.hdr->layout != DOMAIN_LAYOUT) {
			domain_unmap();
			return -EPROTO;		/* another version's: not ours to share */
		}
		if (__atomic_load_n(&dom.hdr->state, __ATOMIC_ACQUIRE) != DOMAIN_DEAD)
			return 0;
		domain_unmap();			/* its last process is removing it */
		host_yield();
	}
	return -EAGAIN;
}

/* Attach this process to the domain `name` ("private": a page cache of its
 * own) with a budget of budget_frames.  If the shared segment cannot be
 * used, says why once and falls back to a private domain.  Returns 0 or
 * -errno. */
int domain_attach(const char *name, unsigned long budget_frames)
{
	const char *dir = host_getenv("VMEMU_SHM_DIR");
	int r = -ENOENT, renewals = 0;

	/* a file name of its own in dir: no '/', no "." or "..", and room */
	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..") ||
	    strlen(name) > DOMAIN_NAME_MAX)
		return -EINVAL;
	if (!dir || !*dir)
		dir = "/dev/shm";
again:
	dom.shared = strcmp(name, "private") != 0;
	if (dom.shared) {
		int len = snprintf(dom.path, sizeof(dom.path), "%s/vmemu-%u-v%lu-%s", dir, (unsigned)host_geteuid(),
				   DOMAIN_LAYOUT, name);
		r = len < 0 || (size_t)len >= sizeof(dom.path) ? -ENAMETOOLONG : domain_open_shared(dir, dom.path);
		if (r) {
			host_write_str("vmemu: warning: cannot share the page cache through ");
			host_write_str(dom.path);
			host_write_num(": errno ", (unsigned long)-r);
			host_write_str("vmemu: warning: this process's page cache is its own\n");
			dom.shared = false;
		}
	}
	if (!dom.shared) {
		int fd;
		if ((r = domain_create(NULL, &fd)))
			return r;
		dom.fd = fd;
	}
	if ((r = host_shm_reopen(dom.fd, &dom.slot_fd)) || (r = host_shm_reopen(dom.fd, &dom.reap_fd)))
		goto out_unmap;
	if ((r = claim_slot(dom.slot_fd, budget_frames, true)) == -ESTALE && renewals++ < 4) {
		host_close(dom.slot_fd);
		host_close(dom.reap_fd);
		dom.slot_fd = dom.reap_fd = -1;
		domain_unmap();
		goto again;
	}
	if (r < 0)
		goto out_unmap;
	dom.slot = r;
	domain_reap_dead();
	if (dom.shared && domain_abandoned() && renewals++ < 4) {
		/* Its processes were all killed: start afresh rather than keep
		 * what they cached (the kernel would have freed it with them). */
		domain_detach();
		goto again;
	}
	return 0;

out_unmap:
	if (dom.slot_fd >= 0)
		host_close(dom.slot_fd);
	if (dom.reap_fd >= 0)
		host_close(dom.reap_fd);
	dom.slot_fd = dom.reap_fd = -1;
	domain_unmap();
	return r == -EAGAIN ? -EAGAIN : r;
}

/* The process is leaving the domain: its slot is dead from now on (reaped
 * when reused), and its mappings no longer count.  The last process
 * removes a named domain, unless dirty pages are left in it for the next one
 * to write back.  The segment stays mapped: at exit(3), other threads may
 * still run. */
void domain_exit(void)
{
	struct domain_header *h = dom.hdr;

	if (!h || h->slots[dom.slot].state != SLOT_LIVE)
		return;
	rlock_lock(&h->lock);
	h->slots[dom.slot].state = SLOT_DEAD;
	slotmask_t live = __atomic_and_fetch(&h->live, ~SLOT_BIT(dom.slot), __ATOMIC_ACQ_REL);
	bool last = !live && dom.shared && !domain_has_dirty();
	if (last) {
		__atomic_store_n(&h->state, DOMAIN_DEAD, __ATOMIC_RELEASE);
		host_shm_unlink(dom.path);
	}
	domain_set_capacity();
	rlock_unlock(&h->lock);
}

/* Leave the domain and unmap it (vme_shutdown). */
void domain_detach(void)
{
	if (!dom.hdr)
		return;
	domain_exit();
	host_close(dom.slot_fd);
	host_close(dom.reap_fd);
	dom.slot_fd = dom.reap_fd = -1;
	domain_unmap();
}

/* Is this process alone in a domain its others left without detaching
 * (killed), with nothing dirty for it to write back? */
static bool domain_abandoned(void)
{
	return live_slots() == SLOT_BIT(dom.slot) && __atomic_load_n(&dom.hdr->nr_frames, __ATOMIC_ACQUIRE) &&
	       !domain_has_dirty();
}

/* Does any inode of the domain hold dirty pages? */
bool domain_has_dirty(void)
{
	for (uint32_t i = 0; i < dom.hdr->inode_hwm; i++)
		if (dom.inodes[i].kind == I_FILE && __atomic_load_n(&dom.inodes[i].nrdirty, __ATOMIC_ACQUIRE))
			return true;
	return false;
}

/* fork, in the parent, with mmap_lock held for writing and asynchronous
 * signals blocked: claim the child's slot now, through a new open file
 * description the child will inherit, and give it every mapping and cache
 * the parent has (the child inherits them all).  If no slot is free the
 * child will die at once with a message rather than share frames it cannot
 * account for. */
void domain_fork_prepare(void)
{
	struct domain_header *h = dom.hdr;
	slotmask_t me = SLOT_BIT(dom.slot);

	fork_child_slot = -1;
	if (!h || (fork_child_err = host_shm_reopen(dom.fd, &fork_child_fd)))
		return;
	int c = claim_slot(fork_child_fd, h->slots[dom.slot].budget, false);
	if (c < 0) {
		fork_child_err = c;
		host_close(fork_child_fd);
		fork_child_fd = -1;
		return;
	}
	slotmask_t bit = SLOT_BIT(c);
	unsigned long nr = __atomic_load_n(&h->nr_frames, __ATOMIC_ACQUIRE);
	for (unsigned long pfn = 0; pfn < nr; pfn++) {
		struct page *page = pfn_to_page(pfn);
		if (__atomic_load_n(&page->mapped, __ATOMIC_RELAXED) & me)
			__atomic_or_fetch(&page->mapped, bit, __ATOMIC_ACQ_REL);
		if (__atomic_load_n(&page->wmapped, __ATOMIC_RELAXED) & me)
			__atomic_or_fetch(&page->wmapped, bit, __ATOMIC_ACQ_REL);
	}
	for (uint32_t i = 0; i < h->inode_hwm; i++)
		if (__atomic_load_n(&dom.inodes[i].users, __ATOMIC_RELAXED) & me)
			__atomic_or_fetch(&dom.inodes[i].users, bit, __ATOMIC_ACQ_REL);
	fork_child_slot = c;
}

/* fork, in the parent: the child holds its slot through its own copy of
 * the descriptor (or, if fork failed, nobody does, and the slot is reaped
 * as dead). */
void domain_fork_parent(void)
{
	if (fork_child_fd >= 0)
		host_close(fork_child_fd);
	fork_child_fd = -1;
	fork_child_slot = -1;
}

/* fork, in the child: adopt the slot claimed for it; drop the inherited
 * copies of the parent's slot lock and reaper descriptor. */
void domain_fork_child(void)
{
	struct domain_header *h = dom.hdr;

	if (!h)
		return;
	if (fork_child_slot < 0) {
		if (fork_child_err != -EAGAIN) {
			host_write_num("vmemu: the forked child gets no slot in the page cache's domain: errno ",
				       (unsigned long)-fork_child_err);
			host_die("a child without a slot cannot use the caches it inherited");
		}
		host_die("more than 64 processes share vmemu's page cache (VMEMU_DOMAIN names another)");
	}
	host_close(dom.slot_fd);
	host_close(dom.reap_fd);
	reap_busy = 0;		/* a parent's thread reaping: it is not here */
	dom.slot = fork_child_slot;
	dom.slot_fd = fork_child_fd;
	if (host_shm_reopen(dom.fd, &dom.reap_fd))
		dom.reap_fd = -1;
	h->slots[dom.slot].pid = (int32_t)host_getpid();
	fork_child_fd = -1;
	fork_child_slot = -1;
}
