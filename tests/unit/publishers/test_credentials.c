/*
 * test_credentials.c - where a target's credential comes from: the
 * documented order (setting, _file, _env, the type's environment names,
 * ~/.pypirc), the most specific source winning, ~/.pypirc read as twine
 * reads it (and its limits), GH_TOKEN before GITHUB_TOKEN, and the AWS
 * chain's step as check-config reports it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "publishers/publisher.h"
#include "publishers/pypirc.h"

/* The environment settings the settings table would hand over. */
static struct publish_env E;

static char home[] = "/tmp/test_credentials_XXXXXX";

static void
clear_env(void)
{
	static const char *const names[] = { "PYPI_API_TOKEN",
		"PYPI_API_TOKEN_FILE", "TWINE_PASSWORD", "TWINE_USERNAME",
		"TWINE_REPOSITORY", "TWINE_REPOSITORY_URL", "GH_TOKEN",
		"GITHUB_TOKEN", "MY_TOKEN", "MY_TOKEN_FILE",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ROLE_ARN",
		"AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", NULL };
	int i;

	for (i = 0; names[i] != NULL; i++)
		unsetenv(names[i]);
	memset(&E, 0, sizeof(E));
	setenv("HOME", home, 1);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(chmod(path, mode), 0);
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(home) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char p[256];

	(void)state;
	snprintf(p, sizeof(p), "%s/.pypirc", home);
	unlink(p);
	return rmdir(home);
}

static int
cred(char *src, size_t n, const struct publish_target *t, struct error *err)
{
	src[0] = '\0';
	error_clear(err);
	return publish_target_credential(t, src, n, err);
}

/* The reported bug: token_env names a variable that is not set, and the
 * documented fallback PYPI_API_TOKEN was never reached (the search ended
 * at step 3). */
static void
test_token_env_unset_falls_back(void **state)
{
	const char *keys[] = { "url", "token_env" };
	const char *values[] = { "http://127.0.0.1:1/legacy/",
		"PYPI_API_TOKEN_HF_LOCAL" };
	struct publish_target t = { "pypi-hf", "pypi", keys, values, 2, &E };
	struct error err;
	char src[1024], *s;

	(void)state;
	clear_env();
	unsetenv("PYPI_API_TOKEN_HF_LOCAL");
	E.pypi_api_token = "pypi-global";
	s = publish_target_get_src(&t, "token", src, sizeof(src));
	assert_non_null(s);
	assert_string_equal(s, "pypi-global");
	assert_string_equal(src, "environment PYPI_API_TOKEN");
	free(s);
	assert_int_equal(cred(src, sizeof(src), &t, &err), 0);
	assert_non_null(strstr(src, "token from environment PYPI_API_TOKEN"));
	assert_null(strstr(src, "pypi-global"));
	/* set, the variable token_env names wins */
	setenv("PYPI_API_TOKEN_HF_LOCAL", "pypi-hf", 1);
	s = publish_target_get_src(&t, "token", src, sizeof(src));
	assert_string_equal(s, "pypi-hf");
	assert_string_equal(src,
	    "token_env: environment PYPI_API_TOKEN_HF_LOCAL");
	free(s);
	unsetenv("PYPI_API_TOKEN_HF_LOCAL");
	/* nothing anywhere: AUTH, and the message names the sources */
	E.pypi_api_token = NULL;
	assert_int_equal(cred(src, sizeof(src), &t, &err), ERR_FAIL);
	assert_string_equal(err.code, "AUTH");
	assert_non_null(strstr(err.msg, "PYPI_API_TOKEN"));
	clear_env();
}

/* A target's own credential beats the environment's; at one level a
 * token beats username + password; TWINE_PASSWORD alone is a token. */
static void
test_pypi_order(void **state)
{
	const char *keys[] = { "url", "username", "password_env" };
	const char *values[] = { "http://127.0.0.1:1/legacy/", "alice",
		"MY_TOKEN" };
	struct publish_target own = { "priv", "pypi", keys, values, 3, &E };
	struct publish_target bare = { "pypi", "pypi", keys, values, 1, &E };
	struct error err;
	char src[1024];

	(void)state;
	clear_env();
	E.pypi_api_token = "pypi-global";
	setenv("MY_TOKEN", "alice-pass", 1);
	assert_int_equal(cred(src, sizeof(src), &own, &err), 0);
	assert_non_null(strstr(src, "username from setting username"));
	assert_non_null(strstr(src, "password from password_env: "
	                            "environment MY_TOKEN"));
	/* environment only: the token before TWINE_USERNAME/PASSWORD */
	E.twine_username = "bob";
	E.twine_password = "bob-pass";
	assert_int_equal(cred(src, sizeof(src), &bare, &err), 0);
	assert_non_null(strstr(src, "token from environment PYPI_API_TOKEN"));
	E.pypi_api_token = NULL;
	assert_int_equal(cred(src, sizeof(src), &bare, &err), 0);
	assert_non_null(strstr(src, "username from environment "
	                            "TWINE_USERNAME"));
	E.twine_username = NULL;
	assert_int_equal(cred(src, sizeof(src), &bare, &err), 0);
	assert_non_null(strstr(src, "token from environment TWINE_PASSWORD"));
	clear_env();
}

static void
test_pypirc_parse(void **state)
{
	struct pypirc_repo r;
	struct error err;
	const char *text = "# comment\n"
	                   "[distutils]\n"
	                   "index-servers =\n"
	                   "    pypi\n"
	                   "    private\n"
	                   "\n"
	                   "[server-login]\n"
	                   "username: old\n"
	                   "password: old-pass\n"
	                   "[pypi]\n"
	                   "USERNAME = __token__\n"
	                   "password = pypi-AgEIcHlwaS5vcmc\n"
	                   "; another comment\n"
	                   "[private]\n"
	                   "repository = http://127.0.0.1:8080/legacy/\n"
	                   "[unlisted]\n"
	                   "repository = https://evil.example/\n";

	(void)state;
	assert_int_equal(pypirc_parse(&r, text, "pypi", "f", &err), 0);
	assert_string_equal(r.url, "https://upload.pypi.org/legacy/");
	assert_string_equal(r.username, "__token__");
	assert_string_equal(r.password, "pypi-AgEIcHlwaS5vcmc");
	pypirc_repo_dispose(&r);
	/* a listed section without credentials takes [server-login]'s */
	assert_int_equal(pypirc_parse(&r, text, "private", "f", &err), 0);
	assert_string_equal(r.url, "http://127.0.0.1:8080/legacy/");
	assert_string_equal(r.username, "old");
	assert_string_equal(r.password, "old-pass");
	pypirc_repo_dispose(&r);
	/* not in index-servers: absent, as in twine (testpypi too, here) */
	assert_int_equal(pypirc_parse(&r, text, "unlisted", "f", &err),
	    ERR_NOTFOUND);
	assert_int_equal(pypirc_parse(&r, text, "testpypi", "f", &err),
	    ERR_NOTFOUND);
	/* no file: pypi and testpypi with their URLs, no credentials */
	assert_int_equal(pypirc_parse(&r, "", "testpypi", "f", &err), 0);
	assert_string_equal(r.url, "https://test.pypi.org/legacy/");
	assert_null(r.username);
	assert_null(r.password);
	pypirc_repo_dispose(&r);
	/* what RawConfigParser refuses, we refuse */
	assert_int_equal(pypirc_parse(&r, "password = x\n", "pypi", "f", &err),
	    ERR_INVALID);
	assert_int_equal(pypirc_parse(&r,
	                     "[pypi]\npassword = a\npassword = b\n", "pypi",
	                     "f", &err),
	    ERR_INVALID);
	assert_non_null(strstr(err.msg, "repeated"));
	assert_null(strstr(err.msg, "= a"));
	assert_int_equal(pypirc_parse(&r, "[pypi]\njunk line\n", "pypi", "f",
	                     &err),
	    ERR_INVALID);
}

static void
test_pypirc_file_limits(void **state)
{
	char path[256], fifo[256], *big;
	struct pypirc_repo r;
	struct error err;

	(void)state;
	clear_env();
	snprintf(path, sizeof(path), "%s/.pypirc", home);
	/* the default file may be missing: twine's defaults */
	assert_int_equal(pypirc_lookup(&r, NULL, "pypi", &err), 0);
	assert_false(r.file_found);
	pypirc_repo_dispose(&r);
	/* a file named on purpose must exist */
	assert_int_equal(pypirc_lookup(&r, "/nonexistent/pypirc", "pypi", &err),
	    ERR_INVALID);
	/* larger than PYPIRC_MAX: refused before it is read */
	big = malloc(PYPIRC_MAX + 2);
	memset(big, '#', PYPIRC_MAX + 1);
	big[PYPIRC_MAX + 1] = '\0';
	write_file(path, big, 0600);
	free(big);
	assert_int_equal(pypirc_lookup(&r, NULL, "pypi", &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "limit"));
	/* not a regular file: a FIFO is refused at once, never waited on */
	snprintf(fifo, sizeof(fifo), "%s/fifo", home);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(pypirc_lookup(&r, fifo, "pypi", &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "regular"));
	unlink(fifo);
	/* readable by others: used (with a warning) */
	write_file(path, "[pypi]\npassword = pypi-x\n", 0644);
	assert_int_equal(pypirc_lookup(&r, NULL, "pypi", &err), 0);
	assert_true(r.file_found);
	assert_string_equal(r.password, "pypi-x");
	pypirc_repo_dispose(&r);
	unlink(path);
}

/* ~/.pypirc is the last source, selected by TWINE_REPOSITORY (or the
 * target's `repository`), and only when nothing else names the URL. */
static void
test_pypirc_source(void **state)
{
	struct publish_target bare = { "pypi", "pypi", NULL, NULL, 0, &E };
	char path[256], src[1024];
	struct error err;

	(void)state;
	clear_env();
	snprintf(path, sizeof(path), "%s/.pypirc", home);
	write_file(path,
	    "[distutils]\nindex-servers = pypi local\n"
	    "[local]\nrepository = http://127.0.0.1:9/legacy/\n"
	    "username = carol\npassword = carol-pass\n",
	    0600);
	/* pypi is listed but has no password: none */
	assert_int_equal(cred(src, sizeof(src), &bare, &err), ERR_FAIL);
	E.twine_repository = "local";
	assert_int_equal(cred(src, sizeof(src), &bare, &err), 0);
	assert_non_null(strstr(src, "username from pypirc "));
	assert_non_null(strstr(src, "[local] password"));
	assert_non_null(strstr(src, "upload URL from pypirc"));
	assert_null(strstr(src, "carol-pass"));
	/* the environment's token is more specific than the file */
	E.pypi_api_token = "pypi-env";
	assert_int_equal(cred(src, sizeof(src), &bare, &err), 0);
	assert_non_null(strstr(src, "token from environment PYPI_API_TOKEN"));
	E.pypi_api_token = NULL;
	/* TWINE_REPOSITORY_URL: the file's password is not sent there */
	E.twine_repository_url = "http://127.0.0.1:10/legacy/";
	assert_int_equal(cred(src, sizeof(src), &bare, &err), ERR_FAIL);
	E.twine_repository_url = NULL;
	/* a repository the file does not have, named on purpose */
	E.twine_repository = "nope";
	assert_int_equal(cred(src, sizeof(src), &bare, &err), ERR_NOTFOUND);
	assert_non_null(strstr(err.msg, "[nope]"));
	unlink(path);
	clear_env();
}

static void
test_github_and_aws(void **state)
{
	const char *keys[] = { "access_key_id" };
	const char *values[] = { "AKIDTARGET" };
	struct publish_target gh = { "gh", "github", NULL, NULL, 0, &E };
	struct publish_target s3 = { "s3", "s3", NULL, NULL, 0, &E };
	struct publish_target half = { "s3h", "s3", keys, values, 1, &E };
	struct publish_target art = { "art", "artifactory", NULL, NULL, 0, &E };
	char src[1024], *s;
	struct error err;

	(void)state;
	clear_env();
	assert_int_equal(cred(src, sizeof(src), &gh, &err), ERR_FAIL);
	assert_non_null(strstr(err.msg, "GH_TOKEN"));
	E.github_token = "ghs_github";
	E.gh_token = "ghp_gh";
	s = publish_target_get(&gh, "token");
	assert_string_equal(s, "ghp_gh"); /* GH_TOKEN first, as gh */
	free(s);
	assert_int_equal(cred(src, sizeof(src), &gh, &err), 0);
	assert_string_equal(src, "token from environment GH_TOKEN");
	E.gh_token = NULL;
	assert_int_equal(cred(src, sizeof(src), &gh, &err), 0);
	assert_string_equal(src, "token from environment GITHUB_TOKEN");

	/* Nothing set: the last step, the instance metadata service, is
	 * what an SDK would ask (not probed without a request)... */
	assert_int_equal(cred(src, sizeof(src), &s3, &err), 0);
	assert_non_null(strstr(src, "instance metadata service"));
	/* ...unless it is turned off, as botocore allows. */
	E.aws_ec2_metadata_disabled = "TRUE";
	assert_int_equal(cred(src, sizeof(src), &s3, &err), ERR_FAIL);
	assert_string_equal(err.code, "AUTH");
	assert_int_equal(cred(src, sizeof(src), &half, &err), ERR_FAIL);
	assert_non_null(strstr(err.msg, "only one"));
	E.aws_container_credentials_full_uri = "http://127.0.0.1:1/c";
	assert_int_equal(cred(src, sizeof(src), &s3, &err), 0);
	assert_non_null(strstr(src, "container"));
	E.aws_access_key_id = "AKIDENV";
	E.aws_secret_access_key = "secret";
	assert_int_equal(cred(src, sizeof(src), &s3, &err), 0);
	assert_non_null(strstr(src, "environment AWS_ACCESS_KEY_ID"));
	assert_null(strstr(src, "AKIDENV"));
	/* Artifactory may be anonymous (a plain WebDAV server) */
	assert_int_equal(cred(src, sizeof(src), &art, &err), 0);
	assert_non_null(strstr(src, "anonymous"));
	clear_env();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_env_unset_falls_back),
		cmocka_unit_test(test_pypi_order),
		cmocka_unit_test(test_pypirc_parse),
		cmocka_unit_test(test_pypirc_file_limits),
		cmocka_unit_test(test_pypirc_source),
		cmocka_unit_test(test_github_and_aws),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
