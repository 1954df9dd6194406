/*
 * handle_release_request.c - RELEASE_REQUESTED: make the next release of
 * a package from the Conventional Commits on a branch, push it, and hand
 * it to the publishing path.
 *
 * data: repository (optional: the daemon's own, its `repo` or its
 * `remote-url` as the config writes them; another repository is refused:
 * an event never chooses where the daemon writes and pushes; with a repo
 * template the workflow's store is used, as for commits), branch (optional:
 * base-branch), package (optional: tags "v*"), dry_run (optional), and,
 * passed on to the RELEASE_TAGGED, files and targets (optional).
 *
 * release_make (worker/release_req.c) computes the release, commits
 * CHANGELOG.md, creates the annotated tag and pushes both in one push;
 * a push that fails undoes them, so bad input leaves nothing behind. The
 * answer on the output stream is RELEASE_TAGGED (release_json's fields)
 * or the row's RELEASE_FAILED. Unless a dry run or nothing released, a
 * RELEASE_TAGGED {tag, package, notes, files, targets} is written to the
 * release stream in the same completion, and handle_release.c publishes
 * it (the GitHub release's body is data.notes; a package with `bundle`
 * also gets its ZIP). It is written only when there is something to
 * publish: files in the request or a bundling package. A redelivered
 * request finds its release made (duplicate) and creates no second tag;
 * its RELEASE_TAGGED carries the same event id.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/log.h"
#include "common/version.h"
#include "common/xalloc.h"
#include "events/envelope.h"
#include "store/history.h"
#include "worker/handler.h"
#include "worker/release_req.h"
#include "worker/repos.h"

/* data.branch, or the base branch when the event names none. */
static const char *
request_branch(const struct config *cfg, const struct envelope *env)
{
	const char *v = envelope_data_string(env, "branch");

	return v != NULL ? v : cfg->base_branch;
}

/* data[key] absent, or of the kind is_kind accepts. */
static int
check_member(const struct envelope *env, const char *key,
    cJSON_bool (*is_kind)(const cJSON *), const char *what, struct error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(env->data, key);

	if (v == NULL || cJSON_IsNull(v) || is_kind(v))
		return 0;
	return error_set(err, ERR_INVALID, "INVALID_EVENT",
	    "data.%s must be %s", key, what);
}

int
handle_release_request_check(const struct config *cfg,
    const struct envelope *env, struct error *err)
{
	const char *repo = envelope_data_string(env, "repository");
	const char *package = envelope_data_string(env, "package");
	char prefix[VERSION_MAX];
	int rc;

	if ((rc = check_member(env, "repository", cJSON_IsString, "a string",
	         err)) < 0 ||
	    (rc = check_member(env, "branch", cJSON_IsString, "a string",
	         err)) < 0 ||
	    (rc = check_member(env, "package", cJSON_IsString, "a string",
	         err)) < 0 ||
	    (rc = check_member(env, "dry_run", cJSON_IsBool, "true or false",
	         err)) < 0 ||
	    (rc = check_member(env, "files", cJSON_IsArray, "an array of paths",
	         err)) < 0 ||
	    (rc = check_member(env, "targets", cJSON_IsArray,
	         "an array of target names", err)) < 0)
		return rc;
	/* One store per daemon: its repository, named by path or URL. */
	if (repo != NULL && strcmp(repo, cfg->repo) != 0 &&
	    (cfg->remote_url == NULL || strcmp(repo, cfg->remote_url) != 0))
		return error_set(err, ERR_NOTFOUND, "REPOSITORY_NOT_FOUND",
		    "data.repository is not this daemon's repository (repo "
		    "or remote-url); one daemon releases from its own store");
	if ((rc = handler_ref_ok("refs/heads/", request_branch(cfg, env), "",
	         "data.branch", err)) < 0)
		return rc;
	return release_prefix(prefix, sizeof(prefix), cfg, package, err);
}

/* The branch it writes: never at once with a commit to that branch. */
char *
handle_release_request_key(const struct config *cfg, const struct envelope *env)
{
	return xasprintf("branch:%s", request_branch(cfg, env));
}

/* The RELEASE_TAGGED for the publishing path, on the release stream;
 * only when there is something to publish. Returns whether it was. */
static bool
forward_tagged(struct handler_result *res, const struct config *cfg,
    const struct envelope *env, const struct store_release_result *r)
{
	const char *package = envelope_data_string(env, "package");
	const cJSON *files =
	    cJSON_GetObjectItemCaseSensitive(env->data, "files");
	const cJSON *targets =
	    cJSON_GetObjectItemCaseSensitive(env->data, "targets");
	const struct config_package *p =
	    release_package_of(cfg, package, r->tag);
	struct envelope *out;
	cJSON *data;

	if (cJSON_GetArraySize(files) == 0 && (p == NULL || !p->bundle))
		return false;
	data = cJSON_CreateObject();
	cJSON_AddStringToObject(data, "tag", r->tag);
	if (package != NULL)
		cJSON_AddStringToObject(data, "package", package);
	cJSON_AddStringToObject(data, "version", r->version);
	cJSON_AddStringToObject(data, "commit_sha", r->commit_sha);
	cJSON_AddStringToObject(data, "notes", r->notes ? r->notes : "");
	cJSON_AddItemToObject(data, "files",
	    files != NULL ? cJSON_Duplicate(files, 1) : cJSON_CreateArray());
	if (cJSON_IsArray(targets))
		cJSON_AddItemToObject(data, "targets",
		    cJSON_Duplicate(targets, 1));
	out = envelope_reply(env, "RELEASE_TAGGED", "publish", data);
	handler_result_forward(res, out, cfg->release_stream);
	envelope_free(out);
	return true;
}

void
handle_release_request(const struct handler_ctx *ctx,
    const struct handler_job *job, struct handler_result *res)
{
	const struct config *cfg = ctx->cfg;
	const struct envelope *env = job->env;
	const char *package = envelope_data_string(env, "package");
	struct store_release_req req = { 0 };
	struct store_release_result r;
	struct store *st = NULL;
	struct error err = { 0 };
	struct envelope *out;
	char prefix[VERSION_MAX];
	bool pushed, forwarded = false;
	cJSON *data;

	req.branch = request_branch(cfg, env);
	req.tag_prefix = prefix;
	req.rules = release_rules(cfg, package);
	req.dry_run = cJSON_IsTrue(
	    cJSON_GetObjectItemCaseSensitive(env->data, "dry_run"));
	/* The workflow's store: the one, or its own with a repo template. */
	if (release_prefix(prefix, sizeof(prefix), cfg, package, &err) < 0 ||
	    repos_get(ctx->repos, env->workflow_id, &st, &err) < 0 ||
	    release_make(st, &req, &r, &pushed, &err) < 0) {
		if (st != NULL)
			repos_put(ctx->repos, st);
		log_warnx("release_request_failed event_id=%s branch=%s "
		          "code=%s error=\"%s\"",
		    env->event_id, req.branch, err.code, err.msg);
		handler_fail(res, job, &err);
		return;
	}
	repos_put(ctx->repos, st);
	data = release_json(&r, req.dry_run, pushed);
	cJSON_AddStringToObject(data, "branch", req.branch);
	if (package != NULL)
		cJSON_AddStringToObject(data, "package", package);
	if (!req.dry_run && r.tag != NULL)
		forwarded = forward_tagged(res, cfg, env, &r);
	cJSON_AddBoolToObject(data, "publish_requested", forwarded);
	res->duplicate = r.duplicate;
	out = envelope_reply(env, "RELEASE_TAGGED", NULL, data);
	handler_result_add(res, out);
	envelope_free(out);
	res->action = HANDLER_ACK;
	log_info("release_request_done event_id=%s branch=%s bump=%s tag=%s "
	         "duplicate=%s pushed=%s",
	    env->event_id, req.branch, version_bump_name(r.bump),
	    r.tag ? r.tag : "", log_bool(r.duplicate), log_bool(pushed));
	store_release_result_dispose(&r);
}
