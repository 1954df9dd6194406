/*
 * test_redact.c - the one redaction of credentials: URLs with hostile
 * passwords, URLs inside free text, query tokens and registered secrets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/redact.h"
#include "common/util.h"

static void
check(const char *in, const char *want)
{
	char *s = redact_text(in);

	assert_string_equal(s, want);
	free(s);
}

static int
reset(void **state)
{
	(void)state;
	redact_secret_reset();
	return 0;
}

static void
test_plain_urls(void **state)
{
	(void)state;
	check("redis://user:hunter2@host:6379/0",
	    "redis://user:***@host:6379/0");
	check("redis://:hunter2@host:6379/0", "redis://:***@host:6379/0");
	check("https://ghp_token@github.com/o/r.git",
	    "https://***@github.com/o/r.git");
	check("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0");
	check("/path/with@sign", "/path/with@sign");
	check("", "");
	assert_null(redact_text(NULL));
}

/* The red team's case: a '/' in the password ended the old masking at
 * the '/', so "p/w" stayed. */
static void
test_hostile_passwords(void **state)
{
	(void)state;
	check("http://u:p/w@127.0.0.1:99999/repo.git",
	    "http://u:***@127.0.0.1:99999/repo.git");
	check("http://u:p@w@host/x", "http://u:***@host/x");
	check("http://u:p:w@host/x", "http://u:***@host/x");
	check("http://u:p%40w%2F@host/x", "http://u:***@host/x");
	check("http://tok/en@host/x", "http://***@host/x");
	check("http://u:a/b/c:d@e@host:8080/x?y=1",
	    "http://u:***@host:8080/x?y=1");
}

static void
test_urls_in_text(void **state)
{
	(void)state;
	/* libgit2's own words. */
	check("malformed URL 'http://u:p/w@127.0.0.1:99999/repo.git'",
	    "malformed URL 'http://u:***@127.0.0.1:99999/repo.git'");
	check("push to \"https://a:b@h1/x\" then git://c:d@h2/y and "
	      "ssh://git@h3/z done",
	    "push to \"https://a:***@h1/x\" then git://c:***@h2/y and "
	    "ssh://***@h3/z done");
	check("url=<http://x:y@h/>", "url=<http://x:***@h/>");
	check("a\thttp://x:y@h\nb", "a\thttp://x:***@h\nb");
}

/* scp-like remotes name a user, not a credential. */
static void
test_ssh_style_not_credential(void **state)
{
	(void)state;
	check("git@github.com:o/r.git", "git@github.com:o/r.git");
	check("push git@host:repo.git failed: user@example.com",
	    "push git@host:repo.git failed: user@example.com");
}

static void
test_query_tokens(void **state)
{
	(void)state;
	check("https://h/x?token=abc&y=1", "https://h/x?token=***&y=1");
	check("GET /o?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA%2F1 "
	      "HTTP/1.1",
	    "GET /o?X-Amz-Signature=***&X-Amz-Credential=*** HTTP/1.1");
	check("https://h/x?tokens=1", "https://h/x?tokens=1");
	check("https://h/x?token=", "https://h/x?token=");
}

static void
test_registered_secrets(void **state)
{
	(void)state;
	redact_secret_add("s3cr3t-value");
	redact_secret_add("abc"); /* too short for free text */
	check("auth failed for s3cr3t-value (s3cr3t-value)",
	    "auth failed for *** (***)");
	check("abc", "abc");
	/* The longest registered value wins over its prefix. */
	redact_secret_add("s3cr3t-value-longer");
	check("x s3cr3t-value-longer y", "x *** y");
	/* The user part kept in a URL is still scanned. */
	check("https://s3cr3t-value:x-oauth-basic@h/", "https://***:***@h/");
}

/* A password with a blank cannot be delimited in text: registering the
 * URL catches it, as written and percent-decoded. */
static void
test_secret_from_url(void **state)
{
	(void)state;
	redact_secret_url("http://u:pa%20ss%2Fword@host/x");
	check("bad url 'http://u:pa ss/word@host/x'",
	    "bad url 'http://u:***@host/x'");
	check("password pa ss/word and pa%20ss%2Fword", "password *** and ***");
	redact_secret_url("https://tok3n-only@host/x");
	check("echo tok3n-only", "echo ***");
	redact_secret_url("redis://127.0.0.1:6379/0"); /* nothing */
	check("127.0.0.1", "127.0.0.1");
}

static void
test_redact_buf_truncates(void **state)
{
	char b[24] = "x http://u:p@h/ y";

	(void)state;
	redact_buf(b, sizeof(b));
	assert_string_equal(b, "x http://u:***@h/ y");
	memcpy(b, "http://ab@cdefghijklm", 22);
	redact_buf(b, 12);
	assert_string_equal(b, "http://***@");
}

static void
test_util_redact_url_same(void **state)
{
	char *s = util_redact_url("http://u:p/w@h/x");

	(void)state;
	assert_string_equal(s, "http://u:***@h/x");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_plain_urls, reset),
		cmocka_unit_test_setup(test_hostile_passwords, reset),
		cmocka_unit_test_setup(test_urls_in_text, reset),
		cmocka_unit_test_setup(test_ssh_style_not_credential, reset),
		cmocka_unit_test_setup(test_query_tokens, reset),
		cmocka_unit_test_setup(test_registered_secrets, reset),
		cmocka_unit_test_setup(test_secret_from_url, reset),
		cmocka_unit_test_setup(test_redact_buf_truncates, reset),
		cmocka_unit_test_setup(test_util_redact_url_same, reset),
	};

	return cmocka_run_group_tests(tests, NULL, reset);
}
