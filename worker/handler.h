/*
 * handler.h - what the daemon does with one input event.
 *
 * The loop (loop.c) owns Redis; handlers own git and HTTP. A delivery is
 * handled in two steps:
 *
 *   handler_prepare()  on the loop thread: parse and validate the event
 *                      (cheap), decide the serialization key;
 *   handler_run()      on a handler thread: the blocking work (libgit2,
 *                      libcurl), producing the outcome events.
 *
 * Both fill a struct handler_result: the outcome events to write (JSON,
 * in order) and what the loop must do with the input entry.
 */
#ifndef WORKER_HANDLER_H
#define WORKER_HANDLER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "worker/config.h"

struct envelope;
struct store;
struct scanner;

/* Shared by every handler thread; built once at start-up. */
struct handler_ctx {
	const struct config *cfg;
	struct store *store;     /* thread-safe */
	struct scanner *scanner; /* thread-safe, may be NULL */
};

enum handler_action {
	HANDLER_ACK,         /* write the events, then acknowledge */
	HANDLER_DEAD_LETTER, /* write the events, dead-letter, acknowledge */
	HANDLER_RETRY,       /* transient: retry later (events are what to
	                        write if the attempts run out) */
	HANDLER_SKIP         /* not ours (e.g. TEST_FAILED): acknowledge */
};

struct handler_result {
	enum handler_action action;
	char **events; /* JSON outcome events, owned */
	size_t nevents;
	char *reason;     /* why, for dead letters and logs; owned */
	char *event_id;   /* of the input, once known; owned */
	char *event_type; /* of the input, once known; owned */
	bool duplicate;   /* the outcome was already there */
};

/* A prepared job: the parsed input and the key of the ref it writes. */
struct handler_job {
	struct envelope *env; /* owned */
	char *stream;         /* input stream name, owned */
	char *key;            /* serialization key (e.g. the branch), owned */
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

/* Do the work of a prepared job. Always fills res. Thread-safe. */
void handler_run(const struct handler_ctx *ctx, const struct handler_job *job,
    struct handler_result *res);

/* The failure event type that answers an input of event_type (may be NULL
 * when it could not be parsed) read from stream. */
const char *handler_failure_type(const struct config *cfg, const char *stream,
    const char *event_type);

void handler_job_free(struct handler_job *job);
void handler_result_dispose(struct handler_result *res);

/* Append an outcome event (taken over) to res. */
void handler_result_add(struct handler_result *res, char *json);

/* Individual handlers, used by handler_run and by the CLI commands. */
void handler_test_passed(const struct handler_ctx *ctx,
    const struct envelope *env, struct handler_result *res);
void handler_rollback(const struct handler_ctx *ctx, const struct envelope *env,
    struct handler_result *res);
/* In handle_release.c (publishers glue). */
void handler_release(const struct handler_ctx *ctx, const struct envelope *env,
    struct handler_result *res);

struct release_config;
/* The publishing part of the settings (targets, packages, artifacts root,
 * dry run) as the release core takes it; the single-package environment
 * defaults apply when no target is configured. *out is initialized here
 * and disposed by the caller (release_config_dispose). Returns 0. */
int handler_release_config(struct release_config *out,
    const struct config *cfg);

#endif
