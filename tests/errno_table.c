/*
 * errno_table.c - table-driven differential errno test.
 *
 * Every row is one call of the mmap family with its arguments.  It is run
 * once against the host kernel (mmap, munmap, ...) and once against vmemu
 * (vme_mmap, vme_munmap, ...) under identical conditions: same file
 * descriptors, and when the row operates on an existing mapping, a mapping
 * of the same layout created with the API under test.  The host is the
 * oracle: we assert that vmemu fails exactly when the host fails, with the
 * same errno.  Where a row is meant to exercise an error path we also assert
 * that the host did fail, so that a broken setup cannot make the row compare
 * two successes.
 *
 * Each row runs as its own parameterized test (its own process, so a crash
 * in one row does not hide the others), and the whole table also runs in
 * sequence in one process, which catches state leaking from one failed call
 * into the next.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <sys/prctl.h>

#include "difftest.h"

/* Offsets and lengths below are written for 4 KiB pages (asserted). */
#define P 4096L
#define PU ((size_t)4096)
#define HUGE_ADDR 0xfffffffffffff000L	/* far above any TASK_SIZE */
#define UNKNOWN_MAP_FLAG 0x200000	/* no MAP_* uses bit 21 */
#ifndef PROT_SEM
#define PROT_SEM 0x8
#endif

enum op { MMAP, MUNMAP, MPROTECT, MSYNC, MADVISE, MINCORE };

/* The mapping a row's address is relative to; made with the API under test. */
enum setup {
	S_NONE,			/* addr is absolute (NULL for most mmap rows) */
	S_ANON,			/* 4 pages, anonymous private, PROT_READ|PROT_WRITE */
	S_HOLE,			/* as S_ANON, then page 1 unmapped: [M][ ][M][M] */
	S_FILE_RO_SHARED,	/* 2 pages of the O_RDONLY fd, MAP_SHARED, PROT_READ */
	S_FILE_RO_PRIVATE,	/* 2 pages of the O_RDONLY fd, MAP_PRIVATE, PROT_READ */
	S_FILE_RW_SHARED,	/* 4 pages of the O_RDWR fd, MAP_SHARED, PROT_READ */
};
#define SETUP_LEN(s) ((s) == S_FILE_RO_SHARED || (s) == S_FILE_RO_PRIVATE ? 2 * PU : 4 * PU)

enum fdk {
	F_NONE,		/* -1 */
	F_RW,		/* 4-page regular file, O_RDWR */
	F_RO,		/* same file, O_RDONLY */
	F_WO,		/* same file, O_WRONLY */
	F_APPEND,	/* same file, O_RDWR|O_APPEND */
	F_OPATH,	/* same file, O_PATH */
	F_PIPE,		/* read end of a pipe */
	F_DIR,		/* a directory */
	F_BAD,		/* a descriptor number that is not open */
	F_DEVZERO,	/* /dev/zero O_RDWR */
	F_DEVNULL,	/* /dev/null O_RDWR */
	F_MEMFD,	/* memfd of 4 pages */
	F__COUNT
};

enum expect { EXP_FAIL, EXP_OK, EXP_ANY };
enum vec { V_BUF, V_NULL };

struct row {
	const char *name;
	enum op op;
	enum setup setup;
	long addr;	/* relative to the setup mapping; absolute for S_NONE */
	size_t len;
	int prot;	/* mmap, mprotect */
	int flags;	/* mmap flags, msync flags, madvise advice */
	enum fdk fd;
	off_t off;
	enum expect expect;	/* what the host is expected to do (sanity) */
	enum vec vec;		/* mincore */
};

#define R PROT_READ
#define RW (PROT_READ | PROT_WRITE)
#define SH MAP_SHARED
#define PR MAP_PRIVATE
#define AN MAP_ANONYMOUS
#define FX MAP_FIXED
#define NR MAP_FIXED_NOREPLACE

static const struct row rows[] = {
	/* ---- mmap ---------------------------------------------------------- */
	{ "mmap anon length 0", MMAP, S_NONE, 0, 0, R, PR | AN, F_NONE, 0, EXP_FAIL, 0 },
	{ "mmap file length 0", MMAP, S_NONE, 0, 0, R, SH, F_RW, 0, EXP_FAIL, 0 },
	{ "mmap file unaligned offset", MMAP, S_NONE, 0, PU, R, SH, F_RW, 1, EXP_FAIL, 0 },
	{ "mmap file offset half a page", MMAP, S_NONE, 0, PU, R, PR, F_RW, P / 2, EXP_FAIL, 0 },
	{ "mmap anon unaligned offset", MMAP, S_NONE, 0, PU, R, PR | AN, F_NONE, 1, EXP_FAIL, 0 },
	/* MAP_SHARED|MAP_PRIVATE is MAP_SHARED_VALIDATE (0x03): host decides. */
	{ "mmap file MAP_SHARED|MAP_PRIVATE", MMAP, S_NONE, 0, PU, R, SH | PR, F_RW, 0, EXP_ANY, 0 },
	{ "mmap anon MAP_SHARED|MAP_PRIVATE", MMAP, S_NONE, 0, PU, R, SH | PR | AN, F_NONE, 0, EXP_ANY, 0 },
	{ "mmap anon neither shared nor private", MMAP, S_NONE, 0, PU, R, AN, F_NONE, 0, EXP_FAIL, 0 },
	{ "mmap file neither shared nor private", MMAP, S_NONE, 0, PU, R, 0, F_RW, 0, EXP_FAIL, 0 },
	{ "mmap file MAP_SHARED_VALIDATE unknown flag", MMAP, S_NONE, 0, PU, R,
	  MAP_SHARED_VALIDATE | UNKNOWN_MAP_FLAG, F_RW, 0, EXP_FAIL, 0 },
	{ "mmap file MAP_SHARED_VALIDATE|MAP_SYNC (not DAX)", MMAP, S_NONE, 0, PU, RW,
	  MAP_SHARED_VALIDATE | MAP_SYNC, F_RW, 0, EXP_FAIL, 0 },
	{ "mmap file MAP_SHARED_VALIDATE valid", MMAP, S_NONE, 0, PU, RW, MAP_SHARED_VALIDATE, F_RW, 0, EXP_OK, 0 },
	{ "mmap anon MAP_SHARED_VALIDATE unknown flag", MMAP, S_NONE, 0, PU, R,
	  MAP_SHARED_VALIDATE | AN | UNKNOWN_MAP_FLAG, F_NONE, 0, EXP_FAIL, 0 },
	{ "mmap file MAP_SHARED unknown flag ignored", MMAP, S_NONE, 0, PU, R, SH | UNKNOWN_MAP_FLAG, F_RW, 0, EXP_OK, 0 },
	{ "mmap anon MAP_PRIVATE unknown flag ignored", MMAP, S_NONE, 0, PU, RW, PR | AN | UNKNOWN_MAP_FLAG, F_NONE, 0, EXP_OK, 0 },
	{ "mmap anon MAP_SHARED|MAP_GROWSDOWN", MMAP, S_NONE, 0, PU, RW, SH | AN | MAP_GROWSDOWN, F_NONE, 0, EXP_FAIL, 0 },
	{ "mmap unknown prot bit", MMAP, S_NONE, 0, PU, R | 0x100, PR | AN, F_NONE, 0, EXP_ANY, 0 },
	{ "mmap MAP_FIXED unaligned addr", MMAP, S_ANON, 1, PU, R, PR | AN | FX, F_NONE, 0, EXP_FAIL, 0 },
	{ "mmap MAP_FIXED addr mid-page", MMAP, S_ANON, P + P / 2, PU, R, PR | AN | FX, F_NONE, 0, EXP_FAIL, 0 },
	{ "mmap MAP_FIXED_NOREPLACE unaligned addr", MMAP, S_HOLE, P + 1, PU, R, PR | AN | NR, F_NONE, 0, EXP_FAIL, 0 },
	{ "mmap MAP_FIXED file unaligned addr", MMAP, S_ANON, 8, PU, R, SH | FX, F_RW, 0, EXP_FAIL, 0 },
	{ "mmap MAP_FIXED over existing", MMAP, S_ANON, P, PU, R, PR | AN | FX, F_NONE, 0, EXP_OK, 0 },
	{ "mmap MAP_FIXED file over existing", MMAP, S_ANON, P, 2 * PU, RW, SH | FX, F_RW, P, EXP_OK, 0 },
	{ "mmap MAP_FIXED_NOREPLACE over existing", MMAP, S_ANON, 0, PU, R, PR | AN | NR, F_NONE, 0, EXP_FAIL, 0 },
	{ "mmap MAP_FIXED_NOREPLACE over existing (middle)", MMAP, S_ANON, 2 * P, PU, R, PR | AN | NR, F_NONE, 0, EXP_FAIL, 0 },
	{ "mmap MAP_FIXED_NOREPLACE file over existing", MMAP, S_ANON, 0, PU, R, SH | NR, F_RW, 0, EXP_FAIL, 0 },
	{ "mmap MAP_FIXED_NOREPLACE overlapping hole and mapping", MMAP, S_HOLE, P, 2 * PU, R, PR | AN | NR, F_NONE, 0, EXP_FAIL, 0 },
	{ "mmap MAP_FIXED_NOREPLACE into hole", MMAP, S_HOLE, P, PU, R, PR | AN | NR, F_NONE, 0, EXP_OK, 0 },
	{ "mmap MAP_FIXED above TASK_SIZE", MMAP, S_NONE, HUGE_ADDR, PU, R, PR | AN | FX, F_NONE, 0, EXP_FAIL, 0 },
	{ "mmap MAP_FIXED wrapping the address space", MMAP, S_NONE, HUGE_ADDR, 2 * PU, R, PR | AN | FX, F_NONE, 0, EXP_FAIL, 0 },
	{ "mmap bad fd shared", MMAP, S_NONE, 0, PU, R, SH, F_BAD, 0, EXP_FAIL, 0 },
	{ "mmap bad fd private", MMAP, S_NONE, 0, PU, R, PR, F_BAD, 0, EXP_FAIL, 0 },
	{ "mmap bad fd with MAP_ANONYMOUS (fd ignored)", MMAP, S_NONE, 0, PU, RW, PR | AN, F_BAD, 0, EXP_OK, 0 },
	{ "mmap fd -1 without MAP_ANONYMOUS shared", MMAP, S_NONE, 0, PU, R, SH, F_NONE, 0, EXP_FAIL, 0 },
	{ "mmap fd -1 without MAP_ANONYMOUS private", MMAP, S_NONE, 0, PU, R, PR, F_NONE, 0, EXP_FAIL, 0 },
	{ "mmap pipe fd shared", MMAP, S_NONE, 0, PU, R, SH, F_PIPE, 0, EXP_FAIL, 0 },
	{ "mmap pipe fd private", MMAP, S_NONE, 0, PU, R, PR, F_PIPE, 0, EXP_FAIL, 0 },
	{ "mmap directory fd", MMAP, S_NONE, 0, PU, R, PR, F_DIR, 0, EXP_FAIL, 0 },
	{ "mmap directory fd shared", MMAP, S_NONE, 0, PU, R, SH, F_DIR, 0, EXP_FAIL, 0 },
	{ "mmap O_PATH fd", MMAP, S_NONE, 0, PU, R, SH, F_OPATH, 0, EXP_FAIL, 0 },
	{ "mmap /dev/null", MMAP, S_NONE, 0, PU, R, PR, F_DEVNULL, 0, EXP_FAIL, 0 },
	{ "mmap /dev/zero private", MMAP, S_NONE, 0, PU, RW, PR, F_DEVZERO, 0, EXP_OK, 0 },
	{ "mmap /dev/zero shared", MMAP, S_NONE, 0, PU, RW, SH, F_DEVZERO, 0, EXP_OK, 0 },
	{ "mmap memfd shared", MMAP, S_NONE, 0, 2 * PU, RW, SH, F_MEMFD, P, EXP_OK, 0 },
	{ "mmap PROT_WRITE|MAP_SHARED on O_RDONLY", MMAP, S_NONE, 0, PU, RW, SH, F_RO, 0, EXP_FAIL, 0 },
	{ "mmap PROT_WRITE|MAP_SHARED_VALIDATE on O_RDONLY", MMAP, S_NONE, 0, PU, RW, MAP_SHARED_VALIDATE, F_RO, 0, EXP_FAIL, 0 },
	{ "mmap PROT_READ|MAP_SHARED on O_RDONLY", MMAP, S_NONE, 0, PU, R, SH, F_RO, 0, EXP_OK, 0 },
	{ "mmap PROT_WRITE|MAP_PRIVATE on O_RDONLY", MMAP, S_NONE, 0, PU, RW, PR, F_RO, 0, EXP_OK, 0 },
	{ "mmap PROT_READ|MAP_SHARED on O_WRONLY", MMAP, S_NONE, 0, PU, R, SH, F_WO, 0, EXP_FAIL, 0 },
	{ "mmap PROT_READ|MAP_PRIVATE on O_WRONLY", MMAP, S_NONE, 0, PU, R, PR, F_WO, 0, EXP_FAIL, 0 },
	{ "mmap PROT_WRITE|MAP_SHARED on O_WRONLY", MMAP, S_NONE, 0, PU, PROT_WRITE, SH, F_WO, 0, EXP_FAIL, 0 },
	{ "mmap PROT_NONE|MAP_SHARED on O_WRONLY", MMAP, S_NONE, 0, PU, PROT_NONE, SH, F_WO, 0, EXP_FAIL, 0 },
	/* Only the append-only inode attribute forbids this, not O_APPEND. */
	{ "mmap PROT_WRITE|MAP_SHARED on O_APPEND", MMAP, S_NONE, 0, PU, RW, SH, F_APPEND, 0, EXP_OK, 0 },
	{ "mmap PROT_READ|MAP_SHARED on O_APPEND", MMAP, S_NONE, 0, PU, R, SH, F_APPEND, 0, EXP_OK, 0 },
	{ "mmap huge length (SIZE_MAX)", MMAP, S_NONE, 0, SIZE_MAX, R, PR | AN, F_NONE, 0, EXP_FAIL, 0 },
	{ "mmap huge length (page aligned)", MMAP, S_NONE, 0, SIZE_MAX & ~(PU - 1), R, PR | AN, F_NONE, 0, EXP_FAIL, 0 },
	{ "mmap huge length (1<<62)", MMAP, S_NONE, 0, (size_t)1 << 62, R, PR | AN, F_NONE, 0, EXP_FAIL, 0 },
	{ "mmap huge length file", MMAP, S_NONE, 0, SIZE_MAX & ~(PU - 1), R, SH, F_RW, 0, EXP_FAIL, 0 },
	{ "mmap file offset+length overflow", MMAP, S_NONE, 0, 2 * PU, R, SH, F_RW, 0x7ffffffffffff000L, EXP_FAIL, 0 },
	{ "mmap file offset+length overflow private", MMAP, S_NONE, 0, 16 * PU, R, PR, F_RW, 0x7ffffffffffff000L, EXP_FAIL, 0 },
	{ "mmap file negative offset", MMAP, S_NONE, 0, PU, R, SH, F_RW, -P, EXP_FAIL, 0 },
	{ "mmap file offset past EOF", MMAP, S_NONE, 0, PU, R, SH, F_RW, 100 * P, EXP_OK, 0 },
	{ "mmap anon private huge offset", MMAP, S_NONE, 0, PU, R, PR | AN, F_NONE, 0x7ffffffffffff000L, EXP_ANY, 0 },
	{ "mmap anon shared huge offset", MMAP, S_NONE, 0, PU, R, SH | AN, F_NONE, 0x7ffffffffffff000L, EXP_ANY, 0 },

	/* ---- munmap -------------------------------------------------------- */
	{ "munmap unaligned addr", MUNMAP, S_ANON, 1, PU, 0, 0, F_NONE, 0, EXP_FAIL, 0 },
	{ "munmap length 0", MUNMAP, S_ANON, 0, 0, 0, 0, F_NONE, 0, EXP_FAIL, 0 },
	{ "munmap length 0 unmapped", MUNMAP, S_HOLE, P, 0, 0, 0, F_NONE, 0, EXP_FAIL, 0 },
	{ "munmap unaligned length", MUNMAP, S_ANON, 0, 1, 0, 0, F_NONE, 0, EXP_OK, 0 },
	{ "munmap unmapped range", MUNMAP, S_HOLE, P, PU, 0, 0, F_NONE, 0, EXP_OK, 0 },
	{ "munmap range spanning a hole", MUNMAP, S_HOLE, 0, 3 * PU, 0, 0, F_NONE, 0, EXP_OK, 0 },
	{ "munmap above TASK_SIZE", MUNMAP, S_NONE, HUGE_ADDR, PU, 0, 0, F_NONE, 0, EXP_FAIL, 0 },
	{ "munmap length wrapping", MUNMAP, S_ANON, 0, SIZE_MAX & ~(PU - 1), 0, 0, F_NONE, 0, EXP_FAIL, 0 },

	/* ---- mprotect ------------------------------------------------------ */
	{ "mprotect unaligned", MPROTECT, S_ANON, 1, PU, R, 0, F_NONE, 0, EXP_FAIL, 0 },
	{ "mprotect unmapped range", MPROTECT, S_HOLE, P, PU, R, 0, F_NONE, 0, EXP_FAIL, 0 },
	{ "mprotect range spanning a hole", MPROTECT, S_HOLE, 0, 3 * PU, R, 0, F_NONE, 0, EXP_FAIL, 0 },
	{ "mprotect range starting in a hole", MPROTECT, S_HOLE, P, 2 * PU, R, 0, F_NONE, 0, EXP_FAIL, 0 },
	{ "mprotect invalid prot bit 0x40", MPROTECT, S_ANON, 0, PU, R | 0x40, 0, F_NONE, 0, EXP_FAIL, 0 },
	{ "mprotect invalid prot bit 0x1000", MPROTECT, S_ANON, 0, PU, R | 0x1000, 0, F_NONE, 0, EXP_FAIL, 0 },
	{ "mprotect PROT_GROWSDOWN|PROT_GROWSUP", MPROTECT, S_ANON, 0, PU, R | PROT_GROWSDOWN | PROT_GROWSUP, 0, F_NONE, 0, EXP_FAIL, 0 },
	{ "mprotect PROT_GROWSDOWN on a normal mapping", MPROTECT, S_ANON, P, PU, R | PROT_GROWSDOWN, 0, F_NONE, 0, EXP_FAIL, 0 },
	{ "mprotect PROT_SEM", MPROTECT, S_ANON, 0, PU, R | PROT_SEM, 0, F_NONE, 0, EXP_ANY, 0 },
	{ "mprotect PROT_WRITE on MAP_SHARED of O_RDONLY", MPROTECT, S_FILE_RO_SHARED, 0, PU, RW, 0, F_NONE, 0, EXP_FAIL, 0 },
	{ "mprotect PROT_WRITE on MAP_PRIVATE of O_RDONLY", MPROTECT, S_FILE_RO_PRIVATE, 0, PU, RW, 0, F_NONE, 0, EXP_OK, 0 },
	{ "mprotect PROT_WRITE on MAP_SHARED of O_RDWR", MPROTECT, S_FILE_RW_SHARED, P, 2 * PU, RW, 0, F_NONE, 0, EXP_OK, 0 },
	{ "mprotect PROT_NONE on MAP_SHARED of O_RDONLY", MPROTECT, S_FILE_RO_SHARED, 0, 2 * PU, PROT_NONE, 0, F_NONE, 0, EXP_OK, 0 },
	{ "mprotect length 0", MPROTECT, S_ANON, 0, 0, R, 0, F_NONE, 0, EXP_OK, 0 },
	{ "mprotect length 0 unaligned", MPROTECT, S_ANON, 1, 0, R, 0, F_NONE, 0, EXP_FAIL, 0 },
	{ "mprotect length 0 unmapped", MPROTECT, S_HOLE, P, 0, R, 0, F_NONE, 0, EXP_OK, 0 },
	{ "mprotect length 0 invalid prot", MPROTECT, S_ANON, 0, 0, R | 0x40, 0, F_NONE, 0, EXP_ANY, 0 },
	{ "mprotect unaligned length", MPROTECT, S_ANON, 0, 1, R, 0, F_NONE, 0, EXP_OK, 0 },
	{ "mprotect length wrapping", MPROTECT, S_ANON, 0, SIZE_MAX, R, 0, F_NONE, 0, EXP_FAIL, 0 },
	{ "mprotect above TASK_SIZE", MPROTECT, S_NONE, HUGE_ADDR, PU, R, 0, F_NONE, 0, EXP_FAIL, 0 },

	/* ---- msync --------------------------------------------------------- */
	{ "msync unaligned", MSYNC, S_FILE_RW_SHARED, 1, PU, 0, MS_SYNC, F_NONE, 0, EXP_FAIL, 0 },
	{ "msync MS_SYNC|MS_ASYNC", MSYNC, S_FILE_RW_SHARED, 0, PU, 0, MS_SYNC | MS_ASYNC, F_NONE, 0, EXP_FAIL, 0 },
	{ "msync unknown flag bit 0x8", MSYNC, S_FILE_RW_SHARED, 0, PU, 0, MS_SYNC | 0x8, F_NONE, 0, EXP_FAIL, 0 },
	{ "msync unknown flag bit 0x100", MSYNC, S_FILE_RW_SHARED, 0, PU, 0, 0x100, F_NONE, 0, EXP_FAIL, 0 },
	{ "msync unmapped MS_SYNC", MSYNC, S_HOLE, P, PU, 0, MS_SYNC, F_NONE, 0, EXP_FAIL, 0 },
	{ "msync unmapped MS_ASYNC", MSYNC, S_HOLE, P, PU, 0, MS_ASYNC, F_NONE, 0, EXP_FAIL, 0 },
	{ "msync range spanning a hole", MSYNC, S_HOLE, 0, 3 * PU, 0, MS_SYNC, F_NONE, 0, EXP_FAIL, 0 },
	{ "msync length 0", MSYNC, S_FILE_RW_SHARED, 0, 0, 0, MS_SYNC, F_NONE, 0, EXP_OK, 0 },
	{ "msync length 0 unmapped", MSYNC, S_HOLE, P, 0, 0, MS_SYNC, F_NONE, 0, EXP_OK, 0 },
	{ "msync length 0 bad flags", MSYNC, S_FILE_RW_SHARED, 0, 0, 0, MS_SYNC | MS_ASYNC, F_NONE, 0, EXP_FAIL, 0 },
	{ "msync flags 0", MSYNC, S_FILE_RW_SHARED, 0, PU, 0, 0, F_NONE, 0, EXP_OK, 0 },
	{ "msync MS_INVALIDATE", MSYNC, S_FILE_RW_SHARED, 0, 4 * PU, 0, MS_INVALIDATE, F_NONE, 0, EXP_OK, 0 },
	{ "msync MS_SYNC|MS_INVALIDATE", MSYNC, S_FILE_RW_SHARED, 0, 4 * PU, 0, MS_SYNC | MS_INVALIDATE, F_NONE, 0, EXP_OK, 0 },
	{ "msync anon MS_SYNC", MSYNC, S_ANON, 0, 4 * PU, 0, MS_SYNC, F_NONE, 0, EXP_OK, 0 },
	{ "msync unaligned length", MSYNC, S_ANON, 0, 1, 0, MS_SYNC, F_NONE, 0, EXP_OK, 0 },
	{ "msync length wrapping", MSYNC, S_ANON, 0, SIZE_MAX & ~(PU - 1), 0, MS_SYNC, F_NONE, 0, EXP_FAIL, 0 },

	/* ---- madvise ------------------------------------------------------- */
	{ "madvise unknown advice", MADVISE, S_ANON, 0, PU, 0, 999, F_NONE, 0, EXP_FAIL, 0 },
	{ "madvise unknown advice length 0", MADVISE, S_ANON, 0, 0, 0, 999, F_NONE, 0, EXP_ANY, 0 },
	{ "madvise unaligned", MADVISE, S_ANON, 1, PU, 0, MADV_DONTNEED, F_NONE, 0, EXP_FAIL, 0 },
	{ "madvise unmapped", MADVISE, S_HOLE, P, PU, 0, MADV_DONTNEED, F_NONE, 0, EXP_FAIL, 0 },
	{ "madvise unmapped MADV_NORMAL", MADVISE, S_HOLE, P, PU, 0, MADV_NORMAL, F_NONE, 0, EXP_FAIL, 0 },
	{ "madvise range spanning a hole", MADVISE, S_HOLE, 0, 3 * PU, 0, MADV_DONTNEED, F_NONE, 0, EXP_FAIL, 0 },
	{ "madvise length 0", MADVISE, S_ANON, 0, 0, 0, MADV_DONTNEED, F_NONE, 0, EXP_OK, 0 },
	{ "madvise length 0 unmapped", MADVISE, S_HOLE, P, 0, 0, MADV_DONTNEED, F_NONE, 0, EXP_OK, 0 },
	{ "madvise MADV_DONTNEED anon", MADVISE, S_ANON, 0, 4 * PU, 0, MADV_DONTNEED, F_NONE, 0, EXP_OK, 0 },
	{ "madvise MADV_DONTNEED file", MADVISE, S_FILE_RW_SHARED, 0, 4 * PU, 0, MADV_DONTNEED, F_NONE, 0, EXP_OK, 0 },
	{ "madvise MADV_WILLNEED file", MADVISE, S_FILE_RW_SHARED, 0, 4 * PU, 0, MADV_WILLNEED, F_NONE, 0, EXP_OK, 0 },
	{ "madvise MADV_WILLNEED anon", MADVISE, S_ANON, 0, 4 * PU, 0, MADV_WILLNEED, F_NONE, 0, EXP_ANY, 0 },
	{ "madvise MADV_REMOVE private anon", MADVISE, S_ANON, 0, PU, 0, MADV_REMOVE, F_NONE, 0, EXP_ANY, 0 },
	{ "madvise unaligned length", MADVISE, S_ANON, 0, 1, 0, MADV_DONTNEED, F_NONE, 0, EXP_OK, 0 },
	{ "madvise length wrapping", MADVISE, S_ANON, 0, SIZE_MAX & ~(PU - 1), 0, MADV_NORMAL, F_NONE, 0, EXP_FAIL, 0 },
	{ "madvise above TASK_SIZE", MADVISE, S_NONE, HUGE_ADDR, PU, 0, MADV_NORMAL, F_NONE, 0, EXP_FAIL, 0 },

	/* ---- mincore ------------------------------------------------------- */
	{ "mincore unaligned", MINCORE, S_ANON, 1, PU, 0, 0, F_NONE, 0, EXP_FAIL, V_BUF },
	{ "mincore unmapped", MINCORE, S_HOLE, P, PU, 0, 0, F_NONE, 0, EXP_FAIL, V_BUF },
	{ "mincore range spanning a hole", MINCORE, S_HOLE, 0, 3 * PU, 0, 0, F_NONE, 0, EXP_FAIL, V_BUF },
	{ "mincore range starting in a hole", MINCORE, S_HOLE, P, 2 * PU, 0, 0, F_NONE, 0, EXP_FAIL, V_BUF },
	{ "mincore mapped anon", MINCORE, S_ANON, 0, 4 * PU, 0, 0, F_NONE, 0, EXP_OK, V_BUF },
	{ "mincore unaligned length", MINCORE, S_ANON, 0, 1, 0, 0, F_NONE, 0, EXP_OK, V_BUF },
	{ "mincore length 0", MINCORE, S_ANON, 0, 0, 0, 0, F_NONE, 0, EXP_ANY, V_BUF },
	{ "mincore NULL vec", MINCORE, S_ANON, 0, PU, 0, 0, F_NONE, 0, EXP_FAIL, V_NULL },
	{ "mincore above TASK_SIZE", MINCORE, S_NONE, HUGE_ADDR, PU, 0, 0, F_NONE, 0, EXP_FAIL, V_BUF },
};

#define NROWS (sizeof rows / sizeof rows[0])

/* ---- the environment: descriptors shared by both worlds --------------------- */

static int fds[F__COUNT];
static int env_ready;

static void env_init(void)
{
	char path[64];
	int p[2];

	if (env_ready)
		return;
	cr_assert_eq(dt_pagesize(), PU, "these rows are written for 4 KiB pages");
	/* Keep host residency deterministic (mincore rows compare vectors). */
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);

	fds[F_NONE] = -1;
	fds[F_RW] = dt_tmpfile(NULL, 4 * PU, O_RDWR, path);
	fds[F_RO] = open(path, O_RDONLY);
	fds[F_WO] = open(path, O_WRONLY);
	fds[F_APPEND] = open(path, O_RDWR | O_APPEND);
	fds[F_OPATH] = open(path, O_PATH);
	unlink(path);
	cr_assert(pipe(p) == 0);
	fds[F_PIPE] = p[0];
	fds[F_DIR] = open("/tmp", O_RDONLY | O_DIRECTORY);
	fds[F_DEVZERO] = open("/dev/zero", O_RDWR);
	fds[F_DEVNULL] = open("/dev/null", O_RDWR);
	fds[F_MEMFD] = memfd_create("vmemu-dt", 0);
	cr_assert(fds[F_MEMFD] >= 0 && ftruncate(fds[F_MEMFD], 4 * (off_t)PU) == 0);
	/* A descriptor number that is not open (and far above what a library
	 * would pick by itself). */
	fds[F_BAD] = 4093;
	while (fcntl(fds[F_BAD], F_GETFD) != -1 || errno != EBADF)
		fds[F_BAD]++;
	for (int i = 1; i < F__COUNT; i++)
		cr_assert(fds[i] >= 0, "fixture descriptor %d: %s", i, strerror(errno));
	env_ready = 1;
}

/* ---- running one row in one world ------------------------------------------ */

struct result {
	int failed;		/* MAP_FAILED or -1 */
	int err;		/* errno when failed */
	long rel;		/* mmap: returned address - setup base (MAP_FIXED*) */
	unsigned char vec[8];	/* mincore */
};

static unsigned char *make_setup(const struct dt_api *api, enum setup s)
{
	void *p = MAP_FAILED;

	switch (s) {
	case S_NONE:
		return NULL;
	case S_ANON:
	case S_HOLE:
		p = api->mmap(NULL, 4 * PU, RW, PR | AN, -1, 0);
		break;
	case S_FILE_RO_SHARED:
		p = api->mmap(NULL, 2 * PU, R, SH, fds[F_RO], 0);
		break;
	case S_FILE_RO_PRIVATE:
		p = api->mmap(NULL, 2 * PU, R, PR, fds[F_RO], 0);
		break;
	case S_FILE_RW_SHARED:
		p = api->mmap(NULL, 4 * PU, R, SH, fds[F_RW], 0);
		break;
	}
	cr_assert(p != MAP_FAILED, "%s: setup mapping %d failed: %s", api->name, (int)s, strerror(errno));
	if (s == S_HOLE)
		cr_assert(api->munmap((char *)p + P, PU) == 0, "%s: setup hole: %s", api->name, strerror(errno));
	return p;
}

static void run_row(const struct dt_api *api, const struct row *r, struct result *res)
{
	unsigned char *base = make_setup(api, r->setup);
	unsigned char *addr = base ? base + r->addr : (unsigned char *)(uintptr_t)r->addr;
	unsigned char *vec = r->vec == V_NULL ? NULL : res->vec;
	void *p = NULL;
	int ret = 0;

	memset(res->vec, 0xee, sizeof res->vec);
	res->rel = 0;
	errno = 0;
	switch (r->op) {
	case MMAP:
		p = api->mmap(addr, r->len, r->prot, r->flags, fds[r->fd], r->off);
		ret = p == MAP_FAILED ? -1 : 0;
		break;
	case MUNMAP:
		ret = api->munmap(addr, r->len);
		break;
	case MPROTECT:
		ret = api->mprotect(addr, r->len, r->prot);
		break;
	case MSYNC:
		ret = api->msync(addr, r->len, r->flags);
		break;
	case MADVISE:
		ret = api->madvise(addr, r->len, r->flags);
		break;
	case MINCORE:
		ret = api->mincore(addr, r->len, vec);
		break;
	}
	res->err = errno;
	res->failed = ret != 0;
	if (!res->failed)
		res->err = 0;

	/* Clean up with the same API. */
	if (r->op == MMAP && !res->failed) {
		if (r->flags & (FX | NR)) {
			res->rel = base ? (long)((unsigned char *)p - base) : (long)(uintptr_t)p;
			if (!base)
				api->munmap(p, r->len);
		} else {
			api->munmap(p, r->len);
		}
	}
	if (base)
		api->munmap(base, SETUP_LEN(r->setup));
}

/* Compare one row; returns the number of mismatches (reported with cr_expect). */
static int check_row(const struct row *r)
{
	struct result h, v;
	int bad = 0;

	env_init();
	run_row(&dt_host, r, &h);
	run_row(&dt_vme, r, &v);
#ifdef DT_VERBOSE
	fprintf(stderr, "%-55s host %-10s vmemu %s\n", r->name,
		h.failed ? dt_errname(h.err) : "ok", v.failed ? dt_errname(v.err) : "ok");
#endif

	if (r->expect == EXP_FAIL) {
		cr_expect(h.failed, "%s: the host succeeded where the row expects a failure (test setup broken?)", r->name);
		bad += !h.failed;
	} else if (r->expect == EXP_OK) {
		cr_expect(!h.failed, "%s: the host failed (%s) where the row expects success (test setup broken?)",
			  r->name, dt_errname(h.err));
		bad += h.failed;
	}

	cr_expect_eq(v.failed, h.failed, "%s: host %s, vmemu %s", r->name,
		     h.failed ? dt_errname(h.err) : "succeeded",
		     v.failed ? dt_errname(v.err) : "succeeded");
	bad += v.failed != h.failed;
	if (v.failed && h.failed) {
		cr_expect_eq(v.err, h.err, "%s: host errno %s, vmemu errno %s", r->name,
			     dt_errname(h.err), dt_errname(v.err));
		bad += v.err != h.err;
	}
	if (!v.failed && !h.failed && r->op == MMAP && (r->flags & (FX | NR))) {
		cr_expect_eq(v.rel, h.rel, "%s: MAP_FIXED result at offset %ld from the setup (host %ld)",
			     r->name, v.rel, h.rel);
		bad += v.rel != h.rel;
	}
	if (!v.failed && !h.failed && r->op == MINCORE && r->setup == S_ANON && r->vec == V_BUF) {
		/* Anonymous residency is deterministic: compare the vector. */
		size_t n = (r->len + PU - 1) / PU;

		for (size_t i = 0; i < n && i < sizeof h.vec; i++) {
			cr_expect_eq(v.vec[i] & 1, h.vec[i] & 1, "%s: mincore vec[%zu] host %d vmemu %d",
				     r->name, i, h.vec[i] & 1, v.vec[i] & 1);
			bad += (v.vec[i] & 1) != (h.vec[i] & 1);
		}
	}
	return bad;
}

/* ---- tests ------------------------------------------------------------------ */

ParameterizedTestParameters(errno_table, row)
{
	static int idx[NROWS];

	for (size_t i = 0; i < NROWS; i++)
		idx[i] = (int)i;
	return cr_make_param_array(int, idx, NROWS);
}

/* One process per row: a crash (e.g. vmemu writing through a NULL mincore
 * vector) only takes its own row down. */
ParameterizedTest(int *i, errno_table, row, .timeout = 60)
{
	cr_assert(*i >= 0 && (size_t)*i < NROWS);
	cr_log_info("row %d: %s", *i, rows[*i].name);
	check_row(&rows[*i]);
}

/* The whole table in one process, in order: failed calls must not leave
 * state behind that changes the outcome of later ones. */
Test(errno_table, sequential, .timeout = 60)
{
	int bad = 0;

	for (size_t i = 0; i < NROWS; i++)
		bad += check_row(&rows[i]);
	cr_assert_eq(bad, 0, "%d mismatches in the sequential run", bad);
}

/* The same rows a second time after vmemu has mappings of its own alive,
 * so that vmemu's state cannot make a fresh-process answer look right by
 * accident. */
Test(errno_table, sequential_with_live_mappings, .timeout = 60)
{
	unsigned char *keep;
	int bad = 0;

	env_init();
	keep = vme_mmap(NULL, 4 * PU, RW, SH, fds[F_RW], 0);
	cr_assert(keep != MAP_FAILED, "vme_mmap: %s", strerror(errno));
	keep[0] = 1;	/* fault it in */
	for (size_t i = 0; i < NROWS; i++)
		bad += check_row(&rows[i]);
	cr_assert_eq(bad, 0, "%d mismatches with live mappings", bad);
}
