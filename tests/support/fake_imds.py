#!/usr/bin/python3
"""Strict local fakes for the AWS credential chain test
(tests/integration/test_aws_credential_chain), all on 127.0.0.1:

* ``Imds`` - the EC2 instance metadata service, IMDSv2 only:
  ``PUT /latest/api/token`` needs ``X-aws-ec2-metadata-token-ttl-seconds``
  (an integer 1..21600) and is the only PUT; every other method on it is
  405; a GET without a valid ``X-aws-ec2-metadata-token`` is 401; a PUT
  forwarded by a proxy (``X-Forwarded-For``) is 403, as AWS does.
  ``GET /latest/meta-data/iam/security-credentials/`` is the role name,
  ``.../<role>`` the JSON credentials (Code, AccessKeyId, SecretAccessKey,
  Token, Expiration one hour ahead).
* ``Sts`` - STS ``POST /``: ``AssumeRole`` must be a form POST signed with
  SigV4 by a known access key (the signature recomputed with botocore by
  sigv4_vectors.verify_request, service ``sts``, the session token signed
  when there is one), RoleArn known, RoleSessionName 2..64 characters;
  ``AssumeRoleWithWebIdentity`` is unsigned and needs the expected token.
  Each role always gets the same keys, so two clients compare.
* a container credentials endpoint on the ``Sts`` server
  (``GET /container``, ``Authorization`` checked when configured).

Every request is recorded (method, path, the access key that signed it)
for the test to inspect. Needs Debian's python3-botocore.
"""
import datetime
import http.server
import json
import threading
import urllib.parse

import sigv4_vectors

TOKEN_TTL_MAX = 21600


def _expiry():
    t = datetime.datetime.utcnow() + datetime.timedelta(hours=1)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Server:
    def __init__(self, handler_cls):
        self.lock = threading.Lock()
        self.log = []
        outer = self

        class H(handler_cls):
            fake = outer

            def log_message(self, *a):
                pass
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def record(self, **kw):
        with self.lock:
            self.log.append(kw)

    def records(self):
        with self.lock:
            return list(self.log)

    def clear(self):
        with self.lock:
            self.log.clear()


class _Base(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, body, ctype="text/plain"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""


class _ImdsHandler(_Base):
    def do_PUT(self):
        f = self.fake
        self.body()
        if self.path != "/latest/api/token":
            f.record(method="PUT", path=self.path, status=405)
            return self.answer(405, "only the token is PUT")
        if self.headers.get("X-Forwarded-For"):
            f.record(method="PUT", path=self.path, status=403)
            return self.answer(403, "forwarded")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= TOKEN_TTL_MAX:
            f.record(method="PUT", path=self.path, status=400)
            return self.answer(400, "missing or invalid TTL header")
        f.record(method="PUT", path=self.path, status=200, ttl=int(ttl))
        return self.answer(200, f.token)

    def do_GET(self):
        f = self.fake
        base = "/latest/meta-data/iam/security-credentials/"
        if self.path == "/latest/api/token":
            f.record(method="GET", path=self.path, status=405)
            return self.answer(405, "the token is PUT")
        if self.headers.get("X-aws-ec2-metadata-token") != f.token:
            f.record(method="GET", path=self.path, status=401)
            return self.answer(401, "IMDSv2 token required")
        if self.path == base:
            f.record(method="GET", path=self.path, status=200)
            if f.huge:  # an answer far over any client's ceiling
                return self.answer(200, f.role + "x" * (256 * 1024))
            return self.answer(200, f.role)
        if self.path == base + f.role:
            f.record(method="GET", path=self.path, status=200)
            return self.answer(200, json.dumps({
                "Code": "Success", "Type": "AWS-HMAC",
                "AccessKeyId": f.akid, "SecretAccessKey": f.secret,
                "Token": f.session_token, "Expiration": _expiry(),
                "LastUpdated": _expiry()}), "application/json")
        f.record(method="GET", path=self.path, status=404)
        return self.answer(404, "not found")

    def do_POST(self):
        self.body()
        self.fake.record(method="POST", path=self.path, status=405)
        self.answer(405, "no")

    do_DELETE = do_POST


class Imds(_Server):
    def __init__(self, role="instance-role", akid="ASIAIMDSEXAMPLE0001",
                 secret="imds/Secret+Key0123456789",
                 session_token="imds-session-token-0123456789"):
        self.role, self.akid, self.secret = role, akid, secret
        self.session_token = session_token
        self.token = "imds-v2-token-AQAEAFakeFakeFake=="
        self.huge = False
        _Server.__init__(self, _ImdsHandler)


def _keys_for(role):
    tag = "".join(c for c in role.upper() if c.isalnum())[-12:]
    return ("ASIA" + tag.rjust(16, "X"), "sts/secret/" + tag,
            "sts-session-" + tag)


class _StsHandler(_Base):
    def do_GET(self):
        f = self.fake
        if self.path != "/container":
            return self.answer(404, "no")
        if f.container_auth and \
                self.headers.get("Authorization") != f.container_auth:
            f.record(method="GET", path=self.path, status=401)
            return self.answer(401, "bad container token")
        f.record(method="GET", path=self.path, status=200)
        a, s, t = f.container_keys
        return self.answer(200, json.dumps({
            "AccessKeyId": a, "SecretAccessKey": s, "Token": t,
            "Expiration": _expiry()}), "application/json")

    def do_POST(self):
        f = self.fake
        raw = self.body()
        ctype = self.headers.get("Content-Type", "")
        if self.path != "/" or not ctype.startswith(
                "application/x-www-form-urlencoded"):
            f.record(method="POST", path=self.path, status=400)
            return self.answer(400, "<Error><Code>InvalidAction</Code>"
                               "</Error>", "text/xml")
        form = dict(urllib.parse.parse_qsl(raw.decode()))
        action = form.get("Action")
        if action == "AssumeRole":
            return self.assume_role(form, raw)
        if action == "AssumeRoleWithWebIdentity":
            return self.web_identity(form)
        f.record(method="POST", action=action, status=400)
        return self.answer(400, "<Error><Code>InvalidAction</Code></Error>",
                           "text/xml")

    def refuse(self, action, code, why, akid=None):
        self.fake.record(method="POST", action=action, status=403,
                         why=why, signed_by=akid)
        self.answer(403, "<ErrorResponse><Error><Code>%s</Code><Message>%s"
                    "</Message></Error></ErrorResponse>" % (code, why),
                    "text/xml")

    def assume_role(self, form, raw):
        f = self.fake
        ok, why, akid = sigv4_vectors.verify_request(
            "POST", self.path, list(self.headers.items()), raw, f.secrets,
            "sts", f.region)
        if not ok:
            return self.refuse("AssumeRole", "SignatureDoesNotMatch", why,
                               akid)
        if akid in f.session_tokens and \
                self.headers.get("X-Amz-Security-Token") != \
                f.session_tokens[akid]:
            return self.refuse("AssumeRole", "InvalidClientTokenId",
                               "session token missing or wrong", akid)
        role = form.get("RoleArn", "")
        name = form.get("RoleSessionName", "")
        if form.get("Version") != "2011-06-15" or role not in f.roles or \
                not 2 <= len(name) <= 64:
            return self.refuse("AssumeRole", "AccessDenied",
                               "unknown role or bad session name", akid)
        a, s, t = _keys_for(role)
        with f.lock:
            f.secrets[a] = s
            f.session_tokens[a] = t
        f.record(method="POST", action="AssumeRole", status=200,
                 signed_by=akid, role=role,
                 external_id=form.get("ExternalId"))
        return self.creds_xml("AssumeRole", a, s, t)

    def web_identity(self, form):
        f = self.fake
        if "Authorization" in self.headers:
            return self.refuse("AssumeRoleWithWebIdentity", "InvalidAction",
                               "must be unsigned")
        role = form.get("RoleArn", "")
        if form.get("WebIdentityToken") != f.web_token or \
                role not in f.roles:
            return self.refuse("AssumeRoleWithWebIdentity",
                               "InvalidIdentityToken", "bad token or role")
        a, s, t = _keys_for("wi-" + role)
        f.record(method="POST", action="AssumeRoleWithWebIdentity",
                 status=200, role=role)
        return self.creds_xml("AssumeRoleWithWebIdentity", a, s, t)

    def creds_xml(self, action, a, s, t):
        self.answer(200, (
            "<{0}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
            "<{0}Result><Credentials><AccessKeyId>{1}</AccessKeyId>"
            "<SecretAccessKey>{2}</SecretAccessKey><SessionToken>{3}"
            "</SessionToken><Expiration>{4}</Expiration></Credentials>"
            "<AssumedRoleUser><Arn>arn:aws:sts::111122223333:assumed-role/x"
            "</Arn><AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser>"
            "</{0}Result><ResponseMetadata><RequestId>1</RequestId>"
            "</ResponseMetadata></{0}Response>").format(
                action, a, s, t, _expiry()), "text/xml")


class Sts(_Server):
    """secrets: access key id -> secret key of the source keys it trusts;
    session_tokens: access key id -> the token it must come with."""

    def __init__(self, secrets, roles, region="us-east-1", web_token=None,
                 container_auth=None,
                 container_keys=("ASIACONTAINER000001", "ctr/secret",
                                 "ctr-session-token")):
        self.secrets = dict(secrets)
        self.session_tokens = {}
        self.roles = set(roles)
        self.region = region
        self.web_token = web_token
        self.container_auth = container_auth
        self.container_keys = container_keys
        _Server.__init__(self, _StsHandler)
