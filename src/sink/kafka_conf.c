/* kafka_conf.c - kafka.* configuration passthrough to librdkafka. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/kafka_int.h"

/* librdkafka echoes rejected values in its error text: never for these. */
static bool conf_key_secret(const char *key)
{
	return strstr(key, "password") || strstr(key, "secret") || strstr(key, "jaas") ||
	       strstr(key, "key.pem") || strstr(key, "token");
}

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
		    size_t errlen)
{
	char e[512];

	if (rd_kafka_conf_set(conf, key, value, e, sizeof(e)) == RD_KAFKA_CONF_OK)
		return 0;
	if (conf_key_secret(key))
		snprintf(err, errlen, "kafka.%s: rejected by librdkafka (value not shown)", key);
	else
		snprintf(err, errlen, "kafka.%s: %s", key, e);
	return -EINVAL;
}

static int conf_bool(const char *key, const char *v, bool *out, char *err, size_t errlen)
{
	if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off")) {
		*out = false;
		return 0;
	}
	snprintf(err, errlen, "kafka.%s: expected true or false, got \"%s\"", key, v);
	return -EINVAL;
}

static int conf_int(const char *key, const char *v, int lo, int hi, int *out, char *err,
		    size_t errlen)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi) {
		snprintf(err, errlen, "kafka.%s: expected an integer in %d..%d, got \"%s\"", key, lo,
			 hi, v);
		return -EINVAL;
	}
	*out = (int)n;
	return 0;
}

bool kafka_conf_key_ours(const char *key)
{
	static const char *const keys[] = {"topics.create", "topics.create.partitions",
					   "topics.create.replication.factor", "embedded.brokers",
					   "sasl.password.file", "log.queue"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(key, keys[i]))
			return true;
	return false;
}

/* Takes our own keys out of the list; 1 if taken, 0 if librdkafka's, <0 error.
 * kafka_conf_key_ours names the ones never given to librdkafka. */
static int conf_ours(const struct kafka_config *cfg, struct kafka_settings *set, const char *key,
		     const char *v, char *err, size_t errlen)
{
	int r;

	if (!strcmp(key, "bootstrap.servers")) {
		set->embedded = !strcmp(v, "embedded");
		if (!set->embedded && strlen(v) >= sizeof(set->bootstrap)) {
			snprintf(err, errlen, "kafka.bootstrap.servers: too long");
			return -EINVAL;
		}
		snprintf(set->bootstrap, sizeof(set->bootstrap), "%s", set->embedded ? "" : v);
		return set->embedded; /* a real list still goes to librdkafka */
	}
	if (!strcmp(key, "topics.create"))
		return (r = conf_bool(key, v, &set->topics_create, err, errlen)) ? r : 1;
	if (!strcmp(key, "topics.create.partitions"))
		return (r = conf_int(key, v, -1, 100000, &set->create_partitions, err, errlen)) ? r : 1;
	if (!strcmp(key, "topics.create.replication.factor"))
		return (r = conf_int(key, v, -1, 32, &set->create_replication, err, errlen)) ? r : 1;
	if (!strcmp(key, "embedded.brokers"))
		return (r = conf_int(key, v, 1, 32, &set->embedded_brokers, err, errlen)) ? r : 1;
	if (!strcmp(key, "sasl.password.file"))
		return 1; /* the owner read it into cfg->sasl_password */
	if (!strcmp(key, "sasl.password")) {
		snprintf(err, errlen, "kafka.sasl.password: give the password through "
				      "kafka.sasl.password.file");
		return -EINVAL;
	}
	if (!strcmp(key, "log.queue") && strcmp(v, "true")) {
		snprintf(err, errlen, "kafka.log.queue: must stay true (logs are served on the loop)");
		return -EINVAL;
	}
	if (!strcmp(key, "transactional.id")) {
		if (strlen(v) >= sizeof(set->txn_id)) {
			snprintf(err, errlen, "kafka.transactional.id: too long");
			return -EINVAL;
		}
		snprintf(set->txn_id, sizeof(set->txn_id), "%s", v);
		/* Low-latency has no transactions: a stray id would require them. */
		return cfg->profile == KAFKA_LOW_LATENCY;
	}
	return 0;
}

int kafka_conf_build(const struct kafka_config *cfg, struct kafka_settings *set,
		     rd_kafka_conf_t **out, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char linger[16];
	int r = 0;

	*out = NULL;
	memset(set, 0, sizeof(*set));
	set->embedded = true; /* the interface default for kafka.bootstrap.servers */
	set->create_partitions = -1;
	set->create_replication = -1;
	set->embedded_brokers = 1;

	/* Our defaults first so that kafka.X overrides them. */
	if ((r = conf_set(conf, "partitioner", "murmur2_random", err, errlen)) ||
	    (r = conf_set(conf, "allow.auto.create.topics", "false", err, errlen)))
		goto fail;
	if (cfg->profile == KAFKA_LOW_LATENCY &&
	    ((r = conf_set(conf, "enable.idempotence", "true", err, errlen)) ||
	     (r = conf_set(conf, "acks", "all", err, errlen))))
		goto fail;
	if (cfg->linger_ms >= 0) {
		snprintf(linger, sizeof(linger), "%d", cfg->linger_ms);
		if ((r = conf_set(conf, "linger.ms", linger, err, errlen)))
			goto fail;
	}

	for (size_t i = 0; i < cfg->n_kv; i++) {
		const char *key = cfg->kv[i].key, *v = cfg->kv[i].value;

		if (!key || !*key || !v) {
			snprintf(err, errlen, "kafka.%s: missing key or value", key ? key : "");
			r = -EINVAL;
			goto fail;
		}
		if (!strncmp(key, "kafka.", 6)) {
			snprintf(err, errlen, "%s: pass the key without the kafka. prefix", key);
			r = -EINVAL;
			goto fail;
		}
		r = conf_ours(cfg, set, key, v, err, errlen);
		if (r < 0)
			goto fail;
		if (r == 1)
			continue;
		if ((r = conf_set(conf, key, v, err, errlen)))
			goto fail;
	}

	if (cfg->sasl_password &&
	    (r = conf_set(conf, "sasl.password", cfg->sasl_password, err, errlen)))
		goto fail;
	if ((r = conf_set(conf, "log.queue", "true", err, errlen)))
		goto fail;
	if (cfg->profile == KAFKA_EXACTLY_ONCE && !set->txn_id[0]) {
		snprintf(err, errlen, "kafka.transactional.id: required by profile exactly-once");
		r = -EINVAL;
		goto fail;
	}
	if (set->embedded && set->embedded_brokers < 1)
		set->embedded_brokers = 1;
	/* Everything that reaches the owner is served from the main queue. */
	rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR |
					       RD_KAFKA_EVENT_LOG);
	*out = conf;
	return 0;
fail:
	rd_kafka_conf_destroy(conf);
	return r;
}
