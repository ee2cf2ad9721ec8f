//! Arbitrary bytes under every supported link type never panic the decoder, and
//! every frame ends in exactly one counted outcome.

use exflow::capture::{Frame, LinkType, Timestamp};
use exflow::decode::{Decoded, Decoder, DecoderConfig, link_supported};
use proptest::prelude::*;

const SUPPORTED: [u32; 15] = [
    0, 1, 9, 10, 12, 14, 101, 108, 113, 129, 228, 229, 239, 258, 276,
];

/// Headers that lead the walk past the link layer, so that random bytes reach
/// IP, tunnels and transports too.
const PREFIXES: [&[u8]; 6] = [
    &[],
    // Ethernet, IPv4 type.
    &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00],
    // Ethernet, IPv6 type.
    &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x86, 0xdd],
    // IPv4 header, UDP to port 4789 (VXLAN) follows in the random bytes.
    &[
        0x45, 0, 0x05, 0xdc, 0, 1, 0x20, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x12, 0x34,
        0x12, 0xb5,
    ],
    // IPv4 header with GRE.
    &[
        0x45, 0, 0x00, 0x40, 0, 1, 0, 0, 64, 47, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ],
    // IPv6 header with a Fragment header next.
    &[
        0x60, 0, 0, 0, 0, 0x20, 44, 64, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
    ],
];

/// Decodes one frame; returns whether it was held for reassembly.
fn decode_one(decoder: &mut Decoder, link: u32, data: &[u8], orig_extra: u32, ts: i64) -> bool {
    let frame = Frame {
        ts: Timestamp(ts),
        link: LinkType(link),
        data,
        orig_len: data.len() as u32 + orig_extra,
        interface: 0,
        offset: 0,
    };
    match decoder.decode(&frame) {
        Decoded::Packet(packet) => {
            assert!(packet.payload.len() <= data.len());
            false
        }
        Decoded::Datagram(datagram) => {
            let packet = datagram.packet();
            assert!(packet.payload.len() <= datagram.bytes().len());
            false
        }
        Decoded::Held => true,
        Decoded::Skipped(_) | Decoded::Error(_) => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn random_frames_never_panic(
        link_index in 0..SUPPORTED.len(),
        prefix_index in 0..PREFIXES.len(),
        body in proptest::collection::vec(any::<u8>(), 0..256),
        orig_extra in prop_oneof![Just(0u32), 0u32..2000],
    ) {
        let link = SUPPORTED[link_index];
        prop_assert!(link_supported(LinkType(link)));
        let mut data = PREFIXES[prefix_index].to_vec();
        data.extend_from_slice(&body);
        let mut decoder = Decoder::default();
        let held = decode_one(&mut decoder, link, &data, orig_extra, 0);
        let stats = decoder.stats();
        prop_assert_eq!(stats.frames, 1);
        let counted = stats.packets + stats.total_skipped() + stats.total_errors();
        prop_assert_eq!(counted, u64::from(!held));
    }

    /// Many random frames through one decoder, so fragments from earlier frames
    /// meet later ones, under tight caps.
    #[test]
    fn random_streams_never_panic(
        frames in proptest::collection::vec(
            (0..SUPPORTED.len(), 0..PREFIXES.len(), proptest::collection::vec(any::<u8>(), 0..96)),
            1..64,
        ),
    ) {
        let config = DecoderConfig {
            max_fragment_memory: 512,
            max_fragments_per_datagram: 4,
            max_pending_datagrams: 3,
            ..DecoderConfig::default()
        };
        let mut decoder = Decoder::new(config);
        for (time, (link_index, prefix_index, body)) in frames.iter().enumerate() {
            let mut data = PREFIXES[*prefix_index].to_vec();
            data.extend_from_slice(body);
            decode_one(&mut decoder, SUPPORTED[*link_index], &data, 0, time as i64 * 1_000_000_000);
            prop_assert!(decoder.fragment_memory() <= 512);
            prop_assert!(decoder.pending_datagrams() <= 3);
        }
    }
}
