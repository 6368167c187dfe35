//! The DHT's query rate (`--dht-rate`): a token bucket. Every query we
//! send (ping, find_node, get_peers, announce_peer) takes a token; tokens
//! come back at `rate` a second up to one second's worth, so a burst after
//! a quiet spell is at most `rate` queries and the long-run average never
//! exceeds it. With 100,000 torrents this is what keeps fish from
//! flooding the DHT (and the uplink of a Pi); the cost is that a full
//! announce cycle takes as long as it takes, which the report line says.
//!
//! Pure: time comes in as arguments. Whole tokens are counted in
//! millionths so a rate of 1/s refills smoothly at a 250 ms tick.

use std::time::{Duration, Instant};

/// Queries a second when `--dht-rate` is not given: about what one
/// libtorrent session sends while announcing a few hundred torrents.
pub const DEFAULT_RATE: u32 = 50;
/// The lowest and highest rate accepted.
pub const MIN_RATE: u32 = 1;
pub const MAX_RATE: u32 = 10_000;

const MICRO: u64 = 1_000_000;

#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: u32,
    /// Tokens in millionths.
    level: u64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket: the first second may use the whole rate at once.
    pub fn new(rate: u32, now: Instant) -> TokenBucket {
        let rate = rate.clamp(MIN_RATE, MAX_RATE);
        TokenBucket {
            rate,
            level: u64::from(rate) * MICRO,
            last: now,
        }
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last);
        let capacity = u64::from(self.rate) * MICRO;
        let gained = elapsed
            .as_micros()
            .saturating_mul(u128::from(self.rate))
            .min(u128::from(capacity));
        self.level = self
            .level
            .saturating_add(u64::try_from(gained).unwrap_or(capacity))
            .min(capacity);
        self.last = self.last.max(now);
    }

    /// Whole tokens available now.
    pub fn available(&mut self, now: Instant) -> usize {
        self.refill(now);
        usize::try_from(self.level / MICRO).unwrap_or(usize::MAX)
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.level >= MICRO {
            self.level -= MICRO;
            true
        } else {
            false
        }
    }

    /// How long `queries` take at this rate (the announce-cycle estimate).
    pub fn time_for(&self, queries: u64) -> Duration {
        Duration::from_secs(queries / u64::from(self.rate))
            + Duration::from_micros((queries % u64::from(self.rate)) * MICRO / u64::from(self.rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_then_the_rate() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // (ms after start, takes tried, taken, whole tokens left)
        type Step = (u64, usize, usize, usize);
        let table: &[(u32, &[Step])] = &[
            // A burst of one second's worth, then 5 per 100 ms.
            (50, &[(0, 60, 50, 0), (100, 10, 5, 0), (1_000, 100, 45, 0)]),
            // A slow rate refills in fractions: nothing at 250 ms, one at 1 s.
            (1, &[(0, 2, 1, 0), (250, 1, 0, 0), (1_000, 1, 1, 0)]),
            // Idle for long: never more than one second's worth.
            (
                10,
                &[(0, 0, 0, 10), (60_000, 0, 0, 10), (60_000, 20, 10, 0)],
            ),
        ];
        for (rate, steps) in table {
            let mut bucket = TokenBucket::new(*rate, t0);
            for (at, tries, taken, left) in *steps {
                let now = t0 + ms(*at);
                let got = (0..*tries).filter(|_| bucket.try_take(now)).count();
                assert_eq!(got, *taken, "rate {rate} at {at} ms");
                assert_eq!(bucket.available(now), *left, "rate {rate} at {at} ms");
            }
        }
    }

    #[test]
    fn the_rate_is_clamped_and_time_for_is_queries_over_rate() {
        let now = Instant::now();
        assert_eq!(TokenBucket::new(0, now).rate(), MIN_RATE);
        assert_eq!(TokenBucket::new(u32::MAX, now).rate(), MAX_RATE);
        let bucket = TokenBucket::new(50, now);
        assert_eq!(bucket.time_for(0), Duration::ZERO);
        assert_eq!(bucket.time_for(25), Duration::from_millis(500));
        assert_eq!(bucket.time_for(600_000), Duration::from_secs(12_000));
        // A clock that goes backwards takes nothing away.
        let mut bucket = TokenBucket::new(5, now + Duration::from_secs(1));
        assert_eq!(bucket.available(now), 5);
    }
}
