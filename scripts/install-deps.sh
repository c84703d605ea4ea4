#!/usr/bin/env bash
# install-deps.sh -- install the Debian 12 packages the build, tests and benchmarks need, if missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libisal-dev libcurl4-openssl-dev libmicrohttpd-dev libcjson-dev
  libcmocka-dev libhiredis-dev libssl-dev libzip-dev
  redis-server redis-tools memcached python3 python3-redis awscli
  curl procps iproute2 gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
