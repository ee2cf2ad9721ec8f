//! Text helpers for fixed-width terminal output: display width (a Japanese
//! character takes two columns), padding, wrapping, and number formats.

use std::borrow::Cow;

use unicode_width::UnicodeWidthStr;

/// Marker appended to text cut short. Plain ASCII, because the ellipsis
/// character has East Asian ambiguous width and takes two columns in some
/// Japanese terminals, which would break the alignment.
pub const CUT_MARKER: &str = "...";

/// Characters that must not start a line in Japanese text (line-breaking rules
/// of JIS X 4051, the common subset): closing brackets and punctuation.
const NO_LINE_START: &[char] = &[
    '、', '。', '，', '．', '）', '」', '』', '】', '〕', '〉', '》', 'ー', '・', '：', '；', '？',
    '！', ',', '.', ')', ':', ';',
];

/// Returns the number of terminal columns `text` takes.
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// Returns at most `max_chars` characters of `text`, with [`CUT_MARKER`] after
/// them when some were cut.
pub fn cut_chars(text: &str, max_chars: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => Cow::Owned(format!("{}{CUT_MARKER}", &text[..end])),
        None => Cow::Borrowed(text),
    }
}

/// Returns `text` cut to at most `columns` display columns, ending with
/// [`CUT_MARKER`] when it was cut.
pub fn cut_columns(text: &str, columns: usize) -> Cow<'_, str> {
    if width(text) <= columns {
        return Cow::Borrowed(text);
    }
    let budget = columns.saturating_sub(CUT_MARKER.len());
    let mut used = 0;
    let mut end = 0;
    for (index, c) in text.char_indices() {
        let char_width = width(c.encode_utf8(&mut [0; 4]));
        if used + char_width > budget {
            break;
        }
        used += char_width;
        end = index + c.len_utf8();
    }
    Cow::Owned(format!("{}{CUT_MARKER}", &text[..end]))
}

/// Pads `text` with spaces on the right to `columns` display columns.
pub fn pad_right(text: &str, columns: usize) -> String {
    let mut padded = String::with_capacity(text.len() + columns);
    padded.push_str(text);
    padded.extend(std::iter::repeat_n(
        ' ',
        columns.saturating_sub(width(text)),
    ));
    padded
}

/// Pads `text` with spaces on the left to `columns` display columns.
pub fn pad_left(text: &str, columns: usize) -> String {
    let mut padded: String =
        std::iter::repeat_n(' ', columns.saturating_sub(width(text))).collect();
    padded.push_str(text);
    padded
}

/// Splits `text` into lines of at most `columns` display columns. Lines break
/// after a space or a `+` when one is near enough, and between any two
/// characters otherwise (Japanese text has no spaces between words). A line
/// never starts with a closing bracket or punctuation mark, and no line is
/// empty unless `text` is.
pub fn wrap(text: &str, columns: usize) -> Vec<String> {
    let columns = columns.max(4);
    let mut lines = Vec::new();
    let mut rest = text.trim_end();
    while width(rest) > columns {
        let end = break_index(rest, columns);
        lines.push(rest[..end].trim_end().to_string());
        rest = rest[end..].trim_start_matches(' ');
    }
    if !rest.is_empty() || lines.is_empty() {
        lines.push(rest.to_string());
    }
    lines
}

/// Returns the byte index at which to break `text` so that the first part
/// fits in `columns`. Always at least one character, so wrapping ends.
fn break_index(text: &str, columns: usize) -> usize {
    let mut used = 0;
    let mut fit_end = 0;
    let mut last_break = None;
    for (index, c) in text.char_indices() {
        let char_width = width(c.encode_utf8(&mut [0; 4]));
        if used + char_width > columns {
            break;
        }
        used += char_width;
        fit_end = index + c.len_utf8();
        if c == ' ' || c == '+' {
            last_break = Some(fit_end);
        }
    }
    if fit_end == 0 {
        // A character wider than the line: take it alone.
        return text.chars().next().map_or(text.len(), char::len_utf8);
    }

    // Prefer a space or `+` in the last third of the line; breaking earlier
    // would leave a ragged edge in long text.
    if let Some(end) = last_break
        && end * 3 >= fit_end * 2
    {
        return end;
    }

    // Keep a closing mark with the character before it.
    let mut end = fit_end;
    while let Some(next) = text[end..].chars().next() {
        if !NO_LINE_START.contains(&next) {
            break;
        }
        match text[..end].char_indices().next_back() {
            Some((previous, _)) if previous > 0 => end = previous,
            _ => return fit_end,
        }
    }
    end
}

/// Formats `value` with a comma between groups of three digits (`12,345`), as
/// both English and Japanese write large numbers.
pub fn group_digits(value: u64) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// Formats a byte count with a binary (IEC 80000-13) unit: `512 B`, `6.1 KiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_counts_wide_characters_twice() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("メールボックス"), 14);
        assert_eq!(width("DNS サーバー"), 12);
    }

    #[test]
    fn cut_columns_respects_wide_characters() {
        let cut = cut_columns("クライアント アクセス", 10);
        assert!(width(&cut) <= 10, "{cut:?}");
        assert!(cut.ends_with(CUT_MARKER));
        assert_eq!(cut_columns("short", 10), "short");
    }

    #[test]
    fn cut_chars_marks_the_cut() {
        assert_eq!(cut_chars("abcdef", 3), "abc...");
        assert_eq!(cut_chars("abc", 3), "abc");
    }

    #[test]
    fn padding_uses_display_width() {
        assert_eq!(pad_right("DNS", 5), "DNS  ");
        assert_eq!(pad_right("内部", 6), "内部  ");
        assert_eq!(pad_left("12", 4), "  12");
        assert_eq!(pad_right("too long", 3), "too long");
    }

    #[test]
    fn wrap_breaks_at_spaces() {
        let lines = wrap("the flow matched no row of the matrix", 16);
        assert_eq!(lines, ["the flow matched", "no row of the", "matrix"]);
    }

    #[test]
    fn wrap_breaks_japanese_by_width() {
        let text = "エッジ トランスポート サーバーからメールボックス サーバーへの接続です。";
        let lines = wrap(text, 20);
        assert!(lines.len() > 1);
        for line in &lines {
            assert!(width(line) <= 20, "{line:?} is wider than 20 columns");
            assert!(!line.starts_with('。'));
        }
        assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""));
    }

    #[test]
    fn wrap_keeps_punctuation_with_previous_character() {
        // Ten columns hold five wide characters; the sixth is a full stop,
        // which must not start the next line.
        let lines = wrap("あいうえお。かきくけこ", 10);
        assert_eq!(lines, ["あいうえ", "お。かきく", "けこ"]);
    }

    #[test]
    fn wrap_splits_long_words() {
        let lines = wrap(&"x".repeat(25), 10);
        assert_eq!(lines, ["x".repeat(10), "x".repeat(10), "x".repeat(5)]);
    }

    #[test]
    fn wrap_of_empty_text_is_one_empty_line() {
        assert_eq!(wrap("", 10), [""]);
    }

    #[test]
    fn digits_are_grouped() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(1234567), "1,234,567");
        assert_eq!(group_digits(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn bytes_use_binary_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KiB");
        assert_eq!(human_bytes(6246), "6.1 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
        assert_eq!(human_bytes(u64::MAX), "16.0 EiB");
    }
}
