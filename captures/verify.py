#!/usr/bin/env python3
"""Check a lab capture against its expectation table, from the bytes alone.

Usage: verify.py CAPTURE EXPECTED.tsv [--resolve] [--update-readme README.md | --markdown]

tshark lists every TCP and UDP packet, and this script rebuilds the flows
from them. For each flow it derives, without looking at the expectation
table: who opened it, how it ended (conn_state), which protocol the payload
speaks (app), whether a STARTTLS/STLS upgrade reached a complete TLS
handshake, and the risk flags. It also collects details for the README (TLS
SNI and version, HTTP request line and status, SMTP EHLO name, DNS question
and answer code). It then compares the facts with the table, row by row in
the order the flows start, and exits 1 on any difference. Verdicts and
rules are exflow's to decide and are not checked.

A table value "A|B" accepts either A or B (record.sh writes "SF|RST" where
the way a TLS connection ends is a race). --resolve rewrites such values in
the table with what the capture shows, once everything matches.
--update-readme puts the Markdown table of the observed flows into README.md
between the markers "<!-- begin CAPTURE -->" and "<!-- end CAPTURE -->";
--markdown prints that table instead of checking.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from dataclasses import dataclass, field

TSHARK_FIELDS = [
    "frame.number",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags",
    "tcp.payload",
    "udp.srcport",
    "udp.dstport",
    "udp.payload",
]

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_ACK = 0x10

TLS_HANDSHAKE = 22
TLS_CHANGE_CIPHER_SPEC = 20
TLS_APPLICATION_DATA = 23

TLS_VERSIONS = {
    0x0301: "TLSv1.0",
    0x0302: "TLSv1.1",
    0x0303: "TLSv1.2",
    0x0304: "TLSv1.3",
}

DNS_TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV"}
DNS_RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


@dataclass
class Flow:
    transport: str
    client: tuple[str, int]
    server: tuple[str, int]
    first_frame: int
    to_server: bytearray = field(default_factory=bytearray)
    to_client: bytearray = field(default_factory=bytearray)
    syn: bool = False
    syn_ack: bool = False
    fin_client: bool = False
    fin_server: bool = False
    rst: bool = False
    closed: bool = False

    def add(self, from_client: bool, flags: int, payload: bytes) -> None:
        if flags & TCP_SYN and not flags & TCP_ACK:
            self.syn = True
        if flags & TCP_SYN and flags & TCP_ACK:
            self.syn_ack = True
        if flags & TCP_FIN:
            if from_client:
                self.fin_client = True
            else:
                self.fin_server = True
        if flags & TCP_RST and not (self.fin_client and self.fin_server):
            # A reset after both sides sent FIN only responds to a late
            # segment (usually a TLS close_notify) for a closed socket.
            self.rst = True
        if flags & TCP_RST or (self.fin_client and self.fin_server):
            self.closed = True
        (self.to_server if from_client else self.to_client).extend(payload)


def read_packets(path: str):
    command = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for name in TSHARK_FIELDS:
        command += ["-e", name]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    for line in output.splitlines():
        values = dict(zip(TSHARK_FIELDS, line.split("\t")))
        yield values


def build_flows(path: str) -> list[Flow]:
    flows: list[Flow] = []
    open_flows: dict[tuple, Flow] = {}
    for p in read_packets(path):
        src = p["ip.src"] or p["ipv6.src"]
        dst = p["ip.dst"] or p["ipv6.dst"]
        if p["tcp.srcport"]:
            transport = "tcp"
            sport, dport = int(p["tcp.srcport"]), int(p["tcp.dstport"])
            flags = int(p["tcp.flags"], 16)
            payload = bytes.fromhex(p["tcp.payload"].replace(":", ""))
        elif p["udp.srcport"]:
            transport = "udp"
            sport, dport = int(p["udp.srcport"]), int(p["udp.dstport"])
            flags = 0
            payload = bytes.fromhex(p["udp.payload"].replace(":", ""))
        else:
            continue
        key = (transport, frozenset([(src, sport), (dst, dport)]))
        flow = open_flows.get(key)
        new_syn = transport == "tcp" and flags & TCP_SYN and not flags & TCP_ACK
        if flow is None or (flow.closed and new_syn):
            flow = Flow(transport, (src, sport), (dst, dport), int(p["frame.number"]))
            open_flows[key] = flow
            flows.append(flow)
        flow.add((src, sport) == flow.client, flags, payload)
    return flows


# ------------------------------------------------------------------ facts


def conn_state(flow: Flow) -> str:
    # UDP has no handshake; like Zeek, a flow with packets both ways is SF and a
    # one-way flow is S0.
    if flow.transport == "udp":
        return "SF" if flow.to_server and flow.to_client else "S0"
    if not flow.syn_ack:
        return "REJ" if flow.rst else "S0"
    if flow.rst:
        return "RST"
    if flow.fin_client and flow.fin_server:
        return "SF"
    return "open"


def is_tls_record(data: bytes) -> bool:
    return len(data) >= 3 and data[0] in (TLS_HANDSHAKE, 21, 23) and data[1] == 3


def detect_app(flow: Flow) -> str:
    c, s = bytes(flow.to_server), bytes(flow.to_client)
    if not c and not s:
        return "none"
    if is_tls_record(c) or is_tls_record(s):
        return "tls"
    if c.startswith(b"SSH-") or s.startswith(b"SSH-"):
        return "ssh"
    if flow.server[1] == 53 and parse_dns(c if flow.transport == "udp" else c[2:]) is not None:
        return "dns"
    if re.match(rb"[A-Z_-]+ \S+ HTTP/1\.[01]\r\n", c) or s.startswith(b"HTTP/1."):
        return "http"
    if s.startswith(b"220") and re.match(rb"(EHLO|HELO) ", c, re.I):
        return "smtp"
    if s.startswith(b"* OK"):
        return "imap"
    if s.startswith(b"+OK"):
        return "pop3"
    if c[:1] == b"\x30":
        return "ldap"
    return "unknown"


@dataclass
class MailFacts:
    starttls: bool = False
    risks: list[str] = field(default_factory=list)
    tls_from_client: bytes = b""
    tls_from_server: bytes = b""
    helo: str = ""


UPGRADE_COMMAND = {
    "smtp": rb"^STARTTLS\r\n",
    "imap": rb"^\S+ STARTTLS\r\n",
    "pop3": rb"^STLS\r\n",
}
UPGRADE_OFFERED = {
    "smtp": rb"^250[ -]STARTTLS\r?$",
    "imap": rb"\bSTARTTLS\b",
    "pop3": rb"^STLS\r?$",
}
UPGRADE_ACCEPTED = {
    "smtp": rb"^220 ",
    "imap": rb"^\S+ OK",
    "pop3": rb"^\+OK",
}
CLEARTEXT_AUTH = {
    "smtp": rb"^AUTH ",
    "imap": rb"^\S+ (LOGIN|AUTHENTICATE) ",
    "pop3": rb"^(USER|PASS|AUTH|APOP) ",
}


def split_cleartext(data: bytes, app: str) -> tuple[bytes, bytes, bool]:
    """Cut a client stream at its STARTTLS command: (before, after, sent)."""
    match = re.search(UPGRADE_COMMAND[app], data, re.M | re.I)
    if not match:
        return data, b"", False
    return data[: match.end()], data[match.end() :], True


def server_upgrade_reply(data: bytes, app: str) -> tuple[bytes, bytes]:
    """Cut a server stream after its consent to STARTTLS: (cleartext, tls)."""
    for match in re.finditer(rb"(?m)^.*\r\n", data):
        rest = data[match.end() :]
        if re.match(UPGRADE_ACCEPTED[app], match.group(0)) and is_tls_record(rest):
            return data[: match.end()], rest
    return data, b""


def mail_facts(flow: Flow, app: str) -> MailFacts:
    facts = MailFacts()
    c, s = bytes(flow.to_server), bytes(flow.to_client)
    before, after, sent = split_cleartext(c, app)
    if app == "smtp":
        helo = re.match(rb"(?:EHLO|HELO) (\S+)", before, re.I)
        facts.helo = helo.group(1).decode() if helo else ""
    if re.search(CLEARTEXT_AUTH[app], before, re.M | re.I):
        facts.risks.append("cleartext_auth")
    server_clear, server_tls = server_upgrade_reply(s, app) if sent else (s, b"")
    if sent:
        if is_tls_record(after):
            facts.starttls = True
            facts.tls_from_client = after
            facts.tls_from_server = server_tls
        else:
            facts.risks.append("starttls_failed")
    elif re.search(UPGRADE_OFFERED[app], server_clear, re.M | re.I):
        facts.risks.append("starttls_not_used")
    return facts


def tls_records(data: bytes):
    offset = 0
    while offset + 5 <= len(data):
        content_type = data[offset]
        length = int.from_bytes(data[offset + 3 : offset + 5], "big")
        yield content_type, data[offset + 5 : offset + 5 + length]
        offset += 5 + length


@dataclass
class TlsFacts:
    sni: str = ""
    version: str = ""
    complete: bool = False


def tls_facts(from_client: bytes, from_server: bytes) -> TlsFacts:
    facts = TlsFacts()
    for content_type, body in tls_records(from_client):
        if content_type == TLS_HANDSHAKE and body[:1] == b"\x01":
            facts.sni = client_hello_sni(body)
            break
    server_hello = False
    for content_type, body in tls_records(from_server):
        if content_type == TLS_HANDSHAKE and body[:1] == b"\x02":
            server_hello = True
            facts.version = server_hello_version(body)
            break
    # The handshake finished when the client sent its Finished: under
    # TLS 1.2 after a ChangeCipherSpec, under TLS 1.3 as encrypted records
    # following the server's flight.
    client_after_hello = list(tls_records(from_client))[1:]
    facts.complete = server_hello and any(
        t in (TLS_CHANGE_CIPHER_SPEC, TLS_APPLICATION_DATA) for t, _ in client_after_hello
    )
    return facts


def hello_extensions(body: bytes, server: bool):
    # handshake header (4) + version (2) + random (32)
    offset = 4 + 2 + 32
    session_id_length = body[offset]
    offset += 1 + session_id_length
    if server:
        offset += 2 + 1  # cipher suite, compression method
    else:
        suites_length = int.from_bytes(body[offset : offset + 2], "big")
        offset += 2 + suites_length
        compression_length = body[offset]
        offset += 1 + compression_length
    if offset + 2 > len(body):
        return
    end = offset + 2 + int.from_bytes(body[offset : offset + 2], "big")
    offset += 2
    while offset + 4 <= end:
        ext_type = int.from_bytes(body[offset : offset + 2], "big")
        ext_length = int.from_bytes(body[offset + 2 : offset + 4], "big")
        yield ext_type, body[offset + 4 : offset + 4 + ext_length]
        offset += 4 + ext_length


def client_hello_sni(body: bytes) -> str:
    for ext_type, data in hello_extensions(body, server=False):
        if ext_type == 0 and len(data) > 5:
            name_length = int.from_bytes(data[3:5], "big")
            return data[5 : 5 + name_length].decode()
    return ""


def server_hello_version(body: bytes) -> str:
    version = int.from_bytes(body[4:6], "big")
    for ext_type, data in hello_extensions(body, server=True):
        if ext_type == 43 and len(data) == 2:
            version = int.from_bytes(data, "big")
    return TLS_VERSIONS.get(version, hex(version))


def parse_dns(message: bytes):
    """(qname, qtype, rcode) of a DNS message, or None if it is not one."""
    if len(message) < 12:
        return None
    flags = int.from_bytes(message[2:4], "big")
    if int.from_bytes(message[4:6], "big") != 1:
        return None
    offset, labels = 12, []
    while offset < len(message) and message[offset] != 0:
        length = message[offset]
        labels.append(message[offset + 1 : offset + 1 + length].decode(errors="replace"))
        offset += 1 + length
    if offset + 5 > len(message):
        return None
    qtype = int.from_bytes(message[offset + 1 : offset + 3], "big")
    return ".".join(labels), DNS_TYPES.get(qtype, str(qtype)), flags & 0x0F


def http_details(flow: Flow) -> str:
    c, s = bytes(flow.to_server), bytes(flow.to_client)
    request = re.match(rb"([A-Z_-]+) (\S+) HTTP/1\.[01]\r\n", c)
    host = re.search(rb"(?mi)^Host: (\S+)\r$", c)
    status = re.match(rb"HTTP/1\.[01] (\d{3})", s)
    parts = []
    if request:
        parts.append(f"{request.group(1).decode()} {request.group(2).decode()}")
    if host:
        parts.append(f"Host {host.group(1).decode()}")
    if status:
        parts.append(f"status {status.group(1).decode()}")
    return ", ".join(parts)


@dataclass
class Observed:
    flow: Flow
    app: str
    starttls: bool
    conn: str
    risks: list[str]
    detail: str
    problems: list[str]


def observe(flow: Flow) -> Observed:
    app = detect_app(flow)
    starttls = False
    risks: list[str] = []
    details: list[str] = []
    problems: list[str] = []
    c, s = bytes(flow.to_server), bytes(flow.to_client)

    if app in ("smtp", "imap", "pop3"):
        mail = mail_facts(flow, app)
        starttls, risks = mail.starttls, mail.risks
        if mail.helo:
            details.append(f"EHLO {mail.helo}")
        if mail.starttls:
            tls = tls_facts(mail.tls_from_client, mail.tls_from_server)
            details.append(f"STARTTLS to {tls.version}")
            if not tls.complete:
                problems.append("STARTTLS was accepted but the TLS handshake did not complete")
    elif app == "tls":
        tls = tls_facts(c, s)
        details.append(f"{tls.version}, SNI {tls.sni or '(none)'}")
        if not tls.complete:
            problems.append("TLS handshake did not complete")
    elif app == "http":
        details.append(http_details(flow))
    elif app == "dns":
        query = parse_dns(c if flow.transport == "udp" else c[2:])
        answer = parse_dns(s if flow.transport == "udp" else s[2:])
        if query:
            rcode = DNS_RCODES.get(answer[2], str(answer[2])) if answer else "no answer"
            details.append(f"{query[0]} {query[1]} {rcode}")
    elif app == "ssh":
        banner = s.split(b"\r\n", 1)[0].decode(errors="replace")
        details.append(banner)
    elif app == "ldap":
        details.append(f"{len(c)} bytes of BER requests")

    return Observed(flow, app, starttls, conn_state(flow), risks, "; ".join(details), problems)


# ------------------------------------------------------------------ compare


def read_expected(path: str) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def compare(observed: list[Observed], expected: list[dict[str, str]]) -> list[str]:
    errors = []
    if len(observed) != len(expected):
        errors.append(f"{len(observed)} flows in the capture, {len(expected)} rows in the table")
    for number, (o, e) in enumerate(zip(observed, expected), start=1):
        risks = ",".join(sorted(o.risks)) or "-"
        expected_risks = ",".join(sorted(e["risks"].split(","))) if e["risks"] != "-" else "-"
        pairs = [
            ("client", o.flow.client[0], e["client"]),
            ("server", o.flow.server[0], e["server"]),
            ("port", str(o.flow.server[1]), e["port"]),
            ("transport", o.flow.transport, e["transport"]),
            ("app", o.app, e["app"]),
            ("starttls", str(o.starttls).lower(), e["starttls"]),
            ("conn_state", o.conn, e["conn_state"]),
            ("risks", risks, expected_risks),
        ]
        for name, got, want in pairs:
            # "SF|RST" in the table accepts either outcome of a close race.
            if got not in want.split("|"):
                errors.append(f"flow {number} (session {e['session']}): {name} is {got}, the table says {want}")
        for problem in o.problems:
            errors.append(f"flow {number} (session {e['session']}): {problem}")
    return errors


def resolve(observed: list[Observed], expected: list[dict[str, str]], path: str) -> None:
    """Rewrite the table with the conn_state each close race really had."""
    for o, e in zip(observed, expected):
        if "|" in e["conn_state"]:
            e["conn_state"] = o.conn
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(expected[0]), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(expected)


def markdown(observed: list[Observed], expected: list[dict[str, str]]) -> str:
    lines = [
        "| session | what | client | server | port | app | starttls | conn_state | verdict | rule | risks | why | observed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for o, e in zip(observed, expected):
        risks = ", ".join(sorted(o.risks)) or "-"
        lines.append(
            f"| {e['session']} | {e['what']} | {o.flow.client[0]} | {o.flow.server[0]} "
            f"| {o.flow.transport}/{o.flow.server[1]} | {o.app} | {str(o.starttls).lower()} | {o.conn} "
            f"| {e['verdict']} | {e['rule']} | {risks} | {e['why']} | {o.detail} |"
        )
    return "\n".join(lines)


def update_readme(path: str, capture: str, table: str) -> None:
    """Replace the table between the README's markers for this capture."""
    name = capture.rsplit("/", 1)[-1]
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    with open(path) as f:
        text = f.read()
    if begin not in text or end not in text:
        raise SystemExit(f"error: {path} has no '{begin}' ... '{end}' markers; add them where the table goes")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(f"{head}{begin}\n{table}\n{end}{tail}")


def main() -> int:
    argv = sys.argv[1:]
    readme = None
    if "--update-readme" in argv:
        at = argv.index("--update-readme")
        if at + 1 >= len(argv):
            print("error: --update-readme needs the README path", file=sys.stderr)
            return 2
        readme = argv.pop(at + 1)
    args = [a for a in argv if not a.startswith("--")]
    if len(args) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    capture, table = args
    observed = [observe(flow) for flow in build_flows(capture)]
    expected = read_expected(table)
    if "--markdown" in sys.argv:
        print(markdown(observed, expected))
        return 0
    errors = compare(observed, expected)
    for error in errors:
        print(f"{capture}: {error}", file=sys.stderr)
    if errors:
        return 1
    if "--resolve" in sys.argv:
        resolve(observed, expected, table)
    if readme:
        update_readme(readme, capture, markdown(observed, read_expected(table)))
    print(f"{capture}: {len(observed)} flows match {table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
