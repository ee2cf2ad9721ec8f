#!/usr/bin/env python3
"""Regenerate tests/fixtures/corpus/conversations.tsv from the shared corpus.

For every capture in the corpus directory, tshark lists the TCP and UDP
conversations (`-z conv,tcp -z conv,udp`) and the first SYN of each TCP
conversation. The integration tests compare exflow's flows with this table.

Usage: scripts/corpus-reference.py [CORPUS_DIR] [OUTPUT]
Defaults: ../shared/corpus beside the repository, and the fixture path above.
Needs tshark (Debian package tshark); the table records its version.
"""

import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "..", "shared", "corpus")
OUTPUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(REPO, "tests", "fixtures", "corpus", "conversations.tsv")

ROW = re.compile(
    r"^(?P<a>\S+)\s+<->\s+(?P<b>\S+)\s+(?P<b_to_a>\d+)\s+\d+\s+\w+\s+(?P<a_to_b>\d+)\s+\d+\s+\w+\s+(?P<total>\d+)\s"
)


def split_endpoint(text):
    """Split "addr:port" (IPv6 addresses contain colons, the port is last)."""
    address, _, port = text.rpartition(":")
    return address, int(port)


def run_tshark(args):
    result = subprocess.run(
        ["tshark", "-n", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        errors="replace",
        check=False,
    )
    return result.stdout


def conversations(path):
    """Yield (transport, a, b, a_to_b, b_to_a, total) for each conversation."""
    transport = None
    for line in run_tshark(["-r", path, "-q", "-z", "conv,tcp", "-z", "conv,udp"]).splitlines():
        if line.startswith("TCP Conversations"):
            transport = "tcp"
        elif line.startswith("UDP Conversations"):
            transport = "udp"
        match = ROW.match(line)
        if match and transport:
            yield (
                transport,
                split_endpoint(match["a"]),
                split_endpoint(match["b"]),
                int(match["a_to_b"]),
                int(match["b_to_a"]),
                int(match["total"]),
            )


def first_syns(path):
    """Map each unordered TCP endpoint pair to the sender of its first SYN."""
    fields = ["-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport"]
    output = run_tshark(["-r", path, "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0", "-T", "fields", "-E", "separator=\t", *fields])
    syns = {}
    for line in output.splitlines():
        parts = line.split("\t")
        if len(parts) != 6:
            continue
        # Tunnelled packets list every layer's address; the innermost is last.
        src = (parts[0] or parts[1]).split(",")[-1]
        dst = (parts[3] or parts[4]).split(",")[-1]
        if not src or not dst or not parts[2] or not parts[5]:
            continue
        client = (src, int(parts[2].split(",")[-1]))
        server = (dst, int(parts[5].split(",")[-1]))
        syns.setdefault(frozenset([client, server]), client)
    return syns


def main():
    version = run_tshark(["-v"]).splitlines()[0].strip()
    names = sorted(name for name in os.listdir(CORPUS) if name.endswith((".pcap", ".pcapng")))
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    with open(OUTPUT, "w", encoding="utf-8") as out:
        out.write(f"# Made by scripts/corpus-reference.py with {version}.\n")
        out.write("# syn_client: the sender of the first SYN (TCP), '-' when none was captured.\n")
        out.write("file\ttransport\ta_ip\ta_port\tb_ip\tb_port\tframes_a_to_b\tframes_b_to_a\tframes\tsyn_client\n")
        for name in names:
            path = os.path.join(CORPUS, name)
            syns = first_syns(path)
            for transport, a, b, a_to_b, b_to_a, total in conversations(path):
                client = syns.get(frozenset([a, b])) if transport == "tcp" else None
                syn_client = f"{client[0]}:{client[1]}" if client else "-"
                out.write(f"{name}\t{transport}\t{a[0]}\t{a[1]}\t{b[0]}\t{b[1]}\t{a_to_b}\t{b_to_a}\t{total}\t{syn_client}\n")


if __name__ == "__main__":
    main()
