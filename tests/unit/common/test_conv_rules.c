/*
 * test_conv_rules.c - a package's bump rules set by python-semantic-release
 * 7's setting names (conv_rules_set) and checked as a whole
 * (conv_rules_check): lists normalised, type names and levels refused
 * when the reference could not mean them, and the rules then used by
 * conv_parse / conv_release_bump.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/conventional.h"

static void
test_set_lists(void **state)
{
	struct conv_rules r;
	struct error err = { 0 };

	(void)state;
	conv_rules_default(&r);
	assert_int_equal(conv_rules_set(&r, "parser_angular_patch_types",
	                     " fix ,perf\ndocs,,fix", &err),
	    0);
	assert_string_equal(r.patch_types, "fix,perf,docs");
	assert_int_equal(conv_rules_set(&r, "parser-angular-minor-types",
	                     "feat", &err),
	    0);
	assert_int_equal(conv_rules_check(&r, &err), 0);
	assert_int_equal(conv_rules_set(&r, "parser_angular_default_level_bump",
	                     "PATCH", &err),
	    0);
	assert_int_equal(r.default_bump, VERSION_BUMP_PATCH);
	assert_int_equal(conv_rules_set(&r, "major_on_zero", "False", &err), 0);
	assert_false(r.major_on_zero);
	assert_int_equal(conv_rules_set(&r, "patch_without_tag", "true", &err),
	    0);
	assert_true(r.patch_without_tag);
	/* Not a rule: the caller's "unknown key". */
	assert_int_equal(conv_rules_set(&r, "minor_tag", ":sparkles:", &err),
	    ERR_NOTFOUND);
}

static void
test_refused(void **state)
{
	struct conv_rules r;
	struct error err = { 0 };
	char big[CONV_TYPES_MAX + 64];

	(void)state;
	conv_rules_default(&r);
	assert_int_equal(conv_rules_set(&r, "parser_angular_allowed_types",
	                     "feat|fix", &err),
	    ERR_INVALID);
	assert_int_equal(conv_rules_set(&r, "parser_angular_allowed_types",
	                     "a23456789012345678901234567890123", &err),
	    ERR_INVALID);
	assert_int_equal(conv_rules_set(&r, "parser_angular_default_level_bump",
	                     "huge", &err),
	    ERR_INVALID);
	assert_int_equal(conv_rules_set(&r, "major_on_zero", "maybe", &err),
	    ERR_INVALID);
	/* A list longer than the rule holds. */
	big[0] = '\0';
	for (int i = 0; strlen(big) + 8 < sizeof(big); i++)
		snprintf(big + strlen(big), sizeof(big) - strlen(big), "t%05d,",
		    i);
	assert_int_equal(conv_rules_set(&r, "parser_angular_allowed_types", big,
	                     &err),
	    ERR_INVALID);
	/* Whole-set checks. */
	conv_rules_default(&r);
	assert_int_equal(conv_rules_set(&r, "parser_angular_allowed_types",
	                     " , ", &err),
	    0);
	assert_int_equal(conv_rules_check(&r, &err), ERR_INVALID);
	conv_rules_default(&r);
	assert_int_equal(conv_rules_set(&r, "parser_angular_minor_types",
	                     "feat,feature", &err),
	    0);
	assert_int_equal(conv_rules_check(&r, &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "feature"));
	conv_rules_default(&r);
	assert_int_equal(conv_rules_set(&r, "parser_angular_patch_types",
	                     "fix,feat", &err),
	    0);
	assert_int_equal(conv_rules_check(&r, &err), ERR_INVALID);
}

static void
test_rules_used(void **state)
{
	struct conv_rules r;
	struct conv_commit c;
	struct error err = { 0 };
	struct semver zero = { 0, 4, 1 };

	(void)state;
	conv_rules_default(&r);
	assert_int_equal(conv_rules_set(&r, "parser_angular_patch_types",
	                     "fix,perf,docs", &err),
	    0);
	assert_int_equal(conv_parse(&c, "docs: guide", 11, &r), 0);
	assert_int_equal(c.bump, VERSION_BUMP_PATCH);
	conv_commit_dispose(&c);
	assert_int_equal(conv_rules_set(&r, "major_on_zero", "false", &err), 0);
	assert_int_equal(conv_release_bump(VERSION_BUMP_MAJOR, 1, &zero, &r),
	    VERSION_BUMP_MINOR);
	assert_int_equal(conv_rules_set(&r, "parser_angular_default_level_bump",
	                     "minor", &err),
	    0);
	assert_int_equal(conv_parse(&c, "chore: x", 8, &r), 0);
	assert_int_equal(c.bump, VERSION_BUMP_MINOR);
	conv_commit_dispose(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_lists),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_rules_used),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
