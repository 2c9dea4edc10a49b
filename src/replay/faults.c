/* faults.c - fault injection bookkeeping (see faults.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "replay/faults.h"

void replay_faults_init(struct replay_faults *f)
{
	*f = (struct replay_faults){
		.drop_after_msgs = REPLAY_FAULT_OFF,
		.drop_after_ms = REPLAY_FAULT_OFF,
		.stall_after = REPLAY_FAULT_OFF,
		.malformed_after = REPLAY_FAULT_OFF,
		.slow_client_after = REPLAY_FAULT_OFF,
	};
}

int replay_faults_parse_count(const char *s, uint64_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v >= REPLAY_FAULT_OFF)
		return -EINVAL;
	*out = v;
	return 0;
}

int replay_faults_parse_ms(const char *s, uint64_t *ms)
{
	if (!s || ((*s < '0' || *s > '9') && *s != '.'))
		return -EINVAL;
	uint64_t whole = 0, frac = 0, scale = 1000;
	const char *p = s;
	bool digits = false;
	for (; *p >= '0' && *p <= '9'; p++, digits = true) {
		if (whole > UINT64_MAX / 10000)
			return -EINVAL;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits = true) {
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*p - '0') * scale;
			}
		}
	}
	if (*p || !digits)
		return -EINVAL;
	*ms = whole * 1000 + frac;
	return 0;
}

bool replay_faults_takes_value(const char *name)
{
	static const char *const names[] = {"fault-conn",      "drop-after-msgs",   "drop-after",
	                                    "stall-after",     "malformed-after",   "slow-client-after",
	                                    "http-429"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

int replay_faults_set(struct replay_faults *f, const char *name, const char *value)
{
	if (strcmp(name, "no-pong") == 0 || strcmp(name, "reject-auth") == 0) {
		if (value)
			return -EINVAL;
		if (name[0] == 'n')
			f->no_pong = true;
		else
			f->reject_auth = true;
		return 0;
	}
	if (!replay_faults_takes_value(name))
		return -ENOENT;
	uint64_t v;
	if (strcmp(name, "drop-after") == 0)
		return replay_faults_parse_ms(value, &f->drop_after_ms);
	if (replay_faults_parse_count(value, &v) < 0)
		return -EINVAL;
	if (strcmp(name, "fault-conn") == 0 || strcmp(name, "http-429") == 0) {
		if (v > UINT32_MAX)
			return -EINVAL;
		if (name[0] == 'f')
			f->fault_conn = (uint32_t)v;
		else
			f->http_429 = (uint32_t)v;
	} else if (strcmp(name, "drop-after-msgs") == 0) {
		f->drop_after_msgs = v;
	} else if (strcmp(name, "stall-after") == 0) {
		f->stall_after = v;
	} else if (strcmp(name, "malformed-after") == 0) {
		f->malformed_after = v;
	} else {
		f->slow_client_after = v;
	}
	return 0;
}

int replay_faults_upgrade_status(const struct replay_faults *f, uint32_t conn_no)
{
	return conn_no >= 1 && conn_no <= f->http_429 ? 429 : 101;
}

void replay_faults_conn_init(struct replay_faults_conn *c, const struct replay_faults *f,
                             uint32_t conn_no)
{
	*c = (struct replay_faults_conn){
		.f = f,
		.active = f->fault_conn == 0 || f->fault_conn == conn_no,
	};
}

bool replay_faults_no_pong(const struct replay_faults_conn *c)
{
	return c->active && c->f->no_pong;
}

bool replay_faults_reject_auth(const struct replay_faults_conn *c)
{
	return c->active && c->f->reject_auth;
}

uint64_t replay_faults_drop_ms(const struct replay_faults_conn *c)
{
	return c->active ? c->f->drop_after_ms : REPLAY_FAULT_OFF;
}

static uint64_t rf_min_ahead(uint64_t room, uint64_t threshold, uint64_t sent)
{
	if (threshold == REPLAY_FAULT_OFF || threshold < sent)
		return room;
	uint64_t d = threshold - sent;
	return d < room ? d : room;
}

uint64_t replay_faults_room(const struct replay_faults_conn *c)
{
	if (!c->active)
		return REPLAY_FAULT_OFF;
	if (c->stalled)
		return 0;
	const struct replay_faults *f = c->f;
	uint64_t room = REPLAY_FAULT_OFF;
	room = rf_min_ahead(room, f->drop_after_msgs, c->sent);
	room = rf_min_ahead(room, f->slow_client_after, c->sent);
	if (!c->malformed_done)
		room = rf_min_ahead(room, f->malformed_after, c->sent);
	room = rf_min_ahead(room, f->stall_after, c->sent);
	return room;
}

void replay_faults_sent(struct replay_faults_conn *c, uint64_t n)
{
	c->sent += n;
}

static bool rf_reached(uint64_t threshold, uint64_t sent)
{
	return threshold != REPLAY_FAULT_OFF && sent >= threshold;
}

enum replay_fault replay_faults_due(struct replay_faults_conn *c)
{
	if (!c->active)
		return REPLAY_FAULT_NONE;
	const struct replay_faults *f = c->f;
	if (rf_reached(f->drop_after_msgs, c->sent))
		return REPLAY_FAULT_DROP;
	if (rf_reached(f->slow_client_after, c->sent))
		return REPLAY_FAULT_SLOW;
	if (!c->malformed_done && rf_reached(f->malformed_after, c->sent)) {
		c->malformed_done = true;
		return REPLAY_FAULT_MALFORMED;
	}
	if (!c->stalled && rf_reached(f->stall_after, c->sent)) {
		c->stalled = true;
		return REPLAY_FAULT_STALL;
	}
	return REPLAY_FAULT_NONE;
}

const char *replay_fault_name(enum replay_fault f)
{
	switch (f) {
	case REPLAY_FAULT_NONE: return "none";
	case REPLAY_FAULT_DROP: return "drop";
	case REPLAY_FAULT_SLOW: return "slow client";
	case REPLAY_FAULT_MALFORMED: return "malformed frame";
	case REPLAY_FAULT_STALL: return "stall";
	}
	return "?";
}
