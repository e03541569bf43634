//! Applying a command: take the newest known state (the hub's cache), run
//! [`watchparty_core::room::apply_by`], then compare-and-set in the store.
//!
//! Invariants: the first command per revision wins. On a conflict the store returns the current
//! state; if the command's `base_revision` still equals the current revision it is retried
//! (bounded by [`MAX_CAS_ATTEMPTS`] and the `apply_timeout_ms` deadline), otherwise it is
//! rejected as stale; a base newer than the hub's cache is checked against the store once before
//! it is called stale. While a change is in flight the hub's change guard is held, so a
//! catch-up never hands the stored state over ahead of its cause. A stored change is handed to
//! this instance's viewers at once ([`Hub::forward_next`]), in revision order. A rejected
//! command changes nothing.

use super::Sessions;
use crate::hub::Hub;
use crate::store::{state_event, CasOutcome};
use std::time::Duration;
use watchparty_core::chat::ChatError;
use watchparty_core::playback::{CommandError, PlaybackState};
use watchparty_core::protocol::Cause;
use watchparty_core::queue::QueueError;
use watchparty_core::ready_skip::ReadySkipError;
use watchparty_core::rights::Kid;
use watchparty_core::room::{self, Actor, RoomCommand, RoomError, RoomLimits};

/// Attempts of one command against concurrent writers before giving up.
const MAX_CAS_ATTEMPTS: usize = 8;

/// A command was not applied; nothing changed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Rejection {
    /// A value was not finite or out of range.
    #[error("{0}")]
    Invalid(String),
    /// Based on an older revision; carries the current state.
    #[error("stale command: based on revision {base}, session is at {}", current.revision)]
    Stale {
        /// The sender's base revision.
        base: u64,
        /// The current state.
        current: Box<PlaybackState>,
    },
    /// The session no longer exists.
    #[error("the session does not exist")]
    UnknownSession,
    /// The store failed.
    #[error("{0}")]
    Unavailable(String),
    /// The session's change budget (`session_changes_per_sec`) is spent.
    #[error("too many changes in this session; slow down")]
    RateLimited,
    /// A queue rule refused it (unknown item, queue full, bad start).
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The sender lacks the right (see [`watchparty_core::rights`]).
    #[error("{0}")]
    Forbidden(&'static str),
    /// A chat line or reaction that is not acceptable.
    #[error(transparent)]
    Text(#[from] ChatError),
    /// A deletion named a chat message that is not (or no longer) kept.
    #[error("no such message")]
    NoSuchMessage,
    /// A ready-check or vote rule refused it (see [`watchparty_core::ready_skip`]).
    #[error(transparent)]
    Together(#[from] ReadySkipError),
    /// Keeping the room was refused: a cap, or the short name (see [`super::permanent`]).
    #[error(transparent)]
    Permanent(#[from] super::PermanentRefusal),
}

/// What an accepted command did.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// A new revision was stored and published (it reaches every viewer as `State`).
    Applied(PlaybackState),
    /// The command changed nothing (a duplicate); nothing was published.
    Unchanged(PlaybackState),
}

impl Sessions {
    /// Applies `cmd` from connection `cause.conn_id`, based on `base_revision`: playback
    /// commands by "first per playback revision wins", queue edits re-applied to the newest
    /// state until they land (see [`watchparty_core::room`]).
    pub async fn apply(
        &self,
        hub: &Hub,
        cause: Cause,
        base_revision: u64,
        cmd: impl Into<RoomCommand>,
    ) -> Result<Outcome, Rejection> {
        self.apply_as(hub, cause, None, None, base_revision, cmd)
            .await
    }

    /// [`Sessions::apply`] for a viewer called `name` with public id `kid` (its rights are
    /// checked inside the total order; `None`: the server itself): the new revision records
    /// who made it (`changed_by`, for notices).
    pub async fn apply_as(
        &self,
        hub: &Hub,
        cause: Cause,
        name: Option<&str>,
        kid: Option<&Kid>,
        base_revision: u64,
        cmd: impl Into<RoomCommand>,
    ) -> Result<Outcome, Rejection> {
        let cmd: RoomCommand = cmd.into();
        let limits = RoomLimits {
            max_queue: self.settings.max_queue_len,
            removal_secs: self.settings.removal_secs,
            start_lead_ms: watchparty_core::start::lead_ms(
                hub.start_need(),
                self.settings.start_lead_max_ms,
            ),
        };
        let actor = match kid {
            Some(k) => Actor::Viewer(k),
            None => Actor::Server,
        };
        // Until this change is handed over, a catch-up must not overtake it without its cause.
        let _changing = hub.change_guard();
        let mut current = match hub.latest() {
            Some(s) => s,
            None => self.stored(hub).await?,
        };
        let mut reloaded = false;
        // Overall deadline: no new store round trip starts after it (each one is bounded by
        // the store's own timeout), so one command cannot hold a connection for
        // MAX_CAS_ATTEMPTS × the store timeout.
        let deadline = tokio::time::Instant::now()
            + Duration::from_millis(self.settings.apply_timeout_ms.max(1));
        for attempt in 0..MAX_CAS_ATTEMPTS {
            if attempt > 0 && tokio::time::Instant::now() >= deadline {
                return Err(Rejection::Unavailable(
                    "the command took too long; try again".into(),
                ));
            }
            let now = self.clock.now_ms();
            let next = match room::apply_by(&current, &cmd, base_revision, now, limits, actor) {
                // A pause at a held room's very position still cancels the hold (`hold.rs`).
                Ok(None) => match Self::cancel_hold(&current, &cmd, now) {
                    Some(next) => next,
                    None => return Ok(Outcome::Unchanged(current)),
                },
                // "Wait for everyone" may turn a start into a hold (see `hold.rs`).
                Ok(Some(next)) => match self.settle_hold(hub, &current, &cmd, next, now, cause) {
                    Some(next) => next,
                    None => return Ok(Outcome::Unchanged(current)),
                },
                Err(RoomError::Playback(CommandError::Stale { base, .. })) => {
                    // The sender may know a newer revision than our cache (it reached another
                    // path first): check the store once before calling it stale.
                    if base > current.revision && !reloaded {
                        reloaded = true;
                        current = self.stored(hub).await?;
                        hub.observe(&current);
                        continue;
                    }
                    return Err(Rejection::Stale {
                        base,
                        current: Box::new(current),
                    });
                }
                Err(
                    RoomError::Playback(CommandError::InvalidValue(m))
                    | RoomError::InvalidRights(m),
                ) => return Err(Rejection::Invalid(m.into())),
                Err(RoomError::Forbidden(m)) => return Err(Rejection::Forbidden(m)),
                Err(RoomError::Queue(e)) => return Err(Rejection::Queue(e)),
                Err(RoomError::Together(ReadySkipError::NotAHost)) => {
                    return Err(Rejection::Forbidden(watchparty_core::rights::NOT_A_HOST))
                }
                Err(RoomError::Together(e)) => return Err(Rejection::Together(e)),
            };
            match self.store_next(hub, &current, next, name, cause).await? {
                Stored::Applied(next) => return Ok(Outcome::Applied(next)),
                Stored::Conflict(now_current) => {
                    reloaded = true;
                    current = now_current;
                }
            }
        }
        if cmd.is_baseless() {
            return Err(Rejection::Unavailable(
                "too many concurrent changes; try again".into(),
            ));
        }
        Err(Rejection::Stale {
            base: base_revision,
            current: Box::new(current),
        })
    }

    /// Compare-and-sets `next` (made from `current`, by `name`) in the store and, once stored,
    /// hands it to this instance's viewers; a conflict returns the store's newer state.
    async fn store_next(
        &self,
        hub: &Hub,
        current: &PlaybackState,
        mut next: PlaybackState,
        name: Option<&str>,
        cause: Cause,
    ) -> Result<Stored, Rejection> {
        next.changed_by = name.map(str::to_owned);
        // Serialised once: published by the store and handed to the own viewers.
        let event = state_event(&next, Some(cause));
        match self
            .store
            .compare_and_set_event(hub.id(), current.revision, &next, &event)
            .await
            .map_err(unavailable)?
        {
            CasOutcome::Applied => {
                hub.observe(&next);
                // This instance's viewers (the sender among them) get the change at once,
                // without depending on the subscription, when nothing older is still on its
                // way; the subscription's copy is then dropped as already forwarded.
                hub.forward_next(&next, event);
                Ok(Stored::Applied(next))
            }
            CasOutcome::Conflict(now_current) => {
                hub.observe(&now_current);
                Ok(Stored::Conflict(*now_current))
            }
            CasOutcome::Missing => {
                hub.end();
                Err(Rejection::UnknownSession)
            }
            CasOutcome::RateLimited => Err(Rejection::RateLimited),
        }
    }

    /// The session's state as stored (bypassing the hub's cache).
    pub(super) async fn stored(&self, hub: &Hub) -> Result<PlaybackState, Rejection> {
        self.store
            .load(hub.id())
            .await
            .map_err(unavailable)?
            .ok_or(Rejection::UnknownSession)
    }
}

/// What a compare-and-set came to when it did not fail.
enum Stored {
    /// Stored and handed over.
    Applied(PlaybackState),
    /// Another change came first: the store's current state.
    Conflict(PlaybackState),
}

/// A store (or serialisation) failure as a rejection.
pub(super) fn unavailable(e: impl std::fmt::Display) -> Rejection {
    Rejection::Unavailable(e.to_string())
}
