/*
 * envelope_fuzzer.c - envelope_parse on arbitrary bytes.
 *
 * Every event enters through envelope_parse, from producers we do not
 * control, so it must reject anything malformed with INVALID_EVENT and
 * never crash, leak or read out of bounds. What it accepts must survive a
 * round trip: envelope_to_json parses again to the same top-level fields
 * (the daemon re-serializes envelopes into replies and dead letters). The
 * per-type checks and the reply builders run on every accepted input too.
 *
 * The string rules are invariants checked on every accepted input: each
 * top-level field is UTF-8 without control characters or NUL, and every
 * key and string value inside data is UTF-8 (a NUL cannot be hidden in
 * one: "\u0000" is refused before parsing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "events/envelope.h"
#include "fuzz/fuzzer.h"

static int
fuzz_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Every key and string value of a tree is UTF-8; aborts otherwise. */
static void
fuzz_check_strings(const cJSON *node)
{
	const cJSON *child;

	if (node->string != NULL &&
	    !utf8_valid(node->string, strlen(node->string)))
		abort();
	if (cJSON_IsString(node) &&
	    !utf8_valid(node->valuestring, strlen(node->valuestring)))
		abort();
	cJSON_ArrayForEach(child, node)
		fuzz_check_strings(child);
}

static void
fuzz_check_field(const char *v)
{
	if (v != NULL && !utf8_text_valid(v, strlen(v))) {
		fprintf(stderr, "accepted a field with a control byte or bad "
		                "UTF-8\n");
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope *env = NULL, *again = NULL, *reply;
	struct error err = { 0 };
	char *json;
	int rc;

	rc = envelope_parse(&env, (const char *)data, size, &err);
	if (rc != 0) {
		if (rc != ERR_INVALID || env != NULL || err.code[0] == '\0')
			abort();
		return 0;
	}
	fuzz_check_field(env->event_id);
	fuzz_check_field(env->event_type);
	fuzz_check_field(env->correlation_id);
	fuzz_check_field(env->workflow_id);
	fuzz_check_field(env->task_id);
	fuzz_check_field(env->source);
	fuzz_check_field(env->timestamp);
	fuzz_check_field(env->causation_id);
	fuzz_check_strings(env->data);
	(void)envelope_id_ok(env->event_id, strlen(env->event_id));
	(void)envelope_check_test_passed(env, false, &err);
	(void)envelope_check_test_passed(env, true, &err);
	(void)envelope_check_release(env, &err);
	(void)envelope_check_rollback(env, &err);
	(void)envelope_data_string(env, "tag");

	json = envelope_to_json(env);
	if (strlen(json) <= ENVELOPE_MAX_BYTES) {
		if (envelope_parse(&again, json, strlen(json), &err) != 0) {
			fprintf(stderr, "round trip rejected: %s\n", err.msg);
			abort();
		}
		if (!fuzz_same(env->event_id, again->event_id) ||
		    !fuzz_same(env->event_type, again->event_type) ||
		    !fuzz_same(env->correlation_id, again->correlation_id) ||
		    !fuzz_same(env->workflow_id, again->workflow_id) ||
		    !fuzz_same(env->task_id, again->task_id) ||
		    !fuzz_same(env->source, again->source) ||
		    !fuzz_same(env->timestamp, again->timestamp) ||
		    !fuzz_same(env->causation_id, again->causation_id)) {
			fprintf(stderr, "round trip changed a field\n");
			abort();
		}
		envelope_free(again);
	}
	free(json);

	reply = envelope_reply(env, "ARTIFACT_COMMITTED", "fuzz", NULL);
	json = envelope_to_json(reply);
	free(json);
	envelope_free(reply);
	error_set(&err, ERR_INVALID, "INVALID_EVENT", "fuzz");
	reply =
	    envelope_failure(env, "ARTIFACT_COMMIT_FAILED", &err, false, NULL);
	json = envelope_to_json(reply);
	if (!utf8_valid(json, strlen(json)))
		abort();
	free(json);
	envelope_free(reply);
	envelope_free(env);
	return 0;
}
