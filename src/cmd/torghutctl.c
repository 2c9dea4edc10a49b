/* torghutctl - the control client: sends one command to torghutd's control
 * socket and prints the reply for people (or as JSON with --json). */
#include "config.h"

#include "ctl/client.h"
#include "ctl/proto.h"
#include "ctl/top.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_SOCKET RUNSTATEDIR "/torghut/control.sock"

static void usage(FILE *f)
{
	fprintf(f, "usage: torghutctl [-s SOCKET] [--json] [-t SECONDS] COMMAND [ARG]...\n\n"
		   "commands: status, metrics, market, symbols, subscribe SYM..., unsubscribe SYM...,\n"
		   "          log-level [LEVEL], reload, drain, top [-d SECONDS] [-n FRAMES]\n"
		   "          checkpoint, savepoint [DIR], profile [P]\n\n"
		   "  -s, --socket PATH  control socket (default $TORGHUT_SOCKET or %s)\n"
		   "  -j, --json         print the daemon's JSON reply as is\n"
		   "  -t, --timeout SEC  give up after SEC seconds (default 30)\n"
		   "  -h, --help\n\nSee torghutctl(1).\n",
		   DEFAULT_SOCKET);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"socket", required_argument, NULL, 's'},
					     {"json", no_argument, NULL, 'j'},
					     {"timeout", required_argument, NULL, 't'},
					     {"help", no_argument, NULL, 'h'},
					     {"version", no_argument, NULL, 'V'},
					     {NULL, 0, NULL, 0}};
	const char *sock = getenv("TORGHUT_SOCKET");
	bool json = false;
	int timeout_s = 30, ch;
	char err[512];

	if (!sock || !*sock)
		sock = DEFAULT_SOCKET;
	while ((ch = getopt_long(argc, argv, "+s:jt:h", opts, NULL)) != -1) {
		switch (ch) {
		case 's': sock = optarg; break;
		case 'j': json = true; break;
		case 't': timeout_s = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("torghutctl %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[optind], "top")) /* a live view, not one command */
		return top_main(sock, timeout_s * 1000, argc - optind, argv + optind);
	json_t *req = ctl_proto_request_from_argv(argc - optind, argv + optind, err, sizeof(err));
	if (!req) {
		fprintf(stderr, "torghutctl: %s\n", err);
		return 2;
	}
	json_t *reply = NULL;
	int rc = ctl_client_call(sock, req, timeout_s * 1000, &reply, err, sizeof(err));
	json_decref(req);
	if (rc < 0) {
		fprintf(stderr, "torghutctl: %s\n", err);
		return 3;
	}
	int ok = json_is_true(json_object_get(reply, "ok"));
	if (json)
		ctl_client_print_json(stdout, reply);
	else
		ctl_client_print_human(ok ? stdout : stderr, reply);
	json_decref(reply);
	return ok ? 0 : 1;
}
