/*
 * verify_release.c - `artifactd verify`: the checks of verify_file over a
 * whole release, nothing uploaded (see verify_release.h).
 *
 * The reference is the release's local files, opened beneath the
 * artifacts root and hashed as release.c does, plus the SHA256SUMS and
 * <file>.sha256 a release of them publishes (computed in memory, in
 * release.c's format); the targets are the tag's package's, each set up
 * with a dry-run begin.
 */
#include "publishers/verify_release.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/path.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "publishers/digest.h"
#include "publishers/dist.h"
#include "publishers/http.h"
#include "publishers/verify.h"

/* One file of `artifactd verify`: the reference digest and what the
 * lookups need (name, size, metadata). */
struct vfile {
	int fd;
	char *name;
	char sha256[65];
	uint64_t size;
	struct dist_filename fn;
	struct dist_meta *meta;
	bool generated;
};

static int
cmp_vfiles(const void *a, const void *b)
{
	return strcmp(((const struct vfile *)a)->name,
	    ((const struct vfile *)b)->name);
}

static void
vfiles_free(struct vfile *v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++) {
		if (v[i].fd >= 0)
			close(v[i].fd);
		free(v[i].name);
		dist_meta_free(v[i].meta);
	}
	free(v);
}

static struct release_item *
vitem_new(struct release_result *r, const char *target, const struct vfile *f)
{
	struct release_item *it;

	r->items = xrealloc(r->items, (r->n + 1) * sizeof(*r->items));
	it = &r->items[r->n++];
	memset(it, 0, sizeof(*it));
	it->target = xstrdup(target);
	it->file = xstrdup(f->name);
	snprintf(it->sha256, sizeof(it->sha256), "%s", f->sha256);
	it->bytes = f->size;
	return it;
}

/* Open and hash the request's files, then add the checksum files a
 * release of them publishes (release.c's format: sorted
 * "<sha256>  <name>\n" lines). */
static int
vfiles_open(struct vfile **out, size_t *nout, const struct release_config *c,
    const struct release_request *req, struct error *err)
{
	struct path_root root = { -1, NULL, NULL };
	struct vfile *v = xcalloc(2 * req->nfiles + 1, sizeof(*v));
	struct digest_set d;
	struct buf sums;
	size_t n = 0, i, nuser;
	int rc;

	buf_init(&sums, (size_t)RELEASE_MAX_FILES * 512);
	if ((rc = path_root_open(&root, c->artifacts_root, err)) < 0)
		goto out;
	for (i = 0; i < req->nfiles; i++) {
		struct vfile *f = &v[n++];
		const char *slash = strrchr(req->files[i], '/');

		f->fd = -1;
		f->name = xstrdup(slash ? slash + 1 : req->files[i]);
		if ((rc = path_open_beneath(&f->fd, NULL, &root, req->files[i],
		         RELEASE_FILE_MAX, err)) < 0 ||
		    (rc = digest_file_some(&d, &f->size, f->fd, f->name,
		         DIGEST_SHA256, err)) < 0 ||
		    (rc = dist_parse_filename(&f->fn, f->name, err)) < 0)
			goto out;
		memcpy(f->sha256, d.sha256, sizeof(f->sha256));
		if (f->fn.kind != DIST_OTHER &&
		    (rc = dist_meta_read(&f->meta, f->fd, f->name, f->fn.kind,
		         err)) < 0)
			goto out;
	}
	nuser = n;
	qsort(v, nuser, sizeof(*v), cmp_vfiles);
	for (i = 0; i < nuser; i++) {
		char *line = xasprintf("%s  %s\n", v[i].sha256, v[i].name);
		struct vfile *g = &v[n++];

		buf_puts(&sums, line);
		g->fd = -1;
		g->generated = true;
		g->name = xasprintf("%s.sha256", v[i].name);
		g->size = strlen(line);
		util_sha256_hex(g->sha256, line, strlen(line));
		free(line);
	}
	v[n].fd = -1;
	v[n].generated = true;
	v[n].name = xstrdup("SHA256SUMS");
	v[n].size = sums.len;
	util_sha256_hex(v[n].sha256, sums.data ? sums.data : "", sums.len);
	n++;
	qsort(v, n, sizeof(*v), cmp_vfiles);
	*out = v;
	*nout = n;
	v = NULL;
	rc = 0;
out:
	vfiles_free(v, n);
	path_root_close(&root);
	buf_dispose(&sums);
	return rc;
}

/* Verify every file that target t takes; the worst code. */
static int
verify_target(struct release_result *out, const struct release_target *rt,
    const struct release_config *c, const struct publish_release *rel,
    const struct vfile *files, size_t nf)
{
	const struct publisher_ops *ops = publisher_find(rt->type);
	struct publish_target t = { rt->name, rt->type,
		(const char *const *)rt->keys, (const char *const *)rt->values,
		rt->n, c->env };
	/* Set up as a dry run: a GitHub draft is not created, nothing is
	 * sent but the lookups. */
	struct publish_release dry = *rel;
	struct publish_outcome po;
	struct error err;
	void *state = NULL;
	size_t i;
	int rc = 0, r;

	dry.dry_run = true;
	error_clear(&err);
	r = ops->begin(&state, &t, &dry, &err);
	for (i = 0; i < nf; i++) {
		const struct vfile *f = &files[i];
		struct publish_file pf = { .fd = f->fd,
			.filename = f->name,
			.size = f->size,
			.meta = f->meta };
		struct release_item *it;

		if (ops->dists_only && f->meta == NULL)
			continue;
		it = vitem_new(out, rt->name, f);
		memcpy(pf.sha256, f->sha256, sizeof(pf.sha256));
		memset(&po, 0, sizeof(po));
		po.status = PUBLISH_ALREADY_PRESENT;
		if (r < 0) {
			it->rc = r;
			it->err = err;
		} else if (ops->served == NULL) {
			it->rc = error_set(&it->err, ERR_FAIL, "VERIFY_FAILED",
			    "%s: %s targets cannot be verified", rt->name,
			    rt->type);
		} else {
			it->rc = verify_file(ops, state, &t, rel, &pf, &po,
			    &it->err);
			it->outcome = po;
			if (it->rc == 0 && !po.verified)
				it->rc = error_set(&it->err, ERR_FAIL,
				    "VERIFY_FAILED",
				    "%s: verification is turned off "
				    "(verify, verify_deadline)",
				    rt->name);
		}
		if (it->rc < 0 && (rc == 0 || rc == ERR_TRANSIENT))
			rc = it->rc;
	}
	if (state != NULL && ops->state_free != NULL)
		ops->state_free(state);
	return rc;
}

/* The targets of the release: the package's (all without packages),
 * narrowed to the requested ones. */
static int
verify_targets(size_t **out, size_t *nout, const struct release_config *c,
    const struct release_package *pkg, const struct release_request *req,
    struct error *err)
{
	size_t *idx = xcalloc(c->ntargets + 1, sizeof(*idx));
	size_t n = 0, i, j;
	int rc = 0;

	for (i = 0; i < c->ntargets; i++) {
		bool in = pkg == NULL, asked = req->ntargets == 0;

		for (j = 0; pkg != NULL && j < pkg->ntargets; j++)
			in = in ||
			     strcmp(pkg->targets[j], c->targets[i].name) == 0;
		for (j = 0; j < req->ntargets; j++)
			asked = asked || strcmp(req->targets[j],
			                     c->targets[i].name) == 0;
		if (in && asked && publisher_find(c->targets[i].type) != NULL)
			idx[n++] = i;
	}
	for (j = 0; j < req->ntargets; j++) {
		bool found = false;

		for (i = 0; i < n; i++)
			found = found || strcmp(c->targets[idx[i]].name,
			                     req->targets[j]) == 0;
		if (!found) {
			rc = error_set(err, ERR_INVALID, "UNKNOWN_TARGET",
			    "target %s is not a target of this release",
			    req->targets[j]);
			goto out;
		}
	}
	if (n == 0) {
		rc = error_set(err, ERR_INVALID, "UNKNOWN_TARGET",
		    "no publishing target is configured for this release");
		goto out;
	}
	*out = idx;
	*nout = n;
	idx = NULL;
out:
	free(idx);
	return rc;
}

int
verify_release(struct release_result *out, const struct release_config *c,
    const struct release_request *req, struct error *err)
{
	const struct release_package *pkg = NULL;
	struct vfile *files = NULL;
	size_t nf = 0, *tidx = NULL, nt = 0, i;
	char version[256], pkgnorm[DIST_NAME_MAX] = "";
	int rc, r;

	out->tag = xstrdup(req->tag ? req->tag : "");
	if (req->nfiles == 0 || req->nfiles > RELEASE_MAX_FILES) {
		rc = error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "verify needs 1 to %d files, got %zu", RELEASE_MAX_FILES,
		    req->nfiles);
		goto out;
	}
	if ((rc = release_match_tag(c, req->tag, req->package, &pkg, version,
	         sizeof(version), err)) < 0)
		goto out;
	out->version = xstrdup(version);
	if ((rc = verify_targets(&tidx, &nt, c, pkg, req, err)) < 0 ||
	    (rc = vfiles_open(&files, &nf, c, req, err)) < 0)
		goto out;
	if (pkg != NULL)
		dist_normalize_name(pkgnorm, sizeof(pkgnorm), pkg->name);
	else if (req->package != NULL)
		dist_normalize_name(pkgnorm, sizeof(pkgnorm), req->package);
	for (i = 0; pkgnorm[0] == '\0' && i < nf; i++)
		if (files[i].meta != NULL)
			dist_normalize_name(pkgnorm, sizeof(pkgnorm),
			    files[i].meta->name);
	out->package = xstrdup(pkgnorm);
	for (i = 0; i < nf; i++) {
		out->files = xrealloc(out->files,
		    (out->nfiles + 1) * sizeof(*out->files));
		out->files[out->nfiles++] = xstrdup(files[i].name);
	}
	if (c->env != NULL)
		http_retry_defaults(c->env->http_attempts,
		    c->env->http_backoff_ms);
	{
		struct publish_release rel = { out->tag, out->package,
			out->version, false };

		for (i = 0; i < nt; i++) {
			r = verify_target(out, &c->targets[tidx[i]], c, &rel,
			    files, nf);
			if (r < 0 && (rc == 0 || rc == ERR_TRANSIENT))
				rc = r;
		}
	}
	for (i = 0; rc < 0 && i < out->n; i++)
		if (out->items[i].rc == rc) {
			*err = out->items[i].err;
			break;
		}
out:
	vfiles_free(files, nf);
	free(tidx);
	return rc;
}
