-- release: free a session's seat. Freeing a seat that is not held is not an error, and a
-- missing marker does not matter here (there is nothing to free). One atomic step.
--
-- KEYS[1]  lic:{t:l}:seats   sorted set: member = session id, score = expiry (ms)
-- KEYS[2]  lic:{t:l}:hw      hash: hardware id -> session id
-- KEYS[3]  lic:{t:l}:owners  hash: session id -> hardware id
-- ARGV[1]  session id
--
-- Replies:
--   1   a seat was freed
--   0   the session held no seat

local seats, hw, owners = KEYS[1], KEYS[2], KEYS[3]
local session = ARGV[1]

-- Check (read-only): which machine the session was on.
local machine = redis.call('HGET', owners, session)

-- Writes.
local removed = redis.call('ZREM', seats, session)
if machine then
  redis.call('HDEL', owners, session)
  if redis.call('HGET', hw, machine) == session then
    redis.call('HDEL', hw, machine)
  end
end
return removed
