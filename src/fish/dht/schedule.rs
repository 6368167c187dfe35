//! When each info-hash is looked up and announced next, and the nodes
//! that were closest to it last time, so a re-announce asks those few
//! (get_peers for a fresh token, then announce_peer) instead of walking
//! the DHT again.
//!
//! Memory is the point: fish must hold 100,000 torrents in about 350
//! bytes each, everything included. Per info-hash this keeps the
//! addresses of [`CACHED_NODES`] nodes in compact form (6 bytes each, 18
//! on IPv6), the due time as whole seconds (4 bytes) and two small
//! counters: 44 bytes an entry with its key on IPv4 (80 on IPv6), about
//! 60 (105) with the hash table's spare room. Not kept:
//! - the nodes' ids: a cached node's answer brings its id back, and the
//!   lookup places it then;
//! - their tokens: a token lives 5 to 10 minutes (BEP 5, libtorrent) and
//!   the announce interval is 15, so a cached token would always be
//!   stale; the get_peers to the cached node fetches a fresh one (and the
//!   peers we want anyway).
//!
//! A cache for every hash rather than a bounded LRU: announces come
//! round in a cycle, and a cycle over more hashes than the LRU holds
//! would miss every time. Pure: time comes in as arguments.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::node_id::{decode_peer, encode_peer};
use crate::torrent::InfoHash;

/// Nodes cached per info-hash: a re-announce costs about twice this many
/// queries while they stay the closest.
pub const CACHED_NODES: usize = 3;

#[derive(Debug, Clone, Copy)]
struct Job<const N: usize> {
    /// Due at this many seconds after the schedule's epoch.
    next: u32,
    /// Lookups in a row that found no peer (adopting magnets).
    empty: u8,
    announce: bool,
    /// Compact addresses; all zeros is an empty slot.
    nodes: [[u8; N]; CACHED_NODES],
}

/// A due lookup, as the shell starts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub info_hash: InfoHash,
    pub announce: bool,
    /// Empty: a full lookup.
    pub cached: Vec<SocketAddr>,
}

/// The jobs of one node; `N` is the compact address size of its family
/// (6 or 18).
#[derive(Debug)]
pub struct Schedule<const N: usize> {
    epoch: Instant,
    jobs: HashMap<InfoHash, Job<N>>,
}

/// A schedule for either family, chosen when the node starts.
#[derive(Debug)]
pub enum AnySchedule {
    V4(Schedule<6>),
    V6(Schedule<18>),
}

macro_rules! both {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnySchedule::V4($s) => $e,
            AnySchedule::V6($s) => $e,
        }
    };
}

impl AnySchedule {
    pub fn new(v6: bool, now: Instant) -> AnySchedule {
        if v6 {
            AnySchedule::V6(Schedule::new(now))
        } else {
            AnySchedule::V4(Schedule::new(now))
        }
    }
    pub fn set_swarms(&mut self, wanted: &HashMap<InfoHash, bool>, now: Instant) {
        both!(self, s => s.set_swarms(wanted, now))
    }
    pub fn take_due(
        &mut self,
        now: Instant,
        max: usize,
        interval: impl Fn(bool) -> Duration,
    ) -> Vec<Due> {
        both!(self, s => s.take_due(now, max, interval))
    }
    pub fn finished(
        &mut self,
        hash: &InfoHash,
        closest: &[SocketAddr],
        retry: Option<(bool, Duration)>,
        now: Instant,
    ) {
        both!(self, s => s.finished(hash, closest, retry, now))
    }
    pub fn empty_lookups(&self, hash: &InfoHash) -> u8 {
        both!(self, s => s.empty_lookups(hash))
    }
    pub fn retry_now(&mut self, hash: &InfoHash, now: Instant) {
        both!(self, s => s.retry_now(hash, now))
    }
    pub fn len(&self) -> usize {
        both!(self, s => s.len())
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn announced(&self) -> usize {
        both!(self, s => s.announced())
    }
    pub fn contains(&self, hash: &InfoHash) -> bool {
        both!(self, s => s.contains(hash))
    }
}

fn pack<const N: usize>(addr: &SocketAddr) -> Option<[u8; N]> {
    <[u8; N]>::try_from(encode_peer(addr).as_slice()).ok()
}

impl<const N: usize> Schedule<N> {
    pub fn new(now: Instant) -> Schedule<N> {
        Schedule {
            epoch: now,
            jobs: HashMap::new(),
        }
    }

    fn secs(&self, at: Instant) -> u32 {
        u32::try_from(at.saturating_duration_since(self.epoch).as_secs()).unwrap_or(u32::MAX)
    }

    /// The swarms to look up (`true`: also announce); new ones are due
    /// now, gone ones forgotten with their cache.
    pub fn set_swarms(&mut self, wanted: &HashMap<InfoHash, bool>, now: Instant) {
        let now = self.secs(now);
        self.jobs.retain(|hash, _| wanted.contains_key(hash));
        for (hash, announce) in wanted {
            let job = self.jobs.entry(*hash).or_insert(Job {
                next: now,
                empty: 0,
                announce: *announce,
                nodes: [[0; N]; CACHED_NODES],
            });
            // A magnet adopted since is announced from now on.
            if *announce && !job.announce {
                job.next = now;
            }
            job.announce = *announce;
        }
    }

    /// Up to `max` due jobs, most overdue first; each is due again after
    /// `interval(announce)` (sooner if [`Schedule::finished`] says so).
    /// One pass over all jobs: at 100,000 that is a few hundred
    /// microseconds, and it runs a few times a second at most.
    pub fn take_due(
        &mut self,
        now: Instant,
        max: usize,
        interval: impl Fn(bool) -> Duration,
    ) -> Vec<Due> {
        let at = self.secs(now);
        let mut picked: Vec<(u32, InfoHash)> = Vec::new();
        for (hash, job) in &self.jobs {
            if job.next > at || max == 0 {
                continue;
            }
            let place = picked.partition_point(|(next, _)| *next <= job.next);
            if place < max {
                picked.insert(place, (job.next, *hash));
                picked.truncate(max);
            }
        }
        let mut out = Vec::new();
        for (_, hash) in picked {
            let Some(job) = self.jobs.get_mut(&hash) else {
                continue;
            };
            let again = u32::try_from(interval(job.announce).as_secs()).unwrap_or(u32::MAX);
            job.next = at.saturating_add(again.max(1));
            out.push(Due {
                info_hash: hash,
                announce: job.announce,
                cached: job
                    .nodes
                    .iter()
                    .filter(|n| n.iter().any(|b| *b != 0))
                    .filter_map(|n| decode_peer(n))
                    .collect(),
            });
        }
        out
    }

    /// A lookup of `hash` ended: `closest` (closest first) are cached for
    /// next time; empty means the cache failed and the next lookup of it
    /// is a full one. `retry`: Some((found_peers, wait)) for a magnet
    /// being adopted: no peers makes it due again after `wait`.
    pub fn finished(
        &mut self,
        hash: &InfoHash,
        closest: &[SocketAddr],
        retry: Option<(bool, Duration)>,
        now: Instant,
    ) {
        let at = self.secs(now);
        let Some(job) = self.jobs.get_mut(hash) else {
            return;
        };
        job.nodes = [[0; N]; CACHED_NODES];
        for (slot, addr) in job
            .nodes
            .iter_mut()
            .zip(closest.iter().filter_map(pack::<N>))
        {
            *slot = addr;
        }
        if let Some((found, wait)) = retry {
            if found {
                job.empty = 0;
            } else {
                job.empty = job.empty.saturating_add(1);
                let wait = u32::try_from(wait.as_secs()).unwrap_or(u32::MAX);
                job.next = job.next.min(at.saturating_add(wait));
            }
        }
    }

    /// Makes `hash` due now (its cached nodes all failed: a full lookup
    /// should follow at once, not an interval later).
    pub fn retry_now(&mut self, hash: &InfoHash, now: Instant) {
        let at = self.secs(now);
        if let Some(job) = self.jobs.get_mut(hash) {
            job.next = at;
        }
    }

    /// Lookups in a row that found no peer.
    pub fn empty_lookups(&self, hash: &InfoHash) -> u8 {
        self.jobs.get(hash).map_or(0, |j| j.empty)
    }

    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    pub fn contains(&self, hash: &InfoHash) -> bool {
        self.jobs.contains_key(hash)
    }

    /// Jobs that announce (the announce cycle's length in lookups).
    pub fn announced(&self) -> usize {
        self.jobs.values().filter(|j| j.announce).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> InfoHash {
        InfoHash::from_bytes([n; 20])
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    const QUARTER: Duration = Duration::from_secs(900);

    #[test]
    fn the_entry_stays_small() {
        assert_eq!(std::mem::size_of::<Job<6>>(), 24);
        assert_eq!(std::mem::size_of::<(InfoHash, Job<6>)>(), 44);
        assert_eq!(std::mem::size_of::<(InfoHash, Job<18>)>(), 80);
    }

    #[test]
    fn new_hashes_are_due_now_most_overdue_first_then_after_the_interval() {
        let t0 = Instant::now();
        let mut s = Schedule::<6>::new(t0);
        let wanted: HashMap<InfoHash, bool> =
            [(hash(1), true), (hash(2), false)].into_iter().collect();
        s.set_swarms(&wanted, t0);
        let interval = |announce: bool| {
            if announce {
                QUARTER
            } else {
                Duration::from_secs(60)
            }
        };
        let due = s.take_due(t0, 1, interval);
        assert_eq!(due.len(), 1);
        let due2 = s.take_due(t0, 5, interval);
        assert_eq!(due2.len(), 1, "the first one is not due again");
        assert!(s
            .take_due(t0 + Duration::from_secs(59), 5, interval)
            .is_empty());
        let again = s.take_due(t0 + Duration::from_secs(60), 5, interval);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].info_hash, hash(2));
        assert!(!again[0].announce);
        assert_eq!(s.take_due(t0 + QUARTER, 5, interval).len(), 2);
        // Gone swarms go, an adopted magnet is announced from now on.
        let wanted: HashMap<InfoHash, bool> = [(hash(2), true)].into_iter().collect();
        s.set_swarms(&wanted, t0 + QUARTER);
        assert_eq!(s.len(), 1);
        assert_eq!(s.announced(), 1);
        let due = s.take_due(t0 + QUARTER, 5, interval);
        assert_eq!(due.len(), 1);
        assert!(due[0].announce);
        assert_eq!(s.take_due(t0, 0, interval), vec![]);
    }

    #[test]
    fn the_closest_nodes_are_cached_per_family_and_cleared_on_failure() {
        let t0 = Instant::now();
        let wanted: HashMap<InfoHash, bool> = [(hash(1), true)].into_iter().collect();
        let nodes = [
            addr("1.2.3.4:1"),
            addr("[2001:db8::1]:2"),
            addr("5.6.7.8:3"),
            addr("9.9.9.9:4"),
            addr("10.0.0.1:5"),
        ];
        let mut v4 = Schedule::<6>::new(t0);
        v4.set_swarms(&wanted, t0);
        v4.finished(&hash(1), &nodes, None, t0);
        let due = v4.take_due(t0, 1, |_| QUARTER);
        // The other family is never cached; only the first three fit.
        assert_eq!(
            due[0].cached,
            vec![addr("1.2.3.4:1"), addr("5.6.7.8:3"), addr("9.9.9.9:4")]
        );
        let mut v6 = Schedule::<18>::new(t0);
        v6.set_swarms(&wanted, t0);
        v6.finished(&hash(1), &nodes, None, t0);
        assert_eq!(
            v6.take_due(t0, 1, |_| QUARTER)[0].cached,
            vec![addr("[2001:db8::1]:2")]
        );
        v4.finished(&hash(1), &[], None, t0);
        assert_eq!(v4.take_due(t0 + QUARTER, 1, |_| QUARTER)[0].cached, vec![]);
        assert!(v4.take_due(t0 + QUARTER, 1, |_| QUARTER).is_empty());
        v4.retry_now(&hash(1), t0 + QUARTER);
        assert_eq!(v4.take_due(t0 + QUARTER, 1, |_| QUARTER).len(), 1);
    }

    #[test]
    fn an_adopting_magnet_without_peers_is_retried_sooner() {
        let t0 = Instant::now();
        let wanted: HashMap<InfoHash, bool> = [(hash(1), false)].into_iter().collect();
        let mut s = Schedule::<6>::new(t0);
        s.set_swarms(&wanted, t0);
        let minute = |_| Duration::from_secs(60);
        assert_eq!(s.take_due(t0, 1, minute).len(), 1);
        s.finished(&hash(1), &[], Some((false, Duration::from_secs(5))), t0);
        assert_eq!(s.empty_lookups(&hash(1)), 1);
        assert!(s
            .take_due(t0 + Duration::from_secs(4), 1, minute)
            .is_empty());
        assert_eq!(s.take_due(t0 + Duration::from_secs(5), 1, minute).len(), 1);
        s.finished(&hash(1), &[], Some((true, Duration::from_secs(5))), t0);
        assert_eq!(s.empty_lookups(&hash(1)), 0);
    }
}
