/*
 * vmemu/compat.h - switch an existing program over to vmemu by recompiling:
 *
 *	cc -include vmemu/compat.h prog.c $(pkg-config --cflags --libs vmemu)
 *
 * The calls below, written in the code compiled with this header, reach
 * their vme_ versions.  Calls made elsewhere (inside libc, such as stdio's
 * own writes, and in other libraries) stay the host's.  See vmemu(7).
 *
 * It includes no header, so that the program's own feature macros (a
 * "#define _GNU_SOURCE" at the top of its source) still decide what the
 * system headers declare.  Its declarations use the compiler's own types:
 * off_t and ssize_t are long, hence LP64 only.
 *
 * C: object-like macros rename the calls (mmap -> vme_mmap), so the system
 * headers declare the vme_ names with glibc's own prototypes, taking the
 * address of mmap keeps working, and "#undef msync" restores the host call
 * (autoconf's AC_CHECK_FUNCS program does that).  The tag of struct
 * sigaction is renamed with the call; glibc itself then defines struct
 * vme_sigaction, with its own layout.
 * C++: such macros would rename member functions too (std::istream::read),
 * so the calls keep their names; the declarations below give them the vme_
 * symbols as their assembler names instead.
 *
 * Either way these declarations come first and fix the symbol of each call.
 * glibc relabels some with asm labels: to mmap64, pread64, ... under
 * _FILE_OFFSET_BITS=64, to __sysv_signal in strict ISO C.  GCC keeps the
 * first label and ignores the later ones; clang stops at the conflict (see
 * below).  _FORTIFY_SOURCE turns read, pread, recv and recvfrom into inline
 * functions that call glibc's __read_alias, __read_chk and the like: those
 * are declared here too, bound to the vme_ call or to the checked entry
 * that vmemu exports for vmemu-wrap (__wrap___read_chk), so fortified calls
 * are still checked and still reach vmemu.
 */
#ifndef VMEMU_COMPAT_H
#define VMEMU_COMPAT_H
/* Seen as glibc's own: no warning in the program for the declarations
 * without prototype below, nor for glibc's transparent unions under
 * -pedantic, as glibc's own declarations draw none. */
#pragma GCC system_header

#if !defined __LP64__ || !defined __linux__
#error "vmemu/compat.h: LP64 Linux only"
#endif

/* clang rejects a second, different asm label instead of ignoring it: where
 * glibc relabels a call, the build stops with "conflicting asm label" at
 * one of the declarations below (so nothing bypasses vmemu).  Say why at
 * once when the cause is already visible. */
#if defined __clang__ && ((defined _FILE_OFFSET_BITS && _FILE_OFFSET_BITS == 64) || \
			  (defined _FORTIFY_SOURCE && _FORTIFY_SOURCE > 0 && defined __OPTIMIZE__))
#error "vmemu/compat.h: clang cannot keep the calls on vmemu under _FILE_OFFSET_BITS=64 or _FORTIFY_SOURCE; build with gcc, or drop them (_FILE_OFFSET_BITS=64 changes nothing on LP64) and link with vmemu-wrap"
#endif

#ifndef __cplusplus
#define mmap vme_mmap
#define mmap64 vme_mmap64
#define munmap vme_munmap
#define mprotect vme_mprotect
#define msync vme_msync
#define madvise vme_madvise
#define mincore vme_mincore
#define mremap vme_mremap
#define mlock vme_mlock
#define mlock2 vme_mlock2
#define munlock vme_munlock
#define mlockall vme_mlockall
#define munlockall vme_munlockall
#define sigaction vme_sigaction
#define signal vme_signal
#define brk vme_brk
#define sbrk vme_sbrk
#define read vme_read
#define write vme_write
#define pread vme_pread
#define pread64 vme_pread64
#define pwrite vme_pwrite
#define pwrite64 vme_pwrite64
#define readv vme_readv
#define writev vme_writev
#define preadv vme_preadv
#define preadv64 vme_preadv64
#define pwritev vme_pwritev
#define pwritev64 vme_pwritev64
#define ftruncate vme_ftruncate
#define ftruncate64 vme_ftruncate64
#define truncate vme_truncate
#define truncate64 vme_truncate64
#define fsync vme_fsync
#define fdatasync vme_fdatasync
#define send vme_send
#define recv vme_recv
#define sendto vme_sendto
#define recvfrom vme_recvfrom
#define sendmsg vme_sendmsg
#define recvmsg vme_recvmsg

/* VME_PIN(return type, call, symbol, parameters, C++ exception spec):
 * declare the call, under the name the macro above gives it in C and its
 * own in C++, with symbol as its assembler name. */
#define VME_PIN(ret, name, sym, params, nothrow) extern ret vme_##name params __asm__(#sym);
#define VME_NOTHROW
#else
#define VME_PIN(ret, name, sym, params, nothrow) extern ret name params nothrow __asm__(#sym);
#if __cplusplus >= 201103L
#define VME_NOTHROW noexcept(true)	/* glibc's __THROW, which C++ checks */
#else
#define VME_NOTHROW throw()
#endif
extern "C" {
#endif

/* glibc's internal fortify functions: declared as they are named. */
#define VME_PIN_GLIBC(ret, name, sym, params) extern ret name params __asm__(#sym);

/* In C, glibc's sockaddr argument is a transparent union under _GNU_SOURCE,
 * which is not known yet: declare those calls without a prototype, and
 * glibc's own completes it.  C23 has no such declarations: there they take
 * struct sockaddr *, so under _GNU_SOURCE another sockaddr type needs a
 * cast, and a fortified recvfrom does not compile. */
#if defined __cplusplus || (defined __STDC_VERSION__ && __STDC_VERSION__ > 201710L)
#define VME_SOCKADDR_PARAMS(...) (__VA_ARGS__)
#else
#define VME_SOCKADDR_PARAMS(...) ()
#endif

/* At file scope, so that the prototypes below name the program's types. */
struct sigaction;
struct iovec;
struct msghdr;
struct sockaddr;

VME_PIN(void *, mmap, vme_mmap, (void *, __SIZE_TYPE__, int, int, int, long), VME_NOTHROW)
VME_PIN(void *, mmap64, vme_mmap, (void *, __SIZE_TYPE__, int, int, int, long), VME_NOTHROW)
VME_PIN(int, munmap, vme_munmap, (void *, __SIZE_TYPE__), VME_NOTHROW)
VME_PIN(int, mprotect, vme_mprotect, (void *, __SIZE_TYPE__, int), VME_NOTHROW)
VME_PIN(int, msync, vme_msync, (void *, __SIZE_TYPE__, int), )
VME_PIN(int, madvise, vme_madvise, (void *, __SIZE_TYPE__, int), VME_NOTHROW)
VME_PIN(int, mincore, vme_mincore, (void *, __SIZE_TYPE__, unsigned char *), VME_NOTHROW)
VME_PIN(void *, mremap, vme_mremap, (void *, __SIZE_TYPE__, __SIZE_TYPE__, int, ...), VME_NOTHROW)
VME_PIN(int, mlock, vme_mlock, (const void *, __SIZE_TYPE__), VME_NOTHROW)
VME_PIN(int, mlock2, vme_mlock2, (const void *, __SIZE_TYPE__, unsigned int), VME_NOTHROW)
VME_PIN(int, munlock, vme_munlock, (const void *, __SIZE_TYPE__), VME_NOTHROW)
VME_PIN(int, mlockall, vme_mlockall, (int), VME_NOTHROW)
VME_PIN(int, munlockall, vme_munlockall, (void), VME_NOTHROW)
VME_PIN(int, sigaction, vme_sigaction, (int, const struct sigaction *, struct sigaction *), VME_NOTHROW)
VME_PIN(__typeof__(void (*)(int)), signal, vme_signal, (int, void (*)(int)), VME_NOTHROW)
VME_PIN(int, brk, vme_brk, (void *), VME_NOTHROW)
VME_PIN(void *, sbrk, vme_sbrk, (__INTPTR_TYPE__), VME_NOTHROW)
VME_PIN(long, read, vme_read, (int, void *, __SIZE_TYPE__), )
VME_PIN(long, write, vme_write, (int, const void *, __SIZE_TYPE__), )
VME_PIN(long, pread, vme_pread, (int, void *, __SIZE_TYPE__, long), )
VME_PIN(long, pread64, vme_pread, (int, void *, __SIZE_TYPE__, long), )
VME_PIN(long, pwrite, vme_pwrite, (int, const void *, __SIZE_TYPE__, long), )
VME_PIN(long, pwrite64, vme_pwrite, (int, const void *, __SIZE_TYPE__, long), )
VME_PIN(long, readv, vme_readv, (int, const struct iovec *, int), )
VME_PIN(long, writev, vme_writev, (int, const struct iovec *, int), )
VME_PIN(long, preadv, vme_preadv, (int, const struct iovec *, int, long), )
VME_PIN(long, preadv64, vme_preadv, (int, const struct iovec *, int, long), )
VME_PIN(long, pwritev, vme_pwritev, (int, const struct iovec *, int, long), )
VME_PIN(long, pwritev64, vme_pwritev, (int, const struct iovec *, int, long), )
VME_PIN(int, ftruncate, vme_ftruncate, (int, long), VME_NOTHROW)
VME_PIN(int, ftruncate64, vme_ftruncate, (int, long), VME_NOTHROW)
VME_PIN(int, truncate, vme_truncate, (const char *, long), VME_NOTHROW)
VME_PIN(int, truncate64, vme_truncate, (const char *, long), VME_NOTHROW)
VME_PIN(int, fsync, vme_fsync, (int), )
VME_PIN(int, fdatasync, vme_fdatasync, (int), )
VME_PIN(long, send, vme_send, (int, const void *, __SIZE_TYPE__, int), )
VME_PIN(long, recv, vme_recv, (int, void *, __SIZE_TYPE__, int), )
VME_PIN(long, sendto, vme_sendto,
	VME_SOCKADDR_PARAMS(int, const void *, __SIZE_TYPE__, int, const struct sockaddr *, unsigned), )
VME_PIN(long, recvfrom, vme_recvfrom,
	VME_SOCKADDR_PARAMS(int, void *, __SIZE_TYPE__, int, struct sockaddr *, unsigned *), )
VME_PIN(long, sendmsg, vme_sendmsg, (int, const struct msghdr *, int), )
VME_PIN(long, recvmsg, vme_recvmsg, (int, struct msghdr *, int), )

/* What glibc's fortified read, pread, recv and recvfrom call: _alias when
 * the buffer is big enough or of unknown size, _chk to check at run time,
 * _chk_warn when it is too small at compile time. */
VME_PIN_GLIBC(long, __read_alias, vme_read, (int, void *, __SIZE_TYPE__))
VME_PIN_GLIBC(long, __read_chk, __wrap___read_chk, (int, void *, __SIZE_TYPE__, __SIZE_TYPE__))
VME_PIN_GLIBC(long, __read_chk_warn, __wrap___read_chk, (int, void *, __SIZE_TYPE__, __SIZE_TYPE__))
VME_PIN_GLIBC(long, __pread_alias, vme_pread, (int, void *, __SIZE_TYPE__, long))
VME_PIN_GLIBC(long, __pread64_alias, vme_pread, (int, void *, __SIZE_TYPE__, long))
VME_PIN_GLIBC(long, __pread_chk, __wrap___pread_chk, (int, void *, __SIZE_TYPE__, long, __SIZE_TYPE__))
VME_PIN_GLIBC(long, __pread64_chk, __wrap___pread64_chk, (int, void *, __SIZE_TYPE__, long, __SIZE_TYPE__))
VME_PIN_GLIBC(long, __pread_chk_warn, __wrap___pread_chk, (int, void *, __SIZE_TYPE__, long, __SIZE_TYPE__))
VME_PIN_GLIBC(long, __pread64_chk_warn, __wrap___pread64_chk,
	      (int, void *, __SIZE_TYPE__, long, __SIZE_TYPE__))
VME_PIN_GLIBC(long, __recv_alias, vme_recv, (int, void *, __SIZE_TYPE__, int))
VME_PIN_GLIBC(long, __recv_chk, __wrap___recv_chk, (int, void *, __SIZE_TYPE__, __SIZE_TYPE__, int))
VME_PIN_GLIBC(long, __recv_chk_warn, __wrap___recv_chk, (int, void *, __SIZE_TYPE__, __SIZE_TYPE__, int))
VME_PIN_GLIBC(long, __recvfrom_alias, vme_recvfrom,
	      VME_SOCKADDR_PARAMS(int, void *, __SIZE_TYPE__, int, struct sockaddr *, unsigned *))
VME_PIN_GLIBC(long, __recvfrom_chk, __wrap___recvfrom_chk,
	      VME_SOCKADDR_PARAMS(int, void *, __SIZE_TYPE__, __SIZE_TYPE__, int, struct sockaddr *, unsigned *))
VME_PIN_GLIBC(long, __recvfrom_chk_warn, __wrap___recvfrom_chk,
	      VME_SOCKADDR_PARAMS(int, void *, __SIZE_TYPE__, __SIZE_TYPE__, int, struct sockaddr *, unsigned *))

#ifdef __cplusplus
}
#endif
#undef VME_PIN
#undef VME_PIN_GLIBC
#undef VME_NOTHROW
#undef VME_SOCKADDR_PARAMS

#endif /* VMEMU_COMPAT_H */
