-- acquire: take a seat on one license for a session, unless the machine or the person is held
-- off after an eviction, the machine already holds a live seat, a borrow would pass the borrow
-- cap, every seat is taken, a limit of the license's seat policy refuses it (exactly
-- `SeatTally::check` in license-core), or live tickets of the license's queue ahead of the
-- asker would take the seat (ADR 0029; tickets.lua explains the tickets). A seat lingering for
-- the machine is taken over. Refused (a take-back too), an asker may join the queue or poll its
-- ticket. One atomic step.
--
-- KEYS[1]  lic:{t:l}:v2:init       the initialised marker (string)
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
-- ARGV[1]  session id asking (16 raw bytes); also its ticket's name
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
--          its expiry ({'HELD', ...}); refused, it is freed. '0' (acquire) otherwise. A
--          regrant takes ARGV[12..16] as a plain acquire at priority 0.
-- ARGV[12] the asker's priority, an integer 0 ..= 1000 (MAX_PRIORITY): where it stands in the
--          queue when it has no ticket (behind every ticket of this priority or more)
-- ARGV[13] what a refused asker does with the queue (QueueMode): 'pass' (a plain acquire:
--          refused as usual, or {'LIMITED', 'queued'} when only tickets ahead stand in its
--          way), 'join' (wait: a ticket made, or its place kept), 'poll' (its ticket's place
--          kept; {'TICKET_GONE'} when it has none) or 'peek' (a poll that takes no seat: where
--          a poll would be granted, {'TURN'}, its ticket kept and polled, nothing else written)
-- ARGV[14] wait in ms, an integer >= 0: a join's longest wait, from joining (a later join does
--          not extend it); '0' unless 'join'
-- ARGV[15] poll-within in ms, an integer >= 0: a waiting ticket is dropped unless asked for
--          again within this; '0' for 'pass'
-- ARGV[16] max length, an integer >= 0: a join that would make a ticket while this many wait
--          is {'QUEUE_FULL'}; '0' unless 'join'
-- ARGV[17] the machine's seat key as text (its hardware id, which ARGV[2] digests): kept in a
--          ticket, for an administrator's list of the queue
--
-- A ticket answers only the machine that joined with it. The ticket of the asking session ends
-- when it is held off, when its machine holds a seat (not for a regrant), and when it gets a
-- seat. An acquire that may take a new seat first ends every
-- ticket that stopped waiting (not polled in time, or its wait over).
--
-- Replies (nothing but the pruning of expired seats, hold-offs and tickets, and the end of the
-- asker's ticket, is written unless GRANTED, TOOK_BACK or QUEUED):
--   {'REBUILD'}                          the marker is missing: rebuild from the store, retry
--   {'EVICTED', until_ms, reason}        the machine or the person is held off until until_ms
--                                        (the hold-off ending last); the asker's ticket
--                                        ends, nothing else is written
--   {'HELD', session_id, expires_ms}     the machine holds a live seat (session id: 16 bytes);
--                                        for a regrant: the seat was granted again
--   {'NO_BORROW_SEATS'}                  a borrow, while `cap` borrowed seats are live
--   {'NO_SEATS'}                         every seat is taken
--   {'LIMITED', limit}                   a limit of the policy refuses the seat: 'group_max',
--                                        'user_max', 'host_max', 'processes_per_host' or
--                                        'reserved_for_others'; or 'queued': a seat is free,
--                                        but tickets ahead take it (a plain acquire)
--   {'QUEUED', position, wait_until_ms, arrival}
--                                        refused, the asker waits (a join or a poll): position
--                                        1 is the next in line; its ticket ends at wait_until;
--                                        `arrival` is its arrival number (what the store
--                                        records, for a rebuild to restore the order)
--   {'TURN'}                             a peek whose ticket would be granted a seat now
--   {'QUEUE_FULL'}                       a join while max length tickets wait; no ticket made
--   {'TICKET_GONE'}                      a poll of a ticket that is gone (dropped or left)
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

local init, seats, holders = KEYS[1], KEYS[2], KEYS[3]
local borrowed, lingering, holds = KEYS[4], KEYS[5], KEYS[6]
local counts, tags = KEYS[7], KEYS[8]
local queue, tickets, deadlines = KEYS[9], KEYS[10], KEYS[11]
local session, machine, user = ARGV[1], ARGV[2], ARGV[6]
local limit, ttl, grace = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local cap = tonumber(ARGV[7])
local counters, packed_caps, packed_reserves = ARGV[8], ARGV[9], ARGV[10]
local regrant = ARGV[11] == '1'
local priority, mode = tonumber(ARGV[12]), ARGV[13]
local wait, poll_within, max_length = tonumber(ARGV[14]), tonumber(ARGV[15]), tonumber(ARGV[16])
local seat_key = ARGV[17]
if #session ~= SESSION or #machine ~= MACHINE or (#user ~= 0 and #user ~= USER) then
  return redis.error_reply('ERR acquire: session must be 16 bytes, machine 12, user 0 or 12')
end
if not limit or limit < 0 or not ttl or ttl <= 0 or not grace or grace < 0 then
  return redis.error_reply('ERR acquire: limit, ttl and grace must be numbers')
end
if not cap or cap < -1 then
  return redis.error_reply('ERR acquire: the borrow cap must be -1 or a number >= 0')
end
if not counters or #counters % COUNTER ~= 0 then
  return redis.error_reply('ERR acquire: counters must be 12-byte digests')
end
local rules, malformed = parse_rules(packed_caps, packed_reserves)
if not rules then
  return redis.error_reply('ERR acquire: ' .. malformed)
end
if #counters >= 10 ^ LENGTH_DIGITS or #packed_caps >= 10 ^ LENGTH_DIGITS
    or #packed_reserves >= 10 ^ LENGTH_DIGITS then
  return redis.error_reply('ERR acquire: a tally of a million bytes does not fit a ticket')
end
if not priority or priority < 0 or priority > MAX_PRIORITY or priority % 1 ~= 0
    or (mode ~= 'pass' and mode ~= 'join' and mode ~= 'poll' and mode ~= 'peek')
    or not wait or wait < 0
    or not poll_within or poll_within < 0 or not max_length or max_length < 0
    -- A ticket's times are 15 digits: far more than the Rust side lets through (100 years).
    or wait >= 10 ^ 14 or poll_within >= 10 ^ 14 then
  return redis.error_reply('ERR acquire: priority must be 0 to 1000, mode pass, join, poll or peek, '
    .. 'wait, poll-within and max length numbers >= 0')
end
if not seat_key or #seat_key == 0 then
  return redis.error_reply('ERR acquire: the seat key must be the machine\'s hardware id')
end

-- Checks (read-only).
if redis.call('EXISTS', init) == 0 then
  return {'REBUILD'}
end
local now = now_ms()
-- Tickets in the queue, dropped ones included: 0 for a license without a queue, and then
-- nothing below reads or writes a ticket.
local queued = redis.call('ZCARD', queue)
-- Ends the asker's ticket, if it has one.
local function leave_queue()
  if queued > 0 then
    end_tickets(queue, tickets, deadlines, {session})
  end
end

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
  leave_queue()
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
  leave_queue()
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

-- The policy's check (refusal, tally.lua). Taking over the machine's lingering seat, or
-- regranting its seat, is checked without that seat: its counters taken off, one seat fewer
-- in use.
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
local function refused_reply(limited)
  if limited == 'seats' then
    return {'NO_SEATS'}
  end
  return {'LIMITED', limited}
end

-- The asker's ticket, after the tickets that stopped waiting go: its order and record, its own
-- only if its machine joined with it (another machine presenting it stands as if it had none;
-- the ticket stays its joiner's).
local function own_ticket()
  if queued == 0 then
    return nil, nil
  end
  drop_stale_tickets(queue, tickets, deadlines, now)
  local own_order = tonumber(redis.call('ZSCORE', queue, session))
  local own = own_order and unpack_ticket(redis.call('HGET', tickets, session))
  if own and own.machine == machine then
    return own_order, own
  end
  return nil, nil
end
-- Refused, the asker waits: its ticket made (in place of one another machine joined with under
-- its session id), or its place kept; polled now, with the request's tally.
local function wait_in_queue(own_order, own)
  local place = own_order
  local ticket = {
    machine = machine, poll_by = now + poll_within, wait_until = now + wait,
    counters = counters, caps = packed_caps, reserves = packed_reserves, seat_key = seat_key
  }
  if own then
    ticket.wait_until, ticket.seat_key = own.wait_until, own.seat_key
  else
    local waiting = queued > 0 and redis.call('ZCARD', queue) or 0
    if waiting >= max_length then
      return {'QUEUE_FULL'}
    end
    place = order(priority, next_arrival(queue, tickets))
    redis.call('ZADD', queue, ms(place), session)
  end
  put_ticket(tickets, deadlines, session, ticket)
  if not own then
    keep_keys(init, now, ticket.wait_until, grace, {{queue, tickets, deadlines}})
  end
  return {'QUEUED', redis.call('ZCOUNT', queue, '-inf', '(' .. ms(place)) + 1, ticket.wait_until,
    place % ARRIVALS_PER_PRIORITY}
end
-- A peek whose turn has come: its ticket (if it has one) polled now, with the request's tally;
-- no seat taken.
local function turn(own)
  if own then
    put_ticket(tickets, deadlines, session, {
      machine = machine, poll_by = now + poll_within, wait_until = own.wait_until,
      counters = counters, caps = packed_caps, reserves = packed_reserves, seat_key = own.seat_key
    })
  end
  return {'TURN'}
end
local polls = mode == 'poll' or mode == 'peek'

if held_by then
  -- A take-back or a regrant: the queue has no say (the seat is the machine's already). A
  -- take-back the policy refuses waits, if the asker would, as for a new seat: its turn comes
  -- when the limit lets its seat back, or when the seat has stopped lingering.
  local limited = refusal(rules, count, in_use - 1, limit)
  if limited then
    free_regranted()
    if regranting or mode == 'pass' then
      return refused_reply(limited)
    end
    local own_order, own = own_ticket()
    if polls and not own then
      return {'TICKET_GONE'}
    end
    return wait_in_queue(own_order, own)
  end
  if mode == 'peek' then
    local _, own = own_ticket()
    return turn(own)
  end
else
  -- A new seat: the queue's turn (ADR 0029).
  local own_order, own = own_ticket()
  if polls and not own then
    return {'TICKET_GONE'}
  end
  -- Its place: its ticket's, or behind every ticket of its priority.
  local place = own_order or order(priority, ARRIVALS_PER_PRIORITY)
  local limited = refusal(rules, count, in_use, limit)
  if queued > 0 and not limited then
    local claimed, claims = claims_ahead(queue, tickets, seats, place, now, count, in_use, limit)
    local function counted(counter)
      return count(counter) + (claims[counter] or 0)
    end
    if claimed > 0 and refusal(rules, counted, in_use + claimed, limit) then
      limited = 'queued'
    end
  end
  if limited and mode == 'pass' then
    return refused_reply(limited)
  end
  if limited then
    return wait_in_queue(own_order, own)
  end
  if mode == 'peek' then
    return turn(own)
  end
  -- Granted: the session's ticket ends (whichever machine joined with it).
  leave_queue()
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
  leave_queue()
  return {'TOOK_BACK', expires, in_use, held_by}
end
return {'GRANTED', expires, in_use + 1}
