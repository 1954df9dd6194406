/*
 * handle_release_rollback.c - RELEASE_ROLLBACK_REQUESTED: take a release
 * back (publishers/unpublish.h) and, when data.delete_tag is true, its git
 * tag (store_tag_delete), and answer for it.
 *
 * The event's data: tag (required), package, targets, dry_run,
 * delete_tag. The answer is one RELEASE_ROLLED_BACK listing every item
 * per target ("removed", "unlisted", "absent", "manual" with the URL for
 * doing it by hand) when nothing failed - a second rollback finds
 * everything "absent" and is answered the same way - else one
 * RELEASE_ROLLBACK_FAILED (the row's failure type) with the error and the
 * same list, so what was removed before the failure is known. Bad input
 * (an unknown tag or target) is dead-lettered; a failure where every
 * cause is transient is retried (a rollback is idempotent); others are
 * answered and acknowledged. The key is the release's own ("release:TAG"),
 * so a rollback never runs beside a publish of the same tag.
 */
#include "worker/handle_release_rollback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "events/envelope.h"
#include "publishers/unpublish.h"
#include "store/store.h"
#include "worker/dispatch.h"
#include "worker/handler.h"

int
handle_release_rollback_check(const struct config *cfg,
    const struct envelope *env, struct error *err)
{
	const char *tag = envelope_data_string(env, "tag");

	(void)cfg;
	if (tag == NULL || tag[0] == '\0')
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "data.tag must be a non-empty string");
	return 0;
}

char *
handle_release_rollback_key(const struct config *cfg,
    const struct envelope *env)
{
	(void)cfg;
	return xasprintf("release:%s", envelope_data_string(env, "tag"));
}

cJSON *
rollback_json(const struct unpublish_result *r, cJSON *git_tag)
{
	cJSON *o = cJSON_CreateObject(), *a = cJSON_CreateArray();
	size_t i;

	cJSON_AddStringToObject(o, "tag", r->tag ? r->tag : "");
	if (r->package != NULL)
		cJSON_AddStringToObject(o, "package", r->package);
	if (r->version != NULL)
		cJSON_AddStringToObject(o, "version", r->version);
	cJSON_AddBoolToObject(o, "dry_run", r->dry_run);
	cJSON_AddBoolToObject(o, "complete", unpublish_complete(r));
	for (i = 0; i < r->n; i++) {
		const struct unpublish_item *it = &r->items[i];
		cJSON *x = cJSON_CreateObject();

		cJSON_AddStringToObject(x, "target", it->target);
		cJSON_AddStringToObject(x, "what", it->what);
		if (it->rc == 0) {
			cJSON_AddStringToObject(x, "status",
			    unpublish_status_name(it->status));
			if (it->url[0] != '\0')
				cJSON_AddStringToObject(x, "url", it->url);
			if (it->reason[0] != '\0')
				cJSON_AddStringToObject(x, "reason",
				    it->reason);
		} else {
			cJSON_AddStringToObject(x, "status", "failed");
			cJSON_AddItemToObject(x, "error",
			    handler_error_json(&it->err, it->rc,
			        error_retryable(it->rc)));
		}
		cJSON_AddItemToArray(a, x);
	}
	cJSON_AddItemToObject(o, "removed", a);
	if (git_tag != NULL)
		cJSON_AddItemToObject(o, "git_tag", git_tag);
	return o;
}

/* The event's optional boolean data[key]; ERR_INVALID when not a bool. */
static int
data_bool(bool *out, const struct envelope *env, const char *key,
    struct error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(env->data, key);

	*out = cJSON_IsTrue(v);
	if (v != NULL && !cJSON_IsBool(v))
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "data.%s must be true or false", key);
	return 0;
}

/* data.targets: an array of strings (borrowed) or absent. */
static int
data_targets(const char ***out, size_t *n, const struct envelope *env,
    struct error *err)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(env->data, "targets");
	const cJSON *x;

	*out = NULL;
	*n = 0;
	if (a == NULL || cJSON_IsNull(a))
		return 0;
	if (!cJSON_IsArray(a))
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "data.targets must be an array of strings");
	*out = xcalloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(**out));
	cJSON_ArrayForEach(x, a) {
		if (!cJSON_IsString(x))
			return error_set(err, ERR_INVALID, "INVALID_EVENT",
			    "data.targets must be an array of strings");
		(*out)[(*n)++] = x->valuestring;
	}
	return 0;
}

/* The git tag, when asked: NULL store (a repository template, no store
 * at hand) is a failure of its own. */
static int
rollback_tag(cJSON **out, struct store *st, const char *tag, bool dry,
    struct error *err)
{
	if (st == NULL)
		return error_set(err, ERR_FAIL, "TAG_DELETE",
		    "delete_tag: no store to delete the tag in");
	return store_tag_delete(st, tag, true, dry, out, err);
}

void
handle_release_rollback(const struct handler_ctx *ctx,
    const struct handler_job *job, struct handler_result *res)
{
	const struct envelope *env = job->env;
	struct unpublish_request req = { 0 };
	struct unpublish_result ur;
	struct release_config rc;
	struct handler_policy pol;
	struct error err;
	const char **targets = NULL;
	cJSON *data, *git_tag = NULL;
	bool del = false;
	int r;

	error_clear(&err);
	unpublish_result_init(&ur);
	handler_release_config(&rc, ctx->cfg);
	req.tag = envelope_data_string(env, "tag");
	req.package = envelope_data_string(env, "package");
	if ((r = data_bool(&req.dry_run, env, "dry_run", &err)) < 0 ||
	    (r = data_bool(&del, env, "delete_tag", &err)) < 0 ||
	    (r = data_targets(&targets, &req.ntargets, env, &err)) < 0)
		goto answer;
	req.targets = targets;
	log_info("rollback_event event_id=%s tag=%s dry_run=%s delete_tag=%s",
	    env->event_id, req.tag, log_bool(req.dry_run), log_bool(del));
	r = unpublish_run(&ur, &rc, &req, &err);
	/* The tag only once the targets hold nothing of the release: a
	 * failed rollback keeps the tag to retry from. */
	if (r == 0 && del)
		r = rollback_tag(&git_tag, ctx->store, req.tag, ur.dry_run,
		    &err);
answer:
	if (ur.tag == NULL)
		ur.tag = xstrdup(req.tag ? req.tag : "");
	pol = handler_policy(r);
	data = rollback_json(&ur, git_tag);
	res->action = pol.action;
	if (r != 0) {
		cJSON_AddItemToObject(data, "error",
		    handler_error_json(&err, r, pol.retryable));
		res->reason =
		    xasprintf("rollback %s: %s: %s", ur.tag, err.code, err.msg);
		log_warnx("rollback_failed event_id=%s code=%s error=\"%s\"",
		    env->event_id, err.code, err.msg);
	}
	{
		struct envelope *out = envelope_reply(env,
		    r == 0 ? "RELEASE_ROLLED_BACK" : job->type->failure_type,
		    "rollback", data);

		handler_result_add(res, out);
		envelope_free(out);
	}
	free(targets);
	unpublish_result_dispose(&ur);
	release_config_dispose(&rc);
}
