/* url.h - split a ws:// or wss:// URL into what dialing and the upgrade
 * request need. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define URL_HOST_MAX 256
#define URL_PATH_MAX 2048

struct url {
	bool secure;                       /* wss */
	char host[URL_HOST_MAX];           /* name or address, IPv6 without brackets */
	uint16_t port;                     /* explicit, else 443 (wss) / 80 (ws) */
	char host_header[URL_HOST_MAX + 8]; /* Host: value; ":port" only if not default */
	char path[URL_PATH_MAX];           /* request target: path and query, "/" if empty */
};

/* Returns 0, -EINVAL (syntax, userinfo, fragment), -EPROTONOSUPPORT (scheme
 * other than ws/wss) or -ENAMETOOLONG. */
int url_parse(const char *s, struct url *out);
