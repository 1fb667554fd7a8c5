-- release: free a session's seat. Freeing a seat that is not held is not an error, and a
-- missing marker does not matter here (there is nothing to free). One atomic step.
--
-- KEYS[1]  lic:{t:l}:v2:seats    sorted set: member = machine digest, score = expiry (ms)
-- KEYS[2]  lic:{t:l}:v2:holders  hash: bucket -> packed (machine digest, session id) records
-- ARGV[1]  session id (16 raw bytes)
-- ARGV[2]  its machine digest (12 bytes)
--
-- Replies:
--   1   a seat was freed
--   0   the session held no seat (another session of the machine may hold one: it stays)

local seats, holders = KEYS[1], KEYS[2]
local session, machine = ARGV[1], ARGV[2]

-- Check (read-only).
if holder(holders, machine) ~= session then
  return 0
end

-- Writes.
redis.call('ZREM', seats, machine)
drop_holder(holders, machine)
return 1
