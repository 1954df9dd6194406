#!/usr/bin/python3
"""A strict fake of AWS CodeArtifact (PyPI), STS and the container
credentials endpoint, on 127.0.0.1, for the codeartifact publisher tests.

What it enforces (research/publishers.md §3, botocore's codeartifact and
sts models):

* every CodeArtifact API call carries a SigV4 signature for service
  "codeartifact" in the configured region, recomputed here with botocore's
  SigV4Auth (sigv4_vectors.verify_request) - a wrong key, secret, scope,
  session token or any signed byte is answered 403
  InvalidSignatureException / UnrecognizedClientException;
* GetAuthorizationToken: POST /v1/authorization-token, domain and
  domain-owner required and known, duration 0 or 900..43200;
* GetRepositoryEndpoint: GET /v1/repository/endpoint, format=pypi;
* ListPackageVersionAssets: POST /v1/package/version/assets;
* DeletePackageVersions: POST /v1/package/versions/delete and
  UpdatePackageVersionsStatus: POST /v1/package/versions/update_status,
  domain, repository, format (pypi), package in the query (the package
  normalized, as CodeArtifact names PyPI packages), a JSON body with
  "versions" (a non-empty list of strings; update_status also
  "targetStatus", one of the PackageVersionStatus values it accepts) and
  no member the model does not have; the answer's successfulVersions map a
  version to {revision, status}, failedVersions to {errorCode NOT_FOUND,
  errorMessage}; an unknown package is 404 ResourceNotFoundException;
* the repository endpoint takes the PyPI legacy upload as user "aws" with
  an issued token (Basic auth), checks :action, protocol_version, name,
  version, filetype, the file name against the name, and every digest
  sent against the bytes; a file name already stored is 409 Conflict
  (what CodeArtifact answers, even for identical bytes);
* STS AssumeRoleWithWebIdentity: POST / (form), unsigned, RoleArn and the
  web identity token must match; answers temporary credentials whose
  session token must then accompany every signed call;
* container credentials: GET /container-credentials with the configured
  Authorization token.

Tests import it and run `Fake(...)` in a thread; it also runs alone:
`fake_codeartifact.py PORT` (prints the settings it expects).
"""
import base64
import calendar
import email.parser
import email.policy
import hashlib
import http.server
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sigv4_vectors  # noqa: E402
import fake_verify_knobs as knobs  # noqa: E402

REGION = "us-east-1"
DOMAIN = "my-domain"
OWNER = "111122223333"
REPO = "my-repo"


def _norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


class State:
    def __init__(self, akid, secret, role_arn=None, web_token=None,
                 container_token=None):
        self.keys = {akid: (secret, None)}  # akid -> (secret, session tok)
        self.role_arn = role_arn
        self.web_token = web_token
        self.container_token = container_token
        self.tokens = {}          # issued authorization tokens -> expiry
        self.files = {}           # filename -> dict(name, version, bytes)
        self.log = []             # (method, path, outcome)
        self.fail = []            # [prefix, status, count]
        self.token_lifetime = None  # seconds; None: the asked duration
        self.lock = threading.RLock()
        self.port = None

    def issue_temp(self):
        akid = "ASIA" + secrets.token_hex(8).upper()
        secret = secrets.token_urlsafe(30)
        token = "FQoG" + secrets.token_urlsafe(60)
        self.keys[akid] = (secret, token)
        return akid, secret, token


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # set per server

    def log_message(self, *a):
        pass

    # -- plumbing --
    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, data=b"", ctype="application/json", reason=None,
              headers=()):
        if isinstance(data, (dict, list)):
            data = json.dumps(data).encode()
        elif isinstance(data, str):
            data = data.encode()
        self.send_response(status, reason)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _aws_error(self, status, typ, msg):
        self._send(status, {"message": msg},
                   headers=[("x-amzn-ErrorType", typ)])
        return None

    def _record(self, outcome):
        with self.state.lock:
            self.state.log.append((self.command, self.path, outcome))

    def _injected(self):
        with self.state.lock:
            for f in self.state.fail:
                if self.path.startswith(f[0]) and f[2] > 0:
                    f[2] -= 1
                    return f[1]
        return None

    def _verify(self, body):
        secrets_ = {k: v[0] for k, v in self.state.keys.items()}
        ok, why, akid = sigv4_vectors.verify_request(
            self.command, self.path, list(self.headers.items()), body,
            secrets_, "codeartifact", REGION)
        if ok:
            want_tok = self.state.keys[akid][1]
            got_tok = self.headers.get("X-Amz-Security-Token")
            if want_tok != got_tok:
                ok, why = False, "session token missing or wrong"
        if ok:
            amz = self.headers.get("X-Amz-Date", "")
            t = calendar.timegm(time.strptime(amz, "%Y%m%dT%H%M%SZ"))
            if abs(t - time.time()) > 900:
                ok, why = False, "RequestTimeTooSkewed"
        self._record("signature " + ("ok" if ok else "BAD: " + why))
        if not ok:
            typ = ("UnrecognizedClientException" if why == "unknown access key"
                   else "InvalidSignatureException")
            return self._aws_error(403, typ, "The request signature we "
                                   "calculated does not match (%s)" % why)
        return True

    def _query(self):
        q = urllib.parse.urlsplit(self.path).query
        return urllib.parse.parse_qs(q, keep_blank_values=True)

    def _need(self, q, *names):
        for n in names:
            if len(q.get(n, [])) != 1 or q[n][0] == "":
                return self._aws_error(400, "ValidationException",
                                       "missing or repeated %s" % n)
        return True

    def _domain_ok(self, q):
        # domain-owner is optional: the caller's account (ours) when absent
        owner = q.get("domain-owner", [OWNER])
        if q["domain"][0] != DOMAIN or owner != [OWNER]:
            return self._aws_error(404, "ResourceNotFoundException",
                                   "domain not found")
        return True

    # -- routes --
    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        st = self._injected()
        if st:
            self._record("injected %d" % st)
            return self._send(st, {"message": "injected"})
        if path == "/container-credentials":
            return self._container()
        body = self._body()
        if path == "/v1/repository/endpoint":
            if not self._verify(body):
                return
            q = self._query()
            if not self._need(q, "domain", "repository", "format") or \
                    not self._domain_ok(q):
                return
            if q["repository"][0] != REPO or q["format"][0] != "pypi":
                return self._aws_error(404, "ResourceNotFoundException",
                                       "repository not found")
            return self._send(200, {"repositoryEndpoint":
                                    "http://127.0.0.1:%d/pypi/%s/"
                                    % (self.state.port, REPO)})
        self._send(404, {"message": "no route"})

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        body = self._body()
        st = self._injected()
        if st:
            self._record("injected %d" % st)
            return self._send(st, {"message": "injected"})
        if path == "/":
            return self._sts(body)
        if path == "/v1/authorization-token":
            if not self._verify(body):
                return
            q = self._query()
            if not self._need(q, "domain") or not self._domain_ok(q):
                return
            dur = int((q.get("duration") or ["43200"])[0])
            if dur != 0 and not 900 <= dur <= 43200:
                return self._aws_error(400, "ValidationException",
                                       "duration out of range")
            tok = "eyJ2ZXIiOjF9." + secrets.token_urlsafe(40)
            exp = time.time() + (self.state.token_lifetime or dur or 3600)
            with self.state.lock:
                self.state.tokens[tok] = exp
            return self._send(200, {"authorizationToken": tok,
                                    "expiration": exp})
        if path == "/v1/package/version/assets":
            if not self._verify(body):
                return
            q = self._query()
            if not self._need(q, "domain", "repository", "format",
                              "package", "version") or \
                    not self._domain_ok(q):
                return
            # fake_verify_knobs: other bytes, late listing
            assets = [
                {"name": fn, "size": len(f["bytes"]),
                 "hashes": {"SHA-256": knobs.listed_sha256(fn, f["bytes"]),
                            "MD5": hashlib.md5(f["bytes"]).hexdigest()}}
                for fn, f in sorted(self.state.files.items())
                if _norm(f["name"]) == q["package"][0] and
                f["version"] == q["version"][0] and
                knobs.listed(f.get("stored_at"))]
            if not assets:
                return self._aws_error(404, "ResourceNotFoundException",
                                       "package version not found")
            return self._send(200, {"format": "pypi",
                                    "package": q["package"][0],
                                    "version": q["version"][0],
                                    "assets": assets})
        if path in ("/v1/package/versions/delete",
                    "/v1/package/versions/update_status"):
            return self._versions(path, body)
        if path == "/pypi/%s/" % REPO:
            return self._upload(body)
        self._send(404, {"message": "no route"})

    def _versions(self, path, body):
        """DeletePackageVersions / UpdatePackageVersionsStatus."""
        if not self._verify(body):
            return
        q = self._query()
        if not self._need(q, "domain", "repository", "format", "package") \
                or not self._domain_ok(q):
            return
        if q["format"][0] != "pypi" or q["repository"][0] != REPO:
            return self._aws_error(404, "ResourceNotFoundException",
                                   "repository not found")
        update = path.endswith("/update_status")
        allowed = {"versions", "expectedStatus"} | (
            {"versionRevisions", "targetStatus"} if update else set())
        try:
            req = json.loads(body or b"null")
        except ValueError:
            req = None
        if not isinstance(req, dict) or set(req) - allowed or \
                not isinstance(req.get("versions"), list) or \
                not req["versions"] or \
                not all(isinstance(v, str) for v in req["versions"]) or \
                (update and req.get("targetStatus") not in (
                    "Published", "Unlisted", "Archived")):
            return self._aws_error(400, "ValidationException",
                                   "bad request body")
        pkg = q["package"][0]
        with self.state.lock:
            known = [f for f in self.state.files.values()
                     if _norm(f["name"]) == pkg]
            if not known:
                return self._aws_error(404, "ResourceNotFoundException",
                                       "package %s not found" % pkg)
            ok, failed = {}, {}
            for v in req["versions"]:
                names = [fn for fn, f in self.state.files.items()
                         if _norm(f["name"]) == pkg and f["version"] == v]
                if not names:
                    failed[v] = {"errorCode": "NOT_FOUND",
                                 "errorMessage": "version %s not found" % v}
                    continue
                if update:
                    for fn in names:
                        self.state.files[fn]["status"] = req["targetStatus"]
                    ok[v] = {"revision": "r1", "status": req["targetStatus"]}
                else:
                    for fn in names:
                        del self.state.files[fn]
                    ok[v] = {"revision": "r1", "status": "Deleted"}
        self._record("versions %s" % ("updated" if update else "deleted"))
        return self._send(200, {"successfulVersions": ok,
                                "failedVersions": failed})

    def _sts(self, body):
        if self.headers.get("Authorization"):
            self._record("sts signed")
            return self._send(400, "<ErrorResponse><Error><Code>"
                              "InvalidParameterCombination</Code></Error>"
                              "</ErrorResponse>", "text/xml")
        form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
        one = {k: v[0] for k, v in form.items() if len(v) == 1}
        if one.get("Action") != "AssumeRoleWithWebIdentity" or \
                one.get("Version") != "2011-06-15" or \
                not one.get("RoleSessionName"):
            self._record("sts bad form")
            return self._send(400, "<ErrorResponse><Error><Code>"
                              "ValidationError</Code></Error></ErrorResponse>",
                              "text/xml")
        if one.get("RoleArn") != self.state.role_arn or \
                one.get("WebIdentityToken") != self.state.web_token:
            self._record("sts denied")
            return self._send(403, "<ErrorResponse><Error><Type>Sender</Type>"
                              "<Code>InvalidIdentityToken</Code><Message>"
                              "Couldn't retrieve verification key from your "
                              "identity provider</Message></Error>"
                              "</ErrorResponse>", "text/xml")
        with self.state.lock:
            akid, secret, token = self.state.issue_temp()
        self._record("sts issued")
        exp = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                            time.gmtime(time.time() + 3600))
        xml = ("<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts."
               "amazonaws.com/doc/2011-06-15/\"><AssumeRoleWithWebIdentity"
               "Result><Credentials><AccessKeyId>%s</AccessKeyId>"
               "<SecretAccessKey>%s</SecretAccessKey><SessionToken>%s"
               "</SessionToken><Expiration>%s</Expiration></Credentials>"
               "<SubjectFromWebIdentityToken>repo:o/r:ref:refs/tags/v1"
               "</SubjectFromWebIdentityToken></AssumeRoleWithWebIdentity"
               "Result></AssumeRoleWithWebIdentityResponse>"
               % (akid, secret, token, exp))
        return self._send(200, xml, "text/xml")

    def _container(self):
        self._body()
        if self.headers.get("Authorization") != self.state.container_token:
            self._record("container denied")
            return self._send(401, {"message": "bad token"})
        with self.state.lock:
            akid, secret, token = self.state.issue_temp()
        self._record("container issued")
        exp = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                            time.gmtime(time.time() + 3600))
        return self._send(200, {"AccessKeyId": akid,
                                "SecretAccessKey": secret, "Token": token,
                                "Expiration": exp})

    def _upload(self, body):
        auth = self.headers.get("Authorization", "")
        user = tok = None
        if auth.startswith("Basic "):
            try:
                user, _, tok = base64.b64decode(auth[6:]).decode() \
                    .partition(":")
            except Exception:
                pass
        if user != "aws" or tok not in self.state.tokens or \
                self.state.tokens[tok] < time.time():
            self._record("upload unauthorized")
            return self._send(401, "Unauthorized", "text/plain")
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            return self._send(400, "not a form", "text/plain")
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
        fields, content, filename = {}, None, None
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fn = part.get_param("filename", header="content-disposition")
            if fn is not None:
                content, filename = part.get_payload(decode=True), fn
            else:
                fields.setdefault(name, []).append(
                    part.get_payload(decode=True).decode())
        one = {k: v[0] for k, v in fields.items()}
        problems = []
        if one.get(":action") != "file_upload":
            problems.append(":action")
        if one.get("protocol_version", "1") != "1":
            problems.append("protocol_version")
        for k in ("name", "version", "filetype", "metadata_version"):
            if not one.get(k):
                problems.append("missing " + k)
        if content is None:
            problems.append("no file")
        if problems:
            self._record("upload bad: " + ", ".join(problems))
            return self._send(400, "Bad form: " + ", ".join(problems),
                              "text/plain")
        digests = {"sha256_digest": hashlib.sha256,
                   "md5_digest": hashlib.md5,
                   "blake2_256_digest":
                   lambda b: hashlib.blake2b(b, digest_size=32)}
        if not any(k in one for k in digests):
            return self._send(400, "no digest", "text/plain")
        for k, fn in digests.items():
            if k in one and fn(content).hexdigest() != one[k].lower():
                self._record("upload digest mismatch")
                return self._send(400, "digest mismatch", "text/plain")
        prefix = _norm(one["name"]).replace("-", "_")
        if not _norm(filename.split("-")[0]).replace("-", "_") == prefix:
            return self._send(400, "file name does not match the name",
                              "text/plain")
        with self.state.lock:
            if filename in self.state.files:
                self._record("upload conflict")
                return self._send(409, {"error": "Conflict", "message":
                                        "%s already exists" % filename})
            self.state.files[filename] = {"name": one["name"],
                                          "version": one["version"],
                                          "bytes": content,
                                          "stored_at": time.time()}
        self._record("upload stored")
        return self._send(200, "", "text/plain")


class Fake:
    """Run the fake in a thread on a free loopback port."""

    def __init__(self, akid, secret, **kw):
        self.state = State(akid, secret, **kw)
        handler = type("H", (Handler,), {"state": self.state})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      handler)
        self.state.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.state.port
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def stop(self):
        self.server.shutdown()


def make_wheel(directory, name, version, payload=b"print('hi')\n"):
    """A small valid wheel (METADATA, WHEEL, RECORD) as PEP 427 wants."""
    dist = re.sub(r"[-_.]+", "_", name).lower()
    fn = os.path.join(directory, "%s-%s-py3-none-any.whl" % (dist, version))
    info = "%s-%s.dist-info" % (dist, version)
    files = {
        "%s/__init__.py" % dist: payload,
        info + "/METADATA": ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
                             "Summary: test package\n" % (name, version))
        .encode(),
        info + "/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\n"
                         b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    with zipfile.ZipFile(fn, "w", zipfile.ZIP_DEFLATED) as z:
        for p, data in files.items():
            z.writestr(p, data)
            h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()) \
                .rstrip(b"=").decode()
            record.append("%s,sha256=%s,%d" % (p, h, len(data)))
        record.append(info + "/RECORD,,")
        z.writestr(info + "/RECORD", "\n".join(record) + "\n")
    return fn


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    fake = Fake("AKIDEXAMPLE", "fake-secret", role_arn=None)
    if port:
        fake.stop()
        handler = type("H", (Handler,), {"state": fake.state})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        fake.state.port = port
    print("AWS_ENDPOINT_URL_CODEARTIFACT=http://127.0.0.1:%d AWS_ACCESS_KEY_ID"
          "=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=fake-secret AWS_REGION=%s "
          "CODEARTIFACT_DOMAIN=%s CODEARTIFACT_ACCOUNT_ID=%s "
          "CODEARTIFACT_REPOSITORY=%s" % (fake.state.port, REGION, DOMAIN,
                                          OWNER, REPO))
    sys.stdout.flush()
    if port:
        server.serve_forever()
    else:
        threading.Event().wait()


if __name__ == "__main__":
    main()
