#!/usr/bin/env bash
# Installs what the tests need and runs every check exflow has: formatting,
# lints, the offline supply-chain check, the unit and integration tests (with
# live capture built in), and the hardening runs (fuzzing for a bounded time
# and the flood captures). This is the README's test command;
# CI runs it through .ci/run. Needs Debian 12 (apt-get) and root or sudo for
# the packages and for the live-capture tests, which make a network namespace
# of their own.
#
# Environment:
#   FUZZ_SECONDS   seconds each of the 12 fuzz targets runs (default 10);
#                  0 skips fuzzing.
#   EXFLOW_FLOODS  1 runs scripts/floods.sh (2 million SYNs and 1 million
#                  fragments under the 512 MiB memory limit); 0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzz_seconds="${FUZZ_SECONDS:-10}"
# EXFLOW_FLOODS=0 skips the flood captures (about 2 minutes on 2 cores).
run_floods="${EXFLOW_FLOODS:-1}"

# Debian packages the tests use: libpcap for the live feature, tshark and
# tcpdump as independent references, tcpreplay and iproute2 for live capture
# tests, chromium and a Japanese font for the HTML report test.
# python3 runs the supply-chain check and the helpers of the fuzz and flood
# scripts.
packages=(libpcap-dev tshark tcpdump tcpreplay iproute2 chromium fonts-noto-cjk python3)

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "test.sh: cannot run '$*' without root or sudo" >&2
        return 1
    fi
}

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "== installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}"
fi

export CARGO_TERM_COLOR=never

# Runs one stage and prints how long it took.
stage() {
    local name="$1"
    shift
    echo "== $name"
    local start=$SECONDS
    "$@"
    echo "== $name: $((SECONDS - start)) s"
}

stage "cargo fmt --check" cargo fmt --all -- --check
stage "supply chain" python3 scripts/supply-chain.py
stage "cargo clippy" cargo clippy --all-targets --features live -- -D warnings
stage "cargo test" cargo test --features live

if [[ "$fuzz_seconds" != 0 ]]; then
    stage "fuzzing" scripts/fuzz.sh "$fuzz_seconds"
else
    echo "== fuzzing skipped (FUZZ_SECONDS=0)"
fi

if [[ "$run_floods" == 1 ]]; then
    stage "floods" scripts/floods.sh
else
    echo "== floods skipped (EXFLOW_FLOODS=$run_floods)"
fi

echo "== all checks passed"
