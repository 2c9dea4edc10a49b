#!/bin/sh
# The schemas we ship must be the contract's, byte for byte. The contract
# lives in shared/contracts beside the work tree; skip (77) when it is absent.
top=${top_srcdir:-.}
contract=${TORGHUT_CONTRACTS:-$top/../shared/contracts}/avro
[ -d "$contract" ] || { echo "SKIP: no contract at $contract"; exit 77; }
rc=0
for f in "$contract"/*.avsc; do
	name=$(basename "$f")
	if ! cmp -s "$f" "$top/schemas/$name"; then
		echo "FAIL: schemas/$name differs from $f"
		rc=1
	fi
done
for f in "$top"/schemas/*.avsc; do
	[ -f "$contract/$(basename "$f")" ] || { echo "FAIL: schemas/$(basename "$f") not in the contract"; rc=1; }
done
exit $rc
