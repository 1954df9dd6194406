#!/usr/bin/python3
"""A strict fake of PyPI's legacy upload API (Warehouse), for the tests.

It applies the rules of docs research publishers.md 1.2-1.6 that matter to
an uploader: Basic auth as __token__ (403 with Warehouse's reason phrases
otherwise), :action=file_upload, protocol_version 1, the required fields,
PEP 440 versions without local parts, supported Metadata-Versions, file
types, pyversion, every digest sent verified against the bytes, the
content part with a filename and a non-image Content-Type, metadata fields
as plain parts only, PEP 625 sdist names, normalized wheel prefixes and
portable platform tags, WHEEL/METADATA/RECORD present in wheels,
200 on a byte-identical re-upload, "400 File already exists (...)" for a
different file under a used name or a used blake2 under another name.
Messages go in the HTTP reason phrase, as Warehouse does.

Also: GET /pypi/<name>/<version>/json (the JSON API, with digests;
--no-json-api turns it off), GET /files/<filename>, the simple index
(GET /simple/ and /simple/<normalized name>/: PEP 503 HTML with
#sha256= fragments, or PEP 691 JSON when the Accept header prefers it),
the knobs of fake_verify_knobs.py (other bytes, a wrong hash, late
listing), and the control API of fake_common. --exists-status 409 answers any existing file with 409, as
pypiserver and CodeArtifact do.

Trusted Publishing (/_/oidc/audience, /_/oidc/mint-token, minted tokens
accepted for uploads) and PEP 740 `attestations` checks: fake_oidc.py,
turned on by --oidc-key.

Run: /usr/bin/python3 fake_pypi.py --port-file F --token pypi-SECRET
"""
import base64
import hashlib
import io
import json
import os
import re
import sys
import threading
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_common  # noqa: E402
import fake_oidc  # noqa: E402  (Trusted Publishing, PEP 740: --oidc-key)
import fake_verify_knobs as knobs  # noqa: E402

# PEP 440 (public versions, plus an optional local part we refuse).
VERSION_RE = re.compile(r"""
    ^\s*v?
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
    (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
    (?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
    \s*$""", re.VERBOSE | re.IGNORECASE)
NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])\Z", re.I)
SUPPORTED_METADATA = {"1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4",
                      "2.5"}
# Every multi-use and single field Warehouse reads (unknown ones are
# ignored there; we record them so tests can see them).
KNOWN_FIELDS = {
    ":action", "protocol_version", "name", "version", "metadata_version",
    "filetype", "pyversion", "md5_digest", "sha256_digest",
    "blake2_256_digest", "content", "comment", "attestations",
    "gpg_signature", "summary", "description", "description_content_type",
    "keywords", "home_page", "download_url", "author", "author_email",
    "maintainer", "maintainer_email", "license", "license_expression",
    "requires_python", "classifiers", "requires_dist", "provides_extra",
    "project_urls", "dynamic", "platform", "supported_platform",
    "license_file", "requires_external", "provides_dist", "obsoletes_dist",
    "requires", "provides", "obsoletes", "import_name", "import_namespace"}
PLATFORM_OK = re.compile(
    r"^(any|win32|win_[a-z0-9_]+|manylinux[a-z0-9_]*|musllinux_\d+_\d+_"
    r"[a-z0-9_]+|macosx_\d+_\d+_[a-z0-9_]+|ios_[a-z0-9_]+|android_"
    r"[a-z0-9_]+|linux_armv6l|linux_armv7l)$")


def canonical_version(v):
    m = VERSION_RE.match(v)
    if not m:
        return None
    out = ""
    if m.group("epoch") and int(m.group("epoch")) != 0:
        out += "%d!" % int(m.group("epoch"))
    out += ".".join(str(int(x)) for x in m.group("release").split("."))
    if m.group("pre"):
        lab = m.group("pre_l").lower()
        lab = {"alpha": "a", "beta": "b", "c": "rc", "pre": "rc",
               "preview": "rc"}.get(lab, lab)
        out += "%s%d" % (lab, int(m.group("pre_n") or 0))
    if m.group("post"):
        out += ".post%d" % int(m.group("post_n1") or m.group("post_n2")
                                or 0)
    if m.group("dev"):
        out += ".dev%d" % int(m.group("dev_n") or 0)
    if m.group("local"):
        out += "+" + re.sub(r"[-_.]", ".", m.group("local").lower())
    return out


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


class Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.files = {}  # filename -> dict(bytes, sha256, blake2, name, ver)


class Handler(fake_common.FakeHandler):

    def fail(self, status, message):
        self.record(rejected=status, reason=message)
        return self.reply(status, {"message": message,
                                   "code": "%d %s" % (status, message)},
                          reason=message)

    def state(self):
        with self.server.store.lock:
            return {fn: {k: v for k, v in f.items() if k != "data"}
                    for fn, f in self.server.store.files.items()}

    def check_auth(self):
        token = self.server.args.token
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return ("Invalid or non-existent authentication information. "
                    "See /help/#invalid-auth for more information.")
        try:
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
        except Exception:
            return "Invalid or non-existent authentication information."
        if user != "__token__":
            return ("Username/Password authentication is no longer "
                    "supported. Migrate to API Tokens or Trusted "
                    "Publishers instead.")
        minted = fake_oidc.check_minted(self.server, pw)
        self.via_oidc = minted is None
        if minted is not False:
            return minted
        if pw != token:
            return ("Invalid or non-existent authentication information. "
                    "See /help/#invalid-auth for more information.")
        return None

    def handle_GET(self, path):
        if fake_oidc.pypi_handle(self, path, b""):
            return
        self.record()
        m = re.match(r"^/pypi/([^/]+)/([^/]+)/json$", path)
        if m and self.server.args.no_json_api:
            return self.reply(404, {"message": "Not Found"})
        if m:
            name, ver = normalize(m.group(1)), canonical_version(m.group(2))
            with self.server.store.lock:
                urls = [{"filename": fn,
                         "url": "http://%s:%d/files/%s" % (
                             self.server.server_address + (fn,)),
                         "digests": {"sha256": knobs.listed_sha256(
                                         fn, f["data"]),
                                     "blake2b_256": f["blake2"],
                                     "md5": f["md5"]},
                         "size": len(f["data"])}
                        for fn, f in self.server.store.files.items()
                        if f["name"] == name and f["version"] == ver and
                        knobs.listed(f.get("stored_at"))]
            if not urls:
                return self.reply(404, {"message": "Not Found"})
            return self.reply(200, {"info": {"name": name, "version": ver},
                                    "urls": urls})
        m = re.match(r"^/files/([^/]+)$", path)
        if m:
            with self.server.store.lock:
                f = self.server.store.files.get(m.group(1))
            if f is None or not knobs.listed(f.get("stored_at")):
                return self.reply(404, {"message": "Not Found"})
            return self.reply(200, knobs.served_bytes(m.group(1), f["data"]),
                              ctype="application/octet-stream")
        if path == "/simple" or path.startswith("/simple/"):
            return self.simple(path)
        return self.reply(404, {"message": "Not Found"})

    SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
    SIMPLE_HTML = "application/vnd.pypi.simple.v1+html"

    def simple_format(self):
        """PEP 691 content negotiation: the client's preferred of JSON
        and HTML by q-value; text/html and */* mean HTML; None when the
        client accepts neither (406)."""
        if knobs.SIMPLE_HTML_ONLY:
            return "html"
        best, best_q = None, -1.0
        for item in (self.headers.get("Accept") or "*/*").split(","):
            typ, _, params = item.strip().partition(";")
            q = 1.0
            m = re.search(r"q=([0-9.]+)", params)
            if m:
                q = float(m.group(1))
            typ = typ.strip().lower()
            fmt = {self.SIMPLE_JSON: "json", self.SIMPLE_HTML: "html",
                   "text/html": "html", "*/*": "html"}.get(typ)
            if fmt and q > best_q:
                best, best_q = fmt, q
        return best

    def simple(self, path):
        """The simple repository API: PEP 503 HTML (sha256 in the
        links' fragments) or PEP 691 JSON, strict about the paths as
        PyPI is: /simple/ and /simple/<normalized name>/ only; another
        spelling of a name is redirected to its normalized form."""
        if path == "/simple":
            return self.reply(301, "", headers={"Location": "/simple/"})
        fmt = self.simple_format()
        if fmt is None:
            return self.reply(406, {"message": "Not Acceptable"})
        with self.server.store.lock:
            files = [(fn, dict(f)) for fn, f in
                     sorted(self.server.store.files.items())
                     if knobs.listed(f.get("stored_at"))]
        if path == "/simple/":
            names = sorted({f["name"] for _, f in files})
            if fmt == "json":
                return self.reply(200, {
                    "meta": {"api-version": "1.0"},
                    "projects": [{"name": n} for n in names]},
                    ctype=self.SIMPLE_JSON)
            links = "".join('<a href="/simple/%s/">%s</a>\n' % (n, n)
                            for n in names)
            return self.reply(200, "<!DOCTYPE html>\n<html><body>\n%s"
                              "</body></html>\n" % links,
                              ctype="text/html")
        m = re.match(r"^/simple/([^/]+)(/?)$", path)
        if not m:
            return self.reply(404, {"message": "Not Found"})
        if normalize(m.group(1)) != m.group(1) or not m.group(2):
            return self.reply(301, "", headers={
                "Location": "/simple/%s/" % normalize(m.group(1))})
        name = m.group(1)
        mine = [(fn, f) for fn, f in files if f["name"] == name]
        if not mine:
            return self.reply(404, {"message": "Not Found"})
        if fmt == "json":
            return self.reply(200, {
                "meta": {"api-version": "1.0"}, "name": name,
                "files": [{"filename": fn, "url": "/files/%s" % fn,
                           "hashes": {"sha256": knobs.listed_sha256(
                               fn, f["data"])}}
                          for fn, f in mine]},
                ctype=self.SIMPLE_JSON)
        links = "".join(
            '<a href="/files/%s#sha256=%s">%s</a><br/>\n' % (
                fn, knobs.listed_sha256(fn, f["data"]), fn)
            for fn, f in mine)
        return self.reply(200, "<!DOCTYPE html>\n<html><head><meta "
                          "name=\"pypi:repository-version\" content=\"1.0\">"
                          "<title>Links for %s</title></head><body>\n"
                          "<h1>Links for %s</h1>\n%s</body></html>\n" % (
                              name, name, links), ctype="text/html")

    def handle_POST(self, path):
        body = self.read_body()
        if body is None:
            return
        if fake_oidc.pypi_handle(self, path, body):
            return
        if path == "/legacy":
            self.record(rejected=308)
            return self.reply(308, "", reason="Permanent Redirect",
                              headers={"Location": "/legacy/"})
        if path != "/legacy/":
            self.record(rejected=404)
            return self.reply(404, {"message": "Not Found"})
        try:
            parts = fake_common.parse_multipart(
                body, self.headers.get("Content-Type"))
        except ValueError as e:
            return self.fail(400, "Invalid form: %s" % e)
        fields = [(n, d.decode("utf-8")) for n, fn, ct, d in parts
                  if fn is None]
        files = [(n, fn, ct, d) for n, fn, ct, d in parts
                 if fn is not None]
        self.record(fields=fields, files=[
            {"name": n, "filename": fn, "content_type": ct, "size": len(d)}
            for n, fn, ct, d in files])
        err = self.check_auth()
        if err:
            return self.fail(403, err)
        if any(n == "attestations" for n, _ in fields):
            err = fake_oidc.check_attestations(
                [v for n, v in fields if n == "attestations"],
                getattr(self, "via_oidc", False))
            if err:
                return self.fail(400, err)
            self.record(attestations=json.loads(
                [v for n, v in fields if n == "attestations"][0]))
        form = {}
        for n, v in fields:
            form.setdefault(n, []).append(v)

        def one(name):
            v = form.get(name, [""])[0]
            return None if v == "" or v == "UNKNOWN" else v
        for n, fn, ct, d in files:
            if n != "content":
                return self.fail(400, "%s: Should not be a tuple." % n)
        if one(":action") != "file_upload":
            return self.fail(410, "Project pre-registration is no longer "
                                  "required or supported, upload your "
                                  "files instead.")
        if one("protocol_version") not in (None, "1"):
            return self.fail(400, "Unknown protocol version.")
        for n in form:
            if n not in KNOWN_FIELDS:
                pass  # Warehouse ignores unknown names silently
        name, version = one("name"), one("version")
        if not name or not NAME_RE.match(name):
            return self.fail(400, "'%s' is an invalid value for Name." %
                             (name or ""))
        if not version or not VERSION_RE.match(version):
            return self.fail(400, "'%s' is an invalid value for Version."
                             % (version or ""))
        if "+" in version:
            return self.fail(400, "The use of local versions in '%s' is "
                                  "not allowed." % version)
        mv = one("metadata_version")
        if mv not in SUPPORTED_METADATA:
            return self.fail(400, "'%s' is an invalid value for "
                                  "Metadata-Version." % mv)
        filetype = one("filetype")
        if filetype not in ("sdist", "bdist_wheel"):
            return self.fail(400, "Invalid value for filetype. Error: Use "
                                  "a known file type.")
        pyversion = form.get("pyversion", [""])[0]
        if filetype == "bdist_wheel" and not pyversion:
            return self.fail(400, "Invalid value for pyversion. Error: "
                                  "Python version is required for binary "
                                  "distribution uploads.")
        if filetype == "sdist" and pyversion not in ("", "source"):
            return self.fail(400, "Invalid value for pyversion. Error: Use "
                                  "'source' as Python version for an sdist.")
        md5, sha256, blake2 = (one("md5_digest"), one("sha256_digest"),
                               one("blake2_256_digest"))
        if not (md5 or sha256 or blake2):
            return self.fail(400, "Include at least one message digest.")
        for d in (sha256, blake2):
            if d is not None and not re.match(r"^[A-Fa-f0-9]{64}$", d):
                return self.fail(400, "Invalid value for %s digest." %
                                 ("sha256" if d is sha256 else "blake2"))
        if len(files) != 1:
            return self.fail(400, "Upload payload does not have a file.")
        _, filename, ctype, data = files[0]
        if not ctype or ctype.startswith("image/"):
            return self.fail(400, "Invalid distribution file.")
        if re.search(r"[\x00-\x1f\x7f/\\]", filename):
            return self.fail(400, "Cannot upload a file with '/' or '\\' "
                                  "or control characters in the name.")
        calc = {"md5": hashlib.md5(data).hexdigest(),
                "sha256": hashlib.sha256(data).hexdigest(),
                "blake2": hashlib.blake2b(data, digest_size=32).hexdigest()}
        for k, v in (("md5", md5), ("sha256", sha256), ("blake2", blake2)):
            if v is not None and v.lower() != calc[k]:
                return self.fail(400, "The digest supplied does not match "
                                      "a digest calculated from the "
                                      "uploaded file.")
        norm = normalize(name)
        canon = canonical_version(version)
        if filetype == "sdist":
            want = "%s-%s.tar.gz" % (norm.replace("-", "_"), canon)
            if filename != want:
                return self.fail(400, "Filename '%s' is invalid, should be "
                                      "'%s'." % (filename, want))
        else:
            if not filename.endswith(".whl"):
                return self.fail(400, "Invalid file extension: Use .tar.gz "
                                      "or .whl (see PEP 527 and PEP 625)")
            bits = filename[:-4].split("-")
            if len(bits) not in (5, 6):
                return self.fail(400, "Invalid wheel filename (wrong "
                                      "number of parts): '%s'" % filename)
            if bits[0] != norm.replace("-", "_"):
                return self.fail(400, "Filename '%s' should contain the "
                                      "normalized project name '%s', not "
                                      "'%s'." % (filename,
                                                 norm.replace("-", "_"),
                                                 bits[0]))
            if canonical_version(bits[1]) != canon:
                return self.fail(400, "Version in filename should be '%s' "
                                      "not '%s'." % (canon, bits[1]))
            for plat in bits[-1].split("."):
                if not PLATFORM_OK.match(plat):
                    return self.fail(400, "Binary wheel '%s' has an "
                                          "unsupported platform tag '%s'."
                                     % (filename, plat))
            try:
                z = zipfile.ZipFile(io.BytesIO(data))
                names = set(z.namelist())
            except zipfile.BadZipFile:
                return self.fail(400, "Invalid distribution file. File is "
                                      "not a zipfile")
            di = "%s-%s.dist-info/" % (bits[0], bits[1])
            for need in ("WHEEL", "METADATA", "RECORD"):
                if di + need not in names:
                    return self.fail(400, "Wheel '%s' does not contain the "
                                          "required %s file: %s" %
                                     (filename, need, di + need))
        st = self.server.store
        with st.lock:
            old = st.files.get(filename)
            if old is not None and self.server.args.exists_status == 409:
                # pypiserver and CodeArtifact: any existing file is 409
                return self.fail(409, "Conflict")
            if old is not None:
                if old["sha256"] == calc["sha256"] and \
                        old["blake2"] == calc["blake2"]:
                    self.record(duplicate=True)
                    return self.reply(200, "")
                return self.fail(400, "File already exists ('%s', with "
                                      "blake2_256 hash '%s'). See "
                                      "/help/#file-name-reuse for more "
                                      "information." % (filename,
                                                        calc["blake2"]))
            for fn, f in st.files.items():
                if f["blake2"] == calc["blake2"]:
                    return self.fail(400, "File already exists ('%s', with "
                                          "blake2_256 hash '%s'). See "
                                          "/help/#file-name-reuse for more "
                                          "information." % (fn,
                                                            calc["blake2"]))
            if filetype == "sdist" and any(
                    f["name"] == norm and f["version"] == canon and
                    f["filetype"] == "sdist" for f in st.files.values()):
                return self.fail(400, "Only one sdist may be uploaded per "
                                      "release.")
            st.files[filename] = {"data": data, "sha256": calc["sha256"],
                                  "blake2": calc["blake2"],
                                  "md5": calc["md5"], "name": norm,
                                  "version": canon, "filetype": filetype,
                                  "display_name": name,
                                  "stored_at": time.time()}
        self.record(stored=filename)
        return self.reply(200, "")


def setup(srv, args):
    srv.store = Store()
    fake_oidc.pypi_setup(srv, args)


if __name__ == "__main__":
    fake_common.serve(Handler, setup, extra_args=[
        (("--token",), {"required": True}),
        # an index without the JSON API (most private ones)
        (("--no-json-api",), {"action": "store_true"}),
        # 409 for any existing file, as pypiserver and CodeArtifact answer
        (("--exists-status",), {"type": int, "default": 400})]
        + fake_oidc.pypi_args())
