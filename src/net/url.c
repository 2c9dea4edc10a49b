/* url.c - ws/wss URL split on top of http-parser's URL parser. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "net/url.h"

static int url_copy(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap)
		return -ENAMETOOLONG;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

int url_parse(const char *s, struct url *out)
{
	if (!s || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	struct http_parser_url u;
	http_parser_url_init(&u);
	size_t n = strlen(s);
	if (http_parser_parse_url(s, n, 0, &u) != 0)
		return -EINVAL;
	if (!(u.field_set & (1 << UF_SCHEMA)) || !(u.field_set & (1 << UF_HOST)))
		return -EINVAL;
	if (u.field_set & ((1 << UF_USERINFO) | (1 << UF_FRAGMENT)))
		return -EINVAL;

	const char *scheme = s + u.field_data[UF_SCHEMA].off;
	size_t scheme_len = u.field_data[UF_SCHEMA].len;
	if (scheme_len == 3 && strncasecmp(scheme, "wss", 3) == 0)
		out->secure = true;
	else if (!(scheme_len == 2 && strncasecmp(scheme, "ws", 2) == 0))
		return -EPROTONOSUPPORT;

	int r = url_copy(out->host, sizeof(out->host), s + u.field_data[UF_HOST].off,
	                 u.field_data[UF_HOST].len);
	if (r < 0)
		return r;
	uint16_t dflt = out->secure ? 443 : 80;
	out->port = (u.field_set & (1 << UF_PORT)) ? u.port : dflt;
	if (out->port == 0)
		return -EINVAL;

	/* The Host header brackets an IPv6 literal again (RFC 7230 5.4). */
	bool v6 = strchr(out->host, ':') != NULL;
	int w = out->port == dflt
	                ? snprintf(out->host_header, sizeof(out->host_header), v6 ? "[%s]" : "%s", out->host)
	                : snprintf(out->host_header, sizeof(out->host_header), v6 ? "[%s]:%u" : "%s:%u",
	                           out->host, (unsigned)out->port);
	if (w < 0 || (size_t)w >= sizeof(out->host_header))
		return -ENAMETOOLONG;

	/* The request target is path plus query, taken verbatim. */
	size_t start = 0, end = 0;
	if (u.field_set & (1 << UF_PATH)) {
		start = u.field_data[UF_PATH].off;
		end = start + u.field_data[UF_PATH].len;
	}
	if (u.field_set & (1 << UF_QUERY)) {
		if (!(u.field_set & (1 << UF_PATH)))
			start = u.field_data[UF_QUERY].off - 1; /* include the '?' */
		end = u.field_data[UF_QUERY].off + u.field_data[UF_QUERY].len;
	}
	if (end == start)
		return url_copy(out->path, sizeof(out->path), "/", 1);
	if (s[start] == '?') {
		if (end - start + 1 >= sizeof(out->path))
			return -ENAMETOOLONG;
		out->path[0] = '/';
		memcpy(out->path + 1, s + start, end - start);
		out->path[end - start + 1] = '\0';
		return 0;
	}
	return url_copy(out->path, sizeof(out->path), s + start, end - start);
}
