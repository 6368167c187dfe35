//! get_peers tokens (BEP 5): a node may announce_peer only with a token we
//! gave its IP recently. Token = SHA-1(ip ‖ secret), cut to 8 bytes; the
//! secret changes every 5 minutes and the previous one is still accepted,
//! so a token lives 5 to 10 minutes and we store nothing per querier.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};

pub const ROTATE_EVERY: Duration = Duration::from_secs(5 * 60);
pub const TOKEN_LEN: usize = 8;

pub struct Tokens {
    current: [u8; 20],
    previous: [u8; 20],
    rotated: Instant,
}

impl Tokens {
    pub fn new(secret: [u8; 20], now: Instant) -> Tokens {
        Tokens {
            current: secret,
            previous: secret,
            rotated: now,
        }
    }

    /// Starts a new secret when the current one is old enough; `fresh`
    /// is only called then.
    pub fn rotate_if_due(&mut self, now: Instant, fresh: impl FnOnce() -> [u8; 20]) {
        if now.saturating_duration_since(self.rotated) >= ROTATE_EVERY {
            self.previous = self.current;
            self.current = fresh();
            self.rotated = now;
        }
    }

    pub fn token_for(&self, ip: IpAddr) -> [u8; TOKEN_LEN] {
        token(ip, &self.current)
    }

    pub fn is_valid(&self, ip: IpAddr, given: &[u8]) -> bool {
        given == token(ip, &self.current) || given == token(ip, &self.previous)
    }
}

fn token(ip: IpAddr, secret: &[u8; 20]) -> [u8; TOKEN_LEN] {
    let mut hasher = Sha1::new();
    match ip {
        IpAddr::V4(ip) => hasher.update(ip.octets()),
        IpAddr::V6(ip) => hasher.update(ip.octets()),
    }
    hasher.update(secret);
    let digest: [u8; 20] = hasher.finalize().into();
    let mut out = [0u8; TOKEN_LEN];
    out.copy_from_slice(digest.get(..TOKEN_LEN).unwrap_or(&[0; TOKEN_LEN]));
    out
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn a_token_lives_one_to_two_rotations_and_only_for_its_ip() {
        let now = Instant::now();
        let mut tokens = Tokens::new([1; 20], now);
        let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let other: IpAddr = "::1".parse().unwrap();
        let given = tokens.token_for(ip);
        assert!(tokens.is_valid(ip, &given));
        assert!(!tokens.is_valid(other, &given));
        assert!(!tokens.is_valid(ip, b"short"));
        tokens.rotate_if_due(now + Duration::from_secs(60), || [2; 20]);
        assert_eq!(tokens.token_for(ip), given, "rotated too early");
        tokens.rotate_if_due(now + ROTATE_EVERY, || [2; 20]);
        assert_ne!(tokens.token_for(ip), given);
        assert!(
            tokens.is_valid(ip, &given),
            "previous secret still accepted"
        );
        tokens.rotate_if_due(now + 2 * ROTATE_EVERY, || [3; 20]);
        assert!(
            !tokens.is_valid(ip, &given),
            "two rotations later it is gone"
        );
    }
}
