#include "config.h"

#include <stdio.h>

#include "daemon/daemon.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CONFIG SYSCONFDIR "/torghut/torghut.conf"

void daemon_usage(FILE *f)
{
	fprintf(f, "usage: torghutd [-c FILE] [--set KEY=VALUE]... [--low-latency] [--check-config | --register-schemas]\n"
		   "       torghutd --version | --help\n\n"
		   "  -c, --config FILE   configuration file (default %s)\n"
		   "      --set KEY=VALUE override a configuration key (repeatable)\n"
		   "      --low-latency   the same as --set profile=low-latency\n"
		   "      --check-config  validate, print the effective configuration (secrets redacted), exit\n"
		   "      --register-schemas  register (or verify) the role's schemas in the schema registry, exit\n"
		   "      --version       print the version and exit\n"
		   "  -h, --help          print this help and exit\n\n"
		   "See torghutd(8) and torghut.conf(5).\n",
		   DEFAULT_CONFIG);
}

static int add_set(struct daemon_args *a, const char *s)
{
	const char **n = realloc(a->sets, (a->nsets + 1) * sizeof(*n));
	if (!n)
		return -1;
	a->sets = n;
	a->sets[a->nsets++] = s;
	return 0;
}

int daemon_args_parse(int argc, char **argv, struct daemon_args *a, char *err, size_t errlen)
{
	enum { OPT_SET = 256, OPT_LOW, OPT_CHECK, OPT_VERSION, OPT_REGISTER };
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, OPT_SET},
		{"low-latency", no_argument, NULL, OPT_LOW}, {"check-config", no_argument, NULL, OPT_CHECK},
		{"register-schemas", no_argument, NULL, OPT_REGISTER},
		{"version", no_argument, NULL, OPT_VERSION}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	int ch;

	memset(a, 0, sizeof(*a));
	a->config_path = DEFAULT_CONFIG;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			a->config_path = optarg;
			a->config_explicit = true;
			break;
		case OPT_SET:
			if (!strchr(optarg, '=') || optarg[0] == '=') {
				snprintf(err, errlen, "--set expects KEY=VALUE, got \"%s\"", optarg);
				return DAEMON_EXIT_USAGE;
			}
			add_set(a, optarg);
			break;
		case OPT_LOW:
			add_set(a, "profile=low-latency");
			break;
		case OPT_CHECK:
			a->check_config = true;
			break;
		case OPT_REGISTER:
			a->register_schemas = true;
			break;
		case OPT_VERSION:
			a->version = true;
			break;
		case 'h':
			a->help = true;
			break;
		case ':':
			snprintf(err, errlen, "option %s needs a value", argv[optind - 1]);
			return DAEMON_EXIT_USAGE;
		default:
			snprintf(err, errlen, "unknown option %s", argv[optind - 1]);
			return DAEMON_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument \"%s\"", argv[optind]);
		return DAEMON_EXIT_USAGE;
	}
	return 0;
}

void daemon_args_fini(struct daemon_args *a)
{
	free(a->sets);
	a->sets = NULL;
	a->nsets = 0;
}
