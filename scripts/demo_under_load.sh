#!/usr/bin/env bash
# `make demo` on a fresh clone of main with a full-priority CPU hog beside it (issue 11's acceptance run).
# Usage: scripts/demo_under_load.sh CLONE_DIR [LOG_DIR]
# Prints the start and end times, the exit code and the demo's JSON summary (its last line) to LOG_DIR/<clone>.txt.
set -uo pipefail
clone=${1:?name a directory for the fresh clone}
logs=${2:-$(dirname "$clone")}
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
name=$(basename "$clone")
report="$logs/$name.txt"

rm -rf "$clone"
git clone --quiet "$repo" "$clone"
python3 -c 'while True: pass' &
hog=$!
trap 'kill $hog 2>/dev/null' EXIT
{
  echo "commit $(git -C "$clone" rev-parse --short HEAD), hog pid $hog, start $(date -u +%FT%TZ)"
  start=$(date +%s)
  make -C "$clone" demo DEMO_ARGS=--json >"$logs/$name.log" 2>&1
  rc=$?
  echo "end $(date -u +%FT%TZ), exit $rc, $(( ($(date +%s) - start) / 60 )) min"
  tail -n 1 "$logs/$name.log"
} | tee "$report"
# `make demo` leaves its services up to explore (--keep-running); stop them so the next run starts alone.
pkill -f "$clone/" || true
