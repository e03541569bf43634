//! The stores' index of permanent rooms: what both stores implement for
//! [`watchparty_core::permanent`], and the key names of the Redis layout.
//!
//! **Index.** One entry per permanent room (session id → the host key that made it permanent,
//! its short name, when the entry was written) and one map of short names → session id. The
//! caps (per host key, global) and the name's uniqueness are checked and the entry written in
//! one atomic step ([`super::SessionStore::reserve_permanent`]).
//!
//! **Redis Cluster.** A session's keys share the hash tag `{<id>}`; the index lives under its
//! own tag `{wp-perm}` (`wp:{wp-perm}:rooms`, `wp:{wp-perm}:names`), another slot, so no single
//! script can change both. The steps are ordered so that a crash between them leaves nothing
//! that matters inconsistent:
//! - *keep*: reserve in the index first, then write the state (which drops the expiry of every
//!   key of the session); if the write fails, the reservation is rolled back. A crash between
//!   the two leaves an index entry whose room is not permanent: it holds a cap place and its
//!   name until it is pruned ([`is_stale`]): when a cap or a name refuses a room, the server
//!   checks the entries it would count against the rooms' states and drops the stale ones
//!   (older than [`STALE_AFTER_MS`], so a reservation in progress is never taken for one).
//! - *temporary again*: write the state first (expiry back), then release the entry.
//! - *end*: delete the session's keys first, then release the entry; a crash between leaves an
//!   entry of a room that no longer exists, pruned the same way, and a name that resolves to
//!   nothing (answered as unknown, and released when looked up).

use watchparty_core::ids::SessionId;
use watchparty_core::permanent::{Alias, Permanence};
use watchparty_core::playback::PlaybackState;
use watchparty_core::rights::Kid;

/// An index entry younger than this (ms) is never pruned: its room may be being written.
pub const STALE_AFTER_MS: f64 = 30_000.0;

/// The caps on permanent rooms (settings `max_permanent_rooms_per_host`, `max_permanent_rooms`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PermanentCaps {
    /// Most permanent rooms per host key.
    pub per_host: usize,
    /// Most permanent rooms in the store.
    pub total: usize,
}

impl PermanentCaps {
    /// No caps (a rollback re-writes an entry that was there before).
    pub const NONE: PermanentCaps = PermanentCaps {
        per_host: usize::MAX,
        total: usize::MAX,
    };
}

/// The result of [`super::SessionStore::reserve_permanent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reserve {
    /// The entry (and the name) is the room's now.
    Reserved,
    /// Another room has the name. Nothing changed.
    NameTaken,
    /// The host key has `per_host` permanent rooms already. Nothing changed.
    HostFull,
    /// The store holds `total` permanent rooms already. Nothing changed.
    Full,
}

/// One room in the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// The room.
    pub id: SessionId,
    /// The host key it counts against.
    pub by: Kid,
    /// Its short name.
    pub alias: Option<Alias>,
    /// When the entry was written (ms, server clock).
    pub at_ms: u64,
}

impl IndexEntry {
    /// The entry's text in the Redis hash: `<kid>|<alias>|<at_ms>`.
    pub fn encode(&self) -> String {
        format!(
            "{}|{}|{}",
            self.by,
            self.alias.as_ref().map(Alias::as_str).unwrap_or(""),
            self.at_ms
        )
    }

    /// Parses [`IndexEntry::encode`]'s text (`None` when unreadable).
    pub fn decode(id: &str, text: &str) -> Option<Self> {
        let mut parts = text.split('|');
        let by = Kid::parse(parts.next()?).ok()?;
        let alias = match parts.next()? {
            "" => None,
            a => Some(Alias::parse(a).ok()?),
        };
        let at_ms = parts.next()?.parse().ok()?;
        Some(IndexEntry {
            id: SessionId::parse(id).ok()?,
            by,
            alias,
            at_ms,
        })
    }

    /// The permanence this entry stands for.
    pub fn permanence(&self) -> Permanence {
        Permanence {
            by: self.by.clone(),
            alias: self.alias.clone(),
        }
    }
}

/// Whether `entry` is a leftover (see the module docs): older than [`STALE_AFTER_MS`] at
/// `now_ms` and its room (`state`) is gone or not permanent as the entry says.
pub fn is_stale(entry: &IndexEntry, state: Option<&PlaybackState>, now_ms: f64) -> bool {
    if now_ms - (entry.at_ms as f64) < STALE_AFTER_MS {
        return false;
    }
    state.and_then(|s| s.permanent.as_ref()) != Some(&entry.permanence())
}

/// `wp:{wp-perm}:rooms`: hash session id → [`IndexEntry::encode`].
pub const ROOMS_KEY: &str = "wp:{wp-perm}:rooms";
/// `wp:{wp-perm}:names`: hash short name → session id.
pub const NAMES_KEY: &str = "wp:{wp-perm}:names";

/// The event published when a host ends a room: every instance closes its viewers.
pub const END_EVENT: &str = r#"{"type":"room_ended"}"#;

/// Whether a published event is [`END_EVENT`].
pub fn is_end_event(text: &str) -> bool {
    text == END_EVENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_stale_ones_are_found() {
        let e = IndexEntry {
            id: SessionId::parse("abcDEF012345").unwrap(),
            by: Kid::parse(&"a".repeat(32)).unwrap(),
            alias: Some(Alias::parse("friday").unwrap()),
            at_ms: 1_000,
        };
        assert_eq!(
            IndexEntry::decode("abcDEF012345", &e.encode()),
            Some(e.clone())
        );
        let plain = IndexEntry {
            alias: None,
            ..e.clone()
        };
        assert_eq!(
            IndexEntry::decode("abcDEF012345", &plain.encode()),
            Some(plain)
        );
        assert_eq!(IndexEntry::decode("abcDEF012345", "junk"), None);
        let mut s = PlaybackState::new(
            watchparty_core::ids::VideoId::parse("dQw4w9WgXcQ").unwrap(),
            0.0,
            0.0,
        );
        // Young entries are never stale; old ones are unless the state confirms them.
        assert!(!is_stale(&e, None, 2_000.0));
        assert!(is_stale(&e, None, 100_000.0));
        assert!(is_stale(&e, Some(&s), 100_000.0));
        s.permanent = Some(e.permanence());
        assert!(!is_stale(&e, Some(&s), 100_000.0));
    }
}
