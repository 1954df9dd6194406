#!/usr/bin/python3
"""Load generator of bench/run: XADD TEST_PASSED events, time the answers.

It writes N artifact sets to disk first (outside the clock), then XADDs one
TEST_PASSED event per set to the input stream, either open-loop at a fixed
rate (event i is sent at t0 + i/rate, whatever the consumer does: a late
consumer shows up as latency, not as a slower producer) or as fast as it
can (saturation). A second connection reads the output stream and matches
each outcome to its input by causation_id. Latency is the time from just
before the XADD to the moment the outcome was read, on one monotonic
clock. It works the same against artifactd and against bench/baseline.py.

Run with Debian's /usr/bin/python3 (python3-redis). Prints one JSON object.
"""
import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import artifacts  # noqa: E402

OK_TYPES = ("ARTIFACT_COMMITTED",)


def percentile(values, p):
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    v = sorted(values)
    k = max(1, min(len(v), int(-(-p * len(v) // 100))))
    return v[k - 1]


class Collector(threading.Thread):
    """Reads the output stream and records the first outcome per input."""

    def __init__(self, client, stream, start_id, sent, want):
        super().__init__(daemon=True)
        self.r = client
        self.stream = stream
        self.last = start_id
        self.sent = sent          # event_id -> monotonic send time
        self.want = want          # set of event ids we wait for
        self.got = {}             # event_id -> (type, recv time, code)
        self.done = threading.Event()
        self.stop = False

    def run(self):
        while not self.stop:
            resp = self.r.xread({self.stream: self.last}, count=1000,
                                block=200)
            now = time.monotonic()
            for _, entries in resp or []:
                for eid, fields in entries:
                    self.last = eid
                    raw = fields.get("event")
                    if raw is None:
                        continue
                    try:
                        ev = json.loads(raw)
                    except ValueError:
                        continue
                    cause = ev.get("causation_id")
                    if cause in self.want and cause not in self.got:
                        data = ev.get("data") or {}
                        err = data.get("error") or {}
                        self.got[cause] = (ev.get("event_type"), now,
                                           err.get("code"),
                                           data.get("commit_sha"))
            if len(self.got) >= len(self.want):
                self.done.set()
                return


def run_load(client_factory, events, in_stream, out_stream, rate=0.0,
             timeout=300.0):
    """Send the prepared events (JSON strings) and wait for the outcomes.

    client_factory() returns a new redis.Redis (decode_responses=True).
    rate 0 means as fast as possible. Returns a dict of results."""
    send_r = client_factory()
    read_r = client_factory()
    last = send_r.xrevrange(out_stream, "+", "-", count=1)
    start_id = last[0][0] if last else "0-0"
    ids = [json.loads(e)["event_id"] for e in events]
    sent = {}
    col = Collector(read_r, out_stream, start_id, sent, set(ids))
    col.start()

    t0 = time.monotonic()
    for i, (eid, ev) in enumerate(zip(ids, events)):
        if rate > 0:
            due = t0 + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        sent[eid] = time.monotonic()
        send_r.xadd(in_stream, {"event": ev, "event_id": eid,
                                "event_type": "TEST_PASSED"})
    t_sent = time.monotonic()
    col.done.wait(timeout)
    col.stop = True
    col.join(5)

    lat, ok, failed, codes, shas = [], 0, 0, {}, []
    t_last = t0
    for eid in ids:
        g = col.got.get(eid)
        if g is None:
            continue
        etype, recv, code, sha = g
        if etype in OK_TYPES and sha:
            shas.append(sha)
        t_last = max(t_last, recv)
        lat.append((recv - sent[eid]) * 1000.0)
        if etype in OK_TYPES:
            ok += 1
        else:
            failed += 1
            key = "%s/%s" % (etype, code)
            codes[key] = codes.get(key, 0) + 1
    elapsed = t_last - t0
    return {
        "sent": len(ids),
        "answered": len(col.got),
        "ok": ok,
        "failed": failed,
        "failure_codes": codes,
        "missing": len(ids) - len(col.got),
        "offered_rate": rate if rate > 0 else None,
        "send_seconds": t_sent - t0,
        "seconds": elapsed,
        "events_per_s": ok / elapsed if elapsed > 0 and ok else 0.0,
        # first, middle and last commit, for the caller to look up in git
        "commit_sample": sorted(set(shas[:1] + shas[len(shas) // 2:][:1]
                                    + shas[-1:])),
        "lat_ms": {"p50": percentile(lat, 50), "p95": percentile(lat, 95),
                   "p99": percentile(lat, 99),
                   "max": max(lat) if lat else None},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True,
                    help="redis-server port on 127.0.0.1")
    ap.add_argument("--root", required=True,
                    help="artifacts root (the consumer's ARTIFACTS_ROOT)")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--rate", type=float, default=0.0,
                    help="events/s offered; 0: as fast as possible")
    ap.add_argument("--run-id", default="p%d" % os.getpid())
    ap.add_argument("--in-stream", default="test_results")
    ap.add_argument("--out-stream", default="workflow_events")
    ap.add_argument("--timeout", type=float, default=300.0)
    a = ap.parse_args()

    import redis  # Debian's python3-redis

    def factory():
        return redis.Redis(host="127.0.0.1", port=a.port,
                           decode_responses=True)

    if a.warmup:
        warm = artifacts.prepare(a.root, a.run_id + "w", a.warmup)
        run_load(factory, warm, a.in_stream, a.out_stream, 0, a.timeout)
    evs = artifacts.prepare(a.root, a.run_id, a.count)
    res = run_load(factory, evs, a.in_stream, a.out_stream, a.rate,
                   a.timeout)
    json.dump(res, sys.stdout, indent=1)
    print()
    return 0 if res["ok"] == res["sent"] else 1


if __name__ == "__main__":
    sys.exit(main())
