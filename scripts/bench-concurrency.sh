#!/usr/bin/env bash
# Measures how exflow's time and memory grow with the flows open at once,
# for the same frames. Builds the benchmark capture (196 copies) three
# times under OUTDIR: copies one after another, 14 at a time, and all 196
# at once (`build-bench-capture --together K`). Reads the flows open at the
# peak from the corpus benchmark's one-thread run on each. Then runs exflow
# (--threads 2 and 1, JSON Lines to /dev/null) and the bare loop on each,
# alternately, ROUNDS times, and prints the medians.
#
#   scripts/bench-concurrency.sh [OUTDIR] [ROUNDS]
#
# OUTDIR defaults to $TMPDIR/exflow-bench-concurrency (outside the build
# folder) and needs about 2.6 GB; ROUNDS defaults to 3. The captures are
# deleted at the end unless BENCH_KEEP=1.

set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# Binaries go where cargo puts them, CARGO_TARGET_DIR included.
release="${CARGO_TARGET_DIR:-$root/target}/release"
outdir="${1:-${TMPDIR:-/tmp}/exflow-bench-concurrency}"
rounds="${2:-3}"
groups="1 14 196"
mkdir -p "$outdir"
trap '[ "${BENCH_KEEP:-0}" = 1 ] || rm -f "$outdir"/bench-together-*.pcap' EXIT

cargo build --release --quiet --bin exflow --example bare-loop --example build-bench-capture
results="$(mktemp)"
for together in $groups; do
    capture="$outdir/bench-together-$together.pcap"
    "$release"/examples/build-bench-capture --copies 196 --together "$together" \
        "$capture" 2>/dev/null
    peak="$(EXFLOW_BENCH_CAPTURE="$capture" EXFLOW_BENCH_THREADS=1 \
        cargo bench --quiet --bench corpus 2>/dev/null |
        sed -n 's/^flows open at the peak, one thread: //p')"
    echo "$together peak $peak" >>"$results"
done

for round in $(seq "$rounds"); do
    for together in $groups; do
        capture="$outdir/bench-together-$together.pcap"
        cat "$capture" >/dev/null
        for threads in 2 1; do
            /usr/bin/time -f "$together exflow-t$threads %e %M" -o "$results" -a \
                "$release"/exflow analyze --threads "$threads" --format jsonl \
                --no-progress -o /dev/null "$capture"
        done
        /usr/bin/time -f "$together bare %e %M" -o "$results" -a \
            "$release"/examples/bare-loop "$capture" >/dev/null
    done
    echo "bench-concurrency.sh: round $round of $rounds done" >&2
done

python3 - "$results" $groups <<'PYTHON'
import statistics
import sys

runs, peaks = {}, {}
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) == 3 and parts[1] == "peak":
        peaks[int(parts[0])] = parts[2]
    elif len(parts) == 4 and parts[0].isdigit():
        runs.setdefault((int(parts[0]), parts[1]), []).append((float(parts[2]), int(parts[3]) / 1024))
groups = [int(group) for group in sys.argv[2:]]
print("| copies at once | flows open at the peak | exflow --threads 2 (s) | exflow --threads 1 (s) | "
      "bare loop (s) | -t 2 / apart | -t 1 / apart | -t 2 peak RSS (MiB) | -t 1 peak RSS (MiB) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
base = {name: statistics.median(t for t, _ in runs[(groups[0], name)]) for name in ("exflow-t2", "exflow-t1")}
for group in groups:
    time = {name: statistics.median(t for t, _ in runs[(group, name)])
            for name in ("exflow-t2", "exflow-t1", "bare")}
    rss = {name: statistics.median(m for _, m in runs[(group, name)])
           for name in ("exflow-t2", "exflow-t1")}
    print(f"| {group} | {peaks.get(group, '?')} | {time['exflow-t2']:.2f} | {time['exflow-t1']:.2f} | "
          f"{time['bare']:.2f} | {time['exflow-t2'] / base['exflow-t2']:.2f} | "
          f"{time['exflow-t1'] / base['exflow-t1']:.2f} | {rss['exflow-t2']:.0f} | {rss['exflow-t1']:.0f} |")
PYTHON
rm -f "$results"
