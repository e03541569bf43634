//! Chat and frame-locked reactions: the messages, their validation, and the rule that shows a
//! reaction at the same *video moment* for everyone. Pure, shared by server and browser.
//!
//! * A chat line is text only (validated like names: no control or bidirectional-override
//!   characters, whitespace collapsed, at most `max_chat_chars`), rendered as text, never as
//!   HTML, and never auto-linked. The server stamps it with the sender's name and the room's
//!   video position at the moment it arrived.
//! * A reaction is one of [`REACTIONS`] stamped with the sender's own player position (the
//!   frame they saw; the server refuses a stamp more than [`REACTION_SLACK`] s from the room's
//!   position). Every viewer shows it when *their* video passes that moment in continuous play
//!   ([`ReactionTrack::due`]): a viewer 3 s behind sees it 3 s later, a late joiner or a viewer
//!   who seeks back sees it when they get there, and a seek across it does not fire it.

use crate::ids::VideoId;
use crate::rights::Kid;
use serde::{Deserialize, Serialize};

/// Default longest chat line, in characters (the setting `max_chat_chars`).
pub const MAX_CHAT_CHARS: usize = 300;
/// The reactions a viewer can send.
pub const REACTIONS: [&str; 8] = ["👍", "😂", "😮", "😢", "❤️", "🔥", "👏", "🎉"];
/// A reaction's stamp may differ from the room's position by at most this (s).
pub const REACTION_SLACK: f64 = 2.0;
/// A position step larger than this (s) between two readings is a seek, not play: reactions
/// in between are not shown.
pub const MAX_PLAY_STEP: f64 = 1.0;

/// One chat message as stored and broadcast.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatLine {
    /// Unique within the session (hosts delete by it).
    pub id: u64,
    /// The sender's public id.
    pub kid: Kid,
    /// The sender's display name when sent.
    pub name: String,
    /// The text (validated; render as text).
    pub text: String,
    /// The video the room was playing.
    pub video_id: VideoId,
    /// The room's position when the message arrived (s).
    pub at: f64,
}

/// One reaction as stored and broadcast.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reaction {
    /// Unique within the session.
    pub id: u64,
    /// The sender's display name.
    pub name: String,
    /// One of [`REACTIONS`].
    pub emoji: String,
    /// The video.
    pub video_id: VideoId,
    /// The video moment (s).
    pub at: f64,
}

/// Why a chat line or reaction was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// Nothing but whitespace.
    #[error("A message cannot be empty.")]
    Empty,
    /// Longer than the limit.
    #[error("A message can be at most {0} characters long.")]
    TooLong(usize),
    /// Control or bidirectional-override characters.
    #[error("A message cannot contain control characters.")]
    Control,
    /// Not one of the offered reactions.
    #[error("Unknown reaction.")]
    UnknownReaction,
    /// A reaction stamped far from the room's position.
    #[error("A reaction must be stamped with the current video position.")]
    BadStamp,
}

/// Validates and normalises a chat line (like a name: trimmed, whitespace collapsed).
pub fn validate_text(raw: &str, max_chars: usize) -> Result<String, ChatError> {
    crate::names::validate_name(raw, max_chars).map_err(|e| match e {
        crate::names::NameError::Empty => ChatError::Empty,
        crate::names::NameError::TooLong(n) => ChatError::TooLong(n),
        crate::names::NameError::Control => ChatError::Control,
    })
}

/// Validates a reaction: a known emoji stamped within [`REACTION_SLACK`] of `room_position`.
pub fn validate_reaction(emoji: &str, at: f64, room_position: f64) -> Result<(), ChatError> {
    if !REACTIONS.contains(&emoji) {
        return Err(ChatError::UnknownReaction);
    }
    if !at.is_finite() || at < 0.0 || (at - room_position).abs() > REACTION_SLACK {
        return Err(ChatError::BadStamp);
    }
    Ok(())
}

/// `m:ss` (or `h:mm:ss`) for a position in seconds.
pub fn clock_text(seconds: f64) -> String {
    let s = if seconds.is_finite() {
        seconds.max(0.0) as u64
    } else {
        0
    };
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// The reactions a viewer knows (history and live), and which to show as its video plays.
#[derive(Clone, Debug, Default)]
pub struct ReactionTrack {
    items: Vec<Reaction>,
    last: Option<(VideoId, f64)>,
    /// Reactions received but not yet reached, kept at most (the oldest go first).
    cap: usize,
}

impl ReactionTrack {
    /// A track keeping at most `cap` reactions.
    pub fn new(cap: usize) -> Self {
        Self {
            items: Vec::new(),
            last: None,
            cap: cap.max(1),
        }
    }

    /// Adds a reaction (history or live); duplicates by id are ignored.
    pub fn add(&mut self, r: Reaction) {
        if self.items.iter().any(|x| x.id == r.id) {
            return;
        }
        self.items.push(r);
        if self.items.len() > self.cap {
            let extra = self.items.len() - self.cap;
            self.items.drain(..extra);
        }
    }

    /// The reactions to show now, given the viewer's own video and position (call it at every
    /// reading): those whose moment lies in `(previous reading, position]` when the step was
    /// continuous play of the same video. A reaction that arrives after its moment has passed
    /// locally (the sender was ahead) is shown at once if within [`MAX_PLAY_STEP`] of it.
    pub fn due(&mut self, video: &VideoId, position: f64, playing: bool) -> Vec<Reaction> {
        let prev = self.last.replace((*video, position));
        let Some((pv, pp)) = prev else {
            return Vec::new();
        };
        if pv != *video || !playing {
            return Vec::new();
        }
        let step = position - pp;
        if !(0.0..=MAX_PLAY_STEP).contains(&step) {
            return Vec::new();
        }
        self.items
            .iter()
            .filter(|r| r.video_id == *video && r.at > pp && r.at <= position)
            .cloned()
            .collect()
    }

    /// The moment of the next reaction of `video` after `position` (the page wakes then).
    pub fn next_after(&self, video: &VideoId, position: f64) -> Option<f64> {
        self.items
            .iter()
            .filter(|r| r.video_id == *video && r.at > position)
            .map(|r| r.at)
            .min_by(f64::total_cmp)
    }

    /// A live reaction that just arrived: show it at once when the viewer has already passed
    /// its moment by less than [`MAX_PLAY_STEP`] (else [`ReactionTrack::due`] shows it).
    pub fn late_arrival(&self, r: &Reaction) -> bool {
        matches!(self.last, Some((v, p)) if v == r.video_id && r.at <= p && p - r.at <= MAX_PLAY_STEP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(i: usize) -> VideoId {
        VideoId::parse(["dQw4w9WgXcQ", "9bZkp7q19f0"][i]).unwrap()
    }

    fn r(id: u64, at: f64) -> Reaction {
        Reaction {
            id,
            name: "Ana".into(),
            emoji: "🔥".into(),
            video_id: v(0),
            at,
        }
    }

    #[test]
    fn text_is_validated_like_names() {
        assert_eq!(validate_text("  hi   there ", 10).unwrap(), "hi there");
        assert_eq!(validate_text("   ", 10), Err(ChatError::Empty));
        assert_eq!(
            validate_text("x".repeat(11).as_str(), 10),
            Err(ChatError::TooLong(10))
        );
        assert_eq!(validate_text("a\u{202E}b", 10), Err(ChatError::Control));
        assert_eq!(validate_text("a\u{0007}b", 10), Err(ChatError::Control));
        // Markup is just text (the page renders it as text).
        assert_eq!(validate_text("<b>x</b>", 10).unwrap(), "<b>x</b>");
    }

    #[test]
    fn reactions_are_validated() {
        assert!(validate_reaction("🔥", 12.0, 12.5).is_ok());
        assert_eq!(
            validate_reaction("<img>", 12.0, 12.0),
            Err(ChatError::UnknownReaction)
        );
        assert_eq!(
            validate_reaction("🔥", 20.0, 12.0),
            Err(ChatError::BadStamp)
        );
        assert_eq!(
            validate_reaction("🔥", f64::NAN, 12.0),
            Err(ChatError::BadStamp)
        );
    }

    #[test]
    fn clock_texts() {
        assert_eq!(clock_text(0.0), "0:00");
        assert_eq!(clock_text(75.9), "1:15");
        assert_eq!(clock_text(3_725.0), "1:02:05");
        assert_eq!(clock_text(f64::NAN), "0:00");
    }

    #[test]
    fn a_reaction_shows_when_the_viewer_reaches_its_moment() {
        let mut t = ReactionTrack::new(10);
        t.add(r(1, 12.0));
        t.add(r(1, 12.0));
        // A viewer 3 s behind: nothing until its own video passes 12.0.
        assert!(t.due(&v(0), 8.9, true).is_empty());
        assert!(t.due(&v(0), 9.0, true).is_empty());
        assert!(t.due(&v(0), 11.95, true).is_empty());
        let shown = t.due(&v(0), 12.05, true);
        assert_eq!(shown.len(), 1);
        // Once only in play...
        assert!(t.due(&v(0), 12.15, true).is_empty());
        // ...again after seeking back and playing through it.
        assert!(t.due(&v(0), 5.0, true).is_empty());
        assert!(t.due(&v(0), 11.9, true).is_empty());
        assert_eq!(t.due(&v(0), 12.0, true).len(), 1);
        // A seek across it does not fire it; nor paused, nor another video.
        assert!(t.due(&v(0), 1.0, true).is_empty());
        assert!(t.due(&v(0), 20.0, true).is_empty());
        assert!(t.due(&v(0), 11.9, false).is_empty());
        assert!(t.due(&v(0), 12.1, false).is_empty());
        assert!(t.due(&v(1), 11.9, true).is_empty());
        assert!(t.due(&v(1), 12.1, true).is_empty());
    }

    #[test]
    fn late_arrivals_and_the_cap() {
        let mut t = ReactionTrack::new(2);
        assert!(t.due(&v(0), 12.3, true).is_empty());
        assert!(t.late_arrival(&r(1, 12.0)));
        assert!(!t.late_arrival(&r(2, 10.0)));
        assert!(!t.late_arrival(&r(3, 12.5)));
        for i in 0..5 {
            t.add(r(i, 20.0 + i as f64));
        }
        assert_eq!(t.items.len(), 2);
        assert_eq!(t.items[0].id, 3);
        assert_eq!(t.next_after(&v(0), 20.0), Some(23.0));
        assert_eq!(t.next_after(&v(0), 23.5), Some(24.0));
        assert_eq!(t.next_after(&v(0), 24.0), None);
        assert_eq!(t.next_after(&v(1), 0.0), None);
    }
}
