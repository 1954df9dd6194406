/*
 * handle_rollback.c - ROLLBACK_REQUESTED: restore a tagged tree on a
 * branch as a new commit (store_revert) and answer ARTIFACT_REVERTED (or
 * the row's ARTIFACT_REVERT_FAILED). History is never rewritten.
 */
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "events/envelope.h"
#include "store/store.h"
#include "worker/handler.h"
#include "worker/repos.h"

/* data.branch, or the base branch when the event names none. */
static const char *
handle_rollback_branch(const struct config *cfg, const struct envelope *env)
{
	const char *v = envelope_data_string(env, "branch");

	return v != NULL ? v : cfg->base_branch;
}

int
handle_rollback_check(const struct config *cfg, const struct envelope *env,
    struct error *err)
{
	int rc;

	if ((rc = envelope_check_rollback(env, err)) < 0 ||
	    (rc = handler_ref_ok("refs/heads/",
	         handle_rollback_branch(cfg, env), "", "data.branch", err)) < 0)
		return rc;
	return handler_ref_ok("refs/tags/", envelope_data_string(env, "tag"),
	    "", "data.tag", err);
}

/* The branch it writes: never at once with a commit to that branch. */
char *
handle_rollback_key(const struct config *cfg, const struct envelope *env)
{
	return xasprintf("branch:%s", handle_rollback_branch(cfg, env));
}

void
handle_rollback(const struct handler_ctx *ctx, const struct handler_job *job,
    struct handler_result *res)
{
	const struct envelope *env = job->env;
	const char *tag = envelope_data_string(env, "tag");
	const char *branch = handle_rollback_branch(ctx->cfg, env);
	struct error err = { 0 };
	struct envelope *out;
	cJSON *data = NULL;
	struct store *st = NULL;
	int rc;

	/* A tag or branch that is not there (ERR_NOTFOUND) is the event's
	 * fault: the policy dead-letters it. */
	if (repos_get(ctx->repos, env->workflow_id, &st, &err) < 0) {
		handler_fail(res, job, &err);
		return;
	}
	rc = store_revert(st, &data, tag, branch, env->event_id, &err);
	repos_put(ctx->repos, st);
	if (rc < 0) {
		handler_fail(res, job, &err);
		return;
	}
	res->duplicate =
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(data, "duplicate"));
	out = envelope_reply(env, "ARTIFACT_REVERTED", NULL, data);
	handler_result_add(res, out);
	envelope_free(out);
	res->action = HANDLER_ACK;
	log_info("revert_done event_id=%s tag=%s branch=%s", env->event_id, tag,
	    branch);
}
