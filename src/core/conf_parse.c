/* conf_parse.c - typed value parsers for the configuration. */
#include "config.h"

#include "core/conf.h"
#include "core/conf_parse.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *unit;
	int64_t ns;
} units[] = {
	{"ns", 1},
	{"us", 1000},
	{"\xc2\xb5s", 1000}, /* µs */
	{"ms", 1000000},
	{"s", 1000000000LL},
	{"min", 60000000000LL},
	{"m", 60000000000LL},
	{"h", 3600000000000LL},
	{"d", 86400000000000LL},
};

int conf_parse_duration(const char *s, int64_t *ns)
{
	const char *p = s;
	int64_t whole = 0, frac = 0, frac_div = 1;
	int digits = 0;

	while (isdigit((unsigned char)*p)) {
		if (whole > (INT64_MAX - 9) / 10)
			return -ERANGE;
		whole = whole * 10 + (*p++ - '0');
		digits++;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			if (frac_div < 1000000000LL) {
				frac = frac * 10 + (*p - '0');
				frac_div *= 10;
			}
			p++;
			digits++;
		}
	}
	if (digits == 0 || *p == '\0')
		return -EINVAL; /* a bare number has no unit: refuse rather than guess */
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit) == 0) {
			int64_t u = units[i].ns;
			if (whole > INT64_MAX / u)
				return -ERANGE;
			*ns = whole * u + (int64_t)((double)frac * (double)u / (double)frac_div + 0.5);
			return 0;
		}
	}
	return -EINVAL;
}

void conf_format_duration(int64_t ns, char *buf, size_t cap)
{
	static const struct {
		const char *unit;
		int64_t ns;
	} fmt[] = {{"h", 3600000000000LL}, {"m", 60000000000LL}, {"s", 1000000000LL},
		   {"ms", 1000000}, {"us", 1000}};

	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		if (ns != 0 && ns % fmt[i].ns == 0) {
			snprintf(buf, cap, "%" PRId64 "%s", ns / fmt[i].ns, fmt[i].unit);
			return;
		}
	}
	snprintf(buf, cap, "%" PRId64 "ns", ns);
}

int conf_parse_size(const char *s, int64_t *out)
{
	static const struct {
		const char *unit;
		int64_t mult;
	} su[] = {{"B", 1},		  {"k", 1000},		{"kB", 1000},	      {"KiB", 1024},
		  {"M", 1000000},	  {"MB", 1000000},	{"MiB", 1 << 20},     {"G", 1000000000},
		  {"GB", 1000000000},	  {"GiB", 1LL << 30}};
	char *end;
	long long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end == '\0') { /* a bare number is bytes */
		*out = v;
		return 0;
	}
	for (size_t i = 0; i < sizeof(su) / sizeof(su[0]); i++) {
		if (strcmp(end, su[i].unit) == 0) {
			if (v > INT64_MAX / su[i].mult)
				return -ERANGE;
			*out = v * su[i].mult;
			return 0;
		}
	}
	return -EINVAL;
}

int conf_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int conf_parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (*s == '\0' || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

/* Alpaca symbols: upper-case letters, digits and . / - (share classes, crypto pairs). */
bool conf_symbol_valid(const char *s, size_t n)
{
	if (n == 0 || n > 23 || !(isupper((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!isupper(ch) && !isdigit(ch) && ch != '.' && ch != '/' && ch != '-')
			return false;
	}
	return true;
}
