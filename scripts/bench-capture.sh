#!/usr/bin/env bash
# Builds the benchmark capture deterministically from captures/ and
# ../shared/corpus/ (examples/build-bench-capture): COPIES readdressed copies
# of every Ethernet capture, one after another in time.
#
#   scripts/bench-capture.sh [OUTPUT] [COPIES]
#
# OUTPUT defaults to target/bench/bench.pcap and COPIES to the example's
# default (196, about 3.1 million frames). Prints the frames and bytes written.

set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# Binaries go where cargo puts them, CARGO_TARGET_DIR included.
release="${CARGO_TARGET_DIR:-$root/target}/release"
output="${1:-$root/target/bench/bench.pcap}"

cargo build --release --quiet --example build-bench-capture
if [ -n "${2:-}" ]; then
    "$release"/examples/build-bench-capture --copies "$2" "$output"
else
    "$release"/examples/build-bench-capture "$output"
fi
