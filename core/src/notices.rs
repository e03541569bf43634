//! "What happened" notices, derived from two consecutive authoritative states (never from what a
//! player did locally): "Ana paused at 12:31", "Ben changed the video to …", "Dev skipped to
//! 1:02:10", "Up next: …". Pure, so every client derives the same text from the same states.
//!
//! `who` names the viewer whose command caused the change ("You" for this viewer's own); a
//! change made by the server (the automatic advance) has no author.

use crate::playback::PlaybackState;
use crate::video::format_offset;

/// A jump further than this from where playback would have been is a skip (s).
const SKIP_MIN: f64 = 1.0;

/// Who caused a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Author<'a> {
    /// This viewer.
    You,
    /// Another viewer, by display name (or a placeholder when unknown).
    Viewer(&'a str),
    /// The server (automatic advance).
    Server,
}

impl Author<'_> {
    fn name(&self) -> &str {
        match self {
            Author::You => "You",
            Author::Viewer(n) => n,
            Author::Server => "",
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
) -> Option<String> {
    if next.revision <= prev.revision {
        return None;
    }
    let w = who.name();
    if next.video_id != prev.video_id {
        let what = title
            .map(str::to_owned)
            .unwrap_or_else(|| next.video_id.to_string());
        return Some(match who {
            Author::Server => format!("Up next: {what}"),
            _ => format!("{w} changed the video to {what}"),
        });
    }
    if next.playing != prev.playing {
        let at = format_offset(next.position);
        return Some(if next.playing {
            format!("{w} played from {at}")
        } else {
            format!("{w} paused at {at}")
        });
    }
    if (next.rate - prev.rate).abs() > 1e-9 {
        return Some(format!("{w} changed the speed to {}×", next.rate));
    }
    let expected = prev.position_at(next.updated_at);
    if (next.position - expected).abs() > SKIP_MIN {
        return Some(format!("{w} skipped to {}", format_offset(next.position)));
    }
    let (before, after) = (prev.queue.items.len(), next.queue.items.len());
    if after > before + 1 {
        // A playlist import (or adds this page did not see one by one).
        return Some(format!("{w} added {} videos to the queue", after - before));
    }
    if after > before {
        let added = next.queue.items.last()?;
        let what = added
            .title
            .clone()
            .unwrap_or_else(|| added.video_id.to_string());
        return Some(format!("{w} added {what} to the queue"));
    }
    if after < before {
        return Some(format!("{w} removed a video from the queue"));
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
            describe(&s0, &play, Author::Viewer("Ben"), None).as_deref(),
            Some("Ben played from 0:00")
        );
        let pause = apply(&play, Command::Pause { position: 751.0 }, 2, 1_000.0)
            .unwrap()
            .unwrap();
        assert_eq!(
            describe(&play, &pause, Author::Viewer("Ana"), None).as_deref(),
            Some("Ana paused at 12:31")
        );
        let seek = apply(&pause, Command::Seek { position: 3730.0 }, 3, 2_000.0)
            .unwrap()
            .unwrap();
        assert_eq!(
            describe(&pause, &seek, Author::Viewer("Dev"), None).as_deref(),
            Some("Dev skipped to 1:02:10")
        );
        let video = Command::Video {
            video_id: v("9bZkp7q19f0"),
            position: 0.0,
        };
        let changed = apply(&seek, video, 4, 3_000.0).unwrap().unwrap();
        assert_eq!(
            describe(&seek, &changed, Author::You, Some("Gangnam Style")).as_deref(),
            Some("You changed the video to Gangnam Style")
        );
        assert_eq!(
            describe(&seek, &changed, Author::Server, None).as_deref(),
            Some("Up next: 9bZkp7q19f0")
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
            describe(&changed, &queued, Author::Viewer("Cara"), None).as_deref(),
            Some("Cara added jNQXAC9IVRw to the queue")
        );
        let mut imported = queued.clone();
        let video_ids = vec![v("dQw4w9WgXcQ"), v("9bZkp7q19f0")];
        imported
            .queue
            .apply(&QueueEdit::Import { video_ids }, 10)
            .unwrap();
        imported.revision += 1;
        assert_eq!(
            describe(&queued, &imported, Author::Viewer("Cara"), None).as_deref(),
            Some("Cara added 2 videos to the queue")
        );
        // Old or repeated states say nothing.
        assert_eq!(describe(&queued, &changed, Author::You, None), None);
        assert_eq!(describe(&queued, &queued, Author::You, None), None);
    }
}
