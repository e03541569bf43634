//! Moving the room as one: the room's settings for starting together (issue 27). Hosts switch
//! them; they live in the room's document ([`crate::playback::PlaybackState::settings`]) and
//! change in its one total order like any other change.
//!
//! * `wait_for_all`: a start or resume waits until every viewer's player is ready (or a
//!   deadline): see the hold rules.
//! * `wait_on_buffer`: also hold the room when a viewer stalls in the middle of playback (once
//!   per viewer per deadline).
//! * `vote_skip`: viewers may vote to skip the current video.

use serde::{Deserialize, Serialize};

/// The room's settings for moving as one. All off by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoomSettings {
    /// Hold a start or resume until every viewer's player is ready, or the deadline.
    pub wait_for_all: bool,
    /// With `wait_for_all`: also hold when a viewer stalls in the middle of playback.
    pub wait_on_buffer: bool,
    /// Viewers may vote to skip the current video.
    pub vote_skip: bool,
}

impl RoomSettings {
    /// True when every setting is at its default (not serialised).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}
