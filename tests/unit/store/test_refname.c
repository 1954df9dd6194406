/*
 * test_refname.c - the strings of an event checked before git sees them:
 * ref names (store_ref_name_ok) and the commit trailers, which the secret
 * scanner reads like the files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/xalloc.h"
#include "store/scan.h"
#include "store/store.h"

static void
test_ref_names(void **state)
{
	char *long_branch, *ref;

	(void)state;
	assert_true(store_ref_name_ok("refs/heads/ai/generated/wf/task_1"));
	assert_true(store_ref_name_ok("refs/tags/corr_abc-1.2"));
	/* git's rules, as libgit2 applies them */
	assert_false(store_ref_name_ok("refs/heads/ai/generated/wf/task."));
	assert_false(store_ref_name_ok("refs/tags/corr_c."));
	assert_false(store_ref_name_ok("refs/heads/a..b"));
	assert_false(store_ref_name_ok("refs/heads/x.lock"));
	assert_false(store_ref_name_ok("refs/heads/a b"));
	assert_false(store_ref_name_ok("refs/heads/a\nb"));
	assert_false(store_ref_name_ok("refs/heads/a@{1}"));
	assert_false(store_ref_name_ok("refs/heads//a"));
	assert_false(store_ref_name_ok("refs/heads/a/"));
	assert_false(store_ref_name_ok("refs/heads/.a"));
	assert_false(store_ref_name_ok(NULL));
	/* A component longer than a file name can be (the 5,000-character
	 * rollback branch), and a ref past the total ceiling. */
	long_branch = xcalloc(1, 5001);
	memset(long_branch, 'b', 5000);
	ref = xasprintf("refs/heads/%s", long_branch);
	assert_false(store_ref_name_ok(ref));
	free(ref);
	long_branch[STORE_REF_COMPONENT_MAX] = '\0';
	ref = xasprintf("refs/heads/%s", long_branch);
	assert_true(store_ref_name_ok(ref));
	free(ref);
	long_branch[STORE_REF_COMPONENT_MAX] = 'b';
	long_branch[STORE_REF_COMPONENT_MAX + 1] = '\0';
	ref = xasprintf("refs/heads/%s", long_branch);
	assert_false(store_ref_name_ok(ref));
	free(ref);
	free(long_branch);
	ref = xcalloc(1, STORE_REF_NAME_MAX + 2);
	memcpy(ref, "refs/heads/", 11);
	for (size_t i = 11; i <= STORE_REF_NAME_MAX; i++)
		ref[i] = i % 100 == 0 ? '/' : 'a';
	assert_false(store_ref_name_ok(ref));
	ref[STORE_REF_NAME_MAX] = '\0';
	assert_true(store_ref_name_ok(ref));
	free(ref);
}

/* A secret used as an id is caught in the trailers before anything is
 * written, like one in a file. */
static void
test_trailers_scanned(void **state)
{
	struct store_opts opts = { 0 };
	struct store_commit_result res;
	struct store_commit_req req = { 0 };
	struct store_file file = { "a.py", "x = 1\n", 6 };
	struct scanner *sc;
	struct store *st;
	struct error err = { 0 };
	char dir[] = "/tmp/test_refname_XXXXXX", *repo, *cmd;
	/* from tests/fixtures/secrets/planted.tsv (fake) */
	const char *secret = "AKIALRWFVEALKXWKKXZW";

	(void)state;
	assert_non_null(mkdtemp(dir));
	repo = xasprintf("%s/repo.git", dir);
	opts.repo_path = repo;
	opts.remote_name = "origin";
	opts.base_branch = "main";
	opts.branch_prefix = "ai/generated";
	opts.path_template = "Backtest/codes/{task_id}";
	opts.author_name = "algo-agent-bot";
	opts.author_email = "algo-agent@example.com";
	opts.include_metadata = true;
	opts.metadata_filename = "metadata.json";
	opts.push_timeout_s = 5;
	opts.scan_for_secrets = true;
	assert_int_equal(scanner_new(&sc, NULL, 0, NULL, 0, &err), 0);
	opts.scanner = sc;
	assert_int_equal(store_open(&st, &opts, &err), 0);
	req.event_id = secret;
	req.workflow_id = "wf";
	req.task_id = "t1";
	req.correlation_id = "c1";
	req.files = &file;
	req.nfiles = 1;
	assert_int_equal(store_commit(st, &req, &res, &err), ERR_INVALID);
	assert_string_equal(err.code, "SECRET_DETECTED");
	assert_non_null(strstr(err.msg, "commit message"));
	assert_null(strstr(err.msg, secret));
	cmd = xasprintf("test $(find '%s/objects' -type f | wc -l) = 0", repo);
	assert_int_equal(system(cmd), 0); /* nothing written */
	free(cmd);
	/* The same request with a plain id commits. */
	req.event_id = "evt-1";
	assert_int_equal(store_commit(st, &req, &res, &err), 0);
	store_commit_result_dispose(&res);
	store_free(st);
	scanner_free(sc);
	cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(repo);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_names),
		cmocka_unit_test(test_trailers_scanned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
