-- live_count: how many seats of one license are live now. Read-only.
--
-- KEYS[1]  lic:{t:l}:v2:init     the initialised marker
-- KEYS[2]  lic:{t:l}:v2:seats    sorted set: member = machine digest, score = expiry (ms, by TIME)
-- (no ARGV)
--
-- Replies:
--   {'REBUILD'}        the marker is missing: rebuild from the store, retry
--   {'COUNT', n}       n seats expire after now

local init, seats = KEYS[1], KEYS[2]
if redis.call('EXISTS', init) == 0 then
  return {'REBUILD'}
end
local now = now_ms()
return {'COUNT', redis.call('ZCOUNT', seats, '(' .. ms(now), '+inf')}
