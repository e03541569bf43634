//! Per-instance fan-out: one [`Hub`] per session with local viewers.
//!
//! A hub exists while this instance has at least one viewer of the session. It holds the
//! store subscription (one per session per instance), a cache of the newest known state, and
//! the fan-out ([`fanout`]) through which every event reaches every local viewer as the same
//! shared bytes ([`Frame`]): an event is serialised once (by the instance that caused it),
//! framed once, and written straight into each viewer's socket. Events with a revision at or
//! below the last one forwarded are dropped, so viewers see each revision once, in order.
//!
//! The hub also reports its local viewer count to the store, coalesced to at most one report
//! per [`PRESENCE_MIN_INTERVAL`] (a join storm of 10,000 viewers produces a handful of
//! `Presence` messages, not 10,000), and refreshes it every [`PRESENCE_REFRESH`]. The same
//! report carries this instance's part of the room's list ("who is here", [`watchparty_core::roster`]):
//! its local members' names and health; the published event carries every instance's part,
//! and each hub hands its viewers only the changes of the merged list (`roster` deltas,
//! serialised once per hub), plus the whole list to each joiner.
//!
//! Delivery (see docs/protocol.md, "Delivery guarantees"): the store's subscription is
//! confirmed before the hub reads the state, so nothing published after that read is missed
//! while the subscription lasts. Revisions rise by one per change, so a lost event shows as a
//! gap: an event that skips revisions, a resync after a reconnect, or a change of this instance
//! that cannot be handed over in order makes the hub re-read the store at once
//! ([`catch_up`]). The periodic, jittered re-read ([`DEFAULT_RECONCILE`]) is only a safety net.
//! A session whose state is gone from the store has ended: the hub tells its viewers
//! ([`Hub::ended`]) and is dropped.

use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::store::{
    is_log_event, is_presence_event, presence_event, state_event, Delivery, Log, PresenceEvent,
    SessionStore, StoreError, Subscription,
};
use crate::sync_util::lock;
use crate::wire::Prepared;
use roster::HubRoster;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch, Notify};
use watchparty_core::ids::SessionId;
use watchparty_core::playback::PlaybackState;
use watchparty_core::protocol::ServerMsg;

pub use fanout::{Attached, Fanout, Status, Viewer, SLOW_REASON};
use tokio::time::Instant;

mod empty;
mod fanout;
mod logs;
mod readiness;
mod roster;
#[cfg(target_os = "linux")]
mod uring;

pub use logs::chat_prefix;

/// Minimum time between two presence reports of one hub.
pub const PRESENCE_MIN_INTERVAL: Duration = Duration::from_millis(500);
/// Presence is re-reported this often even without changes (keeps the entry fresh).
pub const PRESENCE_REFRESH: Duration = Duration::from_secs(10);
/// A presence report of this hub must come back through its own subscription within this
/// time; otherwise the subscription is deaf (Redis Cluster: the session's slot moved) and is
/// re-established, then the hub catches up.
pub const ECHO_WAIT: Duration = Duration::from_secs(3);
/// Default mean interval of the safety-net comparison with the store (see [`safety_check`]);
/// [`HubsConfig::reconcile`] (the setting `reconcile_secs`) sets it. Each interval is jittered
/// by ±50 %.
pub const DEFAULT_RECONCILE: Duration = Duration::from_secs(30);
/// A newer stored state found by the safety net is handed over only if it is still not
/// delivered after this long (an event merely in flight keeps its cause).
const SETTLE: Duration = Duration::from_millis(250);
/// The longest a found state waits for this instance's changes in flight (a change holds its
/// guard for at most `apply_timeout_ms` plus one store timeout).
const SETTLE_MAX: Duration = Duration::from_secs(5);

/// One broadcast, framed once and shared by all local viewers.
#[derive(Clone, Debug)]
pub struct Frame {
    /// The state revision it carries; 0 for messages without one (presence).
    pub revision: u64,
    /// The viewer count of a `presence` frame.
    pub viewers: Option<u32>,
    /// The WebSocket frame (reference-counted; cloning does not copy).
    pub frame: Prepared,
    /// When the hub handed it over (for the fan-out time).
    pub at: std::time::Instant,
}

impl Frame {
    /// A broadcast of the JSON `text`, framed now.
    pub fn new(revision: u64, viewers: Option<u32>, text: &str) -> Self {
        Self {
            revision,
            viewers,
            frame: Prepared::text(text),
            at: std::time::Instant::now(),
        }
    }

    /// The JSON text.
    pub fn text(&self) -> &str {
        self.frame.text_str()
    }
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
    /// The local viewers, written to directly (see [`fanout`]).
    fanout: Fanout,
    latest: Mutex<Option<PlaybackState>>,
    /// The newest revision handed to the local viewers, and changes waiting for an older one.
    /// Guarded by a mutex held while sending, so frames from both paths (the subscription and
    /// this instance's own changes) reach the viewers in increasing revision order, each once.
    forwarded: Mutex<Forwarded>,
    /// Set when a revision is missing: the hub task re-reads the store at once.
    gap: Notify,
    /// `true` once the session's state is gone from the store: the session has ended.
    ended: watch::Sender<bool>,
    /// Set before `ended` when a host ended the room (the close reason says so).
    ended_by_host: std::sync::atomic::AtomicBool,
    /// Changes of this instance between their compare-and-set and their hand-over.
    changing: AtomicUsize,
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
    /// The instance's metrics (gaps and resyncs).
    metrics: Arc<Metrics>,
    /// Who is here: the local members and the merged list handed to the local viewers.
    roster: Mutex<HubRoster>,
    /// Members listed by name (the setting `roster_len`).
    shown: usize,
    /// Chat lines and reactions kept for joiners.
    logs: Mutex<logs::HubLogs>,
    /// Removed viewers (from the stored rights).
    removed: watch::Sender<Vec<watchparty_core::rights::Removal>>,
    /// The playback revision (its `playback_base`) whose end a local viewer's player reported
    /// (`ended`); 0: none. The automatic advance needs it (see [`Hub::witness_end`]).
    end_witness: AtomicU64,
}

/// A player's ENDED counts as the end's witness when the room's clock is this close to the
/// room's duration (ms): the room's duration is the longest any player reported, so a player
/// may finish a little before it.
pub const END_WITNESS_MS: f64 = 2_000.0;

/// A change of this instance in flight (see [`Hub::change_guard`]).
#[derive(Debug)]
pub struct ChangeGuard<'a>(&'a Hub);

impl Drop for ChangeGuard<'_> {
    fn drop(&mut self) {
        self.0.changing.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What the local viewers have been handed.
#[derive(Debug, Default)]
struct Forwarded {
    /// The newest revision handed over.
    revision: u64,
    /// States newer than `revision + 1`, waiting for the missing ones (by revision).
    pending: BTreeMap<u64, (PlaybackState, String)>,
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

    /// A local viewer's player reported the end of `video` (`ended`) at server time `now` (ms):
    /// recorded for the room's playback revision when the room plays that video and its clock
    /// is within [`END_WITNESS_MS`] of its duration. Returns whether it was recorded.
    ///
    /// The room's video ends (and the queue advances) only once its clock has reached the
    /// duration **and** a player reported ENDED: an ad, which reports its own length as the
    /// duration, never reports ENDED (docs/protocol.md, "The end of a video").
    pub fn witness_end(&self, video: &watchparty_core::ids::VideoId, now: f64) -> bool {
        let Some(st) = self.latest() else {
            return false;
        };
        let near = st.playing
            && st
                .duration
                .is_some_and(|d| st.position_at(now + END_WITNESS_MS) >= d);
        if st.video_id != *video || !near {
            return false;
        }
        self.end_witness
            .store(st.playback_base(), Ordering::Release);
        true
    }

    /// Whether a local player reported the end of `st`'s playback revision.
    pub fn end_witnessed(&self, st: &PlaybackState) -> bool {
        self.end_witness.load(Ordering::Acquire) == st.playback_base()
    }

    /// Records a state learned outside the event stream (a write or a conflict) if newer.
    pub fn observe(&self, state: &PlaybackState) {
        let mut latest = lock(&self.latest);
        if latest.as_ref().is_none_or(|l| l.revision < state.revision) {
            *latest = Some(state.clone());
            drop(latest);
            self.observe_removed(&state.rights.removed);
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

    /// Hands a state event from the subscription or the store (`text`, the serialised `State`
    /// message for `state`) to the local viewers unless a revision at least as new was already
    /// handed over. The subscription delivers in order, so revisions it skips were lost: the
    /// state is handed over anyway (it is a full snapshot) and the store is re-read at once.
    pub fn forward_state(&self, state: &PlaybackState, text: String) {
        let mut fwd = lock(&self.forwarded);
        if state.revision <= fwd.revision {
            return;
        }
        fwd.pending.insert(state.revision, (state.clone(), text));
        self.drain(&mut fwd);
        if fwd.revision < state.revision {
            tracing::info!(session = %self.id, from = fwd.revision, to = state.revision, "revision gap; re-reading the store");
            self.metrics.gaps.inc();
            self.flush_to(&mut fwd, state.revision);
            self.gap.notify_one();
        }
    }

    /// Hands over a change this instance made: at once when it is the next revision, else as
    /// soon as the older one arrives or the hub has re-read the store (which it does at once;
    /// while another change of this instance is in flight, [`SETTLE`] later), so the own
    /// viewers never wait for Redis' echo and nothing is overtaken.
    pub fn forward_next(&self, state: &PlaybackState, text: String) {
        let mut fwd = lock(&self.forwarded);
        if state.revision <= fwd.revision {
            return;
        }
        fwd.pending.insert(state.revision, (state.clone(), text));
        self.drain(&mut fwd);
        if !fwd.pending.is_empty() {
            self.gap.notify_one();
        }
    }

    /// Sends the waiting states that are next in line.
    fn drain(&self, fwd: &mut Forwarded) {
        while let Some(entry) = fwd.pending.first_entry() {
            let revision = *entry.key();
            if revision > fwd.revision + 1 {
                break;
            }
            let (state, text) = entry.remove();
            if revision == fwd.revision + 1 {
                self.send_state(fwd, &state, text);
            }
        }
    }

    /// Sends every waiting state up to `revision`, in order, skipping the missing ones.
    fn flush_to(&self, fwd: &mut Forwarded, revision: u64) {
        while let Some(entry) = fwd.pending.first_entry() {
            if *entry.key() > revision {
                break;
            }
            let (state, text) = entry.remove();
            if state.revision > fwd.revision {
                self.send_state(fwd, &state, text);
            }
        }
        self.drain(fwd);
    }

    fn send_state(&self, fwd: &mut Forwarded, state: &PlaybackState, text: String) {
        fwd.revision = state.revision;
        self.observe(state);
        self.fanout.send(Frame::new(state.revision, None, &text));
    }

    /// Sends every waiting state (after a re-read of the store: the missing ones are lost).
    fn flush_pending(&self) {
        let mut fwd = lock(&self.forwarded);
        self.flush_to(&mut fwd, u64::MAX);
    }

    /// Marks `revision` (the state the hub started from) as handed over.
    fn forward_floor(&self, revision: u64) {
        let mut fwd = lock(&self.forwarded);
        fwd.revision = fwd.revision.max(revision);
        self.drain(&mut fwd);
    }

    /// The newest revision handed to the local viewers.
    fn forwarded(&self) -> u64 {
        lock(&self.forwarded).revision
    }

    /// Hands a viewer count to the local viewers when it differs from the last one.
    fn forward_presence(&self, viewers: u32, text: String) {
        if self.viewers.swap(viewers, Ordering::Relaxed) != viewers {
            self.fanout.send(Frame::new(0, Some(viewers), &text));
        }
    }

    /// Declares the session ended (its state is gone from the store): every local viewer is
    /// closed with `close::SESSION_ENDED` and the hub is dropped, so the next join reads the
    /// store again (and finds no session).
    pub fn end(&self) {
        if !self.ended.send_replace(true) {
            tracing::info!(session = %self.id, "session state is gone from the store; the session has ended");
        }
    }

    /// [`Hub::end`] because a host ended the room.
    pub fn end_by_host(&self) {
        self.ended_by_host.store(true, Ordering::Release);
        self.end();
    }

    /// Whether a host ended the room (see [`Hub::end_by_host`]).
    pub fn ended_by_host(&self) -> bool {
        self.ended_by_host.load(Ordering::Acquire)
    }

    /// Marks a change of this instance as in flight until the guard is dropped (after
    /// [`Hub::forward_next`]): a state read from the store meanwhile is not handed over
    /// without its cause in front of it.
    pub fn change_guard(&self) -> ChangeGuard<'_> {
        self.changing.fetch_add(1, Ordering::AcqRel);
        ChangeGuard(self)
    }

    /// Becomes `true` when the session has ended (see [`Hub::end`]); the viewers' connections
    /// wait on it.
    pub fn ended(&self) -> watch::Receiver<bool> {
        self.ended.subscribe()
    }

    /// A new receiver of this hub's frames (an observer beside the viewers).
    pub fn frames(&self) -> broadcast::Receiver<Frame> {
        self.fanout.subscribe()
    }

    /// Adds a viewer to the fan-out; `greet` sends its first frames before any broadcast
    /// reaches it (see [`fanout`]).
    pub fn attach<R>(
        &self,
        viewer: Arc<Viewer>,
        greet: impl FnOnce(&Viewer) -> R,
    ) -> (Attached, R) {
        self.fanout.attach(viewer, greet)
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
    /// Mean safety-net reconcile interval (ms, at least 100).
    reconcile_ms: u64,
    /// Whether hubs write broadcasts through io_uring.
    io_uring: bool,
    /// Members listed by name in the room's list.
    roster_len: usize,
    /// Chat lines / reactions a hub keeps for joiners.
    chat_kept: usize,
    reactions_kept: usize,
    /// The instance's metrics, handed to every hub.
    metrics: Arc<Metrics>,
    /// Told when a room's last viewer over all instances left (see [`Hubs::on_empty`]).
    on_empty: empty::EmptyHook,
}

/// How the hubs of one instance work, fixed when [`Hubs`] is built (see [`Hubs::new`]).
#[derive(Clone, Debug, PartialEq)]
pub struct HubsConfig {
    /// Frames that may wait per viewer before it is too slow (at least 1 is used).
    pub send_queue: usize,
    /// Viewers of one session on this instance; later joiners get [`JoinError::Full`].
    pub max_viewers: usize,
    /// Mean interval of the safety-net comparison with the store (at least 100 ms is used).
    pub reconcile: Duration,
    /// Whether broadcasts are written through io_uring (where the kernel allows).
    pub io_uring: bool,
    /// Members the room's list shows by name.
    pub roster_len: usize,
    /// Chat lines a hub keeps for joiners.
    pub chat_kept: usize,
    /// Reactions a hub keeps for joiners.
    pub reactions_kept: usize,
}

impl From<&Settings> for HubsConfig {
    /// The settings `send_queue`, `max_viewers_per_session`, `reconcile_secs` (at least
    /// 0.1 s), `fanout_io_uring`, `roster_len` (at most 500), `chat_kept` and `reactions_kept`.
    fn from(s: &Settings) -> Self {
        Self {
            send_queue: s.send_queue,
            max_viewers: s.max_viewers_per_session,
            reconcile: Duration::from_secs_f64(s.reconcile_secs.max(0.1)),
            io_uring: s.fanout_io_uring,
            roster_len: s.roster_len.min(500),
            chat_kept: s.chat_kept,
            reactions_kept: s.reactions_kept,
        }
    }
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
    /// Hubs over `store`, reporting presence as `instance`, working as `config` says and
    /// counting gaps, resyncs and the fan-out in `metrics`.
    pub fn new(
        store: Arc<dyn SessionStore>,
        instance: String,
        config: &HubsConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        let reconcile_ms = u64::try_from(config.reconcile.as_millis())
            .unwrap_or(u64::MAX)
            .max(100);
        Self {
            inner: Arc::new(Registry {
                map: Mutex::new(HashMap::new()),
                store,
                instance,
                seq: AtomicU64::new(1),
                queue: config.send_queue.max(1),
                max_viewers: u32::try_from(config.max_viewers).unwrap_or(u32::MAX),
                running: AtomicUsize::new(0),
                idle: Notify::new(),
                reconcile_ms,
                io_uring: config.io_uring,
                roster_len: config.roster_len,
                chat_kept: config.chat_kept,
                reactions_kept: config.reactions_kept,
                metrics,
                on_empty: empty::EmptyHook::default(),
            }),
        }
    }

    /// Sets what to do when a room's last viewer over all instances leaves (the final
    /// presence report of this instance's hub comes back with a total of 0). Once.
    pub fn on_empty(&self, hook: impl Fn(SessionId) + Send + Sync + 'static) {
        self.inner.on_empty.set(Box::new(hook));
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
                    let (init, _) = watch::channel(Init::Pending);
                    let hub = Arc::new(Hub {
                        id: id.clone(),
                        fanout: Fanout::new(self.inner.queue, self.inner.io_uring),
                        latest: Mutex::new(None),
                        forwarded: Mutex::new(Forwarded::default()),
                        gap: Notify::new(),
                        ended: watch::channel(false).0,
                        ended_by_host: std::sync::atomic::AtomicBool::new(false),
                        changing: AtomicUsize::new(0),
                        viewers: AtomicU32::new(0),
                        local: AtomicU32::new(0),
                        reported_local: AtomicU32::new(0),
                        final_seq: AtomicU64::new(0),
                        dirty: Notify::new(),
                        stop: Notify::new(),
                        init,
                        metrics: self.inner.metrics.clone(),
                        roster: Mutex::new(HubRoster::default()),
                        shown: self.inner.roster_len,
                        logs: Mutex::new(logs::HubLogs::new(
                            self.inner.chat_kept,
                            self.inner.reactions_kept,
                        )),
                        removed: watch::channel(Vec::new()).0,
                        end_witness: AtomicU64::new(0),
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
            // The kept chat and reactions (events arriving meanwhile are de-duplicated).
            match (
                store.log(&hub.id, Log::Chat).await,
                store.log(&hub.id, Log::Reactions).await,
            ) {
                (Ok(chat), Ok(reactions)) => hub.load_logs(chat, reactions),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!(session = %hub.id, error = %e, "cannot load chat history")
                }
            }
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
    let mut ended = hub.ended();
    let mut next_report: Option<Instant> = None;
    let mut last_report = Instant::now() - PRESENCE_MIN_INTERVAL;
    let mut refresh = tokio::time::interval(PRESENCE_REFRESH);
    refresh.tick().await;
    let reconcile_ms = registry.reconcile_ms;
    let safety = tokio::time::sleep(jittered(reconcile_ms));
    tokio::pin!(safety);
    // A newer stored state found by the safety net, handed over at the instant if still due.
    let mut candidate: Option<Candidate> = None;
    // When the last presence report must have come back through the subscription.
    let mut echo_due: Option<Instant> = None;
    loop {
        let report_at = next_report;
        let settle_at = candidate.as_ref().map(|c| c.due);
        let echo_at = echo_due;
        tokio::select! {
            biased;
            _ = hub.stop.notified() => break,
            _ = async { let _ = ended.wait_for(|e| *e).await; } => {
                registry.remove_if_same(hub);
                break;
            }
            delivery = sub.rx.recv() => match delivery {
                Some(Delivery::Message(text)) => {
                    if is_presence_event(&text) {
                        echo_due = None;
                    }
                    forward(hub, text)
                }
                Some(Delivery::Resync) => {
                    // After a resubscription (behind its barrier) events were surely missed:
                    // catch up at once.
                    if let Some(later) = catch_up(hub, &store, &mut sub).await {
                        candidate = Some(Candidate::new(later));
                    }
                    next_report.get_or_insert_with(Instant::now);
                }
                None => {
                    tracing::warn!(session = %hub.id, "subscription ended");
                    break;
                }
            },
            _ = hub.gap.notified() => {
                if let Some(later) = catch_up(hub, &store, &mut sub).await {
                    candidate = Some(Candidate::new(later));
                }
            }
            _ = hub.dirty.notified(), if report_at.is_none() => {
                next_report = Some((last_report + PRESENCE_MIN_INTERVAL).max(Instant::now()));
            }
            _ = sleep_until_opt(report_at) => {
                next_report = None;
                last_report = Instant::now();
                if report(hub, registry).await {
                    echo_due.get_or_insert_with(|| Instant::now() + ECHO_WAIT);
                }
            }
            _ = sleep_until_opt(echo_at) => {
                echo_due = None;
                if let Some(later) = resubscribe(hub, &store, &mut sub).await {
                    candidate = Some(Candidate::new(later));
                }
            }
            _ = refresh.tick() => {
                next_report.get_or_insert_with(Instant::now);
            }
            _ = &mut safety => {
                safety.as_mut().reset(Instant::now() + jittered(reconcile_ms));
                candidate = safety_check(hub, &store).await.map(Candidate::new);
            }
            _ = sleep_until_opt(settle_at) => {
                candidate = candidate.take().and_then(|c| settle(hub, c));
            }
        }
    }
    retire(hub, registry, sub).await;
}

/// A newer stored state than the viewers have, found by a catch-up or the safety net.
struct Candidate {
    state: PlaybackState,
    /// When it is handed over unless its event arrived meanwhile.
    due: Instant,
    /// When it was found.
    found: Instant,
}

impl Candidate {
    fn new(state: PlaybackState) -> Self {
        let now = Instant::now();
        Candidate {
            state,
            due: now + SETTLE,
            found: now,
        }
    }
}

/// A newer stored state found by a catch-up or the safety net, still not delivered after
/// [`SETTLE`]: handed over now (`cause: null`). While a change of this instance is in flight
/// (up to [`SETTLE_MAX`]) it waits again instead: handing over now would skip that change and
/// leave its sender without a verdict. Returns the candidate when it waits again.
fn settle(hub: &Hub, candidate: Candidate) -> Option<Candidate> {
    let state = candidate.state;
    if state.revision <= hub.forwarded() {
        return None;
    }
    if hub.changing.load(Ordering::Acquire) > 0 && candidate.found.elapsed() < SETTLE_MAX {
        return Some(Candidate {
            state,
            due: Instant::now() + SETTLE,
            found: candidate.found,
        });
    }
    tracing::warn!(session = %hub.id, revision = state.revision, "safety net caught up a missed event");
    hub.flush_pending();
    let text = state_event(&state, None);
    hub.forward_state(&state, text);
    None
}

/// The hub's subscription is deaf (its own presence report did not come back): subscribes
/// again and catches up (see [`catch_up`], which counts the resync).
async fn resubscribe(
    hub: &Hub,
    store: &Arc<dyn SessionStore>,
    sub: &mut Subscription,
) -> Option<PlaybackState> {
    match store.resubscribe(&hub.id).await {
        Ok(()) => catch_up(hub, store, sub).await,
        Err(e) => {
            tracing::warn!(session = %hub.id, error = %e, "subscribing again failed");
            None
        }
    }
}

/// Retired: withdraws this instance's viewers and stops listening.
async fn retire(hub: &Hub, registry: &Registry, sub: Subscription) {
    let store = &registry.store;
    let seq = hub.final_seq.load(Ordering::Relaxed);
    match store
        .report_presence(&hub.id, &registry.instance, 0, seq, "")
        .await
    {
        Ok(0) if !*hub.ended.borrow() => registry.on_empty.call(&hub.id),
        Ok(_) => {}
        Err(e) => tracing::warn!(session = %hub.id, error = %e, "final presence report failed"),
    }
    store.unsubscribe(&hub.id, sub.token).await;
}

/// `mean_ms` ± 50 %, so the hubs of many sessions do not query the store in step.
fn jittered(mean_ms: u64) -> Duration {
    let factor = 0.5 + rand::random::<f64>();
    Duration::from_secs_f64(mean_ms as f64 / 1000.0 * factor)
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Reports this instance's viewers; `true` when the report was published for a live session
/// (its event must come back through the subscription).
async fn report(hub: &Hub, registry: &Registry) -> bool {
    let (count, seq) = registry.count_and_seq(hub);
    let part = hub.local_part();
    match registry
        .store
        .report_presence(&hub.id, &registry.instance, count, seq, &part)
        .await
    {
        // A total of 0 while this instance has viewers: the session's state is gone (the
        // script counts nothing then). Re-read the store to find out.
        Ok(0) if count > 0 => {
            hub.gap.notify_one();
            false
        }
        Ok(_) => count > 0,
        Err(e) => {
            tracing::warn!(session = %hub.id, error = %e, "presence report failed");
            false
        }
    }
}

/// Forwards one published event to the local viewers, dropping old revisions and unchanged
/// presence counts; a presence event also updates the room's list.
fn forward(hub: &Hub, text: String) {
    if crate::store::permanent::is_end_event(&text) {
        hub.end_by_host();
        return;
    }
    if is_log_event(&text) {
        hub.forward_log_event(text);
        return;
    }
    if is_presence_event(&text) {
        match serde_json::from_str::<PresenceEvent>(&text) {
            Ok(ev) => {
                hub.forward_presence(ev.viewers, presence_event(ev.viewers));
                hub.apply_parts(&ev.parts);
            }
            Err(e) => tracing::warn!(session = %hub.id, error = %e, "unreadable presence event"),
        }
        return;
    }
    match serde_json::from_str::<ServerMsg>(&text) {
        Ok(ServerMsg::State { state, .. }) => hub.forward_state(&state, text),
        Ok(_) => tracing::warn!(session = %hub.id, "unexpected event type"),
        Err(e) => tracing::warn!(session = %hub.id, error = %e, "unreadable event"),
    }
}

/// Closes a gap at once: re-reads the state (and the viewer count) from the store, hands over
/// the events that arrived meanwhile, then every change still waiting, then the stored state
/// if it is newer still (`cause: null`). A missing state ends the session. While a change of
/// this instance is in flight the stored state may be that change: it is returned instead, to
/// be handed over after [`SETTLE`] if its own hand-over (with its cause) has not happened.
async fn catch_up(
    hub: &Hub,
    store: &Arc<dyn SessionStore>,
    sub: &mut Subscription,
) -> Option<PlaybackState> {
    hub.metrics.resyncs.inc();
    let loaded = store.load(&hub.id).await;
    // Events that arrived while the store answered are older than (or equal to) what it
    // returned; hand them over first so they keep their cause.
    while let Ok(delivery) = sub.rx.try_recv() {
        if let Delivery::Message(text) = delivery {
            forward(hub, text);
        }
    }
    match loaded {
        Ok(Some(state)) => {
            // A change of this instance between its write and its hand-over: flushing the
            // waiting states now would skip it, and its sender would never see its verdict.
            // Then everything is handed over later (see [`settle`]).
            let in_flight = hub.changing.load(Ordering::Acquire) > 0;
            if !in_flight {
                hub.flush_pending();
            }
            let mut later = None;
            if state.revision > hub.forwarded() {
                if in_flight {
                    later = Some(state);
                } else {
                    tracing::info!(session = %hub.id, revision = state.revision, "caught up from the store");
                    let text = state_event(&state, None);
                    hub.forward_state(&state, text);
                }
            }
            reconcile_presence(hub, store).await;
            later
        }
        Ok(None) => {
            hub.end();
            None
        }
        Err(e) => {
            hub.flush_pending();
            tracing::warn!(session = %hub.id, error = %e, "catching up failed");
            None
        }
    }
}

/// The safety net: reads the store; returns a stored state newer than what the viewers have
/// (handed over after [`SETTLE`] unless its event arrives meanwhile). Also reconciles the
/// viewer count, and ends the session when its state is gone.
async fn safety_check(hub: &Hub, store: &Arc<dyn SessionStore>) -> Option<PlaybackState> {
    match store.load(&hub.id).await {
        Ok(Some(state)) => {
            reconcile_presence(hub, store).await;
            (state.revision > hub.forwarded()).then_some(state)
        }
        Ok(None) => {
            hub.end();
            None
        }
        Err(e) => {
            tracing::warn!(session = %hub.id, error = %e, "reconcile failed");
            None
        }
    }
}

/// Re-reads the viewer count over all instances and hands it over if it differs.
async fn reconcile_presence(hub: &Hub, store: &Arc<dyn SessionStore>) {
    if let Ok(viewers) = store.viewers(&hub.id).await {
        hub.forward_presence(viewers, presence_event(viewers));
    }
}

#[cfg(test)]
mod tests;
