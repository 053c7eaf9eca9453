/*
 * compat_fortify.c - compiled with -O2 -D_FORTIFY_SOURCE=2 (see the
 * Makefile), under which glibc makes read, pread, recv and recvfrom inline
 * functions that call the host's read or __read_chk: the calls must still
 * reach vmemu, checked.
 */
#define _GNU_SOURCE
#define COMPAT_SUITE compat_fortify
#include "compat_calls.h"

#if __USE_FORTIFY_LEVEL < 2
#error "compat_fortify.c is meant to be built with -O2 -D_FORTIFY_SOURCE=2"
#endif
