#!/bin/sh
# gen-talib.sh - regenerate tests/golden/talib.csv from real TA-Lib.
#
# Installs the npm package `talib` (node bindings that vendor the TA-Lib C
# sources) into tests/golden/node_modules (git-ignored), builds TA-Lib from
# those sources, and runs gen-talib.js. Needs node >= 18, npm, make, a C/C++
# compiler and python3 (node-gyp). The CSV is checked in: the unit tests only
# read it, so this script is run by hand when the series or TA-Lib changes.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
ver=2.0.5   # talib npm version (vendors TA-Lib 0.6.0); pinned so the CSV is reproducible

# Use the installed node headers instead of downloading them (no network
# besides the npm registry on build machines).
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then
	npm_config_nodedir=/usr
	export npm_config_nodedir
fi

if [ ! -f "$here/node_modules/talib/build/Release/talib.node" ]; then
	npm install --no-save --no-package-lock --no-audit --no-fund --ignore-scripts \
		--prefix "$here" "talib@$ver"
	# The published tarball ships prebuilt Mach-O objects under src/lib/temp;
	# wipe them so TA-Lib is compiled from its C sources for this machine.
	make -s -C "$here/node_modules/talib/src/lib/make/csr/linux/g++" clean
	npm rebuild --prefix "$here" talib
fi
if [ ! -f "$here/node_modules/talib/build/Release/talib.node" ]; then
	echo "gen-talib.sh: building the talib addon failed (see npm output above)" >&2
	exit 1
fi

node "$here/gen-talib.js" > "$here/talib.csv.tmp"
mv "$here/talib.csv.tmp" "$here/talib.csv"
echo "wrote $here/talib.csv ($(wc -l < "$here/talib.csv") lines)"
