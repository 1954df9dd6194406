/*
 * test_version.c - semantic versions, PEP 440 normalisation (expected
 * values printed by Debian's python3-packaging, str(Version(s))),
 * setuptools_scm 7.1.0's development versions and tag-pattern prefixes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/version.h"

static void
test_pep440_normalizes(void **state)
{
	static const char *const cases[][2] = {
		{ "v1.0.0-rc1", "1.0.0rc1" },
		{ "1.0.0.post1", "1.0.0.post1" },
		{ "1!2.0", "1!2.0" },
		{ "0!1.0", "1.0" },
		{ " 1.0.0-1 ", "1.0.0.post1" },
		{ "1.0ALPHA", "1.0a0" },
		{ "1.0+Ubuntu-1", "1.0+ubuntu.1" },
		{ "1.0-post1", "1.0.post1" },
		{ "01.02.003", "1.2.3" },
		{ "1.0.0_beta.2", "1.0.0b2" },
		{ "1.0c1", "1.0rc1" },
		{ "1.0rev3", "1.0.post3" },
		{ "1.0-r", "1.0.post0" },
		{ "1.0.dev", "1.0.dev0" },
		{ "1.0preview2", "1.0rc2" },
		{ "1.0+abc.007", "1.0+abc.7" },
		{ "V2.0.0", "2.0.0" },
		{ "1.0rc-1", "1.0rc1" },
		{ "1.0rc.dev1", "1.0rc0.dev1" },
		{ "1.0.0a1.post2.dev3+x_y", "1.0.0a1.post2.dev3+x.y" },
		{ "1.0rc--1", "1.0rc0.post1" },
		{ "99999999999999999999999.0", "99999999999999999999999.0" },
	};
	char out[VERSION_MAX];
	struct error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		error_clear(&err);
		assert_int_equal(pep440_normalize(out, sizeof(out), cases[i][0],
		                     &err),
		    0);
		assert_string_equal(out, cases[i][1]);
	}
}

static void
test_pep440_refuses(void **state)
{
	static const char *const bad[] = { "1.0.0-beta+", "1..0", "abc",
		"1.0.0+", "1.0-", "v", "1.0.0-rc1-foo", "", "   ", "1.0 beta" };
	char out[VERSION_MAX], longv[VERSION_MAX + 8];
	struct error err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error_clear(&err);
		assert_int_equal(pep440_normalize(out, sizeof(out), bad[i],
		                     &err),
		    ERR_INVALID);
		assert_string_equal(err.code, "INVALID_VERSION");
	}
	memset(longv, '1', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	assert_int_equal(pep440_normalize(out, sizeof(out), longv, &err),
	    ERR_INVALID);
}

static void
test_semver(void **state)
{
	struct semver v, w;
	struct error err;
	char out[VERSION_MAX];

	(void)state;
	assert_int_equal(semver_parse(&v, "1.2.3", &err), 0);
	semver_bump(&v, VERSION_BUMP_MINOR);
	semver_format(out, sizeof(out), &v);
	assert_string_equal(out, "1.3.0");
	semver_bump(&v, VERSION_BUMP_MAJOR);
	semver_format(out, sizeof(out), &v);
	assert_string_equal(out, "2.0.0");
	semver_bump(&v, VERSION_BUMP_PATCH);
	semver_bump(&v, VERSION_BUMP_NONE);
	semver_format(out, sizeof(out), &v);
	assert_string_equal(out, "2.0.1");
	assert_int_equal(semver_parse(&w, "2.0.10", &err), 0);
	assert_int_equal(semver_cmp(&v, &w), -1);
	assert_int_equal(semver_cmp(&w, &v), 1);
	assert_int_equal(semver_cmp(&v, &v), 0);
	assert_int_equal(semver_parse(&v, "1.2", &err), ERR_INVALID);
	assert_int_equal(semver_parse(&v, "1.2.3-rc1", &err), ERR_INVALID);
	assert_int_equal(semver_parse(&v, "v1.2.3", &err), ERR_INVALID);
	assert_int_equal(semver_parse(&v, "1.2.1234567890123456789", &err),
	    ERR_INVALID);
	assert_string_equal(version_bump_name(VERSION_BUMP_MAJOR), "major");
	assert_string_equal(version_bump_name(VERSION_BUMP_NONE), "none");
}

static void
test_dev_versions(void **state)
{
	char out[VERSION_MAX];
	struct error err;

	(void)state;
	assert_int_equal(version_dev(out, sizeof(out), NULL, 3, "abc1234",
	                     &err),
	    0);
	assert_string_equal(out, "0.1.dev3+gabc1234");
	assert_int_equal(version_dev(out, sizeof(out), "1.2.3", 0, "abc1234",
	                     &err),
	    0);
	assert_string_equal(out, "1.2.3");
	assert_int_equal(version_dev(out, sizeof(out), "1.2.3", 4, "abc1234",
	                     &err),
	    0);
	assert_string_equal(out, "1.2.4.dev4+gabc1234");
	assert_int_equal(version_dev(out, sizeof(out), "1.2.9", 1, "f", &err),
	    0);
	assert_string_equal(out, "1.2.10.dev1+gf");
	assert_int_equal(version_dev(out, sizeof(out), "1.99", 1, "f", &err),
	    0);
	assert_string_equal(out, "1.100.dev1+gf");
	assert_int_equal(version_dev(out, sizeof(out), "1.0.0rc1", 2, "f",
	                     &err),
	    0);
	assert_string_equal(out, "1.0.0rc2.dev2+gf");
	assert_int_equal(version_dev(out, sizeof(out), "1!2.0+loc", 2, "f",
	                     &err),
	    0);
	assert_string_equal(out, "1!2.1.dev2+gf");
	assert_int_equal(version_dev(out, sizeof(out), "2.0.dev0", 5, "f",
	                     &err),
	    0);
	assert_string_equal(out, "2.0.dev5+gf");
	assert_int_equal(version_dev(out, sizeof(out), "2.0.dev3", 5, "f",
	                     &err),
	    ERR_INVALID);
}

static void
test_tag_prefix(void **state)
{
	char out[VERSION_MAX];
	struct error err;

	(void)state;
	assert_int_equal(version_tag_prefix(out, sizeof(out), "v*", &err), 0);
	assert_string_equal(out, "v");
	assert_int_equal(version_tag_prefix(out, sizeof(out), "hf-local-v*",
	                     &err),
	    0);
	assert_string_equal(out, "hf-local-v");
	assert_int_equal(version_tag_prefix(out, sizeof(out), "*", &err), 0);
	assert_string_equal(out, "");
	assert_int_equal(version_tag_prefix(out, sizeof(out), "v", &err),
	    ERR_INVALID);
	assert_int_equal(version_tag_prefix(out, sizeof(out), "v*x*", &err),
	    ERR_INVALID);
	assert_int_equal(version_tag_prefix(out, sizeof(out), "a b*", &err),
	    ERR_INVALID);
	assert_int_equal(version_tag_prefix(out, sizeof(out), "../v*", &err),
	    ERR_INVALID);
	assert_int_equal(version_tag_prefix(out, sizeof(out), "v?*", &err),
	    ERR_INVALID);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pep440_normalizes),
		cmocka_unit_test(test_pep440_refuses),
		cmocka_unit_test(test_semver),
		cmocka_unit_test(test_dev_versions),
		cmocka_unit_test(test_tag_prefix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
