/*
 * loop.h - the daemon: bus -> handlers -> bus (`artifactd run`).
 *
 * One libevent loop on the calling thread owns Redis (events/bus.h), the
 * health/metrics listener and every timer; cfg->concurrency handler
 * threads (worker/pool.h) do the blocking work. The loop reads only as
 * many entries as it has free slots, never runs two jobs with the same
 * serialization key at once, retries transient failures with backoff,
 * dead-letters poison and crash-looping entries, renews the claims of
 * long jobs and, on SIGTERM, drains and gives back what is left.
 */
#ifndef WORKER_LOOP_H
#define WORKER_LOOP_H

#include "common/error.h"
#include "worker/config.h"
#include "worker/handler.h"

/*
 * Catch SIGTERM/SIGINT from now on (call it first thing, before the slow
 * start-up: opening the store, cloning): a signal arriving before
 * loop_run is ready is remembered and starts the normal shutdown as soon
 * as the loop runs, instead of killing the process mid-way.
 */
void loop_catch_signals(void);

/*
 * Run until SIGTERM/SIGINT (or a fatal start-up error). ctx is borrowed
 * and must stay valid. Returns 0 after a clean shutdown, or a negative
 * code with err filled when the loop could not start (bad URL, the HTTP
 * address in use, threads). A second signal exits the process at once
 * with status 128+signal; unanswered entries stay pending in Redis.
 */
int loop_run(const struct handler_ctx *ctx, const struct config *cfg,
    struct error *err);

#endif
