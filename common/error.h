/*
 * error.h - return codes and the caller-owned error record.
 *
 * Every fallible function returns 0 or one of the negative codes below,
 * chosen by what the caller must do with the event that caused it. Each
 * code has one meaning everywhere; what the daemon does with an event
 * that failed with it is decided in one place, handler_policy() in
 * worker/handler.c, and the answer's `retryable` is error_retryable().
 * The human text goes into a struct error the caller owns (no allocation,
 * no global state), together with the one-word code that failure events
 * carry in data.error.code (SECRET_DETECTED, PATH_REJECTED, ...).
 */
#ifndef COMMON_ERROR_H
#define COMMON_ERROR_H

#include <stdbool.h>
#include <stddef.h>

enum {
	ERR_OK = 0,
	/* Failed for good, not because of the input's form: a retry would
	 * fail the same way (a libgit2 or I/O error, credentials refused, a
	 * 4xx). Answer with a failure event, acknowledge; not retried. */
	ERR_FAIL = -1,
	/* The input is bad (or is a poison that crashed the worker): answer,
	 * dead-letter at once, never retry. */
	ERR_INVALID = -2,
	/* May pass if tried again (network, lock contention, 5xx, 429):
	 * retry with backoff, dead-letter after max-attempts. The only
	 * retryable code. */
	ERR_TRANSIENT = -3,
	/* What was looked up is not there. Often not an error to the
	 * caller; as an event's outcome (the tag a rollback names) it is
	 * bad input: dead-lettered at once. */
	ERR_NOTFOUND = -4,
	/* Something else already holds the name (a different file, a tag on
	 * another commit): answer, acknowledge; nothing is overwritten. */
	ERR_CONFLICT = -5
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

/* True when an event that failed with rc may succeed if tried again
 * (ERR_TRANSIENT alone): the daemon retries it, and answers and the CLI
 * say `retryable: true`. */
bool error_retryable(int rc);

#endif
