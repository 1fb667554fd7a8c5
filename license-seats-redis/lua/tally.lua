-- tally: a seat's policy tally (ADR 0026) as acquire takes it in ARGV[9..10] and keeps it in a
-- queue ticket, and SeatTally::check (license-core) over it. scripts.rs puts this file after
-- common.lua; it defines locals only and touches no key.
--
-- A cap or a reserve is a 23-byte record. A cap: counter digest (12 bytes), the limit's code
-- (1 byte, LIMITS), the most seats as 10 decimal digits. A reserve: the group's counter digest
-- (12 bytes), '1' if the requester is a member else '0', the seats reserved as 10 digits.

local RULE = COUNTER + 1 + 10
local LIMITS = {
  g = 'group_max', u = 'user_max', h = 'host_max', p = 'processes_per_host',
  r = 'reserved_for_others', s = 'seats'
}

-- The caps and reserves packed in `packed_caps` and `packed_reserves`, unpacked:
-- {caps = {{counter, limit, max}, ...}, reserves = {{counter, member, seats}, ...}}; or nil and
-- what is wrong with them.
local function parse_rules(packed_caps, packed_reserves)
  if not packed_caps or #packed_caps % RULE ~= 0 or not packed_reserves
      or #packed_reserves % RULE ~= 0 then
    return nil, 'caps and reserves must be 23-byte records'
  end
  local caps, reserves = {}, {}
  for at = 1, #packed_caps, RULE do
    local limit_name = LIMITS[packed_caps:sub(at + COUNTER, at + COUNTER)]
    local most = packed_caps:sub(at + COUNTER + 1, at + RULE - 1)
    if not limit_name or not most:match('^%d+$') then
      return nil, 'a cap is a digest, a limit code, 10 digits'
    end
    table.insert(caps,
      {counter = packed_caps:sub(at, at + COUNTER - 1), limit = limit_name, max = tonumber(most)})
  end
  for at = 1, #packed_reserves, RULE do
    local member = packed_reserves:sub(at + COUNTER, at + COUNTER)
    local seats_kept = packed_reserves:sub(at + COUNTER + 1, at + RULE - 1)
    if (member ~= '0' and member ~= '1') or not seats_kept:match('^%d+$') then
      return nil, 'a reserve is a digest, 0 or 1, 10 digits'
    end
    table.insert(reserves, {
      counter = packed_reserves:sub(at, at + COUNTER - 1),
      member = tonumber(member),
      seats = tonumber(seats_kept)
    })
  end
  return {caps = caps, reserves = reserves}
end

-- SeatTally::check: why a seat would be refused to a requester bound by `rules` while
-- `in_use` seats of `limit` are taken and `count(counter)` seats count toward each counter
-- ('seats', a cap's limit, or 'reserved_for_others'); nil when it would be granted. Every seat
-- taken comes first, then a cap, then the reserves (the grant must leave as many free seats
-- as they still lack).
local function refusal(rules, count, in_use, limit)
  if in_use >= limit then
    return 'seats'
  end
  for _, c in ipairs(rules.caps) do
    if count(c.counter) >= c.max then
      return c.limit
    end
  end
  local lacking = 0
  for _, r in ipairs(rules.reserves) do
    lacking = lacking + math.max(r.seats - (count(r.counter) + r.member), 0)
  end
  if in_use + 1 + lacking > limit then
    return 'reserved_for_others'
  end
  return nil
end
