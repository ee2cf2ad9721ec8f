#!/usr/bin/env bash
# Records the TLS, DNS and LDAP fixtures under tests/fixtures/fingerprint/.
#
# Real clients talk to real servers inside a network namespace that this script
# creates (loopback only, no route out). tcpdump captures each exchange, tshark
# extracts each direction's payload bytes, and the per-direction byte files are
# written into the fixture folders. The captures themselves stay in a temporary
# folder and are deleted.
#
# Needs root and: ip (iproute2), ethtool, tcpdump, tshark, openssl, gnutls-cli (gnutls-bin),
# curl, unbound, dig (bind9-dnsutils), slapd, ldapsearch (ldap-utils), python3.
# Optional: a Python venv with the `ja4plus` package (PyPI), named by JA4PLUS
# (default /tmp/fpb-venv/bin/ja4plus); when present, its JA4 values for the TLS
# captures are written to tls/ja4plus.tsv as an independent reference.
#
# Usage: scripts/record-fingerprint-fixtures-binary.sh [OUTPUT_DIR]
# KEEP_WORK=1 keeps the captures and server logs for a look.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$repo_root/tests/fixtures/fingerprint}
ja4plus=${JA4PLUS:-/tmp/fpb-venv/bin/ja4plus}
ns=exflow-fpb-$$
work=$(mktemp -d)
pids=()

cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    ip netns del "$ns" 2>/dev/null || true
    if [ -n "${KEEP_WORK:-}" ]; then
        echo "captures and logs kept in $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

in_ns() { ip netns exec "$ns" "$@"; }

# Starts a command in the namespace in the background and remembers its PID.
# `ip netns exec` execs the command, so $! is the command itself (a shell
# function here would put a subshell in between).
start_bg() {
    local log=$1
    shift
    ip netns exec "$ns" "$@" >"$log" 2>&1 &
    pids+=($!)
    last_pid=$!
}

stop_pid() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# Waits until a TCP or UDP port listens inside the namespace.
wait_port() {
    local proto=$1 port=$2
    for _ in $(seq 1 50); do
        if in_ns ss -lnH "-$proto" "sport = :$port" | grep -q .; then
            return 0
        fi
        sleep 0.1
    done
    echo "error: nothing listens on $proto/$port in $ns; see the logs in $work" >&2
    exit 1
}

capture_start() {
    start_bg "$work/tcpdump-$1.log" tcpdump -i lo --immediate-mode -U -s 0 -w "$work/$1.pcap" "$2"
    capture_pid=$last_pid
    sleep 0.5
}

capture_stop() {
    sleep 0.5
    stop_pid "$capture_pid"
}

# Writes <dest>.client.bin and <dest>.server.bin from the first TCP stream of a
# capture, and <dest>.segments: one line per segment that added in-order bytes,
# in capture order, "client N" or "server N", so that tests can replay the
# arrival order. Retransmitted bytes are dropped; a gap ends that side.
extract_tcp() {
    local pcap=$1 dest=$2
    tshark -r "$pcap" -o tcp.desegment_tcp_streams:FALSE -Y "tcp.stream == 0" -T fields \
        -e tcp.srcport -e tcp.flags.syn -e tcp.flags.ack -e tcp.seq -e tcp.len -e tcp.payload \
        2>/dev/null | python3 -c '
import sys
dest = sys.argv[1]
client_port = None
data = {"client": bytearray(), "server": bytearray()}
next_seq = {"client": 1, "server": 1}
gap = {"client": False, "server": False}
segments = []
for line in sys.stdin:
    port, syn, ack, seq, length, payload = (line.rstrip("\n").split("\t") + [""] * 6)[:6]
    if syn == "1" and ack == "0" and client_port is None:
        client_port = port
    if not payload or client_port is None:
        continue
    side = "client" if port == client_port else "server"
    seq, payload = int(seq), bytes.fromhex(payload)
    if gap[side]:
        continue
    if seq > next_seq[side]:
        print(f"warning: {dest}: gap in the {side} stream", file=sys.stderr)
        gap[side] = True
        continue
    fresh = payload[next_seq[side] - seq:]
    if fresh:
        data[side] += fresh
        next_seq[side] += len(fresh)
        segments.append(f"{side} {len(fresh)}")
for side, stream in data.items():
    with open(f"{dest}.{side}.bin", "wb") as f:
        f.write(stream)
with open(f"{dest}.segments", "w") as f:
    f.write("".join(line + "\n" for line in segments))
' "$dest"
}

# Writes one file per UDP datagram: <dest>/<NN>-client.bin or <NN>-server.bin.
extract_udp() {
    local pcap=$1 dest=$2 server_port=$3
    mkdir -p "$dest"
    tshark -r "$pcap" -T fields -e udp.srcport -e udp.payload 2>/dev/null | python3 -c '
import sys
dest, server_port = sys.argv[1], sys.argv[2]
n = 0
for line in sys.stdin:
    port, _, payload = line.rstrip("\n").partition("\t")
    if not payload:
        continue
    n += 1
    side = "server" if port == server_port else "client"
    with open(f"{dest}/{n:02d}-{side}.bin", "wb") as f:
        f.write(bytes.fromhex(payload))
' "$dest" "$server_port"
}

mkdir -p "$out/tls" "$out/dns" "$out/ldap"
ip netns add "$ns"
in_ns ip link set lo up

# A throwaway certificate for the TLS and LDAPS servers.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mail.example.test" \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

# --- TLS -----------------------------------------------------------------------
tls_capture() {
    local name=$1 server_args=$2
    shift 2
    capture_start "$name" "tcp port 4433"
    # shellcheck disable=SC2086 # server_args holds several arguments
    start_bg "$work/s_server-$name.log" openssl s_server -accept 127.0.0.1:4433 \
        -cert "$work/cert.pem" -key "$work/key.pem" -alpn h2,http/1.1 -www $server_args
    local server_pid=$last_pid
    wait_port t 4433
    in_ns timeout 10 "$@" </dev/null >"$work/client-$name.log" 2>&1 || true
    capture_stop
    stop_pid "$server_pid"
    extract_tcp "$work/$name.pcap" "$out/tls/$name"
    cp "$work/$name.pcap" "$work/keep-$name.pcap"
}

tls_capture tls13-openssl "" \
    openssl s_client -connect 127.0.0.1:4433 -servername mail.example.test \
    -alpn h2,http/1.1 -tls1_3
tls_capture tls12-openssl "" \
    openssl s_client -connect 127.0.0.1:4433 -servername mail.example.test \
    -alpn http/1.1 -tls1_2
tls_capture tls10-openssl "-cipher DEFAULT@SECLEVEL=0" \
    openssl s_client -connect 127.0.0.1:4433 -servername mail.example.test \
    -alpn http/1.1 -tls1 -cipher DEFAULT@SECLEVEL=0
tls_capture tls13-nosni-openssl "" \
    openssl s_client -connect 127.0.0.1:4433 -noservername -alpn h2
tls_capture tls13-gnutls "" \
    gnutls-cli --insecure -p 4433 --sni-hostname mail.example.test --alpn h2 \
    --alpn http/1.1 127.0.0.1
tls_capture tls13-curl "" \
    curl -sk --resolve mail.example.test:4433:127.0.0.1 -o /dev/null \
    https://mail.example.test:4433/
# A ClientHello larger than one record: the client resumes a TLS 1.2 session
# with a session ticket and offers every cipher suite, and -max_send_frag 512
# makes it fragment the handshake message over several TLS records. The first
# connection only fetches the ticket and is not captured.
name=tls12-fragmented-openssl
frag_client=(openssl s_client -connect 127.0.0.1:4433 -servername mail.example.test
    -alpn http/1.1 -tls1_2 -max_send_frag 512 -cipher ALL:@SECLEVEL=0)
start_bg "$work/s_server-$name.log" openssl s_server -accept 127.0.0.1:4433 \
    -cert "$work/cert.pem" -key "$work/key.pem" -alpn h2,http/1.1 -www \
    -max_send_frag 512 -cipher ALL:@SECLEVEL=0
server_pid=$last_pid
wait_port t 4433
in_ns timeout 10 "${frag_client[@]}" -sess_out "$work/session.pem" </dev/null \
    >"$work/client-$name-first.log" 2>&1 || true
capture_start "$name" "tcp port 4433"
in_ns timeout 10 "${frag_client[@]}" -sess_in "$work/session.pem" </dev/null \
    >"$work/client-$name.log" 2>&1 || true
capture_stop
stop_pid "$server_pid"
extract_tcp "$work/$name.pcap" "$out/tls/$name"
cp "$work/$name.pcap" "$work/keep-$name.pcap"

# A ClientHello split over several TCP segments: with segmentation offloads off,
# a loopback MTU of 256 bytes makes TCP send segments of at most 204 bytes.
in_ns ethtool -K lo tso off gso off
in_ns ip link set lo mtu 256
tls_capture tls13-smallmtu-openssl "" \
    openssl s_client -connect 127.0.0.1:4433 -servername mail.example.test \
    -alpn h2,http/1.1 -tls1_3
in_ns ip link set lo mtu 65536
in_ns ethtool -K lo tso on gso on

if [ -x "$ja4plus" ]; then
    {
        echo "# JA4 of each recorded ClientHello as computed by $("$ja4plus" --version 2>&1)"
        echo "# fixture	ja4"
        for pcap in "$work"/keep-*.pcap; do
            name=$(basename "$pcap" .pcap)
            name=${name#keep-}
            # ja4plus writes one JSON object per line.
            ja4=$("$ja4plus" --types ja4 --format json analyze "$pcap" | python3 -c '
import json, sys
values = {json.loads(line)["fingerprint"] for line in sys.stdin if line.strip()}
print(",".join(sorted(values)))
')
            echo "$name	$ja4"
        done
    } >"$out/tls/ja4plus.tsv"
else
    echo "note: $ja4plus not found; tls/ja4plus.tsv left as it was" >&2
fi

# A second reference: JA4 from tshark's dissection of the same ClientHellos
# (tshark reassembles a hello that spans records; ja4plus 1.4.0 does not).
{
    echo "# JA4 computed by this script from the ClientHello fields that $(tshark --version | head -n 1 | cut -d" " -f1-3) dissects"
    echo "# fixture	ja4"
    for pcap in "$work"/keep-*.pcap; do
        name=$(basename "$pcap" .pcap)
        name=${name#keep-}
        ja4=$(tshark -r "$pcap" -Y "tls.handshake.type == 1" -T fields -E separator=/t \
            -e tls.handshake.version -e tls.handshake.extensions.supported_version \
            -e tls.handshake.ciphersuite -e tls.handshake.extension.type \
            -e tls.handshake.sig_hash_alg -e tls.handshake.extensions_alpn_str 2>/dev/null |
            head -n 1 | python3 -c '
import hashlib, sys
fields = sys.stdin.read().rstrip("\n").split("\t")
version, supported, ciphers, extensions, sigalgs, alpn = (fields + [""] * 6)[:6]
def values(text, base):
    return [int(v, base) for v in text.split(",") if v]
def grease(v):
    return v & 0x0F0F == 0x0A0A and v >> 8 == v & 0xFF
ciphers = [v for v in values(ciphers, 16) if not grease(v)]
extensions = [v for v in values(extensions, 10) if not grease(v)]
sigalgs = [v for v in values(sigalgs, 16) if not grease(v)]
supported = [v for v in values(supported, 16) if not grease(v)]
chosen = max(supported) if supported else int(version, 16)
codes = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3"}
first = alpn.split(",")[0] if alpn else ""
alpn_part = first[0] + first[-1] if first else "00"
def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "0" * 12
hexes = lambda vs: ",".join("%04x" % v for v in vs)
part_c = hexes(sorted(v for v in extensions if v not in (0, 16)))
if part_c and sigalgs:
    part_c += "_" + hexes(sigalgs)
print("t%s%s%02d%02d%s_%s_%s" % (codes.get(chosen, "00"), "d" if 0 in extensions else "i",
      min(len(ciphers), 99), min(len(extensions), 99), alpn_part,
      digest(hexes(sorted(ciphers))), digest(part_c)))
')
        echo "$name	$ja4"
    done
} >"$out/tls/ja4-tshark.tsv"

# --- DNS -----------------------------------------------------------------------
cat >"$work/unbound.conf" <<EOF
server:
    interface: 127.0.0.1
    port: 53
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "$work"
    pidfile: ""
    use-syslog: no
    logfile: ""
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    local-zone: "example.test." static
    local-data: "example.test. 3600 IN TXT \"exflow fixture zone\""
    local-data: "mail.example.test. 3600 IN A 127.0.0.10"
    local-data: "mail.example.test. 3600 IN AAAA ::10"
    local-data: "example.test. 3600 IN MX 10 mail.example.test."
    local-data: "_ldap._tcp.example.test. 3600 IN SRV 0 0 389 dc.example.test."
    local-data: "caf\195\169.example.test. 3600 IN A 127.0.0.11"
    # Names outside the fixture zone are refused rather than resolved.
    local-zone: "." refuse
remote-control:
    control-enable: no
EOF

dns_capture() {
    local name=$1 kind=$2
    shift 2
    capture_start "$name" "port 53"
    in_ns timeout 10 "$@" >"$work/dig-$name.log" 2>&1 || true
    capture_stop
    if [ "$kind" = udp ]; then
        rm -rf "${out:?}/dns/$name"
        extract_udp "$work/$name.pcap" "$out/dns/$name" 53
    else
        extract_tcp "$work/$name.pcap" "$out/dns/$name"
    fi
}

start_bg "$work/unbound.log" unbound -d -c "$work/unbound.conf"
unbound_pid=$last_pid
wait_port u 53
wait_port t 53
dig_common=(dig @127.0.0.1 +tries=1 +time=2)
dns_capture udp-a udp "${dig_common[@]}" mail.example.test A
dns_capture udp-nxdomain udp "${dig_common[@]}" nosuch.example.test AAAA
dns_capture udp-badvers udp "${dig_common[@]}" +edns=1 mail.example.test A
dns_capture udp-nonascii udp "${dig_common[@]}" 'caf\195\169.example.test' A
dns_capture udp-srv udp "${dig_common[@]}" _ldap._tcp.example.test SRV
# The longest name a query can carry: 253 characters, 255 octets on the wire.
long_name=$(printf 'a%.0s' $(seq 63)).$(printf 'b%.0s' $(seq 63)).$(printf 'c%.0s' $(seq 63)).$(printf 'd%.0s' $(seq 61))
dns_capture udp-longname udp "${dig_common[@]}" "$long_name" A
# A dot inside a label, and the root name (refused by this server).
dns_capture udp-dotlabel udp "${dig_common[@]}" 'a\.b.example.test' A
dns_capture udp-root udp "${dig_common[@]}" . NS
dns_capture tcp-a tcp "${dig_common[@]}" +tcp mail.example.test A
dns_capture tcp-keepopen tcp "${dig_common[@]}" +tcp +keepopen \
    mail.example.test A example.test MX nosuch.example.test TXT
stop_pid "$unbound_pid"

# --- LDAP ----------------------------------------------------------------------
mkdir -p "$work/ldap-db" "$work/ldap-db-notls"
cat >"$work/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $work/slapd.pid
TLSCertificateFile $work/cert.pem
TLSCertificateKeyFile $work/key.pem
database mdb
suffix "dc=example,dc=test"
rootdn "cn=admin,dc=example,dc=test"
rootpw secret
directory $work/ldap-db
EOF
# The same directory without TLS, to record a rejected StartTLS.
sed -e '/^TLS/d' -e "s|$work/ldap-db|$work/ldap-db-notls|" -e "s|slapd.pid|slapd-notls.pid|" \
    "$work/slapd.conf" >"$work/slapd-notls.conf"
cat >"$work/base.ldif" <<EOF
dn: dc=example,dc=test
objectClass: dcObject
objectClass: organization
dc: example
o: exflow fixtures

dn: cn=alice,dc=example,dc=test
objectClass: inetOrgPerson
cn: alice
sn: Example
mail: alice@example.test
userPassword: alice-secret
EOF
slapadd -f "$work/slapd.conf" -l "$work/base.ldif" 2>/dev/null
slapadd -f "$work/slapd-notls.conf" -l "$work/base.ldif" 2>/dev/null

start_bg "$work/slapd.log" slapd -d 0 -f "$work/slapd.conf" \
    -h "ldap://127.0.0.1:389/ ldaps://127.0.0.1:636/ ldap://127.0.0.1:50636/"
slapd_pid=$last_pid
start_bg "$work/slapd-notls.log" slapd -d 0 -f "$work/slapd-notls.conf" \
    -h "ldap://127.0.0.1:1389/"
slapd_notls_pid=$last_pid
wait_port t 389
wait_port t 636
wait_port t 1389

ldap_capture() {
    local name=$1 port=$2
    shift 2
    capture_start "$name" "tcp port $port"
    in_ns env LDAPTLS_REQCERT=never LDAPNOINIT=1 timeout 10 "$@" \
        >"$work/ldap-$name.log" 2>&1 || true
    capture_stop
    extract_tcp "$work/$name.pcap" "$out/ldap/$name"
}

base=(-b dc=example,dc=test -LLL)
admin=(-D cn=admin,dc=example,dc=test -w secret)
ldap_capture simple-bind-search 389 \
    ldapsearch -x -H ldap://127.0.0.1:389 "${admin[@]}" "${base[@]}" '(cn=alice)' mail
ldap_capture anonymous-search 389 \
    ldapsearch -x -H ldap://127.0.0.1:389 "${base[@]}" '(cn=alice)' cn
ldap_capture starttls 389 \
    ldapsearch -x -ZZ -H ldap://127.0.0.1:389 "${admin[@]}" "${base[@]}" '(cn=alice)' mail
ldap_capture starttls-rejected 1389 \
    ldapsearch -x -Z -H ldap://127.0.0.1:1389 "${admin[@]}" "${base[@]}" '(cn=alice)' mail
ldap_capture ldaps 636 \
    ldapsearch -x -H ldaps://127.0.0.1:636 "${admin[@]}" "${base[@]}" '(cn=alice)' mail
ldap_capture cleartext-50636 50636 \
    ldapsearch -x -H ldap://127.0.0.1:50636 "${admin[@]}" "${base[@]}" '(cn=alice)' mail
ldap_capture sasl-plain 389 \
    ldapsearch -O none -Y PLAIN -U alice -w alice-secret -H ldap://127.0.0.1:389 "${base[@]}" '(cn=alice)'
stop_pid "$slapd_pid"
stop_pid "$slapd_notls_pid"

echo "fixtures written to $out"
