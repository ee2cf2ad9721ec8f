//! Text protocol probes, parsers and the dissector over sessions recorded from
//! real servers and clients (tests/fixtures/fingerprint, see its README).

mod fingerprint_text_support;

use exflow::decode::Transport;
use exflow::fingerprint::{
    self, App, AppEvidence, AppInfo, Dissector, ExchangeService, PROBE_ORDER, ProbeAnswer,
    Progress, Side, StreamParser, WireText, http, imap, pop3, smtp, ssh,
};
use fingerprint_text_support::{Session, load, load_all, replay, replay_bytewise, replay_sides};

const TEXT_PROTOCOLS: [(&str, App); 5] = [
    ("smtp", App::Smtp),
    ("imap", App::Imap),
    ("pop3", App::Pop3),
    ("http", App::Http),
    ("ssh", App::Ssh),
];

fn text(field: &Option<WireText>) -> &str {
    std::str::from_utf8(field.as_deref().expect("field is set")).expect("field is UTF-8")
}

fn first_line(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .position(|&byte| byte == b'\n')
        .expect("has a line");
    &bytes[..=end]
}

/// A line longer than `max_len` with no line ending, made of the real first
/// line of `bytes` (without its CR LF) repeated.
fn overlong_line(bytes: &[u8], max_len: usize) -> Vec<u8> {
    let line = first_line(bytes);
    let body = &line[..line.len() - 2];
    body.repeat(max_len / body.len() + 2)
}

// --- probes on every recorded side ---------------------------------------------

#[test]
fn own_probe_certain_on_both_sides() {
    for (proto, app) in TEXT_PROTOCOLS {
        for session in load_all(proto) {
            for (side, bytes) in [("client", &session.client), ("server", &session.server)] {
                let result = fingerprint::probe_stream(app, bytes);
                assert_eq!(
                    result.answer,
                    ProbeAnswer::Certain,
                    "{} {side}: {:?}",
                    session.name,
                    result
                );
            }
        }
    }
}

#[test]
fn probes_tell_the_sender() {
    for (proto, app) in TEXT_PROTOCOLS {
        let expected = |is_server: bool| {
            if app == App::Ssh {
                None
            } else {
                Some(is_server)
            }
        };
        for session in load_all(proto) {
            let client = fingerprint::probe_stream(app, &session.client);
            let server = fingerprint::probe_stream(app, &session.server);
            assert_eq!(
                client.sender_is_server,
                expected(false),
                "{} client",
                session.name
            );
            assert_eq!(
                server.sender_is_server,
                expected(true),
                "{} server",
                session.name
            );
        }
    }
}

#[test]
fn other_probes_not_mine_to_fixtures() {
    for (proto, app) in TEXT_PROTOCOLS {
        for session in load_all(proto) {
            for (side, bytes) in [("client", &session.client), ("server", &session.server)] {
                for other in PROBE_ORDER.into_iter().filter(|&other| other != app) {
                    let result = fingerprint::probe_stream(other, bytes);
                    assert_eq!(
                        result.answer,
                        ProbeAnswer::NotMine,
                        "{} {side} probed as {other:?}",
                        session.name
                    );
                }
            }
        }
    }
}

#[test]
fn truncated_first_lines_unsure() {
    for (proto, app) in TEXT_PROTOCOLS {
        // The h2c preface and SETTINGS frame are no lines; see
        // http2_prior_knowledge_is_http.
        for session in load_all(proto)
            .into_iter()
            .filter(|session| !session.name.contains("h2c"))
        {
            for (side, bytes) in [("client", &session.client), ("server", &session.server)] {
                let line = first_line(bytes);
                // Every cut before the LF, the one after the CR included.
                for cut in 1..line.len() {
                    let result = fingerprint::probe_stream(app, &bytes[..cut]);
                    assert_eq!(
                        result.answer,
                        ProbeAnswer::Unsure,
                        "{} {side} cut at {cut}: {:?}",
                        session.name,
                        String::from_utf8_lossy(&bytes[..cut])
                    );
                }
            }
        }
    }
}

#[test]
fn truncated_greeting_needs_more() {
    let session = load("smtp", "auth-plain");
    let greeting = first_line(&session.server);
    let cut = &greeting[..greeting.len() / 2];

    assert_eq!(smtp::probe(cut).answer, ProbeAnswer::Unsure);
    assert!(matches!(
        smtp::parse_smtp_reply_line(cut),
        Err(nom::Err::Incomplete(_))
    ));
    let mut dissector = Dissector::new(Transport::Tcp, [40000, 25], Some(Side::Originator));
    assert_eq!(dissector.on_stream(&[], cut), Progress::NeedMore);
    // Once the server's side has a gap, nothing can make SMTP certain.
    dissector.on_gap(Side::Responder);
    dissector.on_gap(Side::Originator);
    assert_eq!(dissector.on_stream(&[], cut), Progress::Done);
    assert_eq!(dissector.finish().app, App::Unknown);
}

/// Protocol, session, server side, line limit and probe.
type OverlongCase = (
    &'static str,
    &'static str,
    bool,
    usize,
    fn(&[u8]) -> fingerprint::ProbeResult,
);

#[test]
fn overlong_lines_not_mine() {
    let cases: [OverlongCase; 6] = [
        (
            "smtp",
            "auth-plain",
            false,
            smtp::MAX_SMTP_LINE_LEN,
            smtp::probe,
        ),
        (
            "smtp",
            "auth-plain",
            true,
            smtp::MAX_SMTP_LINE_LEN,
            smtp::probe,
        ),
        ("imap", "login", false, imap::MAX_IMAP_LINE_LEN, imap::probe),
        (
            "pop3",
            "user-pass",
            true,
            pop3::MAX_POP3_LINE_LEN,
            pop3::probe,
        ),
        (
            "http",
            "owa-get",
            false,
            http::MAX_HTTP_LINE_LEN,
            http::probe,
        ),
        ("ssh", "openssh", true, ssh::MAX_SSH_IDENT_LEN, ssh::probe),
    ];
    for (proto, name, server, max_len, probe) in cases {
        let session = load(proto, name);
        let bytes = if server {
            &session.server
        } else {
            &session.client
        };
        let long = overlong_line(bytes, max_len);
        assert!(long.len() > max_len);
        assert_eq!(probe(&long).answer, ProbeAnswer::NotMine, "{proto}/{name}");
    }
    let session = load("smtp", "auth-plain");
    let long = overlong_line(&session.server, smtp::MAX_SMTP_LINE_LEN);
    assert!(matches!(
        smtp::parse_smtp_reply_line(&long),
        Err(nom::Err::Error(_))
    ));
}

#[test]
fn split_ehlo_unsure_until_line_ends() {
    let session = load("smtp", "split-ehlo");
    let mut length = 0;
    let mut answers = Vec::new();
    for &(from_client, size) in &session.segments {
        if from_client {
            length += size;
            answers.push(smtp::probe(&session.client[..length]).answer);
        }
    }
    // The capture split `EHLO client.exflow.test` after "EH" and after
    // "EHLO client.exflow".
    assert_eq!(
        answers,
        [
            ProbeAnswer::Unsure,
            ProbeAnswer::Unsure,
            ProbeAnswer::Certain,
            ProbeAnswer::Certain
        ]
    );
}

#[test]
fn split_request_line_unsure_until_version() {
    let session = load("http", "split-request-line");
    let mut length = 0;
    let mut answers = Vec::new();
    for &(from_client, size) in session.segments.iter().filter(|(client, _)| *client) {
        assert!(from_client);
        length += size;
        answers.push(http::probe(&session.client[..length]).answer);
    }
    assert_eq!(
        answers,
        [
            ProbeAnswer::Unsure,
            ProbeAnswer::Unsure,
            ProbeAnswer::Certain,
            ProbeAnswer::Certain
        ]
    );
}

// --- SMTP sessions ----------------------------------------------------------------

fn smtp_info(info: &AppInfo) -> &fingerprint::SmtpInfo {
    info.smtp.as_deref().expect("smtp fields")
}

#[test]
fn smtp_auth_plain_session() {
    let session = load("smtp", "auth-plain");
    let replay = replay(&session, false, Some(Side::Originator));
    let info = &replay.info;
    let smtp = smtp_info(info);

    assert_eq!(info.app, App::Smtp);
    assert_eq!(info.evidence, AppEvidence::Both);
    assert_eq!(info.server_side, Some(Side::Responder));
    assert_eq!(text(&smtp.helo), "client.exflow.test");
    assert_eq!(text(&smtp.auth_attempted), "PLAIN");
    let offered: Vec<&[u8]> = smtp
        .auth_offered
        .iter()
        .map(|mechanism| &mechanism[..])
        .collect();
    assert_eq!(offered, [&b"PLAIN"[..], &b"LOGIN"[..]]);
    assert!(info.cleartext_auth);
    assert!(info.upgrade.offered);
    assert!(!info.upgrade.requested);
    assert!(!smtp.anonymous_tls);
}

#[test]
fn smtp_done_after_data_reply() {
    for name in ["auth-plain", "auth-login", "pipelining"] {
        let session = load("smtp", name);
        let replay = replay(&session, false, None);
        let done_after = replay.done_after.expect("dissector finished");
        // Done once the server's 354 arrived, before the message and QUIT.
        let server_bytes: usize = session.segments[..done_after]
            .iter()
            .filter(|(from_client, _)| !from_client)
            .map(|(_, size)| size)
            .sum();
        assert!(
            session.server[..server_bytes].ends_with(b"354 End data with <CR><LF>.<CR><LF>\r\n"),
            "{name}"
        );
        assert!(done_after < session.segments.len(), "{name}");
    }
}

#[test]
fn smtp_auth_login_exchange() {
    let replay = replay(&load("smtp", "auth-login"), false, None);
    let smtp = smtp_info(&replay.info);
    assert_eq!(text(&smtp.auth_attempted), "LOGIN");
    assert!(replay.info.cleartext_auth);
    assert_eq!(text(&smtp.helo), "client.exflow.test");
}

#[test]
fn smtp_pipelined_commands() {
    let session = load("smtp", "pipelining");
    // MAIL, RCPT and DATA arrived in one segment.
    let pipelined = session.segments.iter().filter(|(client, _)| *client).nth(1);
    assert_eq!(pipelined, Some(&(true, 64)));
    let replay = replay(&session, false, None);
    assert_eq!(replay.info.app, App::Smtp);
    assert!(!replay.info.cleartext_auth);
    assert!(replay.done_after.is_some());
}

fn assert_upgrade_offsets(
    session: &Session,
    offsets: (Option<usize>, Option<usize>),
    command: &[u8],
    reply: &[u8],
) {
    let (client_start, server_start) = offsets;
    let client_start = client_start.expect("client TLS offset");
    let server_start = server_start.expect("server TLS offset");
    assert!(
        session.client[..client_start].ends_with(command),
        "{}",
        session.name
    );
    assert!(
        session.server[..server_start].ends_with(reply),
        "{}",
        session.name
    );
    // Both offsets start a TLS handshake record (RFC 8446 section 5.1).
    assert_eq!(session.client[client_start], 0x16, "{}", session.name);
    assert_eq!(session.server[server_start], 0x16, "{}", session.name);
}

#[test]
fn smtp_starttls_upgrade() {
    let session = load("smtp", "starttls");
    let replay = replay(&session, false, None);
    let info = &replay.info;
    assert_eq!(info.app, App::Smtp);
    assert!(info.upgrade.offered);
    assert!(info.upgrade.requested);
    assert!(info.upgrade.accepted);
    assert!(info.upgrade.tls_followed);
    assert!(!info.cleartext_auth);
    assert!(!smtp_info(info).anonymous_tls);

    let mut parser = smtp::SmtpParser::default();
    parser.on_stream(&session.client, &session.server, &mut AppInfo::default());
    assert_upgrade_offsets(
        &session,
        parser.tls_offsets(),
        b"STARTTLS\r\n",
        b"220 2.0.0 Ready to start TLS\r\n",
    );
}

#[test]
fn smtp_anonymous_tls_upgrade() {
    // Rewritten from the postfix STARTTLS session (see the fixture README).
    let session = load("smtp", "x-anonymoustls-rewritten");
    let replay = replay(&session, false, None);
    let info = &replay.info;
    assert!(smtp_info(info).anonymous_tls);
    assert!(info.upgrade.offered);
    assert!(info.upgrade.requested);
    assert!(info.upgrade.accepted);
    assert!(info.upgrade.tls_followed);

    let mut parser = smtp::SmtpParser::default();
    parser.on_stream(&session.client, &session.server, &mut AppInfo::default());
    assert_upgrade_offsets(
        &session,
        parser.tls_offsets(),
        b"X-ANONYMOUSTLS\r\n",
        b"220 2.0.0 Ready to start TLS\r\n",
    );
}

#[test]
fn smtp_refused_starttls_then_cleartext_auth() {
    let replay = replay(&load("smtp", "starttls-refused"), false, None);
    let info = &replay.info;
    assert!(info.upgrade.requested);
    assert!(!info.upgrade.accepted);
    assert!(!info.upgrade.tls_followed);
    assert!(info.cleartext_auth);
    assert_eq!(text(&smtp_info(info).auth_attempted), "PLAIN");
    assert!(replay.done_after.is_some());
}

#[test]
fn smtp_accepted_starttls_without_handshake() {
    let replay = replay(&load("smtp", "starttls-then-quit"), false, None);
    let info = &replay.info;
    assert!(info.upgrade.requested);
    assert!(info.upgrade.accepted);
    assert!(!info.upgrade.tls_followed);
    assert!(replay.done_after.is_some());
}

// --- IMAP and POP3 sessions --------------------------------------------------------

fn imap_info(info: &AppInfo) -> &fingerprint::ImapInfo {
    info.imap.as_deref().expect("imap fields")
}

#[test]
fn imap_login_session() {
    let session = load("imap", "login");
    let replay = replay(&session, false, None);
    let info = &replay.info;
    assert_eq!(info.app, App::Imap);
    assert_eq!(info.evidence, AppEvidence::Both);
    assert_eq!(info.server_side, Some(Side::Responder));
    assert!(imap_info(info).login);
    assert!(!imap_info(info).login_disabled);
    assert!(info.cleartext_auth);
    assert!(info.upgrade.offered);
    assert!(!info.upgrade.requested);
    // Done once the server answered LOGIN, before SELECT.
    assert!(replay.done_after.expect("dissector finished") < session.segments.len());
}

#[test]
fn imap_authenticate_plain() {
    let replay = replay(&load("imap", "authenticate-plain"), false, None);
    let imap = imap_info(&replay.info);
    assert_eq!(text(&imap.authenticate_mechanism), "PLAIN");
    assert!(!imap.login);
    assert!(replay.info.cleartext_auth);
}

#[test]
fn imap_starttls_with_logindisabled() {
    let session = load("imap", "starttls-logindisabled");
    let replay = replay(&session, false, None);
    let info = &replay.info;
    assert!(imap_info(info).login_disabled);
    assert!(info.upgrade.offered);
    assert!(info.upgrade.requested);
    assert!(info.upgrade.accepted);
    assert!(info.upgrade.tls_followed);
    // LOGIN came inside TLS, so no credentials crossed in the clear.
    assert!(!info.cleartext_auth);

    let mut parser = imap::ImapParser::default();
    parser.on_stream(&session.client, &session.server, &mut AppInfo::default());
    assert_upgrade_offsets(
        &session,
        parser.tls_offsets(),
        b"1 STARTTLS\r\n",
        b"1 OK Begin TLS negotiation now.\r\n",
    );
}

#[test]
fn pop3_user_pass_session() {
    let session = load("pop3", "user-pass");
    let replay = replay(&session, false, None);
    let info = &replay.info;
    assert_eq!(info.app, App::Pop3);
    assert_eq!(info.evidence, AppEvidence::Both);
    assert!(info.cleartext_auth);
    assert!(info.upgrade.offered);
    assert!(!info.upgrade.requested);
    assert!(replay.done_after.expect("dissector finished") < session.segments.len());
}

#[test]
fn pop3_auth_plain_session() {
    let replay = replay(&load("pop3", "auth-plain"), false, None);
    assert!(replay.info.cleartext_auth);
    assert!(replay.info.upgrade.offered);
    assert!(replay.done_after.is_some());
}

#[test]
fn pop3_stls_upgrade() {
    let session = load("pop3", "stls");
    let replay = replay(&session, false, None);
    let info = &replay.info;
    assert!(info.upgrade.offered);
    assert!(info.upgrade.requested);
    assert!(info.upgrade.accepted);
    assert!(info.upgrade.tls_followed);
    assert!(!info.cleartext_auth);

    let mut parser = pop3::Pop3Parser::default();
    parser.on_stream(&session.client, &session.server, &mut AppInfo::default());
    assert_upgrade_offsets(
        &session,
        parser.tls_offsets(),
        b"STLS\r\n",
        b"+OK Begin TLS negotiation now.\r\n",
    );
}

#[test]
fn upgrade_found_from_server_side_alone() {
    let cases = [
        ("smtp", "starttls"),
        ("imap", "starttls-logindisabled"),
        ("pop3", "stls"),
    ];
    for (proto, name) in cases {
        let session = load(proto, name);
        let info = replay_sides(&session, false, None, false, true).info;
        assert!(info.upgrade.requested, "{proto}/{name}");
        assert!(info.upgrade.accepted, "{proto}/{name}");
        assert!(info.upgrade.tls_followed, "{proto}/{name}");
        assert_eq!(info.evidence, AppEvidence::OneSide, "{proto}/{name}");
    }
}

// --- HTTP and SSH sessions -----------------------------------------------------------

#[test]
fn http_exchange_services() {
    let cases = [
        ("owa-get", "GET", "/owa/", ExchangeService::Owa),
        (
            "ews-post",
            "POST",
            "/EWS/Exchange.asmx",
            ExchangeService::Ews,
        ),
        (
            "autodiscover-post",
            "POST",
            "/autodiscover/autodiscover.xml",
            ExchangeService::Autodiscover,
        ),
        (
            "activesync-options",
            "OPTIONS",
            "/Microsoft-Server-ActiveSync",
            ExchangeService::ActiveSync,
        ),
        ("mapi-post", "POST", "/mapi/emsmdb/", ExchangeService::Mapi),
        (
            "rpc-in-data",
            "RPC_IN_DATA",
            "/rpc/rpcproxy.dll",
            ExchangeService::Rpc,
        ),
        ("oab-get", "GET", "/OAB/oab.xml", ExchangeService::Oab),
        ("split-request-line", "GET", "/ecp/", ExchangeService::Ecp),
    ];
    for (name, method, path, service) in cases {
        let session = load("http", name);
        let replay = replay(&session, false, None);
        let info = &replay.info;
        let http = info.http.as_deref().expect("http fields");
        assert_eq!(info.app, App::Http, "{name}");
        assert_eq!(info.evidence, AppEvidence::Both, "{name}");
        assert_eq!(text(&http.method), method, "{name}");
        assert_eq!(text(&http.path), path, "{name}");
        assert_eq!(http.service, Some(service), "{name}");
        assert_eq!(text(&http.host), "mail.exflow.test", "{name}");
        assert_eq!(http.status, Some(200), "{name}");
        assert!(replay.done_after.is_some(), "{name}");
    }
}

#[test]
fn http_user_agent_across_segments() {
    // The capture split the User-Agent header in two segments.
    let info = replay(&load("http", "split-request-line"), false, None).info;
    let http = info.http.as_deref().expect("http fields");
    assert_eq!(text(&http.user_agent), "exflow-split/1.0");
    let info = replay(&load("http", "owa-get"), false, None).info;
    assert_eq!(
        text(&info.http.as_deref().expect("http fields").user_agent),
        "exflow-fixture/1.0"
    );
}

#[test]
fn http2_prior_knowledge_is_http() {
    let replay = replay(&load("http", "h2c-prior-knowledge"), false, None);
    let info = &replay.info;
    let http = info.http.as_deref().expect("http fields");
    assert_eq!(info.app, App::Http);
    assert!(http.http2);
    assert_eq!(http.method, None);
    assert_eq!(info.evidence, AppEvidence::Both);
    // Nothing past the client's preface is decoded, but the dissector waits
    // for the server's SETTINGS frame (the third segment), because it decides
    // `app_evidence`.
    assert_eq!(replay.done_after, Some(3));
}

#[test]
fn ssh_banners_by_hint() {
    let session = load("ssh", "openssh");
    for (client_is_responder, hint) in [(false, Side::Originator), (true, Side::Responder)] {
        let replay = replay(&session, client_is_responder, Some(hint));
        let info = &replay.info;
        assert_eq!(info.app, App::Ssh);
        assert_eq!(info.evidence, AppEvidence::Both);
        // Both sides send the same shape: the payload does not show the server.
        assert_eq!(info.server_side, None);
        assert_eq!(
            text(&info.ssh_banner),
            "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10"
        );
        assert_eq!(
            text(&info.ssh_client_banner),
            "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10"
        );
        // Done after both identification strings, long before the session ends.
        assert_eq!(replay.done_after, Some(2));
    }
}

// --- dissector ---------------------------------------------------------------------

#[test]
fn bytewise_replay_matches_segments() {
    for (proto, _) in TEXT_PROTOCOLS {
        for session in load_all(proto) {
            let whole = replay(&session, false, None).info;
            let bytewise = replay_bytewise(&session);
            assert_eq!(bytewise, whole, "{}", session.name);
        }
    }
}

#[test]
fn one_sided_captures_classify() {
    for (proto, app) in TEXT_PROTOCOLS {
        for session in load_all(proto) {
            for (keep_client, keep_server) in [(true, false), (false, true)] {
                let info = replay_sides(&session, false, None, keep_client, keep_server).info;
                assert_eq!(info.app, app, "{} client={keep_client}", session.name);
                assert_eq!(info.evidence, AppEvidence::OneSide, "{}", session.name);
                let expected_server = (app != App::Ssh).then_some(Side::Responder);
                assert_eq!(info.server_side, expected_server, "{}", session.name);
            }
        }
    }
}

#[test]
fn direction_from_payload_overrides_hint() {
    // The server is the originator here (a capture that missed the handshake
    // and guessed wrong); the greeting and the commands show the truth.
    for (proto, app) in TEXT_PROTOCOLS
        .into_iter()
        .filter(|(_, app)| *app != App::Ssh)
    {
        for session in load_all(proto) {
            let info = replay(&session, true, Some(Side::Originator)).info;
            assert_eq!(info.app, app, "{}", session.name);
            assert_eq!(info.server_side, Some(Side::Originator), "{}", session.name);
        }
    }
}

#[test]
fn server_first_and_client_first() {
    // SMTP: the greeting comes first and decides alone.
    let smtp = load("smtp", "auth-plain");
    assert!(!smtp.segments[0].0, "the server speaks first");
    let mut dissector = Dissector::new(Transport::Tcp, [40000, 25], None);
    dissector.on_stream(&[], &smtp.server[..smtp.segments[0].1]);
    // HTTP: the request comes first and decides alone.
    let http = load("http", "owa-get");
    assert!(http.segments[0].0, "the client speaks first");
    let mut other = Dissector::new(Transport::Tcp, [40000, 80], None);
    other.on_stream(&http.client, &[]);
    let (smtp_info, http_info) = (dissector.finish(), other.finish());
    assert_eq!(
        (smtp_info.app, smtp_info.server_side),
        (App::Smtp, Some(Side::Responder))
    );
    assert_eq!(
        (http_info.app, http_info.server_side),
        (App::Http, Some(Side::Responder))
    );
}

#[test]
fn no_payload_is_none() {
    let mut dissector = Dissector::new(Transport::Tcp, [40000, 25], Some(Side::Originator));
    assert_eq!(dissector.on_stream(&[], &[]), Progress::NeedMore);
    let info = dissector.finish();
    assert_eq!(info.app, App::None);
    assert_eq!(info.evidence, AppEvidence::None);
}

#[test]
fn unrecognised_payload_waits_for_other_side() {
    // An SSH key exchange packet (binary) is no protocol's first bytes, but
    // the other side's first bytes may still name a protocol.
    let session = load("ssh", "openssh");
    let client_ident_len = first_line(&session.client).len();
    let server_ident_len = first_line(&session.server).len();
    let client_kex = &session.client[client_ident_len..];
    let server_kex = &session.server[server_ident_len..];

    let mut dissector = Dissector::new(Transport::Tcp, [40000, 22], None);
    assert_eq!(dissector.on_stream(client_kex, &[]), Progress::NeedMore);
    assert_eq!(dissector.on_stream(client_kex, server_kex), Progress::Done);
    let info = dissector.finish();
    assert_eq!(info.app, App::Unknown);
    assert_eq!(info.evidence, AppEvidence::None);

    // A gap ends the silent side: no more bytes can name a protocol.
    let mut dissector = Dissector::new(Transport::Tcp, [40000, 22], None);
    assert_eq!(dissector.on_stream(client_kex, &[]), Progress::NeedMore);
    dissector.on_gap(Side::Responder);
    assert_eq!(dissector.on_stream(client_kex, &[]), Progress::Done);
    assert_eq!(dissector.finish().app, App::Unknown);
}
