/*
 * handler.c - what every handler shares: the policy from a return code to
 * what the loop does, the outcome events of a result, the one failure
 * answer and the ref-name check of the rows' checks.
 *
 * The table (dispatch.c) names the handlers (handle_<what>.c), and they
 * call these helpers; nothing here knows the table, so the dependencies
 * point one way: dispatch.c -> handle_<what>.c -> handler.c.
 */
#include "worker/handler.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/log.h"
#include "common/trace.h"
#include "common/xalloc.h"
#include "events/envelope.h"
#include "store/store.h"
#include "worker/dispatch.h" /* struct dispatch_type: the row's failure type */

struct handler_policy
handler_policy(int rc)
{
	struct handler_policy p = { HANDLER_ACK, false };

	switch (rc) {
	case ERR_TRANSIENT:
		p.action = HANDLER_RETRY;
		break;
	case ERR_INVALID:
	case ERR_NOTFOUND:
		p.action = HANDLER_DEAD_LETTER;
		break;
	default: /* 0, ERR_FAIL, ERR_CONFLICT, anything else */
		p.action = HANDLER_ACK;
		break;
	}
	/* One definition of "retryable" for the daemon and the CLI. */
	p.retryable = error_retryable(rc);
	return p;
}

cJSON *
handler_error_json(const struct error *err, int rc, bool retryable)
{
	cJSON *e = cJSON_CreateObject();

	cJSON_AddStringToObject(e, "code",
	    err->code[0] ? err->code : error_default_code(rc));
	cJSON_AddStringToObject(e, "message", err->msg);
	cJSON_AddBoolToObject(e, "retryable", retryable);
	return e;
}

void
handler_trace(struct trace *t, const struct envelope *env)
{
	const char *tp = env->traceparent, *where = "traceparent";

	memset(t, 0, sizeof(*t));
	if (tp == NULL) {
		tp = envelope_data_string(env, "traceparent");
		where = "data.traceparent";
	}
	/* The value is not logged: it comes from outside and only its
	 * shape matters here. */
	if (tp != NULL && !trace_parse(t, tp, strlen(tp)))
		log_warnx("traceparent_ignored event_id=%s field=%s len=%zu "
		          "reason=\"not a W3C version-00 traceparent\"",
		    env->event_id, where, strlen(tp));
	trace_start(t, env->event_id);
}

/*
 * The answer's JSON, with our traceparent and the caller's span first
 * when there is a trace. The values are hex digits and dashes (checked
 * by trace_parse, or ours), so they need no escaping, and the object
 * always holds event_id: the fields go in front of it.
 */
static char *
handler_answer_json(const struct envelope *ev, const struct trace *t)
{
	char tp[TRACE_PARENT_SIZE], *json = envelope_to_json(ev), *out;

	if (t->trace_id[0] == '\0')
		return json;
	assert(json[0] == '{' && json[1] == '"');
	trace_format(t, tp);
	if (t->parent_id[0] != '\0')
		out = xasprintf("{\"traceparent\":\"%s\",\"parent_span_id\":"
		                "\"%s\",%s",
		    tp, t->parent_id, json + 1);
	else
		out = xasprintf("{\"traceparent\":\"%s\",%s", tp, json + 1);
	free(json);
	return out;
}

void
handler_result_add(struct handler_result *res, const struct envelope *ev)
{
	struct handler_event *e;
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(ev->data, "error"), "code");

	res->events =
	    xrealloc(res->events, (res->nevents + 1) * sizeof(*res->events));
	e = &res->events[res->nevents++];
	e->type = xstrdup(ev->event_type);
	e->event_id = xstrdup(ev->event_id);
	e->correlation_id =
	    ev->correlation_id ? xstrdup(ev->correlation_id) : NULL;
	e->error_code =
	    cJSON_IsString(code) ? xstrdup(code->valuestring) : NULL;
	e->json = handler_answer_json(ev, &res->trace);
	e->stream = NULL;
}

void
handler_result_forward(struct handler_result *res, const struct envelope *ev,
    const char *stream)
{
	handler_result_add(res, ev);
	res->events[res->nevents - 1].stream = xstrdup(stream);
}

void
handler_result_dispose(struct handler_result *res)
{
	size_t i;

	for (i = 0; i < res->nevents; i++) {
		free(res->events[i].type);
		free(res->events[i].event_id);
		free(res->events[i].correlation_id);
		free(res->events[i].error_code);
		free(res->events[i].json);
		free(res->events[i].stream);
	}
	free(res->events);
	free(res->reason);
	free(res->event_id);
	free(res->event_type);
	memset(res, 0, sizeof(*res));
}

void
handler_job_free(struct handler_job *job)
{
	if (job == NULL)
		return;
	envelope_free(job->env);
	free(job->stream);
	free(job->key);
	free(job);
}

void
handler_answer_failure(struct handler_result *res, const struct envelope *in,
    const char *type, const struct error *err, char *reason)
{
	struct handler_policy p = handler_policy(err->rc);
	struct envelope *out =
	    envelope_failure(in, type, err, p.retryable, NULL);

	handler_result_add(res, out);
	envelope_free(out);
	res->action = p.action;
	free(res->reason);
	res->reason =
	    reason != NULL ? reason : xasprintf("%s: %s", err->code, err->msg);
}

void
handler_fail(struct handler_result *res, const struct handler_job *job,
    const struct error *err)
{
	handler_answer_failure(res, job->env, job->type->failure_type, err,
	    NULL);
}

int
handler_ref_ok(const char *kind, const char *a, const char *b, const char *what,
    struct error *err)
{
	char *ref = xasprintf("%s%s%s", kind, a, b);
	bool ok = store_ref_name_ok(ref);

	free(ref);
	if (ok)
		return 0;
	return error_set(err, ERR_INVALID, "INVALID_EVENT",
	    "%s does not make a valid git ref name (git's rules, at most "
	    "%d bytes, components of at most %d)",
	    what, STORE_REF_NAME_MAX, STORE_REF_COMPONENT_MAX);
}
