/*
 * cmd_emit.c - `artifactd emit`: send a TEST_PASSED event the way a
 * producer does (XADD <test stream> * event <json> ...), then wait for
 * the answer whose causation_id is our event id on the output stream.
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/xalloc.h"
#include "events/endpoint.h"
#include "events/envelope.h"
#include "worker/cli.h"
#include "worker/cmd.h"
#include "worker/emit.h"

/* Look through one XREAD/XRANGE entry list for our answer; *last is moved
 * to the newest id seen. Returns the answer's JSON (caller frees). */
static char *
cmd_emit_find(const redisReply *entries, const char *event_id, char *last,
    size_t lastsz)
{
	size_t i, j;
	char *found = NULL;

	for (i = 0; i < entries->elements; i++) {
		const redisReply *e = entries->element[i], *fields;

		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
			continue;
		snprintf(last, lastsz, "%s", e->element[0]->str);
		fields = e->element[1];
		if (found != NULL || fields->type != REDIS_REPLY_ARRAY)
			continue;
		for (j = 0; j + 1 < fields->elements; j += 2) {
			struct envelope *env = NULL;
			const redisReply *v = fields->element[j + 1];

			if (strcmp(fields->element[j]->str, "event") != 0)
				continue;
			if (envelope_parse(&env, v->str, v->len, NULL) == 0 &&
			    env->causation_id != NULL &&
			    strcmp(env->causation_id, event_id) == 0)
				found = xstrndup(v->str, v->len);
			envelope_free(env);
		}
	}
	return found;
}

int
cmd_emit(int argc, char **argv, struct config *cfg)
{
	static const struct cli_spec spec = { "emit",
		"--workflow W --task T [options] FILE...",
		"Send a TEST_PASSED event for FILEs to the test stream, as a "
		"producer would\n(XADD test_results * event <json>), wait for "
		"artifactd's answer on the output\nstream and print it. Paths "
		"are sent absolute and must be inside the daemon's\nartifacts "
		"root; --inline sends the contents instead (base64).",
		emit_opts, EMIT_NOPTS, 1, 1000 };
	struct emit_args ea = { 0 };
	struct endpoint ep = { 0 };
	struct error err = { 0 };
	struct envelope *env = NULL;
	redisContext *c = NULL;
	redisReply *r = NULL;
	char **args = NULL, *json = NULL, *answer = NULL, last[64] = "0-0";
	long long timeout_s = 30;
	size_t nargs = 0;
	int64_t deadline;
	int rc;

	rc = cli_parse(&spec, argc, argv, cfg, emit_opt, &ea, &args, &nargs);
	if (rc == 3) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	if (ea.timeout != NULL &&
	    util_parse_uint(&timeout_s, ea.timeout, 86400) < 0) {
		rc = cli_usage_error(&spec, "--timeout must be seconds");
		goto out;
	}
	if (emit_build_test_passed(&json, &ea, cfg, (const char *const *)args,
	        nargs, &err) < 0) {
		rc = cli_usage_error(&spec, "%s", err.msg);
		goto out;
	}
	envelope_parse(&env, json, strlen(json), NULL);
	rc = 1;
	if (endpoint_parse(&ep, cfg->redis_url, &err) < 0 ||
	    endpoint_connect(&c, &ep, 5000, &err) < 0) {
		fprintf(stderr, "artifactd emit: %s\n", err.msg);
		goto out;
	}
	/* Remember where the output stream ends before we send. */
	r = redisCommand(c, "XREVRANGE %s + - COUNT 1", cfg->output_stream);
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 1)
		snprintf(last, sizeof(last), "%s",
		    r->element[0]->element[0]->str);
	if (r != NULL)
		freeReplyObject(r);
	r = redisCommand(c,
	    "XADD %s * event %s event_id %s event_type %s correlation_id %s",
	    cfg->test_stream, json, env->event_id, env->event_type,
	    env->correlation_id ? env->correlation_id : "");
	if (r == NULL || r->type != REDIS_REPLY_STRING) {
		fprintf(stderr, "artifactd emit: XADD failed: %s\n",
		    r ? r->str : c->errstr);
		goto out;
	}
	fprintf(stderr, "sent event_id=%s entry=%s stream=%s\n", env->event_id,
	    r->str, cfg->test_stream);
	freeReplyObject(r);
	r = NULL;
	if (ea.no_wait) {
		rc = 0;
		goto out;
	}
	deadline = util_mono_ms() + timeout_s * 1000;
	while (answer == NULL && util_mono_ms() < deadline) {
		r = redisCommand(c, "XREAD COUNT 100 BLOCK 1000 STREAMS %s %s",
		    cfg->output_stream, last);
		if (r == NULL) {
			fprintf(stderr, "artifactd emit: %s\n", c->errstr);
			goto out;
		}
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 1)
			answer = cmd_emit_find(r->element[0]->element[1],
			    env->event_id, last, sizeof(last));
		freeReplyObject(r);
		r = NULL;
	}
	if (answer == NULL) {
		fprintf(stderr,
		    "artifactd emit: no answer within %llds (is `artifactd "
		    "run` running?)\n",
		    timeout_s);
		goto out;
	}
	rc = emit_print_event(answer, ea.json) == 0 ? 0 : 1;
out:
	if (r != NULL)
		freeReplyObject(r);
	if (c != NULL)
		redisFree(c);
	endpoint_dispose(&ep);
	envelope_free(env);
	emit_args_dispose(&ea);
	free(answer);
	free(json);
	free(args);
	return rc;
}
