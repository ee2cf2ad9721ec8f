#![no_main]

use exflow::fingerprint::{App, ldap::LdapParser};

libfuzzer_sys::fuzz_target!(|data: &[u8]| exflow_fuzz::fingerprint::<LdapParser>(App::Ldap, data));
