#!/usr/bin/env bash
# Alternates one bench scenario between two builds of `bench`, so both are measured in the same
# minutes on the same machine: A B A B ... (every other pair starts with B).
#
#   chaos-tests/scripts/ab-bench.sh BENCH_A BENCH_B PAIRS -- writes --clients 64
#
# Each BENCH_* is a release `bench` binary (e.g. target/release/bench of two checkouts). Prints
# every run's table and, at the end, the JSON result lines tagged with the build that made them.
set -euo pipefail
if [ $# -lt 4 ] || [ "$4" != "--" ]; then
  echo "usage: $0 BENCH_A BENCH_B PAIRS -- SCENARIO [ARGS...]" >&2
  exit 2
fi
a=$1 b=$2 pairs=$3
shift 4
out=$(mktemp)
for i in $(seq 1 "$pairs"); do
  if [ $((i % 2)) -eq 1 ]; then order="A B"; else order="B A"; fi
  for which in $order; do
    if [ "$which" = A ]; then exe=$a; else exe=$b; fi
    echo "== pair $i build $which ($exe)"
    "$exe" "$@" | tee /dev/stderr | grep '^{' | sed "s/^{/{\"build\":\"$which\",\"pair\":$i,/" >> "$out"
  done
done 2>&1
echo "== results"
cat "$out"
rm -f "$out"
