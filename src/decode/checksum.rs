//! Internet checksums (RFC 1071) for IPv4 headers and TCP/UDP segments.
//!
//! Sums are taken over words in native byte order, which the one's complement
//! sum allows (RFC 1071 section 2(B)), so a packet verifies when the folded sum
//! over it, checksum field included, is all ones. Nothing here allocates.

use std::net::IpAddr;

use etherparse::checksum::u64_16bit_word;

/// Adds `bytes` to the one's complement sum `sum` as 16-bit words in native
/// byte order, the last byte padded with a zero when the length is odd.
///
/// It adds 32-bit words into a 64-bit total without end-around carries, which
/// cannot overflow below 2^32 words, and folds the carries in once at the end
/// (the deferred carries of RFC 1071 section 2). Without a carry chain between
/// steps, the compiler can vectorize the loop. The result is congruent to the
/// sum of 16-bit words modulo 0xffff, which is all that folding keeps.
fn add_words(sum: u64, bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(4);
    let mut total: u64 = chunks
        .by_ref()
        .map(|chunk| u64::from(u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]])))
        .sum();
    let tail = chunks.remainder();
    if let [first, second, ..] = tail {
        total += u64::from(u16::from_ne_bytes([*first, *second]));
    }
    if tail.len() % 2 == 1 {
        total += u64::from(u16::from_ne_bytes([tail[tail.len() - 1], 0]));
    }
    u64_16bit_word::add_8bytes(sum, total.to_ne_bytes())
}

/// Returns whether an IPv4 header's checksum verifies.
pub(super) fn ipv4_header_ok(header: &[u8]) -> bool {
    u64_16bit_word::ones_complement(add_words(0, header)) == 0
}

/// Returns the partial sum of the TCP/UDP pseudo header (RFC 9293 section 3.1,
/// RFC 8200 section 8.1).
pub(super) fn pseudo_header_sum(src: IpAddr, dst: IpAddr, protocol: u8, length: u32) -> u64 {
    let mut sum = 0;
    match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            sum = u64_16bit_word::add_4bytes(sum, src.octets());
            sum = u64_16bit_word::add_4bytes(sum, dst.octets());
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            sum = add_words(sum, &src.octets());
            sum = add_words(sum, &dst.octets());
        }
        // Both addresses come from one IP header, so their versions match.
        _ => {}
    }
    sum = u64_16bit_word::add_4bytes(sum, length.to_be_bytes());
    u64_16bit_word::add_4bytes(sum, [0, 0, 0, protocol])
}

/// Returns whether a TCP or UDP segment (header and data, checksum field
/// included) verifies against its pseudo header sum.
pub(super) fn transport_ok(pseudo_header: u64, segment: &[u8]) -> bool {
    u64_16bit_word::ones_complement(add_words(pseudo_header, segment)) == 0
}

/// Returns whether a TCP or UDP checksum field contains only the folded sum of
/// the pseudo header, not yet complemented. That is the partial checksum a
/// host with checksum offload leaves for its network card (Linux
/// `CHECKSUM_PARTIAL`), so a capture on that host shows it on the packets it
/// sends, and on the packets its card merged on receipt.
pub(super) fn is_partial(pseudo_header: u64, field: u16) -> bool {
    let folded = !u64_16bit_word::ones_complement(pseudo_header);
    u16::from_be_bytes(folded.to_ne_bytes()) == field
}

/// Computes the checksum to store in a header whose checksum field is zero.
pub(super) fn internet_checksum(header: &[u8]) -> u16 {
    // The sum was taken over native-order words, so the native bytes of the
    // result are the bytes of the field.
    let native = u64_16bit_word::ones_complement(add_words(0, header));
    u16::from_be_bytes(native.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 section 3 example bytes.
    const RFC1071_BYTES: [u8; 8] = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];

    fn reference_checksum(bytes: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for pair in bytes.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            sum += u32::from(word);
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    #[test]
    fn word_sum_matches_etherparse() {
        // Every length up to 70 bytes covers each tail of 0 to 3 bytes, with a
        // start sum that makes the final carry matter.
        let bytes: Vec<u8> = (0..70u32).map(|i| (i * 37 + 200) as u8).collect();
        for len in 0..=bytes.len() {
            for start in [0, 0xffff_ffff_ffff_fff0, 0x1_2345] {
                let expected = u64_16bit_word::add_slice(start, &bytes[..len]);
                let sum = add_words(start, &bytes[..len]);
                assert_eq!(
                    u64_16bit_word::ones_complement(sum),
                    u64_16bit_word::ones_complement(expected),
                    "{len} bytes from start sum {start:#x}"
                );
            }
        }
    }

    #[test]
    fn word_sum_of_all_ones_folds() {
        let bytes = [0xff; 4096];
        let sum = add_words(0, &bytes);
        assert_eq!(
            u64_16bit_word::ones_complement(sum),
            u64_16bit_word::ones_complement(u64_16bit_word::add_slice(0, &bytes))
        );
    }

    #[test]
    fn internet_checksum_matches_reference() {
        assert_eq!(
            internet_checksum(&RFC1071_BYTES),
            reference_checksum(&RFC1071_BYTES)
        );
        let odd = [0x45, 0x00, 0x01, 0x02, 0xff];
        assert_eq!(internet_checksum(&odd), reference_checksum(&odd));
    }

    #[test]
    fn ipv4_header_with_its_checksum_verifies() {
        let mut header = [
            0x45, 0, 0, 40, 0x1c, 0x46, 0x40, 0, 64, 6, 0, 0, 172, 16, 10, 99, 172, 16, 10, 12,
        ];
        let sum = internet_checksum(&header);
        header[10..12].copy_from_slice(&sum.to_be_bytes());
        assert!(ipv4_header_ok(&header));
        header[8] = 63;
        assert!(!ipv4_header_ok(&header));
    }

    #[test]
    fn udp_checksum_with_pseudo_header_verifies() {
        let src: IpAddr = "192.0.2.1".parse().unwrap();
        let dst: IpAddr = "192.0.2.2".parse().unwrap();
        let mut segment = [
            0x30, 0x39, 0x00, 0x35, 0x00, 0x0b, 0x00, 0x00, b'a', b'b', b'c',
        ];
        // Reference: the checksum over pseudo header and segment, computed by words.
        let mut reference = vec![192, 0, 2, 1, 192, 0, 2, 2, 0, 17, 0, 11];
        reference.extend_from_slice(&segment);
        let sum = reference_checksum(&reference);
        segment[6..8].copy_from_slice(&sum.to_be_bytes());
        assert!(transport_ok(pseudo_header_sum(src, dst, 17, 11), &segment));
        segment[9] ^= 1;
        assert!(!transport_ok(pseudo_header_sum(src, dst, 17, 11), &segment));
    }
}
