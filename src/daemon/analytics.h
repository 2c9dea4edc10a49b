/* analytics.h - the daemon's TA side: the engine (ta/engine) driven by the
 * loop (a timer at the next bar close, the heartbeat at start and every
 * checkpoint interval), its records Avro-encoded to the TA topics. */
#pragma once

#include <jansson.h>
#include <uv.h>

#include "core/conf.h"
#include "core/log.h"
#include "daemon/outputs.h"
#include "event.h"

struct analytics;

int analytics_new(uv_loop_t *loop, const struct conf *c, struct log *log, struct outputs *out,
		  struct analytics **res);
/* Starts the close timer and the heartbeat (the first one now). */
void analytics_start(struct analytics *a);
void analytics_on_event(struct analytics *a, const struct event *ev);
/* Emits a final heartbeat, closes the timers and frees; cb when done. */
void analytics_close(struct analytics *a, void (*cb)(void *arg), void *arg);
struct hist;
/* bar end + slack -> signal produced, and bar end (event time) -> signal
 * produced (upstream's event-to-signal), both in wall-clock ns. */
void analytics_set_hists(struct analytics *a, struct hist *close_to_signal, struct hist *event_to_signal);
uint64_t analytics_late_trades(const struct analytics *a);
json_t *analytics_status_json(const struct analytics *a);
