//! Typed runtime settings: `Leptos.toml` (or `$WATCHPARTY_CONFIG`), then environment overrides.
//!
//! Every setting is declared once, in the `settings!` table below: its key, type, default,
//! documentation and how its environment value is read. Its environment variable is derived
//! from the key (`WATCHPARTY_<KEY IN UPPER CASE>`; the Redis URL also `REDIS_URL`). The struct,
//! its defaults and the environment overrides are generated from the table, and the file is
//! read by serde. Invariants: the order is defaults, then the file, then the environment; an
//! unknown key or a value that does not parse is an error naming the key or variable; the
//! shipped `Leptos.toml` lists every key with its default and docs/configuration.md (the one
//! documentation table) lists every key with its variable and default: unit tests check both.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;

/// Declares the settings: `/// docs`, `key: Type = default, env reader;` per setting, where
/// `reader` reads the environment variable's value (see [`parsed`] and its neighbours).
macro_rules! settings {
    ($( $(#[$attr:meta])* $name:ident : $ty:ty = $default:expr, env $reader:ident; )*) => {
        /// Every runtime setting of the server (docs/configuration.md lists them).
        #[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
        #[serde(default, deny_unknown_fields)]
        pub struct Settings {
            $( $(#[$attr])* pub $name: $ty, )*
        }

        impl Default for Settings {
            fn default() -> Self {
                Self {
                    $( $name: $default, )*
                }
            }
        }

        impl Settings {
            /// Every setting's key (its `Leptos.toml` key), in declaration order.
            pub const KEYS: &'static [&'static str] = &[$(stringify!($name)),*];

            /// Applies each setting's `WATCHPARTY_<KEY>` read through `get`, in declaration
            /// order (a bad value stops at its variable).
            fn apply_env_keys(
                &mut self,
                get: &impl Fn(&str) -> Option<String>,
            ) -> Result<(), SettingsError> {
                $(
                    let var = env_var(stringify!($name));
                    if let Some(value) = get(&var) {
                        self.$name = $reader(&var, value)?;
                    }
                )*
                Ok(())
            }
        }
    };
}

settings! {
    /// Address to listen on.
    listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 3000)), env parsed;
    /// Redis URL; `None` (or empty) selects the in-memory store.
    redis_url: Option<String> = None, env some_text;
    /// Sliding session TTL in seconds.
    session_ttl_secs: u64 = 24 * 3600, env parsed;
    /// Origins allowed to open WebSockets; empty means "same host as the request".
    allowed_origins: Vec<String> = Vec::new(), env comma_list;
    /// Largest client frame in bytes.
    max_frame_bytes: usize = watchparty_core::protocol::MAX_CLIENT_FRAME, env parsed;
    /// Sustained commands per second per connection.
    commands_per_sec: f64 = 10.0, env parsed;
    /// Burst of commands per connection.
    command_burst: u32 = 20, env parsed;
    /// Seconds between server WebSocket pings.
    heartbeat_secs: u64 = 10, env parsed;
    /// Seconds of silence after which a connection is closed.
    heartbeat_timeout_secs: u64 = 30, env parsed;
    /// Broadcasts queued per viewer before it is disconnected as too slow.
    send_queue: usize = 32, env parsed;
    /// Write broadcasts through io_uring, many sockets per system call (Linux; where the
    /// kernel refuses, or when false, one `send` per socket).
    fanout_io_uring: bool = true, env parsed;
    /// Upper bound of viewers in one session on one instance.
    max_viewers_per_session: usize = 20_000, env parsed;
    /// Mean seconds between the safety-net comparisons of each hub with the store (jittered
    /// ±50 %; gaps are closed at once without it).
    reconcile_secs: f64 = 30.0, env parsed;
    /// Accepted changes per second per session, over all instances (0 = unlimited).
    session_changes_per_sec: f64 = 5.0, env parsed;
    /// Burst of accepted changes per session.
    session_change_burst: u32 = 20, env parsed;
    /// WebSockets one client address may hold in one session on one instance (0 = unlimited).
    max_sockets_per_address: usize = 50, env parsed;
    /// A request header holding the client address set by a trusted reverse proxy (e.g.
    /// `x-forwarded-for`: its last entry is used). Empty: the TCP peer address.
    client_ip_header: String = String::new(), env parsed;
    /// IPv6 clients are grouped by this many leading bits of their address for the
    /// per-address limits (`max_sockets_per_address`, `creates_per_min`): 64 = one /64, what
    /// one home connection is handed; 128 = every address on its own. 1..=128 (checked).
    /// IPv4 addresses (IPv4-mapped IPv6 ones included) are each their own.
    #[serde(deserialize_with = "ipv6_prefix_len")]
    ipv6_prefix_len: u8 = 64, env ipv6_prefix;
    /// Sessions one client address may create per minute (0 = unlimited).
    creates_per_min: u32 = 30, env parsed;
    /// Sessions stored at most by the in-memory store (creation answers 503 beyond).
    max_sessions: usize = 100_000, env parsed;
    /// A session nobody has joined expires after this many seconds (first join slides it to
    /// `session_ttl_secs`).
    unjoined_session_ttl_secs: u64 = 600, env parsed;
    /// Permanent rooms (kept without expiry) in the store at most, over all hosts.
    max_permanent_rooms: usize = 1_000, env parsed;
    /// Permanent rooms one host key may keep at most.
    max_permanent_rooms_per_host: usize = 5, env parsed;
    /// Seconds a client may take to send a request's headers.
    header_read_timeout_secs: u64 = 10, env parsed;
    /// Seconds an HTTP connection may stay idle (no request in flight) before it is closed.
    idle_timeout_secs: u64 = 60, env parsed;
    /// Open HTTP/WebSocket connections at most (new ones wait in the backlog beyond); also page
    /// renders in flight, abandoned ones included (beyond, 503: `http::to_completion`).
    max_connections: usize = 50_000, env parsed;
    /// Seconds a graceful shutdown waits for connections to close.
    drain_secs: u64 = 5, env parsed;
    /// Milliseconds one command may take (store round trips included) before it is answered
    /// `unavailable`.
    apply_timeout_ms: u64 = 3_000, env parsed;
    /// Cap of a scheduled start's lead (ms): a play, resume, seek while playing or video
    /// change takes effect this far ahead at most, adapted to the players' reported needs
    /// (0: starts are not scheduled; see docs/protocol.md "Scheduled starts").
    start_lead_max_ms: u32 = watchparty_core::start::DEFAULT_MAX_LEAD_MS, env parsed;
    /// Most videos in a session's queue.
    max_queue_len: usize = watchparty_core::queue::DEFAULT_MAX_QUEUE, env parsed;
    /// How often (ms) each instance checks its sessions for a video that ended with a queue
    /// behind it (the automatic advance).
    advance_check_ms: u64 = 250, env parsed;
    /// "Wait for everyone": the longest (ms) a hold waits for viewers whose players are not
    /// ready before the room starts without them (see `watchparty_core::hold`). Each
    /// instance checks its held rooms every `advance_check_ms`.
    hold_deadline_ms: u64 = watchparty_core::hold::DEFAULT_DEADLINE_MS, env parsed;
    /// Longest display name, in characters.
    max_name_chars: usize = watchparty_core::names::MAX_NAME_CHARS, env parsed;
    /// Viewers the room's list ("who is here") shows by name; beyond them it shows counts
    /// ("9,812 of 10,000 in sync"). At most 500.
    roster_len: usize = watchparty_core::roster::DEFAULT_SHOWN, env parsed;
    /// Seconds a viewer removed by a host stays out (its browser's key is refused).
    removal_secs: u64 = watchparty_core::room::DEFAULT_REMOVAL_SECS, env parsed;
    /// Vote to skip: the video is skipped once the votes are more than this share (0..1) of
    /// the viewers in the room (0.5: more than half).
    skip_vote_share: f64 = watchparty_core::ready_skip::DEFAULT_SKIP_SHARE, env parsed;
    /// Longest chat message, in characters.
    max_chat_chars: usize = watchparty_core::chat::MAX_CHAT_CHARS, env parsed;
    /// Chat messages kept per session (a joiner gets them as history).
    chat_kept: usize = 50, env parsed;
    /// Reactions kept per session (a joiner sees them when its video reaches their moment).
    reactions_kept: usize = 200, env parsed;
    /// Sustained chat messages per second per connection.
    chat_per_sec: f64 = 1.0, env parsed;
    /// Burst of chat messages per connection.
    chat_burst: u32 = 5, env parsed;
    /// Sustained chat messages per second per session, over all instances (0 = unlimited).
    session_chat_per_sec: f64 = 5.0, env parsed;
    /// Burst of chat messages per session.
    session_chat_burst: u32 = 20, env parsed;
    /// Sustained reactions per second per connection.
    reactions_per_sec: f64 = 2.0, env parsed;
    /// Burst of reactions per connection.
    reaction_burst: u32 = 8, env parsed;
    /// Sustained reactions per second per session, over all instances (0 = unlimited).
    session_reactions_per_sec: f64 = 8.0, env parsed;
    /// Burst of reactions per session.
    session_reaction_burst: u32 = 30, env parsed;
    /// Where `GET /metrics` is served: `None` (or empty) on the main listener, else only on
    /// this separate address (e.g. a private interface).
    metrics_listen: Option<SocketAddr> = None, env optional;
}

/// The environment variable of setting `key`: `WATCHPARTY_<KEY IN UPPER CASE>`.
pub fn env_var(key: &str) -> String {
    format!("WATCHPARTY_{}", key.to_ascii_uppercase())
}

/// Reads an environment value with [`std::str::FromStr`] (surrounding blanks ignored).
fn parsed<T: std::str::FromStr>(var: &str, value: String) -> Result<T, SettingsError> {
    value.trim().parse().map_err(|_| SettingsError::Env {
        var: var.into(),
        value,
    })
}

/// Reads a text taken as it is (the Redis URL; an empty one selects the memory store).
fn some_text(_var: &str, value: String) -> Result<Option<String>, SettingsError> {
    Ok(Some(value))
}

/// Reads an optional value: empty (or blank) means unset.
fn optional<T: std::str::FromStr>(var: &str, value: String) -> Result<Option<T>, SettingsError> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        parsed(var, value).map(Some)
    }
}

/// Reads a comma-separated list (blank entries dropped).
fn comma_list(_var: &str, value: String) -> Result<Vec<String>, SettingsError> {
    Ok(value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect())
}

/// Reads an IPv6 prefix length, refusing one outside [`crate::limits::IPV6_PREFIX_LENS`].
fn ipv6_prefix(var: &str, value: String) -> Result<u8, SettingsError> {
    let len: u8 = parsed(var, value.clone())?;
    if crate::limits::IPV6_PREFIX_LENS.contains(&len) {
        Ok(len)
    } else {
        Err(SettingsError::Env {
            var: var.into(),
            value,
        })
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
        if let Some(v) = get("REDIS_URL") {
            self.redis_url = Some(v);
        }
        self.apply_env_keys(&get)?;
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

    /// The default of `key` as docs/configuration.md writes it: `value`, or empty/unset.
    fn documented_default(value: Option<&toml::Value>) -> Vec<String> {
        match value {
            None => vec!["empty".into(), "unset".into()],
            Some(toml::Value::String(s)) if s.is_empty() => vec!["empty".into()],
            Some(toml::Value::Array(a)) if a.is_empty() => vec!["empty".into()],
            Some(toml::Value::String(s)) => vec![format!("`{s}`")],
            Some(v) => vec![format!("`{v}`")],
        }
    }

    #[test]
    fn the_documentation_table_lists_every_setting_with_its_variable_and_default() {
        let doc = include_str!("../../docs/configuration.md");
        let defaults = toml::Value::try_from(Settings::default()).unwrap();
        let rows: Vec<Vec<&str>> = doc
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| l.split(" | ").map(|c| c.trim_matches(['|', ' '])).collect())
            .collect();
        for key in Settings::KEYS {
            let row = rows
                .iter()
                .find(|r| r[0] == format!("`{key}`"))
                .unwrap_or_else(|| panic!("docs/configuration.md has no row for {key}"));
            assert!(
                row[1].contains(&format!("`{}`", env_var(key))),
                "{key}: variable {:?}",
                row[1]
            );
            let expected = documented_default(defaults.get(key));
            assert!(
                expected.iter().any(|e| e == row[2]),
                "{key}: documented default {:?}, declared {expected:?}",
                row[2]
            );
        }
        for row in &rows {
            let key = row[0].trim_matches('`');
            assert!(
                Settings::KEYS.contains(&key),
                "documented but not declared: {key}"
            );
        }
    }

    #[test]
    fn the_shipped_file_lists_every_setting() {
        let text = include_str!("../../Leptos.toml");
        for key in Settings::KEYS {
            let listed = text.lines().any(|l| {
                let l = l.trim_start_matches("# ");
                l.starts_with(&format!("{key} = "))
            });
            assert!(listed, "Leptos.toml does not list {key}");
        }
    }

    #[test]
    fn environment_variables_are_derived_from_the_keys() {
        assert_eq!(env_var("send_queue"), "WATCHPARTY_SEND_QUEUE");
        assert_eq!(Settings::KEYS.len(), 48);
        // Each variable is read: a value that does not parse names it.
        for key in Settings::KEYS {
            let var = env_var(key);
            let mut s = Settings::default();
            let r = s.apply_env(|k| (k == var).then(|| "not a value".to_string()));
            match *key {
                "redis_url" | "allowed_origins" | "client_ip_header" => assert!(r.is_ok(), "{key}"),
                _ => assert!(r.unwrap_err().to_string().contains(&var), "{key}"),
            }
        }
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(Settings::from_toml("lisen = \"1.2.3.4:5\"").is_err());
    }
}
