/*
 * test_redact_release.c - secret_free releases what secret_register
 * registered through that string: a long-running daemon that registers
 * two new tokens per release (Trusted Publishing) keeps masking the
 * newest ones after far more than REDACT_SECRETS_MAX of them, a value
 * still held by another owner (or registered for good) stays masked, and
 * a released value is no longer masked.
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
#include "common/secret.h"
#include "common/xalloc.h"

static bool
masked(const char *secret)
{
	char *line = xasprintf("token=x %s end", secret);
	char *r = redact_text(line);
	bool m = strstr(r, secret) == NULL;

	free(line);
	free(r);
	return m;
}

static void
test_more_than_the_cap(void **state)
{
	char *s, *keep;
	int i;

	(void)state;
	redact_secret_reset();
	for (i = 0; i < 3 * REDACT_SECRETS_MAX; i++) {
		s = xasprintf("minted-token-%04d", i);
		secret_register(s);
		assert_true(masked(s));
		secret_free(s);
	}
	keep = xasprintf("minted-token-newest");
	secret_register(keep);
	assert_true(masked(keep)); /* the old code ignored it: cap reached */
	secret_free(keep);
	assert_false(masked("minted-token-newest")); /* released */
	redact_secret_reset();
}

static void
test_other_owners_keep_it(void **state)
{
	char *a = xstrdup("shared-secret-value"), *b = xstrdup(a);
	char *copy = xstrdup(a);

	(void)state;
	redact_secret_reset();
	secret_register(a);
	secret_register(b);
	secret_free(copy); /* never registered itself: releases nothing */
	assert_true(masked("shared-secret-value"));
	secret_free(a);
	assert_true(masked("shared-secret-value")); /* b still holds it */
	secret_free(b);
	assert_false(masked("shared-secret-value"));

	a = xstrdup("pinned-secret-value");
	redact_secret_add("pinned-secret-value"); /* for good */
	secret_register(a);
	secret_free(a);
	assert_true(masked("pinned-secret-value"));
	redact_secret_reset();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_more_than_the_cap),
		cmocka_unit_test(test_other_owners_keep_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
