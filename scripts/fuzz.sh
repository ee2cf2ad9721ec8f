#!/usr/bin/env bash
# Builds the cargo-fuzz targets in fuzz/ and runs each for a bounded time.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 15 (FUZZ_SECONDS overrides it too); with no
# TARGET every target runs. Seeds are the project's captures, the fingerprint
# fixtures and, when it is beside the repository, the shared corpus, read in
# place: the seed directories under target/fuzz-seeds hold only links and
# inputs converted from those files, and nothing is copied into the repository.
# What a run learns stays in target/fuzz-corpus for the next run.
#
# Exits 1 when a target crashes, and prints the reproducer's path. To turn a
# crash into a regression test, copy the reproducer into
# tests/fixtures/hardening/<target>/ and run `cargo test --test hardening_fuzz`.
#
# cargo-fuzz passes nightly-only flags to rustc (-Zsanitizer=address);
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.

set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

seconds="${1:-${FUZZ_SECONDS:-15}}"
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
    echo "fuzz.sh: invalid seconds per target '$seconds': give a positive integer" >&2
    exit 2
fi

all_targets=(capture pipeline decode reassembly
    fingerprint_tls fingerprint_ssh fingerprint_http fingerprint_smtp
    fingerprint_imap fingerprint_pop3 fingerprint_ldap fingerprint_dns)
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=("${all_targets[@]}")
fi

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz from crates.io" >&2
    cargo install cargo-fuzz --locked --quiet
fi

export RUSTC_BOOTSTRAP=1
for target in "${targets[@]}"; do
    if ! cargo fuzz build -O "$target"; then
        echo "fuzz.sh: building target '$target' failed" >&2
        exit 2
    fi
done

# Seeds, rebuilt on every run from the files they come from.
seeds="$root/target/fuzz-seeds"
rm -rf "$seeds"
mkdir -p "$seeds"
corpus_dir="$root/../shared/corpus"
python3 - "$root" "$seeds" "$corpus_dir" <<'PYTHON'
import os
import struct
import sys
from pathlib import Path

root, seeds, corpus = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])

captures = sorted(root.glob("captures/*.pcap")) + sorted(root.glob("captures/*.pcapng"))
if corpus.is_dir():
    captures += sorted(corpus.glob("*.pcap")) + sorted(corpus.glob("*.pcapng"))

def link(target, path):
    directory = seeds / target
    directory.mkdir(parents=True, exist_ok=True)
    os.symlink(path.resolve(), directory / path.name)

def write(target, name, data):
    directory = seeds / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)

for path in captures:
    link("capture", path)
    link("pipeline", path)

# decode: [link selector][u16 big-endian length][frame]... from classic pcap.
# The selector indexes LINK_TYPES in fuzz/src/lib.rs.
link_types = [0, 1, 9, 10, 12, 14, 101, 108, 113, 129, 228, 229, 239, 258, 276]
for path in captures:
    data = path.read_bytes()
    if len(data) < 24:
        continue
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        continue
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0xFFFF
    if linktype not in link_types:
        continue
    out = bytearray([link_types.index(linktype)])
    offset, frames = 24, 0
    while offset + 16 <= len(data) and frames < 64:
        incl = struct.unpack(endian + "I", data[offset + 8:offset + 12])[0]
        frame = data[offset + 16:offset + 16 + incl]
        offset += 16 + incl
        frame = frame[:65535]
        out += struct.pack(">H", len(frame)) + frame
        frames += 1
    write("decode", path.name, bytes(out))

# fingerprint_<protocol>: [u16 little-endian client length][step][client][server].
fixtures = root / "tests/fixtures/fingerprint"
for protocol in ["tls", "ssh", "http", "smtp", "imap", "pop3", "ldap", "dns"]:
    for client in sorted((fixtures / protocol).glob("*.client.bin")):
        server = client.with_name(client.name.replace(".client.bin", ".server.bin"))
        client_bytes = client.read_bytes()[:65535]
        server_bytes = server.read_bytes() if server.exists() else b""
        seed = struct.pack("<HB", len(client_bytes), 7) + client_bytes + server_bytes
        write("fingerprint_" + protocol, client.name, seed)

# fingerprint_dns also reads datagrams: [u8 length][datagram]... per exchange.
for exchange in sorted((fixtures / "dns").glob("udp-*")):
    out = bytearray()
    for datagram in sorted(exchange.glob("*.bin")):
        data = datagram.read_bytes()[:255]
        out += bytes([len(data)]) + data
    write("fingerprint_dns", exchange.name + ".datagrams", bytes(out))

# reassembly: a budget of 4 KiB, a base near the wrap-around, a few segments.
write("reassembly", "wrap", struct.pack("<HI", 4095, 0xFFFFFF00)
      + b"\x00\x00\x00\x00\x02" + b"\x01\x00\x04\x00\x02" + b"\x00\x00\x02\x00\x02")
PYTHON

failed=0
for target in "${targets[@]}"; do
    corpus="$root/target/fuzz-corpus/$target"
    artifacts="$root/target/fuzz-artifacts/$target"
    mkdir -p "$corpus" "$artifacts" "$seeds/$target"
    echo "fuzz.sh: $target for ${seconds}s"
    log="$root/target/fuzz-artifacts/$target.log"
    if ! cargo fuzz run -O "$target" "$corpus" "$seeds/$target" -- \
        -max_total_time="$seconds" -max_len=262144 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1; then
        failed=1
        echo "fuzz.sh: $target FAILED; the log is $log" >&2
        grep -E "^(==[0-9]+==ERROR|SUMMARY|thread '.*' panicked)" "$log" | head -n 5 >&2 || true
        for reproducer in "$artifacts"/*; do
            [ -f "$reproducer" ] && echo "fuzz.sh: reproducer: $reproducer" >&2
        done
    else
        grep -E "^stat::number_of_executed_units" "$log" | sed "s/^/fuzz.sh: $target /" || true
    fi
done

if [ "$failed" -ne 0 ]; then
    echo "fuzz.sh: a target crashed; reproduce with: RUSTC_BOOTSTRAP=1 cargo fuzz run -O TARGET REPRODUCER" >&2
    exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets ran ${seconds}s each without a crash"
