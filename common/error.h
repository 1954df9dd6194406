/*
 * error.h - return codes and the caller-owned error record.
 *
 * Every fallible function returns 0 or one of the negative codes below,
 * chosen by what the caller must do with the event that caused it. The
 * human text goes into a struct error the caller owns (no allocation, no
 * global state), together with the one-word code that failure events carry
 * in data.error.code (SECRET_DETECTED, PATH_REJECTED, ...).
 */
#ifndef COMMON_ERROR_H
#define COMMON_ERROR_H

#include <stdbool.h>
#include <stddef.h>

enum {
	ERR_OK = 0,
	ERR_FAIL = -1,      /* failed for good: answer with a failure event */
	ERR_INVALID = -2,   /* bad input: dead-letter at once, never retry */
	ERR_TRANSIENT = -3, /* network, lock, 5xx: retry with backoff */
	ERR_NOTFOUND = -4,  /* lookup found nothing; often not an error */
	ERR_CONFLICT = -5   /* something else already holds the name */
};

/* Long enough for a path, a rule name and a line number; longer text is
 * truncated, never allocated. */
#define ERROR_MSG_MAX 512
#define ERROR_CODE_MAX 32

struct error {
	int rc;
	char code[ERROR_CODE_MAX];
	char msg[ERROR_MSG_MAX];
};

/*
 * Fill err (which may be NULL) with rc, the one-word code and a printf-style
 * message. When code is NULL a default word is derived from rc. Returns rc,
 * so `return error_set(err, ERR_INVALID, ...)` reads naturally.
 */
int error_set(struct error *err, int rc, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Clears err (may be NULL). */
void error_clear(struct error *err);

/* The default one-word code for a return code ("INVALID_EVENT", ...). */
const char *error_default_code(int rc);

/* True when an event that failed with rc may succeed if tried again. */
bool error_retryable(int rc);

#endif
