/*
 * release_provenance.c - <name>-<version>.intoto.jsonl, the signed SLSA
 * provenance of a release (release_provenance.h).
 *
 * The statement: subjects are the request's files (basenames, sorted,
 * sha256 each); predicateType https://slsa.dev/provenance/v1 with
 * buildDefinition {buildType, externalParameters {tag, repository,
 * commit}, internalParameters {package, version}, resolvedDependencies
 * (the tagged commit, when known)} and runDetails {builder {id,
 * version}, metadata {invocationId, startedOn, finishedOn}}. The times
 * are the event's timestamp (the command line: the newest modification
 * time of the files), not the clock's: a retried release must rebuild
 * the same bytes (docs/decisions.md).
 */
#include "worker/release_provenance.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/path.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "publishers/digest.h"
#include "publishers/dist.h"
#include "store/provenance.h"
#include "store/sign.h"

/* One subject. */
struct rp_subject {
	char *name;
	char sha256[65];
};

static int
rp_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rp_subject *)a)->name,
	    ((const struct rp_subject *)b)->name);
}

/* Open and hash every file as the release core will (beneath the root,
 * RELEASE_FILE_MAX); *newest gets the latest mtime. */
static int
rp_hash_files(struct rp_subject *subj, const struct path_root *root,
    const struct release_request *req, time_t *newest, struct error *err)
{
	struct digest_set d;
	struct stat st;
	uint64_t size;
	size_t i;
	int fd = -1, rc;

	for (i = 0; i < req->nfiles; i++) {
		const char *slash = strrchr(req->files[i], '/');

		if ((rc = path_open_beneath(&fd, &st, root, req->files[i],
		         RELEASE_FILE_MAX, err)) < 0)
			return rc;
		rc = digest_file_some(&d, &size, fd, req->files[i],
		    DIGEST_SHA256, err);
		close(fd);
		if (rc < 0)
			return rc;
		if (st.st_mtime > *newest)
			*newest = st.st_mtime;
		subj[i].name = xstrdup(slash ? slash + 1 : req->files[i]);
		memcpy(subj[i].sha256, d.sha256, sizeof(subj[i].sha256));
	}
	qsort(subj, req->nfiles, sizeof(*subj), rp_cmp);
	return 0;
}

/* The name part: the package's normalized name (configured, requested
 * or the first wheel's / sdist's), else "release". */
static void
rp_name(char *out, size_t n, const struct release_package *pkg,
    const struct release_request *req)
{
	struct dist_filename fn;
	struct error e;
	size_t i;

	if (pkg != NULL || req->package != NULL) {
		dist_normalize_name(out, n, pkg ? pkg->name : req->package);
		return;
	}
	for (i = 0; i < req->nfiles; i++) {
		const char *slash = strrchr(req->files[i], '/');

		if (dist_parse_filename(&fn, slash ? slash + 1 : req->files[i],
		        &e) == 0 &&
		    fn.kind != DIST_OTHER) {
			dist_normalize_name(out, n, fn.name);
			return;
		}
	}
	snprintf(out, n, "release");
}

/* The SLSA v1 predicate. */
static cJSON *
rp_predicate(const struct config *cfg, const struct release_request *req,
    const char *name, const char *version, const struct release_prov_in *in,
    const char *when)
{
	cJSON *p = cJSON_CreateObject(), *bd, *ext, *intp, *deps, *rd, *b, *m;
	char *repo = cfg->repo ? util_redact_url(cfg->repo) : NULL;

	bd = cJSON_AddObjectToObject(p, "buildDefinition");
	cJSON_AddStringToObject(bd, "buildType", RELEASE_PROVENANCE_BUILD_TYPE);
	ext = cJSON_AddObjectToObject(bd, "externalParameters");
	cJSON_AddStringToObject(ext, "tag", req->tag);
	cJSON_AddItemToObject(ext, "repository",
	    repo ? cJSON_CreateString(repo) : cJSON_CreateNull());
	cJSON_AddItemToObject(ext, "commit",
	    in->commit_sha ? cJSON_CreateString(in->commit_sha)
	                   : cJSON_CreateNull());
	intp = cJSON_AddObjectToObject(bd, "internalParameters");
	cJSON_AddStringToObject(intp, "package", name);
	cJSON_AddStringToObject(intp, "version", version);
	deps = cJSON_AddArrayToObject(bd, "resolvedDependencies");
	if (repo != NULL && in->commit_sha != NULL) {
		cJSON *d = cJSON_CreateObject(), *dg;
		char *uri = xasprintf("git+%s@refs/tags/%s", repo, req->tag);

		cJSON_AddStringToObject(d, "uri", uri);
		dg = cJSON_AddObjectToObject(d, "digest");
		cJSON_AddStringToObject(dg, "gitCommit", in->commit_sha);
		cJSON_AddItemToArray(deps, d);
		free(uri);
	}
	rd = cJSON_AddObjectToObject(p, "runDetails");
	b = cJSON_AddObjectToObject(rd, "builder");
	cJSON_AddStringToObject(b, "id", RELEASE_PROVENANCE_BUILDER);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(b, "version"),
	    "artifactd", ARTIFACTD_VERSION);
	m = cJSON_AddObjectToObject(rd, "metadata");
	cJSON_AddStringToObject(m, "invocationId", in->invocation_id);
	cJSON_AddStringToObject(m, "startedOn", when);
	cJSON_AddStringToObject(m, "finishedOn", when);
	free(repo);
	return p;
}

/* The statement's JSON text (caller frees). */
static char *
rp_statement(const struct rp_subject *subj, size_t n, cJSON *pred)
{
	cJSON *st = cJSON_CreateObject(), *arr, *s;
	char *text;
	size_t i;

	cJSON_AddStringToObject(st, "_type", "https://in-toto.io/Statement/v1");
	arr = cJSON_AddArrayToObject(st, "subject");
	for (i = 0; i < n; i++) {
		s = cJSON_CreateObject();
		cJSON_AddStringToObject(s, "name", subj[i].name);
		cJSON_AddStringToObject(cJSON_AddObjectToObject(s, "digest"),
		    "sha256", subj[i].sha256);
		cJSON_AddItemToArray(arr, s);
	}
	cJSON_AddStringToObject(st, "predicateType",
	    RELEASE_PROVENANCE_PREDICATE);
	cJSON_AddItemToObject(st, "predicate", pred);
	if ((text = cJSON_PrintUnformatted(st)) == NULL)
		abort(); /* cJSON fails only on allocation */
	cJSON_Delete(st);
	return text;
}

/* The private directory beneath the root and the file in it. */
static int
rp_write(struct release_prov *p, const struct path_root *root,
    const char *fname, const char *line, struct error *err)
{
	char *tmpl = xasprintf("%s/.artifactd-provenance-XXXXXX", root->real);
	int rc;

	if (mkdtemp(tmpl) == NULL) {
		rc = error_set(err, ERR_TRANSIENT, "IO",
		    "release provenance: cannot create a directory beneath "
		    "the artifacts root: %s",
		    strerror(errno));
		free(tmpl);
		return rc;
	}
	p->dir = tmpl;
	p->path = xasprintf("%s/%s", tmpl, fname);
	return util_write_file(p->path, line, strlen(line), err);
}

/* ISO 8601 of t, UTC. */
static void
rp_iso(char *out, size_t n, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
release_provenance_add(struct release_prov *p, const struct config *cfg,
    const struct release_config *c, struct release_request *req,
    const struct release_prov_in *in, struct error *err)
{
	const struct release_package *pkg = NULL;
	struct sign_key *key = NULL;
	struct path_root root = { -1, NULL, NULL };
	struct rp_subject *subj = NULL;
	struct error terr;
	char version[256], name[DIST_NAME_MAX], when[64], *fname = NULL;
	char *stmt = NULL, *line = NULL, *with_nl = NULL;
	time_t newest = 0;
	size_t i, n = req->nfiles;
	int rc = 0;

	memset(p, 0, sizeof(*p));
	if (cfg->signing_key == NULL || cfg->signing_key[0] == '\0' ||
	    req->nfiles == 0 || req->nfiles > RELEASE_MAX_FILES ||
	    release_match_tag(c, req->tag, req->package, &pkg, version,
	        sizeof(version), &terr) < 0)
		return 0; /* nothing to add, or release_run refuses it */
	/* The provenance is one more file: never publish without it. */
	if (req->nfiles == RELEASE_MAX_FILES)
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "a release with provenance (signing-key) holds at most %d "
		    "files, got %zu",
		    RELEASE_MAX_FILES - 1, req->nfiles);
	if ((rc = sign_key_load(&key, cfg->signing_key, err)) < 0 ||
	    (rc = path_root_open(&root, c->artifacts_root, err)) < 0)
		goto out;
	subj = xcalloc(n, sizeof(*subj));
	if ((rc = rp_hash_files(subj, &root, req, &newest, err)) < 0)
		goto out;
	rp_name(name, sizeof(name), pkg, req);
	if (in->timestamp != NULL && in->timestamp[0] != '\0')
		snprintf(when, sizeof(when), "%s", in->timestamp);
	else
		rp_iso(when, sizeof(when), newest);
	stmt = rp_statement(subj, n,
	    rp_predicate(cfg, req, name, version, in, when));
	if ((rc = provenance_envelope(&line, key, stmt, strlen(stmt), true,
	         err)) < 0)
		goto out;
	with_nl = xasprintf("%s\n", line);
	fname = xasprintf("%s-%s%s", name, version, RELEASE_PROVENANCE_SUFFIX);
	if ((rc = rp_write(p, &root, fname, with_nl, err)) < 0)
		goto out;
	p->files = xcalloc(n + 1, sizeof(*p->files));
	for (i = 0; i < n; i++)
		p->files[i] = req->files[i];
	p->files[n] = p->path;
	req->files = p->files;
	req->nfiles = n + 1;
	log_info("release_provenance tag=%s file=%s subjects=%zu", req->tag,
	    fname, n);
	p->names = xcalloc(n, sizeof(*p->names));
	p->sha256 = xcalloc(n, sizeof(*p->sha256));
	for (i = 0; i < n; i++) {
		p->names[i] = subj[i].name;
		subj[i].name = NULL;
		memcpy(p->sha256[i], subj[i].sha256, sizeof(p->sha256[i]));
	}
	p->n = n;
	rc = 0;
out:
	if (rc < 0)
		release_provenance_dispose(p);
	for (i = 0; subj != NULL && i < n; i++)
		free(subj[i].name);
	free(subj);
	free(fname);
	free(with_nl);
	free(line);
	free(stmt);
	path_root_close(&root);
	sign_key_free(key);
	return rc;
}

int
release_provenance_check(const struct release_prov *p,
    const struct release_result *rr, struct error *err)
{
	size_t i, j;

	for (i = 0; i < rr->n; i++) {
		const struct release_item *it = &rr->items[i];

		for (j = 0; j < p->n && it->sha256[0] != '\0'; j++)
			if (strcmp(p->names[j], it->file) == 0 &&
			    strcmp(p->sha256[j], it->sha256) != 0) {
				log_warnx("release_provenance_mismatch file=%s "
				          "target=%s",
				    it->file, it->target);
				return error_set(err, ERR_FAIL,
				    "PROVENANCE_MISMATCH",
				    "%s changed while the release ran: "
				    "published with sha256 %.12s..., its "
				    "provenance says %.12s...",
				    it->file, it->sha256, p->sha256[j]);
			}
	}
	return 0;
}

void
release_provenance_dispose(struct release_prov *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++)
		free(p->names[i]);
	free(p->names);
	free(p->sha256);
	if (p->path != NULL)
		(void)unlink(p->path);
	if (p->dir != NULL)
		(void)rmdir(p->dir);
	free(p->path);
	free(p->dir);
	free(p->files);
	memset(p, 0, sizeof(*p));
}
