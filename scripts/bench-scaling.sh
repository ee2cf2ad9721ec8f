#!/usr/bin/env bash
# Measures how exflow's time grows with the capture. Builds the benchmark
# capture at 1x, 2x and 4x its default copies (196, 392, 784) under OUTDIR.
# Then runs exflow (--threads 2 and 1, JSON Lines to /dev/null) and the bare
# loop on each, alternately, ROUNDS times, and prints the medians.
#
#   scripts/bench-scaling.sh [OUTDIR] [ROUNDS]
#
# OUTDIR defaults to $TMPDIR/exflow-bench-scaling (outside the build folder)
# and needs about 6 GB; ROUNDS defaults to 3. The captures are deleted at the
# end unless BENCH_KEEP=1.

set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# Binaries go where cargo puts them, CARGO_TARGET_DIR included.
release="${CARGO_TARGET_DIR:-$root/target}/release"
outdir="${1:-${TMPDIR:-/tmp}/exflow-bench-scaling}"
rounds="${2:-3}"
mkdir -p "$outdir"
trap '[ "${BENCH_KEEP:-0}" = 1 ] || rm -f "$outdir"/bench-*x.pcap' EXIT

cargo build --release --quiet --bin exflow --example bare-loop --example build-bench-capture
for scale in 1 2 4; do
    "$release"/examples/build-bench-capture --copies $((196 * scale)) "$outdir/bench-${scale}x.pcap" 2>/dev/null
done

results="$(mktemp)"
for round in $(seq "$rounds"); do
    for scale in 1 2 4; do
        capture="$outdir/bench-${scale}x.pcap"
        cat "$capture" >/dev/null
        for threads in 2 1; do
            /usr/bin/time -f "$scale exflow-t$threads %e %M" -o "$results" -a \
                "$release"/exflow analyze --threads "$threads" --format jsonl \
                --no-progress -o /dev/null "$capture"
        done
        /usr/bin/time -f "$scale bare %e %M" -o "$results" -a \
            "$release"/examples/bare-loop "$capture" >/dev/null
    done
    echo "bench-scaling.sh: round $round of $rounds done" >&2
done

python3 - "$results" <<'PYTHON'
import statistics
import sys

runs = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) == 4 and parts[0].isdigit():
        runs.setdefault((int(parts[0]), parts[1]), []).append((float(parts[2]), int(parts[3]) / 1024))
print("| capture | exflow --threads 2 (s) | exflow --threads 1 (s) | bare loop (s) | "
      "exflow -t 2 / 1x | exflow -t 1 / 1x | exflow -t 1 peak RSS (MiB) |")
print("| --- | --- | --- | --- | --- | --- | --- |")
base = {name: statistics.median(t for t, _ in runs[(1, name)]) for name in ("exflow-t2", "exflow-t1")}
for scale in (1, 2, 4):
    median = {name: statistics.median(t for t, _ in runs[(scale, name)])
              for name in ("exflow-t2", "exflow-t1", "bare")}
    rss = statistics.median(m for _, m in runs[(scale, "exflow-t1")])
    print(f"| {scale}x | {median['exflow-t2']:.2f} | {median['exflow-t1']:.2f} | {median['bare']:.2f} | "
          f"{median['exflow-t2'] / base['exflow-t2']:.2f} | {median['exflow-t1'] / base['exflow-t1']:.2f} | {rss:.0f} |")
PYTHON
rm -f "$results"
