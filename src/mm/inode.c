/*
 * inode.c - the domain's inodes: one per cached file, found by its identity
 * from any process, and one per shared anonymous object (fs/inode.c).
 *
 * A file's inode is found by (device, inode number, generation) through a
 * hash in the segment's header; the generation tells a reused inode number
 * apart, so a new file never finds a deleted one's pages.  Shared anonymous
 * objects and devices have no identity but a fresh generation, and are
 * found only through the mappings that hold them.
 *
 * A process that uses an inode has its bit in `users`.  A file's inode
 * outlives its users while it has pages (the cache outlives the mappings,
 * as Linux's does) and is freed when it has neither; an anonymous object
 * dies with its last user.  The hash, the free list and freeing are guarded
 * by the domain lock.
 */
#include <errno.h>
#include <string.h>

#include "host/host.h"
#include "mm/mm.h"

/* By device and inode number only: every generation of a number shares a
 * chain, so "is any of them cached?" is one probe. */
static uint32_t *hash_bucket(uint64_t dev, uint64_t ino)
{
	uint64_t h = (dev * 0x9e3779b97f4a7c15ULL) ^ (ino * 0xc2b2ae3d27d4eb4fULL);

	return &dom.hdr->inode_hash[(h ^ (h >> 29)) % INODE_HASH];
}

static bool same_file(const struct inode *inode, uint64_t dev, uint64_t ino, uint64_t gen)
{
	return inode->kind == I_FILE && inode->dev == dev && inode->ino == ino && inode->gen == gen;
}

/* A free inode, taken off the free list or the high-water mark, zeroed
 * (path and all).  Caller holds the domain lock.  NULL if none (all taken,
 * or no room in /dev/shm). */
static struct inode *inode_alloc(void)
{
	struct domain_header *h = dom.hdr;
	uint32_t i;

	if ((i = h->inode_free))
		h->inode_free = dom.inodes[i - 1].hash_next;
	else if (h->inode_hwm < NR_INODES &&
		 !domain_populate(SEG_INODES + h->inode_hwm * sizeof(struct inode), sizeof(struct inode)))
		i = ++h->inode_hwm;
	else
		return NULL;
	struct inode *inode = inode_of(i - 1);
	memset(inode, 0, sizeof(*inode));
	h->nr_inodes++;
	return inode;
}

/* Unhash and free.  Caller holds the domain lock; the inode has no pages,
 * no live user, and (anonymous) nothing in swap it could still free. */
static void inode_free(struct inode *inode)
{
	struct domain_header *h = dom.hdr;
	uint32_t me = inode_index(inode) + 1;

	if (inode->kind == I_FILE) {
		uint32_t *p = hash_bucket(inode->dev, inode->ino);
		while (*p && *p != me)
			p = &dom.inodes[*p - 1].hash_next;
		if (*p)
			__atomic_store_n(p, inode->hash_next, __ATOMIC_RELEASE);
	}
	radix_free(inode);
	if (inode->flags & I_ORPHAN_DIRTY)
		h->orphans--;
	inode->kind = I_FREE;
	inode->hash_next = h->inode_free;
	h->inode_free = me;
	h->nr_inodes--;
}

/* Might some process cache a file with this device and inode number (of
 * any generation)?  Lockless, for the I/O calls' quick "no cache": a file
 * nobody caches costs no more than this. */
bool ilookup_any(dev_t dev, ino_t ino)
{
	if (!dom.hdr)
		return false;
	uint32_t i = __atomic_load_n(hash_bucket(dev, ino), __ATOMIC_ACQUIRE);
	for (int depth = 0; i && i <= NR_INODES && depth < 64; depth++) {
		const struct inode *inode = inode_of(i - 1);
		if (inode->kind == I_FILE && inode->dev == (uint64_t)dev && inode->ino == (uint64_t)ino)
			return true;
		i = __atomic_load_n(&inode->hash_next, __ATOMIC_ACQUIRE);
	}
	return false;
}

/* The inode of the open file fd (whose stat is st, whose path is path),
 * created if no process caches it, with this process among its users.
 * create false: only an existing one.  Returns 0 with *out, -ENOENT (not
 * cached, !create), -ENOMEM (no inode left) or the host's -errno. */
int iget_file(int fd, const struct stat *st, const char *path, bool create, struct inode **out)
{
	struct domain_header *h = dom.hdr;
	dev_t dev;
	ino_t ino;
	uint64_t gen;
	int r;

	if ((r = host_file_identity(fd, &dev, &ino, &gen)))
		return r;
	rlock_lock(&h->lock);
	struct inode *inode = NULL;
	uint32_t *bucket = hash_bucket(dev, ino);
	for (uint32_t i = *bucket; i; i = dom.inodes[i - 1].hash_next)
		if (same_file(inode_of(i - 1), dev, ino, gen)) {
			inode = inode_of(i - 1);
			break;
		}
	if (!inode && create && (inode = inode_alloc())) {
		inode->dev = dev;
		inode->ino = ino;
		inode->gen = gen;
		inode->i_size = (uint64_t)st->st_size;
		inode_set_stat(inode, st);
		if (path)
			strncpy(inode->path, path, sizeof(inode->path) - 1);
		inode->kind = I_FILE;
		inode->hash_next = *bucket;
		__atomic_store_n(bucket, inode_index(inode) + 1, __ATOMIC_RELEASE);
	}
	if (inode)
		__atomic_or_fetch(&inode->users, SLOT_BIT(dom.slot), __ATOMIC_ACQ_REL);
	rlock_unlock(&h->lock);
	if (!inode)
		return create ? -ENOMEM : -ENOENT;
	*out = inode;
	return 0;
}

/* A new anonymous object (shared anonymous memory, a device) of size
 * bytes, with this process as its user.  NULL if no inode is left. */
struct inode *iget_anon(enum inode_kind kind, uint64_t size)
{
	struct domain_header *h = dom.hdr;

	rlock_lock(&h->lock);
	struct inode *inode = inode_alloc();
	if (inode) {
		inode->gen = ++h->next_gen;
		inode->i_size = size;
		inode->kind = kind;
		inode->users = SLOT_BIT(dom.slot);
	}
	rlock_unlock(&h->lock);
	return inode;
}

/* Free inode if nothing keeps it: an anonymous object with no live user
 * (its pages go first), a file with no pages and no live user.  Caller
 * holds no page lock of it.  handler-safe (the reaper calls it). */
void inode_release_if_unused(struct inode *inode)
{
	struct domain_header *h = dom.hdr;

	if (inode->kind == I_FREE || (__atomic_load_n(&inode->users, __ATOMIC_ACQUIRE) & live_slots()))
		return;
	if (inode->kind != I_FILE)
		truncate_inode_pages(inode, 0);	/* nobody can see them any more */
	rlock_lock(&h->lock);
	if (inode->kind != I_FREE && !(inode->users & live_slots()) && !inode->nrpages &&
	    !inode->nrswapped)
		inode_free(inode);
	rlock_unlock(&h->lock);
}

/* This process stops using inode. */
void iput(struct inode *inode)
{
	__atomic_and_fetch(&inode->users, ~SLOT_BIT(dom.slot), __ATOMIC_ACQ_REL);
	inode_release_if_unused(inode);
}

/* Record st as the file's state vmemu knows: what revalidation compares. */
void inode_set_stat(struct inode *inode, const struct stat *st)
{
	inode->mtime_sec = st->st_mtim.tv_sec;
	inode->mtime_nsec = st->st_mtim.tv_nsec;
	inode->ctime_sec = st->st_ctim.tv_sec;
	inode->ctime_nsec = st->st_ctim.tv_nsec;
	__atomic_store_n(&inode->i_size, (uint64_t)st->st_size, __ATOMIC_RELEASE);
}

/* Has the file changed since vmemu last validated or wrote it? */
bool inode_stat_changed(const struct inode *inode, const struct stat *st)
{
	return (uint64_t)st->st_size != inode->i_size || st->st_mtim.tv_sec != inode->mtime_sec ||
	       st->st_mtim.tv_nsec != inode->mtime_nsec || st->st_ctim.tv_sec != inode->ctime_sec ||
	       st->st_ctim.tv_nsec != inode->ctime_nsec;
}

/*
 * vmemu's own writes of a file (vme_write, a truncation, a write-back, a
 * hole punched) change its mtime too, and must never look like a change
 * made outside vmemu: revalidation would drop clean pages that other
 * processes map.  Each is bracketed: inode_write_begin before the host
 * touches the file, inode_write_record with the state it left, then
 * inode_write_end.  Revalidation believes a changed stat only if no vmemu
 * write was in flight, in any process, while it looked (inode_changed_outside).
 * The per-slot counts are cleared by the reaper if a writer dies.
 * handler-safe.
 */
uint32_t inode_write_begin(struct inode *inode)
{
	__atomic_add_fetch(&inode->writing[dom.slot], 1, __ATOMIC_ACQ_REL);
	return __atomic_add_fetch(&inode->wgen, 1, __ATOMIC_ACQ_REL);
}

void inode_write_end(struct inode *inode)
{
	__atomic_sub_fetch(&inode->writing[dom.slot], 1, __ATOMIC_ACQ_REL);
}

/* vmemu writes in flight, not counting mine (those of the caller's own
 * bracket). */
static unsigned int writes_in_flight(const struct inode *inode, unsigned int mine)
{
	slotmask_t live = live_slots();
	unsigned int n = 0;

	for (int s = 0; s < NR_SLOTS; s++)
		if (live & SLOT_BIT(s))
			n += __atomic_load_n(&inode->writing[s], __ATOMIC_ACQUIRE);
	return n > mine ? n - mine : 0;
}

/* The write begun as gen left the file as after.  If the file had changed
 * outside vmemu before it (before, if given, differs from what vmemu
 * recorded, and no other vmemu write could have made that difference), that
 * change is left for revalidation to find; else after is recorded. */
void inode_write_record(struct inode *inode, uint32_t gen, const struct stat *before, const struct stat *after)
{
	if (before && inode_stat_changed(inode, before) && !writes_in_flight(inode, 1) &&
	    __atomic_load_n(&inode->wgen, __ATOMIC_ACQUIRE) == gen)
		return;
	inode_set_stat(inode, after);
}

/* Revalidation's question: does the file, as st shows it (fstat of fd,
 * between this call's two looks at the writers), differ from what vmemu
 * recorded because of a change made outside vmemu?  A vmemu write in
 * flight, or one that began meanwhile, makes that unknowable: then no.
 * Returns 1 (yes), 0, or fstat's -errno. */
int inode_changed_outside(struct inode *inode, int fd, struct stat *st)
{
	uint32_t gen = __atomic_load_n(&inode->wgen, __ATOMIC_ACQUIRE);
	bool busy = writes_in_flight(inode, 0);
	int r = host_fstat(fd, st);

	if (r)
		return r;
	if (busy || !inode_stat_changed(inode, st))
		return 0;
	return !writes_in_flight(inode, 0) && __atomic_load_n(&inode->wgen, __ATOMIC_ACQUIRE) == gen;
}
