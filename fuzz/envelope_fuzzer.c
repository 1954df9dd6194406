/*
 * envelope_fuzzer.c - envelope_parse on arbitrary bytes.
 *
 * Every event enters through envelope_parse, from producers we do not
 * control, so it must reject anything malformed with INVALID_EVENT and
 * never crash, leak or read out of bounds. What it accepts must survive a
 * round trip: envelope_to_json parses again to the same top-level fields
 * (the daemon re-serializes envelopes into replies and dead letters). The
 * per-type checks and the reply builders run on every accepted input too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/envelope.h"
#include "fuzz/fuzzer.h"

static int
fuzz_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
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
	reply = envelope_failure(env, "ARTIFACT_COMMIT_FAILED", &err, NULL);
	envelope_free(reply);
	envelope_free(env);
	return 0;
}
