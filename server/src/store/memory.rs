//! The in-memory store: one process, state in a mutex-protected map, events through in-process
//! channels. Compare-and-set and publication happen under one lock, so events leave in
//! revision order. Expired sessions are dropped lazily and by a periodic sweep. A permanent
//! room (its state says so) never expires, but lives only as long as the process.

use super::permanent::{IndexEntry, PermanentCaps, Reserve, END_EVENT};
use super::{
    presence_parts_event, AppendOutcome, CasOutcome, ChangeLimit, Delivery, Log, LogLimits,
    SessionStore, StoreError, Subscription, PRESENCE_STALE_MS,
};
use crate::limits::TokenBucket;
use crate::sync_util::lock;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use watchparty_core::ids::SessionId;
use watchparty_core::permanent::Alias;
use watchparty_core::playback::PlaybackState;

/// How often expired sessions are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// One instance's presence report.
#[derive(Debug, Clone)]
struct PresenceEntry {
    count: u32,
    at: Instant,
    seq: u64,
    /// The instance's part of the room's list (JSON), or empty.
    roster: String,
}

#[derive(Debug)]
struct Entry {
    state: PlaybackState,
    expires: Instant,
    presence: HashMap<String, PresenceEntry>,
    /// The per-session change budget (created by the first change).
    budget: Option<TokenBucket>,
    /// Chat lines and reactions, with their budgets.
    logs: HashMap<Log, (VecDeque<String>, Option<TokenBucket>)>,
    /// The stored state is permanent: `expires` does not apply.
    permanent: bool,
}

impl Entry {
    /// Not expired at `now`.
    fn alive(&self, now: Instant) -> bool {
        self.permanent || self.expires > now
    }
}

/// The index of permanent rooms (see [`super::permanent`]).
#[derive(Debug, Default)]
struct PermIndex {
    rooms: HashMap<SessionId, IndexEntry>,
    names: HashMap<Alias, SessionId>,
}

type Subscribers = HashMap<SessionId, (u64, mpsc::UnboundedSender<Delivery>)>;

#[derive(Debug)]
struct Inner {
    ttl: Duration,
    change_limit: Mutex<ChangeLimit>,
    /// (TTL of a session nobody joined yet, most sessions stored).
    create_limits: Mutex<(Duration, usize)>,
    sessions: Mutex<HashMap<SessionId, Entry>>,
    perm: Mutex<PermIndex>,
    subs: Mutex<Subscribers>,
    next_token: AtomicU64,
}

/// Sessions in this process's memory (lost on restart).
#[derive(Debug, Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

impl MemoryStore {
    /// A store whose sessions expire `ttl` after their last change or join. Spawns the
    /// sweeper on the current Tokio runtime (it stops when the store is dropped).
    pub fn new(ttl: Duration) -> Self {
        let inner = Arc::new(Inner {
            ttl,
            change_limit: Mutex::new(ChangeLimit::UNLIMITED),
            create_limits: Mutex::new((ttl, usize::MAX)),
            sessions: Mutex::new(HashMap::new()),
            perm: Mutex::default(),
            subs: Mutex::new(HashMap::new()),
            next_token: AtomicU64::new(1),
        });
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let weak: Weak<Inner> = Arc::downgrade(&inner);
            rt.spawn(async move {
                let mut tick = tokio::time::interval(SWEEP_EVERY);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let Some(inner) = weak.upgrade() else { break };
                    let now = Instant::now();
                    lock(&inner.sessions).retain(|_, e| e.alive(now));
                }
            });
        }
        Self { inner }
    }

    /// Limits accepted changes per session (checked inside [`SessionStore::compare_and_set`]).
    pub fn with_change_limit(self, limit: ChangeLimit) -> Self {
        *lock(&self.inner.change_limit) = limit;
        self
    }

    /// A new session lives `unjoined_ttl` until its first join (which slides it to the full
    /// TTL); at most `max_sessions` are stored (creation fails beyond, after a sweep).
    pub fn with_create_limits(self, unjoined_ttl: Duration, max_sessions: usize) -> Self {
        *lock(&self.inner.create_limits) = (unjoined_ttl.min(self.inner.ttl), max_sessions);
        self
    }

    /// Sessions currently stored (expired ones included until swept).
    pub fn len(&self) -> usize {
        lock(&self.inner.sessions).len()
    }

    /// True when no session is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn publish(&self, id: &SessionId, text: String) {
        let subs = lock(&self.inner.subs);
        if let Some((_, tx)) = subs.get(id) {
            let _ = tx.send(Delivery::Message(text));
        }
    }
}

fn total(presence: &mut HashMap<String, PresenceEntry>, now: Instant) -> u32 {
    let stale = Duration::from_millis(PRESENCE_STALE_MS);
    presence.retain(|_, e| now.duration_since(e.at) <= stale);
    presence
        .values()
        .fold(0u32, |acc, e| acc.saturating_add(e.count))
}

#[async_trait::async_trait]
impl SessionStore for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn create(&self, id: &SessionId, state: &PlaybackState) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut sessions = lock(&self.inner.sessions);
        if sessions.get(id).is_some_and(|e| e.alive(now)) {
            return Ok(false);
        }
        let (unjoined_ttl, max_sessions) = *lock(&self.inner.create_limits);
        if sessions.len() >= max_sessions {
            sessions.retain(|_, e| e.alive(now));
            if sessions.len() >= max_sessions {
                return Err(StoreError::Full);
            }
        }
        sessions.insert(
            id.clone(),
            Entry {
                state: state.clone(),
                expires: now + unjoined_ttl,
                presence: HashMap::new(),
                budget: None,
                logs: HashMap::new(),
                permanent: false,
            },
        );
        Ok(true)
    }

    async fn load(&self, id: &SessionId) -> Result<Option<PlaybackState>, StoreError> {
        let now = Instant::now();
        let sessions = lock(&self.inner.sessions);
        Ok(sessions
            .get(id)
            .filter(|e| e.alive(now))
            .map(|e| e.state.clone()))
    }

    async fn compare_and_set_event(
        &self,
        id: &SessionId,
        expected_revision: u64,
        next: &PlaybackState,
        event: &str,
    ) -> Result<CasOutcome, StoreError> {
        let now = Instant::now();
        let mut sessions = lock(&self.inner.sessions);
        let Some(entry) = sessions.get_mut(id).filter(|e| e.alive(now)) else {
            return Ok(CasOutcome::Missing);
        };
        if entry.state.revision != expected_revision {
            return Ok(CasOutcome::Conflict(Box::new(entry.state.clone())));
        }
        let limit = *lock(&self.inner.change_limit);
        if limit.enabled() {
            let budget = entry.budget.get_or_insert_with(|| {
                TokenBucket::new(limit.per_sec, limit.burst, next.updated_at)
            });
            if !budget.try_take(next.updated_at) {
                return Ok(CasOutcome::RateLimited);
            }
        }
        entry.state = next.clone();
        entry.expires = now + self.inner.ttl;
        entry.permanent = next.permanent.is_some();
        // Publish while still holding the session lock: events leave in revision order.
        self.publish(id, event.to_owned());
        Ok(CasOutcome::Applied)
    }

    async fn append(
        &self,
        id: &SessionId,
        log: Log,
        event: &str,
        now_ms: f64,
        limits: LogLimits,
    ) -> Result<AppendOutcome, StoreError> {
        let now = Instant::now();
        let mut sessions = lock(&self.inner.sessions);
        let Some(entry) = sessions.get_mut(id).filter(|e| e.alive(now)) else {
            return Ok(AppendOutcome::Missing);
        };
        let (items, budget) = entry.logs.entry(log).or_default();
        if limits.rate.enabled() {
            let budget = budget.get_or_insert_with(|| {
                TokenBucket::new(limits.rate.per_sec, limits.rate.burst, now_ms)
            });
            if !budget.try_take(now_ms) {
                return Ok(AppendOutcome::RateLimited);
            }
        }
        items.push_back(event.to_owned());
        while items.len() > limits.keep {
            items.pop_front();
        }
        self.publish(id, event.to_owned());
        Ok(AppendOutcome::Appended)
    }

    async fn remove_entry(
        &self,
        id: &SessionId,
        log: Log,
        prefix: &str,
        event: &str,
    ) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut sessions = lock(&self.inner.sessions);
        let Some(entry) = sessions.get_mut(id).filter(|e| e.alive(now)) else {
            return Ok(false);
        };
        let Some((items, _)) = entry.logs.get_mut(&log) else {
            return Ok(false);
        };
        let Some(at) = items.iter().position(|e| e.starts_with(prefix)) else {
            return Ok(false);
        };
        items.remove(at);
        self.publish(id, event.to_owned());
        Ok(true)
    }

    async fn log(&self, id: &SessionId, log: Log) -> Result<Vec<String>, StoreError> {
        let now = Instant::now();
        let sessions = lock(&self.inner.sessions);
        Ok(sessions
            .get(id)
            .filter(|e| e.alive(now))
            .and_then(|e| e.logs.get(&log))
            .map(|(items, _)| items.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn touch(&self, id: &SessionId) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut sessions = lock(&self.inner.sessions);
        match sessions.get_mut(id).filter(|e| e.alive(now)) {
            Some(e) => {
                e.expires = now + self.inner.ttl;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn report_presence(
        &self,
        id: &SessionId,
        instance: &str,
        count: u32,
        seq: u64,
        roster: &str,
    ) -> Result<u32, StoreError> {
        let now = Instant::now();
        let mut sessions = lock(&self.inner.sessions);
        let Some(entry) = sessions.get_mut(id).filter(|e| e.alive(now)) else {
            return Ok(0);
        };
        let newer = entry.presence.get(instance).is_none_or(|e| e.seq < seq);
        if newer {
            entry.presence.insert(
                instance.to_owned(),
                PresenceEntry {
                    count,
                    at: now,
                    seq,
                    roster: roster.to_owned(),
                },
            );
        }
        let viewers = total(&mut entry.presence, now);
        if count > 0 {
            entry.expires = now + self.inner.ttl;
        }
        let event =
            presence_parts_event(viewers, entry.presence.values().map(|e| e.roster.as_str()));
        self.publish(id, event);
        Ok(viewers)
    }

    async fn viewers(&self, id: &SessionId) -> Result<u32, StoreError> {
        let now = Instant::now();
        let mut sessions = lock(&self.inner.sessions);
        Ok(sessions
            .get_mut(id)
            .map(|e| total(&mut e.presence, now))
            .unwrap_or(0))
    }

    async fn subscribe(&self, id: &SessionId) -> Result<Subscription, StoreError> {
        let token = self.inner.next_token.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.inner.subs).insert(id.clone(), (token, tx));
        Ok(Subscription { token, rx })
    }

    async fn unsubscribe(&self, id: &SessionId, token: u64) {
        let mut subs = lock(&self.inner.subs);
        if subs.get(id).is_some_and(|(t, _)| *t == token) {
            subs.remove(id);
        }
    }

    async fn reference_time_ms(&self) -> Result<Option<f64>, StoreError> {
        Ok(None)
    }

    async fn reserve_permanent(
        &self,
        entry: &IndexEntry,
        caps: PermanentCaps,
    ) -> Result<Reserve, StoreError> {
        let mut guard = lock(&self.inner.perm);
        let index = &mut *guard;
        if let Some(alias) = &entry.alias {
            if index.names.get(alias).is_some_and(|id| *id != entry.id) {
                return Ok(Reserve::NameTaken);
            }
        }
        let prev = index.rooms.get(&entry.id);
        if prev.is_none() && index.rooms.len() >= caps.total {
            return Ok(Reserve::Full);
        }
        if prev.is_none_or(|p| p.by != entry.by) {
            let of_host = index.rooms.values().filter(|e| e.by == entry.by).count();
            if of_host >= caps.per_host {
                return Ok(Reserve::HostFull);
            }
        }
        if let Some(old) = prev.and_then(|p| p.alias.clone()) {
            index.names.remove(&old);
        }
        if let Some(alias) = &entry.alias {
            index.names.insert(alias.clone(), entry.id.clone());
        }
        index.rooms.insert(entry.id.clone(), entry.clone());
        Ok(Reserve::Reserved)
    }

    async fn release_permanent(
        &self,
        id: &SessionId,
        at_ms: Option<u64>,
    ) -> Result<bool, StoreError> {
        let mut index = lock(&self.inner.perm);
        let Some(entry) = index.rooms.get(id) else {
            return Ok(false);
        };
        if at_ms.is_some_and(|at| at != entry.at_ms) {
            return Ok(false);
        }
        if let Some(alias) = entry.alias.clone() {
            if index.names.get(&alias) == Some(id) {
                index.names.remove(&alias);
            }
        }
        index.rooms.remove(id);
        Ok(true)
    }

    async fn permanent_rooms(&self) -> Result<Vec<IndexEntry>, StoreError> {
        Ok(lock(&self.inner.perm).rooms.values().cloned().collect())
    }

    async fn resolve_alias(&self, alias: &Alias) -> Result<Option<SessionId>, StoreError> {
        Ok(lock(&self.inner.perm).names.get(alias).cloned())
    }

    async fn delete_session(&self, id: &SessionId) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut sessions = lock(&self.inner.sessions);
        let existed = sessions.remove(id).is_some_and(|e| e.alive(now));
        if existed {
            self.publish(id, END_EVENT.to_owned());
        }
        Ok(existed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use watchparty_core::ids::VideoId;
    use watchparty_core::protocol::{Cause, ServerMsg};

    fn id() -> SessionId {
        SessionId::parse("abcDEF012345").unwrap()
    }

    fn state() -> PlaybackState {
        PlaybackState::new(VideoId::parse("dQw4w9WgXcQ").unwrap(), 0.0, 0.0)
    }

    #[tokio::test]
    async fn create_is_exclusive_and_load_round_trips() {
        let store = MemoryStore::new(Duration::from_secs(60));
        assert!(store.create(&id(), &state()).await.unwrap());
        assert!(!store.create(&id(), &state()).await.unwrap());
        assert_eq!(store.load(&id()).await.unwrap(), Some(state()));
    }

    #[tokio::test]
    async fn sessions_expire_after_ttl() {
        let store = MemoryStore::new(Duration::from_millis(30));
        store.create(&id(), &state()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(store.load(&id()).await.unwrap(), None);
        assert!(!store.touch(&id()).await.unwrap());
        assert!(store.create(&id(), &state()).await.unwrap());
    }

    #[tokio::test]
    async fn cas_checks_revision_and_publishes_in_order() {
        let store = MemoryStore::new(Duration::from_secs(60));
        store.create(&id(), &state()).await.unwrap();
        let mut sub = store.subscribe(&id()).await.unwrap();
        let mut next = state();
        next.revision = 2;
        let cause = Some(Cause { conn_id: 1, seq: 1 });
        assert_eq!(
            store.compare_and_set(&id(), 1, &next, cause).await.unwrap(),
            CasOutcome::Applied
        );
        let mut other = state();
        other.revision = 2;
        other.playing = true;
        assert_eq!(
            store.compare_and_set(&id(), 1, &other, None).await.unwrap(),
            CasOutcome::Conflict(Box::new(next.clone()))
        );
        let Some(Delivery::Message(text)) = sub.rx.recv().await else {
            panic!("no event")
        };
        let msg: ServerMsg = serde_json::from_str(&text).unwrap();
        assert_eq!(msg, ServerMsg::State { state: next, cause });
        assert!(sub.rx.try_recv().is_err(), "a conflict publishes nothing");
        let missing = SessionId::parse("zzzzzzzzzzzz").unwrap();
        assert_eq!(
            store
                .compare_and_set(&missing, 1, &other, None)
                .await
                .unwrap(),
            CasOutcome::Missing
        );
    }

    #[tokio::test]
    async fn presence_sums_instances_and_ignores_older_reports() {
        let store = MemoryStore::new(Duration::from_secs(60));
        store.create(&id(), &state()).await.unwrap();
        assert_eq!(
            store.report_presence(&id(), "a", 3, 1, "").await.unwrap(),
            3
        );
        assert_eq!(
            store.report_presence(&id(), "b", 2, 1, "").await.unwrap(),
            5
        );
        // An older report of instance a (seq 0) arriving late changes nothing.
        assert_eq!(
            store.report_presence(&id(), "a", 9, 0, "").await.unwrap(),
            5
        );
        assert_eq!(
            store.report_presence(&id(), "a", 0, 2, "").await.unwrap(),
            2
        );
        assert_eq!(store.viewers(&id()).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn replaced_subscription_survives_old_unsubscribe() {
        let store = MemoryStore::new(Duration::from_secs(60));
        store.create(&id(), &state()).await.unwrap();
        let old = store.subscribe(&id()).await.unwrap();
        let mut new = store.subscribe(&id()).await.unwrap();
        store.unsubscribe(&id(), old.token).await;
        store.report_presence(&id(), "a", 1, 1, "").await.unwrap();
        assert!(matches!(new.rx.recv().await, Some(Delivery::Message(_))));
    }
}
