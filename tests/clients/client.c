/*
 * client.c - the records, digests, failure reports, worker processes and
 * option parsing that the real-client workloads share (see client.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"

#define CHECK_PRINT_MAX 10	/* inconsistencies printed before they are only counted */

/* --- records ---------------------------------------------------------------- */

bool record_updated(uint64_t i)
{
	return i % 3 == 1;
}

bool record_deleted(uint64_t i)
{
	return i % 7 == 3;
}

size_t record_key(uint64_t i, char key[RECORD_KEY_MAX])
{
	return (size_t)snprintf(key, RECORD_KEY_MAX, "key-%010llu", (unsigned long long)i);
}

/* splitmix64's finaliser: a well-mixed word from any seed. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

size_t record_value(uint64_t i, unsigned version, unsigned char buf[RECORD_VALUE_MAX])
{
	uint64_t s = mix(i * 4 + version);
	size_t len = i % 101 == 50 ? 3000 + (size_t)(s % 6000) : 16 + (size_t)(s % 480);

	for (size_t k = 0; k < len; k += sizeof(s)) {
		s = mix(s);
		memcpy(buf + k, &s, len - k < sizeof(s) ? len - k : sizeof(s));
	}
	return len;
}

/* --- digests ------------------------------------------------------------------ */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static void fnv(uint64_t *h, const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t k = 0; k < len; k++)
		*h = (*h ^ b[k]) * FNV_PRIME;
}

void digest_init(struct digest *d)
{
	d->hash = FNV_OFFSET;
	d->count = 0;
}

void digest_add(struct digest *d, const void *key, size_t klen, const void *val, size_t vlen)
{
	uint64_t lens[2] = { klen, vlen };

	fnv(&d->hash, lens, sizeof(lens));
	fnv(&d->hash, key, klen);
	fnv(&d->hash, val, vlen);
	d->count++;
}

void digest_expected(uint64_t n, struct digest *d)
{
	static unsigned char val[RECORD_VALUE_MAX];
	char key[RECORD_KEY_MAX];

	digest_init(d);
	for (uint64_t i = 0; i < n; i++) {
		if (record_deleted(i))
			continue;
		size_t klen = record_key(i, key);
		size_t vlen = record_value(i, record_updated(i), val);
		digest_add(d, key, klen, val, vlen);
	}
}

/* --- failures ----------------------------------------------------------------- */

/* "program: [what: ]message\n" on stderr in one write, so that the lines of
 * workers sharing stderr do not interleave. */
static void report(const char *what, const char *fmt, va_list ap)
{
	char line[2048];
	int n = snprintf(line, sizeof(line), "%s: %s%s", program_invocation_short_name, what ? what : "",
			 what ? ": " : "");

	if (n >= 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	fprintf(stderr, "%s\n", line);
}

void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	report(NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

void check_error(struct check *c, const char *fmt, ...)
{
	va_list ap;

	if (c->errors++ >= CHECK_PRINT_MAX)
		return;
	va_start(ap, fmt);
	report(c->what, fmt, ap);
	va_end(ap);
}

void check_done(const struct check *c)
{
	if (!c->errors)
		return;
	die("%s: %lu inconsistenc%s%s", c->what, c->errors, c->errors == 1 ? "y" : "ies",
	    c->errors > CHECK_PRINT_MAX ? " (the first ones above)" : "");
}

/* --- worker processes ----------------------------------------------------------- */

pid_t worker_start(char *const argv[])
{
	pid_t parent = getpid(), pid;

	fflush(NULL);
	if ((pid = fork()) < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		/* a worker must not outlive a parent that was killed (a test's timeout) */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
			_exit(127);
		execv("/proc/self/exe", argv);
		fprintf(stderr, "%s: exec /proc/self/exe: %s\n", program_invocation_short_name, strerror(errno));
		_exit(127);
	}
	return pid;
}

void workers_wait(const pid_t *pids, int n)
{
	for (int left = n; left > 0; left--) {
		int status, w;
		pid_t pid;

		while ((pid = waitpid(-1, &status, 0)) < 0 && errno == EINTR)
			;
		if (pid < 0)
			die("waitpid: %s", strerror(errno));
		for (w = 0; w < n && pids[w] != pid; w++)
			;
		if (w == n)
			continue;	/* not one of ours */
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			continue;
		for (int k = 0; k < n; k++)
			if (k != w)
				kill(pids[k], SIGKILL);
		if (WIFEXITED(status))
			die("worker %d (pid %d) exited with status %d", w, (int)pid, WEXITSTATUS(status));
		die("worker %d (pid %d) was killed by %s", w, (int)pid, strsignal(WTERMSIG(status)));
	}
}

/* --- options ------------------------------------------------------------------ */

uint64_t parse_count(const char *opt, const char *arg, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max)
		die("bad %s '%s': a number from %llu to %llu (K, M, G: powers of 1024)", opt, arg,
		    (unsigned long long)min, (unsigned long long)max);
	return v;
}
