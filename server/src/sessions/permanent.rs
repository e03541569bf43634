//! Permanent rooms: keeping a room (with an optional short name), making it temporary again,
//! ending it, resolving a short name, and pausing a permanent room nobody watches.
//!
//! Invariants (the steps' order is explained in [`crate::store::permanent`]):
//! - only the room's host may keep, release or end it ([`watchparty_core::permanent`]); a
//!   refusal changes nothing (a reservation made for a change that then failed is rolled
//!   back to what the index held before);
//! - keeping reserves in the index (caps, unique name) *before* the state says so; making
//!   temporary writes the state *before* releasing the index entry; ending deletes the room
//!   *before* releasing it; a cap or a name that refuses first prunes leftovers of crashes
//!   between those steps and tries once more (the global cap's prune, which reads every kept
//!   room, at most once a minute per instance);
//! - a permanent room whose last viewer (over all instances) left, and which nobody rejoins
//!   within [`EMPTY_GRACE`], is paused at the position it had when it became empty: one
//!   server-made revision, by compare-and-set, so it happens once however many instances try.

use super::commands::unavailable;
use super::{Outcome, Rejection, Sessions};
use crate::hub::Hub;
use crate::store::permanent::{is_stale, IndexEntry, PermanentCaps, Reserve};
use crate::store::{CasOutcome, StoreError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Weak;
use std::time::Duration;
use watchparty_core::ids::SessionId;
use watchparty_core::permanent::{may_manage, Alias, AliasError, Permanence, NOT_OWNER};
use watchparty_core::playback::{Command, PlaybackState};
use watchparty_core::protocol::Cause;
use watchparty_core::rights::Kid;
use watchparty_core::room::{self, RoomCommand, RoomLimits};

/// The global cap's prune (which reads every kept room's state) runs at most this often (ms).
const FULL_PRUNE_EVERY_MS: f64 = 60_000.0;
/// When this process last ran the global cap's prune (ms, server clock).
static LAST_FULL_PRUNE_MS: AtomicU64 = AtomicU64::new(0);

/// How long a permanent room must stay empty before it pauses (so a reload or a move to
/// another instance during a rolling restart does not pause it).
pub const EMPTY_GRACE: Duration = Duration::from_secs(3);

/// Why keeping a room was refused; nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PermanentRefusal {
    /// The host key keeps `max_permanent_rooms_per_host` rooms already.
    #[error("you keep {0} permanent rooms already (the most one host may keep); end or release one first")]
    HostLimit(usize),
    /// The store keeps `max_permanent_rooms` rooms already.
    #[error("this server keeps as many permanent rooms as it may ({0}); try again later")]
    Limit(usize),
    /// Another room has the name.
    #[error("another room is called {0}; pick another name")]
    NameTaken(String),
    /// The name is not acceptable.
    #[error(transparent)]
    Name(#[from] AliasError),
}

impl Sessions {
    /// The newest state this instance knows of the hub's room.
    async fn newest(&self, hub: &Hub) -> Result<PlaybackState, Rejection> {
        match hub.latest() {
            Some(s) => Ok(s),
            None => self.stored(hub).await,
        }
    }

    fn caps(&self) -> PermanentCaps {
        PermanentCaps {
            per_host: self.settings.max_permanent_rooms_per_host,
            total: self.settings.max_permanent_rooms,
        }
    }

    /// Keeps the room without expiry, called `name` if given (validated; renames a kept
    /// room). Host only; refused beyond the caps or when the name is another room's.
    pub async fn make_permanent(
        &self,
        hub: &Hub,
        cause: Cause,
        kid: &Kid,
        name: Option<&str>,
    ) -> Result<Outcome, Rejection> {
        let alias = name
            .filter(|n| !n.trim().is_empty())
            .map(Alias::parse)
            .transpose()
            .map_err(PermanentRefusal::from)?;
        let current = self.newest(hub).await?;
        if !may_manage(&current.rights, kid) {
            return Err(Rejection::Forbidden(NOT_OWNER));
        }
        let to = Permanence {
            by: kid.clone(),
            alias,
        };
        if current.permanent.as_ref() == Some(&to) {
            return Ok(Outcome::Unchanged(current));
        }
        let entry = IndexEntry {
            id: hub.id().clone(),
            by: kid.clone(),
            alias: to.alias.clone(),
            at_ms: self.now_ms().max(0.0) as u64,
        };
        self.reserve(&entry).await?;
        let result = self
            .apply_as(
                hub,
                cause,
                None,
                Some(kid),
                0,
                RoomCommand::Permanence(Some(to)),
            )
            .await;
        if result.is_err() {
            self.roll_back(&entry, current.permanent.as_ref()).await;
        }
        tracing::info!(session = %hub.id(), ok = result.is_ok(), "room kept");
        result
    }

    /// Reserves `entry` in the index; on a refusal, prunes the leftovers that refusal counted
    /// and tries once more.
    async fn reserve(&self, entry: &IndexEntry) -> Result<(), Rejection> {
        let caps = self.caps();
        let mut pruned = false;
        loop {
            let refusal = match self
                .store
                .reserve_permanent(entry, caps)
                .await
                .map_err(unavailable)?
            {
                Reserve::Reserved => return Ok(()),
                Reserve::NameTaken => PermanentRefusal::NameTaken(
                    entry
                        .alias
                        .as_ref()
                        .map(|a| a.to_string())
                        .unwrap_or_default(),
                ),
                Reserve::HostFull => PermanentRefusal::HostLimit(caps.per_host),
                Reserve::Full => PermanentRefusal::Limit(caps.total),
            };
            if pruned || self.prune(&refusal, entry).await.map_err(unavailable)? == 0 {
                return Err(refusal.into());
            }
            pruned = true;
        }
    }

    /// Drops the index entries that `refusal` counted and whose rooms do not confirm them (see
    /// [`is_stale`]); how many.
    async fn prune(
        &self,
        refusal: &PermanentRefusal,
        entry: &IndexEntry,
    ) -> Result<usize, StoreError> {
        let now = self.now_ms();
        if matches!(refusal, PermanentRefusal::Limit(_)) {
            // The global cap counts every room: check them all at most once per
            // FULL_PRUNE_EVERY_MS on this instance, so refused keeps cannot make it read every
            // kept room each time.
            let last = LAST_FULL_PRUNE_MS.load(Ordering::Relaxed) as f64;
            if now - last < FULL_PRUNE_EVERY_MS {
                return Ok(0);
            }
            LAST_FULL_PRUNE_MS.store(now.max(0.0) as u64, Ordering::Relaxed);
        }
        let mut dropped = 0;
        for e in self.store.permanent_rooms().await? {
            let counted = match refusal {
                PermanentRefusal::NameTaken(_) => e.alias == entry.alias,
                PermanentRefusal::HostLimit(_) => e.by == entry.by,
                _ => true,
            };
            if e.id == entry.id || !counted {
                continue;
            }
            let state = self.store.load(&e.id).await?;
            if is_stale(&e, state.as_ref(), now)
                && self.store.release_permanent(&e.id, Some(e.at_ms)).await?
            {
                tracing::warn!(session = %e.id, "dropped a leftover permanent-room entry");
                dropped += 1;
            }
        }
        Ok(dropped)
    }

    /// Puts the index back as it was before `entry` was reserved: the room's earlier entry
    /// (`before`), or none.
    async fn roll_back(&self, entry: &IndexEntry, before: Option<&Permanence>) {
        let r = match before {
            Some(p) => {
                let old = IndexEntry {
                    by: p.by.clone(),
                    alias: p.alias.clone(),
                    ..entry.clone()
                };
                self.store
                    .reserve_permanent(&old, PermanentCaps::NONE)
                    .await
                    .map(drop)
            }
            None => self
                .store
                .release_permanent(&entry.id, Some(entry.at_ms))
                .await
                .map(drop),
        };
        if let Err(e) = r {
            tracing::warn!(session = %entry.id, error = %e, "cannot roll back a reservation; it will be pruned");
        }
    }

    /// Makes a permanent room temporary again (it expires like any room; its name is freed).
    /// Host only.
    pub async fn make_temporary(
        &self,
        hub: &Hub,
        cause: Cause,
        kid: &Kid,
    ) -> Result<Outcome, Rejection> {
        let outcome = self
            .apply_as(
                hub,
                cause,
                None,
                Some(kid),
                0,
                RoomCommand::Permanence(None),
            )
            .await?;
        if let Outcome::Applied(_) = outcome {
            if let Err(e) = self.store.release_permanent(hub.id(), None).await {
                tracing::warn!(session = %hub.id(), error = %e, "cannot release a permanent-room entry; it will be pruned");
            }
            tracing::info!(session = %hub.id(), "room made temporary");
        }
        Ok(outcome)
    }

    /// Ends the room: deletes every key of it and its index entry, and closes every viewer
    /// (all instances) with `close::SESSION_ENDED`. Host only.
    pub async fn end_room(&self, hub: &Hub, kid: &Kid) -> Result<(), Rejection> {
        let current = self.newest(hub).await?;
        if !may_manage(&current.rights, kid) {
            return Err(Rejection::Forbidden(NOT_OWNER));
        }
        self.store
            .delete_session(hub.id())
            .await
            .map_err(unavailable)?;
        if let Err(e) = self.store.release_permanent(hub.id(), None).await {
            tracing::warn!(session = %hub.id(), error = %e, "cannot release a permanent-room entry; it will be pruned");
        }
        tracing::info!(session = %hub.id(), "room ended by its host");
        hub.end_by_host();
        Ok(())
    }

    /// The room called `name` (any case), if it exists. A name whose room is gone is released.
    pub async fn resolve_alias(&self, name: &str) -> Result<Option<SessionId>, StoreError> {
        let Ok(alias) = Alias::parse(name) else {
            return Ok(None);
        };
        let Some(id) = self.store.resolve_alias(&alias).await? else {
            return Ok(None);
        };
        let state = self.store.load(&id).await?;
        let confirmed = state
            .as_ref()
            .and_then(|s| s.permanent.as_ref())
            .is_some_and(|p| p.alias.as_ref() == Some(&alias));
        if confirmed {
            return Ok(Some(id));
        }
        if state.is_none() {
            // Ended, with a crash before its entry was released.
            let _ = self.store.release_permanent(&id, None).await;
        }
        Ok(None)
    }

    /// The hook the hubs call when a room's last viewer over all instances left: a permanent
    /// room that plays is paused after [`EMPTY_GRACE`] unless somebody came back or changed it.
    pub(super) fn room_emptied(sessions: Weak<Sessions>, id: SessionId) {
        let Some(s) = sessions.upgrade() else {
            return;
        };
        if s.is_shutting_down() {
            return;
        }
        let empty_at = s.now_ms();
        drop(s);
        tokio::spawn(async move {
            let r = async {
                let Some(s) = sessions.upgrade() else {
                    return Ok(());
                };
                let Some(state) = s.store.load(&id).await? else {
                    return Ok(());
                };
                if state.permanent.is_none() || !state.playing {
                    return Ok(());
                }
                drop(s);
                tokio::time::sleep(EMPTY_GRACE).await;
                match sessions.upgrade() {
                    Some(s) => s.pause_empty(&id, &state, empty_at).await,
                    None => Ok(()),
                }
            };
            if let Err(e) = r.await {
                tracing::warn!(session = %id, error = %e, "cannot pause an empty permanent room");
            }
        });
    }

    /// Pauses the permanent room `id`, which was `seen` when it became empty at `empty_at`,
    /// at its position then, if nothing changed since and nobody watches.
    async fn pause_empty(
        &self,
        id: &SessionId,
        seen: &PlaybackState,
        empty_at: f64,
    ) -> Result<(), StoreError> {
        if self.is_shutting_down() || self.hubs.get(id).is_some() {
            return Ok(());
        }
        if self.store.viewers(id).await? > 0 {
            return Ok(());
        }
        let pause = Command::Pause {
            position: seen.position_at(empty_at),
        };
        let now = self.now_ms();
        let limits = RoomLimits::default();
        let Ok(Some(next)) = room::apply(seen, &pause.into(), seen.playback_base(), now, limits)
        else {
            return Ok(());
        };
        // One compare-and-set against the revision seen when the room emptied: a conflict
        // means somebody changed the room (or another instance paused it first); either way
        // nothing is left to do.
        if self
            .store
            .compare_and_set(id, seen.revision, &next, None)
            .await?
            == CasOutcome::Applied
        {
            tracing::info!(session = %id, position = next.position, "empty permanent room paused");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;
    use crate::store::{MemoryStore, SessionStore};
    use std::sync::Arc;
    use watchparty_core::ids::VideoId;

    /// A crash between reserving and writing the state leaves an index entry the room does
    /// not confirm: it is pruned when it would refuse someone (the host's cap, the name).
    #[tokio::test]
    async fn leftovers_of_a_crash_are_pruned_when_they_would_refuse() {
        let settings = Settings {
            max_permanent_rooms_per_host: 1,
            ..Settings::default()
        };
        let store = Arc::new(MemoryStore::new(Duration::from_secs(60)));
        let s = Sessions::with_store(Arc::new(settings), store.clone())
            .await
            .unwrap();
        let video = VideoId::parse("dQw4w9WgXcQ").unwrap();
        let (left, secret) = s.create_hosted(video, 0.0).await.unwrap();
        let kid = crate::identity::kid_of(&secret);
        // The leftover: reserved long ago (at 0 ms) under a name, its room never kept.
        let leftover = IndexEntry {
            id: left.clone(),
            by: kid.clone(),
            alias: Some(Alias::parse("weekly").unwrap()),
            at_ms: 0,
        };
        let caps = PermanentCaps::NONE;
        assert_eq!(
            store.reserve_permanent(&leftover, caps).await.unwrap(),
            Reserve::Reserved
        );
        // Another room of the same host keeps that name: the cap and the name both refuse
        // first, the leftover is checked against its room and dropped.
        let (id, _) = s.create_hosted(video, 0.0).await.unwrap();
        let m = s.join(&id).await.unwrap();
        let mut state = s.snapshot(&id).await.unwrap().unwrap().state;
        state.rights = watchparty_core::rights::Rights::owned_by(kid.clone());
        let cur = state.revision;
        state.revision += 1;
        store.compare_and_set(&id, cur, &state, None).await.unwrap();
        m.hub().observe(&state);
        let cause = Cause { conn_id: 1, seq: 1 };
        let kept = s
            .make_permanent(m.hub(), cause, &kid, Some("Weekly"))
            .await
            .unwrap();
        assert!(matches!(kept, Outcome::Applied(ref st) if st.permanent.is_some()));
        assert_eq!(
            s.resolve_alias("weekly").await.unwrap(),
            Some(id.clone()),
            "the name is the kept room's now"
        );
        let rooms = store.permanent_rooms().await.unwrap();
        assert_eq!(rooms.len(), 1);
        assert_eq!(rooms[0].id, id);
    }
}
