/*
 * test_common.c - buffers, digests, time, ids, masking, base64, log JSON.
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

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/utf8.h"
#include "common/util.h"
#include "common/xalloc.h"

static void
test_buf_limit(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 10);
	assert_int_equal(buf_puts(&b, "12345"), 0);
	assert_int_equal(buf_printf(&b, "%d", 6789), 0);
	assert_string_equal(b.data, "123456789");
	assert_int_equal(buf_puts(&b, "ab"), ERR_INVALID);
	assert_string_equal(b.data, "123456789"); /* unchanged */
	assert_int_equal(buf_puts(&b, "a"), 0);
	assert_int_equal(b.len, 10);
	buf_dispose(&b);
}

static void
test_sha256(void **state)
{
	char hex[UTIL_SHA256_HEX];

	(void)state;
	util_sha256_hex(hex, "abc", 3);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396"
	                         "177a9cb410ff61f20015ad");
}

static void
test_iso8601(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(util_parse_iso8601(&ms, "1970-01-01T00:00:00Z"), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(util_parse_iso8601(&ms, "2025-11-07T14:30:00Z"), 0);
	assert_int_equal(ms, 1762525800000LL);
	assert_int_equal(util_parse_iso8601(&ms,
	                     "2025-11-07T15:30:00.250+01:00"),
	    0);
	assert_int_equal(ms, 1762525800250LL);
	assert_int_equal(util_parse_iso8601(&ms, "2025-11-07"), ERR_INVALID);
	assert_int_equal(util_parse_iso8601(&ms, "2025-13-07T00:00:00Z"),
	    ERR_INVALID);
	assert_int_equal(util_parse_iso8601(&ms, "2025-11-07T00:00:00Zjunk"),
	    ERR_INVALID);
}

static void
test_ids(void **state)
{
	(void)state;
	assert_true(util_id_valid("task_coder_001"));
	assert_true(util_id_valid("wf.rsi-1"));
	assert_false(util_id_valid("../x"));
	assert_false(util_id_valid("a/b"));
	assert_false(util_id_valid(".x"));
	assert_false(util_id_valid("-x"));
	assert_false(util_id_valid("a..b"));
	assert_false(util_id_valid("x.lock"));
	assert_false(util_id_valid(""));
	assert_false(util_id_valid(NULL));
	assert_false(util_id_valid("a b"));
	/* git refuses a ref component ending in '.' */
	assert_false(util_id_valid("task."));
	assert_true(util_id_valid("a.b"));
}

static void
test_utf8(void **state)
{
	struct error err = { 0 };

	(void)state;
	assert_true(utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	    strlen("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")));
	assert_false(utf8_valid("\xff\xfe", 2));
	assert_false(utf8_valid("\xc3", 1));             /* cut short */
	assert_false(utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
	assert_false(utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
	assert_false(utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(utf8_valid("\x80", 1));
	assert_true(utf8_valid("a\0b", 3));
	assert_true(utf8_text_valid("id-1 \xc3\xa9", 7));
	assert_false(utf8_text_valid("a\0b", 3));
	assert_false(utf8_text_valid("a\nb", 3));
	assert_false(utf8_text_valid("a\x7f", 2));
	assert_false(utf8_text_valid("\xff", 1));
	/* error_set keeps messages UTF-8: bad bytes and a character cut by
	 * a precision become '?'. */
	error_set(&err, ERR_INVALID, NULL, "id %s cut %.3s", "\xff\xfe",
	    "ab\xc3\xa9");
	assert_string_equal(err.msg, "id ?? cut ab?");
	assert_true(utf8_valid(err.msg, strlen(err.msg)));
}

static void
test_redact(void **state)
{
	char *s;

	(void)state;
	s = util_redact_url("redis://user:hunter2@host:6379/0");
	assert_string_equal(s, "redis://user:***@host:6379/0");
	free(s);
	s = util_redact_url("https://ghp_token@github.com/o/r.git");
	assert_string_equal(s, "https://***@github.com/o/r.git");
	free(s);
	s = util_redact_url("redis://127.0.0.1:6379/0");
	assert_string_equal(s, "redis://127.0.0.1:6379/0");
	free(s);
	s = util_redact_url("/path/with@sign");
	assert_string_equal(s, "/path/with@sign");
	free(s);
}

static void
test_base64(void **state)
{
	char *enc, *dec;
	size_t n;

	(void)state;
	enc = util_base64_encode("any carnal pleas", 16);
	assert_string_equal(enc, "YW55IGNhcm5hbCBwbGVhcw==");
	assert_int_equal(util_base64_decode(&dec, &n, enc, strlen(enc)), 0);
	assert_int_equal(n, 16);
	assert_memory_equal(dec, "any carnal pleas", 16);
	free(dec);
	free(enc);
	assert_int_equal(util_base64_decode(&dec, &n, "a$b=", 4), ERR_INVALID);
	assert_int_equal(util_base64_decode(&dec, &n, "YQ==YQ", 6),
	    ERR_INVALID);
}

static void
test_log_json(void **state)
{
	char *j;

	(void)state;
	j = log_format_json("info", "T",
	    "commit_done branch=ai/x msg=\"a \\\"quoted\\\" b\" n=3");
	/* The caller's msg= does not double our "msg"; the \" escapes of a
	 * quoted value are undone before JSON escaping. */
	assert_string_equal(j,
	    "{\"ts\":\"T\",\"level\":\"info\",\"msg\":\"commit_done\","
	    "\"branch\":\"ai/x\",\"msg_\":\"a \\\"quoted\\\" b\","
	    "\"n\":\"3\"}");
	free(j);
}

static void
test_read_file_limits(void **state)
{
	char path[] = "/tmp/artifactd-test-XXXXXX", *data = NULL;
	struct error err = { 0 };
	size_t len = 0;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello", 5), 5);
	close(fd);
	assert_int_equal(util_read_file(&data, &len, path, 5, &err), 0);
	assert_int_equal(len, 5);
	assert_string_equal(data, "hello");
	free(data);
	assert_int_equal(util_read_file(&data, &len, path, 4, &err),
	    ERR_INVALID);
	assert_string_equal(err.code, "TOO_LARGE");
	assert_int_equal(util_read_file(&data, &len, "/tmp", 4, &err),
	    ERR_INVALID);
	assert_string_equal(err.code, "PATH_REJECTED");
	unlink(path);
	assert_int_equal(util_read_file(&data, &len, path, 4, &err),
	    ERR_NOTFOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_limit),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_iso8601),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_log_json),
		cmocka_unit_test(test_read_file_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
