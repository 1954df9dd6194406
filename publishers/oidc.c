/*
 * oidc.c - Trusted Publishing's token exchange (see oidc.h): the index's
 * audience, the CI's identity token for it, and the index's minted API
 * token, each answer checked for its shape and bounded before use.
 *
 * The mint POST is sent once (no retry of a 5xx): Warehouse records the
 * JWT's jti when it mints, so a second try with the same JWT after a
 * lost answer is refused as reused; the caller's retry starts again from
 * a fresh identity token.
 */
#include "publishers/oidc.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/xalloc.h"
#include "publishers/http.h"

bool
oidc_available(const struct oidc_source *s)
{
	if (s == NULL)
		return false;
	if (s->id_token != NULL && s->id_token[0] != '\0')
		return true;
	return s->request_url != NULL && s->request_url[0] != '\0' &&
	       s->request_token != NULL && s->request_token[0] != '\0';
}

char *
oidc_index_origin(const char *url)
{
	const char *p = strstr(url, "://"), *end;

	if (p == NULL)
		return NULL;
	end = strchr(p + 3, '/');
	return end ? xasprintf("%.*s", (int)(end - url), url) : xstrdup(url);
}

/* A token as a server sent it: printable ASCII without blanks or quotes
 * (JWTs are base64url with dots, macaroons "pypi-" + base64url), at most
 * OIDC_TOKEN_MAX bytes. Anything else is not sent in a header. */
static bool
oidc_token_ok(const char *t)
{
	size_t n = 0;

	for (; t[n] != '\0'; n++)
		if ((unsigned char)t[n] <= 0x20 ||
		    (unsigned char)t[n] >= 0x7f || t[n] == '"' || t[n] == '\\')
			return false;
	return n > 0 && n <= OIDC_TOKEN_MAX;
}

/* The string member `key` of the JSON body, copied, or NULL. */
static char *
oidc_json_string(const struct http_response *r, const char *key)
{
	cJSON *root = cJSON_ParseWithLength(r->body.data ? r->body.data : "",
	    r->body.len);
	const char *v =
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, key));
	char *out = v ? xstrdup(v) : NULL;

	cJSON_Delete(root);
	return out;
}

/* GET or POST url (json body or NULL) with the extra header hdr (or
 * NULL). Returns 0 with a response, or http_request's code. */
static int
oidc_request(struct http_response *resp, const char *method, const char *url,
    const char *hdr, const struct http_body *body, const char *what,
    struct error *err)
{
	struct http_request req = { 0 };
	const char *hdrs[4];
	size_t n = 0;

	hdrs[n++] = "Accept: application/json";
	if (body != NULL)
		hdrs[n++] = "Content-Type: application/json";
	if (hdr != NULL)
		hdrs[n++] = hdr;
	hdrs[n] = NULL;
	req.method = method;
	req.url = url;
	req.headers = hdrs;
	req.body = body;
	req.timeout_s = OIDC_TIMEOUT_S;
	req.no_retry_status = body != NULL;
	req.what = what;
	return http_request(resp, &req, err);
}

/* GET <origin>/_/oidc/audience -> {"audience": "..."}. */
static int
oidc_audience(char **out, const char *origin, const char *what,
    struct error *err)
{
	struct http_response resp;
	char *url = xasprintf("%s/_/oidc/audience", origin), *aud = NULL;
	int rc;

	http_response_init(&resp);
	if ((rc = oidc_request(&resp, "GET", url, NULL, NULL,
	         "pypi_oidc_audience", err)) < 0)
		goto out;
	if (resp.status == 403 || resp.status == 404) {
		rc = error_set(err, ERR_FAIL, "AUTH",
		    "%s: trusted publishing: the index does not offer it "
		    "(GET /_/oidc/audience: HTTP %ld)",
		    what, resp.status);
		goto out;
	}
	if (resp.status != 200) {
		rc = http_status_error(&resp, "pypi_oidc_audience", err);
		goto out;
	}
	aud = oidc_json_string(&resp, "audience");
	if (aud == NULL || aud[0] == '\0' || strlen(aud) > OIDC_AUDIENCE_MAX ||
	    !oidc_token_ok(aud)) {
		rc = error_set(err, ERR_FAIL, "OIDC",
		    "%s: trusted publishing: /_/oidc/audience did not answer "
		    "{\"audience\": <name of at most %d printable bytes>}",
		    what, OIDC_AUDIENCE_MAX);
		goto out;
	}
	*out = aud;
	aud = NULL;
	rc = 0;
out:
	free(aud);
	free(url);
	http_response_dispose(&resp);
	return rc;
}

/* GitHub Actions: GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=<aud>,
 * bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN -> {"value": "<jwt>"}. */
static int
oidc_github_token(char **out, const struct oidc_source *s, const char *aud,
    const char *what, struct error *err)
{
	struct http_response resp;
	char *esc = http_escape(aud, false), *url, *hdr, *jwt = NULL;
	int rc;

	http_response_init(&resp);
	url = xasprintf("%s%caudience=%s", s->request_url,
	    strchr(s->request_url, '?') ? '&' : '?', esc);
	hdr = xasprintf("Authorization: bearer %s", s->request_token);
	if ((rc = oidc_request(&resp, "GET", url, hdr, NULL, "oidc_id_token",
	         err)) < 0)
		goto out;
	if (resp.status != 200) {
		rc = http_status_error(&resp, "oidc_id_token", err);
		if (rc == ERR_FAIL && strcmp(err->code, "AUTH") == 0)
			error_set(err, ERR_FAIL, "AUTH",
			    "%s: trusted publishing: the identity provider "
			    "refused the token request (HTTP %ld; is "
			    "ACTIONS_ID_TOKEN_REQUEST_TOKEN current and the "
			    "job's permission id-token: write?)",
			    what, resp.status);
		goto out;
	}
	jwt = oidc_json_string(&resp, "value");
	if (jwt == NULL || !oidc_token_ok(jwt)) {
		rc = error_set(err, ERR_FAIL, "OIDC",
		    "%s: trusted publishing: the identity provider did not "
		    "answer {\"value\": <token of at most %d bytes>}",
		    what, OIDC_TOKEN_MAX);
		goto out;
	}
	secret_register(jwt);
	*out = jwt;
	jwt = NULL;
	rc = 0;
out:
	secret_free(jwt);
	secret_free(hdr);
	free(url);
	free(esc);
	/* The body held the JWT. */
	if (resp.body.data != NULL)
		secret_wipe(resp.body.data, resp.body.len);
	http_response_dispose(&resp);
	return rc;
}

/* The identity token: the caller's (a file the platform mounts), else
 * GitHub Actions' endpoint. */
static int
oidc_id_token(char **out, const struct oidc_source *s, const char *aud,
    const char *what, struct error *err)
{
	if (s->id_token == NULL || s->id_token[0] == '\0')
		return oidc_github_token(out, s, aud, what, err);
	if (!oidc_token_ok(s->id_token))
		return error_set(err, ERR_INVALID, "CONFIG",
		    "%s: oidc_token does not hold a token (one line of "
		    "printable ASCII, at most %d bytes)",
		    what, OIDC_TOKEN_MAX);
	secret_register(s->id_token);
	*out = xstrdup(s->id_token);
	return 0;
}

/* The index's refusal: {"message", "errors": [{code, description}]}
 * into msg (bounded; codes and descriptions, which Warehouse writes
 * itself and never fills with the token). */
static void
oidc_refusal(char *msg, size_t n, const struct http_response *r,
    const char *jwt)
{
	cJSON *root = cJSON_ParseWithLength(r->body.data ? r->body.data : "",
	    r->body.len);
	const cJSON *e;
	struct buf b;
	char *text;

	buf_init(&b, n);
	cJSON_ArrayForEach(e,
	    cJSON_GetObjectItemCaseSensitive(root, "errors")) {
		const char *c = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(e, "code"));
		const char *d = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(e, "description"));

		(void)buf_printf(&b, "%s%s: %s", b.len ? "; " : "", c ? c : "?",
		    d ? d : "");
	}
	if (b.len == 0) {
		const char *m = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(root, "message"));

		(void)buf_printf(&b, "%s", m ? m : "no reason given");
	}
	text = buf_detach(&b, NULL);
	/* Belt and braces: a description that quotes the JWT is not
	 * repeated. */
	snprintf(msg, n, "%s",
	    text && strstr(text, jwt) == NULL ? text : "(reason withheld)");
	free(text);
	cJSON_Delete(root);
}

/* POST <origin>/_/oidc/mint-token {"token": jwt} -> {"token": ...}. */
static int
oidc_exchange(char **out, const char *origin, const char *jwt, const char *what,
    struct error *err)
{
	struct http_response resp;
	struct http_body body;
	cJSON *o = cJSON_CreateObject();
	char *url = xasprintf("%s/_/oidc/mint-token", origin), *json,
	     *tok = NULL;
	char why[512];
	int rc;

	http_response_init(&resp);
	http_body_init(&body);
	cJSON_AddStringToObject(o, "token", jwt);
	json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (json == NULL)
		abort(); /* cJSON fails only on allocation */
	http_body_add_mem(&body, json, strlen(json));
	if ((rc = oidc_request(&resp, "POST", url, NULL, &body,
	         "pypi_oidc_mint", err)) < 0)
		goto out;
	if (resp.status == 422 || resp.status == 401 || resp.status == 403) {
		oidc_refusal(why, sizeof(why), &resp, jwt);
		rc = error_set(err, ERR_FAIL, "AUTH",
		    "%s: trusted publishing: the index refused the token "
		    "exchange (HTTP %ld: %s)",
		    what, resp.status, why);
		goto out;
	}
	if (resp.status != 200) {
		rc = http_status_error(&resp, "pypi_oidc_mint", err);
		goto out;
	}
	tok = oidc_json_string(&resp, "token");
	if (tok == NULL || !oidc_token_ok(tok)) {
		rc = error_set(err, ERR_FAIL, "OIDC",
		    "%s: trusted publishing: /_/oidc/mint-token did not answer "
		    "{\"success\": true, \"token\": <token of at most %d "
		    "bytes>}",
		    what, OIDC_TOKEN_MAX);
		goto out;
	}
	secret_register(tok);
	*out = tok;
	tok = NULL;
	rc = 0;
out:
	secret_free(tok);
	secret_free(json);
	free(url);
	if (resp.body.data != NULL)
		secret_wipe(resp.body.data, resp.body.len);
	http_response_dispose(&resp);
	http_body_dispose(&body);
	return rc;
}

int
oidc_mint_pypi(char **out, const struct oidc_source *s, const char *origin,
    const char *what, struct error *err)
{
	char *aud = NULL, *jwt = NULL;
	int rc;

	if (!oidc_available(s))
		return error_set(err, ERR_FAIL, "AUTH",
		    "%s: trusted publishing: no identity token (set "
		    "oidc_token_file, or run where "
		    "ACTIONS_ID_TOKEN_REQUEST_URL "
		    "and ACTIONS_ID_TOKEN_REQUEST_TOKEN are set)",
		    what);
	if ((rc = oidc_audience(&aud, origin, what, err)) < 0 ||
	    (rc = oidc_id_token(&jwt, s, aud, what, err)) < 0 ||
	    (rc = oidc_exchange(out, origin, jwt, what, err)) < 0)
		goto out;
	log_info("pypi_oidc_minted target=%s audience=%s", what, aud);
	rc = 0;
out:
	secret_free(jwt);
	free(aud);
	return rc;
}
