/*
 * handle_commit.c - TEST_PASSED: commit the event's artifacts and answer
 * ARTIFACT_COMMITTED (or the row's ARTIFACT_COMMIT_FAILED).
 *
 * The checks (envelope_check_test_passed, and every ref name the event
 * would make) run on the loop thread before anything is written; the
 * work runs on a handler thread: artifacts_collect resolves and reads the
 * files inside the artifacts root, store_commit writes the commit, the
 * tags and the trailers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "events/envelope.h"
#include "store/store.h"
#include "worker/artifacts.h"
#include "worker/handler.h"
#include "worker/repos.h"

/*
 * Every ref name the event would create or move, checked before any
 * write. The corr_/prompt_ prefixes are letters, so the check holds also
 * when the id already carries one.
 */
int
handle_commit_check(const struct config *cfg, const struct envelope *env,
    struct error *err)
{
	const char *v;
	char *branch;
	int rc;

	if ((rc = envelope_check_test_passed(env, cfg->require_correlation_id,
	         err)) < 0)
		return rc;
	branch = xasprintf("%s/%s/", cfg->branch_prefix, env->workflow_id);
	rc = handler_ref_ok("refs/heads/", branch, env->task_id,
	    "workflow_id/task_id", err);
	free(branch);
	if (rc < 0)
		return rc;
	if (env->correlation_id != NULL &&
	    (rc = handler_ref_ok("refs/tags/corr_", env->correlation_id, "",
	         "correlation_id", err)) < 0)
		return rc;
	if ((v = envelope_data_string(env, "prompt_hash")) != NULL &&
	    (rc = handler_ref_ok("refs/tags/prompt_", v, "", "prompt_hash",
	         err)) < 0)
		return rc;
	return 0;
}

/* The task's branch: commits of one task never run at once. */
char *
handle_commit_key(const struct config *cfg, const struct envelope *env)
{
	return xasprintf("branch:%s/%s/%s", cfg->branch_prefix,
	    env->workflow_id, env->task_id);
}

static cJSON *
handler_string_array(char *const *v, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
	return a;
}

static const char *
handler_opt_string(const cJSON *data, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The keys of data that are ours; everything else is extra metadata. */
static bool
handler_known_key(const char *k)
{
	static const char *known[] = { "artifacts", "files", "metrics",
		"prompt_hash", "agent_version", "llm_version", NULL };
	size_t i;

	for (i = 0; known[i] != NULL; i++)
		if (strcmp(k, known[i]) == 0)
			return true;
	return false;
}

void
handle_commit(const struct handler_ctx *ctx, const struct handler_job *job,
    struct handler_result *res)
{
	const struct config *cfg = ctx->cfg;
	const struct envelope *env = job->env;
	struct store_commit_result cr = { 0 };
	struct store_commit_req req = { 0 };
	struct artifact_set set = { 0 };
	struct error err = { 0 };
	struct envelope *out;
	struct store *st = NULL;
	cJSON *extra = cJSON_CreateObject(), *data, *item;
	int64_t t0 = util_mono_ms();
	int rc;

	if ((rc = artifacts_collect(&set, env->data, cfg->artifacts_root,
	         (size_t)cfg->max_file_bytes,
	         (size_t)cfg->max_event_files_bytes, &err)) < 0 ||
	    (rc = artifacts_add_strategy(&set, cfg->strategy_path,
	         env->workflow_id, env->task_id, cfg->artifacts_root,
	         (size_t)cfg->max_file_bytes,
	         (size_t)cfg->max_event_files_bytes, &err)) < 0) {
		handler_fail(res, job, &err);
		goto out;
	}
	cJSON_ArrayForEach(item, env->data) {
		if (!handler_known_key(item->string))
			cJSON_AddItemToObject(extra, item->string,
			    cJSON_Duplicate(item, 1));
	}
	req.event_id = env->event_id;
	req.workflow_id = env->workflow_id;
	req.task_id = env->task_id;
	req.correlation_id = env->correlation_id;
	req.prompt_hash = handler_opt_string(env->data, "prompt_hash");
	req.agent_version = handler_opt_string(env->data, "agent_version");
	req.llm_version = handler_opt_string(env->data, "llm_version");
	req.test_metrics =
	    cJSON_GetObjectItemCaseSensitive(env->data, "metrics");
	req.extra = extra;
	req.trace_id = job->trace.trace_id[0] ? job->trace.trace_id : NULL;
	req.files = set.files;
	req.nfiles = set.nfiles;
	/* The workflow's repository (the one, or its own with a template):
	 * a workflow_id that cannot name one is refused (PATH_REJECTED). */
	if ((rc = repos_get(ctx->repos, env->workflow_id, &st, &err)) < 0) {
		log_warnx("commit_failed event_id=%s code=%s msg=\"%s\"",
		    env->event_id, err.code, err.msg);
		handler_fail(res, job, &err);
		goto out;
	}
	rc = store_commit(st, &req, &cr, &err);
	repos_put(ctx->repos, st);
	if (rc < 0) {
		log_warnx("commit_failed event_id=%s code=%s msg=\"%s\"",
		    env->event_id, err.code, err.msg);
		handler_fail(res, job, &err);
		goto out;
	}
	data = cJSON_CreateObject();
	cJSON_AddStringToObject(data, "branch", cr.branch);
	cJSON_AddStringToObject(data, "commit_sha", cr.commit_sha);
	cJSON_AddItemToObject(data, "tags",
	    handler_string_array(cr.tags, cr.ntags));
	if (cr.ntags_existing > 0)
		cJSON_AddItemToObject(data, "tags_existing",
		    handler_string_array(cr.tags_existing, cr.ntags_existing));
	cJSON_AddBoolToObject(data, "pushed", cr.pushed);
	cJSON_AddStringToObject(data, "push", store_push_name(cr.push));
	cJSON_AddItemToObject(data, "files",
	    handler_string_array(cr.files, cr.nfiles));
	cJSON_AddBoolToObject(data, "duplicate", cr.duplicate);
	out = envelope_reply(env, "ARTIFACT_COMMITTED", NULL, data);
	handler_result_add(res, out);
	envelope_free(out);
	res->action = HANDLER_ACK;
	res->duplicate = cr.duplicate;
	log_info("commit_done event_id=%s branch=%s sha=%s duplicate=%s "
	         "push=%s files=%zu ms=%lld",
	    env->event_id, cr.branch, cr.commit_sha, log_bool(cr.duplicate),
	    store_push_name(cr.push), set.nfiles,
	    (long long)(util_mono_ms() - t0));
out:
	store_commit_result_dispose(&cr);
	artifacts_dispose(&set);
	cJSON_Delete(extra);
}
