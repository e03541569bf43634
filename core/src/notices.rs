//! "What happened" notices, derived from two consecutive authoritative states (never from what a
//! player did locally): Ana paused at 12:31, Ben changed the video to …, Dev skipped to
//! 1:02:10, up next: …. Pure, so every client derives the same notice from the same states.
//!
//! A notice is values ([`Notice`]: who, and what happened), not words: the page puts it into
//! its language (the app's locales), so a German page says "Ana hat bei 12:31 pausiert" where an
//! English one says "Ana paused at 12:31".
//!
//! `who` names the viewer whose command caused the change (this viewer's own is [`Who::You`]); a
//! change made by the server (the automatic advance) is the room's.

use crate::playback::PlaybackState;

/// A jump further than this from where playback would have been is a skip (s).
const SKIP_MIN: f64 = 1.0;

/// Who caused a change (as the caller knows it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Author<'a> {
    /// This viewer.
    You,
    /// Another viewer, by display name (`None` when unknown).
    Viewer(Option<&'a str>),
    /// The server (automatic advance).
    Server,
}

/// Who a notice names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    /// This viewer ("You …").
    You,
    /// Another viewer, by display name; `None` when the name is not known ("Someone …").
    Viewer(Option<String>),
    /// The room itself: a change the server made (the automatic advance, a skip by vote).
    Room,
}

impl From<Author<'_>> for Who {
    fn from(author: Author<'_>) -> Self {
        match author {
            Author::You => Who::You,
            Author::Viewer(name) => Who::Viewer(name.map(str::to_owned)),
            Author::Server => Who::Room,
        }
    }
}

/// What happened. A video is named by its title when known, else by its id.
#[derive(Clone, Debug, PartialEq)]
pub enum What {
    /// The video changed to `video` (by a person).
    VideoChanged { video: String },
    /// The queue advanced to `video` (by the server).
    UpNext { video: String },
    /// Playback started at `at` (s).
    Played { at: f64 },
    /// Playback paused at `at` (s).
    Paused { at: f64 },
    /// The speed changed to `rate`.
    Speed { rate: f64 },
    /// A jump to `to` (s).
    Skipped { to: f64 },
    /// `count` videos were added at once (a playlist import).
    AddedMany { count: u32 },
    /// `video` was added to the queue.
    Added { video: String },
    /// A video was removed from the queue.
    Removed,
    /// A viewer joined the room.
    Joined,
    /// A viewer left the room.
    Left,
    /// A host asked "everyone ready?".
    ReadyAsked,
    /// A host cancelled the ready check.
    ReadyCancelled,
    /// The viewers' votes skipped to `video`.
    SkippedByVote { video: String },
}

/// One notice: who did what.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    /// Who caused it.
    pub who: Who,
    /// What happened.
    pub what: What,
}

impl Notice {
    /// `who` did `what`.
    pub fn new(who: impl Into<Who>, what: What) -> Self {
        Self {
            who: who.into(),
            what,
        }
    }
}

/// The notice for the change from `prev` to `next`, if it is worth one. `title` is the new
/// video's title when known.
pub fn describe(
    prev: &PlaybackState,
    next: &PlaybackState,
    who: Author<'_>,
    title: Option<&str>,
) -> Option<Notice> {
    if next.revision <= prev.revision {
        return None;
    }
    let say = |what| Some(Notice::new(who, what));
    if next.video_id != prev.video_id {
        let video = title
            .map(str::to_owned)
            .unwrap_or_else(|| next.video_id.to_string());
        return say(match who {
            Author::Server => What::UpNext { video },
            _ => What::VideoChanged { video },
        });
    }
    if next.playing != prev.playing {
        let at = next.position;
        return say(if next.playing {
            What::Played { at }
        } else {
            What::Paused { at }
        });
    }
    if (next.rate - prev.rate).abs() > 1e-9 {
        return say(What::Speed { rate: next.rate });
    }
    let expected = prev.position_at(next.updated_at);
    if (next.position - expected).abs() > SKIP_MIN {
        return say(What::Skipped { to: next.position });
    }
    let (before, after) = (prev.queue.items.len(), next.queue.items.len());
    if after > before + 1 {
        // A playlist import (or adds this page did not see one by one).
        let count = u32::try_from(after - before).unwrap_or(u32::MAX);
        return say(What::AddedMany { count });
    }
    if after > before {
        let added = next.queue.items.last()?;
        let video = added
            .title
            .clone()
            .unwrap_or_else(|| added.video_id.to_string());
        return say(What::Added { video });
    }
    if after < before {
        return say(What::Removed);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::VideoId;
    use crate::playback::{apply, Command};
    use crate::queue::QueueEdit;

    fn v(s: &str) -> VideoId {
        VideoId::parse(s).unwrap()
    }

    #[test]
    fn notices_for_each_kind_of_change() {
        let s0 = PlaybackState::new(v("dQw4w9WgXcQ"), 0.0, 0.0);
        let play = apply(&s0, Command::Play { position: 0.0 }, 1, 0.0)
            .unwrap()
            .unwrap();
        assert_eq!(
            describe(&s0, &play, Author::Viewer(Some("Ben")), None),
            Some(Notice::new(
                Who::Viewer(Some("Ben".into())),
                What::Played { at: 0.0 }
            ))
        );
        let pause = apply(&play, Command::Pause { position: 751.0 }, 2, 1_000.0)
            .unwrap()
            .unwrap();
        assert_eq!(
            describe(&play, &pause, Author::Viewer(Some("Ana")), None),
            Some(Notice::new(
                Who::Viewer(Some("Ana".into())),
                What::Paused { at: 751.0 }
            ))
        );
        let seek = apply(&pause, Command::Seek { position: 3730.0 }, 3, 2_000.0)
            .unwrap()
            .unwrap();
        assert_eq!(
            describe(&pause, &seek, Author::Viewer(None), None),
            Some(Notice::new(Who::Viewer(None), What::Skipped { to: 3730.0 }))
        );
        let video = Command::Video {
            video_id: v("9bZkp7q19f0"),
            position: 0.0,
        };
        let changed = apply(&seek, video, 4, 3_000.0).unwrap().unwrap();
        assert_eq!(
            describe(&seek, &changed, Author::You, Some("Gangnam Style")),
            Some(Notice::new(
                Who::You,
                What::VideoChanged {
                    video: "Gangnam Style".into()
                }
            ))
        );
        assert_eq!(
            describe(&seek, &changed, Author::Server, None),
            Some(Notice::new(
                Who::Room,
                What::UpNext {
                    video: "9bZkp7q19f0".into()
                }
            ))
        );
        let mut queued = changed.clone();
        queued
            .queue
            .apply(
                &QueueEdit::Add {
                    video_id: v("jNQXAC9IVRw"),
                    start: 0.0,
                },
                10,
            )
            .unwrap();
        queued.revision += 1;
        assert_eq!(
            describe(&changed, &queued, Author::Viewer(Some("Cara")), None).map(|n| n.what),
            Some(What::Added {
                video: "jNQXAC9IVRw".into()
            })
        );
        let mut imported = queued.clone();
        let video_ids = vec![v("dQw4w9WgXcQ"), v("9bZkp7q19f0")];
        imported
            .queue
            .apply(&QueueEdit::Import { video_ids }, 10)
            .unwrap();
        imported.revision += 1;
        assert_eq!(
            describe(&queued, &imported, Author::Viewer(Some("Cara")), None).map(|n| n.what),
            Some(What::AddedMany { count: 2 })
        );
        // Old or repeated states say nothing.
        assert_eq!(describe(&queued, &changed, Author::You, None), None);
        assert_eq!(describe(&queued, &queued, Author::You, None), None);
    }
}
