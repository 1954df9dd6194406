/*
 * handler.h - what the daemon does with one input event.
 *
 * The loop (loop.c) owns Redis; handlers own git and HTTP. A delivery is
 * handled in two steps:
 *
 *   handler_prepare()  on the loop thread: parse and validate the event
 *                      (cheap), find its row in the table of event types
 *                      (dispatch.h), decide the serialization key;
 *   handler_run()      on a handler thread: the row's handler does the
 *                      blocking work (libgit2, libcurl).
 *
 * Both fill a struct handler_result: the outcome events to write, typed
 * (type, ids and the JSON text built once, so the loop never parses its
 * own output), and what the loop must do with the input entry. Which
 * action follows from which return code is decided by handler_policy()
 * alone.
 */
#ifndef WORKER_HANDLER_H
#define WORKER_HANDLER_H

#include <cjson/cJSON.h>

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "common/trace.h"
#include "worker/config.h"

struct dispatch_type;
struct envelope;
struct repos;
struct store;
struct scanner;

/* Shared by every handler thread; built once at start-up. */
struct handler_ctx {
	const struct config *cfg;
	struct store *store;     /* thread-safe; NULL with a repo template */
	struct scanner *scanner; /* thread-safe, may be NULL */
	struct repos *repos;     /* the store of each workflow (repos.h) */
};

enum handler_action {
	HANDLER_ACK,         /* write the events, then acknowledge */
	HANDLER_DEAD_LETTER, /* write the events, dead-letter, acknowledge */
	HANDLER_RETRY,       /* transient: retry later (events are what to
	                        write if the attempts run out) */
	HANDLER_SKIP         /* not ours (e.g. TEST_FAILED): acknowledge */
};

/* One outcome event, as the bus writes it: its plain fields and its
 * JSON text, all owned. */
struct handler_event {
	char *type;           /* event_type */
	char *event_id;       /* never NULL */
	char *correlation_id; /* NULL when the answer has none */
	char *error_code;     /* data.error.code of a failure, else NULL */
	char *json;           /* the whole event, serialized once */
	char *stream; /* NULL: the output stream; else written to this input
	                 stream (handler_result_forward) */
};

struct handler_result {
	enum handler_action action;
	struct handler_event *events; /* in the order to write, owned */
	size_t nevents;
	char *reason;       /* why, for dead letters and logs; owned */
	char *event_id;     /* of the input, once known; owned */
	char *event_type;   /* of the input, once known; owned */
	bool duplicate;     /* the outcome was already there */
	struct trace trace; /* of the input once known (trace_id "" before):
	                       every answer carries it (handler_result_add) */
};

/* A prepared job: the parsed input, its row and the key of the ref it
 * writes. */
struct handler_job {
	const struct dispatch_type *type; /* borrowed from the table */
	struct envelope *env;             /* owned */
	char *stream;                     /* input stream name, owned */
	char *key;          /* serialization key (e.g. the branch), owned */
	struct trace trace; /* the input's trace context (handler_trace) */
};

/*
 * Parse the stream entry's `event` field (field_event_id: the entry's
 * plain event_id field, may be NULL). Returns 0 with *job set (the caller
 * runs it), or a negative code with res filled (a failure event and
 * HANDLER_DEAD_LETTER, or HANDLER_SKIP) and *job NULL.
 */
int handler_prepare(const struct handler_ctx *ctx, struct handler_job **job,
    const char *stream, const char *json, size_t len,
    const char *field_event_id, struct handler_result *res);

/* Do the work of a prepared job (its row's handler). Always fills res.
 * Thread-safe. */
void handler_run(const struct handler_ctx *ctx, const struct handler_job *job,
    struct handler_result *res);

/*
 * Answer an entry whose handler will not run (the loop refuses it: too
 * many fields, or delivered max-deliveries times): one failure event of
 * err for the envelope as far as `json` parses, else for a stand-in
 * built from the entry's plain fields (field_event_id and field_type,
 * both already checked with envelope_id_ok, may be NULL; without an id
 * the stand-in's is derived from the bytes, as envelope_parse derives
 * it). The action is handler_policy(err->rc). reason (taken over) is
 * the dead letter's reason; NULL: "<code>: <message>". res is filled
 * from scratch. An id that ctx's scanner flags is answered and logged
 * as the entry's derived id (sha256-...), never as given.
 */
void handler_refuse(const struct handler_ctx *ctx, const char *stream,
    const char *json, size_t len, const char *field_event_id,
    const char *field_type, const struct error *err, char *reason,
    struct handler_result *res);

/*
 * The trace context of an input event into *t: its W3C traceparent (the
 * top-level field `traceparent`, else `data.traceparent`), checked
 * strictly (common/trace.h); an invalid one is logged
 * (traceparent_ignored) and replaced, like a missing one, by a trace id
 * derived from the event id. Our span id is set too.
 */
void handler_trace(struct trace *t, const struct envelope *env);

void handler_job_free(struct handler_job *job);
void handler_result_dispose(struct handler_result *res);

/* What the loop does with an event whose handling returned rc. */
struct handler_policy {
	enum handler_action action; /* HANDLER_ACK, _RETRY or _DEAD_LETTER */
	bool retryable;             /* the answer's data.error.retryable */
};

/*
 * The only place where a return code becomes an action: handlers, the
 * loop's refusals and the crash letter all ask it, and the answer's
 * data.error.retryable is read from the same decision, so an answer never
 * says "retryable" for an event the loop will not retry. The codes (see
 * common/error.h for the meaning of each):
 *   0, ERR_FAIL, ERR_CONFLICT   -> HANDLER_ACK: answer, acknowledge;
 *   ERR_TRANSIENT               -> HANDLER_RETRY: retry with backoff,
 *                                  dead-letter after max-attempts;
 *   ERR_INVALID, ERR_NOTFOUND   -> HANDLER_DEAD_LETTER at once.
 * Any other negative code is taken as ERR_FAIL. retryable is true exactly
 * when the action is HANDLER_RETRY.
 */
struct handler_policy handler_policy(int rc);

/* {code, message, retryable}: the error object of every answer and of
 * every --json failure; code defaults to error_default_code(rc). */
cJSON *handler_error_json(const struct error *err, int rc, bool retryable);

/*
 * The one failure answer, whoever writes it (a handler through
 * handler_fail, or the table's refusals): one event of `type` answering
 * `in` and carrying err, res->action and the answer's retryable from
 * handler_policy(err->rc), and res->reason (taken over; NULL:
 * "<code>: <message>").
 */
void handler_answer_failure(struct handler_result *res,
    const struct envelope *in, const char *type, const struct error *err,
    char *reason);

/* Append the outcome event `ev` to res: its fields are copied and its
 * JSON text is built here, once. ev stays the caller's. When res has a
 * trace (res->trace.trace_id set), the JSON gets our `traceparent` (and
 * `parent_span_id`, the caller's span, when the input had one). */
void handler_result_add(struct handler_result *res, const struct envelope *ev);

/* As handler_result_add, but the event is written to `stream` (one of
 * the daemon's input streams) instead of the output stream, in the same
 * atomic completion: a RELEASE_REQUESTED hands its RELEASE_TAGGED to the
 * publishing path this way. */
void handler_result_forward(struct handler_result *res,
    const struct envelope *ev, const char *stream);

/*
 * Answer a failure of the job's input: one event of the row's failure
 * type carrying err, res->action and the answer's retryable from
 * handler_policy(err->rc), and res->reason "<code>: <message>".
 */
void handler_fail(struct handler_result *res, const struct handler_job *job,
    const struct error *err);

/*
 * Is `<kind><a><b>` a ref name git accepts? 0, or ERR_INVALID (code
 * INVALID_EVENT) saying that `what` of the event does not make one. The
 * ids of an event become ref names; a name git refuses would fail after
 * the commit object exists and look like a libgit2 error.
 */
int handler_ref_ok(const char *kind, const char *a, const char *b,
    const char *what, struct error *err);

/* The rows' functions, one handle_<what>.c per event type (dispatch.c
 * holds the table and the routing: handler_prepare, handler_run,
 * handler_refuse; handler.c the helpers above, which the handlers call). */
int handle_commit_check(const struct config *cfg, const struct envelope *env,
    struct error *err);
char *handle_commit_key(const struct config *cfg, const struct envelope *env);
void handle_commit(const struct handler_ctx *ctx, const struct handler_job *job,
    struct handler_result *res);

int handle_rollback_check(const struct config *cfg, const struct envelope *env,
    struct error *err);
char *handle_rollback_key(const struct config *cfg, const struct envelope *env);
void handle_rollback(const struct handler_ctx *ctx,
    const struct handler_job *job, struct handler_result *res);

int handle_release_check(const struct config *cfg, const struct envelope *env,
    struct error *err);
char *handle_release_key(const struct config *cfg, const struct envelope *env);
void handle_release(const struct handler_ctx *ctx,
    const struct handler_job *job, struct handler_result *res);

int handle_release_request_check(const struct config *cfg,
    const struct envelope *env, struct error *err);
char *handle_release_request_key(const struct config *cfg,
    const struct envelope *env);
void handle_release_request(const struct handler_ctx *ctx,
    const struct handler_job *job, struct handler_result *res);

struct release_config;
/* The publishing part of the settings (targets, packages, artifacts root,
 * dry run) as the release core takes it; the single-package environment
 * defaults apply when no target is configured. *out is initialized here
 * and disposed by the caller (release_config_dispose). Returns 0. */
int handler_release_config(struct release_config *out,
    const struct config *cfg);

#endif
