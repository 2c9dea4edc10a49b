/* torghut-kafka-mock - an in-process Kafka (librdkafka's mock cluster) that
 * outlives the daemon in system tests.
 *
 *   torghut-kafka-mock [-b BROKERS] [-p PARTITIONS] TOPIC[:PARTITIONS]...
 *
 * Prints the bootstrap address on stdout (one line, flushed), then runs
 * until SIGTERM or SIGINT and exits 0. Nothing is durable.
 *
 * Fault injection: each line read on stdin is a command (kafka_mock.h:
 * broker-down ID, broker-up ID, rtt ID MS, push-errors API ERR COUNT, ...)
 * answered by one line on stdout, "ok..." or "error ...". Tests feed stdin
 * from a FIFO they keep open; at end of input the helper just keeps running. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "sink/kafka_mock.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: torghut-kafka-mock [-b BROKERS] [-p PARTITIONS] TOPIC[:PARTITIONS]...\n"
		   "Starts librdkafka's mock cluster, creates the topics, prints the bootstrap\n"
		   "address and runs until SIGTERM or SIGINT. Reads fault-injection commands\n"
		   "on stdin (ping, broker-down ID, broker-up ID, rtt ID MS,\n"
		   "push-errors API ERR COUNT, push-broker-errors ID API ERR RTTMS COUNT,\n"
		   "clear-errors API) and answers each with one line.\n");
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

/* Answers every complete line in buf[0..*used); keeps the rest. A line
 * longer than the buffer is answered with an error and skipped. */
static void serve_lines(struct kafka_mock *m, char *buf, size_t *used, size_t cap, bool *skipping)
{
	char reply[512], *nl;
	size_t start = 0;

	while ((nl = memchr(buf + start, '\n', *used - start))) {
		*nl = 0;
		if (*skipping)
			*skipping = false;
		else {
			kafka_mock_cmd_line(m, buf + start, reply, sizeof(reply));
			printf("%s\n", reply);
		}
		start = (size_t)(nl - buf) + 1;
	}
	memmove(buf, buf + start, *used - start);
	*used -= start;
	if (*used == cap) {
		if (!*skipping)
			printf("error line too long\n");
		*skipping = true;
		*used = 0;
	}
	fflush(stdout);
}

/* Until SIGTERM/SIGINT: commands on stdin while it is open. */
static void serve(struct kafka_mock *m, const sigset_t *set)
{
	char buf[1024];
	size_t used = 0;
	bool skipping = false;
	int sfd = signalfd(-1, set, SFD_CLOEXEC);
	struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = STDIN_FILENO, .events = POLLIN}};
	int sig;

	if (sfd < 0) { /* cannot serve commands safely: signals only */
		while (sigwait(set, &sig) != 0)
			;
		return;
	}
	for (;;) {
		if (poll(p, p[1].fd >= 0 ? 2 : 1, -1) < 0)
			continue; /* EINTR from a signal outside the set */
		if (p[0].revents)
			break;
		if (p[1].fd >= 0 && p[1].revents) {
			ssize_t n = read(STDIN_FILENO, buf + used, sizeof(buf) - used);

			if (n > 0) {
				used += (size_t)n;
				serve_lines(m, buf, &used, sizeof(buf), &skipping);
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				p[1].fd = -1; /* end of input: keep running */
			}
		}
	}
	close(sfd);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"brokers", required_argument, NULL, 'b'},
					     {"partitions", required_argument, NULL, 'p'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int brokers = 1, partitions = 1, c, r;
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

	serve(m, &set);
	kafka_mock_free(m);
	return 0;
}
