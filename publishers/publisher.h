/*
 * publisher.h - one table of operations per publishing target.
 *
 * A release (tag + files) is published to each configured target through
 * the same few operations, like curl's vtls backends or hiredis adapters.
 * Each publisher lives in its own file (pypi.c, artifactory.c,
 * codeartifact.c, s3.c, github.c) and exports one const struct
 * publisher_ops. Publishers never log or return a credential.
 */
#ifndef PUBLISHERS_PUBLISHER_H
#define PUBLISHERS_PUBLISHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct dist_meta; /* dist.h: wheel METADATA / sdist PKG-INFO */

/*
 * The environment settings of the publishers: one row each of the
 * settings table (worker/config.c), which reads the environment (and
 * NAME_FILE) once at start, so check-config shows them (secrets masked).
 * Borrowed by struct release_config and each struct publish_target; the
 * publishers never call getenv for these. NULL or "": not set. One field
 * per name, so that an order between names (GH_TOKEN before
 * GITHUB_TOKEN, botocore's AWS chain) stays the reader's. The strings
 * belong to the table (struct config) and outlive every release run.
 */
struct publish_env {
	/* the types' defaults (publish_target_get, step 4) */
	const char *twine_repository_url;
	const char *pypi_api_token;
	const char *twine_username;
	const char *twine_password;
	const char *twine_repository;
	const char *artifactory_url;
	const char *artifactory_username;
	const char *artifactory_password;
	const char *artifactory_access_token;
	const char *artifactory_repository;
	const char *gh_token;
	const char *github_token;
	const char *github_repository;
	const char *github_api_url;
	const char *s3_wheels_bucket;
	const char *codeartifact_domain;
	const char *codeartifact_account_id;
	const char *codeartifact_repository;
	/* the AWS chain (aws_creds.h), in botocore's order */
	const char *aws_access_key_id;
	const char *aws_secret_access_key;
	const char *aws_session_token;
	const char
	    *aws_security_token; /* the older name of the session token */
	const char *aws_role_arn;
	const char *aws_web_identity_token_file;
	const char *aws_role_session_name;
	const char *aws_container_credentials_full_uri;
	const char *aws_container_credentials_relative_uri;
	const char *aws_container_authorization_token;
	/* profiles and IMDS (aws_profile.h, aws_imds.c) */
	const char *aws_profile;
	const char *aws_default_profile;
	const char *aws_config_file;
	const char *aws_shared_credentials_file;
	const char *aws_ec2_metadata_service_endpoint;
	const char *aws_ec2_metadata_disabled;
	const char *aws_region;
	const char *aws_default_region;
	const char *aws_endpoint_url;
	const char *aws_endpoint_url_s3;
	const char *aws_endpoint_url_sts;
	const char *aws_endpoint_url_codeartifact;
	/* Trusted Publishing (oidc.h): GitHub Actions' identity token
	 * endpoint and its bearer token */
	const char *actions_id_token_request_url;
	const char *actions_id_token_request_token;
	/* HTTP retries (http.h) */
	long long http_attempts;
	long long http_backoff_ms;
	/* Verification after upload (verify.h): seconds to wait for each
	 * file to be served back; 0 turns it off (verify-deadline). */
	long long verify_deadline_s;
};

/* A target as configured: its name, its type and its own settings.
 * Settings are looked up with publish_target_get(), which also resolves
 * "<key>_file" indirections and environment defaults of the type. */
struct publish_target {
	const char *name;
	const char *type; /* "pypi", "artifactory", "codeartifact", "s3",
	                     "github" */
	const char *const *keys;
	const char *const *values;
	size_t n;
	const struct publish_env *env; /* borrowed; NULL: no environment */
};

/* One file of a release, checked before any upload. */
struct publish_file {
	int fd; /* open read-only beneath the artifacts root (borrowed):
	           read with pread, never reopened by name */
	const char *filename; /* basename, the name it is published under */
	uint64_t size;
	char sha256[65];
	char blake2_256[65];
	char sha1[41]; /* Artifactory checksum headers */
	char md5[33];  /* Artifactory; S3 Content-MD5 (hex here) */
	const struct dist_meta *meta; /* NULL for SHA256SUMS / .sha256 */
	/* Hash while sending (issue 13), for a target whose ops->late_digest
	 * says yes: then the digests above are "" during upload. The
	 * publisher hashes the bytes as it sends them and hands the result
	 * to sent(); need() gives the sha256 when it is wanted first (an
	 * existing file to compare). Both return 0 or a negative code with
	 * err (FILE_CHANGED: the file changed while it was read). NULL when
	 * the digests are set. */
	int (*need)(void *arg, char sha256[65], struct error *err);
	int (*sent)(void *arg, const char *sha256, uint64_t bytes,
	    struct error *err);
	void *digest_arg;
};

struct publish_release {
	const char *tag;
	const char *package; /* normalized distribution name */
	const char *version;
	bool dry_run;
};

enum publish_status {
	PUBLISH_UPLOADED,
	PUBLISH_ALREADY_PRESENT, /* same bytes were already there */
	PUBLISH_DRY_RUN,         /* request built and checked, not sent */
	PUBLISH_SKIPPED          /* the target does not take this kind of
	                            file (a plain asset on a package index) */
};

struct publish_outcome {
	enum publish_status status;
	char url[1024];   /* where the file can be fetched, or "" */
	char reason[256]; /* PUBLISH_SKIPPED: why, else "" */
	bool verified;    /* served back with the same sha256 (verify.h) */
};

struct publisher_ops {
	const char *type;
	/* Per-release set-up (e.g. GitHub: find or create the draft).
	 * *state is the publisher's own; may be NULL when not needed. */
	int (*begin)(void **state, const struct publish_target *t,
	    const struct publish_release *rel, struct error *err);
	/* Publish one file. Must be idempotent: same bytes already there is
	 * PUBLISH_ALREADY_PRESENT; different bytes under the name is
	 * ERR_CONFLICT (code CONFLICT). ERR_TRANSIENT for connection errors,
	 * 5xx and 429 after the publisher's own retries. */
	int (*upload)(void *state, const struct publish_target *t,
	    const struct publish_release *rel, const struct publish_file *f,
	    struct publish_outcome *out, struct error *err);
	/* After all files (e.g. GitHub: publish the draft). May be NULL. */
	int (*finish)(void *state, const struct publish_target *t,
	    const struct publish_release *rel, struct error *err);
	void (*state_free)(void *state);
	/* Only wheels and sdists go to this target (package indexes). The
	 * release reports every other file of the request (a ZIP bundle,
	 * notes) as PUBLISH_SKIPPED with a reason, and leaves out the
	 * checksum files it generated (SHA256SUMS, *.sha256). */
	bool dists_only;
	/* May upload a file before its digests are known (publish_file's
	 * need/sent); NULL: never. */
	bool (*late_digest)(void *state);
	/* Which credential the target will use, without any request: its
	 * source into src ("environment PYPI_API_TOKEN", "token_file
	 * /run/secrets/x", "pypirc /home/u/.pypirc [testpypi]"), never the
	 * value. Returns 0, or ERR_FAIL (code AUTH) when begin would find
	 * none. NULL: publish_target_credential's generic rule. */
	int (*credential)(const struct publish_target *t, char *src, size_t n,
	    struct error *err);
	/* What the target serves now for f (verify.h, issue 13): the
	 * sha256 of the bytes it hands out, lower-case hex, into served
	 * (65 bytes) - read from the index's listing or digest, else by
	 * downloading and hashing. Works on the state of begin, also of a
	 * dry-run begin (which contacted nobody). Returns 0, ERR_NOTFOUND
	 * when the file is not listed (yet), or the lookup's error. NULL:
	 * the target cannot be verified. */
	int (*served)(void *state, const struct publish_target *t,
	    const struct publish_release *rel, const struct publish_file *f,
	    char served[65], struct error *err);
};

/* The publisher for a type, or NULL. */
const struct publisher_ops *publisher_find(const char *type);

/* A setting of the target; NULL when absent. Resolves `key_file`
 * (read the file, strip the trailing newline) when `key` itself is not
 * set. The returned string is owned by the caller. */
char *publish_target_get(const struct publish_target *t, const char *key);

/* The same, and where the value came from into src (n bytes; "" when
 * NULL is returned): "setting token", "token_file PATH", "token_env:
 * environment NAME", "environment PYPI_API_TOKEN_FILE". Never the value. */
char *publish_target_get_src(const struct publish_target *t, const char *key,
    char *src, size_t n);

/*
 * Which credential target t will use (publisher_ops.credential, else:
 * `token`, else `username` + `password`, else anonymous requests).
 * Returns 0 with the source in src, or ERR_FAIL (code AUTH) with a
 * message when the target's publisher would find none, ERR_INVALID
 * for an unknown type.
 */
int publish_target_credential(const struct publish_target *t, char *src,
    size_t n, struct error *err);

/*
 * How publish_target_get resolves `key`, first hit wins:
 *   1. the setting `key`;
 *   2. `key_file`: the file's content, trailing newline stripped (a file
 *      that cannot be read ends the search: NULL, with a warning);
 *   3. `key_env`: the environment variable it names (or its _FILE); when
 *      neither is set the search goes on;
 *   4. the type's environment default, from t->env (the settings table
 *      read the variable or its _FILE):
 *      pypi:         url TWINE_REPOSITORY_URL, token PYPI_API_TOKEN,
 *                    username TWINE_USERNAME, password TWINE_PASSWORD,
 *                    repository (the ~/.pypirc section) TWINE_REPOSITORY
 *      artifactory:  url ARTIFACTORY_URL, username ARTIFACTORY_USERNAME,
 *                    password ARTIFACTORY_PASSWORD, token
 *                    ARTIFACTORY_ACCESS_TOKEN, repository
 *                    ARTIFACTORY_REPOSITORY
 *      github:       token GH_TOKEN then GITHUB_TOKEN, repository
 *                    GITHUB_REPOSITORY,
 *                    api_url GITHUB_API_URL
 *      s3:           bucket S3_WHEELS_BUCKET
 *      codeartifact: domain CODEARTIFACT_DOMAIN, domain_owner
 *                    CODEARTIFACT_ACCOUNT_ID, repository
 *                    CODEARTIFACT_REPOSITORY
 * A file that cannot be read yields NULL (and a warning without its
 * content). Secrets are never logged.
 */

/* The environment name of a type's key ("GH_TOKEN"), or NULL. */
const char *publish_target_env_name(const char *type, const char *key);

/* True when key names a secret (token, password, secret...), so that
 * listings and logs mask its value. */
bool publish_key_is_secret(const char *key);

/* Every registered publisher, NULL-terminated (for listings and docs). */
const struct publisher_ops *const *publisher_all(void);

#endif
