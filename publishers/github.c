/*
 * github.c - publish release files as GitHub Release assets.
 *
 * The only flow that also works with immutable releases (publishers.md
 * 5): find the release of the tag (drafts are visible only in the list),
 * or create it as a draft; upload every asset; then publish the draft
 * with PATCH draft=false. Re-runs are idempotent: an asset of the same
 * name with the same sha256 (GitHub's "digest" field) or, for older
 * assets without one, the same size, is already present; a different one
 * is a conflict; a broken upload (state "starter", left by a 502) is
 * deleted and sent again. Every call carries the User-Agent, the API
 * version header and the token, never logged.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "publishers/dist.h"
#include "publishers/http.h"
#include "publishers/publisher.h"
#include "publishers/verify.h"

#define GITHUB_DEFAULT_API "https://api.github.com"
/* GitHub caps a release at 1000 assets; we list 100 per page and stop at
 * 10 pages. */
#define GITHUB_PAGE_SIZE 100
#define GITHUB_MAX_PAGES 10

struct gh_state {
	char *api;    /* no trailing slash */
	char *repo;   /* owner/name */
	char *auth;   /* "Authorization: Bearer ..." */
	char *upload; /* upload URL, template part removed */
	char *html_url;
	long long id; /* release id, 0 in a dry run */
	bool draft;
	char *what;
	char *notes; /* the release's body: setting release_notes, NULL */
};

static void
gh_state_free(void *arg)
{
	struct gh_state *s = arg;

	if (s == NULL)
		return;
	free(s->api);
	free(s->repo);
	secret_free(s->auth);
	free(s->upload);
	free(s->html_url);
	free(s->notes);
	free(s->what);
	free(s);
}

/* One API call with the GitHub headers; JSON body optional. */
static int
gh_call(const struct gh_state *s, const char *method, const char *url,
    const char *json, struct http_response *resp, struct error *err)
{
	struct http_body body;
	struct http_request req = { 0 };
	const char *hdrs[] = { "Accept: application/vnd.github+json",
		"X-GitHub-Api-Version: 2022-11-28", s->auth,
		json ? "Content-Type: application/json" : NULL, NULL };
	int rc;

	http_body_init(&body);
	if (json != NULL)
		http_body_add_mem(&body, json, strlen(json));
	req.method = method;
	req.url = url;
	req.headers = hdrs;
	req.body = json ? &body : NULL;
	req.what = s->what;
	rc = http_request(resp, &req, err);
	http_body_dispose(&body);
	return rc;
}

static cJSON *
parse_body(const struct http_response *r)
{
	return cJSON_ParseWithLength(r->body.data ? r->body.data : "",
	    r->body.len);
}

/* Take id, upload_url, html_url and draft from a release object. */
static int
take_release(struct gh_state *s, const cJSON *rel, struct error *err)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(rel, "id");
	const cJSON *up = cJSON_GetObjectItemCaseSensitive(rel, "upload_url");
	const cJSON *html = cJSON_GetObjectItemCaseSensitive(rel, "html_url");
	const cJSON *draft = cJSON_GetObjectItemCaseSensitive(rel, "draft");
	char *brace;

	if (!cJSON_IsNumber(id) || !cJSON_IsString(up))
		return error_set(err, ERR_FAIL, "HTTP",
		    "%s: release without id or upload_url", s->what);
	s->id = (long long)id->valuedouble;
	free(s->upload);
	/* RFC 6570 template: ".../assets{?name,label}". */
	s->upload = xstrdup(up->valuestring);
	if ((brace = strchr(s->upload, '{')) != NULL)
		*brace = '\0';
	free(s->html_url);
	s->html_url = cJSON_IsString(html) ? xstrdup(html->valuestring) : NULL;
	s->draft = cJSON_IsTrue(draft);
	return 0;
}

/* Find the release of tag among all releases (drafts included).
 * Returns 0 (found), ERR_NOTFOUND, or an error. */
static int
find_release(struct gh_state *s, const char *tag, struct error *err)
{
	struct http_response resp;
	int page, rc = ERR_NOTFOUND;

	http_response_init(&resp);
	for (page = 1; page <= GITHUB_MAX_PAGES; page++) {
		char *url =
		    xasprintf("%s/repos/%s/releases?per_page=%d&page=%d",
		        s->api, s->repo, GITHUB_PAGE_SIZE, page);
		cJSON *root = NULL, *r;
		int n = 0;

		rc = gh_call(s, "GET", url, NULL, &resp, err);
		free(url);
		if (rc < 0)
			break;
		if (resp.status != 200) {
			rc = http_status_error(&resp, s->what, err);
			break;
		}
		rc = ERR_NOTFOUND;
		root = parse_body(&resp);
		cJSON_ArrayForEach(r, root) {
			const cJSON *tn =
			    cJSON_GetObjectItemCaseSensitive(r, "tag_name");

			n++;
			if (cJSON_IsString(tn) &&
			    strcmp(tn->valuestring, tag) == 0) {
				rc = take_release(s, r, err);
				break;
			}
		}
		cJSON_Delete(root);
		if (rc != ERR_NOTFOUND || n < GITHUB_PAGE_SIZE)
			break;
	}
	http_response_dispose(&resp);
	return rc;
}

/* PEP 440 pre-releases (a, b, rc) and dev releases are GitHub
 * prereleases; post releases and local labels are not. */
static bool
version_is_prerelease(const char *v)
{
	char norm[256], *plus;

	if (v == NULL ||
	    dist_version_normalize(norm, sizeof(norm), v, NULL) < 0)
		return false;
	if ((plus = strchr(norm, '+')) != NULL)
		*plus = '\0';
	return strpbrk(norm, "abr") != NULL || strstr(norm, ".dev") != NULL;
}

static int
create_draft(struct gh_state *s, const struct publish_release *rel,
    struct error *err)
{
	struct http_response resp;
	cJSON *req = cJSON_CreateObject(), *root = NULL;
	char *json, *url;
	int rc;

	cJSON_AddStringToObject(req, "tag_name", rel->tag);
	cJSON_AddStringToObject(req, "name", rel->tag);
	cJSON_AddBoolToObject(req, "draft", 1);
	cJSON_AddBoolToObject(req, "prerelease",
	    version_is_prerelease(rel->version));
	if (s->notes != NULL && s->notes[0] != '\0')
		cJSON_AddStringToObject(req, "body", s->notes);
	json = cJSON_PrintUnformatted(req);
	url = xasprintf("%s/repos/%s/releases", s->api, s->repo);
	http_response_init(&resp);
	if ((rc = gh_call(s, "POST", url, json, &resp, err)) < 0)
		goto out;
	if (resp.status == 201) {
		root = parse_body(&resp);
		rc = take_release(s, root, err);
		if (rc == 0)
			log_info(
			    "github_draft_created target=%s tag=%s id=%lld",
			    s->what, rel->tag, s->id);
		goto out;
	}
	/* Another worker created it meanwhile: use theirs. */
	if (resp.status == 422 && resp.body.data != NULL &&
	    strstr(resp.body.data, "already_exists") != NULL) {
		rc = find_release(s, rel->tag, err);
		if (rc == ERR_NOTFOUND)
			rc = error_set(err, ERR_TRANSIENT, "HTTP",
			    "%s: release %s exists but is not listed yet",
			    s->what, rel->tag);
		goto out;
	}
	rc = http_status_error(&resp, s->what, err);
out:
	cJSON_Delete(req);
	cJSON_Delete(root);
	free(json);
	free(url);
	http_response_dispose(&resp);
	return rc;
}

static int
gh_begin(void **state, const struct publish_target *t,
    const struct publish_release *rel, struct error *err)
{
	struct gh_state *s = xcalloc(1, sizeof(*s));
	char *token = NULL;
	size_t n;
	int rc = ERR_FAIL;

	s->what = xstrdup(t->name);
	if ((s->api = publish_target_get(t, "api_url")) == NULL)
		s->api = xstrdup(GITHUB_DEFAULT_API);
	n = strlen(s->api);
	while (n > 0 && s->api[n - 1] == '/')
		s->api[--n] = '\0';
	s->repo = publish_target_get(t, "repository");
	if (s->repo == NULL || strchr(s->repo, '/') == NULL ||
	    strchr(strchr(s->repo, '/') + 1, '/') != NULL ||
	    s->repo[0] == '/') {
		rc = error_set(err, ERR_FAIL, "CONFIG",
		    "target %s needs repository: owner/name (or "
		    "GITHUB_REPOSITORY)",
		    t->name);
		goto out;
	}
	if ((token = publish_target_get(t, "token")) == NULL) {
		rc = error_set(err, ERR_FAIL, "AUTH",
		    "target %s has no token (token/token_file/token_env, "
		    "GH_TOKEN or GITHUB_TOKEN)",
		    t->name);
		goto out;
	}
	s->auth = xasprintf("Authorization: Bearer %s", token);
	if (!http_url_allowed(s->api)) {
		rc = error_set(err, ERR_INVALID, "INVALID_TARGET",
		    "%s: api_url refused: https is required (plain http only "
		    "to loopback)",
		    s->what);
		goto out;
	}
	/* The body of a release it creates: RELEASE_REQUESTED's notes,
	 * which handle_release sets on every target of the run. */
	s->notes = publish_target_get(t, "release_notes");
	/* A dry run contacts nobody. */
	if (!rel->dry_run) {
		rc = find_release(s, rel->tag, err);
		if (rc == ERR_NOTFOUND)
			rc = create_draft(s, rel, err);
		if (rc < 0)
			goto out;
		log_info("github_release target=%s tag=%s id=%lld draft=%s",
		    s->what, rel->tag, s->id, log_bool(s->draft));
	}
	*state = s;
	s = NULL;
	rc = 0;
out:
	secret_free(token);
	gh_state_free(s);
	return rc;
}

/* An asset of the release, as listed. */
struct gh_asset {
	long long id;
	char state[32];
	char digest[72]; /* "sha256:<hex>" or "" */
	long long size;
	char url[1024];
};

/* Look up an asset by name. 0 found, ERR_NOTFOUND, or an error. */
static int
find_asset(const struct gh_state *s, const char *name, struct gh_asset *a,
    struct error *err)
{
	struct http_response resp;
	int page, rc = ERR_NOTFOUND;

	http_response_init(&resp);
	for (page = 1; page <= GITHUB_MAX_PAGES; page++) {
		char *url = xasprintf(
		    "%s/repos/%s/releases/%lld/assets?per_page=%d&page=%d",
		    s->api, s->repo, s->id, GITHUB_PAGE_SIZE, page);
		cJSON *root = NULL, *x;
		int n = 0;

		rc = gh_call(s, "GET", url, NULL, &resp, err);
		free(url);
		if (rc < 0)
			break;
		if (resp.status != 200) {
			rc = http_status_error(&resp, s->what, err);
			break;
		}
		rc = ERR_NOTFOUND;
		root = parse_body(&resp);
		cJSON_ArrayForEach(x, root) {
			const cJSON *nm =
			    cJSON_GetObjectItemCaseSensitive(x, "name");
			const cJSON *id, *st, *dg, *sz, *bu;

			n++;
			if (!cJSON_IsString(nm) ||
			    strcmp(nm->valuestring, name) != 0)
				continue;
			id = cJSON_GetObjectItemCaseSensitive(x, "id");
			st = cJSON_GetObjectItemCaseSensitive(x, "state");
			dg = cJSON_GetObjectItemCaseSensitive(x, "digest");
			sz = cJSON_GetObjectItemCaseSensitive(x, "size");
			bu = cJSON_GetObjectItemCaseSensitive(x,
			    "browser_download_url");
			memset(a, 0, sizeof(*a));
			a->id =
			    cJSON_IsNumber(id) ? (long long)id->valuedouble : 0;
			a->size = cJSON_IsNumber(sz)
			              ? (long long)sz->valuedouble
			              : -1;
			snprintf(a->state, sizeof(a->state), "%s",
			    cJSON_IsString(st) ? st->valuestring : "");
			snprintf(a->digest, sizeof(a->digest), "%s",
			    cJSON_IsString(dg) ? dg->valuestring : "");
			snprintf(a->url, sizeof(a->url), "%s",
			    cJSON_IsString(bu) ? bu->valuestring : "");
			rc = 0;
			break;
		}
		cJSON_Delete(root);
		if (rc != ERR_NOTFOUND || n < GITHUB_PAGE_SIZE)
			break;
	}
	http_response_dispose(&resp);
	return rc;
}

static int
delete_asset(const struct gh_state *s, long long id, struct error *err)
{
	struct http_response resp;
	char *url =
	    xasprintf("%s/repos/%s/releases/assets/%lld", s->api, s->repo, id);
	int rc;

	http_response_init(&resp);
	if ((rc = gh_call(s, "DELETE", url, NULL, &resp, err)) == 0 &&
	    resp.status != 204 && resp.status != 404)
		rc = http_status_error(&resp, s->what, err);
	http_response_dispose(&resp);
	free(url);
	return rc;
}

/* Compare an existing asset with our file: 0 same, ERR_CONFLICT. */
static int
compare_asset(const struct gh_state *s, const struct gh_asset *a,
    const struct publish_file *f, struct error *err)
{
	char want[72];

	snprintf(want, sizeof(want), "sha256:%s", f->sha256);
	if (a->digest[0] != '\0' ? strcmp(a->digest, want) == 0
	                         : a->size == (long long)f->size)
		return 0;
	return error_set(err, ERR_CONFLICT, "CONFLICT",
	    "%s: asset %s already exists with other content (%s); nothing "
	    "was overwritten",
	    s->what, f->filename,
	    a->digest[0] ? "different sha256" : "different size");
}

static int
gh_upload(void *state, const struct publish_target *t,
    const struct publish_release *rel, const struct publish_file *f,
    struct publish_outcome *out, struct error *err)
{
	struct gh_state *s = state;
	struct http_response resp;
	struct http_body body;
	struct http_request req = { 0 };
	struct gh_asset a;
	char *name = http_escape(f->filename, false), *url = NULL;
	const char *hdrs[] = { "Accept: application/vnd.github+json",
		"X-GitHub-Api-Version: 2022-11-28",
		"Content-Type: application/octet-stream", s->auth, NULL };
	cJSON *root = NULL;
	int rc, tries;

	(void)t;
	http_response_init(&resp);
	http_body_init(&body);
	if (rel->dry_run) {
		out->status = PUBLISH_DRY_RUN;
		snprintf(out->url, sizeof(out->url),
		    "https://github.com/%s/releases/download/%s/%s", s->repo,
		    rel->tag, name);
		rc = 0;
		goto out;
	}
	http_body_add_file(&body, f->fd, 0, f->size);
	/* Twice at most: a starter asset left by a failed upload is deleted
	 * and the upload sent once more. */
	for (tries = 0; tries < 2; tries++) {
		rc = find_asset(s, f->filename, &a, err);
		if (rc == 0 && strcmp(a.state, "uploaded") == 0) {
			if ((rc = compare_asset(s, &a, f, err)) == 0) {
				out->status = PUBLISH_ALREADY_PRESENT;
				snprintf(out->url, sizeof(out->url), "%s",
				    a.url);
			}
			goto out;
		}
		if (rc == 0) {
			log_warnx("github_asset_broken target=%s file=%s "
			          "state=%s action=delete",
			    s->what, f->filename, a.state);
			if ((rc = delete_asset(s, a.id, err)) < 0)
				goto out;
		} else if (rc != ERR_NOTFOUND) {
			goto out;
		}
		free(url);
		url = xasprintf("%s?name=%s", s->upload, name);
		memset(&req, 0, sizeof(req));
		req.method = "POST";
		req.url = url;
		req.headers = hdrs;
		req.body = &body;
		req.what = s->what;
		if ((rc = http_request(&resp, &req, err)) < 0)
			goto out;
		if (resp.status == 201) {
			const cJSON *bu;

			root = parse_body(&resp);
			bu = cJSON_GetObjectItemCaseSensitive(root,
			    "browser_download_url");
			out->status = PUBLISH_UPLOADED;
			snprintf(out->url, sizeof(out->url), "%s",
			    cJSON_IsString(bu) ? bu->valuestring : "");
			rc = 0;
			goto out;
		}
		/* 422 already_exists: a retried upload whose first try
		 * landed, or a starter asset - look again. */
		if (!(resp.status == 422 && resp.body.data != NULL &&
		        strstr(resp.body.data, "already_exists") != NULL)) {
			rc = http_status_error(&resp, s->what, err);
			goto out;
		}
	}
	rc = error_set(err, ERR_TRANSIENT, "HTTP",
	    "%s: asset %s keeps colliding with a broken upload", s->what,
	    f->filename);
out:
	cJSON_Delete(root);
	http_body_dispose(&body);
	http_response_dispose(&resp);
	free(name);
	free(url);
	return rc;
}

static int
gh_finish(void *state, const struct publish_target *t,
    const struct publish_release *rel, struct error *err)
{
	struct gh_state *s = state;
	struct http_response resp;
	char *url;
	int rc;

	(void)t;
	if (rel->dry_run || !s->draft)
		return 0;
	url = xasprintf("%s/repos/%s/releases/%lld", s->api, s->repo, s->id);
	http_response_init(&resp);
	rc = gh_call(s, "PATCH", url, "{\"draft\":false}", &resp, err);
	if (rc == 0 && resp.status != 200)
		rc = http_status_error(&resp, s->what, err);
	if (rc == 0) {
		s->draft = false;
		log_info("github_release_published target=%s tag=%s id=%lld",
		    s->what, rel->tag, s->id);
	}
	http_response_dispose(&resp);
	free(url);
	return rc;
}

/* The token gh_begin will send, by its source (never its value). */
static int
gh_credential(const struct publish_target *t, char *src, size_t n,
    struct error *err)
{
	char from[512], *token;

	if ((token = publish_target_get_src(t, "token", from, sizeof(from))) ==
	    NULL)
		return error_set(err, ERR_FAIL, "AUTH",
		    "target %s has no token (token/token_file/token_env, "
		    "GH_TOKEN or GITHUB_TOKEN)",
		    t->name);
	secret_free(token);
	snprintf(src, n, "token from %s", from);
	return 0;
}

/* Download an asset through the API (Accept: application/octet-stream)
 * and hash it; GitHub answers with a redirect to its storage, followed
 * once, without our Authorization. 0 with served set, or an error. */
static int
gh_hash_asset(const struct gh_state *s, const struct gh_asset *a,
    char served[65], struct error *err)
{
	const char *hdrs[] = { "Accept: application/octet-stream",
		"X-GitHub-Api-Version: 2022-11-28", s->auth, NULL };
	struct http_request req = { 0 };
	struct http_response resp;
	struct verify_hash *h = verify_hash_new();
	char *url = xasprintf("%s/repos/%s/releases/assets/%lld", s->api,
	    s->repo, a->id);
	char *loc = NULL;
	int rc;

	http_response_init(&resp);
	req.method = "GET";
	req.url = url;
	req.headers = hdrs;
	req.what = s->what;
	req.sink = verify_hash_write;
	req.sink_reset = verify_hash_reset;
	req.sink_arg = h;
	if ((rc = http_request(&resp, &req, err)) < 0)
		goto out;
	if (resp.status >= 300 && resp.status < 400 &&
	    (loc = http_response_header(&resp, "Location")) != NULL &&
	    http_url_allowed(loc)) {
		hdrs[2] = NULL;
		req.url = loc;
		http_response_dispose(&resp);
		http_response_init(&resp);
		if ((rc = http_request(&resp, &req, err)) < 0)
			goto out;
	}
	if (resp.status != 200) {
		rc = http_status_error(&resp, s->what, err);
		goto out;
	}
	verify_hash_done(h, served);
	h = NULL;
	rc = 0;
out:
	verify_hash_done(h, NULL);
	http_response_dispose(&resp);
	free(url);
	free(loc);
	return rc;
}

/* Verification (verify.h): the asset's digest ("sha256:<hex>") where
 * the API gives one, else the hash of a download. An asset not yet in
 * state "uploaded" is not served. */
static int
gh_served(void *state, const struct publish_target *t,
    const struct publish_release *rel, const struct publish_file *f,
    char served[65], struct error *err)
{
	struct gh_state *s = state;
	struct gh_asset a;
	int rc;

	(void)t;
	if (s->id == 0 && (rc = find_release(s, rel->tag, err)) < 0)
		return rc;
	if ((rc = find_asset(s, f->filename, &a, err)) < 0)
		return rc;
	if (strcmp(a.state, "uploaded") != 0)
		return ERR_NOTFOUND;
	if (strncmp(a.digest, "sha256:", 7) == 0 && strlen(a.digest) == 71) {
		for (size_t i = 0; i < 64; i++)
			served[i] =
			    (char)tolower((unsigned char)a.digest[7 + i]);
		served[64] = '\0';
		return 0;
	}
	return gh_hash_asset(s, &a, served, err);
}

const struct publisher_ops github_publisher = {
	.type = "github",
	.begin = gh_begin,
	.upload = gh_upload,
	.finish = gh_finish,
	.state_free = gh_state_free,
	.dists_only = false,
	.credential = gh_credential,
	.served = gh_served,
};
