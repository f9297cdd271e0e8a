//! What every handler of the HTTP API shares: the service, the limits, the figures
//! `health` reports, and the settings the middleware reads.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use veil_shared::api::{AuthFailure, HttpHealth};

use super::limit::Limits;
use crate::service::{HttpReport, Service};

/// Refused authentications kept for `health`.
const FAILURES_KEPT: usize = 10;

pub struct AppState {
    pub service: Arc<Service>,
    pub limits: Limits,
    pub stats: Arc<Stats>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub proxies: Vec<IpAddr>,
    /// Origins CORS allows.
    pub cors_origins: Vec<String>,
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
}

impl AppState {
    /// Takes one request from the address's allowance.
    pub fn per_ip_check(&self, ip: IpAddr) -> Result<(), Duration> {
        self.limits.per_ip.check(&super::limit::client_key(ip))
    }

    /// Takes one key creation or deletion from the address's allowance.
    pub fn create_delete_check(&self, ip: IpAddr) -> Result<(), Duration> {
        self.limits
            .create_delete
            .check(&super::limit::client_key(ip))
    }
}

/// Requests in the last minute and the latest refused authentications.
pub struct Stats {
    listen: String,
    /// The certificate in service, when the listener serves TLS.
    tls: Option<Arc<super::tls::Resolver>>,
    /// One slot per second of the minute: (the Unix second it counts, requests).
    seconds: Mutex<[(i64, u64); 60]>,
    failures: Mutex<VecDeque<AuthFailure>>,
}

impl Stats {
    pub fn new(listen: String, tls: Option<Arc<super::tls::Resolver>>) -> Self {
        Self {
            listen,
            tls,
            seconds: Mutex::new([(0, 0); 60]),
            failures: Mutex::new(VecDeque::new()),
        }
    }

    /// Counts one request.
    pub fn request(&self) {
        let now = crate::store::now();
        if let Ok(mut seconds) = self.seconds.lock() {
            let slot = &mut seconds[now.rem_euclid(60) as usize];
            if slot.0 != now {
                *slot = (now, 0);
            }
            slot.1 += 1;
        }
    }

    /// Notes a refused authentication (never the token presented).
    pub fn auth_failed(&self, remote: IpAddr) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.push_front(AuthFailure {
                at: crate::store::now(),
                remote: remote.to_string(),
            });
            failures.truncate(FAILURES_KEPT);
        }
    }
}

impl HttpReport for Stats {
    fn http(&self) -> HttpHealth {
        let now = crate::store::now();
        let requests_last_minute = self.seconds.lock().map_or(0, |s| {
            s.iter()
                .filter(|(at, _)| now - at < 60)
                .map(|(_, n)| n)
                .sum()
        });
        let auth_failures = self
            .failures
            .lock()
            .map(|f| f.iter().cloned().collect())
            .unwrap_or_default();
        HttpHealth {
            listen: self.listen.clone(),
            requests_last_minute,
            auth_failures,
            tls: self.tls.is_some(),
            cert_not_after: self.tls.as_ref().and_then(|tls| tls.not_after()),
        }
    }
}
