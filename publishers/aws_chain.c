/*
 * aws_chain.c - the AWS credential chain in botocore's order
 * (credentials.py, create_credential_resolver): the target's keys, the
 * environment, the profile's AssumeRole, web identity, the profile's keys
 * in the credentials file, its credential_process, its keys in the config
 * file, the container endpoint, IMDS. The steps themselves live in
 * aws_creds.c (environment, web identity, container), aws_process.c,
 * aws_imds.c and here (the profile's AssumeRole and keys); this file is
 * the only one that knows their order, for resolving
 * (aws_credentials_resolve) and for describing without a request
 * (aws_credentials_source, check-config).
 *
 * Secrets found here (keys of the shared files, STS answers) are wiped
 * when freed and registered with the redactor by the resolver; messages
 * name the profile, the file and the key, never a value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "publishers/aws_creds_int.h"
#include "publishers/http.h"

static bool
aws_set(char **dst, const char *v)
{
	if (aws_blank(v))
		return false;
	*dst = xstrdup(v);
	return true;
}

/* Keys given directly: on the target, else in the environment. */
static int
aws_static_keys(struct aws_credentials *out, const struct aws_settings *s,
    bool *found, struct error *err)
{
	char *id = NULL, *secret = NULL, *token = NULL;
	const char *where = "target settings";
	int rc = 0;

	*found = false;
	if (s != NULL && (!aws_blank(s->access_key_id) ||
	                     !aws_blank(s->secret_access_key))) {
		aws_set(&id, s->access_key_id);
		aws_set(&secret, s->secret_access_key);
		aws_set(&token, s->session_token);
	} else {
		return aws_step_env(out, s != NULL ? s->env : NULL, found, err);
	}
	if (id == NULL && secret == NULL)
		goto out;
	if (id == NULL || secret == NULL) {
		rc = error_set(err, ERR_FAIL, "AUTH",
		    "only one of the access key id and the secret access key "
		    "is set (%s)",
		    where);
		goto out;
	}
	out->access_key_id = id;
	out->secret_access_key = secret;
	out->session_token = token;
	out->source = "target";
	id = secret = token = NULL;
	*found = true;
out:
	secret_free(id);
	secret_free(secret);
	secret_free(token);
	return rc;
}

/* Keys of a profile section (credentials file or config file), as
 * botocore's SharedCredentialProvider / ConfigProvider: present when
 * aws_access_key_id is; the secret missing then is an error. */
static int
aws_profile_keys(struct aws_credentials *out, const char *id,
    const char *secret, const char *token, const char *where,
    const char *source, bool *found, struct error *err)
{
	*found = false;
	if (id == NULL)
		return 0;
	if (secret == NULL || id[0] == '\0' || secret[0] == '\0')
		return error_set(err, ERR_FAIL, "AUTH",
		    "%s has aws_access_key_id without aws_secret_access_key",
		    where);
	out->access_key_id = xstrdup(id);
	out->secret_access_key = xstrdup(secret);
	out->session_token =
	    token != NULL && token[0] != '\0' ? xstrdup(token) : NULL;
	out->source = source;
	*found = true;
	return 0;
}

/* The first of aws_security_token, aws_session_token (botocore's TOKENS
 * order) through get. */
#define AWS_PROFILE_TOKEN(get, p, prof)                \
	((get)(p, prof, "aws_security_token") != NULL  \
	        ? (get)(p, prof, "aws_security_token") \
	        : (get)(p, prof, "aws_session_token"))

int
aws_step_profile_rest(struct aws_credentials *out, const struct aws_profiles *p,
    const char *profile, bool *found, struct error *err)
{
	char where[512];
	const char *cmd;
	int rc;

	snprintf(where, sizeof(where), "profile %.64s in %.400s", profile,
	    p->creds_path ? p->creds_path : "");
	if ((rc = aws_profile_keys(out,
	         aws_profile_creds_get(p, profile, "aws_access_key_id"),
	         aws_profile_creds_get(p, profile, "aws_secret_access_key"),
	         AWS_PROFILE_TOKEN(aws_profile_creds_get, p, profile), where,
	         "shared-credentials-file", found, err)) < 0 ||
	    *found) {
		if (*found)
			log_info(
			    "aws_credentials source=shared-credentials-file "
			    "profile=%s",
			    profile);
		return rc;
	}
	if ((cmd = aws_profile_get(p, profile, "credential_process")) != NULL) {
		if ((rc = aws_step_process(out, cmd, profile, err)) < 0)
			return rc;
		*found = true;
		return 0;
	}
	snprintf(where, sizeof(where), "profile %.64s in %.400s", profile,
	    p->config_path ? p->config_path : "");
	rc = aws_profile_keys(out,
	    aws_profile_config_get(p, profile, "aws_access_key_id"),
	    aws_profile_config_get(p, profile, "aws_secret_access_key"),
	    AWS_PROFILE_TOKEN(aws_profile_config_get, p, profile), where,
	    "config-file", found, err);
	if (*found)
		log_info("aws_credentials source=config-file profile=%s",
		    profile);
	return rc;
}

static bool
aws_profile_has_static(const struct aws_profiles *p, const char *profile)
{
	return aws_profile_get(p, profile, "aws_access_key_id") != NULL ||
	       aws_profile_get(p, profile, "aws_secret_access_key") != NULL;
}

/* botocore's _has_assume_role_config_vars. */
static bool
aws_profile_has_role(const struct aws_profiles *p, const char *profile)
{
	return aws_profile_get(p, profile, "role_arn") != NULL &&
	       aws_profile_get(p, profile, "web_identity_token_file") == NULL;
}

/* The STS AssumeRole form, every value escaped. */
static char *
aws_assume_form(const char *role, const char *session, const char *ext,
    const char *duration)
{
	char *e_role = http_escape(role, false);
	char *e_sess = http_escape(session, false);
	char *e_ext = ext != NULL ? http_escape(ext, false) : NULL;
	char *form;

	form = xasprintf("Action=AssumeRole&Version=2011-06-15&RoleArn=%s"
	                 "&RoleSessionName=%s%s%s%s%s",
	    e_role, e_sess, e_ext ? "&ExternalId=" : "", e_ext ? e_ext : "",
	    duration ? "&DurationSeconds=" : "", duration ? duration : "");
	free(e_role);
	free(e_sess);
	free(e_ext);
	return form;
}

/* Send the signed AssumeRole form; the answer's XML goes to resp. */
static int
aws_assume_send(struct http_response *resp, const struct aws_settings *s,
    const struct aws_credentials *src, const char *form, struct error *err)
{
	static const char ctype[] =
	    "application/x-www-form-urlencoded; charset=utf-8";
	char *url = NULL, *region = NULL, hash[UTIL_SHA256_HEX];
	struct sigv4_credentials cred;
	struct sigv4_header sh[] = { { "Content-Type", ctype } };
	struct sigv4_request sr = { 0 };
	struct sigv4_signed sig = { 0 };
	struct sigv4_scope scope = { NULL, "sts", false, time(NULL) };
	struct http_request req = { 0 };
	struct http_body body;
	const char **lines = NULL;
	char *endpoint;
	size_t i;
	int rc;

	http_body_init(&body);
	if ((rc = aws_sts_url(&url, s, err)) < 0)
		goto out;
	if (aws_region_resolve(&region, s != NULL ? s->region : NULL,
	        s != NULL ? s->env : NULL, NULL) < 0)
		region = xstrdup("us-east-1");
	scope.region = region;
	endpoint = xstrndup(url, strlen(url) - 1); /* without the '/' */
	util_sha256_hex(hash, form, strlen(form));
	aws_credentials_view(&cred, src);
	sr.method = "POST";
	sr.endpoint = endpoint;
	sr.path = "/";
	sr.headers = sh;
	sr.n_headers = 1;
	sr.payload_hash = hash;
	rc = sigv4_sign(&sig, &cred, &scope, &sr, err);
	free(endpoint);
	if (rc < 0)
		goto out;
	lines = xcalloc(sig.n_headers + 3, sizeof(*lines));
	for (i = 0; i < sig.n_headers; i++)
		lines[i] = sig.headers[i];
	lines[i++] = "Content-Type: application/x-www-form-urlencoded; "
	             "charset=utf-8";
	lines[i] = "Accept: text/xml";
	http_body_add_mem(&body, form, strlen(form));
	req.method = "POST";
	req.url = sig.url;
	req.headers = lines;
	req.body = &body;
	req.timeout_s = 30;
	req.what = "sts_assume_role";
	rc = http_request(resp, &req, err);
out:
	free(lines);
	sigv4_signed_dispose(&sig);
	http_body_dispose(&body);
	free(url);
	free(region);
	return rc;
}

/* Read the AssumeRole answer into *out. */
static int
aws_assume_answer(struct aws_credentials *out, const struct http_response *resp,
    const char *role, struct error *err)
{
	const char *text = resp->body.data ? resp->body.data : "";
	char *id = NULL, *secret = NULL, *token = NULL, *expiry = NULL;
	char *code = NULL;
	int64_t exp_ms = 0;
	int rc = 0;

	if (resp->status != 200) {
		code = aws_xml_text(text, "Code");
		rc = resp->status >= 500 || resp->status == 429 ? ERR_TRANSIENT
		                                                : ERR_FAIL;
		error_set(err, rc, rc == ERR_TRANSIENT ? "HTTP" : "AUTH",
		    "STS AssumeRole for %.200s: HTTP %ld %.100s", role,
		    resp->status, code ? code : "");
		goto out;
	}
	id = aws_xml_text(text, "AccessKeyId");
	secret = aws_xml_text(text, "SecretAccessKey");
	token = aws_xml_text(text, "SessionToken");
	expiry = aws_xml_text(text, "Expiration");
	if (id == NULL || secret == NULL || token == NULL || id[0] == '\0' ||
	    secret[0] == '\0' ||
	    (expiry != NULL && util_parse_iso8601(&exp_ms, expiry) < 0)) {
		rc = error_set(err, ERR_FAIL, "AUTH",
		    "STS AssumeRole for %.200s answered without usable "
		    "credentials",
		    role);
		goto out;
	}
	out->access_key_id = id;
	out->secret_access_key = secret;
	out->session_token = token;
	out->expires_ms = exp_ms;
	out->source = "assume-role";
	id = secret = token = NULL;
out:
	secret_free(id);
	secret_free(secret);
	secret_free(token);
	free(expiry);
	free(code);
	return rc;
}

struct aws_chain {
	const struct aws_settings *s;
	const struct aws_profiles *p;
	const char *visited[AWS_PROFILE_CHAIN_MAX + 1];
	size_t nvisited;
};

static int aws_assume_profile(struct aws_credentials *out, struct aws_chain *ch,
    const char *profile, struct error *err);

/* credential_source: one of botocore's three canonical names. */
static int
aws_assume_source(struct aws_credentials *out, const struct aws_chain *ch,
    const char *src, const char *profile, struct error *err)
{
	const struct publish_env *env = ch->s != NULL ? ch->s->env : NULL;
	bool found = false;
	int rc;

	if (strcmp(src, "Environment") == 0)
		rc = aws_step_env(out, env, &found, err);
	else if (strcmp(src, "EcsContainer") == 0)
		rc = aws_step_container(out, env, &found, err);
	else if (strcmp(src, "Ec2InstanceMetadata") == 0)
		rc = aws_step_imds(out, env, &found, err);
	else
		return error_set(err, ERR_INVALID, "CONFIG",
		    "profile %.64s: credential_source %.64s is not "
		    "Environment, EcsContainer or Ec2InstanceMetadata",
		    profile, src);
	if (rc == 0 && !found)
		rc = error_set(err, ERR_FAIL, "AUTH",
		    "profile %.64s: credential_source %s found no credentials",
		    profile, src);
	return rc;
}

/* _resolve_credentials_from_profile: the source profile's own steps,
 * or its role in turn. */
static int
aws_assume_from_profile(struct aws_credentials *out, struct aws_chain *ch,
    const char *profile, struct error *err)
{
	const char *role, *tok;
	bool found = false;
	int rc;

	if (!aws_profile_has_static(ch->p, profile) &&
	    aws_profile_has_role(ch->p, profile))
		return aws_assume_profile(out, ch, profile, err);
	/* The profile's providers with the environment off. */
	role = aws_profile_get(ch->p, profile, "role_arn");
	tok = aws_profile_get(ch->p, profile, "web_identity_token_file");
	if (tok != NULL && role != NULL)
		return aws_step_web_identity_with(out, ch->s, role, tok,
		    aws_profile_get(ch->p, profile, "role_session_name"), err);
	if ((rc = aws_step_profile_rest(out, ch->p, profile, &found, err)) < 0)
		return rc;
	if (!found)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "the source profile %.64s has no credentials", profile);
	return 0;
}

/* The source credentials of profile's role. */
static int
aws_assume_source_creds(struct aws_credentials *out, struct aws_chain *ch,
    const char *profile, struct error *err)
{
	const char *sp = aws_profile_get(ch->p, profile, "source_profile");
	const char *cs = aws_profile_get(ch->p, profile, "credential_source");
	size_t i;

	if (sp != NULL && cs != NULL)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "profile %.64s has both source_profile and "
		    "credential_source",
		    profile);
	if (sp == NULL && cs == NULL)
		return error_set(err, ERR_FAIL, "AUTH",
		    "profile %.64s has role_arn but neither source_profile "
		    "nor credential_source",
		    profile);
	if (cs != NULL)
		return aws_assume_source(out, ch, cs, profile, err);
	if (!aws_profile_exists(ch->p, sp))
		return error_set(err, ERR_INVALID, "CONFIG",
		    "the source_profile %.64s of profile %.64s does not exist",
		    sp, profile);
	for (i = 0; i < ch->nvisited; i++)
		if (strcmp(ch->visited[i], sp) == 0)
			break;
	/* A profile may name itself to use its own keys; any other
	 * repeat is a loop (botocore's InfiniteLoopConfigError). */
	if (i < ch->nvisited &&
	    (strcmp(sp, profile) != 0 || !aws_profile_has_static(ch->p, sp)))
		return error_set(err, ERR_INVALID, "CONFIG",
		    "the source_profile chain of profile %.64s loops at "
		    "%.64s",
		    profile, sp);
	if (ch->nvisited == AWS_PROFILE_CHAIN_MAX)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "the source_profile chain of profile %.64s is longer "
		    "than %d",
		    profile, AWS_PROFILE_CHAIN_MAX);
	ch->visited[ch->nvisited++] = sp;
	return aws_assume_from_profile(out, ch, sp, err);
}

/* AssumeRole for profile's role_arn, signed with its source's keys. */
static int
aws_assume_profile(struct aws_credentials *out, struct aws_chain *ch,
    const char *profile, struct error *err)
{
	const char *role = aws_profile_get(ch->p, profile, "role_arn");
	const char *session =
	    aws_profile_get(ch->p, profile, "role_session_name");
	const char *dur = aws_profile_get(ch->p, profile, "duration_seconds");
	struct aws_credentials src = { 0 };
	struct http_response resp;
	char *form = NULL, *gen = NULL;
	int rc;

	http_response_init(&resp);
	if (aws_profile_get(ch->p, profile, "mfa_serial") != NULL) {
		rc = error_set(err, ERR_INVALID, "CONFIG",
		    "profile %.64s needs an MFA code (mfa_serial): a daemon "
		    "cannot prompt for one",
		    profile);
		goto out;
	}
	if (dur != NULL && (strspn(dur, "0123456789") != strlen(dur) ||
	                       strlen(dur) == 0 || strlen(dur) > 5))
		dur = NULL; /* botocore drops a duration that is not an int */
	if ((rc = aws_assume_source_creds(&src, ch, profile, err)) < 0)
		goto out;
	if (session == NULL)
		session = gen =
		    xasprintf("artifactd-session-%lld", (long long)time(NULL));
	form = aws_assume_form(role, session,
	    aws_profile_get(ch->p, profile, "external_id"), dur);
	if ((rc = aws_assume_send(&resp, ch->s, &src, form, err)) < 0)
		goto out;
	if ((rc = aws_assume_answer(out, &resp, role, err)) < 0)
		goto out;
	log_info("aws_credentials source=assume-role profile=%s role=\"%s\" "
	         "source_profile=%s",
	    profile, role,
	    aws_profile_get(ch->p, profile, "source_profile")
	        ? aws_profile_get(ch->p, profile, "source_profile")
	        : "-");
out:
	if (resp.body.data != NULL)
		secret_wipe(resp.body.data, resp.body.len);
	http_response_dispose(&resp);
	aws_credentials_dispose(&src);
	free(form);
	free(gen);
	return rc;
}

int
aws_step_profile_assume(struct aws_credentials *out,
    const struct aws_settings *s, const struct aws_profiles *p, bool *found,
    struct error *err)
{
	struct aws_chain ch = { s, p, { p->name }, 1 };
	int rc;

	*found = false;
	if (!aws_profile_has_role(p, p->name))
		return 0;
	if ((rc = aws_assume_profile(out, &ch, p->name, err)) < 0)
		return rc;
	*found = true;
	return 0;
}
/* One web identity setting: the target's, else the environment's, else
 * the profile's (botocore's _get_config: environment, then profile). */
static const char *
aws_wi_pick(const char *target, const char *env, const struct aws_profiles *p,
    const char *key)
{
	if (!aws_blank(target))
		return target;
	if (!aws_blank(env))
		return env;
	return p != NULL ? aws_profile_get(p, p->name, key) : NULL;
}

/* The web identity step: configured by its token file; a token file
 * without a role is an error, as botocore's InvalidConfigError. */
static int
aws_web_identity(struct aws_credentials *out, const struct aws_settings *s,
    const struct aws_profiles *p, bool *found, struct error *err)
{
	const struct publish_env *env = s != NULL ? s->env : NULL;
	const char *tok, *role, *session;

	*found = false;
	tok = aws_wi_pick(s ? s->web_identity_token_file : NULL,
	    env ? env->aws_web_identity_token_file : NULL, p,
	    "web_identity_token_file");
	role = aws_wi_pick(s ? s->role_arn : NULL,
	    env ? env->aws_role_arn : NULL, p, "role_arn");
	session = aws_wi_pick(s ? s->role_session_name : NULL,
	    env ? env->aws_role_session_name : NULL, p, "role_session_name");
	if (aws_blank(tok))
		return 0;
	if (aws_blank(role))
		return error_set(err, ERR_INVALID, "CONFIG",
		    "a web identity token file is set but no role: set "
		    "AWS_ROLE_ARN (or role_arn)");
	*found = true;
	return aws_step_web_identity_with(out, s, role, tok, session, err);
}

/*
 * The chain after the target's own keys, in botocore's order
 * (credentials.py, create_credential_resolver): environment, AssumeRole
 * of the profile, web identity, the profile's keys in the credentials
 * file, its credential_process, its keys in the config file, the
 * container endpoint, IMDS. botocore's SSO, boto2 and EC2-config-file
 * steps are not implemented.
 */
static int
aws_chain_run(struct aws_credentials *c, const struct aws_settings *s,
    bool *found, struct error *err)
{
	const struct publish_env *env = s != NULL ? s->env : NULL;
	struct aws_profiles p;
	int rc;

	if ((rc = aws_static_keys(c, s, found, err)) < 0 || *found)
		return rc;
	if ((rc = aws_profiles_load(&p, env, err)) < 0)
		return rc;
	if ((rc = aws_step_profile_assume(c, s, &p, found, err)) < 0 || *found)
		goto out;
	if ((rc = aws_web_identity(c, s, &p, found, err)) < 0 || *found)
		goto out;
	if ((rc = aws_step_profile_rest(c, &p, p.name, found, err)) < 0 ||
	    *found)
		goto out;
	if ((rc = aws_step_container(c, env, found, err)) < 0 || *found)
		goto out;
	rc = aws_step_imds(c, env, found, err);
out:
	aws_profiles_dispose(&p);
	return rc;
}

int
aws_credentials_resolve(struct aws_credentials *out,
    const struct aws_settings *s, struct error *err)
{
	struct aws_credentials c = { 0 };
	bool found = false;
	int rc;

	if ((rc = aws_chain_run(&c, s, &found, err)) < 0)
		goto out;
	if (!found) {
		rc = error_set(err, ERR_FAIL, "AUTH",
		    "no AWS credentials: set AWS_ACCESS_KEY_ID and "
		    "AWS_SECRET_ACCESS_KEY, AWS_ROLE_ARN and "
		    "AWS_WEB_IDENTITY_TOKEN_FILE, a profile in "
		    "~/.aws/credentials or ~/.aws/config, a container "
		    "credentials URI, or run on EC2 with an instance role");
		goto out;
	}
	/* Masked wherever they would appear until aws_credentials_dispose
	 * frees them (secret_free releases the registration). */
	secret_register(c.secret_access_key);
	secret_register(c.session_token);
	*out = c;
	memset(&c, 0, sizeof(c));
	rc = 0;
out:
	aws_credentials_dispose(&c);
	return rc;
}

int
aws_credentials_describe(const struct publish_target *t, char *out, size_t n,
    struct error *err)
{
	struct aws_settings s;
	struct aws_credentials c = { 0 };
	char *region = NULL;
	int rc;

	aws_settings_load(&s, t);
	if ((rc = aws_credentials_resolve(&c, &s, err)) == 0) {
		if (aws_region_resolve(&region, s.region, s.env, NULL) < 0)
			region = NULL;
		snprintf(out, n,
		    "source=%s access_key_id=%s session_token=%s region=%s",
		    c.source, c.access_key_id,
		    c.session_token != NULL ? "yes" : "no",
		    region != NULL ? region : "-");
	}
	free(region);
	aws_credentials_dispose(&c);
	aws_settings_dispose(&s);
	return rc;
}

/* The steps of aws_credentials_source after the keys: 1 with src
 * filled, 0 when none applies, or a negative code. */
static int
aws_source_rest(const struct aws_settings *s, const struct publish_env *env,
    char *src, size_t n, struct error *err)
{
	const char *off = env ? env->aws_ec2_metadata_disabled : NULL;
	const char *v, *tok, *role;
	struct aws_profiles p;
	int rc = 1;

	if ((rc = aws_profiles_load(&p, env, err)) < 0)
		return rc;
	rc = 1;
	if (aws_profile_get(&p, p.name, "role_arn") != NULL &&
	    aws_profile_get(&p, p.name, "web_identity_token_file") == NULL) {
		snprintf(src, n, "assume role %s of profile %s",
		    aws_profile_get(&p, p.name, "role_arn"), p.name);
		goto out;
	}
	tok = aws_wi_pick(s->web_identity_token_file,
	    env ? env->aws_web_identity_token_file : NULL, &p,
	    "web_identity_token_file");
	role = aws_wi_pick(s->role_arn, env ? env->aws_role_arn : NULL, &p,
	    "role_arn");
	if (!aws_blank(tok)) {
		snprintf(src, n, "web identity (role %s, token file %s)",
		    role ? role : "NONE", tok);
		goto out;
	}
	if (aws_profile_creds_get(&p, p.name, "aws_access_key_id") != NULL)
		snprintf(src, n, "AWS keys of profile %s in %s", p.name,
		    p.creds_path);
	else if ((v = aws_profile_get(&p, p.name, "credential_process")))
		snprintf(src, n, "credential_process of profile %s", p.name);
	else if (aws_profile_config_get(&p, p.name, "aws_access_key_id"))
		snprintf(src, n, "AWS keys of profile %s in %s", p.name,
		    p.config_path);
	else if (env != NULL &&
	         (!aws_blank(env->aws_container_credentials_relative_uri) ||
	             !aws_blank(env->aws_container_credentials_full_uri)))
		snprintf(src, n, "container credentials endpoint (%s)",
		    !aws_blank(env->aws_container_credentials_relative_uri)
		        ? "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
		        : "AWS_CONTAINER_CREDENTIALS_FULL_URI");
	else if (off == NULL || strcasecmp(off, "true") != 0)
		snprintf(src, n,
		    "instance metadata service %s (EC2 instance role; asked "
		    "when publishing)",
		    env && !aws_blank(env->aws_ec2_metadata_service_endpoint)
		        ? env->aws_ec2_metadata_service_endpoint
		        : "http://169.254.169.254/");
	else
		rc = 0;
out:
	aws_profiles_dispose(&p);
	return rc;
}

int
aws_credentials_source(const struct publish_target *t, char *src, size_t n,
    struct error *err)
{
	struct aws_settings s;
	char *id = NULL, *secret = NULL;
	const char *where = "target keys";
	int rc = 0;

	/* The same steps, in the same order, as aws_credentials_resolve,
	 * stopping before any request. */
	aws_settings_load(&s, t);
	if (!aws_blank(s.access_key_id) || !aws_blank(s.secret_access_key)) {
		id = aws_blank(s.access_key_id) ? NULL : xstrdup("");
		secret = aws_blank(s.secret_access_key) ? NULL : xstrdup("");
	} else {
		where = "environment AWS_ACCESS_KEY_ID / "
		        "AWS_SECRET_ACCESS_KEY";
		id = AWS_ENV(t->env, aws_access_key_id);
		secret = AWS_ENV(t->env, aws_secret_access_key);
	}
	if (id != NULL || secret != NULL) {
		if (id == NULL || secret == NULL)
			rc = error_set(err, ERR_FAIL, "AUTH",
			    "target %s: only one of the access key id and the "
			    "secret access key is set (%s)",
			    t->name, where);
		else
			snprintf(src, n, "AWS keys from %s", where);
		goto out;
	}
	if ((rc = aws_source_rest(&s, t->env, src, n, err)) != 0) {
		rc = rc > 0 ? 0 : rc;
		goto out;
	}
	rc = error_set(err, ERR_FAIL, "AUTH",
	    "target %s has no AWS credentials: set access_key_id and "
	    "secret_access_key, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
	    "AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, a profile in "
	    "the shared files or a container credentials URI "
	    "(AWS_EC2_METADATA_DISABLED turns the instance role off)",
	    t->name);
out:
	secret_free(id);
	secret_free(secret);
	aws_settings_dispose(&s);
	return rc;
}
