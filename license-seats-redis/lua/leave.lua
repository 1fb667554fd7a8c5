-- leave: end a ticket's wait in the license's queue (ADR 0029; tickets.lua explains the
-- tickets). A missing marker does not matter here: a rebuilt license has no tickets. One
-- atomic step.
--
-- KEYS[1]  lic:{t:l}:v2:queue      sorted set: ticket (session id) -> its order
-- KEYS[2]  lic:{t:l}:v2:tickets    hash: ticket -> its record; 'arrivals' -> arrival counter
-- KEYS[3]  lic:{t:l}:v2:deadlines  sorted set: ticket -> when it is dropped unless polled (ms)
-- ARGV[1]  the ticket: its session id (16 raw bytes)
--
-- Replies:
--   1   the ticket waited (a dropped one not yet pruned too): it waits no more
--   0   there was no such ticket
-- An error reply ('ERR leave: ...') for a malformed argument, before any write.

local queue, tickets, deadlines = KEYS[1], KEYS[2], KEYS[3]
local session = ARGV[1]
if not session or #session ~= SESSION then
  return redis.error_reply('ERR leave: the ticket must be a 16-byte session id')
end
return end_tickets(queue, tickets, deadlines, {session})
