-- acquire: take a seat on one license for a session, unless the machine or the person is held
-- off after an eviction, the machine already holds a live seat, a borrow would pass the borrow
-- cap, or every seat is taken. A seat lingering for the machine is taken over. One atomic step.
--
-- KEYS[1]  lic:{t:l}:v2:init       the initialised marker (string)
-- KEYS[2]  lic:{t:l}:v2:seats      sorted set: member = machine digest, score = expiry (ms, by TIME)
-- KEYS[3]  lic:{t:l}:v2:holders    hash: bucket -> packed (machine digest, session id) records
-- KEYS[4]  lic:{t:l}:v2:borrowed   sorted set: the borrowed seats (machine digest -> expiry)
-- KEYS[5]  lic:{t:l}:v2:lingering  sorted set: the lingering seats (machine digest -> end)
-- KEYS[6]  lic:{t:l}:v2:holds      hash: 'm' .. machine / 'u' .. user digest -> 'until:reason'
-- ARGV[1]  session id asking (16 raw bytes)
-- ARGV[2]  its machine digest (12 bytes)
-- ARGV[3]  limit: most live seats (seats plus overdraft), an integer >= 0
-- ARGV[4]  ttl in ms, an integer > 0 (for a borrow: the borrow period)
-- ARGV[5]  grace in ms: the keys expire this long after the last thing they hold
-- ARGV[6]  the person's digest (12 bytes), or '' when unknown
-- ARGV[7]  borrow cap: -1 for an ordinary seat; else a borrow, granted only while fewer than
--          this many borrowed seats are live (an integer >= 0)
--
-- Replies (nothing but the pruning of expired seats and hold-offs is written unless GRANTED):
--   {'REBUILD'}                          the marker is missing: rebuild from the store, retry
--   {'EVICTED', until_ms, reason}        the machine or the person is held off until until_ms
--                                        (the hold-off ending last); nothing written
--   {'HELD', session_id, expires_ms}     the machine holds a live seat (session id: 16 bytes)
--   {'NO_BORROW_SEATS'}                  a borrow, while `cap` borrowed seats are live
--   {'NO_SEATS'}                         every seat is taken
--   {'GRANTED', expires_ms, in_use}      the seat is the session's until expires_ms
--   {'TOOK_BACK', expires_ms, in_use, lingering}
--                                        the machine's lingering seat is the session's until
--                                        expires_ms; in_use did not change; `lingering` is the
--                                        released session that held it (16 bytes)
-- An error reply ('ERR acquire: ...') for malformed arguments, before any write.

-- Expired seats freed per call at most, so a mass expiry never blocks Redis in one call; the
-- rest are still not counted, and the next calls free them.
local PRUNE = 100

local init, seats, holders = KEYS[1], KEYS[2], KEYS[3]
local borrowed, lingering, holds = KEYS[4], KEYS[5], KEYS[6]
local session, machine, user = ARGV[1], ARGV[2], ARGV[6]
local limit, ttl, grace = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local cap = tonumber(ARGV[7])
if #session ~= SESSION or #machine ~= MACHINE or (#user ~= 0 and #user ~= USER) then
  return redis.error_reply('ERR acquire: session must be 16 bytes, machine 12, user 0 or 12')
end
if not limit or limit < 0 or not ttl or ttl <= 0 or not grace or grace < 0 then
  return redis.error_reply('ERR acquire: limit, ttl and grace must be numbers')
end
if not cap or cap < -1 then
  return redis.error_reply('ERR acquire: the borrow cap must be -1 or a number >= 0')
end

-- Checks (read-only).
if redis.call('EXISTS', init) == 0 then
  return {'REBUILD'}
end
local now = now_ms()

-- Hold-offs of the machine and of the person: the one ending last answers; ended ones go.
local parties = {'m' .. machine}
if user ~= '' then
  table.insert(parties, 'u' .. user)
end
local found = redis.call('HMGET', holds, unpack(parties))
local held_off, reason, ended = nil, nil, {}
for i, party in ipairs(parties) do
  local until_ms, why = parse_hold(found[i] or nil)
  if until_ms and until_ms > now then
    if not held_off or until_ms > held_off then
      held_off, reason = until_ms, why
    end
  elseif found[i] then
    table.insert(ended, party)
  end
end
if held_off then
  return {'EVICTED', held_off, reason}
end

-- The machine's seat, if live, and whether it lingers (released: the machine takes it back).
-- (The same session asking again is the same machine asking.)
local held_until = tonumber(redis.call('ZSCORE', seats, machine))
local held_by = held_until and held_until > now and holder(holders, machine)
local lingers = held_by and is_kind(lingering, machine, held_until)

-- Seats in use: all but the expired ones. Counting those is O(1) while they fit one prune.
local expired = redis.call('ZRANGEBYSCORE', seats, '-inf', ms(now), 'LIMIT', 0, PRUNE)
local stale = #expired
if stale == PRUNE then
  stale = redis.call('ZCOUNT', seats, '-inf', ms(now))
end
local in_use = redis.call('ZCARD', seats) - stale

-- A borrow past the cap (live borrowed seats only: O(log n) however many wait to be pruned).
local cap_reached = cap >= 0 and redis.call('ZCOUNT', borrowed, '(' .. ms(now), '+inf') >= cap

-- Writes: free expired seats (zombies, ended borrows and lingers free themselves here) and
-- ended hold-offs, then grant.
if #expired > 0 then
  redis.call('ZREM', seats, unpack(expired))
  redis.call('ZREM', borrowed, unpack(expired))
  redis.call('ZREM', lingering, unpack(expired))
  for _, gone in ipairs(expired) do
    drop_holder(holders, gone)
  end
end
if #ended > 0 then
  redis.call('HDEL', holds, unpack(ended))
end

if held_by and not lingers then
  return {'HELD', held_by, held_until}
end
if cap_reached then
  return {'NO_BORROW_SEATS'}
end
if not held_by and in_use >= limit then
  return {'NO_SEATS'}
end

local expires = now + ttl
redis.call('ZADD', seats, ms(expires), machine)
set_holder(holders, machine, session)
-- The machine's lingering seat taken over, or an older seat's entries left: not of that kind.
redis.call('ZREM', lingering, machine)
redis.call('ZREM', borrowed, machine)
local groups = {{seats, holders}}
if cap >= 0 then
  redis.call('ZADD', borrowed, ms(expires), machine)
  table.insert(groups, {borrowed})
end
keep_keys(init, now, expires, grace, groups)
if held_by then
  return {'TOOK_BACK', expires, in_use, held_by}
end
return {'GRANTED', expires, in_use + 1}
