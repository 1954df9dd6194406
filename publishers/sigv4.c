/*
 * sigv4.c - AWS Signature Version 4: canonical request, string to sign,
 * signing key and Authorization header, with the URL built from the same
 * input so that what is signed is what is sent.
 *
 * The rules follow botocore (auth.py SigV4Auth / S3SigV4Auth, utils.py
 * normalize_url_path), because botocore is what the services are tested
 * against and what our test compares with. The two places where services
 * differ: S3 signs the path exactly as sent, encoded once; every other
 * service removes dot segments and empty segments and encodes the already
 * encoded path again ("a b" is sent as a%20b and signed as a%2520b).
 */
#include "publishers/sigv4.h"

#include <assert.h>
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/secret.h"
#include "common/util.h"
#include "common/xalloc.h"

/* The canonical request holds the path (at most SIGV4_MAX_PATH bytes,
 * growing to 9x when encoded twice), the query and the headers; 1 MiB is
 * far above any of our requests and still a bound. */
#define SIGV4_MAX_TEXT (1024 * 1024)

/* One signed header after canonicalization. */
struct sigv4_hdr {
	char *name;  /* lower case */
	char *value; /* trimmed, inner whitespace runs collapsed */
	size_t order;
};

/* One query pair, encoded. */
struct sigv4_pair {
	char *key;
	char *value;
};

static bool
sigv4_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == '~';
}

char *
sigv4_uri_encode(const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s), i, j = 0;
	char *out = xmalloc(3 * n + 1);

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (sigv4_unreserved(c) || (keep_slash && c == '/')) {
			out[j++] = (char)c;
		} else {
			out[j++] = '%';
			out[j++] = hex[c >> 4];
			out[j++] = hex[c & 15];
		}
	}
	out[j] = '\0';
	return out;
}

void
sigv4_amz_date(char *out, size_t n, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%Y%m%dT%H%M%SZ", &tm);
}

int
sigv4_endpoint_host(char **out, const char *endpoint, struct error *err)
{
	const char *p, *auth, *end, *colon;
	bool https;
	char *host = NULL;
	size_t i, hostlen;
	long long port = -1;

	if (strncasecmp(endpoint, "https://", 8) == 0) {
		https = true;
		auth = endpoint + 8;
	} else if (strncasecmp(endpoint, "http://", 7) == 0) {
		https = false;
		auth = endpoint + 7;
	} else {
		return error_set(err, ERR_INVALID, "CONFIG",
		    "endpoint must start with http:// or https://");
	}
	end = auth + strcspn(auth, "/?#");
	if (*end == '?' || *end == '#' || (*end == '/' && end[1] != '\0'))
		return error_set(err, ERR_INVALID, "CONFIG",
		    "endpoint must not have a path, query or fragment");
	if (end == auth || memchr(auth, '@', (size_t)(end - auth)) != NULL)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "endpoint needs a host and no user information");
	/* An IPv6 literal keeps its brackets; the port follows "]:". */
	if (*auth == '[') {
		p = memchr(auth, ']', (size_t)(end - auth));
		if (p == NULL)
			return error_set(err, ERR_INVALID, "CONFIG",
			    "endpoint has an unterminated IPv6 address");
		colon = p + 1 < end && p[1] == ':' ? p + 1 : NULL;
		if (p + 1 < end && colon == NULL)
			return error_set(err, ERR_INVALID, "CONFIG",
			    "endpoint has junk after the IPv6 address");
	} else {
		colon = memchr(auth, ':', (size_t)(end - auth));
	}
	hostlen = (size_t)((colon != NULL ? colon : end) - auth);
	if (hostlen == 0)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "endpoint has an empty host");
	if (colon != NULL) {
		char digits[8];
		size_t dl = (size_t)(end - colon - 1);

		if (dl == 0 || dl >= sizeof(digits))
			return error_set(err, ERR_INVALID, "CONFIG",
			    "endpoint has a bad port");
		memcpy(digits, colon + 1, dl);
		digits[dl] = '\0';
		if (util_parse_uint(&port, digits, 65535) < 0 || port == 0)
			return error_set(err, ERR_INVALID, "CONFIG",
			    "endpoint has a bad port");
	}
	host = xstrndup(auth, hostlen);
	for (i = 0; host[i] != '\0'; i++) {
		unsigned char c = (unsigned char)host[i];

		if (c <= ' ' || c >= 0x7f) {
			free(host);
			return error_set(err, ERR_INVALID, "CONFIG",
			    "endpoint host has a space or control character");
		}
		host[i] = (char)tolower(c);
	}
	if (port >= 0 && port != (https ? 443 : 80)) {
		*out = xasprintf("%s:%lld", host, port);
		free(host);
	} else {
		*out = host;
	}
	return 0;
}

/* RFC 3986 dot-segment removal as botocore does it, which also drops
 * empty segments ("//"). Works on the encoded path. */
static char *
sigv4_normalize_path(const char *path)
{
	size_t n = strlen(path), nseg = 0, i;
	const char **seg = xcalloc(n + 1, sizeof(*seg));
	size_t *len = xcalloc(n + 1, sizeof(*len));
	const char *p = path;
	struct buf b;
	char *out;

	while (*p != '\0') {
		size_t l = strcspn(p, "/");

		if (l == 0 || (l == 1 && p[0] == '.')) {
			/* skip */
		} else if (l == 2 && p[0] == '.' && p[1] == '.') {
			if (nseg > 0)
				nseg--;
		} else {
			seg[nseg] = p;
			len[nseg++] = l;
		}
		p += l;
		if (*p == '/')
			p++;
	}
	buf_init(&b, SIGV4_MAX_TEXT);
	if (n == 0 || path[0] == '/')
		buf_puts(&b, "/");
	for (i = 0; i < nseg; i++) {
		if (i > 0)
			buf_puts(&b, "/");
		buf_append(&b, seg[i], len[i]);
	}
	if (n > 0 && path[n - 1] == '/' && nseg > 0)
		buf_puts(&b, "/");
	out = buf_detach(&b, NULL);
	free(seg);
	free(len);
	return out;
}

/* Trimall: drop leading and trailing whitespace, collapse inner runs of
 * whitespace to one space (Python's ' '.join(value.split())). */
static char *
sigv4_trimall(const char *v)
{
	size_t n = strlen(v), i, j = 0;
	char *out = xmalloc(n + 1);
	bool space = false;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		    c == '\v' || c == '\f') {
			space = j > 0;
			continue;
		}
		if (space)
			out[j++] = ' ';
		space = false;
		out[j++] = (char)c;
	}
	out[j] = '\0';
	return out;
}

/* Append one of our own headers; value is taken over. */
static void
sigv4_hdr_add(struct sigv4_hdr *hdrs, size_t *nh, const char *name, char *value)
{
	hdrs[*nh].name = xstrdup(name);
	hdrs[*nh].value = value;
	hdrs[*nh].order = *nh;
	(*nh)++;
}

static int
sigv4_hdr_cmp(const void *a, const void *b)
{
	const struct sigv4_hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int
sigv4_pair_cmp(const void *a, const void *b)
{
	const struct sigv4_pair *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : strcmp(x->value, y->value);
}

static bool
sigv4_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (!(isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL))
			return false;
	}
	return true;
}

static bool
sigv4_has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/* Headers botocore leaves out of the signature: proxies and libcurl may
 * change or add them. */
static bool
sigv4_unsigned_header(const char *lname)
{
	return strcmp(lname, "expect") == 0 ||
	       strcmp(lname, "user-agent") == 0 ||
	       strcmp(lname, "x-amzn-trace-id") == 0;
}

/* Headers the signer sets itself; a caller passing them is a bug in the
 * caller, and letting it through would sign a value we do not send. */
static bool
sigv4_reserved_header(const char *lname)
{
	return strcmp(lname, "host") == 0 || strcmp(lname, "x-amz-date") == 0 ||
	       strcmp(lname, "authorization") == 0 ||
	       strcmp(lname, "x-amz-security-token") == 0 ||
	       strcmp(lname, "x-amz-content-sha256") == 0 ||
	       strcmp(lname, "date") == 0;
}

static bool
sigv4_hex64(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)s[i]) ||
		    isupper((unsigned char)s[i]))
			return false;
	return s[64] == '\0';
}

static bool
sigv4_scope_word(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 64)
		return false;
	for (; *s != '\0'; s++)
		if (!(islower((unsigned char)*s) ||
		        isdigit((unsigned char)*s) || *s == '-'))
			return false;
	return true;
}

static void
sigv4_hmac(unsigned char out[32], const void *key, size_t keylen,
    const char *msg)
{
	unsigned int len = 32;

	HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg,
	    strlen(msg), out, &len);
}

static int
sigv4_check(const struct sigv4_credentials *cred,
    const struct sigv4_scope *scope, const struct sigv4_request *req,
    struct error *err)
{
	const char *k;
	size_t i;

	if (cred->access_key_id == NULL || *cred->access_key_id == '\0' ||
	    cred->secret_access_key == NULL || *cred->secret_access_key == '\0')
		return error_set(err, ERR_INVALID, "AUTH",
		    "AWS credentials are incomplete");
	for (k = cred->access_key_id; *k != '\0'; k++)
		if (!isalnum((unsigned char)*k))
			return error_set(err, ERR_INVALID, "AUTH",
			    "AWS access key id has characters other than "
			    "letters and digits");
	if (cred->session_token != NULL && sigv4_has_crlf(cred->session_token))
		return error_set(err, ERR_INVALID, "AUTH",
		    "AWS session token has a line break");
	if (!sigv4_scope_word(scope->region) ||
	    !sigv4_scope_word(scope->service))
		return error_set(err, ERR_INVALID, "CONFIG",
		    "region and service must be lower-case words like "
		    "us-east-1");
	if (req->method == NULL || !sigv4_token(req->method))
		return error_set(err, ERR_INVALID, "CONFIG", "bad HTTP method");
	if (req->path == NULL || req->path[0] != '/')
		return error_set(err, ERR_INVALID, "CONFIG",
		    "request path must start with '/'");
	if (strlen(req->path) > SIGV4_MAX_PATH)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "request path is longer than %d bytes", SIGV4_MAX_PATH);
	if (req->n_headers > SIGV4_MAX_HEADERS ||
	    req->n_params > SIGV4_MAX_PARAMS)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "too many headers or query parameters");
	for (i = 0; i < req->n_params; i++)
		if (req->params[i].key == NULL)
			return error_set(err, ERR_INVALID, "CONFIG",
			    "query parameter without a key");
	for (i = 0; i < req->n_headers; i++) {
		const struct sigv4_header *h = &req->headers[i];

		if (h->name == NULL || !sigv4_token(h->name) ||
		    h->value == NULL || sigv4_has_crlf(h->value))
			return error_set(err, ERR_INVALID, "CONFIG",
			    "header %zu is malformed", i);
	}
	if (req->payload_hash != NULL) {
		if (strcmp(req->payload_hash, SIGV4_UNSIGNED_PAYLOAD) == 0) {
			if (!scope->s3)
				return error_set(err, ERR_INVALID, "CONFIG",
				    "UNSIGNED-PAYLOAD is for S3 only");
		} else if (!sigv4_hex64(req->payload_hash)) {
			return error_set(err, ERR_INVALID, "CONFIG",
			    "payload hash is not lower-case hex SHA-256");
		}
	}
	return 0;
}

/*
 * Long: SigV4 is one linear recipe (path, query, headers, canonical
 * request, string to sign, key, signature, URL), each step feeding the
 * next; it reads best top to bottom beside the AWS documentation, and the
 * steps that have rules of their own (path normalization, header
 * trimming, the key derivation) are already functions.
 */
int
sigv4_sign(struct sigv4_signed *out, const struct sigv4_credentials *cred,
    const struct sigv4_scope *scope, const struct sigv4_request *req,
    struct error *err)
{
	struct sigv4_hdr *hdrs = NULL;
	struct sigv4_pair *pairs = NULL;
	size_t nh = 0, i, np = 0;
	char *host = NULL, *wire_path = NULL, *canon_path = NULL;
	char *normalized = NULL, *key = NULL, *creq = NULL, *sts = NULL;
	char *base = NULL;
	char amzdate[17], date[9], creq_hash[UTIL_SHA256_HEX];
	const char *payload;
	unsigned char k[32];
	bool token, full = false;
	struct buf b, signed_names, url;
	int rc;

	memset(out, 0, sizeof(*out));
	buf_init(&b, SIGV4_MAX_TEXT);
	buf_init(&signed_names, SIGV4_MAX_TEXT);
	buf_init(&url, SIGV4_MAX_TEXT);
	if ((rc = sigv4_check(cred, scope, req, err)) < 0)
		goto out;
	if ((rc = sigv4_endpoint_host(&host, req->endpoint, err)) < 0)
		goto out;
	token = cred->session_token != NULL && *cred->session_token != '\0';
	payload =
	    req->payload_hash != NULL ? req->payload_hash : SIGV4_EMPTY_SHA256;
	sigv4_amz_date(amzdate, sizeof(amzdate), scope->now);
	memcpy(date, amzdate, 8);
	date[8] = '\0';

	/* Path: the wire form is encoded once; S3 signs it as is, the other
	 * services normalize it and encode it again. */
	wire_path = sigv4_uri_encode(req->path, true);
	if (scope->s3) {
		canon_path = xstrdup(wire_path);
	} else {
		normalized = sigv4_normalize_path(wire_path);
		canon_path = sigv4_uri_encode(normalized, true);
	}

	/* URL: the endpoint without a trailing slash, then path and query in
	 * the caller's order; the signature uses the sorted order. */
	base = xstrdup(req->endpoint);
	if (base[0] != '\0' && base[strlen(base) - 1] == '/')
		base[strlen(base) - 1] = '\0';
	full |= buf_printf(&url, "%s%s", base, wire_path) < 0;
	pairs = xcalloc(req->n_params + 1, sizeof(*pairs));
	for (i = 0; i < req->n_params; i++) {
		const struct sigv4_param *p = &req->params[i];

		pairs[np].key = sigv4_uri_encode(p->key, false);
		pairs[np].value =
		    sigv4_uri_encode(p->value != NULL ? p->value : "", false);
		full |= buf_printf(&url, "%s%s", i == 0 ? "?" : "&",
		            pairs[np].key) < 0;
		if (p->value != NULL)
			full |= buf_printf(&url, "=%s", pairs[np].value) < 0;
		np++;
	}
	qsort(pairs, np, sizeof(*pairs), sigv4_pair_cmp);

	/* Headers: the caller's (minus the ones botocore never signs) and
	 * ours, lower-cased, trimmed, sorted by name; repeated names are
	 * joined with ',' in the order given. */
	hdrs = xcalloc(req->n_headers + 4, sizeof(*hdrs));
	for (i = 0; i < req->n_headers; i++) {
		char *lname = xstrdup(req->headers[i].name);
		char *c;

		for (c = lname; *c != '\0'; c++)
			*c = (char)tolower((unsigned char)*c);
		if (sigv4_reserved_header(lname)) {
			rc = error_set(err, ERR_INVALID, "CONFIG",
			    "header %s is set by the signer", lname);
			free(lname);
			goto out;
		}
		if (sigv4_unsigned_header(lname)) {
			free(lname);
			continue;
		}
		hdrs[nh].name = lname;
		hdrs[nh].value = sigv4_trimall(req->headers[i].value);
		hdrs[nh].order = nh;
		nh++;
	}
	sigv4_hdr_add(hdrs, &nh, "host", xstrdup(host));
	sigv4_hdr_add(hdrs, &nh, "x-amz-date", xstrdup(amzdate));
	if (token)
		sigv4_hdr_add(hdrs, &nh, "x-amz-security-token",
		    sigv4_trimall(cred->session_token));
	if (scope->s3)
		sigv4_hdr_add(hdrs, &nh, "x-amz-content-sha256",
		    xstrdup(payload));
	qsort(hdrs, nh, sizeof(*hdrs), sigv4_hdr_cmp);

	/* The canonical request. */
	full |= buf_printf(&b, "%s\n%s\n", req->method, canon_path) < 0;
	for (i = 0; i < np; i++)
		full |= buf_printf(&b, "%s%s=%s", i > 0 ? "&" : "",
		            pairs[i].key, pairs[i].value) < 0;
	full |= buf_puts(&b, "\n") < 0;
	for (i = 0; i < nh; i++) {
		if (i > 0 && strcmp(hdrs[i].name, hdrs[i - 1].name) == 0) {
			full |= buf_printf(&b, ",%s", hdrs[i].value) < 0;
			continue;
		}
		full |= buf_printf(&b, "%s%s:%s", i > 0 ? "\n" : "",
		            hdrs[i].name, hdrs[i].value) < 0;
		full |= buf_printf(&signed_names, "%s%s", i > 0 ? ";" : "",
		            hdrs[i].name) < 0;
	}
	full |= buf_printf(&b, "\n\n%s\n%s", signed_names.data, payload) < 0;
	if (full) {
		rc = error_set(err, ERR_INVALID, "CONFIG",
		    "request is too large to sign");
		goto out;
	}
	creq = buf_detach(&b, NULL);

	/* String to sign and the signing key chain. */
	util_sha256_hex(creq_hash, creq, strlen(creq));
	sts = xasprintf("AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
	    amzdate, date, scope->region, scope->service, creq_hash);
	key = xasprintf("AWS4%s", cred->secret_access_key);
	sigv4_hmac(k, key, strlen(key), date);
	sigv4_hmac(k, k, 32, scope->region);
	sigv4_hmac(k, k, 32, scope->service);
	sigv4_hmac(k, k, 32, "aws4_request");
	sigv4_hmac(k, k, 32, sts);
	util_hex(out->signature, k, 32);

	out->headers = xcalloc(6, sizeof(*out->headers));
	out->headers[out->n_headers++] = xasprintf("Host: %s", host);
	out->headers[out->n_headers++] = xasprintf("X-Amz-Date: %s", amzdate);
	if (token)
		out->headers[out->n_headers++] =
		    xasprintf("X-Amz-Security-Token: %s", cred->session_token);
	if (scope->s3)
		out->headers[out->n_headers++] =
		    xasprintf("X-Amz-Content-SHA256: %s", payload);
	out->headers[out->n_headers++] =
	    xasprintf("Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/"
	              "aws4_request, SignedHeaders=%s, Signature=%s",
	        cred->access_key_id, date, scope->region, scope->service,
	        signed_names.data, out->signature);
	out->url = buf_detach(&url, NULL);
	out->canonical_request = creq;
	out->string_to_sign = sts;
	creq = sts = NULL;
	rc = 0;
out:
	if (rc < 0)
		sigv4_signed_dispose(out);
	secret_wipe(k, sizeof(k));
	secret_free(key);
	for (i = 0; i < nh; i++) {
		free(hdrs[i].name);
		free(hdrs[i].value);
	}
	for (i = 0; i < np; i++) {
		free(pairs[i].key);
		free(pairs[i].value);
	}
	free(hdrs);
	free(pairs);
	free(host);
	free(wire_path);
	free(canon_path);
	free(normalized);
	free(base);
	free(creq);
	free(sts);
	buf_dispose(&b);
	buf_dispose(&signed_names);
	buf_dispose(&url);
	return rc;
}

void
sigv4_signed_dispose(struct sigv4_signed *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n_headers; i++) {
		/* The Authorization and token lines are credentials. */
		secret_wipe(s->headers[i], strlen(s->headers[i]));
		free(s->headers[i]);
	}
	free(s->headers);
	free(s->url);
	free(s->canonical_request);
	free(s->string_to_sign);
	memset(s, 0, sizeof(*s));
}
