#![no_main]

use exflow::fingerprint::{App, pop3::Pop3Parser};

libfuzzer_sys::fuzz_target!(|data: &[u8]| exflow_fuzz::fingerprint::<Pop3Parser>(App::Pop3, data));
