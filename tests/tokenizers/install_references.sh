#!/usr/bin/env bash
# ctest fixture: installs the reference tokenizers (pinned npm packages) into PREFIX once:
#   @huggingface/tokenizers  loads any tokenizer.json (a JS port of Hugging Face's tokenizers)
#   llama3-tokenizer-js      Llama 3's real vocabulary and merges, its own BPE
#   llama-tokenizer-js       Llama 2's real vocabulary and merges, its own BPE
# Test references only, never runtime dependencies. Never skips: without npm, or when the
# registry cannot be reached, it fails and says why.
set -euo pipefail
prefix="$1"
packages=("@huggingface/tokenizers@0.2.0" "llama3-tokenizer-js@1.2.0" "llama-tokenizer-js@1.2.2")
installed() {
  local spec name version
  for spec in "${packages[@]}"; do
    name="${spec%@*}" version="${spec##*@}"
    grep -q "\"version\": \"$version\"" "$prefix/node_modules/$name/package.json" 2>/dev/null || return 1
  done
}
if installed; then
  echo "reference tokenizers already installed in $prefix"
  exit 0
fi
command -v npm >/dev/null || { echo "FAIL: npm is not installed (apt-get install npm)" >&2; exit 1; }
command -v node >/dev/null || { echo "FAIL: node is not installed (apt-get install nodejs)" >&2; exit 1; }
mkdir -p "$prefix"
if ! npm install --prefix "$prefix" "${packages[@]}" --no-audit --no-fund --no-save --loglevel=error; then
  echo "FAIL: npm could not install ${packages[*]} into $prefix (is the npm registry reachable? $(npm config get registry))" >&2
  exit 1
fi
installed || { echo "FAIL: npm finished but ${packages[*]} are not all in $prefix/node_modules" >&2; exit 1; }
