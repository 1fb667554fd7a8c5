-- rebuild: restore one license's seats (with their kinds and counters) and hold-offs from the store and set
-- the initialised marker, if (and only if) the marker is missing. A late rebuild from an older
-- snapshot therefore cannot drop seats granted since the first rebuild. Seats and hold-offs
-- already past their end (by the Redis clock) are not restored. A machine gets one seat:
-- should the store name several live sessions for one machine, the one expiring last keeps it
-- (with its kind); of several hold-offs of one machine or person, the one ending last stays.
-- The queue comes back from the store's tickets (ADR 0029): whatever tickets an older state left
-- are deleted, then each ticket whose wait has not ended is restored at its own order (its
-- priority and original arrival number), polled now (a fresh poll deadline, so clients polling
-- through the outage keep their place); the arrival counter goes on after the highest arrival
-- restored. tickets.lua describes the keys and records. One atomic step.
--
-- KEYS[1]  lic:{t:l}:v2:init       the initialised marker
-- KEYS[2]  lic:{t:l}:v2:seats      sorted set: member = machine digest, score = expiry (ms, by TIME)
-- KEYS[3]  lic:{t:l}:v2:holders    hash: bucket -> packed (machine digest, session id) records
-- KEYS[4]  lic:{t:l}:v2:borrowed   sorted set: the borrowed seats (machine digest -> expiry)
-- KEYS[5]  lic:{t:l}:v2:lingering  sorted set: the lingering seats (machine digest -> end)
-- KEYS[6]  lic:{t:l}:v2:holds      hash: 'm' .. machine / 'u' .. user digest -> 'until:reason'
-- KEYS[7]  lic:{t:l}:v2:counts     hash: counter digest -> seats counting toward it
-- KEYS[8]  lic:{t:l}:v2:tags       hash: machine digest -> its seat's counter digests
-- KEYS[9]  lic:{t:l}:v2:queue      sorted set: ticket (session id) -> its order
-- KEYS[10] lic:{t:l}:v2:tickets    hash: ticket -> its record; 'arrivals' -> arrival counter
-- KEYS[11] lic:{t:l}:v2:deadlines  sorted set: ticket -> when it is dropped unless polled (ms)
-- ARGV[1]  grace in ms: the keys expire this long after the last thing they hold
-- ARGV[2]  n: how many seats follow
-- ARGV[3]  h: how many hold-off triples follow the seats
-- ARGV[4]  poll-within in ms: a restored ticket is dropped unless polled within this
-- ARGV[5 + 5i .. 9 + 5i]   (i = 0 .. n - 1) each live seat in the store: session id (16 raw
--          bytes), machine digest (12 bytes), expiry in ms, kind ('H' held, 'B' borrowed,
--          'L' lingering: its expiry is the end of its linger), the counters it counts toward
--          (12-byte counter digests concatenated, '' when none)
-- ARGV[5 + 5n + 3j .. 7 + 5n + 3j]   (j = 0 .. h - 1) each hold-off in force in the store, once
--          for its machine and once for its person: the party ('m' .. machine digest or
--          'u' .. user digest, 13 bytes), its end in ms, its reason
-- ARGV[5 + 5n + 3h + 9k .. 13 + 5n + 3h + 9k]   (k = 0, 1, ...) each ticket on record, in
--          queue order: session id (16 raw bytes), machine digest (12 bytes), the seat key as
--          text, priority (0 ..= 1000), arrival number (0 .. 2^32 - 1), wait-until in ms, and
--          its tally as acquire's ARGV[8..10] pack it (counters, caps, reserves)
--
-- Replies:
--   {'ALREADY_INITIALISED'}          the marker exists: nothing changed, the arguments ignored
--   {'REBUILT', seats, hold_offs, tickets}
--                                    the state was replaced; that many seats, parties held
--                                    off and tickets were still live
-- An error reply ('ERR rebuild: ...') for malformed arguments, before any write.

local KINDS = {H = true, B = true, L = true}

local init, seats, holders = KEYS[1], KEYS[2], KEYS[3]
local borrowed, lingering, holds = KEYS[4], KEYS[5], KEYS[6]
local counts, tags = KEYS[7], KEYS[8]
local queue, tickets, deadlines = KEYS[9], KEYS[10], KEYS[11]
local grace, n, h = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local poll_within = tonumber(ARGV[4])
if not grace or grace < 0 or not n or n < 0 or n % 1 ~= 0 or not h or h < 0 or h % 1 ~= 0
    or not poll_within or poll_within < 0 or poll_within >= 10 ^ 14
    or 4 + 5 * n + 3 * h > #ARGV or (#ARGV - 4 - 5 * n - 3 * h) % 9 ~= 0 then
  return redis.error_reply('ERR rebuild: expected grace, n, h, poll-within, n seat quintuples, '
    .. 'h hold triples, then ticket nonuples')
end
local first_hold = 5 + 5 * n
local first_ticket = first_hold + 3 * h
for i = 5, first_hold - 1, 5 do
  if #ARGV[i] ~= SESSION or #ARGV[i + 1] ~= MACHINE or not tonumber(ARGV[i + 2])
      or not KINDS[ARGV[i + 3]] or #ARGV[i + 4] % COUNTER ~= 0 then
    return redis.error_reply('ERR rebuild: session must be 16 bytes, machine 12, expiry a '
      .. 'number, kind H, B or L, counters 12-byte digests')
  end
end
for j = first_hold, first_ticket - 1, 3 do
  local party = ARGV[j]
  local kind = party:sub(1, 1)
  if #party ~= 1 + MACHINE or (kind ~= 'm' and kind ~= 'u') or not tonumber(ARGV[j + 1]) then
    return redis.error_reply('ERR rebuild: a hold-off is a 13-byte party, an end, a reason')
  end
end
for k = first_ticket, #ARGV, 9 do
  local priority, arrival = tonumber(ARGV[k + 3]), tonumber(ARGV[k + 4])
  if #ARGV[k] ~= SESSION or #ARGV[k + 1] ~= MACHINE or #ARGV[k + 2] == 0
      or not priority or priority < 0 or priority > MAX_PRIORITY or priority % 1 ~= 0
      or not arrival or arrival < 0 or arrival >= ARRIVALS_PER_PRIORITY or arrival % 1 ~= 0
      or not tonumber(ARGV[k + 5]) or tonumber(ARGV[k + 5]) >= 10 ^ 14
      or #ARGV[k + 6] % COUNTER ~= 0 or not parse_rules(ARGV[k + 7], ARGV[k + 8]) then
    return redis.error_reply('ERR rebuild: a ticket is a 16-byte session, a 12-byte machine, a '
      .. 'seat key, a priority 0 to 1000, an arrival, a wait-until and a tally')
  end
end

-- Checks (read-only).
if redis.call('EXISTS', init) == 1 then
  return {'ALREADY_INITIALISED'}
end
local now = now_ms()

-- The live seat of each machine: the argument index of its session.
local live = {}
for i = 5, first_hold - 1, 5 do
  local machine, expires = ARGV[i + 1], tonumber(ARGV[i + 2])
  local other = live[machine]
  if expires > now and (not other or expires > tonumber(ARGV[other + 2])) then
    live[machine] = i
  end
end
-- The hold-off of each party in force: the argument index of the one ending last.
local held = {}
for j = first_hold, first_ticket - 1, 3 do
  local party, until_ms = ARGV[j], tonumber(ARGV[j + 1])
  local other = held[party]
  if until_ms > now and (not other or until_ms > tonumber(ARGV[other + 1])) then
    held[party] = j
  end
end

-- Writes: whatever is left of an older state goes; the store's live state comes back.
redis.call('DEL', seats, holders, borrowed, lingering, holds, counts, tags, queue, tickets,
  deadlines)
local restored, last, buckets = 0, now, {}
for machine, i in pairs(live) do
  local expires, kind = tonumber(ARGV[i + 2]), ARGV[i + 3]
  redis.call('ZADD', seats, ms(expires), machine)
  if kind == 'B' then
    redis.call('ZADD', borrowed, ms(expires), machine)
  elseif kind == 'L' then
    redis.call('ZADD', lingering, ms(expires), machine)
  end
  local field = bucket(machine)
  buckets[field] = buckets[field] or {}
  table.insert(buckets[field], machine .. ARGV[i])
  tag(counts, tags, machine, ARGV[i + 4])
  restored = restored + 1
  last = math.max(last, expires)
end
for field, records in pairs(buckets) do
  redis.call('HSET', holders, field, table.concat(records))
end
local held_off = 0
for party, j in pairs(held) do
  local until_ms = tonumber(ARGV[j + 1])
  redis.call('HSET', holds, party, ms(until_ms) .. ':' .. ARGV[j + 2])
  held_off = held_off + 1
  last = math.max(last, until_ms)
end
-- The queue, at each ticket's own order; the arrival counter after the highest restored.
local queued, highest = 0, nil
for k = first_ticket, #ARGV, 9 do
  local wait_until = tonumber(ARGV[k + 5])
  if wait_until > now then
    local arrival = tonumber(ARGV[k + 4])
    redis.call('ZADD', queue, ms(order(tonumber(ARGV[k + 3]), arrival)), ARGV[k])
    put_ticket(tickets, deadlines, ARGV[k], {
      machine = ARGV[k + 1], poll_by = now + poll_within, wait_until = wait_until,
      counters = ARGV[k + 6], caps = ARGV[k + 7], reserves = ARGV[k + 8], seat_key = ARGV[k + 2]
    })
    queued = queued + 1
    highest = math.max(highest or arrival, arrival)
    last = math.max(last, wait_until)
  end
end
if highest then
  redis.call('HSET', tickets, ARRIVALS, highest)
end
redis.call('SET', init, '1')

-- Every key outlives the latest seat and hold-off by `grace`, so an abandoned license frees
-- its memory.
for _, key in ipairs(KEYS) do
  redis.call('PEXPIREAT', key, ms(last + grace))
end

return {'REBUILT', restored, held_off, queued}
