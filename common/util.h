/*
 * util.h - small helpers shared by every module: digests, time, files,
 * identifiers and secret masking. UTF-8 checks are in common/utf8.h.
 */
#ifndef COMMON_UTIL_H
#define COMMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/error.h"

#define UTIL_SHA256_HEX 65 /* 64 hex digits and the NUL */

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void util_hex(char *out, const unsigned char *p, size_t n);

/* SHA-256 of a buffer, as hex. */
void util_sha256_hex(char out[UTIL_SHA256_HEX], const void *p, size_t n);

/* SHA-256 of a file, streamed. Returns 0, ERR_NOTFOUND or ERR_FAIL.
 * Opens by name: only for files of our own (temporary files, config);
 * a path a producer named is opened with path_open_beneath (path.h). */
int util_sha256_file(char out[UTIL_SHA256_HEX], const char *path,
    struct error *err);

/* Current UTC time as "2025-11-07T14:30:00Z" into out (>= 21 bytes). */
void util_now_iso8601(char *out, size_t n);

/* Milliseconds since the epoch, and a monotonic clock in milliseconds. */
int64_t util_now_ms(void);
int64_t util_mono_ms(void);

/* Parse "2025-11-07T14:30:00Z" (also with fractional seconds or a
 * +hh:mm offset) into milliseconds since the epoch. Returns 0 or
 * ERR_INVALID. */
int util_parse_iso8601(int64_t *out_ms, const char *s);

/*
 * Read a whole regular file of at most max bytes, opened by name: for
 * trusted paths only (config, secrets files, corpora); files named by
 * events go through path_open_beneath and path_read_fd (path.h). *out is
 * NUL-terminated and belongs to the caller. Returns 0, ERR_NOTFOUND (missing),
 * ERR_INVALID (not a regular file, or larger than max) or ERR_FAIL.
 */
int util_read_file(char **out, size_t *len, const char *path, size_t max,
    struct error *err);

/* Write a whole file atomically (temp file + rename). */
int util_write_file(const char *path, const void *p, size_t n,
    struct error *err);

/*
 * True when s is a safe identifier for refs and paths: 1..128 bytes of
 * [A-Za-z0-9._-], not starting with '.' or '-', no "..", not ending in
 * '.' or ".lock". Workflow ids, task ids and correlation ids must pass it.
 */
bool util_id_valid(const char *s);

/*
 * A copy of a URL with any password replaced by "***"
 * ("redis://u:***@h:6379/0"). The caller frees it.
 */
char *util_redact_url(const char *url);

/* Seed the per-thread jitter source; util_jitter returns a uniform value
 * in [lo, hi]. */
uint64_t util_random_u64(void);
double util_jitter(double lo, double hi);

/* Parse a non-negative integer (decimal) with an upper bound. */
int util_parse_uint(long long *out, const char *s, long long max);

/* Parse a boolean: 1/0, true/false, yes/no, on/off. */
int util_parse_bool(bool *out, const char *s);

/*
 * Decode standard base64 (padding optional, whitespace ignored). *out is
 * NUL-terminated and belongs to the caller. Returns 0 or ERR_INVALID.
 */
int util_base64_decode(char **out, size_t *outlen, const char *in,
    size_t inlen);

/* Encode standard base64 with padding; the caller frees the result. */
char *util_base64_encode(const void *p, size_t n);

#endif
