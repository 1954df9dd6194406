/*
 * test_release.c - the pure parts of the release core and the publisher
 * table: tag -> package and version through per-package patterns (seed
 * 004), the single-package defaults from the environment, how a target's
 * settings resolve (key, key_file, key_env, the type's environment name,
 * NAME_FILE), and that every publisher type is registered. No network;
 * one temporary file for the _file settings.
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

#include "publishers/publisher.h"
#include "publishers/release.h"

/* The environment settings the settings table would hand over. */
static struct publish_env E;

static void
seed_packages(struct release_config *c)
{
	struct release_package *p;

	release_config_init(c);
	release_config_add_target(c, "pypi", "pypi");
	p = release_config_add_package(c, "open-ticket-ai");
	release_package_add_pattern(p, "v*");
	release_package_add_pattern(p, "open-ticket-ai-v*");
	release_package_add_target(p, "pypi");
	p = release_config_add_package(c, "open-ticket-ai-hf-local");
	release_package_add_pattern(p, "hf-local-v*");
	release_package_add_pattern(p, "open-ticket-ai-hf-local-v*");
	release_package_add_target(p, "pypi");
	p = release_config_add_package(c, "open-ticket-ai-otobo-znuny");
	release_package_add_pattern(p, "otobo-znuny-v*");
	release_package_add_pattern(p, "open-ticket-ai-otobo-znuny-v*");
	release_package_add_target(p, "pypi");
}

static void
expect_tag(const struct release_config *c, const char *tag, const char *package,
    const char *want_pkg, const char *want_version)
{
	const struct release_package *p = NULL;
	char v[64];
	struct error err;

	assert_int_equal(release_match_tag(c, tag, package, &p, v, sizeof(v),
	                     &err),
	    0);
	assert_non_null(p);
	assert_string_equal(p->name, want_pkg);
	assert_string_equal(v, want_version);
}

static void
test_tag_patterns(void **state)
{
	struct release_config c;
	const struct release_package *p = NULL;
	struct error err;
	char v[64];

	(void)state;
	seed_packages(&c);
	expect_tag(&c, "v1.2.3", NULL, "open-ticket-ai", "1.2.3");
	expect_tag(&c, "open-ticket-ai-v1.2.3", NULL, "open-ticket-ai",
	    "1.2.3");
	expect_tag(&c, "hf-local-v0.4.0", NULL, "open-ticket-ai-hf-local",
	    "0.4.0");
	expect_tag(&c, "open-ticket-ai-hf-local-v0.4.0rc1", NULL,
	    "open-ticket-ai-hf-local", "0.4.0rc1");
	expect_tag(&c, "otobo-znuny-v2.0.0", NULL, "open-ticket-ai-otobo-znuny",
	    "2.0.0");
	/* data.package narrows the choice (normalized names compare) */
	expect_tag(&c, "v1.0.0", "Open_Ticket.AI", "open-ticket-ai", "1.0.0");
	assert_int_equal(release_match_tag(&c, "v1.0.0",
	                     "open-ticket-ai-hf-local", &p, v, sizeof(v), &err),
	    ERR_INVALID);
	assert_string_equal(err.code, "INVALID_TAG");
	/* no pattern, or not a version */
	assert_int_equal(release_match_tag(&c, "release-1", NULL, &p, v,
	                     sizeof(v), &err),
	    ERR_INVALID);
	assert_int_equal(release_match_tag(&c, "vnext", NULL, &p, v, sizeof(v),
	                     &err),
	    ERR_INVALID);
	assert_int_equal(release_match_tag(&c, "", NULL, &p, v, sizeof(v),
	                     &err),
	    ERR_INVALID);
	release_config_dispose(&c);

	/* Without packages: v1.2.3, name-v1.2.3 or a bare version. */
	release_config_init(&c);
	assert_int_equal(release_match_tag(&c, "v1.2.3", NULL, &p, v, sizeof(v),
	                     &err),
	    0);
	assert_null(p);
	assert_string_equal(v, "1.2.3");
	assert_int_equal(release_match_tag(&c, "my-pkg-v2.0", NULL, &p, v,
	                     sizeof(v), &err),
	    0);
	assert_string_equal(v, "2.0");
	assert_int_equal(release_match_tag(&c, "3.1.4", NULL, &p, v, sizeof(v),
	                     &err),
	    0);
	assert_string_equal(v, "3.1.4");
	release_config_dispose(&c);
}

static void
clear_env(void)
{
	static const char *const names[] = { "PYPI_API_TOKEN",
		"PYPI_API_TOKEN_FILE", "TWINE_PASSWORD", "TWINE_PASSWORD_FILE",
		"ARTIFACTORY_URL", "S3_WHEELS_BUCKET", "CODEARTIFACT_DOMAIN",
		"GITHUB_TOKEN", "GITHUB_REPOSITORY", "TWINE_REPOSITORY_URL",
		"MY_TOKEN", NULL };
	int i;

	for (i = 0; names[i] != NULL; i++)
		unsetenv(names[i]);
	memset(&E, 0, sizeof(E));
	/* no ~/.pypirc of the person running the tests */
	setenv("HOME", "/nonexistent", 1);
}

static void
test_env_defaults(void **state)
{
	struct release_config c;

	(void)state;
	clear_env();
	release_config_init(&c);
	c.env = &E;
	release_config_env_defaults(&c);
	assert_int_equal(c.ntargets, 0);
	E.twine_password = "x";
	E.github_token = "x";
	release_config_env_defaults(&c);
	/* GitHub needs the repository too */
	assert_int_equal(c.ntargets, 1);
	assert_string_equal(c.targets[0].type, "pypi");
	release_config_dispose(&c);

	release_config_init(&c);
	c.env = &E;
	E.github_repository = "o/r";
	E.s3_wheels_bucket = "b";
	release_config_env_defaults(&c);
	assert_int_equal(c.ntargets, 3);
	assert_string_equal(c.targets[1].name, "s3");
	assert_string_equal(c.targets[2].name, "github");
	/* configured targets win: no defaults are added */
	release_config_env_defaults(&c);
	assert_int_equal(c.ntargets, 3);
	release_config_dispose(&c);
	clear_env();
}

/* Issue 12: the tag's version is PEP 440-normalised before it is matched
 * with the files and carried in answers; a tag that is no version is
 * refused saying where it breaks. */
static void
test_tag_pep440(void **state)
{
	struct release_config c;
	const struct release_package *p = NULL;
	struct error err;
	char v[64];

	(void)state;
	seed_packages(&c);
	expect_tag(&c, "v1.0.0-rc1", NULL, "open-ticket-ai", "1.0.0rc1");
	expect_tag(&c, "v1.0-post1", NULL, "open-ticket-ai", "1.0.post1");
	expect_tag(&c, "v1.0.0-1", NULL, "open-ticket-ai", "1.0.0.post1");
	expect_tag(&c, "v1!2.0", NULL, "open-ticket-ai", "1!2.0");
	expect_tag(&c, "hf-local-v0.4.0.RC1", NULL, "open-ticket-ai-hf-local",
	    "0.4.0rc1");
	error_clear(&err);
	assert_int_equal(release_match_tag(&c, "v1.0.0-rc1-foo", NULL, &p, v,
	                     sizeof(v), &err),
	    ERR_INVALID);
	assert_string_equal(err.code, "INVALID_TAG");
	assert_non_null(strstr(err.msg, "v1.0.0-rc1-foo"));
	assert_non_null(strstr(err.msg, "PEP 440"));
	release_config_dispose(&c);
}

/* A release of one ZIP bundle to a package index (dry run, no network):
 * the ZIP is not refused, and the pypi target reports it skipped with the
 * reason; its .sha256 and SHA256SUMS are made. Before issue 12 the ZIP
 * failed the release with INVALID_DIST. */
static void
test_run_skips_plain_asset(void **state)
{
	static const char zip[] = "PowerTrader_AI_Desktop_v1.2.3.zip";
	char dir[] = "/tmp/test_release_XXXXXX", path[256];
	const char *files[] = { zip };
	struct release_config c;
	struct release_request req = { 0 };
	struct release_result rr;
	struct release_target *t;
	struct error err;
	FILE *fp;

	(void)state;
	clear_env();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, zip);
	assert_non_null(fp = fopen(path, "w"));
	fputs("PK\005\006 not a wheel\n", fp);
	fclose(fp);
	release_config_init(&c);
	c.artifacts_root = strdup(dir);
	t = release_config_add_target(&c, "pypi", "pypi");
	release_target_set(t, "token", "pypi-test-token");
	req.tag = "v1.2.3";
	req.files = files;
	req.nfiles = 1;
	req.dry_run = true;
	release_result_init(&rr);
	error_clear(&err);
	assert_int_equal(release_run(&rr, &c, &req, &err), 0);
	assert_string_equal(rr.version, "1.2.3");
	assert_int_equal(rr.n, 1);
	assert_string_equal(rr.items[0].target, "pypi");
	assert_string_equal(rr.items[0].file, zip);
	assert_int_equal(rr.items[0].rc, 0);
	assert_int_equal(rr.items[0].outcome.status, PUBLISH_SKIPPED);
	assert_non_null(strstr(rr.items[0].outcome.reason, "plain asset"));
	assert_int_equal(strlen(rr.items[0].sha256), 64);
	assert_int_equal(rr.nfiles, 3);
	assert_string_equal(rr.files[0], zip);
	assert_string_equal(rr.files[1],
	    "PowerTrader_AI_Desktop_v1.2.3.zip.sha256");
	assert_string_equal(rr.files[2], "SHA256SUMS");
	release_result_dispose(&rr);

	/* A target whose set-up fails still lists the asset (skipped), and
	 * the failure is the release's. */
	release_config_dispose(&c);
	release_config_init(&c);
	c.artifacts_root = strdup(dir);
	release_config_add_target(&c, "pypi", "pypi"); /* no token */
	release_result_init(&rr);
	assert_int_equal(release_run(&rr, &c, &req, &err), ERR_FAIL);
	assert_string_equal(err.code, "AUTH");
	assert_int_equal(rr.n, 2);
	assert_int_equal(rr.items[0].outcome.status, PUBLISH_SKIPPED);
	assert_string_equal(rr.items[1].file, ""); /* target-wide */
	assert_int_equal(rr.items[1].rc, ERR_FAIL);
	release_result_dispose(&rr);
	release_config_dispose(&c);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_target_settings(void **state)
{
	char path[] = "/tmp/test_release_XXXXXX";
	const char *keys[] = { "url", "token_file", "password_env" };
	const char *values[] = { "https://x.example/legacy/", path,
		"MY_TOKEN" };
	struct publish_target t = { "pypi", "pypi", keys, values, 3, &E };
	struct publish_target none = { "pypi", "pypi", NULL, NULL, 0, &E };
	char *s;
	int fd;

	(void)state;
	clear_env();
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, "pypi-FROM-FILE\r\n", 16), 16);
	close(fd);
	s = publish_target_get(&t, "url");
	assert_string_equal(s, "https://x.example/legacy/");
	free(s);
	s = publish_target_get(&t, "token");
	assert_string_equal(s, "pypi-FROM-FILE"); /* newline stripped */
	free(s);
	setenv("MY_TOKEN", "from-env", 1);
	s = publish_target_get(&t, "password");
	assert_string_equal(s, "from-env");
	free(s);
	assert_null(publish_target_get(&t, "username"));

	/* the type's environment names (the settings table reads NAME_FILE) */
	E.twine_repository_url = "https://test.pypi.org/legacy/";
	s = publish_target_get(&none, "url");
	assert_string_equal(s, "https://test.pypi.org/legacy/");
	free(s);
	E.pypi_api_token = "direct";
	s = publish_target_get(&none, "token");
	assert_string_equal(s, "direct");
	free(s);
	/* unset, or empty: nothing */
	E.pypi_api_token = "";
	assert_null(publish_target_get(&none, "token"));
	E.pypi_api_token = NULL;
	assert_null(publish_target_get(&none, "token"));
	assert_string_equal(publish_target_env_name("github", "token"),
	    "GH_TOKEN"); /* then GITHUB_TOKEN, as the gh CLI */
	assert_null(publish_target_env_name("github", "nope"));
	assert_true(publish_key_is_secret("token"));
	assert_true(publish_key_is_secret("secret_access_key"));
	assert_false(publish_key_is_secret("url"));
	unlink(path);
	clear_env();
}

static void
test_registry(void **state)
{
	static const char *const types[] = { "pypi", "artifactory", "github",
		"s3", "codeartifact" };
	const struct publisher_ops *const *all = publisher_all();
	size_t i, n = 0;

	(void)state;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		const struct publisher_ops *ops = publisher_find(types[i]);

		assert_non_null(ops);
		assert_string_equal(ops->type, types[i]);
		assert_non_null(ops->begin);
		assert_non_null(ops->upload);
	}
	while (all[n] != NULL)
		n++;
	assert_int_equal(n, 5);
	assert_null(publisher_find("ftp"));
	assert_null(publisher_find(NULL));
	assert_true(publisher_find("pypi")->dists_only);
	assert_false(publisher_find("github")->dists_only);
	assert_string_equal(release_status_name(PUBLISH_ALREADY_PRESENT),
	    "already_present");
	assert_string_equal(release_status_name(PUBLISH_SKIPPED), "skipped");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tag_patterns),
		cmocka_unit_test(test_env_defaults),
		cmocka_unit_test(test_tag_pep440),
		cmocka_unit_test(test_run_skips_plain_asset),
		cmocka_unit_test(test_target_settings),
		cmocka_unit_test(test_registry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
