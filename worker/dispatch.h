/*
 * dispatch.h - the event types the daemon handles, one table row each,
 * and the routing of an entry to its row.
 *
 * A row names an input event type, the setting that names the stream it
 * arrives on, the failure event that answers it when it fails, and its
 * three functions: the checks run on the loop thread before anything is
 * written, the serialization key (jobs with equal keys never run at
 * once), and the handler run on a handler thread. Nothing outside the
 * table and the type's own handle_<what>.c spells the type's name.
 *
 * The policy that turns a return code into what the loop does is
 * handler_policy (handler.h), shared by the table's refusals and the
 * handlers without either depending on the other.
 */
#ifndef WORKER_DISPATCH_H
#define WORKER_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "worker/config.h"
#include "worker/handler.h"

struct envelope;

/* One event type. */
struct dispatch_type {
	const char *name; /* the input's event_type */
	/* offsetof(struct config, <the stream setting>): where it arrives */
	size_t stream;
	const char *failure_type; /* the answer when it fails */
	/* Checks on the loop thread: 0 or ERR_INVALID with err set. */
	int (*check)(const struct config *cfg, const struct envelope *env,
	    struct error *err);
	/* The serialization key, allocated (e.g. "branch:<name>"). */
	char *(*key)(const struct config *cfg, const struct envelope *env);
	/* The work, on a handler thread; always fills res. */
	void (*run)(const struct handler_ctx *ctx,
	    const struct handler_job *job, struct handler_result *res);
	/* With require-test-passed off, every other type that starts with
	 * this prefix and arrives on this row's stream is handled by this
	 * row (the seed's orchestrator committed on any TEST_* event);
	 * NULL for none. */
	const char *loose_prefix;
};

/* The rows, in table order; *n is set to their number. Borrowed. */
const struct dispatch_type *dispatch_types(size_t *n);

/* The stream a row's events arrive on, from cfg (borrowed). */
const char *dispatch_stream(const struct config *cfg,
    const struct dispatch_type *t);

/*
 * The input streams the daemon reads: each row's stream once, in table
 * order. Fills at most max entries of out (borrowed from cfg) and
 * returns their number.
 */
size_t dispatch_streams(const struct config *cfg, const char **out, size_t max);

/* The row that handles an event of `type` read from `stream` (see
 * loose_prefix), or NULL: not ours, acknowledged without an answer. */
const struct dispatch_type *dispatch_find(const struct config *cfg,
    const char *stream, const char *type);

/*
 * The failure event type that answers an input of `type` (NULL when the
 * entry did not parse) read from `stream`: the row of that type; else
 * the first row reading that stream; else the first row.
 */
const char *dispatch_failure_type(const struct config *cfg, const char *stream,
    const char *type);

#endif
