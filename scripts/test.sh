#!/usr/bin/env bash
# Installs what the tests need and runs every check exflow has: formatting,
# lints, the unit and integration tests (with live capture built in), and the
# hardening runs. This is the README's test command; CI runs it through
# .ci/run. Needs Debian 12 (apt-get) and root or sudo for the packages and for
# the live-capture tests, which make a network namespace of their own.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use: libpcap for the live feature, tshark and
# tcpdump as independent references, tcpreplay and iproute2 for live capture
# tests, chromium and a Japanese font for the HTML report test.
packages=(libpcap-dev tshark tcpdump tcpreplay iproute2 chromium fonts-noto-cjk)

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

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets --features live -- -D warnings

echo "== cargo test"
cargo test --features live

echo "== all checks passed"
