-- renew: extend a live seat to now + ttl. A seat that has expired (or was released, or never
-- granted) is not brought back. One atomic step.
--
-- KEYS[1]  lic:{t:l}:init    the initialised marker
-- KEYS[2]  lic:{t:l}:seats   sorted set: member = session id, score = expiry (ms, Redis clock)
-- KEYS[3]  lic:{t:l}:hw      hash: hardware id -> session id (only its expiry is refreshed)
-- KEYS[4]  lic:{t:l}:owners  hash: session id -> hardware id (only its expiry is refreshed)
-- ARGV[1]  session id
-- ARGV[2]  ttl in ms, an integer > 0
-- ARGV[3]  grace in ms: the keys expire this long after their last seat
--
-- Replies:
--   {'REBUILD'}                 the marker is missing: rebuild from the store, retry
--   {'EXPIRED'}                 the session holds no live seat; nothing changed
--   {'RENEWED', expires_ms}     the seat now lives until expires_ms
-- An error reply ('ERR renew: ...') for malformed arguments, before any write.

local init, seats = KEYS[1], KEYS[2]
local session = ARGV[1]
local ttl, grace = tonumber(ARGV[2]), tonumber(ARGV[3])
if not ttl or ttl <= 0 or not grace or grace < 0 then
  return redis.error_reply('ERR renew: ttl and grace must be numbers')
end

-- Checks (read-only).
if redis.call('EXISTS', init) == 0 then
  return {'REBUILD'}
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local score = redis.call('ZSCORE', seats, session)
if not score or tonumber(score) <= now then
  return {'EXPIRED'}
end

-- Writes.
local expires = now + ttl
redis.call('ZADD', seats, 'XX', string.format('%d', expires), session)

-- Every key outlives the latest seat by `grace`, so an abandoned license frees its memory.
local last = redis.call('ZRANGE', seats, -1, -1, 'WITHSCORES')
local keep_until = math.max(now, tonumber(last[2] or now)) + grace
for _, key in ipairs(KEYS) do
  redis.call('PEXPIREAT', key, string.format('%d', keep_until))
end

return {'RENEWED', expires}
