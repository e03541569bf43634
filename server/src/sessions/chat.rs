//! Chat lines, reactions and the deletion of chat lines.
//!
//! Invariants: a line or reaction is validated ([`watchparty_core::chat`]), refused to a viewer
//! the room removed, stamped with the room's video and moment, serialised once and appended to
//! the session's log in the store, which keeps the newest `chat_kept` / `reactions_kept` and
//! enforces the session's rate (`session_chat_per_sec`, `session_reactions_per_sec`); every
//! viewer (the sender included) receives it through the store's event. Only a host deletes a
//! line. A log write that finds the session gone ends the hub.

use super::commands::unavailable;
use super::{Rejection, Sessions};
use crate::hub::Hub;
use crate::store::{AppendOutcome, ChangeLimit, Log, LogLimits};
use watchparty_core::chat::{ChatLine, Reaction};
use watchparty_core::playback::PlaybackState;
use watchparty_core::protocol::ServerMsg;
use watchparty_core::rights::Kid;

/// A chat line's or reaction's id: the server time in ms × 1000 plus a random 0..999 (unique within a
/// session in practice, below 2^53 so JavaScript reads it exactly).
fn log_id(now_ms: f64) -> u64 {
    (now_ms.max(0.0) as u64)
        .saturating_mul(1000)
        .saturating_add(rand::random::<u64>() % 1000)
        .min((1 << 53) - 1)
}

impl Sessions {
    /// Posts a chat line from viewer `kid` called `name` (validated; stamped with the room's
    /// video and position now). It reaches every viewer, the sender included, as `chat`.
    pub async fn chat(
        &self,
        hub: &Hub,
        kid: &Kid,
        name: Option<&str>,
        text: &str,
    ) -> Result<(), Rejection> {
        let text = watchparty_core::chat::validate_text(text, self.settings.max_chat_chars)?;
        let (state, now) = self.speaker_state(hub, kid).await?;
        let line = ChatLine {
            id: log_id(now),
            kid: kid.clone(),
            name: name.unwrap_or("Viewer").to_owned(),
            text,
            video_id: state.video_id,
            at: (state.position_at(now) * 1000.0).round() / 1000.0,
        };
        let event = serde_json::to_string(&ServerMsg::Chat(line)).map_err(unavailable)?;
        let limits = LogLimits {
            keep: self.settings.chat_kept,
            rate: ChangeLimit {
                per_sec: self.settings.session_chat_per_sec,
                burst: self.settings.session_chat_burst,
            },
        };
        self.append(hub, Log::Chat, &event, now, limits).await
    }

    /// Sends a reaction from `name` stamped with the sender's video moment `at` (within
    /// [`watchparty_core::chat::REACTION_SLACK`] of the room's position).
    pub async fn react(
        &self,
        hub: &Hub,
        kid: &Kid,
        name: Option<&str>,
        emoji: &str,
        at: f64,
    ) -> Result<(), Rejection> {
        let (state, now) = self.speaker_state(hub, kid).await?;
        watchparty_core::chat::validate_reaction(emoji, at, state.position_at(now))?;
        let reaction = Reaction {
            id: log_id(now),
            name: name.unwrap_or("Viewer").to_owned(),
            emoji: emoji.to_owned(),
            video_id: state.video_id,
            at: (at * 1000.0).round() / 1000.0,
        };
        let event = serde_json::to_string(&ServerMsg::Reaction(reaction)).map_err(unavailable)?;
        let limits = LogLimits {
            keep: self.settings.reactions_kept,
            rate: ChangeLimit {
                per_sec: self.settings.session_reactions_per_sec,
                burst: self.settings.session_reaction_burst,
            },
        };
        self.append(hub, Log::Reactions, &event, now, limits).await
    }

    /// A host deletes chat line `id` (checked against the newest rights this instance knows).
    pub async fn delete_chat(&self, hub: &Hub, kid: &Kid, id: u64) -> Result<(), Rejection> {
        let state = self.current(hub).await?;
        if !state.rights.is_host(kid) {
            return Err(Rejection::Forbidden(watchparty_core::rights::NOT_A_HOST));
        }
        let event = serde_json::to_string(&ServerMsg::ChatDeleted { id }).map_err(unavailable)?;
        let found = self
            .store
            .remove_entry(hub.id(), Log::Chat, &crate::hub::chat_prefix(id), &event)
            .await
            .map_err(unavailable)?;
        if found {
            Ok(())
        } else {
            Err(Rejection::NoSuchMessage)
        }
    }

    /// The room's state and the server time now for viewer `kid`'s chat line or reaction;
    /// refused to a viewer the room removed.
    async fn speaker_state(&self, hub: &Hub, kid: &Kid) -> Result<(PlaybackState, f64), Rejection> {
        let state = self.current(hub).await?;
        let now = self.clock.now_ms();
        if state.rights.is_removed(kid, now) {
            return Err(Rejection::Forbidden(
                "you were removed from this watch party",
            ));
        }
        Ok((state, now))
    }

    /// The hub's newest state, or the store's.
    async fn current(&self, hub: &Hub) -> Result<PlaybackState, Rejection> {
        match hub.latest() {
            Some(s) => Ok(s),
            None => self.stored(hub).await,
        }
    }

    async fn append(
        &self,
        hub: &Hub,
        log: Log,
        event: &str,
        now: f64,
        limits: LogLimits,
    ) -> Result<(), Rejection> {
        match self
            .store
            .append(hub.id(), log, event, now, limits)
            .await
            .map_err(unavailable)?
        {
            AppendOutcome::Appended => Ok(()),
            AppendOutcome::Missing => {
                hub.end();
                Err(Rejection::UnknownSession)
            }
            AppendOutcome::RateLimited => Err(Rejection::RateLimited),
        }
    }
}
