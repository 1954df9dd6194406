/*
 * trace.c - W3C traceparent: the strict check of an incoming value and
 * the ids of our own span (trace.h says why they are derived, not drawn).
 */
#include "common/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/xalloc.h"

/* n lower-case hex digits, not all '0' when nonzero is set. The
 * specification allows only lower case ("vendors MUST ignore" others). */
static bool
trace_hex(const char *s, size_t n, bool nonzero)
{
	bool zero = true;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		        (s[i] >= 'a' && s[i] <= 'f')))
			return false;
		if (s[i] != '0')
			zero = false;
	}
	return !(nonzero && zero);
}

bool
trace_id_ok(const char *s, size_t len)
{
	return len == TRACE_ID_HEX && trace_hex(s, len, true);
}

bool
trace_parse(struct trace *t, const char *s, size_t len)
{
	/* Version 00 has exactly these four fields; a longer value is
	 * refused (only a later version may append fields). */
	if (s == NULL || len != TRACE_PARENT_LEN || s[0] != '0' ||
	    s[1] != '0' || s[2] != '-' || s[35] != '-' || s[52] != '-' ||
	    !trace_hex(s + 3, TRACE_ID_HEX, true) ||
	    !trace_hex(s + 36, TRACE_SPAN_HEX, true) ||
	    !trace_hex(s + 53, 2, false))
		return false;
	memcpy(t->trace_id, s + 3, TRACE_ID_HEX);
	t->trace_id[TRACE_ID_HEX] = '\0';
	memcpy(t->parent_id, s + 36, TRACE_SPAN_HEX);
	t->parent_id[TRACE_SPAN_HEX] = '\0';
	memcpy(t->flags, s + 53, 2);
	t->flags[2] = '\0';
	return true;
}

/* The first n hex digits of SHA-256(label, a, b), never all zeros. */
static void
trace_derive(char *out, size_t n, const char *label, const char *a,
    const char *b)
{
	char hex[UTIL_SHA256_HEX];
	char *seed = xasprintf("%s\n%s\n%s", label, a, b);

	util_sha256_hex(hex, seed, strlen(seed));
	free(seed);
	memcpy(out, hex, n);
	out[n] = '\0';
	if (!trace_hex(out, n, true))
		out[n - 1] = '1'; /* all zeros is invalid: 1 in 2^64 */
}

void
trace_start(struct trace *t, const char *event_id)
{
	if (t->trace_id[0] == '\0') {
		trace_derive(t->trace_id, TRACE_ID_HEX, "artifactd-trace",
		    event_id, "");
		t->parent_id[0] = '\0';
		memcpy(t->flags, "00", 3);
	}
	trace_derive(t->span_id, TRACE_SPAN_HEX, "artifactd-span", event_id,
	    t->trace_id);
}

void
trace_format(const struct trace *t, char out[TRACE_PARENT_SIZE])
{
	snprintf(out, TRACE_PARENT_SIZE, "00-%s-%s-%s", t->trace_id, t->span_id,
	    t->flags);
}
