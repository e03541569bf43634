//! The Redis side of permanent rooms (see [`crate::store::permanent`] for the layout and the
//! order of the steps): the index scripts, which touch only the index's slot (`{wp-perm}`),
//! and the deletion of a session's keys, which touches only the session's slot.
//!
//! These scripts run rarely (a host keeps, releases or ends a room), so they are sent with
//! `EVAL` each time instead of being loaded and cached like the hot ones.

use super::{timed, RedisStore};
use crate::store::permanent::{
    IndexEntry, PermanentCaps, Reserve, END_EVENT, NAMES_KEY, ROOMS_KEY,
};
use crate::store::{
    budget_key, channel, log_budget_key, log_key, presence_key, state_key, Log, StoreError,
};
use fred::prelude::{ClientLike, LuaInterface, Value};
use fred::types::{ClusterHash, CustomCommand};
use std::time::Instant;
use watchparty_core::ids::SessionId;
use watchparty_core::permanent::Alias;

/// Reserve: KEYS = [rooms, names]; ARGV = [id, kid, alias or '', entry text, per-host cap,
/// global cap]. Returns 0 reserved, 1 name taken, 2 the host key's cap, 3 the global cap.
const RESERVE_LUA: &str = r#"
local id, kid, alias = ARGV[1], ARGV[2], ARGV[3]
if alias ~= '' then
  local owner = redis.call('HGET', KEYS[2], alias)
  if owner and owner ~= id then return 1 end
end
local prev = redis.call('HGET', KEYS[1], id)
if not prev and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[6]) then return 3 end
if not prev or string.sub(prev, 1, #kid + 1) ~= kid .. '|' then
  local n = 0
  for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
    if string.sub(v, 1, #kid + 1) == kid .. '|' then n = n + 1 end
  end
  if n >= tonumber(ARGV[5]) then return 2 end
end
if prev then
  local old = string.match(prev, '^[^|]*|([^|]*)|')
  if old and old ~= '' and redis.call('HGET', KEYS[2], old) == id then
    redis.call('HDEL', KEYS[2], old)
  end
end
if alias ~= '' then redis.call('HSET', KEYS[2], alias, id) end
redis.call('HSET', KEYS[1], id, ARGV[4])
return 0
"#;

/// Release: KEYS = [rooms, names]; ARGV = [id, at ms or '']. Returns 1 removed, 0 not there
/// (or rewritten since `at`).
const RELEASE_LUA: &str = r#"
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if not prev then return 0 end
local alias, at = string.match(prev, '^[^|]*|([^|]*)|(%d+)$')
if ARGV[2] ~= '' and at ~= ARGV[2] then return 0 end
if alias and alias ~= '' and redis.call('HGET', KEYS[2], alias) == ARGV[1] then
  redis.call('HDEL', KEYS[2], alias)
end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
"#;

/// Delete a session: KEYS = [state, the session's other keys]; ARGV = [channel, event].
/// Returns 1 when the state existed (and publishes the event), else 0.
const DELETE_LUA: &str = r#"
local existed = redis.call('DEL', KEYS[1])
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
if existed == 1 then redis.call('SPUBLISH', ARGV[1], ARGV[2]) end
return existed
"#;

/// Every key of a session, the state first: all share the session's hash tag.
pub(super) fn session_keys(id: &SessionId) -> Vec<String> {
    vec![
        state_key(id),
        budget_key(id),
        presence_key(id),
        log_key(id, Log::Chat),
        log_key(id, Log::Reactions),
        log_budget_key(id, Log::Chat),
        log_budget_key(id, Log::Reactions),
    ]
}

fn cap_arg(n: usize) -> String {
    i64::try_from(n).unwrap_or(i64::MAX).to_string()
}

impl RedisStore {
    async fn eval_once(
        &self,
        name: &'static str,
        src: &'static str,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<Value, StoreError> {
        let started = Instant::now();
        let r = timed(self.pool.next().eval::<Value, _, _, _>(src, keys, args)).await;
        self.metrics.observe(name, started);
        r
    }

    pub(super) async fn perm_reserve(
        &self,
        entry: &IndexEntry,
        caps: PermanentCaps,
    ) -> Result<Reserve, StoreError> {
        let alias = entry.alias.as_ref().map(Alias::as_str).unwrap_or("");
        let reply = self
            .eval_once(
                "perm_reserve",
                RESERVE_LUA,
                vec![ROOMS_KEY.to_owned(), NAMES_KEY.to_owned()],
                vec![
                    entry.id.to_string(),
                    entry.by.to_string(),
                    alias.to_owned(),
                    entry.encode(),
                    cap_arg(caps.per_host),
                    cap_arg(caps.total),
                ],
            )
            .await?;
        match reply.as_i64() {
            Some(0) => Ok(Reserve::Reserved),
            Some(1) => Ok(Reserve::NameTaken),
            Some(2) => Ok(Reserve::HostFull),
            Some(3) => Ok(Reserve::Full),
            _ => Err(StoreError::Unavailable(format!(
                "unexpected reserve reply {reply:?}"
            ))),
        }
    }

    pub(super) async fn perm_release(
        &self,
        id: &SessionId,
        at_ms: Option<u64>,
    ) -> Result<bool, StoreError> {
        let reply = self
            .eval_once(
                "perm_release",
                RELEASE_LUA,
                vec![ROOMS_KEY.to_owned(), NAMES_KEY.to_owned()],
                vec![
                    id.to_string(),
                    at_ms.map(|a| a.to_string()).unwrap_or_default(),
                ],
            )
            .await?;
        Ok(reply.as_i64() == Some(1))
    }

    pub(super) async fn perm_rooms(&self) -> Result<Vec<IndexEntry>, StoreError> {
        let started = Instant::now();
        // (Hash commands as custom commands: fred's hash interface is not compiled in.)
        let cmd = CustomCommand::new_static("HGETALL", ClusterHash::FirstKey, false);
        let all: Vec<String> =
            timed(self.pool.next().custom(cmd, vec![ROOMS_KEY.to_owned()])).await?;
        self.metrics.observe("perm_rooms", started);
        Ok(all
            .chunks(2)
            .filter_map(|pair| match pair {
                [id, text] => IndexEntry::decode(id, text),
                _ => None,
            })
            .collect())
    }

    pub(super) async fn perm_resolve(
        &self,
        alias: &Alias,
    ) -> Result<Option<SessionId>, StoreError> {
        let started = Instant::now();
        let cmd = CustomCommand::new_static("HGET", ClusterHash::FirstKey, false);
        let id: Option<String> = timed(
            self.pool
                .next()
                .custom(cmd, vec![NAMES_KEY.to_owned(), alias.as_str().to_owned()]),
        )
        .await?;
        self.metrics.observe("perm_resolve", started);
        Ok(id.and_then(|id| SessionId::parse(&id).ok()))
    }

    pub(super) async fn perm_delete(&self, id: &SessionId) -> Result<bool, StoreError> {
        let reply = self
            .eval_once(
                "delete",
                DELETE_LUA,
                session_keys(id),
                vec![channel(id), END_EVENT.to_owned()],
            )
            .await?;
        Ok(reply.as_i64() == Some(1))
    }
}
