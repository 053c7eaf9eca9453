/*
 * fault.c - the fault path (mm/memory.c).
 *
 *   vmemu_fault -> handle_mm_fault -> handle_pte_fault
 *     -> do_anonymous_page                         (no vm_ops)
 *     -> do_fault -> do_read_fault | do_cow_fault | do_shared_fault
 *                 -> __do_fault -> vma->vm_ops->fault (filemap_fault)
 *     -> do_wp_page                                (write to a read-only PTE)
 *
 * Every function here is handler-safe: it runs inside the SIGSEGV handler,
 * under mmap_lock held for reading, and uses only atomics, preallocated
 * memory and host_ system calls.
 *
 * The access type comes from the trap (the x86 page-fault error code), so a
 * first write goes straight to do_cow_fault or do_shared_fault.  Where the
 * trap cannot tell (FAULT_FLAG_GUESS: no error code, as under valgrind), a
 * fault on a missing page is handled as a read, and a fault that repeats on
 * a present read-only page is taken as the write it must be.
 */
#include <errno.h>

#include "host/host.h"
#include "mm/mm.h"
#include "mm/trace.h"
#include "mm/vmstat.h"

/* Install entry as the PTE of vmf->address, where the host already maps
 * the page (a private page, or a protection change): host protection
 * first, then the software PTE, so a racing fault that reads the new PTE
 * finds the page already accessible (it is then spurious).  Downgrades go
 * the other way (PTE first): the host never refuses what the PTE grants.
 * If the host refuses for lack of mappings (vm.max_map_count), reclaim
 * merges some and the protection is tried again: the access must not fail
 * for that.  (finish_fault) */
static int finish_fault_range(struct fault *vmf, unsigned long len, pte_t entry)
{
	int prot = vma_host_prot(vmf->vma, entry);
	unsigned long t0 = host_now_ns();
	int r = host_protect(vmf->address, len, prot);

	if (r == -ENOMEM) {
		host_vmas_pressure();
		r = host_protect(vmf->address, len, prot);
	}
	count_vm_events(EV_protect_ns, host_now_ns() - t0);
	if (r)
		return VM_FAULT_OOM;
	host_vmas_account(1);
	return 0;
}

static int finish_fault(struct fault *vmf, pte_t entry)
{
	int r = finish_fault_range(vmf, PAGE_SIZE, entry);

	if (!r)
		set_pte_at(vmf->address, vmf->pte, entry);
	return r;
}

/* handler-safe: take vmf's PTE lock if the PTE is still the one the fault
 * started from (finish_fault's pte_same check): the fault read the file or
 * swap, or waited for a page lock, without it.  Else let go and return
 * false: another fault or reclaim changed it, and the access retries. */
static bool pte_lock_same(struct fault *vmf)
{
	if (pte_lock(vmf->pte) == vmf->orig_pte)
		return true;
	pte_unlock(vmf->pte);
	return false;
}

/* handler-safe: the slot of the budget that mapping the fault page (locked,
 * vmf->pfn) will take if it holds none here yet, taken before the PTE lock:
 * taking one may reclaim, and reclaim writes back and swaps out, which
 * must not happen under a PTE lock.  frame_map uses it; what it leaves,
 * release_fault_slot gives back. */
static void reserve_fault_slot(struct fault *vmf)
{
	struct address_space *mapping = vmf->vma->vm_file->f_mapping;

	if (!mapping->device && !frame_has_slot(vmf->pfn, mapping, vmf->pgoff))
		vmf->spare_slot = alloc_frame();
}

static void release_fault_slot(struct fault *vmf)
{
	if (vmf->spare_slot)
		free_frame(vmf->spare_slot);
	vmf->spare_slot = 0;
}

/* Map the page-cache frame vmf->pfn (locked by the caller) at
 * vmf->address with entry's flags: accounted first (the frame's masks say
 * this process maps it before the host does), then the host mapping, then
 * the PTE.  (finish_fault for a page-cache page) */
static int finish_fault_frame(struct fault *vmf, pte_t entry)
{
	struct address_space *mapping = vmf->vma->vm_file->f_mapping;
	bool writable = entry & PTE_WRITE;

	if (frame_map(vmf->pfn, mapping, vmf->pgoff, writable, true, &vmf->spare_slot))
		return VM_FAULT_OOM;
	if (map_frames(vmf->vma, vmf->address, 1, vmf->pfn, entry)) {
		frame_unmap(vmf->pfn, writable);
		return VM_FAULT_OOM;
	}
	set_pte_at(vmf->address, vmf->pte, entry | mk_pte(0, vmf->pfn));
	return 0;
}

static pte_t anon_entry(const struct fault *vmf, unsigned long slot)
{
	return mk_pte(PTE_PRESENT | PTE_ANON | ((vmf->vma->vm_flags & VM_WRITE) ? PTE_WRITE : 0), slot);
}

#define ANON_AROUND	16	/* fresh private pages a first touch maps */

/* handler-safe: take the fresh private page at addr of vmf's VMA for the
 * cluster: its PTE locked (0: never touched, nothing in swap) and a slot
 * of the budget (the fault page's: fault_slot, its PTE locked already).
 * Returns the slot, or 0 having locked nothing. */
static unsigned long take_fresh_page(struct fault *vmf, unsigned long addr, unsigned long fault_slot)
{
	if (addr == vmf->address)
		return fault_slot;
	pte_t *pte = pte_offset(addr, true);
	if (!pte || ptep_get(pte) || !pte_trylock(pte))
		return 0;
	unsigned long slot = ptep_get(pte) ? 0 : alloc_free_frame();	/* no reclaim under a PTE lock */
	if (!slot)
		pte_unlock(pte);
	return slot;
}

/* handler-safe: make pages [start, end), slots[] taken, present at once:
 * one host call; then their PTEs, and all but the fault page's let go.
 * Returns 0 or the host's refusal (the slots are freed). */
static int map_fresh_run(struct fault *vmf, unsigned long start, unsigned long end, const unsigned long *slots,
			 unsigned long lo)
{
	struct fault one = *vmf;
	int r;

	one.address = start;
	r = finish_fault_range(&one, end - start, anon_entry(vmf, 0));
	for (unsigned long addr = start; addr < end; addr += PAGE_SIZE) {
		unsigned long s = slots[(addr - lo) >> PAGE_SHIFT];
		pte_t *pte = addr == vmf->address ? vmf->pte : pte_offset(addr, false);
		if (r) {
			free_frame(s);
		} else {
			set_pte_at(addr, pte, anon_entry(vmf, s) | (addr == vmf->address ? 0 : PTE_FRESH));
			set_frame(s, addr);
		}
		if (addr != vmf->address)
			pte_unlock(pte);
	}
	return r;
}

/* Private anonymous memory: the host gives a zero page on first touch.  The
 * first touch maps the fresh pages of its aligned ANON_AROUND block with it
 * (anonymous fault-around), a run of them in one host call, so a scan takes
 * one signal per block: the host still populates each page only at its
 * first access, so the process's RSS is what it touched, but each takes a
 * slot of the budget.  Not when the budget is nearly full, nor under
 * MADV_RANDOM. */
static int do_anonymous_page(struct fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long slots[ANON_AROUND];
	unsigned long lo = vmf->address, hi = vmf->address + PAGE_SIZE;
	int ret = 0;

	count_vm_event(EV_anon_fault);
	vmf->trace_kind = TRACE_ANON_FAULT;
	/* the fault page's slot before the PTE lock: taking it may reclaim */
	unsigned long slot = alloc_frame();
	if (!slot)
		return VM_FAULT_OOM;
	if (!pte_lock_same(vmf)) {
		free_frame(slot);
		return VM_FAULT_NOPAGE;
	}
	if (!(vma->vm_flags & VM_RAND_READ) && nr_resident_pages() + 8 * ANON_AROUND <= nr_budget_pages()) {
		unsigned long block = vmf->address & ~(ANON_AROUND * PAGE_SIZE - 1);
		lo = block > vma->vm_start ? block : vma->vm_start;
		hi = block + ANON_AROUND * PAGE_SIZE < vma->vm_end ? block + ANON_AROUND * PAGE_SIZE : vma->vm_end;
	}
	vmf->nr_mapped = 0;
	for (unsigned long addr = lo; addr < hi;) {
		unsigned long start = addr;
		while (addr < hi && (slots[(addr - lo) >> PAGE_SHIFT] = take_fresh_page(vmf, addr, slot)))
			addr += PAGE_SIZE;
		if (addr > start) {
			int r = map_fresh_run(vmf, start, addr, slots, lo);
			if (start <= vmf->address && vmf->address < addr)
				ret = r;
			if (!r)
				vmf->nr_mapped += (unsigned int)((addr - start) >> PAGE_SHIFT);
		}
		addr += PAGE_SIZE;	/* the page that ended the run */
	}
	pte_unlock(vmf->pte);
	if (vmf->nr_mapped > 1)
		count_vm_events(EV_pgfaultaround, vmf->nr_mapped - 1);
	return ret;
}

/* A private page reclaim made PROT_NONE to see if it is still used: it is. */
static int do_anon_reactivate(struct fault *vmf)
{
	unsigned long slot = pte_val(vmf->orig_pte);

	vmf->trace_kind = TRACE_ANON_FAULT;
	mark_frame_accessed(slot);
	return finish_fault(vmf, anon_entry(vmf, slot));
}

/* A private page in swap (do_swap_page): read it from swap without the PTE
 * lock; then, the PTE still the same, write it into the host page through
 * /proc/self/mem while the page is still PROT_NONE, and map it.  The PTE
 * being the same entry again is not enough: meanwhile another fault may
 * have swapped the page in (freeing the slot), the program stored to it,
 * and reclaim written it out again into that very slot (the free stack
 * hands it back first).  So the slot's free count is read while the PTE
 * names it, and if it moved by the time the PTE lock is held, the slot is
 * read again under the lock (the kernel's swap cache and swap count keep
 * an entry from being reused under a reader instead). */
static int do_swap_page(struct fault *vmf)
{
	unsigned long entry = pte_val(vmf->orig_pte), slot = alloc_frame();
	unsigned long seq = swap_free_seq(entry);
	int ret = VM_FAULT_MAJOR;

	count_vm_event(EV_anon_fault);
	vmf->trace_kind = TRACE_ANON_FAULT;
	if (!slot)
		return VM_FAULT_OOM;
	if (ptep_get(vmf->pte) != vmf->orig_pte) {	/* the entry is no longer the page's */
		free_frame(slot);
		return VM_FAULT_NOPAGE;
	}
	char *buf = swap_bounce_get();
	if (swap_readpage(entry, buf)) {
		swap_bounce_put(buf);
		free_frame(slot);
		return VM_FAULT_SIGBUS;	/* the page stays in swap: a later access retries */
	}
	if (!pte_lock_same(vmf)) {
		swap_bounce_put(buf);
		free_frame(slot);
		return VM_FAULT_NOPAGE;
	}
	if (swap_free_seq(entry) != seq && swap_readpage(entry, buf))
		ret = VM_FAULT_SIGBUS;	/* the slot was reused: what it holds now */
	else if (host_self_mem_rw(self_mem_fd(), buf, PAGE_SIZE, vmf->address, true) < 0)
		ret = VM_FAULT_SIGBUS;
	swap_bounce_put(buf);
	if (!(ret & VM_FAULT_ERROR))
		ret |= finish_fault(vmf, anon_entry(vmf, slot));
	if (ret & VM_FAULT_ERROR) {
		pte_unlock(vmf->pte);
		free_frame(slot);
		return ret;
	}
	set_frame(slot, vmf->address);
	pte_unlock(vmf->pte);
	swap_free(entry);
	count_vm_event(EV_pgmajfault);
	return ret;
}

/* vm_ops->fault returns with the page-cache frame locked (VM_FAULT_LOCKED)
 * in vmf->pfn: nobody can evict it before it is mapped. */
static int __do_fault(struct fault *vmf)
{
	return vmf->vma->vm_ops->fault(vmf);
}

/* Give this VMA its own copy of frame vmf->pfn (locked by the caller) at
 * vmf->address (wp_page_copy), in slot (taken by the caller before its
 * locks; freed here on failure): the host's copy-on-write of a private
 * mapping of the frame is the copy, forced at once by a write that changes
 * nothing, while the page lock keeps the frame's bytes as they are.
 * mapped: the frame is mapped here already (read-only). */
static int cow_frame(struct fault *vmf, unsigned long slot, bool mapped)
{
	pte_t entry = anon_entry(vmf, slot);
	int ret = mapped ? finish_fault(vmf, entry) : map_frames(vmf->vma, vmf->address, 1, vmf->pfn, entry);

	if (ret) {
		free_frame(slot);
		return VM_FAULT_OOM;
	}
	host_touch_write(vmf->address);
	set_pte_at(vmf->address, vmf->pte, entry);
	set_frame(slot, vmf->address);
	if (mapped)
		frame_unmap(vmf->pfn, false);
	return 0;
}

/* Map the page cache page, and its cached neighbours with it.  Shared pages
 * with write-back start read-only so their first write is seen; shmem pages
 * need no write-notify. */
static int do_read_fault(struct fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	pte_t entry = PTE_PRESENT;
	int ret;

	count_vm_event(EV_read_fault);
	vmf->trace_kind = TRACE_READ_FAULT;
	ret = __do_fault(vmf);
	if (ret & VM_FAULT_ERROR)
		return ret;
	reserve_fault_slot(vmf);
	if (!pte_lock_same(vmf)) {
		unlock_page(vmf->pfn);
		release_fault_slot(vmf);
		return ret | VM_FAULT_NOPAGE;
	}
	if ((vma->vm_flags & (VM_SHARED | VM_WRITE)) == (VM_SHARED | VM_WRITE) &&
	    !vma->vm_ops->page_mkwrite)
		entry |= PTE_WRITE;
	if (!do_fault_around(vmf, entry))
		ret |= finish_fault_frame(vmf, entry);
	pte_unlock(vmf->pte);
	unlock_page(vmf->pfn);
	release_fault_slot(vmf);
	return ret;
}

/* A write to a private page not yet present: fill the cache page, then give
 * this VMA its own copy. */
static int do_cow_fault(struct fault *vmf)
{
	unsigned long slot;
	int ret;

	count_vm_event(EV_cow_fault);
	vmf->trace_kind = TRACE_COW_FAULT;
	if (!(slot = alloc_frame()))	/* before any lock: taking it may reclaim */
		return VM_FAULT_OOM;
	ret = __do_fault(vmf);
	if (ret & VM_FAULT_ERROR) {
		free_frame(slot);
		return ret;
	}
	if (!pte_lock_same(vmf)) {
		unlock_page(vmf->pfn);
		free_frame(slot);
		return ret | VM_FAULT_NOPAGE;
	}
	ret |= cow_frame(vmf, slot, false);
	pte_unlock(vmf->pte);
	unlock_page(vmf->pfn);
	return ret;
}

/* Dirty a shared page and make it writable, under the page lock (the
 * caller's) so that write-back's clean-and-protect cannot interleave.
 * present: the frame is mapped here already, read-only. */
static int wp_page_shared(struct fault *vmf, bool present)
{
	struct vm_area_struct *vma = vmf->vma;
	int ret = 0;

	if (vma->vm_ops->page_mkwrite && ((ret = vma->vm_ops->page_mkwrite(vmf)) & VM_FAULT_ERROR))
		return ret;
	if (!present)
		return ret | finish_fault_frame(vmf, PTE_PRESENT | PTE_WRITE);
	frame_set_writable(vmf->pfn, true);	/* before the host lets it be written */
	int r = finish_fault(vmf, vmf->orig_pte | PTE_WRITE);
	if (r)
		frame_set_writable(vmf->pfn, false);
	return ret | r;
}

/* A write to a shared page not yet present. */
static int do_shared_fault(struct fault *vmf)
{
	int ret;

	count_vm_event(EV_shared_fault);
	vmf->trace_kind = TRACE_SHARED_FAULT;
	ret = __do_fault(vmf);
	if (ret & VM_FAULT_ERROR)
		return ret;
	reserve_fault_slot(vmf);
	if (!pte_lock_same(vmf)) {
		unlock_page(vmf->pfn);
		release_fault_slot(vmf);
		return ret | VM_FAULT_NOPAGE;
	}
	ret |= wp_page_shared(vmf, false);
	pte_unlock(vmf->pte);
	unlock_page(vmf->pfn);
	release_fault_slot(vmf);
	return ret;
}

static int do_fault(struct fault *vmf)
{
	if (!(vmf->flags & FAULT_FLAG_WRITE))
		return do_read_fault(vmf);
	if (!(vmf->vma->vm_flags & VM_SHARED))
		return do_cow_fault(vmf);
	return do_shared_fault(vmf);
}

/* handler-safe: is frame vmf->pfn, locked by the caller, still this VMA's
 * page vmf->pgoff (or an orphan of it, which do_wp_page handles)?  The
 * frame came from a PTE read without its lock, and the wait for its page
 * lock is long enough for reclaim to unmap and evict the page and for the
 * frame to become another page (find_lock_page's check).  That other
 * page's lock must not be held while the PTE lock is waited for: whoever
 * holds the PTE lock (a fault installing this page again, whose reclaim
 * locks pages it writes back) may wait for it. */
static bool page_is_still(const struct fault *vmf)
{
	const struct page *page = pfn_to_page(vmf->pfn);

	return page->inode == inode_index(vmf->vma->vm_file->f_mapping->host) + 1 && page->index == vmf->pgoff;
}

/* A write to a present, read-only page of a writable VMA.  A page-cache
 * page is locked while it is dirtied or copied, as write-back expects (the
 * page lock first, then the PTE lock, as every fault takes them); the PTE
 * lock keeps reclaim from unmapping it meanwhile, and this process mapping
 * it keeps it from being evicted. */
static int do_wp_page(struct fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long slot = 0;
	int ret;

	count_vm_event(EV_wp_fault);
	vmf->trace_kind = TRACE_WP_FAULT;
	if (vmf->orig_pte & PTE_ANON) {		/* wp_page_reuse: already ours */
		if (!pte_lock_same(vmf))
			return VM_FAULT_NOPAGE;
		ret = finish_fault(vmf, vmf->orig_pte | PTE_WRITE);
		pte_unlock(vmf->pte);
		return ret;
	}
	if (!(vma->vm_flags & VM_SHARED) && !(slot = alloc_frame()))	/* the copy's, before any lock */
		return VM_FAULT_OOM;
	vmf->pfn = pte_val(vmf->orig_pte);
	lock_page(vmf->pfn);
	if (!page_is_still(vmf) || !pte_lock_same(vmf)) {
		ret = VM_FAULT_NOPAGE;
	} else if (page_is_orphan(vmf->pfn)) {
		/* Another process took the page out of the cache (truncation,
		 * invalidation) and this one had not caught up: a store must
		 * not land in a frame no write-back will see.  Drop the stale
		 * mapping; the access faults again on the page as it is now. */
		ret = host_map_anon(vmf->address, PAGE_SIZE) ? VM_FAULT_OOM : 0;
		if (!ret)
			zap_pte(vmf->address, vmf->pte, vmf->orig_pte);
		pte_unlock(vmf->pte);
	} else {
		if (vma->vm_flags & VM_SHARED) {
			ret = wp_page_shared(vmf, true);
		} else {
			count_vm_event(EV_wp_copy);	/* wp_page_copy */
			ret = cow_frame(vmf, slot, true);
			slot = 0;
		}
		pte_unlock(vmf->pte);
	}
	unlock_page(vmf->pfn);
	if (slot)
		free_frame(slot);
	return ret;
}

/* The fault proper (handle_pte_fault), on vmf->orig_pte as read without
 * the PTE lock.  Each path takes the lock itself: those that read a file
 * or swap, or wait for a page lock, only to install, after checking the
 * PTE is still orig_pte; the others, which do neither, at once. */
static int handle_pte_fault(struct fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	pte_t orig = vmf->orig_pte = ptep_get(vmf->pte);
	int ret;

	if (orig & PTE_SWAP)
		return do_swap_page(vmf);
	if (!(orig & PTE_PRESENT)) {	/* do_pte_missing */
		if (orig & PTE_ANON) {
			if (!pte_lock_same(vmf))
				return VM_FAULT_NOPAGE;
			ret = do_anon_reactivate(vmf);
			pte_unlock(vmf->pte);
			return ret;
		}
		return vma_is_anonymous(vma) ? do_anonymous_page(vmf) : do_fault(vmf);
	}
	if (orig & PTE_FRESH) {		/* accessed now (a populate), as Linux would know */
		if (pte_lock_same(vmf)) {
			set_pte_at(vmf->address, vmf->pte, orig & ~(pte_t)PTE_FRESH);
			pte_unlock(vmf->pte);
		}
		vmf->orig_pte = orig &= ~(pte_t)PTE_FRESH;
	}
	/* Present, but someone holds the PTE lock: reclaim unmapping the page
	 * (the host change may have landed already, the PTE not yet), a
	 * fault installing it.  Wait for them: a fault that judged the PTE as
	 * it is now could take a page in the middle of being unmapped for one
	 * the host refuses (the repeat rule).  Changed: the access retries on
	 * what they left; unchanged (a look under the lock that changed
	 * nothing), it is judged as it is. */
	if (pte_wait_unlocked(vmf->pte) && ptep_get(vmf->pte) != orig)
		return VM_FAULT_NOPAGE;
	if (orig & PTE_WRITE)
		return VM_FAULT_NOPAGE;		/* present as required: raced */
	if (vmf->flags & FAULT_FLAG_WRITE)
		return do_wp_page(vmf);
	if ((vmf->flags & (FAULT_FLAG_GUESS | FAULT_FLAG_REPEAT)) == (FAULT_FLAG_GUESS | FAULT_FLAG_REPEAT))
		return (vma->vm_flags & VM_WRITE) ? do_wp_page(vmf) : VM_FAULT_SIGSEGV;
	return VM_FAULT_NOPAGE;		/* a read of a present page: raced */
}

/* The pages a fault's trace event covers: a major fault's are the pages it
 * read from the file (the faulting one and its readahead), any other's the
 * pages it mapped (the faulting one and its fault-around). */
static unsigned int fault_trace_pages(const struct fault *vmf, int ret)
{
	unsigned int n = (ret & VM_FAULT_MAJOR) ? vmf->nr_read : vmf->nr_mapped;

	return n ? n : 1;	/* one page: swap-in, a device's page, no fault-around */
}

/* handler-safe: handle a fault at address in vma, which contains it.  Caller
 * holds mmap_lock for reading.  Returns a VM_FAULT_* mask. */
int handle_mm_fault(struct vm_area_struct *vma, unsigned long address, unsigned int flags)
{
	struct fault vmf = {
		.vma = vma,
		.address = address & PAGE_MASK,
		.real_address = address,
		.pgoff = linear_page_index(vma, address & PAGE_MASK),
		.flags = flags,
	};

	unsigned long t0 = host_now_ns();
	int ret;

	count_vm_event(EV_pgfault);
	/* x86: any of read, write, exec makes a page readable */
	if (!(vma->vm_flags & VM_ACCESS_FLAGS) ||
	    ((flags & FAULT_FLAG_WRITE) && !(vma->vm_flags & VM_WRITE)) ||
	    ((flags & FAULT_FLAG_INSTRUCTION) && !(vma->vm_flags & VM_EXEC)))
		ret = VM_FAULT_SIGSEGV;
	else if (!(vmf.pte = pte_offset(vmf.address, true)))
		ret = VM_FAULT_OOM;
	else
		ret = handle_pte_fault(&vmf);
	if (ret & VM_FAULT_SIGSEGV)
		vmf.trace_kind = TRACE_SIGSEGV;
	else if (ret & (VM_FAULT_SIGBUS | VM_FAULT_OOM))
		vmf.trace_kind = TRACE_SIGBUS;
	if (vmf.trace_kind)
		trace_fault(vmf.trace_kind, (ret & VM_FAULT_MAJOR) ? TRACE_MAJOR : 0, address,
			    vmf.pgoff, fault_trace_pages(&vmf, ret), host_now_ns() - t0);
	return ret;
}

/* The repeat rule, for faults whose access type is unknown (FAULT_FLAG_GUESS)
 * only: the page of this thread's last such fault, if handling it changed
 * nothing, and the page's PTE then.  A second such fault in a row there,
 * with the PTE still the same, means the host refuses the access as it is:
 * a write to a read-only page, or an access the VMA does not allow.  With a
 * known access type a fault that changes nothing was simply raced (another
 * thread made the page present first, perhaps after msync took it away
 * again) and is retried, however often it loses.  A PTE that changed and
 * changed back between the two faults looks unchanged: with no error code,
 * such a race can still be taken for a refusal. */
static __thread unsigned long last_nopage __attribute__((tls_model("initial-exec")));
static __thread pte_t last_nopage_pte __attribute__((tls_model("initial-exec")));

/* handler-safe: the PTE of page now, without its lock bits. */
static pte_t pte_now(unsigned long page)
{
	pte_t *ptep = pte_offset(page, false);

	return ptep ? ptep_get(ptep) : 0;
}

static const unsigned int access_flags[] = {
	[HOST_ACCESS_UNKNOWN] = FAULT_FLAG_GUESS,
	[HOST_ACCESS_READ] = 0,
	[HOST_ACCESS_WRITE] = FAULT_FLAG_WRITE,
	[HOST_ACCESS_EXEC] = FAULT_FLAG_INSTRUCTION,
};

/* handler-safe: the trap's entry, for every SIGSEGV in the process. */
enum host_fault vmemu_fault(unsigned long addr, enum host_access access)
{
	unsigned long page = addr & PAGE_MASK, t0 = host_now_ns();
	unsigned int flags = access_flags[access];
	enum host_fault result = HOST_FAULT_HANDLED;
	struct vm_area_struct *vma;
	int ret;

	mmap_read_lock();
	vma = find_vma(&init_mm, addr);
	count_vm_events(EV_lookup_ns, host_now_ns() - t0);
	if (!vma || addr < vma->vm_start) {
		count_vm_event(EV_foreign_fault);
		ret = VM_FAULT_SIGSEGV;
		goto out_unlock;
	}
	if ((flags & FAULT_FLAG_GUESS) && last_nopage == page && pte_now(page) == last_nopage_pte)
		flags |= FAULT_FLAG_REPEAT;
	ret = handle_mm_fault(vma, addr, flags);
	last_nopage = 0;
	if (ret & VM_FAULT_NOPAGE) {
		count_vm_event(EV_spurious_fault);
		/* A repeat that found nothing to do is a refusal only if the
		 * PTE is still as it was: do_wp_page waits for the page lock
		 * without the PTE lock, and another thread's fault may have
		 * changed the PTE meanwhile (a lost race: retry). */
		if ((flags & FAULT_FLAG_REPEAT) && pte_now(page) == last_nopage_pte) {
			ret = VM_FAULT_SIGSEGV;
		} else if (flags & FAULT_FLAG_GUESS) {
			last_nopage = page;
			last_nopage_pte = pte_now(page);
		}
	}
	if (ret & (VM_FAULT_SIGBUS | VM_FAULT_OOM)) {	/* the page stays missing: a later access retries */
		count_vm_event(EV_sigbus_delivered);
		result = HOST_FAULT_SIGBUS;
	}
out_unlock:
	mmap_read_unlock();
	if (ret & VM_FAULT_SIGSEGV) {
		count_vm_event(EV_sigsegv_delivered);
		result = HOST_FAULT_SIGSEGV;
	}
	count_vm_events(EV_fault_ns, host_now_ns() - t0);	/* every fault, as lookup_ns */
	return result;
}
