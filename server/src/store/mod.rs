//! Session stores: where the authoritative state lives and how its changes are published.
//!
//! [`SessionStore`] is object-safe (`Arc<dyn SessionStore>`) with two implementations:
//! [`MemoryStore`] (one process, the default) and [`RedisStore`] (any number of instances).
//! Every change goes through [`SessionStore::compare_and_set`], which atomically checks the
//! revision, writes the state, slides the TTL and publishes the event, so the published
//! events of a session form one total order by revision.
//!
//! Events travel as the exact JSON text of the [`watchparty_core::protocol::ServerMsg`] viewers receive
//! (`{"type":"state",..}` / `{"type":"presence",..}`): they are serialised once, by the
//! instance that made the change, and forwarded byte for byte.
//!
//! Key layout (Redis; the hash tag `{id}` keeps a session's keys in one cluster slot):
//! - `wp:{<id>}:state`: the state JSON, TTL = `session_ttl_secs`, slid on changes and joins.
//! - `wp:{<id>}:presence`: hash `instance id -> "count:timestamp_ms:seq"`.
//! - `wp:{<id>}:chat` / `wp:{<id>}:react`: lists of the last chat lines / reactions (their
//!   event texts), with their budgets `wp:{<id>}:chat:budget` / `wp:{<id>}:react:budget`.
//! - channel `wp:{<id>}:ev`: published events.
//! - A permanent room's keys have no TTL (the state's `permanent` field decides it on every
//!   write); the index of permanent rooms lives under another hash tag (see [`permanent`]).

pub mod memory;
pub mod permanent;
pub mod redis;

pub use memory::MemoryStore;
pub use redis::RedisStore;

use tokio::sync::mpsc;
use watchparty_core::ids::SessionId;
use watchparty_core::playback::PlaybackState;
use watchparty_core::protocol::Cause;

/// A presence entry older than this (ms) no longer counts (its instance stopped reporting).
pub const PRESENCE_STALE_MS: u64 = 30_000;

/// A store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or answered with an error.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store holds data this server cannot read.
    #[error("corrupt session data: {0}")]
    Corrupt(String),
    /// The store holds as many sessions as it may (`max_sessions`).
    #[error("too many sessions stored")]
    Full,
}

/// The result of [`SessionStore::compare_and_set`].
#[derive(Clone, Debug, PartialEq)]
pub enum CasOutcome {
    /// Written and published.
    Applied,
    /// The stored revision differs; this is the current state. Nothing was written.
    Conflict(Box<PlaybackState>),
    /// The session does not exist (or expired).
    Missing,
    /// The session's change budget ([`ChangeLimit`]) is spent. Nothing was written.
    RateLimited,
}

/// Per-session limit on accepted changes, checked inside the compare-and-set (so it holds
/// across instances): a token bucket of `per_sec` changes per second holding at most `burst`,
/// timed by the changes' `updated_at` (the shared server clock). `per_sec <= 0` = unlimited.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChangeLimit {
    /// Sustained accepted changes per second per session.
    pub per_sec: f64,
    /// Changes a session may make at once.
    pub burst: u32,
}

impl ChangeLimit {
    /// No limit (the stores' default; [`crate::sessions::Sessions::open`] sets the configured one).
    pub const UNLIMITED: ChangeLimit = ChangeLimit {
        per_sec: 0.0,
        burst: 0,
    };

    /// True when a limit applies.
    pub fn enabled(&self) -> bool {
        self.per_sec.is_finite() && self.per_sec > 0.0
    }
}

/// A session's kept log of events that are not state: chat lines or reactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Log {
    /// Chat lines (`{"type":"chat",..}`).
    Chat,
    /// Reactions (`{"type":"reaction",..}`).
    Reactions,
}

impl Log {
    /// The key suffix.
    pub fn name(self) -> &'static str {
        match self {
            Log::Chat => "chat",
            Log::Reactions => "react",
        }
    }
}

/// How an append to a [`Log`] is bounded: entries kept, and the session's budget for it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogLimits {
    /// Entries kept (the oldest go first).
    pub keep: usize,
    /// Appends per session (over all instances).
    pub rate: ChangeLimit,
}

/// The result of [`SessionStore::append`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Stored and published.
    Appended,
    /// The session does not exist (or expired).
    Missing,
    /// The session's budget for this log is spent. Nothing was stored.
    RateLimited,
}

/// What a subscription delivers.
#[derive(Clone, Debug, PartialEq)]
pub enum Delivery {
    /// A published event: the JSON text of a [`watchparty_core::protocol::ServerMsg`].
    Message(String),
    /// Events may have been missed (reconnect, overflow): reload the state.
    Resync,
}

/// A live subscription to one session's events. Cancel it with
/// [`SessionStore::unsubscribe`] and its `token`.
#[derive(Debug)]
pub struct Subscription {
    /// Identifies this subscription (a later subscription to the same session replaces it).
    pub token: u64,
    /// The events, in publication order.
    pub rx: mpsc::UnboundedReceiver<Delivery>,
}

/// Storage and publication of session state. See the module docs for the semantics.
#[async_trait::async_trait]
pub trait SessionStore: std::fmt::Debug + Send + Sync + 'static {
    /// `"memory"` or `"redis"`.
    fn kind(&self) -> &'static str;

    /// The store's own metrics (Redis latency), registered by every instance that uses it.
    fn metrics(&self) -> Option<&crate::metrics::StoreMetrics> {
        None
    }

    /// Checks that the store answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores a new session unless the id exists (SET NX with TTL). `false` on collision.
    async fn create(&self, id: &SessionId, state: &PlaybackState) -> Result<bool, StoreError>;

    /// The current state, `None` when the session does not exist.
    async fn load(&self, id: &SessionId) -> Result<Option<PlaybackState>, StoreError>;

    /// Atomically: if the stored revision equals `expected_revision`, write `next`, slide the
    /// TTL and publish `State { next, cause }` to the session's subscribers.
    async fn compare_and_set(
        &self,
        id: &SessionId,
        expected_revision: u64,
        next: &PlaybackState,
        cause: Option<Cause>,
    ) -> Result<CasOutcome, StoreError> {
        self.compare_and_set_event(id, expected_revision, next, &state_event(next, cause))
            .await
    }

    /// [`SessionStore::compare_and_set`] publishing `event`, the already serialised
    /// [`state_event`] of `next` (the caller reuses the same text for its own viewers, so a
    /// change is serialised once). An error means nothing was written or published.
    async fn compare_and_set_event(
        &self,
        id: &SessionId,
        expected_revision: u64,
        next: &PlaybackState,
        event: &str,
    ) -> Result<CasOutcome, StoreError>;

    /// Atomically: if the session exists and its budget for `log` allows (timed by `now_ms`,
    /// the shared server clock), appends `event` to the log, keeps the last `limits.keep`
    /// entries, and publishes `event` to the session's subscribers.
    async fn append(
        &self,
        id: &SessionId,
        log: Log,
        event: &str,
        now_ms: f64,
        limits: LogLimits,
    ) -> Result<AppendOutcome, StoreError>;

    /// Removes the first entry of `log` whose text starts with `prefix` and publishes `event`;
    /// `false` (nothing published) when there is none.
    async fn remove_entry(
        &self,
        id: &SessionId,
        log: Log,
        prefix: &str,
        event: &str,
    ) -> Result<bool, StoreError>;

    /// The entries of `log`, oldest first (empty for unknown sessions).
    async fn log(&self, id: &SessionId, log: Log) -> Result<Vec<String>, StoreError>;

    /// Slides the TTL of a session; `false` when it does not exist.
    async fn touch(&self, id: &SessionId) -> Result<bool, StoreError>;

    /// Records that `instance` has `count` local viewers of the session and its part of the
    /// room's list (`roster`: the JSON of an [`watchparty_core::roster::Part`], or empty), ignored when an
    /// entry with a higher `seq` is already stored; publishes the presence event (see
    /// [`PresenceEvent`]) with the total over all live instances and their parts, and returns
    /// that total.
    async fn report_presence(
        &self,
        id: &SessionId,
        instance: &str,
        count: u32,
        seq: u64,
        roster: &str,
    ) -> Result<u32, StoreError>;

    /// Viewers of the session over all live instances (read only).
    async fn viewers(&self, id: &SessionId) -> Result<u32, StoreError>;

    /// Starts delivering the session's published events. One subscription per session per
    /// store: subscribing again replaces the previous one.
    async fn subscribe(&self, id: &SessionId) -> Result<Subscription, StoreError>;

    /// Ends the subscription `token` (a no-op when it was replaced already).
    async fn unsubscribe(&self, id: &SessionId, token: u64);

    /// Re-establishes the session's subscription when its hub stopped hearing its own events
    /// (Redis Cluster: the session's slot moved to another primary, which drops shard
    /// subscriptions). A no-op where subscriptions cannot be lost (the memory store).
    async fn resubscribe(&self, _id: &SessionId) -> Result<(), StoreError> {
        Ok(())
    }

    /// The reference clock shared by all instances (ms since the epoch), or `None` when the
    /// local clock is the reference (single process).
    async fn reference_time_ms(&self) -> Result<Option<f64>, StoreError>;

    /// Atomically, in the index of permanent rooms (see [`permanent`]): unless another room
    /// has `entry.alias`, or a cap would be passed (a room already in the index counts once:
    /// a rename passes), writes `entry` (freeing the room's previous name). (The defaults of
    /// these index methods serve test wrappers: a store without permanent rooms.)
    async fn reserve_permanent(
        &self,
        _entry: &permanent::IndexEntry,
        _caps: permanent::PermanentCaps,
    ) -> Result<permanent::Reserve, StoreError> {
        Err(no_permanent_rooms())
    }

    /// Removes the room's index entry and its name; when `at_ms` is given, only if the entry
    /// is still the one written then. `false` when there was none to remove.
    async fn release_permanent(
        &self,
        _id: &SessionId,
        _at_ms: Option<u64>,
    ) -> Result<bool, StoreError> {
        Err(no_permanent_rooms())
    }

    /// The entries of the index (at most the global cap of them).
    async fn permanent_rooms(&self) -> Result<Vec<permanent::IndexEntry>, StoreError> {
        Err(no_permanent_rooms())
    }

    /// The room a short name belongs to.
    async fn resolve_alias(
        &self,
        _alias: &watchparty_core::permanent::Alias,
    ) -> Result<Option<SessionId>, StoreError> {
        Ok(None)
    }

    /// Deletes every key of the session and publishes [`permanent::END_EVENT`]; `false` when
    /// the session did not exist.
    async fn delete_session(&self, _id: &SessionId) -> Result<bool, StoreError> {
        Err(no_permanent_rooms())
    }
}

fn no_permanent_rooms() -> StoreError {
    StoreError::Unavailable("this store keeps no permanent rooms".into())
}

/// The start of every [`state_event`]; the stored state's JSON follows it.
const STATE_EVENT_HEAD: &str = r#"{"type":"state","state":"#;
/// Between the state and the cause in a [`state_event`].
const STATE_EVENT_CAUSE: &str = r#","cause":"#;

/// The JSON text of the `State` event published for a change: the state serialised once, the
/// same text that is stored (see [`state_of_event`]), so a change is serialised once.
pub fn state_event(state: &PlaybackState, cause: Option<Cause>) -> String {
    // Serialising plain data with string keys cannot fail; fall back to an empty object.
    let state = serde_json::to_string(state).unwrap_or_else(|_| String::from("{}"));
    let cause = serde_json::to_string(&cause).unwrap_or_else(|_| String::from("null"));
    format!("{STATE_EVENT_HEAD}{state}{STATE_EVENT_CAUSE}{cause}}}")
}

/// The stored JSON of the state inside a [`state_event`] text (`None` for any other text).
pub fn state_of_event(event: &str) -> Option<&str> {
    let rest = event.strip_prefix(STATE_EVENT_HEAD)?.strip_suffix('}')?;
    let at = rest.rfind(STATE_EVENT_CAUSE)?;
    Some(&rest[..at])
}

/// The JSON text of the viewer-facing `Presence` message.
pub fn presence_event(viewers: u32) -> String {
    format!(r#"{{"type":"presence","viewers":{viewers}}}"#)
}

/// The presence event as published between instances: the viewer count plus every live
/// instance's part of the room's list. Built by the stores (in Lua for Redis) from the parts'
/// stored JSON text; each hub merges the parts and sends its viewers `presence` and a `roster`
/// delta (see [`watchparty_core::roster`]).
#[derive(Debug, serde::Deserialize)]
pub struct PresenceEvent {
    /// Viewers over all instances.
    pub viewers: u32,
    /// The live instances' parts (absent in events of older servers).
    #[serde(default)]
    pub parts: Vec<watchparty_core::roster::Part>,
}

/// Whether a published event's text is the presence event (the stores write it with this
/// prefix; every other event is a `state`).
pub fn is_presence_event(text: &str) -> bool {
    text.starts_with(r#"{"type":"presence""#)
}

/// The published presence event for `viewers` and the instances' stored parts (JSON texts;
/// empty ones are skipped).
pub fn presence_parts_event<'a>(viewers: u32, parts: impl IntoIterator<Item = &'a str>) -> String {
    let parts: Vec<&str> = parts.into_iter().filter(|p| !p.is_empty()).collect();
    format!(
        r#"{{"type":"presence","viewers":{viewers},"parts":[{}]}}"#,
        parts.join(",")
    )
}

/// Parses a stored state.
pub fn decode_state(json: &str) -> Result<PlaybackState, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Serialises a state for storage.
pub fn encode_state(state: &PlaybackState) -> Result<String, StoreError> {
    serde_json::to_string(state).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// `wp:{<id>}:state`.
pub fn state_key(id: &SessionId) -> String {
    format!("wp:{{{id}}}:state")
}

/// `wp:{<id>}:presence`.
pub fn presence_key(id: &SessionId) -> String {
    format!("wp:{{{id}}}:presence")
}

/// `wp:{<id>}:budget`: the per-session change budget (hash `t` tokens, `at` ms).
pub fn budget_key(id: &SessionId) -> String {
    format!("wp:{{{id}}}:budget")
}

/// `wp:{<id>}:chat` or `wp:{<id>}:react`.
pub fn log_key(id: &SessionId, log: Log) -> String {
    format!("wp:{{{id}}}:{}", log.name())
}

/// The budget hash of a log.
pub fn log_budget_key(id: &SessionId, log: Log) -> String {
    format!("wp:{{{id}}}:{}:budget", log.name())
}

/// Whether a published event's text is a chat line, a deletion or a reaction (forwarded to the
/// viewers byte for byte, outside the revision order).
pub fn is_log_event(text: &str) -> bool {
    text.starts_with(r#"{"type":"chat""#)
        || text.starts_with(r#"{"type":"reaction""#)
        || text.starts_with(r#"{"type":"chat_deleted""#)
}

/// `wp:{<id>}:ev`.
pub fn channel(id: &SessionId) -> String {
    format!("wp:{{{id}}}:ev")
}

/// The session id of an event channel name.
pub fn session_of_channel(channel: &str) -> Option<SessionId> {
    let inner = channel.strip_prefix("wp:{")?.strip_suffix("}:ev")?;
    SessionId::parse(inner).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use watchparty_core::ids::VideoId;
    use watchparty_core::protocol::ServerMsg;

    #[test]
    fn keys_share_a_hash_tag() {
        let id = SessionId::parse("abcDEF012345").unwrap();
        assert_eq!(state_key(&id), "wp:{abcDEF012345}:state");
        assert_eq!(presence_key(&id), "wp:{abcDEF012345}:presence");
        assert_eq!(channel(&id), "wp:{abcDEF012345}:ev");
        assert_eq!(session_of_channel(&channel(&id)), Some(id));
        assert_eq!(session_of_channel("wp:{nope}:ev"), None);
    }

    #[test]
    fn events_are_server_messages() {
        let state = PlaybackState::new(VideoId::parse("dQw4w9WgXcQ").unwrap(), 3.0, 1.0);
        let cause = Some(Cause { conn_id: 7, seq: 2 });
        let event = state_event(&state, cause);
        let msg: ServerMsg = serde_json::from_str(&event).unwrap();
        assert_eq!(
            msg,
            ServerMsg::State {
                state: state.clone(),
                cause
            }
        );
        // The stored state is the event's own text of it.
        assert_eq!(
            state_of_event(&event),
            Some(encode_state(&state).unwrap().as_str())
        );
        let none = state_event(&state, None);
        assert_eq!(decode_state(state_of_event(&none).unwrap()).unwrap(), state);
        assert_eq!(state_of_event(&presence_event(3)), None);
        let msg: ServerMsg = serde_json::from_str(&presence_event(12)).unwrap();
        assert_eq!(msg, ServerMsg::Presence { viewers: 12 });
    }
}
