/*
 * test_repos.c - the workflow -> repository map (worker/repos.c): a
 * workflow id that cannot name a directory is refused, templates are
 * checked as check-config does, three workflows get three repositories
 * that repos_each finds again, and the map stays bounded.
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

#include "common/error.h"
#include "store/store.h"
#include "worker/config.h"
#include "worker/repos.h"

static void
test_workflow_ok(void **state)
{
	static const char *const bad[] = { "", ".", "..", "a/b", "a..b",
		"../etc", "a b", "a\\b", "\x01", "caf\xc3\xa9" };
	struct error err;
	size_t i;

	(void)state;
	assert_int_equal(repos_workflow_ok("wf_rsi-1.2", NULL), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error_clear(&err);
		assert_int_equal(repos_workflow_ok(bad[i], &err), ERR_INVALID);
		assert_string_equal(err.code, "PATH_REJECTED");
	}
	assert_int_equal(repos_workflow_ok(NULL, NULL), ERR_INVALID);
}

/* check with repo and remote-url set as given. */
static int
check(const char *repo, const char *url)
{
	struct config cfg;
	struct error err;
	int rc;

	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "repo", repo, NULL), 0);
	if (url != NULL)
		assert_int_equal(config_set(&cfg, "remote-url", url, NULL), 0);
	error_clear(&err);
	rc = repos_config_check(&cfg, &err);
	if (rc < 0)
		assert_string_equal(err.code, "INVALID_CONFIG");
	config_dispose(&cfg);
	return rc;
}

static void
test_config_check(void **state)
{
	(void)state;
	assert_int_equal(check("/d/repo.git", NULL), 0);
	assert_int_equal(check("/d/{workflow_id}.git", NULL), 0);
	assert_int_equal(check("/d/{workflow_id}.git",
	                     "git://127.0.0.1:9/{workflow_id}.git"),
	    0);
	assert_int_equal(check("/d/{workflow_id}.git",
	                     "https://example.com/org/{workflow_id}"),
	    0);
	/* A templated URL needs a templated repo. */
	assert_int_equal(check("/d/one.git", "git://127.0.0.1:9/{workflow_id}"),
	    ERR_INVALID);
	/* Only {workflow_id}. */
	assert_int_equal(check("/d/{task_id}/{workflow_id}", NULL),
	    ERR_INVALID);
	assert_int_equal(check("/d/{workflow_id}.git",
	                     "git://127.0.0.1:9/{workflow}.git"),
	    ERR_INVALID);
	/* Found by globbing: no glob characters, one placeholder. */
	assert_int_equal(check("/d/*/{workflow_id}", NULL), ERR_INVALID);
	assert_int_equal(check("/d/{workflow_id}/{workflow_id}", NULL),
	    ERR_INVALID);
	/* The URL with an id substituted must still be one libgit2 takes. */
	assert_int_equal(check("/d/{workflow_id}", "nope://{workflow_id}"),
	    ERR_INVALID);
}

static int
count_each(struct store *st, const char *workflow_id, void *arg)
{
	char **seen = arg;
	size_t i;

	assert_non_null(st);
	assert_non_null(workflow_id);
	for (i = 0; seen[i] != NULL; i++)
		;
	seen[i] = strdup(workflow_id);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_three_repositories(void **state)
{
	char dir[] = "/tmp/test-repos-XXXXXX", tmpl[128], path[160];
	char *seen[8] = { 0 };
	static const char *const wfs[] = { "wf_a", "wf_b", "wf_c" };
	struct store *st[3], *again;
	struct config cfg;
	struct repos *r;
	struct error err;
	size_t i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(tmpl, sizeof(tmpl), "%s/{workflow_id}.git", dir);
	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "repo", tmpl, NULL), 0);
	assert_int_equal(repos_open(&r, &cfg, NULL, &err), 0);
	assert_null(repos_single(r));
	for (i = 0; i < 3; i++)
		assert_int_equal(repos_get(r, wfs[i], &st[i], &err), 0);
	assert_ptr_not_equal(st[0], st[1]);
	assert_ptr_not_equal(st[1], st[2]);
	/* The same workflow: the same open store. */
	assert_int_equal(repos_get(r, "wf_b", &again, &err), 0);
	assert_ptr_equal(again, st[1]);
	repos_put(r, again);
	for (i = 0; i < 3; i++) {
		repos_put(r, st[i]);
		snprintf(path, sizeof(path), "%s/%s.git/HEAD", dir, wfs[i]);
		assert_int_equal(access(path, F_OK), 0);
	}
	/* A hostile id never reaches the file system. */
	error_clear(&err);
	assert_int_equal(repos_get(r, "..", &again, &err), ERR_INVALID);
	assert_string_equal(err.code, "PATH_REJECTED");
	/* A directory that is not a template's (no valid id) is skipped. */
	snprintf(path, sizeof(path), "%s/not an id.git", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(repos_each(r, count_each, seen, &err), 0);
	qsort(seen, 3, sizeof(char *), cmp_str);
	for (i = 0; i < 3; i++) {
		assert_non_null(seen[i]);
		assert_string_equal(seen[i], wfs[i]);
		free(seen[i]);
	}
	assert_null(seen[3]);
	repos_free(r);
	config_dispose(&cfg);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

/* More workflows than REPOS_OPEN_MAX (64) in turn: every one is opened,
 * used and given back, and the map never holds them all. */
static void
test_bounded(void **state)
{
	char dir[] = "/tmp/test-repos-XXXXXX", tmpl[128], wf[32], cmd[160];
	struct config cfg;
	struct store *st;
	struct repos *r;
	struct error err;
	int i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(tmpl, sizeof(tmpl), "%s/{workflow_id}", dir);
	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "repo", tmpl, NULL), 0);
	assert_int_equal(repos_open(&r, &cfg, NULL, &err), 0);
	for (i = 0; i < 70; i++) {
		snprintf(wf, sizeof(wf), "wf_%d", i);
		assert_int_equal(repos_get(r, wf, &st, &err), 0);
		repos_put(r, st);
	}
	assert_true(repos_open_count(r) <= 64);
	repos_free(r);
	config_dispose(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_workflow_ok),
		cmocka_unit_test(test_config_check),
		cmocka_unit_test(test_three_repositories),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
