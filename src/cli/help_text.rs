//! The clap command in the language of the run. English is the doc comments
//! of [`Cli`]; Japanese replaces every help text, heading and label clap lets
//! a program set, from the `cli.help.*` tables in `locales/cli.yml`.
//!
//! What clap renders itself, and how this module replaces it in Japanese:
//! - "Usage:" comes from a help template with its own heading.
//! - "Arguments" and "Options" are clap's names for arguments without a help
//!   heading, so every argument gets a Japanese heading.
//! - "Commands" is set with `subcommand_help_heading`.
//! - "[default: ...]" and "[possible values: ...]" are hidden and written
//!   into the help text in Japanese.
//! - The built-in `--help`, `--version` and `help` subcommand exist only once
//!   the command is built, so their texts are replaced after `build()`.
//!
//! NOTE: clap still writes the placeholders of the usage line (`[OPTIONS]`,
//! `<COMMAND>`) in English. It also wraps text only at ASCII spaces, so a
//! long Japanese sentence wraps at a space between Japanese and Latin text,
//! or overruns a narrow terminal when it has none.

use clap::builder::{PossibleValue, StyledStr};
use clap::{Arg, Command, CommandFactory};

use super::Cli;
use crate::i18n::{Lang, message};

/// Returns the command line definition with its help in `lang`.
pub fn command(lang: Lang) -> Command {
    let command = Cli::command();
    if lang == Lang::En {
        return command;
    }
    let mut command = translate_command(command, "exflow", lang);
    command.build();
    translate_built_in(command, lang)
}

/// Looks up a help text; `None` when the table has none in `lang`.
pub(crate) fn lookup(lang: Lang, key: &str) -> Option<String> {
    let text = message(lang, key, &[]);
    (text != key).then_some(text)
}

/// Translates a command, its arguments and its subcommands before `build()`.
/// `path` is the command's name with its parents' (`exflow.rules.show`).
fn translate_command(mut command: Command, path: &str, lang: Lang) -> Command {
    let key = |part: &str| format!("cli.help.command.{path}.{part}");
    if let Some(about) = lookup(lang, &key("about")) {
        command = command.about(about);
    }
    if command.get_long_about().is_some()
        && let Some(long_about) = lookup(lang, &key("long_about"))
    {
        command = command.long_about(long_about);
    }
    if let Some(after_help) = command.get_after_help() {
        let after_help = translate_examples(lang, &after_help.to_string());
        command = command.after_help(after_help);
    }

    let usage = command.get_styles().get_usage();
    let template = format!(
        "{{before-help}}{{about-with-newline}}\n{usage}{}{usage:#} {{usage}}\n\n{{all-args}}{{after-help}}",
        message(lang, "cli.help.usage", &[]),
    );
    command = command
        .help_template(StyledStr::from(template))
        .subcommand_help_heading(message(lang, "cli.help.heading.commands", &[]));

    let name = command.get_name().to_string();
    command = command.mut_args(|arg| translate_arg(arg, &name, lang));
    command.mut_subcommands(|subcommand| {
        let child = format!("{path}.{}", subcommand.get_name());
        translate_command(subcommand, &child, lang)
    })
}

/// Replaces the English word that heads the examples; the commands stay.
fn translate_examples(lang: Lang, text: &str) -> String {
    match text.strip_prefix("Examples:") {
        Some(rest) => format!("{}{rest}", message(lang, "cli.help.examples", &[])),
        None => text.to_string(),
    }
}

/// Translates an argument's help, heading, default value and possible values.
/// `command` is the name of the command the argument belongs to; a text for
/// that command (`cli.help.arg.analyze.output`) wins over the shared one
/// (`cli.help.arg.output`).
fn translate_arg(mut arg: Arg, command: &str, lang: Lang) -> Arg {
    let id = arg.get_id().as_str().to_string();
    let text = |suffix: &str| {
        lookup(lang, &format!("cli.help.arg.{command}.{id}{suffix}"))
            .or_else(|| lookup(lang, &format!("cli.help.arg.{id}{suffix}")))
    };
    let help =
        text("").unwrap_or_else(|| arg.get_help().map(ToString::to_string).unwrap_or_default());
    let long_help = text(".long");
    // What clap would append in brackets: the default value and the
    // possible values. Long help lists values that have a meaning one per
    // line instead.
    let mut labels = Vec::new();
    let mut long_labels = Vec::new();

    let heading = match arg.get_help_heading() {
        Some(heading) => {
            let key = format!("cli.help.heading.{}", heading_id(heading));
            lookup(lang, &key).unwrap_or_else(|| heading.to_string())
        }
        None if arg.is_positional() => message(lang, "cli.help.heading.arguments", &[]),
        None => message(lang, "cli.help.heading.options", &[]),
    };
    arg = arg.help_heading(heading);

    let takes_values = arg.get_action().takes_values();
    if takes_values && !arg.is_hide_default_value_set() && !arg.get_default_values().is_empty() {
        let values: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|value| value.to_string_lossy().into_owned())
            .collect();
        let label = message(lang, "cli.help.default", &[("value", &values.join(" "))]);
        labels.push(label.clone());
        long_labels.push(label);
        arg = arg.hide_default_value(true);
    }

    let values = arg.get_possible_values();
    let shown: Vec<&PossibleValue> = values.iter().filter(|value| !value.is_hide_set()).collect();
    if takes_values && !arg.is_hide_possible_values_set() && !shown.is_empty() {
        let names: Vec<&str> = shown.iter().map(|value| value.get_name()).collect();
        let separator = message(lang, "cli.help.value_separator", &[]);
        let label = message(
            lang,
            "cli.help.possible_values",
            &[("values", &names.join(&separator))],
        );
        if shown.iter().any(|value| value.get_help().is_some()) {
            // Long help lists each value with its meaning, as clap does in
            // English for values that have help.
            let width = names.iter().map(|name| name.len()).max().unwrap_or(0);
            let mut list = message(lang, "cli.help.possible_values_heading", &[]);
            for value in &shown {
                let name = value.get_name();
                let meaning = lookup(lang, &format!("cli.help.value.{id}.{name}"))
                    .or_else(|| value.get_help().map(ToString::to_string))
                    .unwrap_or_default();
                list.push_str(&format!(
                    "\n- {:width$} {meaning}",
                    format!("{name}:"),
                    width = width + 1
                ));
            }
            long_labels.push(list);
        } else {
            long_labels.push(label.clone());
        }
        labels.push(label);
        arg = arg.hide_possible_values(true);
    }

    if labels.is_empty() {
        if let Some(long_help) = long_help {
            arg = arg.long_help(long_help);
        }
        return arg.help(help);
    }
    // Short help keeps the labels on the line, as clap does; long help puts
    // them in a paragraph of their own.
    let long_help = format!(
        "{}\n\n{}",
        long_help.unwrap_or_else(|| help.clone()),
        long_labels.join("\n")
    );
    arg.long_help(long_help)
        .help(format!("{help} {}", labels.join(" ")))
}

/// Returns the message id of a help heading: "Flow engine" is `flow_engine`.
fn heading_id(heading: &str) -> String {
    heading.to_ascii_lowercase().replace(' ', "_")
}

/// Translates what `build()` adds: the `--help` and `--version` flags of
/// every command and the `help` subcommand.
fn translate_built_in(command: Command, lang: Lang) -> Command {
    let options = message(lang, "cli.help.heading.options", &[]);
    let command = command.mut_args(|arg| match arg.get_id().as_str() {
        "help" => {
            let arg = arg.help_heading(options.clone());
            if arg.get_long_help().is_some() {
                arg.help(message(lang, "cli.help.builtin.help_short", &[]))
                    .long_help(message(lang, "cli.help.builtin.help_long", &[]))
            } else {
                arg.help(message(lang, "cli.help.builtin.help", &[]))
            }
        }
        "version" => {
            arg.help_heading(options.clone())
                .help(message(lang, "cli.help.builtin.version", &[]))
        }
        _ => arg,
    });
    command.mut_subcommands(|subcommand| {
        if subcommand.get_name() == "help" {
            translate_help_subcommand(subcommand, lang)
        } else {
            translate_built_in(subcommand, lang)
        }
    })
}

/// Translates the `help` subcommand and the `help` entries nested in it.
fn translate_help_subcommand(command: Command, lang: Lang) -> Command {
    command
        .about(message(lang, "cli.help.builtin.help_command", &[]))
        .mut_subcommands(|subcommand| {
            if subcommand.get_name() == "help" {
                translate_help_subcommand(subcommand, lang)
            } else {
                subcommand
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns every command of the definition with its path.
    fn all_commands(command: &Command, path: String, found: &mut Vec<(String, Command)>) {
        found.push((path.clone(), command.clone()));
        for subcommand in command.get_subcommands() {
            all_commands(
                subcommand,
                format!("{path} {}", subcommand.get_name()),
                found,
            );
        }
    }

    fn has_kana(text: &str) -> bool {
        text.chars().any(|c| {
            ('\u{3040}'..='\u{30ff}').contains(&c) || ('\u{4e00}'..='\u{9fff}').contains(&c)
        })
    }

    #[test]
    fn every_text_has_japanese() {
        let mut commands = Vec::new();
        all_commands(&command(Lang::Ja), "exflow".to_string(), &mut commands);
        assert!(commands.len() >= 10, "{} commands", commands.len());
        for (path, command) in &commands {
            // The copies under `help` carry only names and descriptions.
            if path.starts_with("exflow help") || path.contains(" help ") {
                continue;
            }
            let about = command
                .get_about()
                .map(ToString::to_string)
                .unwrap_or_default();
            assert!(has_kana(&about), "{path}: about is {about:?}");
            for arg in command.get_arguments().filter(|arg| !arg.is_hide_set()) {
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                assert!(has_kana(&help), "{path} {}: help is {help:?}", arg.get_id());
                if let Some(long_help) = arg.get_long_help() {
                    assert!(has_kana(&long_help.to_string()), "{path} {}", arg.get_id());
                }
                let heading = arg.get_help_heading().unwrap_or_default();
                assert!(
                    has_kana(heading),
                    "{path} {}: heading {heading:?}",
                    arg.get_id()
                );
            }
        }
    }

    #[test]
    fn japanese_parses_like_english() {
        let args = [
            "exflow",
            "analyze",
            "--site",
            "s.toml",
            "--format",
            "csv",
            "--tcp-timeout",
            "9",
            "a.pcap",
        ];
        let english = command(Lang::En).try_get_matches_from(args).unwrap();
        let japanese = command(Lang::Ja).try_get_matches_from(args).unwrap();
        let (_, english) = english.subcommand().unwrap();
        let (_, japanese) = japanese.subcommand().unwrap();
        for id in ["site", "format", "tcp_timeout", "udp_timeout"] {
            assert_eq!(
                english.get_raw(id).map(|values| values.collect::<Vec<_>>()),
                japanese
                    .get_raw(id)
                    .map(|values| values.collect::<Vec<_>>()),
                "{id}"
            );
        }
    }

    #[test]
    fn default_value_is_written_in_japanese() {
        let command = command(Lang::Ja);
        let analyze = command.find_subcommand("analyze").unwrap();
        let timeout = analyze
            .get_arguments()
            .find(|arg| arg.get_id() == "tcp_timeout")
            .unwrap();
        assert!(timeout.is_hide_default_value_set());
        assert!(
            timeout
                .get_help()
                .unwrap()
                .to_string()
                .ends_with("[既定値: 300]"),
            "{:?}",
            timeout.get_help()
        );
    }

    #[test]
    fn english_is_left_as_clap_builds_it() {
        let command = command(Lang::En);
        let analyze = command.find_subcommand("analyze").unwrap();
        let site = analyze
            .get_arguments()
            .find(|arg| arg.get_id() == "site")
            .unwrap();
        assert_eq!(site.get_help_heading(), None);
        assert!(!site.is_hide_default_value_set());
    }
}
