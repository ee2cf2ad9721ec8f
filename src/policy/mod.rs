//! The Exchange 2013 matrix and the site inventory: rules and site files, role
//! lookup by address, and the verdict for each flow. This module never sees
//! packet bytes, only finished flows.
//!
//! A [`Policy`] is built once from a rules file (the built-in
//! `rules/exchange2013.toml` unless `--rules` names another) and a site file,
//! then judges each [`FinishedFlow`]: [`Policy::judge`] returns the verdict, the
//! rule that allowed the flow or the reason none did, and the flow's risks.

mod cache;
mod diagnostic;
mod lookup;
mod port;
mod reason;
mod role;
mod rules;
mod show;
mod site;
mod verdict;

use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use diagnostic::{Diagnostic, Problem, Severity, ValueType};
pub use lookup::RoleTable;
pub use port::{PortSpec, PortSpecError, describe_port, describe_ports};
pub use role::{Role, RoleSet};
pub use rules::{
    AppMatch, BUILTIN_RULES, BUILTIN_RULES_NAME, Condition, ConditionKey, ConditionSet,
    Description, Origin, PortsFrom, RULES_FORMAT, RoleMatch, Row, Rules, SITE_GROUP, TextSource,
};
pub use show::{ConditionState, EffectiveRow, RuleSide, TABLE_WIDTH, wrap};
pub use site::{
    Allow, Endpoint, Features, MAX_ALLOW_NAME, Networks, SenderReputation, Site, SiteRoles,
    Topology, network_text,
};
pub use verdict::{
    Differences, FlowFacts, Judgement, MAIL_PORTS, Reason, ReasonKind, Risk, Risks, Rule,
    SiteAllow, SiteRow, Verdict, nearest_row,
};

use crate::flow::FinishedFlow;
use crate::i18n::Lang;

/// Maximum size of a rules or site file. Real files are a few kilobytes; the
/// cap keeps a wrong path (a capture, a device) from being read whole.
pub const MAX_POLICY_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Failure to read or parse a rules or site file.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("failed to read {}: {source}; check the path and its permissions", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{} is larger than {MAX_POLICY_FILE_BYTES} bytes; rules and site files are small TOML files, so check the path",
        path.display()
    )]
    TooLarge { path: PathBuf },
    /// Every error and warning of the files, sorted by file and position.
    #[error("{}", invalid_summary(diagnostics))]
    Invalid { diagnostics: Vec<Diagnostic> },
}

impl PolicyError {
    /// Returns the diagnostics of an invalid file; empty for a read failure.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            PolicyError::Invalid { diagnostics } => diagnostics,
            _ => &[],
        }
    }
}

fn invalid_summary(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.is_error())
        .count();
    match diagnostics.iter().find(|diagnostic| diagnostic.is_error()) {
        Some(first) => format!("{errors} error(s) in the rules or site file; the first: {first}"),
        None => "invalid rules or site file".to_string(),
    }
}

/// A rules or site file's name (for diagnostics) and text.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

/// The matrix rules and the site, ready to judge flows.
#[derive(Clone, Debug)]
pub struct Policy {
    rules: Rules,
    site: Site,
    table: RoleTable,
    /// Rules in verdict order.
    order: Vec<Rule>,
    warnings: Vec<Diagnostic>,
    reasons: reason::ReasonCache,
    rows: verdict::RowCache,
}

impl Policy {
    /// Returns the built-in Exchange 2013 rules with no site file: every
    /// address is `internet`, so every flow is `out_of_scope`.
    pub fn builtin() -> Policy {
        Policy::new(Rules::builtin(), Site::default())
    }

    /// Builds a policy from parsed rules and a site.
    pub fn new(rules: Rules, site: Site) -> Policy {
        let table = RoleTable::new(&site);
        let order = verdict_order(&rules, &site);
        Policy {
            rules,
            site,
            table,
            order,
            warnings: Vec::new(),
            reasons: reason::ReasonCache::default(),
            rows: verdict::RowCache::default(),
        }
    }

    /// Loads a rules file (the built-in rules when `None`) and a site file (an
    /// empty site when `None`). Errors in both files are reported together.
    pub fn load(rules: Option<&Path>, site: Option<&Path>) -> Result<Policy, PolicyError> {
        let rules_text = rules.map(read_file).transpose()?;
        let site_text = site.map(read_file).transpose()?;
        let rules_name = rules.map(|path| path.display().to_string());
        let site_name = site.map(|path| path.display().to_string());

        let rules_source = rules_name
            .as_deref()
            .zip(rules_text.as_deref())
            .map(|(name, text)| Source { name, text });
        let site_source = site_name
            .as_deref()
            .zip(site_text.as_deref())
            .map(|(name, text)| Source { name, text });
        Policy::from_sources(rules_source, site_source)
    }

    /// Parses a rules file and a site file from text; `None` stands for the
    /// built-in rules and the empty site.
    pub fn from_sources(
        rules: Option<Source<'_>>,
        site: Option<Source<'_>>,
    ) -> Result<Policy, PolicyError> {
        let rules = match rules {
            Some(source) => Rules::parse(source.name, source.text),
            None => Ok((Rules::builtin(), Vec::new())),
        };
        let site = match site {
            Some(source) => Site::parse(source.name, source.text),
            None => Ok((Site::default(), Vec::new())),
        };

        match (rules, site) {
            (Ok((rules, mut warnings)), Ok((site, site_warnings))) => {
                warnings.extend(site_warnings);
                let mut policy = Policy::new(rules, site);
                policy.warnings = warnings;
                Ok(policy)
            }
            (rules, site) => {
                let mut diagnostics = Vec::new();
                for result in [
                    rules.map(|(_, warnings)| warnings),
                    site.map(|(_, warnings)| warnings),
                ] {
                    match result {
                        Ok(warnings) => diagnostics.extend(warnings),
                        Err(all) => diagnostics.extend(all),
                    }
                }
                Err(PolicyError::Invalid { diagnostics })
            }
        }
    }

    /// Returns the roles of an address.
    pub fn roles(&self, address: IpAddr) -> RoleSet {
        self.table.lookup(address)
    }

    /// Judges a finished flow.
    pub fn judge(&self, flow: &FinishedFlow) -> Judgement {
        let client = flow.client.ip();
        let server = flow.server.ip();
        let facts = FlowFacts {
            transport: flow.transport,
            port: flow.server.port(),
            app: flow.app.app,
            client: self.table.lookup(client),
            server: self.table.lookup(server),
        };
        let rows = self.rows.get(&self.order, &facts);
        verdict::judge_with_rows(
            &self.order,
            rows,
            client,
            server,
            facts,
            Risks::from_app(&flow.app),
        )
    }

    /// Returns the English sentence of a reason this policy gave, the text of
    /// the record's `reason` field. Equal reasons share one rendering.
    pub fn reason_text(&self, reason: &Reason) -> Arc<str> {
        self.reasons.english(reason)
    }

    /// Returns what `read` makes of the English sentence of a reason, lent
    /// without the reference-count updates of [`Policy::reason_text`].
    pub fn read_reason_text<R>(&self, reason: &Reason, read: impl FnOnce(&str) -> R) -> R {
        self.reasons.read_english(reason, |sentence| read(sentence))
    }

    /// Returns the sentence of a reason in `lang`, for summaries and reports.
    /// Equal reasons share one rendering per language.
    pub fn localized_reason_text(&self, reason: &Reason, lang: Lang) -> Arc<str> {
        self.reasons.read(reason, lang, Arc::clone)
    }

    pub fn site(&self) -> &Site {
        &self.site
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Returns the rules in verdict order, with the site's `[[allow]]` entries
    /// at the `site` position.
    pub fn verdict_order(&self) -> &[Rule] {
        &self.order
    }

    /// Returns the warnings of the files this policy was loaded from.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// Returns every rule in verdict order, with whether it is on for this site.
    pub fn effective_rows(&self) -> Vec<EffectiveRow> {
        self.order
            .iter()
            .map(|rule| EffectiveRow::from_rule(rule, &self.site))
            .collect()
    }

    /// Writes the effective rows as a table 100 columns wide.
    pub fn render_table(&self, lang: Lang) -> String {
        show::render_table(&self.effective_rows(), lang)
    }
}

impl Site {
    /// Reads and parses a site file. `Ok` carries the site and its warnings.
    pub fn load(path: &Path) -> Result<(Site, Vec<Diagnostic>), PolicyError> {
        let text = read_file(path)?;
        Site::parse(&path.display().to_string(), &text)
            .map_err(|diagnostics| PolicyError::Invalid { diagnostics })
    }
}

/// Checks a site file (and a rules file, the built-in one when `None`) for
/// `exflow rules check`: returns every error and warning, sorted by file and
/// position. `Err` only when a file cannot be read.
pub fn check(rules: Option<&Path>, site: Option<&Path>) -> Result<Vec<Diagnostic>, PolicyError> {
    match Policy::load(rules, site) {
        Ok(policy) => Ok(policy.warnings),
        Err(PolicyError::Invalid { diagnostics }) => Ok(diagnostics),
        Err(error) => Err(error),
    }
}

/// Reads a rules or site file. At most [`MAX_POLICY_FILE_BYTES`] are read,
/// because a device or pipe (`/dev/zero`, `/dev/stdin`) has no size to check
/// beforehand.
fn read_file(path: &Path) -> Result<String, PolicyError> {
    let read_error = |source| PolicyError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_POLICY_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_POLICY_FILE_BYTES {
        return Err(PolicyError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    String::from_utf8(bytes).map_err(|error| not_utf8(path, &error))
}

/// Reports a file that is not UTF-8 at the line and column of its first
/// invalid byte, as `rules check` reports every other problem.
fn not_utf8(path: &Path, error: &std::string::FromUtf8Error) -> PolicyError {
    let bytes = error.as_bytes();
    let offset = error.utf8_error().valid_up_to();
    // Everything before the offset is valid UTF-8.
    let valid = std::str::from_utf8(&bytes[..offset]).unwrap_or_default();
    let line_start = valid.rfind('\n').map_or(0, |newline| newline + 1);
    let diagnostic = Diagnostic {
        severity: Severity::Error,
        file: path.display().to_string(),
        line: valid.matches('\n').count() + 1,
        column: valid[line_start..].chars().count() + 1,
        key: String::new(),
        problem: Problem::NotUtf8 {
            byte: format!("{:02x}", bytes[offset]),
        },
    };
    PolicyError::Invalid {
        diagnostics: vec![diagnostic],
    }
}

/// Lists the rules in the order of the rules file's `order`: each group's rows
/// in file order, the site's `[[allow]]` entries at `site`.
fn verdict_order(rules: &Rules, site: &Site) -> Vec<Rule> {
    let mut order = Vec::with_capacity(rules.rows.len() + site.allows.len());
    for group in &rules.order {
        if group == SITE_GROUP {
            for allow in &site.allows {
                order.push(Rule::Allow(Arc::new(SiteAllow::new(allow.clone()))));
            }
            continue;
        }
        for row in rules.group(group) {
            order.push(Rule::Row(Arc::new(SiteRow::new(row.clone(), site))));
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::decode::DecoderConfig;
    use crate::flow::FlowConfig;
    use crate::pipeline::{AnalyzeConfig, analyze_input};

    /// A site that gives the private ranges Exchange roles and allows common
    /// ports between any hosts, so that corpus flows meet both rows and
    /// site entries.
    const WIDE_SITE: &str = r#"
[roles]
client_access = ["192.168.0.0/16"]
mailbox = ["10.0.0.0/8"]
dns = ["172.16.0.0/12"]

[networks]
internal = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]

[[allow]]
name = "web-anywhere"
from = ["0.0.0.0/0", "::/0"]
to = ["0.0.0.0/0", "::/0"]
ports = ["tcp/80", "tcp/8080", "udp/5353"]

[[allow]]
name = "mailbox-out"
from = ["mailbox"]
to = ["0.0.0.0/0", "::/0"]
ports = ["tcp/443", "udp/53"]
"#;

    /// Returns the flows of every shipped capture and corpus file.
    fn capture_flows() -> Vec<FinishedFlow> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = AnalyzeConfig {
            decoder: DecoderConfig::default(),
            flows: FlowConfig::default(),
            threads: 1,
            filter: None,
        };
        let mut flows = Vec::new();
        for folder in [root.join("captures"), root.join("../shared/corpus")] {
            for entry in std::fs::read_dir(&folder).expect("capture folder exists") {
                let path = entry.expect("folder entry").path();
                let name = path.to_string_lossy();
                if name.ends_with(".pcap") || name.ends_with(".pcapng") {
                    flows.extend(analyze_input(&path, &config, &mut ()).flows);
                }
            }
        }
        flows
    }

    #[test]
    fn verdicts_match_plain_loop() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let policies = [
            Policy::builtin(),
            Policy::load(None, Some(&root.join("rules/site-edge.example.toml"))).unwrap(),
            Policy::load(None, Some(&root.join("rules/site-no-edge.example.toml"))).unwrap(),
            Policy::from_sources(
                None,
                Some(Source {
                    name: "wide.toml",
                    text: WIDE_SITE,
                }),
            )
            .unwrap(),
        ];
        let flows = capture_flows();
        assert!(flows.len() > 2000, "only {} flows read", flows.len());

        let (mut matched_allow, mut matched_row, mut nearest) = (0, 0, 0);
        for policy in &policies {
            for flow in &flows {
                let cached = policy.judge(flow);
                let facts = cached.reason.facts;
                let uncached = verdict::judge_facts(
                    &policy.order,
                    flow.client.ip(),
                    flow.server.ip(),
                    facts,
                    Risks::from_app(&flow.app),
                );
                assert_eq!(format!("{cached:?}"), format!("{uncached:?}"));
                if cached.reason.nearest_row().is_some() {
                    nearest += 1;
                }
                match cached.rule.as_deref() {
                    Some(id) if id.starts_with("site.") => matched_allow += 1,
                    Some(_) => matched_row += 1,
                    None => {}
                }
            }
        }
        // Both ways to be allowed must occur, or the comparison proves little.
        assert!(matched_allow > 0, "no flow matched a site entry");
        assert!(matched_row > 0, "no flow matched a matrix row");
        assert!(nearest > 0, "no unexpected flow named a nearest row");
    }
}
