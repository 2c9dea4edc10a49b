/* conf.h - torghut.conf: typed, bounded configuration with file:line errors.
 *
 * The file is `key = value` lines with `#` comment lines. `--set KEY=VALUE`
 * overrides the file. Every key is described once in a table (conf_keys.c)
 * that drives parsing, defaults, validation, redacted printing and the reload
 * diff. Parsing reads files (the config and secret files) and so must not run
 * on the loop thread once the loop runs: reload parses on the threadpool. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum conf_profile { CONF_PROFILE_EXACTLY_ONCE = 0, CONF_PROFILE_LOW_LATENCY };
enum conf_role { CONF_ROLE_ALL = 0, CONF_ROLE_INGEST, CONF_ROLE_TA };
enum conf_auth { CONF_AUTH_MESSAGE = 0, CONF_AUTH_HEADER };

/* Alpaca stream channels, as a bit set. */
enum conf_channel {
	CONF_CH_TRADES = 1u << 0,
	CONF_CH_QUOTES = 1u << 1,
	CONF_CH_BARS = 1u << 2,
	CONF_CH_UPDATED_BARS = 1u << 3,
	CONF_CH_DAILY_BARS = 1u << 4,
	CONF_CH_STATUSES = 1u << 5,
	CONF_CH_LULDS = 1u << 6,
	CONF_CH_IMBALANCES = 1u << 7,
};

/* A key = value pair passed through to librdkafka (the `kafka.` prefix removed). */
struct conf_kv {
	char *key;
	char *value;
	bool secret; /* from a .file key or a password: never printed */
};

/* A secret read from a file; `value` is NULL when not configured. */
struct conf_secret {
	char *path;
	char *value;
};

struct conf {
	enum conf_profile profile;
	enum conf_role role;
	int log_level; /* enum log_level */
	bool allow_inline_secrets;

	char *alpaca_url;
	char *alpaca_feed; /* the URL's last path segment */
	struct conf_secret alpaca_key, alpaca_secret;
	enum conf_auth alpaca_auth;
	char **alpaca_symbols; /* NULL-terminated; {"*"} for all */
	size_t alpaca_symbol_count;
	unsigned alpaca_channels; /* enum conf_channel bits */
	char *alpaca_tls_ca_file; /* NULL: the system store */
	int64_t alpaca_reconnect_base, alpaca_reconnect_max, alpaca_idle_timeout; /* ns */
	char *alpaca_record_file;

	char *kafka_bootstrap; /* "embedded" or a broker list */
	bool kafka_topics_create;
	int64_t sink_buffer_max; /* bytes held for Kafka before records are refused (gap) */
	struct conf_kv *kafka; /* passthrough, in file order, overrides applied */
	size_t kafka_count;

	char *topic_trades, *topic_quotes, *topic_bars, *topic_status;
	char *topic_ta_bars, *topic_ta_signals, *topic_ta_status, *topic_ta_late;

	int64_t watermark_interval;    /* pipeline.auto-watermark-interval, ns */
	int64_t buffer_timeout;        /* execution.buffer-timeout, ns */
	int64_t idle_timeout;          /* table.exec.source.idle-timeout, ns */
	int64_t max_out_of_orderness;  /* watermark.max-out-of-orderness, ns */
	int64_t checkpoint_interval;   /* ns */
	int64_t checkpoint_timeout;    /* ns */
	int64_t failover_budget;       /* ns */
	int64_t transaction_timeout_ms; /* effective kafka.transaction.timeout.ms */

	char *checkpoints_dir, *savepoints_dir, *restore_dir;
	int64_t checkpoints_retained;

	char *s3_endpoint, *s3_region, *s3_ca_file;
	bool s3_path_style, s3_ssl;
	struct conf_secret s3_access_key, s3_secret_key;

	char *registry_url;
	bool registry_auto_register;
	char *registry_user;
	struct conf_secret registry_password;
	char *registry_ca_file;
	char *schema_dir; /* the TA .avsc files (installed under $(pkgdatadir)/schemas) */

	int64_t startup_timeout; /* dependencies (Kafka, topics, ...) ready within this, else exit 3 */
	char *control_socket;
	char *http_listen;
	int64_t quote_stale_after; /* ns */
	char *ta_group_id;          /* role=ta: the input consumer group */
	char *ta_auto_offset_reset; /* role=ta: earliest | latest, where a partition without a position starts */
	bool debug_test_hooks;     /* debug.test-hooks: test-only control commands (tests only) */
	int64_t debug_checkpoint_delay; /* ns; tests only: a pause before the store write and the commit */
	int64_t debug_checkpoint_step;  /* bytes; tests only: the snapshot step size (0 = built-in) */

	/* Bookkeeping: one slot per table key (value text, origin). */
	struct conf_slot *slots;
	size_t slot_count;
	char *path; /* the config file read, or NULL */
};

/* Errors are collected as "FILE:LINE: KEY: what is wrong" lines. */
struct conf_errors {
	char *text; /* newline-separated, NUL-terminated; NULL when empty */
	size_t len;
	unsigned count;
};

void conf_errors_fini(struct conf_errors *e);

/* Loads `path` (NULL: defaults only) and applies `sets` ("KEY=VALUE" strings)
 * on top. On success returns 0 and a conf to free with conf_free. On failure
 * returns -EINVAL (or -ENOENT for a missing config file) with every problem
 * found in `err`. `credentials_dir` resolves relative *.file paths (systemd's
 * $CREDENTIALS_DIRECTORY); NULL to leave them relative to the working dir. */
int conf_load(const char *path, const char *const *sets, size_t nsets, const char *credentials_dir,
	      struct conf **out, struct conf_errors *err);
void conf_free(struct conf *c);

/* Prints the effective configuration as `key = value` lines, with every
 * secret value redacted. */
void conf_print(const struct conf *c, FILE *f);

/* Compares two configurations. Returns 0 if `next` changes only keys that can
 * be applied live; otherwise -EPERM and writes the keys that need a restart
 * to `why`. `changed` (optional) receives a comma list of changed keys. */
int conf_diff_live(const struct conf *cur, const struct conf *next, char *why, size_t whylen,
		   char *changed, size_t changedlen);

/* True when key was not set (its default, or its profile default, applies). */
bool conf_is_default(const struct conf *c, const char *key);
const char *conf_profile_name(enum conf_profile p);
const char *conf_role_name(enum conf_role r);
int conf_profile_parse(const char *s, enum conf_profile *out);

/* Parses "250ms", "10s", "2m", "1h", "500us", "1.5s" into ns: 0 or -EINVAL. */
int conf_parse_duration(const char *s, int64_t *ns);
/* Formats ns as the shortest exact unit ("10s", "250ms"). */
void conf_format_duration(int64_t ns, char *buf, size_t cap);
