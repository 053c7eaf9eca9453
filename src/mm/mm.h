/*
 * mm.h - the emulated kernel's structures: mm_struct, vm_area_struct, the
 * page cache (address_space), software page tables, and the fault state.
 *
 * Names and roles follow Linux (include/linux/mm_types.h, mm.h, fs.h).
 * Nothing here knows the host; src/host/host.h is the only way out.
 */
#ifndef VMEMU_MM_H
#define VMEMU_MM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "host/host.h"
#include "mm/domain.h"

#define PAGE_SHIFT	12
#define PAGE_SIZE	(1UL << PAGE_SHIFT)
#define PAGE_MASK	(~(PAGE_SIZE - 1))
#define PAGE_ALIGN(x)	(((x) + PAGE_SIZE - 1) & PAGE_MASK)
#define offset_in_page(x) ((unsigned long)(x) & (PAGE_SIZE - 1))
#define TASK_SIZE	((1UL << 47) - PAGE_SIZE)	/* x86-64, 4-level: the top page is a guard */

/* vm_flags, with Linux's values (the first three equal PROT_*). */
#define VM_NONE		0x00000000UL
#define VM_READ		0x00000001UL
#define VM_WRITE	0x00000002UL
#define VM_EXEC		0x00000004UL
#define VM_SHARED	0x00000008UL
#define VM_MAYREAD	0x00000010UL
#define VM_MAYWRITE	0x00000020UL
#define VM_MAYEXEC	0x00000040UL
#define VM_MAYSHARE	0x00000080UL
#define VM_LOCKED	0x00002000UL	/* mlock: populated, never reclaimed */
#define VM_SEQ_READ	0x00008000UL
#define VM_RAND_READ	0x00010000UL
#define VM_DONTCOPY	0x00020000UL	/* MADV_DONTFORK: not in a forked child */
#define VM_LOCKONFAULT	0x00080000UL	/* with VM_LOCKED: pages locked as they fault in */
#define VM_NORESERVE	0x00200000UL
#define VM_WIPEONFORK	0x02000000UL	/* MADV_WIPEONFORK: empty in a forked child */
#define VM_LOCKED_MASK	(VM_LOCKED | VM_LOCKONFAULT)
#define VM_ACCESS_FLAGS	(VM_READ | VM_WRITE | VM_EXEC)

/* Software PTE: one 64-bit word per virtual page (pgtable.c), like the
 * kernel's.  Zero is "none": the host page is PROT_NONE and nothing is kept.
 * The bits above PTE_VAL_SHIFT hold a value: the frame (page_alloc.c) of a
 * page-cache page, the slot in this process's frame table (vmscan.c) of a
 * private page, or the swap entry (swapfile.c) of a swapped-out one.
 *
 *   PRESENT [WRITE]          a page-cache page: its frame, mapped
 *   PRESENT ANON [WRITE]     a private page (anonymous or a COW copy), mapped
 *   ANON                     a private page still in memory but made PROT_NONE
 *                            by reclaim to see whether it is used again
 *   SWAP                     a private page in swap; the host page is discarded
 *
 * PTE_LOCKED is the PTE lock (the kernel's page-table lock, per entry): a
 * fault holds it only to install (after its read), reclaim only try-locks
 * it; PTE_WAITERS says a thread may sleep on it.  ptep_get hides both. */
typedef uint64_t pte_t;
#define PTE_PRESENT	0x01	/* the host page is accessible */
#define PTE_WRITE	0x02	/* ... and writable (dirty-tracked or a private copy) */
#define PTE_ANON	0x04	/* a private page: anonymous or a broken COW */
#define PTE_SWAP	0x08	/* a private page in swap */
#define PTE_LOCKED	0x10	/* the PTE lock */
#define PTE_WAITERS	0x40	/* ... and a thread may sleep on it (a futex on the low half) */
#define PTE_FRESH	0x20	/* a private page mapped around another's first touch,
				 * not accessed since as far as vmemu knows: the host
				 * may not have populated it (mincore asks) */
#define PTE_VAL_SHIFT	8
#define pte_val(pte)	((pte) >> PTE_VAL_SHIFT)
#define mk_pte(flags, val) ((pte_t)(flags) | ((pte_t)(val) << PTE_VAL_SHIFT))

/* Fault flags and results (include/linux/mm_types.h). */
#define FAULT_FLAG_WRITE	0x01	/* the access is a write */
#define FAULT_FLAG_INSTRUCTION	0x02	/* the access is an instruction fetch */
#define FAULT_FLAG_GUESS	0x04	/* access type unknown: infer it */
#define FAULT_FLAG_REPEAT	0x08	/* this thread's last fault was here too, and changed nothing */

#define VM_FAULT_OOM		0x0001
#define VM_FAULT_SIGBUS		0x0002
#define VM_FAULT_MAJOR		0x0004
#define VM_FAULT_SIGSEGV	0x0040
#define VM_FAULT_NOPAGE		0x0100	/* nothing to do: raced, already present */
#define VM_FAULT_ERROR		(VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV)

struct vm_area_struct;
struct address_space;
struct file;
struct fault;

/* How an object's pages are read and written (address_space_operations).
 * readpage (devices only: files are read by page_cache_fill) is
 * handler-safe: it fills the frame dst of vmf->pgoff, returning 0, -ENXIO
 * for "no such page" (SIGBUS), or another -errno (I/O error).  writepages
 * (handler-safe) writes a run of at most WB_BATCH frames, frame pfn[i] as
 * page pgoff + i, and may zero the bytes past end of file of the last, as a
 * disk file system's does; it returns 0, or -errno with the pages written
 * whole before the failure in *written (nr on success). */
#define WB_BATCH	16	/* pages written back as one run: one protect, one pwritev */
struct address_space_operations {
	int (*readpage)(struct fault *vmf, char *dst);
	int (*writepages)(struct address_space *mapping, unsigned long pgoff, const unsigned long *pfn,
			  unsigned int nr, unsigned int *written);
};

/* A user-space driver's hooks (src/api/device.c adapts vme_device_ops). */
struct device {
	int (*mmap)(struct device *dev, struct vm_area_struct *vma);	/* 0 or -errno */
	int (*fill)(struct device *dev, struct fault *vmf, char *page);	/* handler-safe: 0 or -ENXIO */
	int (*mkwrite)(struct device *dev, struct fault *vmf);		/* handler-safe; may be NULL */
	void (*release)(struct device *dev);	/* the last reference is gone */
	const char *name;
};

/* This process's side of a page cache (the shared part is mapping->host,
 * the domain's inode): a descriptor to write back through, the VMAs that
 * map the object here (the rmap), and what this process last saw of it. */
struct address_space {
	struct inode *host;		/* the shared inode */
	int fd;				/* our descriptor for write-back, or -1 */
	bool fd_writable;		/* fd was opened for writing */
	uint32_t seq;			/* host->seq when this process last caught up */
	int wb_err;			/* first write-back error not yet reported */
	const struct address_space_operations *a_ops;
	struct device *device;		/* the driver, for a device's page cache */
	struct vm_area_struct *i_mmap;	/* VMAs mapping this object (rmap) */
	int refcount;			/* struct files and I/O users referring to this; changed under
					 * mmap_lock for writing, or atomically under it for reading */
	struct address_space *next;	/* in mm->mappings */
};

/* Readahead state of an open file (struct file_ra_state): only the miss
 * count, updated by concurrent faults without a lock (a lost update only
 * moves when read-around stops); a stream's window is found in the cache
 * itself (readahead.c). */
struct file_ra_state {
	unsigned long mmap_miss;	/* misses minus hits: read-around stops when high */
};

/* An open file as mmap sees it: a reference to the page cache and a name. */
struct file {
	struct address_space *f_mapping;
	struct file_ra_state f_ra;
	const struct file_operations *f_op;
	char *f_path;			/* as /proc/self/maps shows it */
	int refcount;			/* VMAs referring to this */
};

struct file_operations {
	int (*mmap)(struct file *file, struct vm_area_struct *vma);
};

struct vm_operations_struct {
	int (*fault)(struct fault *vmf);		/* fill the page cache page */
	int (*page_mkwrite)(struct fault *vmf);		/* a clean shared page is being written */
	const char *name;
};

struct vm_area_struct {
	unsigned long vm_start;		/* first byte */
	unsigned long vm_end;		/* first byte after */
	unsigned long vm_flags;		/* VM_* */
	int vm_page_prot;		/* host protection of a present writable page */
	unsigned long vm_pgoff;		/* offset in the object, in pages */
	struct file *vm_file;		/* NULL for private anonymous memory */
	const struct vm_operations_struct *vm_ops;	/* NULL for anonymous memory */
	struct vm_area_struct *shared_next;	/* in vm_file->f_mapping->i_mmap */
};

/* The address space.  VMAs sit in a sorted array (binary search, O(log n)),
 * read by the fault handler under mmap_lock for reading. */
struct mm_struct {
	struct vm_area_struct **vmas;
	size_t map_count;
	size_t vmas_cap;
	unsigned long mmap_base;	/* lowest address handed out so far */
	unsigned long start_brk, brk;	/* the heap: its start and the current break */
	unsigned long brk_end;		/* end of the range reserved for the heap */
	struct address_space *mappings;	/* every live page cache */
	unsigned long span_start, span_end;	/* covers every VMA ever linked (uaccess.c) */
	uint64_t cache_seq;		/* the domain's cache_seq when this process last caught up */
	unsigned long locked_vm;	/* pages of VM_LOCKED VMAs, against RLIMIT_MEMLOCK */
	unsigned long def_flags;	/* given to every new VMA: VM_LOCKED[ONFAULT] (MCL_FUTURE) */
};

/* The one carried fault state (struct vm_fault). */
struct fault {
	struct vm_area_struct *vma;	/* the VMA containing address */
	unsigned long address;		/* page-aligned faulting address */
	unsigned long real_address;	/* the address the access used */
	unsigned long pgoff;		/* page index in the VMA's object */
	unsigned int flags;		/* FAULT_FLAG_* */
	pte_t *pte;			/* software PTE of address */
	pte_t orig_pte;			/* its value when the fault started */
	unsigned long pfn;		/* the page-cache frame ->fault returned, locked */
	unsigned int trace_kind;	/* the path taken (enum trace_kind), for tracing */
	unsigned int nr_read;		/* pages page_cache_fill read for it (1 + readahead) */
	unsigned long read_first;	/* ... from this page on */
	unsigned long spare_slot;	/* a slot of the budget taken before the PTE lock, for the fault page */
	unsigned int nr_mapped;		/* pages do_fault_around mapped (1 + neighbours), for tracing */
};

extern struct mm_struct init_mm;

/* lock.c: mmap_lock, a reader-writer lock the handler can take for reading.
 * Writers run with asynchronous signals blocked (see api), so no handler can
 * interrupt a thread that holds it. */
void mmap_read_lock(void);		/* handler-safe */
void mmap_read_unlock(void);		/* handler-safe */
void mmap_write_lock(void);
void mmap_write_unlock(void);
int mmap_lock_init(void);

/* mutex.c: a sleeping lock for this process's threads (handler-safe). */
struct mutex {
	uint32_t state;		/* 0 free, 1 held, 2 held with possible sleepers */
};
#define DEFINE_MUTEX(name)	struct mutex name = { 0 }
void mutex_lock(struct mutex *m);				/* handler-safe */
void mutex_unlock(struct mutex *m);				/* handler-safe */

/* The page lock (handler-safe): an rlock in the shared struct page. */
static inline void lock_page(unsigned long pfn)
{
	rlock_lock(&pfn_to_page(pfn)->lock);
}
static inline bool trylock_page(unsigned long pfn)
{
	return rlock_trylock(&pfn_to_page(pfn)->lock);
}
static inline void unlock_page(unsigned long pfn)
{
	rlock_unlock(&pfn_to_page(pfn)->lock);
}

/* vmalloc.c: vmemu's own memory, which the program's calls treat as the
 * kernel's (a hole it cannot map over).  Returns 0 or -errno. */
int vmalloc(size_t size, void **addr);
int vmap_segment(int fd, off_t off, size_t size, void **addr);
void vfree(void *addr, size_t size);
void vmalloc_scan_for_leaks(void *addr, size_t size);
unsigned long vmalloc_part(unsigned long start, unsigned long end, bool *own);
bool vmalloc_intersects(unsigned long start, unsigned long end);
unsigned long vmalloc_total(void);

/* pgtable.c: two-level software page table over the whole address space. */
int pgtable_init(void);
void pgtable_exit(void);
pte_t *pte_offset(unsigned long addr, bool alloc);	/* handler-safe */
void set_pte_at(unsigned long addr, pte_t *ptep, pte_t pte);	/* handler-safe */
pte_t ptep_get(const pte_t *ptep);	/* handler-safe */
pte_t pte_lock(pte_t *ptep);		/* handler-safe */
bool pte_trylock(pte_t *ptep);		/* handler-safe */
void pte_unlock(pte_t *ptep);		/* handler-safe */
bool pte_wait_unlocked(pte_t *ptep);	/* handler-safe */
unsigned long pte_next_table(unsigned long addr, unsigned long end);
int walk_ptes(unsigned long start, unsigned long end,
	      int (*fn)(unsigned long addr, pte_t *ptep, void *arg), void *arg);

/* vma.c: the VMA tree. */
struct vm_area_struct *find_vma(struct mm_struct *mm, unsigned long addr);	/* handler-safe */
struct vm_area_struct *find_vma_intersection(struct mm_struct *mm, unsigned long start, unsigned long end);
struct vm_area_struct *vma_prev(struct mm_struct *mm, struct vm_area_struct *vma);
struct vm_area_struct *vma_next(struct mm_struct *mm, struct vm_area_struct *vma);
int vma_link(struct mm_struct *mm, struct vm_area_struct *vma);
void vma_unlink(struct mm_struct *mm, struct vm_area_struct *vma);
int split_vma(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long addr, int new_below);
struct vm_area_struct *vma_merge(struct mm_struct *mm, struct vm_area_struct *vma);
int vm_area_cache_init(void);
struct vm_area_struct *vm_area_alloc(void);
void vm_area_free(struct vm_area_struct *vma);
int vmas_reserve(struct mm_struct *mm);
void vmas_free(struct mm_struct *mm);
int vma_host_prot(const struct vm_area_struct *vma, pte_t pte);	/* handler-safe */
void mm_span_include(struct mm_struct *mm, unsigned long start, unsigned long end);
void i_mmap_insert(struct vm_area_struct *vma);
void i_mmap_remove(struct vm_area_struct *vma);
static inline unsigned long vma_pages(const struct vm_area_struct *vma)
{
	return (vma->vm_end - vma->vm_start) >> PAGE_SHIFT;
}
static inline unsigned long linear_page_index(const struct vm_area_struct *vma, unsigned long addr)
{
	return ((addr - vma->vm_start) >> PAGE_SHIFT) + vma->vm_pgoff;
}
static inline bool vma_is_anonymous(const struct vm_area_struct *vma)
{
	return !vma->vm_ops;
}
static inline unsigned long mapping_nr_dirty(const struct address_space *mapping)
{
	return __atomic_load_n(&mapping->host->nrdirty, __ATOMIC_ACQUIRE);
}
/* The pages of the object (its size rounded up): a fault at or past it is SIGBUS. */
static inline unsigned long inode_size_pages(const struct inode *inode)
{
	return (__atomic_load_n(&inode->i_size, __ATOMIC_ACQUIRE) + PAGE_SIZE - 1) >> PAGE_SHIFT;
}
static inline bool vma_is_shared_file(const struct vm_area_struct *vma)
{
	return (vma->vm_flags & VM_SHARED) && vma->vm_file &&
	       vma->vm_file->f_mapping->a_ops->writepages;
}

/* inode.c: the domain's inodes. */
bool ilookup_any(dev_t dev, ino_t ino);
int iget_file(int fd, const struct stat *st, const char *path, bool create, struct inode **out);
struct inode *iget_anon(enum inode_kind kind, uint64_t size);
void iput(struct inode *inode);
void inode_release_if_unused(struct inode *inode);		/* handler-safe */
void inode_set_stat(struct inode *inode, const struct stat *st);
bool inode_stat_changed(const struct inode *inode, const struct stat *st);
uint32_t inode_write_begin(struct inode *inode);				/* handler-safe */
void inode_write_record(struct inode *inode, uint32_t gen, const struct stat *before,
			const struct stat *after);				/* handler-safe */
void inode_write_end(struct inode *inode);					/* handler-safe */
int inode_changed_outside(struct inode *inode, int fd, struct stat *st);

/* radix.c: the page index (lookups lockless; changes under i_pages_lock). */
uint32_t radix_lookup(struct inode *inode, unsigned long index);	/* handler-safe */
int radix_replace(struct inode *inode, unsigned long index, uint32_t expect, uint32_t entry);	/* handler-safe */
unsigned long radix_next(struct inode *inode, unsigned long from, uint32_t *entry);
void radix_free(struct inode *inode);

/* page_alloc.c: the frame pool (handler-safe). */
unsigned long alloc_pages_run(unsigned long want, unsigned long *pfn);
void free_page_frame(unsigned long pfn);
void __free_page_frame(unsigned long pfn);	/* caller holds alloc_lock */
unsigned long nr_cached_pages(void);
void view_account(unsigned long pages);
void view_set_limit(unsigned long budget);

/* filemap.c: the page cache. */
extern const struct vm_operations_struct generic_file_vm_ops;
extern const struct file_operations generic_file_operations;
int filemap_fault(struct fault *vmf);	/* handler-safe */
unsigned long find_lock_page(struct inode *inode, unsigned long pgoff);	/* handler-safe */
#define NO_PAGE	(~0UL)
int add_to_page_cache_locked(struct inode *inode, unsigned long pfn, unsigned long pgoff);	/* handler-safe */
int add_to_page_cache(struct inode *inode, unsigned long pfn, unsigned long pgoff);	/* handler-safe */
void delete_from_page_cache(unsigned long pfn);			/* handler-safe */
void put_page_if_orphan(unsigned long pfn);			/* handler-safe */
bool page_is_orphan(unsigned long pfn);				/* handler-safe */
void mark_page_accessed(unsigned long pfn);			/* handler-safe */
void set_page_dirty(unsigned long pfn);				/* handler-safe */
struct address_space *mapping_alloc(const struct address_space_operations *a_ops, struct inode *host);
struct address_space *mapping_find(struct mm_struct *mm, const struct inode *inode);
void mapping_put(struct mm_struct *mm, struct address_space *mapping);
int mapping_release_orphans(struct mm_struct *mm);
int file_open_mapping(struct mm_struct *mm, int fd, bool want_write, struct file **filep);
struct file *get_file(struct file *file);
void fput(struct mm_struct *mm, struct file *file);
bool mapping_is_file(const struct address_space *mapping);
extern const struct address_space_operations file_aops;

/* writeback.c: write-back (mm/page-writeback.c). */
int filemap_write_and_wait_range(struct address_space *mapping, unsigned long first,
				 unsigned long last, bool sync);
int writable_fd(int fd);
int writeback_range(struct address_space *mapping, struct inode *inode, int fd, unsigned long first,
		    unsigned long last, bool sync);
void wait_on_page_writeback(unsigned long pfn);				/* handler-safe */
int writeback_pfn(struct address_space *mapping, unsigned long pfn);	/* handler-safe */
int writeback_orphans(bool all);
int evict_page(struct address_space *mapping, unsigned long pgoff);

/* truncate.c: pages leaving the cache (mm/truncate.c). */
void truncate_inode_pages(struct inode *inode, uint64_t lstart);	/* handler-safe */
void truncate_pagecache(struct mm_struct *mm, struct address_space *mapping, uint64_t newsize);
int invalidate_inode_pages(struct address_space *mapping, const struct stat *st);
int mapping_revalidate(struct address_space *mapping);
void mapping_resync(struct address_space *mapping);			/* handler-safe */
int punch_pagecache(struct address_space *mapping, unsigned long first, unsigned long last);
void zero_page_tail(unsigned long pfn, size_t from);		/* handler-safe */

/* readwrite.c: read, write, truncate and fsync through the page cache. */
struct file_io {
	struct inode *inode;		/* the file's cache, or NULL: none */
	struct address_space *mapping;	/* this process's side of it, referenced, or NULL */
	bool temp;			/* this process was made a user for the call */
};
int io_get(struct mm_struct *mm, int fd, bool create, struct file_io *io);
void io_put(struct mm_struct *mm, struct file_io *io);
ssize_t filemap_read_overlay(struct mm_struct *mm, struct inode *inode, off_t off, size_t n,
			     const struct iovec *iov, int cnt);
ssize_t filemap_write(struct mm_struct *mm, struct inode *inode, int fd, off_t off, bool at_off,
		      const struct iovec *iov, int cnt, size_t n);
int filemap_write_caught_up(struct mm_struct *mm, struct inode *inode, int fd, off_t pos, size_t n,
			    uint64_t old_size, const struct iovec *iov, int cnt);
void inode_record_fd(struct inode *inode, uint32_t gen, int fd);
int do_truncate(struct mm_struct *mm, struct file_io *io, int fd, off_t length);
int do_fsync(struct mm_struct *mm, struct file_io *io, int fd);

/* rmap.c: this process's mappings of an object's pages. */
typedef int (*rmap_fn)(struct vm_area_struct *vma, unsigned long addr, pte_t *ptep, void *arg);
int rmap_walk(struct address_space *mapping, unsigned long first, unsigned long last, rmap_fn fn,
	      void *arg);							/* handler-safe */

/* readahead.c: readahead windows and fault-around (handler-safe). */
int page_cache_fill(struct fault *vmf);
void ra_hit(struct file *file);
bool do_fault_around(struct fault *vmf, pte_t entry);

/* vmscan.c: this process's budget and frame table, reclaim. */
#define RECLAIM_BATCH	32	/* frames freed per direct reclaim */
int vmscan_init(unsigned long cache_mb);
void vmscan_fork_child(void);
unsigned long budget_frames(unsigned long cache_mb);
unsigned long alloc_frame(void);					/* handler-safe */
unsigned long alloc_free_frame(void);					/* handler-safe */
void set_frame(unsigned long s, unsigned long addr);			/* handler-safe */
void free_frame(unsigned long s);					/* handler-safe */
void release_frame(unsigned long s, unsigned long addr);		/* handler-safe */
void mark_frame_accessed(unsigned long s);				/* handler-safe */
void move_frame(unsigned long s, unsigned long addr);
int frame_map(unsigned long pfn, struct address_space *mapping, unsigned long pgoff, bool writable,
	      bool accessed, unsigned long *spare);
bool frame_has_slot(unsigned long pfn, struct address_space *mapping, unsigned long pgoff);	/* handler-safe */
void frame_unmap(unsigned long pfn, bool writable);			/* handler-safe */
void frame_hold(unsigned long pfn, struct address_space *mapping, unsigned long pgoff);	/* handler-safe */
void frame_set_writable(unsigned long pfn, bool writable);		/* handler-safe */
int reclaim_frame_now(unsigned long s, bool evict);
int reclaim_pfn_now(unsigned long pfn, bool evict);
unsigned long shrink_pool(unsigned long want);				/* handler-safe */
unsigned long shrink_own_frames(unsigned long want, unsigned long scan);	/* handler-safe */
void host_vmas_account(unsigned long n);				/* handler-safe */
void host_vmas_pressure(void);						/* handler-safe */
unsigned long nr_budget_pages(void);
unsigned long nr_resident_pages(void);
unsigned long nr_host_mappings(void);
int self_mem_fd(void);							/* handler-safe */
void unmap_all_frames(void);

/* The frame table as it is, slot by slot: for the invariant walker
 * (debug.c) and for letting go of an address_space (filemap.c). */
enum frame_kind {
	FI_FREE,		/* on the free list */
	FI_RESERVED,		/* taken by a fault that has not installed it yet */
	FI_ANON,		/* a private page, at address index */
	FI_MAPPED,		/* frame pfn, page index of mapping */
};
struct frame_info {
	enum frame_kind kind;
	struct address_space *mapping;	/* FI_MAPPED */
	unsigned long index;		/* FI_MAPPED: page offset; FI_ANON: address */
	unsigned long pfn;		/* FI_MAPPED */
	unsigned int mapcount, wcount;	/* FI_MAPPED: PTEs here mapping pfn, writable ones */
};
struct frame_table_info {
	unsigned long nr_slots;		/* the budget, in pages */
	unsigned long high_water;	/* slots 1 .. high_water have been used */
	unsigned long nr_free;		/* ... of which free: free_list[0 .. nr_free) */
	const uint32_t *free_list;
	const uint32_t *pfn_slot;	/* frame -> its slot here, 0 if none */
};
void frame_table_info(struct frame_table_info *t);
void frame_slot_info(unsigned long s, struct frame_info *f);

/* swapfile.c: swap areas (handler-safe unless noted). */
int swap_init(const char *path);	/* not handler-safe */
void swap_fork_child(void);
void swap_fork_parent(void);
bool swap_enabled(void);
unsigned long nr_swap_pages(void);
unsigned long get_swap_pages(unsigned long n, unsigned long *entry);
void swap_free(unsigned long entry);
unsigned long swap_free_seq(unsigned long entry);
int swap_writepage(unsigned long entry, const void *buf, unsigned long n);
int swap_readpage(unsigned long entry, void *buf);
char *swap_bounce_get(void);
void swap_bounce_put(char *buf);

/* device.c: user-space drivers. */
int device_register(struct mm_struct *mm, struct device *dev, int fd);
void device_unregister(struct mm_struct *mm, struct device *dev);
int device_open_file(struct mm_struct *mm, struct address_space *mapping, struct file **filep);

/* shmem.c: shared anonymous memory. */
int shmem_zero_setup(struct mm_struct *mm, struct vm_area_struct *vma);
bool shmem_reclaim_page(unsigned long pfn);			/* handler-safe */

/* fault.c: the fault path. */
int handle_mm_fault(struct vm_area_struct *vma, unsigned long address, unsigned int flags);	/* handler-safe */
enum host_fault vmemu_fault(unsigned long addr, enum host_access access);	/* handler-safe */

/* mmap.c */
int do_mmap(struct mm_struct *mm, unsigned long addr, unsigned long len, int prot,
	    int flags, int fd, unsigned long pgoff, unsigned long *out);
int do_munmap(struct mm_struct *mm, unsigned long start, size_t len, bool unmap_host);
int vma_map_backing(struct vm_area_struct *vma, unsigned long start, unsigned long end);
int map_frames(struct vm_area_struct *vma, unsigned long addr, unsigned long nr, unsigned long pfn,
	       pte_t entry);							/* handler-safe */
int populate_range(struct mm_struct *mm, unsigned long start, unsigned long end, bool write,
		   bool force);

/* mremap.c */
int mremap_check_args(unsigned long addr, unsigned long old_len, unsigned long new_len, int flags);
int do_mremap(struct mm_struct *mm, unsigned long addr, unsigned long old_len,
	      unsigned long new_len, int flags, unsigned long new_addr, unsigned long *out);

/* brk.c: the heap. */
int do_brk(struct mm_struct *mm, unsigned long brk, unsigned long *out);
bool vma_is_heap(const struct mm_struct *mm, const struct vm_area_struct *vma);

/* mprotect.c, msync.c, madvise.c, mincore.c */
int do_mprotect(struct mm_struct *mm, unsigned long start, size_t len, int prot);
int do_msync(struct mm_struct *mm, unsigned long start, size_t len, int flags);
int do_madvise(struct mm_struct *mm, unsigned long start, size_t len, int advice);
int do_mincore(struct mm_struct *mm, unsigned long start, unsigned long pages, unsigned char *vec);
int zap_page_range(struct vm_area_struct *vma, unsigned long start, unsigned long end);
void zap_pte(unsigned long addr, pte_t *ptep, pte_t pte);
int change_protection(struct vm_area_struct *vma, unsigned long start, unsigned long end);
int vma_modify_flags(struct mm_struct *mm, struct vm_area_struct *vma, unsigned long start,
		     unsigned long end, unsigned long newflags);

/* mlock.c: memory locks and RLIMIT_MEMLOCK.  Callers hold mmap_lock (for
 * writing where the tree changes). */
bool can_do_mlock(void);
bool mlock_future_ok(struct mm_struct *mm, unsigned long flags, unsigned long bytes);
int do_mlock(struct mm_struct *mm, unsigned long start, size_t len, unsigned long flags);
int do_munlock(struct mm_struct *mm, unsigned long start, size_t len);
int do_mlockall(struct mm_struct *mm, int flags);
int do_munlockall(struct mm_struct *mm);
int mm_populate(struct mm_struct *mm, unsigned long start, unsigned long end, bool ignore_errors);
bool page_mlocked(struct address_space *mapping, unsigned long index);	/* handler-safe */

/* fork.c: the child's copy of the address space (dup_mmap).  In the forked
 * child, mmap_lock held for writing. */
void dup_mmap(struct mm_struct *mm);

/* uaccess.c: the program's buffers; copies return 0 or -EFAULT if inaccessible. */
bool user_range_maybe_emulated(const struct mm_struct *mm, const void *addr, size_t len);
void fault_in_user(struct mm_struct *mm, const void *addr, size_t len, bool write);
int copy_to_user(struct mm_struct *mm, void *dst, const void *src, size_t len);
int copy_from_user(struct mm_struct *mm, void *dst, const void *src, size_t len);
long strncpy_from_user(struct mm_struct *mm, char *dst, const char *src, size_t size);

/* walk.c: visit a user range part by part, emulated VMAs and host gaps. */
struct range_walk_ops {
	/* A part [start, end) inside vma (may change the tree). */
	int (*vma_range)(struct mm_struct *mm, struct vm_area_struct *vma,
			 unsigned long start, unsigned long end, void *arg);
	/* A part no emulated VMA covers: the host's business. */
	int (*gap)(unsigned long start, unsigned long end, void *arg);
	/* A hole (gap returned -ENOMEM) does not stop the walk; -ENOMEM is
	 * returned at the end, as msync and madvise do. */
	bool continue_past_holes;
};
int walk_range(struct mm_struct *mm, unsigned long start, unsigned long end,
	       const struct range_walk_ops *ops, void *arg);

/* mm_init.c: initialisation, shutdown. */
int mm_init(int verbose, unsigned long cache_mb, const char *swap, const char *domain);
int mm_exit(void);
int mm_writeback_all(void);
void mm_catch_up(void);
void mm_maybe_catch_up(void);
extern int mm_verbose;

#endif /* VMEMU_MM_H */
