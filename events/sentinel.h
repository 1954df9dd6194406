/*
 * sentinel.h - finding the Redis master through Redis Sentinel, as the
 * Sentinel client guide says (redis.io/docs/reference/sentinel-clients):
 * ask the sentinels in turn with a short timeout (SENTINEL
 * get-master-addr-by-name), connect to the address, confirm with ROLE that
 * it is a master, and ask again on a lost connection, a READONLY reply or
 * a +switch-master message. Private to events/ (it speaks hiredis's
 * types): bus.c uses it for the daemon's connections, admin.c through
 * sentinel_connect for the command-line tools.
 *
 * rediss+sentinel:// asks the sentinels over TLS too (endpoint_open per
 * sentinel, the certificate checked against the sentinel's address as
 * the URL gives it); never in clear text.
 *
 * Discovery is blocking. Each sentinel gets SENTINEL_TIMEOUT_MS per
 * step (connect, AUTH, the question) and one discovery stops asking once
 * SENTINEL_BUDGET_MS have passed, so it holds the daemon's event loop for
 * a bounded, short time, and only while the bus is reconnecting anyway.
 */
#ifndef EVENTS_SENTINEL_H
#define EVENTS_SENTINEL_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "events/endpoint_int.h"

/* Per sentinel and step: the guide's "a few hundred milliseconds". On
 * loopback or a LAN a sentinel answers in well under 10 ms. */
#define SENTINEL_TIMEOUT_MS 250
/* One discovery asks no more sentinels once this much time has gone
 * (the next one starts with the sentinel after the last asked). */
#define SENTINEL_BUDGET_MS 1500
/* A master address from a sentinel: an IP or a host name (<= 253). */
#define SENTINEL_HOST_MAX 256

struct sentinel_master {
	char host[SENTINEL_HOST_MAX];
	int port;
};

/*
 * Ask ep's sentinels, starting with (*first % nsentinels), for the address
 * of ep->master_name. On success *first is the sentinel that answered (it
 * is asked first next time: the guide's step 1) and *out the address.
 * Returns 0; ERR_NOTFOUND when sentinels answered but none knows the
 * master name; ERR_FAIL when a sentinel refused the password or wants one;
 * ERR_TRANSIENT when no sentinel could be reached (or the time budget ran
 * out). err names the cause, without passwords.
 */
int sentinel_discover(struct sentinel_master *out, const struct endpoint *ep,
    size_t *first, struct error *err);

/* True when r, the reply to ROLE, says "master". */
bool sentinel_role_is_master(const redisReply *r);

/*
 * A +switch-master message ("<name> <old-ip> <old-port> <new-ip>
 * <new-port>", len bytes): 0 and *out the new address when it is about
 * master, ERR_NOTFOUND when about another master, ERR_INVALID when
 * malformed.
 */
int sentinel_switch_parse(struct sentinel_master *out, const char *master,
    const char *payload, size_t len);

/*
 * The tools' blocking connection through Sentinel: discover, connect (AUTH,
 * SELECT as endpoint_open; over TLS for rediss+sentinel://, the
 * certificate checked against the discovered address) and check ROLE; a
 * replica at the address (a failover under way) means asking again,
 * SENTINEL_CONNECT_TRIES times at most. *out is the caller's
 * (endpoint_close). Codes as sentinel_discover and endpoint_open.
 */
#define SENTINEL_CONNECT_TRIES 5
int sentinel_connect(struct endpoint_conn *out, const struct endpoint *ep,
    int timeout_ms, struct error *err);

#endif
