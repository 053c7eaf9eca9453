/*
 * vmemu.c - the vmemu command: watch a mapped file become resident, fault by
 * fault, under vmemu's emulated mmap.  Subcommands demo, stat and cat; see
 * vmemu(1).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

const char *progname = "vmemu";
size_t page_size = 4096;

static const char usage[] =
	"Usage: vmemu COMMAND [OPTION]... [FILE]\n"
	"Watch a file mapped with vmemu's vme_mmap become resident, fault by fault.\n"
	"\n"
	"Commands:\n"
	"  demo [FILE]   map FILE (or a generated file), touch it in a pattern and show\n"
	"                each fault, its kernel path and the residency as it happens\n"
	"  stat FILE     map FILE, run a pattern, print only the counters and residency\n"
	"  cat FILE      copy FILE to stdout through an emulated mapping\n"
	"\n"
	"  --json        machine-readable output (every command)\n"
	"  --help        this help; `vmemu COMMAND --help` for a command's options\n"
	"  --version     the version\n"
	"\n"
	"Exit status: 0 done, 1 a file, mapping or I/O error, 2 a bad command line.\n"
	"See vmemu(1).\n";

static int vmessage(const char *fmt, va_list ap)
{
	int saved = errno;
	size_t n = strlen(fmt);

	fprintf(stderr, "%s: ", progname);
	vfprintf(stderr, fmt, ap);
	if (n && fmt[n - 1] == ':')
		fprintf(stderr, " %s", strerror(saved));
	fputc('\n', stderr);
	return saved;
}

int tool_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	return EXIT_ERR;
}

int usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help'.\n", progname);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int, char **);
	} commands[] = { { "demo", cmd_demo }, { "stat", cmd_stat }, { "cat", cmd_cat } };
	static char name[32];
	long ps = sysconf(_SC_PAGESIZE);

	if (ps > 0)
		page_size = (size_t)ps;
	if (argc < 2)
		return fputs(usage, stderr), EXIT_USAGE;
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		if (argc > 2 && strcmp(argv[1], "help") == 0) {	/* vmemu help demo */
			static char help_opt[] = "--help";
			static char *sub[4];
			sub[0] = argv[0], sub[1] = argv[2], sub[2] = help_opt;
			argv = sub;
			argc = 3;
		} else {
			fputs(usage, stdout);
			return EXIT_OK;
		}
	}
	if (!strcmp(argv[1], "--version"))
		return puts("vmemu 0.1.0"), EXIT_OK;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name)) {
			snprintf(name, sizeof(name), "vmemu %s", commands[i].name);
			progname = name;
			return commands[i].run(argc - 1, argv + 1);
		}
	return usage_error("unknown command '%s'", argv[1]);
}
