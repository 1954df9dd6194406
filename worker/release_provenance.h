/*
 * release_provenance.h - provenance of a release (issue 16): with a
 * signing key, every release also publishes <name>-<version>.intoto.jsonl,
 * one line holding the DSSE envelope (store/provenance.h, the same key
 * and signature as the artifacts' provenance) of an in-toto Statement v1
 * with the SLSA provenance v1 predicate, whose subjects are the release's
 * files with their SHA-256.
 *
 * It is built by the worker before the release core runs and added to
 * the request's files, so that every target takes it as one more asset
 * (GitHub, Artifactory, S3, WebDAV) and the package indexes (PyPI,
 * CodeArtifact) report it skipped like any plain asset. The file lives in
 * a private directory (mkdtemp, 0700) beneath the artifacts root, because
 * the release core opens every file beneath that root; it is removed
 * after the run. The statement depends only on the event and the files,
 * so a redelivered or retried release builds the same bytes (Ed25519 is
 * deterministic) and a target that already holds it answers "already
 * present", not a conflict.
 */
#ifndef WORKER_RELEASE_PROVENANCE_H
#define WORKER_RELEASE_PROVENANCE_H

#include <stddef.h>

#include "common/error.h"
#include "publishers/release.h"
#include "worker/config.h"

/* The part of the name after <name>-<version>. */
#define RELEASE_PROVENANCE_SUFFIX ".intoto.jsonl"
#define RELEASE_PROVENANCE_BUILD_TYPE "https://artifactd.dev/release/v1"
#define RELEASE_PROVENANCE_BUILDER "https://artifactd.dev/builder/v1"
#define RELEASE_PROVENANCE_PREDICATE "https://slsa.dev/provenance/v1"

/* What one release adds: the request's files plus the provenance. */
struct release_prov {
	char *dir;          /* the private directory, or NULL */
	char *path;         /* the .intoto.jsonl inside it, or NULL */
	const char **files; /* the request's files, then path */
	char **names;       /* the subjects: basenames ... */
	char (*sha256)[65]; /* ... and the digests the statement holds */
	size_t n;
};

/* Who asked: the event (bus) or the command line. */
struct release_prov_in {
	const char *invocation_id; /* event id, or "artifactd-publish:<tag>" */
	const char *timestamp;     /* the event's; NULL: newest file mtime */
	const char *commit_sha;    /* data.commit_sha of RELEASE_TAGGED, or
	                              NULL */
};

/*
 * With cfg->signing_key set, build the provenance of req (its tag, its
 * files opened beneath c's artifacts root and hashed) and point
 * req->files at a list that ends with it (p->files; req->nfiles + 1).
 * Without a key, or for a request the release core will refuse anyway
 * (no files, too many, no tag it can map), does nothing and returns 0.
 * A request of exactly RELEASE_MAX_FILES leaves no room for the
 * provenance: ERR_INVALID (INVALID_EVENT). Returns 0,
 * or the code of what failed (the key: ERR_INVALID INVALID_CONFIG; a
 * file: PATH_REJECTED / FILE_NOT_FOUND as the release core says them;
 * the directory: ERR_TRANSIENT IO) - a release is never published
 * without its provenance while a key is configured.
 */
int release_provenance_add(struct release_prov *p, const struct config *cfg,
    const struct release_config *c, struct release_request *req,
    const struct release_prov_in *in, struct error *err);

/*
 * After release_run: every file the release core hashed (rr's items)
 * must have the digest the statement gives it - a file changed between
 * the two reads would be published with provenance that does not match.
 * Returns 0, or ERR_FAIL (code PROVENANCE_MISMATCH) naming the file;
 * nothing to check without provenance.
 */
int release_provenance_check(const struct release_prov *p,
    const struct release_result *rr, struct error *err);

/* Remove the file and its directory, free the list. Zeroed p is fine. */
void release_provenance_dispose(struct release_prov *p);

#endif
