#include "config.h"

#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const char *const sub_names[LOG_SUB_COUNT] = {"core",  "conf", "ctl",   "net",  "alpaca",
						     "ta",    "kafka", "state", "http"};

/* systemd sets JOURNAL_STREAM=dev:ino for the stream it connected to stderr;
 * matching it avoids sending journald fields when stderr was redirected. */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(struct log *l, const char *ident, enum log_level level)
{
	l->level = level;
	l->ident = ident;
	l->journal = stderr_is_journal();
	setvbuf(stderr, NULL, _IOLBF, 0);
}

void log_fini(struct log *l)
{
	fflush(stderr);
	(void)l;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level lv)
{
	return (unsigned)lv < 4 ? level_names[lv] : "?";
}

const char *log_sub_name(enum log_sub sub)
{
	return (unsigned)sub < LOG_SUB_COUNT ? sub_names[sub] : "?";
}

static int syslog_priority(enum log_level lv)
{
	switch (lv) {
	case LOG_LEVEL_ERROR: return LOG_ERR;
	case LOG_LEVEL_WARN: return LOG_WARNING;
	case LOG_LEVEL_INFO: return LOG_INFO;
	default: return LOG_DEBUG;
	}
}

void log_vwrite(struct log *l, enum log_level lv, enum log_sub sub, const char *file, int line,
		const char *fmt, va_list ap)
{
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (l->journal) {
		char cf[256], cl[32];
		snprintf(cf, sizeof(cf), "CODE_FILE=%s", file);
		snprintf(cl, sizeof(cl), "CODE_LINE=%d", line);
		sd_journal_send("MESSAGE=%s: %s", log_sub_name(sub), msg, "PRIORITY=%d",
				syslog_priority(lv), "TORGHUT_SUBSYSTEM=%s", log_sub_name(sub),
				"SYSLOG_IDENTIFIER=%s", l->ident, cf, cl, NULL);
		return;
	}

	struct timespec ts;
	struct tm tm;
	char when[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	/* One fprintf per line keeps lines whole even if another process shares stderr. */
	fprintf(stderr, "%s.%03ldZ %s %s %s: %s\n", when, ts.tv_nsec / 1000000, l->ident,
		log_level_name(lv), log_sub_name(sub), msg);
}

void log_write(struct log *l, enum log_level lv, enum log_sub sub, const char *file, int line,
	       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vwrite(l, lv, sub, file, line, fmt, ap);
	va_end(ap);
}
