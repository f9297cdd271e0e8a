//! Which address a request comes from: the TCP peer, or, when the peer is a trusted proxy,
//! the address `X-Forwarded-For` names (the rightmost one that is not itself a trusted
//! proxy: the leftmost entries are whatever the client chose to send).

use std::net::IpAddr;

use axum::http::HeaderMap;

/// The most `X-Forwarded-For` entries read (a longer list is someone's game).
const MAX_HOPS: usize = 32;

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return peer;
        };
        for part in text.split(',') {
            if hops.len() >= MAX_HOPS {
                return peer;
            }
            match part.trim().parse::<IpAddr>() {
                Ok(ip) => hops.push(ip),
                // Garbage in the chain: trust none of it.
                Err(_) => return peer,
            }
        }
    }
    hops.into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let proxy = ip("127.0.0.1");
        let h = headers(&["203.0.113.9"]);
        assert_eq!(client_ip(ip("192.0.2.5"), &h, &[proxy]), ip("192.0.2.5"));
        assert_eq!(client_ip(proxy, &h, &[proxy]), ip("203.0.113.9"));
        assert_eq!(client_ip(proxy, &h, &[]), proxy);
    }

    #[test]
    fn the_rightmost_untrusted_hop_wins_and_garbage_is_ignored() {
        let proxy = ip("10.0.0.1");
        let h = headers(&["1.1.1.1, 203.0.113.9", "10.0.0.1"]);
        assert_eq!(client_ip(proxy, &h, &[proxy]), ip("203.0.113.9"));
        let bad = headers(&["203.0.113.9, not-an-ip"]);
        assert_eq!(client_ip(proxy, &bad, &[proxy]), proxy);
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &[proxy]), proxy);
    }
}
