/*
 * test_store.c - the store's commit path against real temporary
 * repositories: tree paths and bytes, metadata.json, trailers, tags (first
 * wins), duplicate detection from git alone, the base branch, input
 * checks, list/show/revert, and concurrent commits from threads and from
 * processes sharing one repository.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <git2.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/xalloc.h"
#include "store/scan.h"
#include "store/store.h"

struct fixture {
	char dir[256];
	char repo[300];
	struct store_opts opts;
	struct store *st;
};

static void
rmrf(const char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);

	if (getenv("KEEP_TEST_DIRS") == NULL)
		assert_int_equal(system(cmd), 0);
	free(cmd);
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct error err;

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_store_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->repo, sizeof(f->repo), "%s/repo.git", f->dir);
	f->opts.repo_path = f->repo;
	f->opts.remote_name = "origin";
	f->opts.base_branch = "main";
	f->opts.branch_prefix = "ai/generated";
	f->opts.path_template = "Backtest/codes/{task_id}";
	f->opts.author_name = "algo-agent-bot";
	f->opts.author_email = "algo-agent@example.com";
	f->opts.include_metadata = true;
	f->opts.metadata_filename = "metadata.json";
	f->opts.push_timeout_s = 5;
	f->opts.require_correlation_id = true;
	assert_int_equal(store_open(&f->st, &f->opts, &err), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_free(f->st);
	rmrf(f->dir);
	free(f);
	return 0;
}

/* A request with two files whose bytes depend on `salt`. */
struct req_buf {
	struct store_commit_req req;
	struct store_file files[2];
	char a[128], b[128];
	cJSON *metrics, *extra;
};

static void
req_init(struct req_buf *rb, const char *event_id, const char *wf,
    const char *task, const char *corr, const char *prompt, int salt)
{
	memset(rb, 0, sizeof(*rb));
	snprintf(rb->a, sizeof(rb->a), "def signal(p):\n    return %d\n", salt);
	snprintf(rb->b, sizeof(rb->b), "id,side,price\n1,BUY,%d.5\n", salt);
	rb->files[0] =
	    (struct store_file){ "strategy.py", rb->a, strlen(rb->a) };
	rb->files[1] =
	    (struct store_file){ "trades.csv", rb->b, strlen(rb->b) };
	rb->metrics = cJSON_Parse("{\"total_trades\":12,\"net_pnl\":120.5}");
	rb->extra = cJSON_Parse("{\"prompt\":\"Generate RSI\",\"task_id\":"
	                        "\"must-not-override\"}");
	rb->req.event_id = event_id;
	rb->req.workflow_id = wf;
	rb->req.task_id = task;
	rb->req.correlation_id = corr;
	rb->req.prompt_hash = prompt;
	rb->req.agent_version = "coder-v1.0";
	rb->req.llm_version = "gpt-4";
	rb->req.test_metrics = rb->metrics;
	rb->req.extra = rb->extra;
	rb->req.files = rb->files;
	rb->req.nfiles = 2;
}

static void
req_dispose(struct req_buf *rb)
{
	cJSON_Delete(rb->metrics);
	cJSON_Delete(rb->extra);
}

/* Read a file of a commit through libgit2; caller frees. */
static char *
read_at(const char *repo_path, const char *rev, const char *path)
{
	git_repository *repo;
	git_object *obj;
	git_tree *tree;
	git_tree_entry *e;
	git_blob *blob;
	git_commit *c;
	char *out;

	assert_int_equal(git_repository_open_bare(&repo, repo_path), 0);
	assert_int_equal(git_revparse_single(&obj, repo, rev), 0);
	assert_int_equal(git_object_peel((git_object **)&c, obj,
	                     GIT_OBJECT_COMMIT),
	    0);
	assert_int_equal(git_commit_tree(&tree, c), 0);
	if (git_tree_entry_bypath(&e, tree, path) != 0) {
		out = NULL;
	} else {
		assert_int_equal(git_blob_lookup(&blob, repo,
		                     git_tree_entry_id(e)),
		    0);
		out = xstrndup(git_blob_rawcontent(blob),
		    (size_t)git_blob_rawsize(blob));
		git_blob_free(blob);
		git_tree_entry_free(e);
	}
	git_tree_free(tree);
	git_commit_free(c);
	git_object_free(obj);
	git_repository_free(repo);
	return out;
}

static char *
rev_sha(const char *repo_path, const char *rev)
{
	git_repository *repo;
	git_object *obj;
	git_commit *c;
	char *out = NULL;

	assert_int_equal(git_repository_open_bare(&repo, repo_path), 0);
	if (git_revparse_single(&obj, repo, rev) == 0) {
		assert_int_equal(git_object_peel((git_object **)&c, obj,
		                     GIT_OBJECT_COMMIT),
		    0);
		out = xstrdup(git_oid_tostr_s(git_commit_id(c)));
		git_commit_free(c);
		git_object_free(obj);
	}
	git_repository_free(repo);
	return out;
}

static char *
rev_message(const char *repo_path, const char *rev)
{
	git_repository *repo;
	git_object *obj;
	git_commit *c;
	char *out;

	assert_int_equal(git_repository_open_bare(&repo, repo_path), 0);
	assert_int_equal(git_revparse_single(&obj, repo, rev), 0);
	assert_int_equal(git_object_peel((git_object **)&c, obj,
	                     GIT_OBJECT_COMMIT),
	    0);
	out = xstrdup(git_commit_message(c));
	git_commit_free(c);
	git_object_free(obj);
	git_repository_free(repo);
	return out;
}

static int
count_commits(const char *repo_path, const char *rev)
{
	char *cmd =
	    xasprintf("git --git-dir='%s' rev-list --count %s", repo_path, rev);
	FILE *p = popen(cmd, "r");
	int n = -1;

	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
	free(cmd);
	return n;
}

static bool
has_str(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static void
test_commit_layout(void **state)
{
	struct fixture *f = *state;
	struct store_commit_result res;
	struct req_buf rb;
	struct error err;
	char *s, *msg;
	cJSON *m, *files;
	const char *order[] = { "workflow_id", "task_id", "correlation_id",
		"prompt_hash", "commit_timestamp", "agent_version",
		"llm_version", "test_metrics", "files", "prompt" };
	cJSON *it;
	size_t i = 0;

	req_init(&rb, "ev-1", "wf_rsi", "task_coder_001", "abc123", "7a8b9c0d",
	    1);
	assert_int_equal(store_commit(f->st, &rb.req, &res, &err), 0);
	assert_string_equal(res.branch, "ai/generated/wf_rsi/task_coder_001");
	assert_int_equal(strlen(res.commit_sha), 40);
	assert_false(res.duplicate);
	assert_false(res.pushed);
	assert_int_equal(res.ntags, 2);
	assert_true(has_str(res.tags, res.ntags, "corr_abc123"));
	assert_true(has_str(res.tags, res.ntags, "prompt_7a8b9c0d"));
	assert_int_equal(res.ntags_existing, 0);
	assert_int_equal(res.nfiles, 3);
	assert_string_equal(res.files[0],
	    "Backtest/codes/task_coder_001/strategy.py");
	assert_string_equal(res.files[2],
	    "Backtest/codes/task_coder_001/metadata.json");

	/* Bytes as given, at the template's path. */
	s = read_at(f->repo, "ai/generated/wf_rsi/task_coder_001",
	    "Backtest/codes/task_coder_001/strategy.py");
	assert_string_equal(s, rb.a);
	free(s);
	s = read_at(f->repo, "corr_abc123",
	    "Backtest/codes/task_coder_001/trades.csv");
	assert_string_equal(s, rb.b);
	free(s);

	/* metadata.json in the seed's schema and order, extras after. */
	s = read_at(f->repo, "corr_abc123",
	    "Backtest/codes/task_coder_001/metadata.json");
	m = cJSON_Parse(s);
	assert_non_null(m);
	cJSON_ArrayForEach(it, m) {
		assert_true(i < sizeof(order) / sizeof(order[0]));
		assert_string_equal(it->string, order[i]);
		i++;
	}
	assert_int_equal(i, sizeof(order) / sizeof(order[0]));
	assert_string_equal(cJSON_GetObjectItem(m, "task_id")->valuestring,
	    "task_coder_001");
	assert_string_equal(
	    cJSON_GetObjectItem(m, "correlation_id")->valuestring, "abc123");
	assert_string_equal(cJSON_GetObjectItem(m, "prompt_hash")->valuestring,
	    "7a8b9c0d");
	assert_int_equal(strlen(cJSON_GetObjectItem(m, "commit_timestamp")
	                            ->valuestring),
	    20);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(m,
	                                         "test_metrics"),
	                     "total_trades")
	                     ->valueint,
	    12);
	files = cJSON_GetObjectItem(m, "files");
	assert_int_equal(cJSON_GetArraySize(files), 3);
	assert_string_equal(cJSON_GetArrayItem(files, 2)->valuestring,
	    "Backtest/codes/task_coder_001/metadata.json");
	cJSON_Delete(m);
	free(s);

	/* Trailers. */
	msg = rev_message(f->repo, res.commit_sha);
	assert_non_null(strstr(msg, "\nEvent-Id: ev-1\n"));
	assert_non_null(strstr(msg, "\nCorrelation-Id: abc123\n"));
	assert_non_null(strstr(msg, "\nWorkflow-Id: wf_rsi\n"));
	assert_non_null(strstr(msg, "\nTask-Id: task_coder_001\n"));
	free(msg);
	/* No base branch: a root commit. */
	assert_int_equal(count_commits(f->repo, res.commit_sha), 1);
	store_commit_result_dispose(&res);
	req_dispose(&rb);
}

static void
test_duplicates(void **state)
{
	struct fixture *f = *state;
	struct store_commit_result r1, r2, r3, r4;
	struct req_buf rb;
	struct error err;

	req_init(&rb, "ev-1", "wf", "t1", "c1", "p1", 1);
	assert_int_equal(store_commit(f->st, &rb.req, &r1, &err), 0);
	/* The same event again: the original answer, nothing written. */
	assert_int_equal(store_commit(f->st, &rb.req, &r2, &err), 0);
	assert_true(r2.duplicate);
	assert_string_equal(r2.commit_sha, r1.commit_sha);
	assert_true(has_str(r2.tags, r2.ntags, "corr_c1"));
	assert_int_equal(count_commits(f->repo, "ai/generated/wf/t1"), 1);
	/* Another event id, same correlation/task and same bytes. */
	rb.req.event_id = "ev-2";
	assert_int_equal(store_commit(f->st, &rb.req, &r3, &err), 0);
	assert_true(r3.duplicate);
	assert_string_equal(r3.commit_sha, r1.commit_sha);
	assert_int_equal(count_commits(f->repo, "ai/generated/wf/t1"), 1);
	req_dispose(&rb);

	/* New bytes for the same correlation: a second commit on the same
	 * branch; the corr_ tag stays on the first (first wins). */
	req_init(&rb, "ev-3", "wf", "t1", "c1", "p1", 2);
	assert_int_equal(store_commit(f->st, &rb.req, &r4, &err), 0);
	assert_false(r4.duplicate);
	assert_string_not_equal(r4.commit_sha, r1.commit_sha);
	assert_int_equal(count_commits(f->repo, "ai/generated/wf/t1"), 2);
	assert_int_equal(r4.ntags, 0);
	assert_int_equal(r4.ntags_existing, 2);
	assert_true(has_str(r4.tags_existing, r4.ntags_existing, "corr_c1"));
	{
		char *sha = rev_sha(f->repo, "refs/tags/corr_c1");

		assert_string_equal(sha, r1.commit_sha);
		free(sha);
	}
	/* ev-1 is still recognised with a newer commit on top. */
	req_dispose(&rb);
	req_init(&rb, "ev-1", "wf", "t1", "c1", "p1", 1);
	store_commit_result_dispose(&r2);
	assert_int_equal(store_commit(f->st, &rb.req, &r2, &err), 0);
	assert_true(r2.duplicate);
	assert_string_equal(r2.commit_sha, r1.commit_sha);
	req_dispose(&rb);
	store_commit_result_dispose(&r1);
	store_commit_result_dispose(&r2);
	store_commit_result_dispose(&r3);
	store_commit_result_dispose(&r4);
}

static void
test_seed_corr_prefix_and_prompt_first_wins(void **state)
{
	struct fixture *f = *state;
	struct store_commit_result r1, r2;
	struct req_buf rb;
	struct error err;

	/* The seed passes "corr_test123" and expects that very tag. */
	req_init(&rb, "e1", "wf_test", "task_001", "corr_test123", "hh", 1);
	assert_int_equal(store_commit(f->st, &rb.req, &r1, &err), 0);
	assert_true(has_str(r1.tags, r1.ntags, "corr_test123"));
	req_dispose(&rb);
	/* Another task with the same prompt: prompt_ tag stays put. */
	req_init(&rb, "e2", "wf_test", "task_002", "corr_x", "hh", 2);
	assert_int_equal(store_commit(f->st, &rb.req, &r2, &err), 0);
	assert_true(has_str(r2.tags, r2.ntags, "corr_x"));
	assert_true(has_str(r2.tags_existing, r2.ntags_existing, "prompt_hh"));
	{
		char *sha = rev_sha(f->repo, "refs/tags/prompt_hh");

		assert_string_equal(sha, r1.commit_sha);
		free(sha);
	}
	req_dispose(&rb);
	store_commit_result_dispose(&r1);
	store_commit_result_dispose(&r2);
}

static void
test_base_branch(void **state)
{
	struct fixture *f = *state;
	struct store_commit_result res;
	struct req_buf rb;
	struct error err;
	char *cmd, *s;

	cmd = xasprintf("set -e; cd '%s'; git init -q -b main work; cd work;"
	                " echo hello > README; git add README;"
	                " git -c user.name=t -c user.email=t@e commit -qm init;"
	                " git push -q '%s' main",
	    f->dir, f->repo);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	req_init(&rb, "e1", "wf", "t1", "c1", NULL, 1);
	assert_int_equal(store_commit(f->st, &rb.req, &res, &err), 0);
	assert_int_equal(count_commits(f->repo, res.commit_sha), 2);
	s = read_at(f->repo, res.commit_sha, "README");
	assert_string_equal(s, "hello\n");
	free(s);
	assert_int_equal(res.ntags, 1); /* no prompt hash: no prompt_ tag */
	store_commit_result_dispose(&res);
	req_dispose(&rb);
}

static void
test_rejections(void **state)
{
	struct fixture *f = *state;
	struct store_commit_result res;
	struct req_buf rb;
	struct error err;
	const char *bad[] = { "../x.py", "/abs.py", "a/../b", ".git/config",
		"a//b", "dir/", "", "x y.py" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		req_init(&rb, "e1", "wf", "t1", "c1", NULL, 1);
		rb.files[0].name = bad[i];
		assert_int_equal(store_commit(f->st, &rb.req, &res, &err),
		    ERR_INVALID);
		assert_string_equal(err.code, "PATH_REJECTED");
		req_dispose(&rb);
	}
	req_init(&rb, "e1", "wf", "t1", "c1", NULL, 1);
	rb.files[1].name = "metadata.json";
	assert_int_equal(store_commit(f->st, &rb.req, &res, &err), ERR_INVALID);
	rb.files[1].name = "strategy.py"; /* twice */
	assert_int_equal(store_commit(f->st, &rb.req, &res, &err), ERR_INVALID);
	req_dispose(&rb);

	req_init(&rb, "e1", "wf/../x", "t1", "c1", NULL, 1);
	assert_int_equal(store_commit(f->st, &rb.req, &res, &err), ERR_INVALID);
	assert_string_equal(err.code, "INVALID_EVENT");
	req_dispose(&rb);
	req_init(&rb, "e1", "wf", "t1", NULL, NULL, 1);
	assert_int_equal(store_commit(f->st, &rb.req, &res, &err), ERR_INVALID);
	assert_non_null(strstr(err.msg, "correlation_id"));
	req_dispose(&rb);
	req_init(&rb, "bad id", "wf", "t1", "c1", NULL, 1);
	assert_int_equal(store_commit(f->st, &rb.req, &res, &err), ERR_INVALID);
	req_dispose(&rb);
	/* Nothing was written by any of these. */
	assert_null(rev_sha(f->repo, "ai/generated/wf/t1"));
}

static void
test_list_show_revert(void **state)
{
	struct fixture *f = *state;
	struct store_commit_result r1, r2;
	struct req_buf rb;
	struct error err;
	cJSON *arr, *o, *o2;
	char *cmd, *s;

	cmd = xasprintf("set -e; cd '%s'; git init -q -b main work; cd work;"
	                " echo v0 > README; git add README;"
	                " git -c user.name=t -c user.email=t@e commit -qm init;"
	                " git push -q '%s' main",
	    f->dir, f->repo);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	req_init(&rb, "e1", "wf_a", "t1", "ca", NULL, 1);
	assert_int_equal(store_commit(f->st, &rb.req, &r1, &err), 0);
	req_dispose(&rb);
	req_init(&rb, "e2", "wf_b", "t2", "cb", NULL, 2);
	assert_int_equal(store_commit(f->st, &rb.req, &r2, &err), 0);
	req_dispose(&rb);

	assert_int_equal(store_list(f->st, &arr, NULL, 10, &err), 0);
	assert_int_equal(cJSON_GetArraySize(arr), 2);
	cJSON_Delete(arr);
	assert_int_equal(store_list(f->st, &arr, "wf_b", 10, &err), 0);
	assert_int_equal(cJSON_GetArraySize(arr), 1);
	o = cJSON_GetArrayItem(arr, 0);
	assert_string_equal(cJSON_GetObjectItem(o, "task_id")->valuestring,
	    "t2");
	assert_string_equal(cJSON_GetObjectItem(o, "commit_sha")->valuestring,
	    r2.commit_sha);
	cJSON_Delete(arr);
	assert_int_equal(store_list(f->st, &arr, NULL, 1, &err), 0);
	assert_int_equal(cJSON_GetArraySize(arr), 1);
	cJSON_Delete(arr);

	assert_int_equal(store_show(f->st, &o, "ca", &err), 0);
	assert_string_equal(cJSON_GetObjectItem(o, "commit_sha")->valuestring,
	    r1.commit_sha);
	assert_string_equal(cJSON_GetObjectItem(o, "branch")->valuestring,
	    "ai/generated/wf_a/t1");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "files")),
	    3);
	cJSON_Delete(o);
	assert_int_equal(store_show(f->st, &o, "corr_ca", &err), 0);
	cJSON_Delete(o);
	assert_int_equal(store_show(f->st, &o, "nope", &err), ERR_NOTFOUND);

	/* Revert main to corr_ca: a new commit, main's tree = the tag's. */
	assert_int_equal(store_revert(f->st, &o, "corr_ca", "main", "rv-1",
	                     &err),
	    0);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(o, "duplicate")));
	assert_int_equal(count_commits(f->repo, "main"), 2);
	s = read_at(f->repo, "main", "Backtest/codes/t1/strategy.py");
	assert_non_null(s);
	free(s);
	assert_int_equal(store_revert(f->st, &o2, "corr_ca", "main", "rv-1",
	                     &err),
	    0);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o2, "duplicate")));
	assert_string_equal(cJSON_GetObjectItem(o, "commit_sha")->valuestring,
	    cJSON_GetObjectItem(o2, "commit_sha")->valuestring);
	cJSON_Delete(o);
	cJSON_Delete(o2);
	assert_int_equal(count_commits(f->repo, "main"), 2);
	/* Revert to a tag on another task's tree: t1's files go away. */
	assert_int_equal(store_revert(f->st, &o, "corr_cb", "main", NULL, &err),
	    0);
	cJSON_Delete(o);
	assert_null(read_at(f->repo, "main", "Backtest/codes/t1/strategy.py"));
	assert_int_equal(count_commits(f->repo, "main"), 3);
	assert_int_equal(store_revert(f->st, &o, "nope", "main", NULL, &err),
	    ERR_NOTFOUND);
	assert_int_equal(store_revert(f->st, &o, "corr_ca", "nobranch", NULL,
	                     &err),
	    ERR_NOTFOUND);
	store_commit_result_dispose(&r1);
	store_commit_result_dispose(&r2);
}

/* A secret aborts the commit before anything is written, and neither
 * the error nor the log names it. */
static void
test_secret_aborts(void **state)
{
	struct fixture *f = *state;
	struct store_commit_result res;
	struct store *st;
	struct scanner *sc;
	struct req_buf rb;
	struct error err;
	const char *secret = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
	char code[256], *n;

	assert_int_equal(scanner_new(&sc, NULL, 0, NULL, 0, &err), 0);
	f->opts.scanner = sc;
	f->opts.scan_for_secrets = true;
	assert_int_equal(store_open(&st, &f->opts, &err), 0);
	req_init(&rb, "e1", "wf", "t1", "c1", "p1", 1);
	snprintf(code, sizeof(code), "STRIPE_KEY = \"%s\"\n", secret);
	rb.files[1].name = "config.py";
	rb.files[1].data = code;
	rb.files[1].len = strlen(code);
	assert_int_equal(store_commit(st, &rb.req, &res, &err), ERR_INVALID);
	assert_string_equal(err.code, "SECRET_DETECTED");
	assert_non_null(strstr(err.msg, "config.py"));
	assert_null(strstr(err.msg, secret));
	assert_null(rev_sha(f->repo, "ai/generated/wf/t1"));
	assert_null(rev_sha(f->repo, "refs/tags/corr_c1"));
	n = xasprintf("test $(find '%s/objects' -type f | wc -l) = 0", f->repo);
	assert_int_equal(system(n), 0); /* not one object */
	free(n);
	/* Clean content goes through the same scanner. */
	req_dispose(&rb);
	req_init(&rb, "e2", "wf", "t1", "c1", "p1", 1);
	assert_int_equal(store_commit(st, &rb.req, &res, &err), 0);
	store_commit_result_dispose(&res);
	req_dispose(&rb);
	store_free(st);
	scanner_free(sc);
	f->opts.scanner = NULL;
}

/* A lock left by a killed process does not block the branch forever:
 * after many lost attempts a lock older than a minute is removed. A
 * fresh lock is respected (the commit gives up with ERR_TRANSIENT). */
static void
test_stale_lock(void **state)
{
	struct fixture *f = *state;
	struct store_commit_result res;
	struct req_buf rb;
	struct error err;
	char *cmd;

	cmd = xasprintf("mkdir -p '%s/refs/heads/ai/generated/wf' && "
	                "touch '%s/refs/heads/ai/generated/wf/t1.lock'",
	    f->repo, f->repo);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	req_init(&rb, "e1", "wf", "t1", "c1", NULL, 1);
	assert_int_equal(store_commit(f->st, &rb.req, &res, &err),
	    ERR_TRANSIENT);
	assert_null(rev_sha(f->repo, "ai/generated/wf/t1"));
	cmd = xasprintf("touch -d '2 hours ago' "
	                "'%s/refs/heads/ai/generated/wf/t1.lock'",
	    f->repo);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(store_commit(f->st, &rb.req, &res, &err), 0);
	assert_false(res.duplicate);
	store_commit_result_dispose(&res);
	req_dispose(&rb);
}

/*
 * An error of the operating system while writing (here a file-size limit
 * of 0 makes every write fail with EFBIG, as a full disk fails with
 * ENOSPC) is transient: the event is retried and, when the attempts run
 * out, dead-lettered, never acknowledged as failed for good. Once writes
 * work again the same request commits.
 */
static void
test_os_error_transient(void **state)
{
	struct fixture *f = *state;
	struct store_commit_result res;
	struct req_buf rb;
	struct error err;
	struct rlimit old, zero;

	req_init(&rb, "e-os", "wf", "t-os", "c-os", NULL, 7);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	zero = old;
	zero.rlim_cur = 0;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &zero), 0);
	assert_int_equal(store_commit(f->st, &rb.req, &res, &err),
	    ERR_TRANSIENT);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_string_equal(err.code, "IO");
	assert_non_null(strstr(err.msg, "too large"));
	assert_null(rev_sha(f->repo, "ai/generated/wf/t-os"));
	assert_int_equal(store_commit(f->st, &rb.req, &res, &err), 0);
	assert_false(res.duplicate);
	store_commit_result_dispose(&res);
	req_dispose(&rb);
}

/* Concurrency: threads on one struct store, processes on one repo. */
struct worker_arg {
	struct store *st;
	int id, n, failures;
};

static void *
thread_main(void *p)
{
	struct worker_arg *a = p;
	struct store_commit_result res;
	struct req_buf rb;
	struct error err;
	char ev[64], corr[64];

	for (int i = 0; i < a->n; i++) {
		snprintf(ev, sizeof(ev), "ev-%d-%d", a->id, i);
		snprintf(corr, sizeof(corr), "c-%d-%d", a->id, i);
		req_init(&rb, ev, "wf", "shared", corr, NULL, a->id * 1000 + i);
		if (store_commit(a->st, &rb.req, &res, &err) != 0 ||
		    res.duplicate || res.ntags != 1)
			a->failures++;
		store_commit_result_dispose(&res);
		req_dispose(&rb);
	}
	return NULL;
}

static void
test_threads_one_branch(void **state)
{
	struct fixture *f = *state;
	pthread_t th[4];
	struct worker_arg a[4];
	int i;

	for (i = 0; i < 4; i++) {
		a[i] = (struct worker_arg){ f->st, i, 25, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, thread_main,
		                     &a[i]),
		    0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].failures, 0);
	}
	assert_int_equal(count_commits(f->repo, "ai/generated/wf/shared"), 100);
}

static void
test_processes_one_branch(void **state)
{
	struct fixture *f = *state;
	pid_t pid[4];
	int i, status;
	char *cmd;

	for (i = 0; i < 4; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			struct store *st;
			struct error err;
			struct worker_arg a;

			if (store_open(&st, &f->opts, &err) != 0)
				_exit(10);
			a = (struct worker_arg){ st, i, 100, 0 };
			thread_main(&a);
			store_free(st);
			_exit(a.failures ? 11 : 0);
		}
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(count_commits(f->repo, "ai/generated/wf/shared"), 400);
	cmd = xasprintf(
	    "git --git-dir='%s' fsck --strict --no-dangling --no-progress "
	    "2>&1 && test $(git --git-dir='%s' tag -l 'corr_c-*' "
	    "--format='%%(objectname)' | sort -u | wc -l) = 400",
	    f->repo, f->repo);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_layout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_seed_corr_prefix_and_prompt_first_wins, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_base_branch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rejections, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_list_show_revert, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stale_lock, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_os_error_transient, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_secret_aborts, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_threads_one_branch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_processes_one_branch,
		    setup, teardown),
	};

	git_libgit2_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
