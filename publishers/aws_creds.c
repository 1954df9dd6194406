/*
 * aws_creds.c - where AWS credentials, the region and service endpoints
 * come from (see aws_creds.h for the order), plus the two small parsers
 * the answers need (STS XML, container JSON).
 *
 * Every secret read here (keys, session tokens, the web identity JWT, the
 * container authorization token) is wiped before it is freed and never
 * enters a log line or an error message; messages name the variable or
 * the file instead.
 */
#include "publishers/aws_creds.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "publishers/aws_creds_int.h"
#include "publishers/http.h"

/* The ECS task credentials endpoint for *_RELATIVE_URI. */
#define AWS_ECS_HOST "http://169.254.170.2"
/* botocore's container fetcher: 2 s per attempt, 3 attempts. */
#define AWS_CONTAINER_TIMEOUT_S 2
#define AWS_CONTAINER_ATTEMPTS 3

void
aws_settings_load(struct aws_settings *s, const struct publish_target *t)
{
	memset(s, 0, sizeof(*s));
	if (t == NULL)
		return;
	s->env = t->env;
	s->access_key_id = publish_target_get(t, "access_key_id");
	s->secret_access_key = publish_target_get(t, "secret_access_key");
	s->session_token = publish_target_get(t, "session_token");
	s->role_arn = publish_target_get(t, "role_arn");
	s->web_identity_token_file =
	    publish_target_get(t, "web_identity_token_file");
	s->role_session_name = publish_target_get(t, "role_session_name");
	s->region = publish_target_get(t, "region");
	s->sts_endpoint = publish_target_get(t, "sts_endpoint");
}

void
aws_settings_dispose(struct aws_settings *s)
{
	if (s == NULL)
		return;
	secret_free(s->access_key_id);
	secret_free(s->secret_access_key);
	secret_free(s->session_token);
	free(s->role_arn);
	free(s->web_identity_token_file);
	free(s->role_session_name);
	free(s->region);
	free(s->sts_endpoint);
	memset(s, 0, sizeof(*s));
}

void
aws_credentials_dispose(struct aws_credentials *c)
{
	if (c == NULL)
		return;
	secret_free(c->access_key_id);
	secret_free(c->secret_access_key);
	secret_free(c->session_token);
	memset(c, 0, sizeof(*c));
}

bool
aws_credentials_stale(const struct aws_credentials *c, int64_t now_ms)
{
	return c->expires_ms != 0 &&
	       c->expires_ms - AWS_REFRESH_MARGIN_MS <= now_ms;
}

void
aws_credentials_view(struct sigv4_credentials *out,
    const struct aws_credentials *c)
{
	out->access_key_id = c->access_key_id;
	out->secret_access_key = c->secret_access_key;
	out->session_token = c->session_token;
}

static bool
aws_region_valid(const char *r)
{
	size_t n = strlen(r), i;

	if (n == 0 || n > 32)
		return false;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)r[i]) ||
		        isdigit((unsigned char)r[i]) || r[i] == '-'))
			return false;
	return true;
}

int
aws_region_resolve(char **out, const char *configured,
    const struct publish_env *env, struct error *err)
{
	const char *r = configured;
	struct aws_profiles p = { 0 };
	struct error perr;
	int rc = ERR_INVALID;

	if (aws_blank(r) && env != NULL)
		r = env->aws_region;
	if (aws_blank(r) && env != NULL)
		r = env->aws_default_region;
	/* botocore's region: the profile's "region" (full_config, so the
	 * credentials file's wins); a file that does not parse is left to
	 * the credentials step to report. */
	if (aws_blank(r) && aws_profiles_load(&p, env, &perr) == 0)
		r = aws_profile_get(&p, p.name, "region");
	if (aws_blank(r)) {
		error_set(err, rc, "CONFIG",
		    "no AWS region: set region on the target, AWS_REGION, "
		    "AWS_DEFAULT_REGION or region in the profile");
		goto out;
	}
	if (!aws_region_valid(r)) {
		error_set(err, rc, "CONFIG",
		    "AWS region \"%.40s\" is not a region name like us-east-1",
		    r);
		goto out;
	}
	*out = xstrdup(r);
	rc = 0;
out:
	aws_profiles_dispose(&p);
	return rc;
}

const char *
aws_env_endpoint(const struct publish_env *env, const char *service_id)
{
	if (env == NULL)
		return NULL;
	if (strcmp(service_id, "S3") == 0)
		return env->aws_endpoint_url_s3;
	if (strcmp(service_id, "STS") == 0)
		return env->aws_endpoint_url_sts;
	if (strcmp(service_id, "CODEARTIFACT") == 0)
		return env->aws_endpoint_url_codeartifact;
	return NULL;
}

int
aws_endpoint_resolve(char **out, const char *configured,
    const struct publish_env *env, const char *service_id,
    const char *host_prefix, const char *region, struct error *err)
{
	char *name = xasprintf("AWS_ENDPOINT_URL_%s", service_id);
	const char *from = "setting", *v = configured;
	char *url, *host = NULL, *safe;
	struct error herr;
	int rc;

	if (aws_blank(v)) {
		v = aws_env_endpoint(env, service_id);
		from = name;
	}
	if (aws_blank(v)) {
		v = env != NULL ? env->aws_endpoint_url : NULL;
		from = "AWS_ENDPOINT_URL";
	}
	if (aws_blank(v))
		url = xasprintf("https://%s.%s.amazonaws.com", host_prefix,
		    region);
	else
		url = xstrdup(v);
	if (url[0] != '\0' && url[strlen(url) - 1] == '/')
		url[strlen(url) - 1] = '\0';
	safe = util_redact_url(url);
	if ((rc = sigv4_endpoint_host(&host, url, &herr)) < 0) {
		error_set(err, rc, "CONFIG", "%s endpoint %s (from %s): %s",
		    service_id, safe, from, herr.msg);
		free(url);
		goto out;
	}
	if (!http_url_allowed(url)) {
		rc = error_set(err, ERR_INVALID, "CONFIG",
		    "%s endpoint %s (from %s): plain http:// is allowed only "
		    "to loopback",
		    service_id, safe, from);
		free(url);
		goto out;
	}
	*out = url;
	rc = 0;
out:
	free(safe);
	free(host);
	free(name);
	return rc;
}

char *
aws_xml_text(const char *xml, const char *tag)
{
	char *open = xasprintf("<%s>", tag), *close = xasprintf("</%s>", tag);
	const char *a, *b, *p;
	struct buf out;

	buf_init(&out, AWS_ANSWER_MAX);
	a = strstr(xml, open);
	b = a != NULL ? strstr(a + strlen(open), close) : NULL;
	free(open);
	if (b == NULL) {
		free(close);
		return NULL;
	}
	for (p = a + strlen(tag) + 2; p < b; p++) {
		static const struct {
			const char *ent;
			char c;
		} ents[] = { { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
			{ "&quot;", '"' }, { "&apos;", '\'' } };
		size_t i;
		bool done = false;

		if (*p == '&') {
			for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
				size_t l = strlen(ents[i].ent);

				if (strncmp(p, ents[i].ent, l) == 0) {
					(void)buf_append(&out, &ents[i].c, 1);
					p += l - 1;
					done = true;
					break;
				}
			}
		}
		if (!done)
			(void)buf_append(&out, p, 1);
	}
	free(close);
	return buf_detach(&out, NULL);
}

/* Keys in the environment. A lone half of a pair is an error rather
 * than a silent fall-through, as in botocore (PartialCredentialsError). */
int
aws_step_env(struct aws_credentials *out, const struct publish_env *env,
    bool *found, struct error *err)
{
	char *id = AWS_ENV(env, aws_access_key_id);
	char *secret = AWS_ENV(env, aws_secret_access_key);
	char *token = AWS_ENV(env, aws_session_token);
	int rc = 0;

	*found = false;
	if (token == NULL)
		token = AWS_ENV(env, aws_security_token);
	if (id == NULL && secret == NULL)
		goto out;
	if (id == NULL || secret == NULL) {
		rc = error_set(err, ERR_FAIL, "AUTH",
		    "only one of the access key id and the secret access key "
		    "is set (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)");
		goto out;
	}
	out->access_key_id = id;
	out->secret_access_key = secret;
	out->session_token = token;
	out->source = "env";
	id = secret = token = NULL;
	*found = true;
out:
	secret_free(id);
	secret_free(secret);
	secret_free(token);
	return rc;
}

static bool
aws_session_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > 64)
		return false;
	for (; *s != '\0'; s++)
		if (!(isalnum((unsigned char)*s) || strchr("_+=,.@-", *s)))
			return false;
	return true;
}

/* The web identity token: the file's content without trailing white
 * space, at most AWS_TOKEN_FILE_MAX; missing or empty is ERR_FAIL (AUTH). */
static int
aws_jwt_read(char **out, const char *tokfile, struct error *err)
{
	struct error rerr;
	char *jwt = NULL;
	size_t len;
	int rc;

	if ((rc = util_read_file(&jwt, &len, tokfile, AWS_TOKEN_FILE_MAX,
	         &rerr)) < 0)
		return error_set(err, rc == ERR_NOTFOUND ? ERR_FAIL : rc,
		    "AUTH", "cannot read the web identity token file %s: %s",
		    tokfile, rerr.msg);
	while (len > 0 && isspace((unsigned char)jwt[len - 1]))
		jwt[--len] = '\0';
	if (len == 0) {
		secret_free(jwt);
		return error_set(err, ERR_FAIL, "AUTH",
		    "the web identity token file %s is empty", tokfile);
	}
	*out = jwt;
	return 0;
}

/* STS's URL. STS has a global endpoint; regional ones are preferred when
 * the region is known, as the SDKs now do. */
int
aws_sts_url(char **out, const struct aws_settings *s, struct error *err)
{
	char *region = NULL, *endpoint = NULL;
	int rc;

	const struct publish_env *env = s != NULL ? s->env : NULL;

	if (aws_region_resolve(&region, s != NULL ? s->region : NULL, env,
	        NULL) < 0) {
		if ((rc = aws_endpoint_resolve(&endpoint,
		         s != NULL ? s->sts_endpoint : NULL, env, "STS", "sts",
		         "us-east-1", err)) < 0)
			goto out;
		if (strcmp(endpoint, "https://sts.us-east-1.amazonaws.com") ==
		    0) {
			free(endpoint);
			endpoint = xstrdup("https://sts.amazonaws.com");
		}
	} else if ((rc = aws_endpoint_resolve(&endpoint,
	                s != NULL ? s->sts_endpoint : NULL, env, "STS", "sts",
	                region, err)) < 0) {
		goto out;
	}
	*out = xasprintf("%s/", endpoint);
	rc = 0;
out:
	free(region);
	free(endpoint);
	return rc;
}

/* STS AssumeRoleWithWebIdentity: an unsigned form POST; the token file is
 * read again on every call because EKS and GitHub rotate it. */
int
aws_step_web_identity_with(struct aws_credentials *out,
    const struct aws_settings *s, const char *role_arn, const char *token_file,
    const char *session_name, struct error *err)
{
	char *role = NULL, *tokfile = NULL, *session = NULL, *jwt = NULL;
	char *url = NULL, *form = NULL;
	char *e_role = NULL, *e_session = NULL, *e_jwt = NULL;
	char *id = NULL, *secret = NULL, *token = NULL, *expiry = NULL;
	char *code = NULL, *message = NULL;
	const char *h[] = { "Content-Type: application/x-www-form-urlencoded; "
		            "charset=utf-8",
		"Accept: text/xml", NULL };
	struct http_response resp;
	struct http_request req = { 0 };
	struct http_body body;
	int64_t exp_ms = 0;
	int rc = 0;

	http_response_init(&resp);
	http_body_init(&body);
	role = xstrdup(role_arn);
	tokfile = xstrdup(token_file);
	if (!aws_blank(session_name))
		session = xstrdup(session_name);
	else
		session = xasprintf("artifactd-%lld", (long long)util_now_ms());
	if (!aws_session_name_valid(session)) {
		rc = error_set(err, ERR_INVALID, "CONFIG",
		    "role session name must be 2-64 characters of "
		    "[A-Za-z0-9_+=,.@-]");
		goto out;
	}
	if ((rc = aws_jwt_read(&jwt, tokfile, err)) < 0)
		goto out;
	if ((rc = aws_sts_url(&url, s, err)) < 0)
		goto out;
	e_role = http_escape(role, false);
	e_session = http_escape(session, false);
	e_jwt = http_escape(jwt, false);
	form = xasprintf("Action=AssumeRoleWithWebIdentity&Version=2011-06-15"
	                 "&RoleArn=%s&RoleSessionName=%s&WebIdentityToken=%s",
	    e_role, e_session, e_jwt);
	http_body_add_mem(&body, form, strlen(form));
	req.method = "POST";
	req.url = url;
	req.headers = h;
	req.body = &body;
	req.timeout_s = 30;
	req.what = "sts_assume_role_with_web_identity";
	if ((rc = http_request(&resp, &req, err)) < 0)
		goto out;
	if (resp.status != 200) {
		const char *text = resp.body.data ? resp.body.data : "";

		code = aws_xml_text(text, "Code");
		message = aws_xml_text(text, "Message");
		rc = resp.status >= 500 || resp.status == 429 ? ERR_TRANSIENT
		                                              : ERR_FAIL;
		error_set(err, rc, rc == ERR_TRANSIENT ? "HTTP" : "AUTH",
		    "STS AssumeRoleWithWebIdentity for %s: HTTP %ld %s: %.200s",
		    role, resp.status, code ? code : "",
		    message ? message : "");
		goto out;
	}
	id = aws_xml_text(resp.body.data, "AccessKeyId");
	secret = aws_xml_text(resp.body.data, "SecretAccessKey");
	token = aws_xml_text(resp.body.data, "SessionToken");
	expiry = aws_xml_text(resp.body.data, "Expiration");
	if (aws_blank(id) || aws_blank(secret) || aws_blank(token) ||
	    (expiry != NULL && util_parse_iso8601(&exp_ms, expiry) < 0)) {
		rc = error_set(err, ERR_FAIL, "AUTH",
		    "STS AssumeRoleWithWebIdentity answered without usable "
		    "credentials");
		goto out;
	}
	out->access_key_id = id;
	out->secret_access_key = secret;
	out->session_token = token;
	out->expires_ms = exp_ms;
	out->source = "web-identity";
	id = secret = token = NULL;
	log_info("aws_credentials source=web-identity role=\"%s\" "
	         "session=\"%s\" expires=\"%s\"",
	    role, session, expiry ? expiry : "");
out:
	http_response_dispose(&resp);
	/* The body holds the JWT. */
	http_body_dispose(&body);
	secret_free(form);
	secret_free(e_jwt);
	secret_free(jwt);
	secret_free(id);
	secret_free(secret);
	secret_free(token);
	free(role);
	free(tokfile);
	free(session);
	free(url);
	free(e_role);
	free(e_session);
	free(expiry);
	free(code);
	free(message);
	return rc;
}

/* The link-local addresses AWS serves container credentials on. botocore
 * allows them over plain http because they never leave the host. */
static bool
aws_container_link_local(const char *url)
{
	static const char *const ok[] = { "http://169.254.170.2/",
		"http://169.254.170.2:", "http://169.254.170.23/",
		"http://169.254.170.23:", "http://[fd00:ec2::23]/",
		"http://[fd00:ec2::23]:" };
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strncasecmp(url, ok[i], strlen(ok[i])) == 0)
			return true;
	return false;
}

static size_t
aws_curl_write(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	if (buf_append(b, p, size * n) < 0)
		return 0;
	return size * n;
}

/*
 * GET on the AWS link-local credentials address. http_request() accepts
 * plain http only to loopback (the project's rule for every publisher), so
 * this one documented AWS exception gets its own tiny client: no proxy, no
 * redirects, 2 s per attempt, 3 attempts, as botocore's fetcher.
 */
static int
aws_link_local_get(struct http_response *resp, const char *url,
    const char *auth, struct error *err)
{
	struct curl_slist *h = NULL;
	char *line = NULL;
	int i, rc = ERR_TRANSIENT;

	if (auth != NULL) {
		line = xasprintf("Authorization: %s", auth);
		h = curl_slist_append(h, line);
	}
	h = curl_slist_append(h, "Accept: application/json");
	for (i = 0; i < AWS_CONTAINER_ATTEMPTS; i++) {
		CURL *c = curl_easy_init();
		CURLcode cc;

		if (c == NULL)
			break;
		buf_reset(&resp->body);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
		curl_easy_setopt(c, CURLOPT_TIMEOUT, AWS_CONTAINER_TIMEOUT_S);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_USERAGENT, http_user_agent());
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, aws_curl_write);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp->body);
		cc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
		curl_easy_cleanup(c);
		if (cc == CURLE_OK && resp->status < 500) {
			rc = 0;
			break;
		}
		error_set(err, ERR_TRANSIENT, "HTTP",
		    "container credentials endpoint: %s",
		    cc != CURLE_OK ? curl_easy_strerror(cc) : "server error");
	}
	curl_slist_free_all(h);
	secret_free(line);
	return rc;
}

int
aws_step_container(struct aws_credentials *out, const struct publish_env *env,
    bool *found, struct error *err)
{
	char *full = AWS_ENV(env, aws_container_credentials_full_uri);
	char *rel = AWS_ENV(env, aws_container_credentials_relative_uri);
	char *auth = NULL, *url = NULL, *safe = NULL, *line = NULL;
	const char *h[3] = { "Accept: application/json", NULL, NULL };
	struct http_response resp;
	struct http_request req = { 0 };
	cJSON *root = NULL;
	const cJSON *id, *secret, *token, *exp;
	int64_t exp_ms = 0;
	int rc = 0;

	*found = false;
	http_response_init(&resp);
	if (rel != NULL)
		url = xasprintf("%s%s%s", AWS_ECS_HOST,
		    rel[0] == '/' ? "" : "/", rel);
	else if (full != NULL)
		url = xstrdup(full);
	else
		goto out;
	*found = true;
	safe = util_redact_url(url);
	auth = AWS_ENV(env, aws_container_authorization_token);
	if (auth != NULL && strpbrk(auth, "\r\n") != NULL) {
		rc = error_set(err, ERR_INVALID, "CONFIG",
		    "AWS_CONTAINER_AUTHORIZATION_TOKEN has a line break");
		goto out;
	}
	if (aws_container_link_local(url)) {
		if ((rc = aws_link_local_get(&resp, url, auth, err)) < 0)
			goto out;
	} else {
		if (!http_url_allowed(url)) {
			rc = error_set(err, ERR_INVALID, "CONFIG",
			    "container credentials URI %s must be https, "
			    "loopback or an AWS link-local address",
			    safe);
			goto out;
		}
		if (auth != NULL) {
			line = xasprintf("Authorization: %s", auth);
			h[1] = line;
		}
		req.method = "GET";
		req.url = url;
		req.headers = h;
		req.max_attempts = AWS_CONTAINER_ATTEMPTS;
		req.timeout_s = AWS_CONTAINER_TIMEOUT_S * 5;
		req.what = "aws_container_credentials";
		if ((rc = http_request(&resp, &req, err)) < 0)
			goto out;
	}
	if (resp.status != 200) {
		rc = resp.status >= 500 || resp.status == 429 ? ERR_TRANSIENT
		                                              : ERR_FAIL;
		error_set(err, rc, rc == ERR_TRANSIENT ? "HTTP" : "AUTH",
		    "container credentials endpoint %s answered HTTP %ld", safe,
		    resp.status);
		goto out;
	}
	root = cJSON_ParseWithLength(resp.body.data ? resp.body.data : "",
	    resp.body.len);
	id = cJSON_GetObjectItemCaseSensitive(root, "AccessKeyId");
	secret = cJSON_GetObjectItemCaseSensitive(root, "SecretAccessKey");
	token = cJSON_GetObjectItemCaseSensitive(root, "Token");
	exp = cJSON_GetObjectItemCaseSensitive(root, "Expiration");
	if (!cJSON_IsString(id) || !cJSON_IsString(secret) ||
	    aws_blank(id->valuestring) || aws_blank(secret->valuestring) ||
	    (cJSON_IsString(exp) &&
	        util_parse_iso8601(&exp_ms, exp->valuestring) < 0)) {
		rc = error_set(err, ERR_FAIL, "AUTH",
		    "container credentials endpoint %s answered without "
		    "usable credentials",
		    safe);
		goto out;
	}
	out->access_key_id = xstrdup(id->valuestring);
	out->secret_access_key = xstrdup(secret->valuestring);
	out->session_token = cJSON_IsString(token) && *token->valuestring
	                         ? xstrdup(token->valuestring)
	                         : NULL;
	out->expires_ms = exp_ms;
	out->source = "container";
	log_info("aws_credentials source=container uri=\"%s\"", safe);
out:
	if (root != NULL) {
		/* The parsed tree holds the secret key: wipe its strings. */
		cJSON *it;

		cJSON_ArrayForEach(it, root) {
			if (cJSON_IsString(it))
				secret_wipe(it->valuestring,
				    strlen(it->valuestring));
		}
		cJSON_Delete(root);
	}
	if (resp.body.data != NULL)
		secret_wipe(resp.body.data, resp.body.len);
	http_response_dispose(&resp);
	secret_free(auth);
	secret_free(line);
	free(full);
	free(rel);
	free(url);
	free(safe);
	return rc;
}
