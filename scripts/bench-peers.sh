#!/usr/bin/env bash
# Runs exflow, the bare loop (examples/bare-loop.rs), ndpiReader, tshark and
# cat on one capture, in turn, ROUNDS times, and prints the median wall time
# and peak resident memory of each (GNU time), with ratios to the bare loop.
#
#   scripts/bench-peers.sh [CAPTURE] [ROUNDS]
#
# CAPTURE defaults to target/bench/bench.pcap (scripts/bench-capture.sh) and
# ROUNDS to 5. Needs /usr/bin/time, ndpiReader (Debian libndpi-bin) and tshark.
# The commands run alternately, so that load from other processes spreads
# over all of them.

set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# Binaries go where cargo puts them, CARGO_TARGET_DIR included.
release="${CARGO_TARGET_DIR:-$root/target}/release"
capture="${1:-$root/target/bench/bench.pcap}"
rounds="${2:-5}"

cargo build --release --quiet --bin exflow --example bare-loop
results="$(mktemp)"
trap 'rm -f "$results"' EXIT

names=("exflow --threads 2" "exflow --threads 1" "bare loop" "ndpiReader" "tshark conv,tcp" "cat")
commands=(
    "$release/exflow analyze --threads 2 --format jsonl --no-progress -o /dev/null $capture"
    "$release/exflow analyze --threads 1 --format jsonl --no-progress -o /dev/null $capture"
    "$release/examples/bare-loop $capture"
    "ndpiReader -q -i $capture"
    "tshark -q -z conv,tcp -r $capture"
    "cat $capture"
)

cat "$capture" >/dev/null
for round in $(seq "$rounds"); do
    for index in "${!commands[@]}"; do
        # shellcheck disable=SC2086 # the command is split into words on purpose
        /usr/bin/time -f "$index %e %M" -o "$results" -a ${commands[$index]} >/dev/null 2>&1
    done
    echo "bench-peers.sh: round $round of $rounds done" >&2
done

python3 - "$results" "${names[@]}" <<'PYTHON'
import statistics
import sys

path, names = sys.argv[1], sys.argv[2:]
times = {index: [] for index in range(len(names))}
memory = {index: [] for index in range(len(names))}
for line in open(path):
    parts = line.split()
    if len(parts) != 3 or not parts[0].isdigit():
        continue
    index = int(parts[0])
    times[index].append(float(parts[1]))
    memory[index].append(int(parts[2]) / 1024)
bare = statistics.median(times[names.index("bare loop")])
print("| command | median time (s) | runs | time / bare loop | peak RSS (MiB) |")
print("| --- | --- | --- | --- | --- |")
for index, name in enumerate(names):
    median = statistics.median(times[index])
    print(f"| {name} | {median:.2f} | {len(times[index])} | {median / bare:.2f} | "
          f"{statistics.median(memory[index]):.0f} |")
PYTHON
