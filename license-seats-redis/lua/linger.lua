-- linger: keep a session's released seat for its machine until now + linger: still counted,
-- not renewed, left alone by release, taken over by the machine's next acquire. Only a live
-- seat the session holds and that does not linger already. One atomic step.
--
-- KEYS[1]  lic:{t:l}:v2:init       the initialised marker
-- KEYS[2]  lic:{t:l}:v2:seats      sorted set: member = machine digest, score = expiry (ms, by TIME)
-- KEYS[3]  lic:{t:l}:v2:holders    hash: bucket -> packed (machine digest, session id) records
-- KEYS[4]  lic:{t:l}:v2:borrowed   sorted set: the borrowed seats (machine digest -> expiry)
-- KEYS[5]  lic:{t:l}:v2:lingering  sorted set: the lingering seats (machine digest -> end)
-- KEYS[6]  lic:{t:l}:v2:counts     hash: counter digest -> seats counting toward it (only
--                                  its expiry is kept in step with the seats)
-- KEYS[7]  lic:{t:l}:v2:tags       hash: machine digest -> its seat's counter digests (idem)
-- ARGV[1]  session id (16 raw bytes)
-- ARGV[2]  its machine digest (12 bytes)
-- ARGV[3]  linger in ms, an integer > 0
-- ARGV[4]  grace in ms: the keys expire this long after the last thing they hold
--
-- Replies:
--   1   the seat lingers until now + linger
--   0   nothing changed: the session holds no live seat, it lingers already, or the marker is
--       missing (a rebuild restores lingering seats from the store)
-- An error reply ('ERR linger: ...') for malformed arguments, before any write.

local init, seats, holders = KEYS[1], KEYS[2], KEYS[3]
local borrowed, lingering = KEYS[4], KEYS[5]
local counts, tags = KEYS[6], KEYS[7]
local session, machine = ARGV[1], ARGV[2]
local linger, grace = tonumber(ARGV[3]), tonumber(ARGV[4])
if #session ~= SESSION or #machine ~= MACHINE then
  return redis.error_reply('ERR linger: session must be 16 bytes and machine 12')
end
if not linger or linger <= 0 or not grace or grace < 0 then
  return redis.error_reply('ERR linger: linger and grace must be numbers')
end

-- Checks (read-only).
if redis.call('EXISTS', init) == 0 then
  return 0
end
local now = now_ms()
local score = tonumber(redis.call('ZSCORE', seats, machine))
if not score or score <= now or holder(holders, machine) ~= session then
  return 0
end
if is_kind(lingering, machine, score) then
  return 0
end

-- Writes: a borrowed seat stops being one (its period ended with the release).
local until_ms = now + linger
redis.call('ZADD', seats, 'XX', ms(until_ms), machine)
redis.call('ZREM', borrowed, machine)
redis.call('ZADD', lingering, ms(until_ms), machine)
keep_keys(init, now, until_ms, grace, {{seats, holders, counts, tags}, {lingering}})
return 1
