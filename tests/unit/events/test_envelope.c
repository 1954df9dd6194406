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
	out = envelope_failure(in, "ARTIFACT_COMMIT_FAILED", &err, false, NULL);
	{
		cJSON *e = cJSON_GetObjectItem(out->data, "error");

		assert_string_equal(cJSON_GetObjectItem(e, "code")->valuestring,
		    "SECRET_DETECTED");
		assert_true(cJSON_IsFalse(cJSON_GetObjectItem(e, "retryable")));
	}
	envelope_free(out);
	error_set(&err, ERR_TRANSIENT, NULL, "503");
	out = envelope_failure(in, "PUBLISH_FAILED", &err, true, NULL);
	assert_true(cJSON_IsTrue(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(out->data, "error"),
	        "retryable")));
	envelope_free(out);
	envelope_free(in);
}

/* Parse n bytes (may hold NULs); expect INVALID_EVENT naming `why`. */
static void
refused(const char *s, size_t n, const char *why)
{
	struct envelope *env = NULL;
	struct error err = { 0 };

	assert_int_equal(envelope_parse(&env, s, n, &err), ERR_INVALID);
	assert_null(env);
	assert_string_equal(err.code, "INVALID_EVENT");
	if (strstr(err.msg, why) == NULL)
		fail_msg("\"%s\" does not say \"%s\"", err.msg, why);
}

#define REFUSED(lit, why) refused(lit, sizeof(lit) - 1, why)

static void
test_hostile_strings(void **state)
{
	struct envelope *env = NULL;
	struct error err = { 0 };
	const cJSON *f;

	(void)state;
	/* Bytes that are not UTF-8, anywhere (here in workflow_id). */
	REFUSED(
	    "{\"event_type\":\"TEST_PASSED\",\"workflow_id\":\"w\xff\xfe\"}",
	    "not valid UTF-8");
	REFUSED("{\"event_type\":\"X\",\"data\":{\"k\":\"\xc0\xaf\"}}",
	    "not valid UTF-8");
	/* \u0000 would cut the string: in content, type and id. */
	REFUSED(
	    "{\"event_type\":\"TEST_PASSED\",\"data\":{\"files\":[{\"name\":"
	    "\"a\",\"content\":\"before\\u0000after\"}]}}",
	    "\\u0000");
	REFUSED("{\"event_type\":\"TEST_PASSED\\u0000x\"}", "\\u0000");
	REFUSED("{\"event_id\":\"id\\u0000tail\",\"event_type\":\"X\"}",
	    "\\u0000");
	/* A raw NUL byte, and a raw control character inside a string. */
	REFUSED("{\"event_type\":\"X\"}\0", "NUL byte");
	REFUSED("{\"event_type\":\"X\x01\"}", "control character");
	/* Anything but whitespace after the object. */
	REFUSED("{\"event_type\":\"X\"}garbage", "after the JSON object");
	REFUSED("{\"event_type\":\"X\"}{\"event_type\":\"Y\"}",
	    "after the JSON object");
	/* Escaped control characters in an id would forge log lines and
	 * commit trailers. */
	REFUSED("{\"event_id\":\"a\\nlevel=warn\",\"event_type\":\"X\"}",
	    "field event_id holds a control character");
	REFUSED("{\"event_type\":\"X\",\"source\":\"a\\u007f\"}",
	    "field source holds a control character");

	/* Still fine: whitespace after the object, an escaped backslash
	 * before u0000 (text, not a NUL), other escapes in data, UTF-8. */
	assert_int_equal(
	    parse(&env,
	        "{\"event_type\":\"X\",\"data\":{\"a\":\"x\\\\u0000\","
	        "\"b\":\"\\u0001\\n\",\"c\":\"caf\xc3\xa9 \\ud83d\\ude00\"}}"
	        " \r\n\t",
	        &err),
	    0);
	f = cJSON_GetObjectItem(env->data, "a");
	assert_string_equal(f->valuestring, "x\\u0000");
	f = cJSON_GetObjectItem(env->data, "c");
	assert_string_equal(f->valuestring, "caf\xc3\xa9 \xf0\x9f\x98\x80");
	envelope_free(env);
	env = NULL;
	/* Base64 content that decodes to NUL bytes is binary data. */
	assert_int_equal(
	    parse(&env,
	        "{\"event_type\":\"X\",\"data\":{\"files\":[{\"name\":"
	        "\"b.bin\",\"content\":\"AAEA\",\"encoding\":\"base64\"}]}}",
	        &err),
	    0);
	envelope_free(env);
}

static void
test_plain_field_ids(void **state)
{
	char big[ENVELOPE_FIELD_MAX + 2];

	(void)state;
	assert_true(envelope_id_ok("evt-1", 5));
	assert_true(envelope_id_ok("caf\xc3\xa9", 5));
	assert_false(envelope_id_ok("", 0));
	assert_false(envelope_id_ok(NULL, 0));
	assert_false(envelope_id_ok("id\0tail", 7));
	assert_false(envelope_id_ok("a\nb", 3));
	assert_false(envelope_id_ok("\xff\xfe", 2));
	memset(big, 'a', sizeof(big));
	assert_true(envelope_id_ok(big, ENVELOPE_FIELD_MAX));
	assert_false(envelope_id_ok(big, ENVELOPE_FIELD_MAX + 1));
}

static void
test_trailing_dot_ids(void **state)
{
	struct envelope *env = NULL;
	struct error err = { 0 };

	(void)state;
	assert_int_equal(
	    parse(&env,
	        "{\"event_type\":\"TEST_PASSED\",\"workflow_id\":\"w\","
	        "\"task_id\":\"t.\",\"correlation_id\":\"c\","
	        "\"data\":{\"artifacts\":{\"a\":\"a.py\"}}}",
	        &err),
	    0);
	assert_int_equal(envelope_check_test_passed(env, true, &err),
	    ERR_INVALID);
	assert_non_null(strstr(err.msg, "task_id"));
	envelope_free(env);
	env = NULL;
	assert_int_equal(
	    parse(&env,
	        "{\"event_type\":\"TEST_PASSED\",\"workflow_id\":\"w\","
	        "\"task_id\":\"t\",\"correlation_id\":\"c.\","
	        "\"data\":{\"artifacts\":{\"a\":\"a.py\"}}}",
	        &err),
	    0);
	assert_int_equal(envelope_check_test_passed(env, true, &err),
	    ERR_INVALID);
	assert_non_null(strstr(err.msg, "correlation_id"));
	envelope_free(env);
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
		cmocka_unit_test(test_hostile_strings),
		cmocka_unit_test(test_plain_field_ids),
		cmocka_unit_test(test_trailing_dot_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
