/* ws_handshake.c - HTTP/1.1 upgrade for WebSocket, both roles (see
 * ws_handshake.h). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>
#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>

#include "net/ws_handshake.h"

#define WS_HANDSHAKE_MAGIC 0x57534853u /* "WSHS" */

struct ws_hdr_span {
	char *name;
	size_t name_len;
	char *value;
	size_t value_len;
};

struct ws_handshake {
	uint32_t magic;
	bool server;
	bool done;
	bool upgrade; /* http-parser saw Upgrade + "Connection: upgrade" */
	bool headers_complete;
	bool in_value; /* last header callback was a value: the next field starts a header */
	http_parser parser;
	http_parser_settings settings;
	int status;
	unsigned short http_major, http_minor;
	char *target;
	size_t target_len;
	struct ws_hdr_span hdrs[WS_HANDSHAKE_HEADERS_MAX];
	size_t n_hdrs;
	bool too_many;
	char key[WS_KEY_LEN + 1];     /* client: what we sent */
	char *out;                    /* request/response being built */
	size_t out_len, out_cap;
	char err[128];
	size_t head_len;
	char head[WS_HANDSHAKE_HEAD_MAX + 1];
};

/* --- pure helpers -------------------------------------------------------- */

int ws_handshake_make_key(char out[WS_KEY_LEN + 1], ws_rng_fn rng, void *p_rng)
{
	unsigned char nonce[16];
	size_t olen;
	if (!rng || rng(p_rng, nonce, sizeof(nonce)) != 0)
		return -EIO;
	if (mbedtls_base64_encode((unsigned char *)out, WS_KEY_LEN + 1, &olen, nonce,
	                          sizeof(nonce)) != 0 || olen != WS_KEY_LEN)
		return -EIO;
	return 0;
}

int ws_handshake_accept_for(const char *key, size_t key_len, char out[WS_ACCEPT_LEN + 1])
{
	/* Keys are 24 characters; anything far longer is not a key. */
	unsigned char buf[128 + sizeof(WS_GUID)];
	unsigned char digest[20];
	size_t olen;
	if (!key || key_len == 0 || key_len > 128)
		return -EINVAL;
	memcpy(buf, key, key_len);
	memcpy(buf + key_len, WS_GUID, sizeof(WS_GUID) - 1);
	if (mbedtls_sha1_ret(buf, key_len + sizeof(WS_GUID) - 1, digest) != 0)
		return -EINVAL;
	if (mbedtls_base64_encode((unsigned char *)out, WS_ACCEPT_LEN + 1, &olen, digest,
	                          sizeof(digest)) != 0 || olen != WS_ACCEPT_LEN)
		return -EINVAL;
	return 0;
}

/* --- output builder ------------------------------------------------------ */

static int ws_hs_printf(struct ws_handshake *hs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int ws_hs_printf(struct ws_handshake *hs, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = hs->out_cap - hs->out_len;
		int n = vsnprintf(hs->out ? hs->out + hs->out_len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -EINVAL;
		if ((size_t)n < room) {
			hs->out_len += (size_t)n;
			return 0;
		}
		size_t cap = hs->out_cap ? hs->out_cap * 2 : 512;
		while (cap < hs->out_len + (size_t)n + 1)
			cap *= 2;
		char *p = realloc(hs->out, cap);
		if (!p)
			return -ENOMEM;
		hs->out = p;
		hs->out_cap = cap;
	}
}

/* Header text must not be able to start a new header line. */
static bool ws_hs_clean(const char *s)
{
	return s && strpbrk(s, "\r\n") == NULL;
}

static int ws_hs_extra(struct ws_handshake *hs, const struct ws_header *hdrs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!ws_hs_clean(hdrs[i].name) || !*hdrs[i].name || strchr(hdrs[i].name, ':') ||
		    !ws_hs_clean(hdrs[i].value))
			return -EINVAL;
		int r = ws_hs_printf(hs, "%s: %s\r\n", hdrs[i].name, hdrs[i].value);
		if (r < 0)
			return r;
	}
	return 0;
}

/* --- http-parser callbacks: spans point into hs->head -------------------- */

static int ws_hs_on_url(http_parser *p, const char *at, size_t len)
{
	struct ws_handshake *hs = p->data;
	if (hs->target && at != hs->target + hs->target_len)
		return -1;
	if (!hs->target)
		hs->target = (char *)at;
	hs->target_len += len;
	return 0;
}

static int ws_hs_on_field(http_parser *p, const char *at, size_t len)
{
	struct ws_handshake *hs = p->data;
	struct ws_hdr_span *h = hs->n_hdrs ? &hs->hdrs[hs->n_hdrs - 1] : NULL;
	/* A field split across execute calls continues the previous name. */
	if (h && !hs->in_value && at == h->name + h->name_len) {
		h->name_len += len;
		return 0;
	}
	if (hs->n_hdrs == WS_HANDSHAKE_HEADERS_MAX) {
		hs->too_many = true;
		return -1;
	}
	hs->hdrs[hs->n_hdrs++] = (struct ws_hdr_span){(char *)at, len, NULL, 0};
	hs->in_value = false;
	return 0;
}

static int ws_hs_on_value(http_parser *p, const char *at, size_t len)
{
	struct ws_handshake *hs = p->data;
	if (hs->n_hdrs == 0)
		return -1;
	struct ws_hdr_span *h = &hs->hdrs[hs->n_hdrs - 1];
	if (!hs->in_value) {
		h->value = (char *)at;
		h->value_len = len;
		hs->in_value = true;
		return 0;
	}
	/* A second piece that is not adjacent is obsolete line folding. */
	if (at != h->value + h->value_len)
		return -1;
	h->value_len += len;
	return 0;
}

static int ws_hs_on_headers_complete(http_parser *p)
{
	struct ws_handshake *hs = p->data;
	hs->headers_complete = true;
	hs->upgrade = p->upgrade;
	hs->status = p->type == HTTP_RESPONSE ? (int)p->status_code : 0;
	hs->http_major = p->http_major;
	hs->http_minor = p->http_minor;
	/* Tell http-parser there is no body to wait for: we stop at the head. */
	return 1;
}

int ws_handshake_new(struct ws_handshake **out, bool server)
{
	struct ws_handshake *hs = calloc(1, sizeof(*hs));
	if (!hs)
		return -ENOMEM;
	hs->magic = WS_HANDSHAKE_MAGIC;
	hs->server = server;
	http_parser_init(&hs->parser, server ? HTTP_REQUEST : HTTP_RESPONSE);
	hs->parser.data = hs;
	http_parser_settings_init(&hs->settings);
	hs->settings.on_url = ws_hs_on_url;
	hs->settings.on_header_field = ws_hs_on_field;
	hs->settings.on_header_value = ws_hs_on_value;
	hs->settings.on_headers_complete = ws_hs_on_headers_complete;
	*out = hs;
	return 0;
}

void ws_handshake_free(struct ws_handshake *hs)
{
	if (!hs)
		return;
	free(hs->out);
	hs->magic = 0;
	free(hs);
}

int ws_handshake_request(struct ws_handshake *hs, const char *host, const char *path,
                         const struct ws_header *hdrs, size_t n_hdrs, ws_rng_fn rng,
                         void *p_rng, const char **buf, size_t *len)
{
	if (hs->server || !ws_hs_clean(host) || !*host || !ws_hs_clean(path) || path[0] != '/' ||
	    strchr(path, ' '))
		return -EINVAL;
	int r = ws_handshake_make_key(hs->key, rng, p_rng);
	if (r < 0)
		return r;
	hs->out_len = 0;
	r = ws_hs_printf(hs,
	                 "GET %s HTTP/1.1\r\n"
	                 "Host: %s\r\n"
	                 "Upgrade: websocket\r\n"
	                 "Connection: Upgrade\r\n"
	                 "Sec-WebSocket-Key: %s\r\n"
	                 "Sec-WebSocket-Version: 13\r\n",
	                 path, host, hs->key);
	if (r == 0)
		r = ws_hs_extra(hs, hdrs, n_hdrs);
	if (r == 0)
		r = ws_hs_printf(hs, "\r\n");
	if (r < 0)
		return r;
	*buf = hs->out;
	*len = hs->out_len;
	return 0;
}

static void ws_hs_trim(char **s, size_t *len)
{
	while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

/* Parses the complete head in place; the spans become C strings (the byte
 * after each one, ':' '\r' or ' ', is no longer needed). */
static int ws_hs_parse(struct ws_handshake *hs)
{
	size_t n = http_parser_execute(&hs->parser, &hs->settings, hs->head, hs->head_len);
	if (hs->too_many)
		return -EMSGSIZE;
	enum http_errno e = HTTP_PARSER_ERRNO(&hs->parser);
	if (e != HPE_OK || !hs->headers_complete || n != hs->head_len) {
		snprintf(hs->err, sizeof(hs->err), "malformed HTTP head: %s", http_errno_name(e));
		return -EPROTO;
	}
	for (size_t i = 0; i < hs->n_hdrs; i++) {
		struct ws_hdr_span *h = &hs->hdrs[i];
		if (!h->value) { /* "Name:" with an empty value */
			h->value = h->name + h->name_len;
			h->value_len = 0;
		}
		ws_hs_trim(&h->value, &h->value_len);
		h->name[h->name_len] = '\0';
		h->value[h->value_len] = '\0';
	}
	if (hs->target)
		hs->target[hs->target_len] = '\0';
	return 0;
}

int ws_handshake_feed(struct ws_handshake *hs, const uint8_t *data, size_t len, bool *done)
{
	*done = hs->done;
	if (hs->done)
		return 0;
	size_t old = hs->head_len;
	size_t take = len;
	if (take > WS_HANDSHAKE_HEAD_MAX - old)
		take = WS_HANDSHAKE_HEAD_MAX - old;
	memcpy(hs->head + old, data, take);
	hs->head_len = old + take;
	/* Only the blank line that ends the head is searched for here; the
	 * parsing itself is http-parser's. */
	size_t from = old >= 3 ? old - 3 : 0;
	for (size_t i = from; i + 4 <= hs->head_len; i++) {
		if (memcmp(hs->head + i, "\r\n\r\n", 4) == 0) {
			hs->head_len = i + 4;
			hs->head[hs->head_len] = '\0';
			int r = ws_hs_parse(hs);
			if (r < 0)
				return r;
			hs->done = true;
			*done = true;
			return (int)(hs->head_len - old);
		}
	}
	if (hs->head_len == WS_HANDSHAKE_HEAD_MAX) {
		snprintf(hs->err, sizeof(hs->err), "HTTP head longer than %d bytes",
		         WS_HANDSHAKE_HEAD_MAX);
		return -EMSGSIZE;
	}
	return (int)take;
}

static bool ws_hs_token_eq(const char *v, const char *want)
{
	return v && strcasecmp(v, want) == 0;
}

int ws_handshake_check_response(struct ws_handshake *hs)
{
	if (hs->server || !hs->done)
		return -EINVAL;
	if (hs->status != 101) {
		snprintf(hs->err, sizeof(hs->err), "upgrade refused: HTTP %d", hs->status);
		return -ECONNREFUSED;
	}
	if (!hs->upgrade || !ws_hs_token_eq(ws_handshake_header(hs, "Upgrade"), "websocket")) {
		snprintf(hs->err, sizeof(hs->err), "101 without Upgrade: websocket / Connection: Upgrade");
		return -EPROTO;
	}
	char want[WS_ACCEPT_LEN + 1];
	if (ws_handshake_accept_for(hs->key, strlen(hs->key), want) < 0)
		return -EPROTO;
	const char *got = ws_handshake_header(hs, "Sec-WebSocket-Accept");
	if (!got || strcmp(got, want) != 0) {
		snprintf(hs->err, sizeof(hs->err), "Sec-WebSocket-Accept %s, expected %s",
		         got ? got : "missing", want);
		return -EPROTO;
	}
	/* RFC 6455 4.1: an extension or subprotocol we did not offer fails the
	 * connection (and compressed frames would be refused by wslay anyway). */
	if (ws_handshake_header(hs, "Sec-WebSocket-Extensions") ||
	    ws_handshake_header(hs, "Sec-WebSocket-Protocol")) {
		snprintf(hs->err, sizeof(hs->err), "server selected an extension or subprotocol we did not offer");
		return -EPROTO;
	}
	return 0;
}

int ws_handshake_check_request(struct ws_handshake *hs)
{
	if (!hs->server || !hs->done)
		return 400;
	if (hs->parser.method != HTTP_GET) {
		snprintf(hs->err, sizeof(hs->err), "method %s", ws_handshake_method(hs));
		return 405;
	}
	if (hs->http_major != 1 || hs->http_minor < 1 || !ws_handshake_header(hs, "Host")) {
		snprintf(hs->err, sizeof(hs->err), "not HTTP/1.1 or no Host");
		return 400;
	}
	if (!hs->upgrade || !ws_hs_token_eq(ws_handshake_header(hs, "Upgrade"), "websocket")) {
		snprintf(hs->err, sizeof(hs->err), "not a WebSocket upgrade");
		return 426;
	}
	if (!ws_hs_token_eq(ws_handshake_header(hs, "Sec-WebSocket-Version"), "13")) {
		snprintf(hs->err, sizeof(hs->err), "unsupported Sec-WebSocket-Version");
		return 426;
	}
	const char *key = ws_handshake_header(hs, "Sec-WebSocket-Key");
	unsigned char raw[64];
	size_t olen = 0;
	if (!key || mbedtls_base64_decode(raw, sizeof(raw), &olen, (const unsigned char *)key,
	                                  strlen(key)) != 0 || olen != 16) {
		snprintf(hs->err, sizeof(hs->err), "bad Sec-WebSocket-Key");
		return 400;
	}
	return 0;
}

int ws_handshake_response(struct ws_handshake *hs, int status, const struct ws_header *hdrs,
                          size_t n_hdrs, const char **buf, size_t *len)
{
	if (!hs->server || !hs->done)
		return -EINVAL;
	hs->out_len = 0;
	int r;
	if (status == 101) {
		const char *key = ws_handshake_header(hs, "Sec-WebSocket-Key");
		char accept[WS_ACCEPT_LEN + 1];
		if (!key || ws_handshake_accept_for(key, strlen(key), accept) < 0)
			return -EINVAL;
		r = ws_hs_printf(hs,
		                 "HTTP/1.1 101 Switching Protocols\r\n"
		                 "Upgrade: websocket\r\n"
		                 "Connection: Upgrade\r\n"
		                 "Sec-WebSocket-Accept: %s\r\n",
		                 accept);
		if (r == 0)
			r = ws_hs_extra(hs, hdrs, n_hdrs);
		if (r == 0)
			r = ws_hs_printf(hs, "\r\n");
	} else if (status >= 400 && status <= 599) {
		const char *reason = http_status_str((enum http_status)status);
		r = ws_hs_printf(hs,
		                 "HTTP/1.1 %d %s\r\n"
		                 "Content-Type: text/plain\r\n"
		                 "Content-Length: %zu\r\n"
		                 "Connection: close\r\n"
		                 "%s",
		                 status, reason, strlen(reason) + 5, /* "NNN " + reason + "\n" */
		                 status == 426 ? "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" : "");
		if (r == 0)
			r = ws_hs_extra(hs, hdrs, n_hdrs);
		if (r == 0)
			r = ws_hs_printf(hs, "\r\n%d %s\n", status, reason);
	} else {
		return -EINVAL;
	}
	if (r < 0)
		return r;
	*buf = hs->out;
	*len = hs->out_len;
	return 0;
}

int ws_handshake_status(const struct ws_handshake *hs)
{
	return hs->status;
}

const char *ws_handshake_method(const struct ws_handshake *hs)
{
	return hs->server && hs->done ? http_method_str((enum http_method)hs->parser.method) : "";
}

const char *ws_handshake_target(const struct ws_handshake *hs)
{
	return hs->target && hs->done ? hs->target : "";
}

const char *ws_handshake_header(const struct ws_handshake *hs, const char *name)
{
	for (size_t i = 0; i < hs->n_hdrs && hs->done; i++)
		if (strcasecmp(hs->hdrs[i].name, name) == 0)
			return hs->hdrs[i].value;
	return NULL;
}

size_t ws_handshake_header_count(const struct ws_handshake *hs)
{
	return hs->done ? hs->n_hdrs : 0;
}

int ws_handshake_header_at(const struct ws_handshake *hs, size_t i, const char **name,
                           const char **value)
{
	if (!hs->done || i >= hs->n_hdrs)
		return -ERANGE;
	*name = hs->hdrs[i].name;
	*value = hs->hdrs[i].value;
	return 0;
}

const char *ws_handshake_error_text(const struct ws_handshake *hs)
{
	return hs->err;
}
