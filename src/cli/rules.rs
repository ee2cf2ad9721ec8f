//! `exflow rules show|check|diff`.

use super::analyze::Status;
use super::{RulesCommand, report_policy_error};
use crate::i18n::{Lang, message};
use crate::policy::{self, Policy};

/// Runs an `exflow rules` subcommand.
pub fn run(command: &RulesCommand, lang: Lang) -> Status {
    match command {
        RulesCommand::Show(args) => match Policy::load(args.rules.as_deref(), args.site.as_deref())
        {
            Ok(policy) => {
                print!("{}", policy.render_table(lang));
                Status::Success
            }
            Err(error) => {
                report_policy_error(&error, lang);
                Status::Error
            }
        },
        RulesCommand::Check(args) => match policy::check(args.rules.as_deref(), Some(&args.site)) {
            Ok(diagnostics) => {
                for diagnostic in &diagnostics {
                    eprintln!("{}", diagnostic.render(lang));
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
                    eprintln!("{}", message(lang, "cli.rules.check_failed", &args));
                    Status::Error
                } else {
                    println!("{}", message(lang, "cli.rules.check_ok", &args));
                    Status::Success
                }
            }
            Err(error) => {
                report_policy_error(&error, lang);
                Status::Error
            }
        },
        RulesCommand::Diff(_) => {
            eprintln!("exflow: {}", message(lang, "cli.error.not_built", &[]));
            Status::Error
        }
    }
}
