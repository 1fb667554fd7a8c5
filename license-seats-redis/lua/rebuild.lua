-- rebuild: restore one license's seats from the store's live sessions and set the initialised
-- marker, if (and only if) the marker is missing. A late rebuild from an older snapshot
-- therefore cannot drop seats granted since the first rebuild. Seats already past their expiry
-- (by the Redis clock) are not restored. One atomic step.
--
-- KEYS[1]  lic:{t:l}:init    the initialised marker
-- KEYS[2]  lic:{t:l}:seats   sorted set: member = session id, score = expiry (ms, Redis clock)
-- KEYS[3]  lic:{t:l}:hw      hash: hardware id -> session id
-- KEYS[4]  lic:{t:l}:owners  hash: session id -> hardware id
-- ARGV[1]  grace in ms: the keys expire this long after their last seat
-- ARGV[2 + 3i], ARGV[3 + 3i], ARGV[4 + 3i]   (i = 0, 1, ...)
--          session id, hardware id, expiry in ms of each live seat in the store
--
-- Replies:
--   {'ALREADY_INITIALISED'}   the marker exists: nothing changed, the seats were ignored
--   {'REBUILT', restored}     the seats were replaced; `restored` of them were still live
-- An error reply ('ERR rebuild: ...') for malformed arguments, before any write.

local init, seats, hw, owners = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local grace = tonumber(ARGV[1])
if not grace or grace < 0 or (#ARGV - 1) % 3 ~= 0 then
  return redis.error_reply('ERR rebuild: expected grace then (session, hardware, expiry) triples')
end
for i = 4, #ARGV, 3 do
  if not tonumber(ARGV[i]) then
    return redis.error_reply('ERR rebuild: expiry must be a number')
  end
end

-- Checks (read-only).
if redis.call('EXISTS', init) == 1 then
  return {'ALREADY_INITIALISED'}
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

-- Writes: whatever is left of an older state goes; the store's live seats come back.
redis.call('DEL', seats, hw, owners)
local restored = 0
for i = 2, #ARGV, 3 do
  local session, machine, expires = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  if expires > now then
    redis.call('ZADD', seats, string.format('%d', expires), session)
    redis.call('HSET', hw, machine, session)
    redis.call('HSET', owners, session, machine)
    restored = restored + 1
  end
end
redis.call('SET', init, '1')

-- Every key outlives the latest seat by `grace`, so an abandoned license frees its memory.
local last = redis.call('ZRANGE', seats, -1, -1, 'WITHSCORES')
local keep_until = math.max(now, tonumber(last[2] or now)) + grace
for _, key in ipairs(KEYS) do
  redis.call('PEXPIREAT', key, string.format('%d', keep_until))
end

return {'REBUILT', restored}
