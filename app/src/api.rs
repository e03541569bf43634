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

/// Creates a session from a YouTube link or video id and redirects to `/s/{id}`.
/// Returns the new session id.
#[server(prefix = "/api", endpoint = "create")]
pub async fn create_session(video: String) -> Result<String, ServerFnError> {
    let _ = video;
    Err(ServerFnError::new("not implemented yet"))
}
