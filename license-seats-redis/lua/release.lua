-- release: free a session's seat (a borrowed one too: that is its return). Freeing a seat that
-- is not held is not an error; a seat lingering after its release is left to linger (or to
-- its machine); and a missing marker does not matter here (there is nothing to free). One
-- atomic step.
--
-- KEYS[1]  lic:{t:l}:v2:seats      sorted set: member = machine digest, score = expiry (ms)
-- KEYS[2]  lic:{t:l}:v2:holders    hash: bucket -> packed (machine digest, session id) records
-- KEYS[3]  lic:{t:l}:v2:borrowed   sorted set: the borrowed seats (machine digest -> expiry)
-- KEYS[4]  lic:{t:l}:v2:lingering  sorted set: the lingering seats (machine digest -> end)
-- KEYS[5]  lic:{t:l}:v2:counts     hash: counter digest -> seats counting toward it
-- KEYS[6]  lic:{t:l}:v2:tags       hash: machine digest -> its seat's counter digests
-- ARGV[1]  session id (16 raw bytes)
-- ARGV[2]  its machine digest (12 bytes)
--
-- Replies:
--   1   a seat was freed
--   0   the session held no seat (another session of the machine may hold one: it stays), or
--       its seat lingers (it stays)

local seats, holders, borrowed, lingering = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local counts, tags = KEYS[5], KEYS[6]
local session, machine = ARGV[1], ARGV[2]

-- Checks (read-only). A lingering seat that has ended is pruned by the next acquire.
if holder(holders, machine) ~= session then
  return 0
end
local score = tonumber(redis.call('ZSCORE', seats, machine))
if score and is_kind(lingering, machine, score) then
  return 0
end

-- Writes.
redis.call('ZREM', seats, machine)
redis.call('ZREM', borrowed, machine)
redis.call('ZREM', lingering, machine)
drop_holder(holders, machine)
untag(counts, tags, {machine})
return 1
