#include "config.h"

#include "ctl/proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ctl_proto_parse_request(const char *line, size_t n, json_t **req, const char **cmd, char *err,
			    size_t errlen)
{
	json_error_t jerr;
	json_t *r, *c, *v;

	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	r = json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr);
	if (!r) {
		snprintf(err, errlen, "malformed JSON: %s (at byte %d)", jerr.text, jerr.position);
		return -EINVAL;
	}
	if (!json_is_object(r)) {
		snprintf(err, errlen, "a request is a JSON object like {\"cmd\":\"status\"}");
		goto bad;
	}
	v = json_object_get(r, "v");
	if (v && (!json_is_integer(v) || json_integer_value(v) < 1)) {
		snprintf(err, errlen, "\"v\" must be a positive integer protocol version");
		goto bad;
	}
	if (v && json_integer_value(v) > CTL_PROTO_VERSION) {
		snprintf(err, errlen, "protocol version %lld is not supported (this daemon speaks %d)",
			 (long long)json_integer_value(v), CTL_PROTO_VERSION);
		goto bad;
	}
	c = json_object_get(r, "cmd");
	if (!json_is_string(c) || json_string_length(c) == 0) {
		snprintf(err, errlen, "the request needs a \"cmd\" string");
		goto bad;
	}
	*req = r;
	*cmd = json_string_value(c);
	return 0;
bad:
	json_decref(r);
	return -EINVAL;
}

static char *dump_line(json_t *o, size_t *len)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (!s)
		return NULL;
	size_t n = strlen(s);
	char *line = realloc(s, n + 2);
	if (!line) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	*len = n + 1;
	return line;
}

char *ctl_proto_reply_ok(json_t *fields, size_t *len)
{
	json_t *o = json_pack("{s:b,s:i}", "ok", 1, "v", CTL_PROTO_VERSION);
	if (!o) {
		json_decref(fields);
		return NULL;
	}
	if (fields) {
		json_object_del(fields, "ok");
		json_object_del(fields, "v");
		json_object_update(o, fields);
		json_decref(fields);
	}
	return dump_line(o, len);
}

char *ctl_proto_reply_error(const char *msg, size_t *len)
{
	json_t *o = json_pack("{s:b,s:i,s:s}", "ok", 0, "v", CTL_PROTO_VERSION, "error", msg);
	return o ? dump_line(o, len) : NULL;
}

json_t *ctl_proto_request_from_argv(int argc, char *const *argv, char *err, size_t errlen)
{
	const char *cmd;
	json_t *r;

	if (argc < 1) {
		snprintf(err, errlen, "no command given");
		return NULL;
	}
	cmd = argv[0];
	r = json_pack("{s:s,s:i}", "cmd", cmd, "v", CTL_PROTO_VERSION);
	if (!r)
		return NULL;
	if (strcmp(cmd, "subscribe") == 0 || strcmp(cmd, "unsubscribe") == 0) {
		if (argc < 2) {
			snprintf(err, errlen, "usage: %s SYMBOL...", cmd);
			json_decref(r);
			return NULL;
		}
		json_t *a = json_array();
		for (int i = 1; i < argc; i++)
			json_array_append_new(a, json_string(argv[i]));
		json_object_set_new(r, "symbols", a);
	} else if (strcmp(cmd, "log-level") == 0) {
		if (argc > 2) {
			snprintf(err, errlen, "usage: log-level [error|warn|info|debug]");
			json_decref(r);
			return NULL;
		}
		if (argc == 2)
			json_object_set_new(r, "level", json_string(argv[1]));
	} else if (strcmp(cmd, "profile") == 0) {
		if (argc > 2) {
			snprintf(err, errlen, "usage: profile [exactly-once|low-latency]");
			json_decref(r);
			return NULL;
		}
		if (argc == 2)
			json_object_set_new(r, "profile", json_string(argv[1]));
	} else if (strcmp(cmd, "savepoint") == 0) {
		if (argc > 2) {
			snprintf(err, errlen, "usage: savepoint [DIR]");
			json_decref(r);
			return NULL;
		}
		if (argc == 2 && argv[1][0] != '/' && !strstr(argv[1], "://")) {
			/* The daemon's working directory is not ours. */
			char cwd[4096], abs[8192];
			if (!getcwd(cwd, sizeof(cwd))) {
				snprintf(err, errlen, "savepoint: cannot resolve %s: %s", argv[1], strerror(errno));
				json_decref(r);
				return NULL;
			}
			snprintf(abs, sizeof(abs), "%s/%s", cwd, argv[1]);
			json_object_set_new(r, "dir", json_string(abs));
		} else if (argc == 2) {
			json_object_set_new(r, "dir", json_string(argv[1]));
		}
	} else if (argc > 1) {
		snprintf(err, errlen, "%s takes no arguments", cmd);
		json_decref(r);
		return NULL;
	}
	return r;
}
