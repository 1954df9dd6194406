/*
 * test_dist.c - the pure parts of dist.c and digest.c: distribution file
 * names (PEP 427 / PEP 625), PEP 503 names, PEP 440 normalization, the
 * METADATA parser, the checks of a distribution against its tag, and
 * BLAKE2b-256 (RFC 7693) against known values. No I/O.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "publishers/digest.h"
#include "publishers/dist.h"

static void
test_wheel_names(void **state)
{
	struct dist_filename fn;
	struct error err;

	(void)state;
	assert_int_equal(dist_parse_filename(&fn,
	                     "open_ticket_ai-1.2.3-py3-none-any.whl", &err),
	    0);
	assert_int_equal(fn.kind, DIST_WHEEL);
	assert_string_equal(fn.name, "open_ticket_ai");
	assert_string_equal(fn.version, "1.2.3");
	assert_string_equal(fn.python_tag, "py3");
	assert_string_equal(fn.abi_tag, "none");
	assert_string_equal(fn.platform_tag, "any");
	assert_string_equal(fn.build, "");

	assert_int_equal(dist_parse_filename(&fn,
	                     "pkg-2.0-1build-cp312-cp312-manylinux_2_17_x86_64."
	                     "manylinux2014_x86_64.whl",
	                     &err),
	    0);
	assert_string_equal(fn.build, "1build");
	assert_string_equal(fn.platform_tag,
	    "manylinux_2_17_x86_64.manylinux2014_x86_64");

	assert_int_equal(dist_parse_filename(&fn, "pkg-1.0-py3-any.whl", &err),
	    ERR_INVALID);
	assert_string_equal(err.code, "INVALID_DIST");
	assert_int_equal(dist_parse_filename(&fn, "pkg-1.0-x1-py3-none-any.whl",
	                     &err),
	    ERR_INVALID); /* build tag must start with a digit */
	assert_int_equal(dist_parse_filename(&fn, "../evil-1.0.tar.gz", &err),
	    ERR_INVALID);
	assert_int_equal(dist_parse_filename(&fn, "bad\nname-1.0.tar.gz", &err),
	    ERR_INVALID);
}

static void
test_sdist_and_other_names(void **state)
{
	struct dist_filename fn;
	struct error err;

	(void)state;
	assert_int_equal(dist_parse_filename(&fn, "my_pkg-1.0.0rc1.tar.gz",
	                     &err),
	    0);
	assert_int_equal(fn.kind, DIST_SDIST);
	assert_string_equal(fn.name, "my_pkg");
	assert_string_equal(fn.version, "1.0.0rc1");
	assert_string_equal(fn.ext, ".tar.gz");
	/* legacy names keep '-' in the project: the version is last */
	assert_int_equal(dist_parse_filename(&fn, "my-legacy-pkg-2.1.tar.gz",
	                     &err),
	    0);
	assert_int_equal(fn.kind, DIST_SDIST);
	assert_string_equal(fn.name, "my-legacy-pkg");
	assert_string_equal(fn.version, "2.1");
	assert_int_equal(dist_parse_filename(&fn, "SHA256SUMS", &err), 0);
	assert_int_equal(fn.kind, DIST_OTHER);
}

/* Issue 12: every file that is not a wheel or an sdist is a plain asset,
 * never an INVALID_DIST (the ZIP bundle failed the whole release). */
static void
test_plain_assets(void **state)
{
	static const char *const assets[] = {
		"PowerTrader_AI_Desktop_v1.2.3.zip", /* artifactd bundle */
		"my-legacy-pkg-2.1.zip", /* ZIP: never an sdist (PEP 625) */
		"notes.tar.gz",          /* no version */
		"docs-html.tar.gz",      /* "html" is not a version */
		"tool-1.2.3-linux-amd64.tar.gz", /* version not last */
		"pkg-1.0.0-rc1.tar.gz", /* "rc1" alone is not a version */
		"-1.0.tar.gz",          /* no name */
		"RELEASE_NOTES.md",
		"app.exe",
		NULL,
	};
	struct dist_filename fn;
	struct error err;
	int i;

	(void)state;
	for (i = 0; assets[i] != NULL; i++) {
		error_clear(&err);
		assert_int_equal(dist_parse_filename(&fn, assets[i], &err), 0);
		assert_int_equal(fn.kind, DIST_OTHER);
		assert_string_equal(fn.ext, "");
	}
	/* a path separator is still refused, whatever the suffix */
	assert_int_equal(dist_parse_filename(&fn, "../x.zip", &err),
	    ERR_INVALID);
	/* and a tarball named like an sdist is one (its PKG-INFO is
	 * checked) */
	assert_int_equal(dist_parse_filename(&fn, "tool-1.2.3.tar.gz", &err),
	    0);
	assert_int_equal(fn.kind, DIST_SDIST);
}

static void
test_names(void **state)
{
	char out[64];

	(void)state;
	dist_normalize_name(out, sizeof(out), "My.Pkg__Name");
	assert_string_equal(out, "my-pkg-name");
	dist_normalize_name(out, sizeof(out), "Open-Ticket.AI");
	assert_string_equal(out, "open-ticket-ai");
	dist_normalize_name(out, sizeof(out), "a-_.-b");
	assert_string_equal(out, "a-b");
	assert_true(dist_name_valid("My.Pkg_Name"));
	assert_true(dist_name_valid("a"));
	assert_false(dist_name_valid("-a"));
	assert_false(dist_name_valid("a."));
	assert_false(dist_name_valid("a b"));
	assert_false(dist_name_valid(""));
}

static void
check_version(const char *in, const char *want, bool local)
{
	char out[128];
	bool has_local = !local;

	assert_int_equal(dist_version_normalize(out, sizeof(out), in,
	                     &has_local),
	    0);
	assert_string_equal(out, want);
	assert_true(has_local == local);
}

static void
test_versions(void **state)
{
	char out[128];

	(void)state;
	check_version("1.2.3", "1.2.3", false);
	check_version("v1.0", "1.0", false);
	check_version("1.0.0-RC1", "1.0.0rc1", false);
	check_version("1.0a", "1.0a0", false);
	check_version("1.0.alpha.2", "1.0a2", false);
	check_version("1.0-preview3", "1.0rc3", false);
	check_version("1.0c1", "1.0rc1", false);
	check_version("1.0-1", "1.0.post1", false);
	check_version("1.0.post", "1.0.post0", false);
	check_version("1.0rev2", "1.0.post2", false);
	check_version("1.0.dev", "1.0.dev0", false);
	check_version("2!01.002.0003", "2!1.2.3", false);
	check_version("0!1.0", "1.0", false);
	check_version("1.2.4.dev4+g43b08e5", "1.2.4.dev4+g43b08e5", true);
	check_version("1.0+Ubuntu-1_2", "1.0+ubuntu.1.2", true);
	check_version(" 1.0 ", "1.0", false);
	assert_int_equal(dist_version_normalize(out, sizeof(out), "1.0+", NULL),
	    ERR_INVALID);
	assert_int_equal(dist_version_normalize(out, sizeof(out), "one", NULL),
	    ERR_INVALID);
	assert_int_equal(dist_version_normalize(out, sizeof(out), "1.0.x",
	                     NULL),
	    ERR_INVALID);
	assert_int_equal(dist_version_normalize(out, sizeof(out), "", NULL),
	    ERR_INVALID);
	assert_int_equal(dist_version_normalize(out, sizeof(out), "1..0", NULL),
	    ERR_INVALID);
}

static const char metadata[] = "Metadata-Version: 2.1\r\n"
                               "Name: My.Pkg_Name\n"
                               "Version: 1.2.3\n"
                               "Summary: A demo\n"
                               "Classifier: A :: B\n"
                               "Classifier: C :: D\n"
                               "License: line one\n"
                               "        line two\n"
                               "\n"
                               "# Body\n\nText.\n";

static void
test_metadata_parse(void **state)
{
	struct dist_meta *m = NULL;
	struct error err;
	size_t i, n = 0;

	(void)state;
	assert_int_equal(dist_meta_parse(&m, metadata, strlen(metadata), &err),
	    0);
	assert_string_equal(m->metadata_version, "2.1");
	assert_string_equal(m->name, "My.Pkg_Name");
	assert_string_equal(m->version, "1.2.3");
	assert_string_equal(dist_meta_get(m, "summary"), "A demo");
	assert_string_equal(dist_meta_get(m, "License"), "line one\nline two");
	for (i = 0; i < m->n; i++)
		if (strcmp(m->fields[i].key, "Classifier") == 0)
			n++;
	assert_int_equal(n, 2);
	assert_string_equal(m->description, "# Body\n\nText.\n");
	dist_meta_free(m);

	m = NULL;
	assert_int_equal(dist_meta_parse(&m, "Name: x\n", 8, &err),
	    ERR_INVALID);
	assert_null(m);
	assert_int_equal(dist_meta_parse(&m, " cont\nName: x\n", 14, &err),
	    ERR_INVALID);
}

static struct dist_meta *
meta(const char *name, const char *version)
{
	char text[256];
	struct dist_meta *m = NULL;

	snprintf(text, sizeof(text),
	    "Metadata-Version: 2.1\nName: %s\nVersion: %s\n", name, version);
	assert_int_equal(dist_meta_parse(&m, text, strlen(text), NULL), 0);
	return m;
}

static void
test_checks(void **state)
{
	struct dist_filename fn;
	struct dist_rules pypi = { .refuse_local = true,
		.pypi_filenames = true };
	struct dist_meta *m;
	struct error err;

	(void)state;
	m = meta("My.Pkg_Name", "1.2.3");
	assert_int_equal(dist_parse_filename(&fn,
	                     "my_pkg_name-1.2.3-py3-none-any.whl", &err),
	    0);
	assert_int_equal(dist_check(&fn, m, "my-pkg-name", "1.2.3", &pypi,
	                     &err),
	    0);
	/* the tag's version may be spelt differently (PEP 440 equality) */
	assert_int_equal(dist_check(&fn, m, NULL, "v1.2.3.0", NULL, &err), 0);
	assert_int_equal(dist_check(&fn, m, NULL, "1.2.3.0.1", NULL, &err),
	    ERR_INVALID);
	assert_int_equal(dist_check(&fn, m, NULL, "1.2.3", NULL, &err), 0);
	assert_int_equal(dist_check(&fn, m, NULL, "1.2.4", NULL, &err),
	    ERR_INVALID);
	assert_non_null(strstr(err.msg, "tag"));
	assert_int_equal(dist_check(&fn, m, "other", NULL, NULL, &err),
	    ERR_INVALID);

	/* Debian setuptools 66 style names: fine privately, not on PyPI */
	assert_int_equal(dist_parse_filename(&fn,
	                     "My.Pkg_Name-1.2.3-py3-none-any.whl", &err),
	    0);
	assert_int_equal(dist_check(&fn, m, NULL, "1.2.3", NULL, &err), 0);
	assert_int_equal(dist_check(&fn, m, NULL, "1.2.3", &pypi, &err),
	    ERR_INVALID);
	assert_non_null(strstr(err.msg, "my_pkg_name"));
	assert_int_equal(dist_parse_filename(&fn, "My.Pkg_Name-1.2.3.tar.gz",
	                     &err),
	    0);
	assert_int_equal(dist_check(&fn, m, NULL, "1.2.3", &pypi, &err),
	    ERR_INVALID);
	assert_non_null(strstr(err.msg, "my_pkg_name-1.2.3.tar.gz"));
	/* a ZIP is a plain asset: dist_check has nothing to say */
	assert_int_equal(dist_parse_filename(&fn, "my_pkg_name-1.2.3.zip",
	                     &err),
	    0);
	assert_int_equal(fn.kind, DIST_OTHER);
	assert_int_equal(dist_check(&fn, m, NULL, "1.2.3", &pypi, &err), 0);
	/* plain linux wheels are refused by PyPI */
	assert_int_equal(dist_parse_filename(&fn,
	                     "my_pkg_name-1.2.3-cp312-cp312-linux_x86_64.whl",
	                     &err),
	    0);
	assert_int_equal(dist_check(&fn, m, NULL, NULL, &pypi, &err),
	    ERR_INVALID);
	dist_meta_free(m);

	/* metadata and file name disagree */
	m = meta("My.Pkg_Name", "1.2.4");
	assert_int_equal(dist_parse_filename(&fn,
	                     "my_pkg_name-1.2.3-py3-none-any.whl", &err),
	    0);
	assert_int_equal(dist_check(&fn, m, NULL, NULL, NULL, &err),
	    ERR_INVALID);
	dist_meta_free(m);
	m = meta("Other", "1.2.3");
	assert_int_equal(dist_check(&fn, m, NULL, NULL, NULL, &err),
	    ERR_INVALID);
	dist_meta_free(m);

	/* local versions: refused for PyPI only */
	m = meta("pkg", "1.0+g1234");
	assert_int_equal(dist_parse_filename(&fn,
	                     "pkg-1.0+g1234-py3-none-any.whl", &err),
	    0);
	assert_int_equal(dist_check(&fn, m, NULL, "1.0+g1234", NULL, &err), 0);
	assert_int_equal(dist_check(&fn, m, NULL, "1.0+g1234", &pypi, &err),
	    ERR_INVALID);
	assert_non_null(strstr(err.msg, "local version"));
	dist_meta_free(m);
}

static void
test_blake2b(void **state)
{
	char hex[65];
	struct digest_blake2b s;
	unsigned char out[64], data[300];
	size_t i;

	(void)state;
	/* Known values (e.g. Python's hashlib.blake2b(digest_size=32)). */
	digest_blake2b256_hex(hex, "", 0);
	assert_string_equal(hex,
	    "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
	digest_blake2b256_hex(hex, "abc", 3);
	assert_string_equal(hex,
	    "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
	/* RFC 7693 appendix A: BLAKE2b-512("abc") starts ba80a53f981c4d0d */
	digest_blake2b_init(&s, 64);
	digest_blake2b_update(&s, "abc", 3);
	digest_blake2b_final(&s, out);
	assert_int_equal(out[0], 0xba);
	assert_int_equal(out[1], 0x80);
	assert_int_equal(out[63], 0x23);
	/* Feeding in pieces (across the 128-byte block) changes nothing. */
	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)i;
	digest_blake2b256_hex(hex, data, sizeof(data));
	{
		char hex2[65];
		unsigned char md[32];
		static const char digits[] = "0123456789abcdef";

		digest_blake2b_init(&s, 32);
		digest_blake2b_update(&s, data, 1);
		digest_blake2b_update(&s, data + 1, 127);
		digest_blake2b_update(&s, data + 128, 128);
		digest_blake2b_update(&s, data + 256, 44);
		digest_blake2b_final(&s, md);
		for (i = 0; i < 32; i++) {
			hex2[2 * i] = digits[md[i] >> 4];
			hex2[2 * i + 1] = digits[md[i] & 15];
		}
		hex2[64] = '\0';
		assert_string_equal(hex, hex2);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wheel_names),
		cmocka_unit_test(test_sdist_and_other_names),
		cmocka_unit_test(test_plain_assets),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_metadata_parse),
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_blake2b),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
