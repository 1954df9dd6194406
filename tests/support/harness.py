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
        # Each spawned process leads its own process group, so helpers it
        # started (`git daemon` runs git-daemon as a child) go too.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
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
    kw.setdefault("start_new_session", True)
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


# -- Readers of the deploy files (deploy/), for tests/integration/test_deploy_*.
# Each returns what a deploy file tells the daemon (environment, ports,
# health paths, signals, timeouts) so the tests can hold it against the
# real binary. YAML needs Debian's python3-yaml, imported on first use.

def _deploy_yaml():
    import yaml  # Debian's python3-yaml
    return yaml


def deploy_path(*parts):
    return os.path.join(SOURCE_DIR, *parts)


# -- Dockerfile ----------------------------------------------------------

def deploy_dockerfile_instructions(file=None):
    """[(stage index, INSTRUCTION, arguments)] with continuation lines
    joined and comments dropped."""
    file = file or os.path.join(SOURCE_DIR, "deploy", "Dockerfile")
    out, cur, stage = [], "", -1
    with open(file) as f:
        for line in f:
            s = line.rstrip("\n")
            if not cur and (s.strip().startswith("#") or not s.strip()):
                continue
            if cur and s.strip().startswith("#"):
                continue
            if s.endswith("\\"):
                cur += s[:-1] + " "
                continue
            cur += s
            word, _, rest = cur.strip().partition(" ")
            word = word.upper()
            if word == "FROM":
                stage += 1
            out.append((stage, word, rest.strip()))
            cur = ""
    return out


def deploy_dockerfile_stages(file=None):
    """{stage name: [("FROM", image), (INSTRUCTION, arguments), ...]}.
    The global ARGs before the first FROM belong to no stage (left out)."""
    stages, names = {}, []
    for stage, word, rest in deploy_dockerfile_instructions(file):
        if stage < 0:
            continue
        if word == "FROM":
            toks = rest.split()
            name = toks[2] if len(toks) >= 3 and toks[1].upper() == "AS" \
                else str(stage)
            names.append(name)
            stages[name] = [("FROM", toks[0])]
            continue
        stages[names[stage]].append((word, rest))
    return stages


def deploy_dockerfile_env(stage_items):
    import shlex
    env = {}
    for word, rest in stage_items:
        if word == "ENV":
            for tok in shlex.split(rest):
                k, _, v = tok.partition("=")
                env[k] = v
    return env


def deploy_apt_installs(run_args):
    """Package names of every `apt-get install` in a RUN line."""
    import shlex
    import re
    pkgs = []
    for part in re.split(r"&&|;", run_args):
        toks = shlex.split(part)
        if "apt-get" in toks and "install" in toks:
            after = toks[toks.index("install") + 1:]
            pkgs += [t for t in after if not t.startswith("-")]
    return pkgs


# -- compose -------------------------------------------------------------

def deploy_compose():
    with open(os.path.join(SOURCE_DIR, "deploy", "compose.yaml")) as f:
        return _deploy_yaml().safe_load(f)


def deploy_compose_env(service="worker"):
    env = deploy_compose()["services"][service].get("environment", {})
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    return {k: str(v) for k, v in env.items()}


# -- Kubernetes ----------------------------------------------------------

def deploy_k8s_docs():
    """Every document of every manifest, as (file name, document)."""
    docs = []
    for name in sorted(os.listdir(os.path.join(SOURCE_DIR, "deploy", "k8s"))):
        if name.endswith((".yaml", ".yml")):
            with open(os.path.join(SOURCE_DIR, "deploy", "k8s", name)) as f:
                docs += [(name, d) for d in _deploy_yaml().safe_load_all(f) if d]
    return docs


def deploy_k8s_kind(kind):
    return [d for _, d in deploy_k8s_docs() if d.get("kind") == kind]


# Values standing in for what Kubernetes fills from Secrets and the
# downward API when the tests run the daemon with a manifest's environment.
DEPLOY_K8S_STAND_INS = {
    "ARTIFACTD_REDIS_URL": "redis://:stand-in-password@redis:6379/0",
    "ARTIFACTD_CONSUMER": "artifactd-7d9f8-abcde",
}


def deploy_k8s_env():
    """The container environment of the Deployment: the ConfigMap it loads
    with envFrom, then its own env entries (secrets get stand-ins)."""
    cms = {d["metadata"]["name"]: d.get("data", {})
           for d in deploy_k8s_kind("ConfigMap")}
    dep = deploy_k8s_kind("Deployment")[0]
    c = dep["spec"]["template"]["spec"]["containers"][0]
    env = {}
    for src in c.get("envFrom", []):
        env.update({k: str(v) for k, v in
                    cms[src["configMapRef"]["name"]].items()})
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = str(e["value"])
        else:
            env[e["name"]] = DEPLOY_K8S_STAND_INS.get(e["name"], "stand-in-secret")
    return env


# -- systemd -------------------------------------------------------------

def deploy_systemd_unit():
    """{section: [(key, value)]} of deploy/systemd/artifactd.service."""
    out, sec = {}, None
    with open(os.path.join(SOURCE_DIR, "deploy", "systemd", "artifactd.service")) as f:
        for line in f:
            s = line.strip()
            if not s or s.startswith(("#", ";")):
                continue
            if s.startswith("["):
                sec = s.strip("[]")
                out.setdefault(sec, [])
                continue
            k, _, v = s.partition("=")
            out[sec].append((k.strip(), v.strip()))
    return out


def deploy_unit_get(unit, section, key):
    vals = [v for k, v in unit.get(section, []) if k == key]
    return vals[-1] if vals else None


def deploy_systemd_env(include_commented=False):
    """NAME=value lines of deploy/systemd/artifactd.env. With
    include_commented, also the names of commented-out examples
    ("#PYPI_API_TOKEN="), with an empty value."""
    import re
    env = {}
    with open(os.path.join(SOURCE_DIR, "deploy", "systemd", "artifactd.env")) as f:
        for line in f:
            s = line.strip()
            m = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", s)
            if m:
                env[m.group(1)] = m.group(2).strip('"')
                continue
            m = re.match(r"^#([A-Z][A-Z0-9_]*)=(.*)$", s)
            if m and include_commented:
                env.setdefault(m.group(1), "")
    return env


def deploy_timespan_s(v):
    """A systemd or compose time span ("60", "60s", "1min", "1m30s") in
    seconds."""
    import re
    units = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600,
             "ms": 0.001}
    total = 0.0
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", str(v)):
        total += float(num) * units[unit]
    return total


# --- release publishing (publish helper) ---------------------------------

def start_fake(script, *args, log=None):
    """Start tests/support/<script> (a protocol fake) on a free loopback
    port; returns (process, base URL)."""
    d = tmpdir("fake-")
    port_file = os.path.join(d, "port")
    path = os.path.join(SOURCE_DIR, "tests", "support", script)
    p = spawn(["/usr/bin/python3", path, "--port-file", port_file]
              + [str(a) for a in args],
              log=log or os.path.join(d, "fake.log"))
    deadline = time.time() + 15
    while not os.path.exists(port_file):
        if p.poll() is not None or time.time() > deadline:
            raise RuntimeError("%s did not start" % script)
        time.sleep(0.05)
    with open(port_file) as f:
        port = int(f.read())
    return p, "http://127.0.0.1:%d" % port


def fake_control(base, what, body=None):
    """GET (body None) or POST a fake's /_control/<what>; JSON result."""
    import urllib.request
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + "/_control/" + what, data=data,
                                 method="GET" if data is None else "POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def _metadata_text(name, version, extra_headers=(), description=None,
                   metadata_version="2.1"):
    lines = ["Metadata-Version: %s" % metadata_version, "Name: %s" % name,
             "Version: %s" % version]
    lines += ["%s: %s" % kv for kv in extra_headers]
    text = "\n".join(lines) + "\n"
    if description is not None:
        text += "\n" + description
    return text


def make_wheel(directory, name, version, extra_headers=(), description=None,
               file_name=None, file_version=None, meta_version=None,
               platform="any", python_tag="py3", payload=b"x = 1\n",
               metadata_version="2.1"):
    """Build a small but complete wheel (METADATA, WHEEL, RECORD) with
    zipfile; file name parts default to PEP 427 normalized ones. Returns
    the path."""
    import base64 as b64
    import hashlib
    import re as _re
    import zipfile
    fname = file_name or _re.sub(r"[-_.]+", "_", name).lower()
    fver = file_version or version
    di = "%s-%s.dist-info" % (fname, fver)
    path = os.path.join(directory, "%s-%s-%s-none-%s.whl" % (
        fname, fver, python_tag, platform))
    files = {
        "%s/__init__.py" % fname: payload,
        di + "/METADATA": _metadata_text(
            name, meta_version or version, extra_headers, description,
            metadata_version).encode(),
        di + "/WHEEL": ("Wheel-Version: 1.0\nGenerator: artifactd-tests\n"
                        "Root-Is-Purelib: true\nTag: %s-none-%s\n"
                        % (python_tag, platform)).encode(),
    }
    record = []
    for n, data in files.items():
        h = b64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(
            b"=").decode()
        record.append("%s,sha256=%s,%d" % (n, h, len(data)))
    record.append(di + "/RECORD,,")
    files[di + "/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in files.items():
            z.writestr(zipfile.ZipInfo(n, (2026, 1, 1, 0, 0, 0)), data)
    return path


def make_sdist(directory, name, version, extra_headers=(), description=None,
               file_name=None, file_version=None, meta_version=None,
               metadata_version="2.1"):
    """Build a PEP 625 sdist (<name>-<ver>/PKG-INFO, pyproject.toml) with
    tarfile. Returns the path."""
    import io
    import re as _re
    import tarfile
    fname = file_name or _re.sub(r"[-_.]+", "_", name).lower()
    fver = file_version or version
    top = "%s-%s" % (fname, fver)
    path = os.path.join(directory, top + ".tar.gz")
    members = {
        top + "/PKG-INFO": _metadata_text(
            name, meta_version or version, extra_headers, description,
            metadata_version).encode(),
        top + "/pyproject.toml": ("[project]\nname = \"%s\"\nversion = "
                                  "\"%s\"\n" % (name, version)).encode(),
    }
    with tarfile.open(path, "w:gz") as t:
        for n, data in members.items():
            ti = tarfile.TarInfo(n)
            ti.size = len(data)
            ti.mtime = 1767225600
            t.addfile(ti, io.BytesIO(data))
    return path


def run_publish(args, env, timeout=120):
    """Run `artifactd publish ARGS` with env; returns (rc, parsed JSON or
    None, stdout, stderr)."""
    r = subprocess.run([ARTIFACTD, "publish"] + list(args), env=env,
                       capture_output=True, text=True, timeout=timeout)
    out = None
    if "--json" in args and r.stdout.strip():
        try:
            out = json.loads(r.stdout.strip().splitlines()[-1])
        except ValueError:
            out = None
    return r.returncode, out, r.stdout, r.stderr


def publish_env(root, **extra):
    """A clean environment for `artifactd publish`: no publishing settings
    inherited from the caller, fast retries, the artifacts root set."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYPI_", "TWINE_", "ARTIFACTORY_", "AWS_",
                                "CODEARTIFACT_", "S3_", "GITHUB_",
                                "ARTIFACTD_"))}
    env.update({"ARTIFACTD_ARTIFACTS_ROOT": root,
                "ARTIFACTD_HTTP_BACKOFF_MS": "50",
                "ARTIFACTD_LOG_LEVEL": "debug",
                "HOME": root})
    for k, v in extra.items():
        env[k] = str(v)
    return env


def s3rver(bucket, workdir=None):
    """Start s3rver (tests/support/package.json) on a free loopback port
    with `bucket` created; installs the npm packages when missing.
    Returns (port, data_dir). Skips (77) when node/npm are missing."""
    support = os.path.join(SOURCE_DIR, "tests", "support")
    script = os.path.join(support, "node_modules", "s3rver", "bin",
                          "s3rver.js")
    need("node")
    if not os.path.exists(script):
        need("npm")
        subprocess.run(["npm", "install", "--no-audit", "--no-fund",
                        "--silent"], cwd=support, check=True)
    d = workdir or tmpdir("s3rver-")
    data = os.path.join(d, "s3rver-data")
    os.makedirs(data, exist_ok=True)
    port = free_port()
    spawn(["node", script, "-d", data, "-a", "127.0.0.1", "-p", str(port),
           "--configure-bucket", bucket, "--silent"],
          log=os.path.join(d, "s3rver.log"))
    wait_port(port, timeout=30)
    return port, data
