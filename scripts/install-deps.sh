#!/usr/bin/env bash
# install-deps.sh -- install the Debian 12 packages the build, tests, benchmarks and the
# Lambda package need, if missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libisal-dev libcurl4-openssl-dev libmicrohttpd-dev libcjson-dev
  libcmocka-dev libhiredis-dev libssl-dev libzip-dev
  redis-server redis-tools memcached python3 python3-redis python3-prometheus-client awscli
  curl procps iproute2 gnuplot-nox
)
# Node.js and npm run the backing-store tests' S3 server; a machine with its own Node.js build
# (one that bundles npm) keeps it.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
# The arm64 Lambda package (make package, docs/PACKAGING.md): Debian's cross compiler, qemu-user
# to test it, and the arm64 builds of what icnode links or loads. Not libisal-dev:arm64: Debian's
# libisal2 is not co-installable across architectures (it would remove the host's), and icnode
# needs only ISA-L's header.
cross_arch=
if [ "$(dpkg --print-architecture)" = amd64 ]; then
  cross_arch=arm64
  packages+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
             libssl-dev:arm64 libcurl4-openssl-dev:arm64 libcjson-dev:arm64)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The backing-store tests' S3-compatible store (s3rver, from the npm registry), installed into
# tools/s3rver/node_modules at the version its package-lock.json pins; skipped once there.
install_s3rver() {
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tools/s3rver"
  [ -x "$dir/node_modules/.bin/s3rver" ] && return 0
  echo "install-deps: npm install in $dir"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

if [ ${#missing[@]} -eq 0 ]; then
  install_s3rver
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
# The foreign architecture must be known before the update that fetches its package lists.
if [ -n "$cross_arch" ] && ! dpkg --print-foreign-architectures | grep -qx "$cross_arch"; then
  "${sudo_cmd[@]}" dpkg --add-architecture "$cross_arch"
fi
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
install_s3rver
