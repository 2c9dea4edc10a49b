/* Tests of the control protocol, the access policy and the socket server. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ctl/access.h"
#include "ctl/client.h"
#include "ctl/proto.h"
#include "ctl/server.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------ protocol */

static void test_parse_request(void **state)
{
	json_t *req;
	const char *cmd;
	char err[256];

	assert_int_equal(ctl_proto_parse_request("{\"cmd\":\"status\"}", 16, &req, &cmd, err, sizeof(err)), 0);
	assert_string_equal(cmd, "status");
	json_decref(req);
	const char *crlf = "{\"cmd\":\"status\",\"v\":1}\r";
	assert_int_equal(ctl_proto_parse_request(crlf, strlen(crlf), &req, &cmd, err, sizeof(err)), 0);
	json_decref(req);

	static const struct {
		const char *line, *needle;
	} bad[] = {
		{"{\"cmd\":", "malformed JSON"},
		{"not json", "malformed JSON"},
		{"[1,2]", "a request is a JSON object"},
		{"{}", "needs a \"cmd\" string"},
		{"{\"cmd\":7}", "needs a \"cmd\" string"},
		{"{\"cmd\":\"\"}", "needs a \"cmd\" string"},
		{"{\"cmd\":\"status\",\"v\":99}", "protocol version 99 is not supported"},
		{"{\"cmd\":\"status\",\"v\":\"1\"}", "positive integer"},
		{"{\"cmd\":\"a\",\"cmd\":\"b\"}", "malformed JSON"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ctl_proto_parse_request(bad[i].line, strlen(bad[i].line), &req, &cmd, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].needle))
			fail_msg("%s: got \"%s\"", bad[i].line, err);
	}
}

static void test_replies(void **state)
{
	size_t len;
	char *s = ctl_proto_reply_ok(json_pack("{s:s,s:b}", "x", "y", "ok", 0), &len);
	json_t *o = json_loadb(s, len, 0, NULL);
	assert_true(json_is_true(json_object_get(o, "ok"))); /* a handler cannot fake ok */
	assert_string_equal(json_string_value(json_object_get(o, "x")), "y");
	assert_int_equal(s[len - 1], '\n');
	json_decref(o);
	free(s);
	s = ctl_proto_reply_error("bad \"thing\"\n", &len);
	o = json_loadb(s, len, 0, NULL);
	assert_true(json_is_false(json_object_get(o, "ok")));
	assert_string_equal(json_string_value(json_object_get(o, "error")), "bad \"thing\"\n");
	assert_null(memchr(s, '\n', len - 1)); /* one line, whatever the message holds */
	json_decref(o);
	free(s);
}

static void test_request_from_argv(void **state)
{
	char err[128];
	char *sub[] = {"subscribe", "NVDA", "AAPL"};
	json_t *r = ctl_proto_request_from_argv(3, sub, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(json_array_size(json_object_get(r, "symbols")), 2);
	json_decref(r);
	char *sub0[] = {"subscribe"};
	assert_null(ctl_proto_request_from_argv(1, sub0, err, sizeof(err)));
	char *st[] = {"status", "extra"};
	assert_null(ctl_proto_request_from_argv(2, st, err, sizeof(err)));
	char *lv[] = {"log-level", "debug"};
	r = ctl_proto_request_from_argv(2, lv, err, sizeof(err));
	assert_string_equal(json_string_value(json_object_get(r, "level")), "debug");
	json_decref(r);
}

static void test_access_policy(void **state)
{
	struct ctl_peer p = {.uid = 0, .gid = 0};
	assert_int_equal(ctl_access_decide(&p, 998, 997), CTL_ACCESS_ALL); /* root */
	p.uid = 998;
	p.gid = 998;
	assert_int_equal(ctl_access_decide(&p, 998, 997), CTL_ACCESS_ALL); /* the daemon's user */
	p.uid = 1000;
	p.gid = 997;
	assert_int_equal(ctl_access_decide(&p, 998, 997), CTL_ACCESS_READ); /* primary group */
	p.gid = 1000;
	p.groups[0] = 5;
	p.groups[1] = 997;
	p.ngroups = 2;
	assert_int_equal(ctl_access_decide(&p, 998, 997), CTL_ACCESS_READ); /* supplementary */
	p.ngroups = 1;
	assert_int_equal(ctl_access_decide(&p, 998, 997), CTL_ACCESS_NONE); /* anyone else */
}

/* ------------------------------------------------------------ server */

struct fixture {
	uv_loop_t loop;
	struct ctl_server *srv;
	char dir[64], path[100];
	int status_calls, mut_calls;
	struct ctl_call *pending; /* for the async command */
	bool closed;
};

static void h_status(void *arg, struct ctl_call *call, json_t *req)
{
	struct fixture *f = arg;
	f->status_calls++;
	ctl_call_reply(call, json_pack("{s:s,s:s}", "state", "running", "access", ctl_access_name(ctl_call_access(call))));
}

static void h_mut(void *arg, struct ctl_call *call, json_t *req)
{
	struct fixture *f = arg;
	f->mut_calls++;
	ctl_call_reply(call, NULL);
}

static void h_later(void *arg, struct ctl_call *call, json_t *req)
{
	struct fixture *f = arg;
	f->pending = call; /* answered by the test from the loop */
}

static const struct ctl_command cmds[] = {
	{"status", false, h_status},
	{"mutate", true, h_mut},
	{"later", false, h_later},
};

static int srv_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];
	snprintf(f->dir, sizeof(f->dir), "/tmp/tg-ctl-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	chmod(f->dir, 0755);
	snprintf(f->path, sizeof(f->path), "%s/control.sock", f->dir);
	uv_loop_init(&f->loop);
	struct ctl_server_opts o = {.path = f->path, .commands = cmds, .ncommands = 3, .arg = f, .daemon_uid = geteuid()};
	assert_int_equal(ctl_server_new(&f->loop, &o, &f->srv, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static void on_closed(void *arg)
{
	((struct fixture *)arg)->closed = true;
}

static int srv_teardown(void **state)
{
	struct fixture *f = *state;
	ctl_server_close(f->srv, on_closed, f);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	assert_int_equal(access(f->path, F_OK), -1); /* socket file removed */
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Runs a client in a child process (optionally as another user) that sends
 * `out` and collects everything the server writes until it closes or a
 * number of reply lines arrived; the parent pumps the server's loop. */
struct client_run {
	const char *send;
	size_t send_len;
	int want_lines;
	uid_t uid;      /* 0: stay as we are */
	gid_t group;    /* supplementary group when uid != 0, (gid_t)-1: none */
	char reply[8192];
	int connect_errno;
};

static void run_client(struct fixture *f, struct client_run *r)
{
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		if (r->uid) {
			gid_t g = r->group;
			if (setgroups(g == (gid_t)-1 ? 0 : 1, &g) < 0 || setgid(65534) < 0 || setuid(r->uid) < 0)
				_exit(90);
		}
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			char e[32];
			int n = snprintf(e, sizeof(e), "E%d", errno);
			if (write(pfd[1], e, (size_t)n) < 0)
				_exit(91);
			_exit(0);
		}
		size_t off = 0;
		while (off < r->send_len) {
			ssize_t n = send(fd, r->send + off, r->send_len - off, MSG_NOSIGNAL);
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		char buf[8192];
		size_t got = 0;
		int lines = 0;
		while (lines < r->want_lines && got < sizeof(buf) - 1) {
			ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
			if (n <= 0)
				break;
			for (ssize_t i = 0; i < n; i++)
				lines += buf[got + (size_t)i] == '\n';
			got += (size_t)n;
		}
		if (write(pfd[1], buf, got) < 0)
			_exit(92);
		_exit(0);
	}
	close(pfd[1]);
	int st;
	while (waitpid(pid, &st, WNOHANG) == 0) {
		uv_run(&f->loop, UV_RUN_NOWAIT);
		if (f->pending) { /* answer the async call a little later */
			struct ctl_call *c = f->pending;
			f->pending = NULL;
			ctl_call_reply(c, json_pack("{s:s}", "done", "later"));
		}
		usleep(1000);
	}
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	ssize_t n = read(pfd[0], r->reply, sizeof(r->reply) - 1);
	r->reply[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	r->connect_errno = r->reply[0] == 'E' ? atoi(r->reply + 1) : 0;
	uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void test_server_commands(void **state)
{
	struct fixture *f = *state;
	const char *script = "{\"cmd\":\"status\"}\n"
			     "{\"cmd\":\"nope\"}\n"
			     "{broken\n"
			     "\n"
			     "{\"cmd\":\"later\"}\n"
			     "{\"cmd\":\"mutate\"}\n";
	struct client_run r = {.send = script, .send_len = strlen(script), .want_lines = 5};
	run_client(f, &r);
	char *lines[5] = {0};
	char *save = NULL;
	int n = 0;
	for (char *l = strtok_r(r.reply, "\n", &save); l && n < 5; l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	assert_int_equal(n, 5);
	assert_non_null(strstr(lines[0], "\"ok\":true"));
	assert_non_null(strstr(lines[0], "\"access\":\"all\""));
	assert_non_null(strstr(lines[1], "unknown command \\\"nope\\\""));
	assert_non_null(strstr(lines[2], "malformed JSON"));
	/* the async reply comes before the next request is even read: order kept */
	assert_non_null(strstr(lines[3], "\"done\":\"later\""));
	assert_non_null(strstr(lines[4], "\"ok\":true"));
	assert_int_equal(f->status_calls, 1);
	assert_int_equal(f->mut_calls, 1);
}

static void test_oversized_line(void **state)
{
	struct fixture *f = *state;
	size_t n = CTL_LINE_MAX + 5000;
	char *big = malloc(n);
	memset(big, 'x', n);
	struct client_run r = {.send = big, .send_len = n, .want_lines = 1};
	run_client(f, &r);
	assert_non_null(strstr(r.reply, "request line exceeds 65536 bytes"));
	free(big);
	/* the server is still healthy */
	struct client_run ok = {.send = "{\"cmd\":\"status\"}\n", .send_len = 17, .want_lines = 1};
	run_client(f, &ok);
	assert_non_null(strstr(ok.reply, "\"ok\":true"));
}

static void test_read_only_group(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	if (geteuid() != 0)
		skip(); /* needs root to become another user */
	assert_int_equal(stat(f->path, &st), 0);
	/* nobody, in the socket's group: read-only commands only */
	const char *script = "{\"cmd\":\"status\"}\n{\"cmd\":\"mutate\"}\n";
	struct client_run r = {.send = script, .send_len = strlen(script), .want_lines = 2, .uid = 65534, .group = st.st_gid};
	run_client(f, &r);
	assert_int_equal(r.connect_errno, 0);
	assert_non_null(strstr(r.reply, "\"access\":\"read-only\""));
	assert_non_null(strstr(r.reply, "permission denied: \\\"mutate\\\" changes the daemon"));
	assert_int_equal(f->mut_calls, 0);
}

static void test_forbidden_user(void **state)
{
	struct fixture *f = *state;
	if (geteuid() != 0)
		skip();
	/* the 0660 mode is the first gate ... */
	struct client_run r = {.send = "{\"cmd\":\"status\"}\n", .send_len = 17, .want_lines = 1, .uid = 65534, .group = (gid_t)-1};
	run_client(f, &r);
	assert_int_equal(r.connect_errno, EACCES);
	/* ... and the peer-credential check the second, should the mode be loosened */
	chmod(f->path, 0666);
	struct client_run r2 = {.send = "{\"cmd\":\"status\"}\n", .send_len = 17, .want_lines = 1, .uid = 65534, .group = (gid_t)-1};
	run_client(f, &r2);
	assert_non_null(strstr(r2.reply, "permission denied: uid 65534"));
	assert_int_equal(f->status_calls, 0);
}

static void test_second_daemon_refused(void **state)
{
	struct fixture *f = *state;
	struct ctl_server *other = NULL;
	char err[256];
	struct ctl_server_opts o = {.path = f->path, .commands = cmds, .ncommands = 3, .arg = f, .daemon_uid = geteuid()};
	assert_int_equal(ctl_server_new(&f->loop, &o, &other, err, sizeof(err)), -EADDRINUSE);
	assert_non_null(strstr(err, "another daemon"));
	uv_run(&f->loop, UV_RUN_NOWAIT); /* let the failed listener close */
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* as the daemon does: a vanished peer is an error code */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_request),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_request_from_argv),
		cmocka_unit_test(test_access_policy),
		cmocka_unit_test_setup_teardown(test_server_commands, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_oversized_line, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_read_only_group, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_forbidden_user, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_second_daemon_refused, srv_setup, srv_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
