#!/usr/bin/python3
"""Reference SigV4 signatures from botocore (Debian's python3-botocore).

Two uses:

* `sigv4_vectors.py OUT.json` signs a fixed set of requests with botocore's
  own SigV4Auth / S3SigV4Auth (clock frozen) and writes, for each, the input
  and what botocore produced: URL, canonical request, string to sign and the
  headers it added. `test_sigv4 --vectors OUT.json` signs the same inputs
  with our C signer and compares. Nothing here is pasted from botocore: the
  expected values are computed by it at test time.
* `verify_request(...)` recomputes the signature of a request received by a
  test server (fake_codeartifact.py, the S3 signature check) with botocore,
  so those fakes reject a request whose signature is wrong.

Run with /usr/bin/python3 (the pyenv python3 on PATH has no botocore).
"""
import calendar
import datetime
import hashlib
import http.client
import http.server
import json
import re
import sys
import threading
from unittest import mock
from urllib.parse import urlsplit

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.utils import percent_encode

AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
NOW = datetime.datetime(2026, 11, 21, 6, 56, 4)

# The requests both signers sign. Paths are decoded, as the publisher
# holds them; params are (key, value) with value None for a bare key.
CASES = [
    dict(name="s3-put-signed-space-plus", method="PUT", s3=True,
         endpoint="http://127.0.0.1:9000",
         path="/wheels-bucket/wheels/my pkg+extra-1.0.0-py3-none-any.whl",
         headers=[("x-amz-meta-sha256", "ab" * 32),
                  ("Content-Type", "application/octet-stream")],
         body="wheel bytes\n"),
    dict(name="s3-put-unsigned-https-token", method="PUT", s3=True,
         unsigned=True, endpoint="https://bkt.s3.eu-west-1.amazonaws.com",
         region="eu-west-1", path="/a b/c+d.tar.gz",
         token="IQoJb3JpZ2luX2VjE//session+token==",
         headers=[("User-Agent", "artifactd/0.1.0"), ("Expect", "100-continue")],
         body="not hashed"),
    dict(name="s3-create-multipart-bare-key", method="POST", s3=True,
         endpoint="https://s3.us-east-1.amazonaws.com:443",
         path="/bkt/wheels/big.whl", params=[("uploads", None)]),
    dict(name="s3-upload-part", method="PUT", s3=True,
         endpoint="http://localhost:4568", path="/bkt/k",
         params=[("partNumber", "2"), ("uploadId", "a/b+c=d e")],
         body="part two"),
    dict(name="s3-repeated-and-empty-query-keys", method="GET", s3=True,
         endpoint="https://s3.amazonaws.com", path="/bkt/",
         params=[("b", "2"), ("a", "z"), ("a", ""), ("a", "1"),
                 ("list-type", None), ("", "empty-key"), ("c d", "e+f")]),
    dict(name="s3-head-utf8-key", method="HEAD", s3=True,
         endpoint="http://127.0.0.1:9000",
         path="/bkt/wheels/\u00fcn\u00efc\u00f8de~1.whl",
         headers=[("X-Amz-Meta-Note", "  spaced   out\tvalue ")]),
    dict(name="codeartifact-get-token-session", method="POST",
         service="codeartifact", endpoint="http://127.0.0.1:8123",
         path="/v1/authorization-token",
         params=[("domain", "my domain"), ("domain-owner", "111122223333"),
                 ("duration", "900")],
         token="FwoGZXIvYXdzEXAMPLE/token+="),
    dict(name="codeartifact-get-endpoint", method="GET",
         service="codeartifact",
         endpoint="https://codeartifact.us-west-2.amazonaws.com",
         region="us-west-2", path="/v1/repository/endpoint",
         params=[("domain", "d"), ("domain-owner", "111122223333"),
                 ("repository", "my-repo"), ("format", "pypi")]),
    dict(name="service-path-double-encoded", method="GET", service="service",
         endpoint="https://example.amazonaws.com",
         path="/a b/./c+d//e/../f%.txt", params=[("q", "a b")]),
    dict(name="service-post-json-body", method="POST", service="service",
         endpoint="https://example.amazonaws.com", path="/",
         headers=[("Content-Type", "application/json")],
         body='{"k": "v"}'),
]


def _url(case):
    """The URL as botocore's serializers write it: path segments encoded
    once with '/' and '~' kept, query pairs with percent_encode."""
    url = case["endpoint"].rstrip("/") + percent_encode(case["path"],
                                                        safe="/~")
    pairs = []
    for k, v in case.get("params", []):
        pairs.append(percent_encode(k) if v is None
                     else "%s=%s" % (percent_encode(k), percent_encode(v)))
    if pairs:
        url += "?" + "&".join(pairs)
    return url


def sign_with_botocore(case):
    creds = Credentials(AKID, SECRET, case.get("token"))
    service = "s3" if case.get("s3") else case.get("service", "service")
    region = case.get("region", "us-east-1")
    cls = S3SigV4Auth if case.get("s3") else SigV4Auth
    auth = cls(creds, service, region)
    body = case.get("body", "").encode()
    req = AWSRequest(method=case["method"], url=_url(case),
                     headers=dict(case.get("headers", [])), data=body)
    if case.get("unsigned"):
        req.context["client_config"] = Config(
            s3={"payload_signing_enabled": False})
    seen = {}
    orig_cr, orig_sts = auth.canonical_request, auth.string_to_sign

    def cr(r):
        seen["canonical_request"] = orig_cr(r)
        return seen["canonical_request"]

    def sts(r, c):
        seen["string_to_sign"] = orig_sts(r, c)
        return seen["string_to_sign"]

    auth.canonical_request, auth.string_to_sign = cr, sts
    with mock.patch("botocore.auth.datetime") as dt:
        dt.datetime.utcnow.return_value = NOW
        auth.add_auth(req)
    added = {k: v for k, v in req.headers.items()
             if k.lower() in ("authorization", "x-amz-date",
                              "x-amz-security-token",
                              "x-amz-content-sha256")}
    # botocore leaves Host to the HTTP client and signs it as derived from
    # the URL; our signer sends it explicitly.
    added["Host"] = re.search(r"host:(.*)", seen["canonical_request"]).group(1)
    norm = {"authorization": "Authorization", "x-amz-date": "X-Amz-Date",
            "x-amz-security-token": "X-Amz-Security-Token",
            "x-amz-content-sha256": "X-Amz-Content-SHA256", "host": "Host"}
    return {"url": req.url,
            "canonical_request": seen["canonical_request"],
            "string_to_sign": seen["string_to_sign"],
            "headers": {norm[k.lower()]: v for k, v in added.items()}}


def vectors():
    out = []
    for case in CASES:
        inp = {
            "method": case["method"], "endpoint": case["endpoint"],
            "path": case["path"],
            "params": [list(p) for p in case.get("params", [])],
            "headers": [list(h) for h in case.get("headers", [])],
            "body": case.get("body", ""),
            "unsigned": bool(case.get("unsigned")),
            "s3": bool(case.get("s3")),
            "service": "s3" if case.get("s3") else case.get("service",
                                                             "service"),
            "region": case.get("region", "us-east-1"),
            "access_key": AKID, "secret_key": SECRET,
            "token": case.get("token"),
            "now": calendar.timegm(NOW.timetuple()),
        }
        out.append({"name": case["name"], "input": inp,
                    "botocore": sign_with_botocore(case)})
    return {"botocore_version": __import__("botocore").__version__,
            "cases": out}


# ---- verification of requests received by test servers ----

AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/"
    r"aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")


def verify_request(method, raw_path, headers, body, secrets, service,
                   region, s3=False, scheme="http"):
    """Recompute the SigV4 signature of a received request with botocore.

    raw_path is the request target as received (encoded path and query),
    headers a list of (name, value), body the bytes received, secrets a
    dict access key id -> secret key. Returns (ok, reason, access_key).
    For S3 the X-Amz-Content-SHA256 header must also match the body unless
    it is UNSIGNED-PAYLOAD.
    """
    hmap = {}
    for k, v in headers:
        hmap.setdefault(k.lower(), []).append(v)
    auth = (hmap.get("authorization") or [""])[0]
    m = AUTH_RE.match(auth)
    if not m:
        return False, "malformed or missing Authorization", None
    akid, date, reg, svc, signed, sig = m.groups()
    if akid not in secrets:
        return False, "unknown access key", akid
    if reg != region or svc != service:
        return False, "wrong scope %s/%s" % (reg, svc), akid
    amzdate = (hmap.get("x-amz-date") or [""])[0]
    if not amzdate.startswith(date):
        return False, "x-amz-date does not match the scope date", akid
    names = signed.split(";")
    if "host" not in names or "x-amz-date" not in names:
        return False, "host and x-amz-date must be signed", akid
    if "x-amz-security-token" in hmap and "x-amz-security-token" not in names:
        return False, "the session token is not signed", akid
    if s3:
        declared = (hmap.get("x-amz-content-sha256") or [""])[0]
        if "x-amz-content-sha256" not in names:
            return False, "x-amz-content-sha256 is not signed", akid
        if declared != "UNSIGNED-PAYLOAD" and \
                declared != hashlib.sha256(body).hexdigest():
            return False, "XAmzContentSHA256Mismatch", akid
    sign_headers = [(k, v) for k, v in headers
                    if k.lower() in names and k.lower() != "host"]
    host = (hmap.get("host") or [""])[0]
    url = "%s://%s%s" % (scheme, host, raw_path)
    req = AWSRequest(method=method, url=url, data=body)
    for k, v in sign_headers:
        req.headers[k] = v  # an email.message: repeated names are kept
    token = (hmap.get("x-amz-security-token") or [None])[0]
    creds = Credentials(akid, secrets[akid], token)
    cls = S3SigV4Auth if s3 else SigV4Auth
    signer = cls(creds, service, region)
    when = datetime.datetime.strptime(amzdate, "%Y%m%dT%H%M%SZ")
    req.context["timestamp"] = amzdate
    # Sign a copy with botocore's own steps at the request's own time.
    if s3 and (hmap.get("x-amz-content-sha256") or [""])[0] == \
            "UNSIGNED-PAYLOAD":
        req.context["client_config"] = Config(
            s3={"payload_signing_enabled": False})
    with mock.patch("botocore.auth.datetime") as dt:
        dt.datetime.utcnow.return_value = when
        signer.add_auth(req)
    want = req.headers.get("Authorization", "")
    wm = AUTH_RE.match(want)
    if not wm:
        return False, "botocore produced no signature", akid
    if wm.group(5) != signed:
        return False, "signed header set differs: %s vs %s" % (
            signed, wm.group(5)), akid
    if wm.group(6) != sig:
        return False, "SignatureDoesNotMatch", akid
    return True, "ok", akid


class S3Front:
    """An S3 front on 127.0.0.1 that checks SigV4 with botocore, then
    forwards to an S3 server without signature checks (s3rver).

    Every request is re-signed by botocore from the bytes received
    (verify_request, S3 rules, body hash included); a mismatch is answered
    403 SignatureDoesNotMatch / XAmzContentSHA256Mismatch as S3 does.
    It also emulates S3's conditional writes (If-None-Match: * on PUT and
    CompleteMultipartUpload -> 412 when the key exists), which s3rver
    ignores. Attributes for tests: log [(method, path, ok, why)], fail
    {(method, path substring): status}, deny_head (HEAD -> 403, as for a
    role without s3:GetObject), conditional (writes that carried
    If-None-Match: *).
    """

    def __init__(self, upstream_port, secrets, region="us-east-1"):
        self.upstream_port = upstream_port
        self.secrets = secrets
        self.region = region
        self.log = []
        self.fail = {}
        self.deny_head = False
        self.conditional = 0
        self.lock = threading.Lock()
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _handle(self):
                front._handle(self)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def shutdown(self):
        self.server.shutdown()

    def _upstream(self, method, path, body=b"", headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.upstream_port,
                                       timeout=60)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r, data

    @staticmethod
    def _reply(h, status, data, headers=()):
        h.send_response(status)
        for k, v in headers:
            h.send_header(k, v)
        if not any(k.lower() == "content-type" for k, _ in headers):
            h.send_header("Content-Type", "application/xml")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    def _handle(self, h):
        n = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(n) if n else b""
        ok, why, _ = verify_request(h.command, h.path, list(h.headers.items()),
                                    body, self.secrets, "s3", self.region,
                                    s3=True)
        with self.lock:
            self.log.append((h.command, h.path, ok, why))
            status = None
            for (m, q), st in self.fail.items():
                if m == h.command and q in h.path:
                    status = st
        if not ok and why.startswith("wrong scope"):
            # What S3 answers when signed for another region than the
            # bucket's: the bucket's region in a header.
            return self._reply(h, 400, b"<Error><Code>AuthorizationHeader"
                               b"Malformed</Code></Error>",
                               [("x-amz-bucket-region", self.region)])
        if not ok:
            code = ("XAmzContentSHA256Mismatch" if "SHA256" in why
                    else "SignatureDoesNotMatch")
            return self._reply(h, 403, ("<Error><Code>%s</Code><Message>%s"
                                        "</Message></Error>" % (code, why))
                               .encode())
        if status is not None:
            return self._reply(h, status, b"<Error><Code>InternalError"
                               b"</Code></Error>")
        if self.deny_head and h.command == "HEAD":
            return self._reply(h, 403, b"")
        query = h.path.split("?", 1)[1] if "?" in h.path else ""
        writes = (h.command == "PUT" and "partNumber=" not in query) or \
            (h.command == "POST" and query.startswith("uploadId="))
        if writes and h.headers.get("If-None-Match") == "*":
            with self.lock:
                self.conditional += 1
            r, _ = self._upstream("HEAD", h.path.split("?")[0])
            if r.status == 200:
                return self._reply(h, 412, b"<Error><Code>PreconditionFailed"
                                   b"</Code></Error>")
        hdrs = {k: v for k, v in h.headers.items()
                if k.lower() != "connection"}
        r, data = self._upstream(h.command, h.path, body, hdrs)
        keep = [(k, v) for k, v in r.getheaders()
                if k.lower() not in ("connection", "transfer-encoding",
                                     "content-length", "date", "server")]
        h.send_response(r.status, r.reason)
        for k, v in keep:
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)


def main():
    data = vectors()
    text = json.dumps(data, indent=1)
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            f.write(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
