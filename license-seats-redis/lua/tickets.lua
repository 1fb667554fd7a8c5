-- tickets: the seat queue's tickets (ADR 0029), for acquire, leave and queue. scripts.rs puts
-- this file after common.lua (and tally.lua, which acquire needs with it); it defines locals
-- only and touches only the keys it is given.
--
-- A ticket is a session waiting for a seat. It holds no seat and counts toward nothing; the
-- acquire script alone enforces the order, refusing a seat to anyone behind live tickets that
-- would take it (pull: nothing is handed to a ticket). Three keys, in the license's hash tag,
-- absent while nobody waits (a license without a queue costs acquire one ZCARD):
--   `queue`      sorted set: member = the ticket's session id (16 raw bytes), score = its
--                order, (MAX_PRIORITY - priority) * 2^32 + arrival: higher priority first, then
--                earlier arrival; below 2^42, so exact in a double.
--   `tickets`    hash: session id -> the ticket's record (below); and the field 'arrivals' ->
--                the license's arrival counter (HINCRBY), so replicas agree on arrival order.
--   `deadlines`  sorted set: session id -> when the ticket is dropped unless polled again: the
--                earlier of its poll-by and its wait-until (ms). It lets a call drop every
--                ticket that stopped waiting in O(log n) (and then count places with ZCOUNT),
--                instead of reading every record.
-- The three hold the same tickets. A record: machine digest (12 bytes), poll-by ms and
-- wait-until ms (15 decimal digits each, zero-padded), the lengths of the counters, the caps
-- and the reserves (6 digits each), the tally exactly as acquire's ARGV[8..10] pack it
-- (counters, caps, reserves), then the machine's seat key as text (what an administrator's
-- list of the queue names; the digest alone cannot be read back). The last ticket to go deletes `tickets` (so the arrival counter starts again
-- with an empty queue). The keys expire a grace after the latest wait-until (keep_keys), so an
-- abandoned queue frees its memory.

local MAX_PRIORITY = 1000
-- Arrivals per priority: an arrival is below this, so the orders of two priorities never mix.
local ARRIVALS_PER_PRIORITY = 4294967296
local ARRIVALS = 'arrivals'
local TIME_DIGITS, LENGTH_DIGITS = 15, 6
local TICKET_HEAD = MACHINE + 2 * TIME_DIGITS + 3 * LENGTH_DIGITS
-- Fields per ZREM / HDEL call: unpack() has a limit, and long queues may pass it.
local BATCH = 1000
-- Tickets read per step of the walk: most walks stop within the first, as soon as the free
-- seats are claimed.
local WALK_STEP = 16

-- The order of the `arrival`th ticket of `priority` (`ARRIVALS_PER_PRIORITY` for an asker
-- without a ticket: behind every ticket of its priority, ahead of every lower one).
local function order(priority, arrival)
  return (MAX_PRIORITY - priority) * ARRIVALS_PER_PRIORITY + arrival
end

local function pack_ticket(machine, poll_by, wait_until, counters, caps, reserves, seat_key)
  return machine
    .. string.format('%015d%015d%06d%06d%06d', poll_by, wait_until, #counters, #caps, #reserves)
    .. counters .. caps .. reserves .. seat_key
end

-- A record unpacked: {machine, poll_by, wait_until, counters, caps, reserves, seat_key}, or nil
-- when it is not one.
local function unpack_ticket(record)
  if not record or #record < TICKET_HEAD then
    return nil
  end
  local function number(from, width)
    return tonumber(record:sub(from, from + width - 1))
  end
  local times_at = MACHINE + 1
  local lengths_at = times_at + 2 * TIME_DIGITS
  local poll_by, wait_until = number(times_at, TIME_DIGITS), number(times_at + TIME_DIGITS, TIME_DIGITS)
  local n_counters = number(lengths_at, LENGTH_DIGITS)
  local n_caps = number(lengths_at + LENGTH_DIGITS, LENGTH_DIGITS)
  local n_reserves = number(lengths_at + 2 * LENGTH_DIGITS, LENGTH_DIGITS)
  if not (poll_by and wait_until and n_counters and n_caps and n_reserves)
      or TICKET_HEAD + n_counters + n_caps + n_reserves > #record then
    return nil
  end
  local caps_at = TICKET_HEAD + n_counters + 1
  local reserves_at = caps_at + n_caps
  local seat_key_at = reserves_at + n_reserves
  return {
    machine = record:sub(1, MACHINE),
    poll_by = poll_by,
    wait_until = wait_until,
    counters = record:sub(TICKET_HEAD + 1, caps_at - 1),
    caps = record:sub(caps_at, reserves_at - 1),
    reserves = record:sub(reserves_at, seat_key_at - 1),
    seat_key = record:sub(seat_key_at)
  }
end

-- Writes a ticket's record and its deadline (the earlier of poll-by and wait-until).
local function put_ticket(tickets, deadlines, session, record)
  redis.call('HSET', tickets, session, pack_ticket(record.machine, record.poll_by,
    record.wait_until, record.counters, record.caps, record.reserves, record.seat_key))
  redis.call('ZADD', deadlines, ms(math.min(record.poll_by, record.wait_until)), session)
end

-- The priority an order stands for.
local function priority_of(order_score)
  return MAX_PRIORITY - math.floor(order_score / ARRIVALS_PER_PRIORITY)
end

-- Runs `command key fields...` over `fields` in batches; the sum of the integer replies.
local function batched(command, key, fields)
  local total = 0
  for first = 1, #fields, BATCH do
    total = total + redis.call(command, key, unpack(fields, first, math.min(#fields, first + BATCH - 1)))
  end
  return total
end

-- Ends the tickets of `sessions` (those that have none are skipped); the last one out deletes
-- `tickets`, arrival counter included. How many ended.
local function end_tickets(queue, tickets, deadlines, sessions)
  if #sessions == 0 then
    return 0
  end
  local ended = batched('ZREM', queue, sessions)
  if ended > 0 then
    batched('ZREM', deadlines, sessions)
    if redis.call('EXISTS', queue) == 0 then
      redis.call('DEL', tickets)
    else
      batched('HDEL', tickets, sessions)
    end
  end
  return ended
end

-- Ends every ticket whose deadline passed (not polled in time, or its wait over).
local function drop_stale_tickets(queue, tickets, deadlines, now)
  return end_tickets(queue, tickets, deadlines,
    redis.call('ZRANGEBYSCORE', deadlines, '-inf', ms(now)))
end

-- The seats the tickets before `place` (an order, exclusive) would take, each in turn when its
-- own tally lets it (a ticket whose machine holds a live seat needs none), counted as if
-- granted: memory/ledger.rs's claims_ahead, over tickets that all still wait. `count(counter)`
-- is the seats counting toward a counter now, `in_use` the seats taken of `limit`. The walk
-- stops once the claims take every free seat: no ticket further on can claim one. Returns how
-- many seats are claimed, and the claims per counter digest.
local function claims_ahead(queue, tickets, seats, place, now, count, in_use, limit)
  local claimed, claims = 0, {}
  local function counted(counter)
    return count(counter) + (claims[counter] or 0)
  end
  local offset = 0
  while in_use + claimed < limit do
    local sessions = redis.call('ZRANGEBYSCORE', queue, '-inf', '(' .. ms(place),
      'LIMIT', offset, WALK_STEP)
    if #sessions == 0 then
      break
    end
    local records = redis.call('HMGET', tickets, unpack(sessions))
    for i = 1, #sessions do
      if in_use + claimed >= limit then
        break
      end
      local ticket = unpack_ticket(records[i] or nil)
      local rules = ticket and parse_rules(ticket.caps, ticket.reserves)
      local seated = ticket and tonumber(redis.call('ZSCORE', seats, ticket.machine))
      if rules and not (seated and seated > now)
          and not refusal(rules, counted, in_use + claimed, limit) then
        claimed = claimed + 1
        for at = 1, #ticket.counters, COUNTER do
          local counter = ticket.counters:sub(at, at + COUNTER - 1)
          claims[counter] = (claims[counter] or 0) + 1
        end
      end
    end
    offset = offset + #sessions
  end
  return claimed, claims
end

-- The next arrival number of the license. Should the counter reach ARRIVALS_PER_PRIORITY (the
-- queue never emptied for that many joins), the tickets are renumbered 1, 2, ... in their
-- order first, which keeps it.
local function next_arrival(queue, tickets)
  local arrival = redis.call('HINCRBY', tickets, ARRIVALS, 1)
  if arrival < ARRIVALS_PER_PRIORITY then
    return arrival
  end
  local ordered = redis.call('ZRANGE', queue, 0, -1, 'WITHSCORES')
  local n = 0
  for i = 1, #ordered, 2 do
    n = n + 1
    local band = math.floor(tonumber(ordered[i + 1]) / ARRIVALS_PER_PRIORITY)
    redis.call('ZADD', queue, ms(band * ARRIVALS_PER_PRIORITY + n), ordered[i])
  end
  redis.call('HSET', tickets, ARRIVALS, n + 1)
  return n + 1
end
