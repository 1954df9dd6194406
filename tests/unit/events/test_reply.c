/*
 * test_reply.c - the bus's reply parsers (events/reply.c), on hand-built
 * hiredis replies of the shapes Redis 7.0 sends (XREADGROUP/XAUTOCLAIM
 * entries, trimmed entries with a nil body, XPENDING extended form, XINFO
 * GROUPS, Pub/Sub pushes) and on shapes it does not send.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "events/bus.h"
#include "events/reply_int.h"

/* Tiny builders; every reply is freed with the test's arena. */
static redisReply *arena[1024];
static size_t narena;

static redisReply *
mk(int type)
{
	redisReply *r = calloc(1, sizeof(*r));

	r->type = type;
	arena[narena++] = r;
	return r;
}

static redisReply *
str(const char *s)
{
	redisReply *r = mk(REDIS_REPLY_STRING);

	r->str = (char *)(uintptr_t)s;
	r->len = strlen(s);
	return r;
}

static redisReply *
num(long long v)
{
	redisReply *r = mk(REDIS_REPLY_INTEGER);

	r->integer = v;
	return r;
}

static redisReply *
arr(size_t n, ...)
{
	redisReply *r = mk(REDIS_REPLY_ARRAY);
	va_list ap;
	size_t i;

	r->elements = n;
	r->element = calloc(n ? n : 1, sizeof(*r->element));
	va_start(ap, n);
	for (i = 0; i < n; i++)
		r->element[i] = va_arg(ap, redisReply *);
	va_end(ap);
	return r;
}

static int
teardown(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < narena; i++) {
		free(arena[i]->element);
		free(arena[i]);
	}
	narena = 0;
	return 0;
}

static void
test_entry_fields(void **state)
{
	redisReply *e = arr(2, str("1700000000000-0"),
	    arr(4, str("event"), str("{\"a\":1}"), str("event_id"), str("e1")));
	struct bus_msg *m = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(reply_entry(&m, e, "test_results"), 0);
	assert_string_equal(m->stream, "test_results");
	assert_string_equal(m->id, "1700000000000-0");
	assert_int_equal(m->nfields, 2);
	assert_int_equal(m->deliveries, 1);
	assert_string_equal(bus_msg_field(m, "event", &len), "{\"a\":1}");
	assert_int_equal(len, 7);
	assert_string_equal(bus_msg_field(m, "event_id", NULL), "e1");
	assert_null(bus_msg_field(m, "missing", NULL));
	bus_msg_free(m);
}

static void
test_entry_binary_value(void **state)
{
	redisReply *v = str("abc");
	redisReply *e = arr(2, str("1-1"), arr(2, str("event"), v));
	struct bus_msg *m = NULL;
	size_t len = 0;
	static const char bin[] = { 'a', '\0', 'b' };

	(void)state;
	v->str = (char *)(uintptr_t)bin;
	v->len = sizeof(bin);
	assert_int_equal(reply_entry(&m, e, "s"), 0);
	assert_memory_equal(bus_msg_field(m, "event", &len), bin, 3);
	assert_int_equal(len, 3);
	bus_msg_free(m);
}

static void
test_entry_trimmed(void **state)
{
	/* XREADGROUP ... 0 returns [id, nil] for a pending entry that was
	 * trimmed or deleted from the stream. */
	redisReply *e = arr(2, str("5-0"), mk(REDIS_REPLY_NIL));
	struct bus_msg *m = NULL;

	(void)state;
	assert_int_equal(reply_entry(&m, e, "s"), 1);
	assert_string_equal(m->id, "5-0");
	assert_int_equal(m->nfields, 0);
	bus_msg_free(m);
}

static void
test_entry_bad_shapes(void **state)
{
	struct bus_msg *m = NULL;

	(void)state;
	assert_int_equal(reply_entry(&m, NULL, "s"), ERR_INVALID);
	assert_int_equal(reply_entry(&m, str("x"), "s"), ERR_INVALID);
	assert_int_equal(reply_entry(&m, arr(1, str("1-0")), "s"), ERR_INVALID);
	/* Odd number of field/value items. */
	assert_int_equal(reply_entry(&m,
	                     arr(2, str("1-0"), arr(1, str("event"))), "s"),
	    ERR_INVALID);
	/* A value that is not a string. */
	assert_int_equal(reply_entry(&m,
	                     arr(2, str("1-0"), arr(2, str("event"), num(3))),
	                     "s"),
	    ERR_INVALID);
	/* An id longer than any stream id. */
	assert_int_equal(reply_entry(&m,
	                     arr(2,
	                         str("123456789012345678901234567890123456789"
	                             "0123456789"),
	                         arr(0)),
	                     "s"),
	    ERR_INVALID);
	assert_null(m);
}

static void
test_pending_count(void **state)
{
	/* XPENDING key group start end count consumer:
	 * [[id, consumer, idle-ms, deliveries], ...] */
	redisReply *r = arr(2, arr(4, str("1-0"), str("c"), num(10), num(3)),
	    arr(4, str("2-0"), str("c"), num(5), num(1)));

	(void)state;
	assert_int_equal(reply_pending_count(r, "1-0"), 3);
	assert_int_equal(reply_pending_count(r, "2-0"), 1);
	assert_int_equal(reply_pending_count(r, "3-0"), 0);
	assert_int_equal(reply_pending_count(NULL, "1-0"), 0);
	assert_int_equal(reply_pending_count(mk(REDIS_REPLY_ERROR), "1-0"), 0);
}

static void
test_groups(void **state)
{
	/* XINFO GROUPS on Redis 7.0: lag may be nil. */
	redisReply *r = arr(2,
	    arr(12, str("name"), str("other"), str("consumers"), num(1),
	        str("pending"), num(9), str("last-delivered-id"), str("1-0"),
	        str("entries-read"), num(1), str("lag"), num(7)),
	    arr(12, str("name"), str("artifactd"), str("consumers"), num(2),
	        str("pending"), num(4), str("last-delivered-id"), str("2-0"),
	        str("entries-read"), num(2), str("lag"), mk(REDIS_REPLY_NIL)));
	long long lag, pending;

	(void)state;
	reply_groups(r, "artifactd", &lag, &pending);
	assert_int_equal(lag, -1);
	assert_int_equal(pending, 4);
	reply_groups(r, "other", &lag, &pending);
	assert_int_equal(lag, 7);
	assert_int_equal(pending, 9);
	reply_groups(r, "absent", &lag, &pending);
	assert_int_equal(lag, -1);
	assert_int_equal(pending, -1);
}

static void
test_entry_over_cap(void **state)
{
	/* More fields than REPLY_MAX_FIELDS, the event last: it is kept
	 * first, the others fill the room in order. */
	size_t total = REPLY_MAX_FIELDS + 10, i;
	redisReply *kv = mk(REDIS_REPLY_ARRAY);
	struct bus_msg *m = NULL;

	(void)state;
	kv->elements = 2 * total;
	kv->element = calloc(kv->elements, sizeof(*kv->element));
	for (i = 0; i + 1 < total; i++) {
		kv->element[2 * i] = str("x");
		kv->element[2 * i + 1] = str("y");
	}
	kv->element[2 * i] = str("event");
	kv->element[2 * i + 1] = str("{}");
	assert_int_equal(reply_entry(&m, arr(2, str("9-0"), kv), "s"), 0);
	assert_int_equal(m->nfields, REPLY_MAX_FIELDS);
	assert_int_equal(m->nfields_total, total);
	assert_string_equal(m->fields[0].name, "event");
	assert_string_equal(bus_msg_field(m, "event", NULL), "{}");
	assert_string_equal(m->fields[1].name, "x");
	bus_msg_free(m);
}

static void
test_stream(void **state)
{
	redisReply *s = arr(2, str("test_results"),
	    arr(2, arr(2, str("1-0"), arr(2, str("event"), str("{}"))),
	        arr(2, str("2-5"), mk(REDIS_REPLY_NIL))));
	struct reply_stream rs;

	(void)state;
	assert_int_equal(reply_stream(&rs, s), 0);
	assert_int_equal(rs.name_len, 12);
	assert_memory_equal(rs.name, "test_results", 12);
	assert_int_equal(rs.entries->elements, 2);
	/* The cursor moves past the trimmed entry too. */
	assert_int_equal(rs.last_id_len, 3);
	assert_memory_equal(rs.last_id, "2-5", 3);

	/* No entries: no last id. */
	assert_int_equal(reply_stream(&rs, arr(2, str("s"), arr(0))), 0);
	assert_null(rs.last_id);
	/* A last entry of another shape: no last id either. */
	assert_int_equal(reply_stream(&rs, arr(2, str("s"), arr(1, num(1)))),
	    0);
	assert_null(rs.last_id);
	assert_int_equal(reply_stream(&rs,
	                     arr(2, str("s"), arr(1, arr(2, num(1), arr(0))))),
	    0);
	assert_null(rs.last_id);
}

static void
test_stream_bad_shapes(void **state)
{
	struct reply_stream rs = { .name = "untouched" };

	(void)state;
	assert_int_equal(reply_stream(&rs, NULL), ERR_INVALID);
	assert_int_equal(reply_stream(&rs, mk(REDIS_REPLY_NIL)), ERR_INVALID);
	assert_int_equal(reply_stream(&rs, arr(1, str("s"))), ERR_INVALID);
	assert_int_equal(reply_stream(&rs, arr(2, num(1), arr(0))),
	    ERR_INVALID);
	assert_int_equal(reply_stream(&rs, arr(2, str("s"), str("x"))),
	    ERR_INVALID);
	assert_int_equal(reply_stream(&rs, arr(3, str("s"), arr(0), arr(0))),
	    ERR_INVALID);
	assert_string_equal(rs.name, "untouched");
}

static void
test_autoclaim(void **state)
{
	/* Redis 7: [cursor, entries, deleted ids]. */
	redisReply *r7 = arr(3, str("7-0"),
	    arr(1, arr(2, str("3-0"), arr(2, str("event"), str("{}")))),
	    arr(2, str("4-0"), num(5)));
	/* Redis 6.2: no third element. */
	redisReply *r6 = arr(2, str("0-0"), arr(0));
	struct reply_autoclaim ac;
	size_t len = 0;

	(void)state;
	assert_int_equal(reply_autoclaim(&ac, r7), 0);
	assert_int_equal(ac.cursor_len, 3);
	assert_memory_equal(ac.cursor, "7-0", 3);
	assert_int_equal(ac.entries->elements, 1);
	assert_non_null(ac.deleted);
	assert_string_equal(reply_string(ac.deleted, 0, &len), "4-0");
	assert_int_equal(len, 3);
	/* A deleted "id" that is not a string is reported as none. */
	assert_null(reply_string(ac.deleted, 1, NULL));
	assert_null(reply_string(ac.deleted, 2, NULL));
	assert_int_equal(reply_autoclaim(&ac, r6), 0);
	assert_null(ac.deleted);
	assert_int_equal(ac.entries->elements, 0);
}

static void
test_autoclaim_bad_shapes(void **state)
{
	struct reply_autoclaim ac = { .cursor = "untouched" };

	(void)state;
	assert_int_equal(reply_autoclaim(&ac, NULL), ERR_INVALID);
	assert_int_equal(reply_autoclaim(&ac, mk(REDIS_REPLY_ERROR)),
	    ERR_INVALID);
	assert_int_equal(reply_autoclaim(&ac, arr(1, str("0-0"))), ERR_INVALID);
	assert_int_equal(reply_autoclaim(&ac, arr(2, num(0), arr(0))),
	    ERR_INVALID);
	assert_int_equal(reply_autoclaim(&ac, arr(2, str("0-0"), str("x"))),
	    ERR_INVALID);
	/* A cursor that would not fit our cursor buffer whole. */
	assert_int_equal(
	    reply_autoclaim(&ac,
	        arr(2, str("1234567890123456789012345678901234567890123456789"),
	            arr(0))),
	    ERR_INVALID);
	assert_string_equal(ac.cursor, "untouched");
}

static void
test_message(void **state)
{
	const char *channel = NULL, *payload = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(reply_message(arr(3, str("message"), str("ch"),
	                                   str("{\"a\":1}")),
	                     &channel, &payload, &len),
	    1);
	assert_string_equal(channel, "ch");
	assert_string_equal(payload, "{\"a\":1}");
	assert_int_equal(len, 7);
	/* A subscribe confirmation: alive, no message. */
	assert_int_equal(reply_message(arr(3, str("subscribe"), str("ch"),
	                                   num(1)),
	                     &channel, &payload, &len),
	    0);
	assert_int_equal(reply_message(arr(3, str("message"), num(1), str("p")),
	                     &channel, &payload, &len),
	    0);
	assert_int_equal(reply_message(NULL, &channel, &payload, &len),
	    ERR_INVALID);
	assert_int_equal(reply_message(arr(2, str("message"), str("ch")),
	                     &channel, &payload, &len),
	    ERR_INVALID);
	assert_int_equal(reply_message(arr(3, num(1), str("ch"), str("p")),
	                     &channel, &payload, &len),
	    ERR_INVALID);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_entry_fields, teardown),
		cmocka_unit_test_teardown(test_entry_binary_value, teardown),
		cmocka_unit_test_teardown(test_entry_trimmed, teardown),
		cmocka_unit_test_teardown(test_entry_bad_shapes, teardown),
		cmocka_unit_test_teardown(test_pending_count, teardown),
		cmocka_unit_test_teardown(test_groups, teardown),
		cmocka_unit_test_teardown(test_entry_over_cap, teardown),
		cmocka_unit_test_teardown(test_stream, teardown),
		cmocka_unit_test_teardown(test_stream_bad_shapes, teardown),
		cmocka_unit_test_teardown(test_autoclaim, teardown),
		cmocka_unit_test_teardown(test_autoclaim_bad_shapes, teardown),
		cmocka_unit_test_teardown(test_message, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
