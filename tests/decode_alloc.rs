//! The decoder's hot path allocates nothing: the `allocation-counter` crate's
//! global allocator counts no allocation while unfragmented frames are decoded.

#[path = "common/decode_frames.rs"]
mod decode_frames;

use decode_frames::read_corpus;
use exflow::decode::{Decoded, Decoder};

#[test]
fn decode_does_not_allocate() {
    // Ethernet, VLAN, tunnels, IPv6, Linux cooked capture and snapshot-length
    // cuts, none with fragments.
    let files = [
        "ndpi__smtp.pcap",
        "ndpi__smtp-starttls.pcap",
        "ndpi__6in4tunnel.pcap",
        "ndpi__vxlan.pcap",
        "zeek__tunnels__Teredo.pcap",
        "ndpi__log4j-webapp-exploit.pcap",
        "zeek__tcp__truncated-header.pcap",
        "tcpdump__ipv6-bad-version.pcap",
    ];
    let frames: Vec<_> = files.iter().flat_map(|file| read_corpus(file)).collect();
    let mut decoder = Decoder::default();

    let mut packets = 0u64;
    let info = allocation_counter::measure(|| {
        for owned in &frames {
            if let Decoded::Packet(packet) = decoder.decode(&owned.frame()) {
                packets += u64::from(packet.src_port != 0 || packet.dst_port != 0);
            }
        }
    });

    assert!(packets > 400, "{packets} packets");
    assert_eq!(
        info.count_total,
        0,
        "allocations while decoding {} frames",
        frames.len()
    );
}
