/*
 * map.c - the host address space: reservations, backings, protections.
 *
 * An emulated VMA is reserved as PROT_NONE anonymous memory.  A private
 * anonymous page is made present by an mprotect of it; a page of a file or
 * shared anonymous VMA by mapping its frame of the domain segment over it
 * (host_map_frames), MAP_SHARED or MAP_PRIVATE as the VMA is.  Either way the
 * host MMU then serves every later access at full speed.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

#include "host/host.h"
#include "host/sysret.h"

_Static_assert(HOST_PROT_READ == PROT_READ && HOST_PROT_WRITE == PROT_WRITE &&
	       HOST_PROT_EXEC == PROT_EXEC, "HOST_PROT_* must equal PROT_*");

#define RESERVE_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)


/* The host's ENOMEM can be passing (a racing munmap, the host reclaiming):
 * mmap and mprotect get one more try before the caller sees it.  handler-safe. */
#define RETRY_ENOMEM(r, expr) do { (r) = (expr); if ((r) == -ENOMEM) (r) = (expr); } while (0)

int host_reserve(unsigned long hint, size_t len, int how, unsigned long *addr)
{
	int saved = errno, flags = RESERVE_FLAGS;

	if (how & HOST_RESERVE_FIXED)
		flags |= MAP_FIXED;
	if (how & HOST_RESERVE_NOREPLACE)
		flags |= MAP_FIXED_NOREPLACE;
	if (how & HOST_RESERVE_32BIT)
		flags |= MAP_32BIT;
	void *p = host_sys.mmap((void *)hint, len, PROT_NONE, flags, -1, 0);
	if (p == MAP_FAILED && errno == ENOMEM)
		p = host_sys.mmap((void *)hint, len, PROT_NONE, flags, -1, 0);
	int r = p == MAP_FAILED ? -errno : 0;
	errno = saved;
	if (r)
		return r;
	/* Kernels before 4.17 ignore MAP_FIXED_NOREPLACE and treat it as a hint. */
	if ((how & HOST_RESERVE_NOREPLACE) && (unsigned long)p != hint) {
		host_sys.munmap(p, len);
		errno = saved;
		return -EEXIST;
	}
	*addr = (unsigned long)p;
	return 0;
}

int host_map_anon(unsigned long addr, size_t len)
{
	int saved = errno;
	void *p = host_sys.mmap((void *)addr, len, PROT_NONE, RESERVE_FLAGS | MAP_FIXED, -1, 0);
	int r = p == MAP_FAILED ? -errno : 0;
	errno = saved;
	return r;
}

int host_unmap(unsigned long addr, size_t len)
{
	return SYSCALL_RET(host_sys.munmap((void *)addr, len));
}

/* handler-safe */
int host_protect(unsigned long addr, size_t len, int prot)
{
	int r;

	RETRY_ENOMEM(r, SYSCALL_RET(host_sys.mprotect((void *)addr, len, prot)));
	return r;
}

int host_discard(unsigned long addr, size_t len)
{
	return SYSCALL_RET(host_sys.madvise((void *)addr, len, MADV_DONTNEED));
}

/* handler-safe: a write that changes nothing, so that the host breaks COW
 * of a private page now, not at some later store.  A compare-and-swap of
 * the byte with itself: a locked write on x86 even when the value is the
 * same, which no compiler may drop (clang turns an atomic "or 0" into a
 * load), and safe against another thread storing to the page meanwhile. */
int host_touch_write(unsigned long addr)
{
	volatile uint8_t *p = (volatile uint8_t *)addr;
	uint8_t v = __atomic_load_n(p, __ATOMIC_RELAXED);

	while (!__atomic_compare_exchange_n(p, &v, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	return 0;
}

/* Move the host pages of [old, old + len), which must lie in one host
 * mapping, to new (replacing what is there): contents, protections and
 * private copies go along.  -EFAULT if the range spans host mappings. */
int host_move(unsigned long old, size_t len, unsigned long new)
{
	int saved = errno;
	void *p = host_sys.mremap((void *)old, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)new);
	int r = p == MAP_FAILED ? -errno : 0;
	errno = saved;
	return r;
}

int host_pass_mremap(unsigned long old, size_t old_len, size_t new_len, int flags,
		     unsigned long new, unsigned long *out)
{
	int saved = errno;
	void *p = host_sys.mremap((void *)old, old_len, new_len, flags, (void *)new);
	int r = p == MAP_FAILED ? -errno : 0;
	errno = saved;
	if (!r)
		*out = (unsigned long)p;
	return r;
}

int host_alloc_private(size_t len, void **mem)
{
	int saved = errno;
	void *p = host_sys.mmap(NULL, len, PROT_READ | PROT_WRITE, RESERVE_FLAGS, -1, 0);
	int r = p == MAP_FAILED ? -errno : 0;
	errno = saved;
	if (!r)
		*mem = p;
	return r;
}

int host_free(void *mem, size_t len)
{
	return host_unmap((unsigned long)mem, len);
}

int host_pass_mprotect(unsigned long addr, size_t len, int prot)
{
	return SYSCALL_RET(host_sys.mprotect((void *)addr, len, prot));
}

int host_pass_msync(unsigned long addr, size_t len, int flags)
{
	return SYSCALL_RET(host_sys.msync((void *)addr, len, flags));
}

int host_pass_madvise(unsigned long addr, size_t len, int advice)
{
	return SYSCALL_RET(host_sys.madvise((void *)addr, len, advice));
}

int host_pass_mincore(unsigned long addr, size_t len, unsigned char *vec)
{
	return SYSCALL_RET(host_sys.mincore((void *)addr, len, vec));
}

int host_pass_mmap(unsigned long addr, size_t len, int prot, int flags, int fd,
		   off_t off, unsigned long *out)
{
	int saved = errno;
	void *p = host_sys.mmap((void *)addr, len, prot, flags, fd, off);
	int r = p == MAP_FAILED ? -errno : 0;
	errno = saved;
	if (!r)
		*out = (unsigned long)p;
	return r;
}

int host_pass_mlock(unsigned long addr, size_t len, bool lock, bool onfault)
{
	if (!lock)
		return SYSCALL_RET(host_sys.munlock((void *)addr, len));
	return SYSCALL_RET(host_sys.mlock2((void *)addr, len, onfault ? MLOCK_ONFAULT : 0));
}

int host_pass_munlockall(void)
{
	return SYSCALL_RET(host_sys.munlockall());
}
