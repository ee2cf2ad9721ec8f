#!/usr/bin/env bash
# Records the text-protocol fixtures under tests/fixtures/fingerprint/ from real
# servers and clients talking over the loopback interface of a network namespace
# that this script creates (no route out), captured with tcpdump and cut into
# per-direction byte files with tshark.
#
# Servers: postfix (SMTP, with dovecot SASL), dovecot (IMAP, POP3), nginx (HTTP/1.1
# and HTTP/2 prior knowledge), OpenSSH sshd. Clients: swaks, curl, Python's
# imaplib/poplib/socket, OpenSSH ssh.
#
# Needs root and the Debian packages postfix dovecot-imapd dovecot-pop3d
# nginx-light openssh-server swaks curl tcpdump tshark python3 openssl.
# Usage: sudo scripts/record-fingerprint-fixtures.sh   (rewrites the fixture files)
#
# Each session NAME gives three files in tests/fixtures/fingerprint/<proto>/:
#   NAME.client.bin   the client's bytes, in order (tshark follow,tcp,raw, node 0)
#   NAME.server.bin   the server's bytes, in order
#   NAME.segments     one line per TCP segment with payload, in capture order:
#                     "c <len>" (client) or "s <len>" (server)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT="$REPO/tests/fixtures/fingerprint"
NS="exflow-fp-rec-$$"
WORK=$(mktemp -d /tmp/exflow-fp-rec.XXXXXX)
chmod 755 "$WORK"
SERVER_PIDS=()

in_ns() { ip netns exec "$NS" "$@"; }

cleanup() {
    set +e
    [ -f "$WORK/postfix-spool/pid/master.pid" ] && kill "$(tr -d ' ' <"$WORK/postfix-spool/pid/master.pid")"
    [ -f "$WORK/dovecot-run/master.pid" ] && kill "$(cat "$WORK/dovecot-run/master.pid")"
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")"
    [ -f "$WORK/sshd.pid" ] && kill "$(cat "$WORK/sshd.pid")"
    for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    sleep 1
    ip netns del "$NS" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$NS"
in_ns ip link set lo up
# A second loopback address: dovecot treats a client whose address equals the
# server's as secured and then never announces LOGINDISABLED.
in_ns ip addr add 127.0.0.2/8 dev lo 2>/dev/null || true

# --- TLS certificate shared by postfix and dovecot ---------------------------
mkdir -p "$WORK/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" -days 3650 \
    -subj /CN=mail.exflow.test -addext subjectAltName=DNS:mail.exflow.test 2>/dev/null
chmod 644 "$WORK/tls/key.pem"

# --- dovecot: IMAP, POP3 and the SASL socket postfix uses ---------------------
mkdir -p "$WORK/dovecot-run" "$WORK/dovecot-state" "$WORK/mail" "$WORK/postfix-spool/private"
chown 65534:65534 "$WORK/mail"
chown postfix "$WORK/postfix-spool/private"
chmod 700 "$WORK/postfix-spool/private"
echo "alice:{PLAIN}wonderland" >"$WORK/dovecot-users"
cat >"$WORK/dovecot.conf" <<EOF
base_dir = $WORK/dovecot-run
state_dir = $WORK/dovecot-state
log_path = $WORK/dovecot.log
protocols = imap pop3
listen = 127.0.0.1, 127.0.0.2
ssl = yes
ssl_cert = <$WORK/tls/cert.pem
ssl_key = <$WORK/tls/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN $WORK/dovecot-users
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$WORK/mail/%u
}
mail_location = maildir:~/Maildir
default_internal_user = dovecot
default_login_user = dovenull
service auth {
  unix_listener $WORK/postfix-spool/private/auth {
    mode = 0666
  }
}
# On 127.0.0.2 cleartext logins are refused, so the server announces
# LOGINDISABLED and the client has to use STARTTLS.
local 127.0.0.2 {
  disable_plaintext_auth = yes
}
EOF
in_ns dovecot -c "$WORK/dovecot.conf"

# --- postfix: a private instance with its own configuration and queue ---------
PF="$WORK/postfix"
mkdir -p "$PF" "$WORK/postfix-data"
chown postfix:postfix "$WORK/postfix-data"
cp /etc/postfix/master.cf "$PF/master.cf"
cat >"$PF/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $WORK/postfix-spool
data_directory = $WORK/postfix-data
maillog_file = $WORK/postfix.log
maillog_file_prefixes = $WORK
meta_directory = /etc/postfix
myhostname = mail.exflow.test
mydomain = exflow.test
myorigin = exflow.test
mydestination = exflow.test, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = \$myhostname ESMTP Postfix
smtpd_tls_cert_file = $WORK/tls/cert.pem
smtpd_tls_key_file = $WORK/tls/key.pem
smtpd_tls_security_level = may
smtpd_tls_auth_only = no
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
local_transport = discard
default_transport = discard
local_recipient_maps =
alias_maps =
alias_database =
EOF
postconf -c "$PF" -F '*/*/chroot = n'
postconf -c "$PF" -M 'postlog/unix-dgram=postlog unix-dgram n - n - 1 postlogd'
# postfix writes its startup errors to syslog, or to a terminal: on failure,
# show the log and rerun the check on a pseudo-terminal to see why.
in_ns postfix -c "$PF" start || {
    cat "$WORK/postfix.log"
    script -qc "postfix -c $PF check" /dev/null
    exit 1
}

# --- nginx: HTTP/1.1 on port 80, HTTP/2 prior knowledge on 8080 ---------------
mkdir -p "$WORK/nginx-tmp"
cat >"$WORK/nginx.conf" <<EOF
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
worker_processes 1;
events {}
http {
  access_log off;
  client_body_temp_path $WORK/nginx-tmp;
  server {
    listen 127.0.0.1:80;
    listen 127.0.0.1:8080 http2;
    server_name mail.exflow.test;
    location / { return 200 "exflow fixture\n"; }
  }
}
EOF
in_ns nginx -c "$WORK/nginx.conf"

# --- sshd ----------------------------------------------------------------------
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh_host_ed25519_key"
cat >"$WORK/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port 22
HostKey $WORK/ssh_host_ed25519_key
PidFile $WORK/sshd.pid
UsePAM no
EOF
in_ns /usr/sbin/sshd -f "$WORK/sshd_config"

sleep 2

# Captures one session: record PROTO NAME CLIENT-COMMAND...
record() {
    local proto=$1 name=$2
    shift 2
    local pcap="$WORK/$name.pcap"
    # ip netns exec execs tcpdump, so $! is tcpdump's PID. SIGTERM, because a
    # background job ignores SIGINT.
    ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$pcap" tcp 2>/dev/null &
    local dump_pid=$!
    sleep 1
    in_ns "$@" >"$WORK/$name.client-log" 2>&1 || true
    sleep 1
    kill -TERM "$dump_pid"
    wait "$dump_pid" || true
    mkdir -p "$OUT/$proto"
    python3 "$WORK/extract.py" "$pcap" "$OUT/$proto/$name"
    echo "recorded $proto/$name"
}

cat >"$WORK/extract.py" <<'EOF'
# Cuts TCP stream 0 of a capture into client bytes, server bytes and segment sizes.
import subprocess, sys
pcap, stem = sys.argv[1], sys.argv[2]
out = subprocess.run(["tshark", "-r", pcap, "-q", "-z", "follow,tcp,raw,0"],
                     capture_output=True, text=True, check=True).stdout
client, server, segments = bytearray(), bytearray(), []
started = False
for line in out.splitlines():
    if line.startswith("Node 1:"):
        started = True
        continue
    if not started or line.startswith("=") or not line.strip():
        continue
    data = bytes.fromhex(line.strip())
    if line.startswith("\t"):
        server += data
        segments.append(f"s {len(data)}")
    else:
        client += data
        segments.append(f"c {len(data)}")
open(stem + ".client.bin", "wb").write(client)
open(stem + ".server.bin", "wb").write(server)
open(stem + ".segments", "w").write("\n".join(segments) + "\n")
EOF

cat >"$WORK/clients.py" <<'EOF'
# Python clients for sessions that swaks and curl cannot make.
import imaplib, poplib, socket, ssl, sys, time

def tls_context():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context

class Imap(imaplib.IMAP4):
    # Connects from a chosen source address (dovecot's LOGINDISABLED test).
    def __init__(self, host, source):
        self.source = source
        super().__init__(host)
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, (self.source, 0))

def send_in_pieces(port, pieces, read_first, host="127.0.0.1"):
    # Sends each piece in its own segment, so lines arrive split.
    with socket.create_connection((host, port)) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if read_first:
            conn.recv(4096)
        for piece in pieces:
            conn.sendall(piece)
            time.sleep(0.3)
        conn.settimeout(2)
        try:
            while conn.recv(4096):
                pass
        except socket.timeout:
            pass

session = sys.argv[1]
if session == "imap-login":
    imap = Imap("127.0.0.1", "127.0.0.1")
    imap.login("alice", "wonderland")
    imap.select("INBOX")
    imap.logout()
elif session == "imap-starttls-logindisabled":
    imap = Imap("127.0.0.2", "127.0.0.1")
    imap.starttls(tls_context())
    imap.login("alice", "wonderland")
    imap.logout()
elif session == "pop3-user-pass":
    pop = poplib.POP3("127.0.0.1")
    pop.capa()
    pop.user("alice")
    pop.pass_("wonderland")
    pop.stat()
    pop.quit()
elif session == "pop3-stls":
    pop = poplib.POP3("127.0.0.1")
    pop.stls(tls_context())
    pop.user("alice")
    pop.pass_("wonderland")
    pop.quit()
elif session == "smtp-split-ehlo":
    send_in_pieces(25, [b"EH", b"LO client.exflow", b".test\r\n", b"QUIT\r\n"], True)
elif session == "smtp-starttls-refused":
    # STARTTLS takes no parameter (RFC 3207), so postfix refuses this one with
    # 501 and the session goes on in cleartext.
    send_in_pieces(25, [b"EHLO client.exflow.test\r\n", b"STARTTLS now\r\n",
                        b"AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=\r\n", b"QUIT\r\n"], True)
elif session == "smtp-starttls-then-quit":
    # The server accepts STARTTLS, but the client sends QUIT instead of a
    # TLS ClientHello: an upgrade accepted with no handshake after it.
    send_in_pieces(25, [b"EHLO client.exflow.test\r\n", b"STARTTLS\r\n", b"QUIT\r\n"], True)
elif session == "http-split-request-line":
    send_in_pieces(80, [b"GE", b"T /ecp/ HT", b"TP/1.1\r\nHost: mail.exflow.test\r\nUser-Ag",
                        b"ent: exflow-split/1.0\r\n\r\n"], False)
else:
    sys.exit(f"unknown session {session}")
EOF

PY=$(command -v python3)
SWAKS=(swaks --server 127.0.0.1 --helo client.exflow.test --from bob@exflow.test --to alice@exflow.test)

# SMTP
record smtp auth-plain "${SWAKS[@]}" --auth PLAIN --auth-user alice --auth-password wonderland
record smtp auth-login "${SWAKS[@]}" --auth LOGIN --auth-user alice --auth-password wonderland
record smtp pipelining "${SWAKS[@]}" --pipeline
record smtp starttls "${SWAKS[@]}" --tls --tls-sni mail.exflow.test
record smtp split-ehlo "$PY" "$WORK/clients.py" smtp-split-ehlo
record smtp starttls-refused "$PY" "$WORK/clients.py" smtp-starttls-refused
record smtp starttls-then-quit "$PY" "$WORK/clients.py" smtp-starttls-then-quit

# IMAP
record imap login "$PY" "$WORK/clients.py" imap-login
record imap starttls-logindisabled "$PY" "$WORK/clients.py" imap-starttls-logindisabled
record imap authenticate-plain curl -s "imap://alice:wonderland@127.0.0.1/INBOX?NEW"

# POP3
record pop3 user-pass "$PY" "$WORK/clients.py" pop3-user-pass
record pop3 stls "$PY" "$WORK/clients.py" pop3-stls
record pop3 auth-plain curl -s "pop3://alice:wonderland@127.0.0.1/"

# HTTP
CURL=(curl -s -o /dev/null -A "exflow-fixture/1.0" -H "Host: mail.exflow.test")
record http owa-get "${CURL[@]}" "http://127.0.0.1/owa/"
record http ews-post "${CURL[@]}" -H "Content-Type: text/xml" --data '<soap:Envelope/>' "http://127.0.0.1/EWS/Exchange.asmx"
record http autodiscover-post "${CURL[@]}" -H "Content-Type: text/xml" --data '<Autodiscover/>' "http://127.0.0.1/autodiscover/autodiscover.xml"
record http activesync-options "${CURL[@]}" -X OPTIONS "http://127.0.0.1/Microsoft-Server-ActiveSync"
record http mapi-post "${CURL[@]}" --data 'x' "http://127.0.0.1/mapi/emsmdb/?MailboxId=alice@exflow.test"
record http rpc-in-data "${CURL[@]}" -X RPC_IN_DATA -H "Content-Length: 0" "http://127.0.0.1/rpc/rpcproxy.dll?mail.exflow.test:6001"
record http oab-get "${CURL[@]}" "http://127.0.0.1/OAB/oab.xml"
record http split-request-line "$PY" "$WORK/clients.py" http-split-request-line
record http h2c-prior-knowledge curl -s -o /dev/null --http2-prior-knowledge "http://127.0.0.1:8080/owa/"

# SSH
record ssh openssh ssh -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 nobody@127.0.0.1 true

# X-ANONYMOUSTLS: no server here speaks it (Exchange only), so this fixture is the
# real postfix STARTTLS session above with the verb rewritten in both directions.
python3 - "$OUT/smtp" <<'EOF'
import sys
d = sys.argv[1]
pairs = {"client": (b"STARTTLS\r\n", b"X-ANONYMOUSTLS\r\n"),
         "server": (b"250-STARTTLS\r\n", b"250-X-ANONYMOUSTLS\r\n")}
grown = {}
for side, (old, new) in pairs.items():
    data = open(f"{d}/starttls.{side}.bin", "rb").read()
    at = data.index(old)
    assert data.count(old) == 1
    open(f"{d}/x-anonymoustls-rewritten.{side}.bin", "wb").write(data.replace(old, new))
    grown[side[0]] = (at, len(new) - len(old))
# Grow the segment that holds the rewritten bytes.
lines, offsets = [], {"c": 0, "s": 0}
for line in open(f"{d}/starttls.segments"):
    side, size = line.split()
    size = int(size)
    at, extra = grown[side]
    if offsets[side] <= at < offsets[side] + size:
        lines.append(f"{side} {size + extra}")
    else:
        lines.append(f"{side} {size}")
    offsets[side] += size
open(f"{d}/x-anonymoustls-rewritten.segments", "w").write("\n".join(lines) + "\n")
print("recorded smtp/x-anonymoustls-rewritten (rewritten from smtp/starttls)")
EOF
