//! Rate limits of the HTTP API: governor's keyed GCRA limiters (per client address, per
//! token), and a penalty box that turns an address away while it is over its limit of
//! failed authentications (so a correct guess is refused too until the box opens).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The most addresses the penalty box holds; beyond it, new ones are not boxed (their
/// failures still get 429 from the limiter).
const BOX_MAX: usize = 10_000;

/// One keyed limit: `per_minute` requests a minute, all of them allowed in a burst.
pub struct Limiter<K: Hash + Eq + Clone> {
    inner: DefaultKeyedRateLimiter<K>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    pub fn per_minute(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            inner: RateLimiter::keyed(Quota::per_minute(n)),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one request from `key`'s allowance, or says how long until the next is allowed.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        self.inner
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets keys whose allowance is full again (bounds the memory).
    pub fn prune(&self) {
        self.inner.retain_recent();
        self.inner.shrink_to_fit();
    }
}

/// Every limit of the API.
pub struct Limits {
    /// Every request, by client address.
    pub per_ip: Limiter<IpAddr>,
    /// Key creations and deletions, by client address.
    pub create_delete: Limiter<IpAddr>,
    /// Every authenticated request, by token name.
    pub per_token: Limiter<String>,
    /// Failed authentications, by client address.
    pub auth_failures: Limiter<IpAddr>,
    /// Addresses over their failure limit, until when.
    boxed: Mutex<HashMap<IpAddr, Instant>>,
}

impl Limits {
    pub fn new(per_ip: u32, create_delete: u32, per_token: u32, auth_failures: u32) -> Self {
        Self {
            per_ip: Limiter::per_minute(per_ip),
            create_delete: Limiter::per_minute(create_delete),
            per_token: Limiter::per_minute(per_token),
            auth_failures: Limiter::per_minute(auth_failures),
            boxed: Mutex::new(HashMap::new()),
        }
    }

    /// How long `ip` is still turned away after too many failed authentications.
    pub fn boxed_for(&self, ip: IpAddr) -> Option<Duration> {
        let boxed = self.boxed.lock().ok()?;
        let until = boxed.get(&ip)?;
        until.checked_duration_since(Instant::now())
    }

    /// Counts one failed authentication of `ip`; over the limit, boxes it and says how long.
    pub fn failed(&self, ip: IpAddr) -> Option<Duration> {
        let wait = self.auth_failures.check(&ip).err()?;
        if let Ok(mut boxed) = self.boxed.lock() {
            let now = Instant::now();
            if boxed.len() >= BOX_MAX {
                boxed.retain(|_, until| *until > now);
            }
            if boxed.len() < BOX_MAX {
                boxed.insert(ip, now + wait);
            }
        }
        Some(wait)
    }

    /// Forgets what no longer limits anyone.
    pub fn prune(&self) {
        self.per_ip.prune();
        self.create_delete.prune();
        self.per_token.prune();
        self.auth_failures.prune();
        if let Ok(mut boxed) = self.boxed.lock() {
            let now = Instant::now();
            boxed.retain(|_, until| *until > now);
            boxed.shrink_to_fit();
        }
    }
}

/// The key a client address is limited by: IPv4 as is, IPv6 by its /64 (one host usually
/// holds a whole /64, so per-address limits there would be no limit at all).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

/// A wait as `Retry-After` seconds: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn the_eleventh_of_ten_a_minute_waits() {
        let limit = Limiter::per_minute(10);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..10 {
            assert!(limit.check(&ip).is_ok());
        }
        let wait = limit.check(&ip).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(6),
            "{wait:?}"
        );
        assert!(retry_after_secs(wait) >= 1);
        // Another address has its own allowance.
        assert!(limit.check(&"192.0.2.2".parse().unwrap()).is_ok());
    }

    #[test]
    fn ipv6_is_limited_by_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn failures_box_an_address() {
        let limits = Limits::new(100, 10, 100, 2);
        let ip: IpAddr = "198.51.100.4".parse().unwrap();
        assert!(limits.failed(ip).is_none());
        assert!(limits.failed(ip).is_none());
        assert!(limits.boxed_for(ip).is_none());
        assert!(limits.failed(ip).is_some());
        assert!(limits.boxed_for(ip).is_some());
    }
}
