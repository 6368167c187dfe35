//! The routing table (BEP 5): 160 k-buckets of at most K nodes, one per
//! length of the prefix a node shares with our id. Only nodes that have
//! answered one of our queries enter it, so every entry was reachable
//! once. A full bucket gives the place of a node whose id BEP 42 does not
//! allow at its address to one whose id it allows, so a flood of made-up
//! ids cannot crowd out real nodes. Pure: time comes in as arguments.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::node_id::{bep42_valid, NodeId, NodeInfo};

/// Nodes per bucket.
pub const K: usize = 8;
/// Buckets: one per shared-prefix length.
pub const BUCKETS: usize = 160;
/// A node that answered within this long is good; after it, questionable.
pub const GOOD_FOR: Duration = Duration::from_secs(15 * 60);
/// Unanswered queries in a row that make a node bad.
pub const BAD_AFTER_FAILURES: u8 = 2;
/// A bucket untouched this long is refreshed.
pub const REFRESH_AFTER: Duration = Duration::from_secs(15 * 60);

/// What we know of a node's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Good,
    Questionable,
    Bad,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub node: NodeInfo,
    pub last_response: Instant,
    pub failures: u8,
    /// Its id is one BEP 42 allows at its address.
    pub verified: bool,
}

impl Entry {
    pub fn health(&self, now: Instant) -> Health {
        if self.failures >= BAD_AFTER_FAILURES {
            Health::Bad
        } else if now.saturating_duration_since(self.last_response) < GOOD_FOR {
            Health::Good
        } else {
            Health::Questionable
        }
    }
}

#[derive(Debug, Clone)]
struct Bucket {
    entries: Vec<Entry>,
    last_changed: Instant,
}

/// What [`RoutingTable::responded`] did with a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Updated,
    Added,
    /// Took the place of a bad node, or of an unverified one (BEP 42).
    Replaced,
    /// Its bucket is full of good or questionable nodes.
    BucketFull,
    /// Our own id.
    Ignored,
}

pub struct RoutingTable {
    own: NodeId,
    buckets: Vec<Bucket>,
}

impl RoutingTable {
    pub fn new(own: NodeId, now: Instant) -> RoutingTable {
        RoutingTable {
            own,
            buckets: vec![
                Bucket {
                    entries: Vec::new(),
                    last_changed: now,
                };
                BUCKETS
            ],
        }
    }

    pub fn own_id(&self) -> NodeId {
        self.own
    }

    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.entries.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The same nodes under a new id of ours (BEP 42: our address
    /// changed), each in the bucket it now belongs to; nodes beyond a
    /// bucket's room are dropped.
    pub fn with_new_id(&self, own: NodeId, now: Instant) -> RoutingTable {
        let mut table = RoutingTable::new(own, now);
        let mut entries: Vec<&Entry> = self.entries().collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.last_response));
        for e in entries {
            if let Some(bucket) = own
                .shared_prefix_bits(&e.node.id.0)
                .and_then(|i| table.buckets.get_mut(i))
            {
                if bucket.entries.len() < K {
                    bucket.entries.push(e.clone());
                }
            }
        }
        table
    }

    pub fn contains(&self, addr: &SocketAddr) -> bool {
        self.entries().any(|e| e.node.addr == *addr)
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.buckets.iter().flat_map(|b| b.entries.iter())
    }

    /// True when a node with this id at this address would find room (a
    /// free slot, a bad node to replace, or an unverified one if it is
    /// verified): worth pinging it to find out if it is real.
    pub fn has_room_for(&self, id: &NodeId, addr: &SocketAddr, now: Instant) -> bool {
        let verified = bep42_valid(id, addr.ip());
        match self.bucket(id) {
            Some(b) => {
                b.entries.len() < K
                    || b.entries.iter().any(|e| e.health(now) == Health::Bad)
                    || (verified && b.entries.iter().any(|e| !e.verified))
            }
            None => false,
        }
    }

    fn bucket(&self, id: &NodeId) -> Option<&Bucket> {
        self.own
            .shared_prefix_bits(&id.0)
            .and_then(|i| self.buckets.get(i))
    }

    /// A node answered one of our queries.
    pub fn responded(&mut self, node: NodeInfo, now: Instant) -> Seen {
        let Some(index) = self.own.shared_prefix_bits(&node.id.0) else {
            return Seen::Ignored;
        };
        // The same address under another id: the node restarted with a
        // new id; forget the old one.
        for (i, bucket) in self.buckets.iter_mut().enumerate() {
            if i != index {
                bucket.entries.retain(|e| e.node.addr != node.addr);
            }
        }
        let Some(bucket) = self.buckets.get_mut(index) else {
            return Seen::Ignored;
        };
        if let Some(entry) = bucket
            .entries
            .iter_mut()
            .find(|e| e.node.id == node.id || e.node.addr == node.addr)
        {
            entry.verified = bep42_valid(&node.id, node.addr.ip());
            entry.node = node;
            entry.last_response = now;
            entry.failures = 0;
            bucket.last_changed = now;
            return Seen::Updated;
        }
        let fresh = Entry {
            node,
            last_response: now,
            failures: 0,
            verified: bep42_valid(&node.id, node.addr.ip()),
        };
        if bucket.entries.len() < K {
            bucket.entries.push(fresh);
            bucket.last_changed = now;
            return Seen::Added;
        }
        if let Some(bad) = bucket
            .entries
            .iter_mut()
            .find(|e| e.health(now) == Health::Bad)
        {
            *bad = fresh;
            bucket.last_changed = now;
            return Seen::Replaced;
        }
        if fresh.verified {
            // The unverified node heard from least recently goes.
            if let Some(unverified) = bucket
                .entries
                .iter_mut()
                .filter(|e| !e.verified)
                .min_by_key(|e| e.last_response)
            {
                *unverified = fresh;
                bucket.last_changed = now;
                return Seen::Replaced;
            }
        }
        Seen::BucketFull
    }

    /// A query to `addr` went unanswered.
    pub fn failed(&mut self, addr: &SocketAddr) {
        for bucket in &mut self.buckets {
            for entry in bucket.entries.iter_mut().filter(|e| e.node.addr == *addr) {
                entry.failures = entry.failures.saturating_add(1);
            }
        }
    }

    /// The `count` non-bad nodes closest to `target`.
    pub fn closest(&self, target: &[u8; 20], count: usize, now: Instant) -> Vec<NodeInfo> {
        let mut nodes: Vec<&Entry> = self
            .entries()
            .filter(|e| e.health(now) != Health::Bad)
            .collect();
        nodes.sort_by_key(|e| e.node.id.distance(target));
        nodes.into_iter().take(count).map(|e| e.node).collect()
    }

    /// Questionable nodes to ping (at most `count`), so that they become
    /// good again or bad and replaceable.
    pub fn questionable(&self, count: usize, now: Instant) -> Vec<NodeInfo> {
        self.entries()
            .filter(|e| e.health(now) == Health::Questionable)
            .take(count)
            .map(|e| e.node)
            .collect()
    }

    /// A target in the bucket unchanged for longest, if it is past
    /// [`REFRESH_AFTER`]; the bucket counts as refreshed from now.
    /// Only buckets up to the deepest non-empty one: deeper ones have no
    /// node to find.
    pub fn refresh_target(&mut self, now: Instant) -> Option<NodeId> {
        let deepest = self.buckets.iter().rposition(|b| !b.entries.is_empty())?;
        let (index, bucket) = self
            .buckets
            .iter_mut()
            .enumerate()
            .take(deepest + 1)
            .filter(|(_, b)| now.saturating_duration_since(b.last_changed) >= REFRESH_AFTER)
            .min_by_key(|(_, b)| b.last_changed)?;
        bucket.last_changed = now;
        Some(self.own.random_in_bucket(index))
    }

    /// Good and questionable nodes, to save (best first).
    pub fn nodes_to_keep(&self, now: Instant) -> Vec<NodeInfo> {
        let mut entries: Vec<&Entry> = self
            .entries()
            .filter(|e| e.health(now) != Health::Bad)
            .collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.last_response));
        entries.into_iter().map(|e| e.node).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddrV4};

    use super::super::node_id::bep42_id;
    use super::*;

    fn node(first: u8, rest: u8, port: u16) -> NodeInfo {
        let mut id = [rest; 20];
        id[0] = first;
        NodeInfo {
            id: NodeId(id),
            addr: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), port)),
        }
    }

    fn public_addr(n: u8) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(81, 2, 3, n), 6881))
    }

    /// A node at a public address with an id BEP 42 allows there, if that
    /// id falls in the far bucket of a zero id.
    fn verified_far(n: u8) -> Option<NodeInfo> {
        let addr = public_addr(n);
        let id = bep42_id(addr.ip(), n, [n; 20]);
        (id.0[0] & 0x80 != 0).then_some(NodeInfo { id, addr })
    }

    /// A node at a public address with an id of the far bucket that BEP 42
    /// does not allow there.
    fn unverified_far(n: u8) -> NodeInfo {
        let addr = public_addr(n);
        let mut id = bep42_id(addr.ip(), n, [n; 20]);
        id.0[1] ^= 0x01;
        id.0[0] |= 0x80;
        NodeInfo { id, addr }
    }

    #[test]
    fn a_verified_node_takes_the_place_of_an_unverified_one() {
        let now = Instant::now();
        let mut table = RoutingTable::new(NodeId([0; 20]), now);
        // Only ids whose first bit is 1 already fit the far bucket.
        let verified: Vec<NodeInfo> = (1..=60).filter_map(verified_far).take(2).collect();
        assert_eq!(verified.len(), 2, "no BEP 42 id in the far bucket");
        for n in 100..100 + K as u8 {
            let u = unverified_far(n);
            assert!(!bep42_valid(&u.id, u.addr.ip()));
            assert_eq!(table.responded(u, now), Seen::Added);
        }
        let newcomer = verified[0];
        assert!(table.has_room_for(&newcomer.id, &newcomer.addr, now));
        assert_eq!(table.responded(newcomer, now), Seen::Replaced);
        assert!(table.contains(&newcomer.addr));
        assert_eq!(table.len(), K);
        // An unverified newcomer finds no room among good nodes.
        let late = unverified_far(200);
        assert!(!table.has_room_for(&late.id, &late.addr, now));
        assert_eq!(table.responded(late, now), Seen::BucketFull);
        // Local addresses are exempt: they count as verified.
        assert!(table.entries().filter(|e| e.verified).count() == 1);
        let local = node(0x80, 1, 1);
        assert!(bep42_valid(&local.id, local.addr.ip()));
    }

    #[test]
    fn a_new_id_keeps_the_nodes_in_their_new_buckets() {
        let now = Instant::now();
        let mut table = RoutingTable::new(NodeId([0; 20]), now);
        table.responded(node(0x80, 1, 1), now);
        table.responded(node(0x40, 1, 2), now);
        let moved = table.with_new_id(NodeId([0xff; 20]), now);
        assert_eq!(moved.own_id(), NodeId([0xff; 20]));
        assert_eq!(moved.len(), 2);
        assert!(moved.contains(&node(0x40, 1, 2).addr));
    }

    #[test]
    fn fills_a_bucket_then_refuses_until_a_node_goes_bad() {
        let now = Instant::now();
        let mut table = RoutingTable::new(NodeId([0; 20]), now);
        // All 0x80..: the far bucket (0 shared bits).
        for i in 0..K as u8 {
            assert_eq!(
                table.responded(node(0x80, i, 1000 + u16::from(i)), now),
                Seen::Added
            );
        }
        let extra = node(0x80, 0xee, 2000);
        assert!(!table.has_room_for(&extra.id, &extra.addr, now));
        assert_eq!(table.responded(extra, now), Seen::BucketFull);
        assert_eq!(table.len(), K);
        let victim = node(0x80, 3, 1003).addr;
        table.failed(&victim);
        assert!(!table.has_room_for(&extra.id, &extra.addr, now));
        table.failed(&victim);
        assert!(table.has_room_for(&extra.id, &extra.addr, now));
        assert_eq!(table.responded(extra, now), Seen::Replaced);
        assert!(!table.contains(&victim));
        assert!(table.contains(&extra.addr));
        // Another bucket is independent.
        assert_eq!(table.responded(node(0x40, 1, 3000), now), Seen::Added);
    }

    #[test]
    fn health_follows_last_response_and_failures() {
        let now = Instant::now();
        let mut table = RoutingTable::new(NodeId([0; 20]), now);
        let n = node(0x80, 1, 1);
        table.responded(n, now);
        let later = now + GOOD_FOR + Duration::from_secs(1);
        assert_eq!(table.questionable(10, now), vec![]);
        assert_eq!(table.questionable(10, later), vec![n]);
        table.responded(n, later);
        assert_eq!(table.entries().next().unwrap().health(later), Health::Good);
        table.failed(&n.addr);
        table.failed(&n.addr);
        assert_eq!(table.entries().next().unwrap().health(later), Health::Bad);
        assert!(table.closest(&[0; 20], 8, later).is_empty());
        // An answer makes it good again.
        table.responded(n, later);
        assert_eq!(table.closest(&[0; 20], 8, later), vec![n]);
    }

    #[test]
    fn own_id_never_enters_and_a_new_id_at_an_address_replaces_the_old() {
        let now = Instant::now();
        let mut table = RoutingTable::new(NodeId([0; 20]), now);
        let mut me = node(0, 0, 1);
        me.id = NodeId([0; 20]);
        assert_eq!(table.responded(me, now), Seen::Ignored);
        table.responded(node(0x80, 1, 7), now);
        table.responded(node(0x01, 1, 7), now);
        assert_eq!(table.len(), 1);
        assert_eq!(table.entries().next().unwrap().node, node(0x01, 1, 7));
    }

    #[test]
    fn closest_sorts_by_xor_distance() {
        let now = Instant::now();
        let mut table = RoutingTable::new(NodeId([0; 20]), now);
        let far = node(0xf0, 0, 1);
        let near = node(0x10, 0, 2);
        let mid = node(0x30, 0, 3);
        for n in [far, near, mid] {
            table.responded(n, now);
        }
        let mut target = [0u8; 20];
        target[0] = 0x11;
        assert_eq!(table.closest(&target, 2, now), vec![near, mid]);
    }

    #[test]
    fn refresh_picks_stale_buckets_once() {
        let now = Instant::now();
        let mut table = RoutingTable::new(NodeId([0; 20]), now);
        assert_eq!(table.refresh_target(now + REFRESH_AFTER), None);
        table.responded(node(0x20, 0, 1), now);
        assert_eq!(table.refresh_target(now), None);
        let later = now + REFRESH_AFTER;
        let mut seen = Vec::new();
        while let Some(target) = table.refresh_target(later) {
            seen.push(NodeId([0; 20]).shared_prefix_bits(&target.0).unwrap());
        }
        seen.sort();
        // Buckets 0 and 1 are empty but shallower than the node's bucket 2.
        assert_eq!(seen, vec![0, 1, 2]);
    }
}
