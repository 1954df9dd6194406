/*
 * http.c - the libcurl easy wrapper every publisher sends through.
 *
 * One easy handle per request (publishers run on handler threads, and a
 * handle is cheap next to a TLS handshake). The body is a list of segments
 * read by our own read callback, so a file is never loaded into memory and
 * a retry simply starts again from segment 0. See http.h for the rules.
 */
#include "publishers/http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/redact.h"
#include "common/secret.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "publishers/progress.h"

struct http_body_seg {
	char *mem; /* NULL for a file segment */
	size_t memlen;
	int fd; /* a file segment's descriptor, borrowed */
	uint64_t off, len;
};

void
http_body_init(struct http_body *b)
{
	memset(b, 0, sizeof(*b));
}

void
http_body_dispose(struct http_body *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++)
		free(b->segs[i].mem);
	free(b->segs);
	memset(b, 0, sizeof(*b));
}

static struct http_body_seg *
body_push(struct http_body *b)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 8;
		b->segs = xrealloc(b->segs, b->cap * sizeof(*b->segs));
	}
	memset(&b->segs[b->n], 0, sizeof(b->segs[0]));
	return &b->segs[b->n++];
}

void
http_body_add_mem(struct http_body *b, const void *p, size_t n)
{
	struct http_body_seg *s;

	if (n == 0)
		return;
	/* Consecutive memory segments are merged: a form has dozens. */
	if (b->n > 0 && b->segs[b->n - 1].mem != NULL) {
		s = &b->segs[b->n - 1];
		s->mem = xrealloc(s->mem, s->memlen + n);
		memcpy(s->mem + s->memlen, p, n);
		s->memlen += n;
	} else {
		s = body_push(b);
		s->mem = xmalloc(n);
		memcpy(s->mem, p, n);
		s->memlen = n;
	}
	b->size += n;
}

void
http_body_add_file(struct http_body *b, int fd, uint64_t off, uint64_t len)
{
	struct http_body_seg *s = body_push(b);

	s->fd = fd;
	s->off = off;
	s->len = len;
	b->size += len;
}

/* Where the sender is in a body; one per transfer. */
struct body_reader {
	const struct http_body *b;
	size_t seg;
	uint64_t pos; /* within the segment */
	bool short_file;
	int read_errno;
};

static void
reader_rewind(struct body_reader *r)
{
	r->seg = 0;
	r->pos = 0;
	r->short_file = false;
	r->read_errno = 0;
}

/* Copy up to n bytes into dst. Returns the count (0 at the end), or -1 on
 * a read error or a file that shrank since it was hashed. */
static ssize_t
reader_read(struct body_reader *r, char *dst, size_t n)
{
	size_t done = 0;

	while (done < n && r->seg < r->b->n) {
		const struct http_body_seg *s = &r->b->segs[r->seg];
		uint64_t seglen = s->mem ? s->memlen : s->len;
		uint64_t left = seglen - r->pos;
		size_t want = n - done;
		ssize_t got;

		if (left == 0) {
			r->seg++;
			r->pos = 0;
			continue;
		}
		if (want > left)
			want = (size_t)left;
		if (s->mem != NULL) {
			memcpy(dst + done, s->mem + r->pos, want);
			got = (ssize_t)want;
		} else {
			/* The descriptor the release opened and hashed:
			 * pread, so retries and parallel readers of one
			 * file never share an offset. */
			got = pread(s->fd, dst + done, want,
			    (off_t)(s->off + r->pos));
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0) {
				r->read_errno = errno;
				return -1;
			}
			if (got == 0) {
				r->short_file = true;
				return -1;
			}
			if (r->b->tap != NULL)
				r->b->tap(r->b->tap_arg, dst + done,
				    (size_t)got);
		}
		done += (size_t)got;
		r->pos += (uint64_t)got;
	}
	return (ssize_t)done;
}

static size_t
read_cb(char *dst, size_t size, size_t nitems, void *arg)
{
	ssize_t n = reader_read(arg, dst, size * nitems);

	return n < 0 ? CURL_READFUNC_ABORT : (size_t)n;
}

/* libcurl rewinds on its own (e.g. a reused connection that died before
 * the response); only a rewind to an offset is needed. */
static int
seek_cb(void *arg, curl_off_t offset, int origin)
{
	struct body_reader *r = arg;
	uint64_t want = (uint64_t)offset;

	if (origin != SEEK_SET || offset < 0)
		return CURL_SEEKFUNC_CANTSEEK;
	reader_rewind(r);
	if (r->b->tap_reset != NULL)
		r->b->tap_reset(r->b->tap_arg, offset == 0);
	while (r->seg < r->b->n) {
		const struct http_body_seg *s = &r->b->segs[r->seg];
		uint64_t seglen = s->mem ? s->memlen : s->len;

		if (want < seglen) {
			r->pos = want;
			return CURL_SEEKFUNC_OK;
		}
		want -= seglen;
		r->seg++;
	}
	return want == 0 ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_FAIL;
}

int
http_body_render(const struct http_body *b, struct buf *out, struct error *err)
{
	struct body_reader r = { .b = b };
	char chunk[16384];
	ssize_t n;
	int rc = 0;

	while ((n = reader_read(&r, chunk, sizeof(chunk))) > 0) {
		if ((rc = buf_append(out, chunk, (size_t)n)) < 0) {
			error_set(err, rc, "TOO_LARGE",
			    "body is larger than %zu bytes", out->max);
			goto out;
		}
	}
	if (n < 0)
		rc = error_set(err, ERR_FAIL, "IO", "cannot read body file: %s",
		    r.short_file ? "file shrank" : strerror(r.read_errno));
out:
	return rc;
}

void
http_form_init(struct http_form *f)
{
	memset(f, 0, sizeof(*f));
}

void
http_form_dispose(struct http_form *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++) {
		free(f->names[i]);
		free(f->values[i]);
	}
	free(f->names);
	free(f->values);
	memset(f, 0, sizeof(*f));
}

void
http_form_add(struct http_form *f, const char *name, const char *value)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 32;
		f->names = xrealloc(f->names, f->cap * sizeof(*f->names));
		f->values = xrealloc(f->values, f->cap * sizeof(*f->values));
	}
	f->names[f->n] = xstrdup(name);
	f->values[f->n] = xstrdup(value);
	f->n++;
}

const char *
http_form_get(const struct http_form *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->names[i], name) == 0)
			return f->values[i];
	return NULL;
}

/* A header token must not break the part framing. */
static bool
form_token_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\r' || *s == '\n' || *s == '"')
			return false;
	return true;
}

int
http_form_body(struct http_body *out, char *content_type, size_t ctlen,
    const struct http_form *f, const char *boundary, const char *file_field,
    const char *filename, const char *file_type, int fd, uint64_t size,
    struct error *err)
{
	char bnd[80], *s = NULL;
	struct buf head;
	size_t i;
	int rc = ERR_INVALID;

	buf_init(&head, (size_t)-1);
	if (boundary != NULL)
		snprintf(bnd, sizeof(bnd), "%s", boundary);
	else
		snprintf(bnd, sizeof(bnd), "%016llx%016llx",
		    (unsigned long long)util_random_u64(),
		    (unsigned long long)util_random_u64());
	for (i = 0; i < f->n; i++) {
		if (!form_token_ok(f->names[i])) {
			error_set(err, rc, "INVALID_DIST",
			    "form field name holds CR, LF or quote");
			goto out;
		}
		/* A value holding the boundary would end the part early;
		 * random boundaries make that a non-event, fixed ones (tests)
		 * are checked. */
		if (strstr(f->values[i], bnd) != NULL) {
			error_set(err, rc, "INVALID_DIST",
			    "form field %s contains the boundary", f->names[i]);
			goto out;
		}
		buf_printf(&head,
		    "--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n"
		    "\r\n%s\r\n",
		    bnd, f->names[i], f->values[i]);
	}
	if (!form_token_ok(file_field) || !form_token_ok(filename) ||
	    !form_token_ok(file_type)) {
		error_set(err, rc, "INVALID_DIST",
		    "file name holds CR, LF or quote");
		goto out;
	}
	buf_printf(&head,
	    "--%s\r\nContent-Disposition: form-data; name=\"%s\"; "
	    "filename=\"%s\"\r\nContent-Type: %s\r\n\r\n",
	    bnd, file_field, filename, file_type);
	http_body_add_mem(out, head.data, head.len);
	http_body_add_file(out, fd, 0, size);
	s = xasprintf("\r\n--%s--\r\n", bnd);
	http_body_add_mem(out, s, strlen(s));
	snprintf(content_type, ctlen, "multipart/form-data; boundary=%s", bnd);
	rc = 0;
out:
	free(s);
	buf_dispose(&head);
	return rc;
}

void
http_response_init(struct http_response *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body, HTTP_BODY_MAX);
	buf_init(&r->headers, HTTP_HEADERS_MAX);
}

void
http_response_dispose(struct http_response *r)
{
	if (r == NULL)
		return;
	buf_dispose(&r->body);
	buf_dispose(&r->headers);
}

char *
http_response_header(const struct http_response *r, const char *name)
{
	const char *p = r->headers.data, *eol, *v;
	size_t nlen = strlen(name);

	if (p == NULL)
		return NULL;
	for (; *p != '\0'; p = *eol ? eol + 1 : eol) {
		if ((eol = strchr(p, '\n')) == NULL)
			eol = p + strlen(p);
		if ((size_t)(eol - p) > nlen && p[nlen] == ':' &&
		    strncasecmp(p, name, nlen) == 0) {
			const char *end = eol;

			v = p + nlen + 1;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			while (end > v && (end[-1] == '\r' || end[-1] == ' ' ||
			                      end[-1] == '\t'))
				end--;
			return xstrndup(v, (size_t)(end - v));
		}
	}
	return NULL;
}

/* Per transfer: response collection. */
struct transfer {
	struct http_response *resp;
	const struct http_request *req;
	CURL *c;
	bool body_too_large;
	bool sink_failed;
};

static size_t
write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	long status = 0;

	if (t->req->sink != NULL) {
		curl_easy_getinfo(t->c, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300) {
			if (t->req->sink(t->req->sink_arg, p, size * n) != 0) {
				t->sink_failed = true;
				return 0;
			}
			return size * n;
		}
	}
	if (buf_append(&t->resp->body, p, size * n) < 0) {
		t->body_too_large = true;
		return 0;
	}
	return size * n;
}

static size_t
header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n;

	/* A new status line (after 100 Continue, say) starts over. */
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		const char *sp, *end = p + len;

		buf_reset(&t->resp->headers);
		t->resp->reason[0] = '\0';
		/* "HTTP/1.1 400 File already exists ..." */
		if ((sp = memchr(p, ' ', len)) != NULL &&
		    (sp = memchr(sp + 1, ' ', (size_t)(end - sp - 1))) !=
		        NULL) {
			size_t rl;

			sp++;
			while (end > sp && (end[-1] == '\r' || end[-1] == '\n'))
				end--;
			rl = (size_t)(end - sp);
			if (rl >= sizeof(t->resp->reason))
				rl = sizeof(t->resp->reason) - 1;
			memcpy(t->resp->reason, sp, rl);
			t->resp->reason[rl] = '\0';
		}
		return len;
	}
	/* Over the limit: keep what we have, the transfer goes on. */
	(void)buf_append(&t->resp->headers, p, len);
	return len;
}

bool
http_url_allowed(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	bool ok = false;

	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	if (strcasecmp(scheme, "https") == 0) {
		ok = true;
	} else if (strcasecmp(scheme, "http") == 0) {
		struct in_addr a4;

		if (strcasecmp(host, "localhost") == 0 ||
		    strcmp(host, "[::1]") == 0)
			ok = true;
		else if (inet_pton(AF_INET, host, &a4) == 1 &&
		         (ntohl(a4.s_addr) >> 24) == 127)
			ok = true;
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

const char *
http_user_agent(void)
{
	return "artifactd/" ARTIFACTD_VERSION;
}

/* The retry defaults (http_retry_defaults); read by every handler thread. */
static _Atomic long http_attempts = HTTP_DEFAULT_ATTEMPTS;
static _Atomic long http_backoff_ms = HTTP_DEFAULT_BACKOFF_MS;

void
http_retry_defaults(long long attempts, long long backoff_ms)
{
	if (attempts < 1)
		attempts = 1;
	if (attempts > HTTP_MAX_ATTEMPTS)
		attempts = HTTP_MAX_ATTEMPTS;
	if (backoff_ms < 0)
		backoff_ms = 0;
	if (backoff_ms > HTTP_MAX_BACKOFF_MS)
		backoff_ms = HTTP_MAX_BACKOFF_MS;
	http_attempts = (long)attempts;
	http_backoff_ms = (long)backoff_ms;
}

/*
 * Retry-After is seconds or an HTTP date (RFC 9110 10.2.3); -1 when
 * absent or unreadable. Any number of seconds is read (saturating at a
 * day: "a day" and "a year" both mean "not within this request"), so a
 * large one is obeyed by not retrying rather than ignored.
 */
static long long
retry_after_ms(const struct http_response *r)
{
	char *v = http_response_header(r, "Retry-After");
	long long s, ms = -1;
	size_t k;

	if (v == NULL)
		return -1;
	for (k = 0; v[k] >= '0' && v[k] <= '9'; k++)
		;
	if (k > 0 && v[k] == '\0') {
		if (k > 5 || util_parse_uint(&s, v, 86400) < 0)
			s = 86400;
		ms = s * 1000;
	} else {
		time_t t = curl_getdate(v, NULL);

		if (t > 0)
			ms = ((long long)t - (long long)time(NULL)) * 1000;
		if (ms < 0)
			ms = 0;
	}
	free(v);
	return ms;
}

static void
sleep_ms(long long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool
http_curl_retryable(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static struct curl_slist *
build_headers(const struct http_request *req)
{
	struct curl_slist *h = NULL;
	size_t i;

	/* libcurl would wait for "100 Continue" on large bodies; twine and
	 * the servers we talk to do not use it. */
	h = curl_slist_append(h, "Expect:");
	for (i = 0; req->headers != NULL && req->headers[i] != NULL; i++)
		h = curl_slist_append(h, req->headers[i]);
	return h;
}

static void
setup_handle(CURL *c, const struct http_request *req, struct transfer *t,
    struct body_reader *rd, struct curl_slist *hdrs)
{
	const char *m = req->method ? req->method : "GET";

	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, http_user_agent());
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	/* A stalled peer aborts instead of hanging a handler thread;
	 * a whole-transfer limit would cut off big honest uploads. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	if (req->timeout_s > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT, req->timeout_s);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, t);

	if (strcmp(m, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (req->body != NULL || strcmp(m, "PUT") == 0 ||
	           strcmp(m, "POST") == 0 || strcmp(m, "PATCH") == 0) {
		/* Upload mode sends Content-Length and adds no Content-Type
		 * of its own (POST mode would add a form type). */
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		/* 512 KiB reads per read callback instead of curl's 64 KiB:
		 * fewer callbacks and pread calls on multi-GiB bodies, at
		 * 512 KiB of memory per transfer (libcurl allows 2 MiB). */
		curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE,
		    (long)HTTP_UPLOAD_BUFFER);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)(req->body ? req->body->size : 0));
		curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(c, CURLOPT_READDATA, rd);
		curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, seek_cb);
		curl_easy_setopt(c, CURLOPT_SEEKDATA, rd);
		if (strcmp(m, "PUT") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
	} else if (strcmp(m, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
	}
}

/* Replace every occurrence of secret (when long enough to be one) in
 * text[0..len) by '*'. */
static void
scrub(char *text, size_t len, const char *secret, size_t slen)
{
	size_t i;

	if (text == NULL || slen < 6 || len < slen)
		return;
	for (i = 0; i + slen <= len; i++)
		if (text[i] == secret[0] &&
		    memcmp(text + i, secret, slen) == 0) {
			memset(text + i, '*', slen);
			i += slen - 1;
		}
}

static void
scrub_response(struct http_response *r, const char *secret, size_t slen)
{
	scrub(r->body.data, r->body.len, secret, slen);
	scrub(r->reason, strlen(r->reason), secret, slen);
}

/*
 * A server that echoes our credentials (a debugging proxy, a careless
 * error page) must not get them into an error message, a log or an
 * event: the credentials of the request's Authorization (Bearer/token
 * value, or the password of a Basic pair) and token headers are masked
 * in the response's reason and body.
 */
static void
scrub_credentials(struct http_response *r, const struct http_request *req)
{
	static const char *const names[] = { "authorization:",
		"x-amz-security-token:", "x-jfrog-art-api:", "private-token:",
		NULL };
	size_t i, k;

	for (i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
		const char *h = req->headers[i], *v = NULL, *sp;

		for (k = 0; names[k] != NULL && v == NULL; k++)
			if (strncasecmp(h, names[k], strlen(names[k])) == 0)
				v = h + strlen(names[k]);
		if (v == NULL)
			continue;
		while (*v == ' ')
			v++;
		scrub_response(r, v, strlen(v));
		if ((sp = strchr(v, ' ')) == NULL)
			continue;
		/* "Bearer <token>", "token <token>", "Basic <b64>" */
		scrub_response(r, sp + 1, strlen(sp + 1));
		if (strncasecmp(v, "Basic ", 6) == 0) {
			unsigned char plain[512];
			size_t bl = strlen(sp + 1);
			int n;
			char *colon;

			if (bl >= sizeof(plain) * 4 / 3)
				continue;
			n = EVP_DecodeBlock(plain,
			    (const unsigned char *)sp + 1, (int)bl);
			if (n <= 0)
				continue;
			plain[n] = '\0';
			if ((colon = strchr((char *)plain, ':')) != NULL)
				scrub_response(r, colon + 1, strlen(colon + 1));
			secret_wipe(plain, sizeof(plain));
		}
	}
}

/* libcurl's global state is set up once, before the first handle, from
 * whichever handler thread gets there first; curl_easy_init would do it
 * implicitly, but that is only thread-safe in some libcurl builds. */
static pthread_once_t http_once = PTHREAD_ONCE_INIT;

static void
http_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		log_warnx("http_init_failed what=curl_global_init");
}

/*
 * Sleep before attempt i + 1: exponential from backoff ms, full jitter in
 * the upper half (workers retrying the same outage do not come back in
 * lock step), at least the server's Retry-After (delay, -1 when none),
 * at most HTTP_MAX_BACKOFF_MS.
 */
static void
http_backoff(long backoff, int i, long long delay, const char *what,
    long status, const char *safe_url)
{
	long long step = (long long)backoff << (i - 1 < 20 ? i - 1 : 20);
	long long wait;

	if (step > HTTP_MAX_BACKOFF_MS)
		step = HTTP_MAX_BACKOFF_MS;
	wait = (long long)util_jitter((double)step / 2, (double)step);
	if (delay > wait)
		wait = delay;
	if (wait > HTTP_MAX_BACKOFF_MS)
		wait = HTTP_MAX_BACKOFF_MS;
	log_warnx("http_retry what=%s attempt=%d status=%ld "
	          "delay_ms=%lld url=\"%s\"",
	    what, i, status, wait, safe_url);
	sleep_ms(wait);
}

int
http_request(struct http_response *resp, const struct http_request *req,
    struct error *err)
{
	static const struct http_body empty;
	struct body_reader rd = { 0 };
	struct transfer t = { .resp = resp, .req = req };
	struct curl_slist *hdrs = NULL;
	char *safe_url = util_redact_url(req->url), cerr[CURL_ERROR_SIZE];
	const char *what = req->what ? req->what : "http";
	long attempts, backoff;
	CURL *c = NULL;
	int rc = ERR_TRANSIENT, i;

	pthread_once(&http_once, http_global_init);
	rd.b = req->body ? req->body : &empty;
	attempts = req->max_attempts > 0 ? req->max_attempts : http_attempts;
	if (attempts < 1)
		attempts = 1;
	backoff = http_backoff_ms;
	if (!http_url_allowed(req->url)) {
		rc = error_set(err, ERR_INVALID, "INVALID_TARGET",
		    "%s: URL %s refused: https is required (plain http only "
		    "to loopback)",
		    what, safe_url);
		goto out;
	}
	hdrs = build_headers(req);
	for (i = 1; i <= attempts; i++) {
		CURLcode cc;
		long long delay = -1;

		resp->status = 0;
		resp->reason[0] = '\0';
		resp->attempts = i;
		buf_reset(&resp->body);
		buf_reset(&resp->headers);
		t.body_too_large = false;
		t.sink_failed = false;
		reader_rewind(&rd);
		if (rd.b->tap_reset != NULL)
			rd.b->tap_reset(rd.b->tap_arg, true);
		if (req->sink_reset != NULL)
			req->sink_reset(req->sink_arg);
		if ((c = curl_easy_init()) == NULL) {
			rc = error_set(err, ERR_FAIL, "HTTP",
			    "%s: cannot create a curl handle", what);
			goto out;
		}
		t.c = c;
		setup_handle(c, req, &t, &rd, hdrs);
		/* curl's detailed text may quote the URL or a host taken
		 * from it: it is redacted before use. */
		cerr[0] = '\0';
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
		/* A body being sent reports its progress (progress.h). */
		cc = progress_perform(c, req->body ? req->body->size : 0);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
		scrub_credentials(resp, req);
		curl_easy_cleanup(c);
		c = NULL;
		if (t.sink_failed) {
			rc = error_set(err, ERR_FAIL, "HTTP",
			    "%s: response from %s was refused by its reader",
			    what, safe_url);
			goto out;
		}
		if (t.body_too_large) {
			rc = error_set(err, ERR_FAIL, "HTTP",
			    "%s: response from %s is larger than %u bytes",
			    what, safe_url, HTTP_BODY_MAX);
			goto out;
		}
		if (cc == CURLE_ABORTED_BY_CALLBACK ||
		    (cc == CURLE_READ_ERROR &&
		        (rd.short_file || rd.read_errno != 0))) {
			rc = error_set(err, ERR_FAIL, "IO",
			    "%s: cannot read the file being sent: %s", what,
			    rd.short_file ? "it shrank while sending"
			                  : strerror(rd.read_errno));
			goto out;
		}
		if (cc != CURLE_OK) {
			rc = error_set(err,
			    http_curl_retryable(cc) ? ERR_TRANSIENT : ERR_FAIL,
			    "HTTP", "%s: %s: %s", what, safe_url,
			    cerr[0] ? cerr : curl_easy_strerror(cc));
			redact_buf(err != NULL ? err->msg : NULL,
			    err != NULL ? sizeof(err->msg) : 0);
			if (!http_curl_retryable(cc))
				goto out;
		} else if ((resp->status >= 500 || resp->status == 429) &&
		           !req->no_retry_status) {
			delay = retry_after_ms(resp);
			rc = 0;
			/* The server asked for more than any wait we make
			 * (HTTP_MAX_BACKOFF_MS): retrying sooner would be
			 * impolite and likely refused again. The caller
			 * gets the response (ERR_TRANSIENT through
			 * http_status_error), and the event's own retry
			 * comes back later. */
			if (delay > HTTP_MAX_BACKOFF_MS) {
				log_warnx("http_retry_after_too_long what=%s "
				          "status=%ld retry_after_ms=%lld "
				          "max_ms=%d url=\"%s\"",
				    what, resp->status, delay,
				    HTTP_MAX_BACKOFF_MS, safe_url);
				goto out;
			}
		} else {
			rc = 0;
			goto out;
		}
		if (i == attempts)
			break;
		http_backoff(backoff, i, delay, what, resp->status, safe_url);
	}
out:
	if (c != NULL)
		curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	free(safe_url);
	return rc;
}

/* One line of printable text from the start of a body, for messages. */
static void
body_excerpt(char *out, size_t n, const struct buf *b)
{
	size_t i, j = 0;

	if (b->data == NULL || n == 0) {
		if (n > 0)
			out[0] = '\0';
		return;
	}
	for (i = 0; i < b->len && j + 1 < n && j < 200; i++) {
		unsigned char ch = (unsigned char)b->data[i];

		out[j++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : ' ';
	}
	out[j] = '\0';
}

int
http_status_error(const struct http_response *r, const char *what,
    struct error *err)
{
	char excerpt[256];
	const char *code = "HTTP";
	int rc = ERR_FAIL;

	if (r->status == 401 || r->status == 403)
		code = "AUTH";
	else if (r->status == 409)
		code = "CONFLICT", rc = ERR_CONFLICT;
	else if (r->status == 429 || r->status >= 500 || r->status == 0)
		rc = ERR_TRANSIENT;
	body_excerpt(excerpt, sizeof(excerpt), &r->body);
	return error_set(err, rc, code, "%s: HTTP %ld %s%s%s", what, r->status,
	    r->reason, excerpt[0] ? ": " : "", excerpt);
}

char *
http_basic_auth_header(const char *user, const char *pass)
{
	char *plain = xasprintf("%s:%s", user, pass);
	size_t n = strlen(plain);
	unsigned char *b64 = xmalloc(4 * ((n + 2) / 3) + 1);
	char *h;

	EVP_EncodeBlock(b64, (const unsigned char *)plain, (int)n);
	h = xasprintf("Authorization: Basic %s", (char *)b64);
	secret_wipe(plain, n);
	secret_wipe(b64, strlen((char *)b64));
	free(plain);
	free(b64);
	return h;
}

char *
http_escape(const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(strlen(s) * 3 + 1), *o = out;

	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    ch == '.' || ch == '~' || (keep_slash && ch == '/')) {
			*o++ = (char)ch;
		} else {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o = '\0';
	return out;
}
