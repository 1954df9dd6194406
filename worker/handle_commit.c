/*
 * handlers.c - route an input event to its handler and shape the answer.
 *
 * TEST_PASSED commits (store_commit), ROLLBACK_REQUESTED reverts
 * (store_revert), RELEASE_TAGGED publishes (handle_release.c). Other event
 * types on our streams (TEST_FAILED, ...) are not ours: they are skipped
 * and acknowledged without an answer, as the seed's orchestrator did.
 */
#include "worker/handler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "events/envelope.h"
#include "store/store.h"
#include "worker/artifacts.h"

void
handler_result_add(struct handler_result *res, char *json)
{
	res->events =
	    xrealloc(res->events, (res->nevents + 1) * sizeof(*res->events));
	res->events[res->nevents++] = json;
}

void
handler_result_dispose(struct handler_result *res)
{
	size_t i;

	for (i = 0; i < res->nevents; i++)
		free(res->events[i]);
	free(res->events);
	free(res->reason);
	free(res->event_id);
	free(res->event_type);
	memset(res, 0, sizeof(*res));
}

void
handler_job_free(struct handler_job *job)
{
	if (job == NULL)
		return;
	envelope_free(job->env);
	free(job->stream);
	free(job->key);
	free(job);
}

const char *
handler_failure_type(const struct config *cfg, const char *stream,
    const char *event_type)
{
	if (event_type != NULL) {
		if (strcmp(event_type, "RELEASE_TAGGED") == 0)
			return "PUBLISH_FAILED";
		if (strcmp(event_type, "ROLLBACK_REQUESTED") == 0)
			return "ARTIFACT_REVERT_FAILED";
		if (strcmp(event_type, "TEST_PASSED") == 0)
			return "ARTIFACT_COMMIT_FAILED";
	}
	if (stream != NULL && strcmp(stream, cfg->release_stream) == 0)
		return "PUBLISH_FAILED";
	return "ARTIFACT_COMMIT_FAILED";
}

/* Answer a failure: the event, the action, the reason. */
static void
handler_fail(struct handler_result *res, const struct envelope *env,
    const char *type, const struct error *err)
{
	/* One decision for what the loop does and what the answer says:
	 * ERR_TRANSIENT and ERR_FAIL (lock contention, I/O, a full disk,
	 * libgit2) are retried, so the answer written after the last
	 * attempt says retryable: true; bad input is dead-lettered at
	 * once and says false. */
	bool retry = err->rc == ERR_TRANSIENT || err->rc == ERR_FAIL;
	struct envelope *out = envelope_failure(env, type, err, retry, NULL);

	handler_result_add(res, envelope_to_json(out));
	envelope_free(out);
	res->action = retry ? HANDLER_RETRY : HANDLER_DEAD_LETTER;
	free(res->reason);
	res->reason = xasprintf("%s: %s", err->code, err->msg);
}

/* Is `name` a ref git accepts? (the ids of an event become ref names) */
static int
handler_ref_ok(const char *kind, const char *a, const char *b, const char *what,
    struct error *err)
{
	char *ref = xasprintf("%s%s%s", kind, a, b);
	bool ok = store_ref_name_ok(ref);

	free(ref);
	if (ok)
		return 0;
	return error_set(err, ERR_INVALID, "INVALID_EVENT",
	    "%s does not make a valid git ref name (git's rules, at most "
	    "%d bytes, components of at most %d)",
	    what, STORE_REF_NAME_MAX, STORE_REF_COMPONENT_MAX);
}

/*
 * Every ref name the event would create or move, checked before any
 * write: a name git refuses would fail after the commit object exists
 * and look like a transient libgit2 error. The corr_/prompt_ prefixes are
 * letters, so the check holds also when the id already carries one.
 */
static int
handler_check_refs(const struct config *cfg, const struct envelope *env,
    struct error *err)
{
	const char *type = env->event_type, *v;
	char *branch;
	int rc;

	if (strcmp(type, "ROLLBACK_REQUESTED") == 0) {
		v = envelope_data_string(env, "branch");
		if ((rc = handler_ref_ok("refs/heads/",
		         v != NULL ? v : cfg->base_branch, "", "data.branch",
		         err)) < 0)
			return rc;
		return handler_ref_ok("refs/tags/",
		    envelope_data_string(env, "tag"), "", "data.tag", err);
	}
	if (strcmp(type, "RELEASE_TAGGED") == 0)
		return 0; /* the tag names a release; no ref is written */
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

int
handler_prepare(const struct handler_ctx *ctx, struct handler_job **job,
    const char *stream, const char *json, size_t len,
    const char *field_event_id, struct handler_result *res)
{
	const struct config *cfg = ctx->cfg;
	struct envelope *env = NULL;
	struct handler_job *j;
	struct error err = { 0 };
	const char *type;
	int rc;

	memset(res, 0, sizeof(*res));
	if (json == NULL) {
		error_set(&err, ERR_INVALID, "INVALID_EVENT",
		    "stream entry has no 'event' field");
		rc = ERR_INVALID;
		goto bad;
	}
	if ((rc = envelope_parse(&env, json, len, &err)) < 0)
		goto bad;
	/* The plain stream field is checked as the envelope's own fields
	 * are: it is logged and echoed in the answer. */
	if (field_event_id != NULL && env->event_id_derived &&
	    envelope_id_ok(field_event_id, strlen(field_event_id)))
		envelope_set_event_id(env, field_event_id);
	res->event_id = xstrdup(env->event_id);
	res->event_type = xstrdup(env->event_type);
	type = env->event_type;
	if (strcmp(type, "TEST_PASSED") == 0 ||
	    (!cfg->require_test_passed && strncmp(type, "TEST_", 5) == 0 &&
	        strcmp(stream, cfg->test_stream) == 0)) {
		rc = envelope_check_test_passed(env,
		    cfg->require_correlation_id, &err);
	} else if (strcmp(type, "ROLLBACK_REQUESTED") == 0) {
		rc = envelope_check_rollback(env, &err);
	} else if (strcmp(type, "RELEASE_TAGGED") == 0) {
		rc = envelope_check_release(env, &err);
	} else {
		res->action = HANDLER_SKIP;
		res->reason = xasprintf("event type %s is not handled", type);
		envelope_free(env);
		*job = NULL;
		return ERR_NOTFOUND;
	}
	if (rc < 0 || (rc = handler_check_refs(cfg, env, &err)) < 0)
		goto bad;
	j = xcalloc(1, sizeof(*j));
	j->stream = xstrdup(stream);
	if (strcmp(type, "RELEASE_TAGGED") == 0)
		j->key =
		    xasprintf("release:%s", envelope_data_string(env, "tag"));
	else if (strcmp(type, "ROLLBACK_REQUESTED") == 0)
		j->key = xasprintf("branch:%s",
		    envelope_data_string(env, "branch")
		        ? envelope_data_string(env, "branch")
		        : cfg->base_branch);
	else
		j->key = xasprintf("branch:%s/%s/%s", cfg->branch_prefix,
		    env->workflow_id, env->task_id);
	j->env = env;
	*job = j;
	return 0;
bad:
	if (env == NULL) {
		/* Nothing parsed: answer from what the entry itself gives. */
		char id[64];

		env = envelope_new("UNPARSEABLE");
		if (field_event_id != NULL &&
		    envelope_id_ok(field_event_id, strlen(field_event_id))) {
			envelope_set_event_id(env, field_event_id);
		} else {
			char hex[UTIL_SHA256_HEX];

			util_sha256_hex(hex, json ? json : "", json ? len : 0);
			snprintf(id, sizeof(id), "sha256-%.32s", hex);
			envelope_set_event_id(env, id);
		}
		free(res->event_id);
		res->event_id = xstrdup(env->event_id);
	}
	err.rc = ERR_INVALID; /* bad input is never retried */
	handler_fail(res, env,
	    handler_failure_type(cfg, stream, res->event_type), &err);
	envelope_free(env);
	*job = NULL;
	return rc < 0 ? rc : ERR_INVALID;
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
handler_test_passed(const struct handler_ctx *ctx, const struct envelope *env,
    struct handler_result *res)
{
	const struct config *cfg = ctx->cfg;
	struct store_commit_result cr = { 0 };
	struct store_commit_req req = { 0 };
	struct artifact_set set = { 0 };
	struct error err = { 0 };
	struct envelope *out;
	cJSON *extra = cJSON_CreateObject(), *data, *item;
	int64_t t0 = util_mono_ms();
	int rc;

	if ((rc = artifacts_collect(&set, env->data, cfg->artifacts_root,
	         (size_t)cfg->max_file_bytes,
	         (size_t)cfg->max_event_files_bytes, &err)) < 0) {
		handler_fail(res, env, "ARTIFACT_COMMIT_FAILED", &err);
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
	req.files = set.files;
	req.nfiles = set.nfiles;
	if ((rc = store_commit(ctx->store, &req, &cr, &err)) < 0) {
		log_warnx("commit_failed event_id=%s code=%s msg=\"%s\"",
		    env->event_id, err.code, err.msg);
		handler_fail(res, env, "ARTIFACT_COMMIT_FAILED", &err);
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
	cJSON_AddItemToObject(data, "files",
	    handler_string_array(cr.files, cr.nfiles));
	cJSON_AddBoolToObject(data, "duplicate", cr.duplicate);
	out = envelope_reply(env, "ARTIFACT_COMMITTED", NULL, data);
	handler_result_add(res, envelope_to_json(out));
	envelope_free(out);
	res->action = HANDLER_ACK;
	res->duplicate = cr.duplicate;
	log_info("commit_done event_id=%s branch=%s sha=%s duplicate=%s "
	         "pushed=%s files=%zu ms=%lld",
	    env->event_id, cr.branch, cr.commit_sha,
	    cr.duplicate ? "true" : "false", cr.pushed ? "true" : "false",
	    set.nfiles, (long long)(util_mono_ms() - t0));
out:
	store_commit_result_dispose(&cr);
	artifacts_dispose(&set);
	cJSON_Delete(extra);
}

void
handler_rollback(const struct handler_ctx *ctx, const struct envelope *env,
    struct handler_result *res)
{
	const char *tag = envelope_data_string(env, "tag");
	const char *branch = envelope_data_string(env, "branch");
	struct error err = { 0 };
	struct envelope *out;
	cJSON *data = NULL;
	int rc;

	if (branch == NULL)
		branch = ctx->cfg->base_branch;
	rc = store_revert(ctx->store, &data, tag, branch, env->event_id, &err);
	if (rc < 0) {
		if (rc == ERR_NOTFOUND)
			err.rc = ERR_INVALID; /* retrying will not help */
		handler_fail(res, env, "ARTIFACT_REVERT_FAILED", &err);
		return;
	}
	res->duplicate =
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(data, "duplicate"));
	out = envelope_reply(env, "ARTIFACT_REVERTED", NULL, data);
	handler_result_add(res, envelope_to_json(out));
	envelope_free(out);
	res->action = HANDLER_ACK;
	log_info("revert_done event_id=%s tag=%s branch=%s", env->event_id, tag,
	    branch);
}

#ifdef ARTIFACTD_TEST_HOOKS
/* Test builds only: crash on one chosen event, to prove that a handler
 * that kills the process ends in the dead-letter stream. */
static void
handler_test_crash(const struct envelope *env)
{
	const char *id = getenv("ARTIFACTD_TEST_CRASH_ON");

	if (id != NULL && strcmp(id, env->event_id) == 0)
		abort();
}
#endif

void
handler_run(const struct handler_ctx *ctx, const struct handler_job *job,
    struct handler_result *res)
{
	const char *type = job->env->event_type;

	if (res->event_id == NULL)
		res->event_id = xstrdup(job->env->event_id);
	if (res->event_type == NULL)
		res->event_type = xstrdup(type);
#ifdef ARTIFACTD_TEST_HOOKS
	handler_test_crash(job->env);
#endif
	if (strcmp(type, "RELEASE_TAGGED") == 0)
		handler_release(ctx, job->env, res);
	else if (strcmp(type, "ROLLBACK_REQUESTED") == 0)
		handler_rollback(ctx, job->env, res);
	else
		handler_test_passed(ctx, job->env, res);
}
