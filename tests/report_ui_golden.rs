//! Golden outputs of the human-readable reports and the CSV writer over a
//! fixed set of flow records (tests/report_ui_fixtures), compared byte for
//! byte with the files in tests/golden/report/.
//!
//! After an intended change of the output, rewrite the files with
//! `UPDATE_GOLDEN=1 cargo test --test report_ui_golden` and review the diff.

mod report_ui_fixtures;

use std::path::PathBuf;

use exflow::i18n::Lang;
use exflow::report::csv::CsvWriter;
use exflow::report::summary::{SummaryAggregator, SummaryOptions, write_summary};
use report_ui_fixtures::{fixtures, run_stats};

/// Compares `actual` with the golden file `name`, or rewrites the file when
/// `UPDATE_GOLDEN=1` is set.
fn check_golden(name: &str, actual: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/report")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|value| value == "1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read {}: {error}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let expected = String::from_utf8_lossy(&expected);
        let actual = String::from_utf8_lossy(actual);
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the output at line {}:\n expected: {:?}\n   actual: {:?}\n\
             (rerun with UPDATE_GOLDEN=1 if the change is intended)",
            path.display(),
            line + 1,
            expected.lines().nth(line).unwrap_or("<end of file>"),
            actual.lines().nth(line).unwrap_or("<end of output>"),
        );
    }
}

fn summary_text(lang: Lang) -> Vec<u8> {
    let fixtures = fixtures();
    let mut aggregator = SummaryAggregator::new();
    for fixture in &fixtures {
        let reason = match lang {
            Lang::En => fixture.record.reason.as_str(),
            Lang::Ja => fixture.reason_ja.as_str(),
        };
        aggregator.add(&fixture.record, reason);
    }
    let mut output = Vec::new();
    write_summary(
        &mut output,
        &aggregator.summary(),
        &run_stats(&fixtures),
        &SummaryOptions::new(lang),
    )
    .unwrap();
    output
}

#[test]
fn summary_english_matches_golden() {
    check_golden("summary.en.txt", &summary_text(Lang::En));
}

#[test]
fn summary_japanese_matches_golden() {
    check_golden("summary.ja.txt", &summary_text(Lang::Ja));
}

#[test]
fn csv_matches_golden() {
    let mut output = Vec::new();
    {
        let mut writer = CsvWriter::new(&mut output);
        for fixture in fixtures() {
            writer.write(&fixture.record).unwrap();
        }
        writer.finish().unwrap();
    }
    check_golden("flows.csv", &output);
}
