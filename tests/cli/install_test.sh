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
# A broken install (its data directory gone) fails naming the missing path; it never falls
# back to the build machine's source tree.
rm -rf "$prefix/share/attnviz"
set +e
err=$(env -u ATTNVIZ_DATA_DIR "$prefix/bin/attnviz" samples 2>&1 >/dev/null)
rc=$?
set -e
[ "$rc" -ne 0 ] || { echo "a broken install exits 0"; exit 1; }
[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || { echo "not one line: $err"; exit 1; }
printf '%s' "$err" | grep -qF "$prefix/share/attnviz/samples is missing" || { echo "message does not name the path: $err"; exit 1; }
echo "2 passed, 0 failed"
