/* daemon_int.h - the daemon's state, shared by daemon.c and commands.c only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "core/conf.h"
#include "core/log.h"
#include "core/notify.h"
#include "ctl/server.h"
#include "daemon/daemon.h"
#include "daemon/outputs.h"
#include "daemon/ingest.h"
#include "daemon/tasource.h"
#include "daemon/analytics.h"
#include "daemon/observe.h"
#include "daemon/schemas.h"

#define DAEMON_MAGIC 0x74676864u /* "tghd": checked where a void * comes back */

enum daemon_state { DAEMON_STARTING = 0, DAEMON_RUNNING, DAEMON_DRAINING };

struct daemon {
	uint32_t magic;
	uv_loop_t loop;
	struct log *log;
	struct conf *conf;
	const struct daemon_args *args;
	const char *credentials_dir;
	struct notify notify;

	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t watchdog;
	struct ctl_server *ctl;
	struct observe *obs;
	struct schemas *schemas;    /* NULL without schema.registry.url */
	int start_gates;            /* dependencies still to be ready before READY=1 */
	struct outputs *out;
	struct analytics *ta;       /* NULL for role=ingest */
	struct ingest *in;          /* NULL for role=ta or when unconfigured */
	struct tasource *src;       /* role=ta's input (the raw topics), else NULL */
	const char *ingest_off;     /* why there is no Alpaca source, or NULL */
	struct checkpoints *cp;     /* the checkpoint coordinator */
	bool in_saved; /* the checkpoint being encoded has the ingest sections */

	enum daemon_state state;
	int exit_code;
	int64_t start_mono_ns;

	/* reload: parsed on the threadpool, applied on the loop */
	bool reloading;
	uv_work_t reload_work;
	struct conf *reload_next;
	/* Configurations replaced by reloads: modules may still point into
	 * them (topic names, channels), so they live until exit. */
	struct conf **retired;
	size_t nretired;
	struct conf_errors reload_err;
	int reload_rc;
	struct ctl_call *reload_call; /* the control call waiting for the result, or NULL */
	unsigned long reloads, reload_failures;
};

void daemon_reload(struct daemon *d, struct ctl_call *call);
void daemon_drain(struct daemon *d, const char *why);

extern const struct ctl_command daemon_commands[];
extern const size_t daemon_ncommands;
