/* daemon.h - torghutd's composition root: owns the loop and every module,
 * initialises them in order, tears them down in reverse, and runs the
 * drain and reload sequences. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct conf;
struct log;

/* Exit statuses of interface.md. */
enum {
	DAEMON_EXIT_OK = 0,
	DAEMON_EXIT_CONFIG = 1,
	DAEMON_EXIT_USAGE = 2,
	DAEMON_EXIT_DEPENDENCY = 3,
};

struct daemon_args {
	const char *config_path;
	bool config_explicit;     /* -c given: a missing file is an error */
	const char **sets;        /* "KEY=VALUE" */
	size_t nsets;
	bool check_config, version, help;
	bool register_schemas;    /* register or verify the role's subjects, then exit */
};

/* Parses argv. Returns 0, or DAEMON_EXIT_USAGE with a message in err.
 * a->sets is malloc'd: free with daemon_args_fini. */
int daemon_args_parse(int argc, char **argv, struct daemon_args *a, char *err, size_t errlen);
void daemon_args_fini(struct daemon_args *a);
void daemon_usage(FILE *f);

/* Runs the daemon until drained. Takes ownership of conf. Returns the exit status. */
int daemon_run(const struct daemon_args *a, struct conf *conf, struct log *log);
