/* checkpoints.c - the checkpoint coordinator (see checkpoints.h). */
#include "config.h"

#include "daemon/checkpoints.h"

#include "core/hist.h"
#include "sink/kafka_markers.h"
#include "state/snapshot.h"
#include "state/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <time.h>

#define MARKER_MAX 2048
#define WAITERS_MAX 16
#define RESTORE_RETRY_MS 1000
#define FINGERPRINT_VERSION 1
/* Bytes of state encoded per loop iteration: about 0.1-0.3 ms of work
 * (docs/benchmarks.md), so the loop never pauses long for a checkpoint. */
#define STEP_BYTES (256u * 1024)

struct cp_waiter {
	checkpoints_done_cb cb;
	void *arg;
};

/* The checkpoint being taken. */
struct cp_run {
	uint64_t id;
	uint8_t *buf;
	size_t len;
	char marker[MARKER_MAX];
	ssize_t marker_len; /* < 0: no marker */
	const char *key;
	bool exactly_once;
	bool writing, written; /* store write queued / done */
	int write_status;
	bool prepared;
	int prep_status;
	bool encoded;
	bool encoding; /* steps running (the data path is held) */
	bool sealing;  /* CRCs on the threadpool */
	struct snapshot_writer w;
	size_t cap;    /* of buf: reused by a later checkpoint */
	int64_t work_ns, step_max_ns;
	uint32_t steps;
	bool delayed_write, delayed_finish; /* debug.checkpoint-delay passed */
	bool finishing, cancelling, committed;
	int end_status;
	char end_why[256];
	char *savepoint;
	int64_t start_mono;
	struct cp_waiter waiters[WAITERS_MAX];
	size_t nwaiters;
};

struct checkpoints {
	uv_loop_t *loop;
	struct log *log;
	const struct conf *conf;
	struct outputs *out;
	struct checkpoints_hooks h;
	struct store *store;
	char fingerprint[256];
	char savepoints[1024]; /* where `savepoint` without DIR writes */
	uv_timer_t timer, timeout, retry, delay;
	uv_idle_t encode_idle; /* a step of the snapshot per loop iteration */
	uv_work_t seal_work;
	int seal_rc;
	int handles;
	/* A snapshot buffer no longer needed, for the next one to write into:
	 * its pages are already mapped */
	uint8_t *spare;
	size_t spare_cap;
	unsigned frees; /* buffers being freed on the threadpool */
	bool prefaulting; /* a spare being mapped on the threadpool */

	uint64_t next_id;
	bool running;
	struct cp_run run;
	bool final_pending;
	void (*final_cb)(void *);
	void *final_arg;

	/* the last committed state, for an in-process rewind */
	uint8_t *good;
	size_t good_len, good_cap;
	uint64_t good_id;

	/* start-up restore */
	void (*restore_done)(void *, int, const char *);
	void *restore_arg;
	int64_t restore_start, restore_deadline;
	uint64_t newest_id;  /* the newest complete checkpoint in the store */
	uint8_t *cand;       /* a copy of it while Kafka is asked */
	size_t cand_len;
	uint64_t cand_id;
	uv_work_t scan_work;
	bool scanning;
	struct kafka_markers_req scan_req;
	uint64_t scan_id;
	int scan_rc;
	char scan_err[256];

	/* a profile switch asked for: at the next checkpoint boundary */
	bool switch_pending, switching;
	enum conf_profile switch_to;
	int switch_linger_ms;
	checkpoints_done_cb switch_cb;
	void *switch_arg;
	uint64_t switch_id;
	bool active;   /* restored (or fresh): checkpoints may be taken */
	bool from_savepoint;
	bool closing;
	void (*closed_cb)(void *);
	void *closed_arg;

	struct checkpoints_stats st;
	char last_error[256];
	struct hist *duration; /* or NULL */
};

static int64_t mono(void)
{
	return (int64_t)uv_hrtime();
}

static int64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void set_error(struct checkpoints *cp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct checkpoints *cp, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cp->last_error, sizeof(cp->last_error), fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------- snapshots */

static const char *profile_name(const struct checkpoints *cp)
{
	return outputs_exactly_once(cp->out) ? "exactly-once" : "low-latency";
}

static void maybe_free(struct checkpoints *cp);

struct cp_free {
	uv_work_t work;
	struct checkpoints *cp;
	void *p;
};

static void free_work(uv_work_t *w)
{
	free(((struct cp_free *)w->data)->p);
}

static void free_after(uv_work_t *w, int status)
{
	struct cp_free *f = w->data;
	struct checkpoints *cp = f->cp;
	free(f);
	cp->frees--;
	if (cp->closing)
		maybe_free(cp);
}

/* Unmapping tens of MB takes milliseconds: large buffers are freed on the
 * threadpool. */
static void release(struct checkpoints *cp, void *p, size_t cap)
{
	struct cp_free *f = p && cap >= (1u << 20) ? malloc(sizeof(*f)) : NULL;
	if (f) {
		*f = (struct cp_free){.cp = cp, .p = p};
		f->work.data = f;
		if (uv_queue_work(cp->loop, &f->work, free_work, free_after) == 0) {
			cp->frees++;
			return;
		}
		free(f);
	}
	free(p);
}

/* Keeps the larger of the spare and buf (a snapshot buffer nobody needs). */
static void recycle(struct checkpoints *cp, uint8_t *buf, size_t cap)
{
	if (!buf)
		return;
	if (cap <= cp->spare_cap) {
		release(cp, buf, cap);
		return;
	}
	release(cp, cp->spare, cp->spare_cap);
	cp->spare = buf;
	cp->spare_cap = cap;
}

struct cp_prefault {
	uv_work_t work;
	struct checkpoints *cp;
	uint8_t *buf;
	size_t cap;
};

static void prefault_work(uv_work_t *w)
{
	struct cp_prefault *f = w->data;
	if ((f->buf = malloc(f->cap)))
		memset(f->buf, 0, f->cap); /* every page mapped here, not in a step */
}

static void prefault_after(uv_work_t *w, int status)
{
	struct cp_prefault *f = w->data;
	struct checkpoints *cp = f->cp;
	cp->prefaulting = false;
	if (cp->closing)
		free(f->buf);
	else
		recycle(cp, f->buf, f->cap);
	free(f);
	if (cp->closing)
		maybe_free(cp);
}

/* After a checkpoint of `last` bytes: a spare with room to grow, its pages
 * faulted in on the threadpool, unless there is one. The next snapshot then
 * writes into mapped memory (a fresh 40 MB buffer costs ~40 ms of page
 * faults, spread over the steps but work all the same). */
static void prefault(struct checkpoints *cp, size_t last)
{
	struct cp_prefault *f;
	if (cp->prefaulting || cp->closing || last < (1u << 20) || cp->spare_cap >= last + last / 4 + 4096)
		return;
	if (!(f = calloc(1, sizeof(*f))))
		return;
	*f = (struct cp_prefault){.cp = cp, .cap = last + last / 2 + 4096};
	f->work.data = f;
	if (uv_queue_work(cp->loop, &f->work, prefault_work, prefault_after) < 0) {
		free(f);
		return;
	}
	cp->prefaulting = true;
}

/* A writer for a snapshot of `need` bytes of sections, in the spare buffer
 * when it is large enough (a fresh one's pages are faulted in as the steps
 * write, spread over them). */
static int writer_open(struct checkpoints *cp, struct snapshot_writer *w, uint64_t id, size_t need)
{
	uint8_t *buf = cp->spare;
	size_t cap = cp->spare_cap;
	cp->spare = NULL;
	cp->spare_cap = 0;
	if (!buf || cap < need + 4096) { /* growing one would copy */
		/* Room to grow (a state that grows fast outgrows its buffer
		 * often otherwise). Plain pages: faulting in a 2 MiB page
		 * (zeroing, maybe compaction) measured up to 4 ms in one step. */
		release(cp, buf, cap);
		cap = need + need / 2 + 4096;
		if (!(buf = malloc(cap)))
			return -ENOMEM;
	}
	int rc = snapshot_writer_init_in(w, buf, cap, id, real_ns(), profile_name(cp), cp->fingerprint);
	if (rc == 0)
		rc = snapshot_writer_expect(w, need);
	return rc;
}

/* The whole state at once (start-up, nothing streaming yet). */
static int encode_now(struct checkpoints *cp, uint64_t id, uint8_t **buf, size_t *len, size_t *cap)
{
	struct snapshot_writer w;
	ssize_t need = cp->h.save_begin(cp->h.arg);
	int rc = need < 0 ? (int)need : writer_open(cp, &w, id, (size_t)need);
	if (rc == 0 && (rc = cp->h.save_reserve(cp->h.arg, &w)) == 0)
		while ((rc = cp->h.save_step(cp->h.arg, &w, SIZE_MAX)) == 0)
			;
	cp->h.save_end(cp->h.arg);
	if (need >= 0 && rc < 0)
		snapshot_writer_fini(&w);
	if (rc < 0)
		return rc;
	*cap = w.cap;
	return snapshot_writer_finish(&w, buf, len);
}

static int load(struct checkpoints *cp, const uint8_t *buf, size_t len, uint64_t id, const char *why, char *err,
		size_t errlen)
{
	struct snapshot snap;
	int rc = snapshot_read(buf, len, &snap, err, errlen);
	if (rc < 0)
		return rc;
	if ((rc = cp->h.load(cp->h.arg, &snap, id, why)) < 0)
		snprintf(err, errlen, "checkpoint %" PRIu64 " does not load: %s", id, strerror(-rc));
	return rc;
}

/* The rewind point is only needed where a transaction can abort (exactly-
 * once, or about to be): a snapshot can be tens of MB, so low-latency keeps
 * none. */
static void keep_good(struct checkpoints *cp, uint8_t *buf, size_t len, size_t cap, uint64_t id)
{
	recycle(cp, cp->good, cp->good_cap);
	cp->good = NULL;
	cp->good_len = cp->good_cap = 0;
	if (!outputs_exactly_once(cp->out) && !(cp->switching && cp->switch_to == CONF_PROFILE_EXACTLY_ONCE)) {
		recycle(cp, buf, cap);
		buf = NULL;
		len = cap = 0;
	}
	cp->good = buf;
	cp->good_len = len;
	cp->good_cap = cap;
	cp->good_id = id;
}

/* An aborted transaction: back to the last committed state. */
static void rewind_state(struct checkpoints *cp, const char *why)
{
	char err[256], what[160];
	const char *tag = outputs_aborted_tag(cp->out);
	/* The gap event names the aborted transaction: readers of a log that
	 * keeps aborted records (the mock cluster) can leave it out. */
	if (tag && *tag) {
		snprintf(what, sizeof(what), "%s (torghut-txn %s)", why, tag);
		why = what;
	}
	if (!cp->good) {
		log_error(cp->log, LOG_SUB_STATE, "%s: no committed state to return to", why);
		return;
	}
	if (load(cp, cp->good, cp->good_len, cp->good_id, why, err, sizeof(err)) < 0) {
		log_error(cp->log, LOG_SUB_STATE, "%s: cannot rewind to checkpoint %" PRIu64 ": %s", why, cp->good_id, err);
		if (cp->h.fatal)
			cp->h.fatal(cp->h.arg, "the state cannot be rewound after an aborted transaction");
		return;
	}
	cp->st.aborts_restored++;
	log_warn(cp->log, LOG_SUB_STATE, "%s: state rewound to checkpoint %" PRIu64 "; the interval since is a gap",
		 why, cp->good_id);
}

/* ---------------------------------------------------------------- taking one */

static void step(struct checkpoints *cp);
static void take_final(struct checkpoints *cp);

static void on_switched(void *arg, int status, const char *why)
{
	struct checkpoints *cp = arg;
	checkpoints_done_cb cb = cp->switch_cb;
	char detail[256];
	cp->switching = false;
	cp->switch_cb = NULL;
	if (status < 0)
		snprintf(detail, sizeof(detail), "profile switch failed: %s", why ? why : strerror(-status));
	else if (cp->switch_linger_ms >= 0)
		snprintf(detail, sizeof(detail), "switched to %s after checkpoint %" PRIu64 " (buffer timeout %d ms)",
			 conf_profile_name(cp->switch_to), cp->switch_id, cp->switch_linger_ms);
	else
		snprintf(detail, sizeof(detail), "switched to %s after checkpoint %" PRIu64, conf_profile_name(cp->switch_to),
			 cp->switch_id);
	log_info(cp->log, LOG_SUB_STATE, "%s", detail);
	if (cb)
		cb(cp->switch_arg, status, cp->switch_id, detail);
}

/* The checkpoint of a switch ended: on success everything before it is
 * committed (or acknowledged), so the producer can be replaced. */
static void switch_after(struct checkpoints *cp, int status, uint64_t id)
{
	cp->switch_id = id;
	if (status < 0) {
		outputs_hold_release(cp->out);
		on_switched(cp, status, "the checkpoint at the switch failed");
		return;
	}
	int rc = outputs_switch_profile(cp->out, cp->switch_to, cp->switch_linger_ms, on_switched, cp);
	if (rc < 0) {
		outputs_hold_release(cp->out);
		on_switched(cp, rc, rc == -EOPNOTSUPP ? "embedded Kafka lives in the producer: restart with the profile instead"
						      : "cannot replace the producer");
	}
}

static void run_end(struct checkpoints *cp, int status, const char *why)
{
	struct cp_run *r = &cp->run;
	struct cp_waiter w[WAITERS_MAX];
	size_t nw = r->nwaiters;
	uint64_t id = r->id;
	char detail[1024], whybuf[256];
	bool rewind = status < 0 && r->exactly_once && status != -ENOTRECOVERABLE && status != -ESHUTDOWN;

	snprintf(whybuf, sizeof(whybuf), "%s", why ? why : ""); /* it may live in r, cleared below */
	why = whybuf;

	uv_timer_stop(&cp->timeout);
	uv_timer_stop(&cp->delay);
	memcpy(w, r->waiters, sizeof(w));
	if (status == 0) {
		cp->st.completed++;
		cp->st.last_id = id;
		cp->st.last_done_real_ns = real_ns();
		cp->st.last_duration_ns = mono() - r->start_mono;
		if (cp->duration)
			hist_record(cp->duration, cp->st.last_duration_ns);
		cp->st.last_bytes = r->len;
		cp->st.store_ok = true;
		keep_good(cp, r->buf, r->len, r->cap, id);
		r->buf = NULL;
		if (cp->h.completed)
			cp->h.completed(cp->h.arg, id);
		prefault(cp, cp->st.last_bytes);
		if (r->savepoint)
			snprintf(detail, sizeof(detail), "savepoint %" PRIu64 " in %s", id, r->savepoint);
		else
			snprintf(detail, sizeof(detail), "checkpoint %" PRIu64 " in %s", id, store_describe(cp->store));
		log_debug(cp->log, LOG_SUB_STATE, "%s (%zu bytes, %.1f ms)", detail, cp->st.last_bytes,
			  cp->st.last_duration_ns / 1e6);
	} else {
		cp->st.failed++;
		set_error(cp, "checkpoint %" PRIu64 ": %s", id, why);
		snprintf(detail, sizeof(detail), "%s", cp->last_error);
		log_error(cp->log, LOG_SUB_STATE, "%s", cp->last_error);
		recycle(cp, r->buf, r->cap);
		r->buf = NULL;
	}
	free(r->savepoint);
	memset(r, 0, sizeof(*r));
	cp->running = false;
	if (rewind)
		rewind_state(cp, "transaction aborted");
	if (cp->switching)
		switch_after(cp, status, id);
	/* -ENOTRECOVERABLE: Kafka's own fatal event already stops the daemon. */
	for (size_t i = 0; i < nw; i++)
		w[i].cb(w[i].arg, status, status == 0 ? id : 0, detail);
	if (cp->final_pending)
		take_final(cp);
}

static void end_when_idle(struct checkpoints *cp, int status, const char *why)
{
	struct cp_run *r = &cp->run;
	if (r->end_status == 0) {
		r->end_status = status;
		if (why != r->end_why)
			snprintf(r->end_why, sizeof(r->end_why), "%s", why);
	}
	if (r->encoding) { /* steps still running: stopped, the data path released */
		r->encoding = false;
		uv_idle_stop(&cp->encode_idle);
		uv_timer_stop(&cp->delay);
		snapshot_writer_fini(&r->w);
		cp->h.save_end(cp->h.arg);
	}
	/* The store (or the CRC job) may still be reading the buffer. */
	if ((r->writing && !r->written) || r->sealing)
		return;
	run_end(cp, r->end_status, r->end_why);
}

static void on_savepoint_written(int status, void *arg)
{
	struct checkpoints *cp = arg;
	struct cp_run *r = &cp->run;
	char why[256];
	r->written = true;
	if (status < 0) {
		/* The checkpoint itself is committed; only the copy failed. */
		snprintf(why, sizeof(why), "savepoint %s: %s", r->savepoint, strerror(-status));
		cp->st.store_ok = false;
		keep_good(cp, r->buf, r->len, r->cap, r->id);
		r->buf = NULL;
		run_end(cp, status, why);
		return;
	}
	run_end(cp, 0, NULL);
}

static void committed(struct checkpoints *cp)
{
	struct cp_run *r = &cp->run;
	r->committed = true;
	if (r->savepoint) {
		r->writing = true;
		r->written = false;
		if (store_write_to(cp->store, r->savepoint, r->id, r->buf, r->len, on_savepoint_written, cp) == 0)
			return;
		r->writing = false;
		keep_good(cp, r->buf, r->len, r->cap, r->id);
		r->buf = NULL;
		run_end(cp, -EIO, "cannot queue the savepoint write");
		return;
	}
	run_end(cp, 0, NULL);
}

static void on_written(int status, void *arg)
{
	struct checkpoints *cp = arg;
	struct cp_run *r = &cp->run;
	r->written = true;
	r->write_status = status;
	cp->st.store_ok = status == 0;
	if (r->end_status) { /* the run already failed; the buffer is free now */
		run_end(cp, r->end_status, r->end_why);
		return;
	}
	if (!r->exactly_once) { /* low-latency: written after the barrier */
		if (status < 0) {
			char why[256];
			snprintf(why, sizeof(why), "store %s: %s", store_describe(cp->store), strerror(-status));
			run_end(cp, status, why);
		} else {
			committed(cp);
		}
		return;
	}
	step(cp);
}

static void on_committed(void *arg, int status)
{
	struct checkpoints *cp = arg;
	struct cp_run *r = &cp->run;
	if (!cp->running)
		return;
	if (status == 0) {
		if (r->exactly_once) {
			committed(cp);
		} else {
			/* The barrier holds: everything before the boundary is
			 * acknowledged, so the state may be stored now. */
			r->writing = true;
			if (store_write(cp->store, r->id, r->buf, r->len, on_written, cp) < 0) {
				r->writing = false;
				run_end(cp, -EIO, "cannot queue the store write");
			}
		}
		return;
	}
	end_when_idle(cp, status,
		      status == -ECANCELED ? "the Kafka transaction was aborted" :
		      status == -ENOTRECOVERABLE ? "Kafka is unrecoverable" : strerror(-status));
}

static void on_prepared(void *arg, int status)
{
	struct checkpoints *cp = arg;
	struct cp_run *r = &cp->run;
	if (!cp->running)
		return;
	r->prepared = true;
	r->prep_status = status;
	if (!r->encoded)
		return; /* inside outputs_commit_begin: take() goes on */
	if (status < 0) {
		end_when_idle(cp, status, status == -ECANCELED ? "the Kafka transaction was aborted" : strerror(-status));
		return;
	}
	step(cp);
}

static void on_delay(uv_timer_t *t);

/* debug.checkpoint-delay (tests): a pause at this point, then call again. */
static bool delayed(struct checkpoints *cp, bool *passed)
{
	if (!cp->conf->debug_checkpoint_delay || *passed)
		return false;
	*passed = true;
	uv_timer_start(&cp->delay, on_delay, (uint64_t)(cp->conf->debug_checkpoint_delay / 1000000), 0);
	return true;
}

static void start_write(struct checkpoints *cp)
{
	struct cp_run *r = &cp->run;
	if (delayed(cp, &r->delayed_write))
		return;
	r->writing = true;
	if (store_write(cp->store, r->id, r->buf, r->len, on_written, cp) < 0) {
		r->writing = false;
		r->written = true;
		r->write_status = -EIO;
		step(cp);
	}
}

static void on_delay(uv_timer_t *t)
{
	struct checkpoints *cp = t->data;
	struct cp_run *r = &cp->run;
	if (!cp->running)
		return;
	if (r->exactly_once && !r->writing && !r->written && !r->end_status)
		start_write(cp);
	else
		step(cp);
}

/* exactly-once: both halves of phase 2 done -> marker and commit. */
static void step(struct checkpoints *cp)
{
	struct cp_run *r = &cp->run;
	char why[256];

	if (!r->encoded || r->finishing || r->cancelling || r->end_status)
		return;
	if (r->written && r->write_status < 0) {
		snprintf(why, sizeof(why), "store %s: %s", store_describe(cp->store), strerror(-r->write_status));
		r->cancelling = true;
		r->end_status = r->write_status;
		snprintf(r->end_why, sizeof(r->end_why), "%s", why);
		/* The state of this transaction is not stored: it must not commit. */
		if (outputs_commit_cancel(cp->out, on_committed, cp) < 0)
			run_end(cp, r->end_status, why);
		return;
	}
	if (!r->prepared || (r->exactly_once && !r->written))
		return;
	if (delayed(cp, &r->delayed_finish))
		return;
	r->finishing = true;
	int rc = outputs_commit_finish(cp->out, r->key, r->key ? strlen(r->key) : 0,
				       r->marker_len > 0 ? r->marker : NULL, r->marker_len > 0 ? (size_t)r->marker_len : 0,
				       on_committed, cp);
	if (rc < 0)
		end_when_idle(cp, rc, "cannot finish the Kafka commit");
}

static void on_timeout(uv_timer_t *t)
{
	struct checkpoints *cp = t->data;
	struct cp_run *r = &cp->run;
	if (!cp->running || r->finishing || r->cancelling)
		return; /* the commit itself is bounded by Kafka's own timeouts */
	r->cancelling = true;
	r->end_status = -ETIMEDOUT;
	snprintf(r->end_why, sizeof(r->end_why), "not complete within execution.checkpointing.timeout (%s)",
		 !r->prepared ? "Kafka deliveries pending" : "store write pending");
	if (outputs_commit_cancel(cp->out, on_committed, cp) < 0)
		end_when_idle(cp, -ETIMEDOUT, r->end_why);
}

static void encode_failed(struct checkpoints *cp, int rc)
{
	struct cp_run *r = &cp->run;
	char why[256];
	snprintf(why, sizeof(why), "cannot encode the state: %s", strerror(-rc));
	r->cancelling = true;
	r->end_status = rc;
	snprintf(r->end_why, sizeof(r->end_why), "%s", why);
	if (outputs_commit_cancel(cp->out, on_committed, cp) < 0)
		run_end(cp, rc, why);
}

/* The snapshot is complete: phase 2 of the protocol. */
static void encoded(struct checkpoints *cp)
{
	struct cp_run *r = &cp->run;
	r->encoded = true;
	cp->st.last_snapshot_ns = r->work_ns;
	cp->st.last_step_max_ns = r->step_max_ns;
	cp->st.last_steps = r->steps;
	if (r->work_ns > cp->st.max_snapshot_ns)
		cp->st.max_snapshot_ns = r->work_ns;
	if (r->step_max_ns > cp->st.max_step_ns)
		cp->st.max_step_ns = r->step_max_ns;
	uv_timer_start(&cp->timeout, on_timeout, (uint64_t)(cp->conf->checkpoint_timeout / 1000000), 0);
	/* 2. exactly-once: the store write runs while the deliveries finish */
	if (r->exactly_once)
		start_write(cp);
	if (cp->running && r->prepared && r->prep_status < 0)
		end_when_idle(cp, r->prep_status, "the Kafka transaction was aborted");
	else if (cp->running)
		step(cp);
}

static void seal_work(uv_work_t *w)
{
	struct checkpoints *cp = w->data;
	struct cp_run *r = &cp->run;
	r->cap = r->w.cap;
	cp->seal_rc = snapshot_writer_finish(&r->w, &r->buf, &r->len);
}

static void seal_after(uv_work_t *w, int status)
{
	struct checkpoints *cp = w->data;
	struct cp_run *r = &cp->run;
	r->sealing = false;
	if (status < 0 && cp->seal_rc == 0) { /* never ran: the writer is intact */
		snapshot_writer_fini(&r->w);
		cp->seal_rc = status;
	}
	if (r->end_status) { /* ended meanwhile (closing) */
		run_end(cp, r->end_status, r->end_why);
		maybe_free(cp);
		return;
	}
	if (cp->seal_rc < 0)
		encode_failed(cp, cp->seal_rc);
	else
		encoded(cp);
}

static void on_encode_idle(uv_idle_t *h);

static void on_step_delay(uv_timer_t *t)
{
	struct checkpoints *cp = t->data;
	if (cp->run.encoding)
		uv_idle_start(&cp->encode_idle, on_encode_idle);
}

/* One step of the snapshot per loop iteration; other callbacks run in
 * between, but nothing that changes the state (it is held). */
static void on_encode_idle(uv_idle_t *h)
{
	struct checkpoints *cp = h->data;
	struct cp_run *r = &cp->run;
	int64_t t0 = mono();
	int rc = cp->h.save_step(cp->h.arg, &r->w,
				 cp->conf->debug_checkpoint_step ? (size_t)cp->conf->debug_checkpoint_step : STEP_BYTES);
	int64_t dt = mono() - t0;
	r->work_ns += dt;
	r->steps++;
	if (dt > r->step_max_ns)
		r->step_max_ns = dt;
	if (rc == 0) {
		if (cp->conf->debug_checkpoint_step) {
			/* tests: a step per millisecond, so that frames surely
			 * arrive during the snapshot and are held */
			uv_idle_stop(&cp->encode_idle);
			uv_timer_start(&cp->delay, on_step_delay, 1, 0);
		}
		return;
	}
	uv_idle_stop(&cp->encode_idle);
	r->encoding = false;
	cp->h.save_end(cp->h.arg); /* the state may move on: the bytes are taken */
	if (rc < 0) {
		snapshot_writer_fini(&r->w);
		encode_failed(cp, rc);
		return;
	}
	/* The CRCs of tens of MB are not the loop's work. */
	r->sealing = true;
	cp->seal_work.data = cp;
	int q = uv_queue_work(cp->loop, &cp->seal_work, seal_work, seal_after);
	if (q < 0) {
		r->sealing = false;
		snapshot_writer_fini(&r->w);
		encode_failed(cp, q);
	}
}

/* The boundary's state: held still, its sections sized and reserved (and
 * the small ones written) now, the rest in steps. */
static int encode_begin(struct checkpoints *cp)
{
	struct cp_run *r = &cp->run;
	int64_t t0 = mono();
	ssize_t need = cp->h.save_begin(cp->h.arg);
	int rc = need < 0 ? (int)need : writer_open(cp, &r->w, r->id, (size_t)need);
	if (rc == 0)
		rc = cp->h.save_reserve(cp->h.arg, &r->w);
	r->work_ns = r->step_max_ns = mono() - t0;
	if (rc < 0) {
		if (need >= 0)
			snapshot_writer_fini(&r->w);
		cp->h.save_end(cp->h.arg);
		return rc;
	}
	r->encoding = true;
	uv_idle_start(&cp->encode_idle, on_encode_idle);
	return 0;
}

static int take(struct checkpoints *cp, const char *savepoint, checkpoints_done_cb done, void *arg)
{
	struct cp_run *r = &cp->run;
	char detail[256];
	int rc;

	if (cp->closing)
		return -ESHUTDOWN;
	if (cp->running) {
		if (savepoint || !done || r->nwaiters == WAITERS_MAX)
			return -EBUSY;
		r->waiters[r->nwaiters++] = (struct cp_waiter){done, arg};
		return 0;
	}
	memset(r, 0, sizeof(*r));
	r->id = cp->next_id;
	r->start_mono = mono();
	r->exactly_once = outputs_exactly_once(cp->out);
	r->marker_len = -1;
	if (savepoint && !(r->savepoint = strdup(savepoint)))
		return -ENOMEM;
	/* 1. the boundary: records offered from now on belong to the next
	 * transaction (or wait for the barrier). prepared may run inside the
	 * call when nothing is in flight: it is recorded, and acted on once
	 * the snapshot is encoded. */
	cp->running = true;
	bool switching = cp->switch_pending;
	if (switching)
		outputs_hold(cp->out); /* nothing after the boundary reaches the old producer */
	if ((rc = outputs_commit_begin(cp->out, on_prepared, cp)) < 0) {
		if (switching)
			outputs_hold_release(cp->out);
		cp->running = false;
		free(r->savepoint);
		r->savepoint = NULL;
		return rc;
	}
	cp->next_id++;
	if (switching) {
		cp->switch_pending = false;
		cp->switching = true;
	}
	if (done)
		r->waiters[r->nwaiters++] = (struct cp_waiter){done, arg};
	/* the marker's seq is drawn before the snapshot, so a restored state
	 * continues after it */
	if (r->exactly_once && cp->h.marker && outputs_txn_id(cp->out) &&
	    kafka_markers_detail(outputs_txn_id(cp->out), outputs_txn_tag(cp->out), detail, sizeof(detail)) > 0)
		r->marker_len = cp->h.marker(cp->h.arg, r->id, detail, r->marker, sizeof(r->marker), &r->key);
	if ((rc = encode_begin(cp)) < 0)
		encode_failed(cp, rc);
	return 0;
}

int checkpoints_take(struct checkpoints *cp, bool savepoint, const char *dir, checkpoints_done_cb done, void *arg)
{
	char path[1200];
	if (!cp->active)
		return -EAGAIN;
	if (!savepoint)
		return take(cp, NULL, done, arg);
	if (!dir || !*dir) {
		/* Under state.savepoints.dir, named by time (the id is not known
		 * before the boundary). */
		time_t now = time(NULL);
		struct tm tm;
		char stamp[32];
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
		snprintf(path, sizeof(path), "%s/savepoint-%s", cp->savepoints, stamp);
		dir = path;
	}
	return take(cp, dir, done, arg);
}

static void final_done(void *arg, int status, uint64_t id, const char *detail)
{
	struct checkpoints *cp = arg;
	void (*cb)(void *) = cp->final_cb;
	cp->final_cb = NULL;
	if (cb)
		cb(cp->final_arg);
}

static void take_final(struct checkpoints *cp)
{
	cp->final_pending = false;
	if (take(cp, NULL, final_done, cp) < 0)
		final_done(cp, -EIO, 0, NULL);
}

void checkpoints_final(struct checkpoints *cp, void (*cb)(void *arg), void *arg)
{
	uv_timer_stop(&cp->timer);
	cp->final_cb = cb;
	cp->final_arg = arg;
	if (!cp->active) { /* never restored, so nothing consistent to store */
		final_done(cp, 0, 0, NULL);
		return;
	}
	if (cp->running)
		cp->final_pending = true; /* after the running one */
	else
		take_final(cp);
}

static void on_timer(uv_timer_t *t)
{
	struct checkpoints *cp = t->data;
	if (cp->running || cp->closing || cp->switching)
		return; /* the previous one (or a producer switch) is still running: skipped */
	int rc = take(cp, NULL, NULL, NULL);
	if (rc < 0 && rc != -EBUSY) {
		cp->st.failed++;
		set_error(cp, "checkpoint not started: %s", strerror(-rc));
	}
}

void checkpoints_start(struct checkpoints *cp)
{
	uint64_t every = (uint64_t)(cp->conf->checkpoint_interval / 1000000);
	uv_timer_start(&cp->timer, on_timer, every, every);
}

int checkpoints_switch_profile(struct checkpoints *cp, enum conf_profile p, int linger_ms, checkpoints_done_cb done,
			       void *arg)
{
	if (!cp->active)
		return -EAGAIN;
	if (cp->switch_pending || cp->switching)
		return -EBUSY;
	if ((p == CONF_PROFILE_EXACTLY_ONCE) == outputs_exactly_once(cp->out) && linger_ms < 0)
		return -EALREADY;
	if (outputs_embedded(cp->out))
		return -EOPNOTSUPP;
	cp->switch_pending = true;
	cp->switch_to = p;
	cp->switch_linger_ms = linger_ms;
	cp->switch_cb = done;
	cp->switch_arg = arg;
	if (!cp->running)
		take(cp, NULL, NULL, NULL); /* the boundary is now */
	return 0;
}

void checkpoints_on_aborted(struct checkpoints *cp, const char *why)
{
	if (cp->running)
		return; /* the running checkpoint sees the abort and rewinds */
	cp->st.failed++;
	set_error(cp, "transaction aborted: %s", why);
	rewind_state(cp, why);
}

/* ---------------------------------------------------------------- restore */

static void restore_finish(struct checkpoints *cp, int status, const char *why)
{
	void (*done)(void *, int, const char *) = cp->restore_done;
	uv_timer_stop(&cp->retry);
	free(cp->cand);
	cp->cand = NULL;
	cp->restore_done = NULL;
	cp->st.restore_ns = mono() - cp->restore_start;
	if (status == 0) {
		/* The state now is the committed state: the rewind point. */
		uint8_t *buf = NULL;
		size_t len = 0, cap = 0;
		int rc = outputs_exactly_once(cp->out) ? encode_now(cp, cp->st.restored_id, &buf, &len, &cap) : 0;
		if (rc < 0) {
			status = rc;
			why = "cannot encode the restored state";
		} else {
			keep_good(cp, buf, len, cap, cp->st.restored_id);
			prefault(cp, len);
			cp->next_id = (cp->newest_id > cp->st.restored_id ? cp->newest_id : cp->st.restored_id) + 1;
			cp->active = true;
			cp->st.store_ok = true;
		}
	}
	if (status < 0)
		set_error(cp, "%s", why);
	if (done)
		done(cp->restore_arg, status, why);
}

static void on_newest(const struct store_latest *res, void *arg);

static void restore_load(struct checkpoints *cp, const uint8_t *buf, size_t len, uint64_t id, const char *what)
{
	char err[512], why[700];
	int rc = load(cp, buf, len, id, "restart", err, sizeof(err));
	if (rc < 0) {
		snprintf(why, sizeof(why), "%s: %s", what, err);
		restore_finish(cp, rc, why);
		return;
	}
	cp->st.restores++;
	cp->st.restored_id = id;
	log_info(cp->log, LOG_SUB_STATE, "restored %s (%zu bytes)", what, len);
	if (cp->from_savepoint) {
		/* Ids are never reused: the next one follows the store's newest. */
		if (store_latest(cp->store, UINT64_MAX, on_newest, cp) == 0)
			return;
	}
	restore_finish(cp, 0, NULL);
}

static void on_newest(const struct store_latest *res, void *arg)
{
	struct checkpoints *cp = arg;
	if (res->status == 0 && res->id > cp->newest_id)
		cp->newest_id = res->id;
	restore_finish(cp, 0, NULL);
}

static int compatible(struct checkpoints *cp, const uint8_t *buf, size_t len, char *why, size_t whylen)
{
	struct snapshot snap;
	char err[1200];
	int rc = snapshot_read(buf, len, &snap, err, sizeof(err));
	if (rc == 0)
		rc = snapshot_compatible(&snap, cp->fingerprint, err, sizeof(err));
	if (rc < 0)
		snprintf(why, whylen, "checkpoint %" PRIu64 " was written under another configuration (%s); "
			 "move %s aside or restore a matching savepoint", snap.id, err, store_describe(cp->store));
	return rc;
}

static void report_skipped(struct checkpoints *cp, const struct store_latest *res)
{
	for (size_t i = 0; i < res->nskipped; i++)
		log_warn(cp->log, LOG_SUB_STATE, "checkpoint %" PRIu64 " skipped: %s", res->skipped[i].id,
			 res->skipped[i].reason);
}

static void restore_begin(struct checkpoints *cp);

static void on_retry(uv_timer_t *t)
{
	restore_begin(t->data);
}

/* A store or Kafka error at start: retried until the deadline. */
static void restore_retry(struct checkpoints *cp, const char *why)
{
	if (mono() + (int64_t)RESTORE_RETRY_MS * 1000000 > cp->restore_deadline) {
		restore_finish(cp, -ETIMEDOUT, why);
		return;
	}
	set_error(cp, "%s (retrying)", why);
	log_warn(cp->log, LOG_SUB_STATE, "%s; retrying", why);
	uv_timer_start(&cp->retry, on_retry, RESTORE_RETRY_MS, 0);
}

static void on_bounded(const struct store_latest *res, void *arg)
{
	struct checkpoints *cp = arg;
	char what[256];
	if (cp->closing)
		return restore_finish(cp, -ECANCELED, "closing");
	report_skipped(cp, res);
	if (res->status == -ENOENT) {
		log_warn(cp->log, LOG_SUB_STATE, "Kafka's newest committed checkpoint is %" PRIu64 " but the store has "
			 "none up to it: starting fresh; outputs already committed will be emitted again", cp->scan_id);
		return restore_finish(cp, 0, NULL);
	}
	if (res->status < 0) {
		snprintf(what, sizeof(what), "store %s: %s", store_describe(cp->store),
			 res->error && *res->error ? res->error : strerror(-res->status));
		return restore_retry(cp, what);
	}
	if (res->id != cp->scan_id)
		log_warn(cp->log, LOG_SUB_STATE, "checkpoint %" PRIu64 " (committed) is not in the store; restoring %" PRIu64
			 ": the outputs committed in between are emitted again with the same identities",
			 cp->scan_id, res->id);
	snprintf(what, sizeof(what), "checkpoint %" PRIu64 " (committed in Kafka as %" PRIu64 ")", res->id, cp->scan_id);
	restore_load(cp, res->buf, res->len, res->id, what);
}

static void scan_work(uv_work_t *w)
{
	struct checkpoints *cp = w->data;
	cp->scan_rc = kafka_markers_scan(&cp->scan_req, &cp->scan_id, cp->scan_err, sizeof(cp->scan_err));
}

static void scan_after(uv_work_t *w, int status)
{
	struct checkpoints *cp = w->data;
	char what[400];
	cp->scanning = false;
	if (cp->closing) { /* close waited for the scan */
		cp->restore_done = NULL;
		maybe_free(cp);
		return;
	}
	if (status < 0 || cp->scan_rc < 0) {
		snprintf(what, sizeof(what), "reading the checkpoint markers from Kafka: %s",
			 status < 0 ? uv_strerror(status) : cp->scan_err);
		return restore_retry(cp, what);
	}
	if (cp->scan_id >= cp->cand_id) {
		if (cp->scan_id > cp->cand_id)
			log_warn(cp->log, LOG_SUB_STATE, "Kafka committed checkpoint %" PRIu64 " but the store's newest is %"
				 PRIu64 ": outputs committed after it are emitted again with the same identities",
				 cp->scan_id, cp->cand_id);
		snprintf(what, sizeof(what), "checkpoint %" PRIu64 " (committed)", cp->cand_id);
		return restore_load(cp, cp->cand, cp->cand_len, cp->cand_id, what);
	}
	if (cp->scan_id == 0) {
		log_warn(cp->log, LOG_SUB_STATE, "checkpoint %" PRIu64 " is in the store but Kafka holds no committed "
			 "checkpoint marker of %s: starting fresh", cp->cand_id, cp->scan_req.txn_id);
		return restore_finish(cp, 0, NULL);
	}
	log_info(cp->log, LOG_SUB_STATE, "checkpoint %" PRIu64 " was written but its transaction did not commit; "
		 "restoring %" PRIu64, cp->cand_id, cp->scan_id);
	if (store_latest(cp->store, cp->scan_id, on_bounded, cp) < 0)
		restore_finish(cp, -EIO, "cannot query the checkpoint store");
}

static void on_latest(const struct store_latest *res, void *arg)
{
	struct checkpoints *cp = arg;
	char why[1400], what[256];
	if (cp->closing)
		return restore_finish(cp, -ECANCELED, "closing");
	report_skipped(cp, res);
	if (res->status == -ENOENT) {
		if (cp->conf->restore_dir)
			return restore_finish(cp, -ENOENT, "state.restore: no complete checkpoint or savepoint there");
		log_info(cp->log, LOG_SUB_STATE, "no checkpoint in %s: starting fresh", store_describe(cp->store));
		return restore_finish(cp, 0, NULL);
	}
	if (res->status == -EPROTO) {
		snprintf(why, sizeof(why), "%s: %s", store_describe(cp->store),
			 res->nskipped ? res->skipped[res->nskipped - 1].reason : "unreadable format version");
		return restore_finish(cp, -EPROTO, why);
	}
	if (res->status < 0) {
		snprintf(what, sizeof(what), "store %s: %s", store_describe(cp->store),
			 res->error && *res->error ? res->error : strerror(-res->status));
		return restore_retry(cp, what);
	}
	if (compatible(cp, res->buf, res->len, why, sizeof(why)) < 0)
		return restore_finish(cp, -EPROTO, why);
	if (cp->conf->restore_dir) { /* an operator's explicit choice: no reconciliation */
		snprintf(what, sizeof(what), "savepoint %s (checkpoint %" PRIu64 ")", cp->conf->restore_dir, res->id);
		cp->newest_id = res->id;
		cp->from_savepoint = true;
		return restore_load(cp, res->buf, res->len, res->id, what);
	}
	cp->newest_id = res->id;
	struct snapshot snap;
	snapshot_read(res->buf, res->len, &snap, NULL, 0);
	bool ask_kafka = outputs_exactly_once(cp->out) && strcmp(snap.profile, "exactly-once") == 0 &&
			 !outputs_embedded(cp->out) && cp->scan_req.txn_id && cp->scan_req.key;
	if (!ask_kafka) {
		snprintf(what, sizeof(what), "checkpoint %" PRIu64, res->id);
		return restore_load(cp, res->buf, res->len, res->id, what);
	}
	/* Whether its transaction committed is Kafka's to say. */
	if (!(cp->cand = malloc(res->len)))
		return restore_finish(cp, -ENOMEM, "out of memory");
	memcpy(cp->cand, res->buf, res->len);
	cp->cand_len = res->len;
	cp->cand_id = res->id;
	cp->scan_req.timeout_ms = (int)((cp->restore_deadline - mono()) / 1000000);
	if (cp->scan_req.timeout_ms < 1000)
		cp->scan_req.timeout_ms = 1000;
	cp->scan_work.data = cp;
	if (uv_queue_work(cp->loop, &cp->scan_work, scan_work, scan_after) < 0)
		return restore_finish(cp, -EIO, "cannot queue the marker scan");
	cp->scanning = true;
}

static void restore_begin(struct checkpoints *cp)
{
	int rc = cp->conf->restore_dir ? store_read_dir(cp->store, cp->conf->restore_dir, on_latest, cp)
				       : store_latest(cp->store, UINT64_MAX, on_latest, cp);
	if (rc < 0)
		restore_finish(cp, rc, "cannot query the checkpoint store");
}

int checkpoints_restore(struct checkpoints *cp, int64_t deadline_ms, void (*done)(void *arg, int status, const char *why),
			void *arg)
{
	cp->restore_done = done;
	cp->restore_arg = arg;
	cp->restore_start = mono();
	cp->restore_deadline = cp->restore_start + deadline_ms * 1000000;
	outputs_markers_req(cp->out, &cp->scan_req);
	cp->scan_req.key = cp->h.marker_key ? cp->h.marker_key(cp->h.arg) : NULL;
	restore_begin(cp);
	return 0;
}

/* ---------------------------------------------------------------- life cycle */

static void fingerprint(const struct conf *c, char *buf, size_t len)
{
	/* What restored state is only meaningful under: the feed (symbols,
	 * seq and dedup are per feed), the role (which sections exist), and
	 * the TA settings that shape bars and indicators. */
	snprintf(buf, len, "v=%d;feed=%s;role=%s;slack=%" PRId64 ";quote-stale=%" PRId64, FINGERPRINT_VERSION,
		 c->alpaca_feed ? c->alpaca_feed : "-", conf_role_name(c->role), c->max_out_of_orderness,
		 c->quote_stale_after);
}

int checkpoints_new(uv_loop_t *loop, const struct conf *c, struct log *log, struct outputs *out,
		    const struct checkpoints_hooks *h, struct checkpoints **res, char *err, size_t errlen)
{
	struct checkpoints *cp = calloc(1, sizeof(*cp));
	char e[512];
	int rc;

	if (!cp)
		return -ENOMEM;
	if ((c->debug_checkpoint_delay || c->debug_checkpoint_step) && !c->debug_test_hooks) {
		snprintf(err, errlen, "%s: needs debug.test-hooks=true (tests only)",
			 c->debug_checkpoint_delay ? "debug.checkpoint-delay" : "debug.checkpoint-step");
		free(cp);
		return -EINVAL;
	}
	cp->loop = loop;
	cp->log = log;
	cp->conf = c;
	cp->out = out;
	cp->h = *h;
	cp->next_id = 1;
	fingerprint(c, cp->fingerprint, sizeof(cp->fingerprint));
	struct store_config sc = {
		.url = c->checkpoints_dir,
		/* One more than asked: the newest may belong to a transaction
		 * that has not committed, and the one before must survive it. */
		.retain = (unsigned)c->checkpoints_retained + 1,
		.s3_endpoint = c->s3_endpoint,
		.s3_region = c->s3_region,
		.s3_path_style = c->s3_path_style,
		.s3_access_key = c->s3_access_key.value,
		.s3_secret_key = c->s3_secret_key.value,
		.s3_ca_file = c->s3_ca_file,
	};
	if ((rc = store_new(loop, &sc, &cp->store, e, sizeof(e))) < 0) {
		snprintf(err, errlen, "state.checkpoints.dir: %s", e);
		free(cp);
		return rc;
	}
	if (c->savepoints_dir) {
		snprintf(cp->savepoints, sizeof(cp->savepoints), "%s", c->savepoints_dir);
	} else {
		/* beside the checkpoints: <parent>/savepoints */
		snprintf(cp->savepoints, sizeof(cp->savepoints), "%s", c->checkpoints_dir);
		size_t n = strlen(cp->savepoints);
		while (n > 1 && cp->savepoints[n - 1] == '/')
			cp->savepoints[--n] = '\0';
		char *slash = strrchr(cp->savepoints, '/');
		if (slash && slash > strstr(cp->savepoints, "//") + 1)
			snprintf(slash + 1, sizeof(cp->savepoints) - (size_t)(slash + 1 - cp->savepoints), "savepoints");
		else
			snprintf(cp->savepoints + n, sizeof(cp->savepoints) - n, "/savepoints");
	}
	uv_timer_init(loop, &cp->timer);
	uv_timer_init(loop, &cp->timeout);
	uv_timer_init(loop, &cp->retry);
	uv_timer_init(loop, &cp->delay);
	uv_idle_init(loop, &cp->encode_idle);
	cp->timer.data = cp->timeout.data = cp->retry.data = cp->delay.data = cp->encode_idle.data = cp;
	cp->handles = 5;
	*res = cp;
	return 0;
}

static void maybe_free(struct checkpoints *cp)
{
	if (cp->handles > 0 || cp->scanning || cp->store || cp->run.sealing || cp->frees || cp->prefaulting)
		return;
	void (*cb)(void *) = cp->closed_cb;
	void *arg = cp->closed_arg;
	free(cp->good);
	free(cp->spare);
	free(cp->cand);
	free(cp->run.buf);
	free(cp->run.savepoint);
	free(cp);
	if (cb)
		cb(arg);
}

static void handle_closed(uv_handle_t *h)
{
	struct checkpoints *cp = h->data;
	cp->handles--;
	maybe_free(cp);
}

static void store_closed(void *arg)
{
	struct checkpoints *cp = arg;
	cp->store = NULL;
	maybe_free(cp);
}

void checkpoints_close(struct checkpoints *cp, void (*cb)(void *arg), void *arg)
{
	cp->closing = true;
	cp->closed_cb = cb;
	cp->closed_arg = arg;
	cp->active = false;
	if (cp->running) /* Kafka is closing too: nothing more commits */
		end_when_idle(cp, -ESHUTDOWN, "closed before the checkpoint completed");
	uv_close((uv_handle_t *)&cp->timer, handle_closed);
	uv_close((uv_handle_t *)&cp->timeout, handle_closed);
	uv_close((uv_handle_t *)&cp->retry, handle_closed);
	uv_close((uv_handle_t *)&cp->delay, handle_closed);
	uv_close((uv_handle_t *)&cp->encode_idle, handle_closed);
	/* Jobs already queued finish first (their callbacks see closing). */
	store_close(cp->store, store_closed, cp);
}

/* ---------------------------------------------------------------- status */

void checkpoints_set_hist(struct checkpoints *cp, struct hist *duration)
{
	cp->duration = duration;
}

void checkpoints_stats(const struct checkpoints *cp, struct checkpoints_stats *s)
{
	*s = cp->st;
	s->in_progress = cp->running;
	s->last_error = cp->last_error;
}

bool checkpoints_gate(const struct checkpoints *cp)
{
	if (!cp->active)
		return false;
	if (!cp->st.store_ok)
		return false;
	/* The newest restore point must be recent: 2 intervals + the timeout. */
	int64_t limit = 2 * cp->conf->checkpoint_interval + cp->conf->checkpoint_timeout;
	int64_t since = cp->st.last_done_real_ns ? real_ns() - cp->st.last_done_real_ns : mono() - cp->restore_start;
	return since <= limit;
}

json_t *checkpoints_status_json(const struct checkpoints *cp)
{
	const struct checkpoints_stats *s = &cp->st;
	json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I}", "store", store_describe(cp->store),
			      "savepoints", cp->savepoints, "gate", checkpoints_gate(cp), "in_progress", cp->running,
			      "last_id", (json_int_t)s->last_id, "completed", (json_int_t)s->completed, "failed",
			      (json_int_t)s->failed, "aborts_rewound", (json_int_t)s->aborts_restored, "restored_id",
			      (json_int_t)s->restored_id, "next_id", (json_int_t)cp->next_id);
	if (!o)
		return NULL;
	if (s->last_done_real_ns)
		json_object_set_new(o, "last_age_ms", json_integer((real_ns() - s->last_done_real_ns) / 1000000));
	else
		json_object_set_new(o, "last_age_ms", json_null());
	json_object_set_new(o, "last_duration_ms", json_real(s->last_duration_ns / 1e6));
	json_object_set_new(o, "last_snapshot_ms", json_real(s->last_snapshot_ns / 1e6));
	json_object_set_new(o, "max_snapshot_ms", json_real(s->max_snapshot_ns / 1e6));
	json_object_set_new(o, "last_snapshot_step_max_ms", json_real(s->last_step_max_ns / 1e6));
	json_object_set_new(o, "max_snapshot_step_ms", json_real(s->max_step_ns / 1e6));
	json_object_set_new(o, "last_snapshot_steps", json_integer(s->last_steps));
	json_object_set_new(o, "last_bytes", json_integer((json_int_t)s->last_bytes));
	json_object_set_new(o, "restore_ms", json_real(s->restore_ns / 1e6));
	json_object_set_new(o, "last_error", cp->last_error[0] ? json_string(cp->last_error) : json_null());
	return o;
}
