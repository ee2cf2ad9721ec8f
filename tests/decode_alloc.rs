//! The decoder's hot path allocates nothing: a counting global allocator counts
//! no allocation while unfragmented frames are decoded.

#[path = "common/decode_frames.rs"]
mod decode_frames;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use decode_frames::read_corpus;
use exflow::decode::{Decoded, Decoder};

struct CountingAllocator;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counter
// has no effect on the memory handed out.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

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

    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut packets = 0u64;
    for owned in &frames {
        if let Decoded::Packet(packet) = decoder.decode(&owned.frame()) {
            packets += u64::from(packet.src_port != 0 || packet.dst_port != 0);
        }
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);

    assert!(packets > 400, "{packets} packets");
    assert_eq!(
        after - before,
        0,
        "allocations while decoding {} frames",
        frames.len()
    );
}
