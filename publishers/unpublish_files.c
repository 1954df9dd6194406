/*
 * unpublish_files.c - roll a release back on a file server: Artifactory,
 * or a plain WebDAV server (`api: plain`, nginx's dav module). The files
 * of the release are those its SHA256SUMS lists under the release's path
 * (the same url, repository and path template as artifactory.c): each
 * file, its .sha256, then SHA256SUMS itself last, so that a rollback
 * interrupted half way is resumed by the next one from what is left.
 * The names SHA256SUMS lists are checked by unpublish_sums_each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/xalloc.h"
#include "publishers/http.h"
#include "publishers/unpublish_int.h"

struct uf {
	const char *target;
	char *base; /* url/repository/path/, escaped, ends in '/' */
	char *auth;
	const char *hdrs[2];
};

static void
trim_slashes(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
	while (s[i] == '/')
		i++;
	memmove(s, s + i, n - i + 1);
}

/* Replace {package}, {version} and {tag} (artifactory.c's template). */
static char *
expand_path(const char *tmpl, const struct publish_release *rel)
{
	struct buf b;
	const char *p;

	buf_init(&b, 4096);
	for (p = tmpl; *p != '\0'; p++) {
		if (strncmp(p, "{package}", 9) == 0) {
			buf_puts(&b, rel->package ? rel->package : "");
			p += 8;
		} else if (strncmp(p, "{version}", 9) == 0) {
			buf_puts(&b, rel->version ? rel->version : "");
			p += 8;
		} else if (strncmp(p, "{tag}", 5) == 0) {
			buf_puts(&b, rel->tag ? rel->tag : "");
			p += 4;
		} else {
			buf_append(&b, p, 1);
		}
	}
	return buf_detach(&b, NULL);
}

static int
uf_init(struct uf *u, const struct publish_target *t,
    const struct publish_release *rel, struct error *err)
{
	char *url, *repo = NULL, *tmpl = NULL, *path = NULL, *rp, *pp;
	char *token, *user, *pass;
	size_t n;
	int rc = 0;

	memset(u, 0, sizeof(*u));
	u->target = t->name;
	if ((url = publish_target_get(t, "url")) == NULL)
		return error_set(err, ERR_FAIL, "CONFIG",
		    "target %s has no url (or ARTIFACTORY_URL)", t->name);
	n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		url[--n] = '\0';
	if ((repo = publish_target_get(t, "repository")) == NULL) {
		rc = error_set(err, ERR_FAIL, "CONFIG",
		    "target %s has no repository (the repository key)",
		    t->name);
		goto out;
	}
	trim_slashes(repo);
	tmpl = publish_target_get(t, "path");
	if (strstr(tmpl ? tmpl : "{package}", "{package}") != NULL &&
	    (rel->package == NULL || rel->package[0] == '\0')) {
		rc = error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "target %s: the path names {package}, and the tag names "
		    "no package: pass the package",
		    t->name);
		goto out;
	}
	path = expand_path(tmpl ? tmpl : "{package}/{version}", rel);
	trim_slashes(path);
	rp = http_escape(repo, true);
	pp = http_escape(path, true);
	u->base = xasprintf("%s/%s/%s%s", url, rp, pp, pp[0] ? "/" : "");
	free(rp);
	free(pp);
	token = publish_target_get(t, "token");
	user = publish_target_get(t, "username");
	pass = publish_target_get(t, "password");
	if (token != NULL)
		u->auth = xasprintf("Authorization: Bearer %s", token);
	else if (user != NULL && pass != NULL)
		u->auth = http_basic_auth_header(user, pass);
	secret_free(token);
	free(user);
	secret_free(pass);
	u->hdrs[0] = u->auth;
	u->hdrs[1] = NULL;
out:
	free(url);
	free(repo);
	free(tmpl);
	free(path);
	return rc;
}

static void
uf_free(struct uf *u)
{
	free(u->base);
	secret_free(u->auth);
}

/* GET SHA256SUMS into resp. 0 (resp->status 200 or 404), or an error. */
static int
uf_sums(struct http_response *resp, const struct uf *u, struct error *err)
{
	struct http_request req = { 0 };
	char *url = xasprintf("%sSHA256SUMS", u->base);
	int rc;

	req.method = "GET";
	req.url = url;
	req.headers = u->hdrs;
	req.what = u->target;
	rc = http_request(resp, &req, err);
	if (rc == 0 && resp->status != 200 && resp->status != 404 &&
	    resp->status != 410)
		rc = http_status_error(resp, u->target, err);
	free(url);
	return rc;
}

/* Remove one name (or, dry run, say it would be). */
static int
uf_remove(struct unpublish_result *out, const struct uf *u, const char *name,
    bool dry)
{
	char *esc = http_escape(name, false);
	char *url = xasprintf("%s%s", u->base, esc);
	enum unpublish_status st = UNPUBLISH_WOULD_REMOVE;
	struct error e;
	int rc = 0;

	error_clear(&e);
	if (!dry)
		rc = unpublish_http_delete(&st, url, u->hdrs, u->target, &e);
	if (rc < 0)
		rc = unpublish_item_fail(out, u->target, name, rc, &e);
	else
		unpublish_item_add(out, u->target, name, st, url);
	free(esc);
	free(url);
	return rc;
}

struct uf_walk {
	struct unpublish_result *out;
	const struct uf *u;
	bool dry;
};

static int
uf_each(void *arg, const char *name)
{
	struct uf_walk *w = arg;

	return uf_remove(w->out, w->u, name, w->dry);
}

int
unpublish_files(struct unpublish_result *out, const struct publish_target *t,
    const struct publish_release *rel)
{
	struct http_response resp;
	struct error err;
	struct uf u;
	int rc;

	error_clear(&err);
	http_response_init(&resp);
	memset(&u, 0, sizeof(u));
	if ((rc = uf_init(&u, t, rel, &err)) < 0 ||
	    (rc = uf_sums(&resp, &u, &err)) < 0) {
		rc = unpublish_item_fail(out, t->name, "", rc, &err);
		goto out;
	}
	if (resp.status != 200) {
		/* No SHA256SUMS: nothing of the release is left (it goes
		 * last), or it was never published here. */
		unpublish_item_add(out, t->name, "SHA256SUMS", UNPUBLISH_ABSENT,
		    NULL);
		goto out;
	}
	{
		struct uf_walk w = { out, &u, rel->dry_run };

		rc = unpublish_sums_each(resp.body.data ? resp.body.data : "",
		    resp.body.len, t->name, uf_each, &w);
	}
	/* SHA256SUMS last, and only when everything it lists is gone. */
	if (rc == 0)
		rc = uf_remove(out, &u, "SHA256SUMS", rel->dry_run);
out:
	http_response_dispose(&resp);
	uf_free(&u);
	return rc;
}
