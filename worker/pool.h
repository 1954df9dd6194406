/*
 * pool.h - the handler threads: a fixed number of pthreads that run
 * blocking work (libgit2, libcurl) off the event loop.
 *
 * A task has two halves: run() on a pool thread, then done() back on the
 * loop thread (the thread running the event base the pool was made on),
 * so everything that touches Redis or the loop's state stays on one
 * thread. The loop is woken with event_active(), which needs
 * evthread_use_pthreads() before the event base is created.
 */
#ifndef WORKER_POOL_H
#define WORKER_POOL_H

#include <stddef.h>

#include "common/error.h"

struct event_base;
struct pool;

/* Runs on a pool thread. */
typedef void pool_run_fn(void *arg);
/* Runs on the loop thread after run() returned. */
typedef void pool_done_fn(void *arg);

/*
 * Start nthreads threads bound to base. *out belongs to the caller
 * (pool_free). Returns 0 or ERR_FAIL (a thread could not be started).
 */
int pool_new(struct pool **out, struct event_base *base, size_t nthreads,
    struct error *err);

/* Queue a task. Never blocks; tasks beyond the free threads wait in
 * order. Loop thread only. */
void pool_submit(struct pool *p, pool_run_fn *run, pool_done_fn *done,
    void *arg);

/* Threads neither busy nor spoken for by a queued task. Loop thread. */
size_t pool_idle(const struct pool *p);

/* Threads in total. */
size_t pool_size(const struct pool *p);

/*
 * Stop the threads after the queued tasks and join them; done() is not
 * called for tasks finishing during pool_free. Blocks until every running
 * task returned. NULL is fine.
 */
void pool_free(struct pool *p);

#endif
