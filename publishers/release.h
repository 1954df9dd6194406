/*
 * release.h - one release: a tag and its files, published to every target
 * of its package.
 *
 * The release core sits between the callers (the RELEASE_TAGGED handler
 * and `artifactd publish`) and the publishers. It maps the tag to a
 * package and a version through the packages' tag patterns (seed 004:
 * "v*", "open-ticket-ai-v*", "hf-local-v*"), checks every file before
 * anything is sent (inside the artifacts root, a regular file, wheel and
 * sdist names and metadata agree with the tag) - each file is opened once
 * beneath the root (common/path.h) and hashed, inspected and uploaded
 * through that one descriptor - writes SHA256SUMS and
 * <file>.sha256 into a temporary directory, then runs each target's
 * publisher over the files and collects one outcome per file and target.
 * It knows nothing of Redis or events: the caller turns the result into
 * answers.
 */
#ifndef PUBLISHERS_RELEASE_H
#define PUBLISHERS_RELEASE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "publishers/publisher.h"

/* A release carries a handful of files (wheels per platform, an sdist);
 * 1000 is GitHub's asset limit per release. */
#define RELEASE_MAX_FILES 1000
/* Per file: 5 TiB, S3's object limit, the largest any target takes.
 * Files are streamed (hashed and sent in constant memory), so size costs
 * time, not memory; the ceiling only refuses what no target accepts. */
#define RELEASE_FILE_MAX (5ull * 1024 * 1024 * 1024 * 1024)

/* A target with owned settings (names, types and key/value strings). */
struct release_target {
	char *name;
	char *type;
	char **keys;
	char **values;
	size_t n;
};

struct release_package {
	char *name;
	char **tag_patterns; /* "prefix*" globs; the '*' part is the version */
	size_t npatterns;
	char **targets; /* names of release_target */
	size_t ntargets;
};

/*
 * A check of one release file, open as fd, before any target runs (the
 * worker's secret gate, worker/scan_gate.c). Returns 0, or a negative
 * code with err that refuses the whole release.
 */
typedef int (*release_file_check_fn)(int fd, const char *name, void *arg,
    struct error *err);

struct release_config {
	struct release_target *targets;
	size_t ntargets;
	struct release_package *packages;
	size_t npackages;
	char *artifacts_root;             /* NULL: the current directory */
	bool dry_run;                     /* every release is a dry run */
	release_file_check_fn file_check; /* NULL: none */
	void *file_check_arg;             /* borrowed */
	/* The environment settings (publisher.h), borrowed; every target
	 * of a run sees them. NULL: none. */
	const struct publish_env *env;
};

void release_config_init(struct release_config *c);
void release_config_dispose(struct release_config *c);
/* Add a target / a setting of the last target / a package (copied). */
struct release_target *release_config_add_target(struct release_config *c,
    const char *name, const char *type);
void release_target_set(struct release_target *t, const char *key,
    const char *value);
struct release_package *release_config_add_package(struct release_config *c,
    const char *name);
void release_package_add_pattern(struct release_package *p,
    const char *pattern);
void release_package_add_target(struct release_package *p, const char *target);

/*
 * The single-package defaults of issue 5 when no targets are configured:
 * one target per service whose environment names are set - "pypi"
 * (PYPI_API_TOKEN, TWINE_PASSWORD or TWINE_REPOSITORY, each also as
 * _FILE), "artifactory"
 * (ARTIFACTORY_URL), "s3" (S3_WHEELS_BUCKET), "codeartifact"
 * (CODEARTIFACT_DOMAIN), "github" (GH_TOKEN or GITHUB_TOKEN, and
 * GITHUB_REPOSITORY).
 * Read from c->env (set it first). Settings themselves are read later
 * through publish_target_get's environment defaults. Does nothing when c
 * already has targets.
 */
void release_config_env_defaults(struct release_config *c);

/* What to publish. */
struct release_request {
	const char *tag;
	const char *const *files; /* paths, relative to the artifacts root
	                             or absolute inside it */
	size_t nfiles;
	const char *package;        /* NULL: chosen by the tag patterns */
	const char *const *targets; /* NULL/0: all targets of the package */
	size_t ntargets;
	bool dry_run;
};

/* One file on one target. */
struct release_item {
	char *target;
	char *file; /* basename; "" for a target-wide failure */
	char sha256[65];
	int rc;                         /* 0, or the negative code of err */
	struct publish_outcome outcome; /* valid when rc == 0; status
	                                   PUBLISH_SKIPPED with a reason for
	                                   a plain asset on a package index */
	struct error err;               /* valid when rc < 0 */
	uint64_t bytes;                 /* file size, 0 target-wide */
	double seconds;                 /* time the upload took */
};

struct release_result {
	char *tag;
	char *package; /* normalized name, once known */
	char *version; /* from the tag, once known */
	bool dry_run;
	struct release_item *items;
	size_t n;
	char **files; /* basenames published (incl. SHA256SUMS...) */
	size_t nfiles;
};

void release_result_init(struct release_result *r);
void release_result_dispose(struct release_result *r);

/*
 * Map a tag to a package and version. Returns 0 with *pkg (borrowed from
 * c) and version (out, n bytes): the rest of the tag in PEP 440's
 * normalised form (pep440_normalize: "v1.0.0-rc1" -> "1.0.0rc1"), which
 * the files' metadata must equal. ERR_INVALID (code INVALID_TAG, the
 * message saying where the version breaks) when no pattern matches or
 * the rest is not a PEP 440 version. `package` (may be
 * NULL) restricts the search to that package. With no packages
 * configured, "v*" gives the version and *pkg is NULL.
 */
int release_match_tag(const struct release_config *c, const char *tag,
    const char *package, const struct release_package **pkg, char *version,
    size_t n, struct error *err);

/*
 * Publish a release. Checks everything first: on bad input nothing is
 * sent and the return is ERR_INVALID (codes INVALID_TAG, PATH_REJECTED,
 * FILE_NOT_FOUND, INVALID_DIST, UNKNOWN_TARGET). Otherwise every file x
 * target is attempted and recorded in out (a target whose set-up fails
 * fails all its files); returns 0 when all succeeded, else the most
 * severe code among the items: ERR_FAIL/ERR_CONFLICT before
 * ERR_TRANSIENT (retry only when everything left is transient).
 */
int release_run(struct release_result *out, const struct release_config *c,
    const struct release_request *req, struct error *err);

/* "uploaded", "already_present", "dry_run". */
const char *release_status_name(enum publish_status s);

#endif
