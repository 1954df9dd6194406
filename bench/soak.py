#!/usr/bin/python3
"""Soak of bench/run: many events through one worker, memory sampled.

The daemon runs as in the end-to-end scenario (one `artifactd run`,
ARTIFACTD_CONCURRENCY=1). Events are sent in batches of `step` (the seed's
artifact set, written just before its batch and removed after it, so the
artifact files on disk stay at one batch); after every batch the daemon's
VmRSS, VmHWM and RssAnon are read from /proc. The verdict compares the
first sample after the warm-up (a quarter of the events, at least 2,500)
with the largest sample of the last quarter:
a daemon whose memory levels off shows a small difference whatever the
number of events; one that keeps something per event grows with it.

Standalone (needs a redis-server on PATH, Debian's python3-redis):

    bench/soak.py --artifactd build-bench/worker/artifactd --events 20000

Prints one JSON object. bench/run imports it for its `soak` scenario.
"""
import argparse
import json
import os
import shutil
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.join(os.path.dirname(BENCH), "tests", "support"))
os.environ.setdefault("TEST_SOURCE_DIR", os.path.dirname(BENCH))
import artifacts  # noqa: E402
import harness  # noqa: E402
import producer  # noqa: E402

# Growth allowed between the first sample after the warm-up and the
# largest of the last quarter, in KiB. The daemon with its caches bounded
# moved by 4 KiB over the last 15,000 of 20,000 events (performance.md,
# "Memory"); 512 KiB leaves room for the allocator's noise and still
# catches 35 bytes kept per event over those 15,000, or 0.35 KiB per
# event over the 1,500 that --quick counts (the unbounded libgit2 cache
# kept 0.75 KiB).
SOAK_FLAT_KIB = 512


def status_kib(pid):
    """VmRSS, VmHWM, RssAnon, RssFile of a process, in KiB."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key = line.split(":", 1)[0]
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(line.split()[1])
    return out


# Events before the first sample the verdict counts from: a quarter of
# the run, and at least this many. libgit2's object cache fills its 64 KiB
# (store.c, STORE_GIT_CACHE_BYTES, ~1.4 MiB of heap) in about 1,900 events
# of the bench's shape; what comes before that is expected growth.
SOAK_WARMUP_EVENTS = 2500


def verdict(samples):
    """Flatness of the RSS series: the first sample after the warm-up
    (a quarter of the events, at least SOAK_WARMUP_EVENTS) against the
    largest sample of the last quarter. Returns a dict with both and the
    growth in KiB."""
    n = len(samples)
    total = samples[-1]["events"] if samples else 0
    warm = max(total // 4, SOAK_WARMUP_EVENTS)
    first = next((i for i, s in enumerate(samples) if s["events"] >= warm),
                 None)
    if n < 4 or first is None or first >= n - 1:
        return {"growth_kib": None, "flat": None}
    start = samples[first]["VmRSS"]
    last = max(s["VmRSS"] for s in samples
               if s["events"] >= total - total // 4)
    growth = last - start
    span = total - samples[first]["events"]
    return {"warmup_events": samples[first]["events"],
            "after_warmup_kib": start, "last_quarter_max_kib": last,
            "growth_kib": growth, "bound_kib": SOAK_FLAT_KIB,
            "flat": growth <= SOAK_FLAT_KIB,
            "per_1000_events_kib": growth / span * 1000}


def run_soak(factory, pid, root, total, step, tag, timeout=300.0,
             on_sample=None):
    """Send `total` events in batches of `step` to a running daemon
    (process `pid`, artifacts root `root`), sampling its memory after each
    batch. Returns {"samples": [...], "ok": n, "failed": n, ...}."""
    samples = [dict(status_kib(pid), events=0)]
    ok = failed = 0
    codes = {}
    t0 = time.monotonic()
    for b in range(0, total, step):
        n = min(step, total - b)
        run = "%s%05d" % (tag, b // step)
        evs = artifacts.prepare(root, run, n)
        res = producer.run_load(factory, evs, "test_results",
                                "workflow_events", 0, timeout)
        shutil.rmtree(os.path.join(root, run), ignore_errors=True)
        ok += res["ok"]
        failed += res["failed"] + res["missing"]
        for k, v in res["failure_codes"].items():
            codes[k] = codes.get(k, 0) + v
        s = dict(status_kib(pid), events=b + n,
                 seconds=round(time.monotonic() - t0, 1))
        samples.append(s)
        if on_sample:
            on_sample(s)
    out = {"events": total, "step": step, "ok": ok, "failed": failed,
           "failure_codes": codes, "samples": samples}
    out.update(verdict(samples))
    if ok != total:
        out["error"] = "%d of %d ok, failures %s" % (ok, total, codes)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--artifactd", required=True)
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--step", type=int, default=1000)
    ap.add_argument("--tmp", default="/dev/shm")
    ap.add_argument("--env", action="append", default=[],
                    help="NAME=VALUE for the daemon's environment")
    ap.add_argument("--wrap", default="",
                    help="run the daemon under this command (e.g. "
                    "'heaptrack -o /tmp/ht'); RSS is then the wrapper's "
                    "child's only if the wrapper execs it")
    a = ap.parse_args()
    import tempfile
    import redis
    tempfile.tempdir = a.tmp
    red = harness.Redis()
    r = red.client()
    r.xgroup_create("test_results", "artifactd", id="0", mkstream=True)
    d = harness.tmpdir("bench-soak-")
    root, repo = os.path.join(d, "root"), os.path.join(d, "artifacts.git")
    os.makedirs(root)
    extra = dict(kv.split("=", 1) for kv in a.env)
    env = harness.daemon_env(red.url, repo, root, ARTIFACTD_CONCURRENCY=1,
                             ARTIFACTD_LOG_LEVEL="info", **extra)
    proc = harness.spawn(a.wrap.split() + [a.artifactd, "run"],
                         log=os.path.join(d, "daemon.log"), env=env)
    deadline = time.time() + 20
    while not any(c.get("cmd") == "xreadgroup" for c in r.client_list()):
        if time.time() > deadline or proc.poll() is not None:
            sys.exit("daemon did not start: see %s/daemon.log" % d)
        time.sleep(0.1)

    def factory():
        return redis.Redis(host="127.0.0.1", port=red.port,
                           decode_responses=True)

    def show(s):
        print("events=%d rss=%d hwm=%d anon=%d KiB t=%.0fs"
              % (s["events"], s["VmRSS"], s["VmHWM"], s["RssAnon"],
                 s["seconds"]), file=sys.stderr, flush=True)

    res = run_soak(factory, proc.pid, root, a.events, a.step, "s",
                   on_sample=show)
    proc.terminate()
    proc.wait(timeout=30)
    json.dump(res, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
