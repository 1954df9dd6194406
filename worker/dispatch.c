/*
 * dispatch.c - the table of event types, the policy from a return code to
 * what the loop does, and the shape of every answer.
 *
 * handler_prepare routes an entry through the table; handler_run runs
 * the row's handler; handler_refuse answers entries the loop will not
 * hand to a handler. Every failure answer, whoever writes it, is built by
 * handler_answer_failure (handler.c), so the stand-in for an entry that
 * does not parse, the failure event's type and the action are decided
 * once. The table names the handlers and the handlers use handler.c's
 * helpers, never this file: dependencies point one way.
 */
#include "worker/dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "events/envelope.h"
#include "store/scan.h"
#include "worker/handle_release_rollback.h"

/*
 * The event types. Adding one is one row here and one handle_<what>.c
 * (docs/internals/worker.md lists the steps). Rows reading the same
 * stream: the first one's failure type answers that stream's entries
 * that do not parse.
 */
static const struct dispatch_type dispatch_table[] = {
	{ "TEST_PASSED", offsetof(struct config, test_stream),
	    "ARTIFACT_COMMIT_FAILED", handle_commit_check, handle_commit_key,
	    handle_commit, "TEST_" },
	{ "ROLLBACK_REQUESTED", offsetof(struct config, test_stream),
	    "ARTIFACT_REVERT_FAILED", handle_rollback_check,
	    handle_rollback_key, handle_rollback, NULL },
	{ "RELEASE_TAGGED", offsetof(struct config, release_stream),
	    "PUBLISH_FAILED", handle_release_check, handle_release_key,
	    handle_release, NULL },
	{ "RELEASE_ROLLBACK_REQUESTED", offsetof(struct config, release_stream),
	    "RELEASE_ROLLBACK_FAILED", handle_release_rollback_check,
	    handle_release_rollback_key, handle_release_rollback, NULL },
	{ "RELEASE_REQUESTED", offsetof(struct config, release_stream),
	    "RELEASE_FAILED", handle_release_request_check,
	    handle_release_request_key, handle_release_request, NULL },
};

#define DISPATCH_NTYPES (sizeof(dispatch_table) / sizeof(dispatch_table[0]))

const struct dispatch_type *
dispatch_types(size_t *n)
{
	*n = DISPATCH_NTYPES;
	return dispatch_table;
}

const char *
dispatch_stream(const struct config *cfg, const struct dispatch_type *t)
{
	const char *const *setting =
	    (const char *const *)(const void *)((const char *)cfg + t->stream);

	return *setting;
}

size_t
dispatch_streams(const struct config *cfg, const char **out, size_t max)
{
	size_t i, j, n = 0;

	for (i = 0; i < DISPATCH_NTYPES && n < max; i++) {
		const char *s = dispatch_stream(cfg, &dispatch_table[i]);
		bool seen = false;

		for (j = 0; j < n && !seen; j++)
			seen = strcmp(out[j], s) == 0;
		if (!seen)
			out[n++] = s;
	}
	return n;
}

static const struct dispatch_type *
dispatch_exact(const char *type)
{
	size_t i;

	for (i = 0; type != NULL && i < DISPATCH_NTYPES; i++)
		if (strcmp(dispatch_table[i].name, type) == 0)
			return &dispatch_table[i];
	return NULL;
}

const struct dispatch_type *
dispatch_find(const struct config *cfg, const char *stream, const char *type)
{
	const struct dispatch_type *t = dispatch_exact(type);
	size_t i;

	if (t != NULL || cfg->require_test_passed || type == NULL)
		return t;
	for (i = 0; i < DISPATCH_NTYPES; i++) {
		t = &dispatch_table[i];
		if (t->loose_prefix != NULL &&
		    strncmp(type, t->loose_prefix, strlen(t->loose_prefix)) ==
		        0 &&
		    stream != NULL &&
		    strcmp(stream, dispatch_stream(cfg, t)) == 0)
			return t;
	}
	return NULL;
}

const char *
dispatch_failure_type(const struct config *cfg, const char *stream,
    const char *type)
{
	const struct dispatch_type *t = dispatch_exact(type);
	size_t i;

	if (t != NULL)
		return t->failure_type;
	for (i = 0; stream != NULL && i < DISPATCH_NTYPES; i++)
		if (strcmp(stream, dispatch_stream(cfg, &dispatch_table[i])) ==
		    0)
			return dispatch_table[i].failure_type;
	return dispatch_table[0].failure_type;
}

/* ------------------------------------------------------------- entries */

/*
 * The envelope to answer for an entry that did not parse: type
 * field_type (or UNPARSEABLE), id field_event_id or else the one
 * envelope_parse would derive from the same bytes, so every refusal of
 * one entry carries one id, whoever writes it.
 */
/* "sha256-" and 32 hex digits (the id envelope_parse derives), NUL. */
#define DISPATCH_ENTRY_ID_MAX 64

/* The id derived from an entry's bytes, as envelope_parse derives it. */
static void
dispatch_entry_id(char id[DISPATCH_ENTRY_ID_MAX], const char *json, size_t len)
{
	char hex[UTIL_SHA256_HEX];

	util_sha256_hex(hex, json != NULL ? json : "", json != NULL ? len : 0);
	snprintf(id, DISPATCH_ENTRY_ID_MAX, "sha256-%.32s", hex);
}

static struct envelope *
dispatch_stand_in(const char *json, size_t len, const char *field_event_id,
    const char *field_type)
{
	struct envelope *env =
	    envelope_new(field_type != NULL ? field_type : "UNPARSEABLE");
	char id[DISPATCH_ENTRY_ID_MAX];

	if (field_event_id != NULL &&
	    envelope_id_ok(field_event_id, strlen(field_event_id))) {
		envelope_set_event_id(env, field_event_id);
	} else {
		dispatch_entry_id(id, json, len);
		envelope_set_event_id(env, id);
	}
	return env;
}

/*
 * The ids are logged (handled, dead_letter) and echoed in the answer
 * before any handler runs, and the commit's own scan refuses a secret
 * only later: so each id is scanned first, and one the scanner flags
 * (or cannot clear: SCAN_FAILED) is replaced by the entry's derived id.
 * Returns 0, or ERR_INVALID with SECRET_DETECTED naming the first such
 * field, never its value. sc NULL (scanning off): nothing is checked.
 */
static int
dispatch_ids_clean(struct scanner *sc, struct envelope *env, const char *json,
    size_t len, struct error *err)
{
	static const char *const names[] = { "event_id", "correlation_id",
		"causation_id", "workflow_id", "task_id" };
	char **ids[] = { &env->event_id, &env->correlation_id,
		&env->causation_id, &env->workflow_id, &env->task_id };
	char stand_in[DISPATCH_ENTRY_ID_MAX];
	const char *first = NULL;
	struct scan_hit hit;
	struct error serr;
	size_t i;

	if (sc == NULL)
		return 0;
	dispatch_entry_id(stand_in, json, len);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (*ids[i] == NULL || scanner_scan(sc, names[i], *ids[i],
		                           strlen(*ids[i]), &hit, &serr) == 0)
			continue;
		free(*ids[i]);
		*ids[i] = xstrdup(stand_in);
		if (first == NULL)
			first = names[i];
	}
	if (first == NULL)
		return 0;
	return error_set(err, ERR_INVALID, "SECRET_DETECTED",
	    "%s looks like a secret; the answer and the logs carry the "
	    "entry's id %s instead",
	    first, stand_in);
}

/* Answer an entry's failure before any handler ran; env is what parsed
 * (NULL: nothing), taken over. */
static void
dispatch_refuse_env(const struct handler_ctx *ctx, const char *stream,
    struct envelope *env, const char *json, size_t len,
    const char *field_event_id, const char *field_type, const struct error *err,
    char *reason, struct handler_result *res)
{
	const struct config *cfg = ctx->cfg;
	struct error serr;

	if (env == NULL)
		env = dispatch_stand_in(json, len, field_event_id, field_type);
	/* Refused for another reason: the ids are cleaned all the same. */
	(void)dispatch_ids_clean(ctx->scanner, env, json, len, &serr);
	free(res->event_id);
	free(res->event_type);
	res->event_id = xstrdup(env->event_id);
	res->event_type = xstrdup(env->event_type);
	handler_answer_failure(res, env,
	    dispatch_failure_type(cfg, stream, env->event_type), err, reason);
	envelope_free(env);
}

void
handler_refuse(const struct handler_ctx *ctx, const char *stream,
    const char *json, size_t len, const char *field_event_id,
    const char *field_type, const struct error *err, char *reason,
    struct handler_result *res)
{
	struct envelope *env = NULL;

	memset(res, 0, sizeof(*res));
	if (json == NULL || envelope_parse(&env, json, len, NULL) < 0)
		env = NULL;
	else if (field_event_id != NULL && env->event_id_derived)
		envelope_set_event_id(env, field_event_id);
	if (env != NULL)
		handler_trace(&res->trace, env);
	dispatch_refuse_env(ctx, stream, env, json, len, field_event_id,
	    field_type, err, reason, res);
}

int
handler_prepare(const struct handler_ctx *ctx, struct handler_job **job,
    const char *stream, const char *json, size_t len,
    const char *field_event_id, struct handler_result *res)
{
	const struct config *cfg = ctx->cfg;
	const struct dispatch_type *t;
	struct envelope *env = NULL;
	struct handler_job *j;
	struct error err = { 0 };
	int rc;

	memset(res, 0, sizeof(*res));
	*job = NULL;
	if (json == NULL) {
		rc = error_set(&err, ERR_INVALID, "INVALID_EVENT",
		    "stream entry has no 'event' field");
		goto bad;
	}
	if ((rc = envelope_parse(&env, json, len, &err)) < 0)
		goto bad;
	/* The plain stream field is checked as the envelope's own fields
	 * are: it is logged and echoed in the answer. */
	if (field_event_id != NULL && env->event_id_derived &&
	    envelope_id_ok(field_event_id, strlen(field_event_id)))
		envelope_set_event_id(env, field_event_id);
	if ((rc = dispatch_ids_clean(ctx->scanner, env, json, len, &err)) < 0)
		goto bad;
	handler_trace(&res->trace, env);
	res->event_id = xstrdup(env->event_id);
	res->event_type = xstrdup(env->event_type);
	if ((t = dispatch_find(cfg, stream, env->event_type)) == NULL) {
		res->action = HANDLER_SKIP;
		res->reason =
		    xasprintf("event type %s is not handled", env->event_type);
		envelope_free(env);
		return ERR_NOTFOUND;
	}
	if ((rc = t->check(cfg, env, &err)) < 0)
		goto bad;
	j = xcalloc(1, sizeof(*j));
	j->type = t;
	j->stream = xstrdup(stream);
	j->key = t->key(cfg, env);
	j->env = env;
	j->trace = res->trace;
	*job = j;
	return 0;
bad:
	/* What fails before a handler runs is the input's own fault: never
	 * retried, whatever code the check chose. */
	err.rc = ERR_INVALID;
	dispatch_refuse_env(ctx, stream, env, json, len, field_event_id, NULL,
	    &err, NULL, res);
	return rc < 0 ? rc : ERR_INVALID;
}

#ifdef ARTIFACTD_TEST_HOOKS
/* Test builds only: crash on one chosen event, to prove that a handler
 * that kills the process ends in the dead-letter stream. */
static void
dispatch_test_crash(const struct envelope *env)
{
	const char *id = getenv("ARTIFACTD_TEST_CRASH_ON");

	if (id != NULL && strcmp(id, env->event_id) == 0)
		abort();
}
#endif

void
handler_run(const struct handler_ctx *ctx, const struct handler_job *job,
    struct handler_result *res)
{
	if (res->event_id == NULL)
		res->event_id = xstrdup(job->env->event_id);
	if (res->event_type == NULL)
		res->event_type = xstrdup(job->env->event_type);
#ifdef ARTIFACTD_TEST_HOOKS
	dispatch_test_crash(job->env);
#endif
	/* Every answer and every line of this handling carry its trace. */
	res->trace = job->trace;
	log_context_set(job->trace.trace_id);
	job->type->run(ctx, job, res);
	log_context_set(NULL);
}
