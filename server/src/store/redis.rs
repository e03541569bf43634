//! The Redis store (fred 10): a client pool for commands and one [`SubscriberClient`] per
//! instance for pub/sub.
//!
//! - State changes run one Lua script (`EVALSHA`; on `NOSCRIPT`, after a Redis restart or on a
//!   promoted replica, it is sent once with `EVAL`) that checks the revision,
//!   writes with the sliding TTL and `SPUBLISH`es the event:
//!   concurrent writers on any number of instances are totally ordered by Redis.
//! - Presence is a hash of per-instance counts updated and summed by another script, which
//!   publishes the total in the same atomic step (so presence events are ordered too).
//! - Sharded pub/sub on one Redis and on a Redis Cluster alike (one code path; Redis 7+; a
//!   `redis-cluster://` URL selects fred's clustered config): the channel carries the session's
//!   hash tag, so state, scripts and channel share one slot.
//! - One `SSUBSCRIBE` per session per instance, while the instance has viewers of it. A
//!   dispatcher task routes messages by channel; after a reconnect it resubscribes and tells
//!   every subscribed session to resync (messages published while disconnected are lost).
//! - **Subscription barrier.** fred answers `SUBSCRIBE` before Redis has even read it, so a
//!   subscription only counts once a `PING` sent after it *on the subscriber connection* (in a
//!   cluster: the connection to the primary of the channel's slot) has
//!   been answered (Redis runs one connection's commands in order; in subscribed RESP2 mode the
//!   answer is `["pong", ""]`). [`SessionStore::subscribe`] returns after that barrier, and
//!   after a reconnect the resync is sent only after the resubscription's barrier, so a state
//!   read afterwards plus the events delivered afterwards miss nothing.
//! - (Un)subscribing is serialised per channel only (never one lock over all sessions held
//!   across Redis I/O), so a join flood in one session does not stall joins to others.
//! - The subscriber connection is pinged every [`SUBSCRIBER_PING`]; a connection that does not
//!   answer within [`SUBSCRIBER_DEAD`] (half-open, Redis frozen) is dropped and re-established.
//! - Every command has a timeout: when Redis is unreachable, operations fail with
//!   [`StoreError::Unavailable`] within [`COMMAND_TIMEOUT`] instead of queueing. The CAS script
//!   also carries a deadline in Redis' own clock ([`CAS_BUDGET`] after it was sent) and refuses
//!   to run past it, so a change reported as failed is never applied later by a queued script.

use super::{
    channel, decode_state, encode_state, presence_key, state_key, CasOutcome, Delivery,
    SessionStore, StoreError, Subscription, PRESENCE_STALE_MS,
};
use super::{log_budget_key, log_key, AppendOutcome, ChangeLimit, Log, LogLimits};
use crate::metrics::StoreMetrics;
use crate::sync_util::lock;
use fred::clients::SubscriberClient;
use fred::interfaces::ClusterInterface;
use fred::prelude::{
    Builder, ClientLike, Config, EventInterface, Expiration, KeysInterface, LuaInterface, Pool,
    PubsubInterface, ReconnectPolicy, SetOptions, Value,
};
use fred::types::config::{Options, Server};
use fred::types::{ClusterHash, CustomCommand, ExpireOptions};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio::task::JoinHandle;
use watchparty_core::ids::SessionId;
use watchparty_core::playback::PlaybackState;

mod permanent;

/// Upper bound on any single Redis operation.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// A CAS script that has not started within this time after it was sent (in Redis' clock)
/// refuses to run. Shorter than [`COMMAND_TIMEOUT`], so a script that did run has left room
/// for its reply to arrive before the caller gives up and reports `unavailable`.
pub const CAS_BUDGET: Duration = Duration::from_millis(1_500);
/// How often the subscriber connection is pinged.
pub const SUBSCRIBER_PING: Duration = Duration::from_secs(1);
/// A subscriber connection that has not answered a ping for this long is re-established.
pub const SUBSCRIBER_DEAD: Duration = Duration::from_secs(3);
/// Channels per `SUBSCRIBE` when resubscribing after a reconnect.
const RESUBSCRIBE_CHUNK: usize = 500;
/// Connections in the command pool.
const POOL_SIZE: usize = 4;
/// Published messages the subscriber buffers before the dispatcher must catch up (beyond
/// it, subscribed sessions resync from the store).
const SUBSCRIBER_QUEUE: usize = 4096;

/// A Lua function shared by the scripts that spend a per-session budget: a token bucket in the
/// hash `key` (`t` tokens, `at` ms), `rate` per second up to `burst`, timed by `now` (ms, the
/// shared server clock); `true` when a token was taken. (A macro, so that `concat!` can put it
/// in front of each script at compile time.)
macro_rules! spend_lua {
    () => {
        r#"
local function spend(key, now, rate, burst, ttl)
  local b = redis.call('HMGET', key, 't', 'at')
  local tokens, at = tonumber(b[1]) or burst, tonumber(b[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) / 1000 * rate)
  if tokens < 1 then return false end
  redis.call('HSET', key, 't', tostring(tokens - 1), 'at', tostring(math.max(now, at)))
  if tonumber(ttl) > 0 then redis.call('PEXPIRE', key, ttl) else redis.call('PERSIST', key) end
  return true
end
"#
    };
}

/// Compare-and-set: KEYS = [state, budget, the session's other keys (presence, logs, their
/// budgets)]; ARGV = [expected revision, new state JSON, ttl ms (0: a permanent room, kept
/// without expiry), channel, event JSON, deadline (Redis ms), now ms (the change's
/// `updated_at`), changes per s, burst]. A permanent room's keys all lose their expiry; a room
/// made temporary again gets it back on all of them. Returns `{0}` missing, `{1, current}` conflict, `{2, subscribers reached}` applied,
/// `{3}` unreadable
/// state, `{4, redis ms}` refused: started after its deadline, `{5}` the session's change
/// budget is spent (a token bucket in the budget hash, skipped when the rate is 0).
const CAS_LUA: &str = concat!(
    spend_lua!(),
    r#"
local t = redis.call('TIME')
local rnow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if rnow > tonumber(ARGV[6]) then return {4, rnow} end
local cur = redis.call('GET', KEYS[1])
if not cur then return {0} end
local ok, st = pcall(cjson.decode, cur)
if not ok or type(st) ~= 'table' then return {3} end
if tonumber(st['revision']) ~= tonumber(ARGV[1]) then return {1, cur} end
local rate = tonumber(ARGV[8])
if rate > 0 and not spend(KEYS[2], tonumber(ARGV[7]), rate, tonumber(ARGV[9]), ARGV[3]) then
  return {5}
end
local ttl = tonumber(ARGV[3])
local was = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
  if was == -1 then
    for i = 2, #KEYS do redis.call('PEXPIRE', KEYS[i], ttl) end
  end
else
  redis.call('SET', KEYS[1], ARGV[2])
  if was ~= -1 then
    for i = 2, #KEYS do redis.call('PERSIST', KEYS[i]) end
  end
end
local heard = redis.call('SPUBLISH', ARGV[4], ARGV[5])
return {2, heard}
"#
);

/// Presence report: KEYS = [presence, state]; ARGV = [instance, count, seq, stale ms, ttl ms,
/// channel, roster part JSON]. Stores "count:time:seq:part" unless a higher seq is stored,
/// drops stale entries, slides the TTLs while the instance has viewers, publishes the total
/// with every live instance's part (`{"type":"presence","viewers":N,"parts":[..]}`) and returns
/// `{total, subscribers reached}`.
const PRESENCE_LUA: &str = r#"
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local seq = tonumber(ARGV[3])
local prev = redis.call('HGET', KEYS[1], ARGV[1])
local newer = true
if prev then
  local pseq = tonumber(string.match(prev, '^%d+:%d+:(%d+)'))
  if pseq and pseq >= seq then newer = false end
end
if newer then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. string.format('%d', now) .. ':' .. ARGV[3] .. ':' .. (ARGV[7] or ''))
end
local all = redis.call('HGETALL', KEYS[1])
local total = 0
local parts = {}
for i = 1, #all, 2 do
  local c, ts = string.match(all[i + 1], '^(%d+):(%d+):')
  if c and now - tonumber(ts) <= tonumber(ARGV[4]) then
    total = total + tonumber(c)
    local part = string.match(all[i + 1], '^%d+:%d+:%d+:(.+)$')
    if part then parts[#parts + 1] = part end
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
if redis.call('PTTL', KEYS[2]) == -1 then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
end
local heard = redis.call('SPUBLISH', ARGV[6], '{"type":"presence","viewers":' .. string.format('%d', total) .. ',"parts":[' .. table.concat(parts, ',') .. ']}')
return {total, heard}
"#;

/// Append to a session's log (chat lines, reactions): KEYS = [state, log, budget]; ARGV =
/// [event, keep, now ms, per s, burst, channel, deadline (Redis ms), ttl ms]. Returns `{0}`
/// missing, `{2}` appended and published, `{4}` refused past its deadline, `{5}` the log's
/// budget is spent. The log lives as long as the state did when it was last appended to (a
/// permanent room's state has no expiry, and then neither has the log).
const APPEND_LUA: &str = concat!(
    spend_lua!(),
    r#"
local t = redis.call('TIME')
local rnow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if rnow > tonumber(ARGV[7]) then return {4} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return {0} end
if ttl < 0 then ttl = 0 end
local rate = tonumber(ARGV[4])
if rate > 0 and not spend(KEYS[3], tonumber(ARGV[3]), rate, tonumber(ARGV[5]), ttl) then
  return {5}
end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) else redis.call('PERSIST', KEYS[2]) end
redis.call('SPUBLISH', ARGV[6], ARGV[1])
return {2}
"#
);

/// Remove one log entry: KEYS = [log]; ARGV = [prefix, event, channel]. Removes the first entry
/// starting with the prefix and publishes the event; returns 1, or 0 when there is none.
const REMOVE_LUA: &str = r#"
local all = redis.call('LRANGE', KEYS[1], 0, -1)
for _, e in ipairs(all) do
  if string.sub(e, 1, #ARGV[1]) == ARGV[1] then
    redis.call('LREM', KEYS[1], 1, e)
    redis.call('SPUBLISH', ARGV[3], ARGV[2])
    return 1
  end
end
return 0
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
    /// The operation name in `watchparty_redis_seconds`.
    name: &'static str,
    src: &'static str,
    sha: Mutex<String>,
}

impl Script {
    fn new(name: &'static str, src: &'static str) -> Self {
        Self {
            name,
            src,
            sha: Mutex::new(String::new()),
        }
    }
}

type Routes = HashMap<String, (u64, mpsc::UnboundedSender<Delivery>)>;
/// One async lock per channel with (un)subscriptions in progress.
type ChannelLocks = Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>;

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
    append: Script,
    remove: Script,
    routes: Arc<Mutex<Routes>>,
    /// Serialises SUBSCRIBE/UNSUBSCRIBE per channel, so a late unsubscribe never undoes a
    /// newer subscribe, without making other sessions wait.
    channel_locks: Arc<ChannelLocks>,
    next_token: AtomicU64,
    /// This host's offset to Redis `TIME` (ms), for the CAS deadline.
    redis_clock: crate::clock::Clock,
    tasks: Vec<JoinHandle<()>>,
    /// Command and script latency.
    metrics: StoreMetrics,
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

/// The command pool and the subscriber client for `url` (not connected yet).
fn clients(url: &str) -> Result<(Pool, SubscriberClient), StoreError> {
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
    // A ping left unanswered this long closes the subscriber connection (fred's check runs
    // only while a non-pubsub command waits, which the heartbeat provides: see
    // `subscriber_heartbeat`).
    builder.with_connection_config(|c| {
        c.connection_timeout = COMMAND_TIMEOUT;
        c.internal_command_timeout = COMMAND_TIMEOUT;
        c.unresponsive.max_timeout = Some(SUBSCRIBER_DEAD);
        c.unresponsive.interval = Duration::from_millis(500);
    });
    let subscriber = builder.build_subscriber_client().map_err(unavailable)?;
    Ok((pool, subscriber))
}

/// Routes published messages to the subscribed sessions (a lagging subscriber resyncs them
/// all).
fn route_messages(subscriber: &SubscriberClient, routes: Arc<Mutex<Routes>>) -> JoinHandle<()> {
    let mut messages = subscriber.message_rx();
    tokio::spawn(async move {
        loop {
            match messages.recv().await {
                Ok(msg) => {
                    let Some(text) = msg.value.as_string() else {
                        continue;
                    };
                    if let Some((_, tx)) = lock(&routes).get(&*msg.channel) {
                        let _ = tx.send(Delivery::Message(text));
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "redis subscriber lagged; resyncing sessions");
                    send_to_all(&routes, Delivery::Resync);
                }
                Err(RecvError::Closed) => break,
            }
        }
    })
}

/// After a reconnect: subscribe again, wait for the barrier, then resync (events published
/// while disconnected were lost).
fn resubscribe_after_reconnects(
    subscriber: &SubscriberClient,
    routes: Arc<Mutex<Routes>>,
    channel_locks: Arc<ChannelLocks>,
) -> JoinHandle<()> {
    let mut reconnects = subscriber.reconnect_rx();
    let sub = subscriber.clone();
    tokio::spawn(async move {
        while let Ok(_) | Err(RecvError::Lagged(_)) = reconnects.recv().await {
            tracing::info!("redis subscriber reconnected; resubscribing");
            while let Err(e) = resubscribe(&sub, &routes, &channel_locks).await {
                tracing::warn!(error = %e, "redis resubscribe failed; retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            send_to_all(&routes, Delivery::Resync);
        }
    })
}

/// Heartbeat: a subscriber connection that stops answering (half-open TCP, a frozen Redis) is
/// replaced instead of silently delivering nothing.
fn subscriber_heartbeat(sub: SubscriberClient) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SUBSCRIBER_PING);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let answered = tokio::time::timeout(SUBSCRIBER_DEAD, barrier_all(&sub)).await;
            if !matches!(answered, Ok(Ok(_))) && sub.is_connected() {
                tracing::warn!("redis subscriber connection unresponsive; reconnecting");
                let _ = sub.force_reconnection().await;
            }
        }
    })
}

fn send_to_all(routes: &Mutex<Routes>, what: Delivery) {
    for (_, tx) in lock(routes).values() {
        let _ = tx.send(what.clone());
    }
}

/// Runs `op` holding `channel`'s lock (and only that one), then forgets an unused lock.
async fn with_channel_lock<T>(
    locks: &ChannelLocks,
    channel: &str,
    op: impl Future<Output = T>,
) -> T {
    let l = lock(locks).entry(channel.to_owned()).or_default().clone();
    let out = {
        let _held = l.lock().await;
        op.await
    };
    let mut map = lock(locks);
    // Ours plus the map's: nobody else waits for it.
    if Arc::strong_count(&l) == 2 {
        map.remove(channel);
    }
    out
}

/// The primary that serves `channel`'s slot (Redis Cluster), from fred's routing table.
fn node_of(sub: &SubscriberClient, channel: &str) -> Option<Server> {
    let slot = fred::util::redis_keyslot(channel.as_bytes());
    sub.cached_cluster_state()?.get_server(slot).cloned()
}

/// `PING` on the subscriber's connection to `node` (any connection when `None`: one Redis).
async fn ping_on(sub: &SubscriberClient, node: Option<Server>) -> Result<Value, StoreError> {
    match node {
        Some(node) => {
            let options = Options {
                cluster_node: Some(node),
                ..Default::default()
            };
            timed(sub.with_options(&options).ping(None)).await
        }
        None => timed(sub.ping(None)).await,
    }
}

/// The subscription barrier: a `PING` on the subscriber connection that carries `channel`'s
/// `SSUBSCRIBE` (in a cluster: the connection to the primary of its slot), answered only after
/// every command sent before it on that connection has been executed.
async fn barrier(sub: &SubscriberClient, channel: &str) -> Result<(), StoreError> {
    let node = if sub.is_clustered() {
        node_of(sub, channel)
    } else {
        None
    };
    ping_on(sub, node).await?;
    Ok(())
}

/// The barrier on every subscriber connection (each cluster primary, or the one Redis).
async fn barrier_all(sub: &SubscriberClient) -> Result<(), StoreError> {
    let nodes = if sub.is_clustered() {
        sub.cached_cluster_state()
            .map(|s| s.unique_primary_nodes())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    if nodes.is_empty() {
        ping_on(sub, None).await?;
    }
    for node in nodes {
        ping_on(sub, Some(node)).await?;
    }
    Ok(())
}

/// After a reconnect: subscribes every routed channel again (never a bare `SUBSCRIBE` or
/// `PSUBSCRIBE`), waits for the barrier, and drops Redis subscriptions whose route went away
/// meanwhile.
async fn resubscribe(
    sub: &SubscriberClient,
    routes: &Mutex<Routes>,
    locks: &ChannelLocks,
) -> Result<(), StoreError> {
    let channels: Vec<String> = lock(routes).keys().cloned().collect();
    // One `SSUBSCRIBE` may only name channels of one slot (in a cluster).
    let mut by_slot: HashMap<u16, Vec<String>> = HashMap::new();
    for ch in &channels {
        by_slot
            .entry(fred::util::redis_keyslot(ch.as_bytes()))
            .or_default()
            .push(ch.clone());
    }
    for group in by_slot.into_values() {
        for chunk in group.chunks(RESUBSCRIBE_CHUNK) {
            timed(sub.ssubscribe(chunk.to_vec())).await?;
        }
    }
    barrier_all(sub).await?;
    for ch in channels {
        if lock(routes).contains_key(&ch) {
            continue;
        }
        with_channel_lock(locks, &ch, async {
            if !lock(routes).contains_key(&ch) {
                let _ = timed(sub.sunsubscribe(ch.clone())).await;
            }
        })
        .await;
    }
    Ok(())
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
        let (pool, subscriber) = clients(url)?;
        timed(pool.init()).await?;
        timed(subscriber.init()).await?;

        let routes: Arc<Mutex<Routes>> = Arc::default();
        let channel_locks: Arc<ChannelLocks> = Arc::default();
        let tasks = vec![
            route_messages(&subscriber, routes.clone()),
            resubscribe_after_reconnects(&subscriber, routes.clone(), channel_locks.clone()),
            subscriber_heartbeat(subscriber.clone()),
        ];

        let store = Self {
            pool,
            subscriber,
            ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
            change_limit: ChangeLimit::UNLIMITED,
            unjoined_ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
            cas: Script::new("cas", CAS_LUA),
            presence: Script::new("presence", PRESENCE_LUA),
            viewers: Script::new("viewers", VIEWERS_LUA),
            append: Script::new("append", APPEND_LUA),
            remove: Script::new("remove", REMOVE_LUA),
            routes,
            channel_locks,
            next_token: AtomicU64::new(1),
            redis_clock: crate::clock::Clock::new(),
            tasks,
            metrics: StoreMetrics::default(),
        };
        store.reference_time_ms().await?;
        for s in [
            &store.cas,
            &store.presence,
            &store.viewers,
            &store.append,
            &store.remove,
        ] {
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
        let started = Instant::now();
        let result = self.eval_untimed(script, keys, args).await;
        self.metrics.observe(script.name, started);
        result
    }

    async fn eval_untimed(
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
                // `EVAL` runs it on the node of the keys (in a cluster, possibly a replica
                // just promoted) and caches it there; the SHA-1 stays the same.
                timed(client.eval::<Value, _, _, _>(script.src, keys, args)).await
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

    fn metrics(&self) -> Option<&StoreMetrics> {
        Some(&self.metrics)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let started = Instant::now();
        let _: Value = timed(self.pool.next().ping(None)).await?;
        self.metrics.observe("ping", started);
        Ok(())
    }

    async fn create(&self, id: &SessionId, state: &PlaybackState) -> Result<bool, StoreError> {
        let json = encode_state(state)?;
        let started = Instant::now();
        let reply: Option<String> = timed(self.pool.next().set(
            state_key(id),
            json,
            Some(Expiration::PX(self.unjoined_ttl_ms)),
            Some(SetOptions::NX),
            false,
        ))
        .await?;
        self.metrics.observe("create", started);
        Ok(reply.is_some())
    }

    async fn load(&self, id: &SessionId) -> Result<Option<PlaybackState>, StoreError> {
        let started = Instant::now();
        let json: Option<String> = timed(self.pool.next().get(state_key(id))).await?;
        self.metrics.observe("load", started);
        json.as_deref().map(decode_state).transpose()
    }

    async fn compare_and_set_event(
        &self,
        id: &SessionId,
        expected_revision: u64,
        next: &PlaybackState,
        event: &str,
    ) -> Result<CasOutcome, StoreError> {
        // The event carries the state's JSON: store that text instead of serialising again.
        let state = match super::state_of_event(event) {
            Some(json) => json.to_owned(),
            None => encode_state(next)?,
        };
        for attempt in 0..2 {
            let sent = self.redis_clock.local_ms();
            let deadline = self.redis_clock.now_ms() + CAS_BUDGET.as_secs_f64() * 1000.0;
            let reply = self
                .eval(
                    &self.cas,
                    permanent::session_keys(id),
                    vec![
                        expected_revision.to_string(),
                        state.clone(),
                        if next.permanent.is_some() {
                            "0".to_owned()
                        } else {
                            self.ttl_ms.to_string()
                        },
                        channel(id),
                        event.to_owned(),
                        format!("{deadline:.0}"),
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
            let received = self.redis_clock.local_ms();
            let Value::Array(items) = reply else {
                return Err(StoreError::Unavailable(format!(
                    "unexpected CAS reply {reply:?}"
                )));
            };
            return match items.first().and_then(Value::as_i64) {
                Some(0) => Ok(CasOutcome::Missing),
                Some(1) => {
                    let cur = items.get(1).and_then(Value::as_string).unwrap_or_default();
                    Ok(CasOutcome::Conflict(Box::new(decode_state(&cur)?)))
                }
                Some(2) => {
                    self.heal_if_deaf(id, items.get(1)).await;
                    Ok(CasOutcome::Applied)
                }
                Some(5) => Ok(CasOutcome::RateLimited),
                Some(4) => {
                    // Refused: it started after its deadline. If the answer came back quickly,
                    // our idea of Redis' clock was wrong (Redis' clock stepped): learn the new
                    // offset from the script's own reading and try once more.
                    let quick = received - sent < CAS_BUDGET.as_secs_f64() * 1000.0 / 4.0;
                    let redis_now = items.get(1).and_then(Value::as_f64);
                    match redis_now {
                        Some(remote) if quick && attempt == 0 => {
                            let probe = crate::clock::Probe {
                                sent,
                                remote,
                                received,
                            };
                            self.redis_clock.set_offset_ms(probe.offset());
                            continue;
                        }
                        _ => Err(StoreError::Unavailable(
                            "redis answered too late; the change was not applied".into(),
                        )),
                    }
                }
                _ => Err(StoreError::Corrupt("stored state is not JSON".into())),
            };
        }
        Err(StoreError::Unavailable(
            "redis refused the change after its deadline".into(),
        ))
    }

    async fn append(
        &self,
        id: &SessionId,
        log: Log,
        event: &str,
        now_ms: f64,
        limits: LogLimits,
    ) -> Result<AppendOutcome, StoreError> {
        let deadline = self.redis_clock.now_ms() + CAS_BUDGET.as_secs_f64() * 1000.0;
        let reply = self
            .eval(
                &self.append,
                vec![state_key(id), log_key(id, log), log_budget_key(id, log)],
                vec![
                    event.to_owned(),
                    limits.keep.max(1).to_string(),
                    format!("{now_ms:.3}"),
                    if limits.rate.enabled() {
                        limits.rate.per_sec.to_string()
                    } else {
                        "0".into()
                    },
                    limits.rate.burst.max(1).to_string(),
                    channel(id),
                    format!("{deadline:.0}"),
                    self.ttl_ms.to_string(),
                ],
            )
            .await?;
        let Value::Array(items) = reply else {
            return Err(StoreError::Unavailable(format!(
                "unexpected append reply {reply:?}"
            )));
        };
        match items.first().and_then(Value::as_i64) {
            Some(0) => Ok(AppendOutcome::Missing),
            Some(2) => Ok(AppendOutcome::Appended),
            Some(5) => Ok(AppendOutcome::RateLimited),
            Some(4) => Err(StoreError::Unavailable(
                "redis was too slow; nothing was stored".into(),
            )),
            _ => Err(StoreError::Unavailable(format!(
                "unexpected append reply {items:?}"
            ))),
        }
    }

    async fn remove_entry(
        &self,
        id: &SessionId,
        log: Log,
        prefix: &str,
        event: &str,
    ) -> Result<bool, StoreError> {
        let reply = self
            .eval(
                &self.remove,
                vec![log_key(id, log)],
                vec![prefix.to_owned(), event.to_owned(), channel(id)],
            )
            .await?;
        Ok(reply.as_i64() == Some(1))
    }

    async fn log(&self, id: &SessionId, log: Log) -> Result<Vec<String>, StoreError> {
        let started = Instant::now();
        // (LRANGE as a custom command: fred's list interface is not compiled in for one call.)
        let cmd = CustomCommand::new_static("LRANGE", ClusterHash::FirstKey, false);
        let items: Vec<String> = timed(
            self.pool
                .next()
                .custom(cmd, vec![log_key(id, log), "0".to_owned(), "-1".to_owned()]),
        )
        .await?;
        self.metrics.observe("log", started);
        Ok(items)
    }

    async fn touch(&self, id: &SessionId) -> Result<bool, StoreError> {
        let started = Instant::now();
        // XX: only a key that has an expiry (a permanent room's state has none and keeps it so).
        let client = self.pool.next();
        let n: i64 =
            timed(client.pexpire(state_key(id), self.ttl_ms, Some(ExpireOptions::XX))).await?;
        let exists = n == 1 || timed(client.exists::<i64, _>(state_key(id))).await? == 1;
        self.metrics.observe("touch", started);
        Ok(exists)
    }

    async fn report_presence(
        &self,
        id: &SessionId,
        instance: &str,
        count: u32,
        seq: u64,
        roster: &str,
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
                    roster.to_owned(),
                ],
            )
            .await?;
        // `{total, subscribers reached}`; the hub checks that its own subscription heard the
        // event (see `hub::ECHO_WAIT`).
        match reply {
            Value::Array(items) => Ok(items.first().map(as_u32).unwrap_or(0)),
            other => Ok(as_u32(&other)),
        }
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
        let ch = channel(id);
        with_channel_lock(&self.channel_locks, &ch, async {
            let token = self.next_token.fetch_add(1, Ordering::Relaxed);
            let (tx, rx) = mpsc::unbounded_channel();
            let fresh = lock(&self.routes).insert(ch.clone(), (token, tx)).is_none();
            if fresh {
                let confirmed = async {
                    timed(self.subscriber.ssubscribe(ch.clone())).await?;
                    barrier(&self.subscriber, &ch).await
                };
                if let Err(e) = confirmed.await {
                    let mut routes = lock(&self.routes);
                    if routes.get(&ch).is_some_and(|(t, _)| *t == token) {
                        routes.remove(&ch);
                    }
                    return Err(e);
                }
            }
            Ok(Subscription { token, rx })
        })
        .await
    }

    async fn resubscribe(&self, id: &SessionId) -> Result<(), StoreError> {
        self.resubscribe_channel(id).await
    }

    async fn unsubscribe(&self, id: &SessionId, token: u64) {
        let ch = channel(id);
        with_channel_lock(&self.channel_locks, &ch.clone(), async move {
            self.unsubscribe_locked(id, &ch, token).await;
        })
        .await;
    }

    async fn reference_time_ms(&self) -> Result<Option<f64>, StoreError> {
        let sent = self.redis_clock.local_ms();
        let remote = self.redis_time_ms().await?;
        let received = self.redis_clock.local_ms();
        let probe = crate::clock::Probe {
            sent,
            remote,
            received,
        };
        self.redis_clock.set_offset_ms(probe.offset());
        Ok(Some(remote))
    }

    async fn reserve_permanent(
        &self,
        entry: &super::permanent::IndexEntry,
        caps: super::permanent::PermanentCaps,
    ) -> Result<super::permanent::Reserve, StoreError> {
        self.perm_reserve(entry, caps).await
    }

    async fn release_permanent(
        &self,
        id: &SessionId,
        at_ms: Option<u64>,
    ) -> Result<bool, StoreError> {
        self.perm_release(id, at_ms).await
    }

    async fn permanent_rooms(&self) -> Result<Vec<super::permanent::IndexEntry>, StoreError> {
        self.perm_rooms().await
    }

    async fn resolve_alias(
        &self,
        alias: &watchparty_core::permanent::Alias,
    ) -> Result<Option<SessionId>, StoreError> {
        self.perm_resolve(alias).await
    }

    async fn delete_session(&self, id: &SessionId) -> Result<bool, StoreError> {
        self.perm_delete(id).await
    }
}

impl RedisStore {
    /// `heard` is what `SPUBLISH` of this instance's own change returned. This instance has a
    /// route for the session (a viewer sent the change), so its own subscriber connection should
    /// have been counted; 0 means Redis no longer delivers the channel to it — in a cluster, the
    /// session's slot moved to another primary (Redis drops the shard subscriptions of a moved
    /// slot, and fred drops the `sunsubscribe` push that says so). Subscribes again and makes
    /// the hub catch up (`Resync`). Other instances notice on their own (their presence report
    /// does not come back: `hub::ECHO_WAIT`).
    async fn heal_if_deaf(&self, id: &SessionId, heard: Option<&Value>) {
        if heard.and_then(Value::as_i64) != Some(0) {
            return;
        }
        let route = lock(&self.routes)
            .get(&channel(id))
            .map(|(_, tx)| tx.clone());
        if let Some(tx) = route {
            if self.resubscribe_channel(id).await.is_ok() {
                let _ = tx.send(Delivery::Resync);
            }
        }
    }

    /// `SSUBSCRIBE` again (on the slot's current owner: the subscriber's routing table is
    /// refreshed first) and wait for the barrier; only while the session has a route.
    async fn resubscribe_channel(&self, id: &SessionId) -> Result<(), StoreError> {
        let ch = channel(id);
        with_channel_lock(&self.channel_locks, &ch, async {
            if !lock(&self.routes).contains_key(&ch) {
                return Ok(());
            }
            tracing::warn!(session = %id, "this instance's subscription no longer hears the session (slot moved?); subscribing again");
            let started = Instant::now();
            if self.subscriber.is_clustered() {
                // The subscriber's routing table may still name the old owner.
                timed(self.subscriber.sync_cluster()).await?;
            }
            timed(self.subscriber.ssubscribe(ch.clone())).await?;
            barrier(&self.subscriber, &ch).await?;
            self.metrics.observe("resubscribe", started);
            Ok(())
        })
        .await
    }

    async fn unsubscribe_locked(&self, id: &SessionId, ch: &str, token: u64) {
        let ch = ch.to_owned();
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
            if let Err(e) = timed(self.subscriber.sunsubscribe(ch)).await {
                tracing::warn!(error = %e, session = %id, "redis unsubscribe failed");
            }
        }
    }

    async fn redis_time_ms(&self) -> Result<f64, StoreError> {
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
        Ok(secs * 1000.0 + micros / 1000.0)
    }
}
