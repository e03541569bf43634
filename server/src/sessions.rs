//! Session service (placeholder until the sync core lands).

use crate::settings::Settings;
use app::ids::{SessionId, VideoId};
use app::ssr::{Backend, BackendError, SessionSnapshot, SharedBackend};
use std::sync::Arc;

/// Sessions: store and fan-out.
pub struct Sessions {
    _settings: Arc<Settings>,
}

impl Sessions {
    /// Opens the configured store.
    pub async fn open(settings: Arc<Settings>) -> Result<Arc<Self>, BackendError> {
        Ok(Arc::new(Self {
            _settings: settings,
        }))
    }
    /// Store health.
    pub async fn ready(&self) -> Result<(), BackendError> {
        Ok(())
    }
    /// "memory" or "redis".
    pub fn store_kind(&self) -> &'static str {
        "memory"
    }
    /// The backend for server functions.
    pub fn backend(self: &Arc<Self>) -> SharedBackend {
        Arc::new(Stub)
    }
    /// Closes all connections.
    pub async fn shutdown(&self) {}
}

struct Stub;

#[async_trait::async_trait]
impl Backend for Stub {
    async fn create_session(&self, _v: VideoId, _s: f64) -> Result<SessionId, BackendError> {
        Err(BackendError::Unavailable("not yet".into()))
    }
    async fn load_session(&self, _id: &SessionId) -> Result<Option<SessionSnapshot>, BackendError> {
        Ok(None)
    }
}
