/*
 * envelope.h - the JSON event envelope of DESIGN.md: parse, validate,
 * build replies, serialize.
 *
 * An envelope is parsed once, where it enters (the bus or the CLI), and
 * handed to handlers as a struct whose strings are owned copies. `data`
 * stays a cJSON tree because its shape depends on the event type; the
 * per-type checks live in envelope_check_*().
 */
#ifndef EVENTS_ENVELOPE_H
#define EVENTS_ENVELOPE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* The largest event we accept. Inline file content (base64) travels in
 * events, so this is generous, but a 10 MiB field is refused: Redis keeps
 * every entry in memory until it is trimmed. */
#define ENVELOPE_MAX_BYTES (8u * 1024 * 1024)
/* Longest value of any top-level string field (ids, type, timestamp). */
#define ENVELOPE_FIELD_MAX 256
/* Deepest nesting we parse, against stack exhaustion by hostile input. */
#define ENVELOPE_MAX_DEPTH 64

struct envelope {
	char *event_id;
	char *event_type;
	char *correlation_id; /* NULL when absent */
	char *workflow_id;
	char *task_id;
	char *source;
	char *timestamp;
	char *causation_id;
	cJSON *data;       /* owned; an empty object when absent */
	char *traceparent; /* the top-level W3C traceparent as given (checked
	                      by common/trace.h, not here); "" when present
	                      but not a string of at most ENVELOPE_FIELD_MAX
	                      bytes; NULL when absent. Not serialized. */
	bool event_id_derived; /* event_id was not in the JSON */
};

/*
 * Parse and validate the common envelope. The text must be UTF-8 without
 * NUL bytes or \u0000 escapes, with nothing but whitespace after the
 * object; top-level string fields must hold no control characters.
 * When the JSON has no event_id,
 * one is derived from the bytes ("sha256-<32 hex>"), so redeliveries and
 * replays of the same bytes keep the same id. *out belongs to the caller.
 * Returns 0 or ERR_INVALID (err->code INVALID_EVENT) naming the field.
 */
int envelope_parse(struct envelope **out, const char *buf, size_t len,
    struct error *err);

/* A new empty envelope of the given type with a fresh random event_id and
 * the current timestamp. */
struct envelope *envelope_new(const char *event_type);

/*
 * The answer to `in`: type `event_type`, the same correlation, workflow
 * and task, causation_id = in->event_id, source "artifactd", and a
 * deterministic event_id derived from (in->event_id, event_type, salt), so
 * re-emitting the same outcome yields the same id. `data` is taken over
 * (may be NULL for an empty object).
 */
struct envelope *envelope_reply(const struct envelope *in,
    const char *event_type, const char *salt, cJSON *data);

/* A failure answer: data.error = {code, message, retryable} merged into
 * `data` (taken over, may be NULL). `retryable` is what the caller does
 * with the event (retried, or answered for good), so the answer never
 * says otherwise. */
struct envelope *envelope_failure(const struct envelope *in,
    const char *event_type, const struct error *err, bool retryable,
    cJSON *data);

/*
 * True when the len bytes may serve as an id or type taken from a plain
 * stream field (event_id, event_type): 1..ENVELOPE_FIELD_MAX bytes of
 * UTF-8 without control characters or NUL, the rule envelope_parse
 * applies to the envelope's own string fields.
 */
bool envelope_id_ok(const char *s, size_t len);

/* Serialize (compact JSON). The caller frees the string. */
char *envelope_to_json(const struct envelope *env);

/* Replace the event id (e.g. with the stream's plain event_id field). */
void envelope_set_event_id(struct envelope *env, const char *event_id);

void envelope_free(struct envelope *env);

/*
 * Checks of TEST_PASSED: workflow_id and task_id present and safe for refs
 * and paths (PATH_REJECTED otherwise), correlation_id safe when present
 * (required when require_correlation is set), data.artifacts an object of
 * strings, data.files an array of strings or {name, content, encoding}.
 * Returns 0 or ERR_INVALID.
 */
int envelope_check_test_passed(const struct envelope *env,
    bool require_correlation, struct error *err);

/* Checks of RELEASE_TAGGED: data.tag a string, data.files an array of
 * strings. Returns 0 or ERR_INVALID. */
int envelope_check_release(const struct envelope *env, struct error *err);

/* Checks of ROLLBACK_REQUESTED: data.tag a string, data.branch optional
 * string. Returns 0 or ERR_INVALID. */
int envelope_check_rollback(const struct envelope *env, struct error *err);

/* Borrowed string member of data, or NULL. */
const char *envelope_data_string(const struct envelope *env, const char *key);

#endif
