/*
 * aws_creds.h - AWS credentials, region and endpoints for the S3 and
 * CodeArtifact publishers.
 *
 * Credentials are looked up in botocore's resolver order
 * (credentials.py, create_credential_resolver): keys set on the target,
 * then AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
 * (each also as NAME_FILE), then the profile's role_arn (STS AssumeRole
 * signed with the source_profile's or credential_source's keys), then a
 * web identity token exchanged with STS AssumeRoleWithWebIdentity
 * (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, or the profile's:
 * GitHub Actions OIDC, EKS IRSA), then the profile (AWS_PROFILE, else
 * "default") in ~/.aws/credentials, its credential_process, its keys in
 * ~/.aws/config (aws_profile.h), then the container credentials endpoint
 * (AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI, with
 * AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE): ECS, EKS Pod Identity), then
 * the EC2 instance metadata service (IMDSv2, aws_imds.c). Endpoints
 * follow the SDKs' AWS_ENDPOINT_URL_<SERVICE> and AWS_ENDPOINT_URL. No
 * function here logs or returns a secret in a message.
 */
#ifndef PUBLISHERS_AWS_CREDS_H
#define PUBLISHERS_AWS_CREDS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "publishers/publisher.h"
#include "publishers/sigv4.h"

/* A web identity token is a JWT of a few KiB; a token file or a secret
 * file larger than this is not one. */
#define AWS_TOKEN_FILE_MAX (64 * 1024)
/* Credentials expiring within this many milliseconds are refreshed before
 * a request (botocore's mandatory refresh window is 10 minutes). */
#define AWS_REFRESH_MARGIN_MS (10 * 60 * 1000)

struct aws_credentials {
	char *access_key_id;
	char *secret_access_key;
	char *session_token; /* NULL when none */
	int64_t expires_ms;  /* epoch ms; 0: does not expire */
	/* "target", "env", "assume-role", "web-identity",
	 * "shared-credentials-file", "process", "config-file", "container",
	 * "imds" (botocore's method names where it has one) */
	const char *source;
};

/*
 * The AWS settings of a target, each NULL when not set (the environment
 * is then used). Filled from the target by aws_settings_load, which owns
 * the strings.
 */
struct aws_settings {
	char *access_key_id;
	char *secret_access_key; /* or secret_access_key_file */
	char *session_token;
	char *role_arn;
	char *web_identity_token_file;
	char *role_session_name;
	char *region;
	char *sts_endpoint;
	/* The environment settings (borrowed from the target), consulted
	 * after the target's own keys, in botocore's order. */
	const struct publish_env *env;
};

/* Read the AWS keys of target t (access_key_id, secret_access_key,
 * session_token, role_arn, web_identity_token_file, role_session_name,
 * region, sts_endpoint; each also as <key>_file through
 * publish_target_get). */
void aws_settings_load(struct aws_settings *s, const struct publish_target *t);

/* Free and wipe what aws_settings_load put into s. */
void aws_settings_dispose(struct aws_settings *s);

/*
 * Find credentials (see the file comment for the order). s may be NULL.
 * On success *out is filled and owned by the caller (release with
 * aws_credentials_dispose). Returns 0, ERR_FAIL (code AUTH: none found,
 * only half of a key pair, STS or the container endpoint refused),
 * ERR_TRANSIENT (STS or the container endpoint unreachable or 5xx),
 * ERR_INVALID (a malformed setting, e.g. a plain http:// STS endpoint
 * that is not loopback).
 */
int aws_credentials_resolve(struct aws_credentials *out,
    const struct aws_settings *s, struct error *err);

/*
 * Which step of the chain will give target t its credentials, decided
 * without a request (keys present, a role and token file named, a
 * profile in the shared files, a container URI set, else the instance
 * metadata service unless AWS_EC2_METADATA_DISABLED is true) into src. Returns
 * 0, or ERR_FAIL (code AUTH) when no step applies or only half of a key
 * pair is set. The publishers' credential operation (check-config).
 */
int aws_credentials_source(const struct publish_target *t, char *src, size_t n,
    struct error *err);

/*
 * Resolve target t's credentials now (requests included) and describe
 * them into out: "source=<step> access_key_id=<id> session_token=yes|no
 * region=<region|->" - the secret key and the session token are never
 * written. For
 * `artifactd check-config --aws-credentials` and the tests that compare
 * the chain with botocore. Returns what aws_credentials_resolve returns.
 */
int aws_credentials_describe(const struct publish_target *t, char *out,
    size_t n, struct error *err);

/* Free and wipe c (which may be zeroed). */
void aws_credentials_dispose(struct aws_credentials *c);

/* True when c expires within AWS_REFRESH_MARGIN_MS of now_ms. */
bool aws_credentials_stale(const struct aws_credentials *c, int64_t now_ms);

/* A view of c for the signer; borrows c's strings. */
void aws_credentials_view(struct sigv4_credentials *out,
    const struct aws_credentials *c);

/*
 * The region: configured when not NULL, else AWS_REGION, else
 * AWS_DEFAULT_REGION (both from env, which may be NULL), else the
 * region of the profile (AWS_PROFILE, else default) in the shared files. *out
 * is the caller's. Returns 0, or ERR_INVALID (code CONFIG) when none is set or
 * it is not a region name.
 */
int aws_region_resolve(char **out, const char *configured,
    const struct publish_env *env, struct error *err);

/*
 * The endpoint of a service: configured when not NULL, else
 * AWS_ENDPOINT_URL_<service_id> (service_id upper-case: "S3", "STS",
 * "CODEARTIFACT"), else AWS_ENDPOINT_URL (both from env, may be NULL), else
 * https://<host_prefix>.<region>.amazonaws.com. A trailing '/' is removed.
 * Returns 0, or ERR_INVALID (code CONFIG) for a URL with a path, or plain
 * http:// to a host that is not loopback.
 */
int aws_endpoint_resolve(char **out, const char *configured,
    const struct publish_env *env, const char *service_id,
    const char *host_prefix, const char *region, struct error *err);

/* AWS_ENDPOINT_URL_<service_id> from env ("S3", "STS", "CODEARTIFACT"),
 * or NULL (borrowed). */
const char *aws_env_endpoint(const struct publish_env *env,
    const char *service_id);

/*
 * The text of the first <tag>...</tag> element in an XML document (STS
 * and S3 answers), with the five predefined entities decoded; NULL when
 * absent. The caller frees. A deliberately small reader: AWS answers are
 * flat, namespace-free where we read them, and never use CDATA there.
 */
char *aws_xml_text(const char *xml, const char *tag);

#endif
