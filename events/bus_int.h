/*
 * bus_int.h - helpers of the bus that only bus.c and its unit tests use:
 * turning hiredis replies into bus messages. Kept out of bus.h so the
 * public header does not pull in hiredis.
 */
#ifndef EVENTS_BUS_INT_H
#define EVENTS_BUS_INT_H

#include <hiredis/hiredis.h>

#include "events/bus.h"

/* A stream entry's fields may not exceed this count: our producers write
 * four, the DLQ adds eight; anything far beyond is not one of ours and
 * is still delivered (the handler rejects it), but not kept unbounded. */
#define BUS_MAX_FIELDS 256

/*
 * Turn one entry of an XREADGROUP/XAUTOCLAIM reply ([id, [f, v, ...]])
 * into a message of `stream` with the given delivery count. Returns 0
 * with *out set, 1 when the entry was trimmed away while pending (body
 * nil: *out is set with no fields, so the id can be acknowledged), or
 * ERR_INVALID when the reply has another shape (*out untouched).
 */
int bus_parse_entry(struct bus_msg **out, const redisReply *entry,
    const char *stream);

/*
 * Find the delivery count of `id` in an XPENDING extended reply
 * ([[id, consumer, idle, count], ...]). Returns the count, or 0 when the
 * id is not listed.
 */
long long bus_pending_count(const redisReply *r, const char *id);

/* Parse the lag field of one XINFO GROUPS group (a flat array of name,
 * value, ...) for `group`: sets *lag and *pending (-1 when nil or not
 * found). */
void bus_parse_groups(const redisReply *r, const char *group, long long *lag,
    long long *pending);

#endif
