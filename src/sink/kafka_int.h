/* kafka_int.h - the producer's internals shared by kafka*.c; not for owners.
 *
 * Threading: every field is owned by the loop thread, except while a work
 * request is queued: then its worker may use rk/topics/conf and write the
 * fields named in that request's comment, which the loop reads only in the
 * after-work callback (uv orders the two). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <librdkafka/rdkafka.h>
#include <uv.h>

#include "sink/kafka.h"
#include "sink/kafka_mock.h"

#define KAFKA_MAGIC 0x6b61666bU /* "kafk" */
/* For pointers coming back through uv's void *data: a mismatch is a
 * use-after-free or a stray handle, never something to recover from. */
#define KAFKA_CHECK(k)                                                                 \
	do {                                                                           \
		if ((k)->magic != KAFKA_MAGIC)                                         \
			abort();                                                       \
	} while (0)

enum kafka_state {
	KS_NEW = 0,   /* configured, not started */
	KS_STARTING,  /* start work running */
	KS_READY,     /* producing (exactly-once: a transaction is open) */
	KS_PREPARING, /* two-phase commit: boundary set; earlier records still being
		       * delivered; new records are held */
	KS_PREPARED,  /* every earlier record delivered; waiting for the owner's finish */
	KS_MARKING,   /* the marker record is on its way; then the commit */
	KS_COMMITTING, /* commit/flush work running; new records are held */
	KS_ABORTING,  /* exactly-once: abort work running; new records refused */
	KS_FAILED,    /* start failed; only close is left */
	KS_FATAL,     /* fatal error raised; only close is left */
	KS_CLOSING,
};

/* Settings that are ours, taken out of the kafka.* list (kafka_conf.c). */
struct kafka_settings {
	bool embedded;
	bool topics_create;
	int create_partitions;  /* -1 broker default */
	int create_replication; /* -1 broker default */
	int embedded_brokers;
	char bootstrap[512];    /* as configured (empty if embedded until start) */
	char txn_id[256];
};

/* The hold queue: an arena appended at the tail and released from the head;
 * records are held only while a commit runs (or while earlier held ones wait
 * for room in librdkafka's queue), so it is compacted, never wrapped. */
struct kafka_hold {
	unsigned char *buf;
	size_t cap, head, tail; /* release from head, append at tail */
	size_t mark;            /* end of the records a deferred commit waits for */
	size_t count;
	int iter;               /* release/drop loops running (callbacks may nest) */
};

struct kafka_held_rec {
	void *opaque;
	uint32_t key_len, value_len;
	uint16_t topic;
	/* key bytes, then value bytes, then padding to 8 */
};

struct kafka_topic {
	struct kafka *k;
	unsigned idx;
	rd_kafka_topic_t *rkt;
	char *name;
};

struct kafka_start_out {
	rd_kafka_t *rk;
	rd_kafka_queue_t *mainq;
	struct kafka_mock *mock;
};

struct kafka {
	uint32_t magic;
	uv_loop_t *loop;
	enum kafka_state state;
	enum kafka_profile profile;
	struct kafka_callbacks cb;
	struct kafka_settings set;

	rd_kafka_conf_t *conf; /* until rd_kafka_new takes it */
	rd_kafka_t *rk;
	rd_kafka_queue_t *mainq;
	struct kafka_mock *mock;
	struct kafka_topic topics[KAFKA_MAX_TOPICS];
	size_t n_topics;
	char bootstrap[512];

	int pipefd[2]; /* librdkafka writes a byte on [1] when the queue turns non-empty */
	uv_poll_t poll;
	bool poll_active;

	struct kafka_hold hold;
	struct kafka_stats stats;

	int start_timeout_ms, commit_timeout_ms, close_timeout_ms;

	/* The one transaction-side operation in flight: start, commit, abort,
	 * close phases. Worker writes op_status, op_err. */
	uv_work_t op_req;
	bool op_busy;
	int op_kind;
	int op_status;
	char op_err[512];
	struct kafka_start_out op_start; /* worker output of KOP_START */
	kafka_done_cb op_cb; /* start or commit callback */
	void *op_arg;
	bool commit_deferred;   /* commit asked while held records were still being released */
	bool commit_pending_cb; /* a commit arrived while aborting: answer it when done */
	bool doomed;            /* exactly-once: the open transaction cannot commit */
	kafka_done_cb prep_cb;  /* two-phase: the prepared callback still due */
	void *prep_arg;
	char marker_id;         /* its address is the marker record's opaque */
	/* exactly-once: every record carries the header torghut-txn:
	 * "<txn_prefix>.<txn_no>" naming its transaction (audits; tests on
	 * the mock cluster, which shows aborted records to every reader). */
	char txn_prefix[48];
	uint64_t txn_no;
	char txn_tag[72];
	size_t txn_tag_len;
	char aborted_tag[72];   /* the last transaction aborted, "" if none */
	bool fatal_announced;

	/* Topic readiness (kafka_topics.c). Worker writes tq_status, tq_missing, tq_err. */
	uv_work_t tq_req;
	bool tq_busy;         /* metadata work queued */
	bool tq_admin;        /* CreateTopics outstanding on the main queue */
	bool tq_created;      /* creation already tried in this check */
	int tq_timeout_ms;
	int tq_status;
	uint32_t tq_missing;
	char tq_err[512];
	char tq_create_err[512];
	kafka_topics_cb tq_cb;
	void *tq_arg;

	/* close */
	bool closing;
	int close_phase;
	void (*close_cb)(void *arg);
	void *close_arg;
};

/* kafka_conf.c */
/* The kafka.* keys that are ours, not librdkafka's (topics.create..., embedded.
 * brokers, sasl.password.file, log.queue): another client built from the same
 * list (kafka_markers.c) leaves them out. */
bool kafka_conf_key_ours(const char *key);
int kafka_conf_build(const struct kafka_config *cfg, struct kafka_settings *set,
		     rd_kafka_conf_t **out, char *err, size_t errlen);

/* kafka.c */
void kafka_err_map(rd_kafka_resp_err_t e, int *err, enum kafka_err_class *cls);
void kafka_emit(struct kafka *k, enum kafka_event ev, int err, const char *msg);
void kafka_set_fatal(struct kafka *k, const char *msg);
void kafka_close_step(struct kafka *k);
void kafka_hold_release(struct kafka *k);
void kafka_hold_drop(struct kafka *k, int err);
void kafka_io_enable(struct kafka *k);
void kafka_io_disable(struct kafka *k);

/* kafka_txn.c */
enum { KOP_START = 1, KOP_COMMIT, KOP_ABORT, KOP_CLOSE_FLUSH, KOP_CLOSE_DESTROY };
int kafka_txn_queue(struct kafka *k, int kind);
void kafka_txn_doom(struct kafka *k);
void kafka_txn_start_commit(struct kafka *k);
void kafka_txn_next_tag(struct kafka *k);
void kafka_prepare_check(struct kafka *k);

/* kafka_topics.c */
void kafka_topics_on_admin(struct kafka *k, rd_kafka_event_t *ev);
void kafka_topics_cancel(struct kafka *k);
