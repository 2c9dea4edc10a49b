/* Avro schema-evolution checker: is a new (reader) schema BACKWARD
 * compatible with an old (writer) one, i.e. can it read data written with
 * the old schema? Implements the Avro resolution rules that matter for the
 * TA schemas: fields matched by name (and reader aliases), added fields need
 * a default, removed fields are fine, primitive promotions (int -> long,
 * float, double; long -> float, double; float -> double; string <-> bytes),
 * unions (every writer branch must be readable by the reader: widening ok,
 * narrowing not), nested records, arrays, maps, enums and fixed. */
#pragma once

#include <stddef.h>

/* Returns 0 when `reader_json` can read data written with `writer_json`,
 * -EINVAL with a path-qualified reason in err ("field macd.signal: type
 * changed double -> string") when it cannot, -EBADMSG (reason in err) when a
 * schema does not parse. err may be NULL. */
int avro_compat_check(const char *writer_json, const char *reader_json,
		      char *err, size_t errlen);

/* BACKWARD: the new schema reads data written with the old one. */
static inline int avro_compat_backward(const char *old_json, const char *new_json,
				       char *err, size_t errlen)
{
	return avro_compat_check(old_json, new_json, err, errlen);
}
