-- queue: the tickets waiting in one license's queue, first in line first, as an administrator
-- sees them (ADR 0029; tickets.lua explains the tickets). Tickets that stopped waiting are
-- dropped first, as acquire drops them. One atomic step.
--
-- KEYS[1]  lic:{t:l}:v2:init       the initialised marker
-- KEYS[2]  lic:{t:l}:v2:queue      sorted set: ticket (session id) -> its order
-- KEYS[3]  lic:{t:l}:v2:tickets    hash: ticket -> its record; 'arrivals' -> arrival counter
-- KEYS[4]  lic:{t:l}:v2:deadlines  sorted set: ticket -> when it is dropped unless polled (ms)
-- ARGV[1]  the most tickets to list, an integer >= 0
--
-- Replies:
--   {'WAITERS', ticket, priority, wait_until_ms, poll_by_ms, seat_key, ...}
--       five values per waiting ticket, first in line first (the ticket: its session id, 16
--       raw bytes; the seat key: its machine's hardware id as text); none when nobody waits,
--       or when the marker is missing (a rebuilt license starts with an empty queue)
-- An error reply ('ERR queue: ...') for a malformed argument, before any write.

local init, queue, tickets, deadlines = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local most = tonumber(ARGV[1])
if not most or most < 0 or most % 1 ~= 0 then
  return redis.error_reply('ERR queue: the most tickets to list must be an integer >= 0')
end

local reply = {'WAITERS'}
if most == 0 or redis.call('EXISTS', init) == 0 or redis.call('EXISTS', queue) == 0 then
  return reply
end
drop_stale_tickets(queue, tickets, deadlines, now_ms())
local ordered = redis.call('ZRANGE', queue, 0, ms(math.min(most, 1e9) - 1), 'WITHSCORES')
for i = 1, #ordered, 2 do
  local session = ordered[i]
  local ticket = unpack_ticket(redis.call('HGET', tickets, session))
  if ticket then
    for _, value in ipairs({session, priority_of(tonumber(ordered[i + 1])), ticket.wait_until,
        ticket.poll_by, ticket.seat_key}) do
      table.insert(reply, value)
    end
  end
end
return reply
