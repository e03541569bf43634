//! Per-connection guards, free of I/O so they are unit-tested directly: the token-bucket
//! rate limiter and the WebSocket `Origin` check.

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
