/* checkpoints.h - the checkpoint coordinator: takes a snapshot of the state
 * at each checkpoint boundary, writes it to the store (state/store.h) and
 * orders it with the Kafka transaction; restores at start and after an
 * aborted transaction; savepoints.
 *
 * The protocol (docs/architecture.md, "Checkpoints and the transaction"):
 *
 *   exactly-once, checkpoint N:
 *     1. boundary: outputs_commit_begin (later records are held for T(N+1));
 *        the marker's seq is drawn, then the snapshot S(N) is encoded
 *     2. S(N) written to the store as chk-N (complete: MANIFEST last)
 *        || every record of T(N) delivered (prepared)
 *     3. the marker "checkpoint N" produced LAST into T(N), then commit
 *     4. committed: N is the restore point (also kept in memory)
 *   A crash anywhere: at start, Kafka is asked for the newest marker a
 *   read_committed reader sees (kafka_markers_scan, after init_transactions
 *   fenced the old producer, so T(N) is decided): C. The state restored is
 *   chk-C, the newest checkpoint with id <= C. A chk-N written for a
 *   transaction that did not commit has id > C and is passed over. Ids are
 *   never reused.
 *
 *   low-latency: boundary -> every earlier record acknowledged -> chk-N
 *   written. At start the newest checkpoint is restored; records emitted
 *   after it are emitted again with the same identities (at-least-once,
 *   consumers dedup by identity).
 *
 * An aborted transaction (a failed record, a failed commit, the store
 * failing or the checkpoint timing out) rewinds the state in process to the
 * last committed checkpoint (kept in memory) and reports the gap. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <uv.h>

#include "core/conf.h"
#include "core/log.h"
#include "daemon/outputs.h"

struct checkpoints;
struct snapshot_writer;
struct snapshot;

struct checkpoints_hooks {
	/* The state into a snapshot, in steps so that the loop never pauses
	 * long (docs/architecture.md, "What a checkpoint costs the loop"):
	 * save_begin holds the state still (the data path waits) and returns
	 * the bytes its sections take, headers included; save_reserve puts
	 * them into w; each save_step writes about `budget` more bytes: 1 when
	 * all is written, 0 when more remains, < 0 on error; save_end releases
	 * the hold (after the last step, an error, or a cancel). */
	ssize_t (*save_begin)(void *arg);
	int (*save_reserve)(void *arg, struct snapshot_writer *w);
	int (*save_step)(void *arg, struct snapshot_writer *w, size_t budget);
	void (*save_end)(void *arg);
	/* Replace the state from snap; why = "restart" or "transaction aborted". */
	int (*load)(void *arg, const struct snapshot *snap, uint64_t id, const char *why);
	/* The marker record for checkpoint id (the feed as key): its length,
	 * or < 0 when there is none to write (no Alpaca source). */
	ssize_t (*marker)(void *arg, uint64_t id, const char *detail, char *buf, size_t cap, const char **key);
	/* The marker's key (the feed), or NULL without a marker source. */
	const char *(*marker_key)(void *arg);
	/* Checkpoint id is complete (committed, or acknowledged and stored);
	 * optional. */
	void (*completed)(void *arg, uint64_t id);
	/* Unrecoverable (Kafka fatal during a checkpoint): exit non-zero. */
	void (*fatal)(void *arg, const char *why);
	void *arg;
};

struct checkpoints_stats {
	uint64_t completed, failed, aborts_restored, restores;
	uint64_t last_id;            /* last completed checkpoint, 0 = none */
	int64_t last_done_real_ns;   /* when it completed */
	int64_t last_duration_ns;    /* boundary -> complete */
	int64_t last_snapshot_ns;    /* the loop's work to encode it (in steps) */
	int64_t max_snapshot_ns;
	int64_t last_step_max_ns;    /* its longest step: the longest loop pause */
	int64_t max_step_ns;
	uint32_t last_steps;         /* loop iterations it took */
	size_t last_bytes;
	bool in_progress;
	bool store_ok;               /* the last store operation succeeded */
	uint64_t restored_id;        /* the checkpoint restored at start, 0 = fresh */
	int64_t restore_ns;          /* start-up restore time */
	const char *last_error;      /* "" if none */
};

/* Creates the store (state.checkpoints.dir). Errors name the key. */
int checkpoints_new(uv_loop_t *loop, const struct conf *c, struct log *log, struct outputs *out,
		    const struct checkpoints_hooks *h, struct checkpoints **res, char *err, size_t errlen);
/* Start-up, once Kafka is ready: finds and loads the state to resume from
 * (state.restore, or the protocol above). done(arg, 0) when loaded or
 * fresh; a negative code with why when the store is unreadable past the
 * deadline or holds incompatible state (the daemon exits 3). */
int checkpoints_restore(struct checkpoints *cp, int64_t deadline_ms,
			void (*done)(void *arg, int status, const char *why), void *arg);
/* Starts the interval timer. */
void checkpoints_start(struct checkpoints *cp);
/* Takes a checkpoint now (`checkpoint`), or a savepoint into dir (a path or
 * s3:// URL; NULL or "": a new directory under state.savepoints.dir).
 * done(arg, 0, id, detail) when committed (and the savepoint written), or
 * (arg, negative, 0, why). Returns 0, -EBUSY (one is running: a checkpoint
 * request joins it, a savepoint is refused), -EAGAIN (not restored yet). */
typedef void (*checkpoints_done_cb)(void *arg, int status, uint64_t id, const char *detail);
int checkpoints_take(struct checkpoints *cp, bool savepoint, const char *dir, checkpoints_done_cb done, void *arg);
/* `profile P`: at the next checkpoint boundary (taken now unless one is
 * running): records after the boundary wait in outputs; once the checkpoint
 * committed the producer is replaced by one in profile P and they go out.
 * linger_ms >= 0 also sets the new producer's linger.ms (a reload of
 * execution.buffer-timeout; the same profile is then replaced too).
 * done(arg, 0, checkpoint id, detail) when switched. Returns 0, -EALREADY
 * (already in P, no linger asked), -EBUSY (a switch is pending), -EOPNOTSUPP (embedded
 * Kafka), -EAGAIN (not restored yet). */
int checkpoints_switch_profile(struct checkpoints *cp, enum conf_profile p, int linger_ms, checkpoints_done_cb done,
			       void *arg);
/* Kafka aborted the open transaction outside a checkpoint (a failed
 * record): rewind to the last committed state. */
void checkpoints_on_aborted(struct checkpoints *cp, const char *why);
/* Drain: a final checkpoint (after the sources stopped), then cb. */
void checkpoints_final(struct checkpoints *cp, void (*cb)(void *arg), void *arg);
void checkpoints_close(struct checkpoints *cp, void (*cb)(void *arg), void *arg);

struct hist;
/* Boundary -> complete, per checkpoint (or NULL). */
void checkpoints_set_hist(struct checkpoints *cp, struct hist *duration);
void checkpoints_stats(const struct checkpoints *cp, struct checkpoints_stats *s);
json_t *checkpoints_status_json(const struct checkpoints *cp);
/* The readiness gate: the last checkpoint (or the restore) succeeded and
 * the newest is younger than 2 intervals + the timeout. */
bool checkpoints_gate(const struct checkpoints *cp);
