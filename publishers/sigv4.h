/*
 * sigv4.h - AWS Signature Version 4 for the S3 and CodeArtifact publishers.
 *
 * The signer takes a request as the publisher means it (method, endpoint,
 * decoded path, query parameters, the headers it will send and the hash of
 * the body) and returns everything that must go on the wire for the
 * signature to hold: the encoded URL and the headers to add (Host,
 * X-Amz-Date, X-Amz-Security-Token, X-Amz-Content-SHA256, Authorization).
 * Building the URL and the signature from the same input is what keeps the
 * two in agreement. The rules are those of botocore's SigV4Auth and
 * S3SigV4Auth (see docs/internals/aws.md); a test compares our output with
 * Debian's python3-botocore on the same requests.
 */
#ifndef PUBLISHERS_SIGV4_H
#define PUBLISHERS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/error.h"

/* The payload hash S3 accepts when the body is not hashed (TLS only). */
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* Hex SHA-256 of the empty string: the payload hash of a body-less call. */
#define SIGV4_EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Limits on what a caller may hand us. They are far above anything the
 * publishers send (a dozen headers, four query parameters, an S3 key of
 * at most 1024 bytes) and only guard against a runaway caller. */
#define SIGV4_MAX_HEADERS 64
#define SIGV4_MAX_PARAMS 64
#define SIGV4_MAX_PATH 4096

struct sigv4_credentials {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* NULL or "" when there is none */
};

/* One query parameter, decoded. value NULL means the key alone
 * ("?uploads"), which is signed as "uploads=". */
struct sigv4_param {
	const char *key;
	const char *value;
};

/* A header the caller sends itself, with the value it sends. */
struct sigv4_header {
	const char *name;
	const char *value;
};

struct sigv4_request {
	const char *method;   /* "GET", "PUT", ... */
	const char *endpoint; /* "https://host[:port]", no path */
	const char *path;     /* decoded, starts with '/', e.g. "/b/a b.whl" */
	const struct sigv4_param *params;
	size_t n_params;
	const struct sigv4_header *headers; /* all signed, except Expect,
	                                       User-Agent, X-Amzn-Trace-Id */
	size_t n_headers;
	/* Hex SHA-256 of the body, SIGV4_UNSIGNED_PAYLOAD (S3 only), or NULL
	 * for an empty body. */
	const char *payload_hash;
};

struct sigv4_scope {
	const char *region;  /* "us-east-1" */
	const char *service; /* "s3", "codeartifact", ... */
	/* S3 rules: the path is signed as sent (encoded once, not
	 * normalized) and X-Amz-Content-SHA256 is sent and signed. Other
	 * services: the path is normalized and encoded a second time. */
	bool s3;
	time_t now; /* the signing time, seconds since the epoch */
};

/* What sigv4_sign produces; every string belongs to the result. */
struct sigv4_signed {
	char *url;      /* endpoint + encoded path + "?" + query */
	char **headers; /* "Name: value" lines to send */
	size_t n_headers;
	char *canonical_request; /* for tests and debug logs: no secret */
	char *string_to_sign;
	char signature[65];
};

/*
 * Sign a request. On success *out is filled (release it with
 * sigv4_signed_dispose); on failure it is left zeroed. The secret key is
 * used only to derive the signing key and never copied into the result.
 * Returns 0, or ERR_INVALID for a malformed endpoint, a path that does not
 * start with '/', a header name or value with CR/LF, too many headers or
 * parameters, or UNSIGNED-PAYLOAD outside S3.
 */
int sigv4_sign(struct sigv4_signed *out, const struct sigv4_credentials *cred,
    const struct sigv4_scope *scope, const struct sigv4_request *req,
    struct error *err);

/* Free what sigv4_sign put into s (which may be zeroed). */
void sigv4_signed_dispose(struct sigv4_signed *s);

/*
 * Percent-encode s as AWS wants it: unreserved characters (A-Z a-z 0-9
 * - _ . ~) stay, every other byte becomes %XX (upper-case); '/' stays when
 * keep_slash. Returns a new string the caller frees.
 */
char *sigv4_uri_encode(const char *s, bool keep_slash);

/*
 * The value of the Host header for an endpoint URL, as botocore derives
 * it: lower-case host, ":port" only when not the scheme's default.
 * *out belongs to the caller. Returns 0 or ERR_INVALID.
 */
int sigv4_endpoint_host(char **out, const char *endpoint, struct error *err);

/* Format t as "20150830T123600Z" (amz) into out (>= 17 bytes). */
void sigv4_amz_date(char *out, size_t n, time_t t);

#endif
