/*
 * tls.h - rediss://: TLS to Redis for a hiredis that has none.
 *
 * hiredis 0.14.1 speaks only to plain TCP and unix sockets, so hiredis
 * talks clear text to our end of a private local socket and this file
 * pumps the bytes through an OpenSSL connection to Redis (libevent's
 * bufferevent_openssl). Private to events/: the rest of the tree sees
 * only the rediss:// URL. See docs/internals/bus.md, "TLS".
 *
 * Two ways in, one pump:
 * - tls_bridge, for the daemon's asynchronous connections: a listening
 *   unix socket in a private 0700 directory, served by the daemon's own
 *   event loop; hiredis connects with redisAsyncConnectUnix (0.14.1 has
 *   no asynchronous connect on a given descriptor). Each connection
 *   accepted there gets its own TLS connection to Redis.
 * - tls_thread, for the blocking tools (emit, replay, dlq): a socketpair;
 *   hiredis gets one end through redisConnectFd, a thread with its own
 *   event loop serves the other.
 *
 * Verification is on unless the endpoint says tls-insecure: the chain
 * against tls-ca-file / tls-ca-dir (the system store when neither is
 * given), and the URL's host against the certificate (SNI and
 * X509_VERIFY_PARAM_set1_host, or set1_ip_asc for an address). A failure
 * is logged with its cause (redis_tls_failed ... reason="certificate
 * verify failed: ...") and the local socket is closed: hiredis sees the
 * connection go away and the caller's reconnect logic applies. Nothing
 * ever falls back to clear text.
 */
#ifndef EVENTS_TLS_H
#define EVENTS_TLS_H

#include <event2/event.h>

#include "common/error.h"
#include "events/endpoint.h"

/*
 * Check what can be checked before connecting: the CA file or directory
 * exists and holds certificates, the client certificate and key load and
 * match. Returns 0 or ERR_INVALID (the message names the file and the
 * reason).
 */
int tls_check(const struct endpoint_tls *t, struct error *err);

struct tls_bridge;

/*
 * A bridge to ep (host, port and TLS settings are copied) served by base.
 * Creates the private directory and the listening socket. *out is the
 * caller's (tls_bridge_free). Returns 0, ERR_INVALID (certificates, see
 * tls_check) or ERR_FAIL (cannot create the socket).
 */
int tls_bridge_new(struct tls_bridge **out, struct event_base *base,
    const struct endpoint *ep, struct error *err);

/* The unix socket path to give redisAsyncConnectUnix (borrowed). */
const char *tls_bridge_path(const struct tls_bridge *b);

/* Where later connections go (after a discovery, say); copied. */
void tls_bridge_set_target(struct tls_bridge *b, const char *host, int port);

/* Closes every connection still open, the socket and its directory.
 * NULL is fine. */
void tls_bridge_free(struct tls_bridge *b);

struct tls_thread;

/*
 * Start a thread serving one TLS connection to ep; *fd is the plain end
 * for redisConnectFd (the caller closes it, through redisFree). The
 * handshake runs within timeout_ms in the thread. *out is the caller's
 * (tls_thread_finish). Returns 0, ERR_INVALID (certificates) or ERR_FAIL.
 */
int tls_thread_start(struct tls_thread **out, const struct endpoint *ep,
    int timeout_ms, int *fd, struct error *err);

/*
 * Wait for the thread (call it after the plain end was closed) and free
 * it. When err is not NULL and the TLS connection failed, err gets
 * ERR_TRANSIENT with the cause and that is returned; otherwise 0.
 * NULL t is fine.
 */
int tls_thread_finish(struct tls_thread *t, struct error *err);

#endif
