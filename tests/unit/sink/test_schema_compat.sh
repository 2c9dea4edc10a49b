#!/bin/sh
# CI gate: every schema we ship must stay BACKWARD compatible with its
# previous released version (schemas/released/): the Avro ones (*.avsc) with
# test_avro_compat OLD NEW, the JSON Schemas (*.json) with test_json_compat.
# After a release, copy schemas/*.avsc and schemas/*.json there.
top=${top_srcdir:-.}
bld=${top_builddir:-.}
for c in avro json; do
	[ -x "$bld/tests/unit/sink/test_${c}_compat" ] || { echo "FAIL: test_${c}_compat not built"; exit 1; }
done
rc=0
n=0
for old in "$top"/schemas/released/*.avsc "$top"/schemas/released/*.json; do
	[ -f "$old" ] || continue
	name=$(basename "$old")
	case $name in *.avsc) chk=$bld/tests/unit/sink/test_avro_compat ;; *) chk=$bld/tests/unit/sink/test_json_compat ;; esac
	new=$top/schemas/$name
	if [ ! -f "$new" ]; then
		echo "FAIL: schemas/$name was released but is gone"
		rc=1
		continue
	fi
	if "$chk" "$old" "$new"; then
		n=$((n + 1))
	else
		echo "FAIL: schemas/$name breaks BACKWARD compatibility with schemas/released/$name"
		rc=1
	fi
done
[ "$n" -gt 0 ] || [ "$rc" -ne 0 ] || { echo "FAIL: no released schemas found"; exit 1; }
# Negative controls: each gate must be able to fail.
tmp=${TMPDIR:-/tmp}/schema_compat.$$
mkdir -p "$tmp" || exit 1
printf '{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}' >"$tmp/old.avsc"
printf '{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}' >"$tmp/new.avsc"
if "$bld/tests/unit/sink/test_avro_compat" "$tmp/old.avsc" "$tmp/new.avsc" 2>/dev/null; then
	echo "FAIL: checker accepted long -> int"
	rc=1
fi
printf '{"type":"object","properties":{"a":{"type":"string"}}}' >"$tmp/old.json"
printf '{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"required":["b"]}' >"$tmp/new.json"
if "$bld/tests/unit/sink/test_json_compat" "$tmp/old.json" "$tmp/new.json" 2>/dev/null; then
	echo "FAIL: checker accepted a new required property"
	rc=1
fi
rm -rf "$tmp"
[ "$rc" -eq 0 ] && echo "ok: $n schemas BACKWARD compatible with schemas/released"
exit $rc
