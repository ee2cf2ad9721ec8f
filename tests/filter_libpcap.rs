//! exflow's filter against libpcap's on real captures. For each expression and
//! capture, tcpdump writes the frames libpcap selects, and every frame that
//! the test glue decodes must get the same decision from `Filter::matches`.
//!
//! libpcap is the reference, run at test time. Without tcpdump the test prints
//! that it skipped and passes; CI installs tcpdump.

#[path = "common/filter_frames.rs"]
mod filter_frames;

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use exflow::decode::Packet;
use exflow::filter::Filter;
use exflow::i18n::Lang;

use filter_frames::{Record, decode_ethernet, read_pcap};

const LINKTYPE_ETHERNET: u32 = 1;

/// Untunnelled Ethernet captures: SMTP, POP3, IMAP, LDAP, DNS over TCP and
/// UDP, mDNS over IPv4 and IPv6, IPv6 SMTP, a mix of tagged IPv6 and untagged
/// IPv4 (VLAN 125), single tags (VLAN 50) and QinQ (two tags).
const CAPTURES: &[&str] = &[
    "ndpi__smtp.pcap",
    "zeek__smtp.pcap",
    "tcpdump__dns_tcp.pcap",
    "tcpdump__dns_udp.pcap",
    "zeek__http-qinq-0.pcap",
    "ndpi__smtp-starttls.pcap",
    "zeek__smtp-attachment-msg.pcap",
    "zeek__ldap__simpleauth.pcap",
    "zeek__dns__mdns.pcap",
    "ndpi__imap.pcap",
    "zeek__pop3__pop3.pcap",
    "zeek__wikipedia.pcap",
];

/// What libpcap evaluates for an exflow expression.
enum Reference {
    /// The same expression. A frame with VLAN tags is compared with the
    /// expression after one `vlan` per tag: libpcap's primitives read fixed
    /// offsets that only `vlan` moves past a tag, while exflow's look through
    /// the tags by themselves.
    Same,
    /// An equivalent libpcap expression, treated like `Same`. It replaces
    /// exflow syntax that libpcap lacks (`proto tcp`), and `less`/`greater`,
    /// which compare the IP length in exflow but the frame length in libpcap.
    Translated(&'static str),
    /// The same expression for every frame: an expression that tests the
    /// tags itself with leading `vlan` primitives.
    Literal,
}

struct Case {
    expression: &'static str,
    reference: Reference,
}

const fn same(expression: &'static str) -> Case {
    Case {
        expression,
        reference: Reference::Same,
    }
}

const fn translated(expression: &'static str, libpcap: &'static str) -> Case {
    Case {
        expression,
        reference: Reference::Translated(libpcap),
    }
}

const fn literal(expression: &'static str) -> Case {
    Case {
        expression,
        reference: Reference::Literal,
    }
}

const CASES: &[Case] = &[
    // Protocols.
    same("tcp"),
    same("udp"),
    same("ip"),
    same("ip6"),
    same("tcp or udp"),
    same("not tcp"),
    same("ip6 and udp"),
    same("icmp"),
    same("sctp or icmp6"),
    same("proto 17"),
    same("ip proto 6"),
    same("ip6 proto \\udp"),
    translated("proto tcp and not port 443", "proto \\tcp and not port 443"),
    // Ports and service names.
    same("port 25"),
    same("tcp port 25"),
    same("udp port 53"),
    same("port domain"),
    same("port smtp"),
    same("port smtp or https"),
    same("dst port 25"),
    same("src port 25"),
    same("src or dst port 110"),
    same("port 25 or 587"),
    same("tcp dst port 25 or 110"),
    same("port pop3 or imap"),
    same("ip6 and tcp port 25"),
    // Port ranges.
    same("portrange 1-1023"),
    same("src portrange 1024-65535"),
    same("tcp dst portrange 20-30"),
    same("udp portrange 5350-5360"),
    same("portrange 143-110"),
    // Hosts.
    same("host 172.16.114.207"),
    same("src host 194.7.248.153"),
    same("dst host 74.53.140.153"),
    same("host 10.10.1.4 or 192.168.133.102"),
    same("host 192.168.133.100 and not 17.167.150.73"),
    same("src and dst host ::1"),
    same("ip6 host ::1"),
    same("host 2003:de:2016:120::a08:53"),
    same("dst host ff02::fb"),
    // Networks.
    same("net 192.168.0.0/16"),
    same("net 192.168"),
    same("net 141.142.220"),
    translated("net 10/8", "net 10.0.0.0/8"),
    same("src and dst net 192.168.133.0/24"),
    same("dst net 224.0.0.0 mask 240.0.0.0"),
    same("not net 10.0.0.0/8"),
    same("ip net 172.16.0.0/12"),
    same("net 2003:de:2016::/48"),
    same("ip6 net fe80::/10"),
    same("dst net ff02::/16"),
    same("src net 2003:de:2016:125::/64"),
    // Lengths, as IP lengths in exflow.
    translated(
        "less 100",
        "(ip and ip[2:2] <= 100) or (ip6 and ip6[4:2] + 40 <= 100)",
    ),
    translated(
        "greater 1000",
        "(ip and ip[2:2] >= 1000) or (ip6 and ip6[4:2] + 40 >= 1000)",
    ),
    translated(
        "tcp and greater 0x200",
        "tcp and ((ip and ip[2:2] >= 512) or (ip6 and ip6[4:2] + 40 >= 512))",
    ),
    // Precedence and repeated qualifiers.
    same("udp or tcp and port 25"),
    same("tcp and port 25 or udp"),
    same("! tcp || dst port 443"),
    same("not (udp or port 80)"),
    same("tcp and (port 25 or port 110) and not host 10.0.0.1"),
    same("host 192.168.0.4 and (port 110 or 143)"),
    same("port 25 and (53 or 26383 or 2127)"),
    same("host 141.142.220.118 and not (port 80 or 5353)"),
    same("host 10.0.0.1 or (port 25) or 10.0.0.2"),
    same("not host 10.0.0.1 and 74.53.140.153"),
    same("tcp src port 25 or 110 or 143"),
    // VLAN tags, tested by libpcap's own `vlan` offsets.
    literal("vlan"),
    literal("not vlan"),
    literal("vlan 125"),
    literal("vlan 124"),
    literal("vlan 50 and tcp port 3268"),
    literal("vlan 125 and ip6 and port 25"),
    literal("vlan and vlan"),
    literal("vlan and not vlan"),
    literal("vlan 0 and vlan 0 and tcp port 80"),
    literal("vlan 0 and vlan 1"),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

/// Returns why tcpdump cannot run, or `None` when it can.
fn tcpdump_missing() -> Option<String> {
    match Command::new("tcpdump").arg("--version").output() {
        Ok(output) if output.status.success() => None,
        Ok(output) => Some(format!("`tcpdump --version` exited with {}", output.status)),
        Err(error) if error.kind() == ErrorKind::NotFound => {
            Some("tcpdump is not installed".into())
        }
        Err(error) => Some(format!("tcpdump failed to start: {error}")),
    }
}

/// Returns, for each record of `capture`, whether libpcap's `expression`
/// selects it.
fn libpcap_selection(capture: &Path, expression: &str, records: &[Record<'_>]) -> Vec<bool> {
    let output = Command::new("tcpdump")
        .arg("-r")
        .arg(capture)
        .args(["-w", "-", expression])
        .output()
        .expect("tcpdump failed to start");
    assert!(
        output.status.success(),
        "tcpdump rejected `{expression}` on {}: {}",
        capture.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let selected = read_pcap(&output.stdout).expect("tcpdump wrote an unreadable pcap");

    // The output is a subsequence of the input: match each written frame to the
    // next input frame with the same bytes. Identical frames get identical
    // decisions, so matching the first one is right.
    let mut chosen = vec![false; records.len()];
    let mut next = 0;
    for record in &selected.records {
        let index = (next..records.len())
            .find(|&i| records[i].data == record.data && records[i].orig_len == record.orig_len)
            .unwrap_or_else(|| panic!("tcpdump wrote a frame not in {}", capture.display()));
        chosen[index] = true;
        next = index + 1;
    }
    chosen
}

/// Returns the libpcap expression for a frame with `tags` VLAN tags.
fn reference_expression(case: &Case, tags: usize) -> String {
    let base = match case.reference {
        Reference::Literal => return case.expression.to_owned(),
        Reference::Same => case.expression,
        Reference::Translated(libpcap) => libpcap,
    };
    if tags == 0 {
        base.to_owned()
    } else {
        format!("{}({base})", "vlan and ".repeat(tags))
    }
}

#[derive(Default)]
struct Tally {
    selected: usize,
    rejected: usize,
}

#[test]
fn filter_agrees_with_libpcap() {
    if let Some(reason) = tcpdump_missing() {
        eprintln!(
            "skipped filter_agrees_with_libpcap: {reason}; install tcpdump to compare with libpcap"
        );
        return;
    }
    assert!(CASES.len() >= 40, "only {} expressions", CASES.len());

    let filters: Vec<Filter> = CASES
        .iter()
        .map(|case| {
            Filter::parse(case.expression)
                .unwrap_or_else(|error| panic!("{}", error.render(case.expression, Lang::En)))
        })
        .collect();
    let mut tallies: Vec<Tally> = CASES.iter().map(|_| Tally::default()).collect();
    let mut mismatches = Vec::new();
    let mut compared = 0;

    for name in CAPTURES {
        let path = corpus_dir().join(name);
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        let file = read_pcap(&bytes).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(file.link_type, LINKTYPE_ETHERNET, "{name}");

        let packets: Vec<Option<Packet<'_>>> = file.records.iter().map(decode_ethernet).collect();
        let decoded = packets.iter().flatten().count();
        assert!(decoded >= 2, "{name}: only {decoded} frames decoded");
        eprintln!(
            "{name}: {decoded} of {} frames compared",
            file.records.len()
        );
        let tag_counts: BTreeSet<usize> = packets
            .iter()
            .flatten()
            .map(|packet| packet.vlan.as_slice().len())
            .collect();

        for (case_index, case) in CASES.iter().enumerate() {
            let reference: BTreeMap<usize, Vec<bool>> = tag_counts
                .iter()
                .map(|&tags| {
                    let expression = reference_expression(case, tags);
                    (tags, libpcap_selection(&path, &expression, &file.records))
                })
                .collect();

            for (frame, packet) in packets.iter().enumerate() {
                let Some(packet) = packet else {
                    continue;
                };
                let tags = packet.vlan.as_slice().len();
                let libpcap = reference[&tags][frame];
                let exflow = filters[case_index].matches(packet);
                compared += 1;
                if exflow {
                    tallies[case_index].selected += 1;
                } else {
                    tallies[case_index].rejected += 1;
                }
                if exflow != libpcap {
                    mismatches.push(format!(
                        "{name} frame {}: `{}` exflow {exflow}, libpcap {libpcap} (`{}`)",
                        frame + 1,
                        case.expression,
                        reference_expression(case, tags)
                    ));
                }
            }
        }
    }

    for (case, tally) in CASES.iter().zip(&tallies) {
        eprintln!(
            "{:>5} selected {:>5} rejected  {}",
            tally.selected, tally.rejected, case.expression
        );
    }
    assert!(
        mismatches.is_empty(),
        "{} of {compared} decisions differ from libpcap:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );

    // The comparison must exercise both outcomes, not only rejections.
    let discriminating = tallies
        .iter()
        .filter(|tally| tally.selected > 0 && tally.rejected > 0)
        .count();
    assert!(
        discriminating >= 40,
        "only {discriminating} expressions both selected and rejected frames"
    );
}
