#![no_main]

use exflow::fingerprint::{App, smtp::SmtpParser};

libfuzzer_sys::fuzz_target!(|data: &[u8]| exflow_fuzz::fingerprint::<SmtpParser>(App::Smtp, data));
