//! Peers other nodes announced to us (announce_peer), handed out in
//! get_peers answers. Bounded per info-hash, in info-hashes and in total,
//! so a flood of announces costs a fixed amount of memory; entries expire
//! after 30 minutes (announcers repeat every 15 or so).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::torrent::InfoHash;

pub const EXPIRE_AFTER: Duration = Duration::from_secs(30 * 60);
pub const MAX_PER_HASH: usize = 100;
pub const MAX_HASHES: usize = 500;
pub const MAX_TOTAL: usize = 5_000;
/// Peers in one get_peers answer (fits a 1500-byte packet).
pub const MAX_ANSWERED: usize = 50;

#[derive(Default)]
pub struct PeerStore {
    swarms: HashMap<InfoHash, Vec<(SocketAddr, Instant)>>,
    total: usize,
}

impl PeerStore {
    /// Records an announce; false when it was refused for room.
    pub fn announce(&mut self, info_hash: InfoHash, peer: SocketAddr, now: Instant) -> bool {
        if let Some(peers) = self.swarms.get_mut(&info_hash) {
            if let Some(slot) = peers.iter_mut().find(|(p, _)| *p == peer) {
                slot.1 = now;
                return true;
            }
        }
        if self.total >= MAX_TOTAL {
            self.expire(now);
        }
        if self.total >= MAX_TOTAL {
            return false;
        }
        if !self.swarms.contains_key(&info_hash) && self.swarms.len() >= MAX_HASHES {
            return false;
        }
        let peers = self.swarms.entry(info_hash).or_default();
        if peers.len() >= MAX_PER_HASH {
            // The oldest announce makes room: fresher peers are likelier alive.
            if let Some(oldest) = peers
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(i, _)| i)
            {
                peers.swap_remove(oldest);
                self.total -= 1;
            }
        }
        peers.push((peer, now));
        self.total += 1;
        true
    }

    /// Live peers of a swarm, at most [`MAX_ANSWERED`].
    pub fn peers(&self, info_hash: &InfoHash, now: Instant) -> Vec<SocketAddr> {
        self.swarms
            .get(info_hash)
            .map(|peers| {
                peers
                    .iter()
                    .filter(|(_, at)| now.saturating_duration_since(*at) < EXPIRE_AFTER)
                    .take(MAX_ANSWERED)
                    .map(|(p, _)| *p)
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn expire(&mut self, now: Instant) {
        let mut total = 0;
        self.swarms.retain(|_, peers| {
            peers.retain(|(_, at)| now.saturating_duration_since(*at) < EXPIRE_AFTER);
            total += peers.len();
            !peers.is_empty()
        });
        self.total = total;
    }

    pub fn len(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn peer(n: u32) -> SocketAddr {
        SocketAddr::new(Ipv4Addr::from(0x0a00_0000 + n).into(), 6881)
    }

    fn hash(n: u32) -> InfoHash {
        let mut b = [0u8; 20];
        b[..4].copy_from_slice(&n.to_be_bytes());
        InfoHash::from_bytes(b)
    }

    #[test]
    fn announces_are_returned_until_they_expire() {
        let now = Instant::now();
        let mut store = PeerStore::default();
        assert!(store.announce(hash(1), peer(1), now));
        assert!(store.announce(hash(1), peer(1), now), "a repeat refreshes");
        assert_eq!(store.len(), 1);
        assert_eq!(store.peers(&hash(1), now), vec![peer(1)]);
        assert!(store.peers(&hash(2), now).is_empty());
        let late = now + EXPIRE_AFTER;
        assert!(store.peers(&hash(1), late).is_empty());
        store.expire(late);
        assert!(store.is_empty());
    }

    #[test]
    fn bounded_per_hash_in_hashes_and_in_total() {
        let now = Instant::now();
        let mut store = PeerStore::default();
        for n in 0..(MAX_PER_HASH as u32 + 10) {
            assert!(store.announce(hash(0), peer(n), now + Duration::from_millis(n.into())));
        }
        assert_eq!(store.len(), MAX_PER_HASH);
        // The oldest ones were pushed out.
        let later = now + Duration::from_secs(1);
        assert!(!store.peers(&hash(0), later).contains(&peer(0)));
        assert_eq!(store.peers(&hash(0), later).len(), MAX_ANSWERED);
        for h in 1..MAX_HASHES as u32 {
            assert!(store.announce(hash(h), peer(1), now));
        }
        assert!(
            !store.announce(hash(999_999), peer(1), now),
            "too many hashes"
        );
        let mut store = PeerStore::default();
        let mut refused = 0;
        for n in 0..(MAX_TOTAL as u32 + 100) {
            if !store.announce(hash(n % MAX_HASHES as u32), peer(n), now) {
                refused += 1;
            }
        }
        assert_eq!(store.len(), MAX_TOTAL);
        assert_eq!(refused, 100);
    }
}
