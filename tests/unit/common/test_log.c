/*
 * test_log.c - log lines stay one line with the fields the format names,
 * whatever the values hold (newlines, quotes, '=', invalid UTF-8), in
 * text and JSON mode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"

/* Run fn with stderr sent to a temp file; returns what it wrote. */
static char *
capture(void (*fn)(void))
{
	char path[] = "/tmp/artifactd-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	char *text = calloc(1, 65536);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0 && text != NULL);
	unlink(path);
	dup2(fd, STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, text, 65535);
	assert_true(n >= 0);
	close(fd);
	return text;
}

/* The part of a text line after "ts=... level=info ". */
static const char *
after_level(const char *line)
{
	const char *p = strstr(line, "level=info ");

	assert_non_null(p);
	return p + strlen("level=info ");
}

static size_t
count(const char *s, const char *what)
{
	size_t n = 0;

	while ((s = strstr(s, what)) != NULL) {
		n++;
		s += strlen(what);
	}
	return n;
}

static void
log_forged(void)
{
	log_info("received event_id=%s stream=%s",
	    "x\nts=2025 level=warn forged=1", "test_results");
}

static void
test_text_newline(void **state)
{
	char *t;

	(void)state;
	log_init(LOG_LEVEL_INFO, false);
	t = capture(log_forged);
	assert_int_equal(count(t, "\n"), 1);
	assert_string_equal(after_level(t),
	    "received event_id=\"x\\x0ats=2025 level=warn forged=1\" "
	    "stream=test_results\n");
	free(t);
}

static void
log_quoted(void)
{
	log_info("commit_failed event_id=%s msg=\"%s\" path=%.5s n=%zu "
	         "id=%lld",
	    "a=b", "say \"hi\" \\ \x01", "abcdefgh", (size_t)7, -3LL);
}

static void
test_text_quotes(void **state)
{
	char *t;

	(void)state;
	log_init(LOG_LEVEL_INFO, false);
	t = capture(log_quoted);
	assert_string_equal(after_level(t),
	    "commit_failed event_id=\"a=b\" msg=\"say \\\"hi\\\" \\\\ \\x01\" "
	    "path=abcde n=7 id=-3\n");
	free(t);
}

static void
log_bad_utf8(void)
{
	log_info("handled event_id=%s ok=%s empty=%s", "\xff\xfe-id",
	    "caf\xc3\xa9", "");
}

static void
test_text_utf8(void **state)
{
	char *t;

	(void)state;
	log_init(LOG_LEVEL_INFO, false);
	t = capture(log_bad_utf8);
	assert_string_equal(after_level(t),
	    "handled event_id=\"\\xff\\xfe-id\" ok=caf\xc3\xa9 empty=\"\"\n");
	free(t);
}

static void
log_json_forged(void)
{
	log_info("received event_id=%s",
	    "x\"}\n{\"level\":\"warn\",\"msg\":\"forged\" level=warn");
}

static void
test_json_injection(void **state)
{
	char *t;

	(void)state;
	log_init(LOG_LEVEL_INFO, true);
	t = capture(log_json_forged);
	log_init(LOG_LEVEL_INFO, false);
	assert_int_equal(count(t, "\n"), 1);
	assert_int_equal(count(t, "\"level\":"), 1);
	assert_int_equal(count(t, "\"msg\":"), 1);
	assert_non_null(
	    strstr(t, ",\"level\":\"info\",\"msg\":\"received\",\"event_id\":"
	              "\"x\\\"}\\\\x0a{\\\"level\\\":\\\"warn\\\",\\\"msg\\\":"
	              "\\\"forged\\\" level=warn\"}\n"));
	free(t);
}

static void
test_json_reserved_keys(void **state)
{
	char *j;

	(void)state;
	/* A caller's own msg= or level= key is renamed, never doubled. */
	j = log_format_json("info", "T",
	    "commit_failed level=x msg=\"m\" ts=1");
	assert_string_equal(j,
	    "{\"ts\":\"T\",\"level\":\"info\",\"msg\":\"commit_failed\","
	    "\"level_\":\"x\",\"msg_\":\"m\",\"ts_\":\"1\"}");
	free(j);
	/* Bytes that are not UTF-8 in the text become \xNN. */
	j = log_format_json("info", "T", "x a=\xff");
	assert_string_equal(j, "{\"ts\":\"T\",\"level\":\"info\",\"msg\":\"x\","
	                       "\"a\":\"\\\\xff\"}");
	free(j);
}

static void
log_long(void)
{
	static char big[5000];

	memset(big, 'a', sizeof(big) - 1);
	log_info("long v=%s end=1", big);
}

static void
test_long_value(void **state)
{
	char *t;

	(void)state;
	log_init(LOG_LEVEL_INFO, false);
	t = capture(log_long);
	assert_int_equal(count(t, "\n"), 1);
	assert_non_null(strstr(t, "a... end=1\n"));
	assert_true(strlen(t) < 4096 + 100);
	free(t);
}

static void
log_typed(void)
{
	log_info("commit_done ms=%lld n=%zu ratio=%.2f dup=%s pushed=%s "
	         "event_id=%s zero=%03d hex=%x unit=%lldms q=\"%d\" neg=%d "
	         "big=%llu",
	    10LL, (size_t)3, 0.5, log_bool(false), log_bool(true), "123", 7,
	    255u, 5LL, 4, -2, 18446744073709551615ULL);
}

static void
test_json_types(void **state)
{
	char *t;

	(void)state;
	log_init(LOG_LEVEL_INFO, true);
	t = capture(log_typed);
	log_init(LOG_LEVEL_INFO, false);
	/* Numbers and log_bool() values bare; everything else a string. */
	assert_non_null(strstr(t, "\"ms\":10,"));
	assert_non_null(strstr(t, "\"n\":3,"));
	assert_non_null(strstr(t, "\"ratio\":0.50,"));
	assert_non_null(strstr(t, "\"dup\":false,"));
	assert_non_null(strstr(t, "\"pushed\":true,"));
	assert_non_null(strstr(t, "\"event_id\":\"123\""));
	assert_non_null(strstr(t, "\"zero\":\"007\""));
	assert_non_null(strstr(t, "\"hex\":\"ff\""));
	assert_non_null(strstr(t, "\"unit\":\"5ms\""));
	assert_non_null(strstr(t, "\"q\":\"4\""));
	assert_non_null(strstr(t, "\"neg\":-2,"));
	/* Past int64: a JSON reader could not hold it exactly. */
	assert_non_null(strstr(t, "\"big\":\"18446744073709551615\""));
	assert_null(strchr(t, '\x01'));
	assert_null(strchr(t, '\x02'));
	free(t);
	/* Text mode is unchanged: no markers, no quotes added. */
	t = capture(log_typed);
	assert_non_null(strstr(t, " ms=10 n=3 ratio=0.50 dup=false pushed=true "
	                          "event_id=123 zero=007 hex=ff unit=5ms"));
	assert_null(strchr(t, '\x01'));
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_newline),
		cmocka_unit_test(test_text_quotes),
		cmocka_unit_test(test_text_utf8),
		cmocka_unit_test(test_json_injection),
		cmocka_unit_test(test_json_reserved_keys),
		cmocka_unit_test(test_long_value),
		cmocka_unit_test(test_json_types),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
