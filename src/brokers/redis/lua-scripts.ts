// The Lua scripts that make each RedisBroker operation one atomic step in Redis: a publish checks
// its publish id, takes the next offset, appends, trims, remembers the id and fans out in one go,
// so offsets, history and live order can never disagree. Time is Redis's own clock (TIME), one
// clock for every node. Key layout: redis-keys.ts; payload layout: redis-codec.ts.

import { createHash } from 'node:crypto';

/** A script with its SHA-1, run by EVALSHA (EVAL when Redis does not know it yet, e.g. after a restart). */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
  readonly keyCount: number;
}

function script(name: string, keyCount: number, body: string): LuaScript {
  const source = `${PRELUDE}\n${body}`;
  return { name, source, sha: createHash('sha1').update(source).digest('hex'), keyCount };
}

const PRELUDE = String.raw`
local function int(n) return string.format('%d', n) end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The channel's epoch; a channel without one (new, idle past its TTL, or Redis lost it) gets the
-- candidate with an empty history, so offsets restart at 1 in a new epoch, never in an old one.
local function channel_epoch(meta, stream, candidate)
  local epoch = redis.call('HGET', meta, 'epoch')
  if epoch then return epoch end
  redis.call('DEL', stream)
  redis.call('HSET', meta, 'epoch', candidate, 'offset', 0, 'time', 0)
  return candidate
end

-- Drops the entries older than cutoff. Append times never decrease, so they are a prefix: one
-- look at the oldest entry when nothing is due, batches of 128 otherwise.
local function trim_age(stream, cutoff)
  local count = 1
  while true do
    local batch = redis.call('XRANGE', stream, '-', '+', 'COUNT', count)
    if #batch == 0 then return end
    for i, entry in ipairs(batch) do
      if tonumber(entry[2][2]) >= cutoff then
        if i > 1 then redis.call('XTRIM', stream, 'MINID', entry[1]) end
        return
      end
    end
    redis.call('XTRIM', stream, 'MINID', '0-' .. int(tonumber(string.sub(batch[#batch][1], 3)) + 1))
    count = 128
  end
end

-- Removes the members whose expiry time has come, each with a leave event.
local function expire_members(members, expiry, topic, now)
  local gone = redis.call('ZRANGEBYSCORE', expiry, '-inf', int(now))
  for _, id in ipairs(gone) do
    local member = redis.call('HGET', members, id)
    redis.call('HDEL', members, id)
    redis.call('ZREM', expiry, id)
    if member then redis.call('PUBLISH', topic, 'l' .. member) end
  end
end
`;

/**
 * KEYS meta, stream, dedup key; ARGV candidate epoch, encoded data, pid ('' for none), historySize,
 * historyTtlMs, dedupWindowMs, publication topic. Returns {1, "epoch offset"} for a pid seen within
 * the window (nothing appended), else {0, "epoch offset"}.
 */
export const PUBLISH_SCRIPT = script('publish', 3, String.raw`
local meta, stream, dedup = KEYS[1], KEYS[2], KEYS[3]
local pid = ARGV[3]
local history_size, ttl, window = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local deduped = pid ~= '' and window > 0
if deduped then
  local first = redis.call('GET', dedup)
  if first then return {1, first} end
end
local now = now_ms()
local epoch = channel_epoch(meta, stream, ARGV[1])
local offset = int(redis.call('HINCRBY', meta, 'offset', 1))
local time = int(math.max(now, tonumber(redis.call('HGET', meta, 'time')) or 0))
redis.call('HSET', meta, 'time', time)
local payload = offset .. ' ' .. time .. ' ' .. epoch .. ' ' .. int(#pid) .. ' ' .. pid .. ARGV[2]
if history_size > 0 then
  redis.call('XADD', stream, 'MAXLEN', '~', int(history_size), '0-' .. offset, 't', time, 'm', payload)
  trim_age(stream, now - ttl)
  redis.call('PEXPIRE', stream, int(ttl))
end
redis.call('PEXPIRE', meta, int(ttl))
if deduped then redis.call('SET', dedup, epoch .. ' ' .. offset, 'PX', int(window)) end
redis.call('PUBLISH', ARGV[7], payload)
return {0, epoch .. ' ' .. offset}
`);

/**
 * KEYS meta, stream; ARGV candidate epoch, historySize, historyTtlMs, since epoch ('' for none),
 * since offset, limit ('' for none). Returns {epoch, latest offset, oldest retained offset (latest
 * + 1 when none), payloads}: the payloads after `since` (all retained ones when since is of another
 * epoch or beyond latest), oldest first, or with a limit the newest `limit` of them, newest first.
 */
export const HISTORY_SCRIPT = script('history', 2, String.raw`
local meta, stream = KEYS[1], KEYS[2]
local history_size, ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
local epoch = channel_epoch(meta, stream, ARGV[1])
local latest = tonumber(redis.call('HGET', meta, 'offset'))
redis.call('PEXPIRE', meta, int(ttl))
trim_age(stream, now - ttl)
local oldest = latest + 1
local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
if #first > 0 then oldest = tonumber(string.sub(first[1][1], 3)) end
-- MAXLEN ~ trims whole stream nodes only: the count bound is applied here, exactly.
oldest = math.max(oldest, latest - history_size + 1)
local from = oldest
if ARGV[4] == epoch and tonumber(ARGV[5]) <= latest then from = math.max(from, tonumber(ARGV[5]) + 1) end
local payloads = {}
if from <= latest then
  local entries = {}
  if ARGV[6] == '' then
    entries = redis.call('XRANGE', stream, '0-' .. int(from), '+')
  elseif tonumber(ARGV[6]) > 0 then
    entries = redis.call('XREVRANGE', stream, '+', '0-' .. int(from), 'COUNT', ARGV[6])
  end
  for i, entry in ipairs(entries) do payloads[i] = entry[2][4] end
end
return {epoch, latest, oldest, payloads}
`);

/** KEYS members, expiry; ARGV clientId, encoded member, ttlMs, presence topic. A new member gets a join event. */
export const JOIN_SCRIPT = script('join', 2, String.raw`
local members, expiry, id, topic = KEYS[1], KEYS[2], ARGV[1], ARGV[4]
local now = now_ms()
expire_members(members, expiry, topic, now)
local known = redis.call('ZSCORE', expiry, id)
redis.call('ZADD', expiry, int(now + tonumber(ARGV[3])), id)
redis.call('HSET', members, id, ARGV[2])
if not known then redis.call('PUBLISH', topic, 'j' .. ARGV[2]) end
-- Both keys live as long as their last member (plus a second), so an abandoned channel goes away.
local last = redis.call('ZRANGE', expiry, -1, -1, 'WITHSCORES')
local keep = int(tonumber(last[2]) - now + 1000)
redis.call('PEXPIRE', members, keep)
redis.call('PEXPIRE', expiry, keep)
return 0
`);

/** KEYS members, expiry; ARGV clientId, presence topic. A known member goes with a leave event. */
export const LEAVE_SCRIPT = script('leave', 2, String.raw`
local members, expiry, id, topic = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
expire_members(members, expiry, topic, now_ms())
local member = redis.call('HGET', members, id)
if member then
  redis.call('HDEL', members, id)
  redis.call('ZREM', expiry, id)
  redis.call('PUBLISH', topic, 'l' .. member)
end
return 0
`);

/** KEYS members, expiry; ARGV presence topic. Expires members (leave events), returns the others' encodings. */
export const MEMBERS_SCRIPT = script('members', 2, String.raw`
local members, expiry = KEYS[1], KEYS[2]
expire_members(members, expiry, ARGV[1], now_ms())
local found = {}
for _, id in ipairs(redis.call('ZRANGE', expiry, 0, -1)) do
  local member = redis.call('HGET', members, id)
  if member then found[#found + 1] = member end
end
return found
`);

/** KEYS members, expiry; ARGV presence topic. Expires members (leave events): the presence sweep. */
export const EXPIRE_SCRIPT = script('expire', 2, String.raw`
expire_members(KEYS[1], KEYS[2], ARGV[1], now_ms())
return 0
`);
