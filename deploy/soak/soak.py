#!/usr/bin/env python3
"""Driver and checker of the fault soak (deploy/soak/run); Python 3 standard library only.

  soak.py ports N                     print N free loopback TCP ports, one a line
  soak.py get FILE PATH               print one field of a JSON file (PATH like a.b.0.c)
  soak.py setup ...                   create a tenant, a license and a client API key
  soak.py drive ...                   run the clients, write every operation to a JSONL history
  soak.py settle ...                  wait out the last lease, then record the final state
  soak.py check ...                   check the history, the faults and the final state
  soak.py selftest                    feed the checker synthetic histories, one per violation

The history holds one JSON object per operation:

  c    client number            r    replica number (1-based)      hw   hardware id
  op   acquire | heartbeat | release, or without a request: crash (the client stops without
       releasing) | suspend (it sends nothing from t0 to t1, then goes on with its session)
  t0   invoke time, t1 completion time (Unix seconds, this machine's clock = the servers')
  st   HTTP status, or null when no answer came
  out  ok | no_seats | lost (heartbeat 404/410) | refused (nothing was sent) | timeout |
       conn_error (the answer was lost: outcome unknown) | http_4xx | http_5xx
  code, dep   the error body's `code` and `dependency`, if any
  sid  the session asked about (heartbeat, release) or granted (acquire)
  exp  expires_at of a granted or renewed seat;  texp  the lease token's `exp`
  tsub, thw, tlic   the token's `sub`, `hwid` and `lic` claims

The checker's model of who holds a seat (the client's view, which is what a lease token lets a
client act on): a client holds session S from the completion of the acquire that gave it S
until the earliest of (1) the moment it sends release, (2) the completion of a heartbeat
answered 404/410, (3) the latest expiry it was given for S (expires_at or the token's exp).
A renewal (heartbeat 200, or acquire answering with S again) sent before that expiry extends
the hold without a gap; one sent after it starts a new hold at its completion. Holds of one
session are merged: a session is one seat.
"""

import argparse
import base64
import calendar
import http.client
import importlib.util
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))

# drill.py's tiny Redis client and its `ports`/`get` helpers: one copy in the tree.
_spec = importlib.util.spec_from_file_location("drill", os.path.join(HERE, "..", "drill", "drill.py"))
drill = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(drill)

FAULT_KINDS = ("redis_flushall", "redis_restart", "pg_restart", "replica_kill")
# Records of what a client did without a request: crash (stopped for good without releasing)
# and suspend (went quiet for a while, then carried on with the same session).
PSEUDO_OPS = ("crash", "suspend")
API = "/api/v1"


# --- small helpers -------------------------------------------------------------------------------

_TS = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def parse_ts(text):
    """RFC 3339 (nanoseconds allowed) to Unix seconds."""
    m = _TS.match(text)
    if not m:
        raise ValueError("not an RFC 3339 timestamp: %r" % text)
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    t = calendar.timegm((y, mo, d, h, mi, s)) + float(m.group(7) or 0)
    zone = m.group(8)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        t -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return t


def token_claims(token):
    """The claims of a compact JWS, unverified (the soak checks what they say, not who said it)."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        return json.loads(base64.urlsafe_b64decode(payload))
    except (IndexError, ValueError):
        return {}


def http_call(base, method, path, token, body=None, timeout=10.0, headers=None):
    """One request on a fresh connection. Returns (status, parsed JSON or None)."""
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        h = {"Authorization": "Bearer " + token, "Accept": "application/json"}
        h.update(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body)
            h["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return resp.status, parsed
    finally:
        conn.close()


def fmt_t(t, origin):
    return "t+%.3fs" % (t - origin) if t is not None else "-"


# --- setup ---------------------------------------------------------------------------------------

def cmd_setup(args):
    def call(method, path, token, body=None, headers=None):
        st, data = http_call(args.url, method, path, token, body, headers=headers)
        if st not in (200, 201):
            raise SystemExit("setup: %s %s answered %s: %s" % (method, path, st, data))
        return data

    tenant = call("POST", API + "/admin/tenants", args.operator_token,
                  {"name": "soak-%d-%d" % (os.getpid(), random.randrange(1 << 30))})
    tenant_id = tenant["tenant"]["id"]
    admin_key = tenant["admin_api_key"]["secret"]
    lic = call("POST", API + "/admin/licenses", admin_key, {
        "product": "soak", "seats_total": args.seats, "overdraft": 0,
        "ttl_seconds": args.ttl, "heartbeat_interval_seconds": args.interval})
    client = call("POST", API + "/admin/api-keys", admin_key, {"name": "soak-client", "scopes": ["client"]})
    if lic["seats_total"] != args.seats or lic["overdraft"] != 0 or lic["ttl_seconds"] != args.ttl:
        raise SystemExit("setup: the license came back as %s" % lic)
    out = {
        "tenant_id": tenant_id, "license_id": lic["id"], "license_key": lic["license_key"],
        "seats_total": lic["seats_total"], "overdraft": lic["overdraft"],
        "limit": lic["seats_total"] + lic["overdraft"], "ttl_seconds": lic["ttl_seconds"],
        "admin_key": admin_key, "client_key": client["secret"],
        "seats_key": "lic:{%s:%s}:v2:seats" % (tenant_id, lic["id"]),
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


# --- driver --------------------------------------------------------------------------------------

class Recorder:
    """Appends history records to a JSONL file and keeps running counts."""

    def __init__(self, path):
        self.f = open(path, "w", buffering=1 << 16)
        self.lock = threading.Lock()
        self.ops = 0
        self.by_out = {}

    def write(self, rec):
        line = json.dumps(rec, separators=(",", ":"))
        with self.lock:
            self.f.write(line + "\n")
            if rec["op"] not in PSEUDO_OPS:
                self.ops += 1
                self.by_out[rec["out"]] = self.by_out.get(rec["out"], 0) + 1

    def close(self):
        with self.lock:
            self.f.close()


class CrashBudget:
    """A token bucket shared by the clients: crashes (zombie seats) at about `rate` a second,
    so that zombies hold some seats at any time but never all of them."""

    def __init__(self, rate):
        self.rate, self.tokens, self.last = rate, 0.0, time.monotonic()
        self.lock = threading.Lock()

    def take(self):
        with self.lock:
            now = time.monotonic()
            self.tokens = min(1.0, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return True
            return False


class Client(threading.Thread):
    """One application: acquire (retrying the same hardware id after any error), heartbeat a few
    times, release; sometimes it crashes instead (stops without releasing) and comes back later,
    as the same machine or a new one."""

    def __init__(self, idx, cfg, setup, replicas, rec, crashes, run):
        super().__init__(name="client-%d" % idx, daemon=True)
        self.idx, self.cfg, self.setup, self.replicas = idx, cfg, setup, replicas
        self.rec, self.crashes, self.run_state = rec, crashes, run
        self.rng = random.Random(cfg.seed * 1000 + idx)
        self.home = idx % len(replicas)
        # One client in twelve behaves like a real application: it holds its seat for a long
        # time and heartbeats at the interval the server advertises, so faults hit it while it
        # holds a seat between two heartbeats. The others churn through seats as fast as they can.
        self.steady = idx % 12 == 11
        self.interval = max(1.0, cfg.ttl / 3.0)
        self.gen = 0
        self.hwid = self.new_hwid()
        self.sid = None

    def new_hwid(self):
        self.gen += 1
        return "soak-c%d-m%d" % (self.idx, self.gen)

    def stopping(self):
        return self.run_state["stop"].is_set()

    def sleep(self, lo, hi):
        self.run_state["stop"].wait(self.rng.uniform(lo, hi))

    def pick(self):
        if self.rng.random() < 0.2:
            return self.rng.randrange(len(self.replicas))
        return self.home

    def call(self, op, body, sid=None):
        """One request; records it and returns the record."""
        r = self.pick()
        path = API + "/licenses/" + op
        rec = {"c": self.idx, "r": r + 1, "hw": self.hwid, "op": op, "sid": sid}
        rec["t0"] = time.time()
        status, data = None, None
        try:
            status, data = http_call(self.replicas[r], "POST", path, self.setup["client_key"], body,
                                     timeout=self.cfg.request_timeout)
            out = classify(op, status)
        except ConnectionRefusedError:
            out = "refused"
        except TimeoutError:
            out = "timeout"
        except (OSError, http.client.HTTPException):
            out = "conn_error"
        rec["t1"] = time.time()
        rec["st"], rec["out"] = status, out
        if out in ("refused", "conn_error", "timeout"):
            self.home = (r + 1) % len(self.replicas)  # as a load balancer would: try another
        if isinstance(data, dict):
            if status == 200:
                if "session_id" in data:
                    rec["sid"] = data["session_id"]
                if "heartbeat_interval_seconds" in data:
                    self.interval = float(data["heartbeat_interval_seconds"])
                if "expires_at" in data:
                    rec["exp"] = parse_ts(data["expires_at"])
                if "token" in data:
                    claims = token_claims(data["token"])
                    rec["texp"], rec["tsub"] = claims.get("exp"), claims.get("sub")
                    rec["thw"], rec["tlic"] = claims.get("hwid"), claims.get("lic")
            else:
                rec["code"], rec["dep"] = data.get("code"), data.get("dependency")
        self.rec.write(rec)
        return rec

    def acquire(self):
        return self.call("acquire", {"license_key": self.setup["license_key"], "hardware_id": self.hwid})

    def acquire_until_granted(self):
        """Acquire with this machine's hardware id until a seat is granted (or the run stops)."""
        while not self.stopping():
            rec = self.acquire()
            if rec["out"] == "ok":
                self.sid = rec["sid"]
                return True
            if rec["out"] == "no_seats":
                self.sleep(0.05, 0.3)
            elif rec["out"] == "refused":
                self.sleep(0.01, 0.05)
            else:
                self.sleep(0.05, 0.2)
        return False

    def heartbeat(self):
        return self.call("heartbeat", {"session_id": self.sid}, sid=self.sid)

    def release(self):
        """Sends release; retries a few times when no clear answer came (it is idempotent)."""
        for _ in range(3):
            rec = self.call("release", {"session_id": self.sid}, sid=self.sid)
            if rec["out"] in ("ok", "lost", "http_4xx"):
                break
            self.sleep(0.05, 0.2)
        self.sid = None

    def crash(self):
        """Stops without releasing: the seat must free itself at TTL."""
        self.rec.write({"c": self.idx, "r": None, "hw": self.hwid, "op": "crash", "sid": self.sid,
                        "t0": time.time(), "t1": time.time(), "st": None, "out": "crash"})
        self.sid = None

    def suspend(self):
        """Goes quiet for about a TTL (a laptop asleep, a stopped VM), then carries on with the
        same session: its next heartbeat must renew it if the lease is still running, and must
        answer 410 if it ran out (the seat may be someone else's by then)."""
        t0 = time.time()
        self.sleep(0.5 * self.cfg.ttl, 1.5 * self.cfg.ttl)
        self.rec.write({"c": self.idx, "r": None, "hw": self.hwid, "op": "suspend", "sid": self.sid,
                        "t0": t0, "t1": time.time(), "st": None, "out": "suspend"})

    def hold(self):
        """A few heartbeats; after an error, either retry the heartbeat or acquire again with the
        same hardware id (which must give the same session back while it is live)."""
        beats = self.rng.randint(1, self.cfg.max_heartbeats)
        done = 0
        while done < beats and not self.stopping():
            if self.steady:
                self.sleep(0.8 * self.interval, self.interval)
            else:
                self.sleep(0.02, self.cfg.heartbeat_pause)
            rec = self.heartbeat()
            if rec["out"] == "ok":
                done += 1
            elif rec["out"] in ("lost", "http_4xx"):
                self.sid = None
                return
            elif self.rng.random() < 0.5:
                self.sleep(0.05, 0.2)
                again = self.acquire()
                if again["out"] == "ok":
                    self.sid = again["sid"]
                    done += 1
                elif again["out"] == "no_seats":
                    # The server no longer counts our seat (it expired while we could not
                    # renew it): start over.
                    self.sid = None
                    return
            else:
                self.sleep(0.05, 0.2)

    def run(self):
        try:
            while not self.stopping():
                if not self.acquire_until_granted():
                    break
                if self.rng.random() < 0.1:
                    # A retry whose first answer got lost: must be the same session.
                    again = self.acquire()
                    if again["out"] == "ok":
                        self.sid = again["sid"]
                self.hold()
                if self.sid is None or self.stopping():
                    continue
                if self.crashes.take():
                    if self.rng.random() < 0.5:
                        self.suspend()
                        self.hold()
                        if self.sid is None or self.stopping():
                            continue
                    else:
                        self.crash()
                        self.sleep(0.0, self.cfg.ttl * 0.6)
                        if self.rng.random() < 0.5:
                            self.hwid = self.new_hwid()  # a new machine; else the same one reboots
                        continue
                self.release()
                self.sleep(0.0, 0.1)
            if self.sid is not None:
                # The run is over: every fourth client ends as a crash, never releasing.
                if self.idx % 4 == 0:
                    self.crash()
                else:
                    self.release()
        except Exception as e:  # a bug in the driver must not pass for a quiet client
            self.run_state["errors"].append("client %d: %r" % (self.idx, e))
            raise


def classify(op, status):
    if status == 200:
        return "ok"
    if status == 402 and op == "acquire":
        return "no_seats"
    if status in (404, 410) and op == "heartbeat":
        return "lost"
    if status >= 500:
        return "http_5xx"
    return "http_4xx"


# Faults after which the ledger is rebuilt from the store.
REDIS_LOSSES = ("redis_flushall", "redis_restart", "redis_loss_while_pg_down")


def sampler(port, key, stop, out):
    """Samples the ledger's live seats (the server's own view) every 100 ms."""
    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = drill.Redis(port, timeout=1.0)
            n = drill.live(conn, key)
            out["samples"] += 1
            if n > out["max"]:
                out["max"], out["max_at"] = n, time.time()
            if n > out["limit"] and len(out["over"]) < 10000:
                out["over"].append([time.time(), n])
        except (OSError, RuntimeError, ConnectionError, ValueError):
            out["errors"] += 1
            if conn is not None:
                conn.close()
            conn = None
        stop.wait(0.1)


def cmd_drive(args):
    with open(args.setup) as f:
        setup = json.load(f)
    args.ttl = setup["ttl_seconds"]
    replicas = args.replicas.split(",")
    rec = Recorder(args.history)
    run = {"stop": threading.Event(), "errors": []}
    # Crashes and suspensions at about seats / (2 x TTL) a second, half each: at any time they
    # hold about half the seats (zombies until their TTL), never all of them.
    crashes = CrashBudget(setup["limit"] / (2.0 * args.ttl))
    sample = {"max": 0, "max_at": None, "samples": 0, "errors": 0, "over": [],
              "limit": setup["limit"]}
    sample_stop = threading.Event()
    sampler_thread = threading.Thread(target=sampler, daemon=True,
                                      args=(args.redis_port, setup["seats_key"], sample_stop, sample))
    started = time.time()
    sampler_thread.start()
    clients = [Client(i, args, setup, replicas, rec, crashes, run) for i in range(args.clients)]
    for c in clients:
        c.start()

    def log(msg):
        print("load [%4.0fs] %s" % (time.time() - started, msg), file=sys.stderr, flush=True)

    next_report = started + 10
    while True:
        time.sleep(0.2)
        now = time.time()
        if now >= next_report:
            log("ops=%d %s ledger_max=%d" % (rec.ops, json.dumps(rec.by_out, sort_keys=True), sample["max"]))
            next_report += 10
        if run["errors"]:
            break
        if now - started >= args.seconds or (args.ops and rec.ops >= args.ops):
            break
    # Wind down: no fault may still be in progress when the clients stop, so ask the fault
    # injector to finish, then keep the load on for a calm period.
    log("load target reached (ops=%d); waiting for the fault injector to finish" % rec.ops)
    open(args.stopping, "w").close()
    deadline = time.time() + args.fault_wait
    while not os.path.exists(args.faults_done) and time.time() < deadline and not run["errors"]:
        time.sleep(0.1)
    faults_done = os.path.exists(args.faults_done)
    if faults_done:
        log("faults over; %ds of calm load" % args.calm)
        time.sleep(args.calm)
    run["stop"].set()
    for c in clients:
        c.join(args.request_timeout * 4 + 5)
    stuck = [c.name for c in clients if c.is_alive()]
    sample_stop.set()
    sampler_thread.join(3)
    rec.close()
    ended = time.time()
    summary = {"started": started, "ended": ended, "clients": args.clients, "ops": rec.ops,
               "ledger_max": sample["max"], "ledger_max_at": sample["max_at"],
               "ledger_samples": sample["samples"], "ledger_sample_errors": sample["errors"],
               "ledger_over": sample["over"],
               "driver_errors": run["errors"], "stuck_clients": stuck, "faults_done": faults_done}
    with open(args.summary, "w") as f:
        json.dump(summary, f, indent=1)
    log("clients stopped: ops=%d %s" % (rec.ops, json.dumps(rec.by_out, sort_keys=True)))
    if run["errors"] or stuck or not faults_done:
        log("driver problems: errors=%s stuck=%s faults_done=%s" % (run["errors"], stuck, faults_done))
        return 1
    return 0


# --- final state ---------------------------------------------------------------------------------

def read_history(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def settle_deadline(history, ttl, margin):
    """When every seat of the run must be free: after the latest expiry any client was given,
    and a TTL after the last request was sent (one whose answer was lost may still have renewed
    a seat), plus a margin."""
    last_exp = max((max(r.get("exp") or 0, r.get("texp") or 0) for r in history), default=0)
    last_sent = max((r["t0"] for r in history if r["op"] not in PSEUDO_OPS), default=0)
    return max(last_exp, last_sent + ttl) + margin


def cmd_settle(args):
    with open(args.setup) as f:
        setup = json.load(f)
    history = read_history(args.history)
    deadline = settle_deadline(history, setup["ttl_seconds"], args.margin)
    wait = deadline - time.time()
    if wait > 0:
        print("soak: waiting %.0fs for every lease to run out (TTL %ds + margin %ds)"
              % (wait, setup["ttl_seconds"], args.margin), file=sys.stderr, flush=True)
        time.sleep(wait)
    final = {"deadline": deadline, "checked_at": time.time()}
    conn = drill.Redis(args.redis_port)
    try:
        final["redis_live"] = drill.live(conn, setup["seats_key"])
    finally:
        conn.close()
    lid = setup["license_id"]
    st, usage = http_call(args.url, "GET", API + "/admin/licenses/%s/usage" % lid, setup["admin_key"])
    final["usage_status"], final["admin_live_seats"] = st, (usage or {}).get("live_seats")
    st, sessions = http_call(args.url, "GET", API + "/admin/licenses/%s/sessions" % lid, setup["admin_key"])
    final["sessions_status"], final["admin_sessions"] = st, (sessions or {}).get("items")
    query = ("SELECT coalesce(json_agg(json_build_object("
             "'id', id, 'hw', hardware_id, 'expires_at', extract(epoch FROM expires_at), "
             "'ended_at', extract(epoch FROM ended_at), 'end_reason', end_reason)), '[]'::json), "
             "extract(epoch FROM now()) FROM sessions WHERE license_id = '%s'" % lid)
    out = subprocess.run([os.path.join(args.pg_bin, "psql"), "-h", "127.0.0.1", "-p", str(args.pg_port),
                          "-U", "postgres", "-d", args.pg_db, "-v", "ON_ERROR_STOP=1", "-qAt",
                          "-F", "\t", "-c", query], capture_output=True, text=True, check=True).stdout
    rows, now = out.strip().split("\t")
    final["store_sessions"], final["store_now"] = json.loads(rows), float(now)
    with open(args.out, "w") as f:
        json.dump(final, f)


# --- the checker ---------------------------------------------------------------------------------

class Hold:
    """One stretch of time during which a client held a session (see the module doc)."""

    __slots__ = ("sid", "hw", "client", "start", "exp", "end", "why", "grant", "crashed", "suspended")

    def __init__(self, sid, hw, client, start, exp, grant):
        self.sid, self.hw, self.client, self.start, self.exp = sid, hw, client, start, exp
        self.end, self.why, self.grant, self.crashed, self.suspended = None, None, grant, None, None

    def close(self, at, why):
        if at >= self.exp:
            self.end, self.why = self.exp, "lease ran out"
        else:
            self.end, self.why = at, why


def expiry_of(r):
    return max(r.get("exp") or 0, r.get("texp") or 0)


def build_holds(history):
    """Every client's holds, from its own operations in order."""
    by_client = {}
    for r in history:
        by_client.setdefault(r["c"], []).append(r)
    holds, stats = [], {"late_renewals": 0, "early_losses": 0, "no_seats_while_holding": 0}
    for recs in by_client.values():
        recs.sort(key=lambda r: (r["t0"], r["t1"]))
        live = {}  # sid -> Hold

        def finish(h, at, why):
            h.close(at, why)
            holds.append(h)
            live.pop(h.sid, None)

        for r in recs:
            op, out = r["op"], r["out"]
            # Holds whose lease ran out before this operation was sent are over.
            for h in [h for h in live.values() if h.exp <= r["t0"]]:
                finish(h, h.exp, "lease ran out")
            if out == "ok" and op in ("acquire", "heartbeat") and r.get("sid"):
                sid, exp = r["sid"], expiry_of(r)
                h = live.get(sid)
                if h is not None:
                    h.exp = max(h.exp, exp)  # renewed before it ran out (sent at r.t0 < h.exp)
                elif op == "heartbeat":
                    stats["late_renewals"] += 1  # sent after the client's lease ran out
                    live[sid] = Hold(sid, r["hw"], r["c"], r["t1"], exp, r)
                else:
                    live[sid] = Hold(sid, r["hw"], r["c"], r["t1"], exp, r)
            elif op == "heartbeat" and out == "lost" and r.get("sid") in live:
                h = live[r["sid"]]
                if r["t1"] < h.exp:
                    stats["early_losses"] += 1
                finish(h, r["t1"], "heartbeat answered %s" % r["st"])
            elif op == "crash":
                for h in live.values():
                    h.crashed = h.crashed or r["t0"]
            elif op == "suspend":
                for h in live.values():
                    h.suspended = (r["t0"], r["t1"])
            elif op == "release" and r.get("sid") in live:
                finish(live[r["sid"]], r["t0"], "release sent")
            elif op == "acquire" and out == "no_seats" and any(h.hw == r["hw"] for h in live.values()):
                stats["no_seats_while_holding"] += 1
        for h in list(live.values()):
            finish(h, h.exp, "lease ran out")
    return [h for h in holds if h.end > h.start], stats


def merged_by_session(holds):
    """Per session, its holds merged into disjoint stretches: [(start, end, [holds])]."""
    per = {}
    for h in holds:
        per.setdefault(h.sid, []).append(h)
    out = {}
    for sid, hs in per.items():
        hs.sort(key=lambda h: h.start)
        spans = []
        for h in hs:
            if spans and h.start <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], h.end)
                spans[-1][2].append(h)
            else:
                spans.append([h.start, h.end, [h]])
        out[sid] = spans
    return out


def describe_hold(h, origin):
    g = h.grant
    crashed = "" if h.crashed is None else "; the client crashed at %s" % fmt_t(h.crashed, origin)
    if h.suspended is not None:
        crashed += "; the client was suspended from %s to %s" % (fmt_t(h.suspended[0], origin),
                                                                  fmt_t(h.suspended[1], origin))
    return ("session %s (client %d, hardware %s): held from %s (%s sent %s to replica %s) "
            "until %s (%s; lease expiry %s%s)" % (h.sid, h.client, h.hw, fmt_t(h.start, origin), g["op"],
                                                   fmt_t(g["t0"], origin), g["r"], fmt_t(h.end, origin), h.why,
                                                   fmt_t(h.exp, origin), crashed))


def check_seats(holds, limit, origin):
    """(a) At no instant more sessions held than the license allows."""
    events = []
    for sid, spans in merged_by_session(holds).items():
        for start, end, hs in spans:
            events.append((start, 1, sid, hs))
            events.append((end, -1, sid, hs))
    events.sort(key=lambda e: (e[0], e[1]))  # at equal times, a seat is freed before one is taken
    live, peak, peak_at, first = {}, 0, None, None
    for t, delta, sid, hs in events:
        if delta < 0:
            live.pop((sid, id(hs)), None)
            continue
        live[(sid, id(hs))] = hs
        if len(live) > peak:
            peak, peak_at = len(live), t
        if len(live) > limit and first is None:
            lines = ["at %s %d sessions were held on a license of %d seats:" % (fmt_t(t, origin), len(live), limit)]
            for group in sorted(live.values(), key=lambda g: g[0].start):
                lines.append("  " + describe_hold(group[0], origin))
            first = "\n".join(lines)
    return peak, peak_at, first


def check_hardware(holds, origin):
    """(b) One hardware id never holds two different live sessions at once (a retry took a
    second seat), and one session never belongs to two hardware ids."""
    problems = []
    per_hw, hw_of = {}, {}
    for h in holds:
        per_hw.setdefault(h.hw, []).append(h)
        if hw_of.setdefault(h.sid, h.hw) != h.hw:
            problems.append("session %s was given to hardware %s and to %s" % (h.sid, hw_of[h.sid], h.hw))
    for hw, hs in per_hw.items():
        hs.sort(key=lambda h: h.start)
        active = []
        for h in hs:
            active = [a for a in active if a.end > h.start]
            for a in active:
                if a.sid != h.sid:
                    problems.append("hardware %s held two sessions at once (a retry took a second seat) at %s:\n  %s\n  %s"
                                    % (hw, fmt_t(h.start, origin), describe_hold(a, origin), describe_hold(h, origin)))
            active.append(h)
    return problems


def check_tokens(history, license_id):
    """Every granted lease token names the session, the machine and the license it was given for."""
    problems = []
    for r in history:
        if r["out"] != "ok" or r["op"] not in ("acquire", "heartbeat"):
            continue
        if r.get("exp") is None or r.get("texp") is None:
            problems.append("a 200 %s carried no expires_at or no token exp: %s" % (r["op"], json.dumps(r)))
        elif r.get("tsub") != r.get("sid") or r.get("thw") != r["hw"] or r.get("tlic") != license_id:
            problems.append("a lease token names another session, machine or license: %s" % json.dumps(r))
        elif r["texp"] > r["exp"] + 1e-6:
            problems.append("a lease token outlives its expires_at: %s" % json.dumps(r))
    return problems


def check_final(final, history, origin):
    """(c) Once every lease has run out, no seat is held and every session has ended or expired."""
    problems = []
    if final["checked_at"] < final["deadline"]:
        problems.append("the final state was read before every lease had run out")
    if final["redis_live"] != 0:
        problems.append("the ledger (Redis) still counts %d live seats %s after the last lease ran out"
                        % (final["redis_live"], fmt_t(final["checked_at"], origin)))
    if final["usage_status"] != 200 or final["admin_live_seats"] != 0:
        problems.append("the admin usage route says live_seats=%s (status %s) after the last lease ran out"
                        % (final["admin_live_seats"], final["usage_status"]))
    if final["sessions_status"] != 200 or final["admin_sessions"]:
        problems.append("the admin sessions route (status %s) still lists live sessions: %s"
                        % (final["sessions_status"], json.dumps(final["admin_sessions"])[:2000]))
    stored = {s["id"]: s for s in final["store_sessions"]}
    for s in final["store_sessions"]:
        if s["ended_at"] is None and s["expires_at"] > final["store_now"]:
            problems.append("the store still holds session %s (hardware %s) live until %s"
                            % (s["id"], s["hw"], fmt_t(s["expires_at"], origin)))
    granted = {r["sid"]: r for r in history if r["op"] == "acquire" and r["out"] == "ok"}
    for sid, r in granted.items():
        if sid not in stored:
            problems.append("session %s was granted (acquire answered 200 %s) but the store never recorded it"
                            % (sid, fmt_t(r["t1"], origin)))
    return problems


def store_lag(final, history):
    """How far the store's expiry of a session trails the latest expiry a client was given
    (informational: a write-behind heartbeat path shows up here)."""
    given = {}
    for r in history:
        if r["out"] == "ok" and r["op"] in ("acquire", "heartbeat") and r.get("sid"):
            given[r["sid"]] = max(given.get(r["sid"], 0), r.get("exp") or 0)
    behind, worst = 0, 0.0
    for s in final["store_sessions"]:
        lag = given.get(s["id"], 0) - s["expires_at"]
        if lag > 0.001 and s["end_reason"] != "released":
            behind += 1
            worst = max(worst, lag)
    return behind, worst


def error_kinds(history):
    kinds = {}
    for r in history:
        if r["out"] in ("http_5xx", "timeout", "conn_error", "refused", "http_4xx"):
            k = "%s %s" % (r["op"], r["out"] if r["st"] is None else "%s %s%s" % (
                r["st"], r.get("code") or "?", "/" + r["dep"] if r.get("dep") else ""))
            kinds[k] = kinds.get(k, 0) + 1
    return kinds


def evaluate(history, setup, final, faults=None, driver=None, require_faults=False):
    """Runs every check. Returns (failures: [(check, first counterexample, count)], report lines)."""
    faults = faults or []
    origin = (driver or {}).get("started") or min((r["t0"] for r in history), default=0)
    failures, report = [], []
    holds, stats = build_holds(history)
    peak, peak_at, first = check_seats(holds, setup["limit"], origin)
    if first:
        failures.append(("a: seats", first, 1))
    hw = check_hardware(holds, origin)
    if hw:
        failures.append(("b: retries", hw[0], len(hw)))
    tok = check_tokens(history, setup["license_id"])
    if tok:
        failures.append(("tokens", tok[0], len(tok)))
    if final is not None:
        fin = check_final(final, history, origin)
        if fin:
            failures.append(("c: leftovers", fin[0], len(fin)))
    if driver is not None:
        # After Redis loses its data, the rebuild restores every session the store cannot prove
        # dead, for one more TTL + the write lag (ADR 0017): the ledger may then count more than
        # the limit (never more leases: check a). Outside those windows it must not.
        window = 2 * setup["ttl_seconds"] + 20
        # The run's start counts too: the first acquires initialise the ledger by a rebuild.
        losses = [origin] + [f["start"] for f in faults if f["kind"] in REDIS_LOSSES]
        stray = [(t, n) for t, n in driver.get("ledger_over", [])
                 if not any(start <= t <= start + window for start in losses)]
        if stray:
            t, n = stray[0]
            failures.append(("a: ledger", "the ledger counted %d live seats at %s (limit %d), "
                             "not within %ds of a Redis data loss" % (n, fmt_t(t, origin), setup["limit"], window),
                             len(stray)))
        if driver["driver_errors"] or driver["stuck_clients"] or not driver["faults_done"]:
            failures.append(("driver", "errors=%s stuck=%s faults_done=%s" % (
                driver["driver_errors"], driver["stuck_clients"], driver["faults_done"]), 1))
    if require_faults:
        missing = [k for k in FAULT_KINDS if not any(f["kind"] == k for f in faults)]
        if missing:
            failures.append(("faults", "fault kinds never injected: %s (raise SOAK_SECONDS)" % ", ".join(missing), 1))
        broken = [f for f in faults if not f.get("ok", True)]
        if broken:
            failures.append(("faults", "a fault did not recover: %s" % json.dumps(broken[0]), len(broken)))

    # The summary.
    ops = [r for r in history if r["op"] not in PSEUDO_OPS]
    by = {}
    for r in ops:
        key = "%s %s" % (r["op"], r["out"])
        by[key] = by.get(key, 0) + 1
    report.append("operations: %d (%s)" % (len(ops), ", ".join("%s=%d" % kv for kv in sorted(by.items()))))
    report.append("clients: %d, hardware ids: %d, sessions granted: %d, crashes: %d, suspensions: %d" % (
        len({r["c"] for r in history}), len({r["hw"] for r in history}),
        len({r["sid"] for r in history if r["op"] == "acquire" and r["out"] == "ok"}),
        sum(1 for r in history if r["op"] == "crash"), sum(1 for r in history if r["op"] == "suspend")))
    kinds = error_kinds(history)
    report.append("errors by kind (allowed during faults): %s" % (
        ", ".join("%s=%d" % kv for kv in sorted(kinds.items())) or "none"))
    if faults:
        errors = [r for r in ops if r["out"] in ("http_5xx", "timeout", "conn_error", "refused")]

        def in_window(r, f):
            return f["start"] <= r["t1"] <= f["end"] + 10

        report.append("faults injected: %d (errors counted during each fault and the 10 s after it)" % len(faults))
        if len(faults) <= 12:
            for f in faults:
                report.append("  %s %-24s %4.1fs  %-36s %s%d errors" % (
                    fmt_t(f["start"], origin), f["kind"], f["end"] - f["start"], f.get("detail", ""),
                    "" if f.get("ok", True) else "DID NOT RECOVER, ", sum(1 for r in errors if in_window(r, f))))
        else:
            for kind in sorted({f["kind"] for f in faults}):
                fs = [f for f in faults if f["kind"] == kind]
                report.append("  %-24s x%-3d longest %4.1fs, %d errors, %d did not recover; at %s" % (
                    kind, len(fs), max(f["end"] - f["start"] for f in fs),
                    sum(1 for r in errors if any(in_window(r, f) for f in fs)),
                    sum(1 for f in fs if not f.get("ok", True)),
                    " ".join("%.0fs" % (f["start"] - origin) for f in fs)))
        outside = [r for r in errors if not any(in_window(r, f) for f in faults)]
        report.append("errors outside any fault window (+10s): %d%s" % (
            len(outside), "" if not outside else " (first: %s)" % json.dumps(outside[0])))
    report.append("max concurrent holders: %d at %s; seats: %d (+%d overdraft)" % (
        peak, fmt_t(peak_at, origin), setup["seats_total"], setup["overdraft"]))
    if driver is not None:
        report.append("ledger (Redis) max live seats sampled: %d over %d samples (%d sample errors)" % (
            driver["ledger_max"], driver["ledger_samples"], driver["ledger_sample_errors"]))
    report.append("renewals sent after the lease ran out but answered 200: %d; heartbeats answered 404/410 "
                  "before the lease ran out: %d; 402 to a machine still holding a lease: %d" % (
                      stats["late_renewals"], stats["early_losses"], stats["no_seats_while_holding"]))
    if final is not None:
        behind, worst = store_lag(final, history)
        report.append("final state %s: ledger live=%s, admin live_seats=%s, admin live sessions=%s, store sessions=%d "
                      "(%d ended); store expiry behind the client's: %d sessions (max %.3fs)" % (
                          fmt_t(final["checked_at"], origin), final["redis_live"], final["admin_live_seats"],
                          len(final["admin_sessions"] or []), len(final["store_sessions"]),
                          sum(1 for s in final["store_sessions"] if s["ended_at"] is not None), behind, worst))
    return failures, report


def cmd_check(args):
    with open(args.setup) as f:
        setup = json.load(f)
    history = read_history(args.history)
    faults = read_history(args.faults) if args.faults and os.path.exists(args.faults) else []
    final = driver = None
    if args.final:
        with open(args.final) as f:
            final = json.load(f)
    if args.driver:
        with open(args.driver) as f:
            driver = json.load(f)
    failures, report = evaluate(history, setup, final, faults, driver, require_faults=args.require_faults)
    for line in report:
        print("soak: " + line)
    checks = ["a: seats", "a: ledger", "b: retries", "tokens", "c: leftovers", "faults", "driver"]
    failed = {name for name, _, _ in failures}
    print("soak: checks: " + ", ".join("%s %s" % (c, "FAIL" if c in failed else "ok") for c in checks))
    for name, example, count in failures:
        print("soak: FAIL %s (%d): first counterexample:\n%s" % (name, count, example))
    return 1 if failures else 0


# --- self-test -----------------------------------------------------------------------------------

class Synth:
    """Builds synthetic histories in the driver's format."""

    def __init__(self):
        self.recs, self.n = [], 0
        self.license_id = "lic-1"

    def sid(self):
        self.n += 1
        return "s-%d" % self.n

    def op(self, c, hw, op, t0, t1, out, sid=None, exp=None, st=None):
        st = st if st is not None else {"ok": 200, "no_seats": 402, "lost": 410, "http_5xx": 503}.get(out)
        r = {"c": c, "r": 1, "hw": hw, "op": op, "t0": t0, "t1": t1, "st": st, "out": out, "sid": sid}
        if out == "ok" and op in ("acquire", "heartbeat"):
            r.update(exp=exp, texp=int(exp), tsub=sid, thw=hw, tlic=self.license_id)
        self.recs.append(r)
        return r

    def acquire(self, c, hw, t, sid=None, exp=None, out="ok"):
        return self.op(c, hw, "acquire", t, t + 0.01, out, sid, exp)

    def heartbeat(self, c, hw, t, sid, exp=None, out="ok"):
        return self.op(c, hw, "heartbeat", t, t + 0.01, out, sid, exp)

    def release(self, c, hw, t, sid, out="ok"):
        return self.op(c, hw, "release", t, t + 0.01, out, sid)

    def final(self, live=0, admin=0, store_live=(), ttl=30):
        sessions = [{"id": r["sid"], "hw": r["hw"], "expires_at": 0.0, "ended_at": 1.0, "end_reason": "released"}
                    for r in self.recs if r["op"] == "acquire" and r["out"] == "ok"]
        seen, rows = set(), []
        for s in sessions:
            if s["id"] not in seen:
                seen.add(s["id"])
                rows.append(s)
        for sid in store_live:
            for s in rows:
                if s["id"] == sid:
                    s.update(ended_at=None, end_reason=None, expires_at=10_000.0)
        return {"deadline": 1000.0, "checked_at": 1000.0, "redis_live": live, "usage_status": 200,
                "admin_live_seats": admin, "sessions_status": 200, "admin_sessions": [],
                "store_sessions": rows, "store_now": 1000.0}


SETUP = {"limit": 2, "seats_total": 2, "overdraft": 0, "license_id": "lic-1", "ttl_seconds": 30}


def scenario_clean():
    """Two seats, three machines: the third gets its seat only after the first is released, a
    retry gets the same session, a zombie's seat is taken after its lease ran out, a lost
    heartbeat ends a hold."""
    s = Synth()
    a, b, c = s.sid(), s.sid(), s.sid()
    s.acquire(0, "hw-a", 1.0, a, 31.0)
    s.acquire(1, "hw-b", 1.5, b, 31.5)
    s.acquire(2, "hw-c", 2.0, out="no_seats")
    s.acquire(0, "hw-a", 3.0, a, 31.0)            # a retry: same session
    s.heartbeat(0, "hw-a", 4.0, a, 34.0)
    s.release(0, "hw-a", 5.0, a)
    s.acquire(2, "hw-c", 5.0, c, 35.0)            # the seat a released (at the same instant)
    s.op(1, "hw-b", "crash", 6.0, 6.0, "crash", b)  # b is a zombie until 31.5
    d = s.sid()
    s.acquire(3, "hw-d", 20.0, out="no_seats")
    s.acquire(3, "hw-d", 31.6, d, 61.6)           # after the zombie's lease ran out
    s.heartbeat(2, "hw-c", 30.0, c, out="lost")   # c lost its seat (as if expired)
    e = s.sid()
    s.acquire(4, "hw-e", 30.5, e, 60.5)           # takes c's seat after c learned it lost it
    s.acquire(1, "hw-b", 40.0, out="no_seats")    # b reboots: no seat, fine
    s.release(3, "hw-d", 50.0, d)
    s.release(4, "hw-e", 50.0, e)
    return s


def scenario_overdraft():
    """(a) A third seat granted while two live leases are held."""
    s = scenario_clean()
    s.acquire(5, "hw-x", 10.0, s.sid(), 40.0)     # a and b's zombie... b + c are live at 10.0
    return s


def scenario_zombie_too_early():
    """(a) A crashed client's seat handed out before its lease ran out."""
    s = Synth()
    a, b, c = s.sid(), s.sid(), s.sid()
    s.acquire(0, "hw-a", 1.0, a, 31.0)
    s.acquire(1, "hw-b", 1.0, b, 31.0)
    s.heartbeat(1, "hw-b", 2.0, b, 32.0)
    s.op(1, "hw-b", "crash", 3.0, 3.0, "crash", b)
    s.acquire(2, "hw-c", 25.0, c, 55.0)           # b's lease runs until 32.0
    s.release(0, "hw-a", 40.0, a)
    s.release(2, "hw-c", 40.0, c)
    return s


def scenario_write_behind_rebuild():
    """(a) The write-behind hazard: a heartbeat renewed a lease to 50.0, the store still said
    31.0 when Redis was rebuilt, so the seat was handed out at 40.0."""
    s = Synth()
    a, b, c = s.sid(), s.sid(), s.sid()
    s.acquire(0, "hw-a", 1.0, a, 31.0)
    s.acquire(1, "hw-b", 1.0, b, 31.0)
    s.heartbeat(1, "hw-b", 20.0, b, 50.0)
    s.heartbeat(0, "hw-a", 20.0, a, 50.0)
    s.heartbeat(1, "hw-b", 45.0, b, out="lost")   # ...and b learns it only now
    s.acquire(2, "hw-c", 40.0, c, 70.0)
    s.release(0, "hw-a", 48.0, a)
    s.release(2, "hw-c", 60.0, c)
    return s


def scenario_retry_second_seat():
    """(b) A retry after a timeout took a second seat for the same machine."""
    s = Synth()
    a, b = s.sid(), s.sid()
    s.acquire(0, "hw-a", 1.0, a, 31.0)
    s.heartbeat(0, "hw-a", 2.0, a, out="timeout", exp=None)
    s.recs[-1]["st"] = None
    s.acquire(0, "hw-a", 3.0, b, 33.0)            # should have been `a`
    s.release(0, "hw-a", 4.0, b)
    return s


def scenario_crash_reboot_second_seat():
    """(b) A crashed machine rebooted and got a second session while its first lease was live."""
    s = Synth()
    a, b = s.sid(), s.sid()
    s.acquire(0, "hw-a", 1.0, a, 31.0)
    s.op(0, "hw-a", "crash", 2.0, 2.0, "crash", a)
    s.acquire(0, "hw-a", 10.0, b, 40.0)
    s.release(0, "hw-a", 11.0, b)
    return s


def scenario_crash_reboot_same_seat():
    """Clean: the rebooted machine gets its own live session back."""
    s = Synth()
    a = s.sid()
    s.acquire(0, "hw-a", 1.0, a, 31.0)
    s.op(0, "hw-a", "crash", 2.0, 2.0, "crash", a)
    s.acquire(0, "hw-a", 10.0, a, 31.0)
    s.heartbeat(0, "hw-a", 11.0, a, 41.0)
    s.release(0, "hw-a", 12.0, a)
    return s


def scenario_suspend_clean():
    """Clean: a client suspended past its lease gets 410 and its seat is someone else's; one
    suspended for less keeps its seat."""
    s = Synth()
    a, b, c = s.sid(), s.sid(), s.sid()
    s.acquire(0, "hw-a", 1.0, a, 31.0)
    s.acquire(1, "hw-b", 1.0, b, 31.0)
    s.op(0, "hw-a", "suspend", 1.1, 40.0, "suspend", a)
    s.op(1, "hw-b", "suspend", 1.1, 20.0, "suspend", b)
    s.heartbeat(1, "hw-b", 20.0, b, 50.0)
    s.acquire(2, "hw-c", 31.5, c, 61.5)
    s.heartbeat(0, "hw-a", 40.0, a, out="lost")
    s.release(1, "hw-b", 45.0, b)
    s.release(2, "hw-c", 45.0, c)
    return s


def scenario_resurrected_seat():
    """(a) A suspended client's seat came back to life after its lease ran out and someone
    else had taken it."""
    s = scenario_suspend_clean()
    s.recs = [r for r in s.recs if not (r["op"] == "heartbeat" and r["hw"] == "hw-a")]
    s.heartbeat(0, "hw-a", 40.0, "s-1", 70.0)
    return s


def scenario_bad_token():
    """A lease token naming another session."""
    s = scenario_clean()
    s.recs[0]["tsub"] = "s-999"
    return s


def cmd_selftest(_args):
    cases = [
        ("clean history", scenario_clean, {}, set()),
        ("clean: rebooted machine gets its session back", scenario_crash_reboot_same_seat, {}, set()),
        ("clean: suspended clients", scenario_suspend_clean, {}, set()),
        ("a third seat on a 2-seat license", scenario_overdraft, {}, {"a: seats"}),
        ("a seat back to life after its lease ran out", scenario_resurrected_seat, {}, {"a: seats"}),
        ("a zombie's seat handed out before its lease ran out", scenario_zombie_too_early, {}, {"a: seats"}),
        ("a seat lost to a rebuild from a lagging store", scenario_write_behind_rebuild, {}, {"a: seats"}),
        ("a retry took a second seat", scenario_retry_second_seat, {}, {"b: retries"}),
        ("a rebooted machine took a second seat", scenario_crash_reboot_second_seat, {}, {"b: retries"}),
        ("a token naming another session", scenario_bad_token, {}, {"tokens"}),
        ("the ledger still counts a seat after the TTL", scenario_clean, {"live": 1}, {"c: leftovers"}),
        ("the admin API still counts a seat after the TTL", scenario_clean, {"admin": 1}, {"c: leftovers"}),
        ("the store still holds a live session after the TTL", scenario_clean, {"store_live": ["s-4"]},
         {"c: leftovers"}),
    ]
    bad = 0
    for name, build, final_args, expected in cases:
        s = build()
        final = s.final(**final_args)
        failures, _ = evaluate(s.recs, SETUP, final)
        got = {f[0] for f in failures}
        ok = got == expected
        bad += not ok
        print("soak selftest: %-4s %-55s caught %s%s" % ("ok" if ok else "FAIL", name, sorted(got) or "nothing",
                                                        "" if ok else " (expected %s)" % sorted(expected)))
        if not ok:
            for f in failures:
                print("    " + f[1].replace("\n", "\n    "))
    # A store that never recorded a granted session.
    s = scenario_clean()
    final = s.final()
    final["store_sessions"] = final["store_sessions"][1:]
    got = {f[0] for f in evaluate(s.recs, SETUP, final)[0]}
    ok = got == {"c: leftovers"}
    bad += not ok
    print("soak selftest: %-4s %-55s caught %s" % ("ok" if ok else "FAIL", "a granted session the store never recorded",
                                                   sorted(got) or "nothing"))
    print("soak selftest: %s" % ("FAIL" if bad else "every violation was caught, no clean history was flagged"))
    return 1 if bad else 0


# --- command line --------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ports")
    p.add_argument("n", type=int)
    p.set_defaults(func=drill.cmd_ports)
    p = sub.add_parser("get")
    p.add_argument("file")
    p.add_argument("path")
    p.set_defaults(func=drill.cmd_get)
    p = sub.add_parser("setup")
    p.add_argument("--url", required=True)
    p.add_argument("--operator-token", required=True)
    p.add_argument("--seats", type=int, required=True)
    p.add_argument("--ttl", type=int, required=True)
    p.add_argument("--interval", type=int, required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_setup)
    p = sub.add_parser("drive")
    p.add_argument("--setup", required=True)
    p.add_argument("--replicas", required=True, help="comma-separated base URLs")
    p.add_argument("--clients", type=int, required=True)
    p.add_argument("--seconds", type=float, required=True, help="load time before winding down")
    p.add_argument("--ops", type=int, default=0, help="or wind down after this many operations")
    p.add_argument("--history", required=True)
    p.add_argument("--summary", required=True)
    p.add_argument("--redis-port", type=int, required=True)
    p.add_argument("--stopping", required=True, help="file created when the load target is reached")
    p.add_argument("--faults-done", required=True, help="file the fault injector creates when it is done")
    p.add_argument("--fault-wait", type=float, default=120)
    p.add_argument("--calm", type=float, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--request-timeout", type=float, default=10)
    p.add_argument("--max-heartbeats", type=int, default=5)
    p.add_argument("--heartbeat-pause", type=float, default=0.3)
    p.set_defaults(func=cmd_drive)
    p = sub.add_parser("settle")
    p.add_argument("--setup", required=True)
    p.add_argument("--history", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--redis-port", type=int, required=True)
    p.add_argument("--pg-port", type=int, required=True)
    p.add_argument("--pg-db", required=True)
    p.add_argument("--pg-bin", required=True)
    p.add_argument("--margin", type=float, default=5)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_settle)
    p = sub.add_parser("check")
    p.add_argument("--setup", required=True)
    p.add_argument("--history", required=True)
    p.add_argument("--faults")
    p.add_argument("--final")
    p.add_argument("--driver")
    p.add_argument("--require-faults", action="store_true")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("selftest")
    p.set_defaults(func=cmd_selftest)
    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
