#!/usr/bin/env bash
# Installs the Debian packages attnviz needs (only those missing) and configures
# a Release build in ./build. Idempotent: quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config
  libeigen3-dev libimgui-dev libglfw3-dev libstb-dev nlohmann-json3-dev
  python3-glad python3-jinja2
  libgl-dev libegl-dev libgl1-mesa-dri libegl-mesa0 mesa-utils
  libgtest-dev libbenchmark-dev
  xvfb xauth xdotool x11-utils libxml2-utils python3-numpy libopenblas0-pthread
  fonts-dejavu-core fonts-droid-fallback
  clang-14 libclang-rt-14-dev
  libpcre2-dev libzip-dev libicu-dev libjpeg62-turbo-dev python3-torch python3-pil
  libcurl4-openssl-dev
)

missing=()
# The tokenizer tests' reference encoder comes from the npm registry; a machine with Node.js from
# elsewhere already has npm, and Debian's npm would conflict with it.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "attnviz setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq >/dev/null
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
