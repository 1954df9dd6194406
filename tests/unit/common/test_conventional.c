/*
 * test_conventional.c - Conventional Commits parsing and release bumps
 * against what python-semantic-release 7.32's angular parser answers for
 * the same messages (bump level, type, scope, subject; printed by running
 * semantic_release.history.parser_angular.parse_commit_message on each).
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

struct conv_case {
	const char *msg;
	int bump; /* -1: does not parse */
	const char *type;
	const char *scope;
	const char *subject;
	const char *breaking;
};

static const struct conv_case cases[] = {
	{ "feat: add x\n", 2, "feat", NULL, "add x", NULL },
	{ "fix(api): repair y", 1, "fix", "api", "repair y", NULL },
	{ "feat(a): b (c): d", 2, "feat", "a): b (c", "d", NULL },
	{ "feat!: drop", 3, "feat", NULL, "drop", NULL },
	{ "docs(x)!: drop", 3, "docs", "x", "drop", NULL },
	{ "chore: bump\n\nBREAKING CHANGE: api gone\n", 3, "chore", NULL,
	    "bump", "api gone" },
	{ "refactor: r\n\nbody\n\nBREAKING-CHANGE: two\nlines\n", 3, "refactor",
	    NULL, "r", "two lines" },
	/* No blank line after the subject: the reference ignores the body. */
	{ "feat: x\nnot blank\n\nBREAKING CHANGE: y", 2, "feat", NULL, "x",
	    NULL },
	/* The footer must open a paragraph. */
	{ "fix: x\n\nbody\nBREAKING CHANGE: y", 1, "fix", NULL, "x", NULL },
	{ "Merge branch 'f'", -1, NULL, NULL, NULL, NULL },
	{ "Revert \"feat: x\"\n\nThis reverts commit abc.", -1, NULL, NULL,
	    NULL, NULL },
	{ "feat:x", -1, NULL, NULL, NULL, NULL },
	{ "feat: ", -1, NULL, NULL, NULL, NULL },
	{ "Feat: x", -1, NULL, NULL, NULL, NULL },
	{ "feature: x", -1, NULL, NULL, NULL, NULL },
	{ "feat(): x", -1, NULL, NULL, NULL, NULL },
	{ "feat(a)x: c", -1, NULL, NULL, NULL, NULL },
	{ "perf: fast", 1, "perf", NULL, "fast", NULL },
	{ "style: s", 0, "style", NULL, "s", NULL },
	{ "build: b", 0, "build", NULL, "b", NULL },
	{ "test!: t", 3, "test", NULL, "t", NULL },
	/* A squash commit counts by its first line only. */
	{ "fix: squash (#3)\n\n* feat: a\n\n* BREAKING CHANGE: b\n", 1, "fix",
	    NULL, "squash (#3)", NULL },
	{ "feat(scope)!: x\r\n\r\nBREAKING CHANGE: z\r\n", 3, "feat", "scope",
	    "x", "z" },
	{ "feat(a)(b): c", 2, "feat", "a)(b", "c", NULL },
};

static void
check_str(const char *got, const char *want)
{
	if (want == NULL)
		assert_null(got);
	else
		assert_string_equal(got, want);
}

static void
test_parse_like_reference(void **state)
{
	struct conv_rules r;

	(void)state;
	conv_rules_default(&r);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conv_commit c;
		int rc = conv_parse(&c, cases[i].msg, strlen(cases[i].msg), &r);

		if (cases[i].bump < 0) {
			assert_int_equal(rc, ERR_NOTFOUND);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal((int)c.bump, cases[i].bump);
		check_str(c.type, cases[i].type);
		check_str(c.scope, cases[i].scope);
		check_str(c.subject, cases[i].subject);
		check_str(c.breaking, cases[i].breaking);
		conv_commit_dispose(&c);
	}
}

static void
test_configured_rules(void **state)
{
	struct conv_rules r;
	struct conv_commit c;

	(void)state;
	conv_rules_default(&r);
	snprintf(r.patch_types, sizeof(r.patch_types), "fix,perf,docs");
	assert_int_equal(conv_parse(&c, "docs: d", 7, &r), 0);
	assert_int_equal(c.bump, VERSION_BUMP_PATCH);
	conv_commit_dispose(&c);
	snprintf(r.allowed_types, sizeof(r.allowed_types), "feat,fix");
	assert_int_equal(conv_parse(&c, "docs: d", 7, &r), ERR_NOTFOUND);
	/* Only len bytes are read. */
	assert_int_equal(conv_parse(&c, "fix: abc", 5, &r), ERR_NOTFOUND);
	assert_int_equal(conv_parse(&c, "fix: abc", 6, &r), 0);
	assert_string_equal(c.subject, "a");
	conv_commit_dispose(&c);
	assert_true(conv_type_in("a,bb,c", "bb", 2));
	assert_false(conv_type_in("a,bb,c", "b", 1));
	assert_false(conv_type_in("", "a", 1));
}

static void
test_release_bump(void **state)
{
	struct conv_rules r;
	struct semver zero = { 0, 3, 1 }, one = { 1, 0, 0 };

	(void)state;
	conv_rules_default(&r);
	/* major_on_zero is the reference's default: 0.x goes to 1.0.0. */
	assert_int_equal(conv_release_bump(VERSION_BUMP_MAJOR, 1, &zero, &r),
	    VERSION_BUMP_MAJOR);
	r.major_on_zero = false;
	assert_int_equal(conv_release_bump(VERSION_BUMP_MAJOR, 1, &zero, &r),
	    VERSION_BUMP_MINOR);
	assert_int_equal(conv_release_bump(VERSION_BUMP_MAJOR, 1, &one, &r),
	    VERSION_BUMP_MAJOR);
	assert_int_equal(conv_release_bump(VERSION_BUMP_NONE, 3, &one, &r),
	    VERSION_BUMP_NONE);
	r.patch_without_tag = true;
	assert_int_equal(conv_release_bump(VERSION_BUMP_NONE, 3, &one, &r),
	    VERSION_BUMP_PATCH);
	assert_int_equal(conv_release_bump(VERSION_BUMP_NONE, 0, &one, &r),
	    VERSION_BUMP_NONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_like_reference),
		cmocka_unit_test(test_configured_rules),
		cmocka_unit_test(test_release_bump),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
