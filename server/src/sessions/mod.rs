//! The session service: the store, the server clock, the local hubs and the rules for applying
//! commands. Transport-free: the WebSocket handler ([`crate::ws`]) and the server functions
//! ([`app::ssr::Backend`]) both sit on top of it, and its logic is unit-tested without sockets.
//!
//! One file per job, each an `impl Sessions` block with its own invariants:
//! - [`commands`]: applying a viewer's or the server's command (compare-and-set, first command
//!   per revision wins);
//! - [`chat`]: chat lines, reactions and deletions (appended to the store's logs);
//! - [`advance`]: the automatic advance to the next queued video;
//! - [`connections`]: counting live connections, readiness and the drain on shutdown;
//! - [`hold`]: "wait for everyone": a start that holds, its release, a stall that holds;
//! - [`ready_skip`]: vote to skip's inputs (the room's viewer count and the share setting);
//! - [`permanent`]: permanent rooms (keep, release, end, short names, the empty-room pause);
//! - [`backend`]: the adapter the server functions call ([`app::ssr::Backend`]).
//!
//! This file holds what they share: opening the store, the clock synchronisation with it, the
//! hubs, creating and reading sessions, and the metrics. Invariants: one [`Sessions`] per
//! instance owns its background tasks (the clock refresh and the advance loop) and aborts them
//! when dropped; the advance loop holds only a weak reference, so it never keeps the service
//! alive; the hubs are built once, from the settings ([`HubsConfig`]).

mod advance;
mod backend;
mod chat;
mod commands;
mod connections;
mod hold;
mod permanent;
mod ready_skip;
#[cfg(test)]
mod tests;

pub use commands::{Outcome, Rejection};
pub use connections::ConnGuard;
pub use permanent::{PermanentRefusal, EMPTY_GRACE};

use crate::clock::{best_offset, Clock, Probe};
use crate::hub::{Hubs, HubsConfig, JoinError, Membership};
use crate::settings::Settings;
use crate::store::{ChangeLimit, MemoryStore, RedisStore, SessionStore, StoreError};
use app::ssr::SessionSnapshot;
use connections::ConnCount;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use watchparty_core::ids::{SessionId, VideoId};
use watchparty_core::playback::PlaybackState;
use watchparty_core::protocol::ConnId;

/// Probes per clock synchronisation with the store.
const CLOCK_PROBES: usize = 7;
/// How often the offset to the store's clock is re-estimated.
const CLOCK_REFRESH: Duration = Duration::from_secs(30);

/// Opening the store failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Redis did not answer.
    #[error("cannot open the {kind} store: {source}")]
    Store {
        /// `"redis"`.
        kind: &'static str,
        /// The cause.
        source: StoreError,
    },
}

/// Sessions: store, clock, hubs and connections of this instance.
#[derive(Debug)]
pub struct Sessions {
    settings: Arc<Settings>,
    store: Arc<dyn SessionStore>,
    clock: Arc<Clock>,
    hubs: Hubs,
    instance: String,
    shutdown: watch::Sender<bool>,
    conns: ConnCount,
    tasks: Vec<JoinHandle<()>>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl Drop for Sessions {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A random connection or instance id below 2^53 (exact in JavaScript numbers).
pub fn random_id() -> ConnId {
    rand::random::<u64>() & ((1u64 << 53) - 1)
}

/// Estimates the offset of `store`'s reference clock and applies it to `clock`: at once the
/// first time, slewed (bounded per refresh, see [`Clock::slew_offset_ms`]) afterwards.
async fn sync_clock(
    store: &dyn SessionStore,
    clock: &Clock,
    first: bool,
) -> Result<(), StoreError> {
    let mut probes = Vec::with_capacity(CLOCK_PROBES);
    for _ in 0..CLOCK_PROBES {
        let sent = clock.local_ms();
        let Some(remote) = store.reference_time_ms().await? else {
            return Ok(());
        };
        let received = clock.local_ms();
        probes.push(Probe {
            sent,
            remote,
            received,
        });
    }
    if let Some((offset, rtt)) = best_offset(&probes) {
        tracing::debug!(
            offset_ms = offset,
            rtt_ms = rtt,
            "clock synchronised with store"
        );
        if first {
            clock.set_offset_ms(offset);
        } else {
            let left = clock.slew_offset_ms(offset);
            if left.abs() > 1.0 {
                tracing::warn!(
                    left_ms = left,
                    "store clock stepped; following it gradually"
                );
            }
        }
    }
    Ok(())
}

impl Sessions {
    /// Opens the configured store (Redis when `redis_url` is set, else memory) and, with
    /// Redis, synchronises the clock with it.
    pub async fn open(settings: Arc<Settings>) -> Result<Arc<Self>, OpenError> {
        let ttl = Duration::from_secs(settings.session_ttl_secs.max(1));
        let unjoined = Duration::from_secs(settings.unjoined_session_ttl_secs.max(1));
        let limit = ChangeLimit {
            per_sec: settings.session_changes_per_sec,
            burst: settings.session_change_burst,
        };
        let store: Arc<dyn SessionStore> = match settings.redis_url.as_deref() {
            Some(url) => Arc::new(
                RedisStore::connect(url, ttl)
                    .await
                    .map_err(|source| OpenError::Store {
                        kind: "redis",
                        source,
                    })?
                    .with_change_limit(limit)
                    .with_unjoined_ttl(unjoined),
            ),
            None => Arc::new(
                MemoryStore::new(ttl)
                    .with_change_limit(limit)
                    .with_create_limits(unjoined, settings.max_sessions),
            ),
        };
        Self::with_store(settings, store).await
    }

    /// Builds the service over an existing store (tests use this to share one store).
    pub async fn with_store(
        settings: Arc<Settings>,
        store: Arc<dyn SessionStore>,
    ) -> Result<Arc<Self>, OpenError> {
        let clock = Arc::new(Clock::new());
        let mut tasks = Vec::new();
        if store.reference_time_ms().await.ok().flatten().is_some() {
            sync_clock(store.as_ref(), &clock, true)
                .await
                .map_err(|source| OpenError::Store {
                    kind: store.kind(),
                    source,
                })?;
            let (s, c) = (store.clone(), clock.clone());
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(CLOCK_REFRESH);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    if let Err(e) = sync_clock(s.as_ref(), &c, false).await {
                        tracing::warn!(error = %e, "clock synchronisation failed");
                    }
                }
            }));
        }
        let instance = format!("{:x}", random_id());
        let metrics = Arc::new(crate::metrics::Metrics::new(store.metrics()));
        let hubs = Hubs::new(
            store.clone(),
            instance.clone(),
            &HubsConfig::from(settings.as_ref()),
            metrics.clone(),
        );
        let (shutdown, _) = watch::channel(false);
        Ok(Arc::new_cyclic(|weak: &std::sync::Weak<Self>| {
            let w = weak.clone();
            hubs.on_empty(move |id| Sessions::room_emptied(w.clone(), id));
            let period = Duration::from_millis(settings.advance_check_ms.max(10));
            for check in [Check::Advance, Check::Holds] {
                tasks.push(tokio::spawn(check_loop(weak.clone(), period, check)));
            }
            Self {
                settings,
                store,
                clock,
                hubs,
                instance,
                shutdown,
                conns: ConnCount::default(),
                tasks,
                metrics,
            }
        }))
    }

    /// `"memory"` or `"redis"`.
    pub fn store_kind(&self) -> &'static str {
        self.store.kind()
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The server clock (ms since the epoch, shared timebase across instances).
    pub fn now_ms(&self) -> f64 {
        self.clock.now_ms()
    }

    /// The local monotonic clock (ms, arbitrary origin, never adjusted): for rate limiters.
    pub fn monotonic_ms(&self) -> f64 {
        self.clock.monotonic_ms()
    }

    /// This instance's id in presence records.
    pub fn instance_id(&self) -> &str {
        &self.instance
    }

    /// The local hubs.
    pub fn hubs(&self) -> &Hubs {
        &self.hubs
    }

    /// Creates a session for `video`, paused at `start` seconds, with a fresh random id (its
    /// host secret is dropped: tests and tools that need no host).
    pub async fn create(&self, video: VideoId, start: f64) -> Result<SessionId, StoreError> {
        Ok(self.create_hosted(video, start).await?.0)
    }

    /// Creates a session and returns its id and host secret: the key whose public id
    /// ([`crate::identity::kid_of`]) is stored as the session's host.
    pub async fn create_hosted(
        &self,
        video: VideoId,
        start: f64,
    ) -> Result<(SessionId, String), StoreError> {
        let secret = crate::identity::random_key();
        let mut state = PlaybackState::new(video, start, self.clock.now_ms());
        state.rights = watchparty_core::rights::Rights::owned_by(crate::identity::kid_of(&secret));
        for _ in 0..4 {
            let id = SessionId::random();
            if self.store.create(&id, &state).await? {
                crate::telemetry::sampled_info("session created");
                tracing::debug!(session = %id, video = %state.video_id, "session created");
                return Ok((id, secret));
            }
        }
        Err(StoreError::Unavailable(
            "could not allocate a session id".into(),
        ))
    }

    /// The session's state, the server time and the viewer count; `None` when unknown.
    pub async fn snapshot(&self, id: &SessionId) -> Result<Option<SessionSnapshot>, StoreError> {
        let Some(state) = self.store.load(id).await? else {
            return Ok(None);
        };
        let viewers = match self.hubs.get(id) {
            Some(hub) => hub.viewers(),
            None => self.store.viewers(id).await?,
        };
        Ok(Some(SessionSnapshot {
            state,
            server_time: self.clock.now_ms(),
            viewers,
        }))
    }

    /// Does the session exist? One store read (no hub, no subscription).
    pub async fn exists(&self, id: &SessionId) -> Result<bool, StoreError> {
        Ok(self.store.load(id).await?.is_some())
    }

    /// Joins a session as a local viewer (the membership ends when dropped).
    pub async fn join(&self, id: &SessionId) -> Result<Membership, JoinError> {
        self.hubs.join(id).await
    }

    /// This instance's metrics.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    /// A shared handle on this instance's metrics (for middleware).
    pub fn metrics_handle(&self) -> Arc<crate::metrics::Metrics> {
        self.metrics.clone()
    }

    /// The Prometheus text exposition, with the instance gauges read now.
    pub fn metrics_text(&self) -> String {
        let m = &self.metrics;
        m.connections
            .set(i64::try_from(self.connections()).unwrap_or(i64::MAX));
        m.hubs
            .set(i64::try_from(self.hubs.len()).unwrap_or(i64::MAX));
        m.clock_offset.set(self.clock.offset_ms() / 1000.0);
        m.encode()
    }
}

/// A periodic check of this instance's sessions, each run by a task of its own.
#[derive(Clone, Copy, Debug)]
enum Check {
    /// [`Sessions::advance_ended`]: the automatic advance.
    Advance,
    /// [`Sessions::check_holds`]: holds due for release, and stalls that hold the room.
    Holds,
}

/// Runs `check` every `period` while the service exists.
async fn check_loop(sessions: std::sync::Weak<Sessions>, period: Duration, check: Check) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(s) = sessions.upgrade() else {
            return;
        };
        match check {
            Check::Advance => s.advance_ended().await,
            Check::Holds => s.check_holds().await,
        }
    }
}
