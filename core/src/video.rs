//! Parsing YouTube links and video ids (shared by server and browser).
//!
//! [`parse_video_input`] is the one parser: the home page runs it in the browser for instant
//! feedback and the `create_session` server function runs it again before anything is created.
//! It is small hand-written parsing (no regex crate, to keep the wasm small) over a strict allow
//! list of hosts and path shapes:
//!
//! - a bare 11-character id (`dQw4w9WgXcQ`);
//! - `youtube.com/watch?v=ID` on `youtube.com`, `www.`, `m.` and `music.` hosts, with or without
//!   a scheme, with other query parameters in any order and an optional fragment;
//! - `youtu.be/ID`;
//! - `/embed/ID`, `/shorts/ID`, `/v/ID` on the YouTube hosts (`/live/ID` is refused with
//!   [`VideoInputError::LiveStream`]: a live stream has no shared timeline to sync), and
//!   `youtube-nocookie.com/embed/ID`;
//! - a start offset from `t=` or `start=` in the query, or `t=` in the fragment (`#t=90`), as
//!   seconds (`90`, `90s`, `12.5`), units (`1m30s`, `1h2m3s`) or a clock (`1:30`, `1:02:03`).
//!
//! Everything else is rejected with a [`VideoInputError`] whose `Display` is a sentence meant for
//! people: other sites (hosts must match exactly, so `youtube.com.evil.com` fails), credentials
//! in the authority (`youtube.com@evil.com`), ports, non-HTTP schemes, junk, script tags, ids of
//! the wrong length or alphabet, inputs longer than [`MAX_INPUT_LEN`] (checked before any
//! parsing) and offsets that are negative, not finite or beyond [`MAX_POSITION`].

use crate::ids::VideoId;
use std::fmt;

/// Largest position or duration accepted, in seconds (one week; YouTube's longest uploads are
/// 12 h, live streams report growing positions).
pub const MAX_POSITION: f64 = 7.0 * 24.0 * 3600.0;

/// Where the official YouTube IFrame Player API script lives.
pub const IFRAME_API_URL: &str = "https://www.youtube.com/iframe_api";
/// The `id` of the page's one `<script>` element for [`IFRAME_API_URL`]: the session page's
/// server-rendered HTML carries it (so the API loads while the wasm does), and the browser's
/// loader adds it only when it is missing.
pub const IFRAME_API_SCRIPT_ID: &str = "youtube-iframe-api";

/// Longest input accepted, in bytes (checked before trimming or parsing). Real links are well
/// under 200 characters; this leaves room for long tracking parameters.
pub const MAX_INPUT_LEN: usize = 2048;

/// Length of a YouTube video id.
const VIDEO_ID_LEN: usize = 11;

/// Hosts whose links are parsed (compared exactly, after lower-casing and dropping a final dot).
const YOUTUBE_HOSTS: &[&str] = &[
    "youtube.com",
    "www.youtube.com",
    "m.youtube.com",
    "music.youtube.com",
];
/// The short-link host: the video id is the whole path.
const SHORT_HOSTS: &[&str] = &["youtu.be", "www.youtu.be"];
/// The privacy-enhanced embed hosts: only `/embed/ID` (and `/v/ID`).
const NOCOOKIE_HOSTS: &[&str] = &["youtube-nocookie.com", "www.youtube-nocookie.com"];

/// Path words that sit where an id would and are exactly 11 characters long, but name a
/// playlist or a channel's live stream rather than a video (`/embed/videoseries?list=…`).
const NOT_VIDEO_IDS: &[&str] = &["videoseries", "live_stream"];

/// A video to watch: which one and where to start.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoRef {
    /// The YouTube video id.
    pub id: VideoId,
    /// Start offset in seconds (0 when the input had none); finite, in `[0, MAX_POSITION]`.
    pub start: f64,
}

impl fmt::Display for VideoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start > 0.0 {
            write!(f, "video {} from {}", self.id, format_offset(self.start))
        } else {
            write!(f, "video {}", self.id)
        }
    }
}

/// The player variables of every YouTube player the app makes (with `origin` and, from a link's
/// offset, `start`): the controls shown, inline playback on phones, related videos from the
/// same channel only, the JavaScript API on. `client/yt.rs` passes them to `YT.Player`;
/// `early.js` writes the same into the URL of the embed it puts in the page before the app
/// runs (a test below keeps the two the same).
pub const PLAYER_VARS: [(&str, u8); 4] = [
    ("enablejsapi", 1),
    ("controls", 1),
    ("playsinline", 1),
    ("rel", 0),
];

/// Why an input is not a YouTube video. `Display` gives the message shown to people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VideoInputError {
    /// Nothing but whitespace.
    #[error("Paste a YouTube link or an 11-character video id.")]
    Empty,
    /// Longer than [`MAX_INPUT_LEN`].
    #[error("That is far too long for a YouTube link (at most 2048 characters).")]
    TooLong,
    /// Contains whitespace, control characters, quotes, angle brackets or backslashes, which
    /// never appear in a link someone copied (e.g. a script tag).
    #[error("That is not a YouTube link: it contains spaces or characters such as < > \" that links never have.")]
    BadCharacters,
    /// Neither a link nor something shaped like an id.
    #[error("That is neither a YouTube link nor a video id.")]
    NotALink,
    /// A link to another site (or a look-alike host, credentials, a port or another scheme).
    #[error("Only YouTube links work here (youtube.com, youtu.be or youtube-nocookie.com).")]
    NotYouTube,
    /// A YouTube link, but not to one video (a channel, playlist, search or home page).
    #[error(
        "That YouTube link does not point to a single video; open the video and copy its link."
    )]
    NoVideo,
    /// Something in the place of the id that is not 11 characters of `[A-Za-z0-9_-]`.
    #[error(
        "That is not a valid YouTube video id: ids are 11 characters of letters, digits, - and _."
    )]
    BadVideoId,
    /// An unreadable or negative start offset.
    #[error("The start time in the link is not valid (use e.g. t=90, t=1m30s or start=90).")]
    BadStart,
    /// A start offset beyond [`MAX_POSITION`].
    #[error("The start time in the link is too large (more than a week into the video).")]
    StartTooLarge,
    /// A `/live/ID` link: a live stream has no fixed timeline (its "duration" grows), so it
    /// cannot be watched in sync (issue 11).
    #[error("Live streams cannot be watched together here: they have no shared timeline. Paste a link to a regular video.")]
    LiveStream,
}

impl VideoInputError {
    /// Every error, for pages that must show only known messages.
    pub const ALL: [VideoInputError; 10] = [
        VideoInputError::Empty,
        VideoInputError::TooLong,
        VideoInputError::BadCharacters,
        VideoInputError::NotALink,
        VideoInputError::NotYouTube,
        VideoInputError::NoVideo,
        VideoInputError::BadVideoId,
        VideoInputError::BadStart,
        VideoInputError::StartTooLarge,
        VideoInputError::LiveStream,
    ];

    /// A short stable name, for the home page's address after a failed post without
    /// JavaScript (`/?error=not-youtube`): the page shows the sentence of a known name and
    /// nothing else, so no link can make it show text of its author's choosing.
    pub fn code(self) -> &'static str {
        match self {
            VideoInputError::Empty => "empty",
            VideoInputError::TooLong => "too-long",
            VideoInputError::BadCharacters => "bad-characters",
            VideoInputError::NotALink => "not-a-link",
            VideoInputError::NotYouTube => "not-youtube",
            VideoInputError::NoVideo => "no-video",
            VideoInputError::BadVideoId => "bad-video-id",
            VideoInputError::BadStart => "bad-start",
            VideoInputError::StartTooLarge => "start-too-large",
            VideoInputError::LiveStream => "live-stream",
        }
    }

    /// The error named `code` (see [`VideoInputError::code`]).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.code() == code)
    }
}

/// Parses what someone pasted into the home page: a YouTube link or a bare video id.
///
/// Surrounding whitespace is ignored. See the module documentation for every accepted form.
pub fn parse_video_input(input: &str) -> Result<VideoRef, VideoInputError> {
    if input.len() > MAX_INPUT_LEN {
        return Err(VideoInputError::TooLong);
    }
    let input = input.trim();
    if input.is_empty() {
        return Err(VideoInputError::Empty);
    }
    if input.chars().any(is_forbidden_char) {
        return Err(VideoInputError::BadCharacters);
    }
    if is_id_shaped(input) {
        return if input.len() == VIDEO_ID_LEN {
            Ok(VideoRef {
                id: video_id(input)?,
                start: 0.0,
            })
        } else {
            Err(VideoInputError::BadVideoId)
        };
    }
    if !input.contains(['.', '/', ':']) {
        return Err(VideoInputError::NotALink);
    }
    parse_link(input)
}

/// Characters no copied link contains: whitespace, controls, quotes, `<`, `>`, `\` and `` ` ``.
fn is_forbidden_char(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '\'' | '`' | '\\')
}

/// Only characters of the video-id alphabet (any length).
fn is_id_shaped(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A validated video id, refusing the 11-letter path words that are not videos.
fn video_id(s: &str) -> Result<VideoId, VideoInputError> {
    if NOT_VIDEO_IDS.contains(&s) {
        return Err(VideoInputError::NoVideo);
    }
    VideoId::parse(s).map_err(|_| VideoInputError::BadVideoId)
}

/// Which family of host a link is on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HostKind {
    YouTube,
    Short,
    NoCookie,
}

/// Parses a link (with or without `http(s)://`).
fn parse_link(input: &str) -> Result<VideoRef, VideoInputError> {
    let rest = strip_scheme(input)?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(authority_end);
    let kind = host_kind(authority)?;

    let (rest, fragment) = match rest.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (rest, None),
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, q),
        None => (rest, ""),
    };

    let id = match kind {
        HostKind::Short => single_segment(path.strip_prefix('/').unwrap_or(path))?,
        HostKind::YouTube => youtube_path_id(path, query)?,
        HostKind::NoCookie => {
            let segment = path
                .strip_prefix("/embed/")
                .or_else(|| path.strip_prefix("/v/"))
                .ok_or(VideoInputError::NoVideo)?;
            single_segment(segment)?
        }
    };
    let start = start_offset(query, fragment)?;
    Ok(VideoRef { id, start })
}

/// Removes `http://`, `https://` or `//`; any other scheme is not a YouTube link.
fn strip_scheme(input: &str) -> Result<&str, VideoInputError> {
    let scheme_end = input
        .find("://")
        .filter(|&idx| !input[..idx].contains(['/', '?', '#']));
    if let Some(idx) = scheme_end {
        let scheme = &input[..idx];
        if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http") {
            return Ok(&input[idx + 3..]);
        }
        return Err(VideoInputError::NotYouTube);
    }
    Ok(input.strip_prefix("//").unwrap_or(input))
}

/// Classifies the authority part; only exact, known hosts pass (no credentials, no port).
fn host_kind(authority: &str) -> Result<HostKind, VideoInputError> {
    if authority.contains(['@', ':']) {
        return Err(VideoInputError::NotYouTube);
    }
    let host = authority.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host);
    if YOUTUBE_HOSTS.contains(&host) {
        Ok(HostKind::YouTube)
    } else if SHORT_HOSTS.contains(&host) {
        Ok(HostKind::Short)
    } else if NOCOOKIE_HOSTS.contains(&host) {
        Ok(HostKind::NoCookie)
    } else {
        Err(VideoInputError::NotYouTube)
    }
}

/// The id on a `youtube.com` path: `/watch?v=ID` or `/{embed,shorts,live,v}/ID`.
fn youtube_path_id(path: &str, query: &str) -> Result<VideoId, VideoInputError> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let (first, rest) = match path.split_once('/') {
        Some((f, r)) => (f, Some(r)),
        None => (path, None),
    };
    let first = first.to_ascii_lowercase();
    match (first.as_str(), rest) {
        ("watch", None | Some("")) => {
            let v = query_param(query, "v").ok_or(VideoInputError::NoVideo)?;
            video_id(v)
        }
        ("live", Some(_)) => Err(VideoInputError::LiveStream),
        ("embed" | "shorts" | "v", Some(segment)) => single_segment(segment),
        _ => Err(VideoInputError::NoVideo),
    }
}

/// A path remainder that must be exactly one id, optionally followed by `/`.
fn single_segment(segment: &str) -> Result<VideoId, VideoInputError> {
    let segment = segment.strip_suffix('/').unwrap_or(segment);
    if segment.is_empty() {
        return Err(VideoInputError::NoVideo);
    }
    if segment.contains('/') {
        return Err(VideoInputError::NoVideo);
    }
    video_id(segment)
}

/// The first value of `key` in an `a=1&b=2` string (no percent-decoding: none of the values we
/// read contain escapes).
fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// The start offset: `t` or `start` in the query, else `t` in the fragment; 0 when absent.
fn start_offset(query: &str, fragment: Option<&str>) -> Result<f64, VideoInputError> {
    let value = query_param(query, "t")
        .or_else(|| query_param(query, "start"))
        .or_else(|| fragment.and_then(|f| query_param(f, "t")));
    match value {
        None | Some("") => Ok(0.0),
        Some(v) => parse_offset(v),
    }
}

/// Parses `90`, `90s`, `12.5`, `1m30s`, `1h2m3s`, `1:30` or `1:02:03` into seconds.
pub fn parse_offset(text: &str) -> Result<f64, VideoInputError> {
    if text.is_empty() || text.len() > 32 {
        return Err(VideoInputError::BadStart);
    }
    let seconds = if text.contains(':') {
        parse_clock(text)?
    } else if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        parse_number(text)?
    } else {
        parse_units(text)?
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(VideoInputError::BadStart);
    }
    if seconds > MAX_POSITION {
        return Err(VideoInputError::StartTooLarge);
    }
    Ok(seconds)
}

/// A plain non-negative decimal (`90`, `12.5`): digits with at most one dot, digits on both
/// sides of it. Signs, exponents, `inf` and `NaN` never get here.
fn parse_number(text: &str) -> Result<f64, VideoInputError> {
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(VideoInputError::BadStart);
    }
    text.parse::<f64>().map_err(|_| VideoInputError::BadStart)
}

/// `1h2m3s` style: each of h, m, s at most once and in that order, integer amounts; a number
/// without a unit is only allowed alone (handled by [`parse_number`]).
fn parse_units(text: &str) -> Result<f64, VideoInputError> {
    let mut total = 0.0;
    let mut number = String::new();
    let mut last_rank = 0;
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let (rank, scale) = match c.to_ascii_lowercase() {
            'h' => (1, 3600.0),
            'm' => (2, 60.0),
            's' => (3, 1.0),
            _ => return Err(VideoInputError::BadStart),
        };
        if number.is_empty() || rank <= last_rank {
            return Err(VideoInputError::BadStart);
        }
        total += parse_number(&number)? * scale;
        number.clear();
        last_rank = rank;
    }
    if !number.is_empty() {
        return Err(VideoInputError::BadStart);
    }
    Ok(total)
}

/// `m:ss` or `h:mm:ss` (minutes and seconds below 60 after the first field).
fn parse_clock(text: &str) -> Result<f64, VideoInputError> {
    let fields: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&fields.len()) {
        return Err(VideoInputError::BadStart);
    }
    let mut total = 0.0;
    for (i, field) in fields.iter().enumerate() {
        if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
            return Err(VideoInputError::BadStart);
        }
        let value = parse_number(field)?;
        if i > 0 && value >= 60.0 {
            return Err(VideoInputError::BadStart);
        }
        total = total * 60.0 + value;
    }
    Ok(total)
}

/// Formats an offset in seconds as `m:ss` or `h:mm:ss` (fractions dropped), e.g. for a hint.
pub fn format_offset(seconds: f64) -> String {
    let total = if seconds.is_finite() && seconds > 0.0 {
        seconds.floor() as u64
    } else {
        0
    };
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "dQw4w9WgXcQ";

    fn ok(input: &str) -> (String, f64) {
        match parse_video_input(input) {
            Ok(v) => (v.id.to_string(), v.start),
            Err(e) => panic!("{input:?} was rejected: {e}"),
        }
    }

    #[rustfmt::skip] // one case per line reads best as a table
    #[test]
    fn accepts_every_common_form() {
        let cases: &[(&str, &str, f64)] = &[
            // bare ids
            ("dQw4w9WgXcQ", ID, 0.0),
            ("  dQw4w9WgXcQ\n", ID, 0.0),
            ("a-b_c-d_e-f", "a-b_c-d_e-f", 0.0),
            // watch links, hosts and schemes
            ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", ID, 0.0),
            ("http://www.youtube.com/watch?v=dQw4w9WgXcQ", ID, 0.0),
            ("HTTPS://WWW.YOUTUBE.COM/watch?v=dQw4w9WgXcQ", ID, 0.0),
            ("https://youtube.com/watch?v=dQw4w9WgXcQ", ID, 0.0),
            ("www.youtube.com/watch?v=dQw4w9WgXcQ", ID, 0.0),
            ("youtube.com/watch?v=dQw4w9WgXcQ", ID, 0.0),
            ("//www.youtube.com/watch?v=dQw4w9WgXcQ", ID, 0.0),
            ("https://www.youtube.com./watch?v=dQw4w9WgXcQ", ID, 0.0),
            ("https://m.youtube.com/watch?v=dQw4w9WgXcQ", ID, 0.0),
            (
                "https://music.youtube.com/watch?v=dQw4w9WgXcQ&feature=share",
                ID,
                0.0,
            ),
            ("https://www.youtube.com/watch/?v=dQw4w9WgXcQ", ID, 0.0),
            // extra parameters in any order, fragments
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PL123&index=2",
                ID,
                0.0,
            ),
            (
                "https://www.youtube.com/watch?feature=youtu.be&v=dQw4w9WgXcQ",
                ID,
                0.0,
            ),
            (
                "https://www.youtube.com/watch?app=desktop&v=dQw4w9WgXcQ&pp=ygU",
                ID,
                0.0,
            ),
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ#comments",
                ID,
                0.0,
            ),
            ("https://www.youtube.com/watch?v=dQw4w9WgXcQ&", ID, 0.0),
            (
                "youtube.com/watch?v=dQw4w9WgXcQ&u=https://example.com",
                ID,
                0.0,
            ),
            // short links
            ("https://youtu.be/dQw4w9WgXcQ", ID, 0.0),
            ("youtu.be/dQw4w9WgXcQ", ID, 0.0),
            ("https://youtu.be/dQw4w9WgXcQ/", ID, 0.0),
            ("https://youtu.be/dQw4w9WgXcQ?si=AbCdEfGh123", ID, 0.0),
            // path forms
            ("https://www.youtube.com/embed/dQw4w9WgXcQ", ID, 0.0),
            (
                "https://www.youtube.com/embed/dQw4w9WgXcQ?autoplay=1",
                ID,
                0.0,
            ),
            ("https://www.youtube.com/shorts/dQw4w9WgXcQ", ID, 0.0),
            (
                "https://youtube.com/shorts/dQw4w9WgXcQ?feature=share",
                ID,
                0.0,
            ),
            ("https://m.youtube.com/shorts/dQw4w9WgXcQ/", ID, 0.0),
            ("https://www.youtube.com/v/dQw4w9WgXcQ", ID, 0.0),
            (
                "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
                ID,
                0.0,
            ),
            ("youtube-nocookie.com/embed/dQw4w9WgXcQ?rel=0", ID, 0.0),
            // start offsets
            ("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=90", ID, 90.0),
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=90s",
                ID,
                90.0,
            ),
            (
                "https://www.youtube.com/watch?t=1m30s&v=dQw4w9WgXcQ",
                ID,
                90.0,
            ),
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1h2m3s",
                ID,
                3723.0,
            ),
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1h",
                ID,
                3600.0,
            ),
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=2m",
                ID,
                120.0,
            ),
            ("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=0", ID, 0.0),
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=12.5",
                ID,
                12.5,
            ),
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1:30",
                ID,
                90.0,
            ),
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1:02:03",
                ID,
                3723.0,
            ),
            ("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=", ID, 0.0),
            ("https://www.youtube.com/watch?v=dQw4w9WgXcQ#t=90", ID, 90.0),
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ#t=1m30s",
                ID,
                90.0,
            ),
            ("https://youtu.be/dQw4w9WgXcQ?t=42", ID, 42.0),
            ("https://youtu.be/dQw4w9WgXcQ?si=abc&t=42s", ID, 42.0),
            (
                "https://www.youtube.com/embed/dQw4w9WgXcQ?start=90",
                ID,
                90.0,
            ),
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ&start=90",
                ID,
                90.0,
            ),
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=10&start=90",
                ID,
                10.0,
            ),
            ("https://youtu.be/dQw4w9WgXcQ?T=1M30S", ID, 0.0),
            ("https://youtu.be/dQw4w9WgXcQ?t=1M30S", ID, 90.0),
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=604800",
                ID,
                MAX_POSITION,
            ),
        ];
        for &(input, id, start) in cases {
            assert_eq!(ok(input), (id.to_string(), start), "input {input:?}");
        }
    }

    #[rustfmt::skip] // one case per line reads best as a table
    #[test]
    fn rejects_everything_else_with_a_reason() {
        use VideoInputError::*;
        let long_link = format!(
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&x={}",
            "a".repeat(MAX_INPUT_LEN)
        );
        let five_kb = "x".repeat(5 * 1024);
        let spaces = " ".repeat(MAX_INPUT_LEN + 1);
        let cases: Vec<(&str, VideoInputError)> = vec![
            ("", Empty),
            ("   \t\n", Empty),
            (&five_kb, TooLong),
            (&long_link, TooLong),
            (&spaces, TooLong),
            // junk and script tags
            ("<script>alert(1)</script>", BadCharacters),
            ("dQw4w9WgXcQ<script>", BadCharacters),
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ\"><script>",
                BadCharacters,
            ),
            ("hello world", BadCharacters),
            ("dQw4w9 WgXcQ", BadCharacters),
            ("dQw4w9WgXcQ\u{0}", BadCharacters),
            ("!!!", NotALink),
            ("ünïcödé", NotALink),
            // ids of the wrong length or alphabet
            ("dQw4w9WgXc", BadVideoId),
            ("dQw4w9WgXcQQ", BadVideoId),
            ("abc", BadVideoId),
            ("https://www.youtube.com/watch?v=dQw4w9WgXc", BadVideoId),
            ("https://www.youtube.com/watch?v=dQw4w9WgXcQQ", BadVideoId),
            ("https://www.youtube.com/watch?v=dQw4w9WgX%51", BadVideoId),
            ("https://www.youtube.com/watch?v=", BadVideoId),
            ("https://youtu.be/dQw4w9WgX!Q", BadVideoId),
            ("https://youtu.be/short", BadVideoId),
            ("https://www.youtube.com/shorts/dQw4w9WgXcQxx", BadVideoId),
            // other sites and look-alikes
            ("https://vimeo.com/123456", NotYouTube),
            ("https://example.com/watch?v=dQw4w9WgXcQ", NotYouTube),
            (
                "https://youtube.com.evil.com/watch?v=dQw4w9WgXcQ",
                NotYouTube,
            ),
            ("https://notyoutube.com/watch?v=dQw4w9WgXcQ", NotYouTube),
            ("https://evilyoutu.be/dQw4w9WgXcQ", NotYouTube),
            ("https://youtu.be.evil.com/dQw4w9WgXcQ", NotYouTube),
            (
                "https://evil.com/youtube.com/watch?v=dQw4w9WgXcQ",
                NotYouTube,
            ),
            (
                "https://evil.com/?u=https://youtu.be/dQw4w9WgXcQ",
                NotYouTube,
            ),
            (
                "https://www.youtube.com@evil.com/watch?v=dQw4w9WgXcQ",
                NotYouTube,
            ),
            (
                "https://user:pw@www.youtube.com/watch?v=dQw4w9WgXcQ",
                NotYouTube,
            ),
            (
                "https://www.youtube.com:8080/watch?v=dQw4w9WgXcQ",
                NotYouTube,
            ),
            ("ftp://www.youtube.com/watch?v=dQw4w9WgXcQ", NotYouTube),
            ("javascript:alert(1)", NotYouTube),
            ("javascript://www.youtube.com/%0aalert(1)", NotYouTube),
            ("data:text/html,hi", NotYouTube),
            ("https://www.yоutube.com/watch?v=dQw4w9WgXcQ", NotYouTube), // Cyrillic о
            ("https://", NotYouTube),
            ("/watch?v=dQw4w9WgXcQ", NotYouTube),
            // YouTube, but not one video
            ("https://www.youtube.com/", NoVideo),
            ("https://www.youtube.com", NoVideo),
            ("https://www.youtube.com/watch", NoVideo),
            ("https://www.youtube.com/watch?list=PL123", NoVideo),
            ("https://www.youtube.com/playlist?list=PL123", NoVideo),
            ("https://www.youtube.com/live/dQw4w9WgXcQ?si=xyz", LiveStream),
            ("https://www.youtube.com/@somechannel", NoVideo),
            (
                "https://www.youtube.com/channel/UC38IQsAvIsxxjztdMZQtwHA",
                NoVideo,
            ),
            ("https://www.youtube.com/results?search_query=cats", NoVideo),
            ("https://www.youtube.com/embed/", NoVideo),
            (
                "https://www.youtube.com/embed/videoseries?list=PL123",
                NoVideo,
            ),
            (
                "https://www.youtube.com/embed/live_stream?channel=UC1",
                NoVideo,
            ),
            ("https://www.youtube.com/embed/dQw4w9WgXcQ/extra", NoVideo),
            ("https://www.youtube.com/dQw4w9WgXcQ", NoVideo),
            ("https://youtu.be/", NoVideo),
            ("https://youtu.be/dQw4w9WgXcQ/more", NoVideo),
            (
                "https://www.youtube-nocookie.com/watch?v=dQw4w9WgXcQ",
                NoVideo,
            ),
            // absurd or unreadable offsets
            ("https://youtu.be/dQw4w9WgXcQ?t=-5", BadStart),
            ("https://youtu.be/dQw4w9WgXcQ?t=abc", BadStart),
            ("https://youtu.be/dQw4w9WgXcQ?t=NaN", BadStart),
            ("https://youtu.be/dQw4w9WgXcQ?t=inf", BadStart),
            ("https://youtu.be/dQw4w9WgXcQ?t=1e3", BadStart),
            ("https://youtu.be/dQw4w9WgXcQ?t=1.", BadStart),
            ("https://youtu.be/dQw4w9WgXcQ?t=.5", BadStart),
            ("https://youtu.be/dQw4w9WgXcQ?t=1.2.3", BadStart),
            ("https://youtu.be/dQw4w9WgXcQ?t=30s1m", BadStart),
            ("https://youtu.be/dQw4w9WgXcQ?t=1m1m", BadStart),
            ("https://youtu.be/dQw4w9WgXcQ?t=1m30", BadStart),
            ("https://youtu.be/dQw4w9WgXcQ?t=m", BadStart),
            ("https://youtu.be/dQw4w9WgXcQ?t=1:75", BadStart),
            ("https://youtu.be/dQw4w9WgXcQ?t=1:2:3:4", BadStart),
            ("https://youtu.be/dQw4w9WgXcQ?t=:30", BadStart),
            (
                "https://youtu.be/dQw4w9WgXcQ?t=99999999999999999999999999999999999",
                BadStart,
            ),
            ("https://youtu.be/dQw4w9WgXcQ?t=604801", StartTooLarge),
            ("https://youtu.be/dQw4w9WgXcQ?t=200h", StartTooLarge),
            (
                "https://www.youtube.com/embed/dQw4w9WgXcQ?start=9999999",
                StartTooLarge,
            ),
            ("https://www.youtube.com/watch?v=dQw4w9WgXcQ#t=-1", BadStart),
        ];
        for (input, expected) in cases {
            let shown: String = input.chars().take(60).collect();
            assert_eq!(parse_video_input(input), Err(expected), "input {shown:?}");
        }
    }

    #[test]
    fn every_error_has_a_distinct_sentence() {
        use VideoInputError::*;
        let all = VideoInputError::ALL;
        let messages: Vec<String> = all.iter().map(|e| e.to_string()).collect();
        for m in &messages {
            assert!(m.ends_with('.'), "{m}");
            assert!(m.len() > 20 && m.len() < 120, "{m}");
        }
        let mut unique = messages.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), messages.len());
        assert!(TooLong.to_string().contains(&MAX_INPUT_LEN.to_string()));
    }

    #[test]
    fn every_error_has_a_distinct_code_that_names_it_back() {
        let mut codes: Vec<&str> = VideoInputError::ALL.iter().map(|e| e.code()).collect();
        for e in VideoInputError::ALL {
            assert_eq!(VideoInputError::from_code(e.code()), Some(e));
            assert!(e
                .code()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-'));
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), VideoInputError::ALL.len());
        assert_eq!(VideoInputError::from_code("Your account is locked"), None);
        assert_eq!(VideoInputError::from_code(""), None);
    }

    #[test]
    fn offsets_format_for_people() {
        assert_eq!(format_offset(0.0), "0:00");
        assert_eq!(format_offset(90.0), "1:30");
        assert_eq!(format_offset(3723.9), "1:02:03");
        assert_eq!(format_offset(f64::NAN), "0:00");
        assert_eq!(format_offset(-4.0), "0:00");
        let v = parse_video_input("https://youtu.be/dQw4w9WgXcQ?t=1m30s");
        assert_eq!(
            v.map(|v| v.to_string()),
            Ok("video dQw4w9WgXcQ from 1:30".to_string())
        );
    }

    proptest::proptest! {
        /// The parser never panics, and whatever it accepts is a valid id with a sane offset.
        #[test]
        fn never_panics_and_accepts_only_sane_values(s in "\\PC{0,80}") {
            if let Ok(v) = parse_video_input(&s) {
                proptest::prop_assert!(VideoId::parse(v.id.as_str()).is_ok());
                proptest::prop_assert!(v.start.is_finite() && (0.0..=MAX_POSITION).contains(&v.start));
            }
        }

        /// Links built from any valid id and offset in seconds round-trip.
        #[test]
        fn built_links_round_trip(id in "[A-Za-z0-9_-]{11}", t in 0u32..604_800) {
            proptest::prop_assume!(!NOT_VIDEO_IDS.contains(&id.as_str()));
            for link in [
                format!("https://www.youtube.com/watch?v={id}&t={t}s"),
                format!("https://youtu.be/{id}?t={t}"),
                format!("youtube-nocookie.com/embed/{id}?start={t}"),
            ] {
                let v = parse_video_input(&link);
                proptest::prop_assert_eq!(v.map(|v| (v.id.to_string(), v.start)), Ok((id.clone(), f64::from(t))));
            }
        }
    }
}
