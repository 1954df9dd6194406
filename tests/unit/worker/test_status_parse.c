/*
 * test_status_parse.c - the status server's request parser: what probes
 * send is accepted (query ignored), every malformed or oversized head is
 * refused with the right status, and incomplete heads ask for more.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/xalloc.h"
#include "worker/status_parse.h"

/* Parse buf (len bytes, may hold NULs); returns the code, *status the
 * HTTP status of a refusal. */
static int
parse_n(const char *buf, size_t len, struct status_request *req)
{
	struct error err = { 0 };
	char *copy = xmalloc(len > 0 ? len : 1);
	int rc;

	/* Exactly len bytes, so ASan sees any read past the end. */
	memcpy(copy, buf, len);
	rc = status_parse_request(req, copy, len, &err);
	if (rc == ERR_INVALID)
		assert_true(err.msg[0] != '\0');
	if (rc == 0) {
		/* The path points into the buffer, or is the literal "/". */
		assert_true(req->path_len == 1 ||
		            (req->path >= copy &&
		                req->path + req->path_len <= copy + len));
	}
	free(copy);
	return rc;
}

/* Returns the HTTP status the parser decides on: 200 for accepted, 0 for
 * "incomplete", the refusal status otherwise. Also checks the path. */
static int
status_of(const char *s, const char *want_path)
{
	struct status_request req;
	struct error err = { 0 };
	size_t len = strlen(s);
	int rc;

	rc = status_parse_request(&req, s, len, &err);
	if (rc == STATUS_PARSE_AGAIN)
		return 0;
	if (rc == 0) {
		if (want_path != NULL) {
			assert_int_equal(req.path_len, strlen(want_path));
			assert_memory_equal(req.path, want_path, req.path_len);
		}
		assert_true(req.head_len <= len);
		return 200;
	}
	assert_int_equal(rc, ERR_INVALID);
	assert_int_equal(parse_n(s, len, &req), ERR_INVALID);
	return req.status;
}

static void
test_accepts_probes(void **state)
{
	struct status_request req;
	const char *k = "GET /healthz HTTP/1.1\r\nHost: 10.0.0.5:8080\r\n"
	                "User-Agent: kube-probe/1.29\r\nAccept: */*\r\n"
	                "Connection: close\r\n\r\n";
	static const char after[] = "GET /healthz HTTP/1.0\r\n\r\n\0\r junk";

	(void)state;
	assert_int_equal(status_of(k, "/healthz"), 200);
	assert_int_equal(parse_n(k, strlen(k), &req), 0);
	assert_int_equal(req.method, STATUS_GET);
	assert_int_equal(req.minor, 1);
	assert_int_equal(req.head_len, strlen(k));
	/* The Dockerfile HEALTHCHECK. */
	assert_int_equal(
	    status_of("GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n",
	        "/healthz"),
	    200);
	assert_int_equal(status_of("GET /metrics HTTP/1.0\r\n\r\n", "/metrics"),
	    200);
	assert_int_equal(status_of("HEAD /readyz HTTP/1.1\r\nHost: a\r\n\r\n",
	                     "/readyz"),
	    200);
	/* Bare LF line ends (RFC 9112 2.2), as typed with printf | nc. */
	assert_int_equal(status_of("GET /healthz HTTP/1.0\n\n", "/healthz"),
	    200);
	/* OWS around values; obs-text in a value is allowed. */
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost:a\r\n"
	                           "X-Name:  caf\xc3\xa9 \t\r\n\r\n",
	                     "/"),
	    200);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a\r\n"
	                           "Content-Length: 0\r\n\r\n",
	                     "/"),
	    200);
	/* Bytes after the head are not looked at. */
	assert_int_equal(parse_n(after, sizeof(after) - 1, &req), 0);
	assert_int_equal(req.head_len, 25);
}

static void
test_query_ignored(void **state)
{
	(void)state;
	assert_int_equal(
	    status_of("GET /healthz?x=1 HTTP/1.1\r\nHost: a\r\n\r\n",
	        "/healthz"),
	    200);
	assert_int_equal(status_of("GET /metrics?name[]=up&x HTTP/1.0\r\n\r\n",
	                     "/metrics"),
	    200);
	assert_int_equal(status_of("GET /readyz#frag HTTP/1.0\r\n\r\n",
	                     "/readyz"),
	    200);
	assert_int_equal(status_of("GET http://h:8080/healthz?x HTTP/1.1\r\n"
	                           "Host: h:8080\r\n\r\n",
	                     "/healthz"),
	    200);
	assert_int_equal(status_of("GET HTTP://h HTTP/1.0\r\n\r\n", "/"), 200);
	assert_int_equal(status_of("GET ?x HTTP/1.0\r\n\r\n", NULL), 400);
	assert_int_equal(status_of("GET * HTTP/1.0\r\n\r\n", NULL), 400);
}

static void
test_incomplete(void **state)
{
	const char *full = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
	char part[64];
	size_t i;

	(void)state;
	/* Every proper prefix asks for more, never refuses. */
	for (i = 0; i < strlen(full); i++) {
		memcpy(part, full, i);
		part[i] = '\0';
		assert_int_equal(status_of(part, NULL), 0);
	}
	assert_int_equal(status_of(full, "/healthz"), 200);
}

static void
test_bad_bytes(void **state)
{
	static const char nul[] = "GET /hea\0lthz HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char nul_field[] = "GET / HTTP/1.0\r\nX: a\0b\r\n\r\n";
	struct status_request req;

	(void)state;
	assert_int_equal(parse_n(nul, sizeof(nul) - 1, &req), ERR_INVALID);
	assert_int_equal(req.status, 400);
	assert_int_equal(parse_n(nul_field, sizeof(nul_field) - 1, &req),
	    ERR_INVALID);
	assert_int_equal(req.status, 400);
	/* A NUL is refused at once, before the head is complete. */
	assert_int_equal(parse_n("GET /\0", 6, &req), ERR_INVALID);
	/* Bare CR: in the request line, in a field, as a line end. */
	assert_int_equal(status_of("GET /\rx HTTP/1.0\r\n\r\n", NULL), 400);
	assert_int_equal(status_of("GET / HTTP/1.0\r\nX: a\rb\r\n\r\n", NULL),
	    400);
	assert_int_equal(status_of("GET / HTTP/1.0\r\r\n\r\n", NULL), 400);
	assert_int_equal(status_of("GET / HTTP/1.0\r\nX: a\r\r\n\r\n", NULL),
	    400);
	/* Non-ASCII in the method or target. */
	assert_int_equal(status_of("G\xc3\x89T / HTTP/1.0\r\n\r\n", NULL), 400);
	assert_int_equal(status_of("GET /h\xc3\xa9 HTTP/1.0\r\n\r\n", NULL),
	    400);
	assert_int_equal(status_of("GET /\x7f HTTP/1.0\r\n\r\n", NULL), 400);
	/* Control bytes in a field value; TAB is fine. */
	assert_int_equal(status_of("GET / HTTP/1.0\r\nX: a\x01\r\n\r\n", NULL),
	    400);
	assert_int_equal(status_of("GET / HTTP/1.0\r\nX: a\x7f\r\n\r\n", NULL),
	    400);
	assert_int_equal(status_of("GET / HTTP/1.0\r\nX: a\tb\r\n\r\n", "/"),
	    200);
}

static void
test_malformed(void **state)
{
	(void)state;
	assert_int_equal(status_of("\r\nGET / HTTP/1.0\r\n\r\n", NULL), 400);
	assert_int_equal(status_of("GET  / HTTP/1.0\r\n\r\n", NULL), 400);
	assert_int_equal(status_of("GET / HTTP/1.0 \r\n\r\n", NULL), 400);
	assert_int_equal(status_of("GET /\r\n\r\n", NULL), 400); /* 0.9 */
	assert_int_equal(status_of("GET / HTTP/1\r\n\r\n", NULL), 400);
	assert_int_equal(status_of("GET / http/1.1\r\n\r\n", NULL), 400);
	assert_int_equal(status_of("GET / HTTP/1.10\r\n\r\n", NULL), 400);
	assert_int_equal(status_of("GET\t/ HTTP/1.0\r\n\r\n", NULL), 400);
	assert_int_equal(status_of("GET x HTTP/1.0\r\n\r\n", NULL), 400);
	assert_int_equal(status_of("GET / HTTP/2.0\r\n\r\n", NULL), 505);
	assert_int_equal(status_of("GET / HTTP/0.9\r\n\r\n", NULL), 505);
	/* Obsolete line folding. */
	assert_int_equal(status_of("GET / HTTP/1.0\r\nX: a\r\n b\r\n\r\n",
	                     NULL),
	    400);
	assert_int_equal(status_of("GET / HTTP/1.0\r\nX: a\r\n\tb\r\n\r\n",
	                     NULL),
	    400);
	/* Field names: no space before the colon, no empty name. */
	assert_int_equal(status_of("GET / HTTP/1.0\r\nX : a\r\n\r\n", NULL),
	    400);
	assert_int_equal(status_of("GET / HTTP/1.0\r\n: a\r\n\r\n", NULL), 400);
	assert_int_equal(status_of("GET / HTTP/1.0\r\nX a\r\n\r\n", NULL), 400);
	assert_int_equal(status_of("GET / HTTP/1.0\r\nX(y): a\r\n\r\n", NULL),
	    400);
	/* Host: exactly one in HTTP/1.1. */
	assert_int_equal(status_of("GET / HTTP/1.1\r\n\r\n", NULL), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n"
	                           "\r\n",
	                     NULL),
	    400);
}

static void
test_methods_and_bodies(void **state)
{
	(void)state;
	assert_int_equal(status_of("POST /healthz HTTP/1.1\r\nHost: a\r\n"
	                           "Content-Length: 5\r\n\r\nhello",
	                     NULL),
	    405);
	assert_int_equal(status_of("PUT / HTTP/1.0\r\n\r\n", NULL), 405);
	assert_int_equal(status_of("get / HTTP/1.0\r\n\r\n", NULL), 405);
	assert_int_equal(status_of("OPTIONS * HTTP/1.0\r\n\r\n", NULL), 400);
	assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: a\r\n"
	                           "Content-Length: 5\r\n\r\nhello",
	                     NULL),
	    413);
	assert_int_equal(status_of("GET / HTTP/1.0\r\nContent-Length: 007"
	                           "\r\n\r\n",
	                     NULL),
	    413);
	assert_int_equal(status_of("GET / HTTP/1.0\r\nContent-Length: -1"
	                           "\r\n\r\n",
	                     NULL),
	    400);
	assert_int_equal(status_of("GET / HTTP/1.0\r\nContent-Length: 1, 1"
	                           "\r\n\r\n",
	                     NULL),
	    400);
	assert_int_equal(status_of("GET / HTTP/1.0\r\nContent-Length:\r\n\r\n",
	                     NULL),
	    400);
	assert_int_equal(status_of("GET / HTTP/1.0\r\nContent-Length: "
	                           "99999999999999999999999\r\n\r\n",
	                     NULL),
	    400);
	assert_int_equal(
	    status_of("GET / HTTP/1.1\r\nHost: a\r\n"
	              "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	        NULL),
	    400);
}

static void
test_limits(void **state)
{
	struct status_request req;
	char *buf = xmalloc(4 * STATUS_HEAD_MAX);
	size_t n, i;

	(void)state;
	/* The request line at its limit passes, one byte more is 414. */
	n = (size_t)snprintf(buf, 64, "GET /");
	memset(buf + n, 'a', STATUS_LINE_MAX - n - 9);
	n = STATUS_LINE_MAX - 9;
	n += (size_t)snprintf(buf + n, 64, " HTTP/1.0\r\n\r\n");
	assert_int_equal(parse_n(buf, n, &req), 0);
	memmove(buf + 6, buf + 5, n - 5);
	assert_int_equal(parse_n(buf, n + 1, &req), ERR_INVALID);
	assert_int_equal(req.status, 414);
	/* A request line that never ends: 414 as soon as it is too long. */
	memset(buf, 'a', STATUS_LINE_MAX + 1);
	memcpy(buf, "GET /", 5);
	assert_int_equal(parse_n(buf, STATUS_LINE_MAX + 1, &req),
	    STATUS_PARSE_AGAIN);
	assert_int_equal(parse_n(buf, STATUS_LINE_MAX + 2, &req), ERR_INVALID);
	assert_int_equal(req.status, 414);

	/* Field lines without end: more only until STATUS_HEAD_MAX. */
	n = (size_t)snprintf(buf, 64, "GET / HTTP/1.0\r\n");
	while (n + 8 <= 2 * STATUS_HEAD_MAX) {
		memcpy(buf + n, "X-a: b\r\n", 8);
		n += 8;
	}
	assert_int_equal(parse_n(buf, STATUS_HEAD_MAX - 1, &req), ERR_INVALID);
	assert_int_equal(req.status, 431); /* too many fields first */
	/* One long field: the head limit. */
	n = (size_t)snprintf(buf, 64, "GET / HTTP/1.0\r\nX: ");
	memset(buf + n, 'v', 2 * STATUS_HEAD_MAX);
	assert_int_equal(parse_n(buf, STATUS_HEAD_MAX - 1, &req),
	    STATUS_PARSE_AGAIN);
	assert_int_equal(parse_n(buf, STATUS_HEAD_MAX, &req), ERR_INVALID);
	assert_int_equal(req.status, 431);
	assert_int_equal(parse_n(buf, 2 * STATUS_HEAD_MAX, &req), ERR_INVALID);
	assert_int_equal(req.status, 431);
	/* A complete head one byte over the limit is refused too. */
	n = (size_t)snprintf(buf, 64, "GET / HTTP/1.0\r\nX: ");
	memset(buf + n, 'v', STATUS_HEAD_MAX - n - 4 + 1);
	n = STATUS_HEAD_MAX + 1 - 4;
	memcpy(buf + n, "\r\n\r\n", 4);
	assert_int_equal(parse_n(buf, n + 4, &req), ERR_INVALID);
	assert_int_equal(req.status, 431);
	/* ... and exactly at the limit accepted. */
	memmove(buf + n - 1, buf + n, 4);
	assert_int_equal(parse_n(buf, STATUS_HEAD_MAX, &req), 0);
	assert_int_equal(req.head_len, STATUS_HEAD_MAX);

	/* STATUS_FIELDS_MAX fields pass, one more is 431. */
	n = (size_t)snprintf(buf, 64, "GET / HTTP/1.0\r\n");
	for (i = 0; i < STATUS_FIELDS_MAX; i++)
		n += (size_t)snprintf(buf + n, 64, "X-%zu: v\r\n", i);
	memcpy(buf + n, "\r\n", 2);
	assert_int_equal(parse_n(buf, n + 2, &req), 0);
	memcpy(buf + n, "Y: v\r\n\r\n", 8);
	assert_int_equal(parse_n(buf, n + 8, &req), ERR_INVALID);
	assert_int_equal(req.status, 431);
	free(buf);
}

static void
test_reasons(void **state)
{
	(void)state;
	assert_string_equal(status_reason(431),
	    "Request Header Fields Too Large");
	assert_string_equal(status_reason(414), "URI Too Long");
	assert_string_equal(status_reason(299), "Error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_probes),
		cmocka_unit_test(test_query_ignored),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_methods_and_bodies),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_reasons),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
