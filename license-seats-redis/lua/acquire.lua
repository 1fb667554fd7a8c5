-- acquire: take a seat on one license for a session, unless its machine already holds a live
-- one, or every seat is taken. One atomic step.
--
-- KEYS[1]  lic:{t:l}:v2:init     the initialised marker (string)
-- KEYS[2]  lic:{t:l}:v2:seats    sorted set: member = machine digest, score = expiry (ms, by TIME)
-- KEYS[3]  lic:{t:l}:v2:holders  hash: bucket -> packed (machine digest, session id) records
-- ARGV[1]  session id asking (16 raw bytes)
-- ARGV[2]  its machine digest (12 bytes)
-- ARGV[3]  limit: most live seats (seats plus overdraft), an integer >= 0
-- ARGV[4]  ttl in ms, an integer > 0
-- ARGV[5]  grace in ms: the keys expire this long after their last seat
--
-- Replies (nothing but the pruning of expired seats is written unless GRANTED):
--   {'REBUILD'}                          the marker is missing: rebuild from the store, retry
--   {'HELD', session_id, expires_ms}     the machine holds a live seat (session id: 16 bytes)
--   {'NO_SEATS'}                         every seat is taken
--   {'GRANTED', expires_ms, in_use}      the seat is the session's until expires_ms
-- An error reply ('ERR acquire: ...') for malformed arguments, before any write.

-- Expired seats freed per call at most, so a mass expiry never blocks Redis in one call; the
-- rest are still not counted, and the next calls free them.
local PRUNE = 100

local init, seats, holders = KEYS[1], KEYS[2], KEYS[3]
local session, machine = ARGV[1], ARGV[2]
local limit, ttl, grace = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if #session ~= SESSION or #machine ~= MACHINE then
  return redis.error_reply('ERR acquire: session must be 16 bytes and machine 12')
end
if not limit or limit < 0 or not ttl or ttl <= 0 or not grace or grace < 0 then
  return redis.error_reply('ERR acquire: limit, ttl and grace must be numbers')
end

-- Checks (read-only).
if redis.call('EXISTS', init) == 0 then
  return {'REBUILD'}
end
local now = now_ms()

-- The machine's seat, if live. (The same session asking again is the same machine asking.)
local held_until = tonumber(redis.call('ZSCORE', seats, machine))
local held_by = held_until and held_until > now and holder(holders, machine)

-- Seats in use: all but the expired ones. Counting those is O(1) while they fit one prune.
local expired = redis.call('ZRANGEBYSCORE', seats, '-inf', ms(now), 'LIMIT', 0, PRUNE)
local stale = #expired
if stale == PRUNE then
  stale = redis.call('ZCOUNT', seats, '-inf', ms(now))
end
local in_use = redis.call('ZCARD', seats) - stale

-- Writes: free expired seats (zombies free themselves here), then grant.
if #expired > 0 then
  redis.call('ZREM', seats, unpack(expired))
  for _, gone in ipairs(expired) do
    drop_holder(holders, gone)
  end
end

if held_by then
  return {'HELD', held_by, held_until}
end
if in_use >= limit then
  return {'NO_SEATS'}
end

local expires = now + ttl
redis.call('ZADD', seats, ms(expires), machine)
set_holder(holders, machine, session)
keep_keys(seats, now, expires, grace)
return {'GRANTED', expires, in_use + 1}
