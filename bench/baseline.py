#!/usr/bin/python3
"""The baseline of bench/run: TEST_PASSED handled the way the seed does it.

Seed 003's Artifact Store keeps a working tree and, per event, checks out
the task branch (created from main when new), copies the files into
Backtest/codes/<task_id>/, writes metadata.json, runs `git add`,
`git commit`, and `git tag` for corr_<id> and prompt_<hash>, after a regex
secret scan of the files. This consumer does exactly that through the git
CLI, reads the same stream with the same consumer group as artifactd
(Debian's redis-py), and answers with the same ARTIFACT_COMMITTED event
(causation_id = the input's event_id), so bench/producer.py measures both
the same way. It is written for the benchmark: no push, no retries.

Run with Debian's /usr/bin/python3 (python3-redis).
"""
import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import uuid

# The seed's scanned patterns (API keys, secret keys, passwords, tokens,
# Stripe keys, AWS credentials), as the seed describes them.
SECRET_PATTERNS = [re.compile(p, re.IGNORECASE) for p in (
    r"api[_-]?key\s*[=:]\s*['\"][^'\"]{8,}['\"]",
    r"secret[_-]?key\s*[=:]\s*['\"][^'\"]{8,}['\"]",
    r"(password|passwd|pwd)\s*[=:]\s*['\"][^'\"]{4,}['\"]",
    r"token\s*[=:]\s*['\"][^'\"]{8,}['\"]",
    r"sk_(test|live)_[0-9a-zA-Z]{16,}",
    r"aws_access_key_id\s*[=:]\s*['\"]?[A-Z0-9]{16,}",
    r"aws_secret_access_key\s*[=:]\s*['\"]?[A-Za-z0-9/+=]{30,}",
)]

stopping = False


def git(wt, *args):
    r = subprocess.run(["git", "-C", wt] + list(args), capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError("git %s: %s" % (args[0], r.stderr.strip()))
    return r.stdout.strip()


def init_repo(wt):
    if os.path.isdir(os.path.join(wt, ".git")):
        return
    os.makedirs(wt, exist_ok=True)
    git(wt, "init", "-q", "-b", "main")
    git(wt, "config", "user.name", "algo-agent-bot")
    git(wt, "config", "user.email", "algo-agent@example.com")
    with open(os.path.join(wt, "README.md"), "w") as f:
        f.write("artifacts\n")
    git(wt, "add", "README.md")
    git(wt, "commit", "-q", "-m", "init")


def scan(path):
    with open(path, errors="replace") as f:
        for n, line in enumerate(f, 1):
            for p in SECRET_PATTERNS:
                if p.search(line):
                    raise ValueError("secret in %s line %d" % (path, n))


def commit(wt, ev):
    wf, task = ev["workflow_id"], ev["task_id"]
    corr = ev.get("correlation_id")
    data = ev.get("data") or {}
    files = list((data.get("artifacts") or {}).values())
    for p in files:
        scan(p)
    branch = "ai/generated/%s/%s" % (wf, task)
    exists = subprocess.run(["git", "-C", wt, "rev-parse", "--verify", "-q",
                             "refs/heads/" + branch],
                            capture_output=True).returncode == 0
    if exists:
        git(wt, "checkout", "-q", branch)
    else:
        git(wt, "checkout", "-q", "-b", branch, "main")
    rel = os.path.join("Backtest", "codes", task)
    dest = os.path.join(wt, rel)
    os.makedirs(dest, exist_ok=True)
    names = []
    for p in files:
        shutil.copy(p, dest)
        names.append(os.path.join(rel, os.path.basename(p)))
    names.append(os.path.join(rel, "metadata.json"))
    meta = {
        "workflow_id": wf, "task_id": task, "correlation_id": corr,
        "prompt_hash": data.get("prompt_hash"),
        "commit_timestamp": datetime.datetime.now(
            datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "agent_version": data.get("agent_version"),
        "llm_version": data.get("llm_version"),
        "test_metrics": data.get("metrics"),
        "files": names,
    }
    with open(os.path.join(dest, "metadata.json"), "w") as f:
        json.dump(meta, f, indent=2)
    git(wt, "add", rel)
    git(wt, "commit", "-q", "-m",
        "Add artifacts for %s/%s\n\nCorrelation-Id: %s" % (wf, task, corr))
    sha = git(wt, "rev-parse", "HEAD")
    tags = []
    for t in ("corr_%s" % corr if corr else None,
              "prompt_%s" % data["prompt_hash"]
              if data.get("prompt_hash") else None):
        if t:
            git(wt, "tag", t)
            tags.append(t)
    return {"branch": branch, "commit_sha": sha, "tags": tags,
            "pushed": False, "files": names, "duplicate": False}


def reply(ev, etype, data):
    return {
        "event_id": str(uuid.uuid4()), "event_type": etype,
        "correlation_id": ev.get("correlation_id"),
        "workflow_id": ev.get("workflow_id"), "task_id": ev.get("task_id"),
        "source": "baseline",
        "timestamp": datetime.datetime.now(
            datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "causation_id": ev.get("event_id"), "data": data,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--worktree", required=True)
    ap.add_argument("--in-stream", default="test_results")
    ap.add_argument("--out-stream", default="workflow_events")
    ap.add_argument("--group", default="artifactd")
    a = ap.parse_args()

    import redis  # Debian's python3-redis

    def on_term(*_):
        global stopping
        stopping = True
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    init_repo(a.worktree)
    r = redis.Redis(host="127.0.0.1", port=a.port, decode_responses=True)
    try:
        r.xgroup_create(a.in_stream, a.group, id="0", mkstream=True)
    except redis.ResponseError:
        pass  # BUSYGROUP: it exists
    me = "baseline-%s-%d" % (socket.gethostname(), os.getpid())
    while not stopping:
        resp = r.xreadgroup(a.group, me, {a.in_stream: ">"}, count=10,
                            block=500)
        for _, entries in resp or []:
            for sid, fields in entries:
                ev = json.loads(fields["event"])
                try:
                    out = reply(ev, "ARTIFACT_COMMITTED",
                                commit(a.worktree, ev))
                except (RuntimeError, ValueError, OSError) as e:
                    out = reply(ev, "ARTIFACT_COMMIT_FAILED", {
                        "error": {"code": "GIT", "message": str(e)[:200],
                                  "retryable": False}})
                msg = json.dumps(out)
                r.xadd(a.out_stream, {"event": msg})
                r.publish(a.out_stream, msg)
                r.xack(a.in_stream, a.group, sid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
