//! `exflow live` on real interfaces: a veth pair in network namespaces that
//! each test makes (and deletes, even when it fails), real traffic across it,
//! and tcpdump on the same interface, whose capture `exflow analyze` must
//! turn into the same final records.
//!
//! Needs `--features live`, root, and `ip`, `tcpdump`, `tcpreplay`,
//! `python3` and `setpriv` on the PATH; without them each test prints why it
//! was skipped and passes. No namespace has a route out: the pairs only
//! reach each other.

#![cfg(feature = "live")]

#[path = "common/cli.rs"]
mod cli;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, User};
use serde_json::Value;

use cli::{exflow, records, repo_path, stderr};

const EXFLOW: &str = env!("CARGO_BIN_EXE_exflow");

/// Maximum wait for anything a test waits for; a slow CI machine gets there
/// in a fraction of it.
const PATIENCE: Duration = Duration::from_secs(30);

/// The tools a test runs; each must be on the PATH.
const TOOLS: [&str; 6] = [
    "ip",
    "tcpdump",
    "tcpreplay",
    "tcpprep",
    "python3",
    "setpriv",
];

/// Returns why the tests cannot run here, or `None` when they can.
fn skip_reason() -> Option<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Some("not running as root (network namespaces need it)".to_string());
    }
    for tool in TOOLS {
        let found = std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()));
        if !found {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

/// Returns early, with the reason printed, when the lab cannot be built.
macro_rules! require_lab {
    () => {
        if let Some(reason) = skip_reason() {
            eprintln!("skipped: {reason}");
            return;
        }
    };
}

/// Lines a child wrote, collected by a reader thread.
type Lines = Arc<Mutex<Vec<String>>>;

fn collect_lines(stream: impl Read + Send + 'static) -> Lines {
    let lines: Lines = Arc::default();
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

fn text_of(lines: &Lines) -> String {
    lines.lock().unwrap().join("\n")
}

/// Waits until `condition` holds, up to [`PATIENCE`]. Returns whether it did.
fn wait_until(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    condition()
}

/// A process the lab started, with its output collected.
struct Process {
    child: Child,
    stdout: Lines,
    stderr: Lines,
}

impl Process {
    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    fn signal(&self, signal: Signal) {
        kill(self.pid(), signal).expect("the process is ours and alive");
    }

    /// Waits for the process to exit, up to [`PATIENCE`].
    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "process {} did not exit; stderr:\n{}",
                self.child.id(),
                text_of(&self.stderr)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_for_stderr(&self, needle: &str) {
        let found = wait_until(|| text_of(&self.stderr).contains(needle));
        assert!(
            found,
            "never printed {needle:?}; stderr:\n{}",
            text_of(&self.stderr)
        );
    }

    fn wait_for_stdout(&self, needle: &str) {
        let found = wait_until(|| text_of(&self.stdout).contains(needle));
        assert!(
            found,
            "never printed {needle:?}; stdout:\n{}\nstderr:\n{}",
            text_of(&self.stdout),
            text_of(&self.stderr)
        );
    }
}

/// Network namespaces joined by a veth pair, the processes started in them and
/// a scratch directory. Dropping the lab kills the processes and deletes the
/// namespaces.
struct Lab {
    namespaces: Vec<String>,
    processes: Vec<Process>,
    dir: tempfile::TempDir,
}

impl Lab {
    fn empty(test: &str) -> Lab {
        // The system's temporary directory, not the target directory: the
        // tests that drop to the user nobody need every parent directory of
        // the output to be searchable, and a checkout may sit under a 0700
        // directory.
        let dir = tempfile::Builder::new()
            .prefix(&format!("exflow-live-{test}-"))
            .tempdir()
            .unwrap();
        Lab {
            namespaces: Vec::new(),
            processes: Vec::new(),
            dir,
        }
    }

    /// Adds a namespace with IPv6 off, so that no router solicitation or
    /// multicast report crosses the link while a test captures.
    fn add_namespace(&mut self, name: String) -> String {
        run(&["ip", "netns", "add", &name]);
        self.namespaces.push(name.clone());
        self.run_in(
            &name,
            &[
                "sysctl",
                "-q",
                "-w",
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ],
        );
        self.run_in(&name, &["ip", "link", "set", "lo", "up"]);
        name
    }

    /// One namespace holding both ends, `veth0` and `veth1`: frames sent on
    /// one end arrive on the other.
    fn single(test: &str) -> Lab {
        let mut lab = Lab::empty(test);
        let namespace = lab.add_namespace(format!("exflow-live-{}-{test}", std::process::id()));
        lab.add_veth_pair(&namespace, "veth0", "veth1");
        lab
    }

    /// Adds a veth pair with both ends up in `namespace`.
    fn add_veth_pair(&self, namespace: &str, first: &str, second: &str) {
        for command in [
            vec![
                "ip", "link", "add", first, "type", "veth", "peer", "name", second,
            ],
            vec!["ip", "link", "set", first, "up"],
            vec!["ip", "link", "set", second, "up"],
        ] {
            self.run_in(namespace, &command);
        }
    }

    /// Two namespaces: `veth0` with 10.20.0.100/24 (a workstation in the
    /// recordings' site file) in the first, `veth1` with 10.20.0.10/24 (the
    /// Client Access server) in the second. Only that subnet is routed.
    fn pair(test: &str) -> Lab {
        let mut lab = Lab::empty(test);
        let pid = std::process::id();
        let client = lab.add_namespace(format!("exflow-live-{pid}-{test}"));
        let server = lab.add_namespace(format!("exflow-live-{pid}-{test}-srv"));
        lab.run_in(
            &client,
            &[
                "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1",
            ],
        );
        lab.run_in(&client, &["ip", "link", "set", "veth1", "netns", &server]);
        for (namespace, device, address) in [
            (&client, "veth0", "10.20.0.100/24"),
            (&server, "veth1", "10.20.0.10/24"),
        ] {
            lab.run_in(namespace, &["ip", "addr", "add", address, "dev", device]);
            lab.run_in(namespace, &["ip", "link", "set", device, "up"]);
        }
        lab
    }

    fn namespace(&self, index: usize) -> &str {
        &self.namespaces[index]
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run_in(&self, namespace: &str, command: &[&str]) {
        let mut full = vec!["ip", "netns", "exec", namespace];
        full.extend_from_slice(command);
        run(&full);
    }

    /// Starts `command` in a namespace. `ip netns exec` execs the command, so
    /// the child's pid is the command's.
    fn spawn(&mut self, namespace: &str, command: &[&str]) -> usize {
        let mut child = Command::new("ip")
            .args(["netns", "exec", namespace])
            .args(command)
            .env("LANG", "C")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("failed to start {command:?}: {error}"));
        let stdout = collect_lines(child.stdout.take().unwrap());
        let stderr = collect_lines(child.stderr.take().unwrap());
        self.processes.push(Process {
            child,
            stdout,
            stderr,
        });
        self.processes.len() - 1
    }

    fn process(&mut self, index: usize) -> &mut Process {
        &mut self.processes[index]
    }

    /// Starts tcpdump writing nanosecond stamps to `pcap` and waits until it
    /// listens. Immediate mode, because without it tcpdump leaves the packets
    /// of the kernel's last partly filled block unwritten when it stops.
    fn start_tcpdump(&mut self, namespace: &str, interface: &str, pcap: &Path) -> usize {
        let pcap = pcap.to_str().unwrap().to_string();
        let index = self.spawn(
            namespace,
            &[
                "tcpdump",
                "-i",
                interface,
                "-Z",
                "root",
                "-U",
                "--immediate-mode",
                "--time-stamp-precision=nano",
                "-w",
                &pcap,
            ],
        );
        self.process(index).wait_for_stderr("listening on");
        index
    }

    /// Makes the kernel stamp each packet once, where it enters the stack, by
    /// holding a socket with SO_TIMESTAMP open (in `namespace`; the switch is
    /// global). Until some socket on the host requests time stamps, each
    /// capture socket reads the clock as the packet reaches it, so tcpdump's
    /// and exflow's stamps of one packet differ by some nanoseconds and, now
    /// and then, by a microsecond in the records.
    fn stamp_packets_once(&mut self, namespace: &str) {
        let index = self.spawn(
            namespace,
            &[
                "python3",
                "-u",
                "-c",
                "import socket, time\n\
                 holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
                 holder.setsockopt(socket.SOL_SOCKET, getattr(socket, 'SO_TIMESTAMP', 29), 1)\n\
                 print('stamping')\n\
                 time.sleep(600)\n",
            ],
        );
        self.process(index).wait_for_stdout("stamping");
        // The kernel turns the switch on from a work queue.
        std::thread::sleep(Duration::from_millis(200));
    }

    /// Starts `exflow live` with `args` and waits until it captures.
    fn start_exflow(&mut self, namespace: &str, args: &[&str]) -> usize {
        let mut command = vec![EXFLOW, "live"];
        command.extend_from_slice(args);
        let index = self.spawn(namespace, &command);
        self.process(index).wait_for_stderr("capturing on");
        index
    }
}

impl Lab {
    /// Sends the Edge recording out of `veth0` at four times its speed; it
    /// arrives on `veth1`.
    fn replay_edge_recording(&self, namespace: &str) {
        let recording = repo_path("captures/exchange-edge.pcap");
        self.run_in(
            namespace,
            &[
                "tcpreplay",
                "-q",
                "-i",
                "veth0",
                "--multiplier",
                "4",
                recording.to_str().unwrap(),
            ],
        );
    }
}

impl Lab {
    /// Starts an SMTP server on 10.20.0.10:587 in `namespace` (the second of
    /// [`Lab::pair`]) that greets one client and replies 250 to each line.
    fn start_submission_server(&mut self, namespace: &str) {
        let index = self.spawn(
            namespace,
            &[
                "python3",
                "-u",
                "-c",
                "import socket\n\
                 listener = socket.create_server(('10.20.0.10', 587))\n\
                 print('listening')\n\
                 connection, _ = listener.accept()\n\
                 connection.sendall(b'220 mail.example.com ESMTP\\r\\n')\n\
                 while data := connection.recv(4096):\n\
                 \x20   connection.sendall(b'250 mail.example.com\\r\\n')\n",
            ],
        );
        self.process(index).wait_for_stdout("listening");
    }

    /// Opens an SMTP session from `namespace` to the submission server, sends
    /// EHLO, reads the reply and keeps the session open for two minutes.
    fn open_idle_submission(&mut self, namespace: &str) {
        let index = self.spawn(
            namespace,
            &[
                "python3",
                "-u",
                "-c",
                "import socket, time\n\
                 session = socket.create_connection(('10.20.0.10', 587), timeout=10)\n\
                 session.recv(4096)\n\
                 session.sendall(b'EHLO ws1.corp.example.com\\r\\n')\n\
                 session.recv(4096)\n\
                 print('idle')\n\
                 time.sleep(120)\n",
            ],
        );
        self.process(index).wait_for_stdout("idle");
    }
}

/// exflow and tcpdump watching the same interface, and their outputs.
struct Watchers {
    exflow: usize,
    tcpdump: usize,
    /// exflow's records.
    output: PathBuf,
    /// tcpdump's capture.
    pcap: PathBuf,
}

impl Lab {
    /// Starts exflow (with the site file and `extra` arguments) and tcpdump on
    /// `interface`, with every packet stamped once by the kernel.
    fn watch(&mut self, namespace: &str, interface: &str, site: &Path, extra: &[&str]) -> Watchers {
        let output = self.path("live.jsonl");
        let pcap = self.path("tcpdump.pcap");
        self.stamp_packets_once(namespace);
        let mut args = vec![
            "-i",
            interface,
            "--site",
            site.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let exflow = self.start_exflow(namespace, &args);
        let tcpdump = self.start_tcpdump(namespace, interface, &pcap);
        Watchers {
            exflow,
            tcpdump,
            output,
            pcap,
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for process in &mut self.processes {
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
        for namespace in &self.namespaces {
            let _ = Command::new("ip")
                .args(["netns", "del", namespace])
                .status();
        }
    }
}

/// Runs a setup command and fails the test when it fails.
fn run(command: &[&str]) {
    let output = Command::new(command[0])
        .args(&command[1..])
        .output()
        .unwrap_or_else(|error| panic!("failed to run {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn read_records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect()
}

fn of_type<'a>(records: &'a [Value], record_type: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|record| record["record_type"] == record_type)
        .collect()
}

/// Returns a record without the fields a live run may derive differently
/// (`flow_id`, `source`) and without `record_type`.
fn comparable(record: &Value) -> Value {
    let mut record = record.clone();
    let object = record.as_object_mut().unwrap();
    for key in ["record_type", "flow_id", "source"] {
        object.remove(key);
    }
    record
}

/// Returns the records keyed by endpoints, for comparison.
fn by_flow<'a>(records: impl IntoIterator<Item = &'a Value>) -> BTreeMap<String, Value> {
    records
        .into_iter()
        .map(|record| {
            let key = format!(
                "{} {}:{} {}:{}",
                record["transport"].as_str().unwrap(),
                record["client"]["ip"].as_str().unwrap(),
                record["client"]["port"],
                record["server"]["ip"].as_str().unwrap(),
                record["server"]["port"],
            );
            (key, comparable(record))
        })
        .collect()
}

/// Runs `exflow analyze` on a capture and returns its records.
fn analyze(pcap: &Path, site: &Path) -> Vec<Value> {
    let output = exflow(&[
        "analyze",
        pcap.to_str().unwrap(),
        "--site",
        site.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    assert!(output.status.success(), "analyze: {}", stderr(&output));
    records(&output)
}

/// Largest difference accepted between tcpdump's and exflow's stamps of one
/// packet, with [`Stamps::Tolerant`].
const STAMP_TOLERANCE_MICROS: u64 = 1_000;

/// How closely the time fields of live and analyzed records must agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stamps {
    /// To the character, like every other field.
    Exact,
    /// Within [`STAMP_TOLERANCE_MICROS`] each (twice that for `duration`).
    /// Each capture socket reads the clock itself for a TCP packet that
    /// crossed from another namespace: such a packet carries the sender's
    /// departure time, which the kernel does not hand to capture sockets. The
    /// kernel delivers the packet to tcpdump's socket and to exflow's one
    /// after the other, so their stamps differ by the time between: under a
    /// microsecond on an idle machine, 14 µs seen under load.
    Tolerant,
}

/// Asserts that the final live records are the analyzed records.
fn assert_same_flows(live: &[Value], analyzed: &[Value], stamps: Stamps) {
    let live = by_flow(of_type(live, "flow"));
    let analyzed = by_flow(analyzed);
    assert_eq!(
        live.keys().collect::<Vec<_>>(),
        analyzed.keys().collect::<Vec<_>>(),
        "the live run and analyze found different flows"
    );
    for (key, record) in &live {
        let expected = &analyzed[key];
        if stamps == Stamps::Exact {
            let differences = differing_fields(record, expected);
            assert!(differences.is_empty(), "{key}: {differences:?}");
            continue;
        }
        for field in ["ts_start", "ts_end"] {
            let live_micros = micros(&record[field]);
            let analyzed_micros = micros(&expected[field]);
            assert!(
                live_micros.abs_diff(analyzed_micros) <= STAMP_TOLERANCE_MICROS,
                "{key}: {field} {} and {}",
                record[field],
                expected[field]
            );
        }
        let duration = |record: &Value| (record["duration"].as_f64().unwrap() * 1e6).round() as i64;
        assert!(
            duration(record).abs_diff(duration(expected)) <= 2 * STAMP_TOLERANCE_MICROS,
            "{key}: duration {} and {}",
            record["duration"],
            expected["duration"]
        );
        let without_time = |record: &Value| {
            let mut record = record.clone();
            let object = record.as_object_mut().unwrap();
            for field in ["ts_start", "ts_end", "duration"] {
                object.remove(field);
            }
            record
        };
        let differences = differing_fields(&without_time(record), &without_time(expected));
        assert!(differences.is_empty(), "{key}: {differences:?}");
    }
}

/// Returns the fields whose values differ, as `field: live != analyzed`.
fn differing_fields(live: &Value, analyzed: &Value) -> Vec<String> {
    let (Some(live), Some(analyzed)) = (live.as_object(), analyzed.as_object()) else {
        return vec![format!("{live} != {analyzed}")];
    };
    let mut fields: Vec<&String> = live.keys().chain(analyzed.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter(|field| live.get(*field) != analyzed.get(*field))
        .map(|field| {
            format!(
                "{field}: {} != {}",
                live.get(field).unwrap_or(&Value::Null),
                analyzed.get(field).unwrap_or(&Value::Null)
            )
        })
        .collect()
}

/// Returns the microseconds since the Unix epoch of an RFC 3339 UTC time
/// stamp of the form `2026-05-14T07:54:12.123456Z`.
fn micros(stamp: &Value) -> i64 {
    let text = stamp.as_str().unwrap();
    let number = |range: std::ops::Range<usize>| -> i64 { text[range].parse().unwrap() };
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let seconds = number(11..13) * 3600 + number(14..16) * 60 + number(17..19);
    // Days from the civil calendar (Howard Hinnant's days_from_civil).
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    (days * 86_400 + seconds) * 1_000_000 + number(20..26)
}

/// Stops tcpdump and asserts that it wrote every packet it received, so
/// that its capture is the traffic.
fn stop_tcpdump(tcpdump: &mut Process) {
    tcpdump.signal(Signal::SIGTERM);
    tcpdump.wait();
    tcpdump.wait_for_stderr("packets dropped by kernel");
    let text = text_of(&tcpdump.stderr);
    let count = |label: &str| -> u64 {
        text.lines()
            .find(|line| line.ends_with(label))
            .and_then(|line| line.split_whitespace().next())
            .and_then(|count| count.parse().ok())
            .unwrap_or_else(|| panic!("no {label:?} line:\n{text}"))
    };
    assert_eq!(count("packets dropped by kernel"), 0, "{text}");
    assert_eq!(
        count("packets captured"),
        count("packets received by filter"),
        "{text}"
    );
}

fn site(name: &str) -> PathBuf {
    repo_path(&format!("captures/{name}.site.toml"))
}

/// A replayed recording: every final record equals `analyze`'s record of
/// tcpdump's capture of the same replay. In immediate mode, which the other
/// tests leave off.
#[test]
fn replay_matches_tcpdump_capture() {
    require_lab!();
    let mut lab = Lab::single("replay");
    let namespace = lab.namespace(0).to_string();
    let site = site("exchange-edge");
    let Watchers {
        exflow: exflow_index,
        tcpdump,
        output,
        pcap,
    } = lab.watch(
        &namespace,
        "veth1",
        &site,
        &["--stats-interval", "1", "--immediate-mode"],
    );
    lab.replay_edge_recording(&namespace);

    // 9 of the recording's flows are unexpected: each alert comes while the
    // capture runs, before any signal.
    let alerted = wait_until(|| of_type(&read_records(&output), "alert").len() == 9);
    assert!(alerted, "{}", text_of(&lab.process(exflow_index).stderr));

    lab.process(exflow_index).signal(Signal::SIGTERM);
    let status = lab.process(exflow_index).wait();
    assert!(status.success(), "exflow exited with {status}");
    stop_tcpdump(lab.process(tcpdump));

    let live = read_records(&output);
    let analyzed = analyze(&pcap, &site);
    assert_eq!(analyzed.len(), 24, "flows in the replay");
    assert_same_flows(&live, &analyzed, Stamps::Exact);

    let unexpected = of_type(&live, "flow")
        .into_iter()
        .filter(|record| record["verdict"] == "unexpected")
        .count();
    assert_eq!(of_type(&live, "alert").len(), unexpected);
    let stats = of_type(&live, "stats");
    let last = stats.last().expect("a final stats record");
    assert_eq!(last["final"], true);
    assert_eq!(last["interfaces"][0]["name"], "veth1");
    assert_eq!(last["kernel_drops"], 0);
    assert_eq!(last["counters"]["flows"], 24);
    assert_eq!(last["counters"]["flows.unexpected"], 9);
    assert_eq!(last["records"]["alert"], 9);
    assert!(last["latency_ns"]["count"].as_u64().unwrap() >= 485);
    assert!(stats.iter().any(|record| record["final"] == false));
}

/// A network tap gives each direction of a link its own port: with one `-i`
/// per direction, each flow is still one flow. The replay sends every packet
/// of the recording once, in the recording's order, out of one of two veth
/// pairs (tcpprep splits them). The final records must be `analyze`'s records
/// of the recording, apart from the times, which the replay shifted.
#[test]
fn two_interfaces_join_directions() {
    require_lab!();
    let mut lab = Lab::single("tap");
    let namespace = lab.namespace(0).to_string();
    lab.add_veth_pair(&namespace, "veth2", "veth3");
    let output = lab.path("live.jsonl");
    let cache = lab.path("split.cache");
    let recording = repo_path("captures/exchange-edge.pcap");
    let site = site("exchange-edge");
    run(&[
        "tcpprep",
        "--auto=bridge",
        &format!("--pcap={}", recording.display()),
        &format!("--cachefile={}", cache.display()),
    ]);

    let exflow_index = lab.start_exflow(
        &namespace,
        &[
            "-i",
            "veth1",
            "-i",
            "veth3",
            "--site",
            site.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
        ],
    );
    lab.run_in(
        &namespace,
        &[
            "tcpreplay",
            "-q",
            "--cachefile",
            cache.to_str().unwrap(),
            "-i",
            "veth0",
            "-I",
            "veth2",
            "--multiplier",
            "4",
            recording.to_str().unwrap(),
        ],
    );
    lab.process(exflow_index).signal(Signal::SIGTERM);
    assert!(lab.process(exflow_index).wait().success());

    let live = read_records(&output);
    let without_time = |records: Vec<&Value>| -> BTreeMap<String, Value> {
        by_flow(records)
            .into_iter()
            .map(|(key, mut record)| {
                let object = record.as_object_mut().unwrap();
                for field in ["ts_start", "ts_end", "duration"] {
                    object.remove(field);
                }
                (key, record)
            })
            .collect()
    };
    let analyzed = analyze(&recording, &site);
    let live_flows = without_time(of_type(&live, "flow"));
    let analyzed_flows = without_time(analyzed.iter().collect());
    assert_eq!(
        live_flows.keys().collect::<Vec<_>>(),
        analyzed_flows.keys().collect::<Vec<_>>()
    );
    for (key, record) in &live_flows {
        let differences = differing_fields(record, &analyzed_flows[key]);
        assert!(differences.is_empty(), "{key}: {differences:?}");
    }
    let stats = of_type(&live, "stats");
    let interfaces = &stats.last().unwrap()["interfaces"];
    let received = |index: usize| interfaces[index]["received"].as_u64().unwrap();
    assert_eq!(received(0) + received(1), 485, "each packet once");
    assert!(received(0) > 0, "nothing on veth1");
    assert!(received(1) > 0, "nothing on veth3");
}

/// Real clients and servers: HTTP on 80 (allowed), HTTP on 8081 and a refused
/// connection to 3389 (both unexpected). Records come out on the quiet link
/// after the flows close, before any signal, and equal `analyze`'s records of
/// tcpdump's capture.
#[test]
fn client_server_matches_tcpdump_capture() {
    require_lab!();
    let mut lab = Lab::pair("http");
    let client = lab.namespace(0).to_string();
    let server = lab.namespace(1).to_string();
    let site = site("exchange-edge");
    let root = lab.path("www");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("index.html"), "<p>exflow live test</p>\n").unwrap();

    for port in ["80", "8081"] {
        let index = lab.spawn(
            &server,
            &[
                "python3",
                "-u",
                "-m",
                "http.server",
                port,
                "--bind",
                "10.20.0.10",
                "--directory",
                root.to_str().unwrap(),
            ],
        );
        lab.process(index).wait_for_stdout("Serving HTTP");
    }
    let Watchers {
        exflow: exflow_index,
        tcpdump,
        output,
        pcap,
    } = lab.watch(&client, "veth0", &site, &[]);

    for url in [
        "http://10.20.0.10/index.html",
        "http://10.20.0.10:8081/index.html",
    ] {
        let fetched = Command::new("ip")
            .args(["netns", "exec", &client, "python3", "-c"])
            .arg(format!(
                "import urllib.request; print(urllib.request.urlopen('{url}', timeout=10).read().decode())"
            ))
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&fetched.stdout).contains("exflow live test"),
            "{url}: {}",
            String::from_utf8_lossy(&fetched.stderr)
        );
    }
    let refused = Command::new("ip")
        .args(["netns", "exec", &client, "python3", "-c"])
        .arg("import socket\ntry:\n    socket.create_connection(('10.20.0.10', 3389), timeout=10)\nexcept ConnectionRefusedError:\n    print('refused')")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&refused.stdout).trim(), "refused");

    // The quiet-link clock ends the closed flows (2 s after their last
    // packet) with no further traffic.
    let ended = wait_until(|| of_type(&read_records(&output), "flow").len() == 3);
    assert!(ended, "{}", text_of(&lab.process(exflow_index).stderr));
    let live = read_records(&output);
    let alerts = of_type(&live, "alert");
    let alerted_ports: Vec<u64> = alerts
        .iter()
        .map(|alert| alert["server"]["port"].as_u64().unwrap())
        .collect();
    assert_eq!(alerted_ports, [8081, 3389]);
    assert_eq!(alerts[0]["app"], "http", "judged at the first payload");
    assert_eq!(alerts[0]["client"]["roles"][0], "internal");
    assert_eq!(alerts[0]["server"]["roles"][0], "client_access");
    assert_eq!(alerts[1]["conn_state"], "REJ");

    lab.process(exflow_index).signal(Signal::SIGINT);
    assert!(lab.process(exflow_index).wait().success());
    stop_tcpdump(lab.process(tcpdump));

    let live = read_records(&output);
    let analyzed = analyze(&pcap, &site);
    assert_eq!(analyzed.len(), 3);
    assert_same_flows(&live, &analyzed, Stamps::Tolerant);
    let allowed: Vec<&Value> = of_type(&live, "flow")
        .into_iter()
        .filter(|record| record["verdict"] == "allowed")
        .collect();
    assert_eq!(allowed.len(), 1);
    assert_eq!(allowed[0]["rule"], "client.http");
}

/// SIGTERM in the middle of an open TCP session: exflow exits 0 promptly,
/// writes the open flow as a record (as `analyze` writes a flow still open at
/// the end of a capture) and the final statistics. Before that, the open
/// session gets interim records.
#[test]
fn sigterm_flushes_open_flow() {
    require_lab!();
    let mut lab = Lab::pair("sigterm");
    let client = lab.namespace(0).to_string();
    let server = lab.namespace(1).to_string();
    let site = site("exchange-edge");

    lab.start_submission_server(&server);
    let Watchers {
        exflow: exflow_index,
        tcpdump,
        output,
        pcap,
    } = lab.watch(&client, "veth0", &site, &["--interim-interval", "1"]);
    lab.open_idle_submission(&client);
    // The session stays open: an interim record shows it after a second,
    // with the EHLO exchange in it.
    let interim = wait_until(|| {
        of_type(&read_records(&output), "interim")
            .iter()
            .any(|record| record["smtp"]["helo"] == "ws1.corp.example.com")
    });
    assert!(interim, "{}", text_of(&lab.process(exflow_index).stderr));

    let uid = process_uid(lab.process(exflow_index).pid());
    let nobody = User::from_name("nobody").unwrap().unwrap().uid.as_raw();
    assert_eq!(uid, [nobody; 4], "real, effective, saved and file uid");

    let signalled = Instant::now();
    lab.process(exflow_index).signal(Signal::SIGTERM);
    let status = lab.process(exflow_index).wait();
    let took = signalled.elapsed();
    assert!(status.success(), "exflow exited with {status}");
    assert!(took < Duration::from_secs(5), "stopping took {took:?}");
    stop_tcpdump(lab.process(tcpdump));

    let live = read_records(&output);
    let flows = of_type(&live, "flow");
    assert_eq!(flows.len(), 1, "{live:?}");
    assert_eq!(flows[0]["conn_state"], "open");
    assert_eq!(flows[0]["app"], "smtp");
    assert_eq!(flows[0]["smtp"]["helo"], "ws1.corp.example.com");
    assert_eq!(flows[0]["server"]["port"], 587);
    assert_eq!(flows[0]["rule"], "client.submission");
    let last = live.last().unwrap();
    assert_eq!(last["record_type"], "stats");
    assert_eq!(last["final"], true);
    assert_eq!(last["active_flows"], 0);
    assert_eq!(last["records"]["flow"], 1);
    let stderr = text_of(&lab.process(exflow_index).stderr);
    assert!(stderr.contains("final stats"), "{stderr}");

    assert_same_flows(&live, &analyze(&pcap, &site), Stamps::Tolerant);
}

/// Returns the four user ids of /proc/PID/status: real, effective, saved
/// and file system.
fn process_uid(pid: Pid) -> [u32; 4] {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("Uid:"))
        .expect("a Uid line");
    let ids: Vec<u32> = line
        .split_whitespace()
        .skip(1)
        .map(|id| id.parse().unwrap())
        .collect();
    ids.try_into().unwrap()
}

/// Started as root with `--user`, exflow runs as that user once it captures.
#[test]
fn root_drops_to_named_user() {
    require_lab!();
    let mut lab = Lab::single("user");
    let namespace = lab.namespace(0).to_string();
    let Ok(Some(daemon)) = User::from_name("daemon") else {
        eprintln!("skipped: no user named daemon");
        return;
    };
    let index = lab.start_exflow(&namespace, &["-i", "veth1", "--user", "daemon"]);
    assert_eq!(
        process_uid(lab.process(index).pid()),
        [daemon.uid.as_raw(); 4]
    );
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", lab.process(index).pid())).unwrap();
    let groups = status
        .lines()
        .find(|line| line.starts_with("Groups:"))
        .unwrap();
    assert_eq!(
        groups.split_whitespace().skip(1).collect::<Vec<_>>(),
        [daemon.gid.as_raw().to_string()]
    );
    assert!(text_of(&lab.process(index).stderr).contains("running as daemon"));
}

/// Runs exflow as `nobody` through setpriv, with CAP_NET_RAW as an ambient
/// capability or with no capability at all.
fn spawn_as_nobody(lab: &mut Lab, namespace: &str, with_cap: bool, args: &[&str]) -> usize {
    let mut command = vec![
        "setpriv",
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
    ];
    if with_cap {
        command.extend(["--inh-caps=+net_raw", "--ambient-caps=+net_raw"]);
    } else {
        command.extend(["--inh-caps=-all", "--bounding-set=-all"]);
    }
    command.extend([EXFLOW, "live"]);
    command.extend_from_slice(args);
    lab.spawn(namespace, &command)
}

/// CAP_NET_RAW is enough: no root, no user switch, packets captured.
#[test]
fn cap_net_raw_captures_without_root() {
    require_lab!();
    let mut lab = Lab::single("capraw");
    let namespace = lab.namespace(0).to_string();
    let output = lab.path("live.jsonl");
    // The user nobody writes the output.
    std::fs::set_permissions(
        lab.path(""),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let index = spawn_as_nobody(
        &mut lab,
        &namespace,
        true,
        &["-i", "veth1", "-o", output.to_str().unwrap()],
    );
    lab.process(index).wait_for_stderr("running as nobody");
    lab.replay_edge_recording(&namespace);
    lab.process(index).signal(Signal::SIGTERM);
    assert!(lab.process(index).wait().success());
    let live = read_records(&output);
    assert_eq!(of_type(&live, "flow").len(), 24);
    let stderr = text_of(&lab.process(index).stderr);
    assert!(!stderr.contains("ignored"), "{stderr}");
}

/// Without root or CAP_NET_RAW the error names the interface and the fix.
#[test]
fn missing_permission_is_named() {
    require_lab!();
    let mut lab = Lab::single("noperm");
    let namespace = lab.namespace(0).to_string();
    let index = spawn_as_nobody(&mut lab, &namespace, false, &["-i", "veth1"]);
    let status = lab.process(index).wait();
    assert_eq!(status.code(), Some(2));
    let stderr = text_of(&lab.process(index).stderr);
    assert!(
        stderr.contains("no permission to capture on veth1"),
        "{stderr}"
    );
    assert!(stderr.contains("CAP_NET_RAW"), "{stderr}");
}

/// A filter libpcap cannot compile fails before capture, naming the filter
/// and the interface.
#[test]
fn invalid_filter_is_named() {
    require_lab!();
    let mut lab = Lab::single("filter");
    let namespace = lab.namespace(0).to_string();
    let index = lab.spawn(
        &namespace,
        &[EXFLOW, "live", "-i", "veth1", "--filter", "tcp port smtpx"],
    );
    let status = lab.process(index).wait();
    assert_eq!(status.code(), Some(2));
    let stderr = text_of(&lab.process(index).stderr);
    assert!(
        stderr.contains("invalid capture filter \"tcp port smtpx\" on veth1"),
        "{stderr}"
    );
}

/// SIGHUP reopens the output file by name, as logrotate needs: records after
/// the signal go to the new file. exflow runs as `nobody` by then, so the
/// directory must let `nobody` create the file; until it does, records keep
/// going to the old file.
#[test]
fn sighup_reopens_output() {
    require_lab!();
    let mut lab = Lab::single("sighup");
    let namespace = lab.namespace(0).to_string();
    let output = lab.path("live.jsonl");
    let rotated = lab.path("live.jsonl.1");
    let index = lab.start_exflow(
        &namespace,
        &[
            "-i",
            "veth1",
            "-o",
            output.to_str().unwrap(),
            "--stats-interval",
            "1",
        ],
    );
    assert!(wait_until(
        || !of_type(&read_records(&output), "stats").is_empty()
    ));
    std::fs::rename(&output, &rotated).unwrap();

    // The scratch directory is root's, mode 0700, so the user nobody cannot
    // create a file in it.
    lab.process(index).signal(Signal::SIGHUP);
    lab.process(index).wait_for_stderr("cannot reopen");
    let stats_before = of_type(&read_records(&rotated), "stats").len();
    assert!(wait_until(|| of_type(&read_records(&rotated), "stats")
        .len()
        > stats_before));
    assert!(!output.exists());

    std::fs::set_permissions(
        lab.path(""),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    lab.process(index).signal(Signal::SIGHUP);
    lab.process(index).wait_for_stderr("reopened");
    assert!(wait_until(
        || !of_type(&read_records(&output), "stats").is_empty()
    ));
    lab.process(index).signal(Signal::SIGTERM);
    assert!(lab.process(index).wait().success());

    let before = read_records(&rotated);
    let after = read_records(&output);
    assert!(before.iter().all(|record| record["final"] == false));
    assert_eq!(after.last().unwrap()["final"], true);
}

/// An interface that disappears ends the run with status 2, its name in the
/// error, after every flow was written.
#[test]
fn interface_removed_ends_with_error() {
    require_lab!();
    let mut lab = Lab::single("gone");
    let namespace = lab.namespace(0).to_string();
    let output = lab.path("live.jsonl");
    let index = lab.start_exflow(
        &namespace,
        &[
            "-i",
            "veth1",
            "-o",
            output.to_str().unwrap(),
            "--stats-interval",
            "1",
        ],
    );
    lab.replay_edge_recording(&namespace);
    // Every packet of the replay read (485 in the recording) before the
    // interface goes.
    let read = wait_until(|| {
        of_type(&read_records(&output), "stats")
            .last()
            .is_some_and(|stats| stats["packets"] == 485)
    });
    assert!(read, "{}", text_of(&lab.process(index).stderr));
    lab.run_in(&namespace, &["ip", "link", "del", "veth0"]);

    let status = lab.process(index).wait();
    assert_eq!(status.code(), Some(2));
    let stderr = text_of(&lab.process(index).stderr);
    assert!(stderr.contains("reading from veth1 failed"), "{stderr}");
    let live = read_records(&output);
    assert_eq!(of_type(&live, "flow").len(), 24);
    assert_eq!(live.last().unwrap()["final"], true);
}

/// Runs `exflow discover` on the Edge recording in `lang` and returns the
/// site file it proposes.
fn discover_recording(lab: &Lab, lang: &str) -> PathBuf {
    let path = lab.path(&format!("offline.{lang}.toml"));
    let recording = repo_path("captures/exchange-edge.pcap");
    let output = exflow(&[
        "discover",
        recording.to_str().unwrap(),
        "-o",
        path.to_str().unwrap(),
        "--lang",
        lang,
    ]);
    assert!(output.status.success(), "discover: {}", stderr(&output));
    path
}

/// Returns a site file without what depends on where and when the traffic
/// was read: the header line naming the inputs, and the capture times. Each
/// time becomes a placeholder of the same width, so the comments wrap as
/// before.
fn without_source_and_times(text: &str, source: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|line| !line.contains(source)).collect();
    let mut text = lines.join("\n");
    // Capture times are written to the second: 2026-12-04T22:03:22Z.
    let shape = "dddd-dd-ddTdd:dd:ddZ";
    let mut start = 0;
    while let Some(found) = text[start..].find('T') {
        let at = start + found;
        start = at + 1;
        let Some(candidate) = at
            .checked_sub(10)
            .and_then(|from| text.get(from..from + shape.len()))
        else {
            continue;
        };
        let fits = candidate.chars().zip(shape.chars()).all(|(c, s)| match s {
            'd' => c.is_ascii_digit(),
            other => c == other,
        });
        if fits {
            let from = at - 10;
            text.replace_range(from..from + shape.len(), "<capture time......>");
        }
    }
    text
}

/// Asserts that the site file `live` proposes what `exflow discover`
/// proposed in `offline` for the recording, down to the evidence and the
/// confidences, and that `rules check` and `analyze --site` accept it.
fn assert_same_site(live: &Path, offline: &Path) {
    let live_text = std::fs::read_to_string(live).expect("the live run wrote no site file");
    let offline_text = std::fs::read_to_string(offline).unwrap();
    assert!(
        offline_text.contains("edge_transport = true"),
        "the recording shows an Edge Transport server:\n{offline_text}"
    );

    // By meaning: roles per address, topology, features and networks.
    let diff = exflow(&[
        "rules",
        "diff",
        offline.to_str().unwrap(),
        live.to_str().unwrap(),
    ]);
    assert_eq!(
        diff.status.code(),
        Some(0),
        "the site files differ:\n{}{}",
        String::from_utf8_lossy(&diff.stdout),
        stderr(&diff)
    );
    // By text: the same evidence, flow counts and confidences.
    assert_eq!(
        without_source_and_times(&live_text, "veth1"),
        without_source_and_times(&offline_text, "exchange-edge.pcap"),
    );

    let check = exflow(&["rules", "check", "--site", live.to_str().unwrap()]);
    assert!(check.status.success(), "rules check: {}", stderr(&check));
    let analyzed = analyze(&repo_path("captures/exchange-edge.pcap"), live);
    assert_eq!(analyzed.len(), 24, "flows in the recording");
    let edge_to_mailbox = analyzed.iter().any(|record| {
        record["client"]["roles"] == serde_json::json!(["edge_transport"])
            && record["server"]["roles"] == serde_json::json!(["mailbox"])
            && record["verdict"] == "allowed"
    });
    assert!(
        edge_to_mailbox,
        "no allowed Edge to Mailbox flow: {analyzed:?}"
    );
}

/// `--discover --window`: the run ends by itself when the window ends and
/// proposes, from a replay of the Edge recording, the site file `exflow
/// discover` proposes for the recording.
#[test]
fn discover_window_matches_offline() {
    require_lab!();
    let mut lab = Lab::single("discwin");
    let namespace = lab.namespace(0).to_string();
    let output = lab.path("live.toml");
    let window = Duration::from_secs(6);
    let index = lab.start_exflow(
        &namespace,
        &[
            "-i",
            "veth1",
            "--discover",
            "--window",
            "6s",
            "-o",
            output.to_str().unwrap(),
        ],
    );
    let started = Instant::now();
    lab.replay_edge_recording(&namespace);
    assert!(
        started.elapsed() < window,
        "the replay outlasted the window; lengthen it"
    );

    let status = lab.process(index).wait();
    let took = started.elapsed();
    assert!(status.success(), "exflow exited with {status}");
    // The window starts as the capture starts, just after the start message.
    assert!(
        took >= window - Duration::from_millis(500),
        "ended after {took:?}"
    );
    let messages = text_of(&lab.process(index).stderr);
    assert!(messages.contains("site discovery over 6s"), "{messages}");
    assert!(messages.contains("the window of 6s ended"), "{messages}");
    assert!(
        messages.contains("veth1: packets received 485, dropped by the kernel 0"),
        "{messages}"
    );
    assert!(
        messages.contains("proposed role assignments: 6, for hosts: 6, from flows: 24"),
        "{messages}"
    );

    let offline = discover_recording(&lab, "en");
    assert_same_site(&output, &offline);
}

/// SIGINT long before the window ends stops the capture and still writes
/// the site file, with the flows still open counted, here in Japanese.
#[test]
fn discover_sigint_writes_site() {
    require_lab!();
    let mut lab = Lab::single("discint");
    let namespace = lab.namespace(0).to_string();
    let output = lab.path("live.toml");
    let index = lab.spawn(
        &namespace,
        &[
            EXFLOW,
            "live",
            "-i",
            "veth1",
            "--discover",
            "--window",
            "1h",
            "-o",
            output.to_str().unwrap(),
            "--lang",
            "ja",
        ],
    );
    lab.process(index)
        .wait_for_stderr("でサイト検出のためにキャプチャ中です。1h 経過するか");
    lab.replay_edge_recording(&namespace);

    let signalled = Instant::now();
    lab.process(index).signal(Signal::SIGINT);
    let status = lab.process(index).wait();
    let took = signalled.elapsed();
    assert!(status.success(), "exflow exited with {status}");
    assert!(took < Duration::from_secs(5), "stopping took {took:?}");
    let messages = text_of(&lab.process(index).stderr);
    assert!(
        messages.contains("停止中: 開いているフローも含め、観測したフローから役割を推定しています"),
        "{messages}"
    );
    assert!(
        messages.contains("フロー 24 件からホスト 6 台に役割 6 件を提案しました"),
        "{messages}"
    );

    let offline = discover_recording(&lab, "ja");
    assert_same_site(&output, &offline);
    let live_text = std::fs::read_to_string(&output).unwrap();
    assert!(
        live_text.contains("ライブ インターフェイス veth1"),
        "{live_text}"
    );
}

/// A flow still open when SIGTERM arrives counts: an SMTP submission session
/// that never ends is the only evidence the site file lists.
#[test]
fn discover_counts_open_flows() {
    require_lab!();
    let mut lab = Lab::pair("discopen");
    let client = lab.namespace(0).to_string();
    let server = lab.namespace(1).to_string();
    let output = lab.path("live.toml");

    lab.start_submission_server(&server);
    let index = lab.start_exflow(
        &client,
        &["-i", "veth0", "--discover", "-o", output.to_str().unwrap()],
    );
    lab.open_idle_submission(&client);

    lab.process(index).signal(Signal::SIGTERM);
    let status = lab.process(index).wait();
    assert!(status.success(), "exflow exited with {status}");
    let messages = text_of(&lab.process(index).stderr);
    assert!(
        messages.contains("stopping: inferring the roles"),
        "{messages}"
    );
    assert!(
        messages.contains(
            "no Client Access, Mailbox or Edge Transport server found in the flows read (1)"
        ),
        "{messages}"
    );

    let text = std::fs::read_to_string(&output).unwrap();
    assert!(text.contains("Read from: live interface veth0"), "{text}");
    assert!(
        text.contains("# Flows: 1, 1 of them with a reply"),
        "{text}"
    );
    let candidate = text
        .lines()
        .skip_while(|line| !line.contains("10.20.0.10"))
        .take(4)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        candidate.contains("tcp/587 smtp; flows: 1; peers: 1"),
        "{text}"
    );
    let check = exflow(&["rules", "check", "--site", output.to_str().unwrap()]);
    assert!(check.status.success(), "rules check: {}", stderr(&check));
}

/// The options of `--discover` need it, and a window that is no duration is
/// named with the fix, before any interface is opened.
#[test]
fn discover_options_are_checked() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["-i", "lo", "--window", "5m"],
            "the following required arguments were not provided:\n  --discover",
        ),
        (
            &["-i", "lo", "--discover", "--site", "site.toml"],
            "'--discover' cannot be used with '--site <FILE>'",
        ),
        (
            &["-i", "exflow-none0", "--discover", "--window", "1h30m"],
            "invalid window `1h30m` for --window; write a whole number",
        ),
        (
            &[
                "-i",
                "exflow-none0",
                "--discover",
                "--window",
                "0",
                "--lang",
                "ja",
            ],
            "--window の期間 `0` が正しくありません",
        ),
        (
            &["-i", "exflow-none0", "--discover", "--window", "5m"],
            "interface exflow-none0 not found",
        ),
    ];
    for (args, expected) in cases {
        let mut command = vec!["live"];
        command.extend_from_slice(args);
        let output = exflow(&command);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

/// A missing interface is named, with no privileges needed to find out.
#[test]
fn missing_interface_is_named() {
    let output = exflow(&["live", "-i", "exflow-none0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("interface exflow-none0 not found"),
        "{}",
        stderr(&output)
    );
    // In Japanese too, as every error message.
    let output = exflow(&["live", "--lang", "ja", "-i", "exflow-none0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("インターフェイス exflow-none0 が見つかりません"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn summary_format_is_rejected() {
    let output = exflow(&["live", "-i", "lo", "--format", "summary"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--format summary is not available"));
}

#[test]
fn stamp_micros_match_calendar() {
    // Python: datetime(2026, 12, 4, 23, 11, 4, 588640, tzinfo=timezone.utc).
    let stamp = Value::from("2026-12-04T23:11:04.588640Z");
    assert_eq!(micros(&stamp), 1_796_425_864_588_640);
    assert_eq!(micros(&Value::from("1970-01-01T00:00:00.000001Z")), 1);
    assert_eq!(
        micros(&Value::from("2000-03-01T00:00:00.000000Z")),
        951_868_800_000_000
    );
}
