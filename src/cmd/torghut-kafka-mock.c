/* torghut-kafka-mock - an in-process Kafka (librdkafka's mock cluster) that
 * outlives the daemon in system tests.
 *
 *   torghut-kafka-mock [-b BROKERS] [-p PARTITIONS] TOPIC[:PARTITIONS]...
 *
 * Prints the bootstrap address on stdout (one line, flushed), then runs
 * until SIGTERM or SIGINT and exits 0. Nothing is durable. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/kafka_mock.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: torghut-kafka-mock [-b BROKERS] [-p PARTITIONS] TOPIC[:PARTITIONS]...\n"
		   "Starts librdkafka's mock cluster, creates the topics, prints the bootstrap\n"
		   "address and runs until SIGTERM or SIGINT.\n");
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"brokers", required_argument, NULL, 'b'},
					     {"partitions", required_argument, NULL, 'p'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int brokers = 1, partitions = 1, c, sig, r;
	struct kafka_mock *m;
	char err[256];
	sigset_t set;

	while ((c = getopt_long(argc, argv, "b:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (parse_int(optarg, 1, 32, &brokers)) {
				fprintf(stderr, "torghut-kafka-mock: -b: expected 1..32, got \"%s\"\n", optarg);
				return 2;
			}
			break;
		case 'p':
			if (parse_int(optarg, 1, 1000, &partitions)) {
				fprintf(stderr, "torghut-kafka-mock: -p: expected 1..1000, got \"%s\"\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}

	/* Blocked before librdkafka starts its threads, so they inherit the
	 * mask and sigwait below is the only receiver. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if ((r = kafka_mock_new(brokers, false, &m, err, sizeof(err)))) {
		fprintf(stderr, "torghut-kafka-mock: %s\n", err);
		return 1;
	}
	for (int i = optind; i < argc; i++) {
		char name[256];
		char *colon;
		int p = partitions;

		snprintf(name, sizeof(name), "%s", argv[i]);
		if ((colon = strrchr(name, ':'))) {
			*colon = 0;
			if (parse_int(colon + 1, 1, 1000, &p)) {
				fprintf(stderr, "torghut-kafka-mock: %s: bad partition count\n", argv[i]);
				kafka_mock_free(m);
				return 2;
			}
		}
		if ((r = kafka_mock_topic_create(m, name, p, 1)) && r != -EEXIST) {
			fprintf(stderr, "torghut-kafka-mock: cannot create topic %s\n", name);
			kafka_mock_free(m);
			return 1;
		}
	}
	printf("%s\n", kafka_mock_bootstrap(m));
	fflush(stdout);

	while (sigwait(&set, &sig) != 0)
		;
	kafka_mock_free(m);
	return 0;
}
