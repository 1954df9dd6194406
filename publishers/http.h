/*
 * http.h - the one HTTP client of the publishers: a libcurl easy wrapper.
 *
 * Every publisher (PyPI, Artifactory, GitHub, S3, CodeArtifact) talks HTTP
 * through http_request(), so the rules of publishers.md hold everywhere:
 * HTTP/1.1 (PyPI's reason phrase lives in the status line), no redirects
 * (a rewound body across a 301 corrupted Artifactory uploads), a
 * User-Agent "artifactd/<version>" on every call (GitHub refuses requests
 * without one), bodies streamed from disk through a read callback (a
 * 2 GiB file costs the same memory as a 2 KiB one), retries with
 * exponential backoff and jitter on connection errors, 5xx and 429
 * (Retry-After honoured), plain http:// only to loopback hosts, and
 * responses kept up to a maximum. Header values (Authorization!) are never
 * logged; URLs in messages are redacted.
 */
#ifndef PUBLISHERS_HTTP_H
#define PUBLISHERS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"

/* Response bodies are JSON or short error pages; 4 MiB holds a GitHub
 * listing of 100 assets many times over, and bounds a hostile server. */
#define HTTP_BODY_MAX (4u * 1024 * 1024)
/* All response header lines of one response together. */
#define HTTP_HEADERS_MAX (64u * 1024)
/* Attempts per request when http-attempts is not set: twine tries 5
 * times; JFrog CLI 3. Five with backoff rides out a short outage. */
#define HTTP_DEFAULT_ATTEMPTS 5
/* First backoff step and the ceiling of any single wait (also of a
 * Retry-After the server asks for), in milliseconds. */
#define HTTP_DEFAULT_BACKOFF_MS 1000
#define HTTP_MAX_BACKOFF_MS 60000
/* libcurl's upload buffer, the most one read callback hands out: 512 KiB
 * (curl's default is 64 KiB; its maximum 2 MiB). One per transfer. */
#define HTTP_UPLOAD_BUFFER (512 * 1024)
/* The most attempts the http-attempts setting may ask for (the limit the
 * environment variable always had). */
#define HTTP_MAX_ATTEMPTS 100

/*
 * A request body made of segments: bytes in memory (copied) and ranges of
 * open files (read with pread while sending; the descriptor is borrowed
 * and must stay open until the body is disposed). Its size is known up front,
 * so requests carry a real Content-Length, never chunked encoding.
 */
struct http_body_seg;
struct http_body {
	struct http_body_seg *segs;
	size_t n, cap;
	uint64_t size;
	/* Optional: every byte of the file segments, as it is handed to
	 * libcurl (hash while sending, issue 13). tap_reset is called before
	 * each attempt with whole = true, and with whole = false when libcurl
	 * rewinds to the middle of the body (the tap cannot resume then). */
	void (*tap)(void *arg, const void *p, size_t n);
	void (*tap_reset)(void *arg, bool whole);
	void *tap_arg;
};

void http_body_init(struct http_body *b);
void http_body_dispose(struct http_body *b);
/* Append a copy of n bytes. */
void http_body_add_mem(struct http_body *b, const void *p, size_t n);
/* Append len bytes of the open file fd from offset off. fd is borrowed:
 * the caller opened it once (path_open_beneath) and keeps it open until
 * the body is disposed; it is never reopened by name. */
void http_body_add_file(struct http_body *b, int fd, uint64_t off,
    uint64_t len);
/* Render the whole body into out (for tests and small bodies), reading
 * file segments. Returns 0, ERR_INVALID when over out's max, ERR_FAIL. */
int http_body_render(const struct http_body *b, struct buf *out,
    struct error *err);

/*
 * multipart/form-data as PyPI's legacy upload API reads it: text fields
 * as plain parts (no filename, no Content-Type), a repeated name as
 * repeated parts, then one file part with filename and Content-Type.
 */
struct http_form {
	char **names;
	char **values;
	size_t n, cap;
};

void http_form_init(struct http_form *f);
void http_form_dispose(struct http_form *f);
/* Add a text field (both strings copied). Order is kept. */
void http_form_add(struct http_form *f, const char *name, const char *value);
/* The first value of a field, or NULL (borrowed). */
const char *http_form_get(const struct http_form *f, const char *name);

/*
 * Build the body: the fields of f, then the file part `file_field` with
 * `filename` and `file_type`, whose bytes are the `size` bytes of `fd`
 * (streamed). boundary NULL: a random one. content_type receives the
 * header value "multipart/form-data; boundary=..." (>= 96 bytes).
 * Returns 0 or ERR_INVALID (a value or filename holds CR, LF or '"', which
 * would break the framing).
 */
int http_form_body(struct http_body *out, char *content_type, size_t ctlen,
    const struct http_form *f, const char *boundary, const char *file_field,
    const char *filename, const char *file_type, int fd, uint64_t size,
    struct error *err);

/*
 * The retry defaults of every request made afterwards, from the settings
 * table (http-attempts, http-backoff-ms: struct publish_env): attempts
 * when a request leaves max_attempts 0 (at least 1, at most
 * HTTP_MAX_ATTEMPTS), and the first backoff step in ms (at most
 * HTTP_MAX_BACKOFF_MS). Until called: HTTP_DEFAULT_ATTEMPTS and
 * HTTP_DEFAULT_BACKOFF_MS. Thread-safe (the release runs set it before
 * each run, from the same configuration).
 */
void http_retry_defaults(long long attempts, long long backoff_ms);

/* A request. Unset fields are zero/NULL. */
struct http_request {
	const char *method; /* GET HEAD PUT POST PATCH DELETE */
	const char *url;
	/* "Name: value" lines; NULL-terminated array, may be NULL. */
	const char *const *headers;
	const struct http_body *body; /* NULL: no body */
	/* 0: the process's default (http_retry_defaults: the
	 * http-attempts setting, ARTIFACTD_HTTP_ATTEMPTS); 1: no retry. */
	int max_attempts;
	/* Do not retry 5xx/429 (e.g. a POST that is not idempotent). Connect
	 * errors (nothing was sent) are still retried. */
	bool no_retry_status;
	/* Seconds for the whole transfer; 0: none (large uploads), a stall
	 * of 60 s without progress aborts instead. */
	long timeout_s;
	/* A short label for logs ("pypi_upload"); may be NULL. */
	const char *what;
	/* When set, a 2xx response body goes to sink (in pieces, constant
	 * memory; e.g. to hash a download) instead of resp->body; a
	 * non-zero return aborts the transfer (ERR_FAIL). Other statuses
	 * still fill resp->body. reset is called before each attempt. */
	int (*sink)(void *arg, const void *p, size_t n);
	void (*sink_reset)(void *arg);
	void *sink_arg;
};

struct http_response {
	long status;        /* 0 when no response was received */
	char reason[256];   /* the status line's reason phrase, may be "" */
	struct buf body;    /* up to HTTP_BODY_MAX; longer is an error */
	struct buf headers; /* raw header lines of the final response */
	int attempts;       /* how many times the request was sent */
};

void http_response_init(struct http_response *r);
void http_response_dispose(struct http_response *r);

/* A header of the response (case-insensitive name), trimmed; a copy the
 * caller frees, or NULL. */
char *http_response_header(const struct http_response *r, const char *name);

/*
 * Send a request, retrying connection errors, 5xx and 429 with
 * exponential backoff and jitter. A Retry-After (seconds or an HTTP date)
 * is waited at least; one further off than HTTP_MAX_BACKOFF_MS ends the
 * retries at once (the 429/503 is the final response: retrying sooner
 * than asked is what the header forbids). resp must be initialized; it
 * receives the final response. Returns 0 when a response arrived (any
 * status: the caller judges it, see http_status_error), ERR_INVALID for a
 * refused URL
 * (http:// to a non-loopback host, other schemes), ERR_TRANSIENT when no
 * response could be had (err code HTTP). Messages never hold header
 * values; URLs in them are redacted; credentials of the request
 * (Authorization, token headers, a Basic password) that the server echoes
 * are masked with '*' in resp->reason and resp->body.
 */
int http_request(struct http_response *resp, const struct http_request *req,
    struct error *err);

/*
 * Classify a non-success response: 401/403 -> ERR_FAIL "AUTH", 409 ->
 * ERR_CONFLICT "CONFLICT", 429 and 5xx -> ERR_TRANSIENT "HTTP", other
 * statuses -> ERR_FAIL "HTTP". The message names `what`, the status, the
 * reason phrase and the start of the body (sanitized, one line). Returns
 * the code.
 */
int http_status_error(const struct http_response *r, const char *what,
    struct error *err);

/* True for URLs http_request accepts: https://, or http:// to 127.0.0.0/8,
 * ::1 or localhost. */
bool http_url_allowed(const char *url);

/* "Authorization: Basic base64(user:pass)" - a new string the caller
 * frees (and should wipe). */
char *http_basic_auth_header(const char *user, const char *pass);

/* Percent-encode s (RFC 3986 unreserved kept; '/' kept when keep_slash).
 * A new string the caller frees. */
char *http_escape(const char *s, bool keep_slash);

/* The User-Agent sent on every request: "artifactd/<version>". */
const char *http_user_agent(void);

#endif
