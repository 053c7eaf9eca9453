/*
 * peer.c - vmemu-peer: another program that shares vmemu's page cache, for
 * the tests that need a second process started with exec (tests/peer.h).
 *
 * It runs the operations its arguments name, in order, and reports each one
 * on stdout as one line, written with one write(2), so the test can follow
 * it step by step and check what it saw.  Byte strings are reported in hex,
 * so that zeros and stale bytes are visible.  Operations:
 *
 *   init                  vme_init from the environment (VMEMU_DOMAIN, ...)
 *   open:PATH  openro:PATH   the file every other operation uses
 *   map:LEN  mapro:LEN    vme_mmap MAP_SHARED of the file (read-write, read-only)
 *   mappriv:LEN           vme_mmap MAP_PRIVATE, read-write
 *   seq                   MADV_SEQUENTIAL on the mapping
 *   unmap                 vme_munmap
 *   get:OFF:LEN           "get HEX": the mapping's bytes
 *   put:OFF:TEXT          store TEXT into the mapping
 *   touch:OFF             read one byte of the mapping (a fault), "touch"
 *   scan:OFF:LEN          read a byte of every page, "scan"
 *   probe:OFF             "probe byte HEX", or "probe sig N code C at OFF" if
 *                         the access raised SIGBUS or SIGSEGV
 *   pwrite:OFF:TEXT       "pwrite RET ERRNO" (vme_pwrite)
 *   pread:OFF:LEN         "pread RET HEX" (vme_pread)
 *   ftruncate:LEN         "ftruncate RET ERRNO" (vme_ftruncate)
 *   msync  fsync          "msync RET" (MS_SYNC of the whole mapping), "fsync RET"
 *   mutexinit:OFF         a PTHREAD_PROCESS_SHARED mutex in the mapping
 *   lock:OFF  unlock:OFF  "lock RET", "unlock RET"
 *   trylock:OFF           "trylock RET"
 *   hang:CALL             the next host CALL vmemu makes (pread, pwrite, pwritev
 *                         (write-back's), ftruncate or fallocate) writes "hung CALL"
 *                         and sleeps forever: the test kills the process in the
 *                         middle of it; drain: a fill's splice from its pipe into
 *                         the segment, after writing part of the window
 *   say:WORD              "WORD"
 *   wait                  read a line from stdin (exit 99 at EOF)
 *   sleep:MS
 *   stats                 "stats pgpgin N pgmajfault N read_error N sigbus N"
 *   exit:N  _exit:N  kill     exit(3) (writes back), _exit(2) (does not),
 *                         SIGKILL to itself
 *
 * An operation that cannot be done (a bad argument, no mapping) exits 2
 * with a message on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <vmemu.h>
#include "host/host.h"

static int fd = -1;
static unsigned char *map;
static size_t map_len;

static void say(const char *fmt, ...)
{
	char line[16384];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	for (ssize_t done = 0, k; done < n; done += k)
		if ((k = write(STDOUT_FILENO, line + done, (size_t)(n - done))) <= 0)
			_exit(3);
}

static _Noreturn void die(const char *op, const char *why)
{
	fprintf(stderr, "vmemu-peer: %s: %s\n", op, why);
	_exit(2);
}

static void hex(char *out, const unsigned char *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static size_t num(const char *op, const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (end == s || (*end && *end != ':'))
		die(op, "bad number");
	return v;
}

static void need_map(const char *op, size_t off, size_t len)
{
	if (!map || off + len > map_len)
		die(op, "outside the mapping");
}

/* --- hang:CALL: die in the middle of one of vmemu's host calls ------------- */

/* Async-signal-safe: these run inside vmemu's fault handler. */
static _Noreturn void hang_here(const char *call)
{
	char line[32] = "hung ";
	size_t n = 5;

	while (*call && n < sizeof(line) - 2)
		line[n++] = *call++;
	line[n++] = '\n';
	if (write(STDOUT_FILENO, line, n) < 0)
		_exit(3);
	for (;;)
		pause();
}

static ssize_t hang_pread(int f, void *b, size_t n, off_t o)
{
	(void)f, (void)b, (void)n, (void)o;
	hang_here("pread");
}

/* A fill reads a file by splicing it: that read hangs too. */
static ssize_t hang_splice(int in, off_t *off_in, int out, off_t *off_out, size_t len, unsigned int flags)
{
	(void)in, (void)off_in, (void)out, (void)off_out, (void)len, (void)flags;
	hang_here("pread");
}

/* A fill's splice reads the file into the pipe; the splice from the pipe
 * into the segment stops part way, some frames written, one of them half:
 * "hung drain". */
static ssize_t hang_drain(int in, off_t *off_in, int out, off_t *off_out, size_t len, unsigned int flags)
{
	if (off_in)
		return splice(in, off_in, out, off_out, len, flags);
	if (len > 2)
		(void)splice(in, off_in, out, off_out, len / 2 + 100, flags);
	hang_here("drain");
}

static ssize_t hang_pwrite(int f, const void *b, size_t n, off_t o)
{
	(void)f, (void)b, (void)n, (void)o;
	hang_here("pwrite");
}

static ssize_t hang_pwritev(int f, const struct iovec *iov, int cnt, off_t o)
{
	(void)f, (void)iov, (void)cnt, (void)o;
	hang_here("pwritev");
}

static int hang_ftruncate(int f, off_t len)
{
	(void)f, (void)len;
	hang_here("ftruncate");
}

static int hang_fallocate(int f, int mode, off_t off, off_t len)
{
	(void)f, (void)mode, (void)off, (void)len;
	hang_here("fallocate");
}

/* --- probe: an access that may raise SIGBUS or SIGSEGV ---------------------- */

static sigjmp_buf probe_env;
static volatile siginfo_t probe_info;

static void on_probe_signal(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	probe_info = *info;
	siglongjmp(probe_env, sig);
}

static void probe(size_t off)
{
	struct sigaction sa = { 0 }, old_bus, old_segv;

	sa.sa_sigaction = on_probe_signal;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old_bus);	/* SIGBUS is the host's */
	vme_sigaction(SIGSEGV, &sa, &old_segv);	/* SIGSEGV is vmemu's to deliver */
	int sig = sigsetjmp(probe_env, 1);
	if (!sig) {
		unsigned char b = ((volatile unsigned char *)map)[off];
		say("probe byte %02x", b);
	} else {
		say("probe sig %d code %d at %ld", sig, probe_info.si_code,
		    (long)((unsigned char *)probe_info.si_addr - map));
	}
	sigaction(SIGBUS, &old_bus, NULL);
	vme_sigaction(SIGSEGV, &old_segv, NULL);
}

/* --- the operations -------------------------------------------------------- */

static pthread_mutex_t *mutex_at(const char *op, const char *arg)
{
	size_t off = num(op, arg);

	need_map(op, off, sizeof(pthread_mutex_t));
	return (pthread_mutex_t *)(void *)(map + off);
}

static void do_map(const char *op, const char *arg, int prot, int flags)
{
	map_len = num(op, arg);
	map = vme_mmap(NULL, map_len, prot, flags, fd, 0);
	if (map == MAP_FAILED)
		die(op, strerror(errno));
	say("%s ok", op);
}

static void run(char *spec)
{
	char *arg = strchr(spec, ':');
	char *arg2 = NULL;

	if (arg) {
		*arg++ = '\0';
		arg2 = strchr(arg, ':');
		if (arg2)
			arg2++;
	}
	const char *op = spec;
	if (!strcmp(op, "init")) {
		say("init %d", vme_init(NULL));
	} else if (!strcmp(op, "open") || !strcmp(op, "openro")) {
		if (!arg || (fd = open(arg, op[4] ? O_RDONLY : O_RDWR)) < 0)
			die(op, arg ? strerror(errno) : "no path");
		say("%s ok", op);
	} else if (!strcmp(op, "map") && arg) {
		do_map(op, arg, PROT_READ | PROT_WRITE, MAP_SHARED);
	} else if (!strcmp(op, "mapro") && arg) {
		do_map(op, arg, PROT_READ, MAP_SHARED);
	} else if (!strcmp(op, "mappriv") && arg) {
		do_map(op, arg, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	} else if (!strcmp(op, "seq")) {
		need_map(op, 0, 0);
		say("seq %d", vme_madvise(map, map_len, MADV_SEQUENTIAL));
	} else if (!strcmp(op, "unmap")) {
		need_map(op, 0, 0);
		say("unmap %d", vme_munmap(map, map_len));
		map = NULL;
	} else if (!strcmp(op, "get") && arg2) {
		size_t off = num(op, arg), len = num(op, arg2);
		need_map(op, off, len);
		char *h = malloc(2 * len + 1);
		hex(h, map + off, len);
		say("get %s", h);
		free(h);
	} else if (!strcmp(op, "put") && arg2) {
		size_t off = num(op, arg), len = strlen(arg2);
		need_map(op, off, len);
		memcpy(map + off, arg2, len);
		say("put ok");
	} else if (!strcmp(op, "touch") && arg) {
		size_t off = num(op, arg);
		need_map(op, off, 1);
		(void)((volatile unsigned char *)map)[off];
		say("touch");
	} else if (!strcmp(op, "scan") && arg2) {
		size_t off = num(op, arg), len = num(op, arg2);
		need_map(op, off, len);
		for (size_t i = 0; i < len; i += 4096)
			(void)((volatile unsigned char *)map)[off + i];
		say("scan");
	} else if (!strcmp(op, "probe") && arg) {
		size_t off = num(op, arg);
		need_map(op, off, 1);
		probe(off);
	} else if (!strcmp(op, "pwrite") && arg2) {
		errno = 0;
		ssize_t r = vme_pwrite(fd, arg2, strlen(arg2), (off_t)num(op, arg));
		say("pwrite %zd %d", r, r < 0 ? errno : 0);
	} else if (!strcmp(op, "pread") && arg2) {
		size_t len = num(op, arg2);
		unsigned char *b = calloc(1, len + 1);
		char *h = malloc(2 * len + 1);
		ssize_t r = vme_pread(fd, b, len, (off_t)num(op, arg));
		hex(h, b, r > 0 ? (size_t)r : 0);
		say("pread %zd %s", r, h);
		free(b);
		free(h);
	} else if (!strcmp(op, "ftruncate") && arg) {
		errno = 0;
		int r = vme_ftruncate(fd, (off_t)num(op, arg));
		say("ftruncate %d %d", r, r ? errno : 0);
	} else if (!strcmp(op, "msync")) {
		need_map(op, 0, 0);
		say("msync %d", vme_msync(map, map_len, MS_SYNC));
	} else if (!strcmp(op, "fsync")) {
		say("fsync %d", vme_fsync(fd));
	} else if (!strcmp(op, "mutexinit") && arg) {
		pthread_mutexattr_t a;
		pthread_mutexattr_init(&a);
		pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
		say("mutexinit %d", pthread_mutex_init(mutex_at(op, arg), &a));
		pthread_mutexattr_destroy(&a);
	} else if (!strcmp(op, "lock") && arg) {
		say("lock %d", pthread_mutex_lock(mutex_at(op, arg)));
	} else if (!strcmp(op, "unlock") && arg) {
		say("unlock %d", pthread_mutex_unlock(mutex_at(op, arg)));
	} else if (!strcmp(op, "trylock") && arg) {
		say("trylock %d", pthread_mutex_trylock(mutex_at(op, arg)));
	} else if (!strcmp(op, "hang") && arg) {
		if (!strcmp(arg, "pread"))
			host_sys.pread = hang_pread, host_sys.splice = hang_splice;
		else if (!strcmp(arg, "drain"))
			host_sys.splice = hang_drain;
		else if (!strcmp(arg, "pwrite"))
			host_sys.pwrite = hang_pwrite;
		else if (!strcmp(arg, "pwritev"))
			host_sys.pwritev = hang_pwritev;
		else if (!strcmp(arg, "ftruncate"))
			host_sys.ftruncate = hang_ftruncate;
		else if (!strcmp(arg, "fallocate"))
			host_sys.fallocate = hang_fallocate;
		else
			die(op, "pread, drain, pwrite, pwritev, ftruncate or fallocate");
		say("hang armed");
	} else if (!strcmp(op, "say") && arg) {
		say("%s", arg);
	} else if (!strcmp(op, "wait")) {
		char c;
		ssize_t n;
		while ((n = read(STDIN_FILENO, &c, 1)) == 1 && c != '\n')
			;
		if (n <= 0)
			_exit(99);
	} else if (!strcmp(op, "sleep") && arg) {
		struct timespec ts = { (time_t)(num(op, arg) / 1000), (long)(num(op, arg) % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	} else if (!strcmp(op, "stats")) {
		struct vme_stats s;
		if (vme_stats(&s))
			die(op, strerror(errno));
		say("stats pgpgin %lu pgmajfault %lu read_error %lu sigbus %lu", (unsigned long)s.pgpgin,
		    (unsigned long)s.pgmajfault, (unsigned long)s.read_error, (unsigned long)s.sigbus_delivered);
	} else if (!strcmp(op, "exit") && arg) {
		exit((int)num(op, arg));
	} else if (!strcmp(op, "_exit") && arg) {
		_exit((int)num(op, arg));
	} else if (!strcmp(op, "kill")) {
		kill(getpid(), SIGKILL);
		for (;;)
			pause();
	} else {
		die(op, "unknown operation or missing argument");
	}
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		run(argv[i]);
	return 0;
}
