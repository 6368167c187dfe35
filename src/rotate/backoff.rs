//! When a torrent whose sync failed for a reason of its own is tried
//! again. Pure: the journal's failure record and the clock in, a decision
//! out, so the schedule is table-tested.
//!
//! The wait doubles with each failure in a row, from half an hour to a day:
//! a torrent the user must fix by hand (a symlink, a file too big for the
//! remote's file system) costs one attempt a day instead of one per cron
//! run, and a passing problem is retried within the hour.

use super::journal::FailureRecord;

/// The wait after the first failure.
pub const FIRST_WAIT: u64 = 30 * 60;
/// The longest wait.
pub const MAX_WAIT: u64 = 24 * 3600;

/// Whether a backed-off torrent may be synced by this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    Now,
    /// Not before this time (seconds since the epoch).
    WaitUntil(u64),
}

/// Seconds to wait after `count` failures in a row (0 for none).
pub fn wait_after(count: u32) -> u64 {
    if count == 0 {
        return 0;
    }
    let doublings = (count - 1).min(16);
    FIRST_WAIT.saturating_mul(1 << doublings).min(MAX_WAIT)
}

/// The earliest time the torrent is tried again.
pub fn next_try(record: &FailureRecord) -> u64 {
    record.last.saturating_add(wait_after(record.count))
}

/// Try now, or wait until the back-off ends. A clock set back (the last
/// failure in the future) does not stretch the wait beyond one period from
/// now.
pub fn decide(record: Option<&FailureRecord>, now: u64) -> Retry {
    let Some(record) = record else {
        return Retry::Now;
    };
    let at = next_try(record).min(now.saturating_add(wait_after(record.count)));
    if now >= at {
        Retry::Now
    } else {
        Retry::WaitUntil(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(count: u32, last: u64) -> FailureRecord {
        FailureRecord {
            name: "t".into(),
            count,
            reason: "why".into(),
            last,
        }
    }

    #[test]
    fn the_wait_doubles_from_half_an_hour_to_a_day() {
        let m = 60;
        let h = 3600;
        for (count, wait) in [
            (0, 0),
            (1, 30 * m),
            (2, h),
            (3, 2 * h),
            (4, 4 * h),
            (5, 8 * h),
            (6, 16 * h),
            (7, 24 * h),
            (8, 24 * h),
            (40, 24 * h),
            (u32::MAX, 24 * h),
        ] {
            assert_eq!(wait_after(count), wait, "{count} failures");
        }
    }

    #[test]
    fn try_or_wait_until() {
        let t = 1_800_000_000;
        let cases: &[(Option<FailureRecord>, u64, Retry)] = &[
            (None, t, Retry::Now),
            (Some(record(1, t)), t, Retry::WaitUntil(t + 1800)),
            (Some(record(1, t)), t + 1799, Retry::WaitUntil(t + 1800)),
            (Some(record(1, t)), t + 1800, Retry::Now),
            (Some(record(3, t)), t + 3600, Retry::WaitUntil(t + 7200)),
            (Some(record(3, t)), t + 7200, Retry::Now),
            (Some(record(9, t)), t + 86_399, Retry::WaitUntil(t + 86_400)),
            // The clock went back a week: one period from now, not a week.
            (
                Some(record(1, t)),
                t - 7 * 86_400,
                Retry::WaitUntil(t - 7 * 86_400 + 1800),
            ),
            (Some(record(1, u64::MAX)), 5, Retry::WaitUntil(1805)),
        ];
        for (rec, now, want) in cases {
            assert_eq!(decide(rec.as_ref(), *now), *want, "{rec:?} at {now}");
        }
    }
}
