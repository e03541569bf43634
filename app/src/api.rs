//! Server functions shared by the pages (bodies run on the server only).

use crate::ids::SessionId;
use crate::playback::PlaybackState;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the session page needs for its first paint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionView {
    /// The session.
    pub id: SessionId,
    /// The authoritative state.
    pub state: PlaybackState,
    /// Server time (ms since the Unix epoch) when `state` was read.
    pub server_time: f64,
    /// Viewers connected when the page was rendered.
    pub viewers: u32,
}

/// Loads a session for the page; `Ok(None)` when it does not exist.
#[server(prefix = "/api", endpoint = "session")]
pub async fn get_session(id: String) -> Result<Option<SessionView>, ServerFnError> {
    let Ok(id) = SessionId::parse(&id) else {
        return Ok(None);
    };
    let backend = expect_context::<crate::ssr::SharedBackend>();
    let snapshot = backend
        .load_session(&id)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    Ok(snapshot.map(|s| SessionView {
        id,
        state: s.state,
        server_time: s.server_time,
        viewers: s.viewers,
    }))
}

/// Creates a session from a YouTube link or video id and redirects to `/s/{id}#host=<secret>`
/// (the creator is the session's host; see [`crate::rights`]).
/// Returns the new session id.
///
/// The input goes through [`crate::video::parse_video_input`]; when it is rejected nothing is
/// created and the error's message is the parser's sentence. Without JavaScript (a plain HTML
/// form post) success is a `302` to the session and failure a `302` back to the home page
/// with the error's name in the query (`/?error=not-youtube`, see [`CreateFailure::from_code`]), which
/// the home page renders on the server. The home page's script (JavaScript on) posts the same
/// form with `Accept: application/json` and gets `200` with the session's address in
/// `Location` (and the id as a JSON string), or `400` (bad input) / `503` (store failure) with
/// the error as `ServerError|<sentence>`; it then routes in the page.
#[server(prefix = "/api", endpoint = "create")]
pub async fn create_session(video: String) -> Result<String, ServerFnError> {
    let video = match crate::video::parse_video_input(&video) {
        Ok(video) => video,
        Err(e) => {
            tracing::debug!(error = %e, "rejected video input");
            return Err(failure::respond(
                e.code(),
                ServerFnError::new(e),
                http::StatusCode::BAD_REQUEST,
            ));
        }
    };
    let backend = expect_context::<crate::ssr::SharedBackend>();
    let (id, host_secret) = match backend.create_session(video.id, video.start).await {
        Ok(created) => created,
        Err(e) => {
            tracing::warn!(error = %e, "could not create a session");
            return Err(failure::respond(
                UNAVAILABLE_CODE,
                ServerFnError::new(CREATE_FAILED),
                http::StatusCode::SERVICE_UNAVAILABLE,
            ));
        }
    };
    tracing::debug!(session = %id, video = %video.id, start = video.start, "session created");
    // The host secret rides in the fragment: browsers never send it to a server (nor log it);
    // the session page stores it and removes it from the address bar.
    leptos_axum::redirect(&format!(
        "/s/{id}{}{host_secret}",
        crate::early::HOST_FRAGMENT
    ));
    Ok(id.to_string())
}

/// Shown when the store failed (details go to the log, not to the visitor).
pub const CREATE_FAILED: &str =
    "The watch party could not be created right now. Please try again in a moment.";

/// The name of [`CREATE_FAILED`] in the home page's address (see [`CreateFailure::from_code`]).
pub const UNAVAILABLE_CODE: &str = "unavailable";

/// Why a create failed, as the home page shows it (the words come from the viewer's language,
/// see `crate::lang`): the address and the server's answers name the failure, never carry the
/// text shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateFailure {
    /// The parser refused the input.
    Video(crate::video::VideoInputError),
    /// The store failed ([`CREATE_FAILED`]).
    Unavailable,
    /// The per-address limit: the next create may come in `secs` seconds.
    TooMany {
        /// Seconds to wait.
        secs: u64,
    },
    /// The server did not answer.
    Unreachable,
    /// Anything else.
    Generic,
}

impl CreateFailure {
    /// The failure named `code` in the home page's address (`/?error=<code>`, after a failed
    /// post without JavaScript): a parser error ([`crate::video::VideoInputError::code`]) or
    /// [`UNAVAILABLE_CODE`]. Any other name is [`CreateFailure::Generic`]: the address is
    /// anybody's to write, so it never carries text (issue 11).
    pub fn from_code(code: &str) -> Self {
        match crate::video::VideoInputError::from_code(code) {
            Some(e) => CreateFailure::Video(e),
            None if code == UNAVAILABLE_CODE => CreateFailure::Unavailable,
            None => CreateFailure::Generic,
        }
    }

    /// The failure whose sentence the server sent for a failed create (a parser error or
    /// [`CREATE_FAILED`]), else `None`: the page shows no other text.
    pub fn from_sentence(sentence: &str) -> Option<Self> {
        if sentence == CREATE_FAILED {
            return Some(CreateFailure::Unavailable);
        }
        crate::video::VideoInputError::ALL
            .into_iter()
            .find(|e| e.to_string() == sentence)
            .map(CreateFailure::Video)
    }
}

/// The sentence for a create refused by the per-address limit, `secs` before the next one may.
pub fn too_many_creates(secs: u64) -> String {
    format!("Too many watch parties were created from your address. Please try again in {secs} s.")
}

/// Server-only: how a failed `create_session` answers.
#[cfg(feature = "ssr")]
mod failure {
    use leptos::prelude::*;

    /// Returns `err` after choosing the response: for a plain form post (the request accepts
    /// `text/html`) a redirect to `/?error=<code>` (Leptos' default appends the error to the
    /// `Referer`, which strict referrer settings omit and which accumulates older errors); for
    /// the page's script, `status`.
    pub(super) fn respond(
        code: &str,
        err: ServerFnError,
        status: http::StatusCode,
    ) -> ServerFnError {
        let accepts_html = use_context::<http::request::Parts>().is_some_and(|parts| {
            parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/html"))
        });
        if accepts_html {
            leptos_axum::redirect(&format!("/?error={code}"));
        } else if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(status);
        }
        err
    }
}
