-- live_count: how many seats of one license are live now. Read-only.
--
-- KEYS[1]  lic:{t:l}:init    the initialised marker
-- KEYS[2]  lic:{t:l}:seats   sorted set: member = session id, score = expiry (ms, Redis clock)
-- (no ARGV)
--
-- Replies:
--   {'REBUILD'}        the marker is missing: rebuild from the store, retry
--   {'COUNT', n}       n seats expire after now

local init, seats = KEYS[1], KEYS[2]
if redis.call('EXISTS', init) == 0 then
  return {'REBUILD'}
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
return {'COUNT', redis.call('ZCOUNT', seats, '(' .. string.format('%d', now), '+inf')}
