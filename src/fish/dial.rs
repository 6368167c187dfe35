//! Which peers learned from trackers and the DHT we dial, and the dialling
//! itself (on a small [`PeerJobs`] pool: std can only connect blocking).
//!
//! The self-connection rule lives here: trackers and DHT nodes hand a peer
//! its own address back, so our listen port on a loopback, unspecified or
//! known own address is never dialled. (The handshake's peer-id check
//! catches what this cannot see, e.g. our address behind a NAT.)

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::peer_jobs::{Done, PeerJobs};
use crate::torrent::InfoHash;

/// How long a dial may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// An address is not dialled again sooner than this.
pub const REDIAL_AFTER: Duration = Duration::from_secs(15 * 60);
/// Remembered dials, at most (a bound on memory, not a policy).
const MAX_REMEMBERED: usize = 20_000;
/// Dialler threads, and their stacks (a blocking connect needs little).
const DIALERS: usize = 2;
const DIALER_STACK: usize = 64 * 1024;
/// Dials waiting for a thread, at most; more are dropped (re-learned later).
const QUEUE: usize = 256;

/// The addresses that are us.
#[derive(Debug, Clone, Default)]
pub struct OwnAddresses {
    pub port: u16,
    /// The listen IP when one was given, and addresses trackers or DHT
    /// nodes told us we have.
    pub ips: Vec<IpAddr>,
}

impl OwnAddresses {
    /// True when `addr` is our own listening socket.
    pub fn is_own(&self, addr: &SocketAddr) -> bool {
        let ip = addr.ip();
        addr.port() == self.port
            && (ip.is_loopback() || ip.is_unspecified() || self.ips.contains(&ip))
    }

    pub fn learn(&mut self, ip: IpAddr) {
        if !self.ips.contains(&ip) && self.ips.len() < 16 {
            self.ips.push(ip);
        }
    }
}

/// Why a learned peer is not dialled (or None: dial it).
pub fn skip_reason(
    addr: &SocketAddr,
    own: &OwnAddresses,
    connected: bool,
    last_dialled: Option<Instant>,
    now: Instant,
    outgoing: usize,
    outgoing_limit: usize,
) -> Option<&'static str> {
    if own.is_own(addr) {
        Some("our own address")
    } else if addr.port() == 0 || addr.ip().is_unspecified() || addr.ip().is_multicast() {
        Some("not a peer address")
    } else if connected {
        Some("already connected")
    } else if last_dialled.is_some_and(|t| now.saturating_duration_since(t) < REDIAL_AFTER) {
        Some("dialled recently")
    } else if outgoing >= outgoing_limit {
        Some("outgoing connection limit reached")
    } else {
        None
    }
}

/// A finished dial.
pub type Dialled = Done<std::io::Result<TcpStream>>;

/// The dialling threads and what they are doing.
pub struct Dialer {
    jobs: PeerJobs<std::io::Result<TcpStream>>,
    last: HashMap<SocketAddr, Instant>,
}

impl Dialer {
    /// `local`: the outgoing interface to dial from (None: the system's
    /// choice).
    pub fn start(local: Option<IpAddr>) -> std::io::Result<Dialer> {
        let jobs = PeerJobs::start("dial", DIALERS, DIALER_STACK, QUEUE, move |_, addr| {
            crate::sys::connect_from(local, &addr, CONNECT_TIMEOUT)
        })?;
        Ok(Dialer {
            jobs,
            last: HashMap::new(),
        })
    }

    /// When `addr` was last dialled.
    pub fn last_dialled(&self, addr: &SocketAddr) -> Option<Instant> {
        self.last.get(addr).copied()
    }

    /// Dials still running.
    pub fn in_flight(&self) -> usize {
        self.jobs.in_flight()
    }

    /// Queues a dial; false when the queue is full.
    pub fn dial(&mut self, info_hash: InfoHash, addr: SocketAddr, now: Instant) -> bool {
        if !self.jobs.submit(info_hash, addr) {
            return false;
        }
        if self.last.len() >= MAX_REMEMBERED {
            self.forget_old(now);
        }
        self.last.insert(addr, now);
        true
    }

    /// Finished dials.
    pub fn finished(&mut self) -> Vec<Dialled> {
        self.jobs.finished()
    }

    /// Drops memories older than the redial delay.
    pub fn forget_old(&mut self, now: Instant) {
        self.last
            .retain(|_, t| now.saturating_duration_since(*t) < REDIAL_AFTER);
        if self.last.len() >= MAX_REMEMBERED {
            self.last.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_and_policy() {
        let own = OwnAddresses {
            port: 6881,
            ips: vec!["192.0.2.7".parse().unwrap()],
        };
        let now = Instant::now();
        let reason = |addr: &str, connected, last: Option<Instant>, outgoing| {
            skip_reason(
                &addr.parse().unwrap(),
                &own,
                connected,
                last,
                now,
                outgoing,
                10,
            )
        };
        assert_eq!(
            reason("127.0.0.1:6881", false, None, 0),
            Some("our own address")
        );
        assert_eq!(
            reason("192.0.2.7:6881", false, None, 0),
            Some("our own address")
        );
        assert_eq!(
            reason("[::1]:6881", false, None, 0),
            Some("our own address")
        );
        assert_eq!(reason("127.0.0.1:6882", false, None, 0), None);
        assert_eq!(reason("192.0.2.8:6881", false, None, 0), None);
        assert_eq!(
            reason("192.0.2.8:0", false, None, 0),
            Some("not a peer address")
        );
        assert_eq!(
            reason("192.0.2.8:1", true, None, 0),
            Some("already connected")
        );
        assert_eq!(
            reason("192.0.2.8:1", false, Some(now), 0),
            Some("dialled recently")
        );
        assert_eq!(
            reason("192.0.2.8:1", false, None, 10),
            Some("outgoing connection limit reached")
        );
    }

    #[test]
    fn dials_a_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut dialer = Dialer::start(None).unwrap();
        assert!(dialer.dial(InfoHash::from_bytes([1; 20]), addr, Instant::now()));
        let start = Instant::now();
        loop {
            let done = dialer.finished();
            if let Some(d) = done.first() {
                assert!(d.result.is_ok());
                assert_eq!(d.addr, addr);
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(dialer.in_flight(), 0);
    }
}
