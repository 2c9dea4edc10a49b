/* top.h - `torghutctl top`: a live terminal view of one torghutd. It polls
 * `status`, `metrics` and `market` over the control socket every interval,
 * derives rates from counter deltas and redraws an 80-column screen with
 * plain ANSI escape codes. Blocking client code: never runs in the daemon. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define TOP_COLS 80

/* Counters kept from the previous poll, to turn totals into rates. */
#define TOP_IN_MAX 12
#define TOP_OUT_MAX 12
#define TOP_NAME_MAX 16
struct top_sample {
	bool valid;
	double t;   /* monotonic seconds */
	double pid; /* a restarted daemon's counters start over */
	int nin, nout;
	char in_name[TOP_IN_MAX][TOP_NAME_MAX];
	double in[TOP_IN_MAX]; /* torghut_messages_in_total, by channel */
	char out_name[TOP_OUT_MAX][TOP_NAME_MAX];
	double out[TOP_OUT_MAX]; /* Kafka records delivered, by topic */
	double commits;		 /* Kafka transaction commits (one per checkpoint) */
	double commit_seen_t;	 /* monotonic time commits last advanced, <0 unknown */
};

/* Renders one frame into buf (lines separated by '\n', each at most `cols`
 * columns, at most `rows` lines; blank separators only from 32 rows up).
 * status, metrics and market are the daemon's replies to those commands
 * (any may be NULL when unreachable; `err` then says why). Rates come from
 * the counters in `prev`, which is then updated to this poll's. `now` is
 * monotonic seconds, `wall` the wall-clock time shown in the header.
 * Returns the number of lines. */
int top_render(json_t *status, json_t *metrics, json_t *market, const char *err, struct top_sample *prev, double now,
	       double wall, int cols, int rows, char *buf, size_t buflen);

/* `torghutctl top [-d SECONDS] [-n FRAMES]` against socket `sock`. On a
 * terminal: alternate screen, hidden cursor, raw input; q or Ctrl-C quits and
 * the terminal is restored. Not on a terminal: plain frames, one after the
 * other. Returns the process exit code. */
int top_main(const char *sock, int timeout_ms, int argc, char **argv);
