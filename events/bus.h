/*
 * bus.h - the Redis Streams transport: consumer groups on the input
 * streams, outcome events on the output stream and channel, dead letters.
 *
 * A struct bus lives on one libevent base and owns every hiredis context
 * it uses (hiredis 0.14.1 contexts are not thread-safe): one connection
 * only for XREADGROUP ... BLOCK (a blocked read would stall every other
 * reply on its connection), one for commands, and one for Pub/Sub when
 * subscribing. Each reconnects by itself with backoff and jitter, guarded
 * by connect and reply watchdogs on libevent timers, because hiredis
 * 0.14.1 has neither reconnects nor timeouts. The bus knows nothing about
 * git or about what the events mean: it hands entries to a callback and
 * writes what it is told to write.
 *
 * All functions must be called on the thread running the event base.
 */
#ifndef EVENTS_BUS_H
#define EVENTS_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct event_base;
struct bus;

/* One field of a stream entry. Both strings are NUL-terminated copies
 * (values may also contain NULs; use the lengths). */
struct bus_field {
	char *name;
	char *value;
	size_t value_len;
};

/* An entry delivered from an input stream; owned by whoever receives it
 * (free with bus_msg_free). */
struct bus_msg {
	char *stream;
	char *id;
	struct bus_field *fields;
	size_t nfields;
	size_t nfields_total; /* in the entry: above nfields when capped at
	                         REPLY_MAX_FIELDS (the loop refuses those) */
	long long deliveries; /* the group's delivery counter, >= 1 */
};

/* A borrowed field value by name, or NULL; *len gets its length. */
const char *bus_msg_field(const struct bus_msg *m, const char *name,
    size_t *len);
void bus_msg_free(struct bus_msg *m);

/* Called with each entry read or claimed; takes ownership of msg. */
typedef void bus_msg_cb(struct bus_msg *msg, void *arg);
/* How many more entries the consumer can take now (free slots). */
typedef size_t bus_capacity_cb(void *arg);
/* Outcome of bus_complete/bus_release: 0 written, 1 nothing to do (the
 * entry was no longer pending: another consumer answered it), or a
 * negative code (ERR_TRANSIENT: Redis unreachable, try again later). */
typedef void bus_done_cb(int rc, void *arg);
/* A Pub/Sub message (bridge mode); strings borrowed for the call. */
typedef void bus_pubsub_cb(const char *channel, const char *payload, size_t len,
    void *arg);

struct bus_opts {
	const char *url; /* ARTIFACTD_REDIS_URL, parsed by endpoint.h */
	const char *group;
	const char *consumer;
	const char *const *streams; /* input streams, read together */
	size_t nstreams;
	const char *output_stream;
	const char *output_channel; /* "" or NULL: no PUBLISH */
	long long output_maxlen;    /* MAXLEN ~ on XADD, 0: unbounded */
	long long block_ms;         /* XREADGROUP BLOCK */
	long long claim_idle_ms;    /* XAUTOCLAIM min-idle; 0: no claims */
	bool consume;               /* open the reader and create groups */
};

/* The connections: reader, commands, Pub/Sub (bridge), and with a
 * redis+sentinel:// URL one to a sentinel for +switch-master. */
enum {
	BUS_CONN_READER,
	BUS_CONN_CMD,
	BUS_CONN_PUBSUB,
	BUS_CONN_SENTINEL,
	BUS_NCONN
};

/* Counters kept by the bus (monotonic), read by the metrics page. */
struct bus_stats {
	uint64_t received; /* entries handed to the callback */
	uint64_t claims;   /* entries taken over from others */
	uint64_t trimmed;  /* pending entries gone from the stream */
	uint64_t reconnects[BUS_NCONN]; /* per connection (enum above) */
	uint64_t command_errors;        /* error replies from Redis */
	uint64_t consumers_deleted; /* idle consumers with nothing pending */
	bool connected[BUS_NCONN];
	uint64_t master_switches; /* Sentinel: the master's address changed */
};

/*
 * Create a bus on base and start connecting (connections come up
 * asynchronously; bus_ready says when). Strings of opts are copied.
 * on_msg/capacity may be NULL when opts->consume is false. *out belongs
 * to the caller (bus_free). Returns 0 or ERR_INVALID (bad URL).
 */
int bus_new(struct bus **out, struct event_base *base,
    const struct bus_opts *opts, bus_msg_cb *on_msg, bus_capacity_cb *capacity,
    void *arg, struct error *err);

/* Free slots changed: read more if the consumer can take more. */
void bus_poke(struct bus *bus);

/* Look for abandoned entries of other consumers now rather than at the
 * next claim tick (after a claimed entry was answered, to take the next
 * one without waiting). Claims take one entry per stream at a time. */
void bus_claim_now(struct bus *bus);

/* Called once no read is outstanding after bus_stop_reading. */
typedef void bus_stopped_cb(void *arg);

/*
 * Stop reading and claiming for good (shutdown); writes still work. A
 * blocked read is cut short with CLIENT UNBLOCK; cb (may be NULL) is
 * called once no read is outstanding (at once if none is), after any
 * entries that read had taken were handed to the message callback.
 */
void bus_stop_reading(struct bus *bus, bus_stopped_cb *cb, void *arg);

/* True when the command connection (and the reader, when consuming) is
 * up and the consumer groups exist. */
bool bus_ready(const struct bus *bus);

const struct bus_stats *bus_stats(const struct bus *bus);

/* One outcome event to write: the JSON plus its plain id fields. */
struct bus_out_event {
	const char *json;
	const char *event_id;       /* may be NULL */
	const char *event_type;     /* may be NULL */
	const char *correlation_id; /* may be NULL */
	/* NULL: the output stream (and its channel); else this stream,
	 * e.g. a RELEASE_TAGGED handed back to the release stream. */
	const char *stream;
};

/* What to do with one input entry, atomically (one Lua script, which
 * Redis runs like MULTI/EXEC): acknowledge it and, only if it was still
 * pending, XADD + PUBLISH each event, and XADD the dead letter. */
struct bus_completion {
	const struct bus_msg *msg; /* borrowed for the call: copied */
	const struct bus_out_event *events;
	size_t nevents;
	bool dead;          /* also XADD to <stream>:dead */
	const char *reason; /* why it is dead (required when dead) */
};

/*
 * Queue the completion on the command connection. done is called once,
 * later, with 0, 1 or ERR_TRANSIENT (then nothing was written, or the
 * answer was lost: call again; at worst the same outcome is emitted
 * twice). Returns 0, or ERR_TRANSIENT at once when disconnected (done is
 * then not called).
 */
int bus_complete(struct bus *bus, const struct bus_completion *c,
    bus_done_cb *done, void *arg);

/*
 * Renew the lease of in-flight entries of one stream (XCLAIM ... 0 ids
 * JUSTID: resets their idle time, keeps the delivery counter), so no other
 * consumer claims a live job. Fire and forget.
 */
void bus_renew(struct bus *bus, const char *stream, const char *const *ids,
    size_t nids);

/*
 * Give an entry back for immediate pickup by another consumer (XCLAIM
 * ... IDLE <1 day> RETRYCOUNT deliveries-1 JUSTID). done may be NULL.
 * Returns 0 or ERR_TRANSIENT when disconnected.
 */
int bus_release(struct bus *bus, const struct bus_msg *msg, bus_done_cb *done,
    void *arg);

/* Per-stream figures sampled with XLEN and XINFO GROUPS. */
struct bus_sample {
	const char *stream;
	long long length;    /* XLEN, -1 unknown */
	long long lag;       /* group lag, -1 unknown (NULL in Redis 7.0) */
	long long pending;   /* group PEL size, -1 unknown */
	long long dead;      /* XLEN of <stream>:dead, -1 unknown */
	long long oldest_ms; /* age of the oldest entry the group has not
	                        acknowledged (by Redis's clock), 0 none,
	                        -1 unknown */
};
/* Sampling result: n samples, borrowed for the call. */
typedef void bus_sample_cb(const struct bus_sample *s, size_t n, void *arg);

/* Sample the input streams (async). Nothing is called when
 * disconnected. */
void bus_sample(struct bus *bus, bus_sample_cb *cb, void *arg);

/*
 * Bridge mode: SUBSCRIBE to channels on a dedicated connection (again
 * after every reconnect) and call cb for each message.
 */
void bus_subscribe(struct bus *bus, const char *const *channels,
    size_t nchannels, bus_pubsub_cb *cb, void *arg);

/*
 * Append payload to stream unless an entry with this event_id was
 * appended in the last ttl_s seconds (a Lua SET NX + XADD, so several
 * bridges may run). done gets 0 appended, 1 duplicate, or a negative
 * code. Returns 0 or ERR_TRANSIENT when disconnected.
 */
int bus_append_once(struct bus *bus, const char *stream, const char *event_id,
    const char *event_type, const char *payload, size_t len, long long ttl_s,
    bus_done_cb *done, void *arg);

/* Close every connection at once (pending callbacks get ERR_TRANSIENT)
 * and free the bus. NULL is fine. */
void bus_free(struct bus *bus);

/* Exposed for tests: the dead letter stream name of an input stream.
 * The caller frees it. */
char *bus_dead_stream(const char *stream);

#endif
