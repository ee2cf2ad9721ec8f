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
}
