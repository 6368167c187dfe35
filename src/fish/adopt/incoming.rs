//! What to do with a peer that dialled us, once its handshake names a
//! torrent (pure: a snapshot in, a plan out).
//!
//! A torrent we hold is served. A magnet we are adopting is fetched from
//! the caller over the same connection, with the same fetch as a peer we
//! dialled; a peer that seeds it often dials us first (it learned us from
//! a tracker or the DHT while we announced), and may be unreachable the
//! other way round (NAT). Bounds, so callers cannot crowd each other out:
//! a few fetches per magnet at once, one per IP, none from an IP that
//! failed lately or lied.

use std::fmt;

use super::book::Standing;

/// Fetches from callers of one magnet at once, at most. A metadata fetch
/// is a few round trips; more callers than this are refused (they call
/// again later), so slow or silent ones can hold only a few slots, each
/// for at most the attempt deadline.
pub const MAX_CALLER_FETCHES_PER_MAGNET: usize = 3;

/// What we know when a caller's handshake names a torrent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallerView {
    /// We hold its .torrent.
    pub held: bool,
    /// It is a magnet we are adopting.
    pub adopting: bool,
    /// Fetches from callers of this magnet running now.
    pub fetching: usize,
    /// One of them is from the caller's IP.
    pub fetching_from_ip: bool,
    /// The book's memory of the caller's IP for this magnet.
    pub standing: Standing,
}

/// The plan for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerPlan {
    /// Serve it the metadata we hold.
    Serve,
    /// Ask it for the metadata we are looking for.
    Fetch,
    Refuse(Refusal),
}

/// Why a caller is turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Neither held nor being adopted.
    Unknown,
    /// It sent wrong metadata for this torrent lately.
    Bad,
    /// It failed for this torrent lately.
    BackedOff,
    /// Its IP is already being asked for this torrent.
    AlreadyFetching,
    /// Enough callers are being asked for this torrent.
    Busy,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::Unknown => "asked for a torrent we neither hold nor adopt",
            Refusal::Bad => "sent wrong metadata for this magnet lately",
            Refusal::BackedOff => "could not give this magnet's metadata lately; not yet again",
            Refusal::AlreadyFetching => "its IP is already being asked for this magnet",
            Refusal::Busy => "enough peers are being asked for this magnet already",
        })
    }
}

/// The plan for a caller given `view`.
pub fn plan_caller(view: &CallerView) -> CallerPlan {
    if view.held {
        return CallerPlan::Serve;
    }
    if !view.adopting {
        return CallerPlan::Refuse(Refusal::Unknown);
    }
    match view.standing {
        Standing::Bad => return CallerPlan::Refuse(Refusal::Bad),
        Standing::BackedOff => return CallerPlan::Refuse(Refusal::BackedOff),
        Standing::Welcome => {}
    }
    if view.fetching_from_ip {
        CallerPlan::Refuse(Refusal::AlreadyFetching)
    } else if view.fetching >= MAX_CALLER_FETCHES_PER_MAGNET {
        CallerPlan::Refuse(Refusal::Busy)
    } else {
        CallerPlan::Fetch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        let base = CallerView {
            held: false,
            adopting: true,
            fetching: 0,
            fetching_from_ip: false,
            standing: Standing::Welcome,
        };
        let full = MAX_CALLER_FETCHES_PER_MAGNET;
        let cases: Vec<(&str, CallerView, CallerPlan)> = vec![
            ("adopting, nobody asked yet", base, CallerPlan::Fetch),
            (
                "adopting, room for one more",
                CallerView {
                    fetching: full - 1,
                    ..base
                },
                CallerPlan::Fetch,
            ),
            (
                "held",
                CallerView {
                    held: true,
                    adopting: false,
                    ..base
                },
                CallerPlan::Serve,
            ),
            (
                "held wins over a stale adoption and a bad standing",
                CallerView {
                    held: true,
                    standing: Standing::Bad,
                    fetching: full,
                    ..base
                },
                CallerPlan::Serve,
            ),
            (
                "unknown",
                CallerView {
                    adopting: false,
                    ..base
                },
                CallerPlan::Refuse(Refusal::Unknown),
            ),
            (
                "liar",
                CallerView {
                    standing: Standing::Bad,
                    ..base
                },
                CallerPlan::Refuse(Refusal::Bad),
            ),
            (
                "failed lately",
                CallerView {
                    standing: Standing::BackedOff,
                    ..base
                },
                CallerPlan::Refuse(Refusal::BackedOff),
            ),
            (
                "same IP already asked",
                CallerView {
                    fetching: 1,
                    fetching_from_ip: true,
                    ..base
                },
                CallerPlan::Refuse(Refusal::AlreadyFetching),
            ),
            (
                "full",
                CallerView {
                    fetching: full,
                    ..base
                },
                CallerPlan::Refuse(Refusal::Busy),
            ),
        ];
        for (what, view, want) in cases {
            assert_eq!(plan_caller(&view), want, "{what}");
            if let CallerPlan::Refuse(why) = want {
                assert!(!why.to_string().is_empty());
            }
        }
    }
}
