#!/usr/bin/env bash
# package.sh -- builds the Lambda zips: BUILD/function-x86_64.zip and BUILD/function-arm64.zip.
# Usage: scripts/package.sh BUILD [x86_64|arm64 ...]   (default both; `make package` runs this)
# Each architecture has its own CMake build dir (BUILD/package-ARCH, IC_LAMBDA_PACKAGE=ON), so an
# unchanged tree rebuilds nothing. Exits 77 (CTest's skip) when a cross toolchain is missing.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=$(mkdir -p "${1:?usage: package.sh BUILD [ARCH...]}" && cd "$1" && pwd)
shift
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(x86_64 arm64)
jobs=${JOBS:-$(nproc)}

for arch in "${archs[@]}"; do
  flags=(-DCMAKE_BUILD_TYPE=Release -DIC_LAMBDA_PACKAGE=ON -DIC_PACKAGE_ZIP="$build/function-$arch.zip")
  case "$arch" in
    x86_64)
      [ "$(uname -m)" = x86_64 ] || { echo "package.sh: x86_64 builds only on x86_64 here" >&2; exit 77; } ;;
    arm64)
      if ! command -v aarch64-linux-gnu-gcc >/dev/null; then
        echo "package.sh: no aarch64-linux-gnu-gcc (scripts/install-deps.sh installs it)" >&2
        exit 77
      fi
      flags+=(-DCMAKE_TOOLCHAIN_FILE="$src/cmake/toolchain-aarch64.cmake") ;;
    *) echo "package.sh: unknown architecture $arch" >&2; exit 2 ;;
  esac
  cmake -S "$src" -B "$build/package-$arch" "${flags[@]}" >/dev/null
  cmake --build "$build/package-$arch" -j "$jobs" -- --no-print-directory >/dev/null
  # The packager prints the size when it runs; say it again when nothing needed rebuilding.
  size=$(stat -c %s "$build/function-$arch.zip")
  echo "package: $build/function-$arch.zip $size bytes ($((size / 1024)) KiB)"
done
