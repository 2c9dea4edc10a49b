/* faults.h - fault injection for the replay server: which faults are
 * configured, and per connection when each one is due. Pure bookkeeping; the
 * server carries the faults out.
 *
 * Connections are numbered from 1 in accept order (refused upgrades count).
 * With fault_conn = N the per-connection faults apply to connection N only;
 * with 0 to every connection. http_429 is not per connection: it refuses the
 * first K upgrade requests whatever fault_conn says, so "--http-429 2
 * --fault-conn 3 --drop-after-msgs 5" means: two refusals, a connection that
 * drops after 5 messages, then normal service.
 *
 * Message thresholds count data messages sent on the connection ("after N"
 * fires once N have gone out, so N = 0 fires before the first one):
 *   drop-after-msgs N    close the TCP connection, no close frame
 *   drop-after SECONDS   the same, SECONDS after the WebSocket opened
 *   stall-after N        stop sending data; pings and control replies go on
 *   malformed-after N    send one non-JSON text frame, then go on
 *   slow-client-after N  407 slow client, then close
 *   no-pong              never answer a ping
 *   reject-auth          402 to every auth */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define REPLAY_FAULT_OFF UINT64_MAX

struct replay_faults {
	uint32_t fault_conn; /* 0: all connections */
	uint64_t drop_after_msgs, drop_after_ms, stall_after, malformed_after, slow_client_after;
	uint32_t http_429;
	bool no_pong, reject_auth;
};

/* Everything off. */
void replay_faults_init(struct replay_faults *f);

/* Sets one option by its long name without dashes ("drop-after-msgs", ...,
 * "fault-conn"); value is NULL for the flags no-pong and reject-auth.
 * Returns 0, -ENOENT (not a fault option) or -EINVAL (bad value). */
int replay_faults_set(struct replay_faults *f, const char *name, const char *value);

/* True if name (as above) is a fault option that takes a value. */
bool replay_faults_takes_value(const char *name);

/* "1.5" seconds -> 1500 ms (decimal, >= 0, at most ms precision is kept).
 * 0 or -EINVAL. */
int replay_faults_parse_ms(const char *s, uint64_t *ms);

/* Unsigned decimal count. 0 or -EINVAL. */
int replay_faults_parse_count(const char *s, uint64_t *out);

/* HTTP status for the upgrade request of connection conn_no: 429 or 101. */
int replay_faults_upgrade_status(const struct replay_faults *f, uint32_t conn_no);

enum replay_fault {
	REPLAY_FAULT_NONE = 0,
	REPLAY_FAULT_DROP,
	REPLAY_FAULT_SLOW,
	REPLAY_FAULT_MALFORMED,
	REPLAY_FAULT_STALL
};

/* One connection's view. */
struct replay_faults_conn {
	const struct replay_faults *f;
	bool active;
	bool malformed_done, stalled;
	uint64_t sent; /* data messages sent */
};

void replay_faults_conn_init(struct replay_faults_conn *c, const struct replay_faults *f,
                             uint32_t conn_no);

bool replay_faults_no_pong(const struct replay_faults_conn *c);
bool replay_faults_reject_auth(const struct replay_faults_conn *c);
/* ms after open to drop the connection, REPLAY_FAULT_OFF if never. */
uint64_t replay_faults_drop_ms(const struct replay_faults_conn *c);

/* How many data messages may go out before the next fault point (0 when
 * one is due now or the connection is stalled; REPLAY_FAULT_OFF if none). */
uint64_t replay_faults_room(const struct replay_faults_conn *c);

/* Counts n data messages sent. */
void replay_faults_sent(struct replay_faults_conn *c, uint64_t n);

/* The fault due now, if any (call until NONE; DROP and SLOW end the
 * connection, MALFORMED is reported once, STALL once and then room() is 0
 * for good). When several fall on the same count: drop, slow, malformed,
 * stall. */
enum replay_fault replay_faults_due(struct replay_faults_conn *c);

const char *replay_fault_name(enum replay_fault f);
