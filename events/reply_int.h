/*
 * reply_int.h - the shapes of the Redis replies the bus reads, turned
 * into our structs by pure functions (no I/O, no state): stream entries,
 * the per-stream part of an XREADGROUP reply, XAUTOCLAIM, XPENDING,
 * XINFO GROUPS and Pub/Sub messages.
 *
 * Private to events/ (it includes hiredis): bus.c and admin.c use it,
 * and so do its unit test and fuzz/reply_fuzzer.c, which feed it every
 * shape a server could send. Every function takes a reply of any shape
 * (NULL included) and answers ERR_INVALID (or "nothing") for one it does
 * not expect; the pointers it hands back are borrowed from the reply.
 */
#ifndef EVENTS_REPLY_INT_H
#define EVENTS_REPLY_INT_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "events/bus.h"

/* A stream entry's fields may not exceed this count: our producers write
 * four, the DLQ adds eight; anything far beyond is not one of ours and
 * is still delivered (the handler rejects it), but not kept unbounded. */
#define REPLY_MAX_FIELDS 256
/* Stream ids are "<ms>-<seq>": at most 20 + 1 + 20 digits; a longer id
 * (or cursor) is not one Redis sends. Also the size of id buffers. */
#define REPLY_ID_MAX 48

/*
 * Turn one entry of an XREADGROUP/XAUTOCLAIM/XRANGE reply ([id, [f, v,
 * ...]]) into a message of `stream` with a delivery count of 1. Returns 0
 * with *out set (the caller's, bus_msg_free), 1 when the entry was trimmed
 * away while pending (body nil: *out is set with no fields, so the id can
 * be acknowledged), or ERR_INVALID when the reply has another shape (*out
 * untouched).
 */
int reply_entry(struct bus_msg **out, const redisReply *entry,
    const char *stream);

/* One stream of an XREADGROUP reply: [name, [entry, ...]]. */
struct reply_stream {
	const char *name; /* not NUL-terminated at name_len in general */
	size_t name_len;
	const redisReply *entries; /* an array; each for reply_entry */
	const char *last_id;       /* id of the last entry, or NULL (no entries,
	                              or the last one has no usable id) */
	size_t last_id_len;        /* < REPLY_ID_MAX */
};

/* Parse one element of an XREADGROUP reply. Returns 0 with *out set, or
 * ERR_INVALID (*out untouched). */
int reply_stream(struct reply_stream *out, const redisReply *s);

/* An XAUTOCLAIM reply: Redis 7 sends [cursor, [entry, ...], [id, ...]]
 * (the ids deleted from the PEL because their entries were trimmed);
 * Redis 6.2 sends the first two only. */
struct reply_autoclaim {
	const char *cursor;        /* the next cursor */
	size_t cursor_len;         /* < REPLY_ID_MAX */
	const redisReply *entries; /* an array; each for reply_entry */
	const redisReply *deleted; /* an array, or NULL; reply_string() */
};

/* Returns 0 with *out set, or ERR_INVALID (*out untouched). */
int reply_autoclaim(struct reply_autoclaim *out, const redisReply *r);

/* The text of element i of array r when it is a string (NUL-terminated,
 * *len its length when len is not NULL), else NULL. */
const char *reply_string(const redisReply *r, size_t i, size_t *len);

/*
 * Find the delivery count of `id` in an XPENDING extended reply
 * ([[id, consumer, idle, count], ...]). Returns the count, or 0 when the
 * id is not listed (or the reply has another shape).
 */
long long reply_pending_count(const redisReply *r, const char *id);

/* Parse the lag and pending fields of `group` in an XINFO GROUPS reply
 * (one flat array of name, value, ... per group): sets *lag and *pending
 * (-1 when nil, of another type or not found). */
void reply_groups(const redisReply *r, const char *group, long long *lag,
    long long *pending);

/*
 * A push on a Pub/Sub connection: [kind, channel-or-count, payload...].
 * Returns 1 for a "message" (*channel, *payload and *len set; both
 * strings NUL-terminated), 0 for another well-formed push (a subscribe
 * confirmation: the connection is alive), ERR_INVALID otherwise.
 */
int reply_message(const redisReply *r, const char **channel,
    const char **payload, size_t *len);

#endif
