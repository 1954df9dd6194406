#!/usr/bin/python3
"""A strict fake of the GitHub Releases REST API, for the tests.

Rules from publishers.md section 5:
  - every call needs a User-Agent (else 403 "Request forbidden by
    administrative rules...") and Authorization: Bearer|token <token>
    (else 401 {"message": "Bad credentials"}); unknown repo -> 404.
  - GET  /repos/{o}/{r}/releases            all releases incl. drafts
  - GET  /repos/{o}/{r}/releases/tags/{t}   published releases only
  - POST /repos/{o}/{r}/releases            201; tag_name required; a second
        release for a tag -> 422 already_exists (tag_name)
  - PATCH /repos/{o}/{r}/releases/{id}      {"draft": false} publishes
  - GET  /repos/{o}/{r}/releases/{id}/assets
  - POST /uploads/repos/{o}/{r}/releases/{id}/assets?name=N[&label=L]
        raw body, Content-Type and Content-Length required; same name ->
        422 already_exists; with --immutable, a published release refuses
        uploads (422 "Cannot upload assets to an immutable release")
  - DELETE /repos/{o}/{r}/releases/assets/{id} -> 204
  - DELETE /repos/{o}/{r}/releases/{id} -> 204, the release and its
        assets gone (an immutable release may be deleted; its assets
        cannot be deleted one by one)
Assets carry "digest": "sha256:<hex>", "state", "size",
"browser_download_url"; GET /repos/{o}/{r}/releases/assets/{id} with
Accept: application/octet-stream redirects to /storage/{id}, the bytes
(the knobs of fake_verify_knobs.py apply to both). Fault rule {"then": "starter"} on an upload leaves
an empty asset in state "starter" before failing, as a 502 does on GitHub.
"""
import hashlib
import json
import os
import re
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_common  # noqa: E402
import fake_verify_knobs as knobs  # noqa: E402

NOT_FOUND = {"message": "Not Found",
             "documentation_url": "https://docs.github.com/rest"}


class Handler(fake_common.FakeHandler):

    def state(self):
        with self.server.lock2:
            return {"releases": [
                dict({k: v for k, v in r.items() if k != "assets"},
                     assets=[{k: v for k, v in a.items() if k != "data"}
                             for a in r["assets"]])
                for r in self.server.releases]}

    def gate(self):
        if not self.headers.get("User-Agent"):
            self.reply(403, "Request forbidden by administrative rules. "
                            "Please make sure your request has a User-Agent "
                            "header (https://docs.github.com/en/rest/"
                            "overview/resources-in-the-rest-api#user-agent-"
                            "required). Check https://developer.github.com "
                            "for other possible causes.\n")
            return False
        a = self.headers.get("Authorization", "")
        tok = self.server.args.token
        if a not in ("Bearer " + tok, "token " + tok):
            self.reply(401, {"message": "Bad credentials"})
            return False
        return True

    def base(self):
        return "http://%s:%d" % self.server.server_address

    def release_json(self, r):
        b = self.base()
        repo = self.server.args.repo
        out = {k: v for k, v in r.items() if k != "assets"}
        out.update({
            "url": "%s/repos/%s/releases/%d" % (b, repo, r["id"]),
            "html_url": "https://github.com/%s/releases/tag/%s" % (
                repo, r["tag_name"]),
            "upload_url": "%s/uploads/repos/%s/releases/%d/assets{?name,"
                          "label}" % (b, repo, r["id"]),
            "assets": [self.asset_json(a) for a in r["assets"]]})
        return out

    def asset_json(self, a):
        out = {k: v for k, v in a.items() if k not in ("data", "stored_at")}
        if a["state"] == "uploaded":
            # fake_verify_knobs: the digest of what is served, none while
            # not listed yet (or at all with FAKE_NO_DIGEST=1, as for
            # assets from before GitHub gave digests)
            out["digest"] = None
            if knobs.listed(a.get("stored_at")) and not knobs.NO_DIGEST:
                out["digest"] = "sha256:" + knobs.listed_sha256(
                    a["name"], a["data"])
        return out

    def download(self, p):
        """GET /storage/<id>: the asset's bytes, where GET
        /repos/{o}/{r}/releases/assets/{id} with Accept:
        application/octet-stream redirects (302), as GitHub does."""
        self.record()
        with self.server.lock2:
            for r in self.server.releases:
                for a in r["assets"]:
                    if "/storage/%d" % a["id"] == p and \
                            a["state"] == "uploaded" and \
                            knobs.listed(a.get("stored_at")):
                        return self.reply(
                            200, knobs.served_bytes(a["name"], a["data"]),
                            ctype="application/octet-stream")
        return self.reply(404, NOT_FOUND)

    def find(self, rid):
        for r in self.server.releases:
            if r["id"] == rid:
                return r
        return None

    def route(self, path):
        u = urllib.parse.urlsplit(path)
        return u.path, urllib.parse.parse_qs(u.query)

    def fault_side_effect(self, what, path, body):
        if what != "starter":
            return
        p, q = self.route(path)
        m = re.match(r"^/uploads/repos/[^/]+/[^/]+/releases/(\d+)/assets$", p)
        if m and q.get("name"):
            with self.server.lock2:
                r = self.find(int(m.group(1)))
                if r is not None:
                    r["assets"].append(self.new_asset(q["name"][0], b"",
                                                      "starter"))

    def new_asset(self, name, data, state="uploaded"):
        self.server.next_id += 1
        return {"id": self.server.next_id, "name": name, "label": "",
                "state": state, "size": len(data),
                "content_type": self.headers.get("Content-Type", ""),
                "digest": ("sha256:" + hashlib.sha256(data).hexdigest())
                if state == "uploaded" else None,
                "browser_download_url": "https://github.com/%s/releases/"
                                        "download/TAG/%s" % (
                                            self.server.args.repo, name),
                "data": data, "stored_at": time.time()}

    def handle_GET(self, path):
        p, q = self.route(path)
        if p.startswith("/storage/"):
            return self.download(p)
        self.record()
        if not self.gate():
            return
        repo = self.server.args.repo
        pre = "/repos/%s" % repo
        if not p.startswith(pre + "/"):
            return self.reply(404, NOT_FOUND)
        rest = p[len(pre):]
        with self.server.lock2:
            if rest == "/releases":
                per = int(q.get("per_page", ["30"])[0])
                page = int(q.get("page", ["1"])[0])
                rels = sorted(self.server.releases, key=lambda r: -r["id"])
                chunk = rels[(page - 1) * per: page * per]
                return self.reply(200, [self.release_json(r) for r in chunk])
            m = re.match(r"^/releases/tags/(.+)$", rest)
            if m:
                for r in self.server.releases:
                    if r["tag_name"] == m.group(1) and not r["draft"]:
                        return self.reply(200, self.release_json(r))
                return self.reply(404, NOT_FOUND)
            m = re.match(r"^/releases/assets/(\d+)$", rest)
            if m:
                for r in self.server.releases:
                    for a in r["assets"]:
                        if a["id"] != int(m.group(1)):
                            continue
                        if "application/octet-stream" in \
                                self.headers.get("Accept", ""):
                            return self.reply(302, "", headers={
                                "Location": "%s/storage/%d" % (
                                    self.base(), a["id"])})
                        return self.reply(200, self.asset_json(a))
                return self.reply(404, NOT_FOUND)
            m = re.match(r"^/releases/(\d+)/assets$", rest)
            if m:
                r = self.find(int(m.group(1)))
                if r is None:
                    return self.reply(404, NOT_FOUND)
                per = int(q.get("per_page", ["30"])[0])
                page = int(q.get("page", ["1"])[0])
                chunk = r["assets"][(page - 1) * per: page * per]
                return self.reply(200, [self.asset_json(a) for a in chunk])
        return self.reply(404, NOT_FOUND)

    def handle_POST(self, path):
        body = self.read_body()
        if body is None:
            return
        self.record(size=len(body))
        if not self.gate():
            return
        p, q = self.route(path)
        repo = self.server.args.repo
        if p == "/repos/%s/releases" % repo:
            try:
                req = json.loads(body or b"{}")
            except ValueError:
                return self.reply(400, {"message": "Problems parsing JSON"})
            tag = req.get("tag_name")
            if not tag:
                return self.reply(422, {"message": "Validation Failed",
                                        "errors": [{"resource": "Release",
                                                    "code": "missing_field",
                                                    "field": "tag_name"}]})
            with self.server.lock2:
                if any(r["tag_name"] == tag for r in self.server.releases):
                    return self.reply(422, {
                        "message": "Validation Failed",
                        "errors": [{"resource": "Release",
                                    "code": "already_exists",
                                    "field": "tag_name"}]})
                self.server.next_id += 1
                r = {"id": self.server.next_id, "tag_name": tag,
                     "name": req.get("name", tag),
                     "draft": bool(req.get("draft", False)),
                     "prerelease": bool(req.get("prerelease", False)),
                     "body": req.get("body"),
                     "assets": []}
                self.server.releases.append(r)
                self.record(created=r["id"])
                return self.reply(201, self.release_json(r))
        m = re.match(r"^/uploads/repos/%s/releases/(\d+)/assets$" %
                     re.escape(repo), p)
        if m:
            name = q.get("name", [None])[0]
            if not name:
                return self.reply(422, {"message": "Validation Failed",
                                        "errors": [{"field": "name",
                                                    "code": "missing"}]})
            if not self.headers.get("Content-Type"):
                return self.reply(422, {"message": "Content-Type required"})
            if self.headers.get("Content-Length") is None:
                return self.reply(411, {"message": "Length Required"})
            with self.server.lock2:
                r = self.find(int(m.group(1)))
                if r is None:
                    return self.reply(404, NOT_FOUND)
                if self.server.args.immutable and not r["draft"]:
                    return self.reply(422, {
                        "message": "Cannot upload assets to an immutable "
                                   "release."})
                if any(a["name"] == name for a in r["assets"]):
                    return self.reply(422, {
                        "message": "Validation Failed",
                        "errors": [{"resource": "ReleaseAsset",
                                    "code": "already_exists",
                                    "field": "name"}]})
                a = self.new_asset(name, body)
                a["browser_download_url"] = a["browser_download_url"] \
                    .replace("/TAG/", "/%s/" % r["tag_name"])
                r["assets"].append(a)
                self.record(stored=name)
                return self.reply(201, self.asset_json(a))
        return self.reply(404, NOT_FOUND)

    def handle_PATCH(self, path):
        body = self.read_body()
        if body is None:
            return
        self.record(body=body.decode("utf-8", "replace"))
        if not self.gate():
            return
        p, _ = self.route(path)
        m = re.match(r"^/repos/%s/releases/(\d+)$" %
                     re.escape(self.server.args.repo), p)
        if not m:
            return self.reply(404, NOT_FOUND)
        req = json.loads(body or b"{}")
        with self.server.lock2:
            r = self.find(int(m.group(1)))
            if r is None:
                return self.reply(404, NOT_FOUND)
            if "draft" in req:
                if not req["draft"] and any(a["state"] != "uploaded"
                                            for a in r["assets"]):
                    return self.reply(422, {"message": "Validation Failed"})
                r["draft"] = bool(req["draft"])
            return self.reply(200, self.release_json(r))

    def handle_DELETE(self, path):
        self.read_body()
        self.record()
        if not self.gate():
            return
        p, _ = self.route(path)
        m = re.match(r"^/repos/%s/releases/assets/(\d+)$" %
                     re.escape(self.server.args.repo), p)
        if not m:
            m = re.match(r"^/repos/%s/releases/(\d+)$" %
                         re.escape(self.server.args.repo), p)
            if not m:
                return self.reply(404, NOT_FOUND)
            with self.server.lock2:
                r = self.find(int(m.group(1)))
                if r is None:
                    return self.reply(404, NOT_FOUND)
                self.server.releases.remove(r)
            return self.reply(204)
        aid = int(m.group(1))
        with self.server.lock2:
            for r in self.server.releases:
                for a in r["assets"]:
                    if a["id"] == aid:
                        if self.server.args.immutable and not r["draft"]:
                            return self.reply(422, {"message": "immutable"})
                        r["assets"].remove(a)
                        return self.reply(204)
        return self.reply(404, NOT_FOUND)


def setup(srv, args):
    srv.releases = []
    srv.next_id = 1000
    srv.lock2 = threading.Lock()


if __name__ == "__main__":
    fake_common.serve(Handler, setup, extra_args=[
        (("--token",), {"required": True}),
        (("--repo",), {"default": "acme/widgets"}),
        (("--immutable",), {"action": "store_true"})])
