/*
 * test_bus.c - the pure parts of the bus's public header: message field
 * lookup and the dead-letter stream's name. The reply parsers have their
 * own test (test_reply.c); the transport is tested against a real Redis
 * by the integration tests (test_bus_*).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "events/bus.h"

static void
test_msg_field(void **state)
{
	char n1[] = "event", v1[] = "{}", n2[] = "event_id", v2[] = "e1";
	struct bus_field fields[] = {
		{ .name = n1, .value = v1, .value_len = 2 },
		{ .name = n2, .value = v2, .value_len = 2 }
	};
	struct bus_msg m = { .fields = fields, .nfields = 2 };
	size_t len = 0;

	(void)state;
	assert_string_equal(bus_msg_field(&m, "event", &len), "{}");
	assert_int_equal(len, 2);
	assert_string_equal(bus_msg_field(&m, "event_id", NULL), "e1");
	assert_null(bus_msg_field(&m, "missing", NULL));
	bus_msg_free(NULL);
}

static void
test_dead_stream(void **state)
{
	char *s = bus_dead_stream("test_results");

	(void)state;
	assert_string_equal(s, "test_results:dead");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_field),
		cmocka_unit_test(test_dead_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
