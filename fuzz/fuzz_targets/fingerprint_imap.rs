#![no_main]

use exflow::fingerprint::{App, imap::ImapParser};

libfuzzer_sys::fuzz_target!(|data: &[u8]| exflow_fuzz::fingerprint::<ImapParser>(App::Imap, data));
