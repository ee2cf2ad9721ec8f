//! What exflow does when its standard output cannot take the output: a full
//! device (/dev/full) or a descriptor open only for reading is an error with
//! status 2 and a message, a reader that closed the pipe
//! (`exflow ... | head`) is not, and none of them ever panics. A
//! closed pipe keeps the status the run had earned: `--fail-on`,
//! `--baseline` and input errors still decide it. A full standard error
//! changes neither the status nor the records, and the files that standard
//! input comes from and standard output goes to are checked like `-o FILE`.
//! Also the range of `--threads`, the fallback to one thread when threads
//! cannot start, rules and site files that are not UTF-8 or never end, and
//! `discover`'s input errors in Japanese.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const EN: &str = "C";
const JA: &str = "ja_JP.UTF-8";

/// A value of RUST_MIN_STACK, the stack size of the threads exflow starts.
/// 2^60 bytes exceed the user address space of 64-bit Linux (2^56 bytes at
/// most, with five-level paging), so every thread is rejected.
const HUGE_STACK: &str = "1152921504606846976";

fn exflow(args: &[&str], lang: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_exflow"));
    command
        .args(args)
        .env("LANG", lang)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

/// Opens /dev/full, where every write fails with ENOSPC.
fn full_device() -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("cannot open /dev/full")
}

/// Runs exflow with standard output on /dev/full.
fn run_to_full_device(args: &[&str], lang: &str) -> Output {
    exflow(args, lang)
        .stdout(full_device())
        .output()
        .expect("failed to start exflow")
}

/// Runs exflow with standard output on /dev/null opened only for reading, so
/// that every write fails with EBADF, as on a closed descriptor.
fn run_to_read_only_stdout(args: &[&str], lang: &str) -> Output {
    let read_only = std::fs::File::open("/dev/null").expect("cannot open /dev/null");
    exflow(args, lang)
        .stdout(read_only)
        .output()
        .expect("failed to start exflow")
}

/// Runs exflow with standard output on a pipe whose read end is closed
/// before exflow starts, so its first write fails with EPIPE whatever the
/// timing.
fn run_to_closed_pipe(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("cannot make a pipe");
    drop(reader);
    exflow(args, EN)
        .stdout(writer)
        .output()
        .expect("failed to start exflow")
}

fn run(args: &[&str], lang: &str) -> Output {
    exflow(args, lang).output().expect("failed to start exflow")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn repo_path(relative: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(relative)
        .to_str()
        .unwrap()
        .to_string()
}

/// Returns a corpus capture whose JSON Lines and CSV output (about 2,000
/// flows) is larger than exflow's output buffer, so writing fails before the end.
fn many_flows_capture() -> String {
    repo_path("../shared/corpus/ndpi__synscan.pcap")
}

fn assert_exit(output: &Output, code: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{what}: stderr: {}",
        stderr(output)
    );
}

/// Asserts a usage error (exit status 2) whose message contains `expected`.
fn assert_rejected(output: &Output, what: &str, expected: &str) {
    assert_exit(output, 2, what);
    assert!(
        stderr(output).contains(expected),
        "{what}: {}",
        stderr(output)
    );
}

fn assert_no_panic(output: &Output, what: &str) {
    assert!(
        !stderr(output).contains("panicked"),
        "{what}: {}",
        stderr(output)
    );
}

/// Returns the commands other than `analyze` that print more than a line on
/// standard output.
fn printing_commands() -> Vec<Vec<String>> {
    let site = repo_path("captures/exchange-edge.site.toml");
    let other_site = repo_path("captures/exchange-no-edge.site.toml");
    [
        vec!["rules", "show"],
        vec!["rules", "check", "--site", &site],
        vec!["rules", "diff", &site, &other_site],
        vec!["completions", "bash"],
        vec!["completions", "powershell"],
        vec!["man"],
        vec!["--help"],
        vec!["--version"],
        vec!["analyze", "--help"],
    ]
    .into_iter()
    .map(|args| args.into_iter().map(str::to_string).collect())
    .collect()
}

#[test]
fn full_device_is_an_error_in_both_languages() {
    for args in printing_commands() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let what = args.join(" ");

        let output = run_to_full_device(&args, EN);
        assert_no_panic(&output, &what);
        assert_exit(&output, 2, &what);
        assert_eq!(
            stderr(&output),
            "exflow: writing to standard output failed: No space left on device (os error 28)\n",
            "{what}"
        );

        let output = run_to_full_device(&args, JA);
        assert_exit(&output, 2, &what);
        assert_eq!(
            stderr(&output),
            "exflow: 書き込みに失敗しました (標準出力): ディスクの空き領域が不足しています (OS エラー 28)\n",
            "{what}"
        );
    }
}

#[test]
fn read_only_stdout_is_an_error() {
    const BAD_DESCRIPTOR: &str = "exflow: writing to standard output failed: \
        Bad file descriptor (os error 9): it is not open for writing; \
        check where it is redirected\n";
    let capture = repo_path("captures/exchange-edge.pcap");
    let dir = tempfile::TempDir::new().unwrap();
    let baseline = dir.path().join("baseline.jsonl");
    let baseline = baseline.to_str().unwrap();
    let records = run(&["analyze", &capture, "-o", baseline], EN);
    assert_exit(&records, 0, "baseline run");

    let mut commands = printing_commands();
    for format in ["jsonl", "csv", "summary"] {
        commands.push(
            ["analyze", "--format", format, &capture]
                .map(str::to_string)
                .to_vec(),
        );
    }
    commands.push(["discover", "-q", &capture].map(str::to_string).to_vec());
    // The records go to a file and the comparison with the baseline, which
    // finds no difference, to standard output.
    let site = repo_path("captures/exchange-edge.site.toml");
    commands.push(
        [
            "analyze",
            &capture,
            "--site",
            &site,
            "--baseline",
            baseline,
            "-o",
            "/dev/null",
        ]
        .map(str::to_string)
        .to_vec(),
    );

    for args in commands {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let command_line = args.join(" ");
        let output = run_to_read_only_stdout(&args, EN);
        assert_no_panic(&output, &command_line);
        assert_exit(&output, 2, &command_line);
        assert_eq!(stderr(&output), BAD_DESCRIPTOR, "{command_line}");
    }

    let output = run_to_read_only_stdout(&["analyze", "--format", "jsonl", &capture], JA);
    assert_exit(&output, 2, "Japanese");
    assert_eq!(
        stderr(&output),
        "exflow: 書き込みに失敗しました (標準出力): ファイル記述子が不正です (OS エラー 9)。\
         書き込み用に開かれていないので、リダイレクト先を確認してください\n"
    );
}

/// An environment variable's name and value.
type EnvVar<'a> = (&'a str, &'a str);

/// Runs exflow with standard error on /dev/full, and with the environment
/// variable `env` when one is given.
fn run_with_full_stderr(args: &[&str], env: Option<EnvVar>) -> Output {
    exflow(args, EN)
        .envs(env)
        .stderr(full_device())
        .output()
        .expect("failed to start exflow")
}

#[test]
fn full_stderr_keeps_status_and_records() {
    let capture = repo_path("captures/exchange-edge.pcap");
    let dir = tempfile::TempDir::new().unwrap();
    let cut = dir.path().join("cut.pcap");
    let bytes = std::fs::read(&capture).unwrap();
    std::fs::write(&cut, &bytes[..5000]).unwrap();
    let cut = cut.to_str().unwrap();
    let missing = dir.path().join("missing.pcap");
    let missing = missing.to_str().unwrap();

    // Arguments, environment and the exit status of each case. Every case
    // prints to standard error: an error, a usage error, an input error
    // after some records, and the warning that threads could not start (a
    // stack size no thread can get).
    let no_threads = Some(("RUST_MIN_STACK", HUGE_STACK));
    let cases: [(&[&str], Option<EnvVar>, i32); 4] = [
        (&["analyze", missing], None, 2),
        (&["analyze", "--no-such-option", &capture], None, 2),
        (&["analyze", "--threads", "1", cut], None, 2),
        (&["analyze", "--threads", "2", &capture], no_threads, 0),
    ];
    for (args, env, code) in cases {
        let command_line = args.join(" ");
        let normal = exflow(args, EN)
            .envs(env)
            .output()
            .expect("failed to start exflow");
        assert_exit(&normal, code, &command_line);
        assert!(
            !normal.stderr.is_empty(),
            "{command_line}: nothing on standard error"
        );

        let full = run_with_full_stderr(args, env);
        assert_exit(&full, code, &command_line);
        assert_eq!(full.stdout, normal.stdout, "{command_line}");
    }
}

/// Copies the shipped Edge capture into `dir` as `name`, and returns its path
/// and bytes, so that a test can check that a run left it unchanged.
fn copied_capture(dir: &Path, name: &str) -> (PathBuf, Vec<u8>) {
    let path = dir.join(name);
    std::fs::copy(repo_path("captures/exchange-edge.pcap"), &path).expect("copy capture");
    let bytes = std::fs::read(&path).expect("read capture");
    (path, bytes)
}

/// Opens `path` for appending, as `>> path` does, creating it when missing.
fn appending_to(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .expect("cannot open the output file")
}

/// Runs exflow with standard output appended to `path`, as `>> path` does.
fn run_appending_to(args: &[&str], path: &Path, lang: &str) -> Output {
    exflow(args, lang)
        .stdout(appending_to(path))
        .output()
        .expect("failed to start exflow")
}

#[test]
fn redirected_files_guarded_like_output() {
    let capture = repo_path("captures/exchange-edge.pcap");
    let dir = tempfile::TempDir::new().unwrap();
    let records = dir.path().join("records.jsonl");
    let report = dir.path().join("report.html");
    let report_arg = report.to_str().unwrap();

    // A report beside records redirected to another file is fine.
    let output = run_appending_to(&["analyze", &capture, "--report", report_arg], &records, EN);
    assert_exit(&output, 0, "report beside redirected records");
    let lines = std::fs::read_to_string(&records).unwrap().lines().count();
    assert!(lines > 0, "no records in the redirected output");

    // The report path names the file standard output goes to.
    for report_path in [report_arg, "/dev/stdout"] {
        let output = run_appending_to(&["analyze", &capture, "--report", report_path], &report, EN);
        assert_exit(&output, 2, report_path);
        assert_eq!(
            stderr(&output),
            format!(
                "exflow: --report and standard output name the same file {report_path}; \
                 give them different paths\n"
            ),
        );
    }

    // Standard output appended to the capture being read.
    let input = dir.path().join("input.pcap");
    std::fs::copy(&capture, &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    let input_arg = input.to_str().unwrap();
    let output = run_appending_to(&["analyze", input_arg], &input, EN);
    assert_exit(&output, 2, "records appended to the input");
    assert_eq!(
        stderr(&output),
        format!(
            "exflow: standard output is redirected to the input {input_arg}; writing there \
             would change the file being read, so redirect it elsewhere\n"
        ),
    );
    assert_eq!(std::fs::read(&input).unwrap(), before, "input changed");

    let output = run_appending_to(&["analyze", input_arg], &input, JA);
    assert_exit(&output, 2, "Japanese");
    assert!(
        stderr(&output).starts_with(&format!("exflow: 標準出力が入力 {input_arg} に")),
        "{}",
        stderr(&output)
    );

    // With records in a file, the comparison with a baseline goes to standard
    // output, which then may be neither an input nor the records' file.
    let baseline = dir.path().join("baseline.jsonl");
    let baseline_arg = baseline.to_str().unwrap();
    let output = run(&["analyze", &capture, "-o", baseline_arg], EN);
    assert_exit(&output, 0, "baseline run");
    let args = [
        "analyze",
        input_arg,
        "-o",
        "/dev/null",
        "--baseline",
        baseline_arg,
    ];
    let output = run_appending_to(&args, &input, EN);
    assert_exit(&output, 2, "comparison appended to the input");
    assert_eq!(std::fs::read(&input).unwrap(), before, "input changed");
    let args = [
        "analyze",
        &capture,
        "-o",
        report_arg,
        "--baseline",
        baseline_arg,
    ];
    let output = run_appending_to(&args, &report, EN);
    assert_exit(&output, 2, "comparison into the records' file");
    assert_eq!(
        stderr(&output),
        format!(
            "exflow: -o and standard output name the same file {report_arg}; \
             give them different paths\n"
        ),
    );

    // Standard input redirected from the file `-o` names.
    let stdin_file = std::fs::File::open(&input).unwrap();
    let output = exflow(&["analyze", "-", "-o", input_arg], EN)
        .stdin(stdin_file)
        .output()
        .expect("failed to start exflow");
    assert_exit(&output, 2, "records into standard input's file");
    assert_eq!(
        stderr(&output),
        format!(
            "exflow: the output {input_arg} is also an input; writing it would destroy \
             that file, so give another -o path\n"
        ),
    );
    assert_eq!(std::fs::read(&input).unwrap(), before, "input changed");
}

/// In Japanese, 標準出力 joins the words around it without spaces, while an
/// option name keeps a space on each side.
#[test]
fn stdout_clash_in_japanese() {
    let capture = repo_path("captures/exchange-edge.pcap");
    let dir = tempfile::TempDir::new().unwrap();
    let report = dir.path().join("report.html");
    let report_arg = report.to_str().unwrap();

    let output = run_appending_to(&["analyze", &capture, "--report", report_arg], &report, JA);
    assert_exit(&output, 2, "report into standard output's file");
    assert_eq!(
        stderr(&output),
        format!(
            "exflow: --report と標準出力が同じファイル {report_arg} を指しています。\
             別々のパスを指定してください\n"
        ),
    );

    let output = run(
        &[
            "analyze", &capture, "-o", report_arg, "--report", report_arg,
        ],
        JA,
    );
    assert_exit(&output, 2, "-o and --report naming one file");
    assert_eq!(
        stderr(&output),
        format!(
            "exflow: -o と --report が同じファイル {report_arg} を指しています。\
             別々のパスを指定してください\n"
        ),
    );
}

/// Without `-o FILE`, `discover` writes the site file to standard output,
/// which therefore may not be redirected to a capture it reads.
#[test]
fn discover_guards_standard_output() {
    let dir = tempfile::TempDir::new().unwrap();
    let (input, before) = copied_capture(dir.path(), "input.pcap");
    let input_arg = input.to_str().unwrap();

    assert_stdout_to_input_rejected(&["discover", input_arg], &input);
    assert_stdout_to_input_rejected(&["discover", input_arg, "-o", "-"], &input);

    // Standard input and standard output on the same file.
    let stdin_file = std::fs::File::open(&input).unwrap();
    let output = exflow(&["discover", "-"], EN)
        .stdin(stdin_file)
        .stdout(appending_to(&input))
        .output()
        .expect("failed to start exflow");
    assert_exit(&output, 2, "discover from and to one file");
    assert_eq!(std::fs::read(&input).unwrap(), before, "input changed");

    // With `-o FILE`, nothing is written to standard output, so it may be
    // redirected to an input.
    let site = dir.path().join("site.toml");
    let site_arg = site.to_str().unwrap();
    let output = run_appending_to(&["discover", input_arg, "-o", site_arg], &input, EN);
    assert_exit(&output, 0, "discover to a site file");
    assert!(!std::fs::read(&site).unwrap().is_empty(), "site file empty");
    assert_eq!(std::fs::read(&input).unwrap(), before, "input changed");
}

/// Standard error appended to an input (`>> in.pcap 2>&1`, `2>> in.pcap`)
/// would take any message, the refusal included, into the file being read.
/// The run ends with status 2 and writes nothing there.
#[test]
fn stderr_to_input_ends_silently() {
    let dir = tempfile::TempDir::new().unwrap();
    let (input, before) = copied_capture(dir.path(), "input.pcap");
    let input_arg = input.to_str().unwrap();
    let records = dir.path().join("records.jsonl");
    let site = dir.path().join("site.toml");

    let commands: [&[&str]; 4] = [
        &["analyze", input_arg],
        &["analyze", input_arg, "-o", records.to_str().unwrap()],
        &["discover", input_arg],
        &["discover", input_arg, "-o", site.to_str().unwrap()],
    ];
    for args in commands {
        let command_line = args.join(" ");
        // Both streams to the input, and standard error alone.
        for stdout_too in [true, false] {
            let stdout = if stdout_too {
                std::process::Stdio::from(appending_to(&input))
            } else {
                std::process::Stdio::null()
            };
            let output = exflow(args, EN)
                .stdout(stdout)
                .stderr(appending_to(&input))
                .output()
                .expect("failed to start exflow");
            assert_exit(&output, 2, &command_line);
            let after = std::fs::read(&input).unwrap();
            assert!(after == before, "{command_line}: the input changed");
        }
    }
    assert!(!records.exists(), "records written");
    assert!(!site.exists(), "site file written");
}

/// Without `-o FILE`, `exflow live` writes its records to standard output,
/// which therefore may not be redirected to the site file it reads. The check
/// runs before any interface is opened.
#[cfg(feature = "live")]
#[test]
fn live_guards_standard_output() {
    let dir = tempfile::TempDir::new().unwrap();
    let site = dir.path().join("site.toml");
    std::fs::copy(repo_path("captures/exchange-edge.site.toml"), &site).unwrap();
    let site_arg = site.to_str().unwrap();

    let live = ["live", "-i", "exflow-none0", "--site", site_arg];
    assert_stdout_to_input_rejected(&live, &site);
    assert_stdout_to_input_rejected(&[live.as_slice(), &["-o", "-"]].concat(), &site);
}

/// Runs exflow with standard output appended to `input`, a file it reads,
/// and asserts the usage error that names it and that the file is unchanged.
fn assert_stdout_to_input_rejected(args: &[&str], input: &Path) {
    let before = std::fs::read(input).unwrap();
    let command_line = args.join(" ");

    let output = run_appending_to(args, input, EN);
    assert_exit(&output, 2, &command_line);
    assert_eq!(
        stderr(&output),
        format!(
            "exflow: standard output is redirected to the input {}; writing there \
             would change the file being read, so redirect it elsewhere\n",
            input.display()
        ),
        "{command_line}"
    );
    assert_eq!(std::fs::read(input).unwrap(), before, "{command_line}");
}

#[test]
fn closed_pipe_is_no_error() {
    for args in printing_commands() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let what = args.join(" ");
        let output = run_to_closed_pipe(&args);
        assert_no_panic(&output, &what);
        let expected = if args.get(1) == Some(&"diff") { 1 } else { 0 };
        assert_exit(&output, expected, &what);
        assert_eq!(stderr(&output), "", "{what}");
    }
}

#[test]
fn closed_pipe_keeps_analyze_status() {
    let capture = many_flows_capture();
    for format in ["jsonl", "csv"] {
        let output = run_to_closed_pipe(&["analyze", "--format", format, &capture]);
        assert_exit(&output, 0, format);
        assert_eq!(stderr(&output), "", "{format}");

        // Without a site file every flow is out of scope, the first included.
        let output = run_to_closed_pipe(&[
            "analyze",
            "--format",
            format,
            "--fail-on",
            "out_of_scope",
            &capture,
        ]);
        assert_exit(&output, 1, format);
        // With --fail-on every flow is judged, after the pipe closed too.
        assert_eq!(
            stderr(&output),
            "exflow: flows that --fail-on matched: out_of_scope: 1994\n",
            "{format}"
        );
    }

    // An input that cannot be read, before the records that fill the pipe.
    let output = run_to_closed_pipe(&["analyze", "/nonexistent/exflow.pcap", &capture]);
    assert_exit(&output, 2, "missing input");
}

#[test]
fn closed_pipe_keeps_baseline_difference() {
    let dir = tempfile::TempDir::new().unwrap();
    let capture = repo_path("captures/exchange-edge.pcap");
    let site = repo_path("captures/exchange-edge.site.toml");
    let baseline = dir.path().join("baseline.jsonl");
    let baseline = baseline.to_str().unwrap();
    let records = run(&["analyze", &capture, "--site", &site, "-o", baseline], EN);
    assert_exit(&records, 0, "baseline run");

    // Without the site file every verdict changes; the difference goes to
    // standard output because the records go to a file.
    let output = run_to_closed_pipe(&[
        "analyze",
        &capture,
        "--baseline",
        baseline,
        "-o",
        "/dev/null",
    ]);
    assert_exit(&output, 1, "changed verdicts");
    assert_eq!(stderr(&output), "");
}

#[test]
fn threads_out_of_range_is_usage_error() {
    let capture = repo_path("captures/exchange-edge.pcap");
    for command in ["analyze", "discover"] {
        for threads in ["0", "1025", "100000", "4294967296"] {
            let what = format!("{command} --threads {threads}");
            let output = run(&[command, "--threads", threads, &capture], EN);
            assert_no_panic(&output, &what);
            assert_exit(&output, 2, &what);
            assert!(
                stderr(&output).starts_with(&format!(
                    "error: invalid value '{threads}' for '--threads <N>': "
                )),
                "{what}: {}",
                stderr(&output)
            );
            assert!(output.stdout.is_empty(), "{what}");
        }
        let output = run(&[command, "--threads", "1024", &capture], EN);
        assert_exit(&output, 0, &format!("{command} --threads 1024"));
    }

    let output = run(&["analyze", "--threads", "2000", &capture], JA);
    assert_exit(&output, 2, "Japanese");
    assert!(
        stderr(&output).starts_with("エラー: '2000' は '--threads <N>' に指定できません: "),
        "{}",
        stderr(&output)
    );
}

#[test]
fn rejected_threads_fall_back_to_one() {
    let capture = repo_path("captures/exchange-edge.pcap");

    let warning = "exflow: warning: starting a worker thread failed: ";
    let ending = "; reading on one thread instead, with the same records";
    for command in ["analyze", "discover"] {
        let one_thread = run(&[command, "--threads", "1", &capture, &capture], EN);
        assert_exit(&one_thread, 0, command);
        // Two inputs: the first falls back, and the second starts on one
        // thread, so the warning comes once.
        let output = exflow(&[command, "--threads", "2", &capture, &capture], EN)
            .env("RUST_MIN_STACK", HUGE_STACK)
            .output()
            .expect("failed to start exflow");

        assert_no_panic(&output, command);
        assert_exit(&output, 0, command);
        assert_eq!(output.stdout, one_thread.stdout, "{command}");
        let text = stderr(&output);
        let warnings: Vec<&str> = text
            .lines()
            .filter(|line| line.contains("warning"))
            .collect();
        assert_eq!(warnings.len(), 1, "{command}: {text}");
        assert!(warnings[0].starts_with(warning), "{command}: {text}");
        assert!(warnings[0].ends_with(ending), "{command}: {text}");
    }

    // glibc reports a thread it could not start as EAGAIN, which Japanese
    // names too.
    let output = exflow(&["analyze", "--threads", "2", &capture], JA)
        .env("RUST_MIN_STACK", HUGE_STACK)
        .output()
        .expect("failed to start exflow");
    assert_exit(&output, 0, "Japanese");
    let text = stderr(&output);
    assert_eq!(
        text,
        "exflow: 警告: ワーカー スレッドを開始できませんでした: \
         リソースが一時的に使用できません (OS エラー 11)。\
         代わりに 1 スレッドで読み込みます (レコードは同じです)\n"
    );

    // -q prints errors only, and this is a warning.
    for command in ["analyze", "discover"] {
        let output = exflow(&["-q", command, "--threads", "2", &capture], EN)
            .env("RUST_MIN_STACK", HUGE_STACK)
            .output()
            .expect("failed to start exflow");
        assert_exit(&output, 0, command);
        assert_eq!(stderr(&output), "", "{command} -q");
    }
}

#[test]
fn site_file_not_utf8_names_line_and_column() {
    let dir = tempfile::TempDir::new().unwrap();
    let site: PathBuf = dir.path().join("site.toml");
    // Latin-1 "é" (0xe9) in a comment on line 3, after 4 characters.
    std::fs::write(&site, b"[roles]\nmailbox = []\n# caf\xe9\n").unwrap();
    let site = site.to_str().unwrap();

    let output = run(&["rules", "check", "--site", site], EN);
    assert_exit(&output, 2, "rules check");
    assert_eq!(
        stderr(&output),
        format!(
            "{site}:3:6: error: invalid TOML: byte 0xe9 is not UTF-8; save the file as UTF-8\n\
             errors: 1, warnings: 0\n"
        )
    );

    let output = run(&["rules", "check", "--site", site], JA);
    assert_exit(&output, 2, "rules check in Japanese");
    assert!(
        stderr(&output).starts_with(&format!(
            "{site}:3:6: エラー: TOML として正しくありません: バイト 0xe9 は UTF-8 ではありません。"
        )),
        "{}",
        stderr(&output)
    );

    let capture = repo_path("captures/exchange-edge.pcap");
    let output = run(&["analyze", &capture, "--site", site], EN);
    assert_exit(&output, 2, "analyze");
    assert!(output.stdout.is_empty());
}

#[test]
fn endless_site_file_is_too_large() {
    let output = run(&["rules", "check", "--site", "/dev/zero"], EN);
    assert_no_panic(&output, "/dev/zero");
    assert_exit(&output, 2, "/dev/zero");
    assert_eq!(
        stderr(&output),
        "exflow: /dev/zero is larger than 4194304 bytes; rules and site files are small \
         TOML files, so check the path\n"
    );
}

#[test]
fn discover_input_error_in_japanese() {
    let dir = tempfile::TempDir::new().unwrap();
    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let empty = empty.to_str().unwrap();

    let output = run(&["discover", "-q", empty], JA);
    assert_exit(&output, 2, "discover");
    assert_eq!(
        stderr(&output),
        format!("exflow: {empty}: pcap ファイルでも pcapng ファイルでもありません。入力が空です\n")
    );
    // The proposal is still written, from no flows.
    assert!(!output.stdout.is_empty());
}

#[test]
fn output_file_write_failure_names_file() {
    let capture = repo_path("captures/exchange-edge.pcap");
    let cases: [(&[&str], &str); 3] = [
        (
            &["analyze", &capture, "--format", "jsonl", "-o", "/dev/full"],
            "/dev/full",
        ),
        (
            &[
                "analyze",
                &capture,
                "--format",
                "jsonl",
                "-o",
                "/dev/null",
                "--report",
                "/dev/full",
            ],
            "/dev/full",
        ),
        (&["discover", &capture, "-o", "/dev/full"], "/dev/full"),
    ];
    for (args, path) in cases {
        let what = args.join(" ");

        let output = run(args, EN);
        assert_no_panic(&output, &what);
        assert_exit(&output, 2, &what);
        let expected = format!("writing to {path} failed: No space left on device (os error 28)");
        assert!(
            stderr(&output).contains(&expected),
            "{what}: {}",
            stderr(&output)
        );

        let output = run(args, JA);
        assert_exit(&output, 2, &what);
        let expected = format!(
            "書き込みに失敗しました ({path}): ディスクの空き領域が不足しています (OS エラー 28)"
        );
        assert!(
            stderr(&output).contains(&expected),
            "{what}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn filter_error_escapes_controls() {
    let capture = repo_path("captures/exchange-edge.pcap");
    let expression = "host \u{1b}[31m\u{202e}x";
    for lang in [EN, JA] {
        let output = run(&["analyze", &capture, "--filter", expression], lang);
        assert_exit(&output, 2, expression);
        let text = stderr(&output);
        assert!(
            !text.contains('\u{1b}'),
            "escape byte reached stderr: {text:?}"
        );
        assert!(
            !text.contains('\u{202e}'),
            "bidi override reached stderr: {text:?}"
        );
        assert!(text.contains("U+001B"), "{text:?}");
        assert!(text.contains("host \u{fffd}[31m\u{fffd}x"), "{text:?}");
    }
}

#[test]
fn standard_input_twice_is_rejected() {
    for command in ["analyze", "discover"] {
        let output = run(&[command, "-", "-"], EN);
        assert_exit(&output, 2, command);
        assert_eq!(
            stderr(&output),
            "exflow: standard input (\"-\") can be read only once; give \"-\" at most once\n",
            "{command}"
        );
    }
}

#[test]
fn unwritable_report_fails_before_reading() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let records = dir.path().join("records.jsonl");
    let records = records.to_str().expect("UTF-8 path");
    let capture = repo_path("captures/exchange-edge.pcap");
    let output = run(
        &[
            "analyze",
            &capture,
            "-o",
            records,
            "--report",
            "/nonexistent/report.html",
        ],
        EN,
    );
    assert_exit(&output, 2, "--report into a missing directory");
    assert!(
        stderr(&output).contains("cannot open the output /nonexistent/report.html"),
        "{}",
        stderr(&output)
    );
    assert!(
        !Path::new(records).exists(),
        "the run stopped before opening the records file"
    );
}

#[test]
fn same_capture_twice_gets_distinct_ids() {
    let capture = repo_path("captures/exchange-edge.pcap");
    let output = run(&["analyze", &capture, &capture, "--format", "jsonl"], EN);
    assert_exit(&output, 0, "the same capture twice");
    let text = String::from_utf8_lossy(&output.stdout);
    let ids: Vec<&str> = text
        .lines()
        .map(|line| {
            let start = line.find("\"flow_id\":\"").expect("flow_id field") + 11;
            &line[start..start + 16]
        })
        .collect();
    let distinct: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), 48, "24 flows from each reading");
    assert_eq!(distinct.len(), ids.len(), "flow ids repeat within one run");
}

#[test]
fn output_same_as_input_is_rejected() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (capture, before) = copied_capture(dir.path(), "capture.pcap");
    let capture = capture.to_str().expect("UTF-8 path");

    let output = run(&["analyze", capture, "-o", capture], EN);
    assert_rejected(&output, "-o naming the input", "is also an input");
    assert_eq!(std::fs::read(capture).expect("read capture"), before);

    let output = run(&["analyze", capture, "-o", capture], JA);
    assert_rejected(&output, "-o naming the input, Japanese", "入力でもあります");

    // discover reads every input before it writes, and would then replace
    // the capture with the site file.
    let output = run(&["discover", capture, "-o", capture], EN);
    assert_rejected(&output, "discover -o naming the input", "is also an input");
    assert_eq!(std::fs::read(capture).expect("read capture"), before);

    // The HTML report is created before the capture is read.
    let output = run(
        &["analyze", capture, "--report", capture, "-o", "/dev/null"],
        EN,
    );
    assert_rejected(&output, "--report naming the input", "--report");
    assert_eq!(std::fs::read(capture).expect("read capture"), before);
}

#[test]
fn output_naming_site_or_output_rejected() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let site = dir.path().join("site.toml");
    std::fs::copy(repo_path("captures/exchange-edge.site.toml"), &site).expect("copy site");
    let site_before = std::fs::read(&site).expect("read site");
    let site = site.to_str().expect("UTF-8 path");
    let capture = repo_path("captures/exchange-edge.pcap");
    let capture = capture.as_str();

    let output = run(&["analyze", capture, "--site", site, "-o", site], EN);
    assert_rejected(&output, "-o naming the site file", "is also an input");
    assert_eq!(std::fs::read(site).expect("read site"), site_before);

    let both = dir.path().join("out.jsonl");
    let both = both.to_str().expect("UTF-8 path");
    let output = run(&["analyze", capture, "-o", both, "--report", both], EN);
    assert_rejected(
        &output,
        "-o and --report naming one file",
        "name the same file",
    );
    let output = run(&["analyze", capture, "-o", both, "--report", both], JA);
    assert!(
        stderr(&output).contains("同じファイル"),
        "{}",
        stderr(&output)
    );

    // The same new file through `..` and through a dangling link.
    std::fs::create_dir(dir.path().join("sub")).expect("create folder");
    let new = dir.path().join("new.jsonl");
    let new = new.to_str().expect("UTF-8 path");
    let dotted = dir.path().join("sub/../new.jsonl");
    let dotted = dotted.to_str().expect("UTF-8 path");
    let output = run(&["analyze", capture, "-o", new, "--report", dotted], EN);
    assert_exit(&output, 2, "-o and --report naming one new file through ..");
    let dangling = dir.path().join("dangling");
    std::os::unix::fs::symlink("new.jsonl", &dangling).expect("create link");
    let dangling = dangling.to_str().expect("UTF-8 path");
    let output = run(&["analyze", capture, "-o", new, "--report", dangling], EN);
    assert_exit(
        &output,
        2,
        "-o and --report naming one new file through a link",
    );
    assert!(std::fs::metadata(new).is_err(), "the new file was created");

    // Writing to /dev/null destroys nothing, even when it is also read.
    let output = run(&["analyze", "/dev/null", "-o", "/dev/null"], EN);
    assert!(
        !stderr(&output).contains("is also an input"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn discover_without_flows_keeps_site_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let site = dir.path().join("site.toml");
    std::fs::write(&site, "# written by hand\n").expect("write site");
    let missing = dir.path().join("missing.pcap");
    let output = run(
        &[
            "discover",
            missing.to_str().expect("UTF-8 path"),
            "-o",
            site.to_str().expect("UTF-8 path"),
        ],
        EN,
    );
    assert_exit(&output, 2, "discover of a missing capture");
    assert_eq!(
        std::fs::read_to_string(&site).expect("read site"),
        "# written by hand\n"
    );
}

/// An output file stays as it was when no input can be read: a mistyped
/// capture name must not empty the records of an earlier run.
#[test]
fn unreadable_inputs_leave_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let earlier_records = b"{\"flow_id\":\"earlier run\"}\n";
    let not_capture = dir.path().join("notes.pcap");
    std::fs::write(&not_capture, "not a capture\n").unwrap();
    let missing = dir.path().join("missing.pcap");
    // Standard input and devices are found not to be captures only when
    // read, as the run goes.
    let inputs = [
        (
            "missing file",
            missing.to_str().unwrap(),
            missing.to_str().unwrap(),
        ),
        (
            "file that is no capture",
            not_capture.to_str().unwrap(),
            not_capture.to_str().unwrap(),
        ),
        (
            "directory",
            dir.path().to_str().unwrap(),
            dir.path().to_str().unwrap(),
        ),
        ("empty device", "/dev/null", "/dev/null"),
        ("standard input that is no capture", "-", "standard input"),
    ];
    let report_path = dir.path().join("kept.html");
    let report_text = report_path.to_str().unwrap();
    for format in ["jsonl", "csv", "summary"] {
        for (what, input, named) in inputs {
            let output_path = dir.path().join(format!("kept.{format}"));
            std::fs::write(&output_path, earlier_records).unwrap();
            std::fs::write(&report_path, earlier_records).unwrap();
            let output_text = output_path.to_str().unwrap();
            let case = format!("{what}, --format {format}");
            let args = [
                "analyze",
                "--format",
                format,
                "-o",
                output_text,
                "--report",
                report_text,
                input,
            ];
            let output = exflow(&args, "C")
                .stdin(std::fs::File::open(&not_capture).unwrap())
                .output()
                .unwrap();
            assert_exit(&output, 2, &case);
            assert!(
                stderr(&output).contains(named),
                "{case}: {}",
                stderr(&output)
            );
            assert_eq!(
                std::fs::read(&output_path).unwrap(),
                earlier_records,
                "{case}"
            );
            assert_eq!(
                std::fs::read(&report_path).unwrap(),
                earlier_records,
                "{case}: report"
            );
        }
    }

    // One readable input among them replaces the file as before.
    let output_path = dir.path().join("replaced.jsonl");
    std::fs::write(&output_path, earlier_records).unwrap();
    let capture = repo_path("captures/exchange-edge.pcap");
    let output = run(
        &[
            "analyze",
            "-o",
            output_path.to_str().unwrap(),
            missing.to_str().unwrap(),
            &capture,
        ],
        "C",
    );
    assert_exit(&output, 2, "missing file and a capture");
    let written = std::fs::read_to_string(&output_path).unwrap();
    assert_eq!(written.lines().count(), 24, "{written}");
    assert!(!written.contains("earlier run"));
}

#[test]
fn fail_on_any_of_several_verdicts() {
    // Every flow of the clients capture is allowed under its site file; the
    // Edge capture has unexpected and out-of-scope flows.
    let clients = repo_path("captures/exchange-clients.pcapng");
    let clients_site = repo_path("captures/exchange-clients.site.toml");
    let edge = repo_path("captures/exchange-edge.pcap");
    let edge_site = repo_path("captures/exchange-edge.site.toml");

    // The run names the counts of the verdicts that matched.
    let matched = "exflow: flows that --fail-on matched:";
    let cases: [(&str, &str, &[&str], i32, &str); 5] = [
        (
            &clients,
            &clients_site,
            &["--fail-on=unexpected,out_of_scope"],
            0,
            "",
        ),
        (
            &clients,
            &clients_site,
            &["--fail-on", "unexpected", "--fail-on", "allowed"],
            1,
            " allowed: 12",
        ),
        (
            &edge,
            &edge_site,
            &["--fail-on", "out_of_scope"],
            1,
            " out_of_scope: 2",
        ),
        (
            &edge,
            &edge_site,
            &["--fail-on", "allowed,out_of_scope"],
            1,
            " allowed: 13, out_of_scope: 2",
        ),
        (&edge, &edge_site, &[], 0, ""),
    ];

    for (capture, site, fail_on, status, counts) in cases {
        let mut args = vec!["analyze", capture, "--site", site, "-o", "/dev/null"];
        args.extend_from_slice(fail_on);
        let output = run(&args, EN);
        assert_exit(&output, status, &format!("{fail_on:?} on {capture}"));
        let expected = match status {
            0 => String::new(),
            _ => format!("{matched}{counts}\n"),
        };
        assert_eq!(stderr(&output), expected, "{fail_on:?}");

        // -q leaves the status alone and prints nothing.
        args.push("-q");
        let output = run(&args, EN);
        assert_exit(&output, status, &format!("{fail_on:?} -q"));
        assert_eq!(stderr(&output), "", "{fail_on:?} -q");
    }

    let japanese = [
        "analyze",
        &edge,
        "--site",
        &edge_site,
        "--fail-on",
        "unexpected",
        "-o",
        "/dev/null",
    ];
    let output = run(&japanese, "ja_JP.UTF-8");
    assert_eq!(
        stderr(&output),
        "exflow: --fail-on に該当したフロー: unexpected: 9\n"
    );
}

/// With `--fail-on`, `--baseline` or `--report`, a reader that closes the
/// pipe does not end the run: the exit status, the comparison and the report
/// still cover every flow. Here the only unexpected flows are in the last
/// input, long after the pipe closed.
#[test]
fn closed_pipe_still_judges_every_flow() {
    let dir = tempfile::TempDir::new().unwrap();
    let many = many_flows_capture();
    let edge = repo_path("captures/exchange-edge.pcap");
    let site = repo_path("captures/exchange-edge.site.toml");
    let inputs = [
        "analyze",
        many.as_str(),
        edge.as_str(),
        "--site",
        site.as_str(),
    ];

    let mut args = inputs.to_vec();
    args.extend(["--fail-on", "unexpected"]);
    let output = run_to_closed_pipe(&args);
    assert_exit(&output, 1, "--fail-on");
    assert_eq!(
        stderr(&output),
        "exflow: flows that --fail-on matched: unexpected: 9\n",
        "--fail-on"
    );

    let baseline = dir.path().join("edge.jsonl");
    let baseline = baseline.to_str().unwrap();
    let written = run(&["analyze", &edge, "--site", &site, "-o", baseline], EN);
    assert_exit(&written, 0, "baseline run");
    let mut args = inputs.to_vec();
    args.extend(["--baseline", baseline]);
    let output = run_to_closed_pipe(&args);
    assert_exit(&output, 1, "--baseline");
    // The records went to the closed pipe, so the comparison is on standard
    // error, and it counts every flow of both inputs.
    let full = run(&args, EN);
    assert_exit(&full, 1, "--baseline without a pipe");
    assert_eq!(stderr(&output), stderr(&full));
    assert!(
        stderr(&output).contains(" added, 0 removed, 24 unchanged"),
        "{}",
        stderr(&output)
    );

    let report = dir.path().join("report.html");
    let report = report.to_str().unwrap();
    let mut args = inputs.to_vec();
    args.extend(["--report", report]);
    let output = run_to_closed_pipe(&args);
    assert_exit(&output, 0, "--report");
    let html = std::fs::read_to_string(report).unwrap();
    // The Edge server takes part only in flows of the last input.
    assert!(
        html.contains("172.16.50.5"),
        "the report lacks the last input"
    );
}
