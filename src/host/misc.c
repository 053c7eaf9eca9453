/*
 * misc.c - small handler-safe helpers: yielding, messages, dying.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host/host.h"

/* handler-safe */
void host_yield(void)
{
	sched_yield();
}

/* handler-safe: clock_gettime is async-signal-safe (POSIX). */
unsigned long host_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long)ts.tv_sec * 1000000000UL + (unsigned long)ts.tv_nsec;
}

/* handler-safe */
void host_write_str(const char *s)
{
	ssize_t r = write(STDERR_FILENO, s, strlen(s));
	(void)r;
}

/* handler-safe: "label<decimal>\n" */
void host_write_num(const char *label, unsigned long v)
{
	char buf[24];
	int i = (int)sizeof(buf);

	buf[--i] = '\0';
	buf[--i] = '\n';
	do
		buf[--i] = (char)('0' + v % 10);
	while ((v /= 10) && i > 0);
	host_write_str(label);
	host_write_str(buf + i);
}

/* handler-safe */
_Noreturn void host_die(const char *why)
{
	host_write_str("vmemu: fatal: ");
	host_write_str(why);
	host_write_str("\n");
	abort();
}

const char *host_getenv(const char *name)
{
	return getenv(name);
}
