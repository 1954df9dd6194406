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
 * ERR_TRANSIENT (cannot connect) / ERR_FAIL (auth refused).
 */
int endpoint_connect(redisContext **out, const struct endpoint *ep,
    int timeout_ms, struct error *err);

#endif
