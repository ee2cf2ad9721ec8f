//! Escaping of text taken from the wire (SNI, Host, paths, EHLO and DNS names) for
//! each output, so that no control sequence, markup or spreadsheet formula an
//! attacker put in a packet reaches an operator's terminal, browser or spreadsheet.
//!
//! The first step, [`wire_text`], turns bytes into a string without losing
//! information. Each sink then escapes what is dangerous for it.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Converts wire bytes to a string without losing information.
///
/// Valid UTF-8 is kept, except that a backslash is doubled; every byte that is
/// not part of valid UTF-8 becomes `\xNN` (two lowercase hex digits). The mapping
/// can be reversed exactly: `\\` is a backslash and `\xNN` is byte NN.
pub fn wire_text(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                text.push_str("\\\\");
            } else {
                text.push(c);
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(text, "\\x{byte:02x}");
        }
    }
    text
}

/// Returns true for characters that a terminal may act on rather than show: C0 and
/// C1 controls, DEL, and the Unicode format characters that reorder or hide text
/// (bidirectional marks, overrides and isolates, the deprecated shaping controls
/// U+206A to U+206F, zero-width characters, line and paragraph separators).
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
        )
}

/// Escapes a string for a terminal: every unsafe character (see
/// [`is_unsafe_char`]) becomes `\u{XXXX}`, so the text is shown, never acted on.
pub fn terminal_text(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe_char(c) {
            let _ = write!(escaped, "\\u{{{:04x}}}", c as u32);
        } else {
            escaped.push(c);
        }
    }
    Cow::Owned(escaped)
}

/// Escapes a string for a CSV cell: unsafe characters as for a terminal, and a
/// cell that a spreadsheet would read as a formula (it starts with `=`, `+`, `-`,
/// `@`, a tab or a carriage return) gets a leading apostrophe. Quoting is the CSV
/// writer's job.
pub fn csv_text(text: &str) -> Cow<'_, str> {
    let escaped = terminal_text(text);
    let starts_formula = escaped
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    if starts_formula {
        Cow::Owned(format!("'{escaped}"))
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_text_keeps_valid_utf8() {
        assert_eq!(wire_text("mail.example.jp".as_bytes()), "mail.example.jp");
        assert_eq!(wire_text("メール.example".as_bytes()), "メール.example");
    }

    #[test]
    fn wire_text_escapes_invalid_bytes() {
        assert_eq!(wire_text(b"a\xffb\xc3"), "a\\xffb\\xc3");
    }

    #[test]
    fn wire_text_doubles_backslash() {
        assert_eq!(wire_text(b"DOMAIN\\user"), "DOMAIN\\\\user");
        // A literal "\xff" in the input stays distinguishable from the byte 0xff.
        assert_ne!(wire_text(b"\\xff"), wire_text(b"\xff"));
    }

    #[test]
    fn terminal_text_escapes_controls() {
        assert_eq!(terminal_text("a\u{1b}[31mb"), "a\\u{001b}[31mb");
        assert_eq!(terminal_text("x\u{9b}y"), "x\\u{009b}y");
        assert_eq!(terminal_text("\u{202e}moc.evil"), "\\u{202e}moc.evil");
        assert_eq!(terminal_text("nul\0"), "nul\\u{0000}");
        assert!(matches!(terminal_text("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn csv_text_neutralises_formulas() {
        for formula in ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx"] {
            let cell = csv_text(formula);
            let first = cell.chars().next().unwrap();
            assert!(
                !matches!(first, '=' | '+' | '-' | '@' | '\t' | '\r'),
                "{formula:?} became {cell:?}"
            );
        }
        assert_eq!(csv_text("mail.example"), "mail.example");
    }

    #[test]
    fn bidi_marks_are_unsafe() {
        for c in ['\u{061c}', '\u{200e}', '\u{2067}', '\u{206a}', '\u{206f}'] {
            assert!(is_unsafe_char(c), "U+{:04X}", c as u32);
        }
        assert!(!is_unsafe_char('\u{0627}'));
    }
}
