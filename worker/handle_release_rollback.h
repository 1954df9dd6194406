/*
 * handle_release_rollback.h - RELEASE_ROLLBACK_REQUESTED: its row's
 * functions (dispatch.c) and the answer's JSON, which `artifactd
 * unpublish --json` prints too.
 */
#ifndef WORKER_HANDLE_RELEASE_ROLLBACK_H
#define WORKER_HANDLE_RELEASE_ROLLBACK_H

#include <cjson/cJSON.h>

#include "common/error.h"

struct config;
struct envelope;
struct handler_ctx;
struct handler_job;
struct handler_result;
struct unpublish_result;

int handle_release_rollback_check(const struct config *cfg,
    const struct envelope *env, struct error *err);
char *handle_release_rollback_key(const struct config *cfg,
    const struct envelope *env);
void handle_release_rollback(const struct handler_ctx *ctx,
    const struct handler_job *job, struct handler_result *res);

/*
 * The rollback as one JSON object: tag, package, version, dry_run,
 * complete (no item left for a human), "removed" (every item), and
 * git_tag (taken over; may be NULL). A new object the caller deletes.
 */
cJSON *rollback_json(const struct unpublish_result *r, cJSON *git_tag);

#endif
