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
--
-- Seats of another kind than held (ADR 0025) are seats too, and are also named in a key of
-- their own, which stays absent while no seat is of that kind (so an ordinary seat costs no
-- more): `borrowed` (sorted set: machine digest -> the seat's expiry, for the borrow cap) and
-- `lingering` (sorted set: machine digest -> the end of its linger: released, kept for its
-- machine). Each is a subset of `seats` with the same scores, and the two never share a
-- machine. Eviction hold-offs are a hash `holds`: field 'm' .. machine digest or 'u' .. user
-- digest (12 bytes of SHA-256 of the person's reference, made in Rust) -> '<until ms>:<reason>'.
-- A hold-off that has ended is ignored, and dropped when an acquire meets it.
--
-- Seat policies (ADR 0026) add two keys, absent while no seat counts toward anything (a
-- license without policy costs nothing more): `counts` (hash: counter digest -> how many
-- seats count toward it) and `tags` (hash: machine digest -> the counter digests its seat
-- counts toward, concatenated). A counter digest is 12 bytes of SHA-256 of the counter's
-- text (`g:<group>`, `u:<user>`, ...; made in Rust like the user digest). A grant adds one
-- to each counter of its seat and records them in `tags`; every way a seat stops existing
-- (pruned at expiry, released, evicted, taken over, replaced by a rebuild) takes them off
-- again (untag), dropping a count that reaches 0. Both share the expiry of `seats` (they
-- belong to its keep_keys group), so they neither outlive nor die before the seats they
-- count.
--
-- The seat queue (ADR 0029) adds three more, `queue`, `tickets` and `deadlines`, absent while
-- nobody waits; tickets.lua (put in front of the scripts that use them) describes them.

local MACHINE, SESSION, USER, COUNTER = 12, 16, 12, 12
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

-- Takes the seats of `machines` (a list of machine digests) off every counter they count
-- toward and forgets what they counted toward. A machine without an entry in `tags` counted
-- toward nothing: nothing to do (one read).
local function untag(counts, tags, machines)
  local found = redis.call('HMGET', tags, unpack(machines))
  local dropped = {}
  for i, machine in ipairs(machines) do
    local digests = found[i]
    if digests then
      for at = 1, #digests, COUNTER do
        local counter = digests:sub(at, at + COUNTER - 1)
        if redis.call('HINCRBY', counts, counter, -1) <= 0 then
          redis.call('HDEL', counts, counter)
        end
      end
      table.insert(dropped, machine)
    end
  end
  if #dropped > 0 then
    redis.call('HDEL', tags, unpack(dropped))
  end
end

-- Counts machine's seat toward `digests` (concatenated counter digests, '' for none).
local function tag(counts, tags, machine, digests)
  if digests == '' then
    return
  end
  for at = 1, #digests, COUNTER do
    redis.call('HINCRBY', counts, digests:sub(at, at + COUNTER - 1), 1)
  end
  redis.call('HSET', tags, machine, digests)
end

-- Whether machine's seat, expiring at `expires`, is of the kind `kind_key` (borrowed, lingering)
-- names: its entry there has the seat's score. (An entry with another score is a leftover of an
-- older seat of the machine, not this seat's kind.)
local function is_kind(kind_key, machine, expires)
  return tonumber(redis.call('ZSCORE', kind_key, machine)) == expires
end

-- A hold-off as `holds` keeps it: its end (ms) and reason, or nil for none.
local function parse_hold(value)
  if not value then
    return nil
  end
  local colon = string.find(value, ':', 1, true)
  local until_ms = colon and tonumber(value:sub(1, colon - 1))
  if not until_ms then
    return nil
  end
  return until_ms, value:sub(colon + 1)
end

-- Makes `key` expire no earlier than `at` (ms). Never moves an expiry earlier.
local function expire_no_earlier(key, now, at)
  local pttl = redis.call('PTTL', key)
  if pttl == -1 or (pttl >= 0 and now + pttl < at) then
    redis.call('PEXPIREAT', key, ms(at))
  end
end

-- Every key outlives what it holds by `grace`, so an abandoned license frees its memory, and
-- the marker (`init`) outlives every key. Called when a call stored something (a seat, a
-- hold-off) lasting until `ends`, with the groups of keys holding it: the keys of a group
-- share one expiry (the seats and their holders), so only its first key is probed.
-- Refreshing every key on every call would cost writes on every call, so a group already
-- expiring at most a second (or half the grace) short of ends + grace is left alone: it still
-- expires (nearly) a grace after the last thing it holds, never before. A key this call made
-- (a grant after the seats emptied, a first borrow, linger or hold-off) has no expiry yet and
-- always gets one. Expiries only grow: a short seat never cuts back a long borrow's keys.
local function keep_keys(init, now, ends, grace, groups)
  local wanted = ends + grace
  local moved = false
  for _, group in ipairs(groups) do
    local pttl = redis.call('PTTL', group[1])
    if pttl == -1 or (pttl >= 0 and now + pttl < wanted - math.min(1000, grace / 2)) then
      redis.call('PEXPIREAT', group[1], ms(wanted))
      for i = 2, #group do
        expire_no_earlier(group[i], now, wanted)
      end
      moved = true
    end
  end
  if moved then
    expire_no_earlier(init, now, wanted)
  end
end

-- Gives `key` the expiry of `leader` if it has none (this call just made it): a key that joins
-- a keep_keys group after the group's expiry was set (the first seat with counters of a
-- license whose seats key exists) expires with the group, never later and never sooner.
local function follow_expiry(key, leader)
  if redis.call('PTTL', key) == -1 then
    local pttl = redis.call('PTTL', leader)
    if pttl > 0 then
      redis.call('PEXPIRE', key, pttl)
    end
  end
end

