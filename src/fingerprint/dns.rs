// PLACEHOLDER: replaced by the fp-binary branch
//! DNS probes and parser (placeholder signatures only).

use super::{AppInfo, ProbeResult, Progress, StreamParser};

pub fn probe_datagram(_bytes: &[u8]) -> ProbeResult {
    ProbeResult::NOT_MINE
}

pub fn probe_stream(_bytes: &[u8]) -> ProbeResult {
    ProbeResult::NOT_MINE
}

#[derive(Default)]
pub struct DnsParser {
    _placeholder: (),
}

impl DnsParser {
    pub fn on_datagram(
        &mut self,
        _payload: &[u8],
        _from_server: bool,
        _info: &mut AppInfo,
    ) -> Progress {
        Progress::NeedMore
    }
}

impl StreamParser for DnsParser {
    fn on_stream(&mut self, _client: &[u8], _server: &[u8], _info: &mut AppInfo) -> Progress {
        Progress::NeedMore
    }
}
