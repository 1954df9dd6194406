/*
 * unpublish.h - take a release back: what each target holds of a tag is
 * removed (or, where a team must not delete, unlisted), and what cannot
 * be removed is said, never faked.
 *
 * The rollback counterpart of release.h (seed 001: `aws codeartifact
 * delete-package-versions`, delete the tag). The caller (the
 * RELEASE_ROLLBACK_REQUESTED handler, `artifactd unpublish`) hands it a
 * tag and optional target names; the tag maps to a package and version
 * through the same patterns as a release, and the same targets are
 * chosen. Per target type:
 *   codeartifact  DeletePackageVersions of the version, or with
 *                 `unpublish: unlist` UpdatePackageVersionsStatus to
 *                 Unlisted;
 *   github        the release of the tag (drafts included): its assets,
 *                 then the release;
 *   artifactory   (and `api: plain` WebDAV servers) and s3: the files
 *                 SHA256SUMS lists under the release's path, each one's
 *                 .sha256, then SHA256SUMS itself last, so an interrupted
 *                 rollback resumes from what is left;
 *   pypi          no API deletes or yanks: status "manual" with the URL
 *                 of the project's release page for doing it by hand.
 * Idempotent: what is already gone is "absent", and a rollback with
 * nothing left to remove succeeds. It knows nothing of Redis or git; the
 * release tag is the store's (store/tag_delete.c).
 */
#ifndef PUBLISHERS_UNPUBLISH_H
#define PUBLISHERS_UNPUBLISH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "publishers/release.h"

enum unpublish_status {
	UNPUBLISH_REMOVED,      /* deleted now */
	UNPUBLISH_UNLISTED,     /* CodeArtifact: status set to Unlisted */
	UNPUBLISH_ABSENT,       /* nothing there (already rolled back) */
	UNPUBLISH_WOULD_REMOVE, /* dry run: there, and would be removed */
	UNPUBLISH_WOULD_UNLIST, /* dry run: there, and would be unlisted */
	UNPUBLISH_MANUAL        /* no API can do it: url says where */
};

/* One thing on one target: a file, a GitHub release, a package version. */
struct unpublish_item {
	char *target;
	char *what; /* "widgets-1.0.0-py3-none-any.whl", "release v1.0.0",
	               "version 1.0.0"; "" for a target-wide failure */
	int rc;     /* 0, or the negative code of err */
	enum unpublish_status status; /* valid when rc == 0 */
	char url[1024]; /* what was removed, or where to act by hand */
	char reason[256];
	struct error err; /* valid when rc < 0 */
};

struct unpublish_result {
	char *tag;
	char *package; /* normalized name, once known ("" when the tag
	                  names no package and none was given) */
	char *version;
	bool dry_run;
	struct unpublish_item *items;
	size_t n;
};

struct unpublish_request {
	const char *tag;
	const char *package;        /* NULL: chosen by the tag patterns */
	const char *const *targets; /* NULL/0: all targets of the package */
	size_t ntargets;
	bool dry_run;
};

void unpublish_result_init(struct unpublish_result *r);
void unpublish_result_dispose(struct unpublish_result *r);

/*
 * Roll the release of req->tag back on its targets (at the same time,
 * release_pool.h). ERR_INVALID (INVALID_TAG, UNKNOWN_TARGET) before any
 * request. Otherwise every target is tried and gets items in out;
 * returns 0 when nothing failed (items may be "manual": see
 * unpublish_complete), else the most severe code of the items
 * (ERR_TRANSIENT only when every failure is transient).
 */
int unpublish_run(struct unpublish_result *out, const struct release_config *c,
    const struct unpublish_request *req, struct error *err);

/* True when no item is left for a human (UNPUBLISH_MANUAL). */
bool unpublish_complete(const struct unpublish_result *r);

/* "removed", "unlisted", "absent", "would_remove", "would_unlist",
 * "manual". */
const char *unpublish_status_name(enum unpublish_status s);

#endif
