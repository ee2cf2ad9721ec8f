//! Internet checksums (RFC 1071) for IPv4 headers and TCP/UDP segments.
//!
//! etherparse's `u64_16bit_word` sums eight bytes per step in native byte order;
//! the one's complement sum does not depend on byte order (RFC 1071 section
//! 2(B)), so a packet verifies when the folded sum over it, checksum field
//! included, is all ones. Nothing here allocates.

use std::net::IpAddr;

use etherparse::checksum::u64_16bit_word;

/// Returns whether an IPv4 header's checksum verifies.
pub(super) fn ipv4_header_ok(header: &[u8]) -> bool {
    u64_16bit_word::ones_complement(u64_16bit_word::add_slice(0, header)) == 0
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
            sum = u64_16bit_word::add_slice(sum, &src.octets());
            sum = u64_16bit_word::add_slice(sum, &dst.octets());
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
    u64_16bit_word::ones_complement(u64_16bit_word::add_slice(pseudo_header, segment)) == 0
}

/// Computes the checksum to store in a header whose checksum field is zero.
pub(super) fn internet_checksum(header: &[u8]) -> u16 {
    // The sum was taken over native-order words, so the native bytes of the
    // result are the bytes of the field.
    let native = u64_16bit_word::ones_complement(u64_16bit_word::add_slice(0, header));
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
