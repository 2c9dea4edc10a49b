/* conf_parse.h - typed value parsers shared by the config loader and the
 * control commands (which validate symbols and durations the same way). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "64MiB", "512KiB", "1G", "4096" (bytes) into bytes: 0, -EINVAL or -ERANGE. */
int conf_parse_size(const char *s, int64_t *out);
int conf_parse_bool(const char *s, bool *out);  /* true/false yes/no on/off 1/0 */
int conf_parse_int(const char *s, int64_t *out); /* decimal, whole string */
bool conf_symbol_valid(const char *s, size_t n);
