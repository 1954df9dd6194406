/*
 * item.h - the decisions of the loop's item state machine, without the
 * loop: what a finished run leads to, how long a retry waits, which
 * queued entries may start now (per-key serialisation, suspects alone),
 * how many entries the bus may read, and what shutdown gives back.
 *
 * worker/loop.c owns the items (their entries, jobs, timers, Redis) and
 * calls these pure functions at each transition, so the rules are
 * tested one by one in tests/unit/worker/test_loop_items.c without
 * Redis or threads. docs/internals/loop.md draws the states.
 */
#ifndef WORKER_ITEM_H
#define WORKER_ITEM_H

#include <stdbool.h>
#include <stddef.h>

#include "worker/handler.h"

enum item_state {
	ITEM_QUEUED,     /* waiting for a thread or for its key */
	ITEM_RUNNING,    /* on a handler thread */
	ITEM_RETRY_WAIT, /* a transient failure, waiting for its backoff */
	ITEM_COMPLETING, /* the answer is being written */
	ITEM_WAIT_REDIS, /* writing the answer failed, tried again soon */
	ITEM_RELEASING   /* given back to Redis at shutdown */
};

/* What the loop does with an entry whose handler returned. */
enum item_next {
	ITEM_NEXT_ANSWER,       /* write the result (ack, skip, dead letter) */
	ITEM_NEXT_OUT_OF_TRIES, /* retry asked, none left: dead-letter */
	ITEM_NEXT_RELEASE,      /* retry asked while stopping: give it back */
	ITEM_NEXT_RETRY         /* retry asked: RETRY_WAIT, then QUEUED */
};

/*
 * After a run: action is the handler's, runs the number of runs of this
 * entry so far including this one, max_attempts the configured limit
 * (>= 1), stopping whether shutdown has begun.
 */
enum item_next item_after_run(enum handler_action action, int runs,
    long long max_attempts, bool stopping);

/*
 * Backoff before run number runs + 1 of a transient failure, in ms:
 * min(cap_ms, base_ms * 2^(runs-1)) scaled by jitter (the caller draws
 * it from 0.5-1.0). runs >= 1.
 */
long item_retry_delay_ms(int runs, long base_ms, long cap_ms, double jitter);

/* One held entry as the dispatcher sees it, oldest first. */
struct item_view {
	enum item_state state;
	const char *key; /* serialisation key; NULL before the job exists */
	bool suspect;    /* redelivered, not yet run here */
	bool start;      /* out: start it now */
};

/*
 * Mark the queued entries to start on idle free threads: oldest first;
 * one whose key is held by a running entry (or by one started in the
 * same pass) is skipped and keeps its place; after a suspect starts,
 * nothing more starts in this pass. Returns how many were marked.
 */
size_t item_pick(struct item_view *v, size_t n, size_t idle);

/*
 * Entries the bus may read now: none while stopping or while a suspect
 * is held; otherwise the threads not used by queued or running entries
 * (busy), and never beyond hold entries held in all.
 */
size_t item_capacity(size_t threads, size_t hold, size_t held, size_t busy,
    size_t suspects, bool stopping);

/* Does an entry in this state count against the threads? */
bool item_uses_thread(enum item_state s);

/* At the first signal: is an entry in this state given back at once
 * (it has not started)? */
bool item_release_on_signal(enum item_state s);

/* At the drain timeout: is it given back (the running ones abandoned)? */
bool item_release_on_drain(enum item_state s);

#endif
