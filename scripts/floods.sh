#!/usr/bin/env bash
# Runs exflow on two floods and checks that it stays within its memory caps.
#
#   scripts/floods.sh [OUTDIR]
#
# Generates, deterministically (examples/gen-floods.rs), a capture of 2 million
# SYNs from random sources and one of 1 million IP fragments that never
# complete, each with the project's recording captures/exchange-edge.pcap
# mixed in. Then runs `exflow analyze` on each with the default caps and
# checks that:
#   - peak resident memory stays under FLOOD_RSS_LIMIT_MIB (default 512);
#   - the summary counts the evictions by reason (flow table full for the
#     SYN flood, datagram evictions for the fragment flood);
#   - every benign flow of the recording is still reported with the app and
#     verdict of captures/exchange-edge.expected.tsv.
# Prints the elapsed time and peak memory of each run. The captures (266 MB)
# go to OUTDIR (default target/tmp/floods) and are deleted at the end unless
# FLOOD_KEEP=1.

set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# Binaries go where cargo puts them, CARGO_TARGET_DIR included.
release="${CARGO_TARGET_DIR:-$root/target}/release"
outdir="${1:-$root/target/tmp/floods}"
limit_mib="${FLOOD_RSS_LIMIT_MIB:-512}"

free_kib="$(df -Pk "$root" | awk 'NR == 2 { print $4 }')"
if [ "$free_kib" -lt $((2 * 1024 * 1024)) ]; then
    echo "floods.sh: less than 2 GiB free on the disk of $root; not generating the floods" >&2
    exit 2
fi

cargo build --release --quiet --bin exflow --example gen-floods
mkdir -p "$outdir"
"$release"/examples/gen-floods "$outdir"
trap '[ "${FLOOD_KEEP:-0}" = 1 ] || rm -f "$outdir"/syn-flood.* "$outdir"/fragment-flood.*' EXIT

python3 - "$root" "$outdir" "$limit_mib" "$release" <<'PYTHON'
import csv
import json
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

root, outdir, limit_mib = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
exflow = Path(sys.argv[4]) / "exflow"
site = root / "captures/exchange-edge.site.toml"
expected = list(csv.DictReader(open(root / "captures/exchange-edge.expected.tsv"), delimiter="\t"))
failures = []


def run(capture, fmt, output):
    """Runs exflow in a child of its own and returns (seconds, peak RSS in MiB)."""
    command = [str(exflow), "analyze", "--site", str(site), "--format", fmt,
               "--no-progress", "-o", str(output), str(capture)]
    # A fresh interpreter per run, so that RUSAGE_CHILDREN counts this run alone.
    probe = ("import resource, subprocess, sys, time\n"
             "start = time.monotonic()\n"
             "status = subprocess.run(sys.argv[1:], env={'LANG': 'C', 'NO_COLOR': '1'}).returncode\n"
             "elapsed = time.monotonic() - start\n"
             "print(status, elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    result = subprocess.run([sys.executable, "-c", probe] + command,
                            capture_output=True, text=True, check=True)
    status, elapsed, max_rss_kib = result.stdout.split()
    if int(status) != 0:
        failures.append(f"{capture.name} ({fmt}): exit status {status}")
    return float(elapsed), int(max_rss_kib) / 1024


def stat(summary, label):
    match = re.search(re.escape(label) + r"\s+([\d,]+)", summary)
    return int(match.group(1).replace(",", "")) if match else None


for name, evictions in [
    ("syn-flood", ["Ended early: flow table full"]),
    ("fragment-flood", ["Datagrams dropped: fragments timed out",
                        "Datagrams dropped: fragment memory cap",
                        "Datagrams dropped: pending datagram cap"]),
]:
    capture = outdir / f"{name}.pcap"
    summary_path = outdir / f"{name}.summary.txt"
    records_path = outdir / f"{name}.jsonl"

    seconds, rss = run(capture, "summary", summary_path)
    print(f"floods.sh: {name} summary: {seconds:.1f} s, peak RSS {rss:.0f} MiB")
    if rss >= limit_mib:
        failures.append(f"{name} (summary): peak RSS {rss:.0f} MiB, over {limit_mib} MiB")
    seconds, rss = run(capture, "jsonl", records_path)
    print(f"floods.sh: {name} jsonl: {seconds:.1f} s, peak RSS {rss:.0f} MiB")
    if rss >= limit_mib:
        failures.append(f"{name} (jsonl): peak RSS {rss:.0f} MiB, over {limit_mib} MiB")

    summary = summary_path.read_text()
    counts = {label: stat(summary, label) for label in evictions}
    print(f"floods.sh: {name} evictions: {counts}")
    if not any(counts.values()):
        failures.append(f"{name}: the summary counts no eviction by reason: {counts}")

    found = {}
    with open(records_path) as lines:
        for line in lines:
            record = json.loads(line)
            key = (record["client"]["ip"], record["server"]["ip"],
                   str(record["server"]["port"]), record["transport"])
            found.setdefault(key, []).append((record["app"], record["verdict"]))
    missing = [row["session"] for row in expected
               if (row["app"], row["verdict"]) not in
               found.get((row["client"], row["server"], row["port"], row["transport"]), [])]
    print(f"floods.sh: {name} benign flows reported: {len(expected) - len(missing)} of {len(expected)}")
    if missing:
        failures.append(f"{name}: benign flows missing or judged otherwise: {missing}")
    records_path.unlink()

if failures:
    for failure in failures:
        print(f"floods.sh: FAILED: {failure}", file=sys.stderr)
    sys.exit(1)
print("floods.sh: both floods stayed within the caps")
PYTHON
