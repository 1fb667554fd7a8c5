-- acquire: take a seat on one license for a session, unless that session or its machine
-- already holds a live one, or every seat is taken. One atomic step.
--
-- KEYS[1]  lic:{t:l}:init    the initialised marker (string)
-- KEYS[2]  lic:{t:l}:seats   sorted set: member = session id, score = expiry (ms, Redis clock)
-- KEYS[3]  lic:{t:l}:hw      hash: hardware id -> session id
-- KEYS[4]  lic:{t:l}:owners  hash: session id -> hardware id
-- ARGV[1]  session id asking
-- ARGV[2]  its hardware id
-- ARGV[3]  limit: most live seats (seats plus overdraft), an integer >= 0
-- ARGV[4]  ttl in ms, an integer > 0
-- ARGV[5]  grace in ms: the keys expire this long after their last seat
--
-- Replies (nothing but the pruning of expired seats is written unless GRANTED):
--   {'REBUILD'}                          the marker is missing: rebuild from the store, retry
--   {'HELD', session_id, expires_ms}     that session, or that machine, holds a live seat
--   {'NO_SEATS'}                         every seat is taken
--   {'GRANTED', expires_ms, in_use}      the seat is the session's until expires_ms
-- An error reply ('ERR acquire: ...') for malformed arguments, before any write.

local init, seats, hw, owners = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local session, hwid = ARGV[1], ARGV[2]
local limit, ttl, grace = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if not limit or limit < 0 or not ttl or ttl <= 0 or not grace or grace < 0 then
  return redis.error_reply('ERR acquire: limit, ttl and grace must be numbers')
end

-- Checks (read-only).
if redis.call('EXISTS', init) == 0 then
  return {'REBUILD'}
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local function live_expiry(sid)
  local score = redis.call('ZSCORE', seats, sid)
  if score then
    score = tonumber(score)
    if score > now then
      return score
    end
  end
  return nil
end

local holder, held_until = session, live_expiry(session)
if not held_until then
  local other = redis.call('HGET', hw, hwid)
  if other then
    holder, held_until = other, live_expiry(other)
  end
end
local in_use = redis.call('ZCOUNT', seats, '(' .. string.format('%d', now), '+inf')

-- Writes: drop expired seats (zombies free themselves here), then grant.
local expired = redis.call('ZRANGEBYSCORE', seats, '-inf', string.format('%d', now))
for _, sid in ipairs(expired) do
  local machine = redis.call('HGET', owners, sid)
  if machine then
    redis.call('HDEL', owners, sid)
    if redis.call('HGET', hw, machine) == sid then
      redis.call('HDEL', hw, machine)
    end
  end
end
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', seats, '-inf', string.format('%d', now))
end

if held_until then
  return {'HELD', holder, held_until}
end
if in_use >= limit then
  return {'NO_SEATS'}
end

local expires = now + ttl
redis.call('ZADD', seats, string.format('%d', expires), session)
redis.call('HSET', hw, hwid, session)
redis.call('HSET', owners, session, hwid)

-- Every key outlives the latest seat by `grace`, so an abandoned license frees its memory.
local last = redis.call('ZRANGE', seats, -1, -1, 'WITHSCORES')
local keep_until = math.max(now, tonumber(last[2] or now)) + grace
for _, key in ipairs(KEYS) do
  redis.call('PEXPIREAT', key, string.format('%d', keep_until))
end

return {'GRANTED', expires, in_use + 1}
