//! The JA4 TLS client fingerprint (FoxIO, JA4 under BSD 3-Clause), TLS over
//! TCP part: `t13d1516h2_8daaf6152771_e5627efa2ab1`.
//!
//! Written from the FoxIO specification, `technical_details/JA4.md` in the
//! FoxIO-LLC/ja4 repository:
//! - part a: `t`, the version (highest non-GREASE supported_versions value,
//!   else the hello's version), `d` when the server_name extension is there
//!   else `i`, the number of cipher suites and of extensions (GREASE left out,
//!   at most 99), and the first and last characters of the first ALPN value;
//! - part b: the first 12 hex digits of the SHA-256 of the sorted cipher
//!   suites, as four-digit lowercase hex joined by commas;
//! - part c: the same of the sorted extensions without server_name and ALPN,
//!   then `_` and the signature algorithms in wire order (no `_` when there
//!   are none).
//!
//! GREASE values (RFC 8701) are left out everywhere. An empty list hashes to
//! `000000000000`.
//!
//! NOTE: implementations disagree on an ALPN value whose first or last byte is
//! not an ASCII letter or digit. This module follows the specification (the
//! first and last hex digits of the whole value); FoxIO's own Python and Rust
//! tools and the `ja4plus` package write other characters there. QUIC (`q`)
//! and DTLS (`d`) hellos are not parsed by this crate, so only `t` is made.

use sha2::{Digest, Sha256};

use super::tls::{EXT_ALPN, EXT_SERVER_NAME, TlsClientHello, is_grease};

/// Most values a JA4 count shows; larger counts are written as 99.
pub const MAX_JA4_COUNT: usize = 99;

/// Part c and part b when their list is empty.
const EMPTY_HASH: &str = "000000000000";

/// The fields of a ClientHello that JA4 reads, GREASE values removed, lists in
/// wire order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ja4Parts<'a> {
    /// The version that part a shows (see [`TlsClientHello::highest_version`]).
    pub version: u16,
    /// The server_name extension is present (its content does not matter).
    pub has_server_name: bool,
    pub cipher_suites: Vec<u16>,
    pub extensions: Vec<u16>,
    pub signature_algorithms: Vec<u16>,
    /// The first ALPN protocol name, if any.
    pub first_alpn: Option<&'a [u8]>,
}

impl<'a> Ja4Parts<'a> {
    /// Collects the JA4 fields of a ClientHello.
    pub fn from_client_hello(hello: &TlsClientHello<'a>) -> Ja4Parts<'a> {
        let extensions: Vec<u16> = hello
            .extensions()
            .map(|ext| ext.ext_type)
            .filter(|&ext_type| !is_grease(ext_type))
            .collect();
        Ja4Parts {
            version: hello.highest_version(),
            has_server_name: extensions.contains(&EXT_SERVER_NAME),
            cipher_suites: hello
                .cipher_suites()
                .filter(|&suite| !is_grease(suite))
                .collect(),
            extensions,
            signature_algorithms: hello
                .signature_algorithms()
                .filter(|&scheme| !is_grease(scheme))
                .collect(),
            first_alpn: hello.alpn_protocols().next(),
        }
    }

    /// Returns the JA4 fingerprint.
    pub fn fingerprint(&self) -> String {
        let ciphers = self.sorted_cipher_suites();
        let extensions = self.sorted_extensions();
        let cipher_hash = if ciphers.is_empty() {
            EMPTY_HASH.to_owned()
        } else {
            let mut hasher = Sha256::new();
            hash_hex_list(&mut hasher, &ciphers);
            hex12(&hasher.finalize())
        };
        let extension_hash = if extensions.is_empty() {
            EMPTY_HASH.to_owned()
        } else {
            let mut hasher = Sha256::new();
            hash_hex_list(&mut hasher, &extensions);
            if !self.signature_algorithms.is_empty() {
                hasher.update(b"_");
                hash_hex_list(&mut hasher, &self.signature_algorithms);
            }
            hex12(&hasher.finalize())
        };
        format!("{}_{cipher_hash}_{extension_hash}", self.part_a())
    }

    /// Returns the unhashed form (`JA4_r` in the specification): part a, then
    /// the sorted lists themselves.
    pub fn raw(&self) -> String {
        let mut raw = self.part_a();
        raw.push('_');
        raw.push_str(&hex_list(&self.sorted_cipher_suites()));
        raw.push('_');
        raw.push_str(&hex_list(&self.sorted_extensions()));
        if !self.signature_algorithms.is_empty() {
            raw.push('_');
            raw.push_str(&hex_list(&self.signature_algorithms));
        }
        raw
    }

    fn part_a(&self) -> String {
        let sni = if self.has_server_name { 'd' } else { 'i' };
        let ciphers = self.cipher_suites.len().min(MAX_JA4_COUNT);
        let extensions = self.extensions.len().min(MAX_JA4_COUNT);
        let [alpn_first, alpn_last] = alpn_chars(self.first_alpn);
        format!(
            "t{}{sni}{ciphers:02}{extensions:02}{alpn_first}{alpn_last}",
            version_code(self.version)
        )
    }

    fn sorted_cipher_suites(&self) -> Vec<u16> {
        let mut suites = self.cipher_suites.clone();
        suites.sort_unstable();
        suites
    }

    /// Returns the extensions for part c: sorted, without server_name and ALPN,
    /// which part a already shows.
    fn sorted_extensions(&self) -> Vec<u16> {
        let mut extensions: Vec<u16> = self
            .extensions
            .iter()
            .copied()
            .filter(|&ext| ext != EXT_SERVER_NAME && ext != EXT_ALPN)
            .collect();
        extensions.sort_unstable();
        extensions
    }
}

/// Returns the JA4 fingerprint of a ClientHello.
pub fn ja4(hello: &TlsClientHello<'_>) -> String {
    Ja4Parts::from_client_hello(hello).fingerprint()
}

/// Returns the two characters part a shows for a version code.
pub fn version_code(version: u16) -> &'static str {
    match version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// Returns the first and last characters of the first ALPN value: the bytes
/// themselves when both are ASCII letters or digits, else the first and last
/// digits of the value's lowercase hex; `00` when there is no value.
fn alpn_chars(first_alpn: Option<&[u8]>) -> [char; 2] {
    let Some((&first, rest)) = first_alpn.and_then(|value| value.split_first()) else {
        return ['0', '0'];
    };
    let last = rest.last().copied().unwrap_or(first);
    if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
        [char::from(first), char::from(last)]
    } else {
        [hex_digit(first >> 4), hex_digit(last & 0x0f)]
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble & 0x0f), 16).unwrap_or('0')
}

fn hex4(value: u16) -> [u8; 4] {
    let [high, low] = value.to_be_bytes();
    [high >> 4, high & 0x0f, low >> 4, low & 0x0f].map(|nibble| hex_digit(nibble) as u8)
}

fn hash_hex_list(hasher: &mut Sha256, values: &[u16]) {
    for (n, &value) in values.iter().enumerate() {
        if n > 0 {
            hasher.update(b",");
        }
        hasher.update(hex4(value));
    }
}

fn hex_list(values: &[u16]) -> String {
    let mut list = String::with_capacity(values.len() * 5);
    for (n, &value) in values.iter().enumerate() {
        if n > 0 {
            list.push(',');
        }
        list.extend(hex4(value).map(char::from));
    }
    list
}

/// Returns the first 12 lowercase hex digits of a digest.
fn hex12(digest: &[u8]) -> String {
    digest
        .iter()
        .take(6)
        .flat_map(|&byte| [hex_digit(byte >> 4), hex_digit(byte & 0x0f)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the FoxIO specification (`technical_details/JA4.md`,
    /// sections "Cipher hash", "Extension hash" and "Raw Output").
    fn specification_example() -> Ja4Parts<'static> {
        Ja4Parts {
            version: 0x0304,
            has_server_name: true,
            cipher_suites: vec![
                0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
                0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
            ],
            extensions: vec![
                0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023,
                0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
            ],
            signature_algorithms: vec![
                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
            ],
            first_alpn: Some(b"h2"),
        }
    }

    #[test]
    fn specification_example_fingerprint() {
        assert_eq!(
            specification_example().fingerprint(),
            "t13d1516h2_8daaf6152771_e5627efa2ab1"
        );
    }

    #[test]
    fn specification_example_raw() {
        assert_eq!(
            specification_example().raw(),
            "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_\
             0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_\
             0403,0804,0401,0503,0805,0501,0806,0601"
        );
    }

    #[test]
    fn no_signature_algorithms_drops_underscore() {
        // JA4.md: "If there are no signature algorithms in the hello packet,
        // then the string ends without an underscore" = 6d807ffa2a79.
        let parts = Ja4Parts {
            signature_algorithms: Vec::new(),
            ..specification_example()
        };
        assert!(parts.fingerprint().ends_with("_6d807ffa2a79"));
    }

    #[test]
    fn empty_lists_hash_to_zeros() {
        let parts = Ja4Parts {
            version: 0x0303,
            extensions: vec![EXT_SERVER_NAME, EXT_ALPN],
            has_server_name: true,
            ..Ja4Parts::default()
        };
        assert_eq!(parts.fingerprint(), "t12d000200_000000000000_000000000000");
    }

    #[test]
    fn counts_stop_at_99() {
        let parts = Ja4Parts {
            version: 0x0303,
            cipher_suites: (1..=150).collect(),
            ..Ja4Parts::default()
        };
        assert!(
            parts.fingerprint().starts_with("t12i9900"),
            "{}",
            parts.fingerprint()
        );
    }

    #[test]
    fn alpn_characters_follow_specification() {
        // The five examples of JA4.md, section "ALPN Extension Value".
        let cases: [(&[u8], [char; 2]); 8] = [
            (b"h2", ['h', '2']),
            (b"http/1.1", ['h', '1']),
            (b"x", ['x', 'x']),
            (&[0xab], ['a', 'b']),
            (&[0xab, 0xcd], ['a', 'd']),
            (&[0x30, 0xab], ['3', 'b']),
            (&[0x30, 0x31, 0xab, 0xcd], ['3', 'd']),
            (&[0x30, 0xab, 0xcd, 0x31], ['0', '1']),
        ];
        for (value, expected) in cases {
            assert_eq!(alpn_chars(Some(value)), expected, "{value:02x?}");
        }
        assert_eq!(alpn_chars(None), ['0', '0']);
        assert_eq!(alpn_chars(Some(b"")), ['0', '0']);
    }

    #[test]
    fn version_codes() {
        assert_eq!(version_code(0x0300), "s3");
        assert_eq!(version_code(0x0002), "s2");
        assert_eq!(version_code(0x0301), "10");
        assert_eq!(version_code(0xfb1a), "00");
    }
}
