/*
 * release.c - check a release's files, write its checksums, and run every
 * target's publisher over them (see release.h).
 *
 * Everything that can be known before sending is checked before the first
 * byte leaves: a half-published release is the worst outcome a release
 * pipeline can have, so bad input fails the whole release up front.
 * After that, targets are independent: one failing target does not stop
 * the others, and every file x target gets its own outcome.
 */
#include "publishers/release.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/path.h"
#include "common/util.h"
#include "common/version.h"
#include "common/xalloc.h"
#include "publishers/digest.h"
#include "publishers/dist.h"
#include "publishers/http.h"
#include "publishers/progress.h"
#include "publishers/release_pool.h"
#include "publishers/verify.h"

void
release_config_init(struct release_config *c)
{
	memset(c, 0, sizeof(*c));
}

static void
strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
strv_push(char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = xstrdup(s);
}

void
release_config_dispose(struct release_config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->ntargets; i++) {
		free(c->targets[i].name);
		free(c->targets[i].type);
		strv_free(c->targets[i].keys, c->targets[i].n);
		strv_free(c->targets[i].values, c->targets[i].n);
	}
	free(c->targets);
	for (i = 0; i < c->npackages; i++) {
		free(c->packages[i].name);
		strv_free(c->packages[i].tag_patterns,
		    c->packages[i].npatterns);
		strv_free(c->packages[i].targets, c->packages[i].ntargets);
	}
	free(c->packages);
	free(c->artifacts_root);
	memset(c, 0, sizeof(*c));
}

struct release_target *
release_config_add_target(struct release_config *c, const char *name,
    const char *type)
{
	struct release_target *t;

	c->targets =
	    xrealloc(c->targets, (c->ntargets + 1) * sizeof(*c->targets));
	t = &c->targets[c->ntargets++];
	memset(t, 0, sizeof(*t));
	t->name = xstrdup(name);
	t->type = xstrdup(type);
	return t;
}

void
release_target_set(struct release_target *t, const char *key, const char *value)
{
	size_t n = t->n;

	strv_push(&t->keys, &n, key);
	strv_push(&t->values, &t->n, value);
}

struct release_package *
release_config_add_package(struct release_config *c, const char *name)
{
	struct release_package *p;

	c->packages =
	    xrealloc(c->packages, (c->npackages + 1) * sizeof(*c->packages));
	p = &c->packages[c->npackages++];
	memset(p, 0, sizeof(*p));
	p->name = xstrdup(name);
	return p;
}

void
release_package_add_pattern(struct release_package *p, const char *pattern)
{
	strv_push(&p->tag_patterns, &p->npatterns, pattern);
}

void
release_package_add_target(struct release_package *p, const char *target)
{
	strv_push(&p->targets, &p->ntargets, target);
}

static bool
env_set(const char *v)
{
	return v != NULL && v[0] != '\0';
}

void
release_config_env_defaults(struct release_config *c)
{
	const struct publish_env *e = c->env;

	if (c->ntargets > 0 || e == NULL)
		return;
	/* TWINE_REPOSITORY: a twine user's ~/.pypirc section, which holds
	 * the password (pypirc.h). */
	if (env_set(e->pypi_api_token) || env_set(e->twine_password) ||
	    env_set(e->twine_repository))
		release_config_add_target(c, "pypi", "pypi");
	if (env_set(e->artifactory_url))
		release_config_add_target(c, "artifactory", "artifactory");
	if (env_set(e->s3_wheels_bucket))
		release_config_add_target(c, "s3", "s3");
	if (env_set(e->codeartifact_domain))
		release_config_add_target(c, "codeartifact", "codeartifact");
	if ((env_set(e->gh_token) || env_set(e->github_token)) &&
	    env_set(e->github_repository))
		release_config_add_target(c, "github", "github");
}

void
release_result_init(struct release_result *r)
{
	memset(r, 0, sizeof(*r));
}

void
release_result_dispose(struct release_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++) {
		free(r->items[i].target);
		free(r->items[i].file);
	}
	free(r->items);
	free(r->tag);
	free(r->package);
	free(r->version);
	strv_free(r->files, r->nfiles);
	memset(r, 0, sizeof(*r));
}

const char *
release_status_name(enum publish_status s)
{
	switch (s) {
	case PUBLISH_UPLOADED:
		return "uploaded";
	case PUBLISH_ALREADY_PRESENT:
		return "already_present";
	case PUBLISH_DRY_RUN:
		return "dry_run";
	case PUBLISH_SKIPPED:
		return "skipped";
	}
	return "unknown";
}

static bool
isdigit_ascii(char c)
{
	return c >= '0' && c <= '9';
}

/* The '*' part of a "prefix*" pattern, or NULL when tag does not match. */
static const char *
pattern_version(const char *pattern, const char *tag)
{
	const char *star = strchr(pattern, '*');
	size_t pl;

	if (fnmatch(pattern, tag, 0) != 0)
		return NULL;
	/* Only "prefix*" patterns say where the version is. */
	if (star == NULL || star[1] != '\0')
		return NULL;
	pl = (size_t)(star - pattern);
	return tag + pl;
}

int
release_match_tag(const struct release_config *c, const char *tag,
    const char *package, const struct release_package **pkg, char *version,
    size_t n, struct error *err)
{
	const struct release_package *best = NULL;
	const char *bestv = NULL;
	size_t i, j, bestlen = 0;
	char norm[VERSION_MAX];
	struct error verr;

	error_clear(&verr);
	if (tag == NULL || tag[0] == '\0')
		return error_set(err, ERR_INVALID, "INVALID_TAG",
		    "the release has no tag");
	if (c->npackages == 0) {
		/* No packages configured: "v1.2.3", "name-v1.2.3" or a bare
		 * version. */
		const char *v = strstr(tag, "-v");

		if (v != NULL && isdigit_ascii(v[2]))
			v += 2;
		else if (tag[0] == 'v')
			v = tag + 1;
		else
			v = tag;
		bestv = v;
	} else {
		for (i = 0; i < c->npackages; i++) {
			const struct release_package *p = &c->packages[i];
			char a[256], b[256];

			if (package != NULL) {
				dist_normalize_name(a, sizeof(a), p->name);
				dist_normalize_name(b, sizeof(b), package);
				if (strcmp(a, b) != 0)
					continue;
			}
			for (j = 0; j < p->npatterns; j++) {
				const char *v =
				    pattern_version(p->tag_patterns[j], tag);
				size_t len = strlen(p->tag_patterns[j]);

				/* The most specific pattern wins:
				 * "hf-local-v*" over "v*"-like ones. */
				if (v != NULL &&
				    (best == NULL || len > bestlen)) {
					best = p;
					bestv = v;
					bestlen = len;
				}
			}
		}
		if (best == NULL)
			return error_set(err, ERR_INVALID, "INVALID_TAG",
			    "tag %s matches no tag pattern%s%s", tag,
			    package ? " of package " : "",
			    package ? package : "");
	}
	/* The tag's version in PEP 440's normalised form ("v1.0.0-rc1" ->
	 * "1.0.0rc1"): what the files' metadata is matched against, and
	 * what the answers and the targets' paths carry. */
	if (pep440_normalize(norm, sizeof(norm), bestv, &verr) < 0)
		return error_set(err, ERR_INVALID, "INVALID_TAG",
		    "tag %s: '%s' is not a PEP 440 version (%s)", tag, bestv,
		    verr.msg);
	if (strlen(norm) >= n)
		return error_set(err, ERR_INVALID, "INVALID_TAG",
		    "tag %s: version longer than %zu bytes", tag, n - 1);
	snprintf(version, n, "%s", norm);
	*pkg = best;
	return 0;
}

/* The digests the release's targets use, beyond sha256 (which names
 * every file in the answers and SHA256SUMS): PyPI's form carries
 * blake2_256, Artifactory's deploy headers sha1 and md5 (not in its plain
 * WebDAV mode), S3 compares single-part ETags with md5. */
static unsigned
release_digests(const struct release_config *c, const size_t *tidx, size_t nt)
{
	unsigned want = DIGEST_SHA256;
	size_t i, k;

	for (i = 0; i < nt; i++) {
		const struct release_target *t = &c->targets[tidx[i]];
		bool plain = false;

		for (k = 0; k < t->n; k++)
			if (strcmp(t->keys[k], "api") == 0 &&
			    strcmp(t->values[k], "plain") == 0)
				plain = true;
		if (strcmp(t->type, "pypi") == 0 ||
		    strcmp(t->type, "codeartifact") == 0)
			want |= DIGEST_BLAKE2_256;
		else if (strcmp(t->type, "artifactory") == 0 && !plain)
			want |= DIGEST_SHA1 | DIGEST_MD5;
		else if (strcmp(t->type, "s3") == 0)
			want |= DIGEST_MD5;
	}
	return want;
}

/* One checked file. */
struct rfile {
	int fd;     /* opened once; hashed, inspected and uploaded through */
	char *path; /* generated files only: to remove them afterwards */
	char *name;
	struct digest_set d;
	uint64_t size;
	struct dist_filename fn;
	struct dist_meta *meta;
	bool generated;
};

static void
rfiles_free(struct rfile *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (f[i].fd >= 0)
			close(f[i].fd);
		if (f[i].generated && f[i].path != NULL)
			unlink(f[i].path);
		free(f[i].path);
		free(f[i].name);
		dist_meta_free(f[i].meta);
	}
	free(f);
}

/*
 * Open one file of the request once, beneath the artifacts root, and do
 * everything before the upload through that descriptor: name checks
 * against the files before it (prev[0..nprev)), the digests, and a
 * wheel's or sdist's metadata. f->fd is set as soon as it is open, so the
 * caller closes it on any failure.
 */
static int
release_open_file(struct rfile *f, const struct path_root *root,
    const char *path, const struct rfile *prev, size_t nprev, unsigned want,
    struct error *err)
{
	const char *slash;
	size_t j, len;
	int rc;

	if ((rc = path_open_beneath(&f->fd, NULL, root, path, RELEASE_FILE_MAX,
	         err)) < 0)
		return rc;
	slash = strrchr(path, '/');
	f->name = xstrdup(slash ? slash + 1 : path);
	/* At most RELEASE_MAX_FILES names: the scan stays small. */
	for (j = 0; j < nprev; j++)
		if (strcmp(prev[j].name, f->name) == 0)
			return error_set(err, ERR_INVALID, "PATH_REJECTED",
			    "two files are named %s", f->name);
	len = strlen(f->name);
	if (strcmp(f->name, "SHA256SUMS") == 0 ||
	    (len > 7 && strcmp(f->name + len - 7, ".sha256") == 0))
		return error_set(err, ERR_INVALID, "PATH_REJECTED",
		    "%s: checksum files are generated, do not pass them",
		    f->name);
	if ((rc = dist_parse_filename(&f->fn, f->name, err)) < 0)
		return rc;
	if ((rc = digest_file_some(&f->d, &f->size, f->fd, f->name, want,
	         err)) < 0)
		return rc;
	if (f->fn.kind == DIST_OTHER)
		return 0;
	return dist_meta_read(&f->meta, f->fd, f->name, f->fn.kind, err);
}

static int
cmp_names(const void *a, const void *b)
{
	const struct rfile *x = *(const struct rfile *const *)a;
	const struct rfile *y = *(const struct rfile *const *)b;

	return strcmp(x->name, y->name);
}

/* Add a generated file (content in memory) to the list. */
static int
add_generated(struct rfile *files, size_t *n, const char *dir, const char *name,
    const char *content, struct error *err)
{
	struct rfile *f = &files[*n];
	int rc;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->path = xasprintf("%s/%s", dir, name);
	f->name = xstrdup(name);
	f->generated = true;
	(*n)++;
	if ((rc = util_write_file(f->path, content, strlen(content), err)) < 0)
		return rc;
	/* Our own file in our own mkdtemp directory (mode 0700): opening it
	 * by name is safe; from here on it is used like the others. */
	if ((f->fd = open(f->path, O_RDONLY | O_CLOEXEC)) < 0)
		return error_set(err, ERR_FAIL, "IO", "cannot open %s: %s",
		    f->path, strerror(errno));
	return digest_file(&f->d, &f->size, f->fd, f->name, err);
}

/*
 * The strictest rules of the package's pypi targets, applied to every
 * file before anything is sent, so that a file the index would refuse
 * cannot leave the other targets half-published: local versions unless
 * every pypi target allows them, PyPI's file name rules unless every pypi
 * target turned them off (the publisher applies its own target's rules
 * again when it sends).
 */
static void
pypi_rules(struct dist_rules *rules, const struct release_config *c,
    const size_t *tidx, size_t nt)
{
	size_t i;

	memset(rules, 0, sizeof(*rules));
	for (i = 0; i < nt; i++) {
		const struct release_target *t = &c->targets[tidx[i]];
		struct publish_target pt = { t->name, t->type,
			(const char *const *)t->keys,
			(const char *const *)t->values, t->n, c->env };
		char *v;
		bool allow = false, strict = true;

		if (strcmp(t->type, "pypi") != 0)
			continue;
		if ((v = publish_target_get(&pt, "allow_local_versions")) !=
		    NULL)
			(void)util_parse_bool(&allow, v);
		free(v);
		if ((v = publish_target_get(&pt, "strict_filenames")) != NULL)
			(void)util_parse_bool(&strict, v);
		free(v);
		rules->refuse_local = rules->refuse_local || !allow;
		rules->pypi_filenames = rules->pypi_filenames || strict;
	}
}

static struct release_item *
item_new(struct release_result *r, const char *target, const char *file,
    const char *sha256)
{
	struct release_item *it;

	r->items = xrealloc(r->items, (r->n + 1) * sizeof(*r->items));
	it = &r->items[r->n++];
	memset(it, 0, sizeof(*it));
	it->target = xstrdup(target);
	it->file = xstrdup(file);
	snprintf(it->sha256, sizeof(it->sha256), "%s", sha256 ? sha256 : "");
	return it;
}

/*
 * A target that takes only wheels and sdists (a package index) and a file
 * that is neither: the request's own files (a ZIP bundle, notes) are
 * reported as skipped with the reason, so that no file of the request
 * disappears from the answer; the checksum files the release generated
 * are not the request's and are left out, as before. Returns true when
 * the file is not to be sent to this target.
 */
static bool
skip_for_target(struct release_result *out, const struct release_target *t,
    const struct publisher_ops *ops, const struct rfile *f)
{
	struct release_item *it;

	if (!ops->dists_only || f->meta != NULL)
		return false;
	if (f->generated)
		return true;
	it = item_new(out, t->name, f->name, f->d.sha256);
	error_clear(&it->err);
	it->outcome.status = PUBLISH_SKIPPED;
	snprintf(it->outcome.reason, sizeof(it->outcome.reason),
	    "%s targets take only wheels and sdists "
	    "(<name>-<version>.tar.gz); %s is a plain asset",
	    t->type, f->name);
	log_info("publish_skipped target=%s file=%s reason=plain_asset",
	    t->name, f->name);
	return true;
}

/* Worse codes first: a permanent failure outranks a transient one. */
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

/* Run one target over the files. Returns the worst code of its items. */
static int
run_target(struct release_result *out, const struct release_target *t,
    const struct publish_env *env, const struct publish_release *rel,
    struct rfile **sorted, size_t nf)
{
	const struct publisher_ops *ops = publisher_find(t->type);
	struct publish_target pt = { t->name, t->type,
		(const char *const *)t->keys, (const char *const *)t->values,
		t->n, env };
	void *state = NULL;
	struct error err;
	int64_t t0;
	size_t i;
	int rc = 0, r;

	error_clear(&err);
	if ((r = ops->begin(&state, &pt, rel, &err)) < 0) {
		log_warnx("publish_target_failed target=%s code=%s "
		          "error=\"%s\"",
		    t->name, err.code, err.msg);
		size_t nfailed = 0;

		for (i = 0; i < nf; i++) {
			struct release_item *it;

			if (skip_for_target(out, t, ops, sorted[i]))
				continue;
			it = item_new(out, t->name, sorted[i]->name,
			    sorted[i]->d.sha256);
			it->rc = r;
			it->err = err;
			nfailed++;
		}
		/* Every file was skipped: the failure still gets its item
		 * (target-wide), so the release's error is known. */
		if (nfailed == 0) {
			struct release_item *it =
			    item_new(out, t->name, "", NULL);

			it->rc = r;
			it->err = err;
		}
		return r;
	}
	for (i = 0; i < nf; i++) {
		const struct rfile *f = sorted[i];
		struct publish_file pf;
		struct release_item *it;

		if (skip_for_target(out, t, ops, f))
			continue;
		memset(&pf, 0, sizeof(pf));
		pf.fd = f->fd;
		pf.filename = f->name;
		pf.size = f->size;
		memcpy(pf.sha256, f->d.sha256, sizeof(pf.sha256));
		memcpy(pf.blake2_256, f->d.blake2_256, sizeof(pf.blake2_256));
		memcpy(pf.sha1, f->d.sha1, sizeof(pf.sha1));
		memcpy(pf.md5, f->d.md5, sizeof(pf.md5));
		pf.meta = f->meta;
		it = item_new(out, t->name, f->name, f->d.sha256);
		error_clear(&it->err);
		t0 = util_mono_ms();
		progress_name_set(t->name, f->name); /* progress.h */
		it->rc =
		    ops->upload(state, &pt, rel, &pf, &it->outcome, &it->err);
		progress_name_set(NULL, NULL);
		/* Issue 13: answered only once served back (verify.h). */
		if (it->rc == 0)
			it->rc = verify_file(ops, state, &pt, rel, &pf,
			    &it->outcome, &it->err);
		it->bytes = (uint64_t)f->size;
		it->seconds = (double)(util_mono_ms() - t0) / 1000.0;
		if (it->rc < 0) {
			log_warnx("publish_failed target=%s file=%s code=%s "
			          "error=\"%s\"",
			    t->name, f->name, it->err.code, it->err.msg);
			rc = worse(rc, it->rc);
		} else {
			log_info("publish_done target=%s file=%s status=%s",
			    t->name, f->name,
			    release_status_name(it->outcome.status));
		}
	}
	/* Publishing the release (GitHub: the draft) only once every file
	 * is there. */
	if (rc == 0 && ops->finish != NULL &&
	    (r = ops->finish(state, &pt, rel, &err)) < 0) {
		struct release_item *it = item_new(out, t->name, "", NULL);

		it->rc = r;
		it->err = err;
		rc = worse(rc, r);
		log_warnx(
		    "publish_finish_failed target=%s code=%s error=\"%s\"",
		    t->name, err.code, err.msg);
	}
	if (ops->state_free != NULL)
		ops->state_free(state);
	return rc;
}

/* What release_run's phases share: the chosen targets, the open files
 * (the request's, then the generated checksum files) in name order, and
 * what run_state_free releases. */
struct run_state {
	const struct release_package *pkg;
	char version[256];
	char pkgnorm[DIST_NAME_MAX];
	size_t *tidx, nt;
	struct rfile *files, **sorted;
	size_t nf;
	struct path_root root;
	char *dir; /* the temporary directory of the checksum files */
	struct buf sums;
};

static void
run_state_free(struct run_state *run)
{
	rfiles_free(run->files, run->nf);
	path_root_close(&run->root);
	if (run->dir != NULL)
		rmdir(run->dir);
	free(run->dir);
	free(run->sorted);
	free(run->tidx);
	buf_dispose(&run->sums);
}

/* True when name is one of the n names of v. */
static bool
name_in(const char *name, const char *const *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return true;
	return false;
}

/*
 * Phase 1, resolve: the package the tag belongs to, its version, and the
 * targets (the package's, or all when no packages are set, narrowed to
 * the requested ones). A requested target outside the release, a
 * package naming a target that is not configured, no target at all or
 * one of an unknown type is ERR_INVALID (code UNKNOWN_TARGET).
 */
static int
release_resolve(struct run_state *run, struct release_result *out,
    const struct release_config *c, const struct release_request *req,
    struct error *err)
{
	const struct release_package *pkg;
	size_t i, j;
	int rc;

	if ((rc = release_match_tag(c, req->tag, req->package, &run->pkg,
	         run->version, sizeof(run->version), err)) < 0)
		return rc;
	pkg = run->pkg;
	out->version = xstrdup(run->version);
	if (pkg != NULL)
		dist_normalize_name(run->pkgnorm, sizeof(run->pkgnorm),
		    pkg->name);
	else if (req->package != NULL)
		dist_normalize_name(run->pkgnorm, sizeof(run->pkgnorm),
		    req->package);
	run->tidx = xcalloc(c->ntargets + 1, sizeof(*run->tidx));
	for (i = 0; i < c->ntargets; i++) {
		const char *name = c->targets[i].name;
		bool in = pkg == NULL ||
		          name_in(name, (const char *const *)pkg->targets,
		              pkg->ntargets);

		if (in && req->ntargets > 0)
			in = name_in(name, req->targets, req->ntargets);
		if (in)
			run->tidx[run->nt++] = i;
	}
	for (j = 0; j < req->ntargets; j++) {
		bool found = false;

		for (i = 0; i < run->nt; i++)
			found = found || strcmp(c->targets[run->tidx[i]].name,
			                     req->targets[j]) == 0;
		if (!found)
			return error_set(err, ERR_INVALID, "UNKNOWN_TARGET",
			    "target %s is not a target of this release",
			    req->targets[j]);
	}
	for (j = 0; pkg != NULL && j < pkg->ntargets; j++) {
		bool found = false;

		for (i = 0; i < c->ntargets; i++)
			found = found || strcmp(c->targets[i].name,
			                     pkg->targets[j]) == 0;
		if (!found)
			return error_set(err, ERR_INVALID, "UNKNOWN_TARGET",
			    "package %s names target %s, which is not "
			    "configured",
			    pkg->name, pkg->targets[j]);
	}
	if (run->nt == 0)
		return error_set(err, ERR_INVALID, "UNKNOWN_TARGET",
		    "no publishing target is configured for this release");
	for (i = 0; i < run->nt; i++) {
		const struct release_target *t = &c->targets[run->tidx[i]];

		if (publisher_find(t->type) == NULL)
			return error_set(err, ERR_INVALID, "UNKNOWN_TARGET",
			    "target %s has unknown type %s", t->name, t->type);
	}
	return 0;
}

/*
 * Phase 2, open, hash and gate: every file of the request opened beneath
 * the artifacts root and hashed (release_open_file), passed through the
 * caller's gate (c->file_check, the secret scanner) and, for a wheel or
 * sdist, checked against the package, the version and the strictest
 * pypi rules, all before anything is sent.
 */
static int
release_open_check(struct run_state *run, const struct release_config *c,
    const struct release_request *req, struct error *err)
{
	struct dist_rules rules = { 0 };
	size_t i;
	int rc;

	if (req->nfiles == 0 || req->nfiles > RELEASE_MAX_FILES)
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "a release needs 1 to %d files, got %zu", RELEASE_MAX_FILES,
		    req->nfiles);
	if ((rc = path_root_open(&run->root, c->artifacts_root, err)) < 0) {
		/* The release's own code for a root that cannot be used. */
		snprintf(err->code, sizeof(err->code), "PATH_REJECTED");
		return rc;
	}
	pypi_rules(&rules, c, run->tidx, run->nt);
	/* Room for the files, SHA256SUMS and one .sha256 each. */
	run->files = xcalloc(2 * req->nfiles + 1, sizeof(*run->files));
	for (i = 0; i < req->nfiles; i++) {
		struct rfile *f = &run->files[run->nf++];

		f->fd = -1;
		if ((rc = release_open_file(f, &run->root, req->files[i],
		         run->files, run->nf - 1,
		         release_digests(c, run->tidx, run->nt), err)) < 0)
			return rc;
		if (c->file_check != NULL && (rc = c->file_check(f->fd, f->name,
		                                  c->file_check_arg, err)) < 0)
			return rc;
		if (f->fn.kind == DIST_OTHER)
			continue;
		if (run->pkgnorm[0] == '\0')
			dist_normalize_name(run->pkgnorm, sizeof(run->pkgnorm),
			    f->meta->name);
		if ((rc = dist_check(&f->fn, f->meta, run->pkgnorm,
		         run->version, &rules, err)) < 0) {
			char msg[ERROR_MSG_MAX];

			snprintf(msg, sizeof(msg), "%s", err->msg);
			return error_set(err, rc, "INVALID_DIST", "%s: %s",
			    f->name, msg);
		}
	}
	return 0;
}

static void
release_sort(struct run_state *run)
{
	size_t i;

	for (i = 0; i < run->nf; i++)
		run->sorted[i] = &run->files[i];
	qsort(run->sorted, run->nf, sizeof(*run->sorted), cmp_names);
}

/*
 * Phase 3, checksums: SHA256SUMS and <file>.sha256 in sha256sum's format,
 * in a private temporary directory, added to the files; the answer lists
 * every file in name order.
 */
static int
release_checksums(struct run_state *run, struct release_result *out,
    size_t nfiles, struct error *err)
{
	char tmpl[PATH_MAX];
	const char *tmp = getenv("TMPDIR");
	size_t nuser, i;
	int rc;

	snprintf(tmpl, sizeof(tmpl), "%s/artifactd-release-XXXXXX",
	    tmp && tmp[0] ? tmp : "/tmp");
	if (mkdtemp(tmpl) == NULL)
		return error_set(err, ERR_TRANSIENT, "IO",
		    "cannot create a temporary directory: %s", strerror(errno));
	run->dir = xstrdup(tmpl);
	run->sorted = xcalloc(2 * nfiles + 1, sizeof(*run->sorted));
	release_sort(run);
	nuser = run->nf;
	for (i = 0; i < nuser; i++) {
		const struct rfile *f = run->sorted[i];
		char *name = xasprintf("%s.sha256", f->name);
		char *line = xasprintf("%s  %s\n", f->d.sha256, f->name);

		buf_puts(&run->sums, line);
		rc = add_generated(run->files, &run->nf, run->dir, name, line,
		    err);
		free(name);
		free(line);
		if (rc < 0)
			return rc;
	}
	if ((rc = add_generated(run->files, &run->nf, run->dir, "SHA256SUMS",
	         run->sums.data ? run->sums.data : "", err)) < 0)
		return rc;
	release_sort(run);
	for (i = 0; i < run->nf; i++)
		strv_push(&out->files, &out->nfiles, run->sorted[i]->name);
	return 0;
}

/* One target's job in the pool: its own result (items), merged into the
 * release's in target order once every job has returned, so the answer
 * does not depend on which target finished first. */
struct target_job {
	const struct release_config *c;
	const struct release_target *t;
	const struct publish_release *rel;
	struct run_state *run;
	struct release_result part;
	char host[RELEASE_POOL_HOST_MAX];
	int rc;
};

static void
target_job_run(void *arg, size_t i)
{
	struct target_job *j = &((struct target_job *)arg)[i];

	j->rc = run_target(&j->part, j->t, j->c->env, j->rel, j->run->sorted,
	    j->run->nf);
}

/* The host a target talks to, for the pool's per-host limit: its URL
 * setting, else its type (every target of a type without a URL goes to
 * that type's one public service). */
static void
target_host(struct target_job *j)
{
	static const char *const keys[] = { "url", "api_url", "endpoint" };
	struct publish_target pt = { j->t->name, j->t->type,
		(const char *const *)j->t->keys,
		(const char *const *)j->t->values, j->t->n, j->c->env };
	char *v = NULL;
	size_t k;

	for (k = 0; k < sizeof(keys) / sizeof(keys[0]) && v == NULL; k++)
		v = publish_target_get(&pt, keys[k]);
	release_pool_host(j->host, sizeof(j->host), v, j->t->type);
	free(v);
}

/* Phase 4, run the targets, each over every file, at the same time
 * (release_pool.h: bounded, per host); the worst code. */
static int
release_run_targets(struct run_state *run, struct release_result *out,
    const struct release_config *c)
{
	struct publish_release rel = { out->tag, out->package, out->version,
		out->dry_run };
	struct target_job *jobs = xcalloc(run->nt, sizeof(*jobs));
	const char **hosts = xcalloc(run->nt, sizeof(*hosts));
	size_t i, k;
	int rc = 0;

	if (c->env != NULL)
		http_retry_defaults(c->env->http_attempts,
		    c->env->http_backoff_ms);
	log_info("release_start tag=%s package=%s version=%s files=%zu "
	         "targets=%zu dry_run=%s",
	    out->tag, out->package, out->version, run->nf, run->nt,
	    log_bool(out->dry_run));
	for (i = 0; i < run->nt; i++) {
		jobs[i].c = c;
		jobs[i].t = &c->targets[run->tidx[i]];
		jobs[i].rel = &rel;
		jobs[i].run = run;
		target_host(&jobs[i]);
		hosts[i] = jobs[i].host;
	}
	release_pool_run(run->nt, hosts, target_job_run, jobs);
	for (i = 0; i < run->nt; i++) {
		struct release_result *p = &jobs[i].part;

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

/* Phase 5, answer: the release's error is that of its first item with
 * the worst code. */
static void
release_answer(const struct release_result *out, int rc, struct error *err)
{
	size_t i;

	for (i = 0; rc < 0 && i < out->n; i++)
		if (out->items[i].rc == rc) {
			*err = out->items[i].err;
			break;
		}
	log_info("release_done tag=%s package=%s outcomes=%zu result=%s",
	    out->tag, out->package, out->n, rc == 0 ? "ok" : err->code);
}

int
release_run(struct release_result *out, const struct release_config *c,
    const struct release_request *req, struct error *err)
{
	struct run_state run;
	int rc;

	memset(&run, 0, sizeof(run));
	run.root.fd = -1;
	buf_init(&run.sums, (size_t)RELEASE_MAX_FILES * 512);
	out->tag = xstrdup(req->tag ? req->tag : "");
	out->dry_run = req->dry_run || c->dry_run;
	if ((rc = release_resolve(&run, out, c, req, err)) < 0)
		goto out;
	if ((rc = release_open_check(&run, c, req, err)) < 0)
		goto out;
	out->package = xstrdup(
	    run.pkgnorm[0] ? run.pkgnorm : (run.pkg ? run.pkg->name : ""));
	if ((rc = release_checksums(&run, out, req->nfiles, err)) < 0)
		goto out;
	rc = release_run_targets(&run, out, c);
	release_answer(out, rc, err);
out:
	run_state_free(&run);
	return rc;
}
