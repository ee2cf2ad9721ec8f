// PLACEHOLDER: replaced by the fp-binary branch
//! LDAP probe and parser (placeholder signatures only).

use super::{AppInfo, ProbeResult, Progress, StreamParser};

pub fn probe(_bytes: &[u8]) -> ProbeResult {
    ProbeResult::NOT_MINE
}

#[derive(Default)]
pub struct LdapParser {
    _placeholder: (),
}

impl StreamParser for LdapParser {
    fn on_stream(&mut self, _client: &[u8], _server: &[u8], _info: &mut AppInfo) -> Progress {
        Progress::NeedMore
    }
}
