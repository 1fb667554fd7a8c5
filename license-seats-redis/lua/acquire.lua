-- acquire: take a seat on one license for a session, unless the machine or the person is held
-- off after an eviction, the machine already holds a live seat, a borrow would pass the borrow
-- cap, every seat is taken, or a limit of the license's seat policy refuses it (exactly
-- `SeatTally::check` in license-core). A seat lingering for the machine is taken over. One
-- atomic step.
--
-- KEYS[1]  lic:{t:l}:v2:init       the initialised marker (string)
-- KEYS[2]  lic:{t:l}:v2:seats      sorted set: member = machine digest, score = expiry (ms, by TIME)
-- KEYS[3]  lic:{t:l}:v2:holders    hash: bucket -> packed (machine digest, session id) records
-- KEYS[4]  lic:{t:l}:v2:borrowed   sorted set: the borrowed seats (machine digest -> expiry)
-- KEYS[5]  lic:{t:l}:v2:lingering  sorted set: the lingering seats (machine digest -> end)
-- KEYS[6]  lic:{t:l}:v2:holds      hash: 'm' .. machine / 'u' .. user digest -> 'until:reason'
-- KEYS[7]  lic:{t:l}:v2:counts     hash: counter digest -> seats counting toward it
-- KEYS[8]  lic:{t:l}:v2:tags       hash: machine digest -> its seat's counter digests
-- ARGV[1]  session id asking (16 raw bytes)
-- ARGV[2]  its machine digest (12 bytes)
-- ARGV[3]  limit: most live seats (seats plus overdraft), an integer >= 0
-- ARGV[4]  ttl in ms, an integer > 0 (for a borrow: the borrow period)
-- ARGV[5]  grace in ms: the keys expire this long after the last thing they hold
-- ARGV[6]  the person's digest (12 bytes), or '' when unknown
-- ARGV[7]  borrow cap: -1 for an ordinary seat; else a borrow, granted only while fewer than
--          this many borrowed seats are live (an integer >= 0)
-- ARGV[8]  the counters the seat counts toward: counter digests (12 bytes each) concatenated,
--          '' when none
-- ARGV[9]  the caps (the policy's `max` limits on the requester), 23 bytes each, concatenated
--          ('' when none): counter digest (12 bytes), the limit's code (1 byte: 'g' group_max,
--          'u' user_max, 'h' host_max, 'p' processes_per_host, 'r' reserved_for_others,
--          's' seats), the most seats as 10 decimal digits (zero-padded)
-- ARGV[10] the license's reserves, 23 bytes each, concatenated ('' when none): the group's
--          counter digest (12 bytes), '1' if the requester is a member else '0', the seats
--          reserved as 10 decimal digits (zero-padded)
-- ARGV[11] '1' to grant again (SeatLedger::regrant) the machine's seat held by the session
--          asking, whose grant is not on record: checked as a new grant of the same kind would
--          be, as if that seat were free; granted, it is re-counted toward ARGV[8] and keeps
--          its expiry ({'HELD', ...}); refused, it is freed. '0' (acquire) otherwise.
--
-- Replies (nothing but the pruning of expired seats and hold-offs is written unless GRANTED):
--   {'REBUILD'}                          the marker is missing: rebuild from the store, retry
--   {'EVICTED', until_ms, reason}        the machine or the person is held off until until_ms
--                                        (the hold-off ending last); nothing written
--   {'HELD', session_id, expires_ms}     the machine holds a live seat (session id: 16 bytes);
--                                        for a regrant: the seat was granted again
--   {'NO_BORROW_SEATS'}                  a borrow, while `cap` borrowed seats are live
--   {'NO_SEATS'}                         every seat is taken
--   {'LIMITED', limit}                   a limit of the policy refuses the seat: 'group_max',
--                                        'user_max', 'host_max', 'processes_per_host' or
--                                        'reserved_for_others'
--   {'GRANTED', expires_ms, in_use}      the seat is the session's until expires_ms (a regrant
--                                        whose seat had gone grants a new one)
--   {'TOOK_BACK', expires_ms, in_use, lingering}
--                                        the machine's lingering seat is the session's until
--                                        expires_ms; in_use did not change; `lingering` is the
--                                        released session that held it (16 bytes)
-- An error reply ('ERR acquire: ...') for malformed arguments, before any write.

-- Expired seats freed per call at most, so a mass expiry never blocks Redis in one call; the
-- rest are still not counted, and the next calls free them. Their counters still count until
-- they are pruned: a policy limit may refuse a little early then, never oversell.
local PRUNE = 100
-- A cap or a reserve as ARGV[9] and ARGV[10] pack them.
local RULE = COUNTER + 1 + 10
local LIMITS = {
  g = 'group_max', u = 'user_max', h = 'host_max', p = 'processes_per_host',
  r = 'reserved_for_others', s = 'seats'
}

local init, seats, holders = KEYS[1], KEYS[2], KEYS[3]
local borrowed, lingering, holds = KEYS[4], KEYS[5], KEYS[6]
local session, machine, user = ARGV[1], ARGV[2], ARGV[6]
local limit, ttl, grace = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local cap = tonumber(ARGV[7])
local counts, tags = KEYS[7], KEYS[8]
local counters, packed_caps, packed_reserves = ARGV[8], ARGV[9], ARGV[10]
local regrant = ARGV[11] == '1'
if #session ~= SESSION or #machine ~= MACHINE or (#user ~= 0 and #user ~= USER) then
  return redis.error_reply('ERR acquire: session must be 16 bytes, machine 12, user 0 or 12')
end
if not limit or limit < 0 or not ttl or ttl <= 0 or not grace or grace < 0 then
  return redis.error_reply('ERR acquire: limit, ttl and grace must be numbers')
end
if not cap or cap < -1 then
  return redis.error_reply('ERR acquire: the borrow cap must be -1 or a number >= 0')
end
if not counters or #counters % COUNTER ~= 0 or not packed_caps or #packed_caps % RULE ~= 0
    or not packed_reserves or #packed_reserves % RULE ~= 0 then
  return redis.error_reply(
    'ERR acquire: counters must be 12-byte digests, caps and reserves 23-byte records')
end
-- The caps and reserves, unpacked: {counter = digest, limit = name, max = n} and
-- {counter = digest, member = 0 or 1, seats = n}.
local caps, reserves = {}, {}
for at = 1, #packed_caps, RULE do
  local limit_name = LIMITS[packed_caps:sub(at + COUNTER, at + COUNTER)]
  local most = packed_caps:sub(at + COUNTER + 1, at + RULE - 1)
  if not limit_name or not most:match('^%d+$') then
    return redis.error_reply('ERR acquire: a cap is a digest, a limit code, 10 digits')
  end
  table.insert(caps,
    {counter = packed_caps:sub(at, at + COUNTER - 1), limit = limit_name, max = tonumber(most)})
end
for at = 1, #packed_reserves, RULE do
  local member = packed_reserves:sub(at + COUNTER, at + COUNTER)
  local seats_kept = packed_reserves:sub(at + COUNTER + 1, at + RULE - 1)
  if (member ~= '0' and member ~= '1') or not seats_kept:match('^%d+$') then
    return redis.error_reply('ERR acquire: a reserve is a digest, 0 or 1, 10 digits')
  end
  table.insert(reserves, {
    counter = packed_reserves:sub(at, at + COUNTER - 1),
    member = tonumber(member),
    seats = tonumber(seats_kept)
  })
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
-- A regrant of the asking session's own seat: checked as if that seat were free.
local regranting = regrant and held_by == session and not lingers

-- Seats in use: all but the expired ones. Counting those is O(1) while they fit one prune.
local expired = redis.call('ZRANGEBYSCORE', seats, '-inf', ms(now), 'LIMIT', 0, PRUNE)
local stale = #expired
if stale == PRUNE then
  stale = redis.call('ZCOUNT', seats, '-inf', ms(now))
end
local in_use = redis.call('ZCARD', seats) - stale

-- A borrow past the cap (live borrowed seats only: O(log n) however many wait to be pruned).
local borrowed_now = cap >= 0 and redis.call('ZCOUNT', borrowed, '(' .. ms(now), '+inf') or 0
if regranting and cap >= 0 and is_kind(borrowed, machine, held_until) then
  borrowed_now = borrowed_now - 1
end
local cap_reached = cap >= 0 and borrowed_now >= cap

-- Writes: free expired seats (zombies, ended borrows and lingers free themselves here) and
-- ended hold-offs, then grant.
if #expired > 0 then
  redis.call('ZREM', seats, unpack(expired))
  redis.call('ZREM', borrowed, unpack(expired))
  redis.call('ZREM', lingering, unpack(expired))
  for _, gone in ipairs(expired) do
    drop_holder(holders, gone)
  end
  untag(counts, tags, expired)
end
if #ended > 0 then
  redis.call('HDEL', holds, unpack(ended))
end

if held_by and not lingers and not regranting then
  return {'HELD', held_by, held_until}
end
-- A regrant refused frees the seat: it was never granted on record.
local function free_regranted()
  if regranting then
    untag(counts, tags, {machine})
    redis.call('ZREM', seats, machine)
    redis.call('ZREM', borrowed, machine)
    drop_holder(holders, machine)
  end
end
if cap_reached then
  free_regranted()
  return {'NO_BORROW_SEATS'}
end

-- The policy's check, as SeatTally::check does it: every seat taken, then a cap, then the
-- reserves (the grant must leave as many free seats as they still lack). Taking over the
-- machine's lingering seat is checked without that seat: its counters taken off, one seat
-- fewer in use.
local replaced = (lingers or regranting) and (redis.call('HGET', tags, machine) or '') or ''
local function count(counter)
  local n = tonumber(redis.call('HGET', counts, counter)) or 0
  for at = 1, #replaced, COUNTER do
    if replaced:sub(at, at + COUNTER - 1) == counter then
      n = n - 1
    end
  end
  return math.max(n, 0)
end
local function refused(in_use_before)
  if in_use_before >= limit then
    return 'seats'
  end
  for _, c in ipairs(caps) do
    if count(c.counter) >= c.max then
      return c.limit
    end
  end
  local lacking = 0
  for _, r in ipairs(reserves) do
    lacking = lacking + math.max(r.seats - (count(r.counter) + r.member), 0)
  end
  if in_use_before + 1 + lacking > limit then
    return 'reserved_for_others'
  end
  return nil
end
local limited = refused(held_by and in_use - 1 or in_use)
if limited then
  free_regranted()
end
if limited == 'seats' then
  return {'NO_SEATS'}
elseif limited then
  return {'LIMITED', limited}
end
if regranting then
  -- Counted toward what the asking requester counts toward; kind and expiry unchanged.
  untag(counts, tags, {machine})
  tag(counts, tags, machine, counters)
  if counters ~= '' then
    follow_expiry(counts, seats)
    follow_expiry(tags, seats)
  end
  return {'HELD', held_by, held_until}
end

local expires = now + ttl
-- The machine's previous seat (its lingering seat taken over, or an expired one not pruned
-- yet) stops counting; a machine with no seat entry has no tags (one read saved).
if held_until then
  untag(counts, tags, {machine})
end
tag(counts, tags, machine, counters)
redis.call('ZADD', seats, ms(expires), machine)
set_holder(holders, machine, session)
-- The machine's lingering seat taken over, or an older seat's entries left: not of that kind.
redis.call('ZREM', lingering, machine)
redis.call('ZREM', borrowed, machine)
local groups = {{seats, holders, counts, tags}}
if cap >= 0 then
  redis.call('ZADD', borrowed, ms(expires), machine)
  table.insert(groups, {borrowed})
end
keep_keys(init, now, expires, grace, groups)
if counters ~= '' then
  follow_expiry(counts, seats)
  follow_expiry(tags, seats)
end
if held_by then
  return {'TOOK_BACK', expires, in_use, held_by}
end
return {'GRANTED', expires, in_use + 1}
