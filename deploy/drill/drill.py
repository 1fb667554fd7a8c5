#!/usr/bin/env python3
"""Helpers for deploy/drill/run (Python 3 standard library only).

  drill.py ports N                        print N free loopback TCP ports, one a line
  drill.py get FILE PATH                  print one field of a JSON file (PATH like a.b.0.c)
  drill.py live --port P --key K          print the live seats of one license's ledger key
  drill.py served LOG PORT                print how many requests in nginx's access LOG the
                                          replica on PORT answered (it was the last upstream
                                          tried and its status was below 500)
  drill.py sample --port P --key K --stop FILE --out FILE [--interval S]
                                          sample the live seats until FILE exists; write
                                          {"max": .., "samples": .., "errors": ..} as JSON

"Live seats" are the members (one per machine) of the license's sorted set
`lic:{<tenant>:<license>}:v2:seats` whose score (expiry in ms) is later than Redis' own clock, counted atomically in one EVAL —
the same clock and the same rule the ledger's acquire script uses, so an expired member that
acquire has not swept yet is not counted.
"""

import argparse
import json
import os
import re
import socket
import sys
import time

LIVE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
"""


class Redis:
    """The smallest RESP client that can run EVAL on one connection."""

    def __init__(self, port, timeout=2.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def command(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(out))
        return self._reply()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError("redis: " + rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError("unexpected redis reply: %r" % line)


def live(conn, key):
    return int(conn.command("EVAL", LIVE_SCRIPT, 1, key))


def cmd_ports(args):
    socks, ports = [], []
    for _ in range(args.n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    print("\n".join(str(p) for p in ports))


def cmd_get(args):
    with open(args.file) as f:
        value = json.load(f)
    for part in args.path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    print(value if not isinstance(value, (dict, list)) else json.dumps(value))


def cmd_live(args):
    conn = Redis(args.port)
    try:
        print(live(conn, args.key))
    finally:
        conn.close()


# The drill's log_format: `... upstream=$upstream_addr upstream_status=$upstream_status
# request_time=...`, where a retried request lists every upstream tried, comma-separated.
UPSTREAM = re.compile(r" upstream=(.*?) upstream_status=(.*?) request_time=")


def cmd_served(args):
    want, count = "127.0.0.1:%d" % args.port, 0
    with open(args.log) as f:
        for line in f:
            m = UPSTREAM.search(line)
            if not m:
                continue
            addr = m.group(1).split(",")[-1].strip()
            status = m.group(2).split(",")[-1].strip()
            if addr == want and status.isdigit() and int(status) < 500:
                count += 1
    print(count)


def cmd_sample(args):
    maximum, samples, errors, conn = 0, 0, 0, None
    while not os.path.exists(args.stop):
        started = time.monotonic()
        try:
            if conn is None:
                conn = Redis(args.port)
            n = live(conn, args.key)
            samples += 1
            maximum = max(maximum, n)
        except (OSError, RuntimeError, ConnectionError, ValueError):
            errors += 1
            if conn is not None:
                conn.close()
            conn = None
        time.sleep(max(0.0, args.interval - (time.monotonic() - started)))
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"max": maximum, "samples": samples, "errors": errors}, f)
    os.replace(tmp, args.out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ports")
    p.add_argument("n", type=int)
    p.set_defaults(func=cmd_ports)
    p = sub.add_parser("get")
    p.add_argument("file")
    p.add_argument("path")
    p.set_defaults(func=cmd_get)
    p = sub.add_parser("served")
    p.add_argument("log")
    p.add_argument("port", type=int)
    p.set_defaults(func=cmd_served)
    for name, func in (("live", cmd_live), ("sample", cmd_sample)):
        p = sub.add_parser(name)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--key", required=True)
        if name == "sample":
            p.add_argument("--stop", required=True)
            p.add_argument("--out", required=True)
            p.add_argument("--interval", type=float, default=0.1)
        p.set_defaults(func=func)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
