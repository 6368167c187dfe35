//! An iterative lookup (BEP 5, Kademlia): ask the closest nodes we know
//! about a target, learn closer ones from their answers, ask those, until
//! the K closest that answer have all been asked. For get_peers the tokens
//! they gave let us announce_peer to them afterwards.
//!
//! A re-announce starts from the few nodes the last lookup found closest
//! ([`Lookup::cached`]) with a window as narrow as that: while they are
//! still the closest it costs a get_peers and an announce_peer each; a
//! closer node they name, or one that stopped answering, widens it to
//! whoever is next.
//!
//! A pure state machine: the shell sends the queries [`Lookup::next_queries`]
//! asks for and feeds back answers and timeouts. Bounded: it remembers at
//! most [`MAX_CANDIDATES`] nodes and [`MAX_PEERS`] peers.

use std::net::SocketAddr;

use super::node_id::{NodeId, NodeInfo};
use super::routing::K;

/// Queries in flight per lookup.
pub const ALPHA: usize = 3;
/// Nodes a lookup keeps in view, closest first.
pub const MAX_CANDIDATES: usize = 32;
/// Peers a lookup collects, at most.
pub const MAX_PEERS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Fresh,
    Asked,
    Answered { token: Option<Vec<u8>> },
    Failed,
}

#[derive(Debug, Clone)]
struct Candidate {
    node: NodeInfo,
    distance: [u8; 20],
    state: State,
}

#[derive(Debug, Clone)]
pub struct Lookup {
    target: [u8; 20],
    /// How many of the closest nodes must answer: K for a full lookup,
    /// the cache's size for a re-announce.
    width: usize,
    candidates: Vec<Candidate>,
    peers: Vec<SocketAddr>,
}

impl Lookup {
    /// A full lookup from the routing table's closest nodes.
    pub fn new(target: [u8; 20], seeds: &[NodeInfo]) -> Lookup {
        let mut lookup = Lookup {
            target,
            width: K,
            candidates: Vec::new(),
            peers: Vec::new(),
        };
        lookup.add_nodes(seeds);
        lookup
    }

    /// A narrow lookup from the nodes cached for this target (addresses
    /// only: they count as closest until they answer with their ids).
    pub fn cached(target: [u8; 20], nodes: &[SocketAddr]) -> Lookup {
        let mut lookup = Lookup {
            target,
            width: nodes.len().clamp(1, K),
            candidates: Vec::new(),
            peers: Vec::new(),
        };
        for addr in nodes.iter().take(MAX_CANDIDATES) {
            if lookup.candidates.iter().all(|c| c.node.addr != *addr) {
                lookup.candidates.push(Candidate {
                    node: NodeInfo {
                        id: NodeId(target),
                        addr: *addr,
                    },
                    distance: [0; 20],
                    state: State::Fresh,
                });
            }
        }
        lookup
    }

    pub fn target(&self) -> &[u8; 20] {
        &self.target
    }

    /// Learns nodes (from a seed list or an answer), keeping the closest.
    pub fn add_nodes(&mut self, nodes: &[NodeInfo]) {
        for node in nodes {
            if self.candidates.iter().any(|c| c.node.addr == node.addr) {
                continue;
            }
            let distance = node.id.distance(&self.target);
            let at = self.candidates.partition_point(|c| c.distance <= distance);
            if at >= MAX_CANDIDATES {
                continue;
            }
            self.candidates.insert(
                at,
                Candidate {
                    node: *node,
                    distance,
                    state: State::Fresh,
                },
            );
            self.candidates.truncate(MAX_CANDIDATES);
        }
    }

    /// The `width` closest nodes not known to have failed.
    fn window(&self) -> impl Iterator<Item = &Candidate> {
        self.candidates
            .iter()
            .filter(|c| c.state != State::Failed)
            .take(self.width)
    }

    fn in_flight(&self) -> usize {
        self.candidates
            .iter()
            .filter(|c| c.state == State::Asked)
            .count()
    }

    /// Nodes to query now (each marked asked): the closest fresh ones in
    /// the window, keeping at most [`ALPHA`] queries in flight and asking
    /// for no more than `budget` (what the query rate allows now).
    pub fn next_queries(&mut self, budget: usize) -> Vec<NodeInfo> {
        let room = ALPHA.saturating_sub(self.in_flight()).min(budget);
        let chosen: Vec<SocketAddr> = self
            .window()
            .filter(|c| c.state == State::Fresh)
            .take(room)
            .map(|c| c.node.addr)
            .collect();
        let mut out = Vec::new();
        for c in &mut self.candidates {
            if chosen.contains(&c.node.addr) {
                c.state = State::Asked;
                out.push(c.node);
            }
        }
        out
    }

    /// An answer from `from` (whose id is `id`), with the nodes, peers
    /// and token it gave.
    pub fn answered(
        &mut self,
        from: SocketAddr,
        id: NodeId,
        nodes: &[NodeInfo],
        peers: &[SocketAddr],
        token: Option<Vec<u8>>,
    ) {
        if let Some(c) = self.candidates.iter_mut().find(|c| c.node.addr == from) {
            c.state = State::Answered { token };
            // A cached node's place was a guess until now.
            c.node.id = id;
            c.distance = id.distance(&self.target);
            self.candidates.sort_by_key(|c| c.distance);
        }
        for peer in peers {
            if self.peers.len() < MAX_PEERS && !self.peers.contains(peer) {
                self.peers.push(*peer);
            }
        }
        self.add_nodes(nodes);
    }

    /// A query to `from` timed out or was answered with an error.
    pub fn failed(&mut self, from: SocketAddr) {
        if let Some(c) = self.candidates.iter_mut().find(|c| c.node.addr == from) {
            c.state = State::Failed;
        }
    }

    /// Done when nothing in the window is left to ask or awaited.
    pub fn is_done(&self) -> bool {
        self.window()
            .all(|c| matches!(c.state, State::Answered { .. }))
    }

    /// The closest answering nodes and the tokens they gave: where to
    /// announce_peer.
    pub fn announce_targets(&self) -> Vec<(NodeInfo, Vec<u8>)> {
        self.window()
            .filter_map(|c| match &c.state {
                State::Answered { token: Some(t) } => Some((c.node, t.clone())),
                _ => None,
            })
            .collect()
    }

    /// Nodes that answered (closest first).
    pub fn answered_count(&self) -> usize {
        self.candidates
            .iter()
            .filter(|c| matches!(c.state, State::Answered { .. }))
            .count()
    }

    pub fn take_peers(&mut self) -> Vec<SocketAddr> {
        std::mem::take(&mut self.peers)
    }

    /// True for a lookup narrowed to cached nodes.
    pub fn is_narrow(&self) -> bool {
        self.width < K
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddrV4};

    use super::*;

    const ANY: usize = usize::MAX;

    /// A node whose id's first byte is `d` (distance `d` from a zero target).
    fn node(d: u8) -> NodeInfo {
        let mut id = [0u8; 20];
        id[0] = d;
        NodeInfo {
            id: NodeId(id),
            addr: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, d), 6881)),
        }
    }

    #[test]
    fn asks_alpha_closest_first_then_closer_nodes_learned() {
        let seeds: Vec<NodeInfo> = (10..20).map(node).collect();
        let mut lookup = Lookup::new([0; 20], &seeds);
        let first = lookup.next_queries(ANY);
        assert_eq!(first, vec![node(10), node(11), node(12)]);
        assert!(lookup.next_queries(ANY).is_empty(), "alpha in flight");
        // node 10 knows closer nodes 1 and 2.
        lookup.answered(
            node(10).addr,
            node(10).id,
            &[node(1), node(2)],
            &[],
            Some(b"t10".to_vec()),
        );
        assert_eq!(lookup.next_queries(ANY), vec![node(1)]);
        lookup.answered(node(11).addr, node(11).id, &[], &[], None);
        lookup.failed(node(12).addr);
        assert_eq!(lookup.next_queries(ANY), vec![node(2), node(13)]);
        assert!(!lookup.is_done());
    }

    #[test]
    fn done_when_the_k_closest_answered_and_announces_to_those_with_tokens() {
        let seeds: Vec<NodeInfo> = (1..=12).map(node).collect();
        let mut lookup = Lookup::new([0; 20], &seeds);
        let peer: SocketAddr = "1.2.3.4:5".parse().unwrap();
        let mut rounds = 0;
        while !lookup.is_done() {
            rounds += 1;
            assert!(rounds < 20, "lookup never ends");
            for n in lookup.next_queries(ANY) {
                if n == node(2) {
                    lookup.failed(n.addr);
                } else {
                    let token = (n.id.0[0] % 2 == 1).then(|| vec![n.id.0[0]]);
                    lookup.answered(n.addr, n.id, &[], &[peer, peer], token);
                }
            }
        }
        // The window: 1, 3..=9 (2 failed); odd ones gave tokens.
        let targets: Vec<u8> = lookup
            .announce_targets()
            .iter()
            .map(|(n, t)| {
                assert_eq!(t, &vec![n.id.0[0]]);
                n.id.0[0]
            })
            .collect();
        assert_eq!(targets, vec![1, 3, 5, 7, 9]);
        assert_eq!(lookup.take_peers(), vec![peer]);
        assert!(lookup.next_queries(ANY).is_empty());
    }

    #[test]
    fn an_empty_lookup_is_done_and_the_view_is_bounded() {
        let lookup = Lookup::new([0; 20], &[]);
        assert!(lookup.is_done());
        let many: Vec<NodeInfo> = (1..=200).map(node).collect();
        let mut lookup = Lookup::new([0; 20], &many);
        assert_eq!(lookup.candidates.len(), MAX_CANDIDATES);
        lookup.add_nodes(&[node(1)]);
        assert_eq!(lookup.candidates.len(), MAX_CANDIDATES, "no duplicates");
        assert_eq!(lookup.next_queries(ANY), vec![node(1), node(2), node(3)]);
    }

    #[test]
    fn the_rate_budget_caps_the_queries_asked_for() {
        let seeds: Vec<NodeInfo> = (1..=12).map(node).collect();
        let mut lookup = Lookup::new([0; 20], &seeds);
        assert!(lookup.next_queries(0).is_empty());
        assert_eq!(lookup.next_queries(1), vec![node(1)]);
        assert_eq!(lookup.next_queries(ANY), vec![node(2), node(3)]);
    }

    /// A re-announce from cached nodes: while they are the closest it asks
    /// only them; a closer node one of them names is asked too, and one
    /// that stopped answering is replaced by the next closest learned.
    #[test]
    fn a_cached_lookup_asks_only_the_cached_nodes_while_they_are_closest() {
        let cached = [node(2).addr, node(3).addr, node(4).addr];
        let mut lookup = Lookup::cached([0; 20], &cached);
        assert!(lookup.is_narrow());
        let asked = lookup.next_queries(ANY);
        assert_eq!(asked.len(), 3);
        for n in [node(2), node(3), node(4)] {
            // Each names farther nodes only.
            lookup.answered(n.addr, n.id, &[node(9), node(10)], &[], Some(vec![1]));
        }
        assert!(lookup.is_done());
        assert!(lookup.next_queries(ANY).is_empty());
        let targets: Vec<SocketAddr> = lookup
            .announce_targets()
            .iter()
            .map(|(n, _)| n.addr)
            .collect();
        assert_eq!(targets, cached);

        // Node 3 is gone and node 2 knows a closer one, node 1.
        let mut lookup = Lookup::cached([0; 20], &cached);
        lookup.next_queries(ANY);
        lookup.answered(
            node(2).addr,
            node(2).id,
            &[node(1), node(9)],
            &[],
            Some(vec![1]),
        );
        lookup.failed(node(3).addr);
        lookup.answered(node(4).addr, node(4).id, &[], &[], Some(vec![1]));
        assert_eq!(lookup.next_queries(ANY), vec![node(1)]);
        lookup.answered(node(1).addr, node(1).id, &[], &[], Some(vec![1]));
        assert!(lookup.is_done());
        let targets: Vec<u8> = lookup
            .announce_targets()
            .iter()
            .map(|(n, _)| n.id.0[0])
            .collect();
        assert_eq!(targets, vec![1, 2, 4]);
    }
}
