//! "Wait for everyone" (issue 27, part 2): the room's **hold**, a pause that waits for the
//! players that are not ready, with a deadline. Pure rules on the room's document
//! ([`PlaybackState::hold`]); the server decides *when* (it knows who is here, see
//! [`crate::roster`]) and applies them in the room's one total order, so a hold and its end are
//! revisions like any other change, on both stores and across instances.
//!
//! **When the room holds** (only with [`RoomSettings::wait_for_all`](crate::together)):
//! * **a start**: a change that makes the room play ([`starts`]: a play while paused, a video
//!   change or "play now" that plays, the automatic advance) while some viewer's player is not
//!   ready ([`not_ready`]: loading, buffering, or showing an ad). The room stays paused at the
//!   position it would have started from, and the document records the hold ([`Hold`]: up to
//!   [`NAMED`] viewers by id and name, how many others, the deadline). See [`settle`].
//! * **a stall** (also needs `wait_on_buffer`): a viewer's player buffers in the middle of
//!   playback: the room pauses where it is ([`stall`]), unless
//!   - the room has played for less than [`STALL_GRACE_MS`] since its last playback change (a
//!     start's own buffering is no stall), or
//!   - a hold ended less than one deadline ago (the room's **calm**: `calm_until`), or
//!   - this viewer caused a stall-hold that ended less than [`VIEWER_COOLDOWN_DEADLINES`]
//!     deadlines ago (its **cool-down**).
//!
//!   So one viewer whose network keeps failing holds the room for at most one deadline at a
//!   time, and then not again for four deadlines.
//!
//! **How a hold ends** (exactly once: [`crate::room::RoomCommand::Release`] names the hold by
//! the revision that made it, and is applied only while that hold is still on):
//! * every player is ready (the instance that sees it releases), or the deadline passed (any
//!   instance may try), or the setting was switched off ([`due`]): the room plays from the
//!   hold's position, through the normal play path (a scheduled start like any play); the
//!   viewers still not ready follow as late joiners do;
//! * a person's **"Start now"** is the same release (a control command: in a "hosts control"
//!   room, hosts only);
//! * a person's **pause** cancels the hold (the room stays paused where they paused);
//! * a person's **play** or **seek** keeps the hold and its deadline (the hold moves to the new
//!   position): a second press of play is not "start without them" — that is "Start now";
//! * a **video change** or "play now" during a hold keeps it too, at the new video's position.

use crate::health::Health;
use crate::ids::ConnId;
use crate::playback::{PlaybackState, DUPLICATE_TOLERANCE};
use crate::roster::{Counts, Member};
use serde::{Deserialize, Serialize};

/// Default of the server setting `hold_deadline_ms`: the longest a hold lasts.
pub const DEFAULT_DEADLINE_MS: u64 = 8_000;
/// Viewers a hold names (the others are counted).
pub const NAMED: usize = 3;
/// A stall holds the room only after it played this long (ms) since its last playback change.
pub const STALL_GRACE_MS: f64 = 2_000.0;
/// A viewer whose stall held the room cannot hold it again for this many deadlines after that
/// hold ended.
pub const VIEWER_COOLDOWN_DEADLINES: f64 = 4.0;
/// Most cool-downs kept (the oldest is forgotten first).
pub const MAX_COOLDOWNS: usize = 16;

/// A viewer a hold waits for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// The viewer's connection id (see [`crate::roster::Member::id`]).
    pub id: ConnId,
    /// Its display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A hold in progress.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hold {
    /// The revision that started it: a release names it ([`crate::room::RoomCommand::Release`]).
    pub revision: u64,
    /// Server time (ms) it started.
    pub since: f64,
    /// Server time (ms) at which it ends whatever happens.
    pub deadline: f64,
    /// Where the room starts when it ends (s).
    pub position: f64,
    /// Up to [`NAMED`] viewers it waits for, in the room's list order.
    #[serde(default)]
    pub waiting: Vec<Waiting>,
    /// How many more viewers it waits for.
    #[serde(default)]
    pub others: u32,
    /// The viewer whose stall made it (a stall-hold), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stalled: Option<ConnId>,
    /// The viewer whose start made it (never waited for: its player buffers because its
    /// person just pressed play), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<ConnId>,
}

/// A viewer that may not hold the room again before `until` (server ms).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cooldown {
    /// The viewer's connection id.
    pub id: ConnId,
    /// Server time (ms).
    pub until: f64,
}

/// The hold part of the room's document: the hold in progress and what limits the next one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HoldState {
    /// The hold in progress.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<Hold>,
    /// No stall may hold the room before this server time (ms): one deadline after the last
    /// hold ended.
    #[serde(skip_serializing_if = "is_zero")]
    pub calm_until: f64,
    /// Viewers whose stall held the room lately.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cooldown: Vec<Cooldown>,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl HoldState {
    /// True when there is nothing to store (not serialised).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Whether `id` may hold the room by a stall at `now`.
    fn may_stall(&self, id: ConnId, now: f64) -> bool {
        now >= self.calm_until && !self.cooldown.iter().any(|c| c.id == id && c.until > now)
    }
}

/// Whether a viewer reporting `h` is not ready to play: its player is loading, buffering or
/// showing an ad. Anything else (in sync, catching up, a blocked or background player, or no
/// report yet) does not hold the room.
pub fn not_ready(h: &Health) -> bool {
    matches!(h, Health::Loading | Health::Buffering | Health::Ad)
}

/// Who is not ready, as one instance sees the room's list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// The listed viewers that are not ready, in list order.
    pub waiting: Vec<Waiting>,
    /// How many viewers are not ready in the whole room (at least `waiting.len()`).
    pub total: u32,
}

impl Readiness {
    /// From the room's list: its listed members and its counts over all viewers.
    pub fn of(members: &[Member], counts: &Counts) -> Self {
        let waiting: Vec<Waiting> = members
            .iter()
            .filter(|m| m.status.as_ref().is_some_and(not_ready))
            .map(|m| Waiting {
                id: m.id,
                name: m.name.clone(),
            })
            .collect();
        let counted = counts
            .loading
            .saturating_add(counts.buffering)
            .saturating_add(counts.ad);
        let total = counted.max(u32::try_from(waiting.len()).unwrap_or(u32::MAX));
        Self { waiting, total }
    }

    /// The same without viewer `id` (the sender of a play: its player buffers because its
    /// person just pressed play, so it is never waited for).
    pub fn without(mut self, id: ConnId) -> Self {
        let before = self.waiting.len();
        self.waiting.retain(|w| w.id != id);
        let dropped = u32::try_from(before - self.waiting.len()).unwrap_or(u32::MAX);
        self.total = self.total.saturating_sub(dropped);
        self
    }

    /// Everybody is ready.
    pub fn all_ready(&self) -> bool {
        self.total == 0
    }
}

/// Who a page says the room waits for: the first [`NAMED`] viewers not ready, by name (`None`
/// for a viewer without a name yet), and how many more (waiting for Ana, Ben, a guest and 3
/// others; the page's locales put it into words).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WaitingFor {
    /// Up to [`NAMED`] viewers, in the room's list order.
    pub names: Vec<Option<String>>,
    /// The others not ready, counted.
    pub others: u32,
}

impl WaitingFor {
    /// The first [`NAMED`] of `names`, of `total` viewers not ready.
    pub fn of(names: &[Option<&str>], total: u32) -> Self {
        let names: Vec<Option<String>> = names
            .iter()
            .take(NAMED)
            .map(|n| n.map(str::to_owned))
            .collect();
        let others = total.saturating_sub(u32::try_from(names.len()).unwrap_or(u32::MAX));
        Self { names, others }
    }
}

/// Who a page shows `hold` waiting for: the viewers not ready as the page's list shows them now
/// (`live`), or, while that list shows nobody, the ones the hold recorded.
pub fn hold_waiting(hold: &Hold, live: &Readiness) -> WaitingFor {
    let live = match hold.by {
        Some(id) => live.clone().without(id),
        None => live.clone(),
    };
    if live.total > 0 {
        let names: Vec<Option<&str>> = live.waiting.iter().map(|w| w.name.as_deref()).collect();
        return WaitingFor::of(&names, live.total);
    }
    let names: Vec<Option<&str>> = hold.waiting.iter().map(|w| w.name.as_deref()).collect();
    let total = u32::try_from(hold.waiting.len())
        .unwrap_or(u32::MAX)
        .saturating_add(hold.others);
    WaitingFor::of(&names, total)
}

/// Whether the change `prev` → `next` starts the room: it plays, and it did not (a play, a
/// resume) or it plays another video (a video change, "play now", the advance).
pub fn starts(prev: &PlaybackState, next: &PlaybackState) -> bool {
    next.playing && (!prev.playing || next.video_id != prev.video_id)
}

/// What one accepted change does to the hold. `prev` is the state replaced, `next` the change
/// the room's rules made of it, `pause` whether it was a person's pause, `ready` who is not
/// ready now, `sender` the viewer whose command it is (never waited for: its player buffers
/// because its person just pressed play). Returns the state to store, or `None` when the change comes to nothing (a play
/// during a hold at the hold's position).
///
/// * During a hold: a pause cancels it; a play keeps it (the room stays paused, the hold
///   moves to the play's position); anything else keeps it at the new position.
/// * Otherwise, with `wait_for_all`: a change that [`starts`] the room while somebody is not
///   ready becomes a hold until `now + deadline_ms`.
pub fn settle(
    prev: &PlaybackState,
    mut next: PlaybackState,
    pause: bool,
    ready: &Readiness,
    sender: Option<ConnId>,
    now: f64,
    deadline_ms: f64,
) -> Option<PlaybackState> {
    if let Some(h) = prev.hold.active.as_ref() {
        if pause {
            end(&mut next.hold, h, now);
            return Some(next);
        }
        if next.playing {
            next.playing = false;
            next.updated_at = now;
            let same = next.video_id == prev.video_id
                && (next.position - prev.position).abs() < DUPLICATE_TOLERANCE
                && next.rate == prev.rate;
            if same {
                return None;
            }
        }
        if let Some(a) = next.hold.active.as_mut() {
            a.position = next.position;
        }
        return Some(next);
    }
    let ready = match sender {
        Some(id) => ready.clone().without(id),
        None => ready.clone(),
    };
    if !prev.settings.wait_for_all || !starts(prev, &next) || ready.all_ready() {
        return Some(next);
    }
    let waiting: Vec<Waiting> = ready.waiting.iter().take(NAMED).cloned().collect();
    let named = u32::try_from(waiting.len()).unwrap_or(u32::MAX);
    next.playing = false;
    next.updated_at = now;
    next.hold.active = Some(Hold {
        revision: next.revision,
        since: now,
        deadline: now + deadline_ms.max(0.0),
        position: next.position,
        waiting,
        others: ready.total.saturating_sub(named),
        stalled: None,
        by: sender,
    });
    Some(next)
}

/// A person's pause that changes nothing else (the room is held at that very position): it
/// still cancels the hold. `None` when there is no hold.
pub fn cancel(state: &PlaybackState, now: f64) -> Option<PlaybackState> {
    let h = state.hold.active.as_ref()?;
    let mut next = state.clone();
    end(&mut next.hold, h, now);
    next.revision = state.revision + 1;
    next.playback_revision = next.revision;
    Some(next)
}

/// Ends `h` at `now`: no hold in progress, the room's calm and the staller's cool-down begin.
fn end(hs: &mut HoldState, h: &Hold, now: f64) {
    let len = (h.deadline - h.since).max(0.0);
    hs.active = None;
    hs.calm_until = now + len;
    hs.cooldown.retain(|c| c.until > now);
    if let Some(id) = h.stalled {
        hs.cooldown.retain(|c| c.id != id);
        hs.cooldown.push(Cooldown {
            id,
            until: now + VIEWER_COOLDOWN_DEADLINES * len,
        });
    }
    while hs.cooldown.len() > MAX_COOLDOWNS {
        hs.cooldown.remove(0);
    }
}

/// The release of the hold made at revision `from`: the state with the hold ended, and the
/// position the room then plays from (the caller applies that play through the normal play
/// path). `None` when that hold is not (or no longer) on: it was released, cancelled or
/// replaced, so a release applies once however many instances and retries attempt it.
pub fn release(state: &PlaybackState, from: u64, now: f64) -> Option<(PlaybackState, f64)> {
    let h = state.hold.active.as_ref().filter(|h| h.revision == from)?;
    let mut rest = state.clone();
    end(&mut rest.hold, h, now);
    Some((rest, h.position))
}

/// Whether a release of the hold in `state` is due at `now`, given who is not ready: every
/// player is ready, the deadline passed, or the setting was switched off. Returns the revision
/// that names the hold.
pub fn due(state: &PlaybackState, ready: &Readiness, now: f64) -> Option<u64> {
    let h = state.hold.active.as_ref()?;
    let due = now >= h.deadline || ready.all_ready() || !state.settings.wait_for_all;
    due.then_some(h.revision)
}

/// Whether the room may hold for a stall at `now` at all (see the module's rules), whoever
/// stalls.
pub fn stall_possible(state: &PlaybackState, now: f64) -> bool {
    state.settings.wait_for_all
        && state.settings.wait_on_buffer
        && state.playing
        && state.hold.active.is_none()
        && now - state.updated_at >= STALL_GRACE_MS
        && now >= state.hold.calm_until
}

/// The first of `stalled` (viewers whose players buffer) that may hold the room at `now`.
pub fn stall_candidate<'a>(
    state: &PlaybackState,
    stalled: &'a [Waiting],
    now: f64,
) -> Option<&'a Waiting> {
    if !stall_possible(state, now) {
        return None;
    }
    stalled.iter().find(|w| state.hold.may_stall(w.id, now))
}

/// The stall-hold of viewer `who` in the room whose playback revision the caller saw was
/// `from`: the room pauses where it is, held until `now + deadline_ms`. `None` (nothing
/// changes) when the playback changed since, or the rules forbid it (see the module).
pub fn stall(
    state: &PlaybackState,
    from: u64,
    who: &Waiting,
    now: f64,
    deadline_ms: f64,
) -> Option<PlaybackState> {
    if state.playback_base() != from
        || !stall_possible(state, now)
        || !state.hold.may_stall(who.id, now)
    {
        return None;
    }
    let mut next = state.clone();
    next.position = state.position_at(now);
    next.playing = false;
    next.updated_at = now;
    next.revision = state.revision + 1;
    next.playback_revision = next.revision;
    next.changed_by = None;
    next.hold.active = Some(Hold {
        revision: next.revision,
        since: now,
        deadline: now + deadline_ms.max(0.0),
        position: next.position,
        waiting: vec![who.clone()],
        others: 0,
        stalled: Some(who.id),
        by: None,
    });
    Some(next)
}

#[cfg(test)]
mod tests;
