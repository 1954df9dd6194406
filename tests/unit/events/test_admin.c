/*
 * test_admin.c - the tools' range bounds (admin_point, admin_id_before)
 * and the dead-letter field list; the Redis operations themselves are
 * run against a real server by tests/integration/test_replay_dlq.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "events/admin.h"
#include "events/fields.h"

static void
ok(const char *in, bool end, const char *want)
{
	char out[ADMIN_ID_MAX];
	struct error err = { 0 };

	assert_int_equal(admin_point(out, in, end, &err), 0);
	assert_string_equal(out, want);
}

static void
bad(const char *in)
{
	char out[ADMIN_ID_MAX] = "untouched";
	struct error err = { 0 };

	assert_int_equal(admin_point(out, in, false, &err), ERR_INVALID);
	assert_string_equal(err.code, "USAGE");
	assert_true(err.msg[0] != '\0');
}

static void
test_points(void **state)
{
	(void)state;
	ok("-", false, "-");
	ok("+", true, "+");
	ok("1700000000000-7", false, "1700000000000-7");
	ok("1700000000000", false, "1700000000000-0");
	ok("1700000000000", true, "1700000000000-18446744073709551615");
	ok("2026-12-03", false, "1796256000000-0");
	ok("2024-02-29", false, "1709164800000-0");
	ok("2026-12-03T14:30:00Z", false, "1796308200000-0");
	ok("2026-12-03T14:30:00.250Z", false, "1796308200250-0");
	ok("2026-12-03T15:30:00+01:00", false, "1796308200000-0");
	ok("2026-12-03T14:30:00Z", true, "1796308200000-18446744073709551615");
	ok("18446744073709551615-18446744073709551615", false,
	    "18446744073709551615-18446744073709551615");
}

static void
test_bad_points(void **state)
{
	char longer[ADMIN_POINT_MAX + 2];

	(void)state;
	bad("");
	bad("yesterday");
	bad("2026-02-30");
	bad("2025-02-29");
	bad("2026-13-01");
	bad("2026-12-03T14:30:00"); /* no zone: ambiguous */
	bad("2026-12-03 ");
	bad("1969-12-31");
	bad("-5");
	bad("5-");
	bad("1-2-3");
	bad("18446744073709551616");
	bad("123456789012345678901");
	memset(longer, '1', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	bad(longer);
}

static void
test_before(void **state)
{
	char out[ADMIN_ID_MAX];

	(void)state;
	admin_id_before(out, "-");
	assert_string_equal(out, "0");
	admin_id_before(out, "0-0");
	assert_string_equal(out, "0");
	admin_id_before(out, "1700000000000-5");
	assert_string_equal(out, "1700000000000-4");
	admin_id_before(out, "1700000000000-0");
	assert_string_equal(out, "1699999999999-18446744073709551615");
}

static void
test_dead_fields(void **state)
{
	static const char *const names[] = FIELD_DEAD_NAMES;
	size_t i;

	(void)state;
	assert_int_equal(sizeof(names) / sizeof(names[0]), FIELD_DEAD_COUNT);
	for (i = 0; i < FIELD_DEAD_COUNT; i++)
		assert_true(admin_is_dead_field(names[i]));
	assert_false(admin_is_dead_field(FIELD_EVENT));
	assert_false(admin_is_dead_field(FIELD_EVENT_ID));
	assert_false(admin_is_dead_field(FIELD_REDRIVEN_FROM));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_points),
		cmocka_unit_test(test_bad_points),
		cmocka_unit_test(test_before),
		cmocka_unit_test(test_dead_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
