/*
 * handle_release.c - RELEASE_TAGGED: publish a release and answer for it.
 *
 * The glue between the bus and the release core (publishers/release.h):
 * the event's data (tag, files, package, targets, dry_run) and the
 * configured targets and packages become a release request; the outcome
 * of every file x target becomes one PACKAGE_PUBLISHED or the row's
 * failure type (PUBLISH_FAILED), and a release that fully succeeded ends
 * with RELEASE_PUBLISHED. What happens to the event is handler_policy's
 * answer to one code: the release core's own when nothing was attempted
 * (bad input - unknown tag, a file outside the artifacts root, a wheel
 * whose metadata disagrees with the tag - is dead-lettered at once);
 * once targets were tried, ERR_TRANSIENT when every failure is transient
 * (5xx, 429, network: retried - the publishers are idempotent, so a
 * retry uploads nothing twice), else ERR_FAIL (CONFLICT, AUTH, a refused
 * target URL: answered file by file and acknowledged).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "events/envelope.h"
#include "publishers/release.h"
#include "worker/dispatch.h"
#include "worker/handler.h"
#include "worker/metrics.h"
#include "worker/release_provenance.h"
#include "worker/release_req.h"
#include "worker/scan_gate.h"

int
handle_release_check(const struct config *cfg, const struct envelope *env,
    struct error *err)
{
	/* The tag names a release; no ref is written. A package with a
	 * bundle needs no files. */
	return release_tagged_check(cfg, env, err);
}

/* One release of a tag at a time: two runs would race for its assets. */
char *
handle_release_key(const struct config *cfg, const struct envelope *env)
{
	(void)cfg;
	return xasprintf("release:%s", envelope_data_string(env, "tag"));
}

int
handler_release_config(struct release_config *out, const struct config *cfg)
{
	size_t i, j;

	release_config_init(out);
	for (i = 0; i < cfg->ntargets; i++) {
		const struct config_target *ct = &cfg->targets[i];
		struct release_target *t = release_config_add_target(out,
		    ct->name, ct->type ? ct->type : "");

		for (j = 0; j < ct->nkv; j++)
			release_target_set(t, ct->kv[j].key, ct->kv[j].value);
	}
	for (i = 0; i < cfg->npackages; i++) {
		const struct config_package *cp = &cfg->packages[i];
		struct release_package *p =
		    release_config_add_package(out, cp->name);

		for (j = 0; j < cp->ntag_patterns; j++)
			release_package_add_pattern(p, cp->tag_patterns[j]);
		for (j = 0; j < cp->ntargets; j++)
			release_package_add_target(p, cp->targets[j]);
	}
	out->env = &cfg->publish_env; /* borrowed: cfg outlives the run */
	release_config_env_defaults(out);
	out->artifacts_root = xstrdup(cfg->artifacts_root);
	out->dry_run = cfg->dry_run;
	return 0;
}

/* data.error = {code, message, retryable}, as envelope_failure builds it;
 * built here so that each failure gets its own salt (event id).
 * retryable is what the loop does with the whole release. */
static void
add_error(cJSON *data, const struct error *err, bool retryable)
{
	cJSON_AddItemToObject(data, "error",
	    handler_error_json(err, err->rc, retryable));
}

static void
emit(struct handler_result *res, const struct envelope *in, const char *type,
    const char *salt, cJSON *data)
{
	struct envelope *out = envelope_reply(in, type, salt, data);

	handler_result_add(res, out);
	envelope_free(out);
}

static void
add_common(cJSON *data, const struct release_result *r)
{
	cJSON_AddStringToObject(data, "tag", r->tag ? r->tag : "");
	if (r->package != NULL)
		cJSON_AddStringToObject(data, "package", r->package);
	if (r->version != NULL)
		cJSON_AddStringToObject(data, "version", r->version);
	cJSON_AddBoolToObject(data, "dry_run", r->dry_run);
}

/* The string array data[key] into a new array of borrowed strings, or
 * ERR_INVALID. */
static int
string_array(const cJSON *data, const char *key, const char ***out, size_t *n,
    struct error *err)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(data, key), *x;
	const char **v = NULL;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (a == NULL || cJSON_IsNull(a))
		return 0;
	if (!cJSON_IsArray(a))
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "data.%s must be an array of strings", key);
	v = xcalloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(*v));
	cJSON_ArrayForEach(x, a) {
		if (!cJSON_IsString(x)) {
			free(v);
			return error_set(err, ERR_INVALID, "INVALID_EVENT",
			    "data.%s must be an array of strings", key);
		}
		v[k++] = x->valuestring;
	}
	*out = v;
	*n = k;
	return 0;
}

/* RELEASE_PUBLISHED: every file reached every target. */
static void
published(struct handler_result *res, const struct envelope *env,
    const struct release_result *rr, bool all_present)
{
	cJSON *data = cJSON_CreateObject(), *fa = cJSON_CreateArray(),
	      *ta = cJSON_CreateArray();
	size_t i, j;

	add_common(data, rr);
	for (i = 0; i < rr->nfiles; i++)
		cJSON_AddItemToArray(fa, cJSON_CreateString(rr->files[i]));
	/* Targets in the order they were run, once each. */
	for (i = 0; i < rr->n; i++) {
		bool seen = false;

		for (j = 0; j < i && !seen; j++)
			seen = strcmp(rr->items[j].target,
			           rr->items[i].target) == 0;
		if (!seen)
			cJSON_AddItemToArray(ta,
			    cJSON_CreateString(rr->items[i].target));
	}
	cJSON_AddItemToObject(data, "files", fa);
	cJSON_AddItemToObject(data, "targets", ta);
	cJSON_AddBoolToObject(data, "duplicate", all_present);
	emit(res, env, "RELEASE_PUBLISHED", NULL, data);
}

/*
 * release_run, after adding the provenance of the release to its files
 * when a signing key is configured (release_provenance.h): built from
 * the event (id, timestamp, data.commit_sha) and the files alone, so a
 * redelivered or retried event publishes the same bytes.
 */
static int
run_release(struct release_result *rr, const struct handler_ctx *ctx,
    const struct envelope *env, const struct release_config *rc,
    struct release_request *req, struct error *err)
{
	struct release_prov_in pin = { env->event_id, env->timestamp,
		envelope_data_string(env, "commit_sha") };
	struct release_prov prov;
	const char *const *files = req->files;
	size_t nfiles = req->nfiles;
	int r;

	if ((r = release_provenance_add(&prov, ctx->cfg, rc, req, &pin, err)) ==
	    0)
		r = release_run(rr, rc, req, err);
	if (r == 0)
		r = release_provenance_check(&prov, rr, err);
	release_provenance_dispose(&prov);
	req->files = files;
	req->nfiles = nfiles;
	return r;
}

void
handle_release(const struct handler_ctx *ctx, const struct handler_job *job,
    struct handler_result *res)
{
	const struct envelope *env = job->env;
	const char *failed = job->type->failure_type;
	struct handler_policy pol;
	struct release_config rc;
	struct release_request req = { 0 };
	struct release_result rr;
	struct release_bundle bundle = { 0 };
	struct error err;
	const char **files = NULL, **targets = NULL;
	char *notes = NULL;
	const cJSON *dry;
	cJSON *data;
	bool all_present = true;
	size_t i;
	int r;

	error_clear(&err);
	release_result_init(&rr);
	handler_release_config(&rc, ctx->cfg);
	scan_gate_attach(&rc, ctx->scanner);
	req.tag = envelope_data_string(env, "tag");
	req.package = envelope_data_string(env, "package");
	dry = cJSON_GetObjectItemCaseSensitive(env->data, "dry_run");
	req.dry_run = cJSON_IsTrue(dry);
	if (dry != NULL && !cJSON_IsBool(dry)) {
		r = error_set(&err, ERR_INVALID, "INVALID_EVENT",
		    "data.dry_run must be true or false");
		goto failed;
	}
	if ((r = string_array(env->data, "files", &files, &req.nfiles, &err)) <
	        0 ||
	    (r = string_array(env->data, "targets", &targets, &req.ntargets,
	         &err)) < 0)
		goto failed;
	req.files = files;
	req.targets = targets;
	/* GitHub's body (data.notes, else the tag's message); a bundle. */
	notes = release_notes_for(ctx->repos, env);
	release_notes_set(&rc, notes);
	if ((r = release_bundle_add(&bundle, ctx->cfg, ctx->repos, env, &req,
	         &err)) < 0)
		goto failed;
	log_info("release_event event_id=%s tag=%s files=%zu dry_run=%s",
	    env->event_id, req.tag ? req.tag : "", req.nfiles,
	    log_bool(req.dry_run));
	r = run_release(&rr, ctx, env, &rc, &req, &err);
	if (r < 0 && rr.n == 0)
		goto failed;
	/* Targets were tried: files may be published already, so the
	 * event is no longer bad input; it failed for good unless every
	 * failure is transient. */
	pol = handler_policy(r < 0 && r != ERR_TRANSIENT ? ERR_FAIL : r);
	for (i = 0; i < rr.n; i++) {
		const struct release_item *it = &rr.items[i];
		char *salt = xasprintf("%s\n%s", it->target, it->file);

		/* A skipped file (a plain asset on a package index) was
		 * not published: no metric. */
		if (!rr.dry_run && it->outcome.status != PUBLISH_SKIPPED)
			metrics_publish(it->target, it->rc, it->bytes,
			    it->seconds);

		data = cJSON_CreateObject();
		add_common(data, &rr);
		cJSON_AddStringToObject(data, "target", it->target);
		cJSON_AddStringToObject(data, "file", it->file);
		if (it->rc == 0) {
			cJSON_AddStringToObject(data, "url", it->outcome.url);
			cJSON_AddStringToObject(data, "sha256", it->sha256);
			cJSON_AddStringToObject(data, "status",
			    release_status_name(it->outcome.status));
			cJSON_AddBoolToObject(data, "verified",
			    it->outcome.verified);
			if (it->outcome.reason[0] != '\0')
				cJSON_AddStringToObject(data, "reason",
				    it->outcome.reason);
			if (it->outcome.status != PUBLISH_ALREADY_PRESENT &&
			    it->outcome.status != PUBLISH_SKIPPED)
				all_present = false;
			emit(res, env, "PACKAGE_PUBLISHED", salt, data);
		} else {
			all_present = false;
			if (it->sha256[0] != '\0')
				cJSON_AddStringToObject(data, "sha256",
				    it->sha256);
			add_error(data, &it->err, pol.retryable);
			emit(res, env, failed, salt, data);
		}
		free(salt);
	}
	if (r == 0) {
		res->duplicate = all_present;
		published(res, env, &rr, all_present);
	} else {
		res->reason = xasprintf("release %s: %s", rr.tag, err.msg);
	}
	res->action = pol.action;
	goto out;
failed:
	/* Nothing was attempted: one answer for the whole release. */
	if (rr.tag == NULL && req.tag != NULL)
		rr.tag = xstrdup(req.tag);
	data = cJSON_CreateObject();
	add_common(data, &rr);
	cJSON_AddStringToObject(data, "target", "");
	cJSON_AddStringToObject(data, "file", "");
	pol = handler_policy(r);
	add_error(data, &err, pol.retryable);
	emit(res, env, failed, "release", data);
	res->reason = xasprintf("%s: %s", err.code, err.msg);
	res->action = pol.action;
	log_warnx("release_failed event_id=%s code=%s error=\"%s\"",
	    env->event_id, err.code, err.msg);
out:
	release_bundle_dispose(&bundle);
	free(notes);
	free(files);
	free(targets);
	release_result_dispose(&rr);
	release_config_dispose(&rc);
}
