//! Playlist import in the queue field (issue 28): which playlist a pasted link names and from
//! which video, the slice of the playlist that is sent, and the sentences the page shows.
//!
//! The browser reads the playlist's video ids with the IFrame API (`cuePlaylist` then
//! `getPlaylist` on a hidden helper player; no API key) and sends them as one
//! [`QueueEdit::Import`](crate::queue::QueueEdit::Import); the queue's rule appends as many as
//! fit ([`crate::queue`]). Decisions (docs/protocol.md, "Playlist import"):
//!
//! - `youtube.com/playlist?list=L` (also `www.`, `m.`, `music.`, and `/embed/videoseries?list=L`)
//!   imports the playlist from its start;
//! - `watch?v=X&list=L` and `youtu.be/X?list=L` import the playlist **from X on**, as YouTube
//!   itself plays such a link (X, then what follows it); if X is not in the playlist, from its
//!   start. A link's `t=` is not applied to imported videos (they start at 0);
//! - a Mix (`list=RD…`, YouTube's endless auto-generated radio) is not a playlist someone made:
//!   a watch link with one adds its video alone, and a playlist link to one is refused;
//! - list ids are 2 to [`MAX_LIST_ID_LEN`] characters of `[A-Za-z0-9_-]` (checked before the
//!   player sees them); anything else is [`QueueInputError::BadList`];
//! - inputs without `list=` are parsed by [`crate::video::parse_video_input`] as before.

use crate::ids::VideoId;
use crate::queue::{Imported, MAX_IMPORT_IDS};
use crate::video::{parse_video_input, VideoInputError, VideoRef, MAX_INPUT_LEN};
use std::fmt;

/// Longest playlist id accepted (YouTube's are 2 to 34 characters today).
pub const MAX_LIST_ID_LEN: usize = 64;
/// How long the browser waits for the player to read a playlist before it gives up (ms).
pub const READ_TIMEOUT_MS: u32 = 10_000;

/// Hosts whose `list=` is read (compared exactly, lower-cased, a final dot dropped).
const LIST_HOSTS: &[&str] = &[
    "youtube.com",
    "www.youtube.com",
    "m.youtube.com",
    "music.youtube.com",
    "youtu.be",
    "www.youtu.be",
];

/// A validated playlist id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaylistId(String);

impl PlaylistId {
    /// Checks the charset and length.
    pub fn parse(s: &str) -> Result<Self, QueueInputError> {
        let ok = (2..=MAX_LIST_ID_LEN).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(QueueInputError::BadList)
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A Mix: YouTube's auto-generated radio (`RD…`).
    pub fn is_mix(&self) -> bool {
        self.0.starts_with("RD")
    }
}

impl fmt::Display for PlaylistId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A playlist to import and the video to start from (`None`: its start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaylistRef {
    /// The playlist.
    pub list: PlaylistId,
    /// The link's video (`watch?v=X&list=L`).
    pub from: Option<VideoId>,
}

/// What the queue field was given.
#[derive(Clone, Debug, PartialEq)]
pub enum QueueInput {
    /// One video (added as before).
    Video(VideoRef),
    /// A playlist to import.
    Playlist(PlaylistRef),
}

/// Why the queue field's input cannot be used. `Display` is the sentence shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueueInputError {
    /// Not a video link either (see [`VideoInputError`]).
    #[error(transparent)]
    Video(#[from] VideoInputError),
    /// A `list=` that is not a playlist id.
    #[error("The playlist in that link is not valid: playlist ids are letters, digits, - and _. Copy the playlist's link again, or remove list=… to add the video alone.")]
    BadList,
    /// A playlist link to a Mix.
    #[error("A Mix cannot be imported: it is YouTube's endless radio, not a playlist. Paste a playlist's link, or a video's.")]
    Mix,
}

/// Why the browser could not read a playlist; nothing was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The player reported an error (private, deleted, or no such playlist).
    #[error("That playlist cannot be read: it is private, was deleted, or does not exist. Nothing was added.")]
    Unreadable,
    /// The player read no videos in it.
    #[error("That playlist has no videos the player can read. Nothing was added.")]
    Empty,
    /// The player did not answer within [`READ_TIMEOUT_MS`].
    #[error("Reading the playlist took too long. Nothing was added; try again.")]
    Timeout,
    /// No helper player could be made (the YouTube player did not load).
    #[error("The YouTube player could not be loaded to read the playlist. Nothing was added.")]
    NoPlayer,
}

/// Parses what was pasted into the queue field: a playlist link (see the module docs) or, as
/// before, a video link or id.
pub fn parse_queue_input(input: &str) -> Result<QueueInput, QueueInputError> {
    let trimmed = input.trim();
    if input.len() > MAX_INPUT_LEN || !trimmed.contains("list=") {
        return Ok(QueueInput::Video(parse_video_input(input)?));
    }
    let Some((playlist_path, list)) = link_list(trimmed) else {
        return Ok(QueueInput::Video(parse_video_input(input)?));
    };
    if playlist_path {
        let list = PlaylistId::parse(list)?;
        if list.is_mix() {
            return Err(QueueInputError::Mix);
        }
        return Ok(QueueInput::Playlist(PlaylistRef { list, from: None }));
    }
    let video = parse_video_input(input)?;
    let list = PlaylistId::parse(list)?;
    if list.is_mix() {
        return Ok(QueueInput::Video(video));
    }
    Ok(QueueInput::Playlist(PlaylistRef {
        list,
        from: Some(video.id),
    }))
}

/// For a link on a YouTube host with a `list=` in its query: whether its path is a playlist's
/// own (`/playlist`, `/embed/videoseries`) and the list's raw value. `None` for anything else
/// (left to the video parser, which explains what is wrong).
fn link_list(input: &str) -> Option<(bool, &str)> {
    let rest = match input.find("://") {
        Some(i) if !input[..i].contains(['/', '?', '#']) => {
            let scheme = &input[..i];
            if !(scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http")) {
                return None;
            }
            &input[i + 3..]
        }
        _ => input.strip_prefix("//").unwrap_or(input),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(end);
    if authority.contains(['@', ':']) {
        return None;
    }
    let host = authority.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host);
    if !LIST_HOSTS.contains(&host) {
        return None;
    }
    let rest = rest.split('#').next().unwrap_or("");
    let (path, query) = rest.split_once('?')?;
    let list = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "list")
        .map(|(_, v)| v)?;
    let path = path.trim_end_matches('/').to_ascii_lowercase();
    let own =
        !host.contains("youtu.be") && matches!(path.as_str(), "/playlist" | "/embed/videoseries");
    Some((own, list))
}

/// The part of a playlist's ids to import: from the first `from` on (the whole list when
/// `from` is `None` or not in it), at most [`MAX_IMPORT_IDS`]; and how many after those were
/// cut by that bound (they count as left out).
pub fn import_slice(ids: &[VideoId], from: Option<VideoId>) -> (&[VideoId], u32) {
    let start = from
        .and_then(|f| ids.iter().position(|i| *i == f))
        .unwrap_or(0);
    let rest = &ids[start..];
    let sent = rest.len().min(MAX_IMPORT_IDS);
    let cut = u32::try_from(rest.len() - sent).unwrap_or(u32::MAX);
    (&rest[..sent], cut)
}

/// What the page says after an import: added 3 videos, or added 97 videos, left out 23
/// because the queue is full (the page's locales put it into words).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportSummary {
    /// Videos appended to the queue.
    pub added: u32,
    /// Videos of the playlist not appended, and why; `None` when none were left out.
    pub left_out: Option<(u32, LeftOut)>,
}

/// Why videos of a playlist were left out (the queue's bound first: it is the one a host can
/// do something about).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeftOut {
    /// The queue reached `max_queue_len`.
    QueueFull,
    /// The browser sends at most [`MAX_IMPORT_IDS`] videos per import.
    ImportCap,
}

/// The summary of an import the server answered with `done`; `cut`: videos the browser did not
/// send ([`import_slice`]).
pub fn summary(done: Imported, cut: u32) -> ImportSummary {
    let left = done.left_out.saturating_add(cut);
    let why = if done.left_out > 0 {
        LeftOut::QueueFull
    } else {
        LeftOut::ImportCap
    };
    ImportSummary {
        added: done.added,
        left_out: (left > 0).then_some((left, why)),
    }
}

#[cfg(test)]
mod tests;
