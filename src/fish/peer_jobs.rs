//! A few threads with small stacks, each taking one (info-hash, peer) at
//! a time and running a blocking job on it: dialling a peer for the event
//! loop, fetching a magnet's metadata. std connects only blocking, a
//! connect can take seconds, and the event loop must never wait; a thread
//! per peer would cost far more memory on a Pi than a small fixed pool.

use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::torrent::InfoHash;

/// A finished job.
pub struct Done<R> {
    pub info_hash: InfoHash,
    pub addr: SocketAddr,
    pub result: R,
    /// From the moment a thread took it.
    pub took: Duration,
}

/// The threads and the jobs given to them.
pub struct PeerJobs<R> {
    requests: SyncSender<(InfoHash, SocketAddr)>,
    results: Receiver<Done<R>>,
    threads: usize,
    in_flight: usize,
}

impl<R: Send + 'static> PeerJobs<R> {
    /// `threads` threads named `name-N` with `stack`-byte stacks; at most
    /// `queue` jobs wait for a thread (more are refused, see [`submit`]).
    ///
    /// [`submit`]: PeerJobs::submit
    pub fn start(
        name: &str,
        threads: usize,
        stack: usize,
        queue: usize,
        job: impl Fn(InfoHash, SocketAddr) -> R + Send + Sync + 'static,
    ) -> std::io::Result<PeerJobs<R>> {
        let (requests, waiting) = mpsc::sync_channel::<(InfoHash, SocketAddr)>(queue);
        let (done, results) = mpsc::channel();
        let waiting = Arc::new(Mutex::new(waiting));
        let job = Arc::new(job);
        for n in 0..threads {
            let waiting = Arc::clone(&waiting);
            let done = done.clone();
            let job = Arc::clone(&job);
            std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .stack_size(stack)
                .spawn(move || loop {
                    let next = match waiting.lock() {
                        Ok(waiting) => waiting.recv(),
                        Err(_) => return,
                    };
                    // The sender is gone: the owner dropped us.
                    let Ok((info_hash, addr)) = next else { return };
                    let started = Instant::now();
                    let result = job(info_hash, addr);
                    let finished = Done {
                        info_hash,
                        addr,
                        result,
                        took: started.elapsed(),
                    };
                    if done.send(finished).is_err() {
                        return;
                    }
                })?;
        }
        Ok(PeerJobs {
            requests,
            results,
            threads,
            in_flight: 0,
        })
    }

    /// Queues a job; false when the queue is full (the peer will be
    /// offered again later).
    pub fn submit(&mut self, info_hash: InfoHash, addr: SocketAddr) -> bool {
        match self.requests.try_send((info_hash, addr)) {
            Ok(()) => {
                self.in_flight += 1;
                true
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Jobs that ended since the last call.
    pub fn finished(&mut self) -> Vec<Done<R>> {
        let done: Vec<Done<R>> = self.results.try_iter().collect();
        self.in_flight = self.in_flight.saturating_sub(done.len());
        done
    }

    /// Jobs queued or running.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Threads with nothing to do now.
    pub fn free(&self) -> usize {
        self.threads.saturating_sub(self.in_flight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_jobs_and_bounds_the_queue() {
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock().unwrap();
        let blocker = Arc::clone(&gate);
        let (started, started_rx) = mpsc::channel();
        let started = Mutex::new(started);
        let mut jobs = PeerJobs::start("test", 1, 64 * 1024, 1, move |_, addr| {
            let _ = started.lock().map(|s| s.send(()));
            let _wait = blocker.lock();
            addr.port()
        })
        .unwrap();
        let hash = InfoHash::from_bytes([1; 20]);
        let addr = |port| SocketAddr::from(([127, 0, 0, 1], port));
        assert!(jobs.submit(hash, addr(1)));
        started_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        // The one thread is busy with job 1; the queue holds one more.
        assert!(jobs.submit(hash, addr(2)));
        assert!(!jobs.submit(hash, addr(3)), "the queue is full");
        assert_eq!(jobs.in_flight(), 2);
        assert_eq!(jobs.free(), 0);
        drop(held);
        let mut ports = Vec::new();
        let start = Instant::now();
        while ports.len() < 2 && start.elapsed() < Duration::from_secs(5) {
            ports.extend(jobs.finished().into_iter().map(|d| d.result));
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(ports, vec![1, 2]);
        assert_eq!(jobs.in_flight(), 0);
        assert_eq!(jobs.free(), 1);
    }
}
