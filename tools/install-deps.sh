#!/usr/bin/env bash
# Installs the Debian packages opg builds against (and libjs-chart.js, which the explorer
# serves; libcurl4, which the toolchain's FoundationNetworking loads for the provider's
# OpenAI-compatible backend), only when missing.
# Usage: tools/install-deps.sh [extra-package ...]   (sudo is used when not root)
set -euo pipefail
packages=(libsecp256k1-dev libleveldb-dev libssl-dev libmicrohttpd-dev pkg-config libjs-chart.js libcurl4 "$@")
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
