/*
 * test_secret.c - the one reader of secrets: NAME, NAME_FILE, which wins,
 * files that are missing, FIFOs, too big or hold a NUL, trailing
 * newlines, registration with the redactor and wiping on free.
 *
 * OPENSSL_cleanse is wrapped at link time (tests/CMakeLists.txt) so the
 * test sees what secret_free wipes before it frees.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "common/redact.h"
#include "common/secret.h"

#define VAR "ARTIFACTD_TEST_SECRET"
#define VAR_FILE "ARTIFACTD_TEST_SECRET_FILE"

void __real_OPENSSL_cleanse(void *p, size_t n);
void __wrap_OPENSSL_cleanse(void *p, size_t n);

/* What the last wipe saw: the bytes before and after. */
static char wiped_before[256];
static int wiped_zero;
static size_t wiped_len;
static int wipes;

void
__wrap_OPENSSL_cleanse(void *p, size_t n)
{
	size_t i;

	wipes++;
	wiped_len = n;
	snprintf(wiped_before, sizeof(wiped_before), "%.*s", (int)n,
	    (const char *)p);
	__real_OPENSSL_cleanse(p, n);
	wiped_zero = 1;
	for (i = 0; i < n; i++)
		if (((const char *)p)[i] != '\0')
			wiped_zero = 0;
}

static char dir[] = "/tmp/test_secret.XXXXXX";

static char *
path_in_dir(const char *name)
{
	static char p[256];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

static const char *
write_file(const char *name, const char *data, size_t n)
{
	const char *p = path_in_dir(name);
	FILE *f = fopen(p, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
	return p;
}

static int
setup(void **state)
{
	(void)state;
	unsetenv(VAR);
	unsetenv(VAR_FILE);
	redact_secret_reset();
	wipes = 0;
	return 0;
}

static int
group_setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_name(void **state)
{
	struct error err;
	char *s = NULL;

	(void)state;
	setenv(VAR, "tok-from-env", 1);
	assert_int_equal(secret_get(&s, VAR, &err), 0);
	assert_string_equal(s, "tok-from-env");
	secret_free(s);
}

static void
test_unset(void **state)
{
	struct error err;
	char *s = NULL;

	(void)state;
	assert_int_equal(secret_get(&s, VAR, &err), ERR_NOTFOUND);
	assert_null(s);
	/* An empty NAME counts as unset. */
	setenv(VAR, "", 1);
	setenv(VAR_FILE, "", 1);
	assert_int_equal(secret_get(&s, VAR, &err), ERR_NOTFOUND);
	assert_null(s);
}

static void
test_file_and_newline(void **state)
{
	struct error err;
	char *s = NULL;

	(void)state;
	setenv(VAR_FILE, write_file("tok", "tok-from-file\r\n\n", 16), 1);
	assert_int_equal(secret_get(&s, VAR, &err), 0);
	assert_string_equal(s, "tok-from-file");
	secret_free(s);
	/* An empty NAME falls through to the file. */
	setenv(VAR, "", 1);
	assert_int_equal(secret_get(&s, VAR, &err), 0);
	assert_string_equal(s, "tok-from-file");
	secret_free(s);
	/* A newline inside is kept: only trailing ones are removed. */
	setenv(VAR_FILE, write_file("two", "a\nb\n", 4), 1);
	assert_int_equal(secret_get(&s, VAR, &err), 0);
	assert_string_equal(s, "a\nb");
	secret_free(s);
}

static void
test_both_name_wins(void **state)
{
	struct error err;
	char *s = NULL;

	(void)state;
	setenv(VAR, "tok-from-env", 1);
	setenv(VAR_FILE, write_file("tok", "tok-from-file\n", 14), 1);
	assert_int_equal(secret_get(&s, VAR, &err), 0);
	assert_string_equal(s, "tok-from-env");
	secret_free(s);
}

static void
test_missing_file(void **state)
{
	struct error err;
	char *s = NULL;

	(void)state;
	setenv(VAR_FILE, path_in_dir("absent"), 1);
	assert_int_equal(secret_get(&s, VAR, &err), ERR_INVALID);
	assert_null(s);
	assert_non_null(strstr(err.msg, VAR_FILE));
	assert_non_null(strstr(err.msg, "absent"));
}

/* A FIFO must be refused at once: without O_NONBLOCK, open() would wait
 * for a writer forever. The alarm turns a hang into a failure. */
static void
test_fifo_refused(void **state)
{
	const char *p = path_in_dir("fifo");
	struct error err;
	char *s = NULL;

	(void)state;
	assert_int_equal(mkfifo(p, 0600), 0);
	setenv(VAR_FILE, p, 1);
	alarm(10);
	assert_int_equal(secret_get(&s, VAR, &err), ERR_INVALID);
	alarm(0);
	assert_null(s);
	assert_non_null(strstr(err.msg, "not a regular file"));
	/* A directory is not one either. */
	setenv(VAR_FILE, dir, 1);
	assert_int_equal(secret_get(&s, VAR, &err), ERR_INVALID);
}

static void
test_too_big(void **state)
{
	char *big = malloc(SECRET_FILE_MAX + 1);
	struct error err;
	char *s = NULL;

	(void)state;
	memset(big, 'x', SECRET_FILE_MAX + 1);
	setenv(VAR_FILE, write_file("big", big, SECRET_FILE_MAX + 1), 1);
	assert_int_equal(secret_get(&s, VAR, &err), ERR_INVALID);
	assert_null(s);
	assert_non_null(strstr(err.msg, "limit"));
	/* Exactly the ceiling is fine. */
	setenv(VAR_FILE, write_file("max", big, SECRET_FILE_MAX), 1);
	assert_int_equal(secret_get(&s, VAR, &err), 0);
	assert_int_equal(strlen(s), SECRET_FILE_MAX);
	secret_free(s);
	free(big);
}

static void
test_nul_inside(void **state)
{
	struct error err;
	char *s = NULL;

	(void)state;
	setenv(VAR_FILE, write_file("nul", "abc\0def\n", 8), 1);
	assert_int_equal(secret_get(&s, VAR, &err), ERR_INVALID);
	assert_null(s);
	assert_non_null(strstr(err.msg, "NUL"));
	/* The message never quotes the content. */
	assert_null(strstr(err.msg, "abc"));
}

static void
test_registered_with_redactor(void **state)
{
	struct error err;
	char *s = NULL, *r;

	(void)state;
	setenv(VAR_FILE, write_file("reg", "s3cr3t-from-file\n", 17), 1);
	assert_int_equal(secret_get(&s, VAR, &err), 0);
	r = redact_text("token is s3cr3t-from-file here");
	assert_string_equal(r, "token is *** here");
	free(r);
	secret_free(s);
	/* A URL registers its password, not the whole URL. */
	setenv(VAR, "https://user:pw-in-url@example.com/r.git", 1);
	assert_int_equal(secret_get(&s, VAR, &err), 0);
	r = redact_text("see pw-in-url and https://example.com/r.git");
	assert_string_equal(r, "see *** and https://example.com/r.git");
	free(r);
	secret_free(s);
}

static void
test_wiped_on_free(void **state)
{
	char *s = strdup("wipe-me-please");

	(void)state;
	secret_free(s);
	assert_int_equal(wipes, 1);
	assert_int_equal(wiped_len, 14);
	assert_string_equal(wiped_before, "wipe-me-please");
	assert_true(wiped_zero);
	secret_free(NULL);
	assert_int_equal(wipes, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_name, setup),
		cmocka_unit_test_setup(test_unset, setup),
		cmocka_unit_test_setup(test_file_and_newline, setup),
		cmocka_unit_test_setup(test_both_name_wins, setup),
		cmocka_unit_test_setup(test_missing_file, setup),
		cmocka_unit_test_setup(test_fifo_refused, setup),
		cmocka_unit_test_setup(test_too_big, setup),
		cmocka_unit_test_setup(test_nul_inside, setup),
		cmocka_unit_test_setup(test_registered_with_redactor, setup),
		cmocka_unit_test_setup(test_wiped_on_free, setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
