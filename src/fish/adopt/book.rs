//! Which peer to ask next for which magnet's metadata (pure: the clock is
//! a parameter). Discovery hands a peer over once per announce, which may
//! be many minutes apart, so the book remembers every peer of a pending
//! magnet and retries the ones that failed for reasons that pass (refused
//! connection, no metadata yet) with a growing delay. A peer that sent
//! wrong or broken metadata is never asked again for that torrent.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::torrent::InfoHash;

/// Peers remembered per magnet, at most (a bound on memory; more are
/// dropped, discovery brings them again later).
pub const MAX_PEERS_PER_MAGNET: usize = 200;
/// First retry of a peer after a failure, doubled per failure up to the cap.
pub const FIRST_RETRY: Duration = Duration::from_secs(10);
pub const MAX_RETRY: Duration = Duration::from_secs(30 * 60);

/// What is known about one peer of one magnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    /// Not asked yet, or due again at this time.
    Due(Instant),
    /// An attempt is running.
    Busy,
    /// It sent wrong or broken metadata.
    Bad,
}

#[derive(Debug, Clone)]
struct Peer {
    addr: SocketAddr,
    state: PeerState,
    failures: u32,
}

/// The peers of every pending magnet.
#[derive(Debug, Default)]
pub struct PeerBook {
    magnets: HashMap<InfoHash, Vec<Peer>>,
    /// The order magnets are served in (fair: round-robin).
    order: Vec<InfoHash>,
    cursor: usize,
}

/// How an attempt ended, for the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// It may work later.
    Failed,
    /// The peer lied: never again for this torrent.
    Bad,
}

impl PeerBook {
    pub fn new() -> PeerBook {
        PeerBook::default()
    }

    /// Starts looking for peers of `info_hash`.
    pub fn add_magnet(&mut self, info_hash: InfoHash) {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.magnets.entry(info_hash) {
            slot.insert(Vec::new());
            self.order.push(info_hash);
        }
    }

    /// Stops (adopted, or already held).
    pub fn remove_magnet(&mut self, info_hash: &InfoHash) {
        self.magnets.remove(info_hash);
        self.order.retain(|h| h != info_hash);
    }

    pub fn wants(&self, info_hash: &InfoHash) -> bool {
        self.magnets.contains_key(info_hash)
    }

    /// The magnets still pending.
    pub fn pending(&self) -> impl Iterator<Item = &InfoHash> {
        self.order.iter()
    }

    pub fn pending_count(&self) -> usize {
        self.order.len()
    }

    /// Peers known for `info_hash` that are not marked bad.
    pub fn usable_peers(&self, info_hash: &InfoHash) -> usize {
        self.magnets.get(info_hash).map_or(0, |peers| {
            peers.iter().filter(|p| p.state != PeerState::Bad).count()
        })
    }

    /// Remembers a peer of a pending magnet; a known peer that was waiting
    /// for a retry is due at once (discovery just saw it alive). False when
    /// the magnet is not pending or the book is full for it.
    pub fn add_peer(&mut self, info_hash: &InfoHash, addr: SocketAddr, now: Instant) -> bool {
        let Some(peers) = self.magnets.get_mut(info_hash) else {
            return false;
        };
        if let Some(peer) = peers.iter_mut().find(|p| p.addr == addr) {
            if let PeerState::Due(at) = peer.state {
                peer.state = PeerState::Due(at.min(now));
            }
            return true;
        }
        if peers.len() >= MAX_PEERS_PER_MAGNET {
            return false;
        }
        peers.push(Peer {
            addr,
            state: PeerState::Due(now),
            failures: 0,
        });
        true
    }

    /// Up to `limit` attempts to start now, one magnet after the other,
    /// and never two at once with the same peer address. The peers
    /// returned are marked busy.
    pub fn next_attempts(&mut self, now: Instant, limit: usize) -> Vec<(InfoHash, SocketAddr)> {
        let mut chosen: Vec<(InfoHash, SocketAddr)> = Vec::new();
        let mut busy: Vec<SocketAddr> = self
            .magnets
            .values()
            .flatten()
            .filter(|p| p.state == PeerState::Busy)
            .map(|p| p.addr)
            .collect();
        let count = self.order.len();
        let mut idle_rounds = 0;
        while chosen.len() < limit && count > 0 && idle_rounds < count {
            self.cursor %= count;
            let Some(hash) = self.order.get(self.cursor).copied() else {
                break;
            };
            self.cursor += 1;
            let Some(peers) = self.magnets.get_mut(&hash) else {
                idle_rounds += 1;
                continue;
            };
            let pick = peers
                .iter_mut()
                .filter(|p| !busy.contains(&p.addr))
                .filter_map(|p| match p.state {
                    PeerState::Due(at) if at <= now => Some((at, p)),
                    _ => None,
                })
                .min_by_key(|(at, _)| *at)
                .map(|(_, p)| p);
            match pick {
                Some(peer) => {
                    peer.state = PeerState::Busy;
                    busy.push(peer.addr);
                    chosen.push((hash, peer.addr));
                    idle_rounds = 0;
                }
                None => idle_rounds += 1,
            }
        }
        chosen
    }

    /// Records how an attempt that did not give the metadata ended.
    pub fn finished(
        &mut self,
        info_hash: &InfoHash,
        addr: SocketAddr,
        outcome: AttemptOutcome,
        now: Instant,
    ) {
        let Some(peer) = self
            .magnets
            .get_mut(info_hash)
            .and_then(|peers| peers.iter_mut().find(|p| p.addr == addr))
        else {
            return;
        };
        peer.failures = peer.failures.saturating_add(1);
        peer.state = match outcome {
            AttemptOutcome::Bad => PeerState::Bad,
            AttemptOutcome::Failed => PeerState::Due(now + retry_delay(peer.failures)),
        };
    }
}

/// When a peer is asked again after its `failures`-th failure in a row.
pub fn retry_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_RETRY.saturating_mul(1 << doublings).min(MAX_RETRY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> InfoHash {
        InfoHash::from_bytes([n; 20])
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn peers_only_for_pending_magnets_and_bounded() {
        let now = Instant::now();
        let mut book = PeerBook::new();
        assert!(!book.add_peer(&hash(1), addr(1), now));
        book.add_magnet(hash(1));
        for port in 0..MAX_PEERS_PER_MAGNET as u16 {
            assert!(book.add_peer(&hash(1), addr(1000 + port), now));
        }
        assert!(!book.add_peer(&hash(1), addr(9), now));
        assert!(book.add_peer(&hash(1), addr(1000), now), "known peer");
        assert_eq!(book.usable_peers(&hash(1)), MAX_PEERS_PER_MAGNET);
        book.remove_magnet(&hash(1));
        assert!(!book.wants(&hash(1)));
        assert_eq!(book.pending_count(), 0);
    }

    #[test]
    fn round_robin_limit_and_no_peer_twice() {
        let now = Instant::now();
        let mut book = PeerBook::new();
        book.add_magnet(hash(1));
        book.add_magnet(hash(2));
        book.add_peer(&hash(1), addr(1), now);
        book.add_peer(&hash(1), addr(2), now);
        book.add_peer(&hash(2), addr(1), now);
        book.add_peer(&hash(2), addr(3), now);
        let first = book.next_attempts(now, 2);
        assert_eq!(first, vec![(hash(1), addr(1)), (hash(2), addr(3))]);
        // addr(1) is busy for magnet 1, so magnet 2 cannot use it yet.
        let second = book.next_attempts(now, 5);
        assert_eq!(second, vec![(hash(1), addr(2))]);
        assert_eq!(book.next_attempts(now, 5), vec![]);
    }

    #[test]
    fn failures_back_off_bad_peers_never_return() {
        let now = Instant::now();
        let mut book = PeerBook::new();
        book.add_magnet(hash(1));
        book.add_peer(&hash(1), addr(1), now);
        book.add_peer(&hash(1), addr(2), now);
        assert_eq!(book.next_attempts(now, 2).len(), 2);
        book.finished(&hash(1), addr(1), AttemptOutcome::Failed, now);
        book.finished(&hash(1), addr(2), AttemptOutcome::Bad, now);
        assert_eq!(book.usable_peers(&hash(1)), 1);
        assert_eq!(book.next_attempts(now, 2), vec![]);
        let later = now + FIRST_RETRY;
        assert_eq!(book.next_attempts(later, 2), vec![(hash(1), addr(1))]);
        book.finished(&hash(1), addr(1), AttemptOutcome::Failed, later);
        assert_eq!(book.next_attempts(later + FIRST_RETRY, 2), vec![]);
        // Discovery saw it again: due at once.
        book.add_peer(&hash(1), addr(1), later);
        assert_eq!(book.next_attempts(later, 2), vec![(hash(1), addr(1))]);
        // A bad peer stays bad even when discovery brings it again.
        book.add_peer(&hash(1), addr(2), later);
        assert_eq!(book.next_attempts(later + MAX_RETRY, 2), vec![]);
    }

    #[test]
    fn retry_delays() {
        assert_eq!(retry_delay(1), FIRST_RETRY);
        assert_eq!(retry_delay(2), FIRST_RETRY * 2);
        assert_eq!(retry_delay(100), MAX_RETRY);
    }
}
