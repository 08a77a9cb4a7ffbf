#!/usr/bin/env bash
# Installs the Debian packages OllamaMax needs to build and test (idempotent).
set -euo pipefail
pkgs=(build-essential pkg-config cmake ninja-build clang libcmocka-dev
      libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev libssl-dev
      libsqlite3-dev libsodium-dev libzstd-dev libraft-dev libuv1-dev curl)
# node runs the CLI tests' JSON checks and the benchmark driver; any version >= 18 does.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
# the end-to-end tests drive the server with the official npm clients (ollama, openai@6)
if [ ! -d tests/js/node_modules/ollama ] || [ ! -d tests/js/node_modules/openai ]; then
  (cd "$(dirname "$0")/../tests/js" && npm ci --no-audit --no-fund)
fi
