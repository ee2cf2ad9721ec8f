//! The per-frame path of both readers allocates nothing: allocations happen
//! when a reader starts and when an interface is defined, never per frame.
//!
//! This test binary counts allocations with a global allocator from the
//! `allocation-counter` crate, so it lives apart from the other capture tests.

#[path = "common/capture_fixtures.rs"]
mod capture_fixtures;

use capture_fixtures::{OddChunks, corpus_bytes};
use exflow::capture::{FrameSource, SliceReader, StreamReader};

/// Reads one frame, so that the reader has passed its headers and interface
/// definitions, then counts allocations while it reads the rest.
fn allocations_after_first_frame(source: &mut dyn FrameSource) -> (u64, u64) {
    let first = source
        .next_frame()
        .expect("a first frame")
        .expect("no error");
    assert!(!first.data.is_empty());
    let mut frames = 1;

    let info = allocation_counter::measure(|| {
        while let Some(result) = source.next_frame() {
            let frame = result.expect("no error");
            std::hint::black_box(frame.data);
            frames += 1;
        }
    });

    (frames, info.count_total)
}

#[test]
fn counter_sees_allocations() {
    let info = allocation_counter::measure(|| {
        std::hint::black_box(vec![0u8; 16]);
    });

    assert_eq!(info.count_total, 1);
}

#[test]
fn reading_frames_does_not_allocate() {
    for name in [
        "ndpi__tls_with_huge_ch.pcapng",
        "ndpi__whatsapp_login_call.pcap",
        "zeek__tls__tls-fragmented-handshake.pcap",
    ] {
        let bytes = corpus_bytes(name);
        let mut slice = SliceReader::new(&bytes, name).unwrap();
        let mut stream = StreamReader::new(OddChunks::new(&bytes), name).unwrap();

        let (slice_frames, slice_allocations) = allocations_after_first_frame(&mut slice);
        let (stream_frames, stream_allocations) = allocations_after_first_frame(&mut stream);

        assert!(slice_frames > 100, "{name}: {slice_frames} frames");
        assert_eq!(stream_frames, slice_frames, "{name}");
        assert_eq!(slice_allocations, 0, "{name}: slice reader");
        assert_eq!(stream_allocations, 0, "{name}: stream reader");
    }
}
