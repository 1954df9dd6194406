/*
 * test_progress.c - what a progress line shows (file, target, bytes of
 * total, rate, time left), that a control byte in a name never reaches the
 * terminal, and when a transfer reports at all (a name set, mode not off,
 * a body to send).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "publishers/progress.h"

static void
test_line(void **state)
{
	struct progress p = { 0 };
	char line[512];

	(void)state;
	p.on = true;
	snprintf(p.file, sizeof(p.file), "%s", "w-1.0-py3-none-any.whl");
	snprintf(p.target, sizeof(p.target), "%s", "pypi");
	p.total = 4 * 1048576;
	p.sent = 1048576;
	p.start_ms = 0;
	progress_format(line, sizeof(line), &p, 2000); /* 2 s: 512 KiB/s */
	assert_string_equal(line, "w-1.0-py3-none-any.whl -> pypi  1.0 MiB / "
	                          "4.0 MiB  512.0 KiB/s  0:06 left");
	p.sent = 0;
	progress_format(line, sizeof(line), &p, 0); /* no rate yet */
	assert_string_equal(line,
	    "w-1.0-py3-none-any.whl -> pypi  0 B / 4.0 MiB  0 B/s");
}

static void
test_attach(void **state)
{
	CURL *c = curl_easy_init();
	struct progress p;

	(void)state;
	assert_non_null(c);
	progress_mode_set(PROGRESS_LOG);
	progress_name_set(NULL, NULL);
	assert_false(progress_attach(&p, c, 10)); /* no name: nothing */
	progress_name_set("art", "a\x1b[2Jb\x7f.txt");
	assert_true(progress_attach(&p, c, 10));
	assert_string_equal(p.file, "a?[2Jb?.txt"); /* never an escape */
	assert_string_equal(p.target, "art");
	assert_int_equal(p.total, 10);
	progress_mode_set(PROGRESS_OFF);
	assert_false(progress_attach(&p, c, 10));
	progress_mode_set(PROGRESS_LOG);
	progress_name_set(NULL, NULL);
	curl_easy_cleanup(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line),
		cmocka_unit_test(test_attach),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
