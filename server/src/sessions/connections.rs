//! Live connections and the drain on shutdown.
//!
//! Invariants: every WebSocket holds a [`ConnGuard`] for its whole life, so the count is exact;
//! none is handed out once the shutdown began (the check and the subscription to the shutdown
//! flag happen together). [`Sessions::shutdown`] flips the flag once: `/readyz` answers 503 and
//! every connection sees it and closes with 1001; the drain waits for the count to reach 0 (at
//! most `drain_secs`), then for the hubs to withdraw their presence.

use super::Sessions;
use app::ssr::BackendError;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Counts live connections so shutdown can wait for them.
#[derive(Debug, Default)]
pub(super) struct ConnCount {
    active: AtomicUsize,
    idle: Notify,
}

/// A live connection's registration; dropping it ends the registration.
#[derive(Debug)]
pub struct ConnGuard {
    sessions: Arc<Sessions>,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        if self.sessions.conns.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.sessions.conns.idle.notify_waiters();
        }
    }
}

impl Sessions {
    /// True once [`Sessions::shutdown`] began (`/readyz` answers 503 from then on).
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Store health: `Err` when the store does not answer or the instance is draining
    /// (`/readyz` answers 503).
    pub async fn ready(&self) -> Result<(), BackendError> {
        if self.is_shutting_down() {
            return Err(BackendError::Unavailable("shutting down".into()));
        }
        self.store
            .ping()
            .await
            .map_err(|e| BackendError::Unavailable(e.to_string()))
    }

    /// Registers a live connection (for shutdown), or `None` when shutting down.
    pub fn register_connection(self: &Arc<Self>) -> Option<(ConnGuard, watch::Receiver<bool>)> {
        let rx = self.shutdown.subscribe();
        if *rx.borrow() {
            return None;
        }
        self.conns.active.fetch_add(1, Ordering::AcqRel);
        Some((
            ConnGuard {
                sessions: self.clone(),
            },
            rx,
        ))
    }

    /// Live WebSocket connections on this instance.
    pub fn connections(&self) -> usize {
        self.conns.active.load(Ordering::Acquire)
    }

    /// Drains: `/readyz` turns 503 and new WebSockets are refused at once, every WebSocket is
    /// closed with 1001 (going away), and this waits for them at most `drain_secs`, then for
    /// the hubs to withdraw their presence and subscriptions.
    pub async fn shutdown(&self) {
        let _ = self.shutdown.send(true);
        let wait = async {
            loop {
                let idle = self.conns.idle.notified();
                if self.conns.active.load(Ordering::Acquire) == 0 {
                    break;
                }
                idle.await;
            }
        };
        let drain = Duration::from_secs(self.settings.drain_secs);
        if tokio::time::timeout(drain, wait).await.is_err() {
            tracing::warn!(
                left = self.connections(),
                "connections still open after shutdown wait"
            );
        }
        self.hubs.wait_idle(Duration::from_secs(2)).await;
    }
}
