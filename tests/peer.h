/*
 * peer.h - other processes for the shared page cache tests: vmemu-peer
 * (tests/peer/peer.c) started with fork+exec, a test-unique domain for
 * them and the test process to share, and the plumbing to follow a peer
 * line by line, send it on, kill it and collect it.
 *
 * A peer reports each operation on one line; peer_expect() checks the next
 * line, and fails the test (rather than hanging) if none comes in time.
 */
#ifndef VMEMU_TESTS_PEER_H
#define VMEMU_TESTS_PEER_H

#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <time.h>
#include <vmemu.h>

#include "mm/domain.h"	/* DOMAIN_LAYOUT: the segment's name */
#include "testutil.h"

#define PEER_LINE_MS 10000	/* a peer's next line comes within this, or the test fails */

struct peer {
	pid_t pid;
	int in;			/* its stdin */
	int out;		/* its stdout */
	char buf[65536];	/* read but not yet returned */
	size_t len;
	char line[65536];	/* the last line returned */
};

/* Remove the domain's segment, which killed processes may leave behind. */
static inline void domain_remove(const char *name)
{
	char path[PATH_MAX + 640];
	const char *dir = getenv("VMEMU_SHM_DIR");

	snprintf(path, sizeof(path), "%s/vmemu-%u-v%lu-%s", dir && *dir ? dir : "/dev/shm", (unsigned)geteuid(),
		 DOMAIN_LAYOUT, name);
	unlink(path);
}

/* The domains this test made, for remove_test_domains. */
static char test_domains[8][64];
static int nr_test_domains;

/* A domain name no other test or engineer uses: the test's pid and a tag. */
static inline void test_domain(char *out, size_t len, const char *tag)
{
	snprintf(out, len, "t%d-%s", (int)getpid(), tag);
	if (nr_test_domains < 8)
		snprintf(test_domains[nr_test_domains++], sizeof(test_domains[0]), "%s", out);
}

/* .fini of the tests that make domains: their segments go, and the named
 * files the test made, even when it failed half way. */
static inline void remove_test_domains(void)
{
	for (int i = 0; i < nr_test_domains; i++)
		domain_remove(test_domains[i]);
	nr_test_domains = 0;
	remove_tracked_files();
}

/* This process joins domain name (budget cache_mb MiB, 0: the default).
 * Must come before any other vme_ call. */
static inline void join_domain(const char *name, unsigned long cache_mb)
{
	struct vme_config cfg = { .domain = name, .cache_mb = cache_mb };

	cr_assert_eq(vme_init(&cfg), 0, "vme_init(domain %s): %s", name, strerror(errno));
}

/* An environment for the peer: ours, with VMEMU_DOMAIN=domain and (if
 * cache_mb) VMEMU_CACHE_MB=cache_mb.  Built before fork (no malloc after). */
static inline char **peer_env(const char *domain, unsigned long cache_mb)
{
	extern char **environ;
	size_t n = 0;

	while (environ[n])
		n++;
	char **env = calloc(n + 3, sizeof(*env));
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "VMEMU_DOMAIN=", 13) && strncmp(environ[i], "VMEMU_CACHE_MB=", 15))
			env[k++] = environ[i];
	char *d = malloc(strlen(domain) + 16);
	sprintf(d, "VMEMU_DOMAIN=%s", domain);
	env[k++] = d;
	if (cache_mb) {
		char *c = malloc(48);
		sprintf(c, "VMEMU_CACHE_MB=%lu", cache_mb);
		env[k++] = c;
	}
	env[k] = NULL;
	return env;
}

/* Start vmemu-peer with the operations ops (NULL-terminated) in domain,
 * with fork and exec: the test process may be a vmemu process itself, so
 * its fork handlers run too. */
static inline void peer_start_env(struct peer *p, const char *domain, unsigned long cache_mb,
				  const char *const *ops)
{
	char prog[PATH_MAX + 64];
	int to[2], from[2];
	const char *argv[64];
	int n = 0;

	built_program("VMEMU_PEER", "vmemu-peer", prog, sizeof(prog));
	cr_assert(access(prog, X_OK) == 0, "%s is not built (make test builds it)", prog);
	argv[n++] = prog;
	for (; *ops && n < 63; ops++)
		argv[n++] = *ops;
	argv[n] = NULL;
	char **env = peer_env(domain, cache_mb);
	cr_assert_eq(pipe(to), 0);
	cr_assert_eq(pipe(from), 0);
	memset(p, 0, sizeof(*p));
	fflush(NULL);
	p->pid = fork();
	cr_assert_geq(p->pid, 0, "fork");
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);	/* never outlive the test */
		dup2(to[0], STDIN_FILENO);
		dup2(from[1], STDOUT_FILENO);
		close(to[0]), close(to[1]), close(from[0]), close(from[1]);
		execve(prog, (char *const *)argv, env);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	p->in = to[1];
	p->out = from[0];
	free(env);	/* the strings we added leak; a test's process is short */
}

static inline void peer_start(struct peer *p, const char *domain, const char *const *ops)
{
	peer_start_env(p, domain, 0, ops);
}

/* The peer's next line (without the newline), or NULL if it ended or said
 * nothing within ms. */
static inline const char *peer_line_within(struct peer *p, int ms)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		char *nl = memchr(p->buf, '\n', p->len);
		if (nl) {
			size_t n = (size_t)(nl - p->buf);
			memcpy(p->line, p->buf, n);
			p->line[n] = '\0';
			memmove(p->buf, nl + 1, p->len - n - 1);
			p->len -= n + 1;
			return p->line;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = ms - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			return NULL;
		struct pollfd pfd = { .fd = p->out, .events = POLLIN };
		int r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return NULL;
		ssize_t k = read(p->out, p->buf + p->len, sizeof(p->buf) - p->len - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return NULL;
		p->len += (size_t)k;
	}
}

static inline const char *peer_line(struct peer *p)
{
	const char *l = peer_line_within(p, PEER_LINE_MS);

	cr_assert_not_null(l, "the peer (pid %d) said nothing within %d ms", (int)p->pid, PEER_LINE_MS);
	return l;
}

/* The next line must be exactly the formatted text. */
static inline void peer_expect(struct peer *p, const char *fmt, ...)
{
	char want[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	const char *l = peer_line(p);
	cr_assert_str_eq(l, want, "the peer said \"%s\", expected \"%s\"", l, want);
}

/* Let a peer blocked in "wait" go on. */
static inline void peer_go(struct peer *p)
{
	cr_assert_eq(write(p->in, "go\n", 3), 3);
}

/* The peer's end: its exit code, 1000 + the signal that killed it, or -1
 * if it did not end within timeout_s (it is killed then). */
static inline int peer_finish(struct peer *p, int timeout_s)
{
	struct timespec t0, now, nap = { 0, 1000000 };
	int status;

	close(p->in);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		pid_t r = waitpid(p->pid, &status, WNOHANG);
		if (r == p->pid)
			break;
		cr_assert_eq(r, 0, "waitpid: %s", strerror(errno));
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= timeout_s) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &status, 0);
			close(p->out);
			return -1;
		}
		nanosleep(&nap, NULL);
	}
	close(p->out);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return WIFSIGNALED(status) ? 1000 + WTERMSIG(status) : 2000;
}

/* kill -9, and wait until it is gone. */
static inline void peer_kill(struct peer *p)
{
	int status;

	cr_assert_eq(kill(p->pid, SIGKILL), 0);
	cr_assert_eq(waitpid(p->pid, &status, 0), p->pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the peer ended with status %#x", status);
	close(p->in);
	close(p->out);
}

/* A named temporary file of size bytes of pattern_byte, for peers to open
 * by path; the caller unlinks it. */
static inline int pattern_file_at(char *path, size_t len, size_t size)
{
	snprintf(path, len, "/tmp/vmemu-peer-XXXXXX");
	int fd = mkstemp(path);
	cr_assert(fd >= 0, "mkstemp");
	track_file(path);
	unsigned char *buf = malloc(size ? size : 1);
	for (size_t i = 0; i < size; i++)
		buf[i] = pattern_byte(i);
	cr_assert_eq(pwrite(fd, buf, size, 0), (ssize_t)size);
	free(buf);
	return fd;
}

/* Run fn(arg) in a thread of this process, and give it ms milliseconds.
 * If it does not return, it is stuck in vmemu on a lock it will never get,
 * and so would exit(3) be (vmemu's write-back at exit takes the same
 * locks): say so on stderr and abort, so that the test crashes with the
 * reason rather than hang the suite. */
struct run_within {
	void *(*fn)(void *);
	void *arg;
	volatile int done;
};

static inline void *run_within_thread(void *a)
{
	struct run_within *w = a;

	w->fn(w->arg);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static inline void run_within(int ms, const char *what, void *(*fn)(void *), void *arg)
{
	struct run_within w = { .fn = fn, .arg = arg };
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, run_within_thread, &w), 0);
	for (int i = 0; i < ms && !__atomic_load_n(&w.done, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	if (!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE)) {
		fprintf(stderr, "vmemu hangs: %s did not return within %d ms; aborting\n", what, ms);
		abort();
	}
	pthread_join(t, NULL);
}

#endif /* VMEMU_TESTS_PEER_H */
