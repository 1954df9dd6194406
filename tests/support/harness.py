"""Shared helpers for the integration tests (run with Debian's /usr/bin/python3).

Everything a test starts listens on 127.0.0.1 on a free port, lives in a
temporary directory and is stopped at exit, also when the test fails.
A test that cannot find a server it needs exits 77 (ctest: skipped).
"""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SOURCE_DIR = os.environ.get("TEST_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(os.path.dirname(
                                os.path.abspath(__file__)))))
ARTIFACTD = os.environ.get("ARTIFACTD", os.path.join(SOURCE_DIR, "build",
                                                     "worker", "artifactd"))
SKIP = 77

_procs = []
_dirs = []


def _cleanup():
    for p in reversed(_procs):
        if p.poll() is None:
            try:
                p.kill()
            except OSError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    if os.environ.get("KEEP_TEST_DIRS") is None:
        for d in _dirs:
            shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))


def skip(why):
    print("SKIP:", why)
    sys.exit(SKIP)


def need(*programs):
    for prog in programs:
        if shutil.which(prog) is None and not os.path.exists(prog):
            skip("%s is not installed" % prog)


def tmpdir(prefix="artifactd-test-"):
    d = tempfile.mkdtemp(prefix=prefix)
    _dirs.append(d)
    return d


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on port %d" % port)


def spawn(args, log=None, env=None, **kw):
    """Start a process that is killed at exit; output goes to `log`."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env,
                         **kw)
    _procs.append(p)
    return p


class Redis:
    """A throwaway redis-server on a free loopback port."""

    def __init__(self, aof=False, port=None):
        need("redis-server")
        self.dir = tmpdir("redis-")
        self.port = port or free_port()
        self.aof = aof
        self.proc = None
        self.start()

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--bind",
                "127.0.0.1", "--dir", self.dir, "--save", "",
                "--appendonly", "yes" if self.aof else "no",
                "--appendfsync", "always"]
        self.proc = spawn(args, log=os.path.join(self.dir, "redis.log"))
        wait_port(self.port)

    def stop(self, kill=False):
        if self.proc and self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            self.proc.wait(timeout=10)

    def restart(self):
        self.stop()
        self.start()

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def client(self):
        import redis  # Debian's python3-redis
        return redis.Redis(host="127.0.0.1", port=self.port,
                           decode_responses=True)


def daemon_env(redis_url, repo, root, **extra):
    env = dict(os.environ)
    env.update({
        "ARTIFACTD_REDIS_URL": redis_url,
        "ARTIFACTD_REPO": repo,
        "ARTIFACTD_ARTIFACTS_ROOT": root,
        "ARTIFACTD_HTTP_ADDR": "127.0.0.1:%d" % free_port(),
        "ARTIFACTD_CONCURRENCY": "2",
        "ARTIFACTD_LOG_LEVEL": "debug",
    })
    for k, v in extra.items():
        env[k] = str(v)
    return env


def start_daemon(env, log, args=("run",)):
    return spawn([ARTIFACTD] + list(args), log=log, env=env)


def git(repo, *args, check=True):
    r = subprocess.run(["git", "--git-dir", repo] + list(args),
                       capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("git %s: %s" % (" ".join(args), r.stderr))
    return r.stdout


def xadd_event(r, stream, event):
    return r.xadd(stream, {"event": json.dumps(event)})


def wait_outputs(r, stream, pred, count=1, timeout=30.0):
    """Read the output stream until `count` events match pred(event)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = [json.loads(f["event"]) for _, f in r.xrange(stream)
                 if "event" in f]
        hits = [e for e in found if pred(e)]
        if len(hits) >= count:
            return hits
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %d matching events on %s"
                         % (count, stream))


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok -", what)
