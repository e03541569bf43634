//! The session service: the store, the server clock, the local hubs and the rules for applying
//! commands. Transport-free: the WebSocket handler ([`crate::ws`]) and the server functions
//! ([`Backend`]) both sit on top of it, and its logic is unit-tested without sockets.
//!
//! Applying a command: take the newest known state (the hub's cache), run
//! [`watchparty_core::playback::apply`], then compare-and-set in the store. On a conflict the store returns
//! the current state; if the command's `base_revision` still equals the current revision it is
//! retried (bounded), otherwise it is rejected as stale. The first command per revision wins.

use crate::clock::{best_offset, Clock, Probe};
use crate::hub::{Hub, Hubs, JoinError, Membership};
use crate::settings::Settings;
use crate::store::{
    state_event, AppendOutcome, CasOutcome, ChangeLimit, Log, LogLimits, MemoryStore, RedisStore,
    SessionStore, StoreError,
};
use app::ssr::{Backend, BackendError, SessionSnapshot, SharedBackend};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use watchparty_core::chat::{ChatError, ChatLine, Reaction};
use watchparty_core::ids::{SessionId, VideoId};
use watchparty_core::playback::{CommandError, PlaybackState};
use watchparty_core::protocol::ServerMsg;
use watchparty_core::protocol::{Cause, ConnId};
use watchparty_core::queue::QueueError;
use watchparty_core::rights::Kid;
use watchparty_core::room::{self, Actor, RoomCommand, RoomError, RoomLimits};

/// A chat line's or reaction's id: the server time in ms × 1000 plus a random 0..999 (unique within a
/// session in practice, below 2^53 so JavaScript reads it exactly).
fn log_id(now_ms: f64) -> u64 {
    (now_ms.max(0.0) as u64)
        .saturating_mul(1000)
        .saturating_add(rand::random::<u64>() % 1000)
        .min((1 << 53) - 1)
}

/// Attempts of one command against concurrent writers before giving up.
const MAX_CAS_ATTEMPTS: usize = 8;
/// Probes per clock synchronisation with the store.
const CLOCK_PROBES: usize = 7;
/// How often the offset to the store's clock is re-estimated.
const CLOCK_REFRESH: Duration = Duration::from_secs(30);

/// A command was not applied; nothing changed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Rejection {
    /// A value was not finite or out of range.
    #[error("{0}")]
    Invalid(String),
    /// Based on an older revision; carries the current state.
    #[error("stale command: based on revision {base}, session is at {}", current.revision)]
    Stale {
        /// The sender's base revision.
        base: u64,
        /// The current state.
        current: Box<PlaybackState>,
    },
    /// The session no longer exists.
    #[error("the session does not exist")]
    UnknownSession,
    /// The store failed.
    #[error("{0}")]
    Unavailable(String),
    /// The session's change budget (`session_changes_per_sec`) is spent.
    #[error("too many changes in this session; slow down")]
    RateLimited,
    /// A queue rule refused it (unknown item, queue full, bad start).
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The sender lacks the right (see [`watchparty_core::rights`]).
    #[error("{0}")]
    Forbidden(&'static str),
    /// A chat line or reaction that is not acceptable.
    #[error(transparent)]
    Text(#[from] ChatError),
    /// A deletion named a chat message that is not (or no longer) kept.
    #[error("no such message")]
    NoSuchMessage,
}

/// What an accepted command did.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// A new revision was stored and published (it reaches every viewer as `State`).
    Applied(PlaybackState),
    /// The command changed nothing (a duplicate); nothing was published.
    Unchanged(PlaybackState),
}

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

/// Counts live connections so shutdown can wait for them.
#[derive(Debug, Default)]
struct ConnCount {
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
        let hubs = Hubs::new(
            store.clone(),
            instance.clone(),
            settings.send_queue,
            settings.max_viewers_per_session,
        );
        hubs.set_reconcile_interval(Duration::from_secs_f64(settings.reconcile_secs.max(0.1)));
        hubs.set_roster_len(settings.roster_len.min(500));
        hubs.set_io_uring(settings.fanout_io_uring);
        hubs.set_log_keep(settings.chat_kept, settings.reactions_kept);
        let metrics = Arc::new(crate::metrics::Metrics::new(store.metrics()));
        hubs.set_metrics(metrics.clone());
        let (shutdown, _) = watch::channel(false);
        Ok(Arc::new_cyclic(|weak: &std::sync::Weak<Self>| {
            tasks.push(tokio::spawn(advance_loop(
                weak.clone(),
                Duration::from_millis(settings.advance_check_ms.max(10)),
            )));
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

    /// The backend for server functions.
    pub fn backend(self: &Arc<Self>) -> SharedBackend {
        Arc::new(SessionsBackend(self.clone()))
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

    /// Applies `cmd` from connection `cause.conn_id`, based on `base_revision`: playback
    /// commands by "first per playback revision wins", queue edits re-applied to the newest
    /// state until they land (see [`watchparty_core::room`]).
    pub async fn apply(
        &self,
        hub: &Hub,
        cause: Cause,
        base_revision: u64,
        cmd: impl Into<RoomCommand>,
    ) -> Result<Outcome, Rejection> {
        self.apply_as(hub, cause, None, None, base_revision, cmd)
            .await
    }

    /// [`Sessions::apply`] for a viewer called `name` with public id `kid` (its rights are
    /// checked inside the total order; `None`: the server itself): the new revision records
    /// who made it (`changed_by`, for notices).
    pub async fn apply_as(
        &self,
        hub: &Hub,
        cause: Cause,
        name: Option<&str>,
        kid: Option<&Kid>,
        base_revision: u64,
        cmd: impl Into<RoomCommand>,
    ) -> Result<Outcome, Rejection> {
        let cmd: RoomCommand = cmd.into();
        let limits = RoomLimits {
            max_queue: self.settings.max_queue_len,
            removal_secs: self.settings.removal_secs,
        };
        let actor = match kid {
            Some(k) => Actor::Viewer(k),
            None => Actor::Server,
        };
        let unavailable = |e: StoreError| Rejection::Unavailable(e.to_string());
        // Until this change is handed over, a catch-up must not overtake it without its cause.
        let _changing = hub.change_guard();
        let mut current = match hub.latest() {
            Some(s) => s,
            None => self
                .store
                .load(hub.id())
                .await
                .map_err(unavailable)?
                .ok_or(Rejection::UnknownSession)?,
        };
        let mut reloaded = false;
        // Overall deadline: no new store round trip starts after it (each one is bounded by
        // the store's own timeout), so one command cannot hold a connection for
        // MAX_CAS_ATTEMPTS × the store timeout.
        let deadline = tokio::time::Instant::now()
            + Duration::from_millis(self.settings.apply_timeout_ms.max(1));
        for attempt in 0..MAX_CAS_ATTEMPTS {
            if attempt > 0 && tokio::time::Instant::now() >= deadline {
                return Err(Rejection::Unavailable(
                    "the command took too long; try again".into(),
                ));
            }
            let now = self.clock.now_ms();
            match room::apply_by(&current, &cmd, base_revision, now, limits, actor) {
                Err(RoomError::Playback(CommandError::InvalidValue(m))) => {
                    return Err(Rejection::Invalid(m.into()))
                }
                Err(RoomError::Forbidden(m)) => return Err(Rejection::Forbidden(m)),
                Err(RoomError::InvalidRights(m)) => return Err(Rejection::Invalid(m.into())),
                Err(RoomError::Queue(e)) => return Err(Rejection::Queue(e)),
                Err(RoomError::Playback(CommandError::Stale { base, .. })) => {
                    // The sender may know a newer revision than our cache (it reached another
                    // path first): check the store once before calling it stale.
                    if base > current.revision && !reloaded {
                        reloaded = true;
                        current = self
                            .store
                            .load(hub.id())
                            .await
                            .map_err(unavailable)?
                            .ok_or(Rejection::UnknownSession)?;
                        hub.observe(&current);
                        continue;
                    }
                    return Err(Rejection::Stale {
                        base,
                        current: Box::new(current),
                    });
                }
                Ok(None) => return Ok(Outcome::Unchanged(current)),
                Ok(Some(mut next)) => {
                    next.changed_by = name.map(str::to_owned);
                    // Serialised once: published by the store and handed to the own viewers.
                    let event = state_event(&next, Some(cause));
                    match self
                        .store
                        .compare_and_set_event(hub.id(), current.revision, &next, &event)
                        .await
                        .map_err(unavailable)?
                    {
                        CasOutcome::Applied => {
                            hub.observe(&next);
                            // This instance's viewers (the sender among them) get the change at
                            // once, without depending on the subscription, when nothing older
                            // is still on its way; the subscription's copy is then dropped as
                            // already forwarded.
                            hub.forward_next(&next, event);
                            return Ok(Outcome::Applied(next));
                        }
                        CasOutcome::Conflict(now_current) => {
                            hub.observe(&now_current);
                            reloaded = true;
                            current = *now_current;
                        }
                        CasOutcome::Missing => {
                            hub.end();
                            return Err(Rejection::UnknownSession);
                        }
                        CasOutcome::RateLimited => return Err(Rejection::RateLimited),
                    }
                }
            }
        }
        if cmd.is_baseless() {
            return Err(Rejection::Unavailable(
                "too many concurrent changes; try again".into(),
            ));
        }
        Err(Rejection::Stale {
            base: base_revision,
            current: Box::new(current),
        })
    }

    /// Posts a chat line from viewer `kid` called `name` (validated; stamped with the room's
    /// video and position now). It reaches every viewer, the sender included, as `chat`.
    pub async fn chat(
        &self,
        hub: &Hub,
        kid: &Kid,
        name: Option<&str>,
        text: &str,
    ) -> Result<(), Rejection> {
        let text = watchparty_core::chat::validate_text(text, self.settings.max_chat_chars)?;
        let state = self.current(hub).await?;
        let now = self.clock.now_ms();
        if state.rights.is_removed(kid, now) {
            return Err(Rejection::Forbidden(
                "you were removed from this watch party",
            ));
        }
        let line = ChatLine {
            id: log_id(now),
            kid: kid.clone(),
            name: name.unwrap_or("Viewer").to_owned(),
            text,
            video_id: state.video_id,
            at: (state.position_at(now) * 1000.0).round() / 1000.0,
        };
        let event = serde_json::to_string(&ServerMsg::Chat(line))
            .map_err(|e| Rejection::Unavailable(e.to_string()))?;
        let limits = LogLimits {
            keep: self.settings.chat_kept,
            rate: ChangeLimit {
                per_sec: self.settings.session_chat_per_sec,
                burst: self.settings.session_chat_burst,
            },
        };
        self.append(hub, Log::Chat, &event, now, limits).await
    }

    /// Sends a reaction from `name` stamped with the sender's video moment `at` (within
    /// [`watchparty_core::chat::REACTION_SLACK`] of the room's position).
    pub async fn react(
        &self,
        hub: &Hub,
        kid: &Kid,
        name: Option<&str>,
        emoji: &str,
        at: f64,
    ) -> Result<(), Rejection> {
        let state = self.current(hub).await?;
        let now = self.clock.now_ms();
        if state.rights.is_removed(kid, now) {
            return Err(Rejection::Forbidden(
                "you were removed from this watch party",
            ));
        }
        watchparty_core::chat::validate_reaction(emoji, at, state.position_at(now))?;
        let reaction = Reaction {
            id: log_id(now),
            name: name.unwrap_or("Viewer").to_owned(),
            emoji: emoji.to_owned(),
            video_id: state.video_id,
            at: (at * 1000.0).round() / 1000.0,
        };
        let event = serde_json::to_string(&ServerMsg::Reaction(reaction))
            .map_err(|e| Rejection::Unavailable(e.to_string()))?;
        let limits = LogLimits {
            keep: self.settings.reactions_kept,
            rate: ChangeLimit {
                per_sec: self.settings.session_reactions_per_sec,
                burst: self.settings.session_reaction_burst,
            },
        };
        self.append(hub, Log::Reactions, &event, now, limits).await
    }

    /// A host deletes chat line `id` (checked against the newest rights this instance knows).
    pub async fn delete_chat(&self, hub: &Hub, kid: &Kid, id: u64) -> Result<(), Rejection> {
        let state = self.current(hub).await?;
        if !state.rights.is_host(kid) {
            return Err(Rejection::Forbidden(watchparty_core::rights::NOT_A_HOST));
        }
        let event = serde_json::to_string(&ServerMsg::ChatDeleted { id })
            .map_err(|e| Rejection::Unavailable(e.to_string()))?;
        let found = self
            .store
            .remove_entry(hub.id(), Log::Chat, &crate::hub::chat_prefix(id), &event)
            .await
            .map_err(|e| Rejection::Unavailable(e.to_string()))?;
        if found {
            Ok(())
        } else {
            Err(Rejection::NoSuchMessage)
        }
    }

    /// The hub's newest state, or the store's.
    async fn current(&self, hub: &Hub) -> Result<PlaybackState, Rejection> {
        match hub.latest() {
            Some(s) => Ok(s),
            None => self
                .store
                .load(hub.id())
                .await
                .map_err(|e| Rejection::Unavailable(e.to_string()))?
                .ok_or(Rejection::UnknownSession),
        }
    }

    async fn append(
        &self,
        hub: &Hub,
        log: Log,
        event: &str,
        now: f64,
        limits: LogLimits,
    ) -> Result<(), Rejection> {
        match self
            .store
            .append(hub.id(), log, event, now, limits)
            .await
            .map_err(|e| Rejection::Unavailable(e.to_string()))?
        {
            AppendOutcome::Appended => Ok(()),
            AppendOutcome::Missing => {
                hub.end();
                Err(Rejection::UnknownSession)
            }
            AppendOutcome::RateLimited => Err(Rejection::RateLimited),
        }
    }

    /// One pass of the automatic advance: every local session whose video ended (its clock at
    /// the duration, and a local player reported ENDED) with a queue behind it is advanced (every instance tries; the compare-and-set and the rule in
    /// [`watchparty_core::room`] make it happen once).
    pub async fn advance_ended(&self) {
        let now = self.clock.now_ms();
        for hub in self.hubs.all() {
            let Some(st) = hub.latest() else {
                continue;
            };
            // The end needs a player's word (ENDED) besides the clock: see Hub::witness_end.
            if st.queue.items.is_empty() || !st.ended_at(now) || !hub.end_witnessed(&st) {
                continue;
            }
            let from = st.playback_base();
            let cause = Cause { conn_id: 0, seq: 0 };
            match self
                .apply(&hub, cause, 0, RoomCommand::Advance { from })
                .await
            {
                Ok(Outcome::Applied(next)) => {
                    tracing::info!(session = %hub.id(), video = %next.video_id, revision = next.revision, "advanced to the next queued video");
                }
                Ok(Outcome::Unchanged(_)) => {}
                Err(e) => tracing::debug!(session = %hub.id(), error = %e, "advance failed"),
            }
        }
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

/// Runs [`Sessions::advance_ended`] every `period` while the service exists.
async fn advance_loop(sessions: std::sync::Weak<Sessions>, period: Duration) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(s) = sessions.upgrade() else {
            return;
        };
        s.advance_ended().await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Frame;
    use tokio::sync::broadcast;
    use watchparty_core::playback::Command;
    use watchparty_core::protocol::ServerMsg;

    fn vid() -> VideoId {
        VideoId::parse("dQw4w9WgXcQ").unwrap()
    }

    async fn memory() -> Arc<Sessions> {
        Sessions::open(Arc::new(Settings::default())).await.unwrap()
    }

    async fn next_state(rx: &mut broadcast::Receiver<Frame>) -> (PlaybackState, Option<Cause>) {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(2), rx.recv())
                .await
                .expect("a frame in time")
                .expect("open channel");
            if let ServerMsg::State { state, cause } = serde_json::from_str(frame.text()).unwrap() {
                assert_eq!(frame.revision, state.revision);
                return (state, cause);
            }
        }
    }

    #[tokio::test]
    async fn create_load_and_unknown() {
        let s = memory().await;
        let id = s.create(vid(), 42.0).await.unwrap();
        let snap = s.snapshot(&id).await.unwrap().unwrap();
        assert_eq!(snap.state.position, 42.0);
        assert_eq!(snap.state.revision, 1);
        assert!(!snap.state.playing);
        let unknown = SessionId::parse("000000000000").unwrap();
        assert!(s.snapshot(&unknown).await.unwrap().is_none());
        assert!(matches!(
            s.join(&unknown).await,
            Err(JoinError::UnknownSession)
        ));
        assert!(s.hubs().is_empty(), "a failed join leaves no hub behind");
    }

    #[tokio::test]
    async fn applied_commands_reach_every_local_viewer_once_in_order() {
        let s = memory().await;
        let id = s.create(vid(), 0.0).await.unwrap();
        let a = s.join(&id).await.unwrap();
        let b = s.join(&id).await.unwrap();
        let mut rx_a = a.hub().frames();
        let mut rx_b = b.hub().frames();
        assert!(Arc::ptr_eq(a.hub(), b.hub()), "one hub per session");
        let cause = Cause { conn_id: 1, seq: 1 };
        let played = s
            .apply(a.hub(), cause, 1, Command::Play { position: 0.0 })
            .await
            .unwrap();
        let Outcome::Applied(played) = played else {
            panic!("not applied")
        };
        let paused = s
            .apply(
                a.hub(),
                Cause { conn_id: 1, seq: 2 },
                2,
                Command::Pause { position: 3.0 },
            )
            .await
            .unwrap();
        assert!(matches!(paused, Outcome::Applied(ref p) if p.revision == 3));
        for rx in [&mut rx_a, &mut rx_b] {
            let (s2, c2) = next_state(rx).await;
            assert_eq!((s2.revision, c2), (2, Some(cause)));
            assert_eq!(s2, played);
            let (s3, _) = next_state(rx).await;
            assert_eq!(s3.revision, 3);
            assert!(!s3.playing);
        }
    }

    #[tokio::test]
    async fn stale_invalid_and_duplicate_commands_change_nothing() {
        let s = memory().await;
        let id = s.create(vid(), 5.0).await.unwrap();
        let m = s.join(&id).await.unwrap();
        let c = |seq| Cause { conn_id: 9, seq };
        s.apply(m.hub(), c(1), 1, Command::Seek { position: 10.0 })
            .await
            .unwrap();
        // Based on revision 1, but the session is at 2: first command per revision won.
        let stale = s
            .apply(m.hub(), c(2), 1, Command::Seek { position: 99.0 })
            .await
            .unwrap_err();
        assert!(
            matches!(stale, Rejection::Stale { base: 1, ref current } if current.revision == 2 && current.position == 10.0)
        );
        let invalid = s
            .apply(m.hub(), c(3), 2, Command::Seek { position: f64::NAN })
            .await
            .unwrap_err();
        assert!(matches!(invalid, Rejection::Invalid(_)));
        let dup = s
            .apply(m.hub(), c(4), 2, Command::Pause { position: 10.0 })
            .await
            .unwrap();
        assert!(matches!(dup, Outcome::Unchanged(ref st) if st.revision == 2));
        // A base from the future is stale too, after checking the store.
        let future = s
            .apply(m.hub(), c(5), 77, Command::Play { position: 1.0 })
            .await
            .unwrap_err();
        assert!(matches!(future, Rejection::Stale { base: 77, .. }));
        assert_eq!(s.snapshot(&id).await.unwrap().unwrap().state.revision, 2);
    }

    #[tokio::test]
    async fn concurrent_commands_on_one_revision_have_one_winner() {
        let s = memory().await;
        let id = s.create(vid(), 0.0).await.unwrap();
        let m = s.join(&id).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..16u32 {
            let (s, hub) = (s.clone(), m.hub().clone());
            tasks.push(tokio::spawn(async move {
                s.apply(
                    &hub,
                    Cause {
                        conn_id: u64::from(i),
                        seq: 1,
                    },
                    1,
                    Command::Seek {
                        position: f64::from(i) * 10.0 + 1.0,
                    },
                )
                .await
            }));
        }
        let mut applied = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(Outcome::Applied(_)) => applied += 1,
                Err(Rejection::Stale { .. }) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(applied, 1);
        assert_eq!(s.snapshot(&id).await.unwrap().unwrap().state.revision, 2);
    }

    #[tokio::test]
    async fn stale_cache_is_retried_when_base_is_current() {
        // Two service instances on one store: B's cache is behind after A's write, yet a
        // command based on the store's current revision succeeds through B.
        let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new(Duration::from_secs(60)));
        let settings = Arc::new(Settings::default());
        let a = Sessions::with_store(settings.clone(), store.clone())
            .await
            .unwrap();
        let b = Sessions::with_store(settings, store).await.unwrap();
        let id = a.create(vid(), 0.0).await.unwrap();
        let ma = a.join(&id).await.unwrap();
        let mb = b.join(&id).await.unwrap();
        a.apply(
            ma.hub(),
            Cause { conn_id: 1, seq: 1 },
            1,
            Command::Seek { position: 50.0 },
        )
        .await
        .unwrap();
        let r = b
            .apply(
                mb.hub(),
                Cause { conn_id: 2, seq: 1 },
                2,
                Command::Play { position: 50.0 },
            )
            .await
            .unwrap();
        assert!(matches!(r, Outcome::Applied(ref st) if st.revision == 3 && st.playing));
    }

    #[tokio::test]
    async fn presence_is_coalesced_and_counts_every_viewer() {
        let s = memory().await;
        let id = s.create(vid(), 0.0).await.unwrap();
        let first = s.join(&id).await.unwrap();
        let mut rx = first.hub().frames();
        let mut others = Vec::new();
        for _ in 0..99 {
            others.push(s.join(&id).await.unwrap());
        }
        let mut presence = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while let Ok(Ok(frame)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            if let Ok(ServerMsg::Presence { viewers }) = serde_json::from_str(frame.text()) {
                presence.push(viewers);
                if viewers == 100 {
                    break;
                }
            }
        }
        assert_eq!(presence.last(), Some(&100), "{presence:?}");
        assert!(
            presence.len() <= 4,
            "join storm was not coalesced: {presence:?}"
        );
        drop(others);
        drop(first);
        s.hubs().wait_idle(Duration::from_secs(2)).await;
        assert!(s.hubs().is_empty());
        assert_eq!(s.store.viewers(&id).await.unwrap(), 0);
    }
}
