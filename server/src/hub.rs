//! Per-instance fan-out: one [`Hub`] per session with local viewers.
//!
//! A hub exists while this instance has at least one viewer of the session. It holds the
//! store subscription (one per session per instance), a cache of the newest known state, and
//! a Tokio `broadcast` channel through which every event reaches every local viewer as the
//! same shared bytes ([`Frame`]): an event is serialised once (by the instance that caused
//! it) and never re-serialised per viewer. Events with a revision at or below the last one
//! forwarded are dropped, so viewers see each revision once, in order.
//!
//! The hub also reports its local viewer count to the store, coalesced to at most one report
//! per [`PRESENCE_MIN_INTERVAL`] (a join storm of 10,000 viewers produces a handful of
//! `Presence` messages, not 10,000), and refreshes it every [`PRESENCE_REFRESH`].

use crate::store::{state_event, Delivery, SessionStore, StoreError, Subscription};
use app::ids::SessionId;
use app::playback::PlaybackState;
use app::protocol::ServerMsg;
use axum::extract::ws::Utf8Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{broadcast, watch, Notify};
use tokio::time::Instant;

/// Minimum time between two presence reports of one hub.
pub const PRESENCE_MIN_INTERVAL: Duration = Duration::from_millis(500);
/// Presence is re-reported this often even without changes (keeps the entry fresh).
pub const PRESENCE_REFRESH: Duration = Duration::from_secs(10);
/// How often each hub compares its viewers' revision with the store (see [`reconcile`]).
pub const RECONCILE_INTERVAL: Duration = Duration::from_secs(1);

/// One broadcast, shared by all local viewers.
#[derive(Clone, Debug)]
pub struct Frame {
    /// The state revision it carries; 0 for messages without one (presence).
    pub revision: u64,
    /// The viewer count of a `presence` frame.
    pub viewers: Option<u32>,
    /// The JSON text (reference-counted; cloning does not copy).
    pub text: Utf8Bytes,
}

/// Why joining failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum JoinError {
    /// The session does not exist.
    #[error("no such session")]
    UnknownSession,
    /// The session has the maximum number of viewers on this instance.
    #[error("session is full")]
    Full,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone, Debug)]
enum Init {
    Pending,
    Ready,
    Failed(JoinError),
}

/// The local fan-out point of one session.
#[derive(Debug)]
pub struct Hub {
    id: SessionId,
    tx: broadcast::Sender<Frame>,
    latest: Mutex<Option<PlaybackState>>,
    /// The newest revision handed to the local viewers. Guarded by a mutex held while sending,
    /// so frames from both paths (the subscription and this instance's own changes) reach the
    /// viewers in increasing revision order, each once.
    forwarded: Mutex<u64>,
    /// Viewers over all instances, from the last presence event.
    viewers: AtomicU32,
    /// Local viewers; changed only under the registry lock.
    local: AtomicU32,
    /// Local viewers at the last presence report.
    reported_local: AtomicU32,
    /// Sequence number for the final (count 0) report, set when the hub is retired.
    final_seq: AtomicU64,
    dirty: Notify,
    stop: Notify,
    init: watch::Sender<Init>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Hub {
    /// The session.
    pub fn id(&self) -> &SessionId {
        &self.id
    }

    /// The newest state this instance knows (from events or its own writes).
    pub fn latest(&self) -> Option<PlaybackState> {
        lock(&self.latest).clone()
    }

    /// Records a state learned outside the event stream (a write or a conflict) if newer.
    pub fn observe(&self, state: &PlaybackState) {
        let mut latest = lock(&self.latest);
        if latest.as_ref().is_none_or(|l| l.revision < state.revision) {
            *latest = Some(state.clone());
        }
    }

    /// Best estimate of the viewers over all instances right now: the last total plus the
    /// local joins and leaves not yet reported.
    pub fn viewers(&self) -> u32 {
        let total = i64::from(self.viewers.load(Ordering::Relaxed));
        let local = i64::from(self.local.load(Ordering::Relaxed));
        let reported = i64::from(self.reported_local.load(Ordering::Relaxed));
        u32::try_from((total + local - reported).max(local)).unwrap_or(u32::MAX)
    }

    /// Local viewers of this session on this instance.
    pub fn local_viewers(&self) -> u32 {
        self.local.load(Ordering::Relaxed)
    }

    /// Hands a state event (`text`, the serialised `State` message for `state`) to the local
    /// viewers unless a revision at least as new was already handed over.
    pub fn forward_state(&self, state: &PlaybackState, text: String) {
        self.forward_if(state, text, |forwarded| state.revision > forwarded);
    }

    /// Like [`Hub::forward_state`], but only when `state` is the very next revision: used by
    /// the instance that made the change, so it never overtakes an older event still on its
    /// way through the subscription (that one, and this, then arrive in order from there).
    pub fn forward_next(&self, state: &PlaybackState, text: String) {
        self.forward_if(state, text, |forwarded| state.revision == forwarded + 1);
    }

    fn forward_if(&self, state: &PlaybackState, text: String, ok: impl FnOnce(u64) -> bool) {
        let mut forwarded = lock(&self.forwarded);
        if !ok(*forwarded) {
            return;
        }
        *forwarded = state.revision;
        self.observe(state);
        let _ = self.tx.send(Frame {
            revision: state.revision,
            viewers: None,
            text: Utf8Bytes::from(text),
        });
    }

    /// Marks `revision` (the state the hub started from) as handed over.
    fn forward_floor(&self, revision: u64) {
        let mut forwarded = lock(&self.forwarded);
        *forwarded = (*forwarded).max(revision);
    }

    /// The newest revision handed to the local viewers.
    fn forwarded(&self) -> u64 {
        *lock(&self.forwarded)
    }

    /// A new receiver of this hub's frames.
    pub fn frames(&self) -> broadcast::Receiver<Frame> {
        self.tx.subscribe()
    }
}

#[derive(Debug)]
struct Registry {
    map: Mutex<HashMap<SessionId, Arc<Hub>>>,
    store: Arc<dyn SessionStore>,
    instance: String,
    seq: AtomicU64,
    queue: usize,
    max_viewers: u32,
    running: AtomicUsize,
    idle: Notify,
}

/// All hubs of this instance.
#[derive(Debug, Clone)]
pub struct Hubs {
    inner: Arc<Registry>,
}

/// A viewer's membership in a hub; leaving happens on drop.
#[derive(Debug)]
pub struct Membership {
    hub: Arc<Hub>,
    registry: Arc<Registry>,
}

impl Membership {
    /// The hub joined.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.registry.leave(&self.hub);
    }
}

impl Registry {
    fn leave(&self, hub: &Arc<Hub>) {
        let mut map = lock(&self.map);
        let left = hub.local.load(Ordering::Relaxed).saturating_sub(1);
        hub.local.store(left, Ordering::Relaxed);
        if left == 0 {
            if map.get(&hub.id).is_some_and(|h| Arc::ptr_eq(h, hub)) {
                map.remove(&hub.id);
            }
            hub.final_seq
                .store(self.seq.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
            hub.stop.notify_one();
        } else {
            hub.dirty.notify_one();
        }
    }

    fn remove_if_same(&self, hub: &Arc<Hub>) {
        let mut map = lock(&self.map);
        if map.get(&hub.id).is_some_and(|h| Arc::ptr_eq(h, hub)) {
            map.remove(&hub.id);
        }
    }

    /// The local count and a fresh sequence number, read together under the lock.
    fn count_and_seq(&self, hub: &Hub) -> (u32, u64) {
        let _map = lock(&self.map);
        let count = hub.local.load(Ordering::Relaxed);
        hub.reported_local.store(count, Ordering::Relaxed);
        (count, self.seq.fetch_add(1, Ordering::Relaxed))
    }
}

impl Hubs {
    /// Hubs over `store`, reporting presence as `instance`; `queue` frames may wait per viewer.
    pub fn new(
        store: Arc<dyn SessionStore>,
        instance: String,
        queue: usize,
        max_viewers: usize,
    ) -> Self {
        Self {
            inner: Arc::new(Registry {
                map: Mutex::new(HashMap::new()),
                store,
                instance,
                seq: AtomicU64::new(1),
                queue: queue.max(1),
                max_viewers: u32::try_from(max_viewers).unwrap_or(u32::MAX),
                running: AtomicUsize::new(0),
                idle: Notify::new(),
            }),
        }
    }

    /// The hub of `id` if this instance has viewers of it.
    pub fn get(&self, id: &SessionId) -> Option<Arc<Hub>> {
        lock(&self.inner.map).get(id).cloned()
    }

    /// The hubs of every session with local viewers (a snapshot).
    pub fn all(&self) -> Vec<Arc<Hub>> {
        lock(&self.inner.map).values().cloned().collect()
    }

    /// Sessions with local viewers.
    pub fn len(&self) -> usize {
        lock(&self.inner.map).len()
    }

    /// True when no session has local viewers.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Joins the session: creates (and subscribes) its hub if needed and waits until the hub
    /// knows the state. Fails for unknown sessions and store errors.
    pub async fn join(&self, id: &SessionId) -> Result<Membership, JoinError> {
        let (hub, created) = {
            let mut map = lock(&self.inner.map);
            let (hub, created) = match map.get(id) {
                Some(h) => (h.clone(), false),
                None => {
                    let (tx, _) = broadcast::channel(self.inner.queue);
                    let (init, _) = watch::channel(Init::Pending);
                    let hub = Arc::new(Hub {
                        id: id.clone(),
                        tx,
                        latest: Mutex::new(None),
                        forwarded: Mutex::new(0),
                        viewers: AtomicU32::new(0),
                        local: AtomicU32::new(0),
                        reported_local: AtomicU32::new(0),
                        final_seq: AtomicU64::new(0),
                        dirty: Notify::new(),
                        stop: Notify::new(),
                        init,
                    });
                    map.insert(id.clone(), hub.clone());
                    (hub, true)
                }
            };
            let local = hub.local.load(Ordering::Relaxed);
            if !created && local >= self.inner.max_viewers {
                return Err(JoinError::Full);
            }
            hub.local.store(local + 1, Ordering::Relaxed);
            (hub, created)
        };
        let membership = Membership {
            hub: hub.clone(),
            registry: self.inner.clone(),
        };
        let mut init = hub.init.subscribe();
        if created {
            self.inner.running.fetch_add(1, Ordering::Relaxed);
            let registry = self.inner.clone();
            tokio::spawn(run(hub.clone(), registry));
        }
        loop {
            let current = init.borrow_and_update().clone();
            match current {
                Init::Ready => break,
                Init::Failed(e) => return Err(e),
                Init::Pending => {
                    if init.changed().await.is_err() {
                        return Err(JoinError::Store(StoreError::Unavailable(
                            "session hub stopped".into(),
                        )));
                    }
                }
            }
        }
        hub.dirty.notify_one();
        Ok(membership)
    }

    /// Waits (up to `limit`) until every hub task has finished its cleanup.
    pub async fn wait_idle(&self, limit: Duration) {
        let wait = async {
            loop {
                let idle = self.inner.idle.notified();
                if self.inner.running.load(Ordering::Acquire) == 0 {
                    break;
                }
                idle.await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
    }
}

/// The hub's task: subscribe, load, then forward events and report presence until retired.
async fn run(hub: Arc<Hub>, registry: Arc<Registry>) {
    let store = registry.store.clone();
    let started = async {
        let sub = store.subscribe(&hub.id).await?;
        match store.load(&hub.id).await {
            Ok(Some(state)) => Ok((sub, state)),
            Ok(None) => {
                store.unsubscribe(&hub.id, sub.token).await;
                Err(JoinError::UnknownSession)
            }
            Err(e) => {
                store.unsubscribe(&hub.id, sub.token).await;
                Err(JoinError::Store(e))
            }
        }
    };
    match started.await {
        Ok((sub, state)) => {
            hub.observe(&state);
            // `send_replace` stores the outcome even if no joiner is waiting at this moment.
            hub.init.send_replace(Init::Ready);
            if let Err(e) = store.touch(&hub.id).await {
                tracing::warn!(session = %hub.id, error = %e, "cannot slide session TTL");
            }
            hub.forward_floor(state.revision);
            pump(&hub, &registry, sub).await;
        }
        Err(e) => {
            registry.remove_if_same(&hub);
            hub.init.send_replace(Init::Failed(e));
        }
    }
    if registry.running.fetch_sub(1, Ordering::AcqRel) == 1 {
        registry.idle.notify_waiters();
    }
}

async fn pump(hub: &Arc<Hub>, registry: &Registry, mut sub: Subscription) {
    let store = registry.store.clone();
    let mut next_report: Option<Instant> = None;
    let mut last_report = Instant::now() - PRESENCE_MIN_INTERVAL;
    let mut refresh = tokio::time::interval(PRESENCE_REFRESH);
    refresh.tick().await;
    let mut reconcile_every = tokio::time::interval(RECONCILE_INTERVAL);
    reconcile_every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    reconcile_every.tick().await;
    // A revision the store had at the last check that the viewers had not received yet.
    let mut behind = 0u64;
    loop {
        let report_at = next_report;
        tokio::select! {
            biased;
            _ = hub.stop.notified() => break,
            delivery = sub.rx.recv() => match delivery {
                Some(Delivery::Message(text)) => forward(hub, text),
                Some(Delivery::Resync) => {
                    // After a resubscription events were surely missed: catch up at once.
                    reconcile(hub, &store, None).await;
                    next_report.get_or_insert_with(Instant::now);
                }
                None => {
                    tracing::warn!(session = %hub.id, "subscription ended");
                    break;
                }
            },
            _ = hub.dirty.notified(), if report_at.is_none() => {
                next_report = Some((last_report + PRESENCE_MIN_INTERVAL).max(Instant::now()));
            }
            _ = sleep_until_opt(report_at) => {
                next_report = None;
                last_report = Instant::now();
                report(hub, registry).await;
            }
            _ = refresh.tick() => {
                next_report.get_or_insert_with(Instant::now);
            }
            _ = reconcile_every.tick() => {
                behind = reconcile(hub, &store, Some(behind)).await;
            }
        }
    }
    // Retired: withdraw this instance's viewers and stop listening.
    let seq = hub.final_seq.load(Ordering::Relaxed);
    if let Err(e) = store
        .report_presence(&hub.id, &registry.instance, 0, seq)
        .await
    {
        tracing::warn!(session = %hub.id, error = %e, "final presence report failed");
    }
    store.unsubscribe(&hub.id, sub.token).await;
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn report(hub: &Hub, registry: &Registry) {
    let (count, seq) = registry.count_and_seq(hub);
    if let Err(e) = registry
        .store
        .report_presence(&hub.id, &registry.instance, count, seq)
        .await
    {
        tracing::warn!(session = %hub.id, error = %e, "presence report failed");
    }
}

/// Forwards one published event to the local viewers, dropping old revisions and unchanged
/// presence counts.
fn forward(hub: &Hub, text: String) {
    match serde_json::from_str::<ServerMsg>(&text) {
        Ok(ServerMsg::State { state, .. }) => hub.forward_state(&state, text),
        Ok(ServerMsg::Presence { viewers }) => {
            if hub.viewers.swap(viewers, Ordering::Relaxed) != viewers {
                let _ = hub.tx.send(Frame {
                    revision: 0,
                    viewers: Some(viewers),
                    text: Utf8Bytes::from(text),
                });
            }
        }
        Ok(_) => tracing::warn!(session = %hub.id, "unexpected event type"),
        Err(e) => tracing::warn!(session = %hub.id, error = %e, "unreadable event"),
    }
}

/// Anti-entropy: reads the stored state and hands it over when it is newer than what the
/// viewers have. Redis pub/sub delivers at most once (nothing is replayed after a reconnect,
/// and a subscription can miss a message), so every hub checks the store once per
/// [`RECONCILE_INTERVAL`] and after every resubscription; a lost event then costs its viewers
/// at most two intervals instead of a wrong state until the next change.
///
/// On the periodic check (`seen` = the revision found ahead last time) a newer stored state is
/// only forwarded when it was already ahead at the previous check: an event merely in flight
/// (or a change whose own instance is about to forward it with its cause) is left to the
/// normal path, so the sender still recognises its echo. Returns the revision to remember.
async fn reconcile(hub: &Hub, store: &Arc<dyn SessionStore>, seen: Option<u64>) -> u64 {
    match store.load(&hub.id).await {
        Ok(Some(state)) if state.revision > hub.forwarded() => {
            // Overdue: what was already ahead at the previous check is still not delivered.
            let overdue = seen.is_none_or(|seen| seen != 0 && seen > hub.forwarded());
            if overdue {
                tracing::info!(session = %hub.id, revision = state.revision, "caught up a missed event");
                let text = state_event(&state, None);
                hub.forward_state(&state, text);
                0
            } else {
                state.revision
            }
        }
        Ok(_) => 0,
        Err(e) => {
            tracing::warn!(session = %hub.id, error = %e, "reconcile failed");
            0
        }
    }
}
