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
#include <sys/stat.h>
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

/* What config_print writes, as a string (caller frees). */
static char *
printed(const struct config *cfg)
{
	char path[] = "/tmp/test_config_print.XXXXXX";
	int fd = mkstemp(path), saved;
	char *text = NULL;
	FILE *f;
	long n;

	assert_true(fd >= 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fd, STDOUT_FILENO);
	config_print(cfg, false);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(fd);
	f = fopen(path, "r");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	unlink(path);
	return text;
}

/* The push credentials are settings: read from NAME or NAME_FILE through
 * the table, secret ones masked by check-config, even when short. */
static void
test_git_credentials_are_settings(void **state)
{
	struct config cfg;
	struct error err = { 0 };
	char *path = write_tmp("tok-from-a-file\n"), *out;

	(void)state;
	setenv("ARTIFACTD_GIT_TOKEN_FILE", path, 1);
	setenv("ARTIFACTD_GIT_PASSWORD", "pw", 1);
	setenv("ARTIFACTD_GIT_SSH_KEY_FILE", "/run/secrets/deploy_key", 1);
	setenv("ARTIFACTD_GIT_SSH_HOST_KEY", "SHA256:pinned", 1);
	config_defaults(&cfg);
	assert_int_equal(config_load(&cfg, NULL, &err), 0);
	assert_string_equal(cfg.git_token, "tok-from-a-file");
	assert_string_equal(cfg.git_password, "pw");
	assert_string_equal(cfg.git_ssh_key, "/run/secrets/deploy_key");
	assert_string_equal(cfg.git_ssh_host_key, "SHA256:pinned");
	assert_true(config_is_secret("git-token"));
	assert_true(config_is_secret("git-ssh-passphrase"));
	assert_false(config_is_secret("git-ssh-host-key"));
	out = printed(&cfg);
	assert_non_null(strstr(out, "git-ssh-host-key"));
	assert_non_null(strstr(out, "SHA256:pinned"));
	assert_non_null(strstr(out, "/run/secrets/deploy_key"));
	assert_null(strstr(out, "tok-from-a-file"));
	assert_null(strstr(out, " pw\n"));
	free(out);
	unsetenv("ARTIFACTD_GIT_TOKEN_FILE");
	unsetenv("ARTIFACTD_GIT_PASSWORD");
	unsetenv("ARTIFACTD_GIT_SSH_KEY_FILE");
	unsetenv("ARTIFACTD_GIT_SSH_HOST_KEY");
	config_dispose(&cfg);
	unlink(path);
}

/* The publishers' environment names are rows of the table (issue 11):
 * check-config lists them, secrets masked, NAME_FILE honoured, and the
 * values reach the publishers through cfg.publish_env, where before they
 * were read with getenv and check-config never showed them. */
static void
test_publisher_names_are_settings(void **state)
{
	struct config cfg;
	struct error err = { 0 };
	char *path = write_tmp("aws-secret-from-a-file\n"), *out;

	(void)state;
	setenv("GH_TOKEN", "ghp_distinctive_token", 1);
	setenv("GITHUB_REPOSITORY", "owner/repo", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIDDISTINCTIVE", 1);
	setenv("AWS_SECRET_ACCESS_KEY_FILE", path, 1);
	setenv("AWS_REGION", "eu-central-1", 1);
	setenv("ARTIFACTD_HTTP_ATTEMPTS", "2", 1);
	config_defaults(&cfg);
	assert_int_equal(cfg.publish_env.http_attempts, 5);
	assert_int_equal(cfg.publish_env.http_backoff_ms, 1000);
	assert_int_equal(config_load(&cfg, NULL, &err), 0);
	assert_string_equal(cfg.publish_env.gh_token, "ghp_distinctive_token");
	assert_string_equal(cfg.publish_env.github_repository, "owner/repo");
	assert_string_equal(cfg.publish_env.aws_access_key_id,
	    "AKIDDISTINCTIVE");
	assert_string_equal(cfg.publish_env.aws_secret_access_key,
	    "aws-secret-from-a-file");
	assert_string_equal(cfg.publish_env.aws_region, "eu-central-1");
	assert_int_equal(cfg.publish_env.http_attempts, 2);
	assert_true(config_is_secret("gh-token"));
	assert_true(config_is_secret("aws-secret-access-key"));
	assert_false(config_is_secret("aws-region"));
	out = printed(&cfg);
	assert_non_null(strstr(out, "gh-token"));
	assert_non_null(strstr(out, "aws-secret-access-key"));
	assert_non_null(strstr(out, "github-repository"));
	assert_non_null(strstr(out, "owner/repo"));
	assert_non_null(strstr(out, "eu-central-1"));
	assert_null(strstr(out, "ghp_distinctive_token"));
	assert_null(strstr(out, "AKIDDISTINCTIVE"));
	assert_null(strstr(out, "aws-secret-from-a-file"));
	free(out);
	/* a bad retry count is refused where it enters */
	setenv("ARTIFACTD_HTTP_ATTEMPTS", "many", 1);
	assert_int_equal(config_load(&cfg, NULL, &err), ERR_INVALID);
	unsetenv("GH_TOKEN");
	unsetenv("GITHUB_REPOSITORY");
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY_FILE");
	unsetenv("AWS_REGION");
	unsetenv("ARTIFACTD_HTTP_ATTEMPTS");
	config_dispose(&cfg);
	unlink(path);
}

/* A FIFO named by NAME_FILE is refused at once: the old reader opened it
 * blocking and waited for a writer forever (the alarm turns that hang
 * into a failure). */
static void
test_secret_file_fifo_refused(void **state)
{
	char path[] = "/tmp/test_config_fifo.XXXXXX", fifo[64];
	struct config cfg;
	struct error err = { 0 };

	(void)state;
	assert_non_null(mkdtemp(path));
	snprintf(fifo, sizeof(fifo), "%s/fifo", path);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	setenv("ARTIFACTD_REDIS_URL_FILE", fifo, 1);
	config_defaults(&cfg);
	alarm(10);
	assert_int_equal(config_load(&cfg, NULL, &err), ERR_INVALID);
	alarm(0);
	assert_non_null(strstr(err.msg, "not a regular file"));
	unsetenv("ARTIFACTD_REDIS_URL_FILE");
	config_dispose(&cfg);
	unlink(fifo);
	rmdir(path);
}

/* A config file that must be refused, with its line in the message. */
static void
expect_refused(const char *text, const char *what)
{
	struct config cfg;
	struct error err = { 0 };
	char *path = write_tmp(text);

	config_defaults(&cfg);
	assert_int_equal(config_load(&cfg, path, &err), ERR_INVALID);
	if (strstr(err.msg, what) == NULL)
		fail_msg("'%s' not in '%s'", what, err.msg);
	config_dispose(&cfg);
	unlink(path);
}

static void
test_refused_before_the_daemon_runs(void **state)
{
	(void)state;
	/* Two spellings of one setting, or of one key of a target. */
	expect_refused("group: g\nredis_url: redis://h:1/0\n"
	               "redis-url: redis://h:2/0\n",
	    ":3: redis-url sets redis-url again (first on line 2)");
	expect_refused("repo: a.git\nrepo_path: b.git\n",
	    ":2: repo_path sets repo again (first on line 1)");
	expect_refused("targets:\n  gh:\n    type: github\n"
	               "    token: a\n    token: b\n",
	    ":5: target gh: token is given twice (first on line 4)");
	expect_refused("targets:\n  gh: {type: github}\n  gh: {type: pypi}\n",
	    ":3: target gh is given twice");
	expect_refused(
	    "targets:\n  a: {type: pypi}\ntargets:\n  b: {type: s3}\n",
	    ":3: targets sets targets again");
	expect_refused("targets:\n  p: {type: pypi}\npackages:\n"
	               "  x: {tag_patterns: ['v*'], tag-pattern: 'w*', "
	               "targets: [p]}\n",
	    "gives the tag patterns twice");
	/* An unknown type, a misspelt key: named with their line. */
	expect_refused(
	    "targets:\n  gh:\n    repository: a/b\n    type: gitlab\n",
	    ":4: target gh has unknown type 'gitlab'");
	expect_refused(
	    "targets:\n  gh:\n    type: github\n    repositry: a/b\n",
	    ":4: target gh has unknown key 'repositry' for type github");
	expect_refused("targets:\n  w: {type: s3, bucket: b, regoin: x}\n",
	    ":2: target w has unknown key 'regoin'");
	/* Branch names git would refuse. */
	expect_refused("branch_prefix: 'bad prefix'\n",
	    ":1: branch-prefix 'bad prefix' does not make valid git branch");
	expect_refused("base-branch: 'a..b'\n", ":1: base-branch 'a..b'");
}

static void
test_known_keys_accepted(void **state)
{
	struct config cfg;
	struct error err = { 0 };
	char *path = write_tmp(
	    "targets:\n"
	    "  p: {type: pypi, url: 'http://x/', token_env: T, "
	    "password_file: /f, strict_filenames: 'false'}\n"
	    "  w: {type: s3, bucket: b, region: r, access_key_id_file: /k}\n"
	    "  c: {type: codeartifact, domain: d, repository: r, "
	    "domain_owner: '1'}\n"
	    "  a: {type: artifactory, url: 'http://x/', repository: r, "
	    "api: plain}\n");

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_load(&cfg, path, &err), 0);
	assert_int_equal(cfg.ntargets, 4);
	assert_int_equal(config_validate(&cfg, &err), 0);
	config_dispose(&cfg);
	unlink(path);
	/* A flag or variable is checked like the file. */
	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "branch-prefix", "bad prefix", &err),
	    ERR_INVALID);
	assert_non_null(strstr(err.msg, "branch-prefix"));
	assert_int_equal(config_set(&cfg, "branch-prefix", "ai/ok", &err), 0);
	config_dispose(&cfg);
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
		cmocka_unit_test(test_git_credentials_are_settings),
		cmocka_unit_test(test_publisher_names_are_settings),
		cmocka_unit_test(test_secret_file_fifo_refused),
		cmocka_unit_test(test_refused_before_the_daemon_runs),
		cmocka_unit_test(test_known_keys_accepted),
	};

	unsetenv("ARTIFACTD_CONFIG");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
