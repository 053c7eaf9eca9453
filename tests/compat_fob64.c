/*
 * compat_fob64.c - compiled with -D_FILE_OFFSET_BITS=64 (see the Makefile),
 * under which glibc gives mmap, pread, pwrite, preadv, pwritev, ftruncate
 * and truncate the symbols mmap64, pread64, ...: the calls must still reach
 * vmemu.
 */
#define _GNU_SOURCE
#define COMPAT_SUITE compat_fob64
#include "compat_calls.h"

#ifndef __USE_FILE_OFFSET64
#error "compat_fob64.c is meant to be built with -D_FILE_OFFSET_BITS=64"
#endif
