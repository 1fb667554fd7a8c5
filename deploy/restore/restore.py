#!/usr/bin/env python3
"""The restore drill's client side (deploy/restore/run drives it).

  restore.py before --url U --operator-token T --out STATE
      Creates a tenant with two licenses: `long` (4 seats, 600 s TTL) and `short` (3 seats, 5 s
      TTL). Takes 3 seats of `long` and releases one of them (2 live), and all 3 of `short`.
      Writes the sessions and their expiries to STATE.
  restore.py after-dump --url U --state STATE
      Acquires one more seat of `long` *after* the dump: the restore must forget it.
  restore.py wait-short --state STATE --slack S
      Sleeps until every `short` session is past its expiry plus the rebuild slack S (its TTL +
      hot_path.max_write_lag_seconds + 5 s, ADR 0017), so the check below is not a race.
  restore.py verify --url U --state STATE --out RESULT
      After the restore: every session live at the dump renews (200); every session past its
      TTL, released, or granted after the dump is refused (404/410); and a burst of new
      machines gets exactly the free seats of each license, then 402: no license goes over
      its seats. Prints the figures; exits 1 on any mismatch.
"""

import argparse
import importlib.util
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("soak", os.path.join(HERE, "..", "soak", "soak.py"))
soak = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(soak)  # http_call, parse_ts: one copy in the tree
API = "/api/v1"


def call(url, method, path, token, body=None, ok=(200, 201)):
    status, data = soak.http_call(url, method, path, token, body)
    if ok and status not in ok:
        raise SystemExit("restore: %s %s answered %s: %s" % (method, path, status, data))
    return status, data


def acquire(url, key, lic, hw):
    return call(url, "POST", API + "/licenses/acquire", key,
                {"license_key": lic["license_key"], "hardware_id": hw}, ok=None)


def cmd_before(a):
    _, tenant = call(a.url, "POST", API + "/admin/tenants", a.operator_token, {"name": "restore-drill-%d" % os.getpid()})
    admin = tenant["admin_api_key"]["secret"]
    lics = {}
    for name, seats, ttl in (("long", 4, 600), ("short", 3, 5)):
        _, lic = call(a.url, "POST", API + "/admin/licenses", admin, {
            "product": "restore-" + name, "seats_total": seats, "overdraft": 0,
            "ttl_seconds": ttl, "heartbeat_interval_seconds": max(1, ttl // 3)})
        lics[name] = {"id": lic["id"], "license_key": lic["license_key"], "seats": seats, "ttl": ttl}
    _, client = call(a.url, "POST", API + "/admin/api-keys", admin, {"name": "restore-client", "scopes": ["client"]})
    key = client["secret"]
    sessions = []
    for name, n in (("long", 3), ("short", 3)):
        for i in range(n):
            st, data = acquire(a.url, key, lics[name], "%s-before-%d" % (name, i))
            if st != 200:
                raise SystemExit("restore: acquire on %s answered %s: %s" % (name, st, data))
            sessions.append({"license": name, "sid": data["session_id"],
                             "expires_at": soak.parse_ts(data["expires_at"]), "state": "live"})
    released = sessions[2]
    call(a.url, "POST", API + "/licenses/release", key, {"session_id": released["sid"]})
    released["state"] = "released"
    state = {"tenant_id": tenant["tenant"]["id"], "client_key": key, "licenses": lics, "sessions": sessions}
    with open(a.out, "w") as f:
        json.dump(state, f, indent=1)
    print("before the dump: long 2 live + 1 released of 4 seats (TTL 600 s); short 3 live of 3 (TTL 5 s)")


def cmd_after_dump(a):
    state = json.load(open(a.state))
    st, data = acquire(a.url, state["client_key"], state["licenses"]["long"], "long-after-dump")
    if st != 200:
        raise SystemExit("restore: the acquire after the dump answered %s: %s" % (st, data))
    state["sessions"].append({"license": "long", "sid": data["session_id"],
                              "expires_at": soak.parse_ts(data["expires_at"]), "state": "after_dump"})
    json.dump(state, open(a.state, "w"), indent=1)


def cmd_wait_short(a):
    state = json.load(open(a.state))
    until = max(s["expires_at"] for s in state["sessions"] if s["license"] == "short") + a.slack + 1
    time.sleep(max(0.0, until - time.time()))


def cmd_verify(a):
    state = json.load(open(a.state))
    key, lics = state["client_key"], state["licenses"]
    failures, figures = [], {}
    now = time.time()
    for s in state["sessions"]:
        st, data = call(a.url, "POST", API + "/licenses/heartbeat", key, {"session_id": s["sid"]}, ok=None)
        if s["state"] == "live" and s["expires_at"] > now:
            want, why = (200,), "live at the dump and within its TTL"
        elif s["state"] == "live":
            want, why = (410,), "past its TTL"
        elif s["state"] == "released":
            want, why = (404, 410), "released before the dump"
        else:
            want, why = (404,), "granted after the dump, unknown to the restored store"
        s["heartbeat"] = st
        key_ = "%s/%s" % (s["license"], "expired" if s["state"] == "live" and s["expires_at"] <= now else s["state"])
        figures.setdefault(key_, []).append(st)
        if st not in want:
            failures.append("session %s (%s, %s): heartbeat answered %s, expected %s: %s"
                            % (s["sid"], s["license"], why, st, "/".join(map(str, want)), data))
    for name, lic in lics.items():
        live = sum(1 for s in state["sessions"] if s["license"] == name and s.get("heartbeat") == 200)
        free = lic["seats"] - live
        granted = 0
        for i in range(lic["seats"] + 3):
            st, data = acquire(a.url, key, lic, "%s-after-restore-%d" % (name, i))
            if st == 200:
                granted += 1
            elif st != 402:
                failures.append("%s: acquire after the restore answered %s: %s" % (name, st, data))
        figures["%s/new_grants" % name] = "%d of %d seats (%d live) then 402" % (granted, lic["seats"], live)
        if granted != free:
            failures.append("%s: %d new machines got a seat after the restore, expected exactly %d (%d seats, %d live)"
                            % (name, granted, free, lic["seats"], live))
    result = {"figures": figures, "failures": failures}
    json.dump(result, open(a.out, "w"), indent=1)
    for k in sorted(figures):
        print("  %-22s %s" % (k, figures[k]))
    for f in failures:
        print("  FAIL " + f)
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("before"); p.add_argument("--url"); p.add_argument("--operator-token"); p.add_argument("--out")
    p = sub.add_parser("after-dump"); p.add_argument("--url"); p.add_argument("--state")
    p = sub.add_parser("wait-short"); p.add_argument("--state"); p.add_argument("--slack", type=float)
    p = sub.add_parser("verify"); p.add_argument("--url"); p.add_argument("--state"); p.add_argument("--out")
    a = ap.parse_args()
    return {"before": cmd_before, "after-dump": cmd_after_dump, "wait-short": cmd_wait_short,
            "verify": cmd_verify}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
