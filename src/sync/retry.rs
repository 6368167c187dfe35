//! Bounded retries with back-off: a failing remote costs a known, small
//! amount of time per run, never an endless loop (the original driver
//! retried rsync forever).

use std::time::Duration;

use super::error::SyncError;

/// The first pause between attempts; each later one doubles.
pub const FIRST_DELAY: Duration = Duration::from_secs(2);
/// No pause is longer than this.
pub const MAX_DELAY: Duration = Duration::from_secs(60);

/// Waits between attempts; tests inject one that does not sleep.
pub trait Sleeper: Send + Sync {
    fn sleep(&self, duration: Duration);
}

/// Sleeps for real.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealSleeper;

impl Sleeper for RealSleeper {
    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// The pause after failed attempt number `attempt` (1-based): 2 s, 4 s,
/// 8 s, ... capped at [`MAX_DELAY`].
pub fn backoff_delay(attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    FIRST_DELAY.saturating_mul(1u32 << doublings).min(MAX_DELAY)
}

/// Runs `attempt` up to `attempts` times (at least once), pausing with
/// back-off between tries, and stops early on failures that cannot heal.
/// The error returned is the last one, with the number of attempts made.
pub fn with_retries<T>(
    what: &str,
    attempts: u32,
    sleeper: &dyn Sleeper,
    mut attempt: impl FnMut() -> Result<T, SyncError>,
) -> Result<T, SyncError> {
    let attempts = attempts.max(1);
    let mut number = 1;
    loop {
        match attempt() {
            Ok(value) => return Ok(value),
            Err(mut error) => {
                if !error.kind.is_retryable() || number >= attempts {
                    error.attempts = number;
                    return Err(error);
                }
                let pause = backoff_delay(number);
                log::warn!(
                    "{what}: attempt {number} of {attempts} failed ({:?}); retrying in {}s: {}",
                    error.kind,
                    pause.as_secs(),
                    error.message
                );
                sleeper.sleep(pause);
                number += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::error::FailureKind;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorded(Mutex<Vec<Duration>>);

    impl Sleeper for Recorded {
        fn sleep(&self, d: Duration) {
            self.0.lock().unwrap().push(d);
        }
    }

    fn secs(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|s| Duration::from_secs(*s)).collect()
    }

    #[test]
    fn schedule_doubles_and_caps() {
        let got: Vec<Duration> = (1..=8).map(backoff_delay).collect();
        assert_eq!(got, secs(&[2, 4, 8, 16, 32, 60, 60, 60]));
        assert_eq!(backoff_delay(0), Duration::from_secs(2));
        assert_eq!(backoff_delay(u32::MAX), MAX_DELAY);
    }

    #[test]
    fn transient_failures_are_retried_then_given_up() {
        let sleeper = Recorded::default();
        let mut calls = 0;
        let err = with_retries("push", 4, &sleeper, || -> Result<(), SyncError> {
            calls += 1;
            Err(SyncError::new(FailureKind::HostUnreachable, "down"))
        })
        .unwrap_err();
        assert_eq!(calls, 4);
        assert_eq!(err.attempts, 4);
        assert_eq!(*sleeper.0.lock().unwrap(), secs(&[2, 4, 8]));
    }

    #[test]
    fn success_after_a_failure_stops_retrying() {
        let sleeper = Recorded::default();
        let mut calls = 0;
        let value = with_retries("list", 5, &sleeper, || {
            calls += 1;
            if calls < 2 {
                Err(SyncError::new(FailureKind::Timeout, "slow"))
            } else {
                Ok(7)
            }
        })
        .unwrap();
        assert_eq!((value, calls), (7, 2));
        assert_eq!(*sleeper.0.lock().unwrap(), secs(&[2]));
    }

    #[test]
    fn failures_that_cannot_heal_are_not_retried() {
        for kind in [
            FailureKind::AuthRefused,
            FailureKind::NotInstalled,
            FailureKind::RemoteFull,
        ] {
            let sleeper = Recorded::default();
            let mut calls = 0;
            let err = with_retries("push", 5, &sleeper, || -> Result<(), SyncError> {
                calls += 1;
                Err(SyncError::new(kind, "no"))
            })
            .unwrap_err();
            assert_eq!((calls, err.attempts), (1, 1), "{kind:?}");
            assert!(sleeper.0.lock().unwrap().is_empty());
        }
    }

    #[test]
    fn zero_attempts_still_tries_once() {
        let sleeper = Recorded::default();
        let mut calls = 0;
        let _ = with_retries("probe", 0, &sleeper, || -> Result<(), SyncError> {
            calls += 1;
            Err(SyncError::new(FailureKind::Other, "x"))
        });
        assert_eq!(calls, 1);
    }
}
