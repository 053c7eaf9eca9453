/*
 * options.c - the command line that demo and stat share.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static int parse_number(const char *opt, const char *arg, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	unsigned long v = strtoul(arg, &end, 0);
	if (errno || end == arg || *end || arg[0] == '-' || v > max)
		return usage_error("%s: '%s' is not a number from 0 to %lu", opt, arg, max);
	*out = v;
	return 0;
}

int options_parse(int argc, char **argv, const char *help, bool file_required, struct options *o)
{
	enum { OPT_SHARED = 256, OPT_PRIVATE, OPT_SEED, OPT_JSON, OPT_ADVICE };
	static const struct option longopts[] = {
		{ "pattern", required_argument, NULL, 'p' },
		{ "write", no_argument, NULL, 'w' },
		{ "shared", no_argument, NULL, OPT_SHARED },
		{ "private", no_argument, NULL, OPT_PRIVATE },
		{ "pages", required_argument, NULL, 'n' },
		{ "delay", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "advice", required_argument, NULL, OPT_ADVICE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int c;

	*o = (struct options){ .delay_ms = -1, .seed = 1, .advice = MADV_NORMAL };
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":p:wn:d:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->pattern_spec = optarg;
			break;
		case 'w':
			o->write = true;
			break;
		case OPT_SHARED:
		case OPT_PRIVATE:
			if (o->share && o->share != (c == OPT_SHARED ? MAP_SHARED : MAP_PRIVATE))
				return usage_error("--shared and --private exclude each other");
			o->share = c == OPT_SHARED ? MAP_SHARED : MAP_PRIVATE;
			break;
		case 'n':
			if (parse_number("--pages", optarg, 1UL << 36, &v))
				return EXIT_USAGE;
			if (!v)
				return usage_error("--pages: must be at least 1");
			o->pages = v;
			break;
		case 'd':
			if (parse_number("--delay", optarg, 60000, &v))
				return EXIT_USAGE;
			o->delay_ms = (long)v;
			break;
		case OPT_SEED:
			if (parse_number("--seed", optarg, ~0UL, &v))
				return EXIT_USAGE;
			o->seed = v;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_ADVICE:
			if ((o->advice = advice_parse(optarg)) < 0)
				return usage_error("--advice: '%s' is not normal, random or sequential", optarg);
			break;
		case 'h':
			fputs(help, stdout);
			return EXIT_OK;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->file = argv[optind++];
	if (optind < argc)
		return usage_error("one FILE at most; '%s' is one too many", argv[optind]);
	if (file_required && !o->file)
		return usage_error("FILE is missing");
	return -1;
}
