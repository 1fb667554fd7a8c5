-- rebuild: restore one license's seats from the store's live sessions and set the initialised
-- marker, if (and only if) the marker is missing. A late rebuild from an older snapshot
-- therefore cannot drop seats granted since the first rebuild. Seats already past their expiry
-- (by the Redis clock) are not restored. A machine gets one seat: should the store name
-- several live sessions for one machine, the one expiring last keeps it. One atomic step.
--
-- KEYS[1]  lic:{t:l}:v2:init     the initialised marker
-- KEYS[2]  lic:{t:l}:v2:seats    sorted set: member = machine digest, score = expiry (ms, by TIME)
-- KEYS[3]  lic:{t:l}:v2:holders  hash: bucket -> packed (machine digest, session id) records
-- ARGV[1]  grace in ms: the keys expire this long after their last seat
-- ARGV[2 + 3i], ARGV[3 + 3i], ARGV[4 + 3i]   (i = 0, 1, ...)
--          session id (16 raw bytes), machine digest (12 bytes) and expiry in ms of each live
--          seat in the store
--
-- Replies:
--   {'ALREADY_INITIALISED'}   the marker exists: nothing changed, the seats were ignored
--   {'REBUILT', restored}     the seats were replaced; `restored` of them were still live
-- An error reply ('ERR rebuild: ...') for malformed arguments, before any write.

local init, seats, holders = KEYS[1], KEYS[2], KEYS[3]
local grace = tonumber(ARGV[1])
if not grace or grace < 0 or (#ARGV - 1) % 3 ~= 0 then
  return redis.error_reply('ERR rebuild: expected grace then (session, machine, expiry) triples')
end
for i = 2, #ARGV, 3 do
  if #ARGV[i] ~= SESSION or #ARGV[i + 1] ~= MACHINE or not tonumber(ARGV[i + 2]) then
    return redis.error_reply('ERR rebuild: session must be 16 bytes, machine 12, expiry a number')
  end
end

-- Checks (read-only).
if redis.call('EXISTS', init) == 1 then
  return {'ALREADY_INITIALISED'}
end
local now = now_ms()

-- The live seat of each machine: the argument index of its session.
local live = {}
for i = 2, #ARGV, 3 do
  local machine, expires = ARGV[i + 1], tonumber(ARGV[i + 2])
  local other = live[machine]
  if expires > now and (not other or expires > tonumber(ARGV[other + 2])) then
    live[machine] = i
  end
end

-- Writes: whatever is left of an older state goes; the store's live seats come back.
redis.call('DEL', seats, holders)
local restored, last, buckets = 0, now, {}
for machine, i in pairs(live) do
  local expires = tonumber(ARGV[i + 2])
  redis.call('ZADD', seats, ms(expires), machine)
  local field = bucket(machine)
  buckets[field] = buckets[field] or {}
  table.insert(buckets[field], machine .. ARGV[i])
  restored = restored + 1
  last = math.max(last, expires)
end
for field, records in pairs(buckets) do
  redis.call('HSET', holders, field, table.concat(records))
end
redis.call('SET', init, '1')

-- Every key outlives the latest seat by `grace`, so an abandoned license frees its memory.
for _, key in ipairs(KEYS) do
  redis.call('PEXPIREAT', key, ms(last + grace))
end

return {'REBUILT', restored}
