//! Which peer to ask next for which magnet's metadata (pure: the clock is
//! a parameter). Discovery hands a peer over once per announce, which may
//! be many minutes apart, so the book remembers every peer of a pending
//! magnet and retries the ones that failed for reasons that pass (refused
//! connection, no metadata yet) with a growing delay. A peer that sent
//! wrong or broken metadata is never asked again for that torrent.
//!
//! Peers that dial us about a pending magnet are remembered apart, by IP
//! (their source port changes with every connection): one that failed is
//! refused for a while when it calls again, one that lied for much longer.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::torrent::InfoHash;

/// Peers remembered per magnet, at most (a bound on memory; more are
/// dropped, discovery brings them again later).
pub const MAX_PEERS_PER_MAGNET: usize = 200;
/// First retry of a peer after a failure, doubled per failure up to the cap.
pub const FIRST_RETRY: Duration = Duration::from_secs(10);
pub const MAX_RETRY: Duration = Duration::from_secs(30 * 60);
/// Callers (peers that dialled us) remembered per magnet, at most.
pub const MAX_CALLERS_PER_MAGNET: usize = 64;
/// How long a caller that sent wrong metadata is refused, doubled per
/// offence up to the cap. Not forever, unlike a dialled peer: an IP may be
/// shared (NAT) by honest peers, and it is the caller's own connection.
pub const FIRST_BAD_BACKOFF: Duration = Duration::from_secs(60 * 60);
pub const MAX_BAD_BACKOFF: Duration = Duration::from_secs(24 * 60 * 60);

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

/// What is known about one IP that dialled us about one magnet.
#[derive(Debug, Clone, Copy)]
struct Caller {
    ip: IpAddr,
    /// Refused until then.
    until: Instant,
    failures: u32,
    bad: bool,
}

/// How we stand with an IP that dials us about a pending magnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Welcome,
    /// It failed lately (no metadata, too slow): not yet again.
    BackedOff,
    /// It sent wrong or broken metadata lately.
    Bad,
}

/// The peers of every pending magnet.
#[derive(Debug, Default)]
pub struct PeerBook {
    magnets: HashMap<InfoHash, Vec<Peer>>,
    callers: HashMap<InfoHash, Vec<Caller>>,
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
        self.callers.remove(info_hash);
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

impl PeerBook {
    /// How we stand with `ip`, which dials us about `info_hash`.
    pub fn caller_standing(&self, info_hash: &InfoHash, ip: IpAddr, now: Instant) -> Standing {
        let Some(caller) = self
            .callers
            .get(info_hash)
            .and_then(|callers| callers.iter().find(|c| c.ip == ip))
        else {
            return Standing::Welcome;
        };
        match (caller.until > now, caller.bad) {
            (false, _) => Standing::Welcome,
            (true, true) => Standing::Bad,
            (true, false) => Standing::BackedOff,
        }
    }

    /// Records how a fetch from a caller that did not give the metadata
    /// ended. When the book is full for the magnet, the caller whose
    /// refusal ends first is forgotten.
    pub fn caller_finished(
        &mut self,
        info_hash: &InfoHash,
        ip: IpAddr,
        outcome: AttemptOutcome,
        now: Instant,
    ) {
        if !self.magnets.contains_key(info_hash) {
            return;
        }
        let callers = self.callers.entry(*info_hash).or_default();
        let index = match callers.iter().position(|c| c.ip == ip) {
            Some(index) => index,
            None => {
                let fresh = Caller {
                    ip,
                    until: now,
                    failures: 0,
                    bad: false,
                };
                if callers.len() < MAX_CALLERS_PER_MAGNET {
                    callers.push(fresh);
                    callers.len() - 1
                } else {
                    let Some((oldest, _)) = callers.iter().enumerate().min_by_key(|(_, c)| c.until)
                    else {
                        return;
                    };
                    if let Some(slot) = callers.get_mut(oldest) {
                        *slot = fresh;
                    }
                    oldest
                }
            }
        };
        let Some(caller) = callers.get_mut(index) else {
            return;
        };
        caller.failures = caller.failures.saturating_add(1);
        caller.bad |= outcome == AttemptOutcome::Bad;
        let delay = if caller.bad {
            bad_backoff(caller.failures)
        } else {
            retry_delay(caller.failures)
        };
        caller.until = now + delay;
    }
}

/// How long a caller that lied is refused after its `failures`-th failure.
pub fn bad_backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_BAD_BACKOFF
        .saturating_mul(1 << doublings)
        .min(MAX_BAD_BACKOFF)
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
    fn callers_are_backed_off_by_ip_and_liars_for_longer() {
        let now = Instant::now();
        let ip = |n: u8| IpAddr::from([127, 0, 0, n]);
        let mut book = PeerBook::new();
        book.caller_finished(&hash(1), ip(1), AttemptOutcome::Failed, now);
        assert_eq!(
            book.caller_standing(&hash(1), ip(1), now),
            Standing::Welcome,
            "not a pending magnet: nothing remembered"
        );
        book.add_magnet(hash(1));
        book.add_magnet(hash(2));
        book.caller_finished(&hash(1), ip(1), AttemptOutcome::Failed, now);
        book.caller_finished(&hash(1), ip(2), AttemptOutcome::Bad, now);
        let standing = |book: &PeerBook, h, n, at| book.caller_standing(&hash(h), ip(n), at);
        assert_eq!(standing(&book, 1, 1, now), Standing::BackedOff);
        assert_eq!(standing(&book, 1, 2, now), Standing::Bad);
        assert_eq!(standing(&book, 1, 3, now), Standing::Welcome);
        assert_eq!(standing(&book, 2, 2, now), Standing::Welcome, "per magnet");
        let later = now + FIRST_RETRY;
        assert_eq!(standing(&book, 1, 1, later), Standing::Welcome);
        assert_eq!(standing(&book, 1, 2, later), Standing::Bad);
        assert_eq!(
            standing(&book, 1, 2, now + FIRST_BAD_BACKOFF),
            Standing::Welcome
        );
        // A second failure waits twice as long; a lie after failures
        // counts as a lie.
        book.caller_finished(&hash(1), ip(1), AttemptOutcome::Failed, later);
        assert_eq!(
            standing(&book, 1, 1, later + FIRST_RETRY),
            Standing::BackedOff
        );
        book.caller_finished(&hash(1), ip(1), AttemptOutcome::Bad, later);
        assert_eq!(
            standing(&book, 1, 1, later + FIRST_BAD_BACKOFF * 4 - FIRST_RETRY),
            Standing::Bad
        );
        // Full: the caller whose refusal ends first makes room.
        for n in 0..MAX_CALLERS_PER_MAGNET as u8 {
            book.caller_finished(&hash(2), ip(10 + n), AttemptOutcome::Failed, now);
        }
        book.caller_finished(&hash(2), ip(200), AttemptOutcome::Bad, later);
        assert_eq!(standing(&book, 2, 200, later), Standing::Bad);
        assert_eq!(standing(&book, 2, 10, now), Standing::Welcome);
        assert_eq!(standing(&book, 2, 11, now), Standing::BackedOff);
        book.remove_magnet(&hash(1));
        assert_eq!(standing(&book, 1, 2, now), Standing::Welcome);
    }

    #[test]
    fn retry_delays() {
        assert_eq!(bad_backoff(1), FIRST_BAD_BACKOFF);
        assert_eq!(bad_backoff(3), FIRST_BAD_BACKOFF * 4);
        assert_eq!(bad_backoff(100), MAX_BAD_BACKOFF);
        assert_eq!(retry_delay(1), FIRST_RETRY);
        assert_eq!(retry_delay(2), FIRST_RETRY * 2);
        assert_eq!(retry_delay(100), MAX_RETRY);
    }
}
