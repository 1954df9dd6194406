/*
 * status_parse.h - the request parser of the status server: the head of
 * one HTTP/1.x request (request line and header fields), from bytes in a
 * buffer, with no I/O and no allocation.
 *
 * The status server (worker/status.c) answers probes and scrapers on a
 * port that may be reachable from a whole cluster, so everything here is
 * strict and bounded: a ceiling on the request line, on the whole head and
 * on the number of fields; NUL, bare CR, control bytes, non-ASCII in the
 * method or target and obsolete line folding are refused; no request body
 * is accepted. Each refusal names the HTTP status to answer.
 */
#ifndef WORKER_STATUS_PARSE_H
#define WORKER_STATUS_PARSE_H

#include <stddef.h>

#include "common/error.h"

/*
 * The request line: the longest target we serve is "/metrics"; 1 KiB
 * leaves room for a query string a prober may add (ignored) and for an
 * absolute-form target, and is what a hand-written request never reaches.
 * Longer: 414.
 */
#define STATUS_LINE_MAX 1024
/*
 * The whole head (request line, fields, empty line). kubelet, Prometheus
 * and curl send under 300 bytes; proxies add a few forwarding fields.
 * 8 KiB is the common default (nginx's large_client_header_buffers,
 * Apache's LimitRequestFieldSize) and, times the connection cap of
 * status.c, bounds the server's input memory. Longer: 431.
 */
#define STATUS_HEAD_MAX 8192
/* Header fields: probes send 3-6; 32 leaves room for proxies and is far
 * below what could make the linear checks cost anything. More: 431. */
#define STATUS_FIELDS_MAX 32

/* Returned by status_parse_request while the head is incomplete and
 * nothing seen so far is wrong: read more and call again. */
#define STATUS_PARSE_AGAIN 1

enum status_method { STATUS_GET, STATUS_HEAD };

/* One parsed head. The path points into the caller's buffer. */
struct status_request {
	enum status_method method;
	const char *path; /* origin path, without query or fragment */
	size_t path_len;
	int minor;       /* HTTP/1.<minor> */
	size_t head_len; /* bytes of the head, the final empty line included */
	int status;      /* when refused: the HTTP status to answer */
};

/*
 * Parse the head of one request from buf[0..len) (the bytes received so
 * far; not NUL-terminated). Returns:
 *   0                  complete and acceptable: *req is filled;
 *   STATUS_PARSE_AGAIN incomplete, nothing wrong yet (len is then below
 *                      STATUS_HEAD_MAX);
 *   ERR_INVALID        refused: req->status holds 400, 405, 413, 414,
 *                      431 or 505 and err says why.
 * Bytes after the head are not looked at. Cost is linear in len.
 */
int status_parse_request(struct status_request *req, const char *buf,
    size_t len, struct error *err);

/* The reason phrase of a status code we send ("Not Found"); "Error" for
 * one we do not. */
const char *status_reason(int code);

#endif
