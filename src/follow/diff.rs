//! The plan, as a pure function: what the listing wants against what the
//! client holds → which torrents to add, which to remove, which to keep.
//!
//! The safety rules live here, so they are table-tested apart from any I/O:
//! - only torrents carrying our label are ever removed; a torrent without
//!   it is never touched, even when the listing names it;
//! - removals need a listing that was fetched, parsed and fully resolved
//!   (every entry's info-hash known): an entry we could not identify might
//!   be one of ours, and removing it would delete data the main box still
//!   lists;
//! - an empty listing removes nothing unless explicitly allowed: a server
//!   that lost its files looks exactly like that.

use std::collections::BTreeSet;

use super::client::ClientTorrent;
use crate::torrent::InfoHash;

/// What came of fetching and reading the listing.
#[derive(Debug, Clone, PartialEq)]
pub enum ListingState {
    /// Every entry's info-hash is known.
    Complete(Vec<InfoHash>),
    /// Some entries could not be identified (their .torrent did not load);
    /// the known hashes are still added, nothing is removed.
    Partial { known: Vec<InfoHash>, why: String },
    /// Fetching or parsing failed.
    Unavailable(String),
}

/// What to do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Listed, not in the client at all.
    pub add: Vec<InfoHash>,
    /// Labelled, no longer listed.
    pub remove: Vec<ClientTorrent>,
    /// Labelled and listed.
    pub keep: Vec<ClientTorrent>,
    /// Listed and in the client without our label: left alone.
    pub not_ours: Vec<ClientTorrent>,
    /// Why removals were withheld, when they were.
    pub removals_withheld: Option<String>,
}

/// Decides the changes that make the client match the listing.
pub fn plan(listing: &ListingState, client: &[ClientTorrent], allow_empty: bool) -> Plan {
    let (listed, withheld) = match listing {
        ListingState::Complete(hashes) if hashes.is_empty() && !allow_empty => (
            hashes.as_slice(),
            Some("the listing is empty (pass --allow-empty or set allow_empty to remove every followed torrent)".to_string()),
        ),
        ListingState::Complete(hashes) => (hashes.as_slice(), None),
        ListingState::Partial { known, why } => (
            known.as_slice(),
            Some(format!("not every listed torrent could be identified ({why})")),
        ),
        ListingState::Unavailable(why) => (&[][..], Some(format!("no usable listing ({why})"))),
    };
    let wanted: BTreeSet<InfoHash> = listed.iter().copied().collect();
    let held: BTreeSet<InfoHash> = client.iter().map(|t| t.info_hash).collect();
    let mut plan = Plan {
        removals_withheld: withheld,
        ..Plan::default()
    };
    let mut added = BTreeSet::new();
    for hash in listed {
        if !held.contains(hash) && added.insert(*hash) {
            plan.add.push(*hash);
        }
    }
    for torrent in client {
        let listed = wanted.contains(&torrent.info_hash);
        match (torrent.labelled, listed) {
            (true, true) => plan.keep.push(torrent.clone()),
            (true, false) if plan.removals_withheld.is_none() => plan.remove.push(torrent.clone()),
            (true, false) => plan.keep.push(torrent.clone()),
            (false, true) => plan.not_ours.push(torrent.clone()),
            (false, false) => {}
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> InfoHash {
        InfoHash::from_bytes([n; 20])
    }

    fn t(n: u8, labelled: bool) -> ClientTorrent {
        ClientTorrent {
            info_hash: h(n),
            name: format!("t{n}"),
            labelled,
        }
    }

    fn hashes(ts: &[ClientTorrent]) -> Vec<u8> {
        ts.iter().map(|t| t.info_hash.as_bytes()[0]).collect()
    }

    struct Case {
        name: &'static str,
        listing: ListingState,
        client: Vec<ClientTorrent>,
        allow_empty: bool,
        add: Vec<u8>,
        remove: Vec<u8>,
        keep: Vec<u8>,
        not_ours: Vec<u8>,
        withheld: bool,
    }

    #[test]
    fn safety_rules() {
        let complete = |ns: &[u8]| ListingState::Complete(ns.iter().map(|n| h(*n)).collect());
        let cases = vec![
            Case {
                name: "adds missing, removes unlisted labelled, keeps listed",
                listing: complete(&[1, 2, 3]),
                client: vec![t(1, true), t(4, true), t(5, false)],
                allow_empty: false,
                add: vec![2, 3],
                remove: vec![4],
                keep: vec![1],
                not_ours: vec![],
                withheld: false,
            },
            Case {
                name: "unlabelled torrents are never removed nor re-added",
                listing: complete(&[1]),
                client: vec![t(1, false), t(2, false)],
                allow_empty: false,
                add: vec![],
                remove: vec![],
                keep: vec![],
                not_ours: vec![1],
                withheld: false,
            },
            Case {
                name: "empty listing removes nothing by default",
                listing: complete(&[]),
                client: vec![t(1, true), t(2, false)],
                allow_empty: false,
                add: vec![],
                remove: vec![],
                keep: vec![1],
                not_ours: vec![],
                withheld: true,
            },
            Case {
                name: "empty listing with allow_empty removes every labelled torrent",
                listing: complete(&[]),
                client: vec![t(1, true), t(2, false)],
                allow_empty: true,
                add: vec![],
                remove: vec![1],
                keep: vec![],
                not_ours: vec![],
                withheld: false,
            },
            Case {
                name: "fetch failure removes nothing, even with allow_empty",
                listing: ListingState::Unavailable("HTTP 500".into()),
                client: vec![t(1, true), t(2, false)],
                allow_empty: true,
                add: vec![],
                remove: vec![],
                keep: vec![1],
                not_ours: vec![],
                withheld: true,
            },
            Case {
                name: "partial listing adds the known, removes nothing",
                listing: ListingState::Partial {
                    known: vec![h(2)],
                    why: "1 .torrent could not be fetched".into(),
                },
                client: vec![t(1, true)],
                allow_empty: false,
                add: vec![2],
                remove: vec![],
                keep: vec![1],
                not_ours: vec![],
                withheld: true,
            },
            Case {
                name: "a hash listed twice is added once",
                listing: complete(&[7, 7]),
                client: vec![],
                allow_empty: false,
                add: vec![7],
                remove: vec![],
                keep: vec![],
                not_ours: vec![],
                withheld: false,
            },
        ];
        for c in cases {
            let p = plan(&c.listing, &c.client, c.allow_empty);
            let add: Vec<u8> = p.add.iter().map(|x| x.as_bytes()[0]).collect();
            assert_eq!(add, c.add, "{}: add", c.name);
            assert_eq!(hashes(&p.remove), c.remove, "{}: remove", c.name);
            assert_eq!(hashes(&p.keep), c.keep, "{}: keep", c.name);
            assert_eq!(hashes(&p.not_ours), c.not_ours, "{}: not ours", c.name);
            assert_eq!(
                p.removals_withheld.is_some(),
                c.withheld,
                "{}: withheld",
                c.name
            );
        }
    }
}
