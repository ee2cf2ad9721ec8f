//! Command line usage errors in the language of the run.
//!
//! clap writes its errors in English. In Japanese, the common kinds are
//! rendered here from the error's context (the argument, the value, the
//! suggestions, the usage line) with the `cli.usage.*` tables in
//! `locales/cli.yml`. A kind without context, or a rare one, keeps clap's
//! English text. The layout follows clap's: the error, tips, the usage line,
//! and where to read more.

use std::fmt::Write as _;

use clap::builder::{StyledStr, Styles};
use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::i18n::{Lang, message};

/// Renders `error` in `lang`, with ANSI styles that the caller's stream
/// strips when it is not a terminal. Returns `None` when clap's own text is
/// to be printed: for English, for help and version output (which are not
/// errors), and for kinds this module does not render.
pub fn render(error: &clap::Error, lang: Lang) -> Option<String> {
    if lang == Lang::En {
        return None;
    }
    let styles = Styles::styled();
    let text = describe(error, lang, &styles)?;

    let error_style = styles.get_error();
    let mut out = format!(
        "{error_style}{}{error_style:#} {text}",
        message(lang, "cli.usage.error", &[])
    );
    let tips = tips(error, lang);
    if !tips.is_empty() {
        out.push('\n');
    }
    for tip in tips {
        let valid = styles.get_valid();
        let _ = write!(
            out,
            "\n  {valid}{}{valid:#} {tip}",
            message(lang, "cli.usage.tip", &[])
        );
    }
    if let Some(ContextValue::StyledStr(usage)) = error.get(ContextKind::Usage) {
        let usage = plain(usage);
        let line = usage.strip_prefix("Usage:").unwrap_or(&usage).trim_start();
        let heading = styles.get_usage();
        let _ = write!(
            out,
            "\n\n{heading}{}{heading:#} {line}",
            message(lang, "cli.help.usage", &[])
        );
    }
    let literal = styles.get_literal();
    let _ = writeln!(
        out,
        "\n\n{}",
        message(
            lang,
            "cli.usage.more",
            &[("flag", &format!("{literal}--help{literal:#}"))]
        )
    );
    Some(out)
}

/// Returns the text of a styled string without its styles.
fn plain(text: &StyledStr) -> String {
    text.to_string()
}

fn string(error: &clap::Error, kind: ContextKind) -> Option<&str> {
    match error.get(kind) {
        Some(ContextValue::String(value)) => Some(value),
        _ => None,
    }
}

fn strings(error: &clap::Error, kind: ContextKind) -> Option<&[String]> {
    match error.get(kind) {
        Some(ContextValue::Strings(values)) => Some(values),
        _ => None,
    }
}

fn number(error: &clap::Error, kind: ContextKind) -> Option<String> {
    match error.get(kind) {
        Some(ContextValue::Number(value)) => Some(value.to_string()),
        _ => None,
    }
}

/// Returns the main sentence of the error, or `None` for a kind without one.
fn describe(error: &clap::Error, lang: Lang, styles: &Styles) -> Option<String> {
    let invalid = styles.get_invalid();
    let valid = styles.get_valid();
    let quoted = |text: &str| format!("'{invalid}{text}{invalid:#}'");
    let list = |values: &[String]| {
        values
            .iter()
            .map(|value| format!("{valid}{value}{valid:#}"))
            .collect::<Vec<_>>()
            .join(&message(lang, "cli.help.value_separator", &[]))
    };
    let arg = string(error, ContextKind::InvalidArg).map(&quoted);
    let value = string(error, ContextKind::InvalidValue);

    let text = match error.kind() {
        ErrorKind::InvalidValue => {
            let arg = arg?;
            let mut text = match value? {
                "" => message(lang, "cli.usage.value_missing", &[("arg", &arg)]),
                value => message(
                    lang,
                    "cli.usage.value_invalid",
                    &[("arg", &arg), ("value", &quoted(value))],
                ),
            };
            if let Some(values) = strings(error, ContextKind::ValidValue)
                && !values.is_empty()
            {
                let label = message(
                    lang,
                    "cli.help.possible_values",
                    &[("values", &list(values))],
                );
                let _ = write!(text, "\n  {label}");
            }
            text
        }
        ErrorKind::ValueValidation => {
            let arg = arg?;
            let value = value?;
            let reason = validation_reason(error, lang);
            message(
                lang,
                "cli.usage.value_rejected",
                &[
                    ("arg", &arg),
                    ("value", &quoted(value)),
                    ("reason", &reason),
                ],
            )
        }
        ErrorKind::UnknownArgument => {
            message(lang, "cli.usage.unknown_argument", &[("arg", &arg?)])
        }
        ErrorKind::InvalidSubcommand => {
            let name = string(error, ContextKind::InvalidSubcommand)?;
            message(
                lang,
                "cli.usage.unknown_subcommand",
                &[("name", &quoted(name))],
            )
        }
        ErrorKind::MissingRequiredArgument => {
            let missing = strings(error, ContextKind::InvalidArg)?;
            let mut text = message(lang, "cli.usage.missing_arguments", &[]);
            for argument in missing {
                let _ = write!(text, "\n  {valid}{argument}{valid:#}");
            }
            text
        }
        ErrorKind::MissingSubcommand => {
            let name = string(error, ContextKind::InvalidSubcommand)?;
            let mut text = message(
                lang,
                "cli.usage.missing_subcommand",
                &[("name", &quoted(name))],
            );
            if let Some(values) = strings(error, ContextKind::ValidSubcommand)
                && !values.is_empty()
            {
                let label = message(lang, "cli.usage.subcommands", &[("values", &list(values))]);
                let _ = write!(text, "\n  {label}");
            }
            text
        }
        ErrorKind::ArgumentConflict => conflict(error, lang, &quoted)?,
        ErrorKind::NoEquals => message(lang, "cli.usage.no_equals", &[("arg", &arg?)]),
        ErrorKind::TooManyValues => message(
            lang,
            "cli.usage.too_many_values",
            &[("arg", &arg?), ("value", &quoted(value?))],
        ),
        ErrorKind::TooFewValues => message(
            lang,
            "cli.usage.too_few_values",
            &[
                ("arg", &arg?),
                ("min", &number(error, ContextKind::MinValues)?),
                ("actual", &number(error, ContextKind::ActualNumValues)?),
            ],
        ),
        ErrorKind::WrongNumberOfValues => message(
            lang,
            "cli.usage.wrong_number_of_values",
            &[
                ("arg", &arg?),
                ("expected", &number(error, ContextKind::ExpectedNumValues)?),
                ("actual", &number(error, ContextKind::ActualNumValues)?),
            ],
        ),
        ErrorKind::InvalidUtf8 => message(lang, "cli.usage.invalid_utf8", &[]),
        // Help and version are output, not errors; I/O and format errors
        // carry only clap's English text.
        _ => return None,
    };
    Some(text)
}

/// Renders an argument that cannot be used with another, or twice.
fn conflict(error: &clap::Error, lang: Lang, quoted: &dyn Fn(&str) -> String) -> Option<String> {
    let arg = string(error, ContextKind::InvalidArg)?;
    let prior = error.get(ContextKind::PriorArg);
    if let Some(ContextValue::String(prior)) = prior
        && prior == arg
    {
        return Some(message(
            lang,
            "cli.usage.repeated",
            &[("arg", &quoted(arg))],
        ));
    }
    let others = match prior {
        Some(ContextValue::String(prior)) => quoted(prior),
        Some(ContextValue::Strings(priors)) => priors
            .iter()
            .map(|prior| quoted(prior))
            .collect::<Vec<_>>()
            .join(&message(lang, "cli.help.value_separator", &[])),
        _ => message(lang, "cli.usage.other_arguments", &[]),
    };
    Some(message(
        lang,
        "cli.usage.conflict",
        &[("arg", &quoted(arg)), ("others", &others)],
    ))
}

/// Returns why a value parser rejected the value: the reasons of the numeric
/// options' parser in `lang`, any other reason in the parser's English.
fn validation_reason(error: &clap::Error, lang: Lang) -> String {
    let Some(source) = std::error::Error::source(error) else {
        return message(lang, "cli.usage.invalid_value", &[]);
    };
    if let Some(number) = source.downcast_ref::<super::NumberError>() {
        return match *number {
            super::NumberError::NotWhole => message(lang, "cli.usage.int_invalid_digit", &[]),
            super::NumberError::Empty => message(lang, "cli.usage.int_empty", &[]),
            super::NumberError::OutOfRange { min, max } => message(
                lang,
                "cli.usage.int_range",
                &[("min", &min.to_string()), ("max", &max.to_string())],
            ),
        };
    }
    source.to_string()
}

/// Returns the tips clap attached to the error, in `lang`.
fn tips(error: &clap::Error, lang: Lang) -> Vec<String> {
    let styles = Styles::styled();
    let valid = styles.get_valid();
    let quoted_list = |values: &[String]| {
        values
            .iter()
            .map(|value| format!("'{valid}{value}{valid:#}'"))
            .collect::<Vec<_>>()
            .join(&message(lang, "cli.help.value_separator", &[]))
    };
    let mut tips = Vec::new();
    for (kind, key) in [
        (
            ContextKind::SuggestedSubcommand,
            "cli.usage.similar_subcommand",
        ),
        (ContextKind::SuggestedArg, "cli.usage.similar_argument"),
        (ContextKind::SuggestedValue, "cli.usage.similar_value"),
    ] {
        let values = match error.get(kind) {
            Some(ContextValue::String(value)) => vec![value.clone()],
            Some(ContextValue::Strings(values)) => values.clone(),
            _ => continue,
        };
        if !values.is_empty() {
            tips.push(message(lang, key, &[("values", &quoted_list(&values))]));
        }
    }
    if let Some(ContextValue::StyledStrs(suggestions)) = error.get(ContextKind::Suggested) {
        tips.extend(
            suggestions
                .iter()
                .map(|suggestion| suggestion_text(lang, &plain(suggestion))),
        );
    }
    tips
}

/// Translates a tip that clap wrote as a finished English sentence. clap
/// 4.6 writes three shapes; any other stays English.
fn suggestion_text(lang: Lang, text: &str) -> String {
    let quoted = |text: &str| -> Option<Vec<String>> {
        let parts: Vec<&str> = text.split('\'').collect();
        (parts.len() % 2 == 1).then(|| {
            parts
                .iter()
                .skip(1)
                .step_by(2)
                .map(|part| part.to_string())
                .collect()
        })
    };
    let Some(values) = quoted(text) else {
        return text.to_string();
    };
    if text.starts_with("to pass '") && values.len() == 2 {
        message(
            lang,
            "cli.usage.pass_as_value",
            &[("value", &values[0]), ("command", &values[1])],
        )
    } else if text.starts_with("subcommand '") && values.len() == 2 {
        message(lang, "cli.usage.remove_dashes", &[("name", &values[0])])
    } else if text.starts_with('\'') && text.ends_with("' exists") && values.len() == 1 {
        message(lang, "cli.usage.exists", &[("command", &values[0])])
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::help_text::command;

    /// Parses `args` with the Japanese command and renders the error without
    /// styles.
    fn japanese_error(args: &[&str]) -> String {
        let error = command(Lang::Ja)
            .try_get_matches_from(args)
            .expect_err("the arguments should be rejected");
        let text = render(&error, Lang::Ja).expect("no Japanese rendering");
        anstream::adapter::strip_str(&text).to_string()
    }

    #[test]
    fn unknown_argument_with_suggestion() {
        let text = japanese_error(&["exflow", "analyze", "--formt", "csv", "a.pcap"]);
        assert!(
            text.starts_with("エラー: 予期しない引数 '--formt' があります"),
            "{text}"
        );
        assert!(
            text.contains("ヒント: 似た引数があります: '--format'"),
            "{text}"
        );
        assert!(
            text.contains("\n\n使い方: exflow analyze --format <FMT> <CAPTURE>...\n\n"),
            "{text}"
        );
        assert!(
            text.ends_with("詳しくは '--help' を付けて実行してください。\n"),
            "{text}"
        );
    }

    #[test]
    fn invalid_value_lists_possible_values() {
        let text = japanese_error(&["exflow", "analyze", "--format", "xml", "a.pcap"]);
        assert!(
            text.starts_with("エラー: 'xml' は '--format <FMT>' に指定できない値です\n  [指定できる値: jsonl、csv、summary]"),
            "{text}"
        );
    }

    #[test]
    fn unknown_subcommand_with_suggestion() {
        let text = japanese_error(&["exflow", "analyse", "a.pcap"]);
        assert!(
            text.starts_with("エラー: サブコマンド 'analyse' はありません"),
            "{text}"
        );
        assert!(
            text.contains("似たサブコマンドがあります: 'analyze'"),
            "{text}"
        );
    }

    #[test]
    fn missing_required_argument_is_listed() {
        let text = japanese_error(&["exflow", "analyze", "--site", "s.toml"]);
        assert!(
            text.starts_with("エラー: 必須の引数が指定されていません:\n  <CAPTURE>..."),
            "{text}"
        );
    }

    #[test]
    fn integer_reason_is_japanese() {
        let text = japanese_error(&["exflow", "analyze", "--tcp-timeout", "soon", "a.pcap"]);
        assert!(
            text.starts_with(
                "エラー: 'soon' は '--tcp-timeout <SECONDS>' に指定できません: 整数ではありません"
            ),
            "{text}"
        );
        let text = japanese_error(&[
            "exflow",
            "analyze",
            "--tcp-timeout",
            "99999999999",
            "a.pcap",
        ]);
        assert!(
            text.starts_with("エラー: '99999999999' は '--tcp-timeout <SECONDS>' に指定できません: 1 から 4294967295 までの整数を指定してください"),
            "{text}"
        );
        let text = japanese_error(&["exflow", "analyze", "--threads=-2", "a.pcap"]);
        assert!(
            text.contains("1 から 1024 までの整数を指定してください"),
            "{text}"
        );
        let text = japanese_error(&["exflow", "analyze", "--threads=2.5", "a.pcap"]);
        assert!(text.contains("整数ではありません"), "{text}");
        // A negative number after a space is the option's value too.
        let text = japanese_error(&["exflow", "analyze", "--threads", "-2", "a.pcap"]);
        assert!(
            text.starts_with("エラー: '-2' は '--threads <N>' に指定できません: 1 から 1024 までの整数を指定してください"),
            "{text}"
        );
        let text = japanese_error(&["exflow", "analyze", "--tcp-timeout=", "a.pcap"]);
        assert!(text.contains("値が空です"), "{text}");
        let text = japanese_error(&["exflow", "live", "-i", "lo", "--stats-interval", "-1"]);
        assert!(
            text.contains("0 から 4294967295 までの整数を指定してください"),
            "{text}"
        );
    }

    #[test]
    fn conflict_names_both_arguments() {
        let text = japanese_error(&["exflow", "-q", "-v", "rules", "show"]);
        assert!(
            text.starts_with("エラー: 引数 '--quiet' は '--verbose...' と同時に指定できません"),
            "{text}"
        );
    }

    #[test]
    fn repeated_argument() {
        let text = japanese_error(&["exflow", "analyze", "--site", "a", "--site", "b", "x.pcap"]);
        assert!(
            text.starts_with("エラー: 引数 '--site <FILE>' は 2 回以上指定できません"),
            "{text}"
        );
    }

    #[test]
    fn missing_value() {
        let text = japanese_error(&["exflow", "analyze", "a.pcap", "--site"]);
        assert!(
            text.starts_with("エラー: '--site <FILE>' には値が必要ですが、指定されていません"),
            "{text}"
        );
    }

    #[test]
    fn trailing_dash_tip_is_translated() {
        assert_eq!(
            suggestion_text(Lang::Ja, "to pass '-x' as a value, use '-- -x'"),
            "'-x' を値として渡すには '-- -x' と書いてください"
        );
        assert_eq!(
            suggestion_text(Lang::Ja, "'rules --site' exists"),
            "'rules --site' なら指定できます"
        );
        assert_eq!(
            suggestion_text(Lang::Ja, "something new from clap"),
            "something new from clap"
        );
    }

    #[test]
    fn help_and_english_are_left_to_clap() {
        let error = command(Lang::Ja)
            .try_get_matches_from(["exflow", "--help"])
            .unwrap_err();
        assert_eq!(render(&error, Lang::Ja), None);
        let error = command(Lang::En)
            .try_get_matches_from(["exflow", "bogus"])
            .unwrap_err();
        assert_eq!(render(&error, Lang::En), None);
    }
}
