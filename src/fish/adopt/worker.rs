//! The blocking shell around [`MetadataFetch`]: a couple of threads (a
//! [`PeerJobs`] pool, like the diallers) that each connect to one peer, run the
//! fetch over a plain blocking socket with timeouts and an overall
//! deadline, and report the outcome. The event loop never waits for them.

use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::fetch::{FetchError, MetadataFetch, Progress};
use crate::fish::dial::CONNECT_TIMEOUT;
use crate::fish::peer_jobs::{Done, PeerJobs};
use crate::fish::wire::SessionConfig;
use crate::torrent::InfoHash;

/// Fetching threads: two peers at a time is plenty for a metadata-only
/// peer (a fetch is a few round trips), and costs little on a Pi.
pub const WORKERS: usize = 2;
/// Enough for a blocking socket, SHA-1 and the fetch state (on the heap).
const WORKER_STACK: usize = 128 * 1024;
/// All a peer gets for one attempt, connect included.
pub const ATTEMPT_DEADLINE: Duration = Duration::from_secs(30);
/// How often a blocked read wakes to check the deadline.
const READ_TICK: Duration = Duration::from_secs(1);
/// Attempts waiting for a thread, at most (the book re-offers the rest).
const QUEUE: usize = 8;

/// Why an attempt ended without metadata.
#[derive(Debug)]
pub enum AttemptError {
    Connect(std::io::Error),
    Io(std::io::Error),
    HungUp,
    Timeout,
    Fetch(FetchError),
}

impl AttemptError {
    /// True when the peer must not be asked again for this torrent.
    pub fn peer_is_bad(&self) -> bool {
        matches!(self, AttemptError::Fetch(e) if e.peer_is_bad())
    }
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptError::Connect(e) => write!(f, "cannot connect: {e}"),
            AttemptError::Io(e) => write!(f, "connection failed: {e}"),
            AttemptError::HungUp => f.write_str("hung up"),
            AttemptError::Timeout => {
                write!(f, "no metadata within {} s", ATTEMPT_DEADLINE.as_secs())
            }
            AttemptError::Fetch(e) => write!(f, "{e}"),
        }
    }
}

/// A finished attempt: the verified info dictionary, as received.
pub type Attempt = Done<Result<Vec<u8>, AttemptError>>;

/// The fetching threads.
pub struct Workers {
    jobs: PeerJobs<Result<Vec<u8>, AttemptError>>,
}

impl Workers {
    pub fn start(config: SessionConfig, local: Option<IpAddr>) -> std::io::Result<Workers> {
        let jobs = PeerJobs::start(
            "adopt",
            WORKERS,
            WORKER_STACK,
            QUEUE,
            move |info_hash, addr| attempt(config, local, info_hash, addr),
        )?;
        Ok(Workers { jobs })
    }

    /// Threads free to take an attempt now.
    pub fn free(&self) -> usize {
        self.jobs.free()
    }

    /// Queues an attempt; false when the queue is full.
    pub fn start_attempt(&mut self, info_hash: InfoHash, addr: SocketAddr) -> bool {
        self.jobs.submit(info_hash, addr)
    }

    /// Attempts that ended since the last call.
    pub fn finished(&mut self) -> Vec<Attempt> {
        self.jobs.finished()
    }
}

/// One peer, one try: connect, handshake, fetch, verify.
/// `local`: the outgoing interface to connect from (None: the system's).
pub fn attempt(
    config: SessionConfig,
    local: Option<IpAddr>,
    info_hash: InfoHash,
    addr: SocketAddr,
) -> Result<Vec<u8>, AttemptError> {
    let deadline = Instant::now() + ATTEMPT_DEADLINE;
    let mut stream =
        crate::sys::connect_from(local, &addr, CONNECT_TIMEOUT).map_err(AttemptError::Connect)?;
    let _ = stream.set_nodelay(true);
    stream
        .set_read_timeout(Some(READ_TICK))
        .and_then(|()| stream.set_write_timeout(Some(ATTEMPT_DEADLINE)))
        .map_err(AttemptError::Io)?;
    let (mut fetch, first) = MetadataFetch::start(config, info_hash);
    stream.write_all(&first).map_err(AttemptError::Io)?;
    let mut buffer = vec![0u8; 16 * 1024];
    let mut out = Vec::new();
    loop {
        if Instant::now() >= deadline {
            return Err(AttemptError::Timeout);
        }
        let n = match stream.read(&mut buffer) {
            Ok(0) => return Err(AttemptError::HungUp),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => return Err(AttemptError::Io(e)),
        };
        out.clear();
        let progress = fetch
            .receive(buffer.get(..n).unwrap_or(&[]), &mut out)
            .map_err(AttemptError::Fetch)?;
        if !out.is_empty() {
            stream.write_all(&out).map_err(AttemptError::Io)?;
        }
        if let Progress::Done(metadata) = progress {
            return Ok(metadata);
        }
    }
}
