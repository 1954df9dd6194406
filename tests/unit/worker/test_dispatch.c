/*
 * test_dispatch.c - the table of event types and the one policy: every
 * row's failure type, unknown types skipped, the action of every return
 * code, and answers whose `retryable` says what the loop does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "common/util.h"
#include "store/scan.h"
#include "worker/dispatch.h"
#include "worker/handler.h"

static const int all_codes[] = { ERR_OK, ERR_FAIL, ERR_INVALID, ERR_TRANSIENT,
	ERR_NOTFOUND, ERR_CONFLICT, -99 };
#define NCODES (sizeof(all_codes) / sizeof(all_codes[0]))

static const char good_commit[] =
    "{\"event_id\":\"e-1\",\"event_type\":\"TEST_PASSED\","
    "\"correlation_id\":\"c-1\",\"workflow_id\":\"wf\",\"task_id\":\"t1\","
    "\"source\":\"tester\",\"timestamp\":\"2025-11-07T14:30:00Z\","
    "\"data\":{\"artifacts\":{\"a.py\":\"a.py\"}}}";

/* s with the first `from` replaced by `to`; the caller frees. */
static char *
replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
	char *out = malloc(n);

	assert_non_null(at);
	snprintf(out, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	return out;
}

static int
setup(void **state)
{
	static struct config cfg;

	config_defaults(&cfg);
	*state = &cfg;
	return 0;
}

static int
teardown(void **state)
{
	config_dispose(*state);
	return 0;
}

/* The answer's data.error.retryable, parsed from the JSON text. */
static bool
answer_retryable(const struct handler_event *e)
{
	cJSON *root = cJSON_Parse(e->json);
	const cJSON *r;
	bool v;

	assert_non_null(root);
	r = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(root, "data"), "error"),
	    "retryable");
	assert_true(cJSON_IsBool(r));
	v = cJSON_IsTrue(r);
	cJSON_Delete(root);
	return v;
}

/* The typed fields of an outcome event equal those of its JSON text. */
static void
assert_typed(const struct handler_event *e)
{
	cJSON *root = cJSON_Parse(e->json);
	const cJSON *v, *code;

	assert_non_null(root);
	v = cJSON_GetObjectItemCaseSensitive(root, "event_type");
	assert_string_equal(e->type, v->valuestring);
	v = cJSON_GetObjectItemCaseSensitive(root, "event_id");
	assert_string_equal(e->event_id, v->valuestring);
	v = cJSON_GetObjectItemCaseSensitive(root, "correlation_id");
	if (cJSON_IsString(v))
		assert_string_equal(e->correlation_id, v->valuestring);
	else
		assert_null(e->correlation_id);
	code = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(root, "data"), "error"),
	    "code");
	if (cJSON_IsString(code))
		assert_string_equal(e->error_code, code->valuestring);
	else
		assert_null(e->error_code);
	cJSON_Delete(root);
}

static void
test_rows(void **state)
{
	const struct config *cfg = *state;
	const struct dispatch_type *t;
	size_t n, i;

	t = dispatch_types(&n);
	/* The first three in this order; later rows by name (each event
	 * type of a later issue adds its own). */
	assert_true(n >= 4);
	assert_string_equal(t[0].name, "TEST_PASSED");
	assert_string_equal(t[0].failure_type, "ARTIFACT_COMMIT_FAILED");
	assert_string_equal(dispatch_stream(cfg, &t[0]), cfg->test_stream);
	assert_string_equal(t[1].name, "ROLLBACK_REQUESTED");
	assert_string_equal(t[1].failure_type, "ARTIFACT_REVERT_FAILED");
	assert_string_equal(dispatch_stream(cfg, &t[1]), cfg->test_stream);
	assert_string_equal(t[2].name, "RELEASE_TAGGED");
	assert_string_equal(t[2].failure_type, "PUBLISH_FAILED");
	assert_string_equal(dispatch_stream(cfg, &t[2]), cfg->release_stream);
	t = dispatch_find(cfg, cfg->release_stream, "RELEASE_REQUESTED");
	assert_non_null(t);
	assert_string_equal(t->failure_type, "RELEASE_FAILED");
	assert_string_equal(dispatch_stream(cfg, t), cfg->release_stream);
	t = dispatch_types(&n);
	for (i = 0; i < n; i++) {
		/* Every row is complete, found by its name on its stream,
		 * and answers its failures with its own type, whichever
		 * stream the event came from. */
		assert_non_null(t[i].check);
		assert_non_null(t[i].key);
		assert_non_null(t[i].run);
		assert_ptr_equal(dispatch_find(cfg, dispatch_stream(cfg, &t[i]),
		                     t[i].name),
		    &t[i]);
		assert_string_equal(dispatch_failure_type(cfg,
		                        cfg->release_stream, t[i].name),
		    t[i].failure_type);
		assert_string_equal(dispatch_failure_type(cfg, cfg->test_stream,
		                        t[i].name),
		    t[i].failure_type);
	}
	/* An entry that did not parse: by its stream. */
	assert_string_equal(dispatch_failure_type(cfg, cfg->test_stream, NULL),
	    "ARTIFACT_COMMIT_FAILED");
	assert_string_equal(dispatch_failure_type(cfg, cfg->release_stream,
	                        "UNPARSEABLE"),
	    "PUBLISH_FAILED");
	assert_string_equal(dispatch_failure_type(cfg, "elsewhere", NULL),
	    "ARTIFACT_COMMIT_FAILED");
}

static void
test_streams(void **state)
{
	struct config *cfg = *state;
	const char *s[8];
	char *saved;

	assert_int_equal(dispatch_streams(cfg, s, 8), 2);
	assert_string_equal(s[0], cfg->test_stream);
	assert_string_equal(s[1], cfg->release_stream);
	assert_int_equal(dispatch_streams(cfg, s, 1), 1);
	/* One stream for both: read once. */
	saved = cfg->release_stream;
	cfg->release_stream = cfg->test_stream;
	assert_int_equal(dispatch_streams(cfg, s, 8), 1);
	cfg->release_stream = saved;
}

static void
test_unknown_skipped(void **state)
{
	struct config *cfg = *state;
	struct handler_ctx ctx = { cfg, NULL, NULL, NULL };
	struct handler_result res;
	struct handler_job *job = (struct handler_job *)&ctx;
	char *json = replace(good_commit, "TEST_PASSED", "TEST_FAILED");

	assert_null(dispatch_find(cfg, cfg->test_stream, "TEST_FAILED"));
	assert_null(dispatch_find(cfg, cfg->test_stream, NULL));
	assert_int_equal(handler_prepare(&ctx, &job, cfg->test_stream, json,
	                     strlen(json), NULL, &res),
	    ERR_NOTFOUND);
	assert_null(job);
	assert_int_equal(res.action, HANDLER_SKIP);
	assert_int_equal(res.nevents, 0);
	assert_string_equal(res.event_type, "TEST_FAILED");
	handler_result_dispose(&res);

	/* With require-test-passed off, TEST_* on the test stream is the
	 * TEST_PASSED row; on another stream it is still not ours. */
	cfg->require_test_passed = false;
	assert_ptr_equal(dispatch_find(cfg, cfg->test_stream, "TEST_FAILED"),
	    dispatch_find(cfg, cfg->test_stream, "TEST_PASSED"));
	assert_null(dispatch_find(cfg, cfg->release_stream, "TEST_FAILED"));
	assert_int_equal(handler_prepare(&ctx, &job, cfg->test_stream, json,
	                     strlen(json), NULL, &res),
	    0);
	assert_non_null(job);
	assert_string_equal(job->type->name, "TEST_PASSED");
	assert_string_equal(job->key, "branch:ai/generated/wf/t1");
	handler_job_free(job);
	handler_result_dispose(&res);
	cfg->require_test_passed = true;
	free(json);
}

static void
test_policy(void **state)
{
	struct handler_policy p;
	size_t i;

	(void)state;
	p = handler_policy(ERR_OK);
	assert_int_equal(p.action, HANDLER_ACK);
	assert_false(p.retryable);
	p = handler_policy(ERR_FAIL);
	assert_int_equal(p.action, HANDLER_ACK);
	assert_false(p.retryable);
	p = handler_policy(ERR_CONFLICT);
	assert_int_equal(p.action, HANDLER_ACK);
	assert_false(p.retryable);
	p = handler_policy(ERR_INVALID);
	assert_int_equal(p.action, HANDLER_DEAD_LETTER);
	assert_false(p.retryable);
	p = handler_policy(ERR_NOTFOUND);
	assert_int_equal(p.action, HANDLER_DEAD_LETTER);
	assert_false(p.retryable);
	p = handler_policy(ERR_TRANSIENT);
	assert_int_equal(p.action, HANDLER_RETRY);
	assert_true(p.retryable);
	p = handler_policy(-99);
	assert_int_equal(p.action, HANDLER_ACK);
	assert_false(p.retryable);
	for (i = 0; i < NCODES; i++) {
		p = handler_policy(all_codes[i]);
		assert_int_equal(p.retryable, p.action == HANDLER_RETRY);
		assert_int_equal(p.retryable, error_retryable(all_codes[i]));
	}
}

/* A handler's failure of every code: the action is the policy's and the
 * answer's retryable says whether the loop retries. */
static void
test_fail_consistent(void **state)
{
	struct config *cfg = *state;
	struct handler_ctx ctx = { cfg, NULL, NULL, NULL };
	struct handler_result res;
	struct handler_job *job = NULL;
	struct error err;
	size_t i;

	for (i = 1; i < NCODES; i++) {
		assert_int_equal(handler_prepare(&ctx, &job, cfg->test_stream,
		                     good_commit, strlen(good_commit), NULL,
		                     &res),
		    0);
		error_set(&err, all_codes[i], NULL, "failure %zu", i);
		handler_fail(&res, job, &err);
		assert_int_equal(res.nevents, 1);
		assert_int_equal(res.action,
		    handler_policy(all_codes[i]).action);
		assert_int_equal(answer_retryable(&res.events[0]),
		    res.action == HANDLER_RETRY);
		assert_string_equal(res.events[0].type,
		    "ARTIFACT_COMMIT_FAILED");
		assert_string_equal(res.events[0].error_code, err.code);
		assert_string_equal(res.events[0].correlation_id, "c-1");
		assert_typed(&res.events[0]);
		assert_non_null(strstr(res.reason, err.msg));
		handler_job_free(job);
		handler_result_dispose(&res);
	}
}

/* The loop's refusals (too many fields, crash letters) go through the
 * same answer: same stand-in id, same policy. */
static void
test_refuse(void **state)
{
	struct config *cfg = *state;
	struct handler_ctx ctx = { cfg, NULL, NULL, NULL };
	struct handler_result a, b;
	struct handler_job *job = NULL;
	static const char junk[] = "{not json";
	char hex[UTIL_SHA256_HEX], id[64];
	struct error err;
	size_t i;

	util_sha256_hex(hex, junk, sizeof(junk) - 1);
	snprintf(id, sizeof(id), "sha256-%.32s", hex);
	/* Unparseable on the handler's path and on the loop's: one id,
	 * derived from the bytes (the loop used a random one). */
	assert_int_equal(handler_prepare(&ctx, &job, cfg->release_stream, junk,
	                     sizeof(junk) - 1, NULL, &a),
	    ERR_INVALID);
	error_set(&err, ERR_INVALID, "CRASH", "delivered 5 times");
	handler_refuse(&ctx, cfg->release_stream, junk, sizeof(junk) - 1, NULL,
	    NULL, &err, strdup("max deliveries reached (5)"), &b);
	assert_string_equal(a.event_id, id);
	assert_string_equal(b.event_id, id);
	assert_int_equal(a.action, HANDLER_DEAD_LETTER);
	assert_int_equal(b.action, HANDLER_DEAD_LETTER);
	assert_string_equal(a.events[0].type, "PUBLISH_FAILED");
	assert_string_equal(b.events[0].type, "PUBLISH_FAILED");
	assert_string_equal(b.events[0].error_code, "CRASH");
	assert_string_equal(b.reason, "max deliveries reached (5)");
	assert_false(answer_retryable(&a.events[0]));
	assert_false(answer_retryable(&b.events[0]));
	assert_typed(&a.events[0]);
	assert_typed(&b.events[0]);
	handler_result_dispose(&a);
	handler_result_dispose(&b);

	/* The plain fields stand in when nothing parses; a parsed envelope
	 * gives its own type. */
	handler_refuse(&ctx, cfg->test_stream, junk, sizeof(junk) - 1, "p-1",
	    "ROLLBACK_REQUESTED", &err, NULL, &a);
	assert_string_equal(a.event_id, "p-1");
	assert_string_equal(a.events[0].type, "ARTIFACT_REVERT_FAILED");
	assert_string_equal(a.reason, "CRASH: delivered 5 times");
	handler_result_dispose(&a);
	handler_refuse(&ctx, cfg->release_stream, good_commit,
	    strlen(good_commit), "p-1", "RELEASE_TAGGED", &err, NULL, &a);
	assert_string_equal(a.event_id, "e-1");
	assert_string_equal(a.events[0].type, "ARTIFACT_COMMIT_FAILED");
	assert_string_equal(a.events[0].correlation_id, "c-1");
	handler_result_dispose(&a);

	/* Every code: the action is the policy's, retryable agrees. */
	for (i = 1; i < NCODES; i++) {
		error_set(&err, all_codes[i], NULL, "refused");
		handler_refuse(&ctx, cfg->test_stream, good_commit,
		    strlen(good_commit), NULL, NULL, &err, NULL, &a);
		assert_int_equal(a.action, handler_policy(all_codes[i]).action);
		assert_int_equal(answer_retryable(&a.events[0]),
		    a.action == HANDLER_RETRY);
		handler_result_dispose(&a);
	}
}

/* Bad input found before a handler runs is never retried, whatever
 * code the check chose; a ref name git refuses is such input. */
static void
test_prepare_invalid(void **state)
{
	struct config *cfg = *state;
	struct handler_ctx ctx = { cfg, NULL, NULL, NULL };
	struct handler_result res;
	struct handler_job *job = NULL;
	char *json = replace(good_commit, "\"t1\"", "\"a..b\"");

	assert_true(handler_prepare(&ctx, &job, cfg->test_stream, json,
	                strlen(json), NULL, &res) < 0);
	assert_null(job);
	assert_int_equal(res.action, HANDLER_DEAD_LETTER);
	assert_int_equal(res.nevents, 1);
	assert_string_equal(res.events[0].type, "ARTIFACT_COMMIT_FAILED");
	assert_false(answer_retryable(&res.events[0]));
	assert_typed(&res.events[0]);
	handler_result_dispose(&res);
	assert_int_equal(handler_prepare(&ctx, &job, cfg->test_stream, NULL, 0,
	                     "e-9", &res),
	    ERR_INVALID);
	assert_string_equal(res.event_id, "e-9");
	assert_int_equal(res.action, HANDLER_DEAD_LETTER);
	handler_result_dispose(&res);
	free(json);
}

/* A secret in an id is neither logged nor echoed: with the daemon's
 * scanner, the entry is answered SECRET_DETECTED and dead-lettered under
 * its derived id, on the handler's path and on the loop's refusals. */
static void
test_secret_ids(void **state)
{
	struct config *cfg = *state;
	struct handler_ctx ctx = { cfg, NULL, NULL, NULL };
	struct handler_result res;
	struct handler_job *job = NULL;
	struct scanner *sc = NULL;
	struct error err;
	/* An AWS access key id, built here so that no file holds one. */
	char key[32], quoted[40], hex[UTIL_SHA256_HEX], id[64], *json, *json2;

	snprintf(key, sizeof(key), "%s%s", "AKIA", "QZ7XJ3K5M2N4P6R2");
	snprintf(quoted, sizeof(quoted), "\"%s\"", key);
	assert_int_equal(scanner_new(&sc, NULL, 0, NULL, 0, &err), 0);
	ctx.scanner = sc;
	json = replace(good_commit, "\"e-1\"", quoted);
	util_sha256_hex(hex, json, strlen(json));
	snprintf(id, sizeof(id), "sha256-%.32s", hex);
	assert_int_equal(handler_prepare(&ctx, &job, cfg->test_stream, json,
	                     strlen(json), key, &res),
	    ERR_INVALID);
	assert_null(job);
	assert_string_equal(res.event_id, id);
	assert_int_equal(res.action, HANDLER_DEAD_LETTER);
	assert_int_equal(res.nevents, 1);
	assert_string_equal(res.events[0].error_code, "SECRET_DETECTED");
	assert_null(strstr(res.events[0].json, key));
	assert_non_null(strstr(res.events[0].json, id));
	assert_null(strstr(res.reason, key));
	assert_false(answer_retryable(&res.events[0]));
	handler_result_dispose(&res);

	/* In another id (echoed as correlation_id), and on the loop's
	 * refusal path where the plain field stands in. */
	json2 = replace(good_commit, "\"c-1\"", quoted);
	util_sha256_hex(hex, json2, strlen(json2));
	snprintf(id, sizeof(id), "sha256-%.32s", hex);
	assert_int_equal(handler_prepare(&ctx, &job, cfg->test_stream, json2,
	                     strlen(json2), NULL, &res),
	    ERR_INVALID);
	assert_string_equal(res.event_id, "e-1");
	assert_string_equal(res.events[0].correlation_id, id);
	assert_string_equal(res.events[0].error_code, "SECRET_DETECTED");
	handler_result_dispose(&res);
	error_set(&err, ERR_INVALID, "CRASH", "delivered 5 times");
	handler_refuse(&ctx, cfg->test_stream, "{x", 2, key, NULL, &err, NULL,
	    &res);
	util_sha256_hex(hex, "{x", 2);
	snprintf(id, sizeof(id), "sha256-%.32s", hex);
	assert_string_equal(res.event_id, id);
	assert_null(strstr(res.events[0].json, key));
	assert_non_null(strstr(res.events[0].json, id));
	handler_result_dispose(&res);

	/* Clean ids go through untouched. */
	assert_int_equal(handler_prepare(&ctx, &job, cfg->test_stream,
	                     good_commit, strlen(good_commit), NULL, &res),
	    0);
	assert_string_equal(res.event_id, "e-1");
	handler_result_dispose(&res);
	handler_job_free(job);
	scanner_free(sc);
	free(json);
	free(json2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_streams),
		cmocka_unit_test(test_unknown_skipped),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_fail_consistent),
		cmocka_unit_test(test_refuse),
		cmocka_unit_test(test_prepare_invalid),
		cmocka_unit_test(test_secret_ids),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
