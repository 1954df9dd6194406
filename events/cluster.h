/*
 * cluster.h - Redis Cluster on hiredis 0.14.1, which knows nothing of it:
 * the key's hash slot (CRC16/XMODEM of the key or of its {hash tag},
 * modulo 16384, as the Cluster specification says), the slot map read
 * from CLUSTER SLOTS, the MOVED and ASK redirections, and a blocking
 * client for the command-line tools that follows them. Private to
 * events/ (it speaks hiredis's types): bus.c routes the daemon's
 * connections with the map, admin.c sends the tools' commands through
 * struct cluster_client.
 *
 * A map refresh is blocking, like Sentinel's discovery: the seed nodes of
 * the URL and the nodes of the last map are asked in turn, each with
 * CLUSTER_TIMEOUT_MS per step, and one refresh stops once
 * CLUSTER_BUDGET_MS have passed. It runs only when a connection is being
 * (re)made anyway: at start, after a MOVED, after a lost connection.
 */
#ifndef EVENTS_CLUSTER_H
#define EVENTS_CLUSTER_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "events/endpoint.h"

/* The number of hash slots: fixed by the Cluster specification. */
#define CLUSTER_SLOTS 16384
/* Distinct masters a map may name: the specification's suggested upper
 * size of a cluster is about 1000 nodes, but the whole map is asked at
 * every refresh and kept per bus; 256 masters is far beyond any cluster
 * one artifactd fleet shares, and bounds the map's memory. */
#define CLUSTER_NODES_MAX 256
/* A node address from CLUSTER SLOTS: an IP or a host name (<= 253). */
#define CLUSTER_HOST_MAX 256
/* Per node and step (connect, AUTH, CLUSTER SLOTS): as Sentinel's. */
#define CLUSTER_TIMEOUT_MS 250
/* One refresh asks no more nodes once this much time has gone. */
#define CLUSTER_BUDGET_MS 1500
/* Redirections one command follows (MOVED or ASK) before giving up: a
 * slot being resharded moves once; more means the map keeps changing. */
#define CLUSTER_REDIRECTS_MAX 5

struct cluster_node {
	char host[CLUSTER_HOST_MAX];
	int port;
};

/* Which master serves each slot. */
struct cluster_map {
	struct cluster_node nodes[CLUSTER_NODES_MAX];
	size_t nnodes;
	int16_t owner[CLUSTER_SLOTS]; /* index into nodes, -1: uncovered */
};

/* CRC16/XMODEM (poly 0x1021, init 0), the checksum the slots use. */
uint16_t cluster_crc16(const char *s, size_t n);

/* The hash slot of a key of n bytes: of the part between the first '{'
 * and the next '}' when that part is not empty, else of the whole key. */
unsigned cluster_key_slot(const char *key, size_t n);

/*
 * Fill m from a CLUSTER SLOTS reply given by the node asked (asked: its
 * address, used where a node's IP is given as "", which Redis does for
 * the node that answers when it does not know its own address). Slots
 * not named stay uncovered. Returns 0 or ERR_INVALID (not that shape, a
 * slot out of range, more than CLUSTER_NODES_MAX masters).
 */
int cluster_map_parse(struct cluster_map *m, const redisReply *r,
    const struct cluster_node *asked, struct error *err);

/* The master serving slot, or NULL when no master does. */
const struct cluster_node *cluster_map_node(const struct cluster_map *m,
    unsigned slot);

/* How many slots no master serves; *first (when not NULL) the first. */
size_t cluster_map_uncovered(const struct cluster_map *m, unsigned *first);

/*
 * A redirection error reply ("MOVED <slot> <host>:<port>" or "ASK ...",
 * len bytes at s): 0 with *ask, *slot and *to set, or ERR_NOTFOUND when s
 * is no redirection, ERR_INVALID when malformed.
 */
int cluster_redirect_parse(const char *s, size_t len, bool *ask, unsigned *slot,
    struct cluster_node *to);

/*
 * Refresh m by asking ep's seed nodes and then the nodes of m itself, in
 * turn from *first, for CLUSTER SLOTS (with ep's AUTH). The first that
 * answers wins. Returns 0; ERR_FAIL when a node refused the credentials;
 * ERR_TRANSIENT when none answered in time. A map with uncovered slots is
 * returned as it is (0): the caller decides what a missing slot means.
 */
int cluster_refresh(struct cluster_map *m, const struct endpoint *ep,
    size_t *first, struct error *err);

/* "host:port" (or "[v6]:port") of a node, for logs and messages. */
const char *cluster_node_name(char *buf, size_t size,
    const struct cluster_node *n);

/* ---------------------------------------------------------- the tools */

struct cluster_client;

/*
 * A blocking client for ep (a redis+cluster:// endpoint): the map is read
 * at once (so an unreachable cluster or an uncovered slot is reported
 * here), connections to masters are made as keys need them, each with
 * socket timeouts of timeout_ms. *out is the caller's
 * (cluster_client_free). Codes as cluster_refresh.
 */
int cluster_client_new(struct cluster_client **out, const struct endpoint *ep,
    int timeout_ms, struct error *err);

/*
 * Send one command for key (its slot picks the node), following MOVED
 * (the map is refreshed) and ASK (ASKING, then the command, on the node
 * named) up to CLUSTER_REDIRECTS_MAX times. Returns the reply (caller
 * frees; an error reply other than a redirection is returned as is) or
 * NULL with err set: ERR_TRANSIENT (no node, lost connection, too many
 * redirections, uncovered slot).
 */
redisReply *cluster_command(struct cluster_client *cc, const char *key,
    int argc, const char **argv, const size_t *lens, struct error *err);

void cluster_client_free(struct cluster_client *cc);

#endif
