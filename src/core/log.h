/* log.h - structured logging with levels and subsystems.
 *
 * Plain lines on stderr; native journald fields (PRIORITY, TORGHUT_SUBSYSTEM,
 * CODE_FILE, CODE_LINE) when stderr is connected to the journal. Only the top
 * of the program logs: library layers return codes. Never pass secrets. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

enum log_sub {
	LOG_SUB_CORE = 0,
	LOG_SUB_CONF,
	LOG_SUB_CTL,
	LOG_SUB_NET,
	LOG_SUB_ALPACA,
	LOG_SUB_TA,
	LOG_SUB_KAFKA,
	LOG_SUB_STATE,
	LOG_SUB_HTTP,
	LOG_SUB_COUNT
};

struct log {
	enum log_level level;
	bool journal; /* write journald fields instead of stderr lines */
	const char *ident;
};

/* Picks journald when $JOURNAL_STREAM names our stderr (systemd sets it). */
void log_init(struct log *l, const char *ident, enum log_level level);
void log_fini(struct log *l);

int log_level_parse(const char *s, enum log_level *out); /* 0 or -EINVAL */
const char *log_level_name(enum log_level lv);
const char *log_sub_name(enum log_sub sub);

void log_write(struct log *l, enum log_level lv, enum log_sub sub, const char *file, int line,
	       const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void log_vwrite(struct log *l, enum log_level lv, enum log_sub sub, const char *file, int line,
		const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));

#define LOG_AT(l, lv, sub, ...)                                                        \
	do {                                                                           \
		if ((lv) <= (l)->level)                                                \
			log_write((l), (lv), (sub), __FILE__, __LINE__, __VA_ARGS__);  \
	} while (0)
#define log_error(l, sub, ...) LOG_AT(l, LOG_LEVEL_ERROR, sub, __VA_ARGS__)
#define log_warn(l, sub, ...) LOG_AT(l, LOG_LEVEL_WARN, sub, __VA_ARGS__)
#define log_info(l, sub, ...) LOG_AT(l, LOG_LEVEL_INFO, sub, __VA_ARGS__)
#define log_debug(l, sub, ...) LOG_AT(l, LOG_LEVEL_DEBUG, sub, __VA_ARGS__)
