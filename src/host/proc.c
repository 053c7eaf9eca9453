/*
 * proc.c - the process and its threads: ids, sleeping, the library's own
 * thread (the trace ring's deliverer), and the fork hooks.
 *
 * Each function is one host_sys entry, translated to the host layer's
 * contract (0 or -errno, errno left as it was).
 */
#include <errno.h>
#include <pthread.h>

#include "host/host.h"
#include "host/sysret.h"

/* handler-safe */
pid_t host_getpid(void)
{
	return host_sys.getpid();
}

/* handler-safe */
pid_t host_gettid(void)
{
	return host_sys.gettid();
}

/* handler-safe */
uid_t host_geteuid(void)
{
	return host_sys.geteuid();
}

/* handler-safe: sleep ns nanoseconds, or less if a signal arrives. */
void host_sleep_ns(unsigned long ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000UL), .tv_nsec = (long)(ns % 1000000000UL) };

	SYSCALL_RET(host_sys.nanosleep(&ts, NULL));
}

/* A thread running fn(arg).  Returns 0 or -errno (-EAGAIN: no resources). */
int host_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	return SYSCALL_RET(host_sys.thread_create(thread, fn, arg));
}

/* Wait for thread to end.  Returns 0 or -errno. */
int host_thread_join(pthread_t thread)
{
	return SYSCALL_RET(host_sys.thread_join(thread));
}

/* Is the calling thread this one?  (No system call.) */
bool host_thread_is_self(pthread_t thread)
{
	return pthread_equal(pthread_self(), thread);
}

/* Run prepare before every fork, parent and child after it (pthread_atfork).
 * Returns 0 or -errno (-ENOMEM). */
int host_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
	return SYSCALL_RET(host_sys.atfork(prepare, parent, child));
}
