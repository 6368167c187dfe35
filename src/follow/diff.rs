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
//!   that lost its files looks exactly like that;
//! - nor does a listing that would remove more than 10 % of the followed
//!   torrents at once (a collapsed listing), unless allowed;
//! - a listing that may be cut short (no closing line, a body whose end
//!   the transport did not confirm) adds but removes nothing.
//!
//! Placement is decided here too: each torrent belongs in the directory of
//! its listed path; one found elsewhere is moved, not downloaded again.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use super::listing::{ListingEnd, CLOSING_PREFIX};
use super::place::RelDir;
use crate::client::follow::ClientTorrent;
use crate::torrent::InfoHash;

/// One torrent the listing wants, and where its data belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub info_hash: InfoHash,
    /// Every directory (under the download root) the listing puts it in,
    /// in listing order, never empty: the client downloads into the first;
    /// the others get copies (identical files listed at several paths).
    pub dirs: Vec<RelDir>,
}

/// What came of fetching and reading the listing.
#[derive(Debug, Clone, PartialEq)]
pub enum ListingState {
    /// Every entry's info-hash is known and the listing proved it is whole.
    Complete(Vec<Wanted>),
    /// Some entries could not be identified, or the listing could be cut
    /// short; the known torrents are still added, nothing is removed.
    Partial { known: Vec<Wanted>, why: String },
    /// Fetching or parsing failed.
    Unavailable(String),
}

/// What a run may do beyond the safe default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allow {
    /// An empty listing may remove every followed torrent.
    pub empty: bool,
    /// A run may remove more than [`MASS_REMOVAL_PERCENT`] of them.
    pub mass_removal: bool,
}

/// A run that would remove more than this share of the followed torrents
/// (and more than one) removes nothing unless allowed: a listing that
/// collapsed (a half-mounted disk on the main box, a wrong path) looks
/// exactly like that.
pub const MASS_REMOVAL_PERCENT: usize = 10;

/// Why no torrent was removed this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Withheld {
    /// No listing could be used at all.
    Unavailable(String),
    /// The listing may lack entries (cut off, unidentified entries).
    Incomplete(String),
    /// The listing is empty and that was not allowed.
    Empty,
    /// Too many removals at once, and that was not allowed.
    MassRemoval { would_remove: usize, managed: usize },
}

impl fmt::Display for Withheld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Withheld::Unavailable(why) => write!(f, "no usable listing ({why})"),
            Withheld::Incomplete(why) => write!(f, "the listing may be incomplete ({why})"),
            Withheld::Empty => f.write_str(
                "the listing is empty (pass --allow-empty or set allow_empty to remove every followed torrent)",
            ),
            Withheld::MassRemoval {
                would_remove,
                managed,
            } => write!(
                f,
                "this run would remove {would_remove} of the {managed} torrents follow manages, more than \
                 {MASS_REMOVAL_PERCENT} %; if the main box really dropped them, run once with \
                 --allow-mass-removal (or set allow_mass_removal = true in [follow])"
            ),
        }
    }
}

/// A followed torrent whose data is not where the listing puts it (mirrored
/// flat by an older lowspace): the client moves it, nothing is downloaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    pub torrent: ClientTorrent,
    pub to: PathBuf,
}

/// A further path of a torrent listed at several (identical files): once
/// the data is complete, it is linked or copied there from `from`.
#[derive(Debug, Clone, PartialEq)]
pub struct Copy {
    pub torrent: ClientTorrent,
    pub from: PathBuf,
    pub to: PathBuf,
}

/// What to do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FollowPlan {
    /// Listed, not in the client at all, with the directory to download into.
    pub add: Vec<(InfoHash, RelDir)>,
    pub moves: Vec<Move>,
    pub copies: Vec<Copy>,
    /// Labelled, no longer listed.
    pub remove: Vec<ClientTorrent>,
    /// Labelled and listed.
    pub keep: Vec<ClientTorrent>,
    /// Listed and in the client without our label: left alone.
    pub not_ours: Vec<ClientTorrent>,
    /// Why removals were withheld, when they were.
    pub removals_withheld: Option<Withheld>,
}

/// Why a parsed listing may lack entries, or None when it proves it is
/// whole. `transport_confirmed`: the transport confirmed the body's end
/// (see `Fetcher::get_checked`).
pub fn listing_gap(end: ListingEnd, transport_confirmed: bool) -> Option<String> {
    match end {
        ListingEnd::Closed => None,
        ListingEnd::Open {
            tree_version: Some(1),
        } => Some(
            "the index has no closing line: it was written by an older lowspace tree; \
             run lowspace tree again on the main box to let follow remove torrents"
                .into(),
        ),
        ListingEnd::Open {
            tree_version: Some(_),
        } => Some(format!(
            "the index has no \"{CLOSING_PREFIX} N entries\" line: it was cut off"
        )),
        ListingEnd::Open { tree_version: None } if transport_confirmed => None,
        ListingEnd::Open { tree_version: None } => Some(format!(
            "the server closed the connection without Content-Length or chunked framing, so the \
             listing may be cut off; end it with \"{CLOSING_PREFIX} N entries\" or serve it with a \
             Content-Length"
        )),
    }
}

/// True when removing `would_remove` of `managed` torrents needs
/// `--allow-mass-removal`: more than 10 % of them, and more than one (so a
/// follower of a few torrents still drops a single one by itself).
pub fn is_mass_removal(would_remove: usize, managed: usize) -> bool {
    would_remove > 1 && would_remove * 100 > managed * MASS_REMOVAL_PERCENT
}

/// Decides the changes that make the client match the listing. `root`:
/// the download directory the listed directories are under (None when
/// unknown: nothing is moved or copied then).
pub fn plan(
    listing: &ListingState,
    client: &[ClientTorrent],
    root: Option<&Path>,
    allow: Allow,
) -> FollowPlan {
    let (listed, withheld) = match listing {
        ListingState::Complete(wanted) if wanted.is_empty() && !allow.empty => {
            (wanted.as_slice(), Some(Withheld::Empty))
        }
        ListingState::Complete(wanted) => (wanted.as_slice(), None),
        ListingState::Partial { known, why } => {
            (known.as_slice(), Some(Withheld::Incomplete(why.clone())))
        }
        ListingState::Unavailable(why) => (&[][..], Some(Withheld::Unavailable(why.clone()))),
    };
    let held: BTreeSet<InfoHash> = client.iter().map(|t| t.info_hash).collect();
    let mut plan = FollowPlan {
        removals_withheld: withheld,
        ..FollowPlan::default()
    };
    let mut added = BTreeSet::new();
    for w in listed {
        if !held.contains(&w.info_hash) && added.insert(w.info_hash) {
            let dir = w.dirs.first().cloned().unwrap_or_default();
            plan.add.push((w.info_hash, dir));
        }
    }
    let mut unlisted = Vec::new();
    for torrent in client {
        let wanted = listed.iter().find(|w| w.info_hash == torrent.info_hash);
        match (torrent.labelled, wanted) {
            (true, Some(w)) => {
                if let Some(root) = root {
                    place(torrent, w, root, &mut plan);
                }
                plan.keep.push(torrent.clone());
            }
            (true, None) => unlisted.push(torrent.clone()),
            (false, Some(_)) => plan.not_ours.push(torrent.clone()),
            (false, None) => {}
        }
    }
    let managed = client.iter().filter(|t| t.labelled).count();
    // --allow-empty already says "remove them all" for an empty listing.
    let emptied_on_purpose = listed.is_empty() && allow.empty;
    if plan.removals_withheld.is_none()
        && !allow.mass_removal
        && !emptied_on_purpose
        && is_mass_removal(unlisted.len(), managed)
    {
        plan.removals_withheld = Some(Withheld::MassRemoval {
            would_remove: unlisted.len(),
            managed,
        });
    }
    if plan.removals_withheld.is_none() {
        plan.remove = unlisted;
    } else {
        plan.keep.extend(unlisted);
    }
    plan
}

/// Moves a followed torrent to the first listed directory when it is in
/// none of them, and copies its complete data to the others.
fn place(torrent: &ClientTorrent, wanted: &Wanted, root: &Path, plan: &mut FollowPlan) {
    let Some(at) = &torrent.dir else {
        return;
    };
    let dirs: Vec<PathBuf> = wanted.dirs.iter().map(|d| d.under(root)).collect();
    let Some(first) = dirs.first() else {
        return;
    };
    let Some(home) = dirs.iter().find(|d| super::place::same_dir(d, at)) else {
        // Copied on a later run, from where the move put it (a client
        // may move in the background).
        plan.moves.push(Move {
            torrent: torrent.clone(),
            to: first.clone(),
        });
        return;
    };
    if !torrent.complete || torrent.name.is_empty() {
        return;
    }
    for dir in dirs.iter().filter(|d| !super::place::same_dir(d, home)) {
        plan.copies.push(Copy {
            torrent: torrent.clone(),
            from: home.join(&torrent.name),
            to: dir.join(&torrent.name),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "/srv/data";

    fn h(n: u8) -> InfoHash {
        InfoHash::from_bytes([n; 20])
    }

    fn t(n: u8, labelled: bool) -> ClientTorrent {
        ClientTorrent {
            info_hash: h(n),
            name: format!("t{n}"),
            labelled,
            dir: Some(PathBuf::from(ROOT)),
            complete: true,
        }
    }

    fn at(mut torrent: ClientTorrent, dir: &str) -> ClientTorrent {
        torrent.dir = Some(PathBuf::from(dir));
        torrent
    }

    fn dir(text: &str) -> RelDir {
        let mut parts: Vec<String> = text
            .split('/')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        parts.push("x.torrent".into());
        RelDir::of_listed_path(&parts).unwrap()
    }

    fn w(n: u8, dirs: &[&str]) -> Wanted {
        Wanted {
            info_hash: h(n),
            dirs: if dirs.is_empty() {
                vec![RelDir::root()]
            } else {
                dirs.iter().map(|d| dir(d)).collect()
            },
        }
    }

    fn complete(ns: &[u8]) -> ListingState {
        ListingState::Complete(ns.iter().map(|n| w(*n, &[])).collect())
    }

    fn hashes(ts: &[ClientTorrent]) -> Vec<u8> {
        ts.iter().map(|t| t.info_hash.as_bytes()[0]).collect()
    }

    struct Case {
        name: &'static str,
        listing: ListingState,
        client: Vec<ClientTorrent>,
        allow: Allow,
        add: Vec<u8>,
        remove: Vec<u8>,
        keep: Vec<u8>,
        not_ours: Vec<u8>,
        withheld: Option<&'static str>,
    }

    #[test]
    fn safety_rules() {
        let none = Allow::default();
        let cases = vec![
            Case {
                name: "adds missing, removes unlisted labelled, keeps listed",
                listing: complete(&[1, 2, 3]),
                client: vec![t(1, true), t(4, true), t(5, false)],
                allow: none,
                add: vec![2, 3],
                remove: vec![4],
                keep: vec![1],
                not_ours: vec![],
                withheld: None,
            },
            Case {
                name: "unlabelled torrents are never removed nor re-added",
                listing: complete(&[1]),
                client: vec![t(1, false), t(2, false)],
                allow: none,
                add: vec![],
                remove: vec![],
                keep: vec![],
                not_ours: vec![1],
                withheld: None,
            },
            Case {
                name: "empty listing removes nothing by default",
                listing: complete(&[]),
                client: vec![t(1, true), t(2, false)],
                allow: none,
                add: vec![],
                remove: vec![],
                keep: vec![1],
                not_ours: vec![],
                withheld: Some("listing is empty"),
            },
            Case {
                name: "empty listing with allow_empty removes every labelled torrent",
                listing: complete(&[]),
                client: vec![t(1, true), t(2, false)],
                allow: Allow {
                    empty: true,
                    mass_removal: false,
                },
                add: vec![],
                remove: vec![1],
                keep: vec![],
                not_ours: vec![],
                withheld: None,
            },
            Case {
                name: "allow_empty alone lets an empty listing remove many",
                listing: complete(&[]),
                client: (1..=4).map(|n| t(n, true)).collect(),
                allow: Allow {
                    empty: true,
                    mass_removal: false,
                },
                add: vec![],
                remove: vec![1, 2, 3, 4],
                keep: vec![],
                not_ours: vec![],
                withheld: None,
            },
            Case {
                name: "fetch failure removes nothing, even with every allowance",
                listing: ListingState::Unavailable("HTTP 500".into()),
                client: vec![t(1, true), t(2, false)],
                allow: Allow {
                    empty: true,
                    mass_removal: true,
                },
                add: vec![],
                remove: vec![],
                keep: vec![1],
                not_ours: vec![],
                withheld: Some("HTTP 500"),
            },
            Case {
                name: "partial listing adds the known, removes nothing",
                listing: ListingState::Partial {
                    known: vec![w(2, &[])],
                    why: "the index has no closing line".into(),
                },
                client: vec![t(1, true)],
                allow: none,
                add: vec![2],
                remove: vec![],
                keep: vec![1],
                not_ours: vec![],
                withheld: Some("no closing line"),
            },
            Case {
                name: "a hash listed twice is added once",
                listing: complete(&[7, 7]),
                client: vec![],
                allow: none,
                add: vec![7],
                remove: vec![],
                keep: vec![],
                not_ours: vec![],
                withheld: None,
            },
            Case {
                name: "a listing shrunk to 1 of 5 removes nothing",
                listing: complete(&[1]),
                client: (1..=5).map(|n| t(n, true)).collect(),
                allow: none,
                add: vec![],
                remove: vec![],
                keep: vec![1, 2, 3, 4, 5],
                not_ours: vec![],
                withheld: Some("would remove 4 of the 5 torrents"),
            },
            Case {
                name: "the shrunk listing removes when allowed",
                listing: complete(&[1]),
                client: (1..=5).map(|n| t(n, true)).collect(),
                allow: Allow {
                    empty: false,
                    mass_removal: true,
                },
                add: vec![],
                remove: vec![2, 3, 4, 5],
                keep: vec![1],
                not_ours: vec![],
                withheld: None,
            },
            Case {
                name: "unlabelled torrents do not count as managed",
                listing: complete(&[1, 2, 3]),
                client: vec![
                    t(1, true),
                    t(2, true),
                    t(3, true),
                    t(4, true),
                    t(5, true),
                    t(9, false),
                    t(10, false),
                ],
                allow: none,
                add: vec![],
                remove: vec![],
                keep: vec![1, 2, 3, 4, 5],
                not_ours: vec![],
                withheld: Some("would remove 2 of the 5"),
            },
        ];
        for c in cases {
            let p = plan(&c.listing, &c.client, Some(Path::new(ROOT)), c.allow);
            let add: Vec<u8> = p.add.iter().map(|(x, _)| x.as_bytes()[0]).collect();
            assert_eq!(add, c.add, "{}: add", c.name);
            assert_eq!(hashes(&p.remove), c.remove, "{}: remove", c.name);
            assert_eq!(hashes(&p.keep), c.keep, "{}: keep", c.name);
            assert_eq!(hashes(&p.not_ours), c.not_ours, "{}: not ours", c.name);
            match (&p.removals_withheld, c.withheld) {
                (None, None) => {}
                (Some(why), Some(fragment)) => {
                    assert!(why.to_string().contains(fragment), "{}: {why}", c.name)
                }
                (got, want) => panic!("{}: withheld {got:?}, want {want:?}", c.name),
            }
        }
    }

    #[test]
    fn listing_gaps() {
        let open = |v| ListingEnd::Open { tree_version: v };
        for (end, confirmed, gap) in [
            (ListingEnd::Closed, false, None),
            (ListingEnd::Closed, true, None),
            (open(Some(1)), true, Some("older lowspace")),
            (open(Some(2)), true, Some("cut off")),
            (open(None), true, None),
            (open(None), false, Some("without Content-Length")),
        ] {
            let got = listing_gap(end, confirmed);
            match (got, gap) {
                (None, None) => {}
                (Some(g), Some(w)) => assert!(g.contains(w), "{end:?}: {g}"),
                (g, w) => panic!("{end:?} {confirmed}: {g:?}, want {w:?}"),
            }
        }
    }

    #[test]
    fn mass_removal_threshold() {
        for (remove, managed, mass) in [
            (0, 0, false),
            (1, 1, false),
            (1, 3, false),
            (2, 3, true),
            (2, 20, false),
            (3, 20, true),
            (10, 100, false),
            (11, 100, true),
        ] {
            assert_eq!(
                is_mass_removal(remove, managed),
                mass,
                "{remove} of {managed}"
            );
        }
        let text = Withheld::MassRemoval {
            would_remove: 4,
            managed: 5,
        }
        .to_string();
        assert!(text.contains("--allow-mass-removal") && text.contains("allow_mass_removal"));
    }

    #[test]
    fn placement_adds_moves_and_copies() {
        let root = Some(Path::new(ROOT));
        let listing = ListingState::Complete(vec![
            w(1, &["sub ü"]),
            w(2, &["a", "b/c"]),
            w(3, &["x"]),
            w(4, &["y", "z"]),
            w(5, &["q"]),
        ]);
        let mut incomplete = at(t(4, true), "/srv/data/y");
        incomplete.complete = false;
        let client = vec![
            // Flat, from an older lowspace: moved.
            t(2, true),
            // Already in place.
            at(t(3, true), "/srv/data/x/"),
            incomplete,
            // Not ours: never moved.
            t(5, false),
        ];
        let p = plan(&listing, &client, root, Allow::default());
        assert_eq!(p.add, vec![(h(1), dir("sub ü"))]);
        let moves: Vec<(u8, PathBuf)> = p
            .moves
            .iter()
            .map(|m| (m.torrent.info_hash.as_bytes()[0], m.to.clone()))
            .collect();
        assert_eq!(moves, [(2, PathBuf::from("/srv/data/a"))]);
        let copies: Vec<(PathBuf, PathBuf)> = p
            .copies
            .iter()
            .map(|c| (c.from.clone(), c.to.clone()))
            .collect();
        // The moved one and the incomplete one get their copies on a
        // later run.
        assert!(copies.is_empty(), "{copies:?}");
        // At one of its listed paths already: no move, a copy to the first.
        let client = vec![at(t(2, true), "/srv/data/b/c")];
        let p = plan(&listing, &client, root, Allow::default());
        assert!(p.moves.is_empty());
        assert_eq!(p.copies[0].to, PathBuf::from("/srv/data/a/t2"));
        // An unknown root places nothing.
        let p = plan(&listing, &[t(2, true)], None, Allow::default());
        assert!(p.moves.is_empty() && p.copies.is_empty());
    }
}
