#!/bin/sh
# CI gate: every schema we ship must stay BACKWARD compatible with its
# previous released version (schemas/released/). Uses the C checker
# (test_avro_compat OLD NEW). After a release, copy schemas/*.avsc there.
top=${top_srcdir:-.}
bld=${top_builddir:-.}
chk=$bld/tests/unit/sink/test_avro_compat
[ -x "$chk" ] || { echo "FAIL: $chk not built"; exit 1; }
rc=0
n=0
for old in "$top"/schemas/released/*.avsc; do
	[ -f "$old" ] || continue
	name=$(basename "$old")
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
# Negative control: the gate must be able to fail.
tmp=${TMPDIR:-/tmp}/schema_compat.$$
mkdir -p "$tmp" || exit 1
printf '{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}' >"$tmp/old.avsc"
printf '{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}' >"$tmp/new.avsc"
if "$chk" "$tmp/old.avsc" "$tmp/new.avsc" 2>/dev/null; then
	echo "FAIL: checker accepted long -> int"
	rc=1
fi
rm -rf "$tmp"
[ "$rc" -eq 0 ] && echo "ok: $n schemas BACKWARD compatible with schemas/released"
exit $rc
