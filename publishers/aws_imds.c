/*
 * aws_imds.c - credentials of the EC2 instance role from the instance
 * metadata service, IMDSv2 only: PUT /latest/api/token with
 * X-aws-ec2-metadata-token-ttl-seconds, then, with that token,
 * GET /latest/meta-data/iam/security-credentials/ (the role name) and
 * GET .../<role> (the JSON credentials). The shapes, the 21600 s token
 * lifetime, the 1 s timeout and the single attempt are botocore's
 * (utils.py IMDSFetcher / InstanceMetadataFetcher).
 *
 * The service lives on a link-local address that http_request() refuses
 * (plain http only to loopback, the project's rule), so this file has
 * its own minimal libcurl client: no proxy, no redirects, bounded
 * answers. The metadata token and the credentials are secrets: wiped
 * after use, never logged.
 */
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

#define AWS_IMDS_DEFAULT "http://169.254.169.254/"
/* botocore: metadata_service_timeout 1 s, metadata_service_num_attempts
 * 1. A host that is not on EC2 costs one second, once per resolution. */
#define AWS_IMDS_TIMEOUT_S 1L
/* botocore's IMDSFetcher._TOKEN_TTL. */
#define AWS_IMDS_TOKEN_TTL "21600"
/* An IAM role name is at most 64 characters (IAM's limit). */
#define AWS_IMDS_ROLE_MAX 64

static size_t
aws_imds_write(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	/* buf_append fails past the buffer's maximum: the transfer stops. */
	if (buf_append(b, p, size * n) < 0)
		return 0;
	return size * n;
}

/* One request; *status is 0 when there was no answer (not reachable,
 * timed out, or longer than AWS_ANSWER_MAX). */
static void
aws_imds_send(struct buf *body, long *status, const char *method,
    const char *url, const char *header)
{
	struct curl_slist *h = NULL;
	CURL *c;
	CURLcode cc;

	*status = 0;
	buf_reset(body);
	if ((c = curl_easy_init()) == NULL)
		return;
	if (header != NULL)
		h = curl_slist_append(h, header);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, AWS_IMDS_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, AWS_IMDS_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, http_user_agent());
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, aws_imds_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
}

/* The base URL with a trailing '/': AWS_EC2_METADATA_SERVICE_ENDPOINT or
 * the default. Plain http is allowed to loopback and to the two AWS
 * metadata addresses only. */
static int
aws_imds_base(char **out, const struct publish_env *env, struct error *err)
{
	const char *v =
	    env != NULL ? env->aws_ec2_metadata_service_endpoint : NULL;
	char *safe;

	if (v == NULL || v[0] == '\0')
		v = AWS_IMDS_DEFAULT;
	if (!(strncasecmp(v, "http://169.254.169.254", 22) == 0 &&
	        (v[22] == '\0' || v[22] == '/' || v[22] == ':')) &&
	    !(strncasecmp(v, "http://[fd00:ec2::254]", 22) == 0 &&
	        (v[22] == '\0' || v[22] == '/' || v[22] == ':')) &&
	    !http_url_allowed(v)) {
		safe = util_redact_url(v);
		error_set(err, ERR_INVALID, "CONFIG",
		    "AWS_EC2_METADATA_SERVICE_ENDPOINT %s: plain http:// is "
		    "allowed only to loopback and the metadata addresses",
		    safe);
		free(safe);
		return ERR_INVALID;
	}
	*out = xasprintf("%s%s", v, v[strlen(v) - 1] == '/' ? "" : "/");
	return 0;
}

static bool
aws_imds_role_valid(const char *r)
{
	size_t n = strlen(r), i;

	if (n == 0 || n > AWS_IMDS_ROLE_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!(isalnum((unsigned char)r[i]) ||
		        strchr("+=,.@_-", r[i]) != NULL))
			return false;
	return true;
}

/* The role's JSON answer into *out; *found false when it lacks a field
 * (botocore returns no credentials then). */
static int
aws_imds_parse(struct aws_credentials *out, const struct buf *body, bool *found,
    struct error *err)
{
	cJSON *root, *it;
	const cJSON *id, *secret, *token, *exp;
	int64_t exp_ms = 0;
	int rc = 0;

	root = cJSON_ParseWithLength(body->data ? body->data : "", body->len);
	id = cJSON_GetObjectItemCaseSensitive(root, "AccessKeyId");
	secret = cJSON_GetObjectItemCaseSensitive(root, "SecretAccessKey");
	token = cJSON_GetObjectItemCaseSensitive(root, "Token");
	exp = cJSON_GetObjectItemCaseSensitive(root, "Expiration");
	if (!cJSON_IsString(id) || !cJSON_IsString(secret) ||
	    !cJSON_IsString(token) || !cJSON_IsString(exp) ||
	    id->valuestring[0] == '\0' || secret->valuestring[0] == '\0') {
		log_info("aws_imds no_credentials=\"the role's answer lacks "
		         "AccessKeyId, SecretAccessKey, Token or Expiration\"");
		goto out;
	}
	if (util_parse_iso8601(&exp_ms, exp->valuestring) < 0) {
		rc = error_set(err, ERR_FAIL, "AUTH",
		    "instance metadata: Expiration is not a date");
		goto out;
	}
	out->access_key_id = xstrdup(id->valuestring);
	out->secret_access_key = xstrdup(secret->valuestring);
	out->session_token = xstrdup(token->valuestring);
	out->expires_ms = exp_ms;
	out->source = "imds";
	*found = true;
out:
	if (root != NULL) {
		cJSON_ArrayForEach(it, root) {
			if (cJSON_IsString(it))
				secret_wipe(it->valuestring,
				    strlen(it->valuestring));
		}
		cJSON_Delete(root);
	}
	return rc;
}

int
aws_step_imds(struct aws_credentials *out, const struct publish_env *env,
    bool *found, struct error *err)
{
	const char *off = env != NULL ? env->aws_ec2_metadata_disabled : NULL;
	char *base = NULL, *url = NULL, *tokline = NULL, *role = NULL;
	struct buf body;
	long status;
	int rc;

	*found = false;
	buf_init(&body, AWS_ANSWER_MAX);
	if (off != NULL && strcasecmp(off, "true") == 0) {
		rc = 0; /* botocore: AWS_EC2_METADATA_DISABLED=true */
		goto out;
	}
	if ((rc = aws_imds_base(&base, env, err)) < 0)
		goto out;
	url = xasprintf("%slatest/api/token", base);
	aws_imds_send(&body, &status, "PUT", url,
	    "X-aws-ec2-metadata-token-ttl-seconds: " AWS_IMDS_TOKEN_TTL);
	if (status != 200 || body.len == 0 ||
	    memchr(body.data, '\n', body.len) != NULL ||
	    memchr(body.data, '\r', body.len) != NULL) {
		/* Not on EC2 (no answer), or IMDSv2 refused: no IMDSv1
		 * fallback (docs/decisions.md). */
		log_info("aws_imds no_token status=%ld", status);
		goto out;
	}
	tokline = xasprintf("X-aws-ec2-metadata-token: %s", body.data);
	secret_wipe(body.data, body.len);
	free(url);
	url = xasprintf("%slatest/meta-data/iam/security-credentials/", base);
	aws_imds_send(&body, &status, "GET", url, tokline);
	if (status != 200 || body.len == 0) {
		log_info("aws_imds no_role status=%ld", status);
		goto out;
	}
	role = xstrndup(body.data, body.len);
	while (role[0] != '\0' && strchr(" \t\r\n", role[strlen(role) - 1]))
		role[strlen(role) - 1] = '\0';
	if (!aws_imds_role_valid(role)) {
		rc = error_set(err, ERR_FAIL, "AUTH",
		    "instance metadata: the role name is not an IAM role name");
		goto out;
	}
	free(url);
	url = xasprintf("%slatest/meta-data/iam/security-credentials/%s", base,
	    role);
	aws_imds_send(&body, &status, "GET", url, tokline);
	if (status != 200) {
		log_info("aws_imds no_credentials status=%ld role=%s", status,
		    role);
		goto out;
	}
	if ((rc = aws_imds_parse(out, &body, found, err)) < 0)
		goto out;
	if (*found)
		log_info("aws_credentials source=imds role=%s", role);
out:
	if (body.data != NULL)
		secret_wipe(body.data, body.len);
	buf_dispose(&body);
	secret_free(tokline);
	free(base);
	free(url);
	free(role);
	return rc;
}
