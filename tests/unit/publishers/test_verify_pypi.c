/*
 * test_verify_pypi.c - reading a simple index for one file's sha256
 * (publishers/verify_pypi.h): PEP 691 JSON, PEP 503 HTML with relative,
 * absolute and "../" links, a name that only ends like the file, a
 * missing or malformed hash, and the simple URL beside a JSON API base.
 * Also verify_deadline's settings (publishers/verify.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "publishers/verify.h"
#include "publishers/verify_pypi.h"

#define H1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define H2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define WHL "demo-1.0-py3-none-any.whl"

static int
parse(const char *body, bool json, const char *file, char out[65])
{
	return verify_pypi_simple_parse(body, strlen(body), json, file, out);
}

static void
test_json(void **state)
{
	const char *body =
	    "{\"meta\":{\"api-version\":\"1.0\"},\"name\":\"demo\","
	    "\"files\":[{\"filename\":\"x" WHL "\",\"hashes\":"
	    "{\"sha256\":\"" H2 "\"}},{\"filename\":\"" WHL
	    "\",\"url\":\"/f/" WHL "\",\"hashes\":{\"sha256\":"
	    "\"" H1 "\"}}]}";
	char out[65];

	(void)state;
	assert_int_equal(parse(body, true, WHL, out), 0);
	assert_string_equal(out, H1);
	assert_int_equal(parse(body, true, "demo-1.0.tar.gz", out),
	    ERR_NOTFOUND);
	assert_int_equal(parse("{\"files\":[{\"filename\":\"" WHL
	                       "\",\"hashes\":{\"sha256\":\"abc\"}}]}",
	                     true, WHL, out),
	    ERR_NOTFOUND);
	assert_int_equal(parse("not json", true, WHL, out), ERR_NOTFOUND);
}

static void
test_html(void **state)
{
	char out[65];

	(void)state;
	/* a longer name ending like ours comes first: not ours */
	assert_int_equal(parse("<a href=\"/files/x" WHL "#sha256=" H2
	                       "\">x</a>\n<a href=\"../../files/" WHL
	                       "#sha256=" H1 "\">" WHL "</a>",
	                     false, WHL, out),
	    0);
	assert_string_equal(out, H1);
	assert_int_equal(parse("<a href='https://files.example/a/b/" WHL
	                       "#sha256=" H2 "'>x</a>",
	                     false, WHL, out),
	    0);
	assert_string_equal(out, H2);
	assert_int_equal(parse("<a href=\"" WHL "#sha256=" H1 "\">", false, WHL,
	                     out),
	    0);
	/* no fragment, a short one, a longer one */
	assert_int_equal(parse("<a href=\"/files/" WHL "\">" WHL "</a>", false,
	                     WHL, out),
	    ERR_NOTFOUND);
	assert_int_equal(parse("<a href=\"/files/" WHL "#sha256=abc\">", false,
	                     WHL, out),
	    ERR_NOTFOUND);
	assert_int_equal(parse("<a href=\"/files/" WHL "#sha256=" H1 "0\">",
	                     false, WHL, out),
	    ERR_NOTFOUND);
	assert_int_equal(verify_pypi_simple_parse(NULL, 0, false, WHL, out),
	    ERR_NOTFOUND);
}

static void
test_simple_url(void **state)
{
	char *u;

	(void)state;
	u = verify_pypi_simple_url("https://pypi.org/pypi");
	assert_string_equal(u, "https://pypi.org/simple");
	free(u);
	u = verify_pypi_simple_url("http://127.0.0.1:8080/pypi/");
	assert_string_equal(u, "http://127.0.0.1:8080/simple");
	free(u);
	assert_null(verify_pypi_simple_url("https://example.org/api/json"));
	assert_null(verify_pypi_simple_url(NULL));
}

static void
test_deadline(void **state)
{
	static const char *const keys[] = { "verify_deadline", "verify" };
	const char *values[] = { "30", "true" };
	struct publish_env env = { 0 };
	struct publish_target t = { "t", "pypi", keys, values, 0, NULL };
	struct error err;
	long long d = -1;

	(void)state;
	assert_int_equal(verify_deadline(&d, &t, &err), 0);
	assert_int_equal(d, VERIFY_DEFAULT_DEADLINE_S);
	env.verify_deadline_s = 7;
	t.env = &env;
	assert_int_equal(verify_deadline(&d, &t, &err), 0);
	assert_int_equal(d, 7);
	t.n = 2;
	assert_int_equal(verify_deadline(&d, &t, &err), 0);
	assert_int_equal(d, 30);
	values[1] = "false";
	assert_int_equal(verify_deadline(&d, &t, &err), 0);
	assert_int_equal(d, 0);
	values[1] = "maybe";
	assert_int_equal(verify_deadline(&d, &t, &err), ERR_INVALID);
	values[1] = "true";
	values[0] = "3601";
	assert_int_equal(verify_deadline(&d, &t, &err), ERR_INVALID);
	assert_string_equal(err.code, "CONFIG");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_simple_url),
		cmocka_unit_test(test_deadline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
