/*
 * status_fuzzer.c - status_parse_request on arbitrary bytes.
 *
 * Every byte a client sends to the status port goes through this parser,
 * so it must answer for any input with exactly one of "complete", "read
 * more" or a refusal carrying a status we know, never read past the end,
 * and keep its promises: a complete head is at most STATUS_HEAD_MAX bytes
 * and parses the same without the bytes after it, its path is a path
 * inside the buffer without query, "read more" never comes at or above
 * the limit, and a prefix of an incomplete head is incomplete too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzzer.h"
#include "worker/status_parse.h"

static void
fuzz_check_complete(const struct status_request *req, const char *buf,
    size_t size)
{
	struct status_request again;
	struct error err = { 0 };
	uintptr_t p = (uintptr_t)req->path, b = (uintptr_t)buf;

	if (req->head_len == 0 || req->head_len > size ||
	    req->head_len > STATUS_HEAD_MAX)
		abort();
	if (req->method != STATUS_GET && req->method != STATUS_HEAD)
		abort();
	if (req->path_len == 0 || req->path[0] != '/' ||
	    memchr(req->path, '?', req->path_len) != NULL ||
	    memchr(req->path, '#', req->path_len) != NULL)
		abort();
	/* Inside the buffer, or the "/" of an absolute-form target without
	 * a path. */
	if ((p < b || p + req->path_len > b + size) && req->path_len != 1)
		abort();
	if (status_parse_request(&again, buf, req->head_len, &err) != 0 ||
	    again.head_len != req->head_len || again.path_len != req->path_len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct status_request req, part;
	struct error err = { 0 };
	int rc;

	rc = status_parse_request(&req, buf, size, &err);
	if (rc == 0) {
		fuzz_check_complete(&req, buf, size);
	} else if (rc == STATUS_PARSE_AGAIN) {
		if (size >= STATUS_HEAD_MAX)
			abort();
		if (status_parse_request(&part, buf, size / 2, &err) !=
		    STATUS_PARSE_AGAIN)
			abort();
	} else if (rc == ERR_INVALID) {
		if (err.msg[0] == '\0' ||
		    strcmp(status_reason(req.status), "Error") == 0 ||
		    req.status < 400 || req.status > 505)
			abort();
	} else {
		fprintf(stderr, "unexpected code %d\n", rc);
		abort();
	}
	return 0;
}
