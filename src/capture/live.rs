//! Live capture from a network interface through libpcap.
//!
//! [`LiveCapture::open`] sets the interface up: promiscuous mode, buffer size,
//! snapshot length, immediate mode, nanosecond timestamps where the platform
//! has them, and a BPF filter compiled by libpcap. [`LiveCapture::read`] hands
//! each packet to a callback as a [`Frame`] that borrows libpcap's buffer.
//! On Linux that buffer is the kernel's memory-mapped capture ring, so packets
//! are read without a copy. `pcap_dispatch` is used rather than
//! `pcap_next_ex`, because libpcap's Linux `pcap_next_ex` copies each packet
//! out of the ring.
//!
//! The capture is non-blocking; [`wait_readable`] waits in `poll(2)` on
//! libpcap's selectable descriptors, of one interface or several. libpcap's own read timeout cannot be relied on: libpcap 1.10 on
//! Linux keeps polling past it until a packet arrives, and the caller must get
//! control back on a quiet link to move its clock and notice a stop request.
//!
//! Frame offsets name packets, not bytes: a live frame's
//! [`Frame::offset`] is its sequence number on the interface shifted left by
//! [`INTERFACE_BITS`], with the interface's index in the low bits. So two
//! packets of one run never share an offset, and the offset of a flow's first
//! packet tells which interface saw it first (see [`interface_of_offset`]).

use std::fmt;
use std::os::fd::AsFd;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use ::pcap::{Active, Capture, Precision};

use super::{Frame, LinkType, Timestamp};
use crate::decode::link_supported;

/// Bits of a live frame's offset that hold the interface index.
pub const INTERFACE_BITS: u32 = 8;

/// Maximum number of interfaces one run captures on.
pub const MAX_INTERFACES: usize = 1 << INTERFACE_BITS;

/// Default snapshot length, tcpdump's default: whole packets on any usual
/// link, including jumbo frames and offloaded segments.
pub const DEFAULT_SNAPLEN: u32 = 262_144;

/// Default size of the kernel's capture buffer, in MiB. libpcap's own default
/// is 2 MiB, which a busy mirror port fills in a few milliseconds of stall.
pub const DEFAULT_BUFFER_MIB: u32 = 32;

/// libpcap's read timeout. Without immediate mode it bounds how long the
/// kernel keeps a partly filled block of packets from the reader.
pub const READ_TIMEOUT_MS: u16 = 100;

/// Returns the interface index encoded in a live frame's offset.
pub fn interface_of_offset(offset: u64) -> usize {
    (offset & ((1 << INTERFACE_BITS) - 1)) as usize
}

/// How to open an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveOptions {
    /// BPF capture filter, compiled by libpcap; `None` captures everything.
    pub filter: Option<String>,
    pub snaplen: u32,
    /// Kernel capture buffer, in bytes.
    pub buffer_bytes: u32,
    pub promiscuous: bool,
    /// Deliver each packet as soon as it arrives instead of in blocks held up
    /// to [`READ_TIMEOUT_MS`]. On Linux, libpcap then uses a TPACKET_V2 ring
    /// of one slot per packet, which a busy link overruns at a lower rate
    /// than the TPACKET_V3 blocks used otherwise.
    pub immediate: bool,
}

impl Default for LiveOptions {
    fn default() -> LiveOptions {
        LiveOptions {
            filter: None,
            snaplen: DEFAULT_SNAPLEN,
            buffer_bytes: DEFAULT_BUFFER_MIB * 1024 * 1024,
            promiscuous: true,
            immediate: false,
        }
    }
}

/// Failure to open or read an interface. Each names the interface, and the
/// filter when the filter is at fault.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(
        "interface {interface} not found; list the interfaces with `ip link` and name one with -i"
    )]
    InterfaceNotFound { interface: String },
    #[error(
        "no permission to capture on {interface} ({detail}); run exflow as root, or give the binary CAP_NET_RAW: sudo setcap cap_net_raw=ep \"$(command -v exflow)\""
    )]
    PermissionDenied { interface: String, detail: String },
    #[error(
        "invalid capture filter \"{filter}\" on {interface}: {detail}; check the expression with `tcpdump -d '{filter}'`"
    )]
    InvalidFilter {
        interface: String,
        filter: String,
        detail: String,
    },
    #[error(
        "{interface}: {link} is not supported; exflow decodes Ethernet, Linux cooked capture (SLL, SLL2), raw IP, BSD loopback, PPP, and a few more"
    )]
    UnsupportedLink { interface: String, link: LinkType },
    #[error("failed to open {interface}: {detail}")]
    Open { interface: String, detail: String },
    #[error("reading from {interface} failed: {detail}")]
    Read { interface: String, detail: String },
}

/// Counters libpcap keeps for one interface, widened to 64 bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InterfaceCounters {
    /// Packets the capture received (after the filter on Linux).
    pub received: u64,
    /// Packets dropped because the capture buffer was full: exflow did not
    /// read fast enough.
    pub kernel_drops: u64,
    /// Packets the interface or its driver dropped.
    pub interface_drops: u64,
}

impl InterfaceCounters {
    /// Adds the counters' growth since `last`. libpcap's counters are 32 bits
    /// wide and wrap around, so the growth is taken modulo 2^32.
    fn advance(&mut self, last: &::pcap::Stat, now: &::pcap::Stat) {
        self.received += u64::from(now.received.wrapping_sub(last.received));
        self.kernel_drops += u64::from(now.dropped.wrapping_sub(last.dropped));
        self.interface_drops += u64::from(now.if_dropped.wrapping_sub(last.if_dropped));
    }
}

/// An open interface.
pub struct LiveCapture {
    name: String,
    index: u8,
    capture: Capture<Active>,
    link: LinkType,
    nanosecond: bool,
    immediate: bool,
    next_sequence: u64,
    last_stat: ::pcap::Stat,
    counters: InterfaceCounters,
}

impl fmt::Debug for LiveCapture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveCapture")
            .field("name", &self.name)
            .field("index", &self.index)
            .field("link", &self.link)
            .finish_non_exhaustive()
    }
}

impl LiveCapture {
    /// Opens interface `name` (`any` captures on every interface, on Linux).
    /// `index` is its position on the command line, stored in frame offsets.
    pub fn open(name: &str, index: u8, options: &LiveOptions) -> Result<LiveCapture, LiveError> {
        check_interface_exists(name)?;

        // libpcap offers nanosecond time stamps on every Linux capture. On
        // other platforms a request it cannot serve would go unnoticed, so
        // exflow requests microseconds there.
        let nanosecond = cfg!(target_os = "linux");
        let precision = if nanosecond {
            Precision::Nano
        } else {
            Precision::Micro
        };
        let open_failed = |error: ::pcap::Error| classify_open_error(name, error);
        let capture = Capture::from_device(name)
            .map_err(open_failed)?
            .promisc(options.promiscuous)
            .snaplen(options.snaplen.min(i32::MAX as u32) as i32)
            .buffer_size(options.buffer_bytes.min(i32::MAX as u32) as i32)
            .immediate_mode(options.immediate)
            .precision(precision)
            .timeout(i32::from(READ_TIMEOUT_MS))
            .open()
            .and_then(Capture::setnonblock)
            .map_err(open_failed)?;

        let mut live = LiveCapture {
            name: name.to_string(),
            index,
            link: LinkType(capture.get_datalink().0 as u32),
            capture,
            nanosecond,
            immediate: options.immediate,
            next_sequence: 0,
            last_stat: ::pcap::Stat {
                received: 0,
                dropped: 0,
                if_dropped: 0,
            },
            counters: InterfaceCounters::default(),
        };
        if !link_supported(live.link) {
            return Err(LiveError::UnsupportedLink {
                interface: live.name,
                link: live.link,
            });
        }
        if let Some(filter) = &options.filter {
            live.capture
                .filter(filter, true)
                .map_err(|error| LiveError::InvalidFilter {
                    interface: name.to_string(),
                    filter: filter.clone(),
                    detail: error_detail(&error),
                })?;
        }
        Ok(live)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn link(&self) -> LinkType {
        self.link
    }

    /// Returns true when frames carry nanosecond time stamps.
    pub fn nanosecond(&self) -> bool {
        self.nanosecond
    }

    /// Returns how long the kernel may keep a captured packet from the
    /// reader: zero in immediate mode, else up to libpcap's read timeout,
    /// after which the kernel hands over a partly filled block.
    pub fn max_delivery_delay(&self) -> Duration {
        if self.immediate {
            Duration::ZERO
        } else {
            Duration::from_millis(u64::from(READ_TIMEOUT_MS))
        }
    }

    /// Passes the packets already in the capture buffer, at most `max` of
    /// them, to `handle`, without waiting. Returns how many were passed.
    pub fn read(
        &mut self,
        max: usize,
        mut handle: impl FnMut(&Frame<'_>),
    ) -> Result<usize, LiveError> {
        let Self {
            capture,
            index,
            link,
            nanosecond,
            next_sequence,
            ..
        } = self;
        let result = capture.dispatch(Some(max.max(1)), |packet| {
            let stamp = packet.header.ts;
            // `time_t` and `suseconds_t` are 32 bits wide on some platforms.
            #[allow(clippy::unnecessary_cast)]
            let ts = timestamp(stamp.tv_sec as i64, stamp.tv_usec as i64, *nanosecond);
            let frame = Frame {
                ts,
                link: *link,
                data: packet.data,
                orig_len: packet.header.len,
                interface: u32::from(*index),
                offset: (*next_sequence << INTERFACE_BITS) | u64::from(*index),
            };
            *next_sequence += 1;
            handle(&frame);
        });
        result.map_err(|error| LiveError::Read {
            interface: self.name.clone(),
            detail: error_detail(&error),
        })
    }

    /// Reads libpcap's counters and returns their totals since the capture
    /// opened.
    pub fn counters(&mut self) -> Result<InterfaceCounters, LiveError> {
        let now = self.capture.stats().map_err(|error| LiveError::Read {
            interface: self.name.clone(),
            detail: error_detail(&error),
        })?;
        self.counters.advance(&self.last_stat, &now);
        self.last_stat = now;
        Ok(self.counters)
    }
}

/// Waits until one of `captures` has packets to read, up to `timeout`
/// (rounded down to milliseconds). Returns early when a signal arrives, so
/// the caller can look at its flags.
pub fn wait_readable(captures: &[LiveCapture], timeout: Duration) -> Result<(), LiveError> {
    let mut fds: Vec<PollFd<'_>> = captures
        .iter()
        .map(|capture| PollFd::new(capture.capture.as_fd(), PollFlags::POLLIN))
        .collect();
    let millis = timeout.as_millis().min(u128::from(u16::MAX)) as u16;
    match poll(&mut fds, PollTimeout::from(millis)) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(()),
        Err(errno) => Err(LiveError::Read {
            interface: captures
                .iter()
                .map(LiveCapture::name)
                .collect::<Vec<_>>()
                .join(", "),
            detail: errno.desc().to_string(),
        }),
    }
}

/// Converts a libpcap time stamp, whose `tv_usec` field contains nanoseconds
/// when nanosecond precision was granted.
fn timestamp(secs: i64, fraction: i64, nanosecond: bool) -> Timestamp {
    let fraction = fraction.clamp(0, 999_999_999);
    let nanos = if nanosecond {
        fraction
    } else {
        fraction.min(999_999) * 1_000
    };
    Timestamp::from_secs_nanos(secs, nanos as u32)
}

/// Fails with [`LiveError::InterfaceNotFound`] when no interface has this name.
/// libpcap's own message for a missing device differs between versions, so
/// the name is looked up first.
fn check_interface_exists(name: &str) -> Result<(), LiveError> {
    // `any` is libpcap's pseudo-interface for every interface on Linux.
    if name == "any" {
        return Ok(());
    }
    match nix::net::if_::if_nametoindex(name) {
        Ok(_) => Ok(()),
        Err(_) => Err(LiveError::InterfaceNotFound {
            interface: name.to_string(),
        }),
    }
}

/// Tells a permission problem from other failures to open. The pcap crate
/// passes libpcap's message without its status code, so the message decides.
fn classify_open_error(interface: &str, error: ::pcap::Error) -> LiveError {
    let detail = error_detail(&error);
    let lower = detail.to_ascii_lowercase();
    let interface = interface.to_string();
    if lower.contains("permission") || lower.contains("not permitted") {
        LiveError::PermissionDenied { interface, detail }
    } else if lower.contains("no such device") {
        LiveError::InterfaceNotFound { interface }
    } else {
        LiveError::Open { interface, detail }
    }
}

fn error_detail(error: &::pcap::Error) -> String {
    match error {
        ::pcap::Error::PcapError(message) => message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_names_interface() {
        let offset = (12_345u64 << INTERFACE_BITS) | 3;
        assert_eq!(interface_of_offset(offset), 3);
        assert_eq!(interface_of_offset(7 << INTERFACE_BITS), 0);
    }

    #[test]
    fn counters_survive_wraparound() {
        let mut counters = InterfaceCounters::default();
        let before = ::pcap::Stat {
            received: u32::MAX - 1,
            dropped: 5,
            if_dropped: 0,
        };
        let after = ::pcap::Stat {
            received: 3,
            dropped: 9,
            if_dropped: 1,
        };
        counters.advance(&before, &after);
        assert_eq!(counters.received, 5);
        assert_eq!(counters.kernel_drops, 4);
        assert_eq!(counters.interface_drops, 1);
    }

    #[test]
    fn microsecond_stamps_scale() {
        assert_eq!(
            timestamp(1_700_000_000, 250_000, false),
            Timestamp::from_secs_nanos(1_700_000_000, 250_000_000)
        );
        assert_eq!(
            timestamp(1_700_000_000, 250_000, true),
            Timestamp::from_secs_nanos(1_700_000_000, 250_000)
        );
    }

    #[test]
    fn missing_interface_is_named() {
        let error = LiveCapture::open("exflow-none0", 0, &LiveOptions::default()).unwrap_err();
        assert!(matches!(error, LiveError::InterfaceNotFound { .. }));
        assert!(error.to_string().contains("exflow-none0"));
    }

    #[test]
    fn permission_message_classified() {
        let error = classify_open_error(
            "eth1",
            ::pcap::Error::PcapError("socket: Operation not permitted".to_string()),
        );
        assert!(matches!(error, LiveError::PermissionDenied { .. }));
        let error = classify_open_error(
            "eth1",
            ::pcap::Error::PcapError("eth1: That device is not up".to_string()),
        );
        assert!(matches!(error, LiveError::Open { .. }));
    }
}
