#!/usr/bin/env bash
# run-fuzzers.sh DIR SECONDS -- run each libFuzzer binary in DIR for SECONDS on its corpus in fuzz/corpus/NAME.
set -euo pipefail
dir=$1; secs=${2:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for f in "$dir"/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  corpus="$root/fuzz/corpus/${name#fuzz_}"
  work=$(mktemp -d)
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null || true
  dict=()
  [ -f "$root/fuzz/${name#fuzz_}.dict" ] && dict=(-dict="$root/fuzz/${name#fuzz_}.dict")
  echo "fuzz: $name for ${secs}s"
  if ! "$f" "${dict[@]}" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=0 "$work" >"$work.log" 2>&1; then
    echo "fuzz: $name FAILED"; tail -40 "$work.log"; status=1
  fi
  rm -rf "$work" "$work.log"
done
exit $status
