"""Shared pieces of the protocol fakes (fake_pypi.py, fake_artifactory.py,
fake_github.py): a threaded HTTP/1.1 server on 127.0.0.1, a control API for
fault injection and request inspection, and a multipart parser.

Control API (every fake):
  POST /_control/fail   {"status": 503, "count": 2, "retry_after": 1,
                         "match": "/legacy/"}   next `count` matching requests
                                                get `status` (no side effect)
  GET  /_control/requests                       every request seen: method,
                                                path, headers (Authorization
                                                masked), fields (fakes add)
  POST /_control/reset                          forget requests and faults
  POST /_control/fail   {"delay": 3, "count": 1, "match": "/x"}
                                                a rule without "status":
                                                sleep `delay` seconds, then
                                                answer normally (a slow
                                                server)
Each recorded request carries "t0" and "t1" (time.time() when it arrived
and when its answer was written), so a test can see that requests of
different fakes overlapped in time without asserting a duration.

The fakes write their port to --port-file once listening, so a test can
start them on port 0 and never race for a port.
"""
import argparse
import http.server
import json
import re
import threading
import time


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []

    def add(self, rule):
        with self.lock:
            self.rules.append(dict(rule))

    def take(self, method, path):
        with self.lock:
            for r in self.rules:
                if r.get("count", 1) <= 0:
                    continue
                if r.get("match") and r["match"] not in path:
                    continue
                if r.get("method") and r["method"] != method:
                    continue
                r["count"] = r.get("count", 1) - 1
                return r
        return None

    def reset(self):
        with self.lock:
            self.rules = []


class FakeHandler(http.server.BaseHTTPRequestHandler):
    """Base handler: subclasses implement handle_<METHOD>(path, body)."""
    protocol_version = "HTTP/1.1"
    server_version = "fake"
    sys_version = ""

    def log_message(self, fmt, *args):  # keep test output readable
        pass

    # -- helpers -------------------------------------------------------
    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.reply(411, {"message": "Length Required"})
            return None
        n = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(n) if n else b""

    def reply(self, status, body=None, reason=None, headers=None,
              ctype="application/json"):
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode()
            ctype = "text/plain; charset=utf-8" if ctype == \
                "application/json" else ctype
        elif body is None:
            data = b""
        else:
            data = body
        self.send_response(status, reason)
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        if data or status not in (204, 304):
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def record(self, **extra):
        """Record this request once; later calls add to the entry."""
        if getattr(self, "_entry", None) is not None:
            with self.server.lock:
                self._entry.update(extra)
            return self._entry
        hdrs = {}
        for k, v in self.headers.items():
            hdrs[k] = "***" if k.lower() == "authorization" else v
        entry = {"method": self.command, "path": self.path,
                 "headers": hdrs, "t0": getattr(self, "_t0", time.time())}
        entry.update(extra)
        with self.server.lock:
            self.server.requests.append(entry)
        self._entry = entry
        return entry

    # -- dispatch ------------------------------------------------------
    def dispatch(self):
        self._entry = None
        self._t0 = time.time()
        try:
            self.dispatch_one()
        finally:
            if self._entry is not None:
                with self.server.lock:
                    self._entry["t1"] = time.time()

    def dispatch_one(self):
        path = self.path
        if path.startswith("/_control/"):
            body = self.read_body()
            if body is None:
                return
            if path == "/_control/fail" and self.command == "POST":
                self.server.faults.add(json.loads(body or b"{}"))
                return self.reply(200, {"ok": True})
            if path == "/_control/requests":
                with self.server.lock:
                    return self.reply(200, list(self.server.requests))
            if path == "/_control/reset" and self.command == "POST":
                self.server.faults.reset()
                with self.server.lock:
                    self.server.requests.clear()
                return self.reply(200, {"ok": True})
            if path == "/_control/state":
                return self.reply(200, self.state())
            return self.reply(404, {"message": "unknown control"})
        fault = self.server.faults.take(self.command, path)
        if fault is not None and fault.get("status") is None:
            time.sleep(float(fault.get("delay", 0)))
            fault = None
        if fault is not None:
            body = self.read_body()  # drain the upload
            self.record(fault=fault["status"], size=len(body or b""))
            hdrs = {}
            if fault.get("retry_after") is not None:
                hdrs["Retry-After"] = fault["retry_after"]
            if fault.get("then"):
                # a side effect before failing (e.g. GitHub's starter
                # asset left by a 502)
                self.fault_side_effect(fault["then"], path, body)
            return self.reply(fault["status"], {"message": "injected"},
                              reason=fault.get("reason"), headers=hdrs)
        fn = getattr(self, "handle_" + self.command, None)
        if fn is None:
            return self.reply(405, {"message": "Method Not Allowed"})
        try:
            fn(path)
        except BrokenPipeError:
            pass

    def fault_side_effect(self, what, path, body):
        pass

    def state(self):
        return {}

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = dispatch


def serve(handler_cls, setup=None, argv=None, extra_args=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    for a in extra_args or []:
        ap.add_argument(*a[0], **a[1])
    args = ap.parse_args(argv)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port),
                                          handler_cls)
    srv.daemon_threads = True
    srv.lock = threading.Lock()
    srv.requests = []
    srv.faults = Faults()
    srv.args = args
    if setup:
        setup(srv, args)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(srv.server_address[1]))
        import os
        os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


def parse_multipart(body, content_type):
    """Return a list of (name, filename or None, part content type, bytes).

    Strict like Warehouse's form parser: a missing boundary or malformed
    part is an error (ValueError)."""
    m = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not content_type or not content_type.startswith(
            "multipart/form-data") or not m:
        raise ValueError("not multipart/form-data")
    delim = b"--" + m.group(1).encode()
    if not body.startswith(delim):
        raise ValueError("body does not start with the boundary")
    end = body.rfind(b"\r\n" + delim + b"--")
    if end < 0:
        raise ValueError("no closing boundary")
    parts = []
    for chunk in body[len(delim):end].split(b"\r\n" + delim):
        if not chunk.startswith(b"\r\n"):
            raise ValueError("malformed part")
        head, sep, data = chunk[2:].partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("part without header end")
        name = filename = ctype = None
        for line in head.split(b"\r\n"):
            k, _, v = line.decode("utf-8").partition(":")
            if k.lower() == "content-disposition":
                nm = re.search(r'\bname="([^"]*)"', v)
                fn = re.search(r'\bfilename="([^"]*)"', v)
                name = nm.group(1) if nm else None
                filename = fn.group(1) if fn else None
            elif k.lower() == "content-type":
                ctype = v.strip()
        if name is None:
            raise ValueError("part without a name")
        parts.append((name, filename, ctype, data))
    return parts
