#!/usr/bin/env bash
# Runs the ledger benchmark and its ceiling in one go, and prints each figure as a ratio to
# the ceiling measured in the same run:
#
#   ceiling = redis-benchmark running the very same Lua scripts (EVALSHA, same KEYS and ARGV
#             shapes) against a fresh local redis-server: Redis's own cost plus the loopback.
#   ledger  = `cargo bench --bench ledger`: RedisLedger through the redis crate, tokio, and
#             the reply decoding, against its own fresh local redis-server.
#
# Usage: benches/vs-redis-benchmark.sh [-n REQUESTS]
# Needs redis-server and redis-benchmark (apt-get install -y redis-server).
set -euo pipefail
cd "$(dirname "$0")/.."
requests=50000
if [ "${1:-}" = "-n" ]; then requests=$2; fi

for tool in redis-server redis-cli redis-benchmark; do
  command -v "$tool" >/dev/null || {
    echo "$tool not found: install it with \`apt-get install -y redis-server\`" >&2
    exit 1
  }
done

dir=$(mktemp -d)
port=
cleanup() {
  if [ -f "$dir/redis.pid" ]; then kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

# A free port: let redis-server try a few random ones.
for _ in 1 2 3 4 5; do
  candidate=$((20000 + RANDOM % 40000))
  if redis-server --port "$candidate" --bind 127.0.0.1 --save "" --appendonly no \
      --daemonize yes --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"; then
    for _ in $(seq 100); do
      if [ "$(redis-cli -p "$candidate" PING 2>/dev/null)" = PONG ]; then port=$candidate; break; fi
      sleep 0.05
    done
  fi
  [ -n "$port" ] && break
done
[ -n "$port" ] || { echo "redis-server did not start: $(tail -5 "$dir/redis.log")" >&2; exit 1; }

cli() { redis-cli -p "$port" "$@"; }
# Each script is lua/common.lua, the helper files it uses, then the operation's file, as
# scripts.rs loads it.
lua=license-seats-redis/lua
acquire=$(cli SCRIPT LOAD "$(cat "$lua/common.lua" "$lua/tally.lua" "$lua/tickets.lua" "$lua/acquire.lua")")
renew=$(cli SCRIPT LOAD "$(cat "$lua/common.lua" "$lua/renew.lua")")
release=$(cli SCRIPT LOAD "$(cat "$lua/common.lua" "$lua/release.lua")")

# One license, initialised, with one long-lived seat to renew. The tag stands for {tenant:license}.
# Sessions are 16 bytes and machines 12 (raw bytes and digests in the ledger; any bytes here):
# `held-session-016`, `held-machine`, and `ssss__rand_int__`, `__rand_int__` (12 digits).
k='lic:{bench:ceiling}:v2'
# KEYS as the ledger sends them to acquire (11), renew (7) and release (6); acquire's last ARGV
# say: no person (''), not a borrow (-1), an empty seat-policy tally ('' '' ''), not a regrant
# (0), a plain acquire at priority 0 (0 pass 0 0 0) on a license nobody waits on, and the
# machine's hardware id (kept only in a queue ticket).
keys=(11 "$k:init" "$k:seats" "$k:holders" "$k:borrowed" "$k:lingering" "$k:holds" "$k:counts" "$k:tags"
  "$k:queue" "$k:tickets" "$k:deadlines")
renew_keys=(7 "$k:init" "$k:seats" "$k:holders" "$k:borrowed" "$k:lingering" "$k:counts" "$k:tags")
release_keys=(6 "$k:seats" "$k:holders" "$k:borrowed" "$k:lingering" "$k:counts" "$k:tags")
cli SET "$k:init" 1 >/dev/null
cli EVALSHA "$acquire" "${keys[@]}" held-session-016 held-machine 1000000000 99999999999 600000 \
  "" -1 "" "" "" 0 0 pass 0 0 0 held-machine >/dev/null

# Mean latency (µs) and requests/s of one redis-benchmark run, from its CSV line.
ceiling() {
  local clients=$1; shift
  redis-benchmark -p "$port" -n "$requests" -c "$clients" -r 1000000000 --csv "$@" |
    awk -F'"' 'NR == 2 { printf "%.1f %.0f\n", $6 * 1000, $4 }'
}
# __rand_int__ is replaced per request: a fresh session and machine for every acquire.
read -r acq_us acq_rps < <(ceiling 1 EVALSHA "$acquire" "${keys[@]}" \
  "ssss__rand_int__" "__rand_int__" 1000000000 360000 600000 "" -1 "" "" "" 0 0 pass 0 0 0 \
  "__rand_int__")
read -r ren_us ren_rps < <(ceiling 1 EVALSHA "$renew" "${renew_keys[@]}" held-session-016 \
  held-machine 360000 600000)
read -r rel_us rel_rps < <(ceiling 1 EVALSHA "$release" "${release_keys[@]}" \
  "ssss__rand_int__" "__rand_int__")
# Throughput: 64 clients pipelining 16 each, so Redis (one thread running scripts) is the bound.
read -r ren64_us ren64_rps < <(ceiling 64 -P 16 EVALSHA "$renew" "${renew_keys[@]}" held-session-016 \
  held-machine 360000 600000)

echo "Running cargo bench -p license-benches --bench ledger ..." >&2
cargo bench -p license-benches --bench ledger >&2

target=${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps |
  sed -E 's/.*"target_directory":"([^"]*)".*/\1/')}
# Criterion's headline time per iteration (the slope of its linear fit, else the mean), in µs.
estimate_us() {
  local json
  json="$target/criterion/ledger/$1/new/estimates.json"
  { grep -oE '"slope":\{"confidence_interval":\{[^}]*\},"point_estimate":[0-9.e+-]+' "$json" ||
    grep -oE '"mean":\{"confidence_interval":\{[^}]*\},"point_estimate":[0-9.e+-]+' "$json"; } |
    head -1 | sed -E 's/.*"point_estimate"://' | awk '{ printf "%.1f", $1 / 1000 }'
}
ledger_acq=$(estimate_us acquire)
ledger_ren=$(estimate_us renew)
ledger_rel=$(estimate_us release)
ledger_ren64=$(estimate_us renew_64_concurrent)

echo
echo "Same machine, same run. Latency: ratio = ledger / ceiling; throughput: ceiling / ledger (1.0 = the ceiling)."
printf '%-22s %14s %14s %8s\n' operation "ceiling" "ledger" ratio
row() { printf '%-22s %11s µs %11s µs %8.2f\n' "$1" "$2" "$3" "$(awk -v a="$3" -v b="$2" 'BEGIN { print a / b }')"; }
row "acquire (1 client)" "$acq_us" "$ledger_acq"
row "renew (1 client)" "$ren_us" "$ledger_ren"
row "release (1 client)" "$rel_us" "$ledger_rel"
ledger_ren64_rps=$(awk -v t="$ledger_ren64" 'BEGIN { printf "%.0f", 64 / (t / 1e6) }')
printf '%-22s %11s /s %11s /s %8.2f\n' "renew (64 concurrent)" "$ren64_rps" "$ledger_ren64_rps" \
  "$(awk -v a="$ren64_rps" -v b="$ledger_ren64_rps" 'BEGIN { print a / b }')"
