/* serve_cli.h - `torghut-replay serve`: options in, server on one uv loop
 * until SIGTERM/SIGINT.
 *
 *   torghut-replay serve --recording FILE [--listen HOST:PORT] [options]
 *
 * Prints "listening HOST:PORT" (the bound port, also with port 0) on stdout
 * as one flushed line once the listener is up; logs on stderr. On SIGTERM or
 * SIGINT every session gets a close frame (1001), the send log is flushed
 * and the process exits 0. See usage (--help) for every option. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"
#include "replay/faults.h"
#include "replay/schedule.h"

struct replay_serve_args {
	char host[64]; /* numeric address, brackets removed */
	uint16_t port;
	const char *recording, *cert, *cert_key, *key, *secret, *keys_file, *send_log;
	uint64_t auth_timeout_ms, dead_hold_ms;
	uint32_t symbol_limit, conn_limit;
	bool omit_empty, loop, live, help;
	struct schedule_opts sched;
	uint64_t max_queued;
	enum log_level log_level;
	struct replay_faults faults;
};

/* argv[0] is the subcommand name ("serve"). Strings point into argv.
 * Returns 0 or -EINVAL with a one-line reason in err. */
int replay_serve_parse(int argc, char **argv, struct replay_serve_args *a, char *err,
                       size_t errcap);

/* argv[0] is the subcommand name ("serve"). Returns the process exit status:
 * 0 (stopped by a signal, or --help), 1 (start-up error), 2 (usage). */
int replay_serve_main(int argc, char **argv);
