/*
 * status_parse.c - the head of one HTTP/1.x request, parsed strictly.
 *
 * RFC 9112 says what a request head is; we accept the part of it that a
 * probe, a scraper or a person with curl sends, and refuse the rest with
 * the status the RFC names. The whole buffer is parsed again on each call
 * (the caller calls only when a line ends, so at most STATUS_FIELDS_MAX + 2
 * times per connection over at most STATUS_HEAD_MAX bytes). Lines end in
 * CRLF or, as RFC 9112 section 2.2 allows, in a bare LF; a CR anywhere else
 * is refused, because another parser on the path could take it for a line
 * end (request smuggling).
 */
#include "worker/status_parse.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* Content-Length digits we read before calling the value absurd: any
 * value other than 0 is refused anyway. */
#define STATUS_CL_DIGITS_MAX 19

/* tchar of RFC 9110 section 5.6.2: the bytes of a method or field name. */
static bool
status_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
status_refuse(struct status_request *req, int status, struct error *err,
    const char *why)
{
	req->status = status;
	return error_set(err, ERR_INVALID, "BAD_REQUEST", "%d %s: %s", status,
	    status_reason(status), why);
}

/* No NUL, and every CR followed by LF, in buf[0..n); a CR as the last byte
 * may still get its LF. */
static bool
status_bytes_ok(const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (buf[i] == '\0')
			return false;
		if (buf[i] == '\r' && i + 1 < n && buf[i + 1] != '\n')
			return false;
	}
	return true;
}

/*
 * The line starting at buf[pos], within buf[0..n): *content is its length
 * without CRLF/LF and *next the offset after it. Returns 0, or
 * STATUS_PARSE_AGAIN when the line has not ended yet, or ERR_INVALID when
 * its bytes (so far) hold a NUL or a bare CR.
 */
static int
status_line(const char *buf, size_t n, size_t pos, size_t *content,
    size_t *next)
{
	const char *nl = memchr(buf + pos, '\n', n - pos);
	size_t end = nl != NULL ? (size_t)(nl - buf) : n;

	if (!status_bytes_ok(buf + pos, end - pos + (nl != NULL)))
		return ERR_INVALID;
	if (nl == NULL)
		return STATUS_PARSE_AGAIN;
	*next = end + 1;
	*content = end - pos;
	if (*content > 0 && buf[end - 1] == '\r')
		(*content)--;
	return 0;
}

/* The path of an origin-form ("/x?y") or absolute-form
 * ("http://host/x?y") target: the query and fragment are not part of it. */
static int
status_target(struct status_request *req, const char *t, size_t n,
    struct error *err)
{
	const char *p = t, *end = t + n, *q;

	if (n >= 7 && (strncasecmp(t, "http://", 7) == 0 ||
	                  (n >= 8 && strncasecmp(t, "https://", 8) == 0))) {
		p = (const char *)memchr(t, ':', n) + 3;
		q = memchr(p, '/', (size_t)(end - p));
		if (q == NULL) {
			req->path = "/";
			req->path_len = 1;
			return 0;
		}
		p = q;
	}
	if (p == end || *p != '/')
		return status_refuse(req, 400, err, "target is not a path");
	for (q = p; q < end && *q != '?' && *q != '#'; q++)
		;
	req->path = p;
	req->path_len = (size_t)(q - p);
	return 0;
}

/* method SP target SP HTTP/d.d, every byte visible ASCII. */
static int
status_request_line(struct status_request *req, const char *l, size_t n,
    struct error *err)
{
	size_t m = 0, t0, t;
	int rc;

	while (m < n && status_tchar((unsigned char)l[m]))
		m++;
	if (m == 0 || m >= n || l[m] != ' ')
		return status_refuse(req, 400, err, "bad method");
	t0 = t = m + 1;
	while (t < n && l[t] > 0x20 && l[t] < 0x7f)
		t++;
	if (t == t0 || t >= n || l[t] != ' ')
		return status_refuse(req, 400, err, "bad request target");
	if (n - t - 1 != 8 || strncmp(l + t + 1, "HTTP/", 5) != 0 ||
	    l[t + 6] < '0' || l[t + 6] > '9' || l[t + 7] != '.' ||
	    l[t + 8] < '0' || l[t + 8] > '9')
		return status_refuse(req, 400, err, "bad HTTP version");
	if (l[t + 6] != '1')
		return status_refuse(req, 505, err, "only HTTP/1.x");
	req->minor = l[t + 8] - '0';
	if ((rc = status_target(req, l + t0, t - t0, err)) < 0)
		return rc;
	if (m == 3 && memcmp(l, "GET", 3) == 0)
		req->method = STATUS_GET;
	else if (m == 4 && memcmp(l, "HEAD", 4) == 0)
		req->method = STATUS_HEAD;
	else
		req->status = 405; /* said once the head is complete */
	return 0;
}

static bool
status_name_is(const char *l, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(l, name, n) == 0;
}

/* What the fields said that matters once the head is complete. */
struct status_fields {
	int host;
	bool body;    /* Content-Length other than 0 */
	bool chunked; /* any Transfer-Encoding */
	bool bad_cl;
};

/* name ":" OWS value OWS, the value of visible, SP, HTAB or obs-text
 * bytes. */
static int
status_field(struct status_request *req, const char *l, size_t n,
    struct status_fields *f, struct error *err)
{
	size_t c = 0, v, i;

	if (l[0] == ' ' || l[0] == '\t')
		return status_refuse(req, 400, err, "obsolete line folding");
	while (c < n && status_tchar((unsigned char)l[c]))
		c++;
	if (c == 0 || c >= n || l[c] != ':')
		return status_refuse(req, 400, err, "bad header field name");
	for (i = c + 1; i < n; i++) {
		unsigned char b = (unsigned char)l[i];

		if (b != '\t' && (b < 0x20 || b == 0x7f))
			return status_refuse(req, 400, err,
			    "control byte in a header field");
	}
	for (v = c + 1; v < n && (l[v] == ' ' || l[v] == '\t'); v++)
		;
	while (n > v && (l[n - 1] == ' ' || l[n - 1] == '\t'))
		n--;
	if (status_name_is(l, c, "Host")) {
		f->host++;
	} else if (status_name_is(l, c, "Transfer-Encoding")) {
		f->chunked = true;
	} else if (status_name_is(l, c, "Content-Length")) {
		if (v == n || n - v > STATUS_CL_DIGITS_MAX)
			f->bad_cl = true;
		for (i = v; i < n; i++) {
			if (l[i] < '0' || l[i] > '9')
				f->bad_cl = true;
			else if (l[i] != '0')
				f->body = true;
		}
	}
	return 0;
}

/* The checks that need the whole head, in the order a client can act on:
 * a method we do not serve before what its request carries. */
static int
status_head_done(struct status_request *req, const struct status_fields *f,
    struct error *err)
{
	if (req->status == 405)
		return status_refuse(req, 405, err, "only GET and HEAD");
	if (f->bad_cl)
		return status_refuse(req, 400, err, "bad Content-Length");
	if (f->chunked)
		return status_refuse(req, 400, err,
		    "Transfer-Encoding: no request body is accepted");
	if (f->body)
		return status_refuse(req, 413, err,
		    "no request body is accepted");
	if (f->host > 1 || (req->minor >= 1 && f->host == 0))
		return status_refuse(req, 400, err,
		    "HTTP/1.1 needs exactly one Host field");
	return 0;
}

/* What to answer while the head is not complete: more, or 431. */
static int
status_incomplete(struct status_request *req, size_t len, struct error *err)
{
	if (len >= STATUS_HEAD_MAX)
		return status_refuse(req, 431, err, "head too large");
	return STATUS_PARSE_AGAIN;
}

int
status_parse_request(struct status_request *req, const char *buf, size_t len,
    struct error *err)
{
	struct status_fields f = { 0 };
	size_t n = len < STATUS_HEAD_MAX ? len : STATUS_HEAD_MAX;
	size_t pos = 0, next = 0, content = 0, nfields = 0;
	int rc;

	memset(req, 0, sizeof(*req));
	rc = status_line(buf, n, 0, &content, &next);
	if (rc == ERR_INVALID)
		return status_refuse(req, 400, err, "NUL or bare CR");
	if (rc == STATUS_PARSE_AGAIN) {
		if (n > STATUS_LINE_MAX + 1)
			return status_refuse(req, 414, err,
			    "request line too long");
		return status_incomplete(req, len, err);
	}
	if (content > STATUS_LINE_MAX)
		return status_refuse(req, 414, err, "request line too long");
	if ((rc = status_request_line(req, buf, content, err)) < 0)
		return rc;
	for (;;) {
		pos = next;
		rc = status_line(buf, n, pos, &content, &next);
		if (rc == ERR_INVALID)
			return status_refuse(req, 400, err, "NUL or bare CR");
		if (rc == STATUS_PARSE_AGAIN)
			return status_incomplete(req, len, err);
		if (content == 0)
			break;
		if (++nfields > STATUS_FIELDS_MAX)
			return status_refuse(req, 431, err,
			    "too many header fields");
		if ((rc = status_field(req, buf + pos, content, &f, err)) < 0)
			return rc;
	}
	req->head_len = next;
	return status_head_done(req, &f, err);
}

const char *
status_reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Error";
	}
}
