-- renew: extend a live seat to now + ttl. A seat that has expired (or was released, or never
-- granted, or is held by another session of the machine) is not brought back, nor is a seat
-- lingering after its release. A borrowed seat keeps the later of its expiry and now + ttl.
-- One atomic step.
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
-- ARGV[3]  ttl in ms, an integer > 0
-- ARGV[4]  grace in ms: the keys expire this long after the last thing they hold
--
-- Replies:
--   {'REBUILD'}                 the marker is missing: rebuild from the store, retry
--   {'EXPIRED'}                 the session holds no live seat, or it lingers; nothing changed
--   {'RENEWED', expires_ms}     the seat now lives until expires_ms
-- An error reply ('ERR renew: ...') for malformed arguments, before any write.

local init, seats, holders = KEYS[1], KEYS[2], KEYS[3]
local borrowed, lingering = KEYS[4], KEYS[5]
local counts, tags = KEYS[6], KEYS[7]
local session, machine = ARGV[1], ARGV[2]
local ttl, grace = tonumber(ARGV[3]), tonumber(ARGV[4])
if #session ~= SESSION or #machine ~= MACHINE then
  return redis.error_reply('ERR renew: session must be 16 bytes and machine 12')
end
if not ttl or ttl <= 0 or not grace or grace < 0 then
  return redis.error_reply('ERR renew: ttl and grace must be numbers')
end

-- Checks (read-only).
if redis.call('EXISTS', init) == 0 then
  return {'REBUILD'}
end
local now = now_ms()
local score = tonumber(redis.call('ZSCORE', seats, machine))
if not score or score <= now or holder(holders, machine) ~= session then
  return {'EXPIRED'}
end
if is_kind(lingering, machine, score) then
  return {'EXPIRED'}
end
local is_borrowed = is_kind(borrowed, machine, score)

-- Writes.
local expires = now + ttl
if not is_borrowed then
  redis.call('ZADD', seats, 'XX', ms(expires), machine)
  keep_keys(init, now, expires, grace, {{seats, holders, counts, tags}})
  return {'RENEWED', expires}
end
-- Borrowed for a period: a check-in never shortens it.
if expires <= score then
  return {'RENEWED', score}
end
redis.call('ZADD', seats, 'XX', ms(expires), machine)
redis.call('ZADD', borrowed, 'XX', ms(expires), machine)
keep_keys(init, now, expires, grace, {{seats, holders, counts, tags}, {borrowed}})
return {'RENEWED', expires}
