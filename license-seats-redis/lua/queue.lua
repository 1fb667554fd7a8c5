-- queue: the seat queue's tickets (ADR 0029), for acquire and leave. scripts.rs puts this file
-- after common.lua (and tally.lua, which it uses); it defines locals only and touches only the
-- keys it is given.
--
-- A ticket is a session waiting for a seat. It holds no seat and counts toward nothing; the
-- acquire script alone enforces the order, refusing a seat to anyone behind live tickets that
-- would take it (pull: nothing is handed to a ticket). Two keys, in the license's hash tag,
-- absent while nobody waits (a license without a queue costs acquire one ZCARD):
--   `queue`    sorted set: member = the ticket's session id (16 raw bytes), score = its order,
--              (MAX_PRIORITY - priority) * 2^32 + arrival: higher priority first, then earlier
--              arrival; below 2^42, so exact in a double.
--   `tickets`  hash: session id -> the ticket's record (below); and the field 'arrivals' ->
--              the license's arrival counter (HINCRBY), so replicas agree on arrival order.
-- A record: machine digest (12 bytes), poll-by ms and wait-until ms (15 decimal digits each,
-- zero-padded), the lengths of the counters and of the caps (6 digits each), then the tally
-- exactly as acquire's ARGV[8..10] pack it: counters, caps, reserves. A ticket is dropped when
-- its poll-by or its wait-until passed; the last ticket to go deletes `tickets` (so the arrival
-- counter starts again with an empty queue). Both keys expire a grace after the latest
-- wait-until (keep_keys), so an abandoned queue frees its memory.

local MAX_PRIORITY = 1000
-- Arrivals per priority: an arrival is below this, so the orders of two priorities never mix.
local ARRIVALS_PER_PRIORITY = 4294967296
local ARRIVALS = 'arrivals'
local TIME_DIGITS, LENGTH_DIGITS = 15, 6
local TICKET_HEAD = MACHINE + 2 * TIME_DIGITS + 2 * LENGTH_DIGITS
-- Fields per HMGET / ZREM / HDEL call: unpack() has a limit, and long queues may pass it.
local BATCH = 1000

-- The order of the `arrival`th ticket of `priority` (`ARRIVALS_PER_PRIORITY` for an asker
-- without a ticket: behind every ticket of its priority, ahead of every lower one).
local function order(priority, arrival)
  return (MAX_PRIORITY - priority) * ARRIVALS_PER_PRIORITY + arrival
end

local function pack_ticket(machine, poll_by, wait_until, counters, caps, reserves)
  return machine
    .. string.format('%015d%015d%06d%06d', poll_by, wait_until, #counters, #caps)
    .. counters .. caps .. reserves
end

-- A record unpacked: {machine, poll_by, wait_until, counters, caps, reserves}, or nil when it
-- is not one.
local function unpack_ticket(record)
  if not record or #record < TICKET_HEAD then
    return nil
  end
  local at = MACHINE + 1
  local function field(width)
    local value = tonumber(record:sub(at, at + width - 1))
    at = at + width
    return value
  end
  local poll_by, wait_until = field(TIME_DIGITS), field(TIME_DIGITS)
  local n_counters, n_caps = field(LENGTH_DIGITS), field(LENGTH_DIGITS)
  if not (poll_by and wait_until and n_counters and n_caps)
      or TICKET_HEAD + n_counters + n_caps > #record then
    return nil
  end
  local caps_at = TICKET_HEAD + n_counters + 1
  return {
    machine = record:sub(1, MACHINE),
    poll_by = poll_by,
    wait_until = wait_until,
    counters = record:sub(TICKET_HEAD + 1, caps_at - 1),
    caps = record:sub(caps_at, caps_at + n_caps - 1),
    reserves = record:sub(caps_at + n_caps)
  }
end

-- Whether a ticket still waits: polled in time, its wait not over.
local function waits(ticket, now)
  return ticket and ticket.poll_by > now and ticket.wait_until > now
end

-- A list of the tickets found dropped, each once however often it is met.
local function dropped_tickets()
  return {seen = {}}
end

local function note_dropped(dropped, session)
  if not dropped.seen[session] then
    dropped.seen[session] = true
    table.insert(dropped, session)
  end
end

-- Runs `command key fields...` over `fields` in batches; the sum of the integer replies.
local function batched(command, key, fields)
  local total = 0
  for first = 1, #fields, BATCH do
    total = total + redis.call(command, key, unpack(fields, first, math.min(#fields, first + BATCH - 1)))
  end
  return total
end

-- The records of `sessions` (nil for a missing one), in order.
local function records_of(tickets, sessions)
  local records = {}
  for first = 1, #sessions, BATCH do
    local last = math.min(#sessions, first + BATCH - 1)
    local found = redis.call('HMGET', tickets, unpack(sessions, first, last))
    for i = 1, last - first + 1 do
      records[first + i - 1] = found[i] or nil
    end
  end
  return records
end

-- Ends the tickets of `sessions` (those that have none are skipped); the last one out deletes
-- `tickets`, arrival counter included. How many ended.
local function end_tickets(queue, tickets, sessions)
  if #sessions == 0 then
    return 0
  end
  local ended = batched('ZREM', queue, sessions)
  if ended > 0 then
    if redis.call('EXISTS', queue) == 0 then
      redis.call('DEL', tickets)
    else
      batched('HDEL', tickets, sessions)
    end
  end
  return ended
end

-- The live tickets before `place` (an order, exclusive) and the seats they would take, each in
-- turn when its own tally lets it (a ticket whose machine holds a live seat needs none),
-- counted as if granted: memory/ledger.rs's claims_ahead. `count(counter)` is the seats
-- counting toward a counter now, `in_use` the seats taken of `limit`. Tickets found dropped
-- are noted in `dropped` (the caller ends them). Returns how many live tickets are ahead, how
-- many seats they claim, and the claims per counter digest.
local function claims_ahead(queue, tickets, seats, place, now, count, in_use, limit, dropped)
  local sessions = redis.call('ZRANGEBYSCORE', queue, '-inf', '(' .. ms(place))
  local records = records_of(tickets, sessions)
  local ahead, claimed, claims = 0, 0, {}
  local function counted(counter)
    return count(counter) + (claims[counter] or 0)
  end
  for i, waiting in ipairs(sessions) do
    local ticket = unpack_ticket(records[i])
    local rules = waits(ticket, now) and parse_rules(ticket.caps, ticket.reserves)
    if not rules then
      note_dropped(dropped, waiting)
    else
      ahead = ahead + 1
      local seated = tonumber(redis.call('ZSCORE', seats, ticket.machine))
      if not (seated and seated > now)
          and not refusal(rules, counted, in_use + claimed, limit) then
        claimed = claimed + 1
        for at = 1, #ticket.counters, COUNTER do
          local counter = ticket.counters:sub(at, at + COUNTER - 1)
          claims[counter] = (claims[counter] or 0) + 1
        end
      end
    end
  end
  return ahead, claimed, claims
end

-- How many tickets at `place` (an order, inclusive) or after still wait; those found dropped
-- are noted in `dropped`.
local function waiting_from(queue, tickets, place, now, dropped)
  local sessions = redis.call('ZRANGEBYSCORE', queue, ms(place), '+inf')
  local records = records_of(tickets, sessions)
  local live = 0
  for i, waiting in ipairs(sessions) do
    if waits(unpack_ticket(records[i]), now) then
      live = live + 1
    else
      note_dropped(dropped, waiting)
    end
  end
  return live
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
