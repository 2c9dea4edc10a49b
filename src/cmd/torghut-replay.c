/* torghut-replay - Alpaca-compatible replay server and session generator.
 *
 *   torghut-replay generate [options]   write a synthetic session (src/replay/replay_generate.h)
 *   torghut-replay serve [options]      serve a recording over ws:// and wss:// */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "replay/replay_generate.h"
#include "replay/serve_cli.h"

static void usage(FILE *f)
{
	fputs("usage: torghut-replay <command> [options]\n"
	      "commands:\n"
	      "  generate   write a deterministic synthetic session as a JSONL recording\n"
	      "  serve      serve a recording as an Alpaca market-data WebSocket\n"
	      "Run 'torghut-replay <command> --help' for the command's options.\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "generate"))
		return replay_generate_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "serve"))
		return replay_serve_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version")) {
		puts("torghut-replay " PACKAGE_VERSION);
		return 0;
	}
	fprintf(stderr, "torghut-replay: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
