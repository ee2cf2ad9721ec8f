#![no_main]

use exflow::fingerprint::{App, tls::TlsParser};

libfuzzer_sys::fuzz_target!(|data: &[u8]| exflow_fuzz::fingerprint::<TlsParser>(App::Tls, data));
