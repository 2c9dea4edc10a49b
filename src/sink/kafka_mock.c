/* kafka_mock.c - librdkafka's in-process mock cluster and its fault-injection
 * commands. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sink/kafka_mock.h"
#include "core/conf_parse.h"

struct kafka_mock {
	rd_kafka_t *rk; /* throwaway handle the mock cluster needs for bookkeeping */
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_queue_t *logq;
};

int kafka_mock_new(int brokers, bool log_queue, struct kafka_mock **out, char *err, size_t errlen)
{
	char e[256];
	struct kafka_mock *m;
	rd_kafka_conf_t *conf;

	*out = NULL;
	if (brokers < 1 || brokers > 32) {
		snprintf(err, errlen, "embedded.brokers: expected 1..32, got %d", brokers);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	conf = rd_kafka_conf_new();
	/* The handle never connects anywhere: no bootstrap servers, and no
	 * notice about that (log_level 4 keeps warnings and errors). */
	rd_kafka_conf_set(conf, "log_level", "4", e, sizeof(e));
	if (log_queue && rd_kafka_conf_set(conf, "log.queue", "true", e, sizeof(e)) != RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "mock: log.queue: %s", e);
		rd_kafka_conf_destroy(conf);
		free(m);
		return -EINVAL;
	}
	m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
	if (!m->rk) {
		snprintf(err, errlen, "mock: %s", e);
		rd_kafka_conf_destroy(conf);
		free(m);
		return -ENOMEM;
	}
	if (log_queue) {
		m->logq = rd_kafka_queue_get_main(m->rk);
		rd_kafka_set_log_queue(m->rk, m->logq);
	}
	m->mc = rd_kafka_mock_cluster_new(m->rk, brokers);
	if (!m->mc) {
		snprintf(err, errlen, "mock: cannot start a %d-broker mock cluster", brokers);
		kafka_mock_free(m);
		return -EIO;
	}
	*out = m;
	return 0;
}

int kafka_mock_topic_create(struct kafka_mock *m, const char *topic, int partitions,
			    int replication)
{
	rd_kafka_resp_err_t e;

	if (!topic || !*topic)
		return -EINVAL;
	e = rd_kafka_mock_topic_create(m->mc, topic, partitions < 1 ? 1 : partitions,
				       replication < 1 ? 1 : replication);
	if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
		return -EEXIST;
	return e ? -EINVAL : 0;
}

const char *kafka_mock_bootstrap(const struct kafka_mock *m)
{
	return rd_kafka_mock_cluster_bootstraps(m->mc);
}

rd_kafka_mock_cluster_t *kafka_mock_cluster(const struct kafka_mock *m)
{
	return m->mc;
}

rd_kafka_queue_t *kafka_mock_log_queue(const struct kafka_mock *m)
{
	return m->logq;
}

void kafka_mock_free(struct kafka_mock *m)
{
	if (!m)
		return;
	if (m->mc)
		rd_kafka_mock_cluster_destroy(m->mc);
	if (m->logq) {
		rd_kafka_queue_io_event_enable(m->logq, -1, NULL, 0);
		rd_kafka_queue_destroy(m->logq);
	}
	if (m->rk)
		rd_kafka_destroy(m->rk);
	free(m);
}

/* ------------------------------------------------------------ fault injection */

#define CMD_MAX_COUNT 10000 /* errors pushed by one command */
#define CMD_MAX_RTT_MS 600000

/* The Kafka protocol's request keys (librdkafka has no public name table). */
static const struct {
	const char *name;
	int16_t key;
} api_keys[] = {
	{"Produce", 0},          {"Fetch", 1},
	{"ListOffsets", 2},      {"Metadata", 3},
	{"OffsetCommit", 8},     {"OffsetFetch", 9},
	{"FindCoordinator", 10}, {"JoinGroup", 11},
	{"Heartbeat", 12},       {"LeaveGroup", 13},
	{"SyncGroup", 14},       {"DescribeGroups", 15},
	{"ListGroups", 16},      {"SaslHandshake", 17},
	{"ApiVersions", 18},     {"CreateTopics", 19},
	{"DeleteTopics", 20},    {"DeleteRecords", 21},
	{"InitProducerId", 22},  {"OffsetForLeaderEpoch", 23},
	{"AddPartitionsToTxn", 24}, {"AddOffsetsToTxn", 25},
	{"EndTxn", 26},          {"WriteTxnMarkers", 27},
	{"TxnOffsetCommit", 28}, {"DescribeAcls", 29},
	{"CreateAcls", 30},      {"DeleteAcls", 31},
	{"DescribeConfigs", 32}, {"AlterConfigs", 33},
	{"SaslAuthenticate", 36}, {"CreatePartitions", 37},
};

static int parse_long(const char *s, long lo, long hi, long *out)
{
	int64_t v;

	if (conf_parse_int(s, &v) || v < lo || v > hi)
		return -EINVAL;
	*out = (long)v;
	return 0;
}

int kafka_mock_api_key(const char *name)
{
	long v;

	for (size_t i = 0; i < sizeof(api_keys) / sizeof(api_keys[0]); i++)
		if (!strcasecmp(name, api_keys[i].name))
			return api_keys[i].key;
	if (parse_long(name, 0, INT16_MAX, &v) == 0)
		return (int)v;
	return -ENOENT;
}

int kafka_mock_err_code(const char *name, rd_kafka_resp_err_t *out)
{
	const struct rd_kafka_err_desc *descs;
	size_t n;
	long v;
	bool numeric;

	if (!strncasecmp(name, "RD_KAFKA_RESP_ERR_", 18))
		name += 18;
	numeric = parse_long(name, INT16_MIN, INT16_MAX, &v) == 0;
	rd_kafka_get_err_descs(&descs, &n);
	for (size_t i = 0; i < n; i++) {
		if (!descs[i].name) /* the table has holes */
			continue;
		if (numeric ? descs[i].code == (rd_kafka_resp_err_t)v : !strcasecmp(name, descs[i].name)) {
			*out = descs[i].code;
			return 0;
		}
	}
	return -ENOENT;
}

static int parse_broker(const char *s, int32_t *out)
{
	long v;

	if (!strcasecmp(s, "all")) {
		*out = -1;
		return 0;
	}
	if (parse_long(s, -1, 1000, &v))
		return -EINVAL;
	*out = (int32_t)v;
	return 0;
}

int kafka_mock_cmd_parse(const char *line, struct kafka_mock_cmd *cmd, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		enum kafka_mock_op op;
		int nargs;
		const char *usage;
	} ops[] = {
		{"ping", KAFKA_MOCK_PING, 0, "ping"},
		{"broker-down", KAFKA_MOCK_BROKER_DOWN, 1, "broker-down ID"},
		{"broker-up", KAFKA_MOCK_BROKER_UP, 1, "broker-up ID"},
		{"rtt", KAFKA_MOCK_RTT, 2, "rtt ID MS"},
		{"push-errors", KAFKA_MOCK_PUSH_ERRORS, 3, "push-errors API ERR COUNT"},
		{"push-broker-errors", KAFKA_MOCK_PUSH_BROKER_ERRORS, 5,
		 "push-broker-errors ID API ERR RTTMS COUNT"},
		{"clear-errors", KAFKA_MOCK_CLEAR_ERRORS, 1, "clear-errors API"},
	};
	char buf[512], *tok[8], *save = NULL, *t;
	int n = 0, a = 1, op = -1, key;
	long v;

	memset(cmd, 0, sizeof(*cmd));
	if (strlen(line) >= sizeof(buf)) {
		snprintf(err, errlen, "line too long");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", line);
	for (t = strtok_r(buf, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == (int)(sizeof(tok) / sizeof(tok[0]))) {
			snprintf(err, errlen, "too many words");
			return -EINVAL;
		}
		tok[n++] = t;
	}
	if (n == 0) {
		snprintf(err, errlen, "empty command");
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(tok[0], ops[i].name))
			op = (int)i;
	if (op < 0) {
		snprintf(err, errlen, "unknown command \"%.64s\"", tok[0]);
		return -EINVAL;
	}
	if (n - 1 != ops[op].nargs) {
		snprintf(err, errlen, "usage: %s", ops[op].usage);
		return -EINVAL;
	}
	cmd->op = ops[op].op;
	cmd->broker = -1;
	cmd->count = 1;
	switch (cmd->op) {
	case KAFKA_MOCK_PING:
		return 0;
	case KAFKA_MOCK_BROKER_DOWN:
	case KAFKA_MOCK_BROKER_UP:
	case KAFKA_MOCK_RTT:
	case KAFKA_MOCK_PUSH_BROKER_ERRORS:
		if (parse_broker(tok[a++], &cmd->broker)) {
			snprintf(err, errlen, "bad broker id \"%.32s\" (a number, or -1 / all)", tok[a - 1]);
			return -EINVAL;
		}
		if (cmd->op == KAFKA_MOCK_RTT) {
			if (parse_long(tok[a], 0, CMD_MAX_RTT_MS, &v)) {
				snprintf(err, errlen, "bad rtt \"%.32s\" (0..%d ms)", tok[a], CMD_MAX_RTT_MS);
				return -EINVAL;
			}
			cmd->rtt_ms = (int)v;
			return 0;
		}
		if (cmd->op != KAFKA_MOCK_PUSH_BROKER_ERRORS)
			return 0;
		if (cmd->broker < 0) {
			snprintf(err, errlen, "push-broker-errors needs one broker id");
			return -EINVAL;
		}
		break;
	default:
		break;
	}
	/* the request-error forms: API [ERR [RTTMS] COUNT] */
	if ((key = kafka_mock_api_key(tok[a])) < 0) {
		snprintf(err, errlen, "unknown API \"%.64s\"", tok[a]);
		return -EINVAL;
	}
	cmd->api_key = (int16_t)key;
	if (cmd->op == KAFKA_MOCK_CLEAR_ERRORS)
		return 0;
	if (kafka_mock_err_code(tok[++a], &cmd->err)) {
		snprintf(err, errlen, "unknown error \"%.64s\"", tok[a]);
		return -EINVAL;
	}
	if (cmd->op == KAFKA_MOCK_PUSH_BROKER_ERRORS) {
		if (parse_long(tok[++a], 0, CMD_MAX_RTT_MS, &v)) {
			snprintf(err, errlen, "bad rtt \"%.32s\" (0..%d ms)", tok[a], CMD_MAX_RTT_MS);
			return -EINVAL;
		}
		cmd->rtt_ms = (int)v;
	}
	if (parse_long(tok[++a], 1, CMD_MAX_COUNT, &v)) {
		snprintf(err, errlen, "bad count \"%.32s\" (1..%d)", tok[a], CMD_MAX_COUNT);
		return -EINVAL;
	}
	cmd->count = (int)v;
	return 0;
}

static int mock_result(rd_kafka_resp_err_t e, int32_t broker, char *err, size_t errlen)
{
	if (!e)
		return 0;
	/* 2.0.2 answers an unknown id with BROKER_NOT_AVAILABLE */
	if (e == RD_KAFKA_RESP_ERR__UNKNOWN_BROKER || e == RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE) {
		snprintf(err, errlen, "no broker %d", (int)broker);
		return -ENOENT;
	}
	snprintf(err, errlen, "%s", rd_kafka_err2str(e));
	return -EINVAL;
}

int kafka_mock_cmd_run(struct kafka_mock *m, const struct kafka_mock_cmd *cmd, char *err, size_t errlen)
{
	rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR, *errs;

	switch (cmd->op) {
	case KAFKA_MOCK_PING:
		return 0;
	case KAFKA_MOCK_BROKER_DOWN:
		return mock_result(rd_kafka_mock_broker_set_down(m->mc, cmd->broker), cmd->broker, err, errlen);
	case KAFKA_MOCK_BROKER_UP:
		return mock_result(rd_kafka_mock_broker_set_up(m->mc, cmd->broker), cmd->broker, err, errlen);
	case KAFKA_MOCK_RTT:
		return mock_result(rd_kafka_mock_broker_set_rtt(m->mc, cmd->broker, cmd->rtt_ms), cmd->broker, err, errlen);
	case KAFKA_MOCK_PUSH_ERRORS:
		if (!(errs = malloc((size_t)cmd->count * sizeof(*errs))))
			return -ENOMEM;
		for (int i = 0; i < cmd->count; i++)
			errs[i] = cmd->err;
		rd_kafka_mock_push_request_errors_array(m->mc, cmd->api_key, (size_t)cmd->count, errs);
		free(errs);
		return 0;
	case KAFKA_MOCK_PUSH_BROKER_ERRORS:
		/* Only a variadic form exists: one (error, rtt) pair per call,
		 * each appended to the broker's stack in order. */
		for (int i = 0; i < cmd->count && !e; i++)
			e = rd_kafka_mock_broker_push_request_error_rtts(m->mc, cmd->broker, cmd->api_key, 1,
									 cmd->err, cmd->rtt_ms);
		return mock_result(e, cmd->broker, err, errlen);
	case KAFKA_MOCK_CLEAR_ERRORS:
		rd_kafka_mock_clear_request_errors(m->mc, cmd->api_key);
		return 0;
	}
	snprintf(err, errlen, "unknown operation");
	return -EINVAL;
}

int kafka_mock_cmd_line(struct kafka_mock *m, const char *line, char *reply, size_t len)
{
	struct kafka_mock_cmd cmd;
	char err[256];
	int r;

	if ((r = kafka_mock_cmd_parse(line, &cmd, err, sizeof(err))) ||
	    (r = kafka_mock_cmd_run(m, &cmd, err, sizeof(err)))) {
		snprintf(reply, len, "error %s", err);
		return r;
	}
	snprintf(reply, len, "%s", cmd.op == KAFKA_MOCK_PING ? "ok pong" : "ok");
	return 0;
}
