/*
 * error.c - the caller-owned error record.
 */
#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/utf8.h"

const char *
error_default_code(int rc)
{
	switch (rc) {
	case ERR_OK:
		return "OK";
	case ERR_INVALID:
		return "INVALID_EVENT";
	case ERR_TRANSIENT:
		return "TRANSIENT";
	case ERR_NOTFOUND:
		return "NOT_FOUND";
	case ERR_CONFLICT:
		return "CONFLICT";
	default:
		return "FAILED";
	}
}

bool
error_retryable(int rc)
{
	return rc == ERR_TRANSIENT;
}

/*
 * The message travels in failure events, which consumers decode as UTF-8:
 * a byte that is not part of a well-formed sequence (from the input, or
 * a character cut by the size limit or a "%.200s") becomes '?', so one
 * bad producer cannot make every reader of the output stream fail.
 */
static void
error_repair_utf8(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t n = strlen(s), i = 0, k;

	while (i < n) {
		if ((k = utf8_seq(p + i, n - i)) == 0) {
			p[i] = '?';
			k = 1;
		}
		i += k;
	}
}

int
error_set(struct error *err, int rc, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return rc;
	err->rc = rc;
	snprintf(err->code, sizeof(err->code), "%s",
	    code != NULL ? code : error_default_code(rc));
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	error_repair_utf8(err->msg);
	return rc;
}

void
error_clear(struct error *err)
{
	if (err != NULL)
		memset(err, 0, sizeof(*err));
}
