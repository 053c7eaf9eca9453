/*
 * domain.h - what the processes of a domain share: the layout of the
 * segment (its header, the process slots, the inodes, the radix nodes of the
 * page index, struct page for every frame, the free bitmap, the frames) and
 * the shared locks.
 *
 * Every process maps the segment at its own address, so nothing here holds
 * a pointer: inodes, nodes and frames are named by index.  See
 * docs/design.md, "The shared page cache" and "Processes that die".
 */
#ifndef VMEMU_DOMAIN_H
#define VMEMU_DOMAIN_H

#include <stdbool.h>
#include <stdint.h>

#define NR_SLOTS	64		/* processes attached at once */
#define MAX_FRAMES	(1UL << 24)	/* 64 GiB of frames */
#define NR_INODES	16384UL
#define NR_NODES	(1UL << 22)	/* radix nodes of all page indexes */
#define INODE_HASH	4096UL
#define DOMAIN_LAYOUT	7UL		/* bumped whenever this file changes the layout */
#define DOMAIN_NAME_MAX	200		/* bytes of a domain's name (VMEMU_DOMAIN) */

typedef uint64_t slotmask_t;
#define SLOT_BIT(s)	((slotmask_t)1 << (s))

/* A lock every process of the domain may take, robust to its holder's
 * death (rlock.c).  word: 0 when free, else the owner's slot + 1, with
 * RLOCK_WAITERS when someone sleeps on it. */
struct rlock {
	uint32_t word;
};
#define RLOCK_OWNER_MASK	0xffu
#define RLOCK_WAITERS		0x100u

/* struct page flags */
#define PG_uptodate	0x01	/* the frame holds the page's bytes */
#define PG_dirty	0x02	/* ... newer than the file's */
#define PG_referenced	0x04	/* used since the pool's clock last passed */
#define PG_writeback	0x08	/* being written by slot `owner` (dirty still, if another
				 * process may store to it meanwhile); never leaves the
				 * cache meanwhile */
#define PG_reserved	0x10	/* allocated by slot `owner`, not in an index yet */
#define PG_waiters	0x20	/* someone sleeps (futex on flags) until PG_writeback clears */

/* One per frame (the kernel's struct page): who holds it and who maps it. */
struct page {
	uint32_t flags;		/* PG_* */
	struct rlock lock;	/* the page lock */
	uint32_t inode;		/* owner inode + 1; 0 when free */
	uint32_t owner;		/* slot that reserved it, or writes it back */
	uint64_t index;		/* page offset in the inode */
	slotmask_t mapped;	/* slots that hold the frame: map it, or keep it deactivated */
	slotmask_t wmapped;	/* slots that map it writable */
};

enum inode_kind {
	I_FREE,
	I_FILE,		/* a regular file */
	I_SHMEM,	/* shared anonymous memory */
	I_DEVICE,	/* a user-space driver's pages */
};
#define I_ORPHAN_DIRTY	0x1	/* dirty pages and no live user: write back by path */
#define I_PATH_MAX	4096

/* One per cached file or shared anonymous object (struct inode with its
 * address_space): identity, size, the page index, counters, locks. */
struct inode {
	uint32_t kind;			/* enum inode_kind */
	uint32_t hash_next;		/* next inode in its hash chain + 1 */
	uint64_t dev, ino, gen;		/* a file's identity; gen alone names an anonymous object */
	slotmask_t users;		/* slots that use it */
	uint64_t i_size;		/* bytes, as vmemu knows it */
	int64_t mtime_sec, mtime_nsec;	/* the file as vmemu last left or validated it */
	int64_t ctime_sec, ctime_nsec;
	uint64_t root;			/* page index: root node + 1, height << 32 */
	uint64_t nrpages;		/* frames in the index */
	uint64_t nrswapped;		/* shmem pages in swap */
	uint64_t nrdirty;		/* pages with PG_dirty */
	uint64_t nrwriteback;		/* pages with PG_writeback */
	struct rlock i_pages_lock;	/* changes to the page index */
	struct rlock i_rwsem;		/* writers of the file: write, truncate */
	uint32_t seq;			/* bumped when pages leave by truncate, punch or invalidation */
	uint32_t flags;			/* I_ORPHAN_DIRTY */
	uint32_t wb_seq;		/* bumped after each write-back of one of its pages */
	uint32_t wgen;			/* bumped as each vmemu write of the file begins */
	uint16_t writing[NR_SLOTS];	/* vmemu writes of the file in flight, per slot */
	char path[I_PATH_MAX];		/* the file's path when cached, for orphan write-back */
};

/* A 64-way node of a page index (radix.c).  Interior entries are child
 * node + 1; leaf entries frame + 1, or RADIX_SWAP | a swap entry. */
#define RADIX_SHIFT	6
#define RADIX_SLOTS	(1U << RADIX_SHIFT)
#define RADIX_SWAP	0x80000000u
struct radix_node {
	uint32_t slots[RADIX_SLOTS];
};

enum slot_state {
	SLOT_FREE,
	SLOT_LIVE,	/* an attached process (or one being forked) */
	SLOT_DEAD,	/* detached or died: to be reaped before reuse */
};

struct slot {
	uint32_t state;			/* enum slot_state */
	int32_t pid;			/* for messages: liveness is the slot's OFD lock */
	uint64_t budget;		/* the process's budget, in frames */
};

#define DOMAIN_MAGIC	0x6d6f64756d656d76ULL	/* "vmemudom" */
enum domain_state {
	DOMAIN_LIVE = 1,
	DOMAIN_DEAD,		/* its last process removed it: attach to a new one */
};

/* The segment's header. */
struct domain_header {
	uint64_t magic;
	uint64_t layout;
	uint32_t state;			/* enum domain_state */
	struct rlock lock;		/* slots, the inode table, the pool's growth */
	slotmask_t live;		/* slots of live processes */
	struct slot slots[NR_SLOTS];
	struct rlock alloc_lock;	/* the free bitmap, nr_free, cursor */
	uint64_t nr_frames;		/* frames the segment holds (the pool's size) */
	uint64_t nr_free;		/* ... of which free */
	uint64_t capacity;		/* frames in use may not exceed this */
	uint64_t cursor;		/* next-fit allocation starts here */
	uint64_t hot;			/* the frame freed last + 1: a single frame's
					 * allocation takes it first (cache-hot, populated) */
	uint64_t hand;			/* the pool's reclaim clock */
	uint64_t next_gen;		/* names of anonymous objects */
	uint32_t orphans;		/* inodes with I_ORPHAN_DIRTY */
	uint32_t inode_free;		/* free inodes, chained through hash_next */
	uint32_t inode_hwm;		/* inodes ever used */
	uint32_t inode_hash[INODE_HASH];	/* inode + 1 */
	struct rlock node_lock;		/* node_free, node_hwm */
	uint32_t node_free;		/* free nodes, chained through slots[0] */
	uint32_t node_hwm;		/* nodes ever used */
	uint64_t nr_inodes;		/* inodes in use */
	uint64_t nr_held;		/* frames some slot holds (mapped != 0) */
	uint64_t cache_seq;		/* bumped with any inode's seq */
};

/* The segment: header, inodes, nodes, pages, bitmap, each page-aligned; the
 * frames start at SEGMENT_META, 2 MiB-aligned. */
#define SEG_ALIGN(x)		(((x) + 4095UL) & ~4095UL)
#define SEG_INODES		SEG_ALIGN(sizeof(struct domain_header))
#define SEG_NODES		SEG_ALIGN(SEG_INODES + NR_INODES * sizeof(struct inode))
#define SEG_PAGES		SEG_ALIGN(SEG_NODES + NR_NODES * sizeof(struct radix_node))
#define SEG_BITMAP		SEG_ALIGN(SEG_PAGES + MAX_FRAMES * sizeof(struct page))
#define SEGMENT_META		((SEG_BITMAP + MAX_FRAMES / 8 + (2UL << 20) - 1) & ~((2UL << 20) - 1))

/* This process's view of its domain (domain.c). */
struct domain {
	struct domain_header *hdr;
	struct inode *inodes;
	struct radix_node *nodes;
	struct page *pages;		/* mem_map: struct page of every frame */
	uint64_t *bitmap;		/* a set bit is a free frame */
	char *frames;			/* the library's RW view of every frame */
	int fd;				/* the segment */
	int slot;			/* this process's slot */
	int slot_fd;			/* holds the OFD lock on byte `slot` */
	int reap_fd;			/* takes dead slots' bytes to reap them */
	bool shared;			/* named in /dev/shm (false: a private domain) */
	char path[4096];		/* its name, to remove it */
};
extern struct domain dom;

/* handler-safe accessors */
static inline struct page *pfn_to_page(unsigned long pfn)
{
	return &dom.pages[pfn];
}

static inline char *page_address(unsigned long pfn)
{
	return dom.frames + (pfn << 12);
}

static inline struct inode *inode_of(uint32_t i)
{
	return &dom.inodes[i];
}

static inline uint32_t inode_index(const struct inode *inode)
{
	return (uint32_t)(inode - dom.inodes);
}

static inline slotmask_t live_slots(void)
{
	return __atomic_load_n(&dom.hdr->live, __ATOMIC_ACQUIRE);
}

/* handler-safe: slot s holds the frame now, or no longer: its bit in
 * `mapped`, and the domain's count of frames held by anyone. */
static inline void page_hold(struct page *page, int s)
{
	if (!__atomic_fetch_or(&page->mapped, SLOT_BIT(s), __ATOMIC_ACQ_REL))
		__atomic_add_fetch(&dom.hdr->nr_held, 1, __ATOMIC_RELAXED);
}

static inline void page_unhold(struct page *page, int s)
{
	slotmask_t old = __atomic_fetch_and(&page->mapped, ~SLOT_BIT(s), __ATOMIC_ACQ_REL);

	if (old == SLOT_BIT(s))
		__atomic_sub_fetch(&dom.hdr->nr_held, 1, __ATOMIC_RELAXED);
}

/* handler-safe: nobody holds the frame any more (it is being freed). */
static inline void page_unhold_all(struct page *page)
{
	if (__atomic_exchange_n(&page->mapped, 0, __ATOMIC_ACQ_REL))
		__atomic_sub_fetch(&dom.hdr->nr_held, 1, __ATOMIC_RELAXED);
}

/* Is the frame mapped by a live process other than this one? */
static inline bool page_mapped_elsewhere(const struct page *page, bool writable)
{
	slotmask_t m = __atomic_load_n(writable ? &page->wmapped : &page->mapped, __ATOMIC_ACQUIRE);

	return (m & live_slots() & ~SLOT_BIT(dom.slot)) != 0;
}

/* rlock.c (handler-safe) */
void rlock_lock(struct rlock *l);
bool rlock_trylock(struct rlock *l);
void rlock_unlock(struct rlock *l);
bool rlock_break(struct rlock *l, int slot);

/* domain.c */
int domain_attach(const char *name, unsigned long budget_frames);
void domain_detach(void);
void domain_exit(void);
bool slot_alive(int slot);				/* handler-safe */
int domain_populate(unsigned long off, unsigned long len);	/* handler-safe */
void domain_reap(int slot);				/* handler-safe */
void domain_fork_prepare(void);
void domain_fork_parent(void);
void domain_fork_child(void);
void domain_set_capacity(void);
void domain_reap_dead(void);
bool domain_has_dirty(void);

#endif /* VMEMU_DOMAIN_H */
