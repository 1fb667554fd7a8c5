-- common: what the scripts share. scripts.rs puts this file in front of each script's own
-- file; it defines locals only and touches no key.
--
-- The layout (version 2: `v2` in every key name). A seat is keyed by its machine: a 12-byte
-- digest of the hardware id (SHA-256, truncated; made in Rust). A license's seats are a sorted
-- set (member = machine digest, score = expiry in ms) and a hash telling which session holds
-- each machine's seat. That hash is packed: one field per bucket of machines (2 bytes), whose
-- value is the bucket's records, each the machine digest (12 bytes) then the session id (16 raw
-- bytes). A field per machine would cost ~90 bytes of dict entry and strings; at a million
-- seats about 15 records share a field, so a seat costs its 28 bytes and a few more. (Fewer,
-- larger buckets save a byte or two per seat, but every write copies its bucket through Lua:
-- ~65 k buckets keep that under half a kilobyte at a million seats.)

local MACHINE, SESSION = 12, 16
local RECORD = MACHINE + SESSION
local BUCKETS = 65521

-- Now in ms by the Redis clock (never the app's).
local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

-- A number of ms as Redis expects it (no exponent, no fraction).
local function ms(n)
  return string.format('%d', n)
end

-- A machine's bucket: its last 4 bytes modulo a prime, as 2 bytes. Digests are uniform, so any
-- bits would do; these also spread the decimal machine names redis-benchmark makes (zero-padded
-- numbers: their last digits vary) in benches/vs-redis-benchmark.sh.
local function bucket(machine)
  local a, b, c, d = machine:byte(9, 12)
  local n = ((a * 256 + b) * 256 + c) * 256 + d
  n = n % BUCKETS
  return string.char(math.floor(n / 256), n % 256)
end

-- Where machine's record starts in a bucket's records (1-based), or nil. A digest found at
-- another offset is part of a session id or straddles two records: keep looking.
local function find_record(records, machine)
  local at = 1
  while true do
    at = string.find(records, machine, at, true)
    if not at or (at - 1) % RECORD == 0 then
      return at
    end
    at = at + 1
  end
end

-- The session holding machine's seat (16 raw bytes), or nil.
local function holder(holders, machine)
  local records = redis.call('HGET', holders, bucket(machine))
  local at = records and find_record(records, machine)
  return at and records:sub(at + MACHINE, at + RECORD - 1) or nil
end

-- Records session as the holder of machine's seat, in place of any other.
local function set_holder(holders, machine, session)
  local field = bucket(machine)
  local records = redis.call('HGET', holders, field) or ''
  local at = find_record(records, machine)
  if at then
    records = records:sub(1, at - 1) .. records:sub(at + RECORD)
  end
  redis.call('HSET', holders, field, records .. machine .. session)
end

-- Forgets who holds machine's seat.
local function drop_holder(holders, machine)
  local field = bucket(machine)
  local records = redis.call('HGET', holders, field)
  local at = records and find_record(records, machine)
  if not at then
    return
  end
  records = records:sub(1, at - 1) .. records:sub(at + RECORD)
  if records == '' then
    redis.call('HDEL', holders, field)
  else
    redis.call('HSET', holders, field, records)
  end
end

-- Every key outlives the latest seat by `grace`, so an abandoned license frees its memory.
-- Called with a seat's new expiry. Refreshing every key on every call costs three writes, so
-- keys already expiring at most a second (or half the grace) short of expires + grace are
-- left alone: they still expire (nearly) a grace after the last seat, never before a seat.
-- `seats` is probed: it is the key a grant re-creates without an expiry after it emptied.
local function keep_keys(seats, now, expires, grace)
  local wanted = expires + grace
  local pttl = redis.call('PTTL', seats)
  if pttl >= 0 and now + pttl >= wanted - math.min(1000, grace / 2) then
    return
  end
  for _, key in ipairs(KEYS) do
    redis.call('PEXPIREAT', key, ms(wanted))
  end
end

