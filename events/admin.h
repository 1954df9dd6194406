/*
 * admin.h - blocking Redis Streams operations for the command-line tools
 * (`emit`, `replay`, `dlq`): one connection, one command at a time, every
 * answer turned into our own structs, so that nothing outside events/
 * speaks Redis. The daemon uses the asynchronous bus (bus.h) instead.
 *
 * Entries are returned as struct bus_msg (bus.h) with their stream, id
 * and fields, parsed and capped exactly as the bus parses what it reads
 * (REPLY_MAX_FIELDS). Field names are in fields.h. Return codes:
 * ERR_TRANSIENT when Redis cannot be reached or the connection broke,
 * ERR_FAIL when Redis answered with an error (the text is in err),
 * ERR_NOTFOUND when the entry asked for does not exist, ERR_INVALID for
 * input refused before anything is sent.
 */
#ifndef EVENTS_ADMIN_H
#define EVENTS_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "events/bus.h"

struct admin;

/* A stream id: two 20-digit numbers, a dash and a NUL fit; Redis never
 * hands out longer ones (same bound as the bus's cursors). */
#define ADMIN_ID_MAX 48

/*
 * Connect to the Redis of url (ARTIFACTD_REDIS_URL, parsed like the bus
 * does: endpoint.h), with AUTH and SELECT done and socket timeouts of
 * timeout_ms. *out belongs to the caller (admin_free). Returns 0,
 * ERR_INVALID (bad URL), ERR_TRANSIENT (cannot connect) or ERR_FAIL
 * (credentials refused). The message never holds the password.
 */
int admin_connect(struct admin **out, const char *url, int timeout_ms,
    struct error *err);

/* Close the connection. NULL is fine. */
void admin_free(struct admin *adm);

/* A page of entries, oldest first; owned by whoever filled it. */
struct admin_page {
	struct bus_msg **entries;
	size_t n;
};

/* Free the entries of a page and zero it (a zeroed page is fine). */
void admin_page_dispose(struct admin_page *page);

/*
 * XRANGE stream start end COUNT count: at most count entries (count >= 1)
 * into *out (which the caller disposes). start and end are stream ids,
 * "(" exclusive ids, "-" or "+". Returns 0 (possibly no entries) or a
 * negative code.
 */
int admin_range(struct admin_page *out, struct admin *adm, const char *stream,
    const char *start, const char *end, size_t count, struct error *err);

/* One entry by id into *out (caller frees with bus_msg_free). Returns 0,
 * ERR_NOTFOUND or a negative code. */
int admin_get(struct bus_msg **out, struct admin *adm, const char *stream,
    const char *id, struct error *err);

/* The id of the newest entry of stream (XREVRANGE + - COUNT 1) into out.
 * Returns 0, ERR_NOTFOUND when the stream is empty or missing, or a
 * negative code. */
int admin_last_id(char out[ADMIN_ID_MAX], struct admin *adm, const char *stream,
    struct error *err);

/* XDEL one entry. Returns 0, ERR_NOTFOUND when it was not there, or a
 * negative code. */
int admin_delete(struct admin *adm, const char *stream, const char *id,
    struct error *err);

/*
 * Append an event to stream the way producers and the bus write one:
 * the fields event, event_id, event_type and correlation_id (the last
 * three left out when NULL). The new entry's id goes to id_out. Returns
 * 0 or a negative code.
 */
int admin_send(char id_out[ADMIN_ID_MAX], struct admin *adm, const char *stream,
    const struct bus_out_event *ev, struct error *err);

/*
 * Append a copy of entry to the end of its own stream (entry->stream)
 * with the same fields and replayed_from=<entry id> (a previous mark is
 * replaced). Returns 0, ERR_INVALID when the entry had more fields than
 * were read (REPLY_MAX_FIELDS: it is not copied truncated), or a negative
 * code.
 */
int admin_replay(char id_out[ADMIN_ID_MAX], struct admin *adm,
    const struct bus_msg *entry, struct error *err);

/* The stream a dead letter goes back to: its orig_stream field, else
 * fallback. Borrowed from letter or fallback. */
const char *admin_redrive_target(const struct bus_msg *letter,
    const char *fallback);

/*
 * Redrive a dead letter of stream `dead`: append its original fields
 * (the FIELD_DEAD_* ones left out) plus redriven_from=<letter id> to
 * admin_redrive_target(letter, fallback), and delete the letter, in one
 * MULTI/EXEC so both happen or neither. Returns 0, ERR_INVALID (letter
 * truncated at REPLY_MAX_FIELDS) or a negative code.
 */
int admin_redrive(char id_out[ADMIN_ID_MAX], struct admin *adm,
    const char *dead, const struct bus_msg *letter, const char *fallback,
    struct error *err);

/* True for the fields the bus adds to a dead letter (FIELD_DEAD_*). */
bool admin_is_dead_field(const char *name);

/*
 * Make consumer group `group` of stream deliver what comes after
 * after_id: XGROUP CREATE ... MKSTREAM, or XGROUP SETID when the group
 * exists. Returns 0 or a negative code.
 */
int admin_group_start(struct admin *adm, const char *stream, const char *group,
    const char *after_id, struct error *err);

/*
 * Read the entries of stream after cursor (XREAD COUNT 100 BLOCK),
 * waiting at most until deadline_ms (util_mono_ms clock), in slices no
 * longer than one second so the socket timeout never cuts a wait. The
 * cursor moves to the newest id read. Returns 0 (no entries when the
 * deadline passed first) or a negative code.
 */
int admin_read(struct admin_page *out, struct admin *adm, const char *stream,
    char cursor[ADMIN_ID_MAX], int64_t deadline_ms, struct error *err);

/*
 * Turn a range bound given by a person into a stream id: "-" and "+" as
 * they are; a stream id "<ms>-<seq>"; epoch milliseconds "<ms>"; an ISO
 * 8601 date "2026-12-03" (midnight UTC); or a date and time with "Z" or
 * an offset ("2026-12-03T14:30:00Z", "...T14:30:00.250+01:00"). A time
 * becomes "<ms>-0" as a start and "<ms>-<max>" as an end (end true), so
 * the whole millisecond is included. Returns 0 or ERR_INVALID (input
 * longer than ADMIN_POINT_MAX, a time before 1970, anything else).
 */
#define ADMIN_POINT_MAX 64
int admin_point(char out[ADMIN_ID_MAX], const char *value, bool end,
    struct error *err);

/* The id just before id (a group started there delivers id next): "0"
 * for "-" or the first possible id. id comes from admin_point. */
void admin_id_before(char out[ADMIN_ID_MAX], const char *id);

#endif
