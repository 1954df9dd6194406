"""Knobs of the verification tests (issue 13), shared by fake_pypi.py,
fake_github.py and fake_codeartifact.py, read from the environment when a
fake starts:

  FAKE_SERVE_OTHER=name[,name]  these files are served as other bytes:
                                downloads, digests and listings all
                                describe the other bytes (a registry
                                that kept something else than it took)
  FAKE_WRONG_HASH=name[,name]   listings give a wrong sha256 for these
                                files, the bytes are the real ones (pip
                                must refuse them)
  FAKE_NO_DIGEST=1              fake_github.py gives assets no digest
                                (as before GitHub had them): a client
                                must download and hash
  FAKE_SIMPLE_HTML=1            fake_pypi.py's simple index answers
                                PEP 503 HTML whatever the client asks
  FAKE_LIST_AFTER=seconds       a stored file is listed (and served) only
                                that long after it was stored (an
                                eventually consistent index)
"""
import hashlib
import os
import time


def _names(var):
    return {n for n in os.environ.get(var, "").split(",") if n}


OTHER = _names("FAKE_SERVE_OTHER")
WRONG = _names("FAKE_WRONG_HASH")
NO_DIGEST = os.environ.get("FAKE_NO_DIGEST") == "1"
SIMPLE_HTML_ONLY = os.environ.get("FAKE_SIMPLE_HTML") == "1"
AFTER = float(os.environ.get("FAKE_LIST_AFTER", "0") or 0)


def served_bytes(filename, data):
    """The bytes served for a stored file."""
    if filename in OTHER:
        return data + b"\n# not what was uploaded\n"
    return data


def listed_sha256(filename, data):
    """The sha256 a listing gives for a stored file."""
    h = hashlib.sha256(served_bytes(filename, data)).hexdigest()
    if filename in WRONG:
        return hashlib.sha256(h.encode()).hexdigest()
    return h


def listed(stored_at):
    """Whether a file stored at time stored_at is listed now."""
    return stored_at is None or time.time() - stored_at >= AFTER
