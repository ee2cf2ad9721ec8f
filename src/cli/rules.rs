//! `exflow rules show|check|diff`.

use super::analyze::Status;
use super::{RulesCommand, RulesDiffArgs, report_policy_error, write_stdout};
use crate::discover::diff::SiteDiff;
use crate::i18n::{Lang, message};
use crate::policy::{self, Policy, Site};

/// Runs an `exflow rules` subcommand.
pub fn run(command: &RulesCommand, lang: Lang) -> Status {
    match command {
        RulesCommand::Show(args) => match Policy::load(args.rules.as_deref(), args.site.as_deref())
        {
            Ok(policy) => match write_stdout(policy.render_table(lang).as_bytes(), lang) {
                Ok(()) => Status::Success,
                Err(status) => status,
            },
            Err(error) => {
                report_policy_error(&error, lang);
                Status::Error
            }
        },
        RulesCommand::Check(args) => match policy::check(args.rules.as_deref(), Some(&args.site)) {
            Ok(diagnostics) => {
                for diagnostic in &diagnostics {
                    stderr_line!("{}", diagnostic.render(lang));
                }
                let errors = diagnostics.iter().filter(|d| d.is_error()).count();
                let warnings = diagnostics.len() - errors;
                let counts = [
                    ("errors", errors.to_string()),
                    ("warnings", warnings.to_string()),
                ];
                let args: Vec<(&str, &str)> =
                    counts.iter().map(|(k, v)| (*k, v.as_str())).collect();
                if errors > 0 {
                    stderr_line!("{}", message(lang, "cli.rules.check_failed", &args));
                    Status::Error
                } else {
                    let line = format!("{}\n", message(lang, "cli.rules.check_ok", &args));
                    match write_stdout(line.as_bytes(), lang) {
                        Ok(()) => Status::Success,
                        Err(status) => status,
                    }
                }
            }
            Err(error) => {
                report_policy_error(&error, lang);
                Status::Error
            }
        },
        RulesCommand::Diff(args) => diff(args, lang),
    }
}

/// Runs `exflow rules diff`: status 0 when the two site files agree, 1 when
/// they differ, 2 when either cannot be read or is invalid.
fn diff(args: &RulesDiffArgs, lang: Lang) -> Status {
    let first = Site::load(&args.first);
    let second = Site::load(&args.second);
    let (first, second) = match (first, second) {
        (Ok(first), Ok(second)) => (first, second),
        (first, second) => {
            for result in [first, second] {
                if let Err(error) = result {
                    report_policy_error(&error, lang);
                }
            }
            return Status::Error;
        }
    };

    for warning in first.1.iter().chain(&second.1) {
        stderr_line!("{}", warning.render(lang));
    }
    let difference = SiteDiff::new(&first.0, &second.0);
    let text = difference.render(
        &args.first.display().to_string(),
        &args.second.display().to_string(),
        lang,
    );
    if let Err(status) = write_stdout(text.as_bytes(), lang) {
        return status;
    }
    if difference.is_empty() {
        Status::Success
    } else {
        Status::Findings
    }
}
