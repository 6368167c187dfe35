//! Our external address, by majority vote of what other nodes say they
//! saw us at (the `ip` field of their replies, BEP 42). Behind NAT this is
//! the only way to learn it, and BEP 42 binds our node id to it.
//!
//! One vote per voter address (the latest), the last [`MAX_VOTERS`]
//! voters remembered; an address wins with at least [`MIN_VOTES`] votes
//! and more than any other, so one lying node cannot move us. Pure.

use std::collections::VecDeque;
use std::net::IpAddr;

pub const MAX_VOTERS: usize = 32;
pub const MIN_VOTES: usize = 2;

#[derive(Debug, Default, Clone)]
pub struct ExternalVotes {
    /// (voter, what it says our address is), oldest first.
    votes: VecDeque<(IpAddr, IpAddr)>,
}

impl ExternalVotes {
    /// Records that `voter` saw us at `seen`; returns the winner now.
    pub fn vote(&mut self, voter: IpAddr, seen: IpAddr) -> Option<IpAddr> {
        self.votes.retain(|(v, _)| *v != voter);
        self.votes.push_back((voter, seen));
        while self.votes.len() > MAX_VOTERS {
            self.votes.pop_front();
        }
        self.winner()
    }

    /// The address most voters agree on, if it has enough votes and no
    /// other has as many.
    pub fn winner(&self) -> Option<IpAddr> {
        let mut tally: Vec<(IpAddr, usize)> = Vec::new();
        for (_, seen) in &self.votes {
            match tally.iter_mut().find(|(ip, _)| ip == seen) {
                Some((_, n)) => *n += 1,
                None => tally.push((*seen, 1)),
            }
        }
        tally.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        match tally.as_slice() {
            [(ip, n), rest @ ..] if *n >= MIN_VOTES && rest.first().is_none_or(|(_, m)| m < n) => {
                Some(*ip)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_majority_of_distinct_voters_decides() {
        // (voter, seen, winner after this vote)
        let table = [
            ("1.1.1.1", "9.9.9.9", None),
            // The same voter again is still one vote.
            ("1.1.1.1", "9.9.9.9", None),
            ("2.2.2.2", "9.9.9.9", Some("9.9.9.9")),
            ("3.3.3.3", "6.6.6.6", Some("9.9.9.9")),
            ("4.4.4.4", "6.6.6.6", None),
            ("5.5.5.5", "6.6.6.6", Some("6.6.6.6")),
            // A voter changing its mind moves its vote.
            ("1.1.1.1", "6.6.6.6", Some("6.6.6.6")),
        ];
        let mut votes = ExternalVotes::default();
        for (voter, seen, winner) in table {
            assert_eq!(
                votes.vote(ip(voter), ip(seen)),
                winner.map(ip),
                "{voter} says {seen}"
            );
        }
    }

    #[test]
    fn old_voters_are_forgotten() {
        let mut votes = ExternalVotes::default();
        votes.vote(ip("1.0.0.1"), ip("9.9.9.9"));
        votes.vote(ip("1.0.0.2"), ip("9.9.9.9"));
        for n in 0..MAX_VOTERS as u8 {
            votes.vote(IpAddr::from([2, 0, 0, n]), ip("6.6.6.6"));
        }
        assert_eq!(votes.votes.len(), MAX_VOTERS);
        assert_eq!(votes.winner(), Some(ip("6.6.6.6")));
        assert!(votes.votes.iter().all(|(_, seen)| *seen == ip("6.6.6.6")));
    }
}
