-- evict: free a session's seat (whatever its kind) and, in the same step, hold its machine
-- and, when known, its person off until now + hold. The hold-off is recorded even when the
-- session held no seat any more; one already in force that ends later stays (with its
-- reason). One atomic step.
--
-- KEYS[1]  lic:{t:l}:v2:init       the initialised marker
-- KEYS[2]  lic:{t:l}:v2:seats      sorted set: member = machine digest, score = expiry (ms, by TIME)
-- KEYS[3]  lic:{t:l}:v2:holders    hash: bucket -> packed (machine digest, session id) records
-- KEYS[4]  lic:{t:l}:v2:borrowed   sorted set: the borrowed seats (machine digest -> expiry)
-- KEYS[5]  lic:{t:l}:v2:lingering  sorted set: the lingering seats (machine digest -> end)
-- KEYS[6]  lic:{t:l}:v2:holds      hash: 'm' .. machine / 'u' .. user digest -> 'until:reason'
-- KEYS[7]  lic:{t:l}:v2:counts     hash: counter digest -> seats counting toward it
-- KEYS[8]  lic:{t:l}:v2:tags       hash: machine digest -> its seat's counter digests
-- ARGV[1]  session id (16 raw bytes)
-- ARGV[2]  its machine digest (12 bytes)
-- ARGV[3]  the person's digest (12 bytes), or '' when unknown
-- ARGV[4]  hold-off in ms, an integer >= 0 (0: free the seat, hold nobody off)
-- ARGV[5]  grace in ms: the keys expire this long after the last thing they hold
-- ARGV[6]  the reason (text, returned to the held-off client)
--
-- Replies:
--   {'REBUILD'}                   the marker is missing: nothing written (the rebuild restores
--                                 hold-offs from the store)
--   {'EVICTED', freed, until_ms}  freed: 1 if the session's seat was freed, else 0; the
--                                 machine (and person) are held off until until_ms at least
-- An error reply ('ERR evict: ...') for malformed arguments, before any write.

local init, seats, holders = KEYS[1], KEYS[2], KEYS[3]
local borrowed, lingering, holds = KEYS[4], KEYS[5], KEYS[6]
local counts, tags = KEYS[7], KEYS[8]
local session, machine, user = ARGV[1], ARGV[2], ARGV[3]
local hold, grace, reason = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
if #session ~= SESSION or #machine ~= MACHINE or (#user ~= 0 and #user ~= USER) then
  return redis.error_reply('ERR evict: session must be 16 bytes, machine 12, user 0 or 12')
end
if not hold or hold < 0 or not grace or grace < 0 or not reason then
  return redis.error_reply('ERR evict: hold and grace must be numbers, then a reason')
end

-- Checks (read-only).
if redis.call('EXISTS', init) == 0 then
  return {'REBUILD'}
end
local now = now_ms()
local freed = holder(holders, machine) == session
local until_ms = now + hold
local parties = {'m' .. machine}
if user ~= '' then
  table.insert(parties, 'u' .. user)
end
local found = redis.call('HMGET', holds, unpack(parties))

-- Writes.
if freed then
  redis.call('ZREM', seats, machine)
  redis.call('ZREM', borrowed, machine)
  redis.call('ZREM', lingering, machine)
  drop_holder(holders, machine)
  untag(counts, tags, {machine})
end
if hold > 0 then
  local value = ms(until_ms) .. ':' .. reason
  for i, party in ipairs(parties) do
    local current = parse_hold(found[i] or nil)
    if not current or current < until_ms then
      redis.call('HSET', holds, party, value)
    end
  end
  keep_keys(init, now, until_ms, grace, {{holds}})
end
return {'EVICTED', freed and 1 or 0, until_ms}
