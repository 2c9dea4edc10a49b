#include "config.h"

#include "source/recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_CAP (1u << 20)

struct recorder {
	uv_loop_t *loop;
	uv_file fd;
	uv_fs_t req;
	char *buf[2];
	size_t len[2];
	int fill;      /* buffer being filled */
	bool writing;  /* the other buffer is being written */
	bool closing;
	int64_t origin_ns; /* at_ns counts from the first frame */
	struct recorder_stats st;
	void (*closed_cb)(void *);
	void *closed_arg;
};

int recorder_new(uv_loop_t *loop, const char *path, struct recorder **out)
{
	uv_fs_t req;
	struct recorder *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->buf[0] = malloc(BUF_CAP);
	r->buf[1] = malloc(BUF_CAP);
	/* Start-up only: a synchronous open, before the loop runs. */
	int fd = uv_fs_open(NULL, &req, path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640, NULL);
	uv_fs_req_cleanup(&req);
	if (!r->buf[0] || !r->buf[1] || fd < 0) {
		free(r->buf[0]);
		free(r->buf[1]);
		free(r);
		return fd < 0 ? fd : -ENOMEM;
	}
	r->loop = loop;
	r->fd = fd;
	r->req.data = r;
	*out = r;
	return 0;
}

static void on_file_closed(uv_fs_t *req)
{
	struct recorder *r = req->data;
	uv_fs_req_cleanup(req);
	void (*cb)(void *) = r->closed_cb;
	void *arg = r->closed_arg;
	free(r->buf[0]);
	free(r->buf[1]);
	free(r);
	if (cb)
		cb(arg);
}

static void flush(struct recorder *r);

static void finish_close(struct recorder *r)
{
	if (uv_fs_close(r->loop, &r->req, r->fd, on_file_closed) < 0)
		on_file_closed(&r->req);
}

static void on_written(uv_fs_t *req)
{
	struct recorder *r = req->data;
	if (req->result < 0)
		r->st.write_errors++;
	uv_fs_req_cleanup(req);
	r->len[1 - r->fill] = 0;
	r->writing = false;
	if (r->len[r->fill] > 0 && (r->closing || r->len[r->fill] >= BUF_CAP / 2))
		flush(r);
	else if (r->closing)
		finish_close(r);
}

/* Swaps buffers and writes the full one. */
static void flush(struct recorder *r)
{
	if (r->writing || r->len[r->fill] == 0)
		return;
	int w = r->fill;
	r->fill = 1 - w;
	r->writing = true;
	uv_buf_t b = uv_buf_init(r->buf[w], (unsigned)r->len[w]);
	if (uv_fs_write(r->loop, &r->req, r->fd, &b, 1, -1, on_written) < 0) {
		r->st.write_errors++;
		r->len[w] = 0;
		r->writing = false;
	}
}

void recorder_frame(struct recorder *r, int64_t recv_real_ns, const char *frame, size_t len)
{
	char head[64];
	if (r->closing)
		return;
	if (r->origin_ns == 0)
		r->origin_ns = recv_real_ns;
	int hn = snprintf(head, sizeof(head), "{\"at_ns\":%" PRId64 ",\"frame\":", recv_real_ns - r->origin_ns);
	size_t need = (size_t)hn + len + 2;
	if (r->len[r->fill] + need > BUF_CAP) {
		flush(r);
		if (r->len[r->fill] + need > BUF_CAP) { /* both busy, or one huge frame */
			r->st.dropped_frames++;
			return;
		}
	}
	char *p = r->buf[r->fill] + r->len[r->fill];
	memcpy(p, head, (size_t)hn);
	memcpy(p + hn, frame, len);
	p[hn + len] = '}';
	p[hn + len + 1] = '\n';
	r->len[r->fill] += need;
	r->st.frames++;
	r->st.bytes += need;
	if (r->len[r->fill] >= BUF_CAP / 2)
		flush(r);
}

void recorder_flush(struct recorder *r)
{
	if (!r->closing)
		flush(r);
}

const struct recorder_stats *recorder_stats(const struct recorder *r)
{
	return &r->st;
}

void recorder_close(struct recorder *r, void (*cb)(void *arg), void *arg)
{
	r->closing = true;
	r->closed_cb = cb;
	r->closed_arg = arg;
	if (r->writing)
		return; /* on_written continues */
	if (r->len[r->fill] > 0)
		flush(r);
	else
		finish_close(r);
}
