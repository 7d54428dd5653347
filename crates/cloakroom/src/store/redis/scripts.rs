//! The Lua scripts: each runs atomically on the server, so a session and its indexes never
//! disagree, even when several nodes write at once. Each is one round trip (`EVALSHA`; the
//! `redis` crate falls back to loading the script once if the server has forgotten it).
//!
//! Key names that depend on a stored value (a user's set, found from a record) are built in
//! the script from prefixes passed as arguments; that is fine on a single Redis or a
//! replicated one, not on Redis Cluster.
//!
//! TTLs only ever grow on the index keys (`extend`): an index lives at least as long as the
//! longest-lived session it names.

use redis::Script;

/// Shared by the scripts that set TTLs.
const EXTEND: &str = r"
local function extend(key, ttl)
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
";

/// KEYS: record, user set, expiry zset. ARGV: member, TTL (ms), expires_at, then field/value
/// pairs for `HSET`. Returns 1, or 0 if the key is taken.
const CREATE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
local ttl = tonumber(ARGV[2])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SADD', KEYS[2], ARGV[1])
extend(KEYS[2], ttl)
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
extend(KEYS[3], ttl)
return 1
";

/// KEYS: record, expiry zset. ARGV: member, last_seen, idle_expires, now, min TTL, max TTL
/// (ms), user-set prefix. The new expiry is the earlier of the idle one and the stored
/// absolute one. Returns 1, or 0 if there is no such session (nothing is created).
const TOUCH: &str = r"
local f = redis.call('HMGET', KEYS[1], 'u', 'ae')
if not f[1] then return 0 end
local score = ARGV[3]
local absolute = tonumber(f[2])
if absolute and absolute < tonumber(score) then score = f[2] end
local ttl = (tonumber(score) - tonumber(ARGV[4])) * 1000
ttl = math.floor(math.max(tonumber(ARGV[5]), math.min(tonumber(ARGV[6]), ttl)))
redis.call('HSET', KEYS[1], 'ls', ARGV[2], 'ie', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], score, ARGV[1])
extend(KEYS[2], ttl)
local user = ARGV[7] .. f[1]
redis.call('SADD', user, ARGV[1])
extend(user, ttl)
return 1
";

/// KEYS: record. ARGV: expected version, next version, data. Returns 1 on success, 0 on a
/// version mismatch, -1 if there is no such session. Versions compare as text, never as Lua
/// numbers (which are doubles).
const SAVE_DATA: &str = r"
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3])
return 1
";

/// KEYS: record, expiry zset. ARGV: member, user-set prefix. Returns 1 if a session was deleted.
const DELETE: &str = r"
redis.call('ZREM', KEYS[2], ARGV[1])
local u = redis.call('HGET', KEYS[1], 'u')
if not u then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', ARGV[2] .. u, ARGV[1])
return 1
";

/// KEYS: user set, expiry zset. ARGV: record prefix, user ID, handle. Returns 1 if the user's
/// session with that handle was deleted. Members whose session has expired are dropped on the way.
const DELETE_BY_HANDLE: &str = r"
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local rk = ARGV[1] .. m
  local f = redis.call('HMGET', rk, 'u', 'h')
  if not f[1] then
    redis.call('SREM', KEYS[1], m)
    redis.call('ZREM', KEYS[2], m)
  elseif f[1] == ARGV[2] and f[2] == ARGV[3] then
    redis.call('DEL', rk)
    redis.call('SREM', KEYS[1], m)
    redis.call('ZREM', KEYS[2], m)
    return 1
  end
end
return 0
";

/// KEYS: user set, expiry zset. ARGV: record prefix, user ID. Returns how many sessions of the
/// user were deleted.
const DELETE_USER: &str = r"
local n = 0
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local rk = ARGV[1] .. m
  local u = redis.call('HGET', rk, 'u')
  if u == ARGV[2] then
    n = n + redis.call('DEL', rk)
    redis.call('ZREM', KEYS[2], m)
  elseif not u then
    redis.call('ZREM', KEYS[2], m)
  end
end
redis.call('DEL', KEYS[1])
return n
";

/// KEYS: user set, expiry zset. ARGV: record prefix, user ID, then the hash fields to read (the
/// first must be `u`). Returns a flat array: each member followed by its fields. Members whose
/// session has expired are dropped from the indexes.
const LIST_USER: &str = r"
local out = {}
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local f = redis.call('HMGET', ARGV[1] .. m, unpack(ARGV, 3))
  if not f[1] then
    redis.call('SREM', KEYS[1], m)
    redis.call('ZREM', KEYS[2], m)
  elseif f[1] == ARGV[2] then
    out[#out + 1] = m
    for i = 1, #f do out[#out + 1] = f[i] end
  end
end
return out
";

/// KEYS: expiry zset. ARGV: record prefix, user-set prefix, now, batch size. Deletes up to a
/// batch of sessions that have ended at `now` and returns `{examined, deleted}`.
const PURGE: &str = r"
local ended = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[3], 'LIMIT', 0, ARGV[4])
local n = 0
for _, m in ipairs(ended) do
  local rk = ARGV[1] .. m
  local u = redis.call('HGET', rk, 'u')
  if u then
    redis.call('DEL', rk)
    redis.call('SREM', ARGV[2] .. u, m)
    n = n + 1
  end
  redis.call('ZREM', KEYS[1], m)
end
return {#ended, n}
";

/// KEYS: old record, new record, expiry zset, the refresh family. ARGV: old member, new
/// member, now (the caller's, Unix s), the store clock's now, min TTL, max TTL (ms), user-set
/// prefix, record prefix, the successor's nonce, the reuse interval (s), then the hash fields
/// to return (the first must be `u`).
///
/// A live old key: the hash is renamed (keeping its TTL) and re-indexed, the family's one hash
/// is overwritten (current `c`, just spent `p` at `t`, nonce `n`, and `u`, `h`, `ae`) to live
/// until the session's absolute expiry, and `{1, fields}` is returned (`{-1}`, changing
/// nothing, if the new key is taken). Else, for a family whose session has not ended at `now`:
/// the just-spent key within the interval, its successor still live, gets `{3, fields,
/// current member, nonce}`; a key of an ended session `{0}`; any other key ends the session
/// with that handle, wherever it lives now, and gets `{2, user, handle}`. No family: `{0}`.
const ROTATE: &str = r"
local f = redis.call('HMGET', KEYS[1], unpack(ARGV, 11))
if f[1] then
  if redis.call('EXISTS', KEYS[2]) == 1 then return {-1} end
  local m = redis.call('HMGET', KEYS[1], 'h', 'ie', 'ae')
  redis.call('RENAME', KEYS[1], KEYS[2])
  local user = ARGV[7] .. f[1]
  redis.call('SREM', user, ARGV[1])
  redis.call('SADD', user, ARGV[2])
  local score = m[2]
  if tonumber(m[3]) < tonumber(score) then score = m[3] end
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZADD', KEYS[3], score, ARGV[2])
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl > 0 then
    extend(user, ttl)
    extend(KEYS[3], ttl)
  end
  local keep = (tonumber(m[3]) - tonumber(ARGV[4])) * 1000
  keep = math.floor(math.max(tonumber(ARGV[5]), math.min(tonumber(ARGV[6]), keep)))
  redis.call('HSET', KEYS[4], 'c', ARGV[2], 'p', ARGV[1], 't', ARGV[3], 'n', ARGV[9],
    'u', f[1], 'h', m[1], 'ae', m[3])
  redis.call('PEXPIRE', KEYS[4], keep)
  return {1, f}
end
local s = redis.call('HMGET', KEYS[4], 'u', 'h', 'ae', 'c', 'p', 't', 'n')
if not s[1] then return {0} end
if tonumber(s[3]) <= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[4])
  return {0}
end
local recent = s[5] == ARGV[1] and tonumber(ARGV[3]) < tonumber(s[6]) + tonumber(ARGV[10])
local cur = redis.call('HMGET', ARGV[8] .. s[4], unpack(ARGV, 11))
if cur[1] then
  if recent then return {3, cur, s[4], s[7]} end
elseif recent or s[4] == ARGV[1] then
  return {0}
end
local set = ARGV[7] .. s[1]
for _, m in ipairs(redis.call('SMEMBERS', set)) do
  local rk = ARGV[8] .. m
  local r = redis.call('HMGET', rk, 'u', 'h')
  if not r[1] then
    redis.call('SREM', set, m)
    redis.call('ZREM', KEYS[3], m)
  elseif r[1] == s[1] and r[2] == s[2] then
    redis.call('DEL', rk)
    redis.call('SREM', set, m)
    redis.call('ZREM', KEYS[3], m)
  end
end
return {2, s[1], s[2]}
";

/// The scripts, with their SHA-1 digests computed once.
#[derive(Debug)]
pub(super) struct Scripts {
    pub(super) create: Script,
    pub(super) touch: Script,
    pub(super) save_data: Script,
    pub(super) delete: Script,
    pub(super) delete_by_handle: Script,
    pub(super) delete_user: Script,
    pub(super) list_user: Script,
    pub(super) purge: Script,
    pub(super) rotate: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            create: Script::new(&format!("{EXTEND}{CREATE}")),
            touch: Script::new(&format!("{EXTEND}{TOUCH}")),
            save_data: Script::new(SAVE_DATA),
            delete: Script::new(DELETE),
            delete_by_handle: Script::new(DELETE_BY_HANDLE),
            delete_user: Script::new(DELETE_USER),
            list_user: Script::new(LIST_USER),
            purge: Script::new(PURGE),
            rotate: Script::new(&format!("{EXTEND}{ROTATE}")),
        }
    }

    /// All of them, to load ahead of the first request.
    pub(super) fn all(&self) -> [&Script; 9] {
        [
            &self.create,
            &self.touch,
            &self.save_data,
            &self.delete,
            &self.delete_by_handle,
            &self.delete_user,
            &self.list_user,
            &self.purge,
            &self.rotate,
        ]
    }
}
