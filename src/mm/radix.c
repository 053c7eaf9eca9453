/*
 * radix.c - the page index of an inode: page offset -> frame (lib/xarray.c,
 * lib/radix-tree.c).
 *
 * 64-way nodes from the domain's node pool.  The tree is as tall as the
 * highest index needs (6 bits a level; 9 levels cover every offset a file
 * can have), so metadata grows with the pages cached, not with the file.
 * Readers are lockless, in any process: every change is one aligned store
 * (a new node is filled before it is linked, a taller root is published
 * with its height in one 64-bit word), and a reader confirms what it found
 * under the page lock (filemap.c), so a stale read only costs a retry.
 * Writers hold the inode's i_pages lock.  Nodes are freed only with the
 * inode, when no process can be reading it.
 */
#include <errno.h>
#include <string.h>

#include "mm/mm.h"

#define ROOT_NODE(r)	((uint32_t)(r))		/* node + 1 */
#define ROOT_HEIGHT(r)	((unsigned int)((r) >> 32))
#define MAX_HEIGHT	9			/* 54 bits of page offset */

static unsigned long height_span(unsigned int height)
{
	return height >= MAX_HEIGHT ? ~0UL : 1UL << (RADIX_SHIFT * height);
}

/* A zeroed node, or 0 if there is none (all taken, or no room in
 * /dev/shm).  handler-safe. */
static uint32_t node_alloc(void)
{
	struct domain_header *h = dom.hdr;
	uint32_t n;

	rlock_lock(&h->node_lock);
	if ((n = h->node_free)) {
		h->node_free = dom.nodes[n - 1].slots[0];
	} else if (h->node_hwm < NR_NODES &&
		   !domain_populate(SEG_NODES + h->node_hwm * sizeof(struct radix_node), sizeof(struct radix_node))) {
		n = ++h->node_hwm;
	}
	rlock_unlock(&h->node_lock);
	if (n)
		memset(&dom.nodes[n - 1], 0, sizeof(struct radix_node));
	return n;
}

static void node_free(uint32_t n)
{
	struct domain_header *h = dom.hdr;

	rlock_lock(&h->node_lock);
	dom.nodes[n - 1].slots[0] = h->node_free;
	h->node_free = n;
	rlock_unlock(&h->node_lock);
}

/* handler-safe: the entry at index, or 0. */
uint32_t radix_lookup(struct inode *inode, unsigned long index)
{
	uint64_t root = __atomic_load_n(&inode->root, __ATOMIC_ACQUIRE);
	unsigned int height = ROOT_HEIGHT(root);
	uint32_t n = ROOT_NODE(root);

	if (!height || index >= height_span(height))
		return 0;
	while (n && n <= NR_NODES) {
		unsigned int shift = RADIX_SHIFT * --height;
		uint32_t e = __atomic_load_n(&dom.nodes[n - 1].slots[(index >> shift) & (RADIX_SLOTS - 1)],
					     __ATOMIC_ACQUIRE);
		if (!height)
			return e;
		n = e;
	}
	return 0;
}

/* Make the tree tall enough for index: a new root above the old one, its
 * first child.  Caller holds i_pages_lock. */
static int radix_extend(struct inode *inode, unsigned long index)
{
	uint64_t root = inode->root;

	while (!ROOT_HEIGHT(root) || index >= height_span(ROOT_HEIGHT(root))) {
		uint32_t n = node_alloc();
		if (!n)
			return -ENOMEM;
		dom.nodes[n - 1].slots[0] = ROOT_NODE(root);
		root = ((uint64_t)(ROOT_HEIGHT(root) + 1) << 32) | n;
		__atomic_store_n(&inode->root, root, __ATOMIC_RELEASE);
	}
	return 0;
}

/* The leaf slot for index, creating nodes on the way if create.  Caller
 * holds i_pages_lock. */
static uint32_t *radix_slot(struct inode *inode, unsigned long index, bool create)
{
	uint64_t root = inode->root;
	unsigned int height = ROOT_HEIGHT(root);
	uint32_t n = ROOT_NODE(root);

	if (!height || index >= height_span(height))
		return NULL;
	for (;;) {
		unsigned int shift = RADIX_SHIFT * --height;
		uint32_t *slot = &dom.nodes[n - 1].slots[(index >> shift) & (RADIX_SLOTS - 1)];
		if (!height)
			return slot;
		if (!*slot) {
			uint32_t c;
			if (!create || !(c = node_alloc()))
				return NULL;
			__atomic_store_n(slot, c, __ATOMIC_RELEASE);
		}
		n = *slot;
	}
}

/* handler-safe: put entry at index if it holds expect.  Returns 0, -EEXIST
 * if it holds something else, -ENOMEM if no node can be had.  Caller
 * holds i_pages_lock. */
int radix_replace(struct inode *inode, unsigned long index, uint32_t expect, uint32_t entry)
{
	uint32_t *slot;
	int r;

	if (entry && (r = radix_extend(inode, index)))
		return r;
	if (!(slot = radix_slot(inode, index, entry != 0)))
		return expect ? -EEXIST : 0;
	if (*slot != expect)
		return -EEXIST;
	__atomic_store_n(slot, entry, __ATOMIC_RELEASE);
	return 0;
}

/* The first index at or after from in subtree n, of height h, whose
 * indexes start at base; ~0UL if none. */
static unsigned long next_in(uint32_t n, unsigned int h, unsigned long base, unsigned long from,
			     uint32_t *entry)
{
	unsigned int shift = RADIX_SHIFT * (h - 1);
	unsigned int i = from > base ? (unsigned int)((from - base) >> shift) : 0;

	if (!n || n > NR_NODES)		/* a racing reader's stale link: nothing */
		return ~0UL;
	for (; i < RADIX_SLOTS; i++) {
		uint32_t e = __atomic_load_n(&dom.nodes[n - 1].slots[i], __ATOMIC_ACQUIRE);
		unsigned long child = base + ((unsigned long)i << shift);
		if (!e)
			continue;
		if (h == 1) {
			*entry = e;
			return child;
		}
		unsigned long r = next_in(e, h - 1, child, from > child ? from : child, entry);
		if (r != ~0UL)
			return r;
	}
	return ~0UL;
}

/* The first index at or after from with an entry (put in *entry), or ~0UL.
 * Lockless, as radix_lookup. */
unsigned long radix_next(struct inode *inode, unsigned long from, uint32_t *entry)
{
	uint64_t root = __atomic_load_n(&inode->root, __ATOMIC_ACQUIRE);
	unsigned int height = ROOT_HEIGHT(root);

	if (!height || from >= height_span(height))
		return ~0UL;
	return next_in(ROOT_NODE(root), height, 0, from, entry);
}

static void free_subtree(uint32_t n, unsigned int height)
{
	if (!n || n > NR_NODES)
		return;
	if (height > 1)
		for (unsigned int i = 0; i < RADIX_SLOTS; i++)
			free_subtree(dom.nodes[n - 1].slots[i], height - 1);
	node_free(n);
}

/* Free every node of inode's index (the inode is being freed: nobody can
 * be reading it). */
void radix_free(struct inode *inode)
{
	uint64_t root = inode->root;

	free_subtree(ROOT_NODE(root), ROOT_HEIGHT(root));
	inode->root = 0;
}
