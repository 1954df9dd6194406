/*
 * test_config.c - the four layers of settings and their checks.
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

#include "worker/config.h"

static char *
write_tmp(const char *text)
{
	static char path[64];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/artifactd-cfg-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void
test_defaults(void **state)
{
	struct config cfg;
	struct error err = { 0 };

	(void)state;
	config_defaults(&cfg);
	assert_string_equal(cfg.redis_url, "redis://127.0.0.1:6379/0");
	assert_string_equal(cfg.test_stream, "test_results");
	assert_string_equal(cfg.release_stream, "release_events");
	assert_string_equal(cfg.output_stream, "workflow_events");
	assert_string_equal(cfg.output_channel, "workflow_events");
	assert_string_equal(cfg.group, "artifactd");
	assert_string_equal(cfg.repo, "./artifacts.git");
	assert_null(cfg.remote_url);
	assert_string_equal(cfg.base_branch, "main");
	assert_string_equal(cfg.branch_prefix, "ai/generated");
	assert_string_equal(cfg.path_template, "Backtest/codes/{task_id}");
	assert_string_equal(cfg.author_name, "algo-agent-bot");
	assert_string_equal(cfg.http_addr, "127.0.0.1:9464");
	assert_int_equal(cfg.push_timeout_s, 30);
	assert_true(cfg.scan_for_secrets);
	assert_true(cfg.concurrency >= 1);
	assert_non_null(strchr(cfg.consumer, '-'));
	assert_int_equal(config_validate(&cfg, &err), 0);
	config_dispose(&cfg);
}

static void
test_precedence(void **state)
{
	struct config cfg;
	struct error err = { 0 };
	char *path = write_tmp("group: from-file\n"
	                       "test_stream: file-stream\n"
	                       "push-timeout: 10\n"
	                       "commit_author_name: seed-bot\n");

	(void)state;
	setenv("ARTIFACTD_TEST_STREAM", "env-stream", 1);
	setenv("GIT_PUSH_TIMEOUT", "20", 1);
	config_defaults(&cfg);
	assert_int_equal(config_load(&cfg, path, &err), 0);
	assert_string_equal(cfg.group, "from-file");        /* file */
	assert_string_equal(cfg.test_stream, "env-stream"); /* env > file */
	assert_int_equal(cfg.push_timeout_s, 20);           /* seed env name */
	assert_string_equal(cfg.author_name, "seed-bot");   /* seed key */
	assert_int_equal(config_set(&cfg, "test-stream", "flag", &err), 0);
	assert_string_equal(cfg.test_stream, "flag"); /* flag wins */
	unsetenv("ARTIFACTD_TEST_STREAM");
	unsetenv("GIT_PUSH_TIMEOUT");
	config_dispose(&cfg);
	unlink(path);
}

static void
test_bad_values(void **state)
{
	struct config cfg;
	struct error err = { 0 };
	char *path;

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "push-timeout", "soon", &err),
	    ERR_INVALID);
	assert_non_null(strstr(err.msg, "push-timeout"));
	assert_int_equal(config_set(&cfg, "auto-push", "maybe", &err),
	    ERR_INVALID);
	assert_int_equal(config_set(&cfg, "no-such", "1", &err), ERR_NOTFOUND);
	assert_int_equal(config_set(&cfg, "log-format", "xml", &err), 0);
	assert_int_equal(config_validate(&cfg, &err), ERR_INVALID);
	config_dispose(&cfg);

	config_defaults(&cfg);
	path = write_tmp("group: g\nbogus_key: 1\n");
	assert_int_equal(config_load(&cfg, path, &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, ":2: unknown setting bogus_key"));
	unlink(path);
	path = write_tmp("group: [unclosed\n");
	assert_int_equal(config_load(&cfg, path, &err), ERR_INVALID);
	unlink(path);
	config_dispose(&cfg);
}

static void
test_targets_and_packages(void **state)
{
	struct config cfg;
	struct error err = { 0 };
	char *path = write_tmp(
	    "targets:\n"
	    "  pypi: {type: pypi, url: 'https://upload.pypi.org/legacy/',"
	    " token_file: /run/secrets/pypi}\n"
	    "  gh:\n    type: github\n    repository: owner/repo\n"
	    "packages:\n"
	    "  open-ticket-ai:\n"
	    "    tag_patterns: ['v*', 'open-ticket-ai-v*']\n"
	    "    targets: [pypi, gh]\n"
	    "secret_patterns:\n  - 'corp_[a-z]{8},x'\n  - 'b+'\n");

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_load(&cfg, path, &err), 0);
	assert_int_equal(cfg.ntargets, 2);
	assert_string_equal(cfg.targets[0].name, "pypi");
	assert_string_equal(cfg.targets[0].type, "pypi");
	assert_string_equal(config_target_get(&cfg.targets[0], "token_file"),
	    "/run/secrets/pypi");
	assert_string_equal(config_target_get(&cfg.targets[1], "repository"),
	    "owner/repo");
	assert_int_equal(cfg.npackages, 1);
	assert_int_equal(cfg.packages[0].ntag_patterns, 2);
	assert_string_equal(cfg.packages[0].tag_patterns[1],
	    "open-ticket-ai-v*");
	assert_int_equal(cfg.packages[0].ntargets, 2);
	/* Regexes keep their commas. */
	assert_int_equal(cfg.nsecret_patterns, 2);
	assert_string_equal(cfg.secret_patterns[0], "corp_[a-z]{8},x");
	assert_int_equal(config_validate(&cfg, &err), 0);
	config_dispose(&cfg);
	unlink(path);

	path = write_tmp("targets:\n  a: {type: s3}\npackages:\n"
	                 "  p: {tag_patterns: ['v*'], targets: [nope]}\n");
	config_defaults(&cfg);
	assert_int_equal(config_load(&cfg, path, &err), 0);
	assert_int_equal(config_validate(&cfg, &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "unknown target nope"));
	config_dispose(&cfg);
	unlink(path);
}

static void
test_secret_from_file(void **state)
{
	struct config cfg;
	struct error err = { 0 };
	char *path = write_tmp("redis://:s3cret@127.0.0.1:7000/2\n");

	(void)state;
	setenv("ARTIFACTD_REDIS_URL_FILE", path, 1);
	config_defaults(&cfg);
	assert_int_equal(config_load(&cfg, NULL, &err), 0);
	assert_string_equal(cfg.redis_url, "redis://:s3cret@127.0.0.1:7000/2");
	unsetenv("ARTIFACTD_REDIS_URL_FILE");
	config_dispose(&cfg);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_targets_and_packages),
		cmocka_unit_test(test_secret_from_file),
	};

	unsetenv("ARTIFACTD_CONFIG");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
