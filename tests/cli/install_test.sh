#!/usr/bin/env bash
# `cmake --install` into a temporary prefix; the installed binary finds its samples from anywhere.
set -euo pipefail
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
cd /
env -u ATTNVIZ_DATA_DIR "$prefix/bin/attnviz" --version | grep -q '^attnviz [0-9]'
count=$(env -u ATTNVIZ_DATA_DIR "$prefix/bin/attnviz" samples | wc -l)
[ "$count" -ge 9 ] || { echo "installed binary lists $count samples"; exit 1; }
# The installed binary must read the installed copy, not the source tree.
mv "$prefix/share/attnviz/samples/pronoun.json" "$prefix/share/attnviz/samples/renamed.json"
env -u ATTNVIZ_DATA_DIR "$prefix/bin/attnviz" samples | grep -q '^renamed' || { echo "installed binary does not read its own samples"; exit 1; }
echo "1 passed, 0 failed"
