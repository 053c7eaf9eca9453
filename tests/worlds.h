/*
 * worlds.h - run one scenario in a child process twice, once over the host
 * kernel's calls and once over vmemu's, and bring back what each child saw:
 * its wait status, the last signal its handler caught (signal, si_code and
 * si_addr) and a few values.  Children never call Criterion; the parent
 * compares.  Used by the differential tests of heap.c, hostmap.c,
 * handler_mask.c, eof_page.c, own_memory.c, mlock.c and others.
 */
#ifndef VMEMU_TESTS_WORLDS_H
#define VMEMU_TESTS_WORLDS_H

#include <criterion/criterion.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vmemu.h>

#include "testutil.h"

struct world {
	const char *name;
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	int (*munmap)(void *, size_t);
	int (*mprotect)(void *, size_t, int);
	int (*msync)(void *, size_t, int);
	int (*madvise)(void *, size_t, int);
	int (*mincore)(void *, size_t, unsigned char *);
	void *(*mremap)(void *, size_t, size_t, int, ...);
	int (*sigaction)(int, const struct sigaction *, struct sigaction *);
	int (*brk)(void *);
	void *(*sbrk)(intptr_t);
	int (*mlock)(const void *, size_t);
	int (*mlock2)(const void *, size_t, unsigned int);
	int (*munlock)(const void *, size_t);
	int (*mlockall)(int);
	int (*munlockall)(void);
};

static inline int w_vme_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	return vme_sigaction(sig, act, old);
}

/* The host's memory locks as system calls: the sanitizers' interceptors
 * make glibc's mlock family succeed and do nothing. */
static inline int w_mlock(const void *addr, size_t len)
{
	return (int)syscall(SYS_mlock, addr, len);
}

static inline int w_mlock2(const void *addr, size_t len, unsigned int flags)
{
	return (int)syscall(SYS_mlock2, addr, len, flags);
}

static inline int w_munlock(const void *addr, size_t len)
{
	return (int)syscall(SYS_munlock, addr, len);
}

static inline int w_mlockall(int flags)
{
	return (int)syscall(SYS_mlockall, flags);
}

static inline int w_munlockall(void)
{
	return (int)syscall(SYS_munlockall);
}

static const struct world host_world = {
	"host", mmap, munmap, mprotect, msync, madvise, mincore, mremap, sigaction, brk, sbrk,
	w_mlock, w_mlock2, w_munlock, w_mlockall, w_munlockall,
};
static const struct world vme_world = {
	"vmemu", vme_mmap, vme_munmap, vme_mprotect, vme_msync, vme_madvise, vme_mincore,
	vme_mremap, w_vme_sigaction, vme_brk, vme_sbrk,
	vme_mlock, vme_mlock2, vme_munlock, vme_mlockall, vme_munlockall,
};

/* A call's result as the kernel's system call gives it: -errno on failure. */
static inline long w_ret(long r)
{
	return r < 0 ? -errno : r;
}

/* An address no mapping covers, hidden from the compiler's bounds checks. */
static inline volatile char *wild(unsigned long addr)
{
	volatile unsigned long a = addr;
	return (volatile char *)a;
}

/* Children that die of a signal leave no core behind. */
static inline void no_core(void)
{
	struct rlimit r = { 0, 0 };
	setrlimit(RLIMIT_CORE, &r);
}

static inline struct vme_stats w_stats(void)
{
	struct vme_stats s;
	cr_assert_eq(vme_stats(&s), 0);
	return s;
}

#define NVAL 16

/* What a child saw, in memory shared with the parent. */
struct outcome {
	int status;		/* wait status of the child */
	int sig, code;		/* the last signal its handler caught, and si_code */
	unsigned long addr;	/* si_addr */
	int nsig;		/* how many signals the handler caught */
	long v[NVAL];		/* the scenario's own values */
};

/* The child's outcome, where its handler jumps back to, and whether an
 * access under w_touch is in progress. */
static struct outcome *w_out;
static sigjmp_buf w_env;
static volatile sig_atomic_t w_armed;

/* A handler for the children: record the signal and jump back into
 * w_touch; a signal anywhere else ends the child with exit 100 + signal. */
static inline void w_catch(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	w_out->sig = sig;
	w_out->code = info->si_code;
	w_out->addr = (unsigned long)info->si_addr;
	w_out->nsig++;
	if (!w_armed)
		_exit(100 + sig);
	w_armed = 0;
	siglongjmp(w_env, 1);
}

/* Install w_catch for sig in world w; returns sigaction's result. */
static inline int w_install(const struct world *w, int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = w_catch;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return w->sigaction(sig, &sa, NULL);
}

/* Touch *p (a write if write) under w_catch: 0 if the access went through,
 * else the signal.  The handler must be installed. */
static inline int w_touch(volatile char *p, bool write, char val)
{
	if (sigsetjmp(w_env, 1))
		return w_out->sig;
	w_armed = 1;
	if (write)
		*p = val;
	else
		(void)*p;
	w_armed = 0;
	return 0;
}

/* Run fn(w, out) in a child and wait for it; its exit status 0 means it ran
 * to the end.  Returns the outcome (valid until the next call). */
static inline struct outcome *w_run(const struct world *w,
				    void (*fn)(const struct world *w, struct outcome *out))
{
	static struct outcome *shared;
	int status;

	if (!shared) {
		shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		cr_assert_neq(shared, MAP_FAILED);
	}
	memset(shared, 0, sizeof(*shared));
	pid_t pid = fork();
	cr_assert_geq(pid, 0, "fork");
	if (pid == 0) {
		w_out = shared;
		alarm(10);		/* a child that hangs ends, and says so */
		fn(w, shared);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	shared->status = status;
	return shared;
}

/* "exit 0", "exit 3", "signal 11": a wait status for messages. */
static inline const char *w_status(int status)
{
	static char buf[4][32];
	static int next;
	char *b = buf[next++ % 4];

	if (WIFEXITED(status))
		snprintf(b, 32, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(b, 32, "signal %d", WTERMSIG(status));
	else
		snprintf(b, 32, "status %#x", status);
	return b;
}

/* Both outcomes the same: status, signal, si_code, si_addr, count and
 * values.  A scenario whose addresses differ between the worlds stores
 * them relative to its own mapping. */
static inline void w_compare(const struct outcome *h, const struct outcome *v, const char *what)
{
	cr_assert_eq(v->status, h->status, "%s: vmemu's child ended with %s, the host's with %s",
		     what, w_status(v->status), w_status(h->status));
	for (int i = 0; i < NVAL; i++)
		cr_assert_eq(v->v[i], h->v[i], "%s: value %d: vmemu %ld, host %ld", what, i, v->v[i], h->v[i]);
	cr_assert_eq(v->nsig, h->nsig, "%s: signals caught: vmemu %d, host %d", what, v->nsig, h->nsig);
	cr_assert_eq(v->sig, h->sig, "%s: signal: vmemu %d, host %d", what, v->sig, h->sig);
	cr_assert_eq(v->code, h->code, "%s: si_code: vmemu %d, host %d", what, v->code, h->code);
	cr_assert_eq(v->addr, h->addr, "%s: si_addr: vmemu %#lx, host %#lx", what, v->addr, h->addr);
}

#endif /* VMEMU_TESTS_WORLDS_H */
