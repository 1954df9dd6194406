/*
 * codeartifact.c - the "codeartifact" publisher: wheels and sdists into an
 * AWS CodeArtifact PyPI repository, as `aws codeartifact login --tool
 * twine` followed by `twine upload` would do it.
 *
 * Per release, two SigV4-signed calls (service "codeartifact"):
 * GetAuthorizationToken (POST /v1/authorization-token) and
 * GetRepositoryEndpoint (GET /v1/repository/endpoint, format=pypi). Each
 * file then goes to that endpoint through the PyPI legacy upload of
 * pypi.c, as user "aws" with the token as password. CodeArtifact answers
 * 409 to a file that is already there; we then read the version's assets
 * (ListPackageVersionAssets, SHA-256 per asset) to tell "same bytes,
 * already present" from a CONFLICT. The token is a secret: it stays in
 * this state, is wiped on free and never logged.
 * Settings: domain, domain_owner (optional), repository
 * (CODEARTIFACT_DOMAIN, CODEARTIFACT_ACCOUNT_ID, CODEARTIFACT_REPOSITORY),
 * region, endpoint (AWS_ENDPOINT_URL_CODEARTIFACT, AWS_ENDPOINT_URL),
 * token_duration, and the AWS credential keys of aws_creds.h.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "publishers/aws_creds.h"
#include "publishers/dist.h"
#include "publishers/http.h"
#include "publishers/publisher.h"
#include "publishers/pypi.h"
#include "publishers/sigv4.h"

/* GetAuthorizationToken accepts 900..43200 s (or 0: the session's
 * expiry). One hour covers a release's uploads with room to spare and
 * leaves a leaked token short-lived. */
#define CA_DEFAULT_DURATION "3600"
/* ListPackageVersionAssets pages; a PyPI version has a handful of files,
 * so ten pages of the default size are far more than any real one. */
#define CA_MAX_PAGES 10

/* Parameter arrays end with domain-owner, which is optional (the caller's
 * account when absent, as for `aws codeartifact login` without
 * --domain-owner; seed 000 sets no CODEARTIFACT_ACCOUNT_ID). */
#define CA_NPARAMS(st, n) ((st)->owner != NULL ? (n) : (n)-1)

struct ca_state {
	struct aws_settings settings;
	struct aws_credentials creds;
	char *region;
	char *api; /* https://codeartifact.<region>.amazonaws.com */
	char *domain;
	char *owner;
	char *repository;
	char *repo_url; /* the PyPI endpoint, ends in '/' */
	char *auth;     /* "Authorization: Basic base64(aws:token)" */
	char *duration;
	int64_t token_expires_ms; /* 0: unknown */
	char *target;
};

static void
ca_state_free(void *arg)
{
	struct ca_state *st = arg;

	if (st == NULL)
		return;
	aws_settings_dispose(&st->settings);
	aws_credentials_dispose(&st->creds);
	free(st->region);
	free(st->api);
	free(st->domain);
	free(st->owner);
	free(st->repository);
	free(st->repo_url);
	secret_free(st->auth);
	free(st->duration);
	free(st->target);
	free(st);
}

/* Domain and repository names: CodeArtifact allows [a-z0-9-] (domains)
 * and [A-Za-z0-9._-] (repositories), 2..100 characters; the owner is a
 * 12-digit account id. Checked here so a typo fails before any call. */
static bool
ca_name_ok(const char *s, bool repo)
{
	size_t n = strlen(s), i;

	if (n < 2 || n > 100)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(islower(c) || isdigit(c) || c == '-' ||
		        (repo && (isupper(c) || c == '.' || c == '_'))))
			return false;
	}
	return true;
}

static bool
ca_owner_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return i == 12;
}

/* Sign and send one API call; the JSON answer is parsed into *json. */
static int
ca_call(struct ca_state *st, const char *method, const char *path,
    const struct sigv4_param *params, size_t n, bool dry, cJSON **json,
    const char *what, struct error *err)
{
	struct sigv4_credentials cred;
	struct sigv4_scope scope = { st->region, "codeartifact", false,
		time(NULL) };
	struct sigv4_request sr = { 0 };
	struct sigv4_signed sig = { 0 };
	struct http_request hr = { 0 };
	struct http_response resp;
	struct http_body empty;
	const char **lines = NULL;
	size_t i;
	int rc;

	http_response_init(&resp);
	http_body_init(&empty);
	if (aws_credentials_stale(&st->creds, util_now_ms())) {
		struct aws_credentials fresh;

		if ((rc = aws_credentials_resolve(&fresh, &st->settings, err)) <
		    0)
			goto out;
		aws_credentials_dispose(&st->creds);
		st->creds = fresh;
	}
	aws_credentials_view(&cred, &st->creds);
	sr.method = method;
	sr.endpoint = st->api;
	sr.path = path;
	sr.params = params;
	sr.n_params = n;
	if ((rc = sigv4_sign(&sig, &cred, &scope, &sr, err)) < 0)
		goto out;
	if (dry) {
		rc = 0;
		goto out;
	}
	lines = xcalloc(sig.n_headers + 2, sizeof(*lines));
	for (i = 0; i < sig.n_headers; i++)
		lines[i] = sig.headers[i];
	lines[i] = "Accept: application/json";
	hr.method = method;
	hr.url = sig.url;
	hr.headers = lines;
	/* An empty POST body still carries Content-Length: 0. */
	hr.body = strcmp(method, "POST") == 0 ? &empty : NULL;
	hr.timeout_s = 60;
	hr.what = what;
	if ((rc = http_request(&resp, &hr, err)) < 0)
		goto out;
	if (resp.status != 200) {
		rc = http_status_error(&resp, what, err);
		goto out;
	}
	if ((*json = cJSON_ParseWithLength(resp.body.data ? resp.body.data : "",
	         resp.body.len)) == NULL) {
		rc = error_set(err, ERR_FAIL, "HTTP",
		    "%s: the answer is not JSON", what);
		goto out;
	}
	rc = 0;
out:
	free(lines);
	sigv4_signed_dispose(&sig);
	if (resp.body.data != NULL)
		secret_wipe(resp.body.data, resp.body.len);
	http_response_dispose(&resp);
	http_body_dispose(&empty);
	return rc;
}

/* GetAuthorizationToken: (re)fill st->auth and its expiry. */
static int
ca_fetch_token(struct ca_state *st, struct error *err)
{
	struct sigv4_param tp[] = { { "domain", st->domain },
		{ "duration", st->duration }, { "domain-owner", st->owner } };
	cJSON *json = NULL;
	const cJSON *v, *exp;
	int rc;

	if ((rc = ca_call(st, "POST", "/v1/authorization-token", tp,
	         CA_NPARAMS(st, 3), false, &json, "codeartifact_get_token",
	         err)) < 0)
		return rc;
	v = cJSON_GetObjectItemCaseSensitive(json, "authorizationToken");
	exp = cJSON_GetObjectItemCaseSensitive(json, "expiration");
	if (!cJSON_IsString(v) || *v->valuestring == '\0' ||
	    strpbrk(v->valuestring, "\r\n") != NULL) {
		rc = error_set(err, ERR_FAIL, "AUTH",
		    "codeartifact GetAuthorizationToken answered without a "
		    "token");
		goto out;
	}
	secret_free(st->auth);
	st->auth = http_basic_auth_header("aws", v->valuestring);
	secret_wipe(v->valuestring, strlen(v->valuestring));
	/* The expiration is epoch seconds (a JSON number). */
	st->token_expires_ms =
	    cJSON_IsNumber(exp) ? (int64_t)(exp->valuedouble * 1000) : 0;
	rc = 0;
out:
	cJSON_Delete(json);
	return rc;
}

static int
ca_begin(void **state, const struct publish_target *t,
    const struct publish_release *rel, struct error *err)
{
	struct ca_state *st = xcalloc(1, sizeof(*st));
	char *ep = NULL, *duration = NULL;
	cJSON *json = NULL;
	const cJSON *v;
	long long secs;
	int rc;

	st->target = xstrdup(t->name);
	aws_settings_load(&st->settings, t);
	st->domain = publish_target_get(t, "domain");
	st->owner = publish_target_get(t, "domain_owner");
	st->repository = publish_target_get(t, "repository");
	if (st->domain == NULL || st->repository == NULL) {
		rc = error_set(err, ERR_INVALID, "CONFIG",
		    "codeartifact target %s needs domain and repository "
		    "(CODEARTIFACT_DOMAIN, CODEARTIFACT_REPOSITORY)",
		    t->name);
		goto out;
	}
	if (!ca_name_ok(st->domain, false) ||
	    !ca_name_ok(st->repository, true) ||
	    (st->owner != NULL && !ca_owner_ok(st->owner))) {
		rc = error_set(err, ERR_INVALID, "CONFIG",
		    "codeartifact target %s: domain, repository or the "
		    "12-digit domain_owner is malformed",
		    t->name);
		goto out;
	}
	if ((duration = publish_target_get(t, "token_duration")) == NULL)
		duration = xstrdup(CA_DEFAULT_DURATION);
	st->duration = xstrdup(duration);
	if (util_parse_uint(&secs, duration, 43200) < 0 ||
	    (secs != 0 && secs < 900)) {
		rc = error_set(err, ERR_INVALID, "CONFIG",
		    "codeartifact token_duration must be 0 or 900..43200");
		goto out;
	}
	if ((rc = aws_region_resolve(&st->region, st->settings.region, t->env,
	         err)) < 0)
		goto out;
	ep = publish_target_get(t, "endpoint");
	if ((rc = aws_endpoint_resolve(&st->api, ep, t->env, "CODEARTIFACT",
	         "codeartifact", st->region, err)) < 0)
		goto out;
	if ((rc = aws_credentials_resolve(&st->creds, &st->settings, err)) < 0)
		goto out;

	{
		struct sigv4_param tp[] = { { "domain", st->domain },
			{ "duration", duration },
			{ "domain-owner", st->owner } };
		struct sigv4_param rp[] = { { "domain", st->domain },
			{ "repository", st->repository }, { "format", "pypi" },
			{ "domain-owner", st->owner } };

		if (rel->dry_run) {
			/* Signed, not sent: the endpoint has the documented
			 * shape, and no token exists. */
			rc = ca_call(st, "POST", "/v1/authorization-token", tp,
			    CA_NPARAMS(st, 3), true, &json,
			    "codeartifact_get_token", err);
			if (rc < 0)
				goto out;
			st->repo_url = xasprintf("https://%s-%s.d.codeartifact."
			                         "%s.amazonaws.com/pypi/%s/",
			    st->domain, st->owner ? st->owner : "ACCOUNT",
			    st->region, st->repository);
			rc = ca_call(st, "GET", "/v1/repository/endpoint", rp,
			    CA_NPARAMS(st, 4), true, &json,
			    "codeartifact_get_endpoint", err);
			if (rc < 0)
				goto out;
			st->auth = http_basic_auth_header("aws", "dry-run");
			goto done;
		}
		if ((rc = ca_fetch_token(st, err)) < 0)
			goto out;
		if ((rc = ca_call(st, "GET", "/v1/repository/endpoint", rp,
		         CA_NPARAMS(st, 4), false, &json,
		         "codeartifact_get_endpoint", err)) < 0)
			goto out;
		v = cJSON_GetObjectItemCaseSensitive(json,
		    "repositoryEndpoint");
		if (!cJSON_IsString(v) || !http_url_allowed(v->valuestring)) {
			rc = error_set(err, ERR_FAIL, "HTTP",
			    "codeartifact GetRepositoryEndpoint answered "
			    "without a usable https endpoint");
			goto out;
		}
		/* twine uploads to the endpoint as it is, with its slash. */
		if (v->valuestring[strlen(v->valuestring) - 1] == '/')
			st->repo_url = xstrdup(v->valuestring);
		else
			st->repo_url = xasprintf("%s/", v->valuestring);
	}
done:
	log_info("codeartifact_begin target=%s domain=%s repository=%s "
	         "region=%s endpoint=\"%s\" credentials=%s dry_run=%d",
	    t->name, st->domain, st->repository, st->region, st->repo_url,
	    st->creds.source, rel->dry_run);
	*state = st;
	st = NULL;
	rc = 0;
out:
	if (json != NULL)
		cJSON_Delete(json);
	free(ep);
	free(duration);
	ca_state_free(st);
	return rc;
}

/* The SHA-256 ListPackageVersionAssets gives for f in its version:
 * 0 with sha_out (lower-case hex), ERR_NOTFOUND when not listed, or an
 * error. */
static int
ca_asset_sha(struct ca_state *st, const struct publish_release *rel,
    const struct publish_file *f, char sha_out[65], struct error *err)
{
	char *token = NULL, pkg[256];
	const char *name, *version;
	cJSON *json = NULL;
	int rc = ERR_NOTFOUND, page;

	/* The file's own metadata names its project and version; the
	 * release's are the fallback. CodeArtifact stores PyPI names
	 * normalized (PEP 503). */
	name = f->meta != NULL ? dist_meta_get(f->meta, "Name") : NULL;
	version = f->meta != NULL ? dist_meta_get(f->meta, "Version") : NULL;
	if (name == NULL)
		name = rel->package;
	if (version == NULL)
		version = rel->version;
	if (name == NULL || version == NULL)
		return error_set(err, ERR_CONFLICT, "CONFLICT",
		    "cannot tell the package and version of %s", f->filename);
	dist_normalize_name(pkg, sizeof(pkg), name);
	for (page = 0; page < CA_MAX_PAGES && rc == ERR_NOTFOUND; page++) {
		struct sigv4_param p[8] = { { "domain", st->domain },
			{ "repository", st->repository }, { "format", "pypi" },
			{ "package", pkg }, { "version", version },
			{ "domain-owner", st->owner } };
		size_t n = CA_NPARAMS(st, 6);
		const cJSON *assets, *a, *next;

		if (token != NULL)
			p[n++] = (struct sigv4_param){ "next-token", token };
		if ((rc = ca_call(st, "POST", "/v1/package/version/assets", p,
		         n, false, &json, "codeartifact_list_assets", err)) <
		    0) {
			/* No such version (yet): not listed, as for a file. */
			if (rc == ERR_FAIL &&
			    strstr(err->msg, "ResourceNotFoundException") !=
			        NULL)
				rc = ERR_NOTFOUND;
			break;
		}
		rc = ERR_NOTFOUND;
		assets = cJSON_GetObjectItemCaseSensitive(json, "assets");
		cJSON_ArrayForEach(a, assets) {
			const cJSON *aname, *hashes, *sha;

			aname = cJSON_GetObjectItemCaseSensitive(a, "name");
			hashes = cJSON_GetObjectItemCaseSensitive(a, "hashes");
			sha =
			    cJSON_GetObjectItemCaseSensitive(hashes, "SHA-256");
			if (cJSON_IsString(aname) &&
			    strcmp(aname->valuestring, f->filename) == 0) {
				snprintf(sha_out, 65, "%s",
				    cJSON_IsString(sha) ? sha->valuestring
				                        : "");
				for (size_t i = 0; sha_out[i] != '\0'; i++)
					sha_out[i] = (char)tolower(
					    (unsigned char)sha_out[i]);
				rc = 0;
				break;
			}
		}
		next = cJSON_GetObjectItemCaseSensitive(json, "nextToken");
		free(token);
		token = cJSON_IsString(next) && *next->valuestring
		            ? xstrdup(next->valuestring)
		            : NULL;
		cJSON_Delete(json);
		json = NULL;
		if (token == NULL)
			break;
	}
	free(token);
	if (json != NULL)
		cJSON_Delete(json);
	return rc;
}

/* After a 409: is the same file (by SHA-256) already in the version?
 * Returns 0 with *same set, or an error. */
static int
ca_asset_same(struct ca_state *st, const struct publish_release *rel,
    const struct publish_file *f, bool *same, struct error *err)
{
	char sha[65] = "";
	int rc = ca_asset_sha(st, rel, f, sha, err);

	*same = rc == 0 && strcmp(sha, f->sha256) == 0;
	return rc == ERR_NOTFOUND ? 0 : rc;
}

/* Verification (verify.h): the asset's SHA-256 as listed. */
static int
ca_served(void *state, const struct publish_target *t,
    const struct publish_release *rel, const struct publish_file *f,
    char served[65], struct error *err)
{
	(void)t;
	return ca_asset_sha(state, rel, f, served, err);
}

static int
ca_upload(void *state, const struct publish_target *t,
    const struct publish_release *rel, const struct publish_file *f,
    struct publish_outcome *out, struct error *err)
{
	struct ca_state *st = state;
	struct pypi_endpoint ep = { st->repo_url, st->auth, NULL,
		"codeartifact" };
	struct error cerr;
	bool same = false;
	int rc;

	/* A release that outlives its token (large files, slow links) gets a
	 * new one rather than a 401 half-way. */
	if (!rel->dry_run && st->token_expires_ms != 0 &&
	    st->token_expires_ms - AWS_REFRESH_MARGIN_MS / 2 <= util_now_ms()) {
		if ((rc = ca_fetch_token(st, err)) < 0)
			goto out;
		ep.auth_header = st->auth;
	}
	rc = pypi_upload_file(&ep, f, rel->dry_run, out, err);
	if (rc != ERR_CONFLICT)
		goto out;
	/* 409: compare digests before calling it a conflict. */
	if (ca_asset_same(st, rel, f, &same, &cerr) < 0) {
		rc = error_set(err,
		    cerr.rc == ERR_TRANSIENT ? ERR_TRANSIENT : ERR_CONFLICT,
		    cerr.rc == ERR_TRANSIENT ? "HTTP" : "CONFLICT",
		    "codeartifact: %s exists and its digest could not be "
		    "read: %s",
		    f->filename, cerr.msg);
		goto out;
	}
	if (!same) {
		rc = error_set(err, ERR_CONFLICT, "CONFLICT",
		    "codeartifact: %s already exists in %s/%s with different "
		    "content; nothing was overwritten",
		    f->filename, st->domain, st->repository);
		goto out;
	}
	error_clear(err);
	out->status = PUBLISH_ALREADY_PRESENT;
	snprintf(out->url, sizeof(out->url), "%s", st->repo_url);
	rc = 0;
out:
	if (rc == 0)
		log_info("codeartifact_%s target=%s file=%s",
		    out->status == PUBLISH_UPLOADED          ? "uploaded"
		    : out->status == PUBLISH_ALREADY_PRESENT ? "present"
		                                             : "dry_run",
		    t->name, f->filename);
	return rc;
}

const struct publisher_ops codeartifact_publisher = {
	.type = "codeartifact",
	.begin = ca_begin,
	.upload = ca_upload,
	.finish = NULL,
	.state_free = ca_state_free,
	.dists_only = true,
	.credential = aws_credentials_source,
	.served = ca_served,
};
