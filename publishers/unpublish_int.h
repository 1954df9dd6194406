/*
 * unpublish_int.h - what the per-target rollbacks (unpublish_*.c) share
 * with unpublish.c; not for callers outside publishers/.
 */
#ifndef PUBLISHERS_UNPUBLISH_INT_H
#define PUBLISHERS_UNPUBLISH_INT_H

#include "publishers/publisher.h"
#include "publishers/unpublish.h"

/* A target's rollback: items into out (unpublish_item_add), returns 0 or
 * the worst code of its items. A failure before anything could be looked
 * at is one target-wide item (what ""). */
typedef int (*unpublish_fn)(struct unpublish_result *out,
    const struct publish_target *t, const struct publish_release *rel);

int unpublish_github(struct unpublish_result *out,
    const struct publish_target *t, const struct publish_release *rel);
int unpublish_files(struct unpublish_result *out,
    const struct publish_target *t, const struct publish_release *rel);
int unpublish_codeartifact(struct unpublish_result *out,
    const struct publish_target *t, const struct publish_release *rel);

/* Add an item (strings copied) and return it, rc 0, err cleared. */
struct unpublish_item *unpublish_item_add(struct unpublish_result *out,
    const char *target, const char *what, enum unpublish_status status,
    const char *url);

/* Add a failed item for err (code rc); returns rc. */
int unpublish_item_fail(struct unpublish_result *out, const char *target,
    const char *what, int rc, const struct error *err);

/* A DELETE (or another method) on url, no body: 0 with status
 * UNPUBLISH_REMOVED for 2xx, UNPUBLISH_ABSENT for 404 (and 410), else
 * the http_status_error code. hdrs NULL-terminated, may be NULL. */
int unpublish_http_delete(enum unpublish_status *st, const char *url,
    const char *const *hdrs, const char *what, struct error *err);

/* A file name as a release publishes it: a basename (NAME_MAX). */
#define UNPUBLISH_NAME_MAX 255

/*
 * Walk a SHA256SUMS text ("<hex>  <name>" lines, sha256sum's format, as
 * the release wrote it): fn(arg, name) then fn(arg, name ".sha256") for
 * each listed file. The text comes from the server, so a name with a
 * slash or backslash, "." or "..", a control character or more than
 * UNPUBLISH_NAME_MAX bytes is skipped with a warning (it could only point
 * outside the release's directory), and at most RELEASE_MAX_FILES lines
 * are read. Returns 0 or the last negative return of fn (every name is
 * still tried).
 */
int unpublish_sums_each(const char *text, size_t len, const char *target,
    int (*fn)(void *arg, const char *name), void *arg);

int unpublish_s3(struct unpublish_result *out, const struct publish_target *t,
    const struct publish_release *rel);

#endif
