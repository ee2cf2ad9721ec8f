//! Language of human-readable output: English, or Japanese when `--lang ja` is
//! given or `LC_ALL`/`LANG` starts with `ja`. JSON fields, rule ids and log keys
//! are never translated.
//!
//! Message tables live in `locales/*.yml` (rust-i18n format version 2: one file
//! per module, each key with its `en` and `ja` text).

/// A language of human-readable output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    #[default]
    En,
    Ja,
}

impl Lang {
    /// Returns the locale name the message tables use.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// Parses a `--lang` value.
    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "ja" => Some(Lang::Ja),
            _ => None,
        }
    }

    /// Chooses the language from the environment as POSIX orders it: `LC_ALL`,
    /// then `LC_MESSAGES`, then `LANG`. The first one set and non-empty decides.
    pub fn from_env() -> Lang {
        let value = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .find(|value| !value.is_empty());
        match value {
            Some(value) if value.starts_with("ja") => Lang::Ja,
            _ => Lang::En,
        }
    }
}

/// Looks up message `key` in `lang`, with `%{name}` placeholders replaced by
/// `args`.
pub fn message(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    let mut text = rust_i18n::t!(key, locale = lang.code()).into_owned();
    for (name, value) in args {
        text = text.replace(&format!("%{{{name}}}"), value);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_in_both_languages() {
        assert_eq!(message(Lang::En, "common.yes", &[]), "yes");
        assert_eq!(message(Lang::Ja, "common.yes", &[]), "はい");
    }

    /// Returns each English message as its key and text.
    fn english_messages() -> Vec<(String, String)> {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
        let mut messages = Vec::new();
        for entry in std::fs::read_dir(folder).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let mut key = String::new();
            for line in text.lines() {
                if let Some(name) = line.strip_suffix(':').filter(|_| !line.starts_with(' ')) {
                    key = name.to_string();
                } else if let Some(english) = line.strip_prefix("  en: ") {
                    messages.push((key.clone(), english.to_string()));
                }
            }
        }
        messages
    }

    #[test]
    fn english_counts_avoid_plural_nouns() {
        // "1 frames": a count can be 1, so a message puts it after a label
        // ("frames skipped: 1") or takes it from the `report.noun` pairs. A cap
        // (`max`) and a count above a cap of at least two stay plural.
        const VERBS: [&str; 6] = ["is", "holds", "takes", "expects", "accepts", "applies"];
        const ALWAYS_PLURAL: [&str; 1] = ["live.error.too_many_interfaces"];
        let messages = english_messages();
        assert!(messages.len() > 300, "{} messages read", messages.len());

        let mut plural_after_count = Vec::new();
        for (key, text) in &messages {
            if key.starts_with("report.noun.") || ALWAYS_PLURAL.contains(&key.as_str()) {
                continue;
            }
            for (start, _) in text.match_indices("%{") {
                let rest = &text[start + 2..];
                let Some((name, after)) = rest.split_once('}') else {
                    continue;
                };
                let word: String = after
                    .strip_prefix(' ')
                    .unwrap_or_default()
                    .chars()
                    .take_while(char::is_ascii_alphabetic)
                    .collect();
                if name != "max" && word.ends_with('s') && !VERBS.contains(&word.as_str()) {
                    plural_after_count.push(format!("{key}: %{{{name}}} {word}"));
                }
            }
        }
        assert!(plural_after_count.is_empty(), "{plural_after_count:#?}");
    }
}
