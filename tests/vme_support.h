/*
 * vme_support.h - helpers for the compat_ tests, compiled without
 * vmemu/compat.h (vme_support.c), so that they see the library as it is
 * and do not depend on what they help to test.  C and C++.
 */
#ifndef VMEMU_TEST_VME_SUPPORT_H
#define VMEMU_TEST_VME_SUPPORT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*vme_fn)(void);

/* The library function a call compat.h redirects must bind to: "pread64"
 * gives vme_pread.  NULL for a name compat.h does not redirect. */
vme_fn vme_symbol(const char *call);

/* n fresh pages from vme_mmap, read-write and private: emulated, and none
 * present yet, so the host's system calls would fail with EFAULT on them. */
void *emulated_pages(size_t n);

/* A private read-only emulated mapping of a new file holding len bytes of
 * data, not present yet. */
const void *emulated_copy(const void *data, size_t len);

/* A new, unlinked temporary file of size bytes: byte i is (unsigned char)(i * 7). */
int numbered_file(size_t size);

#ifdef __cplusplus
}
#endif
#endif
