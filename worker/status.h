/*
 * status.h - the health and metrics listener (libevent evhttp) on the
 * loop's event base: /healthz, /readyz and /metrics.
 *
 * It runs on the loop thread, which never blocks (handlers run on their
 * own threads), so a minute-long push never delays a health check.
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
 * *out is then NULL). *out belongs to the caller (status_free). Returns 0
 * or ERR_INVALID (bad address) / ERR_FAIL (cannot bind).
 */
int status_start(struct status **out, struct event_base *base, const char *addr,
    status_ready_fn *ready, status_metrics_fn *metrics, void *arg,
    struct error *err);

/* Stop listening. NULL is fine. */
void status_free(struct status *h);

#endif
