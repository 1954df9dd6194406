/*
 * s3.c - the "s3" publisher: release files into an S3 bucket (seed 001's
 * S3_WHEELS_BUCKET, keys under "wheels/"), SigV4-signed, streamed from
 * disk.
 *
 * Each file is first looked up with HEAD: an object that carries our
 * x-amz-meta-sha256 (or, when another tool put it there, a single-part
 * ETag) equal to the file's digest is already present; any other object
 * under the name is a CONFLICT, never overwritten. Writes also carry
 * If-None-Match: * so that a racing writer, or a bucket where HEAD is
 * forbidden (the seed's IAM policy grants s3:PutObject only), cannot be
 * overwritten either. Files above the multipart threshold go up in parts
 * (CreateMultipartUpload, UploadPart per range, Complete), each part
 * read from disk by the http layer; a failure aborts the upload so no
 * parts linger. Payloads are signed (the file's SHA-256 is known; each
 * part is hashed from disk before it is sent), so S3 checks every byte.
 * Settings: bucket, prefix, region, endpoint, path_style,
 * multipart_threshold, part_size, unsigned_payload, storage_class and the
 * AWS credential keys of aws_creds.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "publishers/aws_creds.h"
#include "publishers/http.h"
#include "publishers/publisher.h"
#include "publishers/sigv4.h"
#include "publishers/verify.h"

/* S3's own limits: parts of 5 MiB to 5 GiB (the last may be smaller), at
 * most 10,000 of them, single PUTs up to 5 GiB, keys up to 1024 bytes. */
#define S3_MIN_PART (5ull * 1024 * 1024)
#define S3_MAX_PART (5ull * 1024 * 1024 * 1024)
#define S3_MAX_PARTS 10000
#define S3_MAX_KEY 1024
/* Defaults: one PUT up to 64 MiB keeps small releases to one request;
 * 16 MiB parts make a 1 GiB file 64 requests, each retried on its own. */
#define S3_DEFAULT_THRESHOLD (64ull * 1024 * 1024)
#define S3_DEFAULT_PART (16ull * 1024 * 1024)
/* Where files go inside the bucket; see s3_expand_prefix. */
#define S3_DEFAULT_PREFIX "wheels/{package}/{version}"
/* An ETag is a quoted MD5 hex, or "<hex>-<n>" for multipart. */
#define S3_ETAG_MAX 80

struct s3_state {
	struct aws_settings settings;
	struct aws_credentials creds;
	char *region;
	char *endpoint; /* where requests go: with the bucket as host for
	                   virtual-hosted style */
	char *bucket;
	char *prefix; /* "" or ends without '/' */
	bool path_style;
	bool custom; /* the endpoint was configured, not derived */
	bool unsigned_payload;
	char *storage_class;
	uint64_t threshold;
	uint64_t part_size;
};

/* One signed call. */
struct s3_call {
	const char *method;
	const char *key;
	const struct sigv4_param *params;
	size_t n_params;
	const struct sigv4_header *headers;
	size_t n_headers;
	const char *payload_hash;
	const struct http_body *body;
	const char *what;
	bool no_retry_status;
	/* A 2xx body to a sink (http.h), e.g. hashed by verification. */
	int (*sink)(void *arg, const void *p, size_t n);
	void (*sink_reset)(void *arg);
	void *sink_arg;
};

static void
s3_state_free(void *arg)
{
	struct s3_state *st = arg;

	if (st == NULL)
		return;
	aws_settings_dispose(&st->settings);
	aws_credentials_dispose(&st->creds);
	free(st->region);
	free(st->endpoint);
	free(st->bucket);
	free(st->prefix);
	free(st->storage_class);
	free(st);
}

static bool
s3_bucket_dns_ok(const char *b)
{
	size_t n = strlen(b), i;

	if (n < 3 || n > 63)
		return false;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)b[i]) ||
		        isdigit((unsigned char)b[i]) || b[i] == '-' ||
		        b[i] == '.'))
			return false;
	return b[0] != '-' && b[0] != '.' && b[n - 1] != '-' && b[n - 1] != '.';
}

static bool
s3_bucket_valid(const char *b)
{
	size_t n = strlen(b), i;

	if (n < 3 || n > 255)
		return false;
	for (i = 0; i < n; i++)
		if (!(isalnum((unsigned char)b[i]) || strchr("-._", b[i])))
			return false;
	return true;
}

/* A size setting: bytes, or with a K/M/G suffix (powers of 1024). */
static int
s3_parse_size(uint64_t *out, const char *s, const char *key, struct error *err)
{
	long long v;
	char num[32];
	size_t n = strlen(s);
	uint64_t mult = 1;

	if (n == 0 || n >= sizeof(num))
		goto bad;
	memcpy(num, s, n + 1);
	switch (toupper((unsigned char)num[n - 1])) {
	case 'K':
		mult = 1024;
		break;
	case 'M':
		mult = 1024 * 1024;
		break;
	case 'G':
		mult = 1024ull * 1024 * 1024;
		break;
	default:
		break;
	}
	if (mult != 1)
		num[n - 1] = '\0';
	if (util_parse_uint(&v, num, 1024LL * 1024 * 1024 * 1024) < 0)
		goto bad;
	*out = (uint64_t)v * mult;
	return 0;
bad:
	return error_set(err, ERR_INVALID, "CONFIG",
	    "s3 setting %s: \"%.40s\" is not a size like 64M", key, s);
}

/* The key prefix: {package}, {version} and {tag} replaced, then empty
 * segments (an unknown package) and outer slashes dropped. */
static char *
s3_expand_prefix(const char *tmpl, const struct publish_release *rel)
{
	static const char *const names[] = { "{package}", "{version}",
		"{tag}" };
	const char *vals[] = { rel->package, rel->version, rel->tag };
	struct buf b, out;
	const char *p;
	size_t i, len;
	char *expanded;

	buf_init(&b, S3_MAX_KEY * 2);
	buf_init(&out, S3_MAX_KEY * 2);
	for (p = tmpl; *p != '\0';) {
		for (i = 0; i < 3; i++)
			if (strncmp(p, names[i], strlen(names[i])) == 0)
				break;
		if (i < 3) {
			(void)buf_puts(&b, vals[i] != NULL ? vals[i] : "");
			p += strlen(names[i]);
		} else {
			(void)buf_append(&b, p++, 1);
		}
	}
	expanded = buf_detach(&b, NULL);
	for (p = expanded; *p != '\0'; p += len + (p[len] == '/')) {
		len = strcspn(p, "/");
		if (len > 0)
			(void)buf_printf(&out, "%s%.*s", out.len > 0 ? "/" : "",
			    (int)len, p);
	}
	free(expanded);
	return buf_detach(&out, NULL);
}

/* Where requests go: the service endpoint itself (path style) or with
 * the bucket as the first label of the host (virtual-hosted). */
static void
s3_set_endpoint(struct s3_state *st, const char *base)
{
	free(st->endpoint);
	if (st->path_style) {
		st->endpoint = xstrdup(base);
	} else {
		const char *host = strstr(base, "://") + 3;

		st->endpoint = xasprintf("%.*s%s.%s", (int)(host - base), base,
		    st->bucket, host);
	}
}

static int
s3_begin(void **state, const struct publish_target *t,
    const struct publish_release *rel, struct error *err)
{
	struct s3_state *st = xcalloc(1, sizeof(*st));
	char *v = NULL, *endpoint = NULL, *ep_setting = NULL;
	bool custom, flag;
	int rc;

	aws_settings_load(&st->settings, t);
	st->bucket = publish_target_get(t, "bucket");
	if (st->bucket == NULL || !s3_bucket_valid(st->bucket)) {
		rc = error_set(err, ERR_INVALID, "CONFIG", "s3 target %s: %s",
		    t->name,
		    st->bucket == NULL ? "no bucket (set bucket or "
		                         "S3_WHEELS_BUCKET)"
		                       : "bucket name is not valid");
		goto out;
	}
	/* Seed 001's IAM policy grants s3:PutObject on <bucket>/wheels/ and
	 * below; one folder per version keeps each release's SHA256SUMS
	 * apart (a flat folder would make the second release's SHA256SUMS
	 * a CONFLICT with the first's). */
	if ((v = publish_target_get(t, "prefix")) == NULL)
		v = xstrdup(S3_DEFAULT_PREFIX);
	st->prefix = s3_expand_prefix(v, rel);
	free(v);
	v = NULL;
	if (aws_region_resolve(&st->region, st->settings.region, t->env, NULL) <
	    0) {
		if (st->settings.region != NULL) {
			rc = aws_region_resolve(&st->region,
			    st->settings.region, t->env, err);
			goto out;
		}
		/* Most S3-compatible servers and S3's global endpoint sign
		 * as us-east-1. */
		st->region = xstrdup("us-east-1");
	}
	ep_setting = publish_target_get(t, "endpoint");
	custom = ep_setting != NULL || aws_env_endpoint(t->env, "S3") != NULL ||
	         (t->env != NULL && t->env->aws_endpoint_url != NULL);
	if ((rc = aws_endpoint_resolve(&endpoint, ep_setting, t->env, "S3",
	         "s3", st->region, err)) < 0)
		goto out;
	/* Path style by default for custom endpoints (MinIO, s3rver,
	 * GoReleaser does the same), and whenever the bucket cannot be a
	 * host name under TLS. */
	st->path_style = custom;
	if ((v = publish_target_get(t, "path_style")) != NULL) {
		if (util_parse_bool(&flag, v) < 0) {
			rc = error_set(err, ERR_INVALID, "CONFIG",
			    "s3 setting path_style must be true or false");
			goto out;
		}
		st->path_style = flag;
		free(v);
		v = NULL;
	}
	if (!s3_bucket_dns_ok(st->bucket) ||
	    (strchr(st->bucket, '.') != NULL &&
	        strncasecmp(endpoint, "https:", 6) == 0))
		st->path_style = true;
	st->custom = custom;
	s3_set_endpoint(st, endpoint);
	st->threshold = S3_DEFAULT_THRESHOLD;
	st->part_size = S3_DEFAULT_PART;
	if ((v = publish_target_get(t, "multipart_threshold")) != NULL) {
		if ((rc = s3_parse_size(&st->threshold, v,
		         "multipart_threshold", err)) < 0)
			goto out;
		free(v);
		v = NULL;
	}
	if ((v = publish_target_get(t, "part_size")) != NULL) {
		if ((rc = s3_parse_size(&st->part_size, v, "part_size", err)) <
		    0)
			goto out;
		free(v);
		v = NULL;
	}
	if (st->part_size < S3_MIN_PART || st->part_size > S3_MAX_PART) {
		rc = error_set(err, ERR_INVALID, "CONFIG",
		    "s3 part_size must be between 5M and 5G");
		goto out;
	}
	if (st->threshold > S3_MAX_PART)
		st->threshold = S3_MAX_PART;
	if ((v = publish_target_get(t, "unsigned_payload")) != NULL) {
		if (util_parse_bool(&st->unsigned_payload, v) < 0) {
			rc = error_set(err, ERR_INVALID, "CONFIG",
			    "s3 setting unsigned_payload must be true or "
			    "false");
			goto out;
		}
		free(v);
		v = NULL;
	}
	/* Without TLS nothing but the payload hash protects the bytes. */
	if (strncasecmp(st->endpoint, "http:", 5) == 0)
		st->unsigned_payload = false;
	st->storage_class = publish_target_get(t, "storage_class");
	if ((rc = aws_credentials_resolve(&st->creds, &st->settings, err)) < 0)
		goto out;
	log_info("s3_begin target=%s bucket=%s prefix=\"%s\" region=%s "
	         "path_style=%d credentials=%s",
	    t->name, st->bucket, st->prefix, st->region, st->path_style,
	    st->creds.source);
	*state = st;
	st = NULL;
	rc = 0;
out:
	free(v);
	free(endpoint);
	free(ep_setting);
	s3_state_free(st);
	return rc;
}

static char *
s3_key(const struct s3_state *st, const char *filename)
{
	if (st->prefix[0] == '\0')
		return xstrdup(filename);
	return xasprintf("%s/%s", st->prefix, filename);
}

/* The request path: "/<key>" virtual-hosted, "/<bucket>/<key>" path
 * style. */
static char *
s3_path(const struct s3_state *st, const char *key)
{
	if (st->path_style)
		return xasprintf("/%s/%s", st->bucket, key);
	return xasprintf("/%s", key);
}

/* Free header lines; the session token line is a credential. */
static void
s3_lines_free(char **lines, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		secret_wipe(lines[i], strlen(lines[i]));
		free(lines[i]);
	}
	free(lines);
}

/* Sign and send one request. dry: sign only and return the URL in
 * *url_out (which is only set then). */
static int
s3_send(struct s3_state *st, const struct s3_call *c,
    struct http_response *resp, char **url_out, bool dry, struct error *err)
{
	struct sigv4_credentials cred;
	struct sigv4_scope scope = { st->region, "s3", true, time(NULL) };
	struct sigv4_request sr = { 0 };
	struct sigv4_signed sig = { 0 };
	struct http_request hr = { 0 };
	char **lines = NULL;
	char *path = s3_path(st, c->key), *region = NULL;
	size_t i, n = 0;
	bool redirected;
	int rc;

	if (aws_credentials_stale(&st->creds, util_now_ms())) {
		struct aws_credentials fresh;

		if ((rc = aws_credentials_resolve(&fresh, &st->settings, err)) <
		    0)
			goto out;
		aws_credentials_dispose(&st->creds);
		st->creds = fresh;
	}
	aws_credentials_view(&cred, &st->creds);
	sr.method = c->method;
	sr.path = path;
	sr.params = c->params;
	sr.n_params = c->n_params;
	sr.headers = c->headers;
	sr.n_headers = c->n_headers;
	sr.payload_hash = c->payload_hash;
	for (redirected = false;; redirected = true) {
		char *hint;

		sr.endpoint = st->endpoint;
		scope.region = st->region;
		if ((rc = sigv4_sign(&sig, &cred, &scope, &sr, err)) < 0)
			goto out;
		if (dry) {
			if (url_out != NULL)
				*url_out = xstrdup(sig.url);
			rc = 0;
			goto out;
		}
		lines =
		    xcalloc(c->n_headers + sig.n_headers + 1, sizeof(*lines));
		for (i = 0; i < c->n_headers; i++)
			lines[n++] = xasprintf("%s: %s", c->headers[i].name,
			    c->headers[i].value);
		for (i = 0; i < sig.n_headers; i++)
			lines[n++] = xstrdup(sig.headers[i]);
		hr.method = c->method;
		hr.url = sig.url;
		hr.headers = (const char *const *)lines;
		hr.body = c->body;
		hr.what = c->what;
		hr.no_retry_status = c->no_retry_status;
		hr.sink = c->sink;
		hr.sink_reset = c->sink_reset;
		hr.sink_arg = c->sink_arg;
		if ((rc = http_request(resp, &hr, err)) < 0)
			goto out;
		/* Signed for the wrong region (S3 answers 301, or 400
		 * AuthorizationHeaderMalformed, naming the bucket's region):
		 * sign again for that region, once, as botocore does. */
		hint = NULL;
		if (!redirected &&
		    (resp->status == 301 || resp->status == 400 ||
		        resp->status == 403) &&
		    (hint = http_response_header(resp,
		         "x-amz-bucket-region")) != NULL &&
		    strcmp(hint, st->region) != 0 &&
		    aws_region_resolve(&region, hint, NULL, NULL) == 0) {
			log_info("s3_region_redirect bucket=%s from=%s to=%s",
			    st->bucket, st->region, region);
			free(st->region);
			st->region = region;
			region = NULL;
			if (!st->custom) {
				char *base =
				    xasprintf("https://s3.%s.amazonaws.com",
				        st->region);

				s3_set_endpoint(st, base);
				free(base);
			}
			free(hint);
			s3_lines_free(lines, n);
			lines = NULL;
			n = 0;
			sigv4_signed_dispose(&sig);
			continue;
		}
		free(hint);
		break;
	}
out:
	s3_lines_free(lines, n);
	sigv4_signed_dispose(&sig);
	free(path);
	free(region);
	return rc;
}

/* The S3 error code of an XML error body ("NoSuchUpload"), or "". */
static void
s3_error_code(char *out, size_t n, const struct http_response *r)
{
	char *code = r->body.data ? aws_xml_text(r->body.data, "Code") : NULL;

	snprintf(out, n, "%s", code ? code : "");
	free(code);
}

/* Compare an object found under the key with the file. Returns 0 and sets
 * *same, ERR_NOTFOUND (no object), or the error of the HEAD. *unknown is
 * set when HEAD was forbidden (403), so nothing can be compared. */
static int
s3_head(struct s3_state *st, const char *key, const struct publish_file *f,
    bool *same, bool *unknown, struct error *err)
{
	struct s3_call c = { .method = "HEAD", .key = key, .what = "s3_head" };
	struct http_response resp;
	char *meta = NULL, *etag = NULL;
	int rc;

	*unknown = false;
	http_response_init(&resp);
	if ((rc = s3_send(st, &c, &resp, NULL, false, err)) < 0)
		goto out;
	if (resp.status == 404) {
		rc = ERR_NOTFOUND;
		goto out;
	}
	if (resp.status == 403) {
		*unknown = true;
		rc = ERR_NOTFOUND;
		goto out;
	}
	if (resp.status != 200) {
		rc = http_status_error(&resp, "s3 HEAD", err);
		goto out;
	}
	meta = http_response_header(&resp, "x-amz-meta-sha256");
	etag = http_response_header(&resp, "ETag");
	if (meta != NULL) {
		*same = strcasecmp(meta, f->sha256) == 0;
	} else if (etag != NULL && strchr(etag, '-') == NULL &&
	           f->md5[0] != '\0') {
		/* Put by another tool in one part: the ETag is the MD5. */
		const char *e = etag[0] == '"' ? etag + 1 : etag;

		*same = strncasecmp(e, f->md5, 32) == 0;
	} else {
		*same = false;
	}
	rc = 0;
out:
	free(meta);
	free(etag);
	http_response_dispose(&resp);
	return rc;
}

/* Outcome for an existing object. */
static int
s3_existing(bool same, const char *key, const char *url,
    struct publish_outcome *out, struct error *err)
{
	if (!same)
		return error_set(err, ERR_CONFLICT, "CONFLICT",
		    "s3 object %s already exists with different content", key);
	out->status = PUBLISH_ALREADY_PRESENT;
	snprintf(out->url, sizeof(out->url), "%s", url);
	return 0;
}

/* The signed headers every write carries. */
static size_t
s3_write_headers(const struct s3_state *st, struct sigv4_header *h,
    const struct publish_file *f, bool conditional)
{
	size_t n = 0;

	h[n++] =
	    (struct sigv4_header){ "Content-Type", "application/octet-stream" };
	h[n++] = (struct sigv4_header){ "x-amz-meta-sha256", f->sha256 };
	if (conditional)
		h[n++] = (struct sigv4_header){ "If-None-Match", "*" };
	if (st->storage_class != NULL)
		h[n++] = (struct sigv4_header){ "x-amz-storage-class",
			st->storage_class };
	return n;
}

static int
s3_sha256_range(char out[UTIL_SHA256_HEX], const struct publish_file *f,
    uint64_t off, uint64_t len, struct error *err)
{
	unsigned char md[32], chunk[65536];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = NULL;
	int rc = ERR_FAIL;
	ssize_t n;

	/* The part is hashed through the descriptor the release opened
	 * (and will upload from), never by reopening the file. */
	ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while (len > 0) {
		size_t want = len < sizeof(chunk) ? (size_t)len : sizeof(chunk);

		n = pread(f->fd, chunk, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			error_set(err, ERR_FAIL, "IO", "cannot read %s: %s",
			    f->filename,
			    n == 0 ? "file shrank" : strerror(errno));
			goto out;
		}
		EVP_DigestUpdate(ctx, chunk, (size_t)n);
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	util_hex(out, md, 32);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* The base64 of the raw sha256 (x-amz-checksum-sha256), or NULL. */
static char *
s3_checksum_b64(const char *hex)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char raw[32];
	size_t i;

	if (strlen(hex) != 64)
		return NULL;
	for (i = 0; i < 64; i++) {
		const char *x = strchr(digits, hex[i]);

		if (x == NULL || hex[i] == '\0')
			return NULL;
		if (i % 2 == 0)
			raw[i / 2] = (unsigned char)((x - digits) << 4);
		else
			raw[i / 2] |= (unsigned char)(x - digits);
	}
	return util_base64_encode(raw, sizeof(raw));
}

static int
s3_put_single(struct s3_state *st, const char *key,
    const struct publish_file *f, bool conditional, struct error *err)
{
	struct sigv4_header h[5];
	struct http_body body;
	struct http_response resp;
	struct s3_call c = { .method = "PUT", .key = key, .what = "s3_put" };
	char code[64], *b64 = s3_checksum_b64(f->sha256);
	int rc;

	http_body_init(&body);
	http_response_init(&resp);
	http_body_add_file(&body, f->fd, 0, f->size);
	c.headers = h;
	c.n_headers = s3_write_headers(st, h, f, conditional);
	/* S3 checks the bytes against it, and gives it back on a HEAD in
	 * checksum mode (verification, s3_served). */
	if (b64 != NULL)
		h[c.n_headers++] =
		    (struct sigv4_header){ "x-amz-checksum-sha256", b64 };
	c.payload_hash =
	    st->unsigned_payload ? SIGV4_UNSIGNED_PAYLOAD : f->sha256;
	c.body = &body;
	if ((rc = s3_send(st, &c, &resp, NULL, false, err)) < 0)
		goto out;
	if (resp.status == 412) {
		rc = ERR_CONFLICT; /* caller compares */
		goto out;
	}
	if (resp.status != 200) {
		s3_error_code(code, sizeof(code), &resp);
		rc = http_status_error(&resp, "s3 PUT", err);
		/* A concurrent conditional write: S3 asks for a retry. */
		if (strcmp(code, "ConditionalRequestConflict") == 0)
			rc = error_set(err, ERR_TRANSIENT, "HTTP",
			    "s3 PUT %s: a concurrent write to the key, retry",
			    key);
		if (strcmp(code, "XAmzContentSHA256Mismatch") == 0 ||
		    strcmp(code, "BadDigest") == 0)
			rc = error_set(err, ERR_TRANSIENT, "HTTP",
			    "s3 PUT %s: the bytes S3 received do not match "
			    "the file's digest (%s)",
			    key, code);
		goto out;
	}
	rc = 0;
out:
	http_response_dispose(&resp);
	http_body_dispose(&body);
	free(b64);
	return rc;
}

static void
s3_abort(struct s3_state *st, const char *key, const char *upload_id)
{
	struct sigv4_param p[] = { { "uploadId", upload_id } };
	struct s3_call c = { .method = "DELETE",
		.key = key,
		.params = p,
		.n_params = 1,
		.what = "s3_abort_multipart" };
	struct http_response resp;
	struct error err;

	error_clear(&err);
	http_response_init(&resp);
	if (s3_send(st, &c, &resp, NULL, false, &err) < 0 ||
	    (resp.status != 204 && resp.status != 200 && resp.status != 404))
		log_warnx("s3_abort_failed key=\"%s\" status=%ld "
		          "msg=\"%s\" hint=\"a lifecycle rule removes "
		          "incomplete uploads\"",
		    key, resp.status, err.msg);
	else
		log_info("s3_multipart_aborted key=\"%s\"", key);
	http_response_dispose(&resp);
}

/*
 * UploadPart: bytes [off, off + len) of f as part number n of upload_id;
 * its ETag into etag (checked: fits, no XML metacharacters, since it goes
 * back into the Complete body as received).
 */
static int
s3_upload_part(struct s3_state *st, const char *key,
    const struct publish_file *f, const char *upload_id, uint64_t n,
    uint64_t off, uint64_t len, char etag_out[S3_ETAG_MAX], struct error *err)
{
	struct sigv4_param pp[2];
	struct s3_call c = { 0 };
	struct http_response resp;
	struct http_body body;
	char hash[UTIL_SHA256_HEX], num[24], *etag = NULL;
	int rc;

	snprintf(num, sizeof(num), "%llu", (unsigned long long)n);
	pp[0] = (struct sigv4_param){ "partNumber", num };
	pp[1] = (struct sigv4_param){ "uploadId", upload_id };
	if (st->unsigned_payload)
		snprintf(hash, sizeof(hash), "%s", SIGV4_UNSIGNED_PAYLOAD);
	else if ((rc = s3_sha256_range(hash, f, off, len, err)) < 0)
		return rc;
	http_response_init(&resp);
	http_body_init(&body);
	http_body_add_file(&body, f->fd, off, len);
	c.method = "PUT";
	c.key = key;
	c.params = pp;
	c.n_params = 2;
	c.payload_hash = hash;
	c.body = &body;
	c.what = "s3_upload_part";
	rc = s3_send(st, &c, &resp, NULL, false, err);
	http_body_dispose(&body);
	if (rc < 0)
		goto out;
	if (resp.status != 200) {
		rc = http_status_error(&resp, "s3 UploadPart", err);
		goto out;
	}
	etag = http_response_header(&resp, "ETag");
	if (etag == NULL || strlen(etag) >= S3_ETAG_MAX ||
	    strpbrk(etag, "<>&") != NULL) {
		rc = error_set(err, ERR_FAIL, "HTTP",
		    "s3 UploadPart %llu answered without a usable ETag",
		    (unsigned long long)n);
		goto out;
	}
	snprintf(etag_out, S3_ETAG_MAX, "%s", etag);
	rc = 0;
out:
	free(etag);
	http_response_dispose(&resp);
	return rc;
}

/*
 * CompleteMultipartUpload: the parts in ascending order, ETags as
 * received; If-None-Match: * when conditional (412 is ERR_CONFLICT).
 * Complete may answer 200 with an <Error> body: that, and
 * ConditionalRequestConflict, are ERR_TRANSIENT.
 */
static int
s3_complete_multipart(struct s3_state *st, const char *key,
    const char *upload_id, char (*etags)[S3_ETAG_MAX], uint64_t nparts,
    bool conditional, struct error *err)
{
	struct sigv4_param pp[1];
	struct sigv4_header ch[2];
	struct s3_call c = { 0 };
	struct http_response resp;
	struct http_body body;
	struct buf xml;
	char hash[UTIL_SHA256_HEX], code[64];
	size_t nch = 0;
	uint64_t i;
	int rc;

	http_response_init(&resp);
	buf_init(&xml, (size_t)S3_MAX_PARTS * (S3_ETAG_MAX + 64) + 256);
	buf_puts(&xml, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws"
	               ".com/doc/2006-03-01/\">");
	for (i = 0; i < nparts; i++)
		buf_printf(&xml,
		    "<Part><ETag>%s</ETag><PartNumber>%llu</PartNumber></Part>",
		    etags[i], (unsigned long long)i + 1);
	if (buf_puts(&xml, "</CompleteMultipartUpload>") < 0) {
		rc = error_set(err, ERR_FAIL, "HTTP",
		    "s3 CompleteMultipartUpload body is too large");
		goto out;
	}
	util_sha256_hex(hash, xml.data, xml.len);
	ch[nch++] = (struct sigv4_header){ "Content-Type", "application/xml" };
	if (conditional)
		ch[nch++] = (struct sigv4_header){ "If-None-Match", "*" };
	pp[0] = (struct sigv4_param){ "uploadId", upload_id };
	http_body_init(&body);
	http_body_add_mem(&body, xml.data, xml.len);
	c.method = "POST";
	c.key = key;
	c.params = pp;
	c.n_params = 1;
	c.headers = ch;
	c.n_headers = nch;
	c.payload_hash = hash;
	c.body = &body;
	c.what = "s3_complete_multipart";
	rc = s3_send(st, &c, &resp, NULL, false, err);
	http_body_dispose(&body);
	if (rc < 0)
		goto out;
	if (resp.status == 412) {
		rc = ERR_CONFLICT;
		goto out;
	}
	s3_error_code(code, sizeof(code), &resp);
	if (resp.status != 200 || code[0] != '\0') {
		if (resp.status == 200 ||
		    strcmp(code, "ConditionalRequestConflict") == 0)
			rc = error_set(err, ERR_TRANSIENT, "HTTP",
			    "s3 CompleteMultipartUpload failed: %s", code);
		else
			rc = http_status_error(&resp,
			    "s3 CompleteMultipartUpload", err);
		goto out;
	}
	rc = 0;
out:
	buf_dispose(&xml);
	http_response_dispose(&resp);
	return rc;
}

static int
s3_put_multipart(struct s3_state *st, const char *key,
    const struct publish_file *f, bool conditional, struct error *err)
{
	struct sigv4_header h[4];
	struct sigv4_param up[] = { { "uploads", NULL } };
	struct s3_call c = { 0 };
	struct http_response resp;
	char *upload_id = NULL, (*etags)[S3_ETAG_MAX] = NULL;
	uint64_t part = st->part_size, nparts, i, off;
	int rc;

	http_response_init(&resp);
	/* Grow the parts when the file would need more than S3 allows. */
	while ((f->size + part - 1) / part > S3_MAX_PARTS)
		part *= 2;
	if (part > S3_MAX_PART) {
		rc = error_set(err, ERR_INVALID, "INVALID_FILE",
		    "%s is too large for S3 (%llu bytes)", f->filename,
		    (unsigned long long)f->size);
		goto out;
	}
	nparts = (f->size + part - 1) / part;
	if (nparts == 0)
		nparts = 1;

	c.method = "POST";
	c.key = key;
	c.params = up;
	c.n_params = 1;
	c.headers = h;
	c.n_headers = s3_write_headers(st, h, f, false);
	c.what = "s3_create_multipart";
	if ((rc = s3_send(st, &c, &resp, NULL, false, err)) < 0)
		goto out;
	if (resp.status != 200) {
		rc = http_status_error(&resp, "s3 CreateMultipartUpload", err);
		goto out;
	}
	upload_id =
	    aws_xml_text(resp.body.data ? resp.body.data : "", "UploadId");
	if (upload_id == NULL || *upload_id == '\0') {
		rc = error_set(err, ERR_FAIL, "HTTP",
		    "s3 CreateMultipartUpload answered without an UploadId");
		goto out;
	}
	log_info("s3_multipart_started key=\"%s\" parts=%llu part_size=%llu",
	    key, (unsigned long long)nparts, (unsigned long long)part);

	etags = xcalloc(nparts, sizeof(*etags));
	for (i = 0, off = 0; i < nparts; i++, off += part) {
		uint64_t len = f->size - off < part ? f->size - off : part;

		if ((rc = s3_upload_part(st, key, f, upload_id, i + 1, off, len,
		         etags[i], err)) < 0)
			goto abort;
	}
	if ((rc = s3_complete_multipart(st, key, upload_id, etags, nparts,
	         conditional, err)) < 0)
		goto abort;
	log_info("s3_multipart_completed key=\"%s\" parts=%llu", key,
	    (unsigned long long)nparts);
	rc = 0;
	goto out;
abort:
	s3_abort(st, key, upload_id);
out:
	free(etags);
	free(upload_id);
	http_response_dispose(&resp);
	return rc;
}

/* The object's URL (no query, no signature), for answers and logs. */
static char *
s3_object_url(const struct s3_state *st, const char *key)
{
	char *path = s3_path(st, key), *enc = sigv4_uri_encode(path, true);
	char *url = xasprintf("%s%s", st->endpoint, enc);

	free(path);
	free(enc);
	return url;
}

static int
s3_upload(void *state, const struct publish_target *t,
    const struct publish_release *rel, const struct publish_file *f,
    struct publish_outcome *out, struct error *err)
{
	struct s3_state *st = state;
	struct http_response dummy;
	char *key = s3_key(st, f->filename), *url = NULL;
	bool same = false, unknown = false;
	int rc;

	http_response_init(&dummy);
	if (strlen(key) > S3_MAX_KEY) {
		rc = error_set(err, ERR_INVALID, "INVALID_FILE",
		    "s3 key for %s is longer than %d bytes", f->filename,
		    S3_MAX_KEY);
		goto out;
	}
	url = s3_object_url(st, key);
	if (rel->dry_run) {
		/* Build and sign the real request without sending it. */
		struct sigv4_header h[4];
		struct s3_call put = { .method = "PUT", .key = key };

		put.headers = h;
		put.n_headers = s3_write_headers(st, h, f, true);
		put.payload_hash = f->sha256;
		if ((rc = s3_send(st, &put, &dummy, NULL, true, err)) < 0)
			goto out;
		out->status = PUBLISH_DRY_RUN;
		snprintf(out->url, sizeof(out->url), "%s", url);
		log_info("s3_dry_run target=%s key=\"%s\" size=%llu "
		         "multipart=%d",
		    t->name, key, (unsigned long long)f->size,
		    f->size > st->threshold);
		rc = 0;
		goto out;
	}
	rc = s3_head(st, key, f, &same, &unknown, err);
	/* The region may have been corrected on the way. */
	free(url);
	url = s3_object_url(st, key);
	if (rc == 0) {
		rc = s3_existing(same, key, url, out, err);
		if (rc == 0)
			log_info("s3_already_present target=%s key=\"%s\"",
			    t->name, key);
		goto out;
	}
	if (rc != ERR_NOTFOUND)
		goto out;
	if (f->size > st->threshold)
		rc = s3_put_multipart(st, key, f, true, err);
	else
		rc = s3_put_single(st, key, f, true, err);
	if (rc == ERR_CONFLICT) {
		/* If-None-Match: * refused: someone wrote the key meanwhile,
		 * or HEAD was forbidden. Compare when we can. */
		if (!unknown && s3_head(st, key, f, &same, &unknown, err) == 0)
			rc = s3_existing(same, key, url, out, err);
		else
			rc = error_set(err, ERR_CONFLICT, "CONFLICT",
			    "s3 object %s already exists (the conditional "
			    "write was refused) and its digest cannot be read",
			    key);
		goto out;
	}
	if (rc < 0)
		goto out;
	free(url);
	url = s3_object_url(st, key);
	out->status = PUBLISH_UPLOADED;
	snprintf(out->url, sizeof(out->url), "%s", url);
	log_info("s3_uploaded target=%s key=\"%s\" size=%llu", t->name, key,
	    (unsigned long long)f->size);
	rc = 0;
out:
	http_response_dispose(&dummy);
	free(key);
	free(url);
	return rc;
}

/*
 * Verification (verify.h): HEAD in checksum mode gives the sha256 S3
 * computed of a single-part object (base64); a multipart object's is a
 * checksum of checksums, and servers without checksums (s3rver, older
 * MinIO) give none: then the object is downloaded and hashed.
 */
static int
s3_served(void *state, const struct publish_target *t,
    const struct publish_release *rel, const struct publish_file *f,
    char served[65], struct error *err)
{
	struct s3_state *st = state;
	struct sigv4_header mode[] = { { "x-amz-checksum-mode", "ENABLED" } };
	struct s3_call c = { .method = "HEAD",
		.headers = mode,
		.n_headers = 1,
		.what = "s3_verify_head" };
	struct http_response resp;
	struct verify_hash *h = NULL;
	char *key = s3_key(st, f->filename), *sum = NULL, *raw = NULL;
	size_t rawlen = 0;
	int rc;

	(void)t;
	(void)rel;
	http_response_init(&resp);
	c.key = key;
	if ((rc = s3_send(st, &c, &resp, NULL, false, err)) < 0)
		goto out;
	if (resp.status == 404) {
		rc = ERR_NOTFOUND;
		goto out;
	}
	if (resp.status != 200) {
		rc = http_status_error(&resp, "s3 HEAD", err);
		goto out;
	}
	sum = http_response_header(&resp, "x-amz-checksum-sha256");
	if (sum != NULL && strchr(sum, '-') == NULL &&
	    util_base64_decode(&raw, &rawlen, sum, strlen(sum)) == 0 &&
	    rawlen == 32) {
		util_hex(served, (const unsigned char *)raw, 32);
		rc = 0;
		goto out;
	}
	h = verify_hash_new();
	c = (struct s3_call){ .method = "GET",
		.key = key,
		.what = "s3_verify_get",
		.sink = verify_hash_write,
		.sink_reset = verify_hash_reset,
		.sink_arg = h };
	http_response_dispose(&resp);
	http_response_init(&resp);
	if ((rc = s3_send(st, &c, &resp, NULL, false, err)) < 0)
		goto out;
	if (resp.status == 404) {
		rc = ERR_NOTFOUND;
		goto out;
	}
	if (resp.status != 200) {
		rc = http_status_error(&resp, "s3 GET", err);
		goto out;
	}
	verify_hash_done(h, served);
	h = NULL;
	rc = 0;
out:
	verify_hash_done(h, NULL);
	http_response_dispose(&resp);
	free(key);
	free(sum);
	free(raw);
	return rc;
}

const struct publisher_ops s3_publisher = {
	.type = "s3",
	.begin = s3_begin,
	.upload = s3_upload,
	.finish = NULL,
	.state_free = s3_state_free,
	.credential = aws_credentials_source,
	.served = s3_served,
};
