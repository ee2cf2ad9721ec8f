#![no_main]

use exflow::fingerprint::{App, ssh::SshParser};

libfuzzer_sys::fuzz_target!(|data: &[u8]| exflow_fuzz::fingerprint::<SshParser>(App::Ssh, data));
