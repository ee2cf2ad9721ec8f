#![no_main]

use exflow::fingerprint::{App, http::HttpParser};

libfuzzer_sys::fuzz_target!(|data: &[u8]| exflow_fuzz::fingerprint::<HttpParser>(App::Http, data));
