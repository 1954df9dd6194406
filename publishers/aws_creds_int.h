/*
 * aws_creds_int.h - the steps of the AWS credential chain, shared by
 * aws_creds.c (the order), aws_profile.c (the shared files' steps: keys,
 * AssumeRole, credential_process), aws_process.c and aws_imds.c. Only
 * these files include it.
 *
 * Every step has the same shape: on success *found is true and *out is
 * filled (the caller's); *found false with 0 means "not configured, try
 * the next step"; a negative code ends the chain, as botocore's
 * resolver stops on a provider that raises.
 */
#ifndef PUBLISHERS_AWS_CREDS_INT_H
#define PUBLISHERS_AWS_CREDS_INT_H

#include <stdbool.h>

#include "common/xalloc.h"
#include "publishers/aws_creds.h"
#include "publishers/aws_profile.h"

/* Answers of STS, the container endpoint and IMDS are a few hundred
 * bytes; 64 KiB bounds what a wrong server can make us hold. */
#define AWS_ANSWER_MAX (64 * 1024)

static inline bool
aws_blank(const char *s)
{
	return s == NULL || *s == '\0';
}

/* A copy of an environment setting of the settings table (struct
 * publish_env; env may be NULL), NULL when it is not set or empty. The
 * caller releases it with secret_free. Inline: aws_creds.c and
 * aws_chain.c both use it and must not call each other in a cycle. */
#define AWS_ENV(env, field) aws_env_dup((env) != NULL ? (env)->field : NULL)

static inline char *
aws_env_dup(const char *v)
{
	return aws_blank(v) ? NULL : xstrdup(v);
}

/* STS's URL (endpoint + "/") for the settings s (may be NULL). */
int aws_sts_url(char **out, const struct aws_settings *s, struct error *err);

/* AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN. */
int aws_step_env(struct aws_credentials *out, const struct publish_env *env,
    bool *found, struct error *err);

/* STS AssumeRoleWithWebIdentity with this role, token file and session
 * name (NULL: generated). */
int aws_step_web_identity_with(struct aws_credentials *out,
    const struct aws_settings *s, const char *role, const char *tokfile,
    const char *session, struct error *err);

/* The container credentials endpoint. */
int aws_step_container(struct aws_credentials *out,
    const struct publish_env *env, bool *found, struct error *err);

/* EC2 instance metadata (IMDSv2), aws_imds.c. */
int aws_step_imds(struct aws_credentials *out, const struct publish_env *env,
    bool *found, struct error *err);

/* Run a credential_process command (aws_process.c); profile names it in
 * messages. */
int aws_step_process(struct aws_credentials *out, const char *command,
    const char *profile, struct error *err);

/*
 * The profile steps of botocore's chain for profile p->name, in its
 * order: AssumeRole (role_arn without web_identity_token_file), then
 * after the web identity step (done by the caller), keys of the
 * credentials file, credential_process, keys of the config file.
 * aws_step_profile_assume is the first, aws_step_profile_rest the
 * others.
 */
int aws_step_profile_assume(struct aws_credentials *out,
    const struct aws_settings *s, const struct aws_profiles *p, bool *found,
    struct error *err);
int aws_step_profile_rest(struct aws_credentials *out,
    const struct aws_profiles *p, const char *profile, bool *found,
    struct error *err);

#endif
