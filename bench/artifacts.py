"""The seed's artifact set and TEST_PASSED events, for bench/ only.

Every benchmark commits the same kind of payload: the five files the seed's
tester writes (strategy.py, test_report.json, trades.csv, equity_curve.csv,
events.log; about 180 KiB of text, unique per event so that git never
shares a blob between two commits) plus the metadata.json the store adds.
store_bench.c generates the same shapes in C. The text holds numbers and
plain words only, so a secret scanner reads every byte and reports nothing.
"""
import hashlib
import json
import os

# 40+40+40+30+30 KiB = 180 KiB, as in research/store.md 5.1.
FILES = [
    ("strategy", "strategy.py", 40 * 1024),
    ("test_report", "test_report.json", 40 * 1024),
    ("trades", "trades.csv", 40 * 1024),
    ("equity_curve", "equity_curve.csv", 30 * 1024),
    ("events_log", "events.log", 30 * 1024),
]


def _line(kind, c, n):
    px = 100.0 + ((c * 7919 + n * 104729) % 10000) / 100.0
    if kind == 0:
        return ("def signal_%d_%d(prices, window=%d):\n"
                "    return sum(prices[-window:]) / window  # %.2f\n"
                % (c, n, 5 + n % 50, px))
    if kind == 1:
        return ('{"case": "test_%d_%d", "passed": true, "duration": %.3f},\n'
                % (c, n, px / 1000.0))
    if kind == 2:
        return ("%d,2025-11-07T14:%02d:%02dZ,%s,%.2f,%d\n"
                % (n, (n // 60) % 60, n % 60, "BUY" if n % 2 else "SELL",
                   px, c % 1000))
    if kind == 3:
        return ("2025-11-07T14:%02d:%02dZ,%.4f,%d\n"
                % ((n // 60) % 60, n % 60, px * 100.0, c))
    return ("2025-11-07T14:30:00Z INFO run=%d step=%d equity=%.2f\n"
            % (c, n, px * 10.0))


def write_set(directory, c):
    """Write artifact set number c into directory; return name -> path."""
    os.makedirs(directory, exist_ok=True)
    out = {}
    for kind, (key, name, size) in enumerate(FILES):
        parts, total, n = [], 0, 0
        while total < size:
            s = _line(kind, c, n)
            parts.append(s)
            total += len(s)
            n += 1
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write("".join(parts))
        out[key] = path
    return out


def event(run_id, i, artifacts, workflow="wf_bench"):
    """A TEST_PASSED event as the seed's tester sends it (DESIGN.md)."""
    return {
        "event_id": "bench-%s-%06d" % (run_id, i),
        "event_type": "TEST_PASSED",
        "correlation_id": "c%s_%d" % (run_id, i),
        "workflow_id": workflow,
        "task_id": "task_%s_%06d" % (run_id, i),
        "source": "tester",
        "timestamp": "2025-11-07T14:30:00Z",
        "data": {
            "artifacts": artifacts,
            "metrics": {"total_trades": 12, "net_pnl": 120.5,
                        "win_rate": 0.58, "max_drawdown": 45.2},
            "prompt_hash": hashlib.sha256(
                ("%s/%d" % (run_id, i)).encode()).hexdigest()[:16],
            "agent_version": "tester-v1.0",
            "llm_version": "gpt-4",
        },
    }


def prepare(root, run_id, count):
    """Write `count` artifact sets under root/run_id and return the events
    (as JSON strings), so that producing them costs only the XADD."""
    events = []
    for i in range(count):
        arts = write_set(os.path.join(root, run_id, "%06d" % i), i)
        events.append(json.dumps(event(run_id, i, arts)))
    return events
