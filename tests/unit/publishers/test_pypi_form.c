/*
 * test_pypi_form.c - the pure parts of the PyPI upload and the HTTP layer:
 * the form fields built from METADATA (names, order, repeated fields,
 * left-out values), the multipart framing byte for byte, twine's safe
 * name, the JSON API URL for an upload URL, the loopback rule for plain
 * http, escaping, Basic auth, response header lookup and the
 * classification of statuses. No network; one small temporary file for
 * the file part.
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
#include "publishers/http.h"
#include "publishers/pypi.h"

static const char metadata[] = "Metadata-Version: 2.1\n"
                               "Name: My.Pkg_Name\n"
                               "Version: 1.2.3\n"
                               "Summary: A demo\n"
                               "Home-page: UNKNOWN\n"
                               "Author-email: Jane <jane@example.com>\n"
                               "License-File: LICENSE\n"
                               "Classifier: A :: B\n"
                               "Classifier: C :: D\n"
                               "Requires-Dist: requests>=2\n"
                               "Provides-Extra: dev\n"
                               "Project-URL: Homepage, https://example.com\n"
                               "Keywords: a,b\n"
                               "Description-Content-Type: text/markdown\n"
                               "\n"
                               "Body text\n";

static void
test_form_fields(void **state)
{
	struct dist_meta *m = NULL;
	struct dist_filename fn;
	struct http_form f;
	struct error err;
	static const char *const want[][2] = {
		{ "metadata_version", "2.1" },
		{ "name", "My.Pkg-Name" },
		{ "version", "1.2.3" },
		{ "summary", "A demo" },
		{ "description", "Body text\n" },
		{ "description_content_type", "text/markdown" },
		{ "keywords", "a,b" },
		{ "author_email", "Jane <jane@example.com>" },
		{ "classifiers", "A :: B" },
		{ "classifiers", "C :: D" },
		{ "requires_dist", "requests>=2" },
		{ "project_urls", "Homepage, https://example.com" },
		{ "provides_extra", "dev" },
		{ "pyversion", "py3" },
		{ "filetype", "bdist_wheel" },
		{ "sha256_digest", "aa" },
		{ "blake2_256_digest", "bb" },
		{ ":action", "file_upload" },
		{ "protocol_version", "1" },
	};
	size_t i;

	(void)state;
	assert_int_equal(dist_meta_parse(&m, metadata, strlen(metadata), &err),
	    0);
	assert_int_equal(dist_parse_filename(&fn,
	                     "my_pkg_name-1.2.3-py3-none-any.whl", &err),
	    0);
	http_form_init(&f);
	assert_int_equal(pypi_form_build(&f, &fn, m, "aa", "bb", &err), 0);
	/* Home-page UNKNOWN is left out (Warehouse deletes it), License-File
	 * needs Metadata-Version 2.4. */
	for (i = 0; i < f.n && i < sizeof(want) / sizeof(want[0]); i++) {
		assert_string_equal(f.names[i], want[i][0]);
		assert_string_equal(f.values[i], want[i][1]);
	}
	assert_int_equal(f.n, sizeof(want) / sizeof(want[0]));
	assert_null(http_form_get(&f, "home_page"));
	assert_null(http_form_get(&f, "license_file"));
	http_form_dispose(&f);

	/* An sdist: pyversion "source", filetype sdist. */
	assert_int_equal(dist_parse_filename(&fn, "my_pkg_name-1.2.3.tar.gz",
	                     &err),
	    0);
	http_form_init(&f);
	assert_int_equal(pypi_form_build(&f, &fn, m, "aa", "bb", &err), 0);
	assert_string_equal(http_form_get(&f, "pyversion"), "source");
	assert_string_equal(http_form_get(&f, "filetype"), "sdist");
	http_form_dispose(&f);

	/* Not a distribution. */
	assert_int_equal(dist_parse_filename(&fn, "notes.txt", &err), 0);
	http_form_init(&f);
	assert_int_equal(pypi_form_build(&f, &fn, m, "aa", "bb", &err),
	    ERR_INVALID);
	http_form_dispose(&f);
	dist_meta_free(m);
}

static void
test_license_file_24(void **state)
{
	static const char md[] =
	    "Metadata-Version: 2.4\nName: p\nVersion: 1\n"
	    "License-Expression: MIT\n"
	    "License-File: LICENSE\nLicense-File: NOTICE\n";
	struct dist_meta *m = NULL;
	struct dist_filename fn;
	struct http_form f;
	size_t i, n = 0;

	(void)state;
	assert_int_equal(dist_meta_parse(&m, md, strlen(md), NULL), 0);
	assert_int_equal(dist_parse_filename(&fn, "p-1-py3-none-any.whl", NULL),
	    0);
	http_form_init(&f);
	assert_int_equal(pypi_form_build(&f, &fn, m, "aa", "bb", NULL), 0);
	for (i = 0; i < f.n; i++)
		if (strcmp(f.names[i], "license_file") == 0)
			n++;
	assert_int_equal(n, 2);
	assert_string_equal(http_form_get(&f, "license_expression"), "MIT");
	http_form_dispose(&f);
	dist_meta_free(m);
}

static void
test_multipart_bytes(void **state)
{
	char path[] = "/tmp/test_pypi_form_XXXXXX", ctype[128];
	struct http_form f;
	struct http_body body;
	struct buf out;
	struct error err;
	int fd;
	static const char want[] =
	    "--BND\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n"
	    "pkg\r\n"
	    "--BND\r\nContent-Disposition: form-data; name=\"description\""
	    "\r\n\r\nline 1\nline 2\r\n"
	    "--BND\r\nContent-Disposition: form-data; name=\"content\"; "
	    "filename=\"pkg-1.tar.gz\"\r\nContent-Type: "
	    "application/octet-stream\r\n\r\nFILEDATA\r\n--BND--\r\n";

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, "FILEDATA", 8), 8);
	http_form_init(&f);
	http_form_add(&f, "name", "pkg");
	http_form_add(&f, "description", "line 1\nline 2");
	http_body_init(&body);
	assert_int_equal(http_form_body(&body, ctype, sizeof(ctype), &f, "BND",
	                     "content", "pkg-1.tar.gz",
	                     "application/octet-stream", fd, 8, &err),
	    0);
	assert_string_equal(ctype, "multipart/form-data; boundary=BND");
	assert_int_equal(body.size, strlen(want));
	buf_init(&out, 4096);
	assert_int_equal(http_body_render(&body, &out, &err), 0);
	assert_int_equal(out.len, strlen(want));
	assert_memory_equal(out.data, want, out.len);
	buf_dispose(&out);
	http_body_dispose(&body);

	/* A value holding the boundary, or a quote in the file name, would
	 * break the framing: refused. */
	http_form_add(&f, "summary", "x--BNDy");
	http_body_init(&body);
	assert_int_equal(http_form_body(&body, ctype, sizeof(ctype), &f, "BND",
	                     "content", "p.tar.gz", "a/b", fd, 8, &err),
	    ERR_INVALID);
	http_body_dispose(&body);
	http_form_dispose(&f);
	http_form_init(&f);
	http_body_init(&body);
	assert_int_equal(http_form_body(&body, ctype, sizeof(ctype), &f, NULL,
	                     "content", "p\".tar.gz", "a/b", fd, 8, &err),
	    ERR_INVALID);
	http_body_dispose(&body);
	http_form_dispose(&f);

	/* A file that shrank after hashing is an error, not a short body. */
	http_body_init(&body);
	http_body_add_file(&body, fd, 0, 100);
	buf_init(&out, 4096);
	assert_int_equal(http_body_render(&body, &out, &err), ERR_FAIL);
	buf_dispose(&out);
	http_body_dispose(&body);
	close(fd);
	unlink(path);
}

static void
test_names_and_urls(void **state)
{
	char out[64], *s;

	(void)state;
	pypi_safe_name(out, sizeof(out), "My.Pkg_Name");
	assert_string_equal(out, "My.Pkg-Name");
	pypi_safe_name(out, sizeof(out), "a__b--c");
	assert_string_equal(out, "a-b-c");

	s = pypi_json_url_for("https://upload.pypi.org/legacy/");
	assert_string_equal(s, "https://pypi.org/pypi");
	free(s);
	s = pypi_json_url_for("https://test.pypi.org/legacy/");
	assert_string_equal(s, "https://test.pypi.org/pypi");
	free(s);
	s = pypi_json_url_for("http://127.0.0.1:8080/legacy/");
	assert_string_equal(s, "http://127.0.0.1:8080/pypi");
	free(s);
	assert_null(pypi_json_url_for("https://x.example/api/pypi/repo"));

	assert_true(http_url_allowed("https://upload.pypi.org/legacy/"));
	assert_true(http_url_allowed("http://127.0.0.1:1234/x"));
	assert_true(http_url_allowed("http://127.3.4.5/x"));
	assert_true(http_url_allowed("http://localhost:80/"));
	assert_true(http_url_allowed("http://[::1]:8080/"));
	assert_false(http_url_allowed("http://192.0.2.1/"));
	assert_false(http_url_allowed("http://128.0.0.1/"));
	assert_false(http_url_allowed("http://127.0.0.1.evil.example/"));
	assert_false(http_url_allowed("ftp://127.0.0.1/"));
	assert_false(http_url_allowed("file:///etc/passwd"));
	assert_false(http_url_allowed("not a url"));

	s = http_escape("a b+c/d~e", false);
	assert_string_equal(s, "a%20b%2Bc%2Fd~e");
	free(s);
	s = http_escape("a b/c", true);
	assert_string_equal(s, "a%20b/c");
	free(s);
	s = http_basic_auth_header("__token__", "pypi-FAKE");
	assert_string_equal(s,
	    "Authorization: Basic X190b2tlbl9fOnB5cGktRkFLRQ==");
	free(s);
	assert_non_null(strstr(http_user_agent(), "artifactd/"));
}

static void
test_response(void **state)
{
	struct http_response r;
	struct error err;
	char *v;

	(void)state;
	http_response_init(&r);
	buf_puts(&r.headers, "Content-Type: text/plain\r\n"
	                     "Retry-After:  7 \r\nETag: \"abc\"\r\n");
	v = http_response_header(&r, "retry-after");
	assert_string_equal(v, "7");
	free(v);
	v = http_response_header(&r, "ETag");
	assert_string_equal(v, "\"abc\"");
	free(v);
	assert_null(http_response_header(&r, "Location"));
	assert_null(http_response_header(&r, "Content"));

	r.status = 403;
	snprintf(r.reason, sizeof(r.reason), "%s",
	    "Invalid or non-existent authentication information.");
	assert_int_equal(http_status_error(&r, "pypi", &err), ERR_FAIL);
	assert_string_equal(err.code, "AUTH");
	assert_non_null(strstr(err.msg, "non-existent authentication"));
	r.status = 409;
	assert_int_equal(http_status_error(&r, "x", &err), ERR_CONFLICT);
	assert_string_equal(err.code, "CONFLICT");
	r.status = 503;
	assert_int_equal(http_status_error(&r, "x", &err), ERR_TRANSIENT);
	r.status = 429;
	assert_int_equal(http_status_error(&r, "x", &err), ERR_TRANSIENT);
	r.status = 400;
	buf_puts(&r.body, "bad\x01\nthing");
	assert_int_equal(http_status_error(&r, "x", &err), ERR_FAIL);
	assert_string_equal(err.code, "HTTP");
	assert_non_null(strstr(err.msg, "bad  thing"));
	http_response_dispose(&r);
}

static void
test_refused_url_sends_nothing(void **state)
{
	struct http_response r;
	struct http_request req = { 0 };
	struct error err;

	(void)state;
	http_response_init(&r);
	req.method = "GET";
	req.url = "http://user:pw@192.0.2.1/x";
	assert_int_equal(http_request(&r, &req, &err), ERR_INVALID);
	assert_string_equal(err.code, "INVALID_TARGET");
	assert_null(strstr(err.msg, "pw@")); /* the URL is redacted */
	assert_int_equal(r.attempts, 0);
	http_response_dispose(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form_fields),
		cmocka_unit_test(test_license_file_24),
		cmocka_unit_test(test_multipart_bytes),
		cmocka_unit_test(test_names_and_urls),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_refused_url_sends_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
