/* torghutd - the daemon's main(): arguments, configuration, then the loop. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/conf.h"
#include "core/log.h"
#include "daemon/daemon.h"

#include <errno.h>

#include <curl/curl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct daemon_args a;
	struct conf_errors cerr;
	struct conf *conf = NULL;
	struct log log;
	char err[512];
	int rc;

	if (daemon_args_parse(argc, argv, &a, err, sizeof(err)) != 0) {
		fprintf(stderr, "torghutd: %s\n", err);
		daemon_usage(stderr);
		daemon_args_fini(&a);
		return DAEMON_EXIT_USAGE;
	}
	if (a.help || a.version) {
		if (a.help)
			daemon_usage(stdout);
		else
			printf("torghutd %s\n", PACKAGE_VERSION);
		daemon_args_fini(&a);
		return 0;
	}
	log_init(&log, "torghutd", LOG_LEVEL_INFO);
	/* Before any thread exists (libcurl's global state is not thread-safe). */
	curl_global_init(CURL_GLOBAL_DEFAULT);

	const char *path = a.config_path;
	if (!a.config_explicit && access(path, F_OK) < 0 && errno == ENOENT) {
		log_warn(&log, LOG_SUB_CONF, "%s does not exist: running on built-in defaults", path);
		path = NULL;
	}
	rc = conf_load(path, a.sets, a.nsets, getenv("CREDENTIALS_DIRECTORY"), &conf, &cerr);
	if (rc < 0) {
		fprintf(stderr, "%s", cerr.text ? cerr.text : "torghutd: invalid configuration\n");
		conf_errors_fini(&cerr);
		daemon_args_fini(&a);
		return DAEMON_EXIT_CONFIG;
	}
	if (a.check_config) {
		conf_print(conf, stdout);
		conf_free(conf);
		daemon_args_fini(&a);
		return 0;
	}
	rc = daemon_run(&a, conf, &log);
	curl_global_cleanup();
	log_fini(&log);
	daemon_args_fini(&a);
	return rc;
}
