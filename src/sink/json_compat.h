/* JSON Schema evolution checker: is a new schema BACKWARD compatible with an
 * old one, i.e. does it accept every document the old one accepted? Used by
 * CI against schemas/released/ (the registry enforces its own rules at
 * registration). The rules, for the subset our ingest schemas use:
 *  - type: every old type must stay (adding types, "null" or integer ->
 *    number widens; removing one, or typing what was untyped, does not);
 *  - properties: a property may not be removed (wire.md: every key is
 *    present) and is checked recursively; a property that was optional may
 *    not become required, nor may a new one be required; a new optional
 *    property is fine (readers ignore keys they do not know);
 *  - additionalProperties: open may not become closed (false);
 *  - enum / const: values may be added, never removed;
 *  - items: checked recursively;
 *  - anyOf / oneOf: every old branch must be accepted by some new branch;
 *  - other constraints (minimum, pattern, format, ...): may be dropped,
 *    never added or changed (not analysed, so a change is refused);
 *    annotations (title, description, $schema, ...) are ignored. */
#pragma once

#include <stddef.h>

/* Returns 0 when `new_json` accepts everything `old_json` accepted, -EINVAL
 * with a path-qualified reason in err ("payload.anyOf[0].p: type changed
 * number -> string") when it does not, -EBADMSG (reason in err) when a schema
 * does not parse or is not a JSON Schema object/boolean. err may be NULL. */
int json_compat_backward(const char *old_json, const char *new_json, char *err, size_t errlen);
