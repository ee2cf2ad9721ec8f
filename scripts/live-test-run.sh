#!/bin/sh
# Runs the tests of `exflow live` against real interfaces. They build their
# own network namespaces and veth pairs, so they need root, and these tools:
#   Debian/Ubuntu: apt-get install libpcap-dev iproute2 tcpdump tcpreplay python3 util-linux
# Extra arguments go to the test binaries (e.g. a test name).
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "live-test-run: run as root; the tests create network namespaces" >&2
    exit 2
fi
for tool in ip tcpdump tcpreplay tcpprep python3 setpriv; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "live-test-run: $tool is missing; install iproute2, tcpdump, tcpreplay, python3 and util-linux" >&2
        exit 2
    fi
done

cargo test --features live --test live --test live_engine -- "$@"
