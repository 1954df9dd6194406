/*
 * unpublish.c - the rollback of a release (see unpublish.h): the tag to a
 * package and version, the targets chosen as a release chooses them, each
 * target's rollback (unpublish_github.c, unpublish_files.c,
 * unpublish_codeartifact.c; PyPI here: there is nothing to call) run at
 * the same time through the release's pool, and the items merged in
 * target order.
 */
#include "publishers/unpublish.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "publishers/dist.h"
#include "publishers/http.h"
#include "publishers/release_pool.h"
#include "publishers/unpublish_int.h"

void
unpublish_result_init(struct unpublish_result *r)
{
	memset(r, 0, sizeof(*r));
}

static void
items_free(struct unpublish_item *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].target);
		free(v[i].what);
	}
	free(v);
}

void
unpublish_result_dispose(struct unpublish_result *r)
{
	if (r == NULL)
		return;
	items_free(r->items, r->n);
	free(r->tag);
	free(r->package);
	free(r->version);
	memset(r, 0, sizeof(*r));
}

bool
unpublish_complete(const struct unpublish_result *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->items[i].rc == 0 &&
		    r->items[i].status == UNPUBLISH_MANUAL)
			return false;
	return true;
}

/* Where a PyPI-compatible index's project release page is: Warehouse
 * (pypi.org, test.pypi.org) serves it at /manage/project/NAME/release/V/;
 * for another index the scheme and host of its URL, the path Warehouse's. */
static int
unpublish_pypi(struct unpublish_result *out, const struct publish_target *t,
    const struct publish_release *rel)
{
	char *url = publish_target_get(t, "url");
	char host[RELEASE_POOL_HOST_MAX], page[1024];
	const char *scheme = "https";
	struct unpublish_item *it;
	struct error err;

	if (rel->package == NULL || rel->package[0] == '\0') {
		free(url);
		return unpublish_item_fail(out, t->name, "",
		    error_set(&err, ERR_INVALID, "INVALID_EVENT",
		        "pypi target %s: the tag names no package: pass the "
		        "package",
		        t->name),
		    &err);
	}
	if (url == NULL || strstr(url, "upload.pypi.org") != NULL)
		snprintf(host, sizeof(host), "pypi.org");
	else if (strstr(url, "test.pypi.org") != NULL)
		snprintf(host, sizeof(host), "test.pypi.org");
	else {
		release_pool_host(host, sizeof(host), url, "pypi.org");
		if (strncmp(url, "http://", 7) == 0)
			scheme = "http";
	}
	snprintf(page, sizeof(page), "%s://%s/manage/project/%s/release/%s/",
	    scheme, host, rel->package, rel->version);
	it = unpublish_item_add(out, t->name,
	    rel->version[0] ? rel->version : rel->tag, UNPUBLISH_MANUAL, page);
	snprintf(it->reason, sizeof(it->reason),
	    "PyPI has no API to delete or yank a release: delete or yank "
	    "version %s of %s by hand at the URL",
	    rel->version, rel->package);
	free(url);
	return 0;
}

static unpublish_fn
unpublish_for(const char *type)
{
	if (strcmp(type, "pypi") == 0)
		return unpublish_pypi;
	if (strcmp(type, "github") == 0)
		return unpublish_github;
	if (strcmp(type, "artifactory") == 0)
		return unpublish_files;
	if (strcmp(type, "s3") == 0)
		return unpublish_s3;
	if (strcmp(type, "codeartifact") == 0)
		return unpublish_codeartifact;
	return NULL;
}

/* Worse codes first, as release.c orders them. */
static int
worse(int a, int b)
{
	static const int order[] = { ERR_INVALID, ERR_FAIL, ERR_CONFLICT,
		ERR_NOTFOUND, ERR_TRANSIENT, 0 };
	size_t i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (a == order[i] || b == order[i])
			return order[i];
	return a ? a : b;
}

static bool
name_in(const char *name, const char *const *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return true;
	return false;
}

/* The targets of the release (release.c's rule): the package's, or all
 * without packages, narrowed to the requested ones. */
static int
unpublish_targets(size_t *tidx, size_t *nt, const struct release_config *c,
    const struct release_package *pkg, const struct unpublish_request *req,
    struct error *err)
{
	size_t i;

	*nt = 0;
	for (i = 0; i < c->ntargets; i++) {
		const char *name = c->targets[i].name;
		bool in = pkg == NULL ||
		          name_in(name, (const char *const *)pkg->targets,
		              pkg->ntargets);

		if (in && req->ntargets > 0)
			in = name_in(name, req->targets, req->ntargets);
		if (in && unpublish_for(c->targets[i].type) == NULL)
			return error_set(err, ERR_INVALID, "UNKNOWN_TARGET",
			    "target %s has unknown type %s", name,
			    c->targets[i].type);
		if (in)
			tidx[(*nt)++] = i;
	}
	for (i = 0; i < req->ntargets; i++) {
		size_t j;
		bool found = false;

		for (j = 0; j < *nt; j++)
			found = found || strcmp(c->targets[tidx[j]].name,
			                     req->targets[i]) == 0;
		if (!found)
			return error_set(err, ERR_INVALID, "UNKNOWN_TARGET",
			    "target %s is not a target of this release",
			    req->targets[i]);
	}
	if (*nt == 0)
		return error_set(err, ERR_INVALID, "UNKNOWN_TARGET",
		    "no publishing target is configured for this release");
	return 0;
}

struct unpublish_job {
	const struct release_config *c;
	const struct release_target *t;
	const struct publish_release *rel;
	struct unpublish_result part;
	char host[RELEASE_POOL_HOST_MAX];
	int rc;
};

static void
unpublish_job_run(void *arg, size_t i)
{
	struct unpublish_job *j = &((struct unpublish_job *)arg)[i];
	struct publish_target pt = { j->t->name, j->t->type,
		(const char *const *)j->t->keys,
		(const char *const *)j->t->values, j->t->n, j->c->env };

	j->rc = unpublish_for(j->t->type)(&j->part, &pt, j->rel);
}

static void
unpublish_job_host(struct unpublish_job *j)
{
	struct publish_target pt = { j->t->name, j->t->type,
		(const char *const *)j->t->keys,
		(const char *const *)j->t->values, j->t->n, j->c->env };

	release_pool_target_host(j->host, sizeof(j->host), &pt);
}

/* Run the targets through the pool and merge their items in order. */
static int
unpublish_targets_run(struct unpublish_result *out,
    const struct release_config *c, const size_t *tidx, size_t nt)
{
	struct publish_release rel = { out->tag, out->package, out->version,
		out->dry_run };
	struct unpublish_job *jobs = xcalloc(nt, sizeof(*jobs));
	const char **hosts = xcalloc(nt, sizeof(*hosts));
	size_t i, k;
	int rc = 0;

	if (c->env != NULL)
		http_retry_defaults(c->env->http_attempts,
		    c->env->http_backoff_ms);
	for (i = 0; i < nt; i++) {
		jobs[i].c = c;
		jobs[i].t = &c->targets[tidx[i]];
		jobs[i].rel = &rel;
		unpublish_job_host(&jobs[i]);
		hosts[i] = jobs[i].host;
	}
	release_pool_run(nt, hosts, unpublish_job_run, jobs);
	for (i = 0; i < nt; i++) {
		struct unpublish_result *p = &jobs[i].part;

		rc = worse(rc, jobs[i].rc);
		out->items = xrealloc(out->items,
		    (out->n + p->n + 1) * sizeof(*out->items));
		for (k = 0; k < p->n; k++)
			out->items[out->n++] = p->items[k];
		free(p->items);
	}
	free(jobs);
	free(hosts);
	return rc;
}

int
unpublish_run(struct unpublish_result *out, const struct release_config *c,
    const struct unpublish_request *req, struct error *err)
{
	const struct release_package *pkg = NULL;
	char version[256], norm[DIST_NAME_MAX] = "";
	size_t *tidx = NULL, nt = 0, i;
	int rc;

	out->tag = xstrdup(req->tag ? req->tag : "");
	out->dry_run = req->dry_run || c->dry_run;
	if ((rc = release_match_tag(c, req->tag, req->package, &pkg, version,
	         sizeof(version), err)) < 0)
		goto out;
	out->version = xstrdup(version);
	if (pkg != NULL)
		dist_normalize_name(norm, sizeof(norm), pkg->name);
	else if (req->package != NULL)
		dist_normalize_name(norm, sizeof(norm), req->package);
	out->package = xstrdup(norm);
	tidx = xcalloc(c->ntargets + 1, sizeof(*tidx));
	if ((rc = unpublish_targets(tidx, &nt, c, pkg, req, err)) < 0)
		goto out;
	log_info("unpublish_start tag=%s package=%s version=%s targets=%zu "
	         "dry_run=%s",
	    out->tag, out->package, out->version, nt, log_bool(out->dry_run));
	rc = unpublish_targets_run(out, c, tidx, nt);
	for (i = 0; rc < 0 && i < out->n; i++)
		if (out->items[i].rc == rc) {
			*err = out->items[i].err;
			break;
		}
	log_info("unpublish_done tag=%s items=%zu complete=%s result=%s",
	    out->tag, out->n, log_bool(unpublish_complete(out)),
	    rc == 0 ? "ok" : err->code);
out:
	free(tidx);
	return rc;
}
