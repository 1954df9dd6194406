/*
 * sentinel.c - master discovery through Redis Sentinel (see sentinel.h):
 * blocking questions to the sentinels with short timeouts, the ROLE check
 * and the +switch-master message. Nothing here keeps state between calls
 * except the caller's "first sentinel to ask" index.
 */
#include "events/sentinel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "common/util.h"
#include "events/endpoint_int.h"

static struct timeval
sentinel_tv(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	return tv;
}

/* "host:port" of a node, for messages. */
static const char *
sentinel_name(char *buf, size_t size, const struct endpoint_node *n)
{
	snprintf(buf, size, strchr(n->host, ':') ? "[%.200s]:%d" : "%.200s:%d",
	    n->host, n->port);
	return buf;
}

/* The reply to SENTINEL get-master-addr-by-name. */
static int
sentinel_answer(struct sentinel_master *out, const redisReply *r,
    const char *who, const char *master, struct error *err)
{
	long long port;
	char num[8];

	if (r->type == REDIS_REPLY_NIL)
		return error_set(err, ERR_NOTFOUND, "SENTINEL",
		    "sentinel %s does not know master '%s'", who, master);
	if (r->type == REDIS_REPLY_ERROR) {
		if (strncmp(r->str, "NOAUTH", 6) == 0)
			return error_set(err, ERR_FAIL, "SENTINEL",
			    "sentinel %s wants a password (sentinel-password)",
			    who);
		return error_set(err, ERR_TRANSIENT, "SENTINEL",
		    "sentinel %s: %.120s", who, r->str);
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING ||
	    r->element[0]->len == 0 ||
	    r->element[0]->len >= SENTINEL_HOST_MAX ||
	    r->element[1]->len >= sizeof(num))
		return error_set(err, ERR_TRANSIENT, "SENTINEL",
		    "sentinel %s gave an address that is not host and port",
		    who);
	memcpy(num, r->element[1]->str, r->element[1]->len);
	num[r->element[1]->len] = '\0';
	if (util_parse_uint(&port, num, 65535) < 0 || port == 0)
		return error_set(err, ERR_TRANSIENT, "SENTINEL",
		    "sentinel %s gave a bad port", who);
	memcpy(out->host, r->element[0]->str, r->element[0]->len);
	out->host[r->element[0]->len] = '\0';
	out->port = (int)port;
	return 0;
}

/* A blocking connection to one sentinel: clear text, or for
 * rediss+sentinel:// TLS with the URL's TLS settings, the certificate
 * checked against the sentinel's address as the URL gives it. No AUTH
 * here (the sentinels' password is not the master's). */
static int
sentinel_open(struct endpoint_conn *out, const struct endpoint *ep,
    const struct endpoint_node *n, const char *who, struct error *err)
{
	struct endpoint one = { 0 }; /* shallow: never disposed */
	struct error why = { 0 };
	redisContext *c;
	int rc;

	memset(out, 0, sizeof(*out));
	if (ep->tls) {
		one.host = n->host;
		one.port = n->port;
		one.tls = true;
		one.tls_opt = ep->tls_opt;
		if ((rc = endpoint_open(out, &one, SENTINEL_TIMEOUT_MS, &why)) <
		    0)
			return error_set(err,
			    rc == ERR_INVALID ? rc : ERR_TRANSIENT, "SENTINEL",
			    "sentinel %s (TLS): %s", who, why.msg);
		return 0;
	}
	c = redisConnectWithTimeout(n->host, n->port,
	    sentinel_tv(SENTINEL_TIMEOUT_MS));
	if (c == NULL || c->err) {
		error_set(err, ERR_TRANSIENT, "SENTINEL", "sentinel %s: %s",
		    who, c ? c->errstr : "out of memory");
		if (c != NULL)
			redisFree(c);
		return ERR_TRANSIENT;
	}
	redisSetTimeout(c, sentinel_tv(SENTINEL_TIMEOUT_MS));
	out->c = c;
	return 0;
}

/* Ask one sentinel. */
static int
sentinel_ask(struct sentinel_master *out, const struct endpoint *ep,
    const struct endpoint_node *n, struct error *err)
{
	struct endpoint_conn conn = { 0 };
	char who[240];
	redisContext *c;
	redisReply *r = NULL;
	int rc;

	sentinel_name(who, sizeof(who), n);
	if ((rc = sentinel_open(&conn, ep, n, who, err)) < 0)
		goto out;
	c = conn.c;
	rc = ERR_TRANSIENT;
	if (ep->sentinel_password != NULL) {
		r = redisCommand(c, "AUTH %s", ep->sentinel_password);
		if (r == NULL) {
			error_set(err, rc, "SENTINEL", "sentinel %s: %s", who,
			    c->errstr);
			goto out;
		}
		if (r->type == REDIS_REPLY_ERROR) {
			/* Never echo the reply's context: it may quote what
			 * was sent. */
			rc = error_set(err, ERR_FAIL, "SENTINEL",
			    "sentinel %s refused the sentinel-password", who);
			goto out;
		}
		freeReplyObject(r);
	}
	r = redisCommand(c, "SENTINEL get-master-addr-by-name %s",
	    ep->master_name);
	if (r == NULL) {
		error_set(err, rc, "SENTINEL", "sentinel %s: %s", who,
		    c->errstr);
		goto out;
	}
	rc = sentinel_answer(out, r, who, ep->master_name, err);
out:
	if (r != NULL)
		freeReplyObject(r);
	endpoint_close(&conn);
	return rc;
}

int
sentinel_discover(struct sentinel_master *out, const struct endpoint *ep,
    size_t *first, struct error *err)
{
	struct error last_down = { 0 }, last_fail = { 0 };
	size_t k, n = ep->nsentinels, down = 0, unknown = 0, failed = 0;
	int64_t start = util_mono_ms();
	struct sentinel_master m;
	struct error one;
	int rc;

	if (n == 0 || ep->master_name == NULL)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "not a redis+sentinel URL");
	for (k = 0; k < n; k++) {
		size_t i = (*first + k) % n;

		if (k > 0 && util_mono_ms() - start > SENTINEL_BUDGET_MS)
			break;
		error_clear(&one);
		rc = sentinel_ask(&m, ep, &ep->sentinels[i], &one);
		if (rc == 0) {
			*first = i;
			*out = m;
			return 0;
		}
		if (rc == ERR_NOTFOUND) {
			unknown++;
		} else if (rc == ERR_FAIL) {
			failed++;
			last_fail = one;
		} else {
			down++;
			last_down = one;
		}
	}
	if (k < n) /* out of time: start with the ones not asked */
		*first = (*first + k) % n;
	if (unknown > 0)
		return error_set(err, ERR_NOTFOUND, "SENTINEL",
		    "no sentinel knows master '%s' (%zu of %zu asked said so, "
		    "%zu unreachable): check the master name",
		    ep->master_name, unknown, k, down);
	if (failed > 0)
		return error_set(err, ERR_FAIL, "SENTINEL", "%s",
		    last_fail.msg);
	return error_set(err, ERR_TRANSIENT, "SENTINEL",
	    "no sentinel reachable (%zu of %zu asked%s): last: %s", k, n,
	    k < n ? ", time budget spent" : "", last_down.msg);
}

bool
sentinel_role_is_master(const redisReply *r)
{
	return r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
	       (r->element[0]->type == REDIS_REPLY_STRING ||
	           r->element[0]->type == REDIS_REPLY_STATUS) &&
	       r->element[0]->len == 6 &&
	       memcmp(r->element[0]->str, "master", 6) == 0;
}

int
sentinel_switch_parse(struct sentinel_master *out, const char *master,
    const char *payload, size_t len)
{
	const char *p = payload, *end = payload + len, *w[5];
	size_t wl[5], i, ml = strlen(master);
	long long port;
	char num[8];

	for (i = 0; i < 5; i++) {
		while (p < end && *p == ' ')
			p++;
		w[i] = p;
		while (p < end && *p != ' ')
			p++;
		wl[i] = (size_t)(p - w[i]);
		if (wl[i] == 0)
			return ERR_INVALID;
	}
	if (wl[0] != ml || memcmp(w[0], master, ml) != 0)
		return ERR_NOTFOUND;
	if (wl[3] >= SENTINEL_HOST_MAX || wl[4] >= sizeof(num))
		return ERR_INVALID;
	memcpy(num, w[4], wl[4]);
	num[wl[4]] = '\0';
	if (util_parse_uint(&port, num, 65535) < 0 || port == 0)
		return ERR_INVALID;
	memcpy(out->host, w[3], wl[3]);
	out->host[wl[3]] = '\0';
	out->port = (int)port;
	return 0;
}

/* Connect to m (over TLS for rediss+sentinel://, the certificate
 * checked against m's address) and check it is the master: 0, or a code
 * with err set. */
static int
sentinel_try_master(struct endpoint_conn *out, const struct endpoint *ep,
    const struct sentinel_master *m, int timeout_ms, struct error *err)
{
	struct endpoint direct = *ep; /* shallow: never disposed */
	struct sentinel_master addr = *m;
	struct endpoint_conn conn = { 0 };
	redisReply *r = NULL;
	int rc;

	direct.host = addr.host;
	direct.port = m->port;
	direct.path = NULL;
	direct.sentinels = NULL;
	direct.nsentinels = 0;
	if ((rc = endpoint_open(&conn, &direct, timeout_ms, err)) < 0)
		goto out;
	r = redisCommand(conn.c, "ROLE");
	if (!sentinel_role_is_master(r)) {
		rc = error_set(err, ERR_TRANSIENT, "SENTINEL",
		    "%s:%d, given by the sentinels for master '%s', is not a "
		    "master (ROLE): a failover may be under way",
		    m->host, m->port, ep->master_name);
		goto out;
	}
	*out = conn;
	memset(&conn, 0, sizeof(conn));
out:
	if (r != NULL)
		freeReplyObject(r);
	endpoint_close(&conn);
	return rc;
}

int
sentinel_connect(struct endpoint_conn *out, const struct endpoint *ep,
    int timeout_ms, struct error *err)
{
	struct sentinel_master m;
	size_t first = 0;
	int rc = ERR_TRANSIENT, tries;

	for (tries = 0; tries < SENTINEL_CONNECT_TRIES; tries++) {
		if (tries > 0) {
			/* 200, 400, ... ms: a failover takes seconds. */
			struct timespec ts = { 0, 200000000L * tries };

			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec = ts.tv_nsec / 1000000000L;
				ts.tv_nsec %= 1000000000L;
			}
			nanosleep(&ts, NULL);
		}
		if ((rc = sentinel_discover(&m, ep, &first, err)) < 0) {
			if (rc != ERR_TRANSIENT)
				return rc;
			continue;
		}
		rc = sentinel_try_master(out, ep, &m, timeout_ms, err);
		if (rc != ERR_TRANSIENT)
			return rc;
	}
	return rc;
}
