/*
 * release_req.h - what `artifactd release` / `bundle` and (next round)
 * the RELEASE_REQUESTED handler share: the package's tag prefix from the
 * config, the answer's JSON fields, and a bundle's file name. A handler
 * is then: release_prefix(), store_release(), release_json() into the
 * answer's data, store_release_result_dispose().
 */
#ifndef WORKER_RELEASE_REQ_H
#define WORKER_RELEASE_REQ_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "store/history.h"
#include "worker/config.h"

/*
 * The tag prefix of `package` (NULL: "v", the default of single-package
 * repositories): its first tag pattern, which must be "<prefix>*".
 * out holds VERSION_MAX bytes. Returns 0; ERR_NOTFOUND (code
 * PACKAGE_NOT_FOUND: no package of that name in the config); ERR_INVALID
 * (INVALID_CONFIG: the package has no pattern of that form).
 */
int release_prefix(char *out, size_t n, const struct config *cfg,
    const char *package, struct error *err);

/* The answer's fields: version, previous_version, previous_tag, tag,
 * bump, commit_sha, changelog_sha, notes, commits, ncommits, created,
 * duplicate, dry_run, pushed (false: pushing is not wired yet). */
cJSON *release_json(const struct store_release_result *r, bool dry_run);

/*
 * "<Name>_v<version>.zip" for a bundle of `tag`: Name is `name` when
 * given, else the package's name, else the repository directory's name
 * (without ".git"); version is the tag without the package's prefix.
 * Characters outside [A-Za-z0-9._-] in Name become '_'. Caller frees.
 * Returns NULL with err set when the tag is not the package's.
 */
char *release_bundle_name(const struct config *cfg, const char *package,
    const char *name, const char *tag, struct error *err);

#endif
