/*
 * envelope.c - the JSON event envelope: parse, validate, serialize.
 *
 * Validation is strict about types (a number where a string belongs is an
 * error naming the field) and lenient about unknown fields (producers may
 * add their own; they are ignored here and kept in `data`).
 */
#include "events/envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "common/util.h"
#include "common/xalloc.h"

/* The top-level string fields, in the order they are serialized. */
#define ENVELOPE_NFIELDS 8

static char **
envelope_field(struct envelope *env, size_t i)
{
	char **fields[ENVELOPE_NFIELDS] = { &env->event_id, &env->event_type,
		&env->correlation_id, &env->workflow_id, &env->task_id,
		&env->source, &env->timestamp, &env->causation_id };

	return fields[i];
}

static const char *const envelope_names[ENVELOPE_NFIELDS] = { "event_id",
	"event_type", "correlation_id", "workflow_id", "task_id", "source",
	"timestamp", "causation_id" };

void
envelope_free(struct envelope *env)
{
	size_t i;

	if (env == NULL)
		return;
	for (i = 0; i < ENVELOPE_NFIELDS; i++)
		free(*envelope_field(env, i));
	free(env->traceparent);
	cJSON_Delete(env->data);
	free(env);
}

/* Nesting depth of a cJSON tree, stopping early past the limit. */
static int
envelope_depth(const cJSON *node, int depth)
{
	const cJSON *child;
	int max = depth;

	if (depth > ENVELOPE_MAX_DEPTH)
		return depth;
	cJSON_ArrayForEach(child, node) {
		int d = envelope_depth(child, depth + 1);

		if (d > max)
			max = d;
		if (max > ENVELOPE_MAX_DEPTH)
			break;
	}
	return max;
}

/*
 * One pass over the raw text before cJSON sees it, for what cJSON lets
 * through: nesting deeper than ENVELOPE_MAX_DEPTH (cJSON recurses), bytes
 * that are not UTF-8 (cJSON copies them, and consumers that decode the
 * answers as UTF-8 fail on every later entry), NUL bytes, control
 * characters inside strings (JSON forbids them), and the escape \u0000,
 * which cJSON decodes into a C string that silently ends there
 * ("TEST_PASSED\u0000x" would be TEST_PASSED). Inline binary content
 * travels as base64, so no string of ours needs a NUL.
 */
static int
envelope_text_ok(const char *buf, size_t len, struct error *err)
{
	const unsigned char *p = (const unsigned char *)buf;
	bool in_string = false;
	int depth = 0;
	size_t i, k;

	for (i = 0; i < len; i += k) {
		unsigned char c = p[i];

		if ((k = utf8_seq(p + i, len - i)) == 0)
			return error_set(err, ERR_INVALID, "INVALID_EVENT",
			    "event is not valid UTF-8 (byte %zu)", i);
		if (c == '\0')
			return error_set(err, ERR_INVALID, "INVALID_EVENT",
			    "event holds a NUL byte (byte %zu)", i);
		if (in_string) {
			if (c < 0x20)
				return error_set(err, ERR_INVALID,
				    "INVALID_EVENT",
				    "raw control character in a string "
				    "(byte %zu)",
				    i);
			if (c == '"') {
				in_string = false;
			} else if (c == '\\' && i + 1 < len) {
				if (len - i >= 6 &&
				    memcmp(p + i + 1, "u0000", 5) == 0)
					return error_set(err, ERR_INVALID,
					    "INVALID_EVENT",
					    "\\u0000 in a string (byte %zu)",
					    i);
				/* The escaped character: one byte unless it
				 * starts a multi-byte sequence, checked on
				 * the next turn. */
				if (p[i + 1] < 0x80)
					k = 2;
			}
			continue;
		}
		if (c == '"')
			in_string = true;
		else if (c == '[' || c == '{') {
			if (++depth > ENVELOPE_MAX_DEPTH)
				return error_set(err, ERR_INVALID,
				    "INVALID_EVENT",
				    "event nests deeper than %d levels",
				    ENVELOPE_MAX_DEPTH);
		} else if (c == ']' || c == '}')
			depth--;
	}
	return 0;
}

bool
envelope_id_ok(const char *s, size_t len)
{
	return s != NULL && len > 0 && len <= ENVELOPE_FIELD_MAX &&
	       utf8_text_valid(s, len);
}

static void
envelope_derive_id(char *out, size_t n, const char *buf, size_t len)
{
	char hex[UTIL_SHA256_HEX];

	util_sha256_hex(hex, buf, len);
	snprintf(out, n, "sha256-%.32s", hex);
}

int
envelope_parse(struct envelope **out, const char *buf, size_t len,
    struct error *err)
{
	struct envelope *env = NULL;
	cJSON *root = NULL, *item;
	const char *end = NULL;
	int rc = ERR_INVALID;
	size_t i;

	if (len > ENVELOPE_MAX_BYTES) {
		error_set(err, rc, "INVALID_EVENT",
		    "event is %zu bytes, limit %u", len, ENVELOPE_MAX_BYTES);
		goto out;
	}
	if (envelope_text_ok(buf, len, err) < 0)
		goto out;
	if ((root = cJSON_ParseWithLengthOpts(buf, len, &end, 0)) == NULL) {
		error_set(err, rc, "INVALID_EVENT", "event is not valid JSON");
		goto out;
	}
	/* cJSON stops after the value: what follows must be whitespace,
	 * or "{...}garbage" would pass for the object alone. */
	for (; end < buf + len; end++) {
		if (*end != ' ' && *end != '\t' && *end != '\n' &&
		    *end != '\r') {
			error_set(err, rc, "INVALID_EVENT",
			    "bytes after the JSON object (byte %zu)",
			    (size_t)(end - buf));
			goto out;
		}
	}
	if (!cJSON_IsObject(root)) {
		error_set(err, rc, "INVALID_EVENT",
		    "event is not a JSON object");
		goto out;
	}
	if (envelope_depth(root, 0) > ENVELOPE_MAX_DEPTH) {
		error_set(err, rc, "INVALID_EVENT",
		    "event nests deeper than %d levels", ENVELOPE_MAX_DEPTH);
		goto out;
	}
	env = xcalloc(1, sizeof(*env));
	for (i = 0; i < ENVELOPE_NFIELDS; i++) {
		item =
		    cJSON_GetObjectItemCaseSensitive(root, envelope_names[i]);
		if (item == NULL || cJSON_IsNull(item))
			continue;
		if (!cJSON_IsString(item)) {
			error_set(err, rc, "INVALID_EVENT",
			    "field %s must be a string", envelope_names[i]);
			goto out;
		}
		if (strlen(item->valuestring) > ENVELOPE_FIELD_MAX) {
			error_set(err, rc, "INVALID_EVENT",
			    "field %s is longer than %d bytes",
			    envelope_names[i], ENVELOPE_FIELD_MAX);
			goto out;
		}
		/* These are logged, echoed in answers, written as plain
		 * stream fields and commit trailers: no control character
		 * (a "\n" escape would forge a log line or a trailer). */
		if (!utf8_text_valid(item->valuestring,
		        strlen(item->valuestring))) {
			error_set(err, rc, "INVALID_EVENT",
			    "field %s holds a control character",
			    envelope_names[i]);
			goto out;
		}
		if (item->valuestring[0] == '\0' && i != 0)
			continue; /* an empty value counts as absent */
		*envelope_field(env, i) = xstrdup(item->valuestring);
	}
	if (env->event_type == NULL) {
		error_set(err, rc, "INVALID_EVENT",
		    "field event_type is missing");
		goto out;
	}
	if (env->event_id == NULL || env->event_id[0] == '\0') {
		char id[64];

		free(env->event_id);
		envelope_derive_id(id, sizeof(id), buf, len);
		env->event_id = xstrdup(id);
		env->event_id_derived = true;
	}
	/* Trace context is never a reason to refuse an event: kept as
	 * given, checked by the worker (an invalid one is ignored). */
	item = cJSON_GetObjectItemCaseSensitive(root, "traceparent");
	if (item != NULL && !cJSON_IsNull(item))
		env->traceparent =
		    xstrdup(cJSON_IsString(item) && strlen(item->valuestring) <=
		                                        ENVELOPE_FIELD_MAX
		                ? item->valuestring
		                : "");
	item = cJSON_DetachItemFromObjectCaseSensitive(root, "data");
	if (item == NULL || cJSON_IsNull(item)) {
		cJSON_Delete(item);
		item = cJSON_CreateObject();
	} else if (!cJSON_IsObject(item)) {
		cJSON_Delete(item);
		error_set(err, rc, "INVALID_EVENT",
		    "field data must be an object");
		goto out;
	}
	env->data = item;
	*out = env;
	env = NULL;
	rc = 0;
out:
	envelope_free(env);
	cJSON_Delete(root);
	return rc;
}

struct envelope *
envelope_new(const char *event_type)
{
	struct envelope *env = xcalloc(1, sizeof(*env));
	unsigned char rnd[16];
	char ts[32], hex[33];
	uint64_t a = util_random_u64(), b = util_random_u64();

	memcpy(rnd, &a, 8);
	memcpy(rnd + 8, &b, 8);
	util_hex(hex, rnd, 16);
	util_now_iso8601(ts, sizeof(ts));
	env->event_id = xstrdup(hex);
	env->event_type = xstrdup(event_type);
	env->source = xstrdup("artifactd");
	env->timestamp = xstrdup(ts);
	env->data = cJSON_CreateObject();
	return env;
}

struct envelope *
envelope_reply(const struct envelope *in, const char *event_type,
    const char *salt, cJSON *data)
{
	struct envelope *env = envelope_new(event_type);
	char hex[UTIL_SHA256_HEX];
	char *seed;

	seed = xasprintf("%s\n%s\n%s", in->event_id, event_type,
	    salt != NULL ? salt : "");
	util_sha256_hex(hex, seed, strlen(seed));
	free(seed);
	free(env->event_id);
	env->event_id = xasprintf("%.32s", hex);
	env->correlation_id = xstrdup(in->correlation_id);
	env->workflow_id = xstrdup(in->workflow_id);
	env->task_id = xstrdup(in->task_id);
	env->causation_id = xstrdup(in->event_id);
	if (data != NULL) {
		cJSON_Delete(env->data);
		env->data = data;
	}
	return env;
}

struct envelope *
envelope_failure(const struct envelope *in, const char *event_type,
    const struct error *err, bool retryable, cJSON *data)
{
	cJSON *e = cJSON_CreateObject();

	if (data == NULL)
		data = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "code",
	    err->code[0] != '\0' ? err->code : error_default_code(err->rc));
	cJSON_AddStringToObject(e, "message", err->msg);
	cJSON_AddBoolToObject(e, "retryable", retryable);
	cJSON_DeleteItemFromObjectCaseSensitive(data, "error");
	cJSON_AddItemToObject(data, "error", e);
	return envelope_reply(in, event_type, err->code, data);
}

char *
envelope_to_json(const struct envelope *env)
{
	cJSON *root = cJSON_CreateObject();
	char *s;
	size_t i;

	for (i = 0; i < ENVELOPE_NFIELDS; i++) {
		const char *v =
		    *envelope_field((struct envelope *)(uintptr_t)env, i);

		if (v != NULL)
			cJSON_AddStringToObject(root, envelope_names[i], v);
	}
	cJSON_AddItemReferenceToObject(root, "data", env->data);
	s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (s == NULL)
		abort(); /* cJSON only fails on allocation */
	return s;
}

void
envelope_set_event_id(struct envelope *env, const char *event_id)
{
	free(env->event_id);
	env->event_id = xstrdup(event_id);
	env->event_id_derived = false;
}

const char *
envelope_data_string(const struct envelope *env, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(env->data, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

static int
envelope_check_id(const char *value, const char *name, bool required,
    struct error *err)
{
	if (value == NULL) {
		if (required)
			return error_set(err, ERR_INVALID, "INVALID_EVENT",
			    "field %s is missing", name);
		return 0;
	}
	if (!util_id_valid(value))
		return error_set(err, ERR_INVALID, "PATH_REJECTED",
		    "field %s is not a safe name (letters, digits, '.', '_', "
		    "'-'; no '..'; not ending in '.' or \".lock\")",
		    name);
	return 0;
}

static int
envelope_check_files(const cJSON *files, struct error *err)
{
	const cJSON *f;
	size_t i = 0;

	if (files == NULL)
		return 0;
	if (!cJSON_IsArray(files))
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "data.files must be an array");
	cJSON_ArrayForEach(f, files) {
		const cJSON *name, *content, *enc;

		if (cJSON_IsString(f)) {
			i++;
			continue;
		}
		if (!cJSON_IsObject(f))
			return error_set(err, ERR_INVALID, "INVALID_EVENT",
			    "data.files[%zu] must be a path or an object", i);
		name = cJSON_GetObjectItemCaseSensitive(f, "name");
		content = cJSON_GetObjectItemCaseSensitive(f, "content");
		enc = cJSON_GetObjectItemCaseSensitive(f, "encoding");
		if (!cJSON_IsString(name) || !cJSON_IsString(content))
			return error_set(err, ERR_INVALID, "INVALID_EVENT",
			    "data.files[%zu] needs string name and content", i);
		if (enc != NULL &&
		    !(cJSON_IsString(enc) &&
		        (strcmp(enc->valuestring, "utf-8") == 0 ||
		            strcmp(enc->valuestring, "base64") == 0)))
			return error_set(err, ERR_INVALID, "INVALID_EVENT",
			    "data.files[%zu].encoding must be utf-8 or base64",
			    i);
		i++;
	}
	return 0;
}

int
envelope_check_test_passed(const struct envelope *env, bool require_correlation,
    struct error *err)
{
	const cJSON *artifacts, *a, *files, *metrics;
	int rc;

	if ((rc = envelope_check_id(env->workflow_id, "workflow_id", true,
	         err)) < 0 ||
	    (rc = envelope_check_id(env->task_id, "task_id", true, err)) < 0 ||
	    (rc = envelope_check_id(env->correlation_id, "correlation_id",
	         require_correlation, err)) < 0)
		return rc;
	artifacts = cJSON_GetObjectItemCaseSensitive(env->data, "artifacts");
	files = cJSON_GetObjectItemCaseSensitive(env->data, "files");
	if (artifacts != NULL) {
		if (!cJSON_IsObject(artifacts))
			return error_set(err, ERR_INVALID, "INVALID_EVENT",
			    "data.artifacts must be an object of paths");
		cJSON_ArrayForEach(a, artifacts) {
			if (!cJSON_IsString(a))
				return error_set(err, ERR_INVALID,
				    "INVALID_EVENT",
				    "data.artifacts.%s must be a path string",
				    a->string);
		}
	}
	if ((rc = envelope_check_files(files, err)) < 0)
		return rc;
	if (cJSON_GetArraySize(artifacts) == 0 &&
	    cJSON_GetArraySize(files) == 0)
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "data.artifacts and data.files are both empty");
	metrics = cJSON_GetObjectItemCaseSensitive(env->data, "metrics");
	if (metrics != NULL && !cJSON_IsObject(metrics) &&
	    !cJSON_IsNull(metrics))
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "data.metrics must be an object");
	return 0;
}

int
envelope_check_release(const struct envelope *env, struct error *err)
{
	const cJSON *files, *f, *targets;

	if (envelope_data_string(env, "tag") == NULL)
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "data.tag must be a string");
	files = cJSON_GetObjectItemCaseSensitive(env->data, "files");
	if (!cJSON_IsArray(files) || cJSON_GetArraySize(files) == 0)
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "data.files must be a non-empty array of paths");
	cJSON_ArrayForEach(f, files) {
		if (!cJSON_IsString(f))
			return error_set(err, ERR_INVALID, "INVALID_EVENT",
			    "data.files must hold path strings");
	}
	targets = cJSON_GetObjectItemCaseSensitive(env->data, "targets");
	if (targets != NULL && !cJSON_IsArray(targets))
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "data.targets must be an array of target names");
	return 0;
}

int
envelope_check_rollback(const struct envelope *env, struct error *err)
{
	const cJSON *branch;

	if (envelope_data_string(env, "tag") == NULL)
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "data.tag must be a string");
	branch = cJSON_GetObjectItemCaseSensitive(env->data, "branch");
	if (branch != NULL && !cJSON_IsString(branch))
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "data.branch must be a string");
	return 0;
}
