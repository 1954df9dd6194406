/*
 * test_envelope.c - every field of the envelope and every rejection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/xalloc.h"
#include "events/envelope.h"

static const char full[] =
    "{\"event_id\":\"01JD3X\",\"event_type\":\"TEST_PASSED\","
    "\"correlation_id\":\"abc123\",\"workflow_id\":\"wf_rsi_strategy\","
    "\"task_id\":\"task_coder_001\",\"source\":\"tester\","
    "\"timestamp\":\"2025-11-07T14:30:00Z\",\"causation_id\":\"c1\","
    "\"data\":{\"artifacts\":{\"test_report\":\"a/test_report.json\"},"
    "\"metrics\":{\"total_trades\":12},\"prompt_hash\":\"7a8b\"}}";

static int
parse(struct envelope **env, const char *s, struct error *err)
{
	return envelope_parse(env, s, strlen(s), err);
}

static void
test_parse_every_field(void **state)
{
	struct envelope *env = NULL;
	struct error err = { 0 };

	(void)state;
	assert_int_equal(parse(&env, full, &err), 0);
	assert_string_equal(env->event_id, "01JD3X");
	assert_false(env->event_id_derived);
	assert_string_equal(env->event_type, "TEST_PASSED");
	assert_string_equal(env->correlation_id, "abc123");
	assert_string_equal(env->workflow_id, "wf_rsi_strategy");
	assert_string_equal(env->task_id, "task_coder_001");
	assert_string_equal(env->source, "tester");
	assert_string_equal(env->timestamp, "2025-11-07T14:30:00Z");
	assert_string_equal(env->causation_id, "c1");
	assert_string_equal(envelope_data_string(env, "prompt_hash"), "7a8b");
	assert_int_equal(envelope_check_test_passed(env, true, &err), 0);
	envelope_free(env);
}

static void
test_derived_id_is_stable(void **state)
{
	const char *s = "{\"event_type\":\"TEST_PASSED\"}";
	struct envelope *a = NULL, *b = NULL;

	(void)state;
	assert_int_equal(parse(&a, s, NULL), 0);
	assert_int_equal(parse(&b, s, NULL), 0);
	assert_true(a->event_id_derived);
	assert_string_equal(a->event_id, b->event_id);
	assert_int_equal(strncmp(a->event_id, "sha256-", 7), 0);
	assert_non_null(a->data);
	envelope_free(a);
	envelope_free(b);
}

struct reject {
	const char *json;
	const char *needle; /* in err.msg */
};

static void
test_rejections(void **state)
{
	static const struct reject cases[] = {
		{ "not json", "not valid JSON" },
		{ "", "not valid JSON" },
		{ "[1,2]", "not a JSON object" },
		{ "\"str\"", "not a JSON object" },
		{ "{\"data\":{}}", "event_type is missing" },
		{ "{\"event_type\":5}", "event_type must be a string" },
		{ "{\"event_type\":\"X\",\"event_id\":1}", "event_id must be" },
		{ "{\"event_type\":\"X\",\"correlation_id\":[]}",
		    "correlation_id must be" },
		{ "{\"event_type\":\"X\",\"workflow_id\":{}}",
		    "workflow_id must be" },
		{ "{\"event_type\":\"X\",\"task_id\":true}",
		    "task_id must be" },
		{ "{\"event_type\":\"X\",\"source\":1.5}", "source must be" },
		{ "{\"event_type\":\"X\",\"timestamp\":0}",
		    "timestamp must be" },
		{ "{\"event_type\":\"X\",\"causation_id\":0}",
		    "causation_id must be" },
		{ "{\"event_type\":\"X\",\"data\":[]}",
		    "data must be an object" },
		{ "{\"event_type\":\"X\",\"data\":\"s\"}",
		    "data must be an object" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct envelope *env = NULL;
		struct error err = { 0 };

		assert_int_equal(parse(&env, cases[i].json, &err), ERR_INVALID);
		assert_null(env);
		assert_string_equal(err.code, "INVALID_EVENT");
		if (strstr(err.msg, cases[i].needle) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg,
			    cases[i].needle);
	}
}

static void
test_size_and_depth_limits(void **state)
{
	size_t n = ENVELOPE_MAX_BYTES + 1, i;
	char *big = xmalloc(n + 1), *deep;
	struct envelope *env = NULL;
	struct error err = { 0 };
	char field[ENVELOPE_FIELD_MAX + 64];

	(void)state;
	memset(big, ' ', n);
	big[n] = '\0';
	assert_int_equal(envelope_parse(&env, big, n, &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "limit"));
	free(big);

	deep = xcalloc(1, 200 + 64);
	n = (size_t)snprintf(deep, 64,
	    "{\"event_type\":\"X\",\"data\":{\"a\":");
	for (i = 0; i < 200; i++)
		deep[n + i] = '[';
	assert_int_equal(parse(&env, deep, &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "nests deeper"));
	free(deep);

	memset(field, 'a', sizeof(field));
	memcpy(field, "{\"event_type\":\"", 15);
	memcpy(field + sizeof(field) - 3, "\"}", 3);
	assert_int_equal(parse(&env, field, &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "longer than"));
}

static void
test_check_test_passed(void **state)
{
	static const struct reject cases[] = {
		{ "{\"event_type\":\"TEST_PASSED\",\"workflow_id\":\"w\","
		  "\"correlation_id\":\"c\",\"data\":{\"files\":[\"a\"]}}",
		    "task_id is missing" },
		{ "{\"event_type\":\"TEST_PASSED\",\"task_id\":\"t\","
		  "\"correlation_id\":\"c\",\"data\":{\"files\":[\"a\"]}}",
		    "workflow_id is missing" },
		{ "{\"event_type\":\"TEST_PASSED\",\"task_id\":\"t\","
		  "\"workflow_id\":\"w\",\"data\":{\"files\":[\"a\"]}}",
		    "correlation_id is missing" },
		{ "{\"event_type\":\"TEST_PASSED\",\"task_id\":\"t\","
		  "\"workflow_id\":\"w\",\"correlation_id\":\"c\",\"data\":{}}",
		    "both empty" },
		{ "{\"event_type\":\"TEST_PASSED\",\"task_id\":\"t\","
		  "\"workflow_id\":\"w\",\"correlation_id\":\"c\","
		  "\"data\":{\"artifacts\":[\"a\"]}}",
		    "artifacts must be an object" },
		{ "{\"event_type\":\"TEST_PASSED\",\"task_id\":\"t\","
		  "\"workflow_id\":\"w\",\"correlation_id\":\"c\","
		  "\"data\":{\"artifacts\":{\"x\":1}}}",
		    "artifacts.x must be" },
		{ "{\"event_type\":\"TEST_PASSED\",\"task_id\":\"t\","
		  "\"workflow_id\":\"w\",\"correlation_id\":\"c\","
		  "\"data\":{\"files\":\"a\"}}",
		    "files must be an array" },
		{ "{\"event_type\":\"TEST_PASSED\",\"task_id\":\"t\","
		  "\"workflow_id\":\"w\",\"correlation_id\":\"c\","
		  "\"data\":{\"files\":[3]}}",
		    "must be a path or an object" },
		{ "{\"event_type\":\"TEST_PASSED\",\"task_id\":\"t\","
		  "\"workflow_id\":\"w\",\"correlation_id\":\"c\","
		  "\"data\":{\"files\":[{\"name\":\"a\"}]}}",
		    "needs string name and content" },
		{ "{\"event_type\":\"TEST_PASSED\",\"task_id\":\"t\","
		  "\"workflow_id\":\"w\",\"correlation_id\":\"c\","
		  "\"data\":{\"files\":[{\"name\":\"a\",\"content\":\"x\","
		  "\"encoding\":\"rot13\"}]}}",
		    "encoding must be" },
		{ "{\"event_type\":\"TEST_PASSED\",\"task_id\":\"t\","
		  "\"workflow_id\":\"w\",\"correlation_id\":\"c\","
		  "\"data\":{\"files\":[\"a\"],\"metrics\":[1]}}",
		    "metrics must be an object" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct envelope *env = NULL;
		struct error err = { 0 };

		assert_int_equal(parse(&env, cases[i].json, &err), 0);
		assert_int_equal(envelope_check_test_passed(env, true, &err),
		    ERR_INVALID);
		assert_string_equal(err.code, "INVALID_EVENT");
		if (strstr(err.msg, cases[i].needle) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg,
			    cases[i].needle);
		envelope_free(env);
	}
}

static void
test_unsafe_ids_are_path_rejected(void **state)
{
	static const char *bad[] = { "../x", "..", "a/b", ".hidden", "-opt",
		"x.lock", "a b", "a\\\\b", "" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct envelope *env = NULL;
		struct error err = { 0 };
		char json[256];

		snprintf(json, sizeof(json),
		    "{\"event_type\":\"TEST_PASSED\",\"workflow_id\":\"w\","
		    "\"correlation_id\":\"c\",\"task_id\":\"%s\","
		    "\"data\":{\"files\":[\"a\"]}}",
		    bad[i]);
		assert_int_equal(parse(&env, json, &err), 0);
		assert_int_equal(envelope_check_test_passed(env, true, &err),
		    ERR_INVALID);
		/* An empty id counts as missing. */
		assert_string_equal(err.code,
		    bad[i][0] ? "PATH_REJECTED" : "INVALID_EVENT");
		envelope_free(env);
	}
}

static void
test_release_and_rollback_checks(void **state)
{
	struct envelope *env = NULL;
	struct error err = { 0 };

	(void)state;
	assert_int_equal(parse(&env,
	                     "{\"event_type\":\"RELEASE_TAGGED\",\"data\":{"
	                     "\"tag\":\"v1.2.3\",\"files\":[\"d/x.whl\"]}}",
	                     &err),
	    0);
	assert_int_equal(envelope_check_release(env, &err), 0);
	envelope_free(env);
	assert_int_equal(parse(&env,
	                     "{\"event_type\":\"RELEASE_TAGGED\",\"data\":{"
	                     "\"tag\":\"v1\",\"files\":[]}}",
	                     &err),
	    0);
	assert_int_equal(envelope_check_release(env, &err), ERR_INVALID);
	envelope_free(env);
	assert_int_equal(parse(&env,
	                     "{\"event_type\":\"RELEASE_TAGGED\",\"data\":{"
	                     "\"files\":[\"a\"]}}",
	                     &err),
	    0);
	assert_int_equal(envelope_check_release(env, &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "data.tag"));
	envelope_free(env);
	assert_int_equal(parse(&env,
	                     "{\"event_type\":\"ROLLBACK_REQUESTED\",\"data\":{"
	                     "\"tag\":\"corr_x\",\"branch\":7}}",
	                     &err),
	    0);
	assert_int_equal(envelope_check_rollback(env, &err), ERR_INVALID);
	envelope_free(env);
}

static void
test_reply_and_failure(void **state)
{
	struct envelope *in = NULL, *out, *back = NULL, *again;
	struct error err = { 0 };
	char *json;

	(void)state;
	assert_int_equal(parse(&in, full, NULL), 0);
	out = envelope_reply(in, "ARTIFACT_COMMITTED", NULL, NULL);
	again = envelope_reply(in, "ARTIFACT_COMMITTED", NULL, NULL);
	/* The same outcome re-emitted keeps its id. */
	assert_string_equal(out->event_id, again->event_id);
	assert_string_equal(out->causation_id, "01JD3X");
	assert_string_equal(out->correlation_id, "abc123");
	assert_string_equal(out->workflow_id, "wf_rsi_strategy");
	assert_string_equal(out->task_id, "task_coder_001");
	assert_string_equal(out->source, "artifactd");
	json = envelope_to_json(out);
	assert_int_equal(parse(&back, json, NULL), 0);
	assert_string_equal(back->event_type, "ARTIFACT_COMMITTED");
	assert_string_equal(back->event_id, out->event_id);
	free(json);
	envelope_free(back);
	envelope_free(out);
	envelope_free(again);

	error_set(&err, ERR_INVALID, "SECRET_DETECTED", "rule=x file=y");
	out = envelope_failure(in, "ARTIFACT_COMMIT_FAILED", &err, NULL);
	{
		cJSON *e = cJSON_GetObjectItem(out->data, "error");

		assert_string_equal(cJSON_GetObjectItem(e, "code")->valuestring,
		    "SECRET_DETECTED");
		assert_true(cJSON_IsFalse(cJSON_GetObjectItem(e, "retryable")));
	}
	envelope_free(out);
	error_set(&err, ERR_TRANSIENT, NULL, "503");
	out = envelope_failure(in, "PUBLISH_FAILED", &err, NULL);
	assert_true(cJSON_IsTrue(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(out->data, "error"),
	        "retryable")));
	envelope_free(out);
	envelope_free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_every_field),
		cmocka_unit_test(test_derived_id_is_stable),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_size_and_depth_limits),
		cmocka_unit_test(test_check_test_passed),
		cmocka_unit_test(test_unsafe_ids_are_path_rejected),
		cmocka_unit_test(test_release_and_rollback_checks),
		cmocka_unit_test(test_reply_and_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
