/*
 * unpublish_codeartifact.c - roll a release back on AWS CodeArtifact, as
 * seed 001 does with `aws codeartifact delete-package-versions`:
 * DeletePackageVersions of the tag's version, or, with the target setting
 * `unpublish: unlist` (teams whose policy forbids deleting),
 * UpdatePackageVersionsStatus to Unlisted. Both are one SigV4-signed POST
 * (service "codeartifact") with domain, domain-owner, repository,
 * format=pypi and the package in the query and {"versions": [V]} (plus
 * "targetStatus") as the JSON body, shapes as in botocore's model. A
 * version CodeArtifact reports NOT_FOUND, or a package it does not know
 * (404), is "absent": the rollback is idempotent. A dry run signs the
 * call and sends nothing.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/secret.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "publishers/aws_creds.h"
#include "publishers/http.h"
#include "publishers/sigv4.h"
#include "publishers/unpublish_int.h"

struct uca {
	struct aws_settings settings;
	struct aws_credentials creds;
	char *region, *api, *domain, *owner, *repository;
	bool unlist;
};

static void
uca_free(struct uca *u)
{
	aws_settings_dispose(&u->settings);
	aws_credentials_dispose(&u->creds);
	free(u->region);
	free(u->api);
	free(u->domain);
	free(u->owner);
	free(u->repository);
}

static int
uca_init(struct uca *u, const struct publish_target *t,
    const struct publish_release *rel, struct error *err)
{
	char *ep = NULL, *mode;
	int rc;

	memset(u, 0, sizeof(*u));
	aws_settings_load(&u->settings, t);
	u->domain = publish_target_get(t, "domain");
	u->owner = publish_target_get(t, "domain_owner");
	u->repository = publish_target_get(t, "repository");
	if ((mode = publish_target_get(t, "unpublish")) != NULL) {
		u->unlist = strcmp(mode, "unlist") == 0;
		if (!u->unlist && strcmp(mode, "delete") != 0) {
			free(mode);
			return error_set(err, ERR_INVALID, "CONFIG",
			    "codeartifact target %s: unpublish is delete or "
			    "unlist",
			    t->name);
		}
		free(mode);
	}
	if (u->domain == NULL || u->repository == NULL)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "codeartifact target %s needs domain and repository",
		    t->name);
	if (rel->package == NULL || rel->package[0] == '\0')
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "codeartifact target %s: the tag names no package: pass "
		    "the package",
		    t->name);
	if ((rc = aws_region_resolve(&u->region, u->settings.region, t->env,
	         err)) < 0)
		return rc;
	ep = publish_target_get(t, "endpoint");
	rc = aws_endpoint_resolve(&u->api, ep, t->env, "CODEARTIFACT",
	    "codeartifact", u->region, err);
	free(ep);
	if (rc < 0)
		return rc;
	return aws_credentials_resolve(&u->creds, &u->settings, err);
}

/* The signed POST; resp gets the answer (any status). */
static int
uca_post(struct uca *u, const char *path, const struct publish_release *rel,
    const char *json, struct http_response *resp, struct error *err)
{
	struct sigv4_param qp[] = { { "domain", u->domain },
		{ "repository", u->repository }, { "format", "pypi" },
		{ "package", rel->package }, { "domain-owner", u->owner } };
	struct sigv4_header ct = { "Content-Type", "application/json" };
	struct sigv4_scope scope = { u->region, "codeartifact", false,
		time(NULL) };
	struct sigv4_request sr = { 0 };
	struct sigv4_signed sig = { 0 };
	struct sigv4_credentials cred;
	struct http_request hr = { 0 };
	struct http_body body;
	char hash[UTIL_SHA256_HEX];
	const char **lines = NULL;
	size_t i;
	int rc;

	http_body_init(&body);
	http_body_add_mem(&body, json, strlen(json));
	util_sha256_hex(hash, json, strlen(json));
	aws_credentials_view(&cred, &u->creds);
	sr.method = "POST";
	sr.endpoint = u->api;
	sr.path = path;
	sr.params = qp;
	sr.n_params = u->owner != NULL ? 5 : 4;
	sr.headers = &ct;
	sr.n_headers = 1;
	sr.payload_hash = hash;
	if ((rc = sigv4_sign(&sig, &cred, &scope, &sr, err)) < 0 ||
	    rel->dry_run)
		goto out;
	lines = xcalloc(sig.n_headers + 3, sizeof(*lines));
	for (i = 0; i < sig.n_headers; i++)
		lines[i] = sig.headers[i];
	lines[i++] = "Content-Type: application/json";
	lines[i] = "Accept: application/json";
	hr.method = "POST";
	hr.url = sig.url;
	hr.headers = lines;
	hr.body = &body;
	hr.timeout_s = 60;
	hr.what = "codeartifact_unpublish";
	rc = http_request(resp, &hr, err);
out:
	free(lines);
	sigv4_signed_dispose(&sig);
	http_body_dispose(&body);
	return rc;
}

/* The status of rel->version in a 200 answer. */
static int
uca_judge(enum unpublish_status *st, const struct uca *u,
    const struct publish_release *rel, const struct http_response *resp,
    struct error *err)
{
	cJSON *root =
	    cJSON_ParseWithLength(resp->body.data ? resp->body.data : "",
	        resp->body.len);
	const cJSON *ok =
	    cJSON_GetObjectItemCaseSensitive(root, "successfulVersions");
	const cJSON *bad =
	    cJSON_GetObjectItemCaseSensitive(root, "failedVersions");
	const cJSON *v, *code;
	int rc = 0;

	if (cJSON_GetObjectItemCaseSensitive(ok, rel->version) != NULL) {
		*st = u->unlist ? UNPUBLISH_UNLISTED : UNPUBLISH_REMOVED;
	} else if ((v = cJSON_GetObjectItemCaseSensitive(bad, rel->version)) !=
	           NULL) {
		code = cJSON_GetObjectItemCaseSensitive(v, "errorCode");
		if (cJSON_IsString(code) &&
		    strcmp(code->valuestring, "NOT_FOUND") == 0)
			*st = UNPUBLISH_ABSENT;
		else
			rc = error_set(err, ERR_FAIL, "HTTP",
			    "codeartifact refused version %s: %s", rel->version,
			    cJSON_IsString(code) ? code->valuestring : "?");
	} else {
		rc = error_set(err, ERR_FAIL, "HTTP",
		    "codeartifact answered without version %s", rel->version);
	}
	cJSON_Delete(root);
	return rc;
}

int
unpublish_codeartifact(struct unpublish_result *out,
    const struct publish_target *t, const struct publish_release *rel)
{
	struct http_response resp;
	struct error err;
	struct uca u;
	enum unpublish_status st;
	char *json = NULL, *ver, *what = xasprintf("version %s", rel->version);
	cJSON *o = cJSON_CreateObject(), *a = cJSON_CreateArray();
	int rc;

	error_clear(&err);
	http_response_init(&resp);
	cJSON_AddItemToArray(a, cJSON_CreateString(rel->version));
	cJSON_AddItemToObject(o, "versions", a);
	if ((rc = uca_init(&u, t, rel, &err)) < 0)
		goto fail;
	if (u.unlist)
		cJSON_AddStringToObject(o, "targetStatus", "Unlisted");
	json = cJSON_PrintUnformatted(o);
	st = u.unlist ? UNPUBLISH_WOULD_UNLIST : UNPUBLISH_WOULD_REMOVE;
	if ((rc = uca_post(&u,
	         u.unlist ? "/v1/package/versions/update_status"
	                  : "/v1/package/versions/delete",
	         rel, json, &resp, &err)) < 0)
		goto fail;
	if (!rel->dry_run) {
		if (resp.status == 404)
			st = UNPUBLISH_ABSENT; /* no such package left */
		else if (resp.status != 200)
			rc = http_status_error(&resp, t->name, &err);
		else
			rc = uca_judge(&st, &u, rel, &resp, &err);
		if (rc < 0)
			goto fail;
	}
	ver = xasprintf("%s/%s", rel->package, rel->version);
	unpublish_item_add(out, t->name, what, st, ver);
	free(ver);
	goto out;
fail:
	rc = unpublish_item_fail(out, t->name, what, rc, &err);
out:
	http_response_dispose(&resp);
	cJSON_Delete(o);
	free(json);
	free(what);
	uca_free(&u);
	return rc;
}
