/*
 * status.h - the status server: /healthz, /readyz and /metrics over a
 * small HTTP/1.x server of our own on the loop's event base.
 *
 * It runs on the loop thread, which never blocks (handlers run on their
 * own threads), so a minute-long push never delays a health check. The
 * port may be reachable from a whole cluster, so every connection is
 * bounded in bytes, time and number (see status.c); requests are parsed
 * by status_parse.c.
 */
#ifndef WORKER_STATUS_H
#define WORKER_STATUS_H

#include <stdbool.h>

#include "common/buf.h"
#include "common/error.h"

struct event_base;
struct status;

/* True when the daemon should receive work (readiness). */
typedef bool status_ready_fn(void *arg);
/* Append the Prometheus text to out; returns 0 or a negative code. */
typedef int status_metrics_fn(struct buf *out, void *arg);

/*
 * Listen on addr ("host:port", "[v6]:port"; "" or "off": no listener,
 * *out is then NULL). *out belongs to the caller (status_free). Also
 * routes libevent's own log lines into ours, rate-limited (process-wide,
 * listener or not). Returns 0 or ERR_INVALID (bad address) / ERR_FAIL
 * (cannot bind).
 */
int status_start(struct status **out, struct event_base *base, const char *addr,
    status_ready_fn *ready, status_metrics_fn *metrics, void *arg,
    struct error *err);

/* Stop listening and close every connection. NULL is fine. */
void status_free(struct status *s);

#endif
