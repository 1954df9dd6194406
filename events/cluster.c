/*
 * cluster.c - Redis Cluster routing (see cluster.h): the slot of a key,
 * the slot map from CLUSTER SLOTS, MOVED/ASK, and the tools' blocking
 * client. The CRC16 is computed bit by bit: keys are short (our stream
 * names), a table would be 512 bytes of constants for nothing.
 */
#include "events/cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/xalloc.h"
#include "events/endpoint_int.h"

uint16_t
cluster_crc16(const char *s, size_t n)
{
	uint16_t crc = 0;
	size_t i;
	int b;

	for (i = 0; i < n; i++) {
		crc ^= (uint16_t)((uint16_t)(unsigned char)s[i] << 8);
		for (b = 0; b < 8; b++)
			crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021)
			                     : (uint16_t)(crc << 1);
	}
	return crc;
}

unsigned
cluster_key_slot(const char *key, size_t n)
{
	const char *open = memchr(key, '{', n), *close;

	if (open != NULL) {
		close = memchr(open + 1, '}', n - (size_t)(open + 1 - key));
		if (close != NULL && close > open + 1)
			return cluster_crc16(open + 1,
			           (size_t)(close - open - 1)) &
			       (CLUSTER_SLOTS - 1);
	}
	return cluster_crc16(key, n) & (CLUSTER_SLOTS - 1);
}

const char *
cluster_node_name(char *buf, size_t size, const struct cluster_node *n)
{
	snprintf(buf, size, strchr(n->host, ':') ? "[%.200s]:%d" : "%.200s:%d",
	    n->host, n->port);
	return buf;
}

/* The index of node (host, port) in m, added when new; -1 when full. */
static int
cluster_map_index(struct cluster_map *m, const char *host, size_t hlen,
    int port)
{
	size_t i;

	for (i = 0; i < m->nnodes; i++)
		if (m->nodes[i].port == port &&
		    strlen(m->nodes[i].host) == hlen &&
		    memcmp(m->nodes[i].host, host, hlen) == 0)
			return (int)i;
	if (m->nnodes == CLUSTER_NODES_MAX)
		return -1;
	memcpy(m->nodes[m->nnodes].host, host, hlen);
	m->nodes[m->nnodes].host[hlen] = '\0';
	m->nodes[m->nnodes].port = port;
	return (int)m->nnodes++;
}

/* One [start, end, [ip, port, ...], replicas...] of CLUSTER SLOTS. */
static int
cluster_map_range(struct cluster_map *m, const redisReply *e,
    const struct cluster_node *asked, struct error *err)
{
	const redisReply *master, *ip;
	const char *host;
	size_t hlen;
	long long s;
	int idx;

	if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
	    e->element[0]->type != REDIS_REPLY_INTEGER ||
	    e->element[1]->type != REDIS_REPLY_INTEGER ||
	    e->element[2]->type != REDIS_REPLY_ARRAY ||
	    e->element[2]->elements < 2)
		return error_set(err, ERR_INVALID, "CLUSTER",
		    "CLUSTER SLOTS: unexpected reply shape");
	master = e->element[2];
	ip = master->element[0];
	if (ip->type != REDIS_REPLY_STRING ||
	    master->element[1]->type != REDIS_REPLY_INTEGER ||
	    master->element[1]->integer <= 0 ||
	    master->element[1]->integer > 65535 ||
	    ip->len >= CLUSTER_HOST_MAX || e->element[0]->integer < 0 ||
	    e->element[1]->integer >= CLUSTER_SLOTS ||
	    e->element[0]->integer > e->element[1]->integer)
		return error_set(err, ERR_INVALID, "CLUSTER",
		    "CLUSTER SLOTS: bad slot range or node address");
	/* "?" is an unknown endpoint: nobody can reach those slots. */
	if (ip->len == 1 && ip->str[0] == '?')
		return 0;
	host = ip->len > 0 ? ip->str : asked->host;
	hlen = ip->len > 0 ? ip->len : strlen(asked->host);
	idx =
	    cluster_map_index(m, host, hlen, (int)master->element[1]->integer);
	if (idx < 0)
		return error_set(err, ERR_INVALID, "CLUSTER",
		    "CLUSTER SLOTS names more than %d masters",
		    CLUSTER_NODES_MAX);
	for (s = e->element[0]->integer; s <= e->element[1]->integer; s++)
		m->owner[s] = (int16_t)idx;
	return 0;
}

int
cluster_map_parse(struct cluster_map *m, const redisReply *r,
    const struct cluster_node *asked, struct error *err)
{
	size_t i;
	int rc;

	m->nnodes = 0;
	for (i = 0; i < CLUSTER_SLOTS; i++)
		m->owner[i] = -1;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		return error_set(err, ERR_INVALID, "CLUSTER",
		    "CLUSTER SLOTS: not an array");
	for (i = 0; i < r->elements; i++)
		if ((rc = cluster_map_range(m, r->element[i], asked, err)) < 0)
			return rc;
	return 0;
}

const struct cluster_node *
cluster_map_node(const struct cluster_map *m, unsigned slot)
{
	int idx = slot < CLUSTER_SLOTS ? m->owner[slot] : -1;

	return idx >= 0 && (size_t)idx < m->nnodes ? &m->nodes[idx] : NULL;
}

size_t
cluster_map_uncovered(const struct cluster_map *m, unsigned *first)
{
	size_t n = 0;
	unsigned s;

	for (s = 0; s < CLUSTER_SLOTS; s++)
		if (m->owner[s] < 0 && n++ == 0 && first != NULL)
			*first = s;
	return n;
}

int
cluster_redirect_parse(const char *s, size_t len, bool *ask, unsigned *slot,
    struct cluster_node *to)
{
	char buf[CLUSTER_HOST_MAX + 64];
	char *sp, *colon;
	long long v;

	if (len >= 6 && memcmp(s, "MOVED ", 6) == 0) {
		*ask = false;
		s += 6;
		len -= 6;
	} else if (len >= 4 && memcmp(s, "ASK ", 4) == 0) {
		*ask = true;
		s += 4;
		len -= 4;
	} else {
		return ERR_NOTFOUND;
	}
	if (len >= sizeof(buf))
		return ERR_INVALID;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if ((sp = strchr(buf, ' ')) == NULL)
		return ERR_INVALID;
	*sp++ = '\0';
	if (util_parse_uint(&v, buf, CLUSTER_SLOTS - 1) < 0)
		return ERR_INVALID;
	*slot = (unsigned)v;
	/* host:port, the host possibly an IPv6 address with colons. */
	if ((colon = strrchr(sp, ':')) == NULL || colon == sp ||
	    (size_t)(colon - sp) >= CLUSTER_HOST_MAX)
		return ERR_INVALID;
	*colon = '\0';
	if (util_parse_uint(&v, colon + 1, 65535) < 0 || v == 0)
		return ERR_INVALID;
	if (sp[0] == '[' && colon[-1] == ']') { /* [v6]:port */
		colon[-1] = '\0';
		sp++;
	}
	if (*sp == '\0')
		return ERR_INVALID;
	snprintf(to->host, sizeof(to->host), "%s", sp);
	to->port = (int)v;
	return 0;
}

/* A blocking connection to node with ep's credentials and TLS settings
 * (endpoint_open: TLS is carried by a thread). */
static int
cluster_open(struct endpoint_conn *out, const struct endpoint *ep,
    const struct cluster_node *node, int timeout_ms, struct error *err)
{
	struct cluster_node copy = *node;
	struct endpoint n = *ep; /* borrowed strings: never disposed */

	n.host = copy.host;
	n.port = copy.port;
	n.path = NULL;
	n.db = 0;
	n.seeds = NULL;
	n.nseeds = 0;
	return endpoint_open(out, &n, timeout_ms, err);
}

/* Ask one node for CLUSTER SLOTS into m. */
static int
cluster_ask(struct cluster_map *m, const struct endpoint *ep,
    const struct cluster_node *node, struct error *err)
{
	struct endpoint_conn c = { 0 };
	redisReply *r = NULL;
	char who[CLUSTER_HOST_MAX + 16];
	int rc;

	cluster_node_name(who, sizeof(who), node);
	if ((rc = cluster_open(&c, ep, node, CLUSTER_TIMEOUT_MS, err)) < 0) {
		char why[sizeof(err->msg)];

		snprintf(why, sizeof(why), "%s", err->msg);
		if (rc != ERR_FAIL)
			rc = ERR_TRANSIENT;
		error_set(err, rc, "CLUSTER", "node %s: %s", who, why);
		goto out;
	}
	r = redisCommand(c.c, "CLUSTER SLOTS");
	if (r == NULL) {
		rc = error_set(err, ERR_TRANSIENT, "CLUSTER", "node %s: %s",
		    who, c.c->errstr);
		goto out;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		rc = error_set(err, ERR_TRANSIENT, "CLUSTER", "node %s: %.120s",
		    who, r->str);
		goto out;
	}
	if ((rc = cluster_map_parse(m, r, node, err)) < 0)
		rc = ERR_TRANSIENT;
out:
	if (r != NULL)
		freeReplyObject(r);
	endpoint_close(&c);
	return rc;
}

int
cluster_refresh(struct cluster_map *m, const struct endpoint *ep, size_t *first,
    struct error *err)
{
	struct cluster_node *cand;
	size_t ncand = 0, k, i;
	int64_t start = util_mono_ms();
	struct error one = { 0 };
	struct cluster_map *fresh;
	int rc = ERR_TRANSIENT, fail = 0;

	/* The seeds first (the URL is what the operator vouches for), then
	 * every master the last map knew (a seed may be gone for good). */
	cand = xcalloc(ep->nseeds + m->nnodes + 1, sizeof(*cand));
	for (i = 0; i < ep->nseeds; i++) {
		snprintf(cand[ncand].host, sizeof(cand[ncand].host), "%s",
		    ep->seeds[i].host);
		cand[ncand++].port = ep->seeds[i].port;
	}
	for (i = 0; i < m->nnodes; i++)
		cand[ncand++] = m->nodes[i];
	fresh = xcalloc(1, sizeof(*fresh));
	error_set(&one, ERR_TRANSIENT, "CLUSTER", "no cluster node to ask");
	for (k = 0; k < ncand; k++) {
		i = (*first + k) % ncand;
		if (k > 0 && util_mono_ms() - start > CLUSTER_BUDGET_MS)
			break;
		memset(&one, 0, sizeof(one));
		rc = cluster_ask(fresh, ep, &cand[i], &one);
		if (rc == 0) {
			memcpy(m, fresh, sizeof(*m));
			*first = i;
			goto out;
		}
		if (rc == ERR_FAIL)
			fail = 1;
	}
	rc = fail ? ERR_FAIL : ERR_TRANSIENT;
	error_set(err, rc, "CLUSTER", "no cluster node answered: %s", one.msg);
out:
	free(fresh);
	free(cand);
	return rc;
}

/* ---------------------------------------------------------- the tools */

struct cluster_client {
	const struct endpoint *ep; /* borrowed: the caller's, outlives us */
	int timeout_ms;
	struct cluster_map map;
	size_t first;
	/* Open connections by node address (kept across refreshes). */
	struct endpoint_conn conn[CLUSTER_NODES_MAX];
	struct cluster_node conn_node[CLUSTER_NODES_MAX];
	size_t nconn;
};

int
cluster_client_new(struct cluster_client **out, const struct endpoint *ep,
    int timeout_ms, struct error *err)
{
	struct cluster_client *cc = xcalloc(1, sizeof(*cc));
	int rc;

	cc->ep = ep;
	cc->timeout_ms = timeout_ms;
	if ((rc = cluster_refresh(&cc->map, ep, &cc->first, err)) < 0)
		goto out;
	*out = cc;
	cc = NULL;
out:
	free(cc);
	return rc;
}

/* The connection to node, opened when there is none yet. */
static redisContext *
cluster_client_conn(struct cluster_client *cc, const struct cluster_node *node,
    struct error *err)
{
	size_t i;

	for (i = 0; i < cc->nconn; i++)
		if (cc->conn_node[i].port == node->port &&
		    strcmp(cc->conn_node[i].host, node->host) == 0)
			return cc->conn[i].c;
	if (cc->nconn == CLUSTER_NODES_MAX) {
		error_set(err, ERR_TRANSIENT, "CLUSTER",
		    "more than %d cluster nodes", CLUSTER_NODES_MAX);
		return NULL;
	}
	if (cluster_open(&cc->conn[cc->nconn], cc->ep, node, cc->timeout_ms,
	        err) < 0)
		return NULL;
	cc->conn_node[cc->nconn] = *node;
	return cc->conn[cc->nconn++].c;
}

/* Forget the connection to node (it failed). */
static void
cluster_client_drop(struct cluster_client *cc, const struct cluster_node *node)
{
	size_t i;

	for (i = 0; i < cc->nconn; i++)
		if (cc->conn_node[i].port == node->port &&
		    strcmp(cc->conn_node[i].host, node->host) == 0) {
			endpoint_close(&cc->conn[i]);
			cc->conn[i] = cc->conn[cc->nconn - 1];
			cc->conn_node[i] = cc->conn_node[cc->nconn - 1];
			cc->nconn--;
			return;
		}
}

redisReply *
cluster_command(struct cluster_client *cc, const char *key, int argc,
    const char **argv, const size_t *lens, struct error *err)
{
	unsigned slot = cluster_key_slot(key, strlen(key)), rslot;
	struct cluster_node node, to;
	const struct cluster_node *owner;
	redisReply *r = NULL;
	redisContext *c;
	bool ask = false, asking = false;
	int tries, rc;

	for (tries = 0; tries <= CLUSTER_REDIRECTS_MAX; tries++) {
		if (!asking) {
			if ((owner = cluster_map_node(&cc->map, slot)) ==
			    NULL) {
				error_set(err, ERR_TRANSIENT, "CLUSTER",
				    "slot %u (key '%.64s') is served by no "
				    "master: the cluster is down or "
				    "incomplete",
				    slot, key);
				return NULL;
			}
			node = *owner;
		}
		if ((c = cluster_client_conn(cc, &node, err)) == NULL)
			return NULL;
		if (asking) {
			/* ASK: this one command may run on the importing
			 * node, and only after ASKING. */
			r = redisCommand(c, "ASKING");
			if (r != NULL)
				freeReplyObject(r);
		}
		r = redisCommandArgv(c, argc, argv, lens);
		if (r == NULL) {
			error_set(err, ERR_TRANSIENT, "REDIS", "%s: %s",
			    argv[0], c->errstr[0] ? c->errstr : "lost");
			cluster_client_drop(cc, &node);
			return NULL;
		}
		asking = false;
		if (r->type != REDIS_REPLY_ERROR ||
		    (rc = cluster_redirect_parse(r->str, r->len, &ask, &rslot,
		         &to)) != 0)
			return r;
		freeReplyObject(r);
		r = NULL;
		if (ask) {
			node = to;
			asking = true;
		} else if (cluster_refresh(&cc->map, cc->ep, &cc->first, err) <
		           0) {
			return NULL;
		}
	}
	error_set(err, ERR_TRANSIENT, "CLUSTER",
	    "key '%.64s': more than %d redirections (resharding?)", key,
	    CLUSTER_REDIRECTS_MAX);
	return NULL;
}

void
cluster_client_free(struct cluster_client *cc)
{
	size_t i;

	if (cc == NULL)
		return;
	for (i = 0; i < cc->nconn; i++)
		endpoint_close(&cc->conn[i]);
	free(cc);
}
