//! Typed runtime settings: `Leptos.toml` (or `$WATCHPARTY_CONFIG`), then environment overrides.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;

/// Every runtime setting of the server. See `Leptos.toml` for the documented defaults.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Redis URL; `None` (or empty) selects the in-memory store.
    pub redis_url: Option<String>,
    /// Sliding session TTL in seconds.
    pub session_ttl_secs: u64,
    /// Origins allowed to open WebSockets; empty means "same host as the request".
    pub allowed_origins: Vec<String>,
    /// Largest client frame in bytes.
    pub max_frame_bytes: usize,
    /// Sustained commands per second per connection.
    pub commands_per_sec: f64,
    /// Burst of commands per connection.
    pub command_burst: u32,
    /// Seconds between server WebSocket pings.
    pub heartbeat_secs: u64,
    /// Seconds of silence after which a connection is closed.
    pub heartbeat_timeout_secs: u64,
    /// Broadcasts queued per viewer before it is disconnected as too slow.
    pub send_queue: usize,
    /// Write broadcasts through io_uring, many sockets per system call (Linux; where the
    /// kernel refuses, or when false, one `send` per socket).
    pub fanout_io_uring: bool,
    /// Upper bound of viewers in one session on one instance.
    pub max_viewers_per_session: usize,
    /// Mean seconds between the safety-net comparisons of each hub with the store (jittered
    /// ±50 %; gaps are closed at once without it).
    pub reconcile_secs: f64,
    /// Accepted changes per second per session, over all instances (0 = unlimited).
    pub session_changes_per_sec: f64,
    /// Burst of accepted changes per session.
    pub session_change_burst: u32,
    /// WebSockets one client address may hold in one session on one instance (0 = unlimited).
    pub max_sockets_per_address: usize,
    /// A request header holding the client address set by a trusted reverse proxy (e.g.
    /// `x-forwarded-for`: its last entry is used). Empty: the TCP peer address.
    pub client_ip_header: String,
    /// IPv6 clients are grouped by this many leading bits of their address for the
    /// per-address limits (`max_sockets_per_address`, `creates_per_min`): 64 = one /64, what
    /// one home connection is handed; 128 = every address on its own. 1..=128 (checked).
    /// IPv4 addresses (IPv4-mapped IPv6 ones included) are each their own.
    #[serde(deserialize_with = "ipv6_prefix_len")]
    pub ipv6_prefix_len: u8,
    /// Sessions one client address may create per minute (0 = unlimited).
    pub creates_per_min: u32,
    /// Sessions stored at most by the in-memory store (creation answers 503 beyond).
    pub max_sessions: usize,
    /// A session nobody has joined expires after this many seconds (first join slides it to
    /// `session_ttl_secs`).
    pub unjoined_session_ttl_secs: u64,
    /// Seconds a client may take to send a request's headers.
    pub header_read_timeout_secs: u64,
    /// Seconds an HTTP connection may stay idle (no request in flight) before it is closed.
    pub idle_timeout_secs: u64,
    /// Open HTTP/WebSocket connections at most (new ones wait in the backlog beyond); also page
    /// renders in flight, abandoned ones included (beyond, 503: `http::to_completion`).
    pub max_connections: usize,
    /// Seconds a graceful shutdown waits for connections to close.
    pub drain_secs: u64,
    /// Milliseconds one command may take (store round trips included) before it is answered
    /// `unavailable`.
    pub apply_timeout_ms: u64,
    /// Most videos in a session's queue.
    pub max_queue_len: usize,
    /// How often (ms) each instance checks its sessions for a video that ended with a queue
    /// behind it (the automatic advance).
    pub advance_check_ms: u64,
    /// Longest display name, in characters.
    pub max_name_chars: usize,
    /// Viewers the room's list ("who is here") shows by name; beyond them it shows counts
    /// ("9,812 of 10,000 in sync"). At most 500.
    pub roster_len: usize,
    /// Seconds a viewer removed by a host stays out (its browser's key is refused).
    pub removal_secs: u64,
    /// Longest chat message, in characters.
    pub max_chat_chars: usize,
    /// Chat messages kept per session (a joiner gets them as history).
    pub chat_kept: usize,
    /// Reactions kept per session (a joiner sees them when its video reaches their moment).
    pub reactions_kept: usize,
    /// Sustained chat messages per second per connection.
    pub chat_per_sec: f64,
    /// Burst of chat messages per connection.
    pub chat_burst: u32,
    /// Sustained chat messages per second per session, over all instances (0 = unlimited).
    pub session_chat_per_sec: f64,
    /// Burst of chat messages per session.
    pub session_chat_burst: u32,
    /// Sustained reactions per second per connection.
    pub reactions_per_sec: f64,
    /// Burst of reactions per connection.
    pub reaction_burst: u32,
    /// Sustained reactions per second per session, over all instances (0 = unlimited).
    pub session_reactions_per_sec: f64,
    /// Burst of reactions per session.
    pub session_reaction_burst: u32,
    /// Where `GET /metrics` is served: `None` (or empty) on the main listener, else only on
    /// this separate address (e.g. a private interface).
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            redis_url: None,
            session_ttl_secs: 24 * 3600,
            allowed_origins: Vec::new(),
            max_frame_bytes: watchparty_core::protocol::MAX_CLIENT_FRAME,
            commands_per_sec: 10.0,
            command_burst: 20,
            heartbeat_secs: 10,
            heartbeat_timeout_secs: 30,
            send_queue: 32,
            fanout_io_uring: true,
            max_viewers_per_session: 20_000,
            reconcile_secs: 30.0,
            session_changes_per_sec: 5.0,
            session_change_burst: 20,
            max_sockets_per_address: 50,
            client_ip_header: String::new(),
            ipv6_prefix_len: 64,
            creates_per_min: 30,
            max_sessions: 100_000,
            unjoined_session_ttl_secs: 600,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 50_000,
            drain_secs: 5,
            apply_timeout_ms: 3_000,
            max_queue_len: watchparty_core::queue::DEFAULT_MAX_QUEUE,
            advance_check_ms: 250,
            max_name_chars: watchparty_core::names::MAX_NAME_CHARS,
            roster_len: watchparty_core::roster::DEFAULT_SHOWN,
            removal_secs: watchparty_core::room::DEFAULT_REMOVAL_SECS,
            max_chat_chars: watchparty_core::chat::MAX_CHAT_CHARS,
            chat_kept: 50,
            reactions_kept: 200,
            chat_per_sec: 1.0,
            chat_burst: 5,
            session_chat_per_sec: 5.0,
            session_chat_burst: 20,
            reactions_per_sec: 2.0,
            reaction_burst: 8,
            session_reactions_per_sec: 8.0,
            session_reaction_burst: 30,
            metrics_listen: None,
        }
    }
}

/// Reads `ipv6_prefix_len`, refusing a length outside [`crate::limits::IPV6_PREFIX_LENS`].
fn ipv6_prefix_len<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    let len = u8::deserialize(d)?;
    if crate::limits::IPV6_PREFIX_LENS.contains(&len) {
        Ok(len)
    } else {
        Err(serde::de::Error::custom(format!(
            "ipv6_prefix_len must be 1..=128, not {len}"
        )))
    }
}

/// Settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for [`Settings`].
    #[error("invalid settings file {path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// The parse error.
        source: toml::de::Error,
    },
    /// An environment variable has an invalid value.
    #[error("invalid value for {var}: {value:?}")]
    Env {
        /// The variable.
        var: String,
        /// Its value.
        value: String,
    },
}

impl Settings {
    /// Loads `$WATCHPARTY_CONFIG` or `./Leptos.toml` (defaults when absent), then applies
    /// environment overrides.
    pub fn load() -> Result<Self, SettingsError> {
        let path = std::env::var("WATCHPARTY_CONFIG").unwrap_or_else(|_| "Leptos.toml".into());
        let mut s = Self::from_file(Path::new(&path))?;
        s.apply_env(|k| std::env::var(k).ok())?;
        Ok(s)
    }

    /// Reads a settings file; a missing file gives the defaults.
    pub fn from_file(path: &Path) -> Result<Self, SettingsError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_toml(&text).map_err(|source| SettingsError::Parse {
                path: path.display().to_string(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(SettingsError::Read {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Parses settings from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        let mut s: Self = toml::from_str(text)?;
        s.normalise();
        Ok(s)
    }

    fn normalise(&mut self) {
        // Bounded lists: a message carries at most this much history.
        self.chat_kept = self.chat_kept.min(1_000);
        self.reactions_kept = self.reactions_kept.min(2_000);
        self.max_chat_chars = self.max_chat_chars.clamp(1, 2_000);
        if self
            .redis_url
            .as_deref()
            .is_some_and(|u| u.trim().is_empty())
        {
            self.redis_url = None;
        }
    }

    /// Applies `WATCHPARTY_<KEY>` (and `REDIS_URL`) overrides read through `get`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), SettingsError> {
        fn parse<T: std::str::FromStr>(var: &str, value: String) -> Result<T, SettingsError> {
            value.trim().parse().map_err(|_| SettingsError::Env {
                var: var.into(),
                value,
            })
        }
        if let Some(v) = get("REDIS_URL") {
            self.redis_url = Some(v);
        }
        if let Some(v) = get("WATCHPARTY_REDIS_URL") {
            self.redis_url = Some(v);
        }
        macro_rules! over {
            ($field:ident, $var:literal) => {
                if let Some(v) = get($var) {
                    self.$field = parse($var, v)?;
                }
            };
        }
        over!(listen, "WATCHPARTY_LISTEN");
        over!(session_ttl_secs, "WATCHPARTY_SESSION_TTL_SECS");
        over!(max_frame_bytes, "WATCHPARTY_MAX_FRAME_BYTES");
        over!(commands_per_sec, "WATCHPARTY_COMMANDS_PER_SEC");
        over!(command_burst, "WATCHPARTY_COMMAND_BURST");
        over!(heartbeat_secs, "WATCHPARTY_HEARTBEAT_SECS");
        over!(heartbeat_timeout_secs, "WATCHPARTY_HEARTBEAT_TIMEOUT_SECS");
        over!(send_queue, "WATCHPARTY_SEND_QUEUE");
        over!(fanout_io_uring, "WATCHPARTY_FANOUT_IO_URING");
        over!(
            max_viewers_per_session,
            "WATCHPARTY_MAX_VIEWERS_PER_SESSION"
        );
        over!(reconcile_secs, "WATCHPARTY_RECONCILE_SECS");
        over!(
            session_changes_per_sec,
            "WATCHPARTY_SESSION_CHANGES_PER_SEC"
        );
        over!(session_change_burst, "WATCHPARTY_SESSION_CHANGE_BURST");
        over!(
            max_sockets_per_address,
            "WATCHPARTY_MAX_SOCKETS_PER_ADDRESS"
        );
        over!(client_ip_header, "WATCHPARTY_CLIENT_IP_HEADER");
        if let Some(v) = get("WATCHPARTY_IPV6_PREFIX_LEN") {
            let len: u8 = parse("WATCHPARTY_IPV6_PREFIX_LEN", v.clone())?;
            if !crate::limits::IPV6_PREFIX_LENS.contains(&len) {
                return Err(SettingsError::Env {
                    var: "WATCHPARTY_IPV6_PREFIX_LEN".into(),
                    value: v,
                });
            }
            self.ipv6_prefix_len = len;
        }
        over!(creates_per_min, "WATCHPARTY_CREATES_PER_MIN");
        over!(max_sessions, "WATCHPARTY_MAX_SESSIONS");
        over!(
            unjoined_session_ttl_secs,
            "WATCHPARTY_UNJOINED_SESSION_TTL_SECS"
        );
        over!(
            header_read_timeout_secs,
            "WATCHPARTY_HEADER_READ_TIMEOUT_SECS"
        );
        over!(idle_timeout_secs, "WATCHPARTY_IDLE_TIMEOUT_SECS");
        over!(max_connections, "WATCHPARTY_MAX_CONNECTIONS");
        over!(drain_secs, "WATCHPARTY_DRAIN_SECS");
        over!(apply_timeout_ms, "WATCHPARTY_APPLY_TIMEOUT_MS");
        over!(max_queue_len, "WATCHPARTY_MAX_QUEUE_LEN");
        over!(advance_check_ms, "WATCHPARTY_ADVANCE_CHECK_MS");
        over!(max_name_chars, "WATCHPARTY_MAX_NAME_CHARS");
        over!(roster_len, "WATCHPARTY_ROSTER_LEN");
        over!(removal_secs, "WATCHPARTY_REMOVAL_SECS");
        over!(max_chat_chars, "WATCHPARTY_MAX_CHAT_CHARS");
        over!(chat_kept, "WATCHPARTY_CHAT_KEPT");
        over!(reactions_kept, "WATCHPARTY_REACTIONS_KEPT");
        over!(chat_per_sec, "WATCHPARTY_CHAT_PER_SEC");
        over!(chat_burst, "WATCHPARTY_CHAT_BURST");
        over!(session_chat_per_sec, "WATCHPARTY_SESSION_CHAT_PER_SEC");
        over!(session_chat_burst, "WATCHPARTY_SESSION_CHAT_BURST");
        over!(reactions_per_sec, "WATCHPARTY_REACTIONS_PER_SEC");
        over!(reaction_burst, "WATCHPARTY_REACTION_BURST");
        over!(
            session_reactions_per_sec,
            "WATCHPARTY_SESSION_REACTIONS_PER_SEC"
        );
        over!(session_reaction_burst, "WATCHPARTY_SESSION_REACTION_BURST");
        if let Some(v) = get("WATCHPARTY_METRICS_LISTEN") {
            self.metrics_listen = if v.trim().is_empty() {
                None
            } else {
                Some(parse("WATCHPARTY_METRICS_LISTEN", v)?)
            };
        }
        if let Some(v) = get("WATCHPARTY_ALLOWED_ORIGINS") {
            self.allowed_origins = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
        }
        self.normalise();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn shipped_file_equals_defaults() {
        let text = include_str!("../../Leptos.toml");
        assert_eq!(Settings::from_toml(text).unwrap(), Settings::default());
    }

    #[test]
    fn env_overrides_file() {
        let env: HashMap<&str, &str> = [
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("WATCHPARTY_LISTEN", "0.0.0.0:8080"),
            ("WATCHPARTY_SESSION_TTL_SECS", "60"),
            ("WATCHPARTY_FANOUT_IO_URING", "false"),
            (
                "WATCHPARTY_ALLOWED_ORIGINS",
                "https://a.example, https://b.example",
            ),
        ]
        .into_iter()
        .collect();
        let mut s = Settings::default();
        s.apply_env(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.redis_url.as_deref(), Some("redis://127.0.0.1:6379"));
        assert_eq!(s.listen.port(), 8080);
        assert_eq!(s.session_ttl_secs, 60);
        assert_eq!(s.allowed_origins.len(), 2);
        assert!(!s.fanout_io_uring);
    }

    #[test]
    fn bad_env_values_are_errors() {
        let mut s = Settings::default();
        let err = s
            .apply_env(|k| (k == "WATCHPARTY_SEND_QUEUE").then(|| "lots".to_string()))
            .unwrap_err();
        assert!(err.to_string().contains("WATCHPARTY_SEND_QUEUE"));
    }

    #[test]
    fn ipv6_prefix_len_is_1_to_128() {
        assert_eq!(Settings::default().ipv6_prefix_len, 64);
        assert_eq!(
            Settings::from_toml("ipv6_prefix_len = 48")
                .unwrap()
                .ipv6_prefix_len,
            48
        );
        for bad in ["0", "129", "300", "-1", "\"64\""] {
            let err = Settings::from_toml(&format!("ipv6_prefix_len = {bad}"));
            assert!(err.is_err(), "{bad}");
        }
        let mut s = Settings::default();
        s.apply_env(|k| (k == "WATCHPARTY_IPV6_PREFIX_LEN").then(|| "128".to_string()))
            .unwrap();
        assert_eq!(s.ipv6_prefix_len, 128);
        for bad in ["0", "129", "x", ""] {
            let mut s = Settings::default();
            let err = s
                .apply_env(|k| (k == "WATCHPARTY_IPV6_PREFIX_LEN").then(|| bad.to_string()))
                .unwrap_err();
            assert!(
                err.to_string().contains("WATCHPARTY_IPV6_PREFIX_LEN"),
                "{bad}"
            );
            assert_eq!(s.ipv6_prefix_len, 64, "unchanged by {bad:?}");
        }
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(Settings::from_toml("lisen = \"1.2.3.4:5\"").is_err());
    }
}
