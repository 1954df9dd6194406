/*
 * unpublish_github.c - roll a release back on GitHub Releases: the
 * release of the tag (drafts included, found as github.c finds it), each
 * of its assets, then the release itself.
 *
 * Assets go first, so that a release whose own deletion fails no longer
 * serves the files. An immutable release refuses asset deletions (422)
 * but may itself be deleted, which takes its assets with it: such an
 * asset is reported removed with the release. The git tag stays (GitHub
 * never deletes it with a release); the store deletes it when asked.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/xalloc.h"
#include "publishers/http.h"
#include "publishers/unpublish_int.h"

#define UGH_DEFAULT_API "https://api.github.com"
/* Releases listed per page and pages read: GitHub's maximum page size,
 * and 10 pages (1000 releases) as github.c reads them. */
#define UGH_PAGE_SIZE 100
#define UGH_MAX_PAGES 10
/* GitHub's limit of assets per release. */
#define UGH_MAX_ASSETS 1000

struct ugh {
	const char *target;
	char *api, *repo, *auth;
	const char *hdrs[4];
};

static void
ugh_free(struct ugh *g)
{
	free(g->api);
	free(g->repo);
	secret_free(g->auth);
}

static int
ugh_init(struct ugh *g, const struct publish_target *t, struct error *err)
{
	char *token;
	size_t n;

	memset(g, 0, sizeof(*g));
	g->target = t->name;
	if ((g->api = publish_target_get(t, "api_url")) == NULL)
		g->api = xstrdup(UGH_DEFAULT_API);
	n = strlen(g->api);
	while (n > 0 && g->api[n - 1] == '/')
		g->api[--n] = '\0';
	g->repo = publish_target_get(t, "repository");
	if (g->repo == NULL || strchr(g->repo, '/') == NULL ||
	    g->repo[0] == '/' || strchr(strchr(g->repo, '/') + 1, '/') != NULL)
		return error_set(err, ERR_FAIL, "CONFIG",
		    "target %s needs repository: owner/name (or "
		    "GITHUB_REPOSITORY)",
		    t->name);
	if ((token = publish_target_get(t, "token")) == NULL)
		return error_set(err, ERR_FAIL, "AUTH",
		    "target %s has no token (token/token_file/token_env, "
		    "GH_TOKEN or GITHUB_TOKEN)",
		    t->name);
	g->auth = xasprintf("Authorization: Bearer %s", token);
	secret_free(token);
	if (!http_url_allowed(g->api))
		return error_set(err, ERR_INVALID, "INVALID_TARGET",
		    "%s: api_url refused: https is required (plain http only "
		    "to loopback)",
		    t->name);
	g->hdrs[0] = "Accept: application/vnd.github+json";
	g->hdrs[1] = "X-GitHub-Api-Version: 2022-11-28";
	g->hdrs[2] = g->auth;
	g->hdrs[3] = NULL;
	return 0;
}

/* The release object of tag (a detached copy the caller deletes) into
 * *out, or NULL when there is none. */
static int
ugh_find(cJSON **out, const struct ugh *g, const char *tag, struct error *err)
{
	struct http_response resp;
	int page, rc = 0;

	*out = NULL;
	http_response_init(&resp);
	for (page = 1; page <= UGH_MAX_PAGES && *out == NULL; page++) {
		struct http_request req = { 0 };
		char *url =
		    xasprintf("%s/repos/%s/releases?per_page=%d&page=%d",
		        g->api, g->repo, UGH_PAGE_SIZE, page);
		cJSON *root, *r;
		int n = 0;

		req.method = "GET";
		req.url = url;
		req.headers = g->hdrs;
		req.what = g->target;
		rc = http_request(&resp, &req, err);
		free(url);
		if (rc == 0 && resp.status != 200)
			rc = http_status_error(&resp, g->target, err);
		if (rc < 0)
			break;
		root =
		    cJSON_ParseWithLength(resp.body.data ? resp.body.data : "",
		        resp.body.len);
		cJSON_ArrayForEach(r, root) {
			const cJSON *tn =
			    cJSON_GetObjectItemCaseSensitive(r, "tag_name");

			n++;
			if (*out == NULL && cJSON_IsString(tn) &&
			    strcmp(tn->valuestring, tag) == 0)
				*out = cJSON_Duplicate(r, true);
		}
		cJSON_Delete(root);
		if (n < UGH_PAGE_SIZE)
			break;
	}
	http_response_dispose(&resp);
	return rc;
}

/* Delete (or, dry run, list) each asset; the indexes of those refused
 * into refused[] (deleted with the release later). */
static int
ugh_assets(struct unpublish_result *out, const struct ugh *g, const cJSON *rel,
    bool dry, const cJSON **refused, size_t *nrefused)
{
	const cJSON *assets = cJSON_GetObjectItemCaseSensitive(rel, "assets");
	const cJSON *a;
	int rc = 0;

	*nrefused = 0;
	cJSON_ArrayForEach(a, assets) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id");
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(a, "name");
		enum unpublish_status st = UNPUBLISH_WOULD_REMOVE;
		struct error e;
		char *url;
		int r = 0;

		if (!cJSON_IsNumber(id) || !cJSON_IsString(nm) ||
		    *nrefused >= UGH_MAX_ASSETS)
			continue;
		url = xasprintf("%s/repos/%s/releases/assets/%lld", g->api,
		    g->repo, (long long)id->valuedouble);
		error_clear(&e);
		if (!dry)
			r = unpublish_http_delete(&st, url, g->hdrs, g->target,
			    &e);
		free(url);
		if (r == ERR_FAIL) {
			/* An immutable release's asset: with the release. */
			refused[(*nrefused)++] = a;
			log_info(
			    "unpublish_asset_refused target=%s name=\"%s\" "
			    "error=\"%s\"",
			    g->target, nm->valuestring, e.msg);
		} else if (r < 0) {
			rc = unpublish_item_fail(out, g->target,
			    nm->valuestring, r, &e);
		} else {
			unpublish_item_add(out, g->target, nm->valuestring, st,
			    NULL);
		}
	}
	return rc;
}

int
unpublish_github(struct unpublish_result *out, const struct publish_target *t,
    const struct publish_release *rel)
{
	struct ugh g;
	struct error err;
	cJSON *r = NULL;
	const cJSON **refused = NULL, *id, *html;
	enum unpublish_status st = UNPUBLISH_WOULD_REMOVE;
	char *what = xasprintf("release %s", rel->tag), *url = NULL;
	size_t nref = 0, i;
	int rc;

	error_clear(&err);
	if ((rc = ugh_init(&g, t, &err)) < 0 ||
	    (rc = ugh_find(&r, &g, rel->tag, &err)) < 0) {
		rc = unpublish_item_fail(out, t->name, "", rc, &err);
		goto out;
	}
	if (r == NULL) {
		unpublish_item_add(out, t->name, what, UNPUBLISH_ABSENT, NULL);
		goto out;
	}
	refused = xcalloc(UGH_MAX_ASSETS, sizeof(*refused));
	rc = ugh_assets(out, &g, r, rel->dry_run, refused, &nref);
	id = cJSON_GetObjectItemCaseSensitive(r, "id");
	html = cJSON_GetObjectItemCaseSensitive(r, "html_url");
	url = xasprintf("%s/repos/%s/releases/%lld", g.api, g.repo,
	    cJSON_IsNumber(id) ? (long long)id->valuedouble : -1LL);
	if (!rel->dry_run) {
		int r2 = unpublish_http_delete(&st, url, g.hdrs, t->name, &err);

		if (r2 < 0) {
			rc = unpublish_item_fail(out, t->name, what, r2, &err);
			goto out;
		}
	}
	for (i = 0; i < nref; i++)
		unpublish_item_add(out, t->name,
		    cJSON_GetObjectItemCaseSensitive(refused[i], "name")
		        ->valuestring,
		    st, NULL);
	unpublish_item_add(out, t->name, what, st,
	    cJSON_IsString(html) ? html->valuestring : NULL);
out:
	cJSON_Delete(r);
	free(refused);
	free(url);
	free(what);
	ugh_free(&g);
	return rc;
}
