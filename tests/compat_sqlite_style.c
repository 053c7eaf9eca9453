/*
 * compat_sqlite_style.c - the start of the SQLite amalgamation: its own
 * _FILE_OFFSET_BITS=64 and _GNU_SOURCE, after the forced vmemu/compat.h,
 * here built with -O2 -D_FORTIFY_SOURCE=3 (see the Makefile): pread64's
 * fortified form, and both feature macros set late.
 */
#define _FILE_OFFSET_BITS 64
#define _GNU_SOURCE
#define COMPAT_SUITE compat_sqlite_style
#include "compat_calls.h"

#if !defined __USE_FILE_OFFSET64 || __USE_FORTIFY_LEVEL < 3
#error "compat_sqlite_style.c is meant to be built with -O2 -D_FORTIFY_SOURCE=3"
#endif
