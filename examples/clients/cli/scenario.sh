#!/usr/bin/env bash
# shellcheck disable=SC2016 # single quotes on purpose: the child shell expands LICENSE_SESSION_ID
# The original end-to-end scenario through the `license` CLI (the Rust client), against a live
# embedded server on a free port in a temporary data directory:
# acquire, acquire, a third acquire → exit 3 (no_seats_available), release one, the third → ok,
# heartbeat, release, and a heartbeat of the released session → session_expired; a borrow and
# its return; an eviction (exit 5, also for the held-off machine's acquire); a license that
# requires session secrets refuses a heartbeat without one. Tokens are
# verified offline with `license verify`, pinned to the server's root keys and bound to the
# tenant; another tenant's lease fails with exit 4. The README's Rust snippet
# ("Call it from your language") is the README:rust region below, verbatim.
#
# Needs LICENSE_SERVER_BIN and LICENSE_CLI_BIN (examples/clients/test sets both), curl, jq and
# python3 (for a free port). Prints "cli scenario: N checks passed" at the end.
set -euo pipefail
: "${LICENSE_SERVER_BIN:?set LICENSE_SERVER_BIN to the license-server binary}"
: "${LICENSE_CLI_BIN:?set LICENSE_CLI_BIN to the license binary (cargo build -p license-cli)}"

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
check() { # check DESCRIPTION COMMAND...: the command must succeed
  if "${@:2}"; then
    passed=$((passed + 1))
  else
    echo "FAILED: $1" >&2
    echo "server log:" >&2
    cat "$work"/server-*.log >&2 || true
    exit 1
  fi
}
fails_with() { # fails_with CODE TEXT COMMAND...: exit CODE and TEXT on stderr
  local code=$1 text=$2 rc=0
  "${@:3}" >"$work/out" 2>"$work/err" || rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -qF -- "$text" "$work/err"; then
    echo "expected exit $code and '$text' from: ${*:3}; got $rc: $(cat "$work/err")" >&2
    return 1
  fi
}

# A free port (retried if it is taken before the server binds it), then wait for health.
server=
for attempt in 1 2 3; do
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mapfile -t unset_license < <(env | sed -n 's/^\(LICENSE_[A-Za-z0-9_]*\)=.*/-u\n\1/p')
  env "${unset_license[@]}" \
    LICENSE_SERVER__LISTEN="127.0.0.1:$port" LICENSE_DATA_DIR="$work/data" \
    "$LICENSE_SERVER_BIN" >"$work/server-$attempt.log" 2>&1 &
  server_pid=$!
  deadline=$((SECONDS + 30))
  while [ $SECONDS -lt $deadline ] && kill -0 "$server_pid" 2>/dev/null; do
    if curl -sf -o /dev/null "http://127.0.0.1:$port/api/v1/health/"; then
      server=http://127.0.0.1:$port
      break 2
    fi
    sleep 0.05
  done
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  grep -q "cannot listen" "$work/server-$attempt.log" || break
done
[ -n "$server" ] || { echo "license-server did not become healthy:" >&2; cat "$work"/server-*.log >&2; exit 1; }

# The CLI reads no login file of the person running the test.
export XDG_CONFIG_HOME=$work/config HOME=$work/home
PATH=$(dirname "$LICENSE_CLI_BIN"):$PATH
unset LICENSE_TENANT LICENSE_KEY

# A tenant, two licenses (2 and 50 seats) and a client credential, through the admin commands.
tenant=$(LICENSE_SERVER=$server LICENSE_TOKEN=$(cat "$work/data/operator-token") \
  license -o json tenant create "cli-$RANDOM$RANDOM")
admin_key=$(jq -r .admin_api_key.secret <<<"$tenant")
tenant_id=$(jq -r .tenant.id <<<"$tenant")
# What an application pins: the root keys, saved once (shipped with the app).
curl -sf "$server/.well-known/jwks.json" >"$work/root-jwks.json"
root_jwks=$work/root-jwks.json
admin() { LICENSE_SERVER=$server LICENSE_TOKEN=$admin_key license -o json "$@"; }
two=$(admin license create --product "CLI test" --seats 2 --max-borrow 7d | jq -r .license_key)
fifty=$(admin license create --product "CLI test" --seats 50 | jq -r .license_key)
client_key=$(admin api-key create --name "cli client" --scope client | jq -r .secret)
check "the admin commands made a license and a key" test -n "$two" -a -n "$fifty" -a -n "$client_key"

# The README snippet, with the 2-seat license.
license_key=$two
# README:rust:start
export LICENSE_SERVER=$server LICENSE_TOKEN=$client_key  # a tenant API key with the client scope
lease=$(license -o json acquire --license-key "$license_key" --hardware-id pc-1)  # exit 3: no seat free
session=$(jq -r .session_id <<<"$lease")
export LICENSE_SESSION_SECRET=$(jq -r '.session_secret // empty' <<<"$lease")  # if the license asks for one
jq -r .token <<<"$lease" | license verify - --tenant "$tenant_id" --root "$root_jwks"  # exit 4: not this tenant's
license heartbeat "$session"  # every heartbeat_interval_seconds; exit 5: evicted, stop and do not acquire again
license release "$session"
# Or hold a seat while any program runs: heartbeats, re-acquire if the seat was lost, release on exit.
# Evicted by an administrator: the program is stopped, the reason printed, and `run` exits 5.
license run --license-key "$license_key" -- sh -c 'echo "my app holds a seat: $LICENSE_SESSION_ID"'
# Offline work: borrow a seat (valid offline, no heartbeats) up to the license's longest borrow.
trip=$(license -o json borrow --license-key "$license_key" --hardware-id laptop-1 --for 7d | jq -r .session_id)
license return "$trip"  # back early: the seat is free again
# README:rust:end
check "the snippet's session was released" fails_with 1 "(session_expired)" license heartbeat "$session"
check "the snippet's borrow was returned" fails_with 1 "(session_expired)" license heartbeat "$trip"

acquire() { license -o json acquire --license-key "$1" --hardware-id "$2"; }
verify() { license -o json verify - --tenant "$tenant_id" --root "$root_jwks" <<<"$1"; }

# Two seats: two machines get one each; the third is refused with exit 3, no_seats_available.
first=$(acquire "$two" pc-1)
second=$(acquire "$two" pc-2)
check "two sessions" test "$(jq -r .session_id <<<"$first")" != "$(jq -r .session_id <<<"$second")"
check "the first token verifies offline" verify "$(jq -r .token <<<"$first")" >/dev/null
check "a retry keeps its session" test "$(acquire "$two" pc-1 | jq -r .session_id)" = "$(jq -r .session_id <<<"$first")"
check "the third is refused" fails_with 3 "(no_seats_available)" acquire "$two" pc-3
# Seats are per license: the 50-seat license still grants.
other=$(acquire "$fifty" pc-3)
check "release on the other license" license release "$(jq -r .session_id <<<"$other")" >/dev/null

# Release one; the third gets the seat; heartbeat; release; its heartbeat is session_expired.
check "release the first" license release "$(jq -r .session_id <<<"$first")" >/dev/null
third=$(acquire "$two" pc-3)
third_session=$(jq -r .session_id <<<"$third")
claims=$(verify "$(jq -r .token <<<"$third")")
check "the third's token names its session" test "$(jq -r .claims.sub <<<"$claims")" = "$third_session"
renewed=$(license -o json heartbeat "$third_session")
check "a heartbeat renews the expiry" test "$(jq -r .expires_at <<<"$renewed")" \> "$(jq -r .expires_at <<<"$third")"
check "the renewed token verifies" verify "$(jq -r .token <<<"$renewed")" >/dev/null
check "release the third" license release "$third_session" >/dev/null
check "a released session's heartbeat" fails_with 1 "(session_expired)" license heartbeat "$third_session"
check "release the second" license release "$(jq -r .session_id <<<"$second")" >/dev/null

# An eviction with a hold-off: the heartbeat says evicted (exit 5), and so does an acquire.
evict_me=$(acquire "$two" pc-7 | jq -r .session_id)
check "the admin evicts the session" admin session evict "$evict_me" --hold-off 10m --reason "licence audit" >/dev/null
check "its heartbeat is evicted" fails_with 5 "licence audit" license heartbeat "$evict_me"
check "its machine is held off" fails_with 5 "(evicted)" acquire "$two" pc-7

# A license that requires session secrets: acquire prints one, heartbeat and release need it.
guarded_key=$(admin license create --product "CLI secrets" --seats 1 --require-session-secret | jq -r .license_key)
guarded=$(acquire "$guarded_key" pc-9)
guarded_session=$(jq -r .session_id <<<"$guarded")
check "acquire prints the session secret" test -n "$(jq -r '.session_secret // empty' <<<"$guarded")"
export LICENSE_SESSION_SECRET=
check "without it the session is unknown" fails_with 1 "(session_not_found)" license heartbeat "$guarded_session"
LICENSE_SESSION_SECRET=$(jq -r .session_secret <<<"$guarded")
check "with it a heartbeat renews" license heartbeat "$guarded_session" >/dev/null
check "and a release frees the seat" license release "$guarded_session" >/dev/null
unset LICENSE_SESSION_SECRET

# Another tenant's lease, for the same machine, fails tenant A's verification (exit 4).
operator() { LICENSE_SERVER=$server LICENSE_TOKEN=$(cat "$work/data/operator-token") license -o json "$@"; }
other=$(operator tenant create "cli-other-$RANDOM$RANDOM")
other_admin=$(jq -r .admin_api_key.secret <<<"$other")
other_key=$(LICENSE_TOKEN=$other_admin license -o json license create --product "Other" --seats 1 | jq -r .license_key)
other_client=$(LICENSE_TOKEN=$other_admin license -o json api-key create --name c --scope client | jq -r .secret)
other_lease=$(LICENSE_TOKEN=$other_client license -o json acquire --license-key "$other_key" --hardware-id pc-1)
check "another tenant's lease fails for this tenant" fails_with 4 "invalid token" verify "$(jq -r .token <<<"$other_lease")"
check "and verifies for its own" license verify "$(jq -r .token <<<"$other_lease")" --tenant "$(jq -r .tenant.id <<<"$other")" --root "$root_jwks"

echo "cli scenario: $passed checks passed"
