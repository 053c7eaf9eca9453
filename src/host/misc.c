/*
 * misc.c - small handler-safe helpers: yielding, messages, dying.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "host/host.h"

/* handler-safe */
void host_yield(void)
{
	host_sys.sched_yield();
}

/* handler-safe: clock_gettime is async-signal-safe (POSIX). */
unsigned long host_now_ns(void)
{
	struct timespec ts;

	host_sys.clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long)ts.tv_sec * 1000000000UL + (unsigned long)ts.tv_nsec;
}

/* handler-safe */
void host_write_str(const char *s)
{
	int saved = errno;
	ssize_t r = host_sys.write(STDERR_FILENO, s, strlen(s));

	(void)r;
	errno = saved;
}

/* handler-safe: "label<decimal>\n" in one writev, so lines from several
 * processes sharing stderr do not interleave (POSIX keeps a pipe write of
 * up to PIPE_BUF bytes whole; writev is one write). */
void host_write_num(const char *label, unsigned long v)
{
	char buf[24];
	int i = (int)sizeof(buf);

	buf[--i] = '\0';
	buf[--i] = '\n';
	do
		buf[--i] = (char)('0' + v % 10);
	while ((v /= 10) && i > 0);
	struct iovec iov[2] = {
		{ .iov_base = (void *)label, .iov_len = strlen(label) },
		{ .iov_base = buf + i, .iov_len = sizeof(buf) - 1 - (size_t)i },
	};
	int saved = errno;
	ssize_t r = host_sys.writev(STDERR_FILENO, iov, 2);

	(void)r;
	errno = saved;
}

/* handler-safe */
_Noreturn void host_die(const char *why)
{
	host_write_str("vmemu: fatal: ");
	host_write_str(why);
	host_write_str("\n");
	host_sys.abort();
	__builtin_trap();	/* a test's abort entry returned */
}

const char *host_getenv(const char *name)
{
	return getenv(name);
}
