/*
 * endpoint_int.h - a blocking hiredis connection to the parsed endpoint,
 * for admin.c. Private to events/ because it speaks hiredis's types; the
 * rest of the tree reaches Redis through bus.h and admin.h.
 */
#ifndef EVENTS_ENDPOINT_INT_H
#define EVENTS_ENDPOINT_INT_H

#include <hiredis/hiredis.h>

#include "common/error.h"
#include "events/endpoint.h"

/*
 * A blocking hiredis connection with AUTH and SELECT done, and socket
 * timeouts of timeout_ms. *out is the caller's (redisFree). Returns 0 or
 * ERR_TRANSIENT (cannot connect) / ERR_FAIL (auth refused); ERR_INVALID
 * for a rediss:// endpoint, which only endpoint_open connects.
 */
int endpoint_connect(redisContext **out, const struct endpoint *ep,
    int timeout_ms, struct error *err);

struct tls_thread;

/* A blocking connection to any endpoint: c, and for rediss:// the thread
 * that carries it over TLS (events/tls.h). */
struct endpoint_conn {
	redisContext *c;
	struct tls_thread *tls; /* NULL unless rediss:// */
};

/*
 * endpoint_connect for every kind of endpoint. For rediss:// a PING is
 * also sent, so a TLS failure is reported here with its cause ("cannot
 * connect to redis: certificate verify failed: ..."). *out is the
 * caller's (endpoint_close). Returns 0, ERR_TRANSIENT, ERR_FAIL or
 * ERR_INVALID (certificate files).
 */
int endpoint_open(struct endpoint_conn *out, const struct endpoint *ep,
    int timeout_ms, struct error *err);

/* Close what endpoint_open opened (redisFree, then the TLS thread). */
void endpoint_close(struct endpoint_conn *conn);

#endif
