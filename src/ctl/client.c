#include "config.h"

#include "ctl/client.h"
#include "ctl/proto.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short ev, long long deadline)
{
	struct pollfd p = {.fd = fd, .events = ev};
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		int rc = poll(&p, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

int ctl_client_call(const char *path, json_t *req, int timeout_ms, json_t **reply, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	long long deadline = now_ms() + timeout_ms;
	char *line = NULL, *buf = NULL;
	size_t len = 0, cap = 0, off = 0;
	int fd = -1, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot connect to %s: %s%s", path, strerror(errno),
			 errno == ENOENT || errno == ECONNREFUSED ? " (is torghutd running?)" :
			 errno == EACCES ? " (not root, the daemon's user or in the socket's group)" : "");
		goto out;
	}
	line = json_dumps(req, JSON_COMPACT);
	if (!line) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	len = strlen(line);
	line[len] = '\n'; /* json_dumps left room for the NUL we replace */
	while (off < len + 1) {
		ssize_t n = send(fd, line + off, len + 1 - off, MSG_NOSIGNAL);
		if (n < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot send: %s", strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	for (len = 0;;) {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			char *nb = realloc(buf, cap);
			if (!nb) {
				rc = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			buf = nb;
		}
		if ((rc = wait_fd(fd, POLLIN, deadline)) < 0) {
			snprintf(err, errlen, "no reply within %d ms", timeout_ms);
			goto out;
		}
		ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -ECONNRESET;
			snprintf(err, errlen, "the daemon closed the connection without a reply");
			goto out;
		}
		len += (size_t)n;
		char *nl = memchr(buf, '\n', len);
		if (nl) {
			json_error_t je;
			*reply = json_loadb(buf, (size_t)(nl - buf), 0, &je);
			if (!*reply || !json_is_object(*reply)) {
				json_decref(*reply);
				*reply = NULL;
				rc = -EPROTO;
				snprintf(err, errlen, "malformed reply: %s", je.text);
				goto out;
			}
			rc = 0;
			goto out;
		}
	}
out:
	free(line);
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

void ctl_client_print_json(FILE *f, json_t *reply)
{
	json_dumpf(reply, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', f);
}

static void print_value(FILE *f, const char *key, json_t *v, int depth)
{
	const char *k;
	json_t *x;
	size_t i;

	fprintf(f, "%*s%s:", depth * 2, "", key);
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		fputc('\n', f);
		json_object_foreach(v, k, x)
			print_value(f, k, x, depth + 1);
		return;
	case JSON_ARRAY:
		if (json_array_size(v) == 0) {
			fprintf(f, " (none)\n");
			return;
		}
		fputc('\n', f);
		json_array_foreach(v, i, x) {
			if (json_is_object(x) || json_is_array(x)) {
				char idx[32];
				snprintf(idx, sizeof(idx), "[%zu]", i);
				print_value(f, idx, x, depth + 1);
			} else {
				char *s = json_dumps(x, JSON_ENCODE_ANY);
				fprintf(f, "%*s- %s\n", (depth + 1) * 2, "", json_is_string(x) ? json_string_value(x) : s);
				free(s);
			}
		}
		return;
	case JSON_STRING:
		fprintf(f, " %s\n", json_string_value(v));
		return;
	case JSON_REAL:
		fprintf(f, " %.3f\n", json_real_value(v));
		return;
	default: {
		char *s = json_dumps(v, JSON_ENCODE_ANY);
		fprintf(f, " %s\n", s ? s : "?");
		free(s);
	}
	}
}

void ctl_client_print_human(FILE *f, json_t *reply)
{
	const char *k;
	json_t *v;

	if (!json_is_true(json_object_get(reply, "ok"))) {
		json_t *e = json_object_get(reply, "error");
		fprintf(f, "error: %s\n", json_is_string(e) ? json_string_value(e) : "(no reason given)");
		return;
	}
	json_object_foreach(reply, k, v) {
		if (strcmp(k, "ok") == 0 || strcmp(k, "v") == 0)
			continue;
		print_value(f, k, v, 0);
	}
}
