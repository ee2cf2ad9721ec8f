//! Filter errors: a kind with structured fields and the position in the
//! expression, rendered in English or Japanese from the same fields.

use std::fmt;
use std::ops::Range;

use crate::i18n::{Lang, message};
use crate::report::escape::is_unsafe_char;

use super::names;

/// An expression that exflow's filter cannot compile.
///
/// `span` is the byte range of the offending text in the expression, and
/// `column` is the 1-based character column where it starts. An error at the
/// end of the expression points one column past the last character.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    kind: FilterErrorKind,
    span: Range<usize>,
    column: usize,
    width: usize,
}

/// The cause of a filter error, with the values the messages show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilterErrorKind {
    /// A character that starts no token.
    UnexpectedCharacter {
        character: char,
    },
    /// The expression ends where `expected` must follow.
    UnexpectedEnd {
        expected: Expected,
    },
    /// `found` appears where `expected` must be.
    UnexpectedToken {
        found: String,
        expected: Expected,
    },
    /// A pcap-filter(7) keyword or operator that exflow does not implement.
    Unsupported {
        word: String,
    },
    /// A keyword written with capitals; keywords are lower case.
    KeywordCase {
        word: String,
        keyword: &'static str,
    },
    /// A value with no `host`, `net`, `port`, `portrange` or `proto` before it,
    /// not even one to repeat from an earlier primitive.
    MissingQualifier {
        value: String,
    },
    /// A host name where an address must be; the filter resolves no names.
    HostName {
        name: String,
    },
    /// A port name missing from the built-in service table.
    UnknownService {
        name: String,
    },
    /// A protocol name missing from the built-in protocol table.
    UnknownProtocol {
        name: String,
    },
    /// Text that is not a decimal, `0x` hexadecimal or `0` octal number.
    InvalidNumber {
        text: String,
    },
    InvalidAddress {
        text: String,
    },
    InvalidPortRange {
        text: String,
    },
    /// A number above the maximum of its field; `value` is the text as written.
    OutOfRange {
        field: Field,
        value: String,
        max: u64,
    },
    /// A network with bits set outside its mask (pcap rejects `net 10.0.0.1/8`).
    HostBitsSet {
        network: String,
        suggestion: String,
    },
    /// A prefix length or `mask` after `host`; both belong to `net`.
    MaskNeedsNet,
    /// `mask` after an IPv6 network; IPv6 takes `/len` only.
    MaskNotIpv4,
    /// A protocol qualifier that cannot apply to the primitive (`tcp host`).
    InvalidQualifier {
        qualifier: &'static str,
        primitive: &'static str,
    },
    /// `ip` before an IPv6 address or `ip6` before an IPv4 address.
    AddressFamily {
        qualifier: &'static str,
        address: String,
    },
    /// A service name registered for one transport under the other's qualifier
    /// (`udp port smtp`).
    ServiceTransport {
        name: String,
        port: u16,
        transport: &'static str,
        qualifier: &'static str,
    },
    /// A `(` without its `)`.
    UnclosedParen,
    /// A `)` without its `(`.
    UnmatchedParen,
    /// Parentheses, `not`s or alternating `and`/`or` nest deeper than `max`.
    TooDeep {
        max: usize,
    },
    /// More `vlan` primitives than the VLAN tags a decoded packet keeps.
    TooManyVlans {
        max: usize,
    },
}

/// The item the parser expected where an error occurred.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// The start of a primitive: a keyword, `not` or `(`.
    Primitive,
    Address,
    Network,
    Netmask,
    PrefixLength,
    Port,
    PortRange,
    Protocol,
    Number,
    /// `and`, `or` or the end of the expression.
    Operator,
    /// `and`, `or` or `)`.
    OperatorOrParen,
}

/// A numeric field, named in range errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Number,
    Port,
    VlanId,
    PrefixLength,
    Protocol,
}

impl FilterError {
    /// Creates an error for `span` of `expression`, computing its column.
    pub(crate) fn new(expression: &str, span: Range<usize>, kind: FilterErrorKind) -> FilterError {
        let start = span.start.min(expression.len());
        let end = span.end.clamp(start, expression.len());
        let column = expression
            .get(..start)
            .map_or(start, |before| before.chars().count())
            + 1;
        let width = expression
            .get(start..end)
            .map_or(0, |text| text.chars().count())
            .max(1);
        FilterError {
            kind,
            span: start..end,
            column,
            width,
        }
    }

    pub fn kind(&self) -> &FilterErrorKind {
        &self.kind
    }

    /// Returns the byte range of the offending text in the expression.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// Returns the 1-based character column where the offending text starts.
    pub fn column(&self) -> usize {
        self.column
    }

    /// Returns the message with its column, e.g. "error in filter expression
    /// at column 5: ...".
    pub fn message(&self, lang: Lang) -> String {
        let column = self.column.to_string();
        let detail = self.detail(lang);
        message(
            lang,
            "filter.error.at_column",
            &[("column", &column), ("detail", &detail)],
        )
    }

    /// Returns the message without the column.
    pub fn detail(&self, lang: Lang) -> String {
        self.kind.detail(lang)
    }

    /// Returns a line that puts carets under the offending text when printed
    /// below the expression. Tabs before the text are kept so that the carets
    /// stay aligned.
    pub fn caret_line(&self, expression: &str) -> String {
        let before = expression.get(..self.span.start).unwrap_or("");
        let mut line: String = before
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        line.extend(std::iter::repeat_n('^', self.width));
        line
    }

    /// Renders the message, the expression and the caret line, one per line.
    /// Line breaks inside the expression are shown as spaces and other
    /// characters a terminal would act on as U+FFFD, one character each, so
    /// that the carets line up and no escape sequence reaches the terminal.
    pub fn render(&self, expression: &str, lang: Lang) -> String {
        let one_line: String = expression
            .chars()
            .map(|c| match c {
                '\n' | '\r' => ' ',
                '\t' => '\t',
                c if is_unsafe_char(c) => '\u{fffd}',
                c => c,
            })
            .collect();
        format!(
            "{}\n  {}\n  {}",
            self.message(lang),
            one_line,
            self.caret_line(expression)
        )
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Lang::En))
    }
}

impl std::error::Error for FilterError {}

impl FilterErrorKind {
    fn detail(&self, lang: Lang) -> String {
        use FilterErrorKind as K;

        let text = |key: &str, args: &[(&str, &str)]| message(lang, key, args);
        match self {
            K::UnexpectedCharacter { character } => text(
                "filter.error.unexpected_character",
                &[("character", &displayed_character(*character))],
            ),
            K::UnexpectedEnd { expected } => text(
                "filter.error.unexpected_end",
                &[("expected", &expected.describe(lang))],
            ),
            K::UnexpectedToken { found, expected } => text(
                "filter.error.unexpected_token",
                &[("found", found), ("expected", &expected.describe(lang))],
            ),
            K::Unsupported { word } => text("filter.error.unsupported", &[("word", word)]),
            K::KeywordCase { word, keyword } => text(
                "filter.error.keyword_case",
                &[("word", word), ("keyword", keyword)],
            ),
            K::MissingQualifier { value } => {
                text("filter.error.missing_qualifier", &[("value", value)])
            }
            K::HostName { name } => text("filter.error.host_name", &[("name", name)]),
            K::UnknownService { name } => text(
                "filter.error.unknown_service",
                &[("name", name), ("names", &names::service_names())],
            ),
            K::UnknownProtocol { name } => text(
                "filter.error.unknown_protocol",
                &[("name", name), ("names", &names::protocol_names())],
            ),
            K::InvalidNumber { text: number } => {
                text("filter.error.invalid_number", &[("text", number)])
            }
            K::InvalidAddress { text: address } => {
                text("filter.error.invalid_address", &[("text", address)])
            }
            K::InvalidPortRange { text: range } => {
                text("filter.error.invalid_port_range", &[("text", range)])
            }
            K::OutOfRange { field, value, max } => text(
                "filter.error.out_of_range",
                &[
                    ("field", &field.describe(lang)),
                    ("value", value),
                    ("max", &max.to_string()),
                ],
            ),
            K::HostBitsSet {
                network,
                suggestion,
            } => text(
                "filter.error.host_bits_set",
                &[("network", network), ("suggestion", suggestion)],
            ),
            K::MaskNeedsNet => text("filter.error.mask_needs_net", &[]),
            K::MaskNotIpv4 => text("filter.error.mask_not_ipv4", &[]),
            K::InvalidQualifier {
                qualifier,
                primitive,
            } => text(
                "filter.error.invalid_qualifier",
                &[("qualifier", qualifier), ("primitive", primitive)],
            ),
            K::AddressFamily { qualifier, address } => text(
                "filter.error.address_family",
                &[("qualifier", qualifier), ("address", address)],
            ),
            K::ServiceTransport {
                name,
                port,
                transport,
                qualifier,
            } => text(
                "filter.error.service_transport",
                &[
                    ("name", name),
                    ("port", &port.to_string()),
                    ("transport", transport),
                    ("qualifier", qualifier),
                ],
            ),
            K::UnclosedParen => text("filter.error.unclosed_paren", &[]),
            K::UnmatchedParen => text("filter.error.unmatched_paren", &[]),
            K::TooDeep { max } => text("filter.error.too_deep", &[("max", &max.to_string())]),
            K::TooManyVlans { max } => {
                text("filter.error.too_many_vlans", &[("max", &max.to_string())])
            }
        }
    }
}

impl Expected {
    fn describe(self, lang: Lang) -> String {
        let key = match self {
            Expected::Primitive => "filter.expected.primitive",
            Expected::Address => "filter.expected.address",
            Expected::Network => "filter.expected.network",
            Expected::Netmask => "filter.expected.netmask",
            Expected::PrefixLength => "filter.expected.prefix_length",
            Expected::Port => "filter.expected.port",
            Expected::PortRange => "filter.expected.port_range",
            Expected::Protocol => "filter.expected.protocol",
            Expected::Number => "filter.expected.number",
            Expected::Operator => "filter.expected.operator",
            Expected::OperatorOrParen => "filter.expected.operator_or_paren",
        };
        message(lang, key, &[])
    }
}

impl Field {
    fn describe(self, lang: Lang) -> String {
        let key = match self {
            Field::Number => "filter.field.number",
            Field::Port => "filter.field.port",
            Field::VlanId => "filter.field.vlan_id",
            Field::PrefixLength => "filter.field.prefix_length",
            Field::Protocol => "filter.field.protocol",
        };
        message(lang, key, &[])
    }
}

/// Shows a character of the expression in a message: as itself, or as its code
/// point when a terminal would act on it.
fn displayed_character(character: char) -> String {
    if is_unsafe_char(character) {
        format!("U+{:04X}", u32::from(character))
    } else {
        character.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_counts_characters() {
        let error = FilterError::new(
            "host\t10.0.0.1 and gateway",
            18..25,
            FilterErrorKind::Unsupported {
                word: "gateway".into(),
            },
        );
        assert_eq!(error.column(), 19);
        assert_eq!(
            error.caret_line("host\t10.0.0.1 and gateway"),
            "    \t             ^^^^^^^"
        );
    }

    #[test]
    fn end_of_expression_points_past_last_character() {
        let error = FilterError::new(
            "host",
            4..4,
            FilterErrorKind::UnexpectedEnd {
                expected: Expected::Address,
            },
        );
        assert_eq!(error.column(), 5);
        assert_eq!(error.caret_line("host"), "    ^");
    }

    #[test]
    fn display_is_english_message() {
        let error = FilterError::new("(", 0..1, FilterErrorKind::UnclosedParen);
        assert_eq!(
            error.to_string(),
            "error in filter expression at column 1: `(` is never closed; add `)`"
        );
    }

    /// Every kind, expected item and field renders from its own table entry in
    /// both languages; a missing key would come back as the key itself.
    #[test]
    fn every_message_has_both_languages() {
        use FilterErrorKind as K;

        let expected = [
            Expected::Primitive,
            Expected::Address,
            Expected::Network,
            Expected::Netmask,
            Expected::PrefixLength,
            Expected::Port,
            Expected::PortRange,
            Expected::Protocol,
            Expected::Number,
            Expected::Operator,
            Expected::OperatorOrParen,
        ];
        let fields = [
            Field::Number,
            Field::Port,
            Field::VlanId,
            Field::PrefixLength,
            Field::Protocol,
        ];
        let mut kinds = vec![
            K::UnexpectedCharacter { character: '$' },
            K::Unsupported {
                word: "gateway".into(),
            },
            K::KeywordCase {
                word: "HOST".into(),
                keyword: "host",
            },
            K::MissingQualifier {
                value: "10.0.0.1".into(),
            },
            K::HostName {
                name: "mail".into(),
            },
            K::UnknownService {
                name: "nosuch".into(),
            },
            K::UnknownProtocol {
                name: "nosuch".into(),
            },
            K::InvalidNumber { text: "08".into() },
            K::InvalidAddress {
                text: "10.0.0.256".into(),
            },
            K::InvalidPortRange { text: "1-".into() },
            K::HostBitsSet {
                network: "10.0.0.1/8".into(),
                suggestion: "10.0.0.0/8".into(),
            },
            K::MaskNeedsNet,
            K::MaskNotIpv4,
            K::InvalidQualifier {
                qualifier: "tcp",
                primitive: "host",
            },
            K::AddressFamily {
                qualifier: "ip6",
                address: "10.0.0.1".into(),
            },
            K::ServiceTransport {
                name: "smtp".into(),
                port: 25,
                transport: "TCP",
                qualifier: "udp",
            },
            K::UnclosedParen,
            K::UnmatchedParen,
            K::TooDeep { max: 100 },
            K::TooManyVlans { max: 2 },
        ];
        for expected in expected {
            kinds.push(K::UnexpectedEnd { expected });
            kinds.push(K::UnexpectedToken {
                found: "and".into(),
                expected,
            });
        }
        for field in fields {
            kinds.push(K::OutOfRange {
                field,
                value: "70000".into(),
                max: 65535,
            });
        }

        for kind in kinds {
            let error = FilterError::new("x", 0..1, kind.clone());
            let english = error.message(Lang::En);
            let japanese = error.message(Lang::Ja);
            for text in [&english, &japanese] {
                assert!(!text.contains("filter."), "{kind:?}: {text}");
                assert!(!text.contains("%{"), "{kind:?}: {text}");
            }
            assert_ne!(english, japanese, "{kind:?}");
            assert!(japanese.contains("1 文字目"), "{kind:?}: {japanese}");
        }
    }
}
