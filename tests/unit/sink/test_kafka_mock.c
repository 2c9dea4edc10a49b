/* test_kafka_mock.c - the mock cluster's fault-injection commands: parsing
 * (names, numbers, bounds, usage errors) and running them against a real
 * mock cluster (unknown brokers are refused, a pushed error reaches a
 * client). */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "sink/kafka_mock.h"

static void parse_ok(const char *line, struct kafka_mock_cmd *c)
{
	char err[256] = "";
	int r = kafka_mock_cmd_parse(line, c, err, sizeof(err));

	if (r)
		fail_msg("\"%s\": %d %s", line, r, err);
}

static void parse_bad(const char *line, const char *why)
{
	struct kafka_mock_cmd c;
	char err[256] = "";

	assert_int_equal(kafka_mock_cmd_parse(line, &c, err, sizeof(err)), -EINVAL);
	if (!strstr(err, why))
		fail_msg("\"%s\": expected \"%s\" in \"%s\"", line, why, err);
}

static void test_parse(void **state)
{
	struct kafka_mock_cmd c;

	parse_ok("ping", &c);
	assert_int_equal(c.op, KAFKA_MOCK_PING);
	parse_ok("  broker-down 1\r\n", &c);
	assert_int_equal(c.op, KAFKA_MOCK_BROKER_DOWN);
	assert_int_equal(c.broker, 1);
	parse_ok("broker-up all", &c);
	assert_int_equal(c.op, KAFKA_MOCK_BROKER_UP);
	assert_int_equal(c.broker, -1);
	parse_ok("rtt 2 250", &c);
	assert_int_equal(c.op, KAFKA_MOCK_RTT);
	assert_int_equal(c.broker, 2);
	assert_int_equal(c.rtt_ms, 250);

	parse_ok("push-errors EndTxn NOT_COORDINATOR 3", &c);
	assert_int_equal(c.op, KAFKA_MOCK_PUSH_ERRORS);
	assert_int_equal(c.api_key, 26);
	assert_int_equal(c.err, RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
	assert_int_equal(c.count, 3);
	parse_ok("push-errors produce not_enough_replicas 5", &c);
	assert_int_equal(c.api_key, 0);
	assert_int_equal(c.err, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
	assert_int_equal(c.count, 5);
	parse_ok("push-errors InitProducerId RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS 1", &c);
	assert_int_equal(c.api_key, 22);
	assert_int_equal(c.err, RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS);
	parse_ok("push-errors 24 _TRANSPORT 2", &c); /* numeric key, internal error */
	assert_int_equal(c.api_key, 24);
	assert_int_equal(c.err, RD_KAFKA_RESP_ERR__TRANSPORT);
	parse_ok("push-errors Produce 90 1", &c); /* numeric error code */
	assert_int_equal(c.err, RD_KAFKA_RESP_ERR_PRODUCER_FENCED);

	parse_ok("push-broker-errors 1 Produce NO_ERROR 1500 4", &c);
	assert_int_equal(c.op, KAFKA_MOCK_PUSH_BROKER_ERRORS);
	assert_int_equal(c.broker, 1);
	assert_int_equal(c.api_key, 0);
	assert_int_equal(c.err, RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(c.rtt_ms, 1500);
	assert_int_equal(c.count, 4);
	parse_ok("clear-errors EndTxn", &c);
	assert_int_equal(c.op, KAFKA_MOCK_CLEAR_ERRORS);
	assert_int_equal(c.api_key, 26);
}

static void test_parse_errors(void **state)
{
	char big[600];

	parse_bad("", "empty command");
	parse_bad(" \t\r\n", "empty command");
	parse_bad("reboot", "unknown command \"reboot\"");
	parse_bad("broker-down", "usage: broker-down ID");
	parse_bad("broker-down 1 2", "usage: broker-down ID");
	parse_bad("broker-down x", "bad broker id");
	parse_bad("broker-down -2", "bad broker id");
	parse_bad("broker-up 1x", "bad broker id");
	parse_bad("rtt 1 -5", "bad rtt");
	parse_bad("rtt 1 9999999", "bad rtt");
	parse_bad("push-errors EndTxn NOT_COORDINATOR", "usage: push-errors API ERR COUNT");
	parse_bad("push-errors Frobnicate NOT_COORDINATOR 1", "unknown API \"Frobnicate\"");
	parse_bad("push-errors EndTxn NOT_AN_ERROR 1", "unknown error \"NOT_AN_ERROR\"");
	parse_bad("push-errors EndTxn 31999 1", "unknown error");
	parse_bad("push-errors EndTxn NOT_COORDINATOR 0", "bad count");
	parse_bad("push-errors EndTxn NOT_COORDINATOR 10001", "bad count");
	parse_bad("push-errors EndTxn NOT_COORDINATOR three", "bad count");
	parse_bad("push-broker-errors all Produce NO_ERROR 10 1", "needs one broker id");
	parse_bad("push-broker-errors 1 Produce NO_ERROR x 1", "bad rtt");
	parse_bad("a b c d e f g h i", "too many words");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	parse_bad(big, "line too long");
}

static void test_names(void **state)
{
	rd_kafka_resp_err_t e;

	assert_int_equal(kafka_mock_api_key("EndTxn"), 26);
	assert_int_equal(kafka_mock_api_key("endtxn"), 26);
	assert_int_equal(kafka_mock_api_key("Metadata"), 3);
	assert_int_equal(kafka_mock_api_key("Nope"), -ENOENT);
	assert_int_equal(kafka_mock_api_key("-1"), -ENOENT);
	assert_int_equal(kafka_mock_err_code("NOT_COORDINATOR", &e), 0);
	assert_int_equal(e, RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
	assert_int_equal(kafka_mock_err_code("_msg_timed_out", &e), 0);
	assert_int_equal(e, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);
	assert_int_equal(kafka_mock_err_code("", &e), -ENOENT);
}

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	*(rd_kafka_resp_err_t *)msg->_private = msg->err;
}

/* Against a real mock cluster: replies, refusals, and the effects seen by a
 * client (a pushed Produce error in its delivery report, once; a cleared
 * one never; a broker down times the record out). */
static void test_run(void **state)
{
	struct kafka_mock *m;
	char err[256], reply[512];

	assert_int_equal(kafka_mock_new(2, false, &m, err, sizeof(err)), 0);
	assert_int_equal(kafka_mock_cmd_line(m, "ping", reply, sizeof(reply)), 0);
	assert_string_equal(reply, "ok pong");
	assert_int_equal(kafka_mock_cmd_line(m, "broker-down 2", reply, sizeof(reply)), 0);
	assert_string_equal(reply, "ok");
	assert_int_equal(kafka_mock_cmd_line(m, "broker-up 2", reply, sizeof(reply)), 0);
	assert_int_equal(kafka_mock_cmd_line(m, "broker-down all", reply, sizeof(reply)), 0);
	assert_int_equal(kafka_mock_cmd_line(m, "broker-up -1", reply, sizeof(reply)), 0);
	assert_int_equal(kafka_mock_cmd_line(m, "rtt 1 20", reply, sizeof(reply)), 0);
	assert_int_equal(kafka_mock_cmd_line(m, "rtt 1 0", reply, sizeof(reply)), 0);
	assert_int_equal(kafka_mock_cmd_line(m, "broker-down 9", reply, sizeof(reply)), -ENOENT);
	assert_string_equal(reply, "error no broker 9");
	/* An injected Produce error reaches a client's delivery report, once. */
	assert_int_equal(kafka_mock_topic_create(m, "t", 1, 1), 0);
	assert_int_equal(kafka_mock_cmd_line(m, "push-errors Produce MSG_SIZE_TOO_LARGE 1", reply,
					     sizeof(reply)),
			 0);
	rd_kafka_resp_err_t dr[4] = {-1, -1, -1, -1};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char e[256];
	assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", kafka_mock_bootstrap(m), e, sizeof(e)),
			 RD_KAFKA_CONF_OK);
	rd_kafka_conf_set(conf, "log_level", "0", e, sizeof(e));
	rd_kafka_conf_set(conf, "message.timeout.ms", "1500", e, sizeof(e));
	rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
	assert_non_null(rk);
	for (int i = 0; i < 4; i++) {
		if (i == 3)
			assert_int_equal(kafka_mock_cmd_line(m, "broker-down all", reply, sizeof(reply)), 0);
		if (i == 2) /* pushed, then cleared: never seen */
			assert_int_equal(kafka_mock_cmd_line(m, "push-errors Produce MSG_SIZE_TOO_LARGE 1",
							     reply, sizeof(reply)) |
					 kafka_mock_cmd_line(m, "clear-errors Produce", reply, sizeof(reply)),
					 0);
		assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("t"), RD_KAFKA_V_VALUE("x", 1),
						   RD_KAFKA_V_OPAQUE(&dr[i]), RD_KAFKA_V_END),
				 0);
		rd_kafka_flush(rk, 10000);
	}
	assert_int_equal(dr[0], RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
	assert_int_equal(dr[1], RD_KAFKA_RESP_ERR_NO_ERROR); /* the stack held one error */
	assert_int_equal(dr[2], RD_KAFKA_RESP_ERR_NO_ERROR);
	assert_int_equal(dr[3], RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);
	assert_int_equal(kafka_mock_cmd_line(m, "broker-up all", reply, sizeof(reply)), 0);
	rd_kafka_destroy(rk);
	assert_int_equal(kafka_mock_cmd_line(m, "push-broker-errors 9 Produce NO_ERROR 0 1", reply,
					     sizeof(reply)),
			 -ENOENT);
	assert_int_equal(kafka_mock_cmd_line(m, "push-broker-errors 1 Produce NO_ERROR 5 3", reply,
					     sizeof(reply)),
			 0);
	assert_int_equal(kafka_mock_cmd_line(m, "bogus", reply, sizeof(reply)), -EINVAL);
	assert_string_equal(reply, "error unknown command \"bogus\"");

	kafka_mock_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
