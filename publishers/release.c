/*
 * release.c - check a release's files, write its checksums, and run every
 * target's publisher over them (see release.h).
 *
 * Everything that can be known before sending is checked before the first
 * byte leaves: a half-published release is the worst outcome a release
 * pipeline can have, so bad input fails the whole release up front.
 * Digests are the exception (issue 13): one pass over a multi-GiB file
 * before the first byte cost a third of the upload's time, so they are
 * made while the targets run - on a hasher thread for targets that need
 * them up front, from the bytes sent for a plain PUT - and a file that
 * changes meanwhile (fstat before and after, or the sent bytes' hash
 * against the file's) fails with FILE_CHANGED before any checksum file
 * names it.
 * After that, targets are independent: one failing target does not stop
 * the others, and every file x target gets its own outcome.
 */
#include "publishers/release.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
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

/* Where a file's digests are: computed once, by whoever wants them first
 * (release_digest_thread, a target that needs them before sending), or
 * taken from the bytes a late-digest target sent (publish_file.sent). */
enum { RD_NONE, RD_BUSY, RD_DONE, RD_FAILED };

/* True when a target of the release needs digests before it sends: any
 * but Artifactory's plain mode (a WebDAV PUT takes them after the body). */
static bool
release_digests_early(const struct release_config *c, const size_t *tidx,
    size_t nt)
{
	size_t i, k;

	for (i = 0; i < nt; i++) {
		const struct release_target *t = &c->targets[tidx[i]];
		bool plain = false;

		for (k = 0; k < t->n; k++)
			if (strcmp(t->keys[k], "api") == 0 &&
			    strcmp(t->values[k], "plain") == 0)
				plain = true;
		if (strcmp(t->type, "artifactory") != 0 || !plain)
			return true;
	}
	return false;
}

/* One checked file. */
struct rfile {
	int fd;     /* opened once; hashed, inspected and uploaded through */
	char *path; /* generated files only: to remove them afterwards */
	char *name;
	struct digest_set d; /* valid once dstate is RD_DONE */
	uint64_t size;       /* from fstat at open; the hash must agree */
	struct stat st;      /* at open: a change later fails the file */
	struct dist_filename fn;
	struct dist_meta *meta;
	bool generated;
	pthread_mutex_t mu; /* guards dstate, d, derr */
	pthread_cond_t cv;
	int dstate;
	unsigned want; /* DIGEST_* bits */
	struct error derr;
	const _Atomic bool *stop; /* the release gave up: stop hashing */
};

static void
rfiles_free(struct rfile *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		/* Every entry up to n went through rfile_init. */
		pthread_mutex_destroy(&f[i].mu);
		pthread_cond_destroy(&f[i].cv);
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

static void
rfile_init(struct rfile *f, unsigned want, const _Atomic bool *stop)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->want = want;
	f->stop = stop;
}

/* The file as it was opened: same inode, size and mtime. A write after
 * the open (an append, a rewrite in place) moves mtime or the size, so
 * bytes sent or hashed from then on may not be the file's. Not ctime: a
 * rename of the path (a producer moving files into place, the swap in
 * test_hostile_files) moves it without touching a byte we read through
 * our descriptor. A writer that puts mtime back is still caught where a
 * second reader (the hasher, another target) compares digests. */
static int
rfile_unchanged(const struct rfile *f, struct error *err)
{
	struct stat st;

	if (fstat(f->fd, &st) < 0)
		return error_set(err, ERR_FAIL, "IO", "cannot stat %s: %s",
		    f->name, strerror(errno));
	if (st.st_ino != f->st.st_ino || st.st_dev != f->st.st_dev ||
	    st.st_size != f->st.st_size ||
	    st.st_mtim.tv_sec != f->st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != f->st.st_mtim.tv_nsec)
		return error_set(err, ERR_FAIL, "FILE_CHANGED",
		    "%s changed while it was published (%lld bytes at open, "
		    "%lld now); its digest would not be that of the bytes "
		    "sent",
		    f->name, (long long)f->st.st_size, (long long)st.st_size);
	return 0;
}

/* Set the outcome of a digest (f->mu held) and wake the waiters. */
static void
rfile_digest_set(struct rfile *f, int rc, const struct error *err)
{
	f->dstate = rc == 0 ? RD_DONE : RD_FAILED;
	if (rc < 0)
		f->derr = *err;
	pthread_cond_broadcast(&f->cv);
}

/*
 * The file's digests, computed here when nobody has yet, else waited for.
 * Returns 0 (f->d valid), or the code of the failure (err): a read error,
 * the release stopped, or FILE_CHANGED.
 */
static int
rfile_digest(struct rfile *f, struct error *err)
{
	struct digest_set d;
	uint64_t size = 0;
	int rc;

	pthread_mutex_lock(&f->mu);
	while (f->dstate == RD_BUSY)
		pthread_cond_wait(&f->cv, &f->mu);
	if (f->dstate != RD_NONE) {
		rc = f->dstate == RD_DONE ? 0 : f->derr.rc;
		if (rc < 0)
			*err = f->derr;
		pthread_mutex_unlock(&f->mu);
		return rc;
	}
	f->dstate = RD_BUSY;
	pthread_mutex_unlock(&f->mu);
	rc =
	    digest_file_until(&d, &size, f->fd, f->name, f->want, f->stop, err);
	if (rc == 0 && size != f->size)
		rc = error_set(err, ERR_FAIL, "FILE_CHANGED",
		    "%s changed while it was hashed (%llu bytes at open, %llu "
		    "read)",
		    f->name, (unsigned long long)f->size,
		    (unsigned long long)size);
	if (rc == 0)
		rc = rfile_unchanged(f, err);
	pthread_mutex_lock(&f->mu);
	if (rc == 0)
		f->d = d;
	rfile_digest_set(f, rc, err);
	pthread_mutex_unlock(&f->mu);
	return rc;
}

/* The sha256 when it is known, else "" (never waits). */
static void
rfile_peek_sha256(struct rfile *f, char out[65])
{
	pthread_mutex_lock(&f->mu);
	snprintf(out, 65, "%s", f->dstate == RD_DONE ? f->d.sha256 : "");
	pthread_mutex_unlock(&f->mu);
}

/* publish_file.need: the sha256 before sending (an existing file). */
static int
rfile_need(void *arg, char sha256[65], struct error *err)
{
	struct rfile *f = arg;
	int rc;

	if ((rc = rfile_digest(f, err)) == 0)
		snprintf(sha256, 65, "%s", f->d.sha256);
	return rc;
}

/*
 * publish_file.sent: a late-digest target sent the file and hashed what
 * it sent (sha256, or NULL when it could not). When only sha256 is wanted
 * and nobody hashed the file yet, that hash is the file's digest: one
 * read for sending and hashing. Otherwise it must equal the digest
 * computed from the file, or the file changed while it was being read.
 */
static int
rfile_sent(void *arg, const char *sha256, uint64_t bytes, struct error *err)
{
	struct rfile *f = arg;
	int rc;

	if ((rc = rfile_unchanged(f, err)) < 0)
		goto out;
	if (sha256 != NULL && bytes != f->size) {
		rc = error_set(err, ERR_FAIL, "FILE_CHANGED",
		    "%s: %llu bytes sent, %llu at open", f->name,
		    (unsigned long long)bytes, (unsigned long long)f->size);
		goto out;
	}
	pthread_mutex_lock(&f->mu);
	if (sha256 != NULL && f->dstate == RD_NONE &&
	    f->want == DIGEST_SHA256) {
		snprintf(f->d.sha256, sizeof(f->d.sha256), "%s", sha256);
		rfile_digest_set(f, 0, NULL);
		pthread_mutex_unlock(&f->mu);
		return 0;
	}
	pthread_mutex_unlock(&f->mu);
	if ((rc = rfile_digest(f, err)) < 0)
		goto out;
	if (sha256 != NULL && strcmp(sha256, f->d.sha256) != 0)
		rc = error_set(err, ERR_FAIL, "FILE_CHANGED",
		    "%s changed while it was published: sha256 %.12s... sent, "
		    "%.12s... read from the file",
		    f->name, sha256, f->d.sha256);
out:
	/* The bytes sent are not the file's: nothing may name a digest for
	 * it (the checksum files wait on this state). */
	if (rc < 0) {
		pthread_mutex_lock(&f->mu);
		if (f->dstate != RD_BUSY)
			rfile_digest_set(f, rc, err);
		pthread_mutex_unlock(&f->mu);
	}
	return rc;
}

/*
 * Open one file of the request once, beneath the artifacts root, and do
 * everything before the upload through that descriptor: name checks
 * against the files before it (prev[0..nprev)), fstat (what a later
 * change is detected against), and a wheel's or sdist's metadata. f->fd is set
 * as soon as it is open, so the caller closes it on any failure.
 */
static int
release_open_file(struct rfile *f, const struct path_root *root,
    const char *path, const struct rfile *prev, size_t nprev, struct error *err)
{
	const char *slash;
	size_t j, len;
	int rc;

	if ((rc = path_open_beneath(&f->fd, NULL, root, path, RELEASE_FILE_MAX,
	         err)) < 0)
		return rc;
	if (fstat(f->fd, &f->st) < 0)
		return error_set(err, ERR_FAIL, "IO", "cannot stat %s: %s",
		    path, strerror(errno));
	f->size = (uint64_t)f->st.st_size;
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
	/* The digests come later (rfile_digest), beside the uploads. */
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

/* What release_run's phases share: the chosen targets, the open files
 * (the request's, then the generated checksum files) in name order, and
 * what run_state_free releases. */
struct run_state {
	const struct release_package *pkg;
	char version[256];
	char pkgnorm[DIST_NAME_MAX];
	size_t *tidx, nt;
	struct rfile *files, **sorted;
	size_t nf, nuser; /* all files; the request's (files[0..nuser)) */
	struct path_root root;
	char *dir; /* the temporary directory of the checksum files */
	struct buf sums;
	_Atomic bool stop; /* the targets are done: stop hashing */
	pthread_mutex_t sums_mu;
	bool sums_done; /* the checksum files are written (sums_rc) */
	int sums_rc;
	struct error sums_err;
	pthread_t hasher;
	bool hashing; /* hasher runs */
};

static void
run_state_free(struct run_state *run)
{
	atomic_store(&run->stop, true);
	if (run->hashing)
		pthread_join(run->hasher, NULL);
	rfiles_free(run->files, run->nf);
	path_root_close(&run->root);
	if (run->dir != NULL)
		rmdir(run->dir);
	free(run->dir);
	free(run->sorted);
	free(run->tidx);
	buf_dispose(&run->sums);
	pthread_mutex_destroy(&run->sums_mu);
}

/* Write a generated file's content (f was set up by release_checksums)
 * and hash it. */
static int
generated_write(struct rfile *f, const char *content, struct error *err)
{
	int rc;

	if ((rc = util_write_file(f->path, content, strlen(content), err)) < 0)
		return rc;
	/* Our own file in our own mkdtemp directory (mode 0700): opening it
	 * by name is safe; from here on it is used like the others. */
	if ((f->fd = open(f->path, O_RDONLY | O_CLOEXEC)) < 0)
		return error_set(err, ERR_FAIL, "IO", "cannot open %s: %s",
		    f->path, strerror(errno));
	if (fstat(f->fd, &f->st) < 0)
		return error_set(err, ERR_FAIL, "IO", "cannot stat %s: %s",
		    f->path, strerror(errno));
	f->size = (uint64_t)f->st.st_size;
	return rfile_digest(f, err);
}

/* Write SHA256SUMS and the .sha256 files, once every file of the request
 * has its digest (the first caller writes, the others wait). A file
 * that could not be hashed, or changed while it was sent, fails them:
 * no checksum file names a digest that is not the file's. */
static int
sums_write(struct run_state *run, struct error *err)
{
	size_t i, k;
	int rc = 0;

	for (i = 0; i < run->nf && rc == 0; i++) {
		struct rfile *f = run->sorted[i];

		if (!f->generated)
			rc = rfile_digest(f, err);
	}
	for (i = 0; i < run->nf && rc == 0; i++) {
		const struct rfile *f = run->sorted[i];

		if (!f->generated)
			buf_printf(&run->sums, "%s  %s\n", f->d.sha256,
			    f->name);
	}
	for (i = 0; i < run->nf && rc == 0; i++) {
		struct rfile *g = run->sorted[i];
		char *line = NULL;

		if (!g->generated)
			continue;
		if (strcmp(g->name, "SHA256SUMS") == 0) {
			rc = generated_write(g,
			    run->sums.data ? run->sums.data : "", err);
			continue;
		}
		/* "<name>.sha256": the line of <name>. */
		for (k = 0; k < run->nf && line == NULL; k++) {
			const struct rfile *f = run->sorted[k];

			if (!f->generated &&
			    strncmp(g->name, f->name, strlen(f->name)) == 0 &&
			    strcmp(g->name + strlen(f->name), ".sha256") == 0)
				line =
				    xasprintf("%s  %s\n", f->d.sha256, f->name);
		}
		assert(line != NULL);
		rc = generated_write(g, line, err);
		free(line);
	}
	return rc;
}

/* The checksum files, written by the first target that needs them. */
static int
release_sums_ready(struct run_state *run, struct error *err)
{
	int rc;

	pthread_mutex_lock(&run->sums_mu);
	if (!run->sums_done) {
		error_clear(&run->sums_err);
		run->sums_rc = sums_write(run, &run->sums_err);
		run->sums_done = true;
	}
	rc = run->sums_rc;
	if (rc < 0)
		*err = run->sums_err;
	pthread_mutex_unlock(&run->sums_mu);
	return rc;
}

/*
 * Hash the request's files in order on a thread of its own while the
 * targets run (existence checks, other targets' uploads): a target that
 * needs a digest before sending finds it done or being made. Stops
 * between files (and digest_file_until within one) once the release
 * gives up.
 */
static void *
release_hasher(void *arg)
{
	struct run_state *run = arg;
	struct error err;
	size_t i;

	for (i = 0; i < run->nuser && !atomic_load(&run->stop); i++) {
		error_clear(&err);
		(void)rfile_digest(&run->files[i], &err);
	}
	return NULL;
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
    const struct publisher_ops *ops, struct rfile *f)
{
	struct release_item *it;
	struct error derr;
	char sha[65];

	if (!ops->dists_only || f->meta != NULL)
		return false;
	if (f->generated)
		return true;
	/* The answer names the skipped file's sha256 too (made here when
	 * nobody has yet; a failure leaves it ""). */
	error_clear(&derr);
	if (rfile_digest(f, &derr) == 0)
		rfile_peek_sha256(f, sha);
	else
		sha[0] = '\0';
	it = item_new(out, t->name, f->name, sha);
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

/* One target's begin failed: every file it would have taken fails with
 * it. */
static void
target_failed(struct release_result *out, const struct release_target *t,
    const struct publisher_ops *ops, struct run_state *run, int r,
    const struct error *err)
{
	size_t i, nfailed = 0;

	log_warnx("publish_target_failed target=%s code=%s error=\"%s\"",
	    t->name, err->code, err->msg);
	for (i = 0; i < run->nf; i++) {
		struct release_item *it;
		char sha[65];

		if (skip_for_target(out, t, ops, run->sorted[i]))
			continue;
		rfile_peek_sha256(run->sorted[i], sha);
		it = item_new(out, t->name, run->sorted[i]->name, sha);
		it->rc = r;
		it->err = *err;
		nfailed++;
	}
	/* Every file was skipped: the failure still gets its item
	 * (target-wide), so the release's error is known. */
	if (nfailed == 0) {
		struct release_item *it = item_new(out, t->name, "", NULL);

		it->rc = r;
		it->err = *err;
	}
}

/* The digests of f into pf, waiting for them (or the checksum files). */
static int
file_digests(struct publish_file *pf, struct run_state *run, struct rfile *f,
    struct error *err)
{
	int rc;

	if (f->generated && (rc = release_sums_ready(run, err)) < 0)
		return rc;
	if ((rc = rfile_digest(f, err)) < 0)
		return rc;
	memcpy(pf->sha256, f->d.sha256, sizeof(pf->sha256));
	memcpy(pf->blake2_256, f->d.blake2_256, sizeof(pf->blake2_256));
	memcpy(pf->sha1, f->d.sha1, sizeof(pf->sha1));
	memcpy(pf->md5, f->d.md5, sizeof(pf->md5));
	return 0;
}

/*
 * Send one file to one target and verify it. A late-digest target (plain
 * PUT) sends the request's files before their digests are known and
 * hashes what it sends (publish_file.sent); every other upload waits for
 * the digests first. Returns the item's code.
 */
static int
run_file(struct release_result *out, const struct release_target *t,
    const struct publisher_ops *ops, void *state,
    const struct publish_target *pt, const struct publish_release *rel,
    struct run_state *run, struct rfile *f, bool late)
{
	struct publish_file pf;
	struct release_item *it;
	int64_t t0 = util_mono_ms();

	memset(&pf, 0, sizeof(pf));
	pf.fd = f->fd;
	pf.filename = f->name;
	pf.meta = f->meta;
	it = item_new(out, t->name, f->name, NULL);
	error_clear(&it->err);
	late = late && !f->generated && !rel->dry_run;
	if (late) {
		pf.need = rfile_need;
		pf.sent = rfile_sent;
		pf.digest_arg = f;
	} else if ((it->rc = file_digests(&pf, run, f, &it->err)) < 0) {
		goto out;
	}
	if (f->generated)
		pf.fd = f->fd; /* opened by release_sums_ready */
	pf.size = f->size;
	progress_name_set(t->name, f->name); /* progress.h */
	it->rc = ops->upload(state, pt, rel, &pf, &it->outcome, &it->err);
	progress_name_set(NULL, NULL);
	/* The digest of what was sent (or of the file, when it was already
	 * there): what verify compares and the answer names. */
	if (it->rc == 0 && late)
		it->rc = file_digests(&pf, run, f, &it->err);
	/* A change after the digest was made (another target's upload or
	 * the hasher read it) is caught here too. */
	if (it->rc == 0 && !f->generated && !rel->dry_run)
		it->rc = rfile_unchanged(f, &it->err);
	/* Issue 13: answered only once served back (verify.h). */
	if (it->rc == 0)
		it->rc = verify_file(ops, state, pt, rel, &pf, &it->outcome,
		    &it->err);
out:
	snprintf(it->sha256, sizeof(it->sha256), "%s", pf.sha256);
	it->bytes = (uint64_t)f->size;
	it->seconds = (double)(util_mono_ms() - t0) / 1000.0;
	if (it->rc < 0)
		log_warnx("publish_failed target=%s file=%s code=%s "
		          "error=\"%s\"",
		    t->name, f->name, it->err.code, it->err.msg);
	else
		log_info("publish_done target=%s file=%s status=%s", t->name,
		    f->name, release_status_name(it->outcome.status));
	return it->rc;
}

static int
cmp_items(const void *a, const void *b)
{
	const struct release_item *x = a, *y = b;

	return strcmp(x->file, y->file);
}

/* Run one target over the files: the request's first, the checksum files
 * (which wait for every digest) last; the items in name order. Returns
 * the worst code of its items. */
static int
run_target(struct release_result *out, const struct release_target *t,
    const struct publish_env *env, const struct publish_release *rel,
    struct run_state *run)
{
	const struct publisher_ops *ops = publisher_find(t->type);
	struct publish_target pt = { t->name, t->type,
		(const char *const *)t->keys, (const char *const *)t->values,
		t->n, env };
	void *state = NULL;
	struct error err;
	size_t i, pass, first = out->n;
	bool late;
	int rc = 0, r;

	error_clear(&err);
	if ((r = ops->begin(&state, &pt, rel, &err)) < 0) {
		target_failed(out, t, ops, run, r, &err);
		return r;
	}
	late = ops->late_digest != NULL && ops->late_digest(state);
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < run->nf; i++) {
			struct rfile *f = run->sorted[i];

			if (f->generated != (pass == 1) ||
			    skip_for_target(out, t, ops, f))
				continue;
			r = run_file(out, t, ops, state, &pt, rel, run, f,
			    late);
			rc = worse(rc, r);
		}
	qsort(out->items + first, out->n - first, sizeof(*out->items),
	    cmp_items);
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
 * Phase 2, open and gate: every file of the request opened beneath the
 * artifacts root and its size and times taken (release_open_file; its
 * digests are made beside the uploads, rfile_digest), passed through the
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

		rfile_init(f, release_digests(c, run->tidx, run->nt),
		    &run->stop);
		if ((rc = release_open_file(f, &run->root, req->files[i],
		         run->files, run->nf - 1, err)) < 0)
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
 * to be written into a private temporary directory once the digests are
 * known (release_sums_ready), added to the files; the answer lists every
 * file in name order.
 */
static int
release_checksums(struct run_state *run, struct release_result *out,
    size_t nfiles, struct error *err)
{
	char tmpl[PATH_MAX];
	const char *tmp = getenv("TMPDIR");
	size_t i;

	snprintf(tmpl, sizeof(tmpl), "%s/artifactd-release-XXXXXX",
	    tmp && tmp[0] ? tmp : "/tmp");
	if (mkdtemp(tmpl) == NULL)
		return error_set(err, ERR_TRANSIENT, "IO",
		    "cannot create a temporary directory: %s", strerror(errno));
	run->dir = xstrdup(tmpl);
	run->sorted = xcalloc(2 * nfiles + 1, sizeof(*run->sorted));
	run->nuser = run->nf;
	for (i = 0; i <= run->nuser; i++) {
		struct rfile *g = &run->files[run->nf++];

		rfile_init(g, DIGEST_SHA256, &run->stop);
		g->name = i < run->nuser
		              ? xasprintf("%s.sha256", run->files[i].name)
		              : xstrdup("SHA256SUMS");
		g->path = xasprintf("%s/%s", run->dir, g->name);
		g->generated = true;
	}
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

	j->rc = run_target(&j->part, j->t, j->c->env, j->rel, j->run);
}

/* The host a target talks to, for the pool's per-host limit. */
static void
target_host(struct target_job *j)
{
	struct publish_target pt = { j->t->name, j->t->type,
		(const char *const *)j->t->keys,
		(const char *const *)j->t->values, j->t->n, j->c->env };

	release_pool_target_host(j->host, sizeof(j->host), &pt);
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
	/* Targets that need digests before sending (every one but a plain
	 * PUT) find them made on the hasher thread meanwhile. */
	if (!out->dry_run && release_digests_early(c, run->tidx, run->nt))
		run->hashing = pthread_create(&run->hasher, NULL,
		                   release_hasher, run) == 0;
	release_pool_run(run->nt, hosts, target_job_run, jobs);
	atomic_store(&run->stop, true);
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
	pthread_mutex_init(&run.sums_mu, NULL);
	atomic_init(&run.stop, false);
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
