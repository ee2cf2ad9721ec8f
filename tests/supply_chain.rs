//! The offline supply-chain check, `scripts/supply-chain.py`, run on the
//! repository's lock files and on lock files made here that pin known
//! vulnerable versions. The advisory facts come from the committed snapshot,
//! `supply-chain/advisories.toml`, except in the refresh test, which builds
//! a small advisory database of its own.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Outcome {
    status: i32,
    stdout: String,
    stderr: String,
}

/// Runs the checker with `args` and returns its exit status and output.
fn run_checker(args: &[&str]) -> Outcome {
    let output = Command::new("python3")
        .arg(repository().join("scripts/supply-chain.py"))
        .args(args)
        .output()
        .expect("python3 runs (scripts/test.sh installs it)");
    Outcome {
        status: output.status.code().expect("the checker exits by itself"),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 output"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 errors"),
    }
}

/// Writes a lock file pinning `packages` (name, version, source) and returns its path.
fn write_lock(directory: &Path, packages: &[(&str, &str, &str)]) -> PathBuf {
    let mut text = String::from("version = 4\n");
    for (name, version, source) in packages {
        text.push_str(&format!(
            "\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\nsource = \"{source}\"\n"
        ));
    }
    let path = directory.join("Cargo.lock");
    fs::write(&path, text).expect("write the lock file");
    path
}

/// Returns the output line that starts with `prefix`, or "" when none does.
fn line_starting<'a>(output: &'a str, prefix: &str) -> &'a str {
    output
        .lines()
        .find(|line| line.starts_with(prefix))
        .unwrap_or("")
}

/// Checks one locked crates.io version against the committed snapshot.
fn check_version(name: &str, version: &str) -> Outcome {
    let directory = TempDir::new().expect("temporary directory");
    let lock = write_lock(directory.path(), &[(name, version, CRATES_IO)]);
    run_checker(&["check", "--skip-licenses", "--lock", lock.to_str().unwrap()])
}

#[test]
fn repository_locks_pass() {
    let outcome = run_checker(&["check", "--skip-licenses"]);
    assert_eq!(outcome.status, 0, "{}{}", outcome.stdout, outcome.stderr);
    assert!(
        outcome.stdout.contains("in 2 lock files"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("findings: 0,"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn vulnerable_versions_fail() {
    let directory = TempDir::new().expect("temporary directory");
    let lock = write_lock(
        directory.path(),
        &[
            ("time", "0.3.46", CRATES_IO),
            ("smallvec", "1.6.0", CRATES_IO),
            ("serde", "1.0.229", CRATES_IO),
        ],
    );
    let outcome = run_checker(&["check", "--skip-licenses", "--lock", lock.to_str().unwrap()]);
    assert_eq!(outcome.status, 1, "{}{}", outcome.stdout, outcome.stderr);
    let time = line_starting(
        &outcome.stdout,
        "supply-chain: FAILED: vulnerable: time 0.3.46 (",
    );
    assert!(
        time.ends_with("Cargo.lock): RUSTSEC-2026-0009 dated 2026-02-05, patched: >= 0.3.47"),
        "{}",
        outcome.stdout
    );
    let smallvec = line_starting(
        &outcome.stdout,
        "supply-chain: FAILED: vulnerable: smallvec 1.6.0 (",
    );
    assert!(smallvec.contains("RUSTSEC-2021-0003"), "{}", outcome.stdout);
    assert!(
        !outcome.stdout.contains("vulnerable: serde"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("findings: 2,"),
        "{}",
        outcome.stdout
    );
}

/// Locked versions on both sides of each advisory's bounds, with the
/// advisories that must fail them. The ranges come from the snapshot.
#[test]
fn version_ranges_follow_cargo_semver() {
    let cases: &[(&str, &str, &[&str])] = &[
        // patched ["^0.20.2", "^0.21.2", "^0.22.2", ">= 0.23.0"], unaffected ["< 0.16.0"]
        ("nix", "0.15.0", &[]),
        ("nix", "0.16.0", &["RUSTSEC-2021-0119"]),
        ("nix", "0.20.1", &["RUSTSEC-2021-0119"]),
        ("nix", "0.20.2", &[]),
        ("nix", "0.21.9", &[]),
        ("nix", "0.22.1", &["RUSTSEC-2021-0119"]),
        ("nix", "0.30.1", &[]),
        // patched [">= 0.4.8, < 1.0.0-0", ">= 1.1.0"], unaffected ["< 0.4.2"]
        ("arc-swap", "0.4.1", &[]),
        ("arc-swap", "0.4.7", &["RUSTSEC-2020-0091"]),
        ("arc-swap", "0.4.8", &[]),
        ("arc-swap", "1.0.0", &["RUSTSEC-2020-0091"]),
        ("arc-swap", "1.1.0", &[]),
        // unaffected lists exact versions "=0.2.0" to "=0.2.6"; 0.1 has no patch
        ("time", "0.1.44", &["RUSTSEC-2020-0071"]),
        ("time", "0.2.6", &[]),
        ("time", "0.2.7", &["RUSTSEC-2020-0071"]),
        ("time", "0.3.5", &[]),
        ("time", "0.3.6", &["RUSTSEC-2026-0009"]),
        ("time", "0.3.47", &[]),
        // unaffected ["<= 0.5.11"], patched [">= 0.5.15"]
        ("crossbeam-channel", "0.5.11", &[]),
        ("crossbeam-channel", "0.5.12", &["RUSTSEC-2025-0024"]),
        ("crossbeam-channel", "0.5.15", &[]),
        // six patched ranges, one per minor series
        ("generic-array", "0.12.3", &["RUSTSEC-2020-0146"]),
        ("generic-array", "0.12.4", &[]),
        ("generic-array", "0.13.2", &["RUSTSEC-2020-0146"]),
        // unaffected ["< 0.6.0-rc1"]: a prerelease below and at the bound
        ("serde_yaml", "0.6.0-alpha", &[]),
        ("serde_yaml", "0.6.0-rc1", &["RUSTSEC-2018-0005"]),
        ("serde_yaml", "0.8.3", &["RUSTSEC-2018-0005"]),
        ("serde_yaml", "0.9.34+deprecated", &[]),
        // patched ["^ 0.3.1", ">= 0.4.2"], informational: only a warning
        ("rand_core", "0.3.0", &[]),
        // patched ["^0.3.4", ...] for RUSTSEC-2018-0003
        ("smallvec", "0.3.3", &["RUSTSEC-2018-0003"]),
        ("smallvec", "0.3.4", &[]),
    ];
    for (name, version, expected) in cases {
        let outcome = check_version(name, version);
        let failed: Vec<&str> = outcome
            .stdout
            .lines()
            .filter(|line| line.contains("FAILED: vulnerable:"))
            .filter_map(|line| {
                line.split_whitespace()
                    .find(|word| word.starts_with("RUSTSEC-"))
            })
            .collect();
        assert_eq!(
            &failed, expected,
            "{name} {version}:\n{}{}",
            outcome.stdout, outcome.stderr
        );
        let expected_status = if expected.is_empty() { 0 } else { 1 };
        assert_eq!(outcome.status, expected_status, "{name} {version}");
    }
}

#[test]
fn informational_advisory_only_warns() {
    let outcome = check_version("memmap2", "0.9.10");
    assert_eq!(outcome.status, 0, "{}{}", outcome.stdout, outcome.stderr);
    let warning = line_starting(
        &outcome.stdout,
        "supply-chain: warning: unsound: memmap2 0.9.10 (",
    );
    assert!(warning.contains("RUSTSEC-2026-0186"), "{}", outcome.stdout);
    assert!(!outcome.stdout.contains("FAILED"), "{}", outcome.stdout);
}

/// RUSTSEC-2023-0033 gained the patched ranges `>= 1.0.0-alpha.1` and
/// `^0.10.4` after it was published; the snapshot must hold that version.
#[test]
fn borsh_patched_ranges_clear_warning() {
    let cases = [
        ("0.9.3", true),
        ("0.10.3", true),
        ("0.10.4", false),
        ("1.0.0-alpha.0", true),
        ("1.0.0-alpha.1", false),
        ("1.8.1", false),
    ];
    for (version, warned) in cases {
        let outcome = check_version("borsh", version);
        assert_eq!(outcome.status, 0, "{}{}", outcome.stdout, outcome.stderr);
        let warning = line_starting(
            &outcome.stdout,
            &format!("supply-chain: warning: unsound: borsh {version} ("),
        );
        assert_eq!(
            warning.contains("RUSTSEC-2023-0033"),
            warned,
            "borsh {version}:\n{}",
            outcome.stdout
        );
    }
}

#[test]
fn ignored_advisory_passes_with_reason() {
    let directory = TempDir::new().expect("temporary directory");
    let lock = write_lock(directory.path(), &[("time", "0.3.46", CRATES_IO)]);
    let ignore = directory.path().join("ignore.toml");
    fs::write(
        &ignore,
        "[[ignore]]\nid = \"RUSTSEC-2026-0009\"\nreason = \"no RFC 2822 parsing\"\n\n\
         [[ignore]]\nid = \"RUSTSEC-2021-0003\"\nreason = \"smallvec is not locked\"\n",
    )
    .unwrap();
    let outcome = run_checker(&[
        "check",
        "--skip-licenses",
        "--lock",
        lock.to_str().unwrap(),
        "--ignore",
        ignore.to_str().unwrap(),
    ]);
    assert_eq!(outcome.status, 0, "{}{}", outcome.stdout, outcome.stderr);
    let ignored = line_starting(
        &outcome.stdout,
        "supply-chain: warning: ignored: time 0.3.46 (",
    );
    assert!(ignored.contains("RUSTSEC-2026-0009"), "{}", outcome.stdout);
    assert!(
        ignored.ends_with("reason: no RFC 2822 parsing"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome
            .stdout
            .contains("warning: unused ignore: RUSTSEC-2021-0003"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn ignore_without_reason_rejected() {
    let directory = TempDir::new().expect("temporary directory");
    let lock = write_lock(directory.path(), &[("time", "0.3.46", CRATES_IO)]);
    let ignore = directory.path().join("ignore.toml");
    fs::write(&ignore, "[[ignore]]\nid = \"RUSTSEC-2026-0009\"\n").unwrap();
    let outcome = run_checker(&[
        "check",
        "--skip-licenses",
        "--lock",
        lock.to_str().unwrap(),
        "--ignore",
        ignore.to_str().unwrap(),
    ]);
    assert_eq!(outcome.status, 2, "{}{}", outcome.stdout, outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("ignore.toml: every [[ignore]] entry needs"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn crate_missing_from_snapshot_fails() {
    let outcome = check_version("crate-never-looked-up", "1.0.0");
    assert_eq!(outcome.status, 1, "{}{}", outcome.stdout, outcome.stderr);
    assert!(
        outcome
            .stdout
            .contains("FAILED: not covered: crate-never-looked-up 1.0.0"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn foreign_source_fails() {
    let directory = TempDir::new().expect("temporary directory");
    let lock = write_lock(
        directory.path(),
        &[(
            "smallvec",
            "1.16.6",
            "git+https://example.invalid/smallvec?rev=1#0123456789abcdef",
        )],
    );
    let outcome = run_checker(&["check", "--skip-licenses", "--lock", lock.to_str().unwrap()]);
    assert_eq!(outcome.status, 1, "{}{}", outcome.stdout, outcome.stderr);
    let source = line_starting(
        &outcome.stdout,
        "supply-chain: FAILED: source: smallvec 1.16.6 (",
    );
    assert!(
        source.contains("Cargo.lock) comes from git+https://example.invalid/"),
        "{}",
        outcome.stdout
    );
}

#[test]
fn malformed_lock_is_named() {
    let directory = TempDir::new().expect("temporary directory");
    let lock = directory.path().join("Cargo.lock");
    fs::write(&lock, "[[package]\nname = \"x\"\n").unwrap();
    let outcome = run_checker(&["check", "--skip-licenses", "--lock", lock.to_str().unwrap()]);
    assert_eq!(outcome.status, 2, "{}{}", outcome.stdout, outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("Cargo.lock: invalid TOML in the lock file"),
        "{}",
        outcome.stderr
    );
}

/// Creates a one-crate Cargo project with the given licence expression and
/// returns its manifest and lock file.
fn licensed_project(directory: &Path, license: &str) -> (PathBuf, PathBuf) {
    fs::create_dir_all(directory.join("src")).unwrap();
    fs::write(directory.join("src/lib.rs"), "").unwrap();
    let manifest = directory.join("Cargo.toml");
    fs::write(
        &manifest,
        format!(
            "[package]\nname = \"licence-fixture\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
             license = \"{license}\"\n\n[workspace]\n"
        ),
    )
    .unwrap();
    let status = Command::new(env!("CARGO"))
        .args(["generate-lockfile", "--offline", "--manifest-path"])
        .arg(&manifest)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo generate-lockfile failed");
    (manifest, directory.join("Cargo.lock"))
}

#[test]
fn licence_outside_allow_list_fails() {
    let cases = [
        ("GPL-3.0-only", 1),
        ("MIT OR GPL-3.0-only", 0),
        ("MIT AND GPL-3.0-only", 1),
        ("(MIT OR Apache-2.0) AND Unicode-3.0", 0),
        ("Apache-2.0 WITH LLVM-exception", 0),
        ("MIT/Apache-2.0", 0),
        ("MIT OR", 1),
    ];
    for (license, expected_status) in cases {
        let directory = TempDir::new().expect("temporary directory");
        let (manifest, lock) = licensed_project(directory.path(), license);
        let outcome = run_checker(&[
            "check",
            "--lock",
            lock.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
        ]);
        assert_eq!(
            outcome.status, expected_status,
            "{license}:\n{}{}",
            outcome.stdout, outcome.stderr
        );
        if expected_status == 1 {
            assert!(
                outcome
                    .stdout
                    .contains("FAILED: licence: licence-fixture 0.1.0"),
                "{license}:\n{}",
                outcome.stdout
            );
        }
    }
}

/// Writes an advisory file in the advisory database's format: TOML front
/// matter in a fenced block, then a title.
fn write_advisory(database: &Path, package: &str, id: &str, front_matter: &str) {
    let directory = database.join("crates").join(package);
    fs::create_dir_all(&directory).unwrap();
    fs::write(
        directory.join(format!("{id}.md")),
        format!("```toml\n[advisory]\nid = \"{id}\"\npackage = \"{package}\"\n{front_matter}\n```\n\n# Test advisory\n"),
    )
    .unwrap();
}

#[test]
fn refresh_builds_snapshot_from_database() {
    let directory = TempDir::new().expect("temporary directory");
    let database = directory.path().join("advisory-db");
    write_advisory(
        &database,
        "smallvec",
        "RUSTSEC-2099-0001",
        "date = \"2099-01-01\"\naliases = [\"CVE-2099-0001\"]\n\n[versions]\npatched = [\">= 1.6.1\"]\nunaffected = [\"< 1.0.0\"]",
    );
    write_advisory(
        &database,
        "smallvec",
        "RUSTSEC-2099-0002",
        "date = \"2099-01-02\"\nwithdrawn = \"2099-01-05\"\n\n[versions]\npatched = []",
    );
    write_advisory(
        &database,
        "smallvec",
        "RUSTSEC-0000-0000",
        "date = \"2099-02-01\"\n\n[versions]\npatched = []",
    );
    write_advisory(
        &database,
        "unlocked-crate",
        "RUSTSEC-2099-0003",
        "date = \"2099-03-01\"\n\n[versions]\npatched = []",
    );
    let lock = write_lock(directory.path(), &[("smallvec", "1.6.0", CRATES_IO)]);
    let snapshot = directory.path().join("advisories.toml");

    let refresh = run_checker(&[
        "refresh",
        "--db",
        database.to_str().unwrap(),
        "--lock",
        lock.to_str().unwrap(),
        "--snapshot",
        snapshot.to_str().unwrap(),
    ]);
    assert_eq!(refresh.status, 0, "{}{}", refresh.stdout, refresh.stderr);
    assert!(
        refresh.stdout.contains("1 crates, 2 advisories, 1 drafts"),
        "{}",
        refresh.stdout
    );
    let text = fs::read_to_string(&snapshot).unwrap();
    assert!(
        text.contains("newest_advisory_date = \"2099-03-01\""),
        "{text}"
    );
    assert!(text.contains("crates = [\n    \"smallvec\",\n]"), "{text}");
    assert!(!text.contains("RUSTSEC-2099-0003"), "{text}");
    assert!(text.contains("withdrawn = \"2099-01-05\""), "{text}");

    let check = run_checker(&[
        "check",
        "--skip-licenses",
        "--lock",
        lock.to_str().unwrap(),
        "--snapshot",
        snapshot.to_str().unwrap(),
    ]);
    assert_eq!(check.status, 1, "{}{}", check.stdout, check.stderr);
    let vulnerable = line_starting(
        &check.stdout,
        "supply-chain: FAILED: vulnerable: smallvec 1.6.0 (",
    );
    assert!(
        vulnerable.ends_with("RUSTSEC-2099-0001 dated 2099-01-01, patched: >= 1.6.1"),
        "{}",
        check.stdout
    );
    assert!(
        !check.stdout.contains("RUSTSEC-2099-0002"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("warning: draft: smallvec 1.6.0"),
        "{}",
        check.stdout
    );
    assert!(check.stdout.contains("findings: 1,"), "{}", check.stdout);
}

#[test]
fn crates_lists_names_to_look_up() {
    let directory = TempDir::new().expect("temporary directory");
    let lock = write_lock(
        directory.path(),
        &[
            ("smallvec", "1.16.6", CRATES_IO),
            ("crate-never-looked-up", "0.1.0", CRATES_IO),
        ],
    );
    let outcome = run_checker(&["crates", "--lock", lock.to_str().unwrap()]);
    assert_eq!(outcome.status, 0, "{}{}", outcome.stdout, outcome.stderr);
    assert_eq!(outcome.stdout, "crate-never-looked-up new\nsmallvec\n");
}
