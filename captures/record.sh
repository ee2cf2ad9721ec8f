#!/usr/bin/env bash
# Record exflow's Exchange-shaped test captures from real servers and
# clients in a private lab of network namespaces.
#
# Usage: captures/record.sh [--no-install] [--keep-temp] [--out DIR]
#
#   --no-install  do not call apt-get; fail if a tool is missing
#   --keep-temp   keep the temporary directory (configurations, server and
#                 session logs) for inspection
#   --out DIR     write the captures and expectation tables to DIR
#                 (default: the directory of this script)
#
# Needs root on Debian 12. See captures/README.md for what it records.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LIB=$HERE/lib
OUT=$HERE
INSTALL=1
KEEP_TEMP=0

while (($#)); do
    case $1 in
        --no-install) INSTALL=0 ;;
        --keep-temp) KEEP_TEMP=1 ;;
        --out) OUT=$(cd "$2" && pwd); shift ;;
        -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown option '$1'; see --help" >&2; exit 2 ;;
    esac
    shift
done

if ((EUID != 0)); then
    echo "error: record.sh needs root (network namespaces, servers on ports below 1024)" >&2
    exit 2
fi

# shellcheck source=lib/net.sh
. "$LIB/net.sh"
# shellcheck source=lib/servers.sh
. "$LIB/servers.sh"
# shellcheck source=lib/sessions.sh
. "$LIB/sessions.sh"

# Every package comes from Debian's archive (bookworm).
PACKAGES=(
    iproute2 nftables ethtool procps python3 openssl
    postfix dovecot-imapd dovecot-pop3d nginx slapd ldap-utils unbound
    openssh-server openssh-client tinyproxy
    swaks libnet-ssleay-perl libio-socket-inet6-perl curl bind9-dnsutils
    tcpdump tshark
)

T=
CAPTURE_PID=
POLICY_RC_CREATED=0

# ---------------------------------------------------------------- install

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    if ((INSTALL == 0)); then
        echo "error: missing packages: ${missing[*]}; install them or drop --no-install" >&2
        return 1
    fi

    # Keep the new daemons from starting in the root namespace while they
    # install: invoke-rc.d and deb-systemd-invoke obey policy-rc.d. The file
    # is removed again right after (and by the exit trap).
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\n# Written by exflow captures/record.sh for the length of one apt-get run.\nexit 101\n' \
            >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=1
    fi
    echo "== installing ${missing[*]}"
    apt-get -o DPkg::Lock::Timeout=900 update -q
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q \
        --no-install-recommends "${missing[@]}"
    remove_policy_rc
}

remove_policy_rc() {
    if ((POLICY_RC_CREATED)); then
        rm -f /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=0
    fi
}

# ---------------------------------------------------------------- capture

# Frames the router forwards are the same packets a second time with new
# MAC addresses, so the capture keeps only what the hosts themselves send:
# every packet once, as a span port on one segment would see it.
CAPTURE_FILTER="(tcp or udp) and not ether src $ROUTER_MAC"

start_capture() { # start_capture FILE pcap|pcapng
    local file=$1 format=$2 log=$T/logs/capture-$(basename "$1").log i
    if [[ $format == pcap ]]; then
        ip netns exec "$BRIDGE_NS" tcpdump -i br0 -s 0 -U -Z root -w "$file" "$CAPTURE_FILTER" 2>"$log" &
    else
        ip netns exec "$BRIDGE_NS" dumpcap -i br0 -f "$CAPTURE_FILTER" -w "$file" 2>"$log" &
    fi
    CAPTURE_PID=$!
    for ((i = 0; i < 50; i++)); do
        grep -qsE 'listening on|Capturing on' "$log" && return 0
        sleep 0.2
    done
    echo "error: the capture did not start; see $log" >&2
    return 1
}

stop_capture() {
    [[ -n $CAPTURE_PID ]] || return 0
    # SIGINT makes tcpdump and dumpcap flush and close the file properly.
    kill -INT "$CAPTURE_PID" 2>/dev/null || true
    wait "$CAPTURE_PID" 2>/dev/null || true
    CAPTURE_PID=
}

# record NAME FORMAT SESSIONS-FUNCTION
record() {
    local name=$1 format=$2 sessions=$3 ext=$2
    local file=$T/$name.$ext
    echo "== recording $name.$ext"
    mkdir -p "$T/logs/sessions"
    CURRENT_EXPECTED=$T/$name.expected.tsv
    printf '%s\n' "$EXPECTED_HEADER" >"$CURRENT_EXPECTED"

    start_capture "$file" "$format"
    sleep 0.5
    "$sessions"
    sleep 1
    stop_capture

    cp "$file" "$OUT/$name.$ext"
    cp "$CURRENT_EXPECTED" "$OUT/$name.expected.tsv"
    chmod 644 "$OUT/$name.$ext" "$OUT/$name.expected.tsv"
}

# ---------------------------------------------------------------- servers

dns_data_internal() {
    cat <<'DATA'
example.com. 3600 IN MX 10 mail.example.com.
mail.example.com. 3600 IN A 10.20.0.10
autodiscover.example.com. 3600 IN A 10.20.0.10
edge1.example.com. 3600 IN A 172.16.50.5
dc1.corp.example.com. 3600 IN A 10.20.0.2
cas1.corp.example.com. 3600 IN A 10.20.0.10
mbx1.corp.example.com. 3600 IN A 10.20.0.20
_ldap._tcp.corp.example.com. 600 IN SRV 0 100 389 dc1.corp.example.com.
example.net. 3600 IN MX 10 mx.example.net.
mx.example.net. 3600 IN A 192.0.2.25
example.org. 3600 IN MX 10 mail.example.org.
mail.example.org. 3600 IN A 198.51.100.25
mail.example.org. 3600 IN AAAA 2001:db8:51::25
DATA
}

dns_data_internet() {
    cat <<'DATA'
example.com. 3600 IN MX 10 mail.example.com.
mail.example.com. 3600 IN A 10.20.0.10
example.net. 3600 IN MX 10 mx.example.net.
mx.example.net. 3600 IN A 192.0.2.25
example.org. 3600 IN MX 10 mail.example.org.
mail.example.org. 3600 IN A 198.51.100.25
DATA
}

start_servers() {
    echo "== starting servers"
    dns_data_internal >"$T/dns-internal.txt"
    dns_data_internet >"$T/dns-internet.txt"
    start_unbound dns1 "$T/dns-internal.txt"
    start_unbound resolv "$T/dns-internet.txt"

    start_slapd dc1 slapd dc=corp,dc=example,dc=com "ldap://$(host_ip4 dc1):389/ ldap://$(host_ip4 dc1):3268/"
    wait_listen dc1 389
    wait_listen dc1 3268
    start_slapd edge1 slapd ou=MSExchangeGateway "ldaps://$(host_ip4 edge1):50636/" tls
    wait_listen edge1 50636

    # Dovecot first: the CAS's Postfix authenticates through its socket.
    start_dovecot cas1 "imap pop3"
    start_dovecot srv1 pop3
    start_postfix cas1 cas
    wait_listen cas1 717
    start_postfix mbx1 mailbox
    wait_listen mbx1 2525
    start_postfix edge1 plain
    start_postfix mxnet plain
    start_nginx_cas
    start_nginx_mailbox

    start_sshd cas2 443
    start_sshd edge1 22
    start_tinyproxy proxy1 8080
    start_tinyproxy proxy1 3128
}

# The package versions behind a recording, next to the captures.
write_tool_versions() {
    {
        echo "# Recorded by captures/record.sh on $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
        dpkg-query -W -f='${Package}\t${Version}\n' "${PACKAGES[@]}" | sort
    } >"$OUT/tool-versions.txt"
}

# ---------------------------------------------------------------- cleanup

cleanup() {
    local status=$? ns pid
    set +e
    trap - EXIT INT TERM
    stop_capture
    stop_all_servers
    # A server's worker can outlive its master by a moment; whatever still
    # runs inside the lab's namespaces was started by this run.
    for ns in "${CREATED_NS[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -TERM "$pid" 2>/dev/null
        done
    done
    sleep 0.5
    for ns in "${CREATED_NS[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null
        done
    done
    teardown_network
    remove_policy_rc
    if [[ -n $T && -d $T ]]; then
        if ((KEEP_TEMP)); then
            echo "temporary directory kept: $T"
        else
            rm -rf "$T"
        fi
    fi
    exit "$status"
}

# ---------------------------------------------------------------- main

main() {
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    trap 'exit 129' HUP
    trap 'exit 141' PIPE

    install_packages

    T=$(mktemp -d /tmp/exfcap.XXXXXX)
    # Postfix, Dovecot and tinyproxy drop to their own users and must reach
    # their files below $T.
    chmod 755 "$T"
    mkdir -p "$T/logs"

    echo "== building the lab network"
    build_network
    if ! check_network; then
        echo "error: the lab network is not isolated as expected; refusing to send traffic" >&2
        return 1
    fi
    write_name_files
    make_pki
    make_ssh_keys
    start_servers
    client_tools

    write_tool_versions
    record exchange-no-edge pcap sessions_no_edge
    record exchange-edge pcap sessions_edge
    record exchange-clients pcapng sessions_clients
    record exchange-roles pcap sessions_roles

    echo "== checking the captures against the expectation tables"
    local name ok=1 readme=()
    # The README's session tables mirror the expectation tables.
    [[ -f $OUT/README.md ]] && readme=(--update-readme "$OUT/README.md")
    for name in exchange-no-edge.pcap exchange-edge.pcap exchange-clients.pcapng exchange-roles.pcap; do
        python3 "$HERE/verify.py" "$OUT/$name" "$OUT/${name%.*}.expected.tsv" --resolve "${readme[@]}" || ok=0
    done
    ((ok)) || { echo "error: a capture does not match its expectation table" >&2; return 1; }
    echo "== done"
}

main
