//! Guards, free of I/O so they are unit-tested directly: the token-bucket rate limiter, the
//! WebSocket `Origin` check, the client address key, per-key counters (sockets per session and
//! address) and the per-address creation limit.
//!
//! Every per-address limit is keyed by a [`ClientKey`], made in one place ([`client_key`]): an
//! IPv4 address as it is, an IPv6 address cut to its first `ipv6_prefix_len` bits (64 by
//! default: one home connection or one cloud machine is handed a whole /64, and would otherwise
//! get a fresh allowance from each of its 2^64 addresses), and an IPv4-mapped IPv6 address
//! (`::ffff:a.b.c.d`, a dual-stack socket's view of an IPv4 peer) as its IPv4 address.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Shortest and longest IPv6 prefix a [`ClientKey`] may group by (the setting
/// `ipv6_prefix_len`).
pub const IPV6_PREFIX_LENS: std::ops::RangeInclusive<u8> = 1..=128;

/// What the per-address limits count by: a client address grouped as the module docs say
/// (made by [`client_key`] or [`ClientKey::new`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// The key of `addr`: IPv4 unchanged, IPv4-mapped IPv6 as its IPv4 address, other IPv6
    /// with all but its first `ipv6_prefix_len` bits cleared (clamped to
    /// [`IPV6_PREFIX_LENS`]; 128 keeps the whole address).
    pub fn new(addr: IpAddr, ipv6_prefix_len: u8) -> Self {
        match addr {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let len =
                        ipv6_prefix_len.clamp(*IPV6_PREFIX_LENS.start(), *IPV6_PREFIX_LENS.end());
                    let mask = u128::MAX << (128 - u32::from(len));
                    Self(IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask)))
                }
            },
        }
    }

    /// The grouped address (an IPv6 one is the first address of its prefix).
    pub fn addr(self) -> IpAddr {
        self.0
    }
}

/// The key of the client's address (see [`ClientKey::new`]): the TCP peer, or the last entry
/// of `header` (a header set by a trusted reverse proxy, e.g. `x-forwarded-for`) when `header`
/// is not empty and holds an IP.
pub fn client_key(
    peer: SocketAddr,
    headers: &http::HeaderMap,
    header: &str,
    ipv6_prefix_len: u8,
) -> ClientKey {
    ClientKey::new(client_addr(peer, headers, header), ipv6_prefix_len)
}

/// The client's address itself (ungrouped; see [`client_key`]).
fn client_addr(peer: SocketAddr, headers: &http::HeaderMap, header: &str) -> IpAddr {
    if header.is_empty() {
        return peer.ip();
    }
    headers
        .get_all(header)
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok())
        .unwrap_or_else(|| peer.ip())
}

/// Counts holders per key, refusing more than a maximum (e.g. sockets per session and client
/// address). Keys with no holder are removed, so the map is bounded by the live holders.
#[derive(Debug)]
pub struct Counter<K: Hash + Eq + Clone> {
    counts: Mutex<HashMap<K, usize>>,
}

impl<K: Hash + Eq + Clone> Default for Counter<K> {
    fn default() -> Self {
        Self {
            counts: Mutex::new(HashMap::new()),
        }
    }
}

/// One holder of a [`Counter`] key; dropping it releases the place.
#[derive(Debug)]
pub struct CounterGuard<K: Hash + Eq + Clone> {
    counter: Arc<Counter<K>>,
    key: K,
}

impl<K: Hash + Eq + Clone> Counter<K> {
    /// Takes a place for `key` unless `max` are taken (`max == 0`: unlimited).
    pub fn try_acquire(self: &Arc<Self>, key: K, max: usize) -> Option<CounterGuard<K>> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(key.clone()).or_insert(0);
        if max > 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(CounterGuard {
            counter: self.clone(),
            key,
        })
    }

    /// Places taken for `key`.
    pub fn count(&self, key: &K) -> usize {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.get(key).copied().unwrap_or(0)
    }
}

impl<K: Hash + Eq + Clone> Drop for CounterGuard<K> {
    fn drop(&mut self) {
        let mut counts = self
            .counter
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// Keys the creation limiter remembers before forgetting the idle ones.
const CREATE_KEYS_RETAIN: usize = 10_000;

/// Session creations per client address: `per_min` per minute with a burst of `per_min`
/// (governor's GCRA, keyed by [`ClientKey`]; `per_min == 0` disables it).
#[derive(Debug)]
pub struct CreateLimiter {
    limiter: Option<DefaultKeyedRateLimiter<ClientKey>>,
}

impl CreateLimiter {
    /// A limiter allowing `per_min` creations per minute per address.
    pub fn new(per_min: u32) -> Self {
        Self {
            limiter: NonZeroU32::new(per_min)
                .map(|n| DefaultKeyedRateLimiter::keyed(Quota::per_minute(n))),
        }
    }

    /// `Ok` when `addr` may create a session now, else how long it must wait.
    pub fn check(&self, addr: ClientKey) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if limiter.len() > CREATE_KEYS_RETAIN {
            limiter.retain_recent();
        }
        limiter
            .check_key(&addr)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// A token bucket: `rate` tokens per second, holding at most `burst`.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: f64,
}

impl TokenBucket {
    /// A full bucket at time `now_ms`.
    pub fn new(rate_per_sec: f64, burst: u32, now_ms: f64) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate: if rate_per_sec.is_finite() {
                rate_per_sec.max(0.0)
            } else {
                0.0
            },
            burst,
            tokens: burst,
            last: now_ms,
        }
    }

    /// Takes one token at `now_ms`; `false` when the bucket is empty.
    pub fn try_take(&mut self, now_ms: f64) -> bool {
        let elapsed = ((now_ms - self.last) / 1000.0).max(0.0);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now_ms.max(self.last);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn normalise(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// May a WebSocket be opened from `origin`?
///
/// - No `Origin` header: allowed (not a browser; browsers always send it, and cross-site
///   WebSocket hijacking needs a browser).
/// - `allowed` non-empty: the origin must be one of them (scheme, host and port; case and a
///   trailing slash ignored).
/// - Otherwise the origin's `host[:port]` must equal the request's `Host` header.
pub fn origin_allowed(origin: Option<&str>, host: Option<&str>, allowed: &[String]) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    let origin = normalise(origin);
    if !allowed.is_empty() {
        return allowed.iter().any(|a| normalise(a) == origin);
    }
    let Some(host) = host else {
        return false;
    };
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    if !matches!(scheme, "http" | "https") || authority.contains('/') {
        return false;
    }
    let host = host.trim().to_ascii_lowercase();
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    authority == host
        || authority.strip_suffix(default_port) == Some(host.as_str())
        || host.strip_suffix(default_port) == Some(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_rate() {
        let mut b = TokenBucket::new(10.0, 3, 0.0);
        assert!(b.try_take(0.0));
        assert!(b.try_take(0.0));
        assert!(b.try_take(0.0));
        assert!(!b.try_take(0.0));
        // 100 ms at 10/s refills one token.
        assert!(b.try_take(100.0));
        assert!(!b.try_take(100.0));
        // Long idle refills to the burst only.
        let mut n = 0;
        while b.try_take(100_000.0) {
            n += 1;
        }
        assert_eq!(n, 3);
    }

    #[test]
    fn bucket_survives_clock_going_backwards_and_bad_rates() {
        let mut b = TokenBucket::new(f64::NAN, 1, 1_000.0);
        assert!(b.try_take(0.0));
        assert!(!b.try_take(5_000.0));
    }

    /// The key of `addr` under the default /64 grouping.
    fn key(addr: &str) -> ClientKey {
        ClientKey::new(addr.parse().unwrap(), 64)
    }

    #[test]
    fn client_address_from_peer_or_trusted_header() {
        let peer: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let mut h = http::HeaderMap::new();
        h.insert("x-forwarded-for", "1.2.3.4, 5.6.7.8".parse().unwrap());
        assert_eq!(client_key(peer, &h, "", 64), key("10.0.0.1"));
        assert_eq!(client_key(peer, &h, "x-forwarded-for", 64), key("5.6.7.8"));
        h.insert("x-forwarded-for", "junk".parse().unwrap());
        assert_eq!(client_key(peer, &h, "x-forwarded-for", 64), key("10.0.0.1"));
        // An IPv6 address from the header is grouped as a peer's is.
        h.insert(
            "x-forwarded-for",
            "1.2.3.4, 2001:db8:1:2:aaaa::1".parse().unwrap(),
        );
        assert_eq!(
            client_key(peer, &h, "x-forwarded-for", 64).addr(),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn ipv4_addresses_are_keyed_as_they_are() {
        assert_eq!(
            key("192.0.2.7").addr(),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
    }

    #[test]
    fn two_addresses_of_one_ipv6_64_share_a_key() {
        let a = key("2001:db8:aa:bb:1::1");
        let b = key("2001:db8:aa:bb:ffff:ffff:ffff:fffe");
        assert_eq!(a, b);
        assert_eq!(a.addr(), "2001:db8:aa:bb::".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn addresses_of_different_ipv6_64s_do_not_share_a_key() {
        assert_ne!(key("2001:db8:aa:bb::1"), key("2001:db8:aa:bc::1"));
        assert_ne!(key("2001:db8:aa:bb::1"), key("2001:db9:aa:bb::1"));
        // A shorter prefix groups more: one /48.
        let k = |a: &str| ClientKey::new(a.parse().unwrap(), 48);
        assert_eq!(k("2001:db8:aa:bb::1"), k("2001:db8:aa:bc::1"));
        assert_ne!(k("2001:db8:aa:bb::1"), k("2001:db8:ab:bb::1"));
    }

    #[test]
    fn prefix_128_keys_on_the_whole_ipv6_address() {
        let k = |a: &str| ClientKey::new(a.parse().unwrap(), 128);
        assert_ne!(k("2001:db8:aa:bb::1"), k("2001:db8:aa:bb::2"));
        assert_eq!(
            k("2001:db8:aa:bb::1").addr(),
            "2001:db8:aa:bb::1".parse::<IpAddr>().unwrap()
        );
        // Out-of-range lengths are clamped (the settings refuse them): 0 counts as 1, more
        // than 128 as 128.
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(ClientKey::new(a, 200), ClientKey::new(a, 128));
        assert_eq!(ClientKey::new(a, 0), ClientKey::new(a, 1));
        assert_eq!(ClientKey::new(a, 1).addr(), "::".parse::<IpAddr>().unwrap());
        let high: IpAddr = "8001:db8::1".parse().unwrap();
        assert_eq!(
            ClientKey::new(high, 1).addr(),
            "8000::".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn ipv4_mapped_ipv6_is_keyed_as_its_ipv4_address() {
        for len in [1, 64, 96, 128] {
            let mapped = ClientKey::new("::ffff:192.0.2.7".parse().unwrap(), len);
            assert_eq!(mapped, key("192.0.2.7"), "/{len}");
            assert_eq!(mapped.addr(), "192.0.2.7".parse::<IpAddr>().unwrap());
        }
        assert_ne!(key("::ffff:192.0.2.7"), key("::ffff:192.0.2.8"));
        // A dual-stack listener sees an IPv4 peer as mapped: same key as over IPv4.
        let h = http::HeaderMap::new();
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:5000".parse().unwrap();
        let plain: SocketAddr = "10.0.0.1:6000".parse().unwrap();
        assert_eq!(
            client_key(mapped, &h, "", 64),
            client_key(plain, &h, "", 64)
        );
    }

    #[test]
    fn two_addresses_of_one_ipv6_64_hit_one_limit() {
        let h = http::HeaderMap::new();
        let peer = |a: &str| client_key(SocketAddr::new(a.parse().unwrap(), 443), &h, "", 64);
        let (a, b) = (peer("2001:db8:1:2::a"), peer("2001:db8:1:2:dead:beef:0:b"));
        let elsewhere = peer("2001:db8:1:3::a");
        // Creations: three per minute for the whole /64.
        let creates = CreateLimiter::new(3);
        assert!(creates.check(a).is_ok());
        assert!(creates.check(b).is_ok());
        assert!(creates.check(a).is_ok());
        assert!(creates.check(b).is_err(), "b shares a's allowance");
        assert!(creates.check(a).is_err());
        assert!(creates.check(elsewhere).is_ok(), "another /64 has its own");
        // Sockets per session: two for the whole /64.
        let sockets: Arc<Counter<(u8, ClientKey)>> = Arc::default();
        let _one = sockets.try_acquire((1, a), 2).unwrap();
        let _two = sockets.try_acquire((1, b), 2).unwrap();
        assert!(sockets.try_acquire((1, b), 2).is_none());
        assert!(sockets.try_acquire((1, a), 2).is_none());
        assert!(sockets.try_acquire((1, elsewhere), 2).is_some());
        assert!(sockets.try_acquire((2, a), 2).is_some(), "another session");
        // Keyed on whole addresses (prefix 128), the same two are counted apart.
        let whole = |a: &str| client_key(SocketAddr::new(a.parse().unwrap(), 443), &h, "", 128);
        let creates = CreateLimiter::new(1);
        assert!(creates.check(whole("2001:db8:1:2::a")).is_ok());
        assert!(creates.check(whole("2001:db8:1:2:dead:beef:0:b")).is_ok());
    }

    #[test]
    fn counter_caps_and_releases() {
        let c: Arc<Counter<u8>> = Arc::default();
        let a = c.try_acquire(1, 2).unwrap();
        let _b = c.try_acquire(1, 2).unwrap();
        assert!(c.try_acquire(1, 2).is_none());
        assert!(c.try_acquire(2, 2).is_some());
        drop(a);
        assert_eq!(c.count(&1), 1);
        assert!(c.try_acquire(1, 2).is_some());
        assert!(c.try_acquire(1, 0).is_some(), "0 = unlimited");
    }

    #[test]
    fn creation_limit_is_per_address() {
        let l = CreateLimiter::new(3);
        let (a, b) = (key("1.1.1.1"), key("2.2.2.2"));
        for _ in 0..3 {
            assert!(l.check(a).is_ok());
        }
        let wait = l.check(a).unwrap_err();
        assert!(
            wait > Duration::from_secs(1) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(l.check(b).is_ok());
        assert!(CreateLimiter::new(0).check(a).is_ok());
    }

    #[test]
    fn origin_rules() {
        let none: Vec<String> = Vec::new();
        assert!(origin_allowed(None, Some("a.example"), &none));
        assert!(origin_allowed(
            Some("http://127.0.0.1:3000"),
            Some("127.0.0.1:3000"),
            &none
        ));
        assert!(origin_allowed(
            Some("https://Party.Example"),
            Some("party.example"),
            &none
        ));
        assert!(origin_allowed(
            Some("https://party.example"),
            Some("party.example:443"),
            &none
        ));
        assert!(!origin_allowed(
            Some("https://evil.example"),
            Some("party.example"),
            &none
        ));
        assert!(!origin_allowed(Some("null"), Some("party.example"), &none));
        assert!(!origin_allowed(
            Some("http://127.0.0.1:3001"),
            Some("127.0.0.1:3000"),
            &none
        ));
        assert!(!origin_allowed(Some("http://a.example"), None, &none));
        let allowed = vec!["https://party.example/".to_string()];
        assert!(origin_allowed(
            Some("https://party.example"),
            Some("internal:8080"),
            &allowed
        ));
        assert!(!origin_allowed(
            Some("http://party.example"),
            Some("party.example"),
            &allowed
        ));
    }
}
