//! The Redis store (fred 10): a client pool for commands and one [`SubscriberClient`] per
//! instance for pub/sub.
//!
//! - State changes run one Lua script (`EVALSHA`, reloaded on `NOSCRIPT` after a Redis
//!   restart) that checks the revision, writes with the sliding TTL and `PUBLISH`es the event:
//!   concurrent writers on any number of instances are totally ordered by Redis.
//! - Presence is a hash of per-instance counts updated and summed by another script, which
//!   publishes the total in the same atomic step (so presence events are ordered too).
//! - One `SUBSCRIBE` per session per instance, while the instance has viewers of it. A
//!   dispatcher task routes messages by channel; after a reconnect it resubscribes and tells
//!   every subscribed session to resync (messages published while disconnected are lost).
//! - Every command has a timeout: when Redis is unreachable, operations fail with
//!   [`StoreError::Unavailable`] within [`COMMAND_TIMEOUT`] instead of queueing.

use super::{budget_key, ChangeLimit};
use super::{
    channel, decode_state, encode_state, presence_key, state_event, state_key, CasOutcome,
    Delivery, SessionStore, StoreError, Subscription, PRESENCE_STALE_MS,
};
use app::ids::SessionId;
use app::playback::PlaybackState;
use app::protocol::Cause;
use fred::clients::SubscriberClient;
use fred::prelude::{
    Builder, ClientLike, Config, EventInterface, Expiration, KeysInterface, LuaInterface, Pool,
    PubsubInterface, ReconnectPolicy, SetOptions, Value,
};
use fred::types::{ClusterHash, CustomCommand};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio::task::JoinHandle;

/// Upper bound on any single Redis operation.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections in the command pool.
const POOL_SIZE: usize = 4;
/// Published messages the subscriber buffers before the dispatcher must catch up (beyond
/// it, subscribed sessions resync from the store).
const SUBSCRIBER_QUEUE: usize = 4096;

/// Compare-and-set: KEYS = [state, budget]; ARGV = [expected revision, new state JSON, ttl ms,
/// channel, event JSON, now ms, changes per s, burst]. Returns `{0}` missing, `{1, current}`
/// conflict, `{2}` applied, `{3}` unreadable state, `{4}` the session's change budget is spent
/// (a token bucket in the budget hash, skipped when the rate is 0).
const CAS_LUA: &str = r#"
local cur = redis.call('GET', KEYS[1])
if not cur then return {0} end
local ok, st = pcall(cjson.decode, cur)
if not ok or type(st) ~= 'table' then return {3} end
if tonumber(st['revision']) ~= tonumber(ARGV[1]) then return {1, cur} end
local rate = tonumber(ARGV[7])
if rate > 0 then
  local now, burst = tonumber(ARGV[6]), tonumber(ARGV[8])
  local b = redis.call('HMGET', KEYS[2], 't', 'at')
  local tokens, at = tonumber(b[1]) or burst, tonumber(b[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) / 1000 * rate)
  if tokens < 1 then return {4} end
  redis.call('HSET', KEYS[2], 't', tostring(tokens - 1), 'at', tostring(math.max(now, at)))
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return {2}
"#;

/// Presence report: KEYS = [presence, state]; ARGV = [instance, count, seq, stale ms, ttl ms,
/// channel]. Stores "count:time:seq" unless a higher seq is stored, drops stale entries,
/// slides the TTLs while the instance has viewers, publishes and returns the total.
const PRESENCE_LUA: &str = r#"
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local seq = tonumber(ARGV[3])
local prev = redis.call('HGET', KEYS[1], ARGV[1])
local newer = true
if prev then
  local pseq = tonumber(string.match(prev, '^%d+:%d+:(%d+)$'))
  if pseq and pseq >= seq then newer = false end
end
if newer then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. string.format('%d', now) .. ':' .. ARGV[3])
end
local all = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #all, 2 do
  local c, ts = string.match(all[i + 1], '^(%d+):(%d+):')
  if c and now - tonumber(ts) <= tonumber(ARGV[4]) then
    total = total + tonumber(c)
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
redis.call('PUBLISH', ARGV[6], '{"type":"presence","viewers":' .. string.format('%d', total) .. '}')
return total
"#;

/// Viewer count (read only): KEYS = [presence]; ARGV = [stale ms].
const VIEWERS_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #all, 2 do
  local c, ts = string.match(all[i + 1], '^(%d+):(%d+):')
  if c and now - tonumber(ts) <= tonumber(ARGV[1]) then total = total + tonumber(c) end
end
return total
"#;

/// A Lua script and its SHA-1 as reported by `SCRIPT LOAD`.
#[derive(Debug)]
struct Script {
    src: &'static str,
    sha: Mutex<String>,
}

impl Script {
    fn new(src: &'static str) -> Self {
        Self {
            src,
            sha: Mutex::new(String::new()),
        }
    }
}

type Routes = HashMap<String, (u64, mpsc::UnboundedSender<Delivery>)>;

/// Sessions in Redis, shared by every instance that points at the same Redis.
#[derive(Debug)]
pub struct RedisStore {
    pool: Pool,
    subscriber: SubscriberClient,
    ttl_ms: i64,
    /// TTL of a session nobody joined yet (the first join slides it to `ttl_ms`).
    unjoined_ttl_ms: i64,
    change_limit: ChangeLimit,
    cas: Script,
    presence: Script,
    viewers: Script,
    routes: Arc<Mutex<Routes>>,
    /// Serialises SUBSCRIBE/UNSUBSCRIBE so a late unsubscribe never undoes a newer subscribe.
    sub_ops: tokio::sync::Mutex<()>,
    next_token: AtomicU64,
    tasks: Vec<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Runs a Redis future with [`COMMAND_TIMEOUT`].
async fn timed<T>(
    fut: impl Future<Output = Result<T, fred::error::Error>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
        Ok(r) => r.map_err(unavailable),
        Err(_) => Err(StoreError::Unavailable("redis timed out".into())),
    }
}

fn send_to_all(routes: &Mutex<Routes>, what: Delivery) {
    for (_, tx) in lock(routes).values() {
        let _ = tx.send(what.clone());
    }
}

impl RedisStore {
    /// A new session lives `unjoined_ttl` until its first join slides it to the full TTL.
    pub fn with_unjoined_ttl(mut self, unjoined_ttl: Duration) -> Self {
        let ms = i64::try_from(unjoined_ttl.as_millis()).unwrap_or(i64::MAX);
        self.unjoined_ttl_ms = ms.clamp(1, self.ttl_ms);
        self
    }

    /// Limits accepted changes per session (checked inside the compare-and-set script).
    pub fn with_change_limit(mut self, limit: ChangeLimit) -> Self {
        self.change_limit = limit;
        self
    }

    /// Connects to `url` (fails when Redis does not answer) and loads the scripts.
    pub async fn connect(url: &str, ttl: Duration) -> Result<Self, StoreError> {
        let config = Config::from_url(url).map_err(unavailable)?;
        let mut builder = Builder::from_config(config);
        builder
            .with_performance_config(|p| {
                p.default_command_timeout = COMMAND_TIMEOUT;
            })
            .with_connection_config(|c| {
                c.connection_timeout = COMMAND_TIMEOUT;
                c.internal_command_timeout = COMMAND_TIMEOUT;
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2));
        let pool = builder.build_pool(POOL_SIZE).map_err(unavailable)?;
        // fred allocates every event channel of a client with this capacity up front, so only
        // the subscriber (which receives every published event) gets a large one.
        builder.with_performance_config(|p| {
            p.default_command_timeout = COMMAND_TIMEOUT;
            p.broadcast_channel_capacity = SUBSCRIBER_QUEUE;
        });
        let subscriber = builder.build_subscriber_client().map_err(unavailable)?;
        timed(pool.init()).await?;
        timed(subscriber.init()).await?;

        let routes: Arc<Mutex<Routes>> = Arc::default();
        let mut tasks = Vec::new();
        // Route published messages to the subscribed sessions.
        let mut messages = subscriber.message_rx();
        let r = routes.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                match messages.recv().await {
                    Ok(msg) => {
                        let Some(text) = msg.value.as_string() else {
                            continue;
                        };
                        if let Some((_, tx)) = lock(&r).get(&*msg.channel) {
                            let _ = tx.send(Delivery::Message(text));
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "redis subscriber lagged; resyncing sessions");
                        send_to_all(&r, Delivery::Resync);
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        }));
        // After a reconnect: subscribe again, then resync (events may have been missed).
        let mut reconnects = subscriber.reconnect_rx();
        let (sub, r) = (subscriber.clone(), routes.clone());
        tasks.push(tokio::spawn(async move {
            while let Ok(_) | Err(RecvError::Lagged(_)) = reconnects.recv().await {
                tracing::info!("redis subscriber reconnected; resubscribing");
                if let Err(e) = sub.resubscribe_all().await {
                    tracing::error!(error = %e, "redis resubscribe failed");
                }
                send_to_all(&r, Delivery::Resync);
            }
        }));

        let store = Self {
            pool,
            subscriber,
            ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
            change_limit: ChangeLimit::UNLIMITED,
            unjoined_ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
            cas: Script::new(CAS_LUA),
            presence: Script::new(PRESENCE_LUA),
            viewers: Script::new(VIEWERS_LUA),
            routes,
            sub_ops: tokio::sync::Mutex::new(()),
            next_token: AtomicU64::new(1),
            tasks,
        };
        for s in [&store.cas, &store.presence, &store.viewers] {
            store.load_script(s).await?;
        }
        Ok(store)
    }

    async fn load_script(&self, script: &Script) -> Result<String, StoreError> {
        let sha: String = timed(self.pool.next().script_load(script.src)).await?;
        *lock(&script.sha) = sha.clone();
        Ok(sha)
    }

    /// `EVALSHA`, loading the script again when Redis lost it (restart without persistence).
    async fn eval(
        &self,
        script: &Script,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<Value, StoreError> {
        let sha = lock(&script.sha).clone();
        let client = self.pool.next();
        let first = tokio::time::timeout(
            COMMAND_TIMEOUT,
            client.evalsha::<Value, _, _, _>(sha, keys.clone(), args.clone()),
        )
        .await;
        match first {
            Ok(Err(e)) if e.details().contains("NOSCRIPT") => {
                let sha = self.load_script(script).await?;
                timed(client.evalsha::<Value, _, _, _>(sha, keys, args)).await
            }
            Ok(r) => r.map_err(unavailable),
            Err(_) => Err(StoreError::Unavailable("redis timed out".into())),
        }
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn as_u32(v: &Value) -> u32 {
    v.as_i64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0)
}

#[async_trait::async_trait]
impl SessionStore for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let _: Value = timed(self.pool.next().ping(None)).await?;
        Ok(())
    }

    async fn create(&self, id: &SessionId, state: &PlaybackState) -> Result<bool, StoreError> {
        let json = encode_state(state)?;
        let reply: Option<String> = timed(self.pool.next().set(
            state_key(id),
            json,
            Some(Expiration::PX(self.unjoined_ttl_ms)),
            Some(SetOptions::NX),
            false,
        ))
        .await?;
        Ok(reply.is_some())
    }

    async fn load(&self, id: &SessionId) -> Result<Option<PlaybackState>, StoreError> {
        let json: Option<String> = timed(self.pool.next().get(state_key(id))).await?;
        json.as_deref().map(decode_state).transpose()
    }

    async fn compare_and_set(
        &self,
        id: &SessionId,
        expected_revision: u64,
        next: &PlaybackState,
        cause: Option<Cause>,
    ) -> Result<CasOutcome, StoreError> {
        let reply = self
            .eval(
                &self.cas,
                vec![state_key(id), budget_key(id)],
                vec![
                    expected_revision.to_string(),
                    encode_state(next)?,
                    self.ttl_ms.to_string(),
                    channel(id),
                    state_event(next, cause),
                    format!("{:.3}", next.updated_at),
                    if self.change_limit.enabled() {
                        self.change_limit.per_sec.to_string()
                    } else {
                        "0".into()
                    },
                    self.change_limit.burst.max(1).to_string(),
                ],
            )
            .await?;
        let Value::Array(items) = reply else {
            return Err(StoreError::Unavailable(format!(
                "unexpected CAS reply {reply:?}"
            )));
        };
        match items.first().and_then(Value::as_i64) {
            Some(0) => Ok(CasOutcome::Missing),
            Some(1) => {
                let cur = items.get(1).and_then(Value::as_string).unwrap_or_default();
                Ok(CasOutcome::Conflict(decode_state(&cur)?))
            }
            Some(2) => Ok(CasOutcome::Applied),
            Some(4) => Ok(CasOutcome::RateLimited),
            _ => Err(StoreError::Corrupt("stored state is not JSON".into())),
        }
    }

    async fn touch(&self, id: &SessionId) -> Result<bool, StoreError> {
        let n: i64 = timed(self.pool.next().pexpire(state_key(id), self.ttl_ms, None)).await?;
        Ok(n == 1)
    }

    async fn report_presence(
        &self,
        id: &SessionId,
        instance: &str,
        count: u32,
        seq: u64,
    ) -> Result<u32, StoreError> {
        let reply = self
            .eval(
                &self.presence,
                vec![presence_key(id), state_key(id)],
                vec![
                    instance.to_owned(),
                    count.to_string(),
                    seq.to_string(),
                    PRESENCE_STALE_MS.to_string(),
                    self.ttl_ms.to_string(),
                    channel(id),
                ],
            )
            .await?;
        Ok(as_u32(&reply))
    }

    async fn viewers(&self, id: &SessionId) -> Result<u32, StoreError> {
        let reply = self
            .eval(
                &self.viewers,
                vec![presence_key(id)],
                vec![PRESENCE_STALE_MS.to_string()],
            )
            .await?;
        Ok(as_u32(&reply))
    }

    async fn subscribe(&self, id: &SessionId) -> Result<Subscription, StoreError> {
        let _ops = self.sub_ops.lock().await;
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        let ch = channel(id);
        let fresh = lock(&self.routes).insert(ch.clone(), (token, tx)).is_none();
        if fresh {
            if let Err(e) = timed(self.subscriber.subscribe(ch.clone())).await {
                lock(&self.routes).remove(&ch);
                return Err(e);
            }
        }
        Ok(Subscription { token, rx })
    }

    async fn unsubscribe(&self, id: &SessionId, token: u64) {
        let _ops = self.sub_ops.lock().await;
        let ch = channel(id);
        let removed = {
            let mut routes = lock(&self.routes);
            if routes.get(&ch).is_some_and(|(t, _)| *t == token) {
                routes.remove(&ch);
                true
            } else {
                false
            }
        };
        if removed {
            if let Err(e) = timed(self.subscriber.unsubscribe(ch)).await {
                tracing::warn!(error = %e, session = %id, "redis unsubscribe failed");
            }
        }
    }

    async fn reference_time_ms(&self) -> Result<Option<f64>, StoreError> {
        let cmd = CustomCommand::new_static("TIME", ClusterHash::Random, false);
        let parts: Vec<String> = timed(self.pool.next().custom(cmd, Vec::<Value>::new())).await?;
        let secs: f64 = parts
            .first()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| StoreError::Unavailable("bad TIME reply".into()))?;
        let micros: f64 = parts
            .get(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| StoreError::Unavailable("bad TIME reply".into()))?;
        Ok(Some(secs * 1000.0 + micros / 1000.0))
    }
}
