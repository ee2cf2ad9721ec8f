#!/usr/bin/env python3
"""Write the TLS fields that TShark finds after each STARTTLS, STLS or LDAP
StartTLS upgrade in the project's own recordings, as a reference for
tests/fingerprint_starttls.rs.

Sources:
- every capture in captures/: the TCP streams whose first payload is clear
  text and that later carry a TLS ClientHello;
- the upgrade sessions under tests/fixtures/fingerprint/: their byte files
  are replayed into a temporary pcap (IPv4, client 10.0.0.1:40000, the
  protocol's standard server port), one TCP segment per line of the
  `.segments` file. TShark's SMTP, IMAP, POP and LDAP dissectors then
  follow the upgrade as they would on the wire.

For each upgrade the script writes the ClientHello's SNI and ALPN list, the
version the ServerHello chose (supported_versions first, RFC 8446 section
4.2.1), and JA4 (FoxIO JA4, TLS over TCP) computed from the ClientHello
fields that TShark dissects. TShark 4.0 has no JA4 field of its own.

Usage: scripts/starttls-tls-reference.py [OUTPUT]
(default tests/fixtures/fingerprint/starttls-tls.tsv). Needs tshark.
"""

import hashlib
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "tests/fixtures/fingerprint/starttls-tls.tsv"

# Fixture sessions with an upgrade, and the server port whose dissector
# follows the protocol's upgrade command.
FIXTURES = [
    ("smtp", "starttls", 25),
    ("imap", "starttls-logindisabled", 143),
    ("pop3", "stls", 110),
    ("ldap", "starttls", 389),
]

CLIENT_HELLO_FIELDS = [
    "tcp.stream",
    "ip.src",
    "ipv6.src",
    "tcp.srcport",
    "ip.dst",
    "ipv6.dst",
    "tcp.dstport",
    "tls.handshake.extensions_server_name",
    "tls.handshake.extensions_alpn_str",
    "tls.handshake.version",
    "tls.handshake.extensions.supported_version",
    "tls.handshake.ciphersuite",
    "tls.handshake.extension.type",
    "tls.handshake.sig_hash_alg",
]

VERSION_NAMES = {
    0x0300: "SSLv3",
    0x0301: "TLSv1.0",
    0x0302: "TLSv1.1",
    0x0303: "TLSv1.2",
    0x0304: "TLSv1.3",
}

# JA4's two-character codes of the protocol version.
JA4_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3"}

EXT_SERVER_NAME = 0
EXT_ALPN = 16


def tshark_fields(pcap, display_filter, fields):
    """Return one list of field values per packet that matches the filter."""
    command = ["tshark", "-r", str(pcap), "-Y", display_filter, "-T", "fields",
               "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for field in fields:
        command += ["-e", field]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in output.splitlines()]


def numbers(text, base):
    return [int(value, base) for value in text.split(",") if value]


def is_grease(value):
    """GREASE values (RFC 8701) repeat one byte of the form 0x?A."""
    return value & 0x0F0F == 0x0A0A and value >> 8 == value & 0xFF


def ja4_inputs(fields):
    """Return the JA4 inputs from the ClientHello fields of
    CLIENT_HELLO_FIELDS[9:]: the highest offered version and the cipher
    suites, extensions and signature algorithms without GREASE values."""
    version, supported, ciphers, extensions, sigalgs = fields
    ciphers = [v for v in numbers(ciphers, 16) if not is_grease(v)]
    extensions = [v for v in numbers(extensions, 10) if not is_grease(v)]
    sigalgs = [v for v in numbers(sigalgs, 16) if not is_grease(v)]
    supported = [v for v in numbers(supported, 16) if not is_grease(v)]
    chosen = max(supported) if supported else int(version.split(",")[0], 16)
    return chosen, ciphers, extensions, sigalgs


def ja4_text(version, ciphers, extensions, sigalgs, alpn):
    """Format JA4: part a, then the truncated SHA-256 of the sorted cipher
    suites and of the sorted extensions (without SNI and ALPN) followed by the
    signature algorithms in their order."""
    def digest(text):
        return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "0" * 12

    def hexes(values):
        return ",".join("%04x" % v for v in values)

    first_alpn = alpn[0] if alpn else ""
    alpn_part = first_alpn[0] + first_alpn[-1] if first_alpn else "00"
    part_c = hexes(sorted(v for v in extensions if v not in (EXT_SERVER_NAME, EXT_ALPN)))
    if part_c and sigalgs:
        part_c += "_" + hexes(sigalgs)
    return "t%s%s%02d%02d%s_%s_%s" % (
        JA4_VERSIONS.get(version, "00"),
        "d" if EXT_SERVER_NAME in extensions else "i",
        min(len(ciphers), 99),
        min(len(extensions), 99),
        alpn_part,
        digest(hexes(sorted(ciphers))),
        digest(part_c),
    )


def upgrades(pcap):
    """Return (client, server, sni, version, alpn, ja4) for each TCP stream of
    the capture that starts in clear text and later carries a ClientHello."""
    first_payload = {}
    for stream, protocols in tshark_fields(pcap, "tcp.len > 0", ["tcp.stream", "frame.protocols"]):
        first_payload.setdefault(stream, protocols)

    server_versions = {}
    for stream, version, supported in tshark_fields(
            pcap, "tls.handshake.type == 2",
            ["tcp.stream", "tls.handshake.version", "tls.handshake.extensions.supported_version"]):
        chosen = int(supported.split(",")[0], 16) if supported else int(version.split(",")[0], 16)
        server_versions.setdefault(stream, chosen)

    rows = []
    seen = set()
    for fields in tshark_fields(pcap, "tls.handshake.type == 1", CLIENT_HELLO_FIELDS):
        stream = fields[0]
        if stream in seen or first_payload[stream].split(":")[-1] == "tls":
            continue
        seen.add(stream)
        src4, src6, sport, dst4, dst6, dport, sni, alpn = fields[1:9]
        client = "%s:%s" % (src4 or src6, sport)
        server = "%s:%s" % (dst4 or dst6, dport)
        alpn = [value for value in alpn.split(",") if value]
        version, ciphers, extensions, sigalgs = ja4_inputs(fields[9:14])
        server_version = server_versions.get(stream)
        rows.append((
            client,
            server,
            sni or "-",
            VERSION_NAMES.get(server_version, "0x%04x" % server_version) if server_version else "-",
            ",".join(alpn) or "-",
            ja4_text(version, ciphers, extensions, sigalgs, alpn),
        ))
    return rows


def read_segments(path):
    """Return (from_client, length) per line: `c N`/`s N` or `client N`/`server N`."""
    segments = []
    for line in path.read_text().splitlines():
        side, length = line.split()
        segments.append((side in ("c", "client"), int(length)))
    return segments


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def frame(src, dst, sport, dport, seq, ack, flags, payload):
    """Return an Ethernet, IPv4 and TCP frame with valid checksums."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    pseudo = struct.pack("!4s4sBBH", src, dst, 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    ethernet = bytes.fromhex("020000000002" "020000000001" "0800")
    return ethernet + ip + tcp


def fixture_pcap(stem, server_port, path):
    """Write a pcap of the fixture session: handshake, segments, FIN exchange."""
    client_bytes = stem.with_name(stem.name + ".client.bin").read_bytes()
    server_bytes = stem.with_name(stem.name + ".server.bin").read_bytes()
    segments = read_segments(stem.with_name(stem.name + ".segments"))
    client, server = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    client_port = 40000
    syn, ack, psh, fin = 0x02, 0x10, 0x08, 0x01
    client_seq, server_seq = 1000, 5000
    frames = [
        frame(client, server, client_port, server_port, client_seq, 0, syn, b""),
        frame(server, client, server_port, client_port, server_seq, client_seq + 1, syn | ack, b""),
        frame(client, server, client_port, server_port, client_seq + 1, server_seq + 1, ack, b""),
    ]
    client_seq += 1
    server_seq += 1
    client_sent = server_sent = 0
    for from_client, length in segments:
        if from_client:
            payload = client_bytes[client_sent:client_sent + length]
            frames.append(frame(client, server, client_port, server_port,
                                client_seq, server_seq, psh | ack, payload))
            client_seq += length
            client_sent += length
        else:
            payload = server_bytes[server_sent:server_sent + length]
            frames.append(frame(server, client, server_port, client_port,
                                server_seq, client_seq, psh | ack, payload))
            server_seq += length
            server_sent += length
    frames.append(frame(client, server, client_port, server_port, client_seq, server_seq, fin | ack, b""))
    frames.append(frame(server, client, server_port, client_port, server_seq, client_seq + 1, fin | ack, b""))

    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for index, data in enumerate(frames):
            out.write(struct.pack("<IIII", 1_700_000_000, index * 1000, len(data), len(data)))
            out.write(data)


def main():
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT
    version = subprocess.run(["tshark", "--version"], check=True, capture_output=True,
                             text=True).stdout.splitlines()[0]
    lines = [
        "# TLS fields after each STARTTLS, STLS or LDAP StartTLS upgrade, dissected by %s" % version,
        "# Written by scripts/starttls-tls-reference.py; JA4 is computed by that script from the ClientHello fields.",
        "# source: a capture in captures/, or a fixture session under tests/fixtures/fingerprint/ (client and server '-').",
        "source\tclient\tserver\tsni\tversion\talpn\tja4",
    ]
    for capture in sorted(ROOT.glob("captures/*.pcap*")):
        for row in upgrades(capture):
            lines.append("\t".join(("captures/" + capture.name,) + row))
    with tempfile.TemporaryDirectory() as directory:
        for proto, name, port in FIXTURES:
            stem = ROOT / "tests/fixtures/fingerprint" / proto / name
            pcap = Path(directory) / ("%s-%s.pcap" % (proto, name))
            fixture_pcap(stem, port, pcap)
            rows = upgrades(pcap)
            if len(rows) != 1:
                sys.exit("%s/%s: expected one upgrade, TShark found %d" % (proto, name, len(rows)))
            lines.append("\t".join(("%s/%s" % (proto, name), "-", "-") + rows[0][2:]))
    output.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
