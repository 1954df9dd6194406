#!/usr/bin/python3
"""orchestrator.py - a Python orchestrator talking to artifactd over Redis.

This is the seed's OrchestratorService (Artifact Store, "Orchestrator
Integration") written against artifactd instead of the in-process
ArtifactStore: the orchestrator no longer commits itself; it appends a
TEST_PASSED or RELEASE_TAGGED event to artifactd's input stream with XADD
and waits on the output stream for the answer that carries the same
correlation id (and, as causation_id, the id of the event it sent). The
streams keep the event while no worker runs, so nothing is lost between
the XADD and a worker picking it up.

It needs only redis-py (Debian: python3-redis). As a library:

    svc = OrchestratorService("redis://127.0.0.1:6379/0")
    result = svc.commit_artifacts("wf_rsi", "task_coder_001",
                                  artifacts={"test_report": "/srv/artifacts/r.json"},
                                  metrics={"sharpe": 1.4},
                                  correlation_id="abc123")
    if result["success"]:
        print(result["branch"], result["commit_sha"])

From the command line (exit 0: committed/published, 1: a failure event,
3: no answer in time):

    orchestrator.py --redis-url redis://127.0.0.1:6379/0 test-passed \\
        --workflow-id wf_rsi --task-id task_coder_001 \\
        --artifact test_report=/srv/artifacts/report.json --metric sharpe=1.4
    orchestrator.py release --tag v1.2.3 --file dist/pkg-1.2.3.tar.gz --dry-run
"""
import argparse
import base64
import datetime
import json
import os
import sys
import time
import uuid

import redis

# The answers artifactd gives, by the type of the event it was sent
# (DESIGN.md, "Output events"); the first one that names our event ends the
# wait. PACKAGE_PUBLISHED may precede RELEASE_PUBLISHED: it is collected.
ANSWERS = {
    "TEST_PASSED": ("ARTIFACT_COMMITTED", "ARTIFACT_COMMIT_FAILED"),
    "RELEASE_TAGGED": ("RELEASE_PUBLISHED", "PUBLISH_FAILED"),
}
SUCCESS = ("ARTIFACT_COMMITTED", "RELEASE_PUBLISHED")
PROGRESS = ("PACKAGE_PUBLISHED",)

# A read of the output stream blocks at most this long, so that the overall
# timeout is honoured without busy polling.
BLOCK_MS = 1000


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def make_event(event_type, data, correlation_id=None, workflow_id=None,
               task_id=None, source="orchestrator"):
    """An event envelope as artifactd reads it (DESIGN.md, "Envelope")."""
    ev = {
        "event_id": uuid.uuid4().hex,
        "event_type": event_type,
        "correlation_id": correlation_id or uuid.uuid4().hex[:16],
        "source": source,
        "timestamp": _now(),
        "data": data,
    }
    if workflow_id is not None:
        ev["workflow_id"] = workflow_id
    if task_id is not None:
        ev["task_id"] = task_id
    return ev


def inline_file(path, name=None):
    """A file carried inside the event, for a producer whose files the
    daemon cannot see (another container or host)."""
    with open(path, "rb") as f:
        content = f.read()
    return {"name": name or os.path.basename(path),
            "content": base64.b64encode(content).decode("ascii"),
            "encoding": "base64"}


class OrchestratorService:
    """Sends work to artifactd and waits for its answers."""

    def __init__(self, redis_url="redis://127.0.0.1:6379/0",
                 test_stream="test_results", release_stream="release_events",
                 output_stream="workflow_events"):
        self.r = redis.Redis.from_url(redis_url, decode_responses=True)
        self.test_stream = test_stream
        self.release_stream = release_stream
        self.output_stream = output_stream

    # -- the bus ---------------------------------------------------------

    def _last_output_id(self):
        """Where to start reading answers: the output stream's last entry
        before we send. Reading from there (not from "$" after the XADD)
        cannot miss an answer that arrives before the first read."""
        last = self.r.xrevrange(self.output_stream, count=1)
        return last[0][0] if last else "0-0"

    def send(self, stream, event):
        """XADD one event; the JSON goes in the field "event", the ids also
        as plain fields for tools that read them without parsing."""
        return self.r.xadd(stream, {
            "event": json.dumps(event),
            "event_id": event["event_id"],
            "event_type": event["event_type"],
            "correlation_id": event["correlation_id"],
        })

    def wait_answer(self, event, since, timeout=60.0):
        """Read the output stream from `since` until the answer to `event`
        arrives: an event of one of the answer types with the same
        correlation_id, whose causation_id (when present) is the event's
        id. Returns (answer, progress events) or (None, progress) on
        timeout."""
        want = ANSWERS[event["event_type"]]
        progress = []
        deadline = time.monotonic() + timeout
        last = since
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, progress
            block = max(1, min(BLOCK_MS, int(left * 1000)))
            reply = self.r.xread({self.output_stream: last}, block=block,
                                 count=100)
            for _stream, entries in reply or []:
                for entry_id, fields in entries:
                    last = entry_id
                    answer = self._parse(fields)
                    if answer is None or not self._answers(answer, event):
                        continue
                    if answer.get("event_type") in want:
                        return answer, progress
                    if answer.get("event_type") in PROGRESS:
                        progress.append(answer)

    @staticmethod
    def _parse(fields):
        try:
            return json.loads(fields.get("event", ""))
        except ValueError:
            return None

    @staticmethod
    def _answers(answer, event):
        if answer.get("correlation_id") != event["correlation_id"]:
            return False
        cause = answer.get("causation_id")
        return cause is None or cause == event["event_id"]

    # -- the seed's operations -------------------------------------------

    def handle_test_result(self, event):
        """The seed's handler, for an event the tester agent sent to the
        orchestrator: a TEST_PASSED is handed to artifactd, and its answer
        replaces the seed's in-process result dict. Other types are
        ignored (None)."""
        if event.get("event_type") != "TEST_PASSED":
            return None
        data = event.get("data") or {}
        known = ("artifacts", "files", "metrics")
        return self.commit_artifacts(
            event["workflow_id"], event["task_id"],
            artifacts=data.get("artifacts"), files=data.get("files"),
            metrics=data.get("metrics"),
            metadata={k: v for k, v in data.items() if k not in known},
            correlation_id=event.get("correlation_id"))

    def commit_artifacts(self, workflow_id, task_id, artifacts=None,
                         files=None, metrics=None, metadata=None,
                         correlation_id=None, timeout=60.0):
        """What the seed's handle_test_result did in-process: commit the
        tested artifacts. Returns the seed's result dict: success, branch,
        commit_sha, tags, pushed (and duplicate, error, event)."""
        data = {"artifacts": artifacts or {}}
        if files:
            data["files"] = files
        if metrics is not None:
            data["metrics"] = metrics
        data.update(metadata or {})
        event = make_event("TEST_PASSED", data, correlation_id,
                           workflow_id, task_id)
        return self._call(self.test_stream, event, timeout)

    def publish_release(self, tag, files, package=None, targets=None,
                        dry_run=False, correlation_id=None, timeout=300.0):
        """Publish the built distributions of a release tag. artifactd
        answers each file x target (PACKAGE_PUBLISHED, collected in
        "progress") and ends a fully published release with
        RELEASE_PUBLISHED; this returns at that, or at the first
        PUBLISH_FAILED (answers for the other files may still follow)."""
        data = {"tag": tag, "files": list(files), "dry_run": bool(dry_run)}
        if package:
            data["package"] = package
        if targets:
            data["targets"] = list(targets)
        event = make_event("RELEASE_TAGGED", data, correlation_id)
        return self._call(self.release_stream, event, timeout)

    def _call(self, stream, event, timeout):
        since = self._last_output_id()
        self.send(stream, event)
        answer, progress = self.wait_answer(event, since, timeout)
        if answer is None:
            return {"success": False, "event_id": event["event_id"],
                    "correlation_id": event["correlation_id"],
                    "error": {"code": "TIMEOUT", "retryable": True,
                              "message": "no answer within %gs" % timeout}}
        data = answer.get("data") or {}
        result = {"success": answer["event_type"] in SUCCESS,
                  "event_type": answer["event_type"],
                  "event_id": event["event_id"],
                  "correlation_id": event["correlation_id"],
                  "event": answer, "progress": progress}
        for key in ("branch", "commit_sha", "tags", "pushed", "duplicate",
                    "files", "error"):
            if key in data:
                result[key] = data[key]
        return result


def _pairs(items, what):
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SystemExit("%s must be NAME=VALUE: %s" % (what, item))
        k, v = item.split("=", 1)
        out[k] = v
    return out


def _metric(v):
    try:
        return json.loads(v)
    except ValueError:
        return v


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--redis-url", default=os.environ.get(
        "ARTIFACTD_REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--test-stream", default=os.environ.get(
        "ARTIFACTD_TEST_STREAM", "test_results"))
    p.add_argument("--release-stream", default=os.environ.get(
        "ARTIFACTD_RELEASE_STREAM", "release_events"))
    p.add_argument("--output-stream", default=os.environ.get(
        "ARTIFACTD_OUTPUT_STREAM", "workflow_events"))
    p.add_argument("--timeout", type=float, default=60.0)
    sub = p.add_subparsers(dest="cmd", required=True)

    t = sub.add_parser("test-passed", help="commit tested artifacts")
    t.add_argument("--workflow-id", required=True)
    t.add_argument("--task-id", required=True)
    t.add_argument("--correlation-id")
    t.add_argument("--artifact", action="append", metavar="NAME=PATH",
                   help="a file the daemon reads under its artifacts root")
    t.add_argument("--inline", action="append", metavar="PATH",
                   help="a file sent inside the event (base64)")
    t.add_argument("--metric", action="append", metavar="NAME=VALUE")
    t.add_argument("--prompt-hash")

    r = sub.add_parser("release", help="publish a release tag's files")
    r.add_argument("--tag", required=True)
    r.add_argument("--file", action="append", required=True)
    r.add_argument("--package")
    r.add_argument("--target", action="append")
    r.add_argument("--dry-run", action="store_true")
    r.add_argument("--correlation-id")

    a = p.parse_args(argv)
    svc = OrchestratorService(a.redis_url, a.test_stream, a.release_stream,
                              a.output_stream)
    if a.cmd == "test-passed":
        metrics = {k: _metric(v) for k, v in
                   _pairs(a.metric, "--metric").items()}
        extra = {"prompt_hash": a.prompt_hash} if a.prompt_hash else None
        files = [inline_file(f) for f in a.inline or []]
        result = svc.commit_artifacts(
            a.workflow_id, a.task_id, artifacts=_pairs(a.artifact,
                                                       "--artifact"),
            files=files, metrics=metrics, metadata=extra,
            correlation_id=a.correlation_id, timeout=a.timeout)
    else:
        result = svc.publish_release(a.tag, a.file, package=a.package,
                                     targets=a.target, dry_run=a.dry_run,
                                     correlation_id=a.correlation_id,
                                     timeout=a.timeout)
    result.pop("event", None)
    print(json.dumps(result, indent=2, sort_keys=True))
    if result["success"]:
        return 0
    return 3 if result.get("error", {}).get("code") == "TIMEOUT" else 1


if __name__ == "__main__":
    sys.exit(main())
