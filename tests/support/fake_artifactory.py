#!/usr/bin/python3
"""A strict fake of JFrog Artifactory's deploy API, for the tests.

Rules from publishers.md section 2:
  PUT /artifactory/<repo>/<path>[;k=v...]   deploy; 201 with the
      ItemCreated JSON; X-Checksum-Sha1/-Md5/-Sha256 (or X-Checksum)
      verified against the body -> 409 "Checksum policy ... rejected";
      X-Checksum-Deploy: true with an empty body -> 201 when the content
      is known (copied), 404 when not; an existing path with other content
      -> 403 "Not enough permissions to delete/overwrite all artifacts
      under ..." (a deployer without overwrite permission), same content
      -> 201; properties from matrix parameters are stored.
  GET /artifactory/api/storage/<repo>/<path> -> file info with checksums,
      or 404 {"errors":[{"status":404,"message":"Unable to find item"}]}.
  GET /artifactory/<repo>/<path> -> the bytes.
  DELETE /artifactory/<repo>/<path> -> 204 (the item removed), or 404
      {"errors":[{"status":404,"message":"Could not locate artifact
      '<repo>:<path>'."}]} when there is nothing at the path.
Auth: Bearer <token> or Basic <user>:<password> (--token / --user /
--password); otherwise 401 {"errors":[{"status":401,"message":"Bad
credentials"}]}. Unknown repository -> 404. Plus the control API.
"""
import base64
import hashlib
import json
import os
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_common  # noqa: E402


def errors(status, message):
    return {"errors": [{"status": status, "message": message}]}


class Handler(fake_common.FakeHandler):

    def state(self):
        with self.server.lock2:
            return {"%s/%s" % k: {"sha256": v["sha256"],
                                  "size": len(v["data"]),
                                  "properties": v["props"]}
                    for k, v in self.server.items.items()}

    def authed(self):
        a = self.server.args
        h = self.headers.get("Authorization", "")
        if a.token and h == "Bearer " + a.token:
            return True
        if a.user and h.startswith("Basic "):
            try:
                u, _, p = base64.b64decode(h[6:]).decode().partition(":")
            except Exception:
                return False
            return u == a.user and p == a.password
        return False

    def split(self, path):
        """'/artifactory/repo;a=b/x/y.whl;c=d' -> (repo, 'x/y.whl', props)"""
        path = urllib.parse.urlsplit(path).path
        props = {}
        segs = []
        for seg in path.split("/"):
            bits = seg.split(";")
            segs.append(urllib.parse.unquote(bits[0]))
            for b in bits[1:]:
                k, _, v = b.partition("=")
                props[urllib.parse.unquote(k)] = urllib.parse.unquote(v)
        return segs, props

    def handle_GET(self, path):
        self.record()
        if not self.authed():
            return self.reply(401, errors(401, "Bad credentials"))
        segs, _ = self.split(path)
        if segs[1:4] == ["artifactory", "api", "storage"]:
            repo, rel = segs[4], "/".join(segs[5:])
            with self.server.lock2:
                it = self.server.items.get((repo, rel))
            if it is None:
                return self.reply(404, errors(404, "Unable to find item"))
            return self.reply(200, {
                "repo": repo, "path": "/" + rel, "size": str(len(it["data"])),
                "checksums": {"sha1": it["sha1"], "md5": it["md5"],
                              "sha256": it["sha256"]},
                "originalChecksums": {"sha1": it["sha1"], "md5": it["md5"],
                                      "sha256": it["sha256"]}})
        if segs[1:2] == ["artifactory"]:
            repo, rel = segs[2], "/".join(segs[3:])
            with self.server.lock2:
                it = self.server.items.get((repo, rel))
            if it is None:
                return self.reply(404, errors(404, "File not found."))
            return self.reply(200, it["data"],
                              ctype="application/octet-stream")
        return self.reply(404, errors(404, "Not Found"))

    def handle_DELETE(self, path):
        self.read_body()
        self.record()
        if not self.authed():
            return self.reply(401, errors(401, "Bad credentials"))
        segs, _ = self.split(path)
        if segs[1:2] != ["artifactory"] or len(segs) < 4:
            return self.reply(404, errors(404, "Not Found"))
        repo, rel = segs[2], "/".join(segs[3:])
        with self.server.lock2:
            it = self.server.items.pop((repo, rel), None)
        if it is None:
            return self.reply(404, errors(
                404, "Could not locate artifact '%s:%s'." % (repo, rel)))
        self.record(deleted=rel)
        return self.reply(204)

    def handle_PUT(self, path):
        body = self.read_body()
        if body is None:
            return
        segs, props = self.split(path)
        entry = self.record(size=len(body), properties=props,
                            checksum_deploy=self.headers.get(
                                "X-Checksum-Deploy", "") == "true")
        if not self.authed():
            return self.reply(401, errors(401, "Bad credentials"))
        if segs[1:2] != ["artifactory"] or len(segs) < 4 or not segs[-1]:
            return self.reply(400, errors(400, "Bad target path"))
        repo, rel = segs[2], "/".join(segs[3:])
        if repo not in self.server.args.repo:
            return self.reply(404, errors(404, "Repo '%s' not found" % repo))
        sums = {"sha1": self.headers.get("X-Checksum-Sha1"),
                "md5": self.headers.get("X-Checksum-Md5"),
                "sha256": self.headers.get("X-Checksum-Sha256")}
        generic = self.headers.get("X-Checksum")
        if generic:
            sums[{32: "md5", 40: "sha1", 64: "sha256"}.get(len(generic),
                                                          "sha256")] = generic
        st = self.server
        if entry["checksum_deploy"]:
            if body:
                return self.reply(400, errors(400, "Checksum deploy "
                                                   "takes no body"))
            known = None
            with st.lock2:
                for it in st.items.values():
                    if (sums["sha256"] and it["sha256"] == sums["sha256"]) \
                            or (sums["sha1"] and it["sha1"] == sums["sha1"]):
                        known = it
                        break
            if known is None:
                return self.reply(404, errors(
                    404, "Checksum deploy failed: no artifact with these "
                         "checksums"))
            data = known["data"]
        else:
            data = body
        calc = {"sha1": hashlib.sha1(data).hexdigest(),
                "md5": hashlib.md5(data).hexdigest(),
                "sha256": hashlib.sha256(data).hexdigest()}
        for k, v in sums.items():
            if v and v.lower() != calc[k]:
                return self.reply(409, errors(
                    409, "Checksum policy 'LocalRepoChecksumPolicy: CLIENT' "
                         "rejected the artifact '%s/%s'. Checksums info: "
                         "[client: %s, server: %s]" % (repo, rel, v,
                                                       calc[k])))
        with st.lock2:
            old = st.items.get((repo, rel))
            if old is not None and old["sha256"] != calc["sha256"]:
                return self.reply(403, errors(
                    403, "Not enough permissions to delete/overwrite all "
                         "artifacts under '%s:%s' (user: 'deployer', needs "
                         "DELETE permission)." % (repo, rel)))
            st.items[(repo, rel)] = dict(calc, data=data, props=props)
        self.record(stored=rel)
        host = "http://%s:%d" % self.server.server_address
        return self.reply(201, {
            "repo": repo, "path": "/" + rel, "created": "2026-11-21T00:00:00Z",
            "createdBy": "deployer",
            "downloadUri": "%s/artifactory/%s/%s" % (host, repo, rel),
            "mimeType": "application/octet-stream", "size": str(len(data)),
            "checksums": calc, "originalChecksums": calc,
            "uri": "%s/artifactory/api/storage/%s/%s" % (host, repo, rel)},
            ctype="application/vnd.org.jfrog.artifactory.storage."
                  "ItemCreated+json")


def setup(srv, args):
    srv.items = {}
    srv.lock2 = threading.Lock()


if __name__ == "__main__":
    fake_common.serve(Handler, setup, extra_args=[
        (("--token",), {}), (("--user",), {}), (("--password",), {}),
        (("--repo",), {"action": "append", "default": []})])
