/*
 * artifactory.c - deploy release files to JFrog Artifactory (or any
 * server taking a plain HTTP PUT, such as nginx with WebDAV).
 *
 * Artifactory mode (publishers.md 2): look the path up in the storage API
 * first - the same sha256 there is "already present", a different one is a
 * conflict (never an overwrite); then a checksum deploy (X-Checksum-Deploy:
 * true, no body) lets Artifactory copy content it already holds; only
 * when that answers 404 are the bytes sent, streamed, with
 * X-Checksum-Sha256/Sha1/Md5 so Artifactory verifies what it received.
 * Properties travel as matrix parameters (";key=value" after the path).
 *
 * Plain mode (`api: plain`): no storage API, no checksum deploy, no
 * matrix parameters; an existing file is fetched and hashed (streamed) to
 * tell "already present" from a conflict.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "publishers/digest.h"
#include "publishers/http.h"
#include "publishers/publisher.h"

struct art_state {
	char *base;       /* ".../artifactory", no trailing slash */
	char *repo;       /* repository key */
	char *path;       /* directory inside the repo, no slashes around */
	char *props;      /* ";k=v;k2=v2" or "" */
	char *auth;       /* "Authorization: ..." or NULL */
	bool plain;       /* a plain PUT server (WebDAV) */
	bool csum_deploy; /* try checksum deploy first */
	char *what;
};

static void
art_state_free(void *arg)
{
	struct art_state *s = arg;

	if (s == NULL)
		return;
	free(s->base);
	free(s->repo);
	free(s->path);
	free(s->props);
	secret_free(s->auth);
	free(s->what);
	free(s);
}

/* Replace {package}, {version} and {tag} in a path template. */
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

/* Strip slashes around s in place. */
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

/* "k=v,k2=v2" -> ";k=v;k2=v2", keys and values escaped like JFrog CLI. */
static char *
matrix_params(const char *spec)
{
	struct buf b;
	char *copy = xstrdup(spec), *tok, *save = NULL;

	buf_init(&b, 8192);
	for (tok = strtok_r(copy, ",;", &save); tok != NULL;
	     tok = strtok_r(NULL, ",;", &save)) {
		char *eq = strchr(tok, '='), *k, *v;

		if (eq == NULL)
			continue;
		*eq = '\0';
		k = http_escape(tok, false);
		v = http_escape(eq + 1, false);
		buf_printf(&b, ";%s=%s", k, v);
		free(k);
		free(v);
	}
	free(copy);
	return buf_detach(&b, NULL);
}

static int
art_begin(void **state, const struct publish_target *t,
    const struct publish_release *rel, struct error *err)
{
	struct art_state *s = xcalloc(1, sizeof(*s));
	char *api = NULL, *tmpl = NULL, *props = NULL, *cd = NULL;
	char *token = NULL, *user = NULL, *pass = NULL;
	int rc = ERR_FAIL;

	s->what = xstrdup(t->name);
	if ((s->base = publish_target_get(t, "url")) == NULL) {
		rc = error_set(err, ERR_FAIL, "CONFIG",
		    "target %s has no url (or ARTIFACTORY_URL)", t->name);
		goto out;
	}
	{
		size_t n = strlen(s->base);

		while (n > 0 && s->base[n - 1] == '/')
			s->base[--n] = '\0';
	}
	if ((s->repo = publish_target_get(t, "repository")) == NULL) {
		rc = error_set(err, ERR_FAIL, "CONFIG",
		    "target %s has no repository (the repository key)",
		    t->name);
		goto out;
	}
	trim_slashes(s->repo);
	tmpl = publish_target_get(t, "path");
	s->path = expand_path(tmpl ? tmpl : "{package}/{version}", rel);
	trim_slashes(s->path);
	api = publish_target_get(t, "api");
	s->plain = api != NULL && strcmp(api, "plain") == 0;
	s->csum_deploy = !s->plain;
	if ((cd = publish_target_get(t, "checksum_deploy")) != NULL)
		(void)util_parse_bool(&s->csum_deploy, cd);
	props = publish_target_get(t, "properties");
	s->props = (props && !s->plain) ? matrix_params(props) : xstrdup("");
	token = publish_target_get(t, "token");
	user = publish_target_get(t, "username");
	pass = publish_target_get(t, "password");
	if (token != NULL)
		s->auth = xasprintf("Authorization: Bearer %s", token);
	else if (user != NULL && pass != NULL)
		s->auth = http_basic_auth_header(user, pass);
	*state = s;
	s = NULL;
	rc = 0;
out:
	free(api);
	free(tmpl);
	free(props);
	free(cd);
	secret_free(token);
	free(user);
	secret_free(pass);
	art_state_free(s);
	return rc;
}

/* The file's URL inside the repository, escaped, without properties. */
static char *
file_url(const struct art_state *s, const char *filename)
{
	char *rp = http_escape(s->repo, true), *pp = http_escape(s->path, true);
	char *fp = http_escape(filename, false), *u;

	u = xasprintf("%s/%s/%s%s%s", s->base, rp, pp, pp[0] ? "/" : "", fp);
	free(rp);
	free(pp);
	free(fp);
	return u;
}

/* Streamed sha256 of a download (plain mode existence check). */
struct hash_sink {
	EVP_MD_CTX *ctx;
};

static int
hash_sink_write(void *arg, const void *p, size_t n)
{
	struct hash_sink *h = arg;

	return EVP_DigestUpdate(h->ctx, p, n) == 1 ? 0 : -1;
}

static void
hash_sink_reset(void *arg)
{
	struct hash_sink *h = arg;

	EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
}

/*
 * What is at the path now: ERR_NOTFOUND (nothing), 0 with sha_out set, or
 * an error.
 */
static int
existing_sha256(const struct art_state *s, const struct publish_file *f,
    char sha_out[65], struct error *err)
{
	struct http_response resp;
	struct http_request req = { 0 };
	const char *hdrs[2] = { s->auth, NULL };
	struct hash_sink hs = { EVP_MD_CTX_new() };
	char *url = NULL;
	int rc;

	http_response_init(&resp);
	if (s->plain) {
		url = file_url(s, f->filename);
		req.sink = hash_sink_write;
		req.sink_reset = hash_sink_reset;
		req.sink_arg = &hs;
	} else {
		char *rp = http_escape(s->repo, true);
		char *pp = http_escape(s->path, true);
		char *fp = http_escape(f->filename, false);

		url = xasprintf("%s/api/storage/%s/%s%s%s", s->base, rp, pp,
		    pp[0] ? "/" : "", fp);
		free(rp);
		free(pp);
		free(fp);
	}
	req.method = "GET";
	req.url = url;
	req.headers = hdrs;
	req.what = s->what;
	if ((rc = http_request(&resp, &req, err)) < 0)
		goto out;
	if (resp.status == 404) {
		rc = ERR_NOTFOUND;
		goto out;
	}
	if (resp.status != 200) {
		rc = http_status_error(&resp, s->what, err);
		goto out;
	}
	if (s->plain) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;

		EVP_DigestFinal_ex(hs.ctx, md, &mdlen);
		util_hex(sha_out, md, 32);
		rc = 0;
	} else {
		cJSON *root =
		    cJSON_ParseWithLength(resp.body.data ? resp.body.data : "",
		        resp.body.len);
		const cJSON *cs =
		    cJSON_GetObjectItemCaseSensitive(root, "checksums");
		const cJSON *sh =
		    cJSON_GetObjectItemCaseSensitive(cs, "sha256");

		if (cJSON_IsString(sh) && strlen(sh->valuestring) == 64) {
			size_t i;

			for (i = 0; i < 64; i++)
				sha_out[i] = (char)tolower(
				    (unsigned char)sh->valuestring[i]);
			sha_out[64] = '\0';
			rc = 0;
		} else {
			rc = error_set(err, ERR_FAIL, "HTTP",
			    "%s: storage info of %s has no sha256 checksum",
			    s->what, f->filename);
		}
		cJSON_Delete(root);
	}
out:
	EVP_MD_CTX_free(hs.ctx);
	http_response_dispose(&resp);
	free(url);
	return rc;
}

/* The sha256 of the bytes of a body as libcurl takes them (http.h's
 * tap): hash while sending, on a thread of its own (digest_pipe) so the
 * sending thread only copies. Invalid after a rewind to the middle. */
struct send_hash {
	struct digest_pipe *pipe;
	uint64_t bytes;
	bool valid;
};

static void
send_hash_tap(void *arg, const void *p, size_t n)
{
	struct send_hash *h = arg;

	if (h->valid)
		digest_pipe_feed(h->pipe, p, n);
	h->bytes += n;
}

static void
send_hash_reset(void *arg, bool whole)
{
	struct send_hash *h = arg;

	digest_pipe_reset(h->pipe);
	h->valid = whole;
	h->bytes = 0;
}

static int
art_put(const struct art_state *s, const struct publish_file *f,
    const char *url, bool checksum_only, struct send_hash *sh,
    struct http_response *resp, struct error *err)
{
	struct http_body body;
	struct http_request req = { 0 };
	char h1[96], h2[96], h3[96];
	const char *hdrs[8];
	size_t n = 0;
	int rc;

	http_body_init(&body);
	if (sh != NULL) {
		body.tap = send_hash_tap;
		body.tap_reset = send_hash_reset;
		body.tap_arg = sh;
	}
	snprintf(h1, sizeof(h1), "X-Checksum-Sha256: %s", f->sha256);
	snprintf(h2, sizeof(h2), "X-Checksum-Sha1: %s", f->sha1);
	snprintf(h3, sizeof(h3), "X-Checksum-Md5: %s", f->md5);
	hdrs[n++] = "Content-Type: application/octet-stream";
	if (!s->plain) {
		hdrs[n++] = h1;
		hdrs[n++] = h2;
		hdrs[n++] = h3;
	}
	if (checksum_only)
		hdrs[n++] = "X-Checksum-Deploy: true";
	if (s->auth != NULL)
		hdrs[n++] = s->auth;
	hdrs[n] = NULL;
	if (!checksum_only)
		http_body_add_file(&body, f->fd, 0, f->size);
	req.method = "PUT";
	req.url = url;
	req.headers = hdrs;
	req.body = &body;
	req.what = s->what;
	rc = http_request(resp, &req, err);
	http_body_dispose(&body);
	return rc;
}

/* Hand the sha256 of what was sent to the release (late digest); NULL
 * when libcurl rewound to the middle of the body and the hash could not
 * follow. */
static int
art_sent(const struct publish_file *f, struct send_hash *sh, struct error *err)
{
	char hex[65];

	if (sh->pipe == NULL || !sh->valid || sh->bytes != f->size)
		return f->sent(f->digest_arg, NULL, sh->bytes, err);
	digest_pipe_final(sh->pipe, hex);
	return f->sent(f->digest_arg, hex, sh->bytes, err);
}

/* Plain PUT servers get the digest after the body (.sha256 and
 * SHA256SUMS are files of their own); Artifactory's deploy headers carry
 * it up front. */
static bool
art_late_digest(void *state)
{
	const struct art_state *s = state;

	return s->plain;
}

static int
art_upload(void *state, const struct publish_target *t,
    const struct publish_release *rel, const struct publish_file *f,
    struct publish_outcome *out, struct error *err)
{
	struct art_state *s = state;
	struct http_response resp;
	struct send_hash sh = { f->sent ? digest_pipe_new() : NULL, 0, false };
	char there[65], ours[65], *url = file_url(s, f->filename);
	char *put_url = NULL;
	int rc;

	(void)t;
	snprintf(ours, sizeof(ours), "%s", f->sha256);
	http_response_init(&resp);
	if (!http_url_allowed(url)) {
		char *safe = util_redact_url(url);

		rc = error_set(err, ERR_INVALID, "INVALID_TARGET",
		    "%s: URL %s refused: https is required (plain http only "
		    "to loopback)",
		    s->what, safe);
		free(safe);
		goto out;
	}
	snprintf(out->url, sizeof(out->url), "%s", url);
	if (rel->dry_run) {
		out->status = PUBLISH_DRY_RUN;
		rc = 0;
		goto out;
	}
	rc = existing_sha256(s, f, there, err);
	if (rc == 0) {
		/* Late digest (plain mode): ours is wanted only now. */
		if (f->need != NULL &&
		    (rc = f->need(f->digest_arg, ours, err)) < 0)
			goto out;
		if (strcmp(there, ours) == 0) {
			out->status = PUBLISH_ALREADY_PRESENT;
		} else {
			rc = error_set(err, ERR_CONFLICT, "CONFLICT",
			    "%s: %s already exists with sha256 %.12s..., ours "
			    "is %.12s...; nothing was overwritten",
			    s->what, f->filename, there, ours);
		}
		goto out;
	}
	if (rc != ERR_NOTFOUND)
		goto out;
	put_url = xasprintf("%s%s", url, s->props);
	if (s->csum_deploy) {
		if ((rc = art_put(s, f, put_url, true, NULL, &resp, err)) < 0)
			goto out;
		if (resp.status == 200 || resp.status == 201) {
			log_info(
			    "artifactory_checksum_deploy target=%s file=%s",
			    s->what, f->filename);
			out->status = PUBLISH_UPLOADED;
			goto out;
		}
		if (resp.status != 404) {
			rc = http_status_error(&resp, s->what, err);
			goto out;
		}
	}
	if ((rc = art_put(s, f, put_url, false, sh.pipe ? &sh : NULL, &resp,
	         err)) < 0)
		goto out;
	if (resp.status == 200 || resp.status == 201 || resp.status == 204) {
		out->status = PUBLISH_UPLOADED;
		rc = 0;
		if (f->sent != NULL)
			rc = art_sent(f, &sh, err);
		goto out;
	}
	rc = http_status_error(&resp, s->what, err);
out:
	digest_pipe_free(sh.pipe);
	http_response_dispose(&resp);
	free(url);
	free(put_url);
	return rc;
}

/* Verification (verify.h): the storage API's sha256, or (api: plain) the
 * sha256 of a streamed download. */
static int
art_served(void *state, const struct publish_target *t,
    const struct publish_release *rel, const struct publish_file *f,
    char served[65], struct error *err)
{
	(void)t;
	(void)rel;
	return existing_sha256(state, f, served, err);
}

const struct publisher_ops artifactory_publisher = {
	.type = "artifactory",
	.begin = art_begin,
	.upload = art_upload,
	.finish = NULL,
	.state_free = art_state_free,
	.dists_only = false,
	.late_digest = art_late_digest,
	.served = art_served,
};
