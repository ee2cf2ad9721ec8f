#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| exflow_fuzz::decode(data));
