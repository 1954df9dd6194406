/*
 * unpublish_s3.c - roll a release back on S3 (or an S3-compatible
 * server): the objects the release's SHA256SUMS lists under its prefix
 * (the same bucket, prefix template, region and endpoint rules as s3.c),
 * each one's .sha256, then SHA256SUMS last. S3 answers 204 to a DELETE
 * whether or not the key exists, so each key is looked at with HEAD
 * first: 404 is "absent", and only what is there is deleted. Every
 * request is SigV4-signed (service "s3", the empty payload's hash).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/buf.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "publishers/aws_creds.h"
#include "publishers/http.h"
#include "publishers/sigv4.h"
#include "publishers/unpublish_int.h"

#define US3_DEFAULT_PREFIX "wheels/{package}/{version}"

struct us3 {
	const char *target;
	struct aws_settings settings;
	struct aws_credentials creds;
	char *bucket, *prefix, *region, *endpoint;
	bool path_style;
};

static void
us3_free(struct us3 *u)
{
	aws_settings_dispose(&u->settings);
	aws_credentials_dispose(&u->creds);
	free(u->bucket);
	free(u->prefix);
	free(u->region);
	free(u->endpoint);
}

/* s3.c's prefix: placeholders replaced, empty segments dropped. */
static char *
us3_prefix(const char *tmpl, const struct publish_release *rel)
{
	const char *names[] = { "{package}", "{version}", "{tag}" };
	const char *vals[] = { rel->package, rel->version, rel->tag };
	struct buf b, out;
	const char *p;
	char *x;
	size_t i, len;

	buf_init(&b, 4096);
	buf_init(&out, 4096);
	for (p = tmpl; *p != '\0';) {
		for (i = 0; i < 3; i++)
			if (strncmp(p, names[i], strlen(names[i])) == 0)
				break;
		if (i < 3) {
			(void)buf_puts(&b, vals[i] ? vals[i] : "");
			p += strlen(names[i]);
		} else
			(void)buf_append(&b, p++, 1);
	}
	x = buf_detach(&b, NULL);
	for (p = x; *p != '\0'; p += len + (p[len] == '/')) {
		len = strcspn(p, "/");
		if (len > 0)
			(void)buf_printf(&out, "%s%.*s", out.len ? "/" : "",
			    (int)len, p);
	}
	free(x);
	return buf_detach(&out, NULL);
}

static int
us3_init(struct us3 *u, const struct publish_target *t,
    const struct publish_release *rel, struct error *err)
{
	char *v, *ep = NULL, *base = NULL;
	bool custom, flag;
	int rc;

	memset(u, 0, sizeof(*u));
	u->target = t->name;
	aws_settings_load(&u->settings, t);
	if ((u->bucket = publish_target_get(t, "bucket")) == NULL)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "s3 target %s: no bucket (set bucket or S3_WHEELS_BUCKET)",
		    t->name);
	if ((v = publish_target_get(t, "prefix")) == NULL)
		v = xstrdup(US3_DEFAULT_PREFIX);
	u->prefix = us3_prefix(v, rel);
	free(v);
	if (aws_region_resolve(&u->region, u->settings.region, t->env, NULL) <
	    0)
		u->region = xstrdup("us-east-1");
	ep = publish_target_get(t, "endpoint");
	custom = ep != NULL || aws_env_endpoint(t->env, "S3") != NULL ||
	         (t->env != NULL && t->env->aws_endpoint_url != NULL);
	rc =
	    aws_endpoint_resolve(&base, ep, t->env, "S3", "s3", u->region, err);
	free(ep);
	if (rc < 0)
		return rc;
	u->path_style = custom;
	if ((v = publish_target_get(t, "path_style")) != NULL &&
	    util_parse_bool(&flag, v) == 0)
		u->path_style = flag;
	free(v);
	if (strchr(u->bucket, '.') != NULL &&
	    strncasecmp(base, "https:", 6) == 0)
		u->path_style = true;
	if (u->path_style)
		u->endpoint = xstrdup(base);
	else {
		const char *host = strstr(base, "://") + 3;

		u->endpoint = xasprintf("%.*s%s.%s", (int)(host - base), base,
		    u->bucket, host);
	}
	free(base);
	return aws_credentials_resolve(&u->creds, &u->settings, err);
}

/* One signed request on prefix/name (no body). */
static int
us3_call(struct us3 *u, const char *method, const char *name,
    struct http_response *resp, struct error *err)
{
	static const char empty_hash[] = "e3b0c44298fc1c149afbf4c8996fb924"
	                                 "27ae41e4649b934ca495991b7852b855";
	struct sigv4_scope scope = { u->region, "s3", true, time(NULL) };
	struct sigv4_request sr = { 0 };
	struct sigv4_signed sig = { 0 };
	struct sigv4_credentials cred;
	struct http_request hr = { 0 };
	char *key =
	    u->prefix[0] ? xasprintf("%s/%s", u->prefix, name) : xstrdup(name);
	char *path = u->path_style ? xasprintf("/%s/%s", u->bucket, key)
	                           : xasprintf("/%s", key);
	int rc;

	aws_credentials_view(&cred, &u->creds);
	sr.method = method;
	sr.endpoint = u->endpoint;
	sr.path = path;
	sr.payload_hash = empty_hash;
	if ((rc = sigv4_sign(&sig, &cred, &scope, &sr, err)) < 0)
		goto out;
	hr.method = method;
	hr.url = sig.url;
	hr.headers = (const char *const *)sig.headers;
	hr.timeout_s = 60;
	hr.what = u->target;
	rc = http_request(resp, &hr, err);
out:
	sigv4_signed_dispose(&sig);
	free(key);
	free(path);
	return rc;
}

struct us3_walk {
	struct unpublish_result *out;
	struct us3 *u;
	bool dry;
};

/* HEAD, then DELETE what is there. */
static int
us3_remove(void *arg, const char *name)
{
	struct us3_walk *w = arg;
	struct http_response resp;
	enum unpublish_status st = UNPUBLISH_ABSENT;
	struct error e;
	int rc;

	error_clear(&e);
	http_response_init(&resp);
	if ((rc = us3_call(w->u, "HEAD", name, &resp, &e)) < 0)
		goto out;
	if (resp.status == 200 && w->dry)
		st = UNPUBLISH_WOULD_REMOVE;
	else if (resp.status == 200) {
		if ((rc = us3_call(w->u, "DELETE", name, &resp, &e)) < 0)
			goto out;
		if (resp.status >= 200 && resp.status < 300)
			st = UNPUBLISH_REMOVED;
		else
			rc = http_status_error(&resp, w->u->target, &e);
	} else if (resp.status != 404)
		rc = http_status_error(&resp, w->u->target, &e);
out:
	http_response_dispose(&resp);
	if (rc < 0)
		return unpublish_item_fail(w->out, w->u->target, name, rc, &e);
	unpublish_item_add(w->out, w->u->target, name, st, NULL);
	return 0;
}

int
unpublish_s3(struct unpublish_result *out, const struct publish_target *t,
    const struct publish_release *rel)
{
	struct http_response resp;
	struct error err;
	struct us3 u;
	int rc;

	error_clear(&err);
	http_response_init(&resp);
	if ((rc = us3_init(&u, t, rel, &err)) < 0 ||
	    (rc = us3_call(&u, "GET", "SHA256SUMS", &resp, &err)) < 0) {
		rc = unpublish_item_fail(out, t->name, "", rc, &err);
		goto out;
	}
	if (resp.status == 404) {
		unpublish_item_add(out, t->name, "SHA256SUMS", UNPUBLISH_ABSENT,
		    NULL);
		goto out;
	}
	if (resp.status != 200) {
		rc = http_status_error(&resp, t->name, &err);
		rc = unpublish_item_fail(out, t->name, "", rc, &err);
		goto out;
	}
	{
		struct us3_walk w = { out, &u, rel->dry_run };

		rc = unpublish_sums_each(resp.body.data ? resp.body.data : "",
		    resp.body.len, t->name, us3_remove, &w);
		if (rc == 0)
			rc = us3_remove(&w, "SHA256SUMS");
	}
out:
	http_response_dispose(&resp);
	us3_free(&u);
	return rc;
}
