/*
 * verify_release.h - `artifactd verify`: is a published release served
 * back, byte for byte, on every target? (issue 13; verify.h has the
 * per-file check it runs.)
 */
#ifndef PUBLISHERS_VERIFY_RELEASE_H
#define PUBLISHERS_VERIFY_RELEASE_H

#include "common/error.h"
#include "publishers/release.h"

/*
 * `artifactd verify`: the checks of verify_file for every file of req
 * (the release's local files: the reference) and the SHA256SUMS and
 * <file>.sha256 a release of them publishes, on every target of the
 * release (or req->targets), without uploading anything. Each target is
 * set up with a dry-run begin (no draft is created, nothing is sent but
 * lookups). One release_item per file x target in out (outcome.verified,
 * or the error). Returns 0 when every file is served and equal, the
 * worst code otherwise, ERR_INVALID for bad input (as release_run).
 */
int verify_release(struct release_result *out, const struct release_config *c,
    const struct release_request *req, struct error *err);

#endif
