//! UDP trackers (BEP 15): a connect exchange gives a connection id (valid
//! a minute), then announces carry it. Packets are built and read by pure
//! functions; [`UdpTracker::announce`] does the sending with retries.

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use super::response::{compact_peers, AnnounceReply, ResponseError};
use super::{AnnounceRequest, Event, TrackerError};

const PROTOCOL_ID: u64 = 0x0417_2710_1980;
const ACTION_CONNECT: u32 = 0;
const ACTION_ANNOUNCE: u32 = 1;
const ACTION_ERROR: u32 = 3;
/// BEP 15: a connection id may be used for one minute.
pub const CONNECTION_ID_LIFETIME: Duration = Duration::from_secs(60);
/// BEP 15 waits 15 × 2^n seconds up to n = 8 (over an hour). One thread
/// announces for every torrent, so we give up after n = 2 (1 min 45 s)
/// and let the per-tracker back-off retry later.
const RETRIES: u32 = 2;
const FIRST_TIMEOUT: Duration = Duration::from_secs(15);

pub fn connect_request(transaction: u32) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&PROTOCOL_ID.to_be_bytes());
    out[8..12].copy_from_slice(&ACTION_CONNECT.to_be_bytes());
    out[12..].copy_from_slice(&transaction.to_be_bytes());
    out
}

pub fn announce_request(
    connection_id: u64,
    transaction: u32,
    request: &AnnounceRequest,
) -> [u8; 98] {
    let mut out = [0u8; 98];
    let event: u32 = match request.event {
        Event::None => 0,
        Event::Completed => 1,
        Event::Started => 2,
        Event::Stopped => 3,
    };
    out[..8].copy_from_slice(&connection_id.to_be_bytes());
    out[8..12].copy_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
    out[12..16].copy_from_slice(&transaction.to_be_bytes());
    out[16..36].copy_from_slice(request.info_hash.as_bytes());
    out[36..56].copy_from_slice(&request.peer_id);
    out[56..64].copy_from_slice(&0u64.to_be_bytes()); // downloaded
    out[64..72].copy_from_slice(&request.left.to_be_bytes());
    out[72..80].copy_from_slice(&0u64.to_be_bytes()); // uploaded
    out[80..84].copy_from_slice(&event.to_be_bytes());
    out[84..88].copy_from_slice(&0u32.to_be_bytes()); // ip: the sender's
    out[88..92].copy_from_slice(&request.key.to_be_bytes());
    out[92..96].copy_from_slice(&request.numwant.to_be_bytes());
    out[96..98].copy_from_slice(&request.port.to_be_bytes());
    out
}

fn be32(packet: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = packet.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

fn bad(why: impl Into<String>) -> ResponseError {
    ResponseError::BadPacket(why.into())
}

/// Checks action and transaction; an error packet becomes `Refused`.
fn header(packet: &[u8], transaction: u32, action: u32) -> Result<(), ResponseError> {
    let got_action = be32(packet, 0).ok_or_else(|| bad(format!("{} bytes", packet.len())))?;
    let got_transaction = be32(packet, 4).ok_or_else(|| bad(format!("{} bytes", packet.len())))?;
    if got_transaction != transaction {
        return Err(bad("another transaction id"));
    }
    if got_action == ACTION_ERROR {
        let message = packet.get(8..).unwrap_or(&[]);
        return Err(ResponseError::Refused(
            String::from_utf8_lossy(message).chars().take(200).collect(),
        ));
    }
    if got_action != action {
        return Err(bad(format!("action {got_action}, expected {action}")));
    }
    Ok(())
}

/// The connection id from a connect response.
pub fn parse_connect_response(packet: &[u8], transaction: u32) -> Result<u64, ResponseError> {
    header(packet, transaction, ACTION_CONNECT)?;
    let id: [u8; 8] = packet
        .get(8..16)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad(format!("connect response of {} bytes", packet.len())))?;
    Ok(u64::from_be_bytes(id))
}

/// An announce response; peers are 6-byte (IPv4 tracker) or 18-byte
/// (IPv6 tracker) entries.
pub fn parse_announce_response(
    packet: &[u8],
    transaction: u32,
    v6: bool,
) -> Result<AnnounceReply, ResponseError> {
    header(packet, transaction, ACTION_ANNOUNCE)?;
    let interval = be32(packet, 8)
        .ok_or_else(|| bad(format!("announce response of {} bytes", packet.len())))?;
    if packet.len() < 20 {
        return Err(bad(format!("announce response of {} bytes", packet.len())));
    }
    let mut peers = Vec::new();
    compact_peers(packet.get(20..).unwrap_or(&[]), v6, &mut peers).map_err(bad)?;
    Ok(AnnounceReply {
        interval: Duration::from_secs(u64::from(interval)),
        min_interval: None,
        peers,
        warning: None,
    })
}

/// The `host:port` of a `udp://` URL.
pub fn host_port(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("udp://")?;
    rest.split('/').next()
}

/// A UDP tracker, its socket and its cached connection id.
pub struct UdpTracker {
    pub addr: SocketAddr,
    connection: Option<(u64, Instant)>,
    socket: Option<UdpSocket>,
    bind: Option<std::net::IpAddr>,
    first_timeout: Duration,
}

impl UdpTracker {
    /// Resolves `udp://host:port[/...]`.
    pub fn resolve(url: &str, bind: Option<std::net::IpAddr>) -> Result<UdpTracker, TrackerError> {
        let host_port = host_port(url).ok_or_else(|| TrackerError::Unsupported(url.to_owned()))?;
        let addr = host_port
            .to_socket_addrs()
            .map_err(|e| TrackerError::Resolve(format!("{host_port}: {e}")))?
            .next()
            .ok_or_else(|| TrackerError::Resolve(format!("{host_port}: no address")))?;
        Ok(UdpTracker {
            addr,
            connection: None,
            socket: None,
            bind,
            first_timeout: FIRST_TIMEOUT,
        })
    }

    /// Shorter timeouts (tests of dead trackers).
    pub fn with_first_timeout(mut self, timeout: Duration) -> UdpTracker {
        self.first_timeout = timeout;
        self
    }

    fn socket(&self) -> Result<UdpSocket, TrackerError> {
        let local: SocketAddr = match (self.bind, self.addr) {
            (Some(ip), _) => SocketAddr::new(ip, 0),
            (None, SocketAddr::V4(_)) => "0.0.0.0:0"
                .parse()
                .map_err(|_| TrackerError::Io("bind".into()))?,
            (None, SocketAddr::V6(_)) => "[::]:0"
                .parse()
                .map_err(|_| TrackerError::Io("bind".into()))?,
        };
        let socket = UdpSocket::bind(local).map_err(|e| TrackerError::Io(e.to_string()))?;
        socket
            .connect(self.addr)
            .map_err(|e| TrackerError::Io(e.to_string()))?;
        Ok(socket)
    }

    /// Sends `packet` and waits for the answer `parse` accepts, retrying
    /// with doubling timeouts.
    fn exchange<T>(
        &self,
        socket: &UdpSocket,
        packet: &[u8],
        parse: impl Fn(&[u8]) -> Result<T, ResponseError>,
    ) -> Result<T, TrackerError> {
        let mut buf = [0u8; 2048];
        for attempt in 0..=RETRIES {
            let timeout = self.first_timeout * 2u32.pow(attempt);
            socket
                .send(packet)
                .map_err(|e| TrackerError::Io(e.to_string()))?;
            let deadline = Instant::now() + timeout;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                socket
                    .set_read_timeout(Some(left))
                    .map_err(|e| TrackerError::Io(e.to_string()))?;
                match socket.recv(&mut buf) {
                    Ok(n) => match parse(buf.get(..n).unwrap_or(&[])) {
                        Ok(value) => return Ok(value),
                        Err(ResponseError::BadPacket(why)) => {
                            log::debug!("ignoring a packet from {}: {why}", self.addr);
                        }
                        Err(e) => return Err(TrackerError::Response(e)),
                    },
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        break
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        return Err(TrackerError::Io(format!(
                            "{}: connection refused",
                            self.addr
                        )))
                    }
                    Err(e) => return Err(TrackerError::Io(e.to_string())),
                }
            }
        }
        Err(TrackerError::Timeout(format!(
            "{} did not answer",
            self.addr
        )))
    }

    /// One announce: a fresh connection id when the cached one is older
    /// than a minute, then the announce (reconnecting once if the tracker
    /// forgot our id).
    pub fn announce(&mut self, request: &AnnounceRequest) -> Result<AnnounceReply, TrackerError> {
        let socket = match self.socket.take() {
            Some(socket) => socket,
            None => self.socket()?,
        };
        let result = self.announce_on(&socket, request);
        // Kept for the next announce unless it failed (a fresh socket
        // then, in case the path changed).
        if result.is_ok() {
            self.socket = Some(socket);
        }
        result
    }

    fn announce_on(
        &mut self,
        socket: &UdpSocket,
        request: &AnnounceRequest,
    ) -> Result<AnnounceReply, TrackerError> {
        let v6 = self.addr.is_ipv6();
        let connection_id = match self.connection {
            Some((id, at)) if at.elapsed() < CONNECTION_ID_LIFETIME => id,
            _ => {
                let transaction = transaction_id();
                let id = self.exchange(socket, &connect_request(transaction), |p| {
                    parse_connect_response(p, transaction)
                })?;
                self.connection = Some((id, Instant::now()));
                id
            }
        };
        let transaction = transaction_id();
        let packet = announce_request(connection_id, transaction, request);
        self.exchange(socket, &packet, |p| {
            parse_announce_response(p, transaction, v6)
        })
        .inspect_err(|_| self.connection = None)
    }
}

/// A transaction id that differs between calls (clock and a counter).
fn transaction_id() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    nanos ^ COUNTER.fetch_add(0x9e37_79b9, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::torrent::InfoHash;

    fn request() -> AnnounceRequest {
        AnnounceRequest {
            info_hash: InfoHash::from_bytes([0xab; 20]),
            peer_id: *b"-LS0100-abcdefghijkl",
            port: 6881,
            left: 1000,
            event: Event::Started,
            key: 7,
            numwant: 50,
        }
    }

    #[test]
    fn packets_have_the_bep15_layout() {
        let c = connect_request(0x01020304);
        assert_eq!(&c[..8], &[0, 0, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80]);
        assert_eq!(&c[12..], &[1, 2, 3, 4]);
        let a = announce_request(9, 5, &request());
        assert_eq!(a.len(), 98);
        assert_eq!(&a[16..36], &[0xab; 20]);
        assert_eq!(&a[80..84], &[0, 0, 0, 2]);
        assert_eq!(&a[96..], &6881u16.to_be_bytes());
    }

    #[test]
    fn responses_and_their_errors() {
        let mut connect = vec![0, 0, 0, 0, 0, 0, 0, 5];
        connect.extend_from_slice(&42u64.to_be_bytes());
        assert_eq!(parse_connect_response(&connect, 5), Ok(42));
        assert!(matches!(
            parse_connect_response(&connect, 6),
            Err(ResponseError::BadPacket(_))
        ));
        assert!(matches!(
            parse_connect_response(&connect[..10], 5),
            Err(ResponseError::BadPacket(_))
        ));
        assert_eq!(
            parse_connect_response(b"\0\0\0\x03\0\0\0\x05torrent not registered", 5),
            Err(ResponseError::Refused("torrent not registered".into()))
        );

        let mut announce = vec![0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 7, 8, 0, 0, 0, 1, 0, 0, 0, 2];
        announce.extend_from_slice(&[127, 0, 0, 1, 0x1a, 0xe1]);
        let reply = parse_announce_response(&announce, 8, false).unwrap();
        assert_eq!(reply.interval, Duration::from_secs(0x708));
        assert_eq!(
            reply.peers,
            vec!["127.0.0.1:6881".parse::<SocketAddr>().unwrap()]
        );
        assert!(matches!(
            parse_announce_response(&announce[..19], 8, false),
            Err(ResponseError::BadPacket(_))
        ));
        assert!(matches!(
            parse_announce_response(&announce[..25], 8, false),
            Err(ResponseError::BadPacket(_))
        ));
        assert!(matches!(
            parse_announce_response(&connect, 5, false),
            Err(ResponseError::BadPacket(_))
        ));

        // Over IPv6 (BEP 15): 18-byte peers; a 6-byte entry is refused.
        let mut announce6 = announce[..20].to_vec();
        announce6.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1a, 0xe1]);
        let reply = parse_announce_response(&announce6, 8, true).unwrap();
        assert_eq!(
            reply.peers,
            vec!["[::1]:6881".parse::<SocketAddr>().unwrap()]
        );
        assert!(matches!(
            parse_announce_response(&announce, 8, true),
            Err(ResponseError::BadPacket(_))
        ));
    }

    /// Many torrents to one tracker: one connect, its connection id on
    /// every announce (BEP 15: valid a minute), one socket.
    #[test]
    fn one_connection_id_serves_every_torrent_of_a_tracker() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let url = format!("udp://{}", server.local_addr().unwrap());
        let worker = std::thread::spawn(move || {
            let (mut connects, mut ids, mut sources) = (0, Vec::new(), Vec::new());
            let mut buf = [0u8; 2048];
            for _ in 0..6 {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                let packet = &buf[..n];
                sources.push(from);
                if n == 16 {
                    connects += 1;
                    let mut reply = vec![0, 0, 0, 0];
                    reply.extend_from_slice(&packet[12..16]);
                    reply.extend_from_slice(&77u64.to_be_bytes());
                    server.send_to(&reply, from).unwrap();
                } else {
                    ids.push(u64::from_be_bytes(packet[..8].try_into().unwrap()));
                    let mut reply = vec![0, 0, 0, 1];
                    reply.extend_from_slice(&packet[12..16]);
                    reply.extend_from_slice(&[0, 0, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
                    server.send_to(&reply, from).unwrap();
                }
            }
            (connects, ids, sources)
        });
        let mut tracker = UdpTracker::resolve(&url, None)
            .unwrap()
            .with_first_timeout(Duration::from_secs(5));
        for b in 0..5u8 {
            let request = AnnounceRequest {
                info_hash: InfoHash::from_bytes([b; 20]),
                ..request()
            };
            tracker.announce(&request).unwrap();
        }
        let (connects, ids, sources) = worker.join().unwrap();
        assert_eq!(connects, 1);
        assert_eq!(ids, vec![77; 5]);
        assert!(sources.iter().all(|s| *s == sources[0]), "{sources:?}");
    }

    #[test]
    fn a_silent_tracker_times_out() {
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let url = format!("udp://{}/announce", silent.local_addr().unwrap());
        let mut tracker = UdpTracker::resolve(&url, None)
            .unwrap()
            .with_first_timeout(Duration::from_millis(50));
        let start = Instant::now();
        assert!(matches!(
            tracker.announce(&request()),
            Err(TrackerError::Timeout(_))
        ));
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
