/*
 * mremap.c - vme_mremap against the host's mremap: every scenario runs in
 * both worlds and the results, errno and contents must match.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <vmemu.h>

#include "testutil.h"

struct world {
	const char *name;
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	int (*munmap)(void *, size_t);
	int (*mprotect)(void *, size_t, int);
	void *(*mremap)(void *, size_t, size_t, int, ...);
};

/* mremap with new_address 0 unless MREMAP_FIXED, as the kernel defines it
 * and vme_mremap implements it.  A raw system call: Debian 12's glibc stub
 * and ASan's interceptor pass whatever the fifth register holds, so the
 * outcome of MREMAP_DONTUNMAP without MREMAP_FIXED through them is chance. */
static void *glibc_mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
}

static const struct world host = { "host", mmap, munmap, mprotect, glibc_mremap };
static const struct world vme = { "vmemu", vme_mmap, vme_munmap, vme_mprotect, vme_mremap };

#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)
#define RW (PROT_READ | PROT_WRITE)

/* n pages of free address space (reserved and released again). */
static char *free_space(size_t n)
{
	vme_init(NULL);		/* vmemu's own first mappings must not land in the hole */
	char *p = mmap(NULL, n * PG, PROT_NONE, ANON, -1, 0);
	munmap(p, n * PG);
	return p;
}

/* An anonymous mapping of n pages at base, page i filled with i + seed. */
static char *filled(const struct world *w, char *base, size_t n, int seed)
{
	char *p = w->mmap(base, n * PG, RW, ANON | (base ? MAP_FIXED : 0), -1, 0);
	cr_assert_neq(p, MAP_FAILED, "%s", w->name);
	for (size_t i = 0; i < n; i++)
		memset(p + i * PG, (int)(i + (size_t)seed), PG);
	return p;
}

struct outcome {
	int failed, err;
	long moved;	/* new address - old address */
	unsigned char first[8];	/* the first byte of each page of the result */
};

static struct outcome result(void *old, void *got, size_t pages)
{
	struct outcome o = { .failed = got == MAP_FAILED, .err = got == MAP_FAILED ? errno : 0 };
	if (!o.failed) {
		o.moved = (char *)got - (char *)old;
		for (size_t i = 0; i < pages && i < 8; i++)
			o.first[i] = ((unsigned char *)got)[i * PG];
	}
	return o;
}

static void same(struct outcome h, struct outcome v, const char *what, bool same_place)
{
	cr_assert_eq(h.failed, v.failed, "%s: host %s, vmemu %s", what, h.failed ? "failed" : "ok",
		     v.failed ? "failed" : "ok");
	cr_assert_eq(h.err, v.err, "%s: errno host %d vmemu %d", what, h.err, v.err);
	if (same_place)
		cr_assert_eq(h.moved == 0, v.moved == 0, "%s: moved? host %ld vmemu %ld", what, h.moved, v.moved);
	cr_assert_eq(memcmp(h.first, v.first, sizeof(h.first)), 0, "%s: contents differ", what);
}

/* scenario(w, base) -> outcome, run at corresponding free addresses. */
typedef struct outcome (*scenario)(const struct world *w, char *base);

static void both(scenario s, const char *what, bool same_place)
{
	struct outcome h = s(&host, free_space(64));
	struct outcome v = s(&vme, free_space(64));	/* after: not where the host's are */
	same(h, v, what, same_place);
}

static struct outcome shrink(const struct world *w, char *base)
{
	char *p = filled(w, base, 4, 1);
	return result(p, w->mremap(p, 4 * PG, 2 * PG, 0), 2);
}

static struct outcome grow_in_place(const struct world *w, char *base)
{
	char *p = filled(w, base, 2, 2);
	return result(p, w->mremap(p, 2 * PG, 5 * PG, 0), 5);
}

static struct outcome grow_blocked(const struct world *w, char *base)
{
	char *p = filled(w, base, 2, 3);
	filled(w, base + 3 * PG, 1, 9);
	return result(p, w->mremap(p, 2 * PG, 4 * PG, 0), 4);
}

static struct outcome grow_blocked_may_move(const struct world *w, char *base)
{
	char *p = filled(w, base, 3, 4);
	filled(w, base + 3 * PG, 1, 9);
	w->mprotect(p + PG, PG, PROT_READ);	/* the move crosses host mappings */
	return result(p, w->mremap(p, 3 * PG, 6 * PG, MREMAP_MAYMOVE), 6);
}

static struct outcome fixed(const struct world *w, char *base)
{
	char *p = filled(w, base, 3, 5);
	void *got = w->mremap(p, 3 * PG, 3 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, base + 20 * PG);
	struct outcome o = result(p, got, 3);
	o.moved = got == base + 20 * PG;
	return o;
}

static struct outcome fixed_overlap(const struct world *w, char *base)
{
	char *p = filled(w, base, 3, 6);
	return result(p, w->mremap(p, 3 * PG, 3 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, base + PG), 3);
}

static struct outcome dontunmap(const struct world *w, char *base)
{
	char *p = filled(w, base, 2, 7);
	void *got = w->mremap(p, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED,
			      base + 20 * PG);
	struct outcome o = result(p, got, 2);
	o.first[7] = (unsigned char)p[PG];	/* the old range: still mapped, empty */
	return o;
}

static struct outcome dontunmap_anywhere(const struct world *w, char *base)
{
	char *p = filled(w, base, 1, 4);
	struct outcome o = result(p, w->mremap(p, PG, PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP), 1);
	o.moved = o.moved != 0;
	o.first[7] = (unsigned char)p[0];	/* the old page: mapped, empty */
	return o;
}

static struct outcome spans_two_vmas(const struct world *w, char *base)
{
	char *p = filled(w, base, 4, 8);
	w->mprotect(p + 2 * PG, 2 * PG, PROT_READ);
	return result(p, w->mremap(p, 4 * PG, 8 * PG, MREMAP_MAYMOVE), 8);
}

static struct outcome unmapped(const struct world *w, char *base)
{
	filled(w, base, 1, 0);
	w->munmap(base, PG);
	return result(base, w->mremap(base, PG, 2 * PG, MREMAP_MAYMOVE), 2);
}

#define ERRNO_CASE(name, call)                                      \
	static struct outcome name(const struct world *w, char *base) \
	{                                                             \
		char *p = filled(w, base, 2, 0);                      \
		return result(p, call, 2);                            \
	}
ERRNO_CASE(unaligned, w->mremap(p + 1, PG, 2 * PG, MREMAP_MAYMOVE))
ERRNO_CASE(zero_new_len, w->mremap(p, PG, 0, MREMAP_MAYMOVE))
ERRNO_CASE(bad_flags, w->mremap(p, PG, PG, 0x100))
ERRNO_CASE(fixed_without_maymove, w->mremap(p, PG, PG, MREMAP_FIXED, base + 30 * PG))
ERRNO_CASE(dontunmap_resize, w->mremap(p, PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP))
ERRNO_CASE(zero_old_len_private, w->mremap(p, 0, PG, MREMAP_MAYMOVE))

Test(mremap, shrink_in_place) { both(shrink, "shrink", true); }
Test(mremap, grow_in_place) { both(grow_in_place, "grow in place", true); }
Test(mremap, grow_blocked_without_maymove_is_enomem) { both(grow_blocked, "grow blocked", true); }
Test(mremap, grow_blocked_moves_with_maymove) { both(grow_blocked_may_move, "grow, move", true); }
Test(mremap, fixed_moves_to_the_address) { both(fixed, "MREMAP_FIXED", false); }
Test(mremap, fixed_overlap_is_einval) { both(fixed_overlap, "FIXED overlap", false); }
Test(mremap, dontunmap_leaves_the_old_range_empty) { both(dontunmap, "DONTUNMAP", true); }
Test(mremap, dontunmap_without_fixed_moves_anywhere) { both(dontunmap_anywhere, "DONTUNMAP anywhere", true); }
Test(mremap, range_over_two_vmas_is_efault) { both(spans_two_vmas, "two VMAs", true); }
Test(mremap, unmapped_is_efault) { both(unmapped, "unmapped", true); }
Test(mremap, errno_cases)
{
	both(unaligned, "unaligned", true);
	both(zero_new_len, "new_len 0", true);
	both(bad_flags, "bad flags", true);
	both(fixed_without_maymove, "FIXED without MAYMOVE", true);
	both(dontunmap_resize, "DONTUNMAP resize", true);
	both(zero_old_len_private, "old_len 0, private", true);
}

Test(mremap, shrink_unmaps_the_tail, .signal = SIGSEGV)
{
	char *p = filled(&vme, NULL, 4, 1);
	cr_assert_eq(vme_mremap(p, 4 * PG, 2 * PG, 0), p);
	p[3 * PG] = 1;
}

Test(mremap, move_keeps_dirty_state_and_sharing)
{
	int fd = pattern_file(4 * PG, 0);
	char *s = vme_mmap(free_space(16), 4 * PG, RW, MAP_SHARED | MAP_FIXED, fd, 0);
	char *other = vme_mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, fd, 0);
	char *priv = vme_mmap(NULL, 2 * PG, RW, MAP_PRIVATE, fd, 0);
	s[PG] = 0x11;		/* dirty, not yet written back */
	priv[0] = 0x22;		/* a private copy */
	cr_assert_eq(priv[PG], 0x11, "page 1 is not copied: it shows the shared write");
	char *blocker = vme_mmap(s + 4 * PG, PG, PROT_READ, ANON | MAP_FIXED_NOREPLACE, -1, 0);
	cr_assert_eq(blocker, s + 4 * PG);
	char *t = vme_mremap(s, 4 * PG, 8 * PG, MREMAP_MAYMOVE);
	cr_assert_neq(t, MAP_FAILED);
	cr_assert_neq(t, s, "it had to move");
	cr_assert_eq(t[PG], 0x11);
	t[2 * PG] = 0x33;
	cr_assert_eq(other[2 * PG], 0x33, "still the same frames as the other mapping");
	char *q = vme_mremap(priv, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, t + 6 * PG);
	cr_assert_eq(q, t + 6 * PG);
	cr_assert_eq(q[0], 0x22, "the private copy moved");
	t[PG + 1] = 0x44;
	cr_assert_eq(q[PG + 1], 0x44, "an uncopied private page still shows the page cache");
	cr_assert_eq(vme_munmap(t, 6 * PG), 0);
	unsigned char *f = file_bytes(fd, 0, 4 * PG);
	cr_assert_eq(f[PG], 0x11, "the dirty page was written back after the move");
	cr_assert_eq(f[2 * PG], 0x33);
	cr_assert_eq(f[0], pattern_byte(0), "the private write never reached the file");
	free(f);
}

Test(mremap, old_len_zero_duplicates_a_shared_mapping)
{
	char *s = vme_mmap(NULL, 2 * PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	s[5] = 1;
	char *d = vme_mremap(s, 0, 2 * PG, MREMAP_MAYMOVE);
	cr_assert_neq(d, MAP_FAILED);
	cr_assert_eq(d[5], 1);
	d[PG] = 2;
	cr_assert_eq(s[PG], 2, "one object, two mappings");
}

Test(mremap, host_ranges_pass_through)
{
	char *h = mmap(NULL, 2 * PG, RW, ANON, -1, 0);
	h[0] = 9;
	char *g = vme_mremap(h, 2 * PG, 64 * PG, MREMAP_MAYMOVE);
	cr_assert_neq(g, MAP_FAILED);
	cr_assert_eq(g[0], 9);
	struct vme_stats st;
	cr_assert_eq(vme_stats(&st), 0);
	cr_assert_eq(st.nr_vmas, 0, "the host's mapping stays the host's");
}
