/*
 * endpoint.h - where the bus is: ARTIFACTD_REDIS_URL parsed. The
 * blocking connection of the command-line tools (emit, replay, dlq) is in
 * endpoint_int.h, which only events/ may include (it is hiredis's).
 *
 * redis://[user:pass@]host:port/db, redis://:pass@host, or
 * unix:///path/to/socket[?db=N]. The daemon's asynchronous connections
 * (bus.c) use the same parsed form.
 */
#ifndef EVENTS_ENDPOINT_H
#define EVENTS_ENDPOINT_H

#include <stdbool.h>

#include "common/error.h"

struct endpoint {
	char *host;     /* NULL for unix sockets */
	int port;       /* 6379 by default */
	char *path;     /* unix socket path, or NULL */
	char *user;     /* ACL user, or NULL */
	char *password; /* or NULL */
	int db;
};

/* Parse a URL. Returns 0 or ERR_INVALID (the message never contains the
 * password). */
int endpoint_parse(struct endpoint *ep, const char *url, struct error *err);

void endpoint_dispose(struct endpoint *ep);

#endif
