#!/usr/bin/python3
"""Strict fakes of Trusted Publishing (issue 16), for the tests.

Run as a program, it is GitHub Actions' ID-token endpoint: GET
/token?api-version=2.0&audience=<aud> with "Authorization: bearer
<request token>" answers {"value": "<jwt>"} (401 for a wrong or missing
bearer, 400 without an audience), as actions/toolkit's OIDC client
expects. The JWT is HS256 over a key shared with fake_pypi.py
(--oidc-key): iss https://token.actions.githubusercontent.com, aud, a
fresh jti, iat/exp, a repository claim.

Imported by fake_pypi.py, it is Warehouse's side (warehouse/oidc/views.py):
GET /_/oidc/audience -> {"audience": "pypi"}; POST /_/oidc/mint-token
with exactly {"token": <jwt>} -> {"success": true, "token": "pypi-...",
"expires": now+ttl}, or 422 {"message": "Token request failed",
"errors": [{"code", "description"}]} for a malformed payload or JWT, a
bad signature, another audience, an expired or reused jti, or
--oidc-refuse (no publisher). A minted token is valid for --mint-ttl
seconds and --mint-uses uploads (0: unlimited); check_minted tells the
upload whether it is.

Run: /usr/bin/python3 fake_oidc.py --port-file F --key K --request-token T
"""
import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_common  # noqa: E402

ISSUER = "https://token.actions.githubusercontent.com"
AUDIENCE = "pypi"


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def make_jwt(key, audience, ttl=300):
    now = int(time.time())
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps({
        "iss": ISSUER, "aud": audience, "jti": secrets.token_hex(16),
        "iat": now, "nbf": now, "exp": now + ttl,
        "repository": "acme/powertrader", "ref": "refs/tags/v1.2.3",
        "workflow_ref": "acme/powertrader/.github/workflows/release.yml"
                        "@refs/tags/v1.2.3"}).encode())
    sig = hmac.new(key.encode(), ("%s.%s" % (head, body)).encode(),
                   hashlib.sha256).digest()
    return "%s.%s.%s" % (head, body, _b64(sig))


def verify_jwt(token, key):
    """Claims of a JWT this fake signed, or raise ValueError(code, why)."""
    try:
        head, body, sig = token.split(".")
        want = hmac.new(key.encode(), ("%s.%s" % (head, body)).encode(),
                        hashlib.sha256).digest()
        claims = json.loads(_unb64(body))
    except Exception:
        raise ValueError("invalid-payload", "malformed JWT")
    if not hmac.compare_digest(want, _unb64(sig)):
        raise ValueError("invalid-token", "malformed or invalid token")
    if claims.get("iss") != ISSUER:
        raise ValueError("invalid-payload",
                         "unknown trusted publishing issuer")
    if claims.get("aud") != AUDIENCE:
        raise ValueError("invalid-token", "malformed or invalid token")
    if claims.get("exp", 0) < time.time():
        raise ValueError("invalid-token", "malformed or invalid token")
    return claims


# --- Warehouse's side, used by fake_pypi.py -------------------------------
class PypiState:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.args = args
        self.minted = {}   # token -> {"t": time, "uses": n}
        self.jtis = set()
        self.jwts = []     # every JWT exchanged (for leak checks)
        self.mints = 0
        self.refused = 0


def pypi_args():
    return [(("--oidc-key",), {"default": None}),
            (("--oidc-refuse",), {"action": "store_true"}),
            (("--mint-ttl",), {"type": float, "default": 900.0}),
            (("--mint-uses",), {"type": int, "default": 0})]


def pypi_setup(srv, args):
    srv.oidc = PypiState(args)


def _refuse(h, code, why):
    with h.server.oidc.lock:
        h.server.oidc.refused += 1
    h.record(oidc_refused=code)
    return h.reply(422, {"message": "Token request failed",
                         "errors": [{"code": code, "description": why}]})


def pypi_handle(h, path, body):
    """Serve /_/oidc/*; returns False when path is not one of them."""
    st = h.server.oidc
    if not path.startswith("/_/oidc/"):
        return False
    if st.args.oidc_key is None:
        h.reply(403, {"message": "Trusted publishing functionality not "
                                 "enabled"})
        return True
    if path == "/_/oidc/audience" and h.command == "GET":
        h.record()
        h.reply(200, {"audience": AUDIENCE})
        return True
    if path != "/_/oidc/mint-token" or h.command != "POST":
        h.reply(404, {"message": "Not Found"})
        return True
    h.record(oidc="mint")
    if h.headers.get("Content-Type", "").split(";")[0] != \
            "application/json":
        return _refuse(h, "invalid-payload", "not JSON")
    try:
        payload = json.loads(body)
    except ValueError:
        return _refuse(h, "invalid-payload", "body is not JSON")
    if not isinstance(payload, dict) or set(payload) != {"token"} or \
            not isinstance(payload["token"], str):
        return _refuse(h, "invalid-payload",
                       "the body must be exactly {\"token\": <string>}")
    jwt = payload["token"]
    h.record(jwt=jwt)
    with st.lock:
        st.jwts.append(jwt)
    try:
        claims = verify_jwt(jwt, st.args.oidc_key)
    except ValueError as e:
        return _refuse(h, e.args[0], e.args[1])
    with st.lock:
        if claims["jti"] in st.jtis:
            reused = True
        else:
            reused = False
            st.jtis.add(claims["jti"])
    if reused:
        return _refuse(h, "invalid-reuse-token", "invalid token: already "
                                                 "used")
    if st.args.oidc_refuse:
        return _refuse(h, "invalid-publisher",
                       "valid token, but no corresponding publisher "
                       "(Publisher with matching claims was not found)")
    token = "pypi-" + _b64(secrets.token_bytes(48))
    now = time.time()
    with st.lock:
        st.minted[token] = {"t": now, "uses": 0}
        st.mints += 1
    h.record(minted=token)
    h.reply(200, {"success": True, "token": token,
                  "expires": int(now + st.args.mint_ttl)})
    return True


def check_attestations(values, via_oidc):
    """Warehouse's checks of the upload's `attestations` field
    (warehouse/attestations/services.py): Trusted Publishing only, one
    field, a non-empty JSON array of attestation objects (version 1,
    verification_material {certificate, transparency_entries}, envelope
    {statement, signature}). None when good, else the 400's message."""
    pre = "Invalid attestations supplied during upload: "
    if not via_oidc:
        return pre + ("Attestations are only supported when using Trusted "
                      "Publishing")
    if len(values) != 1:
        return pre + "Malformed attestations: one field expected"
    try:
        arr = json.loads(values[0])
    except ValueError:
        return pre + "Malformed attestations: not JSON"
    if not isinstance(arr, list) or not arr:
        return pre + ("Malformed attestations: an empty attestation set is "
                      "not permitted" if arr == [] else
                      "Malformed attestations: not a list")
    for a in arr:
        if not isinstance(a, dict) or a.get("version") != 1 or \
                not isinstance(a.get("verification_material"), dict) or \
                not isinstance(a.get("envelope"), dict) or \
                not {"certificate", "transparency_entries"} <= set(
                    a["verification_material"]) or \
                not {"statement", "signature"} <= set(a["envelope"]):
            return pre + "Malformed attestations: not an Attestation"
    return None


def check_minted(srv, password):
    """None: a valid minted token (one use counted); a message: a minted
    token that expired or is used up; False: not a minted token."""
    st = getattr(srv, "oidc", None)
    if st is None:
        return False
    with st.lock:
        m = st.minted.get(password)
        if m is None:
            return False
        if time.time() - m["t"] > st.args.mint_ttl:
            return ("Invalid API Token: token is expired. See "
                    "/help/#invalid-auth for more information.")
        if st.args.mint_uses and m["uses"] >= st.args.mint_uses:
            return ("Invalid API Token: token is used up. See "
                    "/help/#invalid-auth for more information.")
        m["uses"] += 1
    return None


# --- GitHub Actions' ID-token endpoint (this program) ---------------------
class Handler(fake_common.FakeHandler):

    def state(self):
        with self.server.tok_lock:
            return {"issued": list(self.server.issued)}

    def handle_GET(self, path):
        u = urllib.parse.urlsplit(path)
        q = urllib.parse.parse_qs(u.query)
        auth = self.headers.get("Authorization", "")
        self.record(audience=q.get("audience", [None])[0],
                    api_version=q.get("api-version", [None])[0])
        if u.path != "/token":
            return self.reply(404, {"message": "Not Found"})
        if not auth.lower().startswith("bearer ") or \
                auth[7:] != self.server.args.request_token:
            return self.reply(401, {"message": "Bad credentials"})
        if "audience" not in q or "api-version" not in q:
            return self.reply(400, {"message": "audience and api-version "
                                               "are required"})
        jwt = make_jwt(self.server.args.key, q["audience"][0])
        with self.server.tok_lock:
            self.server.issued.append(jwt)
        return self.reply(200, {"count": 1, "value": jwt})


def setup(srv, args):
    srv.tok_lock = threading.Lock()
    srv.issued = []


if __name__ == "__main__":
    fake_common.serve(Handler, setup, extra_args=[
        (("--key",), {"required": True}),
        (("--request-token",), {"required": True})])
