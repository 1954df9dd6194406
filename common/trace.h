/*
 * trace.h - W3C Trace Context (https://www.w3.org/TR/trace-context/):
 * the `traceparent` of an incoming event, checked strictly, and the one
 * artifactd hands on in its answer.
 *
 * A traceparent of version 00 is exactly 55 bytes:
 *
 *	00-<trace-id: 32 hex>-<parent-id: 16 hex>-<flags: 2 hex>
 *
 * lower-case hex only, neither id all zeros (the specification's rules;
 * anything else is ignored, as it says a receiver must). An event without
 * a valid one gets a trace id of its own, derived from its event id, so
 * that a redelivery, a replay and the duplicate answer of an event stay on
 * one trace (and agree with the Trace-Id trailer of its commit). Our own
 * span id is derived the same way: the answer to one event is the same
 * bytes however often it is written.
 */
#ifndef COMMON_TRACE_H
#define COMMON_TRACE_H

#include <stdbool.h>
#include <stddef.h>

#define TRACE_ID_HEX 32     /* hex digits of a trace id */
#define TRACE_SPAN_HEX 16   /* hex digits of a span (parent) id */
#define TRACE_PARENT_LEN 55 /* a version-00 traceparent */
#define TRACE_PARENT_SIZE (TRACE_PARENT_LEN + 1)

struct trace {
	char trace_id[TRACE_ID_HEX + 1];    /* "" until set */
	char parent_id[TRACE_SPAN_HEX + 1]; /* the caller's span; "" if none */
	char span_id[TRACE_SPAN_HEX + 1];   /* ours */
	char flags[3];                      /* "01" sampled, "00" not */
};

/*
 * Parse a traceparent (len bytes, not NUL-terminated necessarily) into
 * t->trace_id, t->parent_id and t->flags. Returns true when it is a valid
 * version-00 value; t is left untouched otherwise.
 */
bool trace_parse(struct trace *t, const char *s, size_t len);

/*
 * Complete t for the handling of the event `event_id`: when t has no
 * trace id (no valid incoming traceparent) one is derived from the event
 * id (flags "00", no parent); our span id is derived from the event id
 * and the trace id. Deterministic: the same inputs give the same ids.
 */
void trace_start(struct trace *t, const char *event_id);

/* Our traceparent: "00-<trace_id>-<span_id>-<flags>" into out. t must
 * have been completed by trace_start. */
void trace_format(const struct trace *t, char out[TRACE_PARENT_SIZE]);

/* True when s is a valid trace id (32 lower-case hex, not all zeros). */
bool trace_id_ok(const char *s, size_t len);

#endif
