/*
 * fields.h - the names of the fields of our stream entries, spelled once.
 *
 * An input or output entry carries the event JSON plus three plain copies
 * of its ids (so that tools can filter with XRANGE without parsing JSON).
 * A dead letter (<stream>:dead) carries the original entry's fields plus
 * the seven FIELD_DEAD_* fields saying why and where it died. Copies made
 * by `artifactd replay` and `artifactd dlq redrive` are marked with the id
 * they were copied from. Macros, not variables, so that they can also be
 * pasted into the bus's Lua scripts and static tables.
 */
#ifndef EVENTS_FIELDS_H
#define EVENTS_FIELDS_H

/* Every entry we write. */
#define FIELD_EVENT "event" /* the envelope JSON */
#define FIELD_EVENT_ID "event_id"
#define FIELD_EVENT_TYPE "event_type"
#define FIELD_CORRELATION_ID "correlation_id"

/* What the bus adds to a dead letter; not part of the event. */
#define FIELD_DEAD_REASON "reason"
#define FIELD_DEAD_ORIG_STREAM "orig_stream"
#define FIELD_DEAD_ORIG_ID "orig_id"
#define FIELD_DEAD_GROUP "group"
#define FIELD_DEAD_CONSUMER "consumer"
#define FIELD_DEAD_DELIVERIES "deliveries"
#define FIELD_DEAD_FAILED_AT "failed_at"
/* The seven above, in the order the bus writes them. */
#define FIELD_DEAD_NAMES                                                       \
	{                                                                      \
		FIELD_DEAD_REASON, FIELD_DEAD_ORIG_STREAM, FIELD_DEAD_ORIG_ID, \
		    FIELD_DEAD_GROUP, FIELD_DEAD_CONSUMER,                     \
		    FIELD_DEAD_DELIVERIES, FIELD_DEAD_FAILED_AT                \
	}
#define FIELD_DEAD_COUNT 7

/* Marks of copies: the id of the entry a copy was made from. */
#define FIELD_REPLAYED_FROM "replayed_from"
#define FIELD_REDRIVEN_FROM "redriven_from"

#endif
