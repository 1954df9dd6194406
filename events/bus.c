/*
 * bus.c - the Redis Streams transport on hiredis 0.14.1 and libevent.
 *
 * Three kinds of connection, each a struct bus_conn that reconnects by
 * itself: the reader (only XREADGROUP ... BLOCK, because replies on one
 * hiredis context come back in order and a blocked read would hold up
 * everything queued behind it), the command connection (XGROUP, the
 * completion script, XCLAIM, XAUTOCLAIM, XPENDING, sampling, a heartbeat
 * PING) and, in bridge mode, a Pub/Sub connection (on which hiredis 0.14.1
 * tolerates no other command and swallows PING replies).
 *
 * hiredis 0.14.1 frees a context itself after its disconnect callback and
 * crashes when it is freed inside that callback, so a failing connection
 * is never freed where the failure is noticed: conn_fail() marks it and a
 * libevent event frees it on the next loop turn. Every reply callback
 * must cope with a NULL reply, which is how hiredis reports teardown.
 */
#include "events/bus.h"

#include <errno.h>
#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <hiredis/adapters/libevent.h>
#pragma GCC diagnostic pop

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "events/cluster.h"
#include "events/endpoint_int.h"
#include "events/fields.h"
#include "events/reply_int.h"
#include "events/sentinel.h"
#include "events/tls.h"

/* Reconnect backoff: 100 ms doubling to 10 s, each wait scaled by a
 * random 0.5-1.0 so many workers do not reconnect in lock-step after a
 * Redis restart. */
#define BUS_BACKOFF_MIN_MS 100
#define BUS_BACKOFF_MAX_MS 10000
/* A connection that is not usable (TCP + AUTH + SELECT + PING answered)
 * within this time is dropped: hiredis 0.14.1 has no connect timeout and
 * a SYN to a black-holed host would wait for minutes. */
#define BUS_CONNECT_TIMEOUT_MS 3000
/* The reader's reply must come within BLOCK plus this margin. */
#define BUS_READ_MARGIN_MS 3000
/* Heartbeat on the command connection; a PING still unanswered one
 * period later means the connection is dead (or Redis is wedged). */
#define BUS_PING_MS 5000
/* Most entries asked for in one read or claim: bounds the size of one
 * reply we hold in memory at once (entries can be megabytes). */
#define BUS_FETCH_MAX 64
/* Pause before reading again after an error reply, so a persistent error
 * (a wrong type at the key, say) does not become a busy loop. */
#define BUS_ERROR_PAUSE_MS 1000
/* Consumer janitor: never forget a consumer idle less than this (ten
 * times claim_idle_ms or block_ms when larger), and look at most this
 * rarely. */
#define BUS_JANITOR_MIN_IDLE_MS 10000
#define BUS_JANITOR_MAX_PERIOD_MS (10 * 60 * 1000)
/* Input streams read by one XREADGROUP (we use two: tests and
 * releases); bounds the argument vector of the read. */
#define BUS_MAX_STREAMS 8
/* Bridge heartbeat: published on the command connection, expected back
 * on the Pub/Sub connection (PING cannot be used there on 0.14.1). */
#define BUS_PS_HEARTBEAT_MS 5000
#define BUS_PS_DEAD_MS 15000
/* Sentinel: after a failed discovery, connections that (re)start within
 * this wait (1 s doubling to 10 s) do not ask the sentinels again. A
 * discovery blocks the loop for up to SENTINEL_BUDGET_MS when sentinels
 * are black-holed; this keeps that to a small share of the time. */
#define BUS_DISCOVERY_WAIT_MIN_MS 1000
#define BUS_DISCOVERY_WAIT_MAX_MS 10000
/* Cluster: two more command connections per bus, to the masters of the
 * output stream and of the dead-letter stream (their slots usually differ
 * from the input stream's). Not in bus.h's enum: no stats of their own. */
#define BUS_CONN_OUT BUS_NCONN
#define BUS_CONN_DEAD (BUS_NCONN + 1)
#define BUS_NCONN_ALL (BUS_NCONN + 2)

struct bus;

struct bus_conn {
	struct bus *bus;
	int kind;
	redisAsyncContext *ac;
	bool ready;      /* connected, authenticated, PING answered */
	bool failing;    /* kill_ev is scheduled */
	bool ever_ready; /* for counting reconnects */
	unsigned gen;    /* Sentinel: bus->master_gen when it connected */
	bool ping_out;   /* OUT/DEAD: a heartbeat PING is unanswered */
	struct cluster_node node; /* Cluster: the master it connects to */
	struct tls_bridge *tls;   /* Cluster, Sentinel over TLS: its own */
	int backoff_ms;
	struct event *retry_ev; /* reconnect timer */
	struct event *watch_ev; /* connect watchdog, reader reply watchdog */
	struct event *kill_ev;  /* deferred free of ac */
};

struct bus_stream {
	char *name;
	char *dead;
	bool pending_phase; /* still reading our own PEL (id "0" onwards) */
	char cursor[REPLY_ID_MAX];
	char claim_cursor[REPLY_ID_MAX];
};

struct bus {
	struct event_base *base;
	struct endpoint url;
	struct tls_bridge *tls; /* rediss://: hiredis connects to its socket */
	char *group;
	char *consumer;
	char *output_stream;
	char *output_channel;
	long long maxlen;
	long long block_ms;
	long long claim_idle_ms;
	bool consume;
	struct bus_stream *streams;
	size_t nstreams;
	struct bus_conn conn[BUS_NCONN_ALL];
	bus_msg_cb *on_msg;
	bus_capacity_cb *capacity;
	void *arg;
	bool groups_ready;
	int groups_waiting;
	int counting;        /* batches waiting for their XPENDING counts */
	long long reader_id; /* CLIENT ID of the reader, 0: unknown */
	bus_stopped_cb *stopped_cb;
	void *stopped_arg;
	bool reading;
	int claiming;
	bool stopped;
	bool closing;
	bool ping_outstanding;
	struct event *claim_ev;
	struct event *janitor_ev;
	long long janitor_idle_ms;
	struct event *ping_ev;
	struct event *pause_ev;
	/* bridge */
	char **channels;
	size_t nchannels;
	bus_pubsub_cb *ps_cb;
	void *ps_arg;
	char *hb_channel;
	int64_t ps_last_heard;
	/* Sentinel (url.nsentinels > 0): the master's address as last
	 * discovered; master_gen changes with it, and connections of an
	 * older generation are moved over. */
	struct sentinel_master master;
	bool master_known;
	unsigned master_gen;
	size_t sentinel_first;   /* asked first in the next discovery */
	size_t sentinel_watch;   /* the one the +switch-master conn uses */
	int64_t discovery_after; /* no discovery before (mono ms) */
	int discovery_wait_ms;
	struct bus_stats stats;
	struct bus_stats *top_stats; /* a cluster bus: its kids' sum */
	/* Cluster: the shared routing state; the top bus owns it and one
	 * kid bus per input stream (the kids own the connections). */
	struct bus_cluster *cl;
	struct bus *top;
	struct bus **kids;
	size_t nkids;
	int stop_waiting;
	bus_stopped_cb *top_stopped_cb;
	void *top_stopped_arg;
};

struct bus_cluster {
	struct cluster_map map;
	bool stale;      /* refresh before the next connect */
	size_t first;    /* node asked first next time */
	int64_t after;   /* no refresh before (mono ms) */
	int wait_ms;     /* after a failed refresh */
	struct bus *top; /* whose kids are moved after a refresh */
};

static const char *const bus_conn_names[BUS_NCONN_ALL] = { "reader", "cmd",
	"pubsub", "sentinel", "out", "dead" };

/* stats.connected has no room for the cluster's OUT and DEAD. */
static void
conn_stat_connected(struct bus_conn *conn, bool up)
{
	if (conn->kind < BUS_NCONN)
		conn->bus->stats.connected[conn->kind] = up;
}

/*
 * The completion script. Redis runs a script atomically, like MULTI/EXEC,
 * and a script can also make the writes depend on the XACK: when the entry
 * is no longer pending (another consumer claimed and answered it, or it
 * was acknowledged already), nothing is written, so two workers racing on
 * one entry emit one outcome. ARGV: group, id, channel, maxlen, nevents,
 * then per event json/event_id/event_type/correlation_id ("" = absent)
 * and its stream ("": the output stream, KEYS[2], and only those are
 * published on the channel; else that stream, undeclared: the bus runs
 * on one Redis, never a cluster), then the number of dead-letter field
 * pairs and the pairs.
 */
static const char bus_complete_lua[] =
    "if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then\n"
    "  return 0\n"
    "end\n"
    "local i = 6\n"
    "for k = 1, tonumber(ARGV[5]) do\n"
    "  local a = {KEYS[2]}\n"
    "  if ARGV[4] ~= '0' then\n"
    "    a[#a+1] = 'MAXLEN'; a[#a+1] = '~'; a[#a+1] = ARGV[4]\n"
    "  end\n"
    "  a[#a+1] = '*'; a[#a+1] = '" FIELD_EVENT "'; a[#a+1] = ARGV[i]\n"
    "  if ARGV[i+1] ~= '' then\n"
    "    a[#a+1] = '" FIELD_EVENT_ID "'; a[#a+1] = ARGV[i+1]\n"
    "  end\n"
    "  if ARGV[i+2] ~= '' then\n"
    "    a[#a+1] = '" FIELD_EVENT_TYPE "'; a[#a+1] = ARGV[i+2]\n"
    "  end\n"
    "  if ARGV[i+3] ~= '' then\n"
    "    a[#a+1] = '" FIELD_CORRELATION_ID "'; a[#a+1] = ARGV[i+3]\n"
    "  end\n"
    "  if ARGV[i+4] ~= '' then a[1] = ARGV[i+4] end\n"
    "  redis.call('XADD', unpack(a))\n"
    "  if ARGV[3] ~= '' and ARGV[i+4] == '' then\n"
    "    redis.call('PUBLISH', ARGV[3], ARGV[i])\n"
    "  end\n"
    "  i = i + 5\n"
    "end\n"
    "local n = tonumber(ARGV[i])\n"
    "if n > 0 then\n"
    "  local a = {KEYS[3], '*'}\n"
    "  for k = 1, 2 * n do a[#a+1] = ARGV[i+k] end\n"
    "  redis.call('XADD', unpack(a))\n"
    "end\n"
    "return 1\n";

/*
 * The consumer janitor. Every restart under a new name (<host>-<pid>)
 * leaves a consumer behind in the group. Deleting one that still has
 * pending entries would drop them from the PEL for good (redis#9745), so
 * check and delete happen in one script: only consumers with nothing
 * pending, idle longer than ARGV[2] ms, and not ourselves. A live
 * consumer touches its idle time with every XREADGROUP (at most block_ms
 * apart), and if one were deleted anyway Redis recreates it on its next
 * read. KEYS stream; ARGV group, min idle, own name.
 */
static const char bus_janitor_lua[] =
    "local n = 0\n"
    "for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], "
    "ARGV[1])) do\n"
    "  local name, pending, idle\n"
    "  for i = 1, #c, 2 do\n"
    "    if c[i] == 'name' then name = c[i+1]\n"
    "    elseif c[i] == 'pending' then pending = c[i+1]\n"
    "    elseif c[i] == 'idle' then idle = c[i+1] end\n"
    "  end\n"
    "  if name ~= nil and name ~= ARGV[3] and pending == 0 and\n"
    "      idle ~= nil and idle > tonumber(ARGV[2]) then\n"
    "    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n";

/* Dedupe-append for the bridge: KEYS stream, seen-key; ARGV ttl, payload,
 * event_id, event_type. */
static const char bus_append_lua[] =
    "if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then\n"
    "  local a = {KEYS[1], '*', '" FIELD_EVENT "', ARGV[2]}\n"
    "  if ARGV[3] ~= '' then a[#a+1] = '" FIELD_EVENT_ID
    "'; a[#a+1] = ARGV[3] end\n"
    "  if ARGV[4] ~= '' then a[#a+1] = '" FIELD_EVENT_TYPE
    "'; a[#a+1] = ARGV[4] end\n"
    "  redis.call('XADD', unpack(a))\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

static void bus_kick(struct bus *bus);
static const char *conn_key(const struct bus_conn *conn);
static int bus_cluster_route(struct bus *bus, const char *key,
    struct cluster_node *out);
static void bus_claim_tick(evutil_socket_t fd, short what, void *arg);
static void bus_janitor_tick(evutil_socket_t fd, short what, void *arg);
static void conn_start(struct bus_conn *conn);

/* ----------------------------------------------------------- messages */

const char *
bus_msg_field(const struct bus_msg *m, const char *name, size_t *len)
{
	size_t i;

	for (i = 0; i < m->nfields; i++) {
		if (strcmp(m->fields[i].name, name) == 0) {
			if (len != NULL)
				*len = m->fields[i].value_len;
			return m->fields[i].value;
		}
	}
	return NULL;
}

void
bus_msg_free(struct bus_msg *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nfields; i++) {
		free(m->fields[i].name);
		free(m->fields[i].value);
	}
	free(m->fields);
	free(m->stream);
	free(m->id);
	free(m);
}

char *
bus_dead_stream(const char *stream)
{
	return xasprintf("%s:dead", stream);
}

/* --------------------------------------------------------- connections */

static bool
conn_usable(const struct bus_conn *conn)
{
	return conn->ac != NULL && conn->ready && !conn->failing;
}

/* Mark a connection broken; it is freed on the next loop turn (never
 * inside a hiredis callback) and then reconnected. */
static void
conn_fail(struct bus_conn *conn, const char *why)
{
	if (conn->ac == NULL || conn->failing)
		return;
	conn->failing = true;
	conn->ready = false;
	conn_stat_connected(conn, false);
	log_warnx("redis_conn_lost conn=%s reason=\"%s\"",
	    bus_conn_names[conn->kind], why);
	event_active(conn->kill_ev, 0, 0);
}

static void
conn_schedule(struct bus_conn *conn)
{
	struct timeval tv;
	double ms;

	if (conn->bus->closing)
		return;
	ms = conn->backoff_ms * util_jitter(0.5, 1.0);
	conn->backoff_ms *= 2;
	if (conn->backoff_ms > BUS_BACKOFF_MAX_MS)
		conn->backoff_ms = BUS_BACKOFF_MAX_MS;
	tv.tv_sec = (long)ms / 1000;
	tv.tv_usec = ((long)ms % 1000) * 1000;
	evtimer_add(conn->retry_ev, &tv);
}

/* No read is outstanding any more; tell a waiting bus_stop_reading. */
static void
bus_read_done(struct bus *bus)
{
	bus_stopped_cb *cb = bus->stopped_cb;

	bus->reading = false;
	if (bus->stopped && cb != NULL && !bus->closing) {
		bus->stopped_cb = NULL;
		cb(bus->stopped_arg);
	}
}

/* The connection went away: forget the context (hiredis frees it or has
 * freed it), tell the rest of the bus, and reconnect later. */
static void
conn_lost(struct bus_conn *conn)
{
	struct bus *bus = conn->bus;

	conn->ac = NULL;
	conn->ready = false;
	conn->failing = false;
	conn->ping_out = false;
	conn_stat_connected(conn, false);
	evtimer_del(conn->watch_ev);
	if (conn->kind == BUS_CONN_READER) {
		bus->reader_id = 0;
		bus_read_done(bus);
	}
	if (conn->kind == BUS_CONN_CMD) {
		bus->groups_ready = false;
		bus->ping_outstanding = false;
		bus->claiming = 0;
	}
	/* Through Sentinel, a lost connection means asking again where the
	 * master is (the client guide's "handle reconnections"). */
	if (conn->kind == BUS_CONN_SENTINEL)
		bus->sentinel_watch++;
	else
		bus->master_known = false;
	/* In a cluster a lost connection may be a failover: read the map
	 * again before reconnecting. */
	if (bus->cl != NULL)
		bus->cl->stale = true;
	conn_schedule(conn);
}

static void
conn_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bus_conn *conn = arg;
	redisAsyncContext *ac = conn->ac;

	(void)fd;
	(void)what;
	if (ac == NULL)
		return;
	/* Forget it first: the NULL replies and the disconnect callback
	 * that redisAsyncFree runs must see that it is no longer ours. */
	conn->ac = NULL;
	redisAsyncFree(ac);
	conn_lost(conn);
}

static void
conn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bus_conn *conn = arg;

	(void)fd;
	(void)what;
	if (conn->ac == NULL && !conn->bus->closing) {
		if (conn->ever_ready && conn->kind < BUS_NCONN)
			conn->bus->stats.reconnects[conn->kind]++;
		conn_start(conn);
	}
}

static void
conn_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bus_conn *conn = arg;

	(void)fd;
	(void)what;
	conn_fail(conn, conn->ready ? "no reply in time" : "connect timed out");
}

static void
conn_on_connect(const redisAsyncContext *c, int status)
{
	struct bus_conn *conn = c->data;

	if (conn == NULL || conn->ac != c)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback, and no
		 * disconnect callback follows. */
		log_warnx("redis_connect_failed conn=%s err=\"%s\"",
		    bus_conn_names[conn->kind], c->errstr);
		conn_lost(conn);
	}
}

static void
conn_on_disconnect(const redisAsyncContext *c, int status)
{
	struct bus_conn *conn = c->data;

	if (conn == NULL || conn->ac != c)
		return;
	if (!conn->failing)
		log_warnx("redis_conn_lost conn=%s reason=\"%s\"",
		    bus_conn_names[conn->kind],
		    status == REDIS_OK ? "closed" : c->errstr);
	conn_lost(conn);
}

static void bus_conn_ready(struct bus_conn *conn);

/* The reader's CLIENT ID, so that a shutdown can CLIENT UNBLOCK its
 * blocked read instead of waiting up to block_ms for it. */
static void
bus_client_id_cb(redisAsyncContext *c, void *r, void *priv)
{
	struct bus *bus = priv;
	redisReply *reply = r;

	if (reply != NULL && reply->type == REDIS_REPLY_INTEGER &&
	    bus->conn[BUS_CONN_READER].ac == c)
		bus->reader_id = reply->integer;
}

/* Reply of the AUTH / SELECT / PING sent before anything else. */
static void
conn_setup_cb(redisAsyncContext *c, void *r, void *priv)
{
	struct bus_conn *conn = c->data;
	redisReply *reply = r;
	intptr_t last = (intptr_t)priv;

	if (reply == NULL || conn == NULL || conn->ac != c)
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		char why[160];

		/* Never echo what we sent: it may be the password. */
		snprintf(why, sizeof(why), "setup refused: %.120s", reply->str);
		conn_fail(conn, why);
		return;
	}
	if (last == 2 && !sentinel_role_is_master(reply)) {
		/* The sentinels' answer is stale (a failover under way):
		 * never use a replica; ask again. */
		conn->bus->master_known = false;
		conn_fail(conn, "not a master (ROLE): failover under way?");
		return;
	}
	if (last == 1) {
		evtimer_del(conn->watch_ev);
		conn->ready = true;
		conn->ever_ready = true;
		conn->backoff_ms = BUS_BACKOFF_MIN_MS;
		conn_stat_connected(conn, true);
		log_info("redis_connected conn=%s", bus_conn_names[conn->kind]);
		bus_conn_ready(conn);
	}
}

/* The master is at m now (a discovery or a +switch-master): connections
 * made to another address are moved over (closed, and reconnected). */
static void
bus_master_set(struct bus *bus, const struct sentinel_master *m,
    const char *how)
{
	size_t i;

	bus->master_known = true;
	if (bus->master_gen != 0 && bus->master.port == m->port &&
	    strcmp(bus->master.host, m->host) == 0)
		return;
	bus->master = *m;
	if (bus->master_gen++ != 0)
		bus->stats.master_switches++;
	log_info("redis_master master=%s addr=\"%s:%d\" via=%s",
	    bus->url.master_name, m->host, m->port, how);
	for (i = 0; i < BUS_NCONN_ALL; i++) {
		struct bus_conn *conn = &bus->conn[i];

		if (i != BUS_CONN_SENTINEL && conn->ac != NULL &&
		    conn->gen != bus->master_gen)
			conn_fail(conn, "the master moved");
	}
}

/* Through Sentinel: make sure bus->master is current, asking the
 * sentinels when it is not. 0, or -1 when there is no master to connect
 * to now (logged with its cause; the caller retries later). */
static int
bus_discover(struct bus *bus)
{
	struct sentinel_master m;
	struct error err = { 0 };
	int64_t now = util_mono_ms();
	int rc;

	if (bus->master_known)
		return 0;
	if (now < bus->discovery_after)
		return -1;
	rc = sentinel_discover(&m, &bus->url, &bus->sentinel_first, &err);
	if (rc < 0) {
		log_warnx("redis_sentinel_failed master=%s cause=%s err=\"%s\"",
		    bus->url.master_name,
		    rc == ERR_NOTFOUND ? "unknown_master"
		    : rc == ERR_FAIL   ? "auth"
		                       : "unreachable",
		    err.msg);
		bus->discovery_after = now + bus->discovery_wait_ms;
		bus->discovery_wait_ms *= 2;
		if (bus->discovery_wait_ms > BUS_DISCOVERY_WAIT_MAX_MS)
			bus->discovery_wait_ms = BUS_DISCOVERY_WAIT_MAX_MS;
		return -1;
	}
	bus->discovery_wait_ms = BUS_DISCOVERY_WAIT_MIN_MS;
	bus_master_set(bus, &m, "sentinel");
	return 0;
}

/* ------------------------------------------------------------- cluster */

/* The key whose slot says where conn goes (cluster.h): a kid bus has one
 * input stream; the reader and cmd connections follow it, OUT the output
 * stream and DEAD its dead-letter stream. Pub/Sub works on any node. */
static const char *
conn_key(const struct bus_conn *conn)
{
	const struct bus *bus = conn->bus;

	switch (conn->kind) {
	case BUS_CONN_OUT:
	case BUS_CONN_PUBSUB:
		return bus->output_stream;
	case BUS_CONN_DEAD:
		return bus->nstreams > 0 ? bus->streams[0].dead
		                         : bus->output_stream;
	default:
		return bus->nstreams > 0 ? bus->streams[0].name
		                         : bus->output_stream;
	}
}

/* After a refresh: every connection whose key's slot is now served by
 * another master (resharding, a failover) is closed and reconnects. */
static void
bus_cluster_move(struct bus_cluster *cl)
{
	struct bus *top = cl->top;
	size_t k, i;

	for (k = 0; k < top->nkids; k++) {
		struct bus *bus = top->kids[k];

		if (bus == NULL) /* still being made */
			continue;
		for (i = 0; i < BUS_NCONN_ALL; i++) {
			struct bus_conn *conn = &bus->conn[i];
			const char *key = conn_key(conn);
			const struct cluster_node *n;

			if (conn->ac == NULL || conn->failing)
				continue;
			n = cluster_map_node(&cl->map,
			    cluster_key_slot(key, strlen(key)));
			if (n != NULL && n->port == conn->node.port &&
			    strcmp(n->host, conn->node.host) == 0)
				continue;
			bus->stats.master_switches++;
			conn_fail(conn, "its slot moved to another node");
		}
	}
}

/* Read the slot map again (blocking, bounded: cluster.h). 0, or -1 when
 * no node answered (logged; retried after a backoff). */
static int
bus_cluster_refresh(struct bus_cluster *cl)
{
	struct error err = { 0 };
	int64_t now = util_mono_ms();
	unsigned first = 0;
	size_t missing;
	int rc;

	if (now < cl->after)
		return -1;
	rc = cluster_refresh(&cl->map, &cl->top->url, &cl->first, &err);
	if (rc < 0) {
		log_warnx("redis_cluster_failed cause=%s err=\"%s\"",
		    rc == ERR_FAIL ? "auth" : "unreachable", err.msg);
		cl->after = now + cl->wait_ms;
		cl->wait_ms *= 2;
		if (cl->wait_ms > BUS_DISCOVERY_WAIT_MAX_MS)
			cl->wait_ms = BUS_DISCOVERY_WAIT_MAX_MS;
		return -1;
	}
	cl->stale = false;
	cl->wait_ms = BUS_DISCOVERY_WAIT_MIN_MS;
	missing = cluster_map_uncovered(&cl->map, &first);
	if (missing > 0)
		log_warnx("redis_cluster_uncovered slots=%zu first=%u "
		          "masters=%zu",
		    missing, first, cl->map.nnodes);
	else
		log_info("redis_cluster_map masters=%zu", cl->map.nnodes);
	bus_cluster_move(cl);
	return 0;
}

/* The master for key, refreshing a stale map first. 0, or -1 when there
 * is none now (logged: no node answered, or the slot is uncovered). */
static int
bus_cluster_route(struct bus *bus, const char *key, struct cluster_node *out)
{
	struct bus_cluster *cl = bus->cl;
	unsigned slot = cluster_key_slot(key, strlen(key));
	const struct cluster_node *n;

	if (cl->stale && bus_cluster_refresh(cl) < 0)
		return -1;
	if ((n = cluster_map_node(&cl->map, slot)) == NULL) {
		log_warnx("redis_cluster_failed cause=uncovered slot=%u "
		          "key=\"%.64s\" err=\"no master serves the slot: "
		          "cluster down or incomplete\"",
		    slot, key);
		/* Ask again, but not at once. */
		cl->stale = true;
		cl->after = util_mono_ms() + cl->wait_ms;
		cl->wait_ms *= 2;
		if (cl->wait_ms > BUS_DISCOVERY_WAIT_MAX_MS)
			cl->wait_ms = BUS_DISCOVERY_WAIT_MAX_MS;
		return -1;
	}
	*out = *n;
	return 0;
}

/* Cluster or Sentinel over TLS: a bridge of conn's own, aimed at the
 * node (a cluster master, the discovered master, a sentinel) it is about
 * to connect to, so the certificate is checked against that address (a
 * new bridge each time: the node may differ). */
static int
conn_own_tls(struct bus_conn *conn, const char *host, int port)
{
	struct endpoint ep = conn->bus->url; /* borrowed: never disposed */
	struct error err = { 0 };
	int rc = 0;

	tls_bridge_free(conn->tls);
	conn->tls = NULL;
	ep.host = xstrdup(host); /* the bridge copies it */
	ep.port = port;
	if (tls_bridge_new(&conn->tls, conn->bus->base, &ep, &err) < 0) {
		log_warnx("redis_connect_failed conn=%s err=\"%s\"",
		    bus_conn_names[conn->kind], err.msg);
		rc = -1;
	}
	free(ep.host);
	return rc;
}

/* Where conn connects: the URL's address; through Sentinel the master's
 * (discovered) or, for the +switch-master watch, one sentinel. */
static int
bus_conn_target(struct bus_conn *conn, const char **host, int *port)
{
	struct bus *bus = conn->bus;
	const struct endpoint *u = &bus->url;

	if (bus->cl != NULL) {
		if (bus_cluster_route(bus, conn_key(conn), &conn->node) < 0)
			return -1;
		*host = conn->node.host;
		*port = conn->node.port;
	} else if (u->nsentinels == 0) {
		*host = u->host;
		*port = u->port;
	} else if (conn->kind == BUS_CONN_SENTINEL) {
		const struct endpoint_node *n =
		    &u->sentinels[bus->sentinel_watch % u->nsentinels];

		*host = n->host;
		*port = n->port;
	} else {
		if (bus_discover(bus) < 0)
			return -1;
		*host = bus->master.host;
		*port = bus->master.port;
	}
	return 0;
}

/* What is sent before anything else: AUTH, SELECT, ROLE through
 * Sentinel (priv 2: a replica is refused), and a PING (priv 1) whose
 * answer marks the connection usable. A sentinel gets only its own AUTH
 * and the PING. */
static void
conn_setup(struct bus_conn *conn, redisAsyncContext *ac)
{
	const struct endpoint *u = &conn->bus->url;

	if (conn->kind == BUS_CONN_SENTINEL) {
		if (u->sentinel_password != NULL)
			redisAsyncCommand(ac, conn_setup_cb, (void *)0,
			    "AUTH %s", u->sentinel_password);
		redisAsyncCommand(ac, conn_setup_cb, (void *)1, "PING");
		return;
	}
	if (u->password != NULL) {
		if (u->user != NULL)
			redisAsyncCommand(ac, conn_setup_cb, (void *)0,
			    "AUTH %s %s", u->user, u->password);
		else
			redisAsyncCommand(ac, conn_setup_cb, (void *)0,
			    "AUTH %s", u->password);
	}
	if (u->db != 0)
		redisAsyncCommand(ac, conn_setup_cb, (void *)0, "SELECT %d",
		    u->db);
	if (u->nsentinels > 0)
		redisAsyncCommand(ac, conn_setup_cb, (void *)2, "ROLE");
	redisAsyncCommand(ac, conn_setup_cb, (void *)1, "PING");
}

static void
conn_start(struct bus_conn *conn)
{
	struct bus *bus = conn->bus;
	const struct endpoint *u = &bus->url;
	redisAsyncContext *ac;
	struct timeval tv = { BUS_CONNECT_TIMEOUT_MS / 1000,
		(BUS_CONNECT_TIMEOUT_MS % 1000) * 1000 };
	const char *host = NULL;
	int port = 0;

	if (!u->path && bus_conn_target(conn, &host, &port) < 0) {
		conn_schedule(conn);
		return;
	}
	/* NB: hiredis resolves host names with a blocking getaddrinfo();
	 * use an IP address or a unix socket where that matters. */
	if ((bus->cl != NULL || u->nsentinels > 0) && u->tls &&
	    conn_own_tls(conn, host, port) < 0) {
		conn_schedule(conn);
		return;
	}
	if (conn->tls != NULL && u->tls) /* rediss+cluster/sentinel:// */
		ac = redisAsyncConnectUnix(tls_bridge_path(conn->tls));
	else if (bus->tls != NULL) /* rediss://: never clear text to Redis */
		ac = redisAsyncConnectUnix(tls_bridge_path(bus->tls));
	else
		ac = u->path ? redisAsyncConnectUnix(u->path)
		             : redisAsyncConnect(host, port);
	if (ac == NULL || ac->err) {
		log_warnx("redis_connect_failed conn=%s err=\"%s\"",
		    bus_conn_names[conn->kind],
		    ac ? ac->errstr : "out of memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		conn_schedule(conn);
		return;
	}
	if (!u->path && !u->tls) /* TLS: on the bridge's socket */
		redisEnableKeepAlive(&ac->c);
	ac->data = conn;
	conn->ac = ac;
	conn->ready = false;
	conn->failing = false;
	conn->gen = bus->master_gen;
	redisLibeventAttach(ac, bus->base);
	redisAsyncSetConnectCallback(ac, conn_on_connect);
	redisAsyncSetDisconnectCallback(ac, conn_on_disconnect);
	/* Commands may be queued before the TCP connect completes. */
	conn_setup(conn, ac);
	if (conn->kind == BUS_CONN_READER)
		redisAsyncCommand(ac, bus_client_id_cb, bus, "CLIENT ID");
	evtimer_add(conn->watch_ev, &tv);
}

/* ------------------------------------------------------- consumption */

static void
bus_pause_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	bus_kick(arg);
}

static void
bus_pause(struct bus *bus)
{
	struct timeval tv = { BUS_ERROR_PAUSE_MS / 1000,
		(BUS_ERROR_PAUSE_MS % 1000) * 1000 };

	evtimer_add(bus->pause_ev, &tv);
}

static struct bus_stream *
bus_find_stream(struct bus *bus, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < bus->nstreams; i++)
		if (strlen(bus->streams[i].name) == len &&
		    memcmp(bus->streams[i].name, name, len) == 0)
			return &bus->streams[i];
	return NULL;
}

/*
 * Count and log an error reply. A server that became a replica answers
 * writes with -READONLY and unblocks readers with "-UNBLOCKED force
 * unblock ... (master -> replica?)": drop the connection then, so the
 * reconnect can reach the new master (when the address follows it, as a
 * Kubernetes Service or a Sentinel-managed DNS name does) instead of
 * failing every write on the old one.
 */
static void
bus_count_error(struct bus *bus, int kind, const char *what,
    const redisReply *r)
{
	bus->stats.command_errors++;
	log_warnx("redis_error cmd=%s err=\"%.200s\"", what, r->str);
	if (strncmp(r->str, "READONLY", 8) == 0 ||
	    strncmp(r->str, "UNBLOCKED force unblock", 23) == 0)
		conn_fail(&bus->conn[kind], "server is a replica now");
	/* Cluster: MOVED means the slot has another master now (resharding
	 * finished, a failover): read the map again and reconnect there.
	 * ASK (a slot being migrated) and TRYAGAIN are transient: the
	 * command is retried after a pause or by the loop, and ends in a
	 * MOVED once the migration is done. */
	if (bus->cl != NULL && (strncmp(r->str, "MOVED ", 6) == 0 ||
	                           strncmp(r->str, "CLUSTERDOWN", 11) == 0)) {
		bus->cl->stale = true;
		conn_fail(&bus->conn[kind], "the slot moved (MOVED)");
	}
}

static void
bus_group_cb(redisAsyncContext *c, void *r, void *priv)
{
	struct bus *bus = priv;
	redisReply *reply = r;

	(void)c;
	if (reply == NULL)
		return; /* the connection went down; redone on reconnect */
	if (reply->type == REDIS_REPLY_ERROR &&
	    strncmp(reply->str, "BUSYGROUP", 9) != 0)
		bus_count_error(bus, BUS_CONN_CMD, "XGROUP", reply);
	if (--bus->groups_waiting == 0) {
		bus->groups_ready = true;
		bus_kick(bus);
		/* Take over at once what others gave back at shutdown (or
		 * left behind), instead of after the first claim period. */
		if (bus->consume && bus->claim_idle_ms > 0)
			bus_claim_tick(-1, 0, bus);
	}
}

/*
 * Where a group that does not exist yet starts. The first group of a
 * stream starts at 0: nobody has handled what producers wrote before the
 * first worker came up, and it must not be lost. Any later group starts
 * at $ (new entries only): the retained entries were another group's,
 * and handling them again would republish old releases (a group made for
 * a replay of one stream, run with --group, once re-handled every
 * RELEASE_TAGGED of the other). History is handled again only when asked
 * for by name: `artifactd replay --stream S --group G` creates G on S at
 * the chosen point before any worker does. Check and create in one
 * script, so two workers starting at once agree. MKSTREAM: producers may
 * not have written yet. An existing group answers BUSYGROUP, ignored.
 * KEYS stream; ARGV group.
 */
static const char bus_group_lua[] =
    "local id = '0'\n"
    "if redis.call('EXISTS', KEYS[1]) == 1 and "
    "#redis.call('XINFO', 'GROUPS', KEYS[1]) > 0 then id = '$' end\n"
    "return redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], id, "
    "'MKSTREAM')\n";

static void
bus_create_groups(struct bus *bus)
{
	redisAsyncContext *ac = bus->conn[BUS_CONN_CMD].ac;
	size_t i;

	if (!bus->consume || !conn_usable(&bus->conn[BUS_CONN_CMD]) ||
	    bus->groups_waiting > 0)
		return;
	bus->groups_ready = false;
	for (i = 0; i < bus->nstreams; i++) {
		if (redisAsyncCommand(ac, bus_group_cb, bus, "EVAL %s 1 %s %s",
		        bus_group_lua, bus->streams[i].name,
		        bus->group) == REDIS_OK)
			bus->groups_waiting++;
	}
}

/* Entries waiting for their delivery counts (XPENDING) before they are
 * handed over. */
struct bus_batch {
	struct bus *bus;
	struct bus_msg **msgs;
	size_t n;
	bool claimed;
};

static void
bus_deliver(struct bus *bus, struct bus_msg **msgs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		bus->stats.received++;
		bus->on_msg(msgs[i], bus->arg);
		msgs[i] = NULL;
	}
}

static void
bus_batch_free(struct bus_batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		bus_msg_free(b->msgs[i]);
	free(b->msgs);
	free(b);
}

static void
bus_xpending_cb(redisAsyncContext *c, void *r, void *priv)
{
	struct bus_batch *b = priv;
	struct bus *bus = b->bus;
	redisReply *reply = r;
	size_t i;

	(void)c;
	if (bus->counting > 0)
		bus->counting--;
	if (reply == NULL) {
		/* Teardown: the entries stay in our PEL and come back through
		 * XAUTOCLAIM. */
		bus_batch_free(b);
		return;
	}
	for (i = 0; i < b->n; i++) {
		long long n = reply_pending_count(reply, b->msgs[i]->id);

		/* Not listed: acknowledged or claimed by someone else in
		 * the meantime; deliver anyway, the completion script only
		 * writes if it is still pending. */
		b->msgs[i]->deliveries = n > 0 ? n : 1;
	}
	if (!bus->closing)
		bus_deliver(bus, b->msgs, b->n);
	bus_batch_free(b);
	bus_kick(bus);
}

/* Ask for the delivery counts of msgs (all of one stream), then deliver
 * them. Takes the array over. */
static void
bus_deliver_counted(struct bus *bus, const char *stream, struct bus_msg **msgs,
    size_t n)
{
	struct bus_batch *b;
	char count[24];
	redisAsyncContext *ac = bus->conn[BUS_CONN_CMD].ac;

	if (n == 0) {
		free(msgs);
		return;
	}
	b = xcalloc(1, sizeof(*b));
	b->bus = bus;
	b->msgs = msgs;
	b->n = n;
	snprintf(count, sizeof(count), "%zu", n);
	if (!conn_usable(&bus->conn[BUS_CONN_CMD]) ||
	    redisAsyncCommand(ac, bus_xpending_cb, b,
	        "XPENDING %s %s %s %s %s %s", stream, bus->group, msgs[0]->id,
	        msgs[n - 1]->id, count, bus->consumer) != REDIS_OK) {
		/* Without the counts, deliver as if redelivered once more:
		 * the crash-loop guard then acts one delivery later. */
		size_t i;

		for (i = 0; i < n; i++)
			msgs[i]->deliveries = 2;
		bus_deliver(bus, msgs, n);
		bus_batch_free(b);
		return;
	}
	/* Until the counts are in, the loop does not know it holds these
	 * (suspect) entries: read and claim nothing more meanwhile. */
	bus->counting++;
}

static void
bus_ack_trimmed(struct bus *bus, const char *stream, const char *id)
{
	bus->stats.trimmed++;
	log_warnx("bus_trimmed_pending stream=%s id=%s", stream, id);
	if (conn_usable(&bus->conn[BUS_CONN_CMD]))
		redisAsyncCommand(bus->conn[BUS_CONN_CMD].ac, NULL, NULL,
		    "XACK %s %s %s", stream, bus->group, id);
}

/* Split one stream's entries of a reply into messages (trimmed ones are
 * acknowledged). Returns the messages (caller frees the array). */
static struct bus_msg **
bus_collect(struct bus *bus, const char *stream, const redisReply *entries,
    size_t *n)
{
	struct bus_msg **msgs;
	size_t i, k = 0;

	msgs =
	    xcalloc(entries->elements ? entries->elements : 1, sizeof(*msgs));
	for (i = 0; i < entries->elements; i++) {
		struct bus_msg *m = NULL;
		int rc = reply_entry(&m, entries->element[i], stream);

		if (rc == 1) {
			bus_ack_trimmed(bus, stream, m->id);
			bus_msg_free(m);
		} else if (rc == 0) {
			msgs[k++] = m;
		} else {
			log_warnx("bus_bad_entry stream=%s", stream);
		}
	}
	*n = k;
	return msgs;
}

/* One stream's part of an XREADGROUP reply: a read of our own PEL
 * (pending_read) moves the stream's history cursor and asks for the
 * delivery counts; a read of new entries delivers at once. */
static void
bus_read_stream(struct bus *bus, const redisReply *s, bool pending_read)
{
	struct reply_stream rs;
	struct bus_stream *st;
	struct bus_msg **msgs;
	size_t n;

	if (reply_stream(&rs, s) < 0 ||
	    (st = bus_find_stream(bus, rs.name, rs.name_len)) == NULL)
		return;
	if (pending_read) {
		if (rs.entries->elements == 0) {
			st->pending_phase = false;
			return;
		}
		/* Continue after the last one next time. */
		if (rs.last_id != NULL)
			snprintf(st->cursor, sizeof(st->cursor), "%.*s",
			    (int)rs.last_id_len, rs.last_id);
	}
	msgs = bus_collect(bus, st->name, rs.entries, &n);
	if (pending_read) {
		/* Reading our own PEL bumped the counters: ask for them
		 * (crash-loop guard). */
		bus_deliver_counted(bus, st->name, msgs, n);
	} else {
		bus_deliver(bus, msgs, n);
		free(msgs);
	}
}

static void
bus_read_cb(redisAsyncContext *c, void *r, void *priv)
{
	struct bus *bus = priv;
	struct bus_conn *conn = &bus->conn[BUS_CONN_READER];
	redisReply *reply = r;
	bool pending_read = false;
	size_t i;

	if (conn->ac == c)
		evtimer_del(conn->watch_ev);
	if (reply == NULL)
		return; /* teardown; conn_lost clears `reading` */
	if (reply->type == REDIS_REPLY_ERROR) {
		bus_count_error(bus, BUS_CONN_READER, "XREADGROUP", reply);
		if (strncmp(reply->str, "NOGROUP", 7) == 0) {
			bus->groups_ready = false;
			bus_create_groups(bus);
		}
		bus_pause(bus);
		bus_read_done(bus);
		return;
	}
	for (i = 0; i < bus->nstreams; i++)
		if (bus->streams[i].pending_phase)
			pending_read = true;
	if (reply->type == REDIS_REPLY_NIL) {
		/* BLOCK timed out, or a history read found nothing. */
		for (i = 0; i < bus->nstreams; i++)
			bus->streams[i].pending_phase = false;
	} else if (reply->type == REDIS_REPLY_ARRAY) {
		for (i = 0; i < reply->elements; i++)
			bus_read_stream(bus, reply->element[i], pending_read);
	}
	bus_read_done(bus);
	bus_kick(bus);
}

static void
bus_read(struct bus *bus, size_t count)
{
	struct bus_conn *conn = &bus->conn[BUS_CONN_READER];
	const char *argv[10 + 2 * BUS_MAX_STREAMS];
	size_t argc = 0, i, nread = 0;
	char scount[24], sblock[24];
	bool pending = false;
	struct timeval tv;

	for (i = 0; i < bus->nstreams; i++)
		if (bus->streams[i].pending_phase)
			pending = true;
	snprintf(scount, sizeof(scount), "%zu", count);
	snprintf(sblock, sizeof(sblock), "%lld", bus->block_ms);
	argv[argc++] = "XREADGROUP";
	argv[argc++] = "GROUP";
	argv[argc++] = bus->group;
	argv[argc++] = bus->consumer;
	argv[argc++] = "COUNT";
	argv[argc++] = scount;
	if (!pending) {
		argv[argc++] = "BLOCK";
		argv[argc++] = sblock;
	}
	argv[argc++] = "STREAMS";
	for (i = 0; i < bus->nstreams; i++)
		if (!pending || bus->streams[i].pending_phase) {
			argv[argc++] = bus->streams[i].name;
			nread++;
		}
	for (i = 0; i < bus->nstreams; i++)
		if (!pending || bus->streams[i].pending_phase)
			argv[argc++] = pending ? bus->streams[i].cursor : ">";
	(void)nread;
	if (redisAsyncCommandArgv(conn->ac, bus_read_cb, bus, (int)argc, argv,
	        NULL) != REDIS_OK) {
		conn_fail(conn, "cannot queue XREADGROUP");
		return;
	}
	bus->reading = true;
	tv.tv_sec = (long)((bus->block_ms + BUS_READ_MARGIN_MS) / 1000);
	tv.tv_usec = (long)((bus->block_ms + BUS_READ_MARGIN_MS) % 1000) * 1000;
	evtimer_add(conn->watch_ev, &tv);
}

static void
bus_claim_cb(redisAsyncContext *c, void *r, void *priv)
{
	struct bus_stream *st = priv;
	struct bus *bus;
	redisReply *reply = r;
	struct reply_autoclaim ac;
	struct bus_msg **msgs;
	size_t n, i;

	bus = c->data ? ((struct bus_conn *)c->data)->bus : NULL;
	if (bus == NULL || reply == NULL)
		return;
	if (bus->claiming > 0)
		bus->claiming--;
	if (reply->type == REDIS_REPLY_ERROR) {
		bus_count_error(bus, BUS_CONN_CMD, "XAUTOCLAIM", reply);
		if (strncmp(reply->str, "NOGROUP", 7) == 0)
			bus_create_groups(bus);
		return;
	}
	if (reply_autoclaim(&ac, reply) < 0)
		return;
	snprintf(st->claim_cursor, sizeof(st->claim_cursor), "%.*s",
	    (int)ac.cursor_len, ac.cursor);
	for (i = 0; ac.deleted != NULL && i < ac.deleted->elements; i++) {
		const char *id = reply_string(ac.deleted, i, NULL);

		bus->stats.trimmed++;
		log_warnx("bus_trimmed_pending stream=%s id=%s", st->name,
		    id != NULL ? id : "?");
	}
	if (bus->closing)
		return;
	msgs = bus_collect(bus, st->name, ac.entries, &n);
	bus->stats.claims += n;
	for (i = 0; i < n; i++)
		log_info("bus_claimed stream=%s id=%s", st->name, msgs[i]->id);
	bus_deliver_counted(bus, st->name, msgs, n);
}

static void
bus_claim_tick(evutil_socket_t fd, short what, void *arg)
{
	struct bus *bus = arg;
	struct bus_conn *conn = &bus->conn[BUS_CONN_CMD];
	size_t i, cap;
	char sidle[24], scount[24];

	(void)fd;
	(void)what;
	if (bus->stopped || !conn_usable(conn) || !bus->groups_ready ||
	    bus->claiming > 0 || bus->counting > 0)
		return;
	cap = bus->capacity(bus->arg);
	if (cap == 0)
		return;
	if (cap > BUS_FETCH_MAX)
		cap = BUS_FETCH_MAX;
	snprintf(sidle, sizeof(sidle), "%lld", bus->claim_idle_ms);
	/* Claimed entries are suspects: their consumer died, maybe of
	 * one of them. Taking one at a time (per stream) means a crash
	 * while handling it counts against it alone, not against innocent
	 * entries claimed together with it (see the loop's suspects). */
	snprintf(scount, sizeof(scount), "%d", 1);
	for (i = 0; i < bus->nstreams; i++) {
		struct bus_stream *st = &bus->streams[i];

		if (redisAsyncCommand(conn->ac, bus_claim_cb, st,
		        "XAUTOCLAIM %s %s %s %s %s COUNT %s", st->name,
		        bus->group, bus->consumer, sidle, st->claim_cursor,
		        scount) == REDIS_OK)
			bus->claiming++;
	}
}

static void
bus_kick(struct bus *bus)
{
	size_t cap, i;

	if (bus == NULL || bus->stopped || bus->closing || !bus->consume ||
	    bus->reading)
		return;
	if (!conn_usable(&bus->conn[BUS_CONN_READER]) ||
	    !conn_usable(&bus->conn[BUS_CONN_CMD]) || !bus->groups_ready)
		return;
	if (evtimer_pending(bus->pause_ev, NULL) || bus->counting > 0)
		return;
	cap = bus->capacity(bus->arg);
	if (cap == 0)
		return;
	if (cap > BUS_FETCH_MAX)
		cap = BUS_FETCH_MAX;
	/* Our own pending entries are redeliveries (suspects) too: one at
	 * a time, for the same reason as claims. */
	for (i = 0; i < bus->nstreams; i++)
		if (bus->streams[i].pending_phase)
			cap = 1;
	bus_read(bus, cap);
}

/* ------------------------------------------------------------ pub/sub */

static void
bus_ps_cb(redisAsyncContext *c, void *r, void *priv)
{
	struct bus *bus = priv;
	const char *channel, *payload;
	size_t len;
	int rc;

	(void)c;
	if ((rc = reply_message(r, &channel, &payload, &len)) < 0)
		return;
	bus->ps_last_heard = util_mono_ms();
	if (rc == 0 || strcmp(channel, bus->hb_channel) == 0)
		return;
	if (bus->ps_cb != NULL)
		bus->ps_cb(channel, payload, len, bus->ps_arg);
}

static void
bus_ps_subscribe(struct bus *bus)
{
	struct bus_conn *conn = &bus->conn[BUS_CONN_PUBSUB];
	const char **argv;
	size_t i, argc = 0;

	argv = xcalloc(bus->nchannels + 2, sizeof(*argv));
	argv[argc++] = "SUBSCRIBE";
	argv[argc++] = bus->hb_channel;
	for (i = 0; i < bus->nchannels; i++)
		argv[argc++] = bus->channels[i];
	if (redisAsyncCommandArgv(conn->ac, bus_ps_cb, bus, (int)argc, argv,
	        NULL) != REDIS_OK)
		conn_fail(conn, "cannot queue SUBSCRIBE");
	bus->ps_last_heard = util_mono_ms();
	free(argv);
	log_info("bridge_subscribed channels=%zu", bus->nchannels);
}

/* A +switch-master from the watched sentinel: follow it at once rather
 * than when the old master's connections break (it may be alive and
 * demoted, or cut off from the sentinels but not from us). */
static void
bus_switch_cb(redisAsyncContext *c, void *r, void *priv)
{
	struct bus *bus = priv;
	struct sentinel_master m;
	const char *channel, *payload;
	size_t len;

	(void)c;
	if (reply_message(r, &channel, &payload, &len) != 1)
		return;
	if (sentinel_switch_parse(&m, bus->url.master_name, payload, len) < 0)
		return;
	bus_master_set(bus, &m, "switch-master");
}

static void
bus_switch_subscribe(struct bus *bus)
{
	struct bus_conn *conn = &bus->conn[BUS_CONN_SENTINEL];

	if (redisAsyncCommand(conn->ac, bus_switch_cb, bus,
	        "SUBSCRIBE +switch-master") != REDIS_OK)
		conn_fail(conn, "cannot queue SUBSCRIBE");
}

/* ------------------------------------------------------------ heartbeat */

static void
bus_ping_cb(redisAsyncContext *c, void *r, void *priv)
{
	struct bus *bus = priv;

	(void)c;
	if (r == NULL)
		return;
	bus->ping_outstanding = false;
}

static void
bus_ping_extra_cb(redisAsyncContext *c, void *r, void *priv)
{
	struct bus_conn *conn = priv;

	if (r == NULL || conn->ac != c)
		return;
	conn->ping_out = false;
}

/* The cluster's OUT and DEAD connections get the cmd's heartbeat. */
static void
bus_ping_extra(struct bus_conn *conn)
{
	if (!conn_usable(conn))
		return;
	if (conn->ping_out)
		conn_fail(conn, "heartbeat unanswered");
	else if (redisAsyncCommand(conn->ac, bus_ping_extra_cb, conn, "PING") ==
	         REDIS_OK)
		conn->ping_out = true;
}

static void
bus_ping_tick(evutil_socket_t fd, short what, void *arg)
{
	struct bus *bus = arg;
	struct bus_conn *cmd = &bus->conn[BUS_CONN_CMD];
	struct bus_conn *ps = &bus->conn[BUS_CONN_PUBSUB];

	(void)fd;
	(void)what;
	if (conn_usable(cmd)) {
		if (bus->ping_outstanding) {
			conn_fail(cmd, "heartbeat unanswered");
		} else if (redisAsyncCommand(cmd->ac, bus_ping_cb, bus,
		               "PING") == REDIS_OK) {
			bus->ping_outstanding = true;
		}
		if (bus->hb_channel != NULL)
			redisAsyncCommand(cmd->ac, NULL, NULL, "PUBLISH %s %s",
			    bus->hb_channel, "hb");
	}
	bus_ping_extra(&bus->conn[BUS_CONN_OUT]);
	bus_ping_extra(&bus->conn[BUS_CONN_DEAD]);
	if (conn_usable(ps) && conn_usable(cmd) &&
	    util_mono_ms() - bus->ps_last_heard > BUS_PS_DEAD_MS)
		conn_fail(ps, "bridge heartbeat not received");
	/* Readers need no heartbeat of their own: the reply watchdog
	 * covers them. Retry a stalled read here too (cheap). */
	bus_kick(bus);
}

static void
bus_conn_ready(struct bus_conn *conn)
{
	struct bus *bus = conn->bus;

	switch (conn->kind) {
	case BUS_CONN_CMD:
		bus->ping_outstanding = false;
		bus->groups_waiting = 0;
		bus_create_groups(bus);
		break;
	case BUS_CONN_PUBSUB:
		bus_ps_subscribe(bus);
		break;
	case BUS_CONN_SENTINEL:
		bus_switch_subscribe(bus);
		return;
	default:
		break;
	}
	bus_kick(bus);
}

/* ---------------------------------------------------------- lifecycle */

static void
conn_init(struct bus *bus, int kind)
{
	struct bus_conn *conn = &bus->conn[kind];

	conn->bus = bus;
	conn->kind = kind;
	conn->backoff_ms = BUS_BACKOFF_MIN_MS;
	conn->retry_ev = evtimer_new(bus->base, conn_retry_cb, conn);
	conn->watch_ev = evtimer_new(bus->base, conn_watch_cb, conn);
	conn->kill_ev = event_new(bus->base, -1, 0, conn_kill_cb, conn);
}

/* One bus with its own connections; cl is the cluster's routing state
 * when it is a kid of a cluster bus (NULL otherwise). */
static int
bus_new_one(struct bus **out, struct event_base *base, const struct bus_opts *o,
    bus_msg_cb *on_msg, bus_capacity_cb *capacity, void *arg,
    struct bus_cluster *cl, struct error *err)
{
	struct bus *bus;
	struct timeval tv;
	long long period;
	size_t i;
	int rc;

	bus = xcalloc(1, sizeof(*bus));
	if ((rc = endpoint_parse(&bus->url, o->url, err)) < 0) {
		free(bus);
		return rc;
	}
	bus->cl = cl;
	/* rediss://: one bridge to the URL's address. Cluster and Sentinel
	 * make one per connection (conn_own_tls); for Sentinel the files
	 * are checked now, so that a bad CA fails the start. */
	if (bus->url.tls && cl == NULL &&
	    (rc = bus->url.nsentinels > 0
	              ? tls_check(&bus->url.tls_opt, err)
	              : tls_bridge_new(&bus->tls, base, &bus->url, err)) < 0) {
		endpoint_dispose(&bus->url);
		free(bus);
		return rc;
	}
	bus->base = base;
	bus->group = xstrdup(o->group ? o->group : "artifactd");
	bus->consumer = xstrdup(o->consumer ? o->consumer : "artifactd");
	bus->output_stream =
	    xstrdup(o->output_stream ? o->output_stream : "workflow_events");
	bus->output_channel =
	    xstrdup(o->output_channel ? o->output_channel : "");
	bus->maxlen = o->output_maxlen;
	bus->block_ms = o->block_ms > 0 ? o->block_ms : 5000;
	bus->claim_idle_ms = o->claim_idle_ms;
	bus->consume =
	    o->consume && o->nstreams > 0 && on_msg != NULL && capacity != NULL;
	bus->on_msg = on_msg;
	bus->capacity = capacity;
	bus->arg = arg;
	bus->nstreams = o->nstreams;
	bus->streams =
	    xcalloc(o->nstreams ? o->nstreams : 1, sizeof(*bus->streams));
	for (i = 0; i < o->nstreams; i++) {
		bus->streams[i].name = xstrdup(o->streams[i]);
		bus->streams[i].dead = bus_dead_stream(o->streams[i]);
		bus->streams[i].pending_phase = true;
		snprintf(bus->streams[i].cursor, sizeof(bus->streams[i].cursor),
		    "0");
		snprintf(bus->streams[i].claim_cursor,
		    sizeof(bus->streams[i].claim_cursor), "0-0");
	}
	for (i = 0; i < BUS_NCONN_ALL; i++)
		conn_init(bus, (int)i);
	bus->pause_ev = evtimer_new(base, bus_pause_cb, bus);
	bus->ping_ev = event_new(base, -1, EV_PERSIST, bus_ping_tick, bus);
	tv.tv_sec = BUS_PING_MS / 1000;
	tv.tv_usec = 0;
	event_add(bus->ping_ev, &tv);
	if (bus->consume && bus->claim_idle_ms > 0) {
		/* Look for abandoned entries twice per idle period: an
		 * entry is taken over at most 1.5 idle periods after its
		 * consumer died. */
		period = bus->claim_idle_ms / 2;
		if (period < 250)
			period = 250;
		if (period > 30000)
			period = 30000;
		bus->claim_ev =
		    event_new(base, -1, EV_PERSIST, bus_claim_tick, bus);
		tv.tv_sec = (long)(period / 1000);
		tv.tv_usec = (long)(period % 1000) * 1000;
		event_add(bus->claim_ev, &tv);
	}
	if (bus->consume) {
		/* Forget consumers idle ten times longer than anything a
		 * live worker does between two reads or renewals. */
		bus->janitor_idle_ms = 10 * bus->claim_idle_ms;
		if (bus->janitor_idle_ms < 10 * bus->block_ms)
			bus->janitor_idle_ms = 10 * bus->block_ms;
		if (bus->janitor_idle_ms < BUS_JANITOR_MIN_IDLE_MS)
			bus->janitor_idle_ms = BUS_JANITOR_MIN_IDLE_MS;
		period = bus->janitor_idle_ms / 2;
		if (period > BUS_JANITOR_MAX_PERIOD_MS)
			period = BUS_JANITOR_MAX_PERIOD_MS;
		bus->janitor_ev =
		    event_new(base, -1, EV_PERSIST, bus_janitor_tick, bus);
		tv.tv_sec = (long)(period / 1000);
		tv.tv_usec = (long)(period % 1000) * 1000;
		event_add(bus->janitor_ev, &tv);
	}
	bus->discovery_wait_ms = BUS_DISCOVERY_WAIT_MIN_MS;
	*out = bus;
	conn_start(&bus->conn[BUS_CONN_CMD]);
	if (bus->consume)
		conn_start(&bus->conn[BUS_CONN_READER]);
	if (bus->url.nsentinels > 0)
		conn_start(&bus->conn[BUS_CONN_SENTINEL]);
	if (cl != NULL && bus->consume) {
		conn_start(&bus->conn[BUS_CONN_OUT]);
		conn_start(&bus->conn[BUS_CONN_DEAD]);
	}
	return 0;
}

/*
 * redis+cluster://: a top bus that owns the slot map and one kid bus per
 * input stream, each with its own reader and cmd connections to the
 * stream's master (an XREADGROUP over keys of different slots is refused
 * by a cluster), and OUT/DEAD connections for the answers and letters.
 * The public functions below hand each call to the kid of its stream.
 */
static int
bus_new_cluster(struct bus **out, struct event_base *base,
    const struct bus_opts *o, bus_msg_cb *on_msg, bus_capacity_cb *capacity,
    void *arg, struct error *err)
{
	struct bus *top = xcalloc(1, sizeof(*top));
	size_t k, i;
	int rc;

	if ((rc = endpoint_parse(&top->url, o->url, err)) < 0) {
		free(top);
		return rc;
	}
	top->base = base;
	top->cl = xcalloc(1, sizeof(*top->cl));
	top->cl->top = top;
	top->cl->stale = true;
	top->cl->wait_ms = BUS_DISCOVERY_WAIT_MIN_MS;
	for (i = 0; i < CLUSTER_SLOTS; i++)
		top->cl->map.owner[i] = -1;
	top->nkids = o->consume && o->nstreams > 0 ? o->nstreams : 1;
	top->kids = xcalloc(top->nkids, sizeof(*top->kids));
	top->top_stats = xcalloc(1, sizeof(*top->top_stats));
	for (k = 0; k < top->nkids; k++) {
		struct bus_opts ko = *o;

		if (o->consume && o->nstreams > 0) {
			ko.streams = &o->streams[k];
			ko.nstreams = 1;
		}
		rc = bus_new_one(&top->kids[k], base, &ko, on_msg, capacity,
		    arg, top->cl, err);
		if (rc < 0) {
			bus_free(top);
			return rc;
		}
		top->kids[k]->top = top;
	}
	*out = top;
	return 0;
}

int
bus_new(struct bus **out, struct event_base *base, const struct bus_opts *o,
    bus_msg_cb *on_msg, bus_capacity_cb *capacity, void *arg, struct error *err)
{
	if (base == NULL || o == NULL)
		return error_set(err, ERR_INVALID, NULL, "bus: no base");
	if (o->nstreams > BUS_MAX_STREAMS)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "at most %d input streams", BUS_MAX_STREAMS);
	if (o->url != NULL &&
	    (strncmp(o->url, "redis+cluster://", 16) == 0 ||
	        strncmp(o->url, "rediss+cluster://", 17) == 0))
		return bus_new_cluster(out, base, o, on_msg, capacity, arg,
		    err);
	return bus_new_one(out, base, o, on_msg, capacity, arg, NULL, err);
}

static void
bus_janitor_cb(redisAsyncContext *c, void *r, void *priv)
{
	struct bus_stream *st = priv;
	redisReply *reply = r;
	struct bus_conn *conn;

	if (reply == NULL || (conn = c->data) == NULL)
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		if (strncmp(reply->str, "NOGROUP", 7) != 0)
			bus_count_error(conn->bus, BUS_CONN_CMD, "janitor",
			    reply);
	} else if (reply->type == REDIS_REPLY_INTEGER && reply->integer > 0) {
		conn->bus->stats.consumers_deleted += (uint64_t)reply->integer;
		log_info("bus_consumers_deleted stream=%s count=%lld", st->name,
		    reply->integer);
	}
}

static void
bus_janitor_tick(evutil_socket_t fd, short what, void *arg)
{
	struct bus *bus = arg;
	struct bus_conn *conn = &bus->conn[BUS_CONN_CMD];
	char idle[24];
	size_t i;

	(void)fd;
	(void)what;
	if (bus->stopped || !conn_usable(conn) || !bus->groups_ready)
		return;
	snprintf(idle, sizeof(idle), "%lld", bus->janitor_idle_ms);
	for (i = 0; i < bus->nstreams; i++)
		redisAsyncCommand(conn->ac, bus_janitor_cb, &bus->streams[i],
		    "EVAL %s 1 %s %s %s %s", bus_janitor_lua,
		    bus->streams[i].name, bus->group, idle, bus->consumer);
}

/* The kid bus of a cluster bus that reads stream (the first kid when
 * none does: the bridge's writes). */
static struct bus *
bus_kid(struct bus *top, const char *stream)
{
	size_t k;

	for (k = 0; stream != NULL && k < top->nkids; k++)
		if (top->kids[k]->nstreams > 0 &&
		    strcmp(top->kids[k]->streams[0].name, stream) == 0)
			return top->kids[k];
	return top->kids[0];
}

void
bus_poke(struct bus *bus)
{
	size_t k;

	for (k = 0; k < bus->nkids; k++)
		bus_kick(bus->kids[k]);
	if (bus->nkids == 0)
		bus_kick(bus);
}

void
bus_claim_now(struct bus *bus)
{
	size_t k;

	for (k = 0; k < bus->nkids; k++)
		bus_claim_now(bus->kids[k]);
	if (bus->nkids == 0 && bus->consume && bus->claim_idle_ms > 0)
		bus_claim_tick(-1, 0, bus);
}

/* A kid stopped reading: the top's callback once all have. */
static void
bus_kid_stopped(void *arg)
{
	struct bus *top = arg;

	if (--top->stop_waiting == 0 && top->top_stopped_cb != NULL)
		top->top_stopped_cb(top->top_stopped_arg);
}

void
bus_stop_reading(struct bus *bus, bus_stopped_cb *cb, void *arg)
{
	struct bus_conn *cmd = &bus->conn[BUS_CONN_CMD];
	size_t k;

	if (bus->nkids > 0) {
		bus->top_stopped_cb = cb;
		bus->top_stopped_arg = arg;
		/* One extra count held while asking, so the callback runs
		 * once, after every kid was asked. */
		bus->stop_waiting = (int)bus->nkids + 1;
		for (k = 0; k < bus->nkids; k++)
			bus_stop_reading(bus->kids[k], bus_kid_stopped, bus);
		bus_kid_stopped(bus);
		return;
	}

	bus->stopped = true;
	if (bus->claim_ev != NULL)
		event_del(bus->claim_ev);
	if (!bus->reading) {
		if (cb != NULL)
			cb(arg);
		return;
	}
	bus->stopped_cb = cb;
	bus->stopped_arg = arg;
	/* Unblocked by timeout semantics, the read returns nil at once (or
	 * the entries it had already taken, which the caller gives back). */
	if (bus->reader_id > 0 && conn_usable(cmd))
		redisAsyncCommand(cmd->ac, NULL, NULL, "CLIENT UNBLOCK %lld",
		    bus->reader_id);
}

bool
bus_ready(const struct bus *bus)
{
	size_t k;

	for (k = 0; k < bus->nkids; k++)
		if (!bus_ready(bus->kids[k]))
			return false;
	if (bus->nkids > 0)
		return true;
	if (bus->cl != NULL && bus->consume &&
	    (!conn_usable(&bus->conn[BUS_CONN_OUT]) ||
	        !conn_usable(&bus->conn[BUS_CONN_DEAD])))
		return false;
	if (!conn_usable(&bus->conn[BUS_CONN_CMD]))
		return false;
	if (bus->consume &&
	    (!conn_usable(&bus->conn[BUS_CONN_READER]) || !bus->groups_ready))
		return false;
	if (bus->nchannels > 0 && !conn_usable(&bus->conn[BUS_CONN_PUBSUB]))
		return false;
	return true;
}

const struct bus_stats *
bus_stats(const struct bus *bus)
{
	struct bus_stats *t = bus->top_stats;
	size_t k, i;

	if (bus->nkids == 0)
		return &bus->stats;
	/* A cluster bus: the sum of its kids; a connection kind counts as
	 * connected when every kid that uses it is. */
	memset(t, 0, sizeof(*t));
	t->connected[BUS_CONN_READER] = t->connected[BUS_CONN_CMD] = true;
	t->connected[BUS_CONN_PUBSUB] =
	    bus->kids[0]->stats.connected[BUS_CONN_PUBSUB];
	for (k = 0; k < bus->nkids; k++) {
		const struct bus *kid = bus->kids[k];
		const struct bus_stats *s = &kid->stats;

		t->received += s->received;
		t->claims += s->claims;
		t->trimmed += s->trimmed;
		t->command_errors += s->command_errors;
		t->consumers_deleted += s->consumers_deleted;
		t->master_switches += s->master_switches;
		for (i = 0; i < BUS_NCONN; i++)
			t->reconnects[i] += s->reconnects[i];
		if (!s->connected[BUS_CONN_CMD])
			t->connected[BUS_CONN_CMD] = false;
		if (kid->consume && !s->connected[BUS_CONN_READER])
			t->connected[BUS_CONN_READER] = false;
	}
	return t;
}

/* ---------------------------------------------------------- completion */

struct bus_call {
	bus_done_cb *done;
	void *arg;
};

static void
bus_call_cb(redisAsyncContext *c, void *r, void *priv)
{
	struct bus_call *call = priv;
	redisReply *reply = r;
	int rc;

	(void)c;
	if (reply == NULL) {
		rc = ERR_TRANSIENT;
	} else if (reply->type == REDIS_REPLY_ERROR) {
		struct bus_conn *conn = c->data;

		if (conn != NULL)
			bus_count_error(conn->bus, conn->kind, "EVAL", reply);
		rc = ERR_TRANSIENT;
	} else if (reply->type == REDIS_REPLY_INTEGER) {
		rc = reply->integer == 1 ? 0 : 1;
	} else {
		rc = 0;
	}
	if (call->done != NULL)
		call->done(rc, call->arg);
	free(call);
}

/*
 * One answer, for a cluster whose answer stream is on another slot than
 * the input stream (bus_complete_split). KEYS the stream; ARGV channel
 * ("" none), maxlen ("0" none), json, event_id, event_type,
 * correlation_id ("" = absent).
 */
static const char bus_answer_lua[] =
    "local a = {KEYS[1]}\n"
    "if ARGV[2] ~= '0' then\n"
    "  a[#a+1] = 'MAXLEN'; a[#a+1] = '~'; a[#a+1] = ARGV[2]\n"
    "end\n"
    "a[#a+1] = '*'; a[#a+1] = '" FIELD_EVENT "'; a[#a+1] = ARGV[3]\n"
    "if ARGV[4] ~= '' then\n"
    "  a[#a+1] = '" FIELD_EVENT_ID "'; a[#a+1] = ARGV[4]\n"
    "end\n"
    "if ARGV[5] ~= '' then\n"
    "  a[#a+1] = '" FIELD_EVENT_TYPE "'; a[#a+1] = ARGV[5]\n"
    "end\n"
    "if ARGV[6] ~= '' then\n"
    "  a[#a+1] = '" FIELD_CORRELATION_ID "'; a[#a+1] = ARGV[6]\n"
    "end\n"
    "redis.call('XADD', unpack(a))\n"
    "if ARGV[1] ~= '' then redis.call('PUBLISH', ARGV[1], ARGV[3]) end\n"
    "return 1\n";

/* One command of a split completion, its arguments copied. */
struct bus_step {
	struct bus_conn *conn; /* this bus's OUT, DEAD or CMD, or another
	                          kid's CMD (a forwarded event) */
	const char *what;
	const char **v; /* each one xmalloc'd (bus_chain_free) */
	size_t *lens;
	size_t n;
};

/* A completion in steps run one after the other: the answers, the dead
 * letter, the XACK. */
struct bus_chain {
	struct bus_step *step;
	size_t nsteps, at;
	bus_done_cb *done;
	void *arg;
};

static void
bus_step_arg(struct bus_step *st, const char *s, size_t n)
{
	char *copy = xmalloc(n + 1);

	memcpy(copy, s, n);
	copy[n] = '\0';
	st->v[st->n] = copy;
	st->lens[st->n++] = n;
}

#define BUS_STEP_ARG(st, s) bus_step_arg((st), (s), strlen(s))

static struct bus_step *
bus_chain_step(struct bus_chain *ch, struct bus_conn *conn, const char *what,
    size_t max)
{
	struct bus_step *st = &ch->step[ch->nsteps++];

	st->conn = conn;
	st->what = what;
	st->v = xcalloc(max, sizeof(*st->v));
	st->lens = xcalloc(max, sizeof(*st->lens));
	return st;
}

static void
bus_chain_free(struct bus_chain *ch)
{
	size_t i, j;

	for (i = 0; i < ch->nsteps; i++) {
		for (j = 0; j < ch->step[i].n; j++)
			free((void *)(uintptr_t)ch->step[i].v[j]);
		free(ch->step[i].v);
		free(ch->step[i].lens);
	}
	free(ch->step);
	free(ch);
}

static void bus_chain_cb(redisAsyncContext *c, void *r, void *priv);

/* Send the current step; -1 when its connection is not usable. */
static int
bus_chain_send(struct bus_chain *ch)
{
	struct bus_step *st = &ch->step[ch->at];

	if (!conn_usable(st->conn) || st->conn->bus->closing)
		return -1;
	if (redisAsyncCommandArgv(st->conn->ac, bus_chain_cb, ch, (int)st->n,
	        st->v, st->lens) != REDIS_OK)
		return -1;
	return 0;
}

static void
bus_chain_cb(redisAsyncContext *c, void *r, void *priv)
{
	struct bus_chain *ch = priv;
	struct bus_step *st = &ch->step[ch->at];
	redisReply *reply = r;
	int rc = ERR_TRANSIENT;

	(void)c;
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
	    st->conn->ac == c)
		bus_count_error(st->conn->bus, st->conn->kind, st->what, reply);
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
		goto out;
	if (++ch->at < ch->nsteps) {
		if (bus_chain_send(ch) == 0)
			return;
		goto out;
	}
	/* The XACK: 1 acknowledged now, 0 already (someone else). */
	rc = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1 ? 0 : 1;
out:
	if (ch->done != NULL)
		ch->done(rc, ch->arg);
	bus_chain_free(ch);
}

/* Where an answer goes: NULL for the output stream. */
static const char *
bus_out_stream(const struct bus_out_event *e)
{
	return e->stream;
}

/* The connection that reaches stream (an answer's destination) from the
 * kid bus: NULL is the output stream; a stream another kid reads goes
 * through that kid's cmd connection; else one of ours on the same slot.
 * NULL when none does. */
static struct bus_conn *
bus_stream_conn(struct bus *bus, const char *stream)
{
	static const int kinds[] = { BUS_CONN_OUT, BUS_CONN_CMD,
		BUS_CONN_DEAD };
	unsigned slot;
	size_t k;

	if (stream == NULL)
		return &bus->conn[BUS_CONN_OUT];
	for (k = 0; bus->top != NULL && k < bus->top->nkids; k++)
		if (bus->top->kids[k]->nstreams > 0 &&
		    strcmp(bus->top->kids[k]->streams[0].name, stream) == 0)
			return &bus->top->kids[k]->conn[BUS_CONN_CMD];
	slot = cluster_key_slot(stream, strlen(stream));
	for (k = 0; k < 3; k++) {
		const char *key = conn_key(&bus->conn[kinds[k]]);

		if (cluster_key_slot(key, strlen(key)) == slot)
			return &bus->conn[kinds[k]];
	}
	return NULL;
}

/* The answer steps of a split completion (one per event). */
static int
bus_split_answers(struct bus_chain *ch, struct bus *bus,
    const struct bus_completion *cp)
{
	char num[24];
	size_t i;

	snprintf(num, sizeof(num), "%lld", bus->maxlen);
	for (i = 0; i < cp->nevents; i++) {
		const struct bus_out_event *e = &cp->events[i];
		const char *stream = bus_out_stream(e);
		struct bus_conn *conn = bus_stream_conn(bus, stream);
		struct bus_step *st;

		if (conn == NULL) {
			log_warnx("redis_cluster_unroutable stream=\"%.64s\" "
			          "err=\"no connection reaches its slot\"",
			    stream);
			return -1;
		}
		if (!conn_usable(conn))
			return -1;
		st = bus_chain_step(ch, conn, "EVAL", 10);
		BUS_STEP_ARG(st, "EVAL");
		BUS_STEP_ARG(st, bus_answer_lua);
		BUS_STEP_ARG(st, "1");
		BUS_STEP_ARG(st, stream ? stream : bus->output_stream);
		BUS_STEP_ARG(st, stream ? "" : bus->output_channel);
		BUS_STEP_ARG(st, num);
		BUS_STEP_ARG(st, e->json);
		BUS_STEP_ARG(st, e->event_id ? e->event_id : "");
		BUS_STEP_ARG(st, e->event_type ? e->event_type : "");
		BUS_STEP_ARG(st, e->correlation_id ? e->correlation_id : "");
	}
	return 0;
}

/* The dead-letter step of a split completion. */
static void
bus_split_dead(struct bus_chain *ch, struct bus *bus,
    const struct bus_completion *cp)
{
	const struct bus_msg *m = cp->msg;
	struct bus_step *st;
	char num[24], now[32];
	size_t i;

	st = bus_chain_step(ch, &bus->conn[BUS_CONN_DEAD], "XADD",
	    3 + 2 * (m->nfields + FIELD_DEAD_COUNT));
	BUS_STEP_ARG(st, "XADD");
	BUS_STEP_ARG(st, bus->streams[0].dead);
	BUS_STEP_ARG(st, "*");
	for (i = 0; i < m->nfields; i++) {
		BUS_STEP_ARG(st, m->fields[i].name);
		bus_step_arg(st, m->fields[i].value, m->fields[i].value_len);
	}
	util_now_iso8601(now, sizeof(now));
	snprintf(num, sizeof(num), "%lld", m->deliveries);
	BUS_STEP_ARG(st, FIELD_DEAD_REASON);
	BUS_STEP_ARG(st, cp->reason ? cp->reason : "unknown");
	BUS_STEP_ARG(st, FIELD_DEAD_ORIG_STREAM);
	BUS_STEP_ARG(st, m->stream);
	BUS_STEP_ARG(st, FIELD_DEAD_ORIG_ID);
	BUS_STEP_ARG(st, m->id);
	BUS_STEP_ARG(st, FIELD_DEAD_GROUP);
	BUS_STEP_ARG(st, bus->group);
	BUS_STEP_ARG(st, FIELD_DEAD_CONSUMER);
	BUS_STEP_ARG(st, bus->consumer);
	BUS_STEP_ARG(st, FIELD_DEAD_DELIVERIES);
	BUS_STEP_ARG(st, num);
	BUS_STEP_ARG(st, FIELD_DEAD_FAILED_AT);
	BUS_STEP_ARG(st, now);
}

/*
 * The completion in a cluster where the input stream, the answers'
 * streams and the dead-letter stream are not all on one slot (one script
 * cannot touch them): the answers first, then the dead letter, then the
 * XACK. A failure between leaves the entry pending: it is delivered again
 * and answered again (the store's idempotency says duplicate), so nothing
 * is lost; at worst an answer is written twice, and two workers racing on
 * one claimed entry may both answer (docs/operations.md, "Redis
 * Cluster").
 */
static int
bus_complete_split(struct bus *bus, const struct bus_completion *cp,
    bus_done_cb *done, void *arg)
{
	const struct bus_msg *m = cp->msg;
	struct bus_chain *ch;
	struct bus_step *st;

	if (!conn_usable(&bus->conn[BUS_CONN_CMD]) ||
	    (cp->dead && !conn_usable(&bus->conn[BUS_CONN_DEAD])))
		return ERR_TRANSIENT;
	ch = xcalloc(1, sizeof(*ch));
	ch->step = xcalloc(cp->nevents + 2, sizeof(*ch->step));
	ch->done = done;
	ch->arg = arg;
	if (bus_split_answers(ch, bus, cp) < 0) {
		bus_chain_free(ch);
		return ERR_TRANSIENT;
	}
	if (cp->dead)
		bus_split_dead(ch, bus, cp);
	st = bus_chain_step(ch, &bus->conn[BUS_CONN_CMD], "XACK", 4);
	BUS_STEP_ARG(st, "XACK");
	BUS_STEP_ARG(st, m->stream);
	BUS_STEP_ARG(st, bus->group);
	BUS_STEP_ARG(st, m->id);
	if (bus_chain_send(ch) < 0) {
		bus_chain_free(ch);
		return ERR_TRANSIENT;
	}
	return 0;
}

/* Whether the one-script completion can run: outside a cluster always;
 * in one, when the input, output, dead-letter and forward streams share
 * a slot (hash-tagged names such as {pipeline}test_results). */
static bool
bus_one_slot(const struct bus *bus, const struct bus_completion *cp)
{
	const struct bus_msg *m = cp->msg;
	char *dead;
	unsigned s;
	bool same;
	size_t i;

	if (bus->cl == NULL)
		return true;
	dead = bus_dead_stream(m->stream);
	s = cluster_key_slot(m->stream, strlen(m->stream));
	same = s == cluster_key_slot(bus->output_stream,
	                strlen(bus->output_stream)) &&
	       s == cluster_key_slot(dead, strlen(dead));
	for (i = 0; same && i < cp->nevents; i++)
		if (bus_out_stream(&cp->events[i]) != NULL &&
		    cluster_key_slot(bus_out_stream(&cp->events[i]),
		        strlen(bus_out_stream(&cp->events[i]))) != s)
			same = false;
	free(dead);
	return same;
}

int
bus_complete(struct bus *bus, const struct bus_completion *cp,
    bus_done_cb *done, void *arg)
{
	struct bus_conn *conn = &bus->conn[BUS_CONN_CMD];
	const struct bus_msg *m = cp->msg;
	const char **argv;
	size_t *lens;
	size_t argc = 0, nargs, i, ndead = 0;
	char snev[24], smax[24], sdead[24], sdel[24], now[32];
	char *dead = NULL;
	struct bus_call *call;
	int rc = 0;

	if (bus->nkids > 0)
		return bus_complete(bus_kid(bus, m->stream), cp, done, arg);
	if (!bus_one_slot(bus, cp))
		return bus_complete_split(bus, cp, done, arg);
	if (!conn_usable(conn))
		return ERR_TRANSIENT;
	nargs = 16 + 5 * cp->nevents + 2 * (m->nfields + 8);
	argv = xcalloc(nargs, sizeof(*argv));
	lens = xcalloc(nargs, sizeof(*lens));
#define ARG(s) (argv[argc] = (s), lens[argc] = strlen(argv[argc]), argc++)
#define ARGN(s, n) (argv[argc] = (s), lens[argc] = (n), argc++)
	dead = bus_dead_stream(m->stream);
	snprintf(snev, sizeof(snev), "%zu", cp->nevents);
	snprintf(smax, sizeof(smax), "%lld", bus->maxlen);
	snprintf(sdel, sizeof(sdel), "%lld", m->deliveries);
	util_now_iso8601(now, sizeof(now));
	ARG("EVAL");
	ARG(bus_complete_lua);
	ARG("3");
	ARG(m->stream);
	ARG(bus->output_stream);
	ARG(dead);
	ARG(bus->group);
	ARG(m->id);
	ARG(bus->output_channel);
	ARG(smax);
	ARG(snev);
	for (i = 0; i < cp->nevents; i++) {
		const struct bus_out_event *e = &cp->events[i];

		ARG(e->json);
		ARG(e->event_id ? e->event_id : "");
		ARG(e->event_type ? e->event_type : "");
		ARG(e->correlation_id ? e->correlation_id : "");
		ARG(e->stream ? e->stream : "");
	}
	if (cp->dead) {
		ndead = m->nfields + FIELD_DEAD_COUNT;
		snprintf(sdead, sizeof(sdead), "%zu", ndead);
		ARG(sdead);
		for (i = 0; i < m->nfields; i++) {
			ARG(m->fields[i].name);
			ARGN(m->fields[i].value, m->fields[i].value_len);
		}
		ARG(FIELD_DEAD_REASON);
		ARG(cp->reason ? cp->reason : "unknown");
		ARG(FIELD_DEAD_ORIG_STREAM);
		ARG(m->stream);
		ARG(FIELD_DEAD_ORIG_ID);
		ARG(m->id);
		ARG(FIELD_DEAD_GROUP);
		ARG(bus->group);
		ARG(FIELD_DEAD_CONSUMER);
		ARG(bus->consumer);
		ARG(FIELD_DEAD_DELIVERIES);
		ARG(sdel);
		ARG(FIELD_DEAD_FAILED_AT);
		ARG(now);
	} else {
		ARG("0");
	}
#undef ARG
#undef ARGN
	call = xcalloc(1, sizeof(*call));
	call->done = done;
	call->arg = arg;
	if (redisAsyncCommandArgv(conn->ac, bus_call_cb, call, (int)argc, argv,
	        lens) != REDIS_OK) {
		free(call);
		rc = ERR_TRANSIENT;
	}
	free(argv);
	free(lens);
	free(dead);
	return rc;
}

void
bus_renew(struct bus *bus, const char *stream, const char *const *ids,
    size_t nids)
{
	struct bus_conn *conn = &bus->conn[BUS_CONN_CMD];
	const char **argv;
	size_t argc = 0, i;

	if (bus->nkids > 0) {
		bus_renew(bus_kid(bus, stream), stream, ids, nids);
		return;
	}
	if (nids == 0 || !conn_usable(conn))
		return;
	argv = xcalloc(nids + 7, sizeof(*argv));
	argv[argc++] = "XCLAIM";
	argv[argc++] = stream;
	argv[argc++] = bus->group;
	argv[argc++] = bus->consumer;
	argv[argc++] = "0";
	for (i = 0; i < nids; i++)
		argv[argc++] = ids[i];
	argv[argc++] = "JUSTID";
	redisAsyncCommandArgv(conn->ac, NULL, NULL, (int)argc, argv, NULL);
	free(argv);
}

int
bus_release(struct bus *bus, const struct bus_msg *m, bus_done_cb *done,
    void *arg)
{
	struct bus_conn *conn = &bus->conn[BUS_CONN_CMD];
	struct bus_call *call;
	char retry[24];

	if (bus->nkids > 0)
		return bus_release(bus_kid(bus, m->stream), m, done, arg);
	if (!conn_usable(conn))
		return ERR_TRANSIENT;
	/* An idle time of a day makes it the first pick of any other
	 * consumer's XAUTOCLAIM; the counter is set back so a shutdown does
	 * not count as a failed delivery. */
	snprintf(retry, sizeof(retry), "%lld",
	    m->deliveries > 1 ? m->deliveries - 1 : 0);
	call = xcalloc(1, sizeof(*call));
	call->done = done;
	call->arg = arg;
	if (redisAsyncCommand(conn->ac, bus_call_cb, call,
	        "XCLAIM %s %s %s 0 %s IDLE 86400000 RETRYCOUNT %s JUSTID",
	        m->stream, bus->group, bus->consumer, m->id,
	        retry) != REDIS_OK) {
		free(call);
		return ERR_TRANSIENT;
	}
	return 0;
}

/* ------------------------------------------------------------ sampling */

struct bus_sampling {
	struct bus *bus;
	bool always; /* call cb (with n 0) even when sampling failed */
	bus_sample_cb *cb;
	void *arg;
	struct bus_sample *s;
	size_t n;
	int waiting;
	bool failed;
};

struct bus_sample_req {
	struct bus_sampling *sp;
	size_t idx;
	int what; /* 0 XLEN, 1 XINFO GROUPS, 2 XLEN dead, 3 oldest age */
};

/*
 * Age in ms of the oldest entry the group ARGV[1] has not acknowledged in
 * stream KEYS[1]: the oldest pending one (XPENDING's smallest id) or, with
 * none pending, the first one after last-delivered-id. Entry ids start with
 * the ms of Redis's clock when added with '*', so the age is taken on the
 * same clock (TIME): no skew with ours. 0 when nothing waits; an id from
 * the future (set by hand) counts as 0. Read-only.
 */
static const char bus_oldest_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local oldest\n"
    "local p = redis.call('XPENDING', KEYS[1], ARGV[1])\n"
    "if p[1] > 0 then oldest = p[2] end\n"
    "if oldest == nil then\n"
    "  for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do\n"
    "    local name, last\n"
    "    for i = 1, #g, 2 do\n"
    "      if g[i] == 'name' then name = g[i + 1]\n"
    "      elseif g[i] == 'last-delivered-id' then last = g[i + 1] end\n"
    "    end\n"
    "    if name == ARGV[1] and last ~= nil then\n"
    "      local r = redis.call('XRANGE', KEYS[1], '(' .. last, '+',\n"
    "          'COUNT', 1)\n"
    "      if #r > 0 then oldest = r[1][1] end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if oldest == nil then return 0 end\n"
    "local ms = tonumber(string.match(oldest, '^(%d+)'))\n"
    "if ms == nil or ms > now then return 0 end\n"
    "return now - ms\n";

static void
bus_sample_cb_one(redisAsyncContext *c, void *r, void *priv)
{
	struct bus_sample_req *rq = priv;
	struct bus_sampling *sp = rq->sp;
	redisReply *reply = r;
	struct bus_sample *s = &sp->s[rq->idx];

	(void)c;
	if (reply == NULL) {
		sp->failed = true;
	} else if (rq->what == 0 && reply->type == REDIS_REPLY_INTEGER) {
		s->length = reply->integer;
	} else if (rq->what == 2 && reply->type == REDIS_REPLY_INTEGER) {
		s->dead = reply->integer;
	} else if (rq->what == 3 && reply->type == REDIS_REPLY_INTEGER) {
		s->oldest_ms = reply->integer;
	} else if (rq->what == 1) {
		reply_groups(reply, sp->bus->group, &s->lag, &s->pending);
	}
	free(rq);
	if (--sp->waiting > 0)
		return;
	if (!sp->failed && sp->cb != NULL)
		sp->cb(sp->s, sp->n, sp->arg);
	else if (sp->always && sp->cb != NULL)
		sp->cb(NULL, 0, sp->arg);
	free(sp->s);
	free(sp);
}

/* A cluster bus's sampling: its kids' samples, handed over together once
 * every kid answered (nothing when one failed, as for one bus). */
struct bus_sample_agg {
	bus_sample_cb *cb;
	void *arg;
	struct bus_sample *s;
	size_t n;
	int waiting;
	bool failed;
};

static void
bus_sample_agg_done(struct bus_sample_agg *agg)
{
	if (--agg->waiting > 0)
		return;
	if (!agg->failed)
		agg->cb(agg->s, agg->n, agg->arg);
	free(agg->s);
	free(agg);
}

static void
bus_sample_agg_cb(const struct bus_sample *s, size_t n, void *arg)
{
	struct bus_sample_agg *agg = arg;
	size_t i;

	if (n == 0)
		agg->failed = true;
	for (i = 0; i < n; i++)
		agg->s[agg->n++] = s[i];
	bus_sample_agg_done(agg);
}

static void bus_sample_do(struct bus *bus, bus_sample_cb *cb, void *arg,
    bool always);

void
bus_sample(struct bus *bus, bus_sample_cb *cb, void *arg)
{
	struct bus_sample_agg *agg;
	size_t k;

	if (bus->nkids == 0) {
		bus_sample_do(bus, cb, arg, false);
		return;
	}
	agg = xcalloc(1, sizeof(*agg));
	agg->cb = cb;
	agg->arg = arg;
	agg->s = xcalloc(bus->nkids, sizeof(*agg->s)); /* one stream each */
	agg->waiting = (int)bus->nkids + 1;
	for (k = 0; k < bus->nkids; k++)
		bus_sample_do(bus->kids[k], bus_sample_agg_cb, agg, true);
	bus_sample_agg_done(agg); /* the count held while asking */
}

static void
bus_sample_do(struct bus *bus, bus_sample_cb *cb, void *arg, bool always)
{
	struct bus_conn *conn = &bus->conn[BUS_CONN_CMD];
	/* In a cluster <stream>:dead is on its own slot: ask its master. */
	struct bus_conn *dconn =
	    bus->cl != NULL ? &bus->conn[BUS_CONN_DEAD] : conn;
	struct bus_sampling *sp;
	size_t i;
	int w;

	if (!conn_usable(conn) || bus->nstreams == 0) {
		if (always)
			cb(NULL, 0, arg);
		return;
	}
	sp = xcalloc(1, sizeof(*sp));
	sp->always = always;
	sp->bus = bus;
	sp->cb = cb;
	sp->arg = arg;
	sp->n = bus->nstreams;
	sp->s = xcalloc(sp->n, sizeof(*sp->s));
	/* One extra count held while queueing, so a reply cannot finish
	 * the sampling before every request is out. */
	sp->waiting = 1;
	for (i = 0; i < sp->n; i++) {
		sp->s[i].stream = bus->streams[i].name;
		sp->s[i].length = sp->s[i].lag = sp->s[i].pending = -1;
		sp->s[i].dead = sp->s[i].oldest_ms = -1;
		for (w = 0; w < 4; w++) {
			struct bus_sample_req *rq = xcalloc(1, sizeof(*rq));
			int ok;

			rq->sp = sp;
			rq->idx = i;
			rq->what = w;
			if (w == 0)
				ok = redisAsyncCommand(conn->ac,
				    bus_sample_cb_one, rq, "XLEN %s",
				    bus->streams[i].name);
			else if (w == 1)
				ok = redisAsyncCommand(conn->ac,
				    bus_sample_cb_one, rq, "XINFO GROUPS %s",
				    bus->streams[i].name);
			else if (w == 2)
				ok = conn_usable(dconn)
				         ? redisAsyncCommand(dconn->ac,
				               bus_sample_cb_one, rq, "XLEN %s",
				               bus->streams[i].dead)
				         : REDIS_ERR;
			else
				ok = redisAsyncCommand(conn->ac,
				    bus_sample_cb_one, rq, "EVAL %s 1 %s %s",
				    bus_oldest_lua, bus->streams[i].name,
				    bus->group);
			if (ok == REDIS_OK)
				sp->waiting++;
			else
				free(rq);
		}
	}
	if (--sp->waiting == 0) {
		if (always)
			cb(NULL, 0, arg);
		free(sp->s);
		free(sp);
	}
}

/* -------------------------------------------------------------- bridge */

void
bus_subscribe(struct bus *bus, const char *const *channels, size_t n,
    bus_pubsub_cb *cb, void *arg)
{
	size_t i;

	if (bus->nkids > 0) {
		bus_subscribe(bus->kids[0], channels, n, cb, arg);
		return;
	}
	bus->channels = xcalloc(n ? n : 1, sizeof(*bus->channels));
	for (i = 0; i < n; i++)
		bus->channels[i] = xstrdup(channels[i]);
	bus->nchannels = n;
	bus->ps_cb = cb;
	bus->ps_arg = arg;
	bus->hb_channel =
	    xasprintf("artifactd:bridge-heartbeat:%s", bus->consumer);
	conn_start(&bus->conn[BUS_CONN_PUBSUB]);
}

int
bus_append_once(struct bus *bus, const char *stream, const char *event_id,
    const char *event_type, const char *payload, size_t len, long long ttl_s,
    bus_done_cb *done, void *arg)
{
	struct bus_conn *conn = &bus->conn[BUS_CONN_CMD];
	struct bus_call *call;
	char *seen;
	char ttl[24];
	int rc = 0;

	if (bus->nkids > 0)
		return bus_append_once(bus->kids[0], stream, event_id,
		    event_type, payload, len, ttl_s, done, arg);
	if (!conn_usable(conn))
		return ERR_TRANSIENT;
	/* In a cluster the bridge writes through its one cmd connection,
	 * on the output stream's master: streams on another slot cannot be
	 * reached (docs/internals/bus.md, "Cluster"). The seen key takes
	 * the stream's slot: {stream} as its hash tag unless it has one. */
	if (bus->cl != NULL &&
	    cluster_key_slot(stream, strlen(stream)) !=
	        cluster_key_slot(conn_key(conn), strlen(conn_key(conn)))) {
		log_warnx("redis_cluster_unroutable stream=\"%.64s\" "
		          "err=\"the bridge writes only to streams on the "
		          "output stream's slot (use hash tags)\"",
		    stream);
		return ERR_TRANSIENT;
	}
	if (bus->cl != NULL && strchr(stream, '{') == NULL)
		seen = xasprintf("artifactd:seen:{%s}:%s", stream, event_id);
	else
		seen = xasprintf("artifactd:seen:%s:%s", stream, event_id);
	snprintf(ttl, sizeof(ttl), "%lld", ttl_s > 0 ? ttl_s : 86400);
	call = xcalloc(1, sizeof(*call));
	call->done = done;
	call->arg = arg;
	{
		const char *argv[] = { "EVAL", bus_append_lua, "2", stream,
			seen, ttl, payload, event_id,
			event_type ? event_type : "" };
		size_t lens[9];
		size_t i;

		for (i = 0; i < 9; i++)
			lens[i] = strlen(argv[i]);
		lens[6] = len;
		if (redisAsyncCommandArgv(conn->ac, bus_call_cb, call, 9, argv,
		        lens) != REDIS_OK) {
			free(call);
			rc = ERR_TRANSIENT;
		}
	}
	free(seen);
	return rc;
}

void
bus_free(struct bus *bus)
{
	size_t i;

	if (bus == NULL)
		return;
	if (bus->kids != NULL) { /* a cluster bus: no connections of its own */
		for (i = 0; i < bus->nkids; i++)
			bus_free(bus->kids[i]);
		free(bus->kids);
		free(bus->top_stats);
		free(bus->cl);
		endpoint_dispose(&bus->url);
		free(bus);
		return;
	}
	bus->closing = true;
	for (i = 0; i < BUS_NCONN_ALL; i++) {
		struct bus_conn *conn = &bus->conn[i];
		redisAsyncContext *ac = conn->ac;

		conn->ac = NULL;
		if (ac != NULL)
			redisAsyncFree(ac);
		tls_bridge_free(conn->tls);
		event_free(conn->retry_ev);
		event_free(conn->watch_ev);
		event_free(conn->kill_ev);
	}
	if (bus->claim_ev != NULL)
		event_free(bus->claim_ev);
	if (bus->janitor_ev != NULL)
		event_free(bus->janitor_ev);
	event_free(bus->ping_ev);
	event_free(bus->pause_ev);
	for (i = 0; i < bus->nstreams; i++) {
		free(bus->streams[i].name);
		free(bus->streams[i].dead);
	}
	for (i = 0; i < bus->nchannels; i++)
		free(bus->channels[i]);
	free(bus->channels);
	free(bus->hb_channel);
	free(bus->streams);
	free(bus->group);
	free(bus->consumer);
	free(bus->output_stream);
	free(bus->output_channel);
	/* After the contexts: their sockets are the bridge's peers. */
	tls_bridge_free(bus->tls);
	endpoint_dispose(&bus->url);
	free(bus);
}
