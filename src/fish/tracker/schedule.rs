//! When each (torrent, tracker) pair is announced next: the tracker's
//! interval (never sooner than its min interval), and on failure a
//! doubling back-off; a tracker that cannot be reached at all is rested
//! for every torrent at once, so a dead tracker costs one timeout, not
//! one per torrent.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::response::AnnounceReply;
use crate::fish::discovery::Swarm;
use crate::torrent::InfoHash;

/// Bounds on a tracker's interval: no hammering, no vanishing.
pub const MIN_INTERVAL: Duration = Duration::from_secs(60);
pub const MAX_INTERVAL: Duration = Duration::from_secs(6 * 3600);
/// First retry after a failure, doubled per further failure up to the cap.
pub const FIRST_RETRY: Duration = Duration::from_secs(60);
pub const MAX_RETRY: Duration = Duration::from_secs(3600);
/// While a magnet is adopted, its trackers are asked again this often at
/// most (their min interval permitting): a tracker that knew no peer at
/// the first announce would otherwise be asked again only after its
/// interval, often half an hour.
pub const ADOPTING_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// One torrent at one tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub info_hash: InfoHash,
    pub url: String,
    pub left: u64,
    pub next: Instant,
    pub failures: u32,
    /// A `started` announce went through: later ones carry no event, and
    /// leaving sends `stopped`.
    pub started: bool,
    /// A magnet being adopted (see [`ADOPTING_INTERVAL`]).
    pub adopting: bool,
}

/// When to announce again after a success.
pub fn after_success(now: Instant, reply: &AnnounceReply) -> Instant {
    let wanted = reply.interval.max(reply.min_interval.unwrap_or_default());
    now + wanted.clamp(MIN_INTERVAL, MAX_INTERVAL)
}

/// When to announce a job again after a success: as [`after_success`], but
/// sooner for a magnet being adopted (never before the tracker's min
/// interval, nor before [`MIN_INTERVAL`]).
pub fn next_announce(now: Instant, reply: &AnnounceReply, adopting: bool) -> Instant {
    let normal = after_success(now, reply);
    if !adopting {
        return normal;
    }
    let floor = reply.min_interval.unwrap_or_default().max(MIN_INTERVAL);
    normal.min(now + ADOPTING_INTERVAL.max(floor))
}

/// When to try again after the `failures`-th failure in a row.
pub fn retry_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_RETRY.saturating_mul(1 << doublings).min(MAX_RETRY)
}

/// Brings the jobs in line with the swarms: one job per tracker of every
/// tier of every non-removed swarm. Returns the jobs of removed swarms
/// that had started (they are owed a `stopped`).
pub fn reconcile(jobs: &mut Vec<Job>, swarms: &[Swarm], now: Instant) -> Vec<Job> {
    let mut wanted: HashMap<(InfoHash, &str), (u64, bool)> = HashMap::new();
    for swarm in swarms {
        for url in swarm.tracker_tiers.iter().flatten() {
            wanted.insert(
                (swarm.info_hash, url.as_str()),
                (swarm.left, swarm.adopting),
            );
        }
    }
    let mut gone = Vec::new();
    jobs.retain(|job| {
        let keep = wanted.contains_key(&(job.info_hash, job.url.as_str()));
        if !keep && job.started {
            gone.push(job.clone());
        }
        keep
    });
    for ((info_hash, url), (left, adopting)) in wanted {
        let known = jobs
            .iter_mut()
            .find(|j| j.info_hash == info_hash && j.url == url);
        if let Some(job) = known {
            // An adopted magnet becomes a served torrent: its real size
            // is reported from the next announce on.
            job.left = left;
            job.adopting = adopting;
        } else {
            jobs.push(Job {
                info_hash,
                url: url.to_owned(),
                left,
                next: now,
                failures: 0,
                started: false,
                adopting,
            });
        }
    }
    gone
}

/// The index of the job due first (if due), skipping trackers resting
/// until a later time.
pub fn next_due(jobs: &[Job], resting: &HashMap<String, Instant>, now: Instant) -> Option<usize> {
    jobs.iter()
        .enumerate()
        .filter(|(_, j)| j.next <= now)
        .filter(|(_, j)| resting.get(&j.url).is_none_or(|until| *until <= now))
        .min_by_key(|(_, j)| j.next)
        .map(|(i, _)| i)
}

/// How long the announce thread may sleep.
pub fn sleep_for(jobs: &[Job], resting: &HashMap<String, Instant>, now: Instant) -> Duration {
    jobs.iter()
        .map(|j| {
            let rest = resting.get(&j.url).copied().unwrap_or(now);
            j.next.max(rest).saturating_duration_since(now)
        })
        .min()
        .unwrap_or(Duration::from_secs(3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(interval: u64, min: Option<u64>) -> AnnounceReply {
        AnnounceReply {
            interval: Duration::from_secs(interval),
            min_interval: min.map(Duration::from_secs),
            peers: vec![],
            warning: None,
        }
    }

    #[test]
    fn intervals_are_honoured_and_bounded() {
        let now = Instant::now();
        assert_eq!(
            after_success(now, &reply(1800, None)),
            now + Duration::from_secs(1800)
        );
        assert_eq!(
            after_success(now, &reply(600, Some(900))),
            now + Duration::from_secs(900)
        );
        assert_eq!(after_success(now, &reply(1, None)), now + MIN_INTERVAL);
        // Adopting: sooner, but never before the tracker's min interval.
        assert_eq!(
            next_announce(now, &reply(1800, None), true),
            now + ADOPTING_INTERVAL
        );
        assert_eq!(
            next_announce(now, &reply(1800, Some(900)), true),
            now + Duration::from_secs(900)
        );
        assert_eq!(
            next_announce(now, &reply(120, None), true),
            now + Duration::from_secs(120)
        );
        assert_eq!(
            next_announce(now, &reply(1800, None), false),
            now + Duration::from_secs(1800)
        );
        assert_eq!(
            after_success(now, &reply(1 << 30, None)),
            now + MAX_INTERVAL
        );
    }

    #[test]
    fn failures_back_off() {
        let secs: Vec<u64> = (1..=8).map(|f| retry_delay(f).as_secs()).collect();
        assert_eq!(secs, [60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(retry_delay(u32::MAX), MAX_RETRY);
    }

    #[test]
    fn every_tracker_of_every_tier_and_stopped_for_removed() {
        let now = Instant::now();
        let a = InfoHash::from_bytes([1; 20]);
        let b = InfoHash::from_bytes([2; 20]);
        let swarm = |h, tiers: &[&[&str]]| Swarm {
            info_hash: h,
            tracker_tiers: tiers
                .iter()
                .map(|t| t.iter().map(|s| s.to_string()).collect())
                .collect(),
            private: false,
            left: 10,
            adopting: false,
        };
        let mut jobs = Vec::new();
        let gone = reconcile(
            &mut jobs,
            &[swarm(a, &[&["u1", "u2"], &["u3"]]), swarm(b, &[&["u1"]])],
            now,
        );
        assert!(gone.is_empty());
        assert_eq!(jobs.len(), 4);
        for job in &mut jobs {
            job.started = job.info_hash == b;
        }
        let gone = reconcile(&mut jobs, &[swarm(a, &[&["u1", "u2"], &["u3"]])], now);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].info_hash, b);
        assert_eq!(jobs.len(), 3);

        // A magnet adopted becomes a served torrent: same jobs, its real
        // size and normal intervals from now on.
        let adopting = Swarm {
            left: 1,
            adopting: true,
            ..swarm(b, &[&["u1"]])
        };
        reconcile(&mut jobs, &[adopting], now);
        assert_eq!(jobs.len(), 1);
        assert!(jobs[0].adopting && jobs[0].left == 1);
        let gone = reconcile(&mut jobs, &[swarm(b, &[&["u1"]])], now);
        assert!(gone.is_empty());
        assert!(!jobs[0].adopting && jobs[0].left == 10);
    }

    #[test]
    fn resting_trackers_are_skipped() {
        let now = Instant::now();
        let job = |url: &str, delay: u64| Job {
            info_hash: InfoHash::from_bytes([1; 20]),
            url: url.into(),
            left: 0,
            next: now + Duration::from_secs(delay),
            failures: 0,
            started: false,
            adopting: false,
        };
        let jobs = vec![job("dead", 0), job("live", 0), job("later", 50)];
        let resting: HashMap<String, Instant> =
            [("dead".to_string(), now + Duration::from_secs(30))].into();
        assert_eq!(next_due(&jobs, &resting, now), Some(1));
        assert_eq!(next_due(&jobs[..1], &resting, now), None);
        assert_eq!(
            sleep_for(&jobs[..1], &resting, now),
            Duration::from_secs(30)
        );
        assert_eq!(
            sleep_for(&jobs[2..], &resting, now),
            Duration::from_secs(50)
        );
    }
}
