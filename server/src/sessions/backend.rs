//! The server functions' view of the service ([`Backend`]): create a session, load one.
//!
//! Invariants: a thin adapter, no rules of its own; every store error reaches the page as
//! [`BackendError::Unavailable`] with its message.

use super::Sessions;
use app::ssr::{Backend, BackendError, SessionSnapshot, SharedBackend};
use std::sync::Arc;
use watchparty_core::ids::{SessionId, VideoId};

impl Sessions {
    /// The backend for server functions.
    pub fn backend(self: &Arc<Self>) -> SharedBackend {
        Arc::new(SessionsBackend(self.clone()))
    }
}

/// [`Backend`] for the server functions.
struct SessionsBackend(Arc<Sessions>);

#[async_trait::async_trait]
impl Backend for SessionsBackend {
    async fn create_session(
        &self,
        video: VideoId,
        start: f64,
    ) -> Result<(SessionId, String), BackendError> {
        self.0
            .create_hosted(video, start)
            .await
            .map_err(|e| BackendError::Unavailable(e.to_string()))
    }

    async fn load_session(&self, id: &SessionId) -> Result<Option<SessionSnapshot>, BackendError> {
        self.0
            .snapshot(id)
            .await
            .map_err(|e| BackendError::Unavailable(e.to_string()))
    }
}
