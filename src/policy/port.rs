//! Port specifications as site and rules files write them: `tcp/N`, `udp/N`,
//! `tcp/N-M`, `udp/N-M` or `any`.

use std::fmt;

use crate::decode::Transport;

/// A transport and an inclusive range of server ports. `transport` is `None`
/// for `any`, which matches every transport and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortSpec {
    pub transport: Option<Transport>,
    pub first: u16,
    pub last: u16,
}

/// Reason a port specification was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortSpecError {
    /// Not of the form `tcp/N`, `udp/N`, `tcp/N-M`, `udp/N-M` or `any`.
    Malformed,
    /// A port number outside 1..=65535.
    OutOfRange,
    /// A range whose first port is greater than its last.
    ReversedRange,
}

impl PortSpec {
    /// Every transport and every port.
    pub const ANY: PortSpec = PortSpec {
        transport: None,
        first: 0,
        last: u16::MAX,
    };

    pub fn single(transport: Transport, port: u16) -> PortSpec {
        PortSpec {
            transport: Some(transport),
            first: port,
            last: port,
        }
    }

    /// Returns the specification of every port of one transport.
    pub fn all_ports(transport: Transport) -> PortSpec {
        PortSpec {
            transport: Some(transport),
            first: 1,
            last: u16::MAX,
        }
    }

    /// Parses `tcp/N`, `udp/N`, `tcp/N-M`, `udp/N-M` or `any`.
    pub fn parse(text: &str) -> Result<PortSpec, PortSpecError> {
        if text == "any" {
            return Ok(PortSpec::ANY);
        }

        let (transport, ports) = text.split_once('/').ok_or(PortSpecError::Malformed)?;
        let transport = match transport {
            "tcp" => Transport::Tcp,
            "udp" => Transport::Udp,
            _ => return Err(PortSpecError::Malformed),
        };
        let (first, last) = match ports.split_once('-') {
            Some((first, last)) => (parse_port(first)?, parse_port(last)?),
            None => {
                let port = parse_port(ports)?;
                (port, port)
            }
        };
        if first > last {
            return Err(PortSpecError::ReversedRange);
        }

        Ok(PortSpec {
            transport: Some(transport),
            first,
            last,
        })
    }

    pub fn matches(&self, transport: Transport, port: u16) -> bool {
        self.transport.is_none_or(|own| own == transport)
            && (self.first..=self.last).contains(&port)
    }

    /// Returns true when the specification names no particular port: `any`,
    /// or a range over every port.
    pub fn is_every_port(&self) -> bool {
        self.first <= 1 && self.last == u16::MAX
    }
}

/// Parses a port number: decimal digits only, 1 to 65535.
fn parse_port(text: &str) -> Result<u16, PortSpecError> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(PortSpecError::Malformed);
    }
    match text.parse::<u32>() {
        Ok(port) if (1..=u32::from(u16::MAX)).contains(&port) => Ok(port as u16),
        // Digits only, so a parse failure means more digits than u32 holds.
        _ => Err(PortSpecError::OutOfRange),
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(transport) = self.transport else {
            return f.write_str("any");
        };
        if self.first == self.last {
            write!(f, "{}/{}", transport.as_str(), self.first)
        } else {
            write!(f, "{}/{}-{}", transport.as_str(), self.first, self.last)
        }
    }
}

/// Writes a list of port specifications as `53/udp, 53/tcp`-style text for
/// messages: port first, the way the matrix page writes them.
pub fn describe_ports(ports: &[PortSpec]) -> String {
    let mut text = String::new();
    for (index, spec) in ports.iter().enumerate() {
        if index > 0 {
            text.push_str(", ");
        }
        text.push_str(&describe_port(spec));
    }
    text
}

/// Writes one specification as `443/tcp`, `1024-2048/tcp` or `any`.
pub fn describe_port(spec: &PortSpec) -> String {
    match spec.transport {
        None => "any".to_string(),
        Some(transport) if spec.first == spec.last => {
            format!("{}/{}", spec.first, transport.as_str())
        }
        Some(transport) => format!("{}-{}/{}", spec.first, spec.last, transport.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms() {
        assert_eq!(
            PortSpec::parse("tcp/443"),
            Ok(PortSpec::single(Transport::Tcp, 443))
        );
        assert_eq!(
            PortSpec::parse("udp/53"),
            Ok(PortSpec::single(Transport::Udp, 53))
        );
        assert_eq!(
            PortSpec::parse("tcp/6001-6004"),
            Ok(PortSpec {
                transport: Some(Transport::Tcp),
                first: 6001,
                last: 6004
            })
        );
        assert_eq!(PortSpec::parse("any"), Ok(PortSpec::ANY));
    }

    #[test]
    fn parse_rejects_malformed() {
        for text in [
            "", "tcp", "tcp/", "sctp/25", "TCP/25", "tcp/2 5", "tcp/+25", "25", "tcp/25-",
            "tcp/-25", "any/25",
        ] {
            assert_eq!(
                PortSpec::parse(text),
                Err(PortSpecError::Malformed),
                "{text:?}"
            );
        }
    }

    #[test]
    fn parse_rejects_out_of_range() {
        for text in ["tcp/0", "tcp/65536", "udp/99999999999", "tcp/1-70000"] {
            assert_eq!(
                PortSpec::parse(text),
                Err(PortSpecError::OutOfRange),
                "{text:?}"
            );
        }
        assert_eq!(
            PortSpec::parse("tcp/10-9"),
            Err(PortSpecError::ReversedRange)
        );
    }

    #[test]
    fn display_round_trips() {
        for text in ["tcp/443", "udp/53", "tcp/6001-6004", "any"] {
            assert_eq!(PortSpec::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn matching() {
        let spec = PortSpec::parse("tcp/6001-6004").unwrap();
        assert!(spec.matches(Transport::Tcp, 6001));
        assert!(spec.matches(Transport::Tcp, 6004));
        assert!(!spec.matches(Transport::Tcp, 6005));
        assert!(!spec.matches(Transport::Udp, 6002));
        assert!(PortSpec::ANY.matches(Transport::Udp, 0));
        assert!(PortSpec::ANY.is_every_port());
        assert!(!spec.is_every_port());
    }

    #[test]
    fn describe_puts_port_first() {
        let ports = [
            PortSpec::single(Transport::Udp, 53),
            PortSpec::single(Transport::Tcp, 53),
        ];
        assert_eq!(describe_ports(&ports), "53/udp, 53/tcp");
    }
}
