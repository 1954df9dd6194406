/*
 * test_store_remote.c - pushing to a real remote: branch and tags land,
 * a remote that moved is fetched and our commit rebuilt on its tip, unpushed
 * commits go out with store_push_pending(), an empty repository directory
 * is cloned back from the remote (and a redelivered event is still
 * recognised), 4 processes race on one branch, and a server that accepts
 * and never answers is given up at the deadline.
 *
 * Alone (ctest unit_test_store_remote) it uses a bare file:// remote in a
 * temp dir. The integration tests tests/integration/test_store_* start
 * git daemon, lighttpd + git http-backend and sshd, and run this binary
 * with:
 *	STORE_TEST_REMOTE_URL  the URL to push to
 *	STORE_TEST_REMOTE_DIR  the bare repository behind it (for checks)
 *	STORE_TEST_RACE=1      also run the 4-process race (never file://,
 *	                       which does no compare-and-swap)
 *	STORE_TEST_HANG_URL    a server that accepts and stays silent until
 *	STORE_TEST_HANG_FLAG   this file exists, then serves the remote
 * Credentials come from the ARTIFACTD_GIT_* environment (plain values:
 * the daemon reads them, NAME_FILE included, through its settings table
 * and hands them to the store in store_opts.creds, as done here).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/xalloc.h"
#include "store/store.h"

static char g_tmp[256];
static char *g_url;
static char *g_remote_dir;
static int g_seq;

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* First line of a shell command's output; caller frees. */
static char *capture(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static char *
capture(const char *fmt, ...)
{
	char cmd[4096], line[4096] = "";
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_non_null(p = popen(cmd, "r"));
	if (fgets(line, sizeof(line), p) == NULL)
		line[0] = '\0';
	pclose(p);
	line[strcspn(line, "\n")] = '\0';
	return xstrdup(line);
}

static void
opts_init(struct store_opts *o, const char *repo, const char *url)
{
	memset(o, 0, sizeof(*o));
	o->repo_path = repo;
	o->remote_url = url;
	o->remote_name = "origin";
	o->base_branch = "main";
	o->branch_prefix = "ai/generated";
	o->path_template = "Backtest/codes/{task_id}";
	o->author_name = "algo-agent-bot";
	o->author_email = "algo-agent@example.com";
	o->include_metadata = true;
	o->metadata_filename = "metadata.json";
	o->auto_push = true;
	o->push_timeout_s = 30;
	o->require_correlation_id = true;
	o->creds.username = getenv("ARTIFACTD_GIT_USERNAME");
	o->creds.token = getenv("ARTIFACTD_GIT_TOKEN");
	o->creds.password = getenv("ARTIFACTD_GIT_PASSWORD");
	o->creds.ssh_key = getenv("ARTIFACTD_GIT_SSH_KEY");
	o->creds.ssh_pubkey = getenv("ARTIFACTD_GIT_SSH_PUBKEY");
	o->creds.ssh_passphrase = getenv("ARTIFACTD_GIT_SSH_PASSPHRASE");
	o->creds.ssh_host_key = getenv("ARTIFACTD_GIT_SSH_HOST_KEY");
}

/* A fresh local repository path under the temp dir. */
static char *
local_repo(void)
{
	return xasprintf("%s/local-%d-%d.git", g_tmp, (int)getpid(), ++g_seq);
}

struct one {
	struct store_commit_req req;
	struct store_file files[1];
	char data[128];
};

static void
one_init(struct one *o, const char *ev, const char *wf, const char *task,
    const char *corr, int salt)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->data, sizeof(o->data), "print(%d)\n", salt);
	o->files[0] =
	    (struct store_file){ "strategy.py", o->data, strlen(o->data) };
	o->req.event_id = ev;
	o->req.workflow_id = wf;
	o->req.task_id = task;
	o->req.correlation_id = corr;
	o->req.files = o->files;
	o->req.nfiles = 1;
}

/* The remote's value of a ref, "" when absent. */
static char *
remote_ref(const char *ref)
{
	return capture("git --git-dir='%s' rev-parse -q --verify '%s^{commit}'"
	               " 2>/dev/null",
	    g_remote_dir, ref);
}

static void
test_push_branch_and_tags(void **state)
{
	struct store_opts o;
	struct store *st;
	struct store_commit_result res;
	struct error err;
	struct one c;
	char *repo = local_repo(), wf[64], *v;

	(void)state;
	snprintf(wf, sizeof(wf), "wf_push_%d", (int)getpid());
	opts_init(&o, repo, g_url);
	assert_int_equal(store_open(&st, &o, &err), 0);
	one_init(&c, "ev-p1", wf, "t1", "cp1", 1);
	c.req.prompt_hash = "ph_push1";
	assert_int_equal(store_commit(st, &c.req, &res, &err), 0);
	assert_true(res.pushed);
	{
		char *ref = xasprintf("refs/heads/ai/generated/%s/t1", wf);

		v = remote_ref(ref);
		assert_string_equal(v, res.commit_sha);
		free(v);
		free(ref);
	}
	v = remote_ref("refs/tags/corr_cp1");
	assert_string_equal(v, res.commit_sha);
	free(v);
	v = remote_ref("refs/tags/prompt_ph_push1");
	assert_string_equal(v, res.commit_sha);
	free(v);
	store_commit_result_dispose(&res);
	store_free(st);
	free(repo);
}

/* Someone else pushed to our branch first: we fetch, rebuild, push. */
static void
test_nonff_rebuild(void **state)
{
	struct store_opts o1, o2;
	struct store *a, *b;
	struct store_commit_result ra, rb;
	struct error err;
	struct one ca, cb;
	char *ra_repo = local_repo(), *rb_repo = local_repo(), wf[64], *v, *ref;

	(void)state;
	snprintf(wf, sizeof(wf), "wf_nonff_%d", (int)getpid());
	ref = xasprintf("refs/heads/ai/generated/%s/shared", wf);
	opts_init(&o1, ra_repo, g_url);
	opts_init(&o2, rb_repo, g_url);
	assert_int_equal(store_open(&a, &o1, &err), 0);
	assert_int_equal(store_open(&b, &o2, &err), 0);
	one_init(&ca, "ev-a", wf, "shared", "c_nonff_a", 1);
	one_init(&cb, "ev-b", wf, "shared", "c_nonff_b", 2);
	cb.files[0].name = "other.py";
	assert_int_equal(store_commit(a, &ca.req, &ra, &err), 0);
	assert_true(ra.pushed);
	/* b has never seen a's commit: its push is not a fast-forward. */
	assert_int_equal(store_commit(b, &cb.req, &rb, &err), 0);
	assert_true(rb.pushed);
	v = remote_ref(ref);
	assert_string_equal(v, rb.commit_sha);
	free(v);
	/* Linear: b's rebuilt commit sits on a's, both files present. */
	v = capture("git --git-dir='%s' rev-parse '%s^'", g_remote_dir, ref);
	assert_string_equal(v, ra.commit_sha);
	free(v);
	assert_int_equal(run("git --git-dir='%s' cat-file -e "
	                     "'%s:Backtest/codes/shared/strategy.py' && "
	                     "git --git-dir='%s' cat-file -e "
	                     "'%s:Backtest/codes/shared/other.py'",
	                     g_remote_dir, ref, g_remote_dir, ref),
	    0);
	/* The tag went out on the rebuilt commit. */
	v = remote_ref("refs/tags/corr_c_nonff_b");
	assert_string_equal(v, rb.commit_sha);
	free(v);
	store_commit_result_dispose(&ra);
	store_commit_result_dispose(&rb);
	store_free(a);
	store_free(b);
	free(ra_repo);
	free(rb_repo);
	free(ref);
}

/* Two workers with their own clones get the same event (a redelivery
 * after a crash): the second finds it on the remote while rebuilding and
 * keeps the first's commit: one commit for one event. */
static void
test_same_event_two_workers(void **state)
{
	struct store_opts o1, o2;
	struct store *a, *b;
	struct store_commit_result ra, rb;
	struct error err;
	struct one c;
	char *a_repo = local_repo(), *b_repo = local_repo(), wf[64], *v, *ref;

	(void)state;
	snprintf(wf, sizeof(wf), "wf_twice_%d", (int)getpid());
	ref = xasprintf("refs/heads/ai/generated/%s/t1", wf);
	opts_init(&o1, a_repo, g_url);
	opts_init(&o2, b_repo, g_url);
	assert_int_equal(store_open(&a, &o1, &err), 0);
	assert_int_equal(store_open(&b, &o2, &err), 0);
	/* b's own main makes its commit differ from a's (else both would
	 * be byte-identical, same second, and the push a no-op). */
	assert_int_equal(run("set -e; cd '%s'; git init -q -b main w-%d; "
	                     "cd w-%d; echo b > b.txt; git add b.txt; "
	                     "git -c user.name=t -c user.email=t@e commit "
	                     "-qm b; git push -q '%s' main",
	                     g_tmp, g_seq, g_seq, b_repo),
	    0);
	one_init(&c, "ev-twice", wf, "t1", "c_twice", 7);
	assert_int_equal(store_commit(a, &c.req, &ra, &err), 0);
	assert_true(ra.pushed);
	assert_int_equal(store_commit(b, &c.req, &rb, &err), 0);
	assert_true(rb.pushed);
	assert_string_equal(rb.commit_sha, ra.commit_sha);
	v = capture("git --git-dir='%s' rev-list --count '%s'", g_remote_dir,
	    ref);
	assert_string_equal(v, "1");
	free(v);
	v = capture("git --git-dir='%s' rev-parse '%s'", b_repo, ref);
	assert_string_equal(v, ra.commit_sha); /* b now agrees locally */
	free(v);
	v = capture("git --git-dir='%s' rev-parse refs/tags/corr_c_twice",
	    b_repo);
	assert_string_equal(v, ra.commit_sha);
	free(v);
	store_commit_result_dispose(&ra);
	store_commit_result_dispose(&rb);
	store_free(a);
	store_free(b);
	free(a_repo);
	free(b_repo);
	free(ref);
}

/* Commits made without push go out with store_push_pending(); then an
 * empty directory is cloned back and recognises the old events. */
static void
test_pending_and_clone(void **state)
{
	struct store_opts o;
	struct store *st;
	struct store_commit_result res;
	struct error err;
	struct one c;
	char *repo = local_repo(), *repo2 = local_repo(), wf[64], ev[32],
	     task[32], corr[32], *v, *ref;
	int i;

	(void)state;
	snprintf(wf, sizeof(wf), "wf_pend_%d", (int)getpid());
	opts_init(&o, repo, g_url);
	o.auto_push = false;
	assert_int_equal(store_open(&st, &o, &err), 0);
	for (i = 0; i < 3; i++) {
		snprintf(ev, sizeof(ev), "ev-pend-%d", i);
		snprintf(task, sizeof(task), "t%d", i);
		snprintf(corr, sizeof(corr), "c_pend_%d_%d", (int)getpid(), i);
		one_init(&c, ev, wf, task, corr, i);
		assert_int_equal(store_commit(st, &c.req, &res, &err), 0);
		assert_false(res.pushed);
		store_commit_result_dispose(&res);
	}
	ref = xasprintf("refs/heads/ai/generated/%s/t2", wf);
	v = remote_ref(ref);
	assert_string_equal(v, "");
	free(v);
	assert_int_equal(store_push_pending(st, &err), 0);
	v = remote_ref(ref);
	assert_int_equal(strlen(v), 40);
	free(v);
	v = capture("git --git-dir='%s' rev-parse -q --verify "
	            "refs/tags/corr_c_pend_%d_2",
	    g_remote_dir, (int)getpid());
	assert_int_equal(strlen(v), 40);
	free(v);
	/* Nothing left: a second call is a no-op that succeeds. */
	assert_int_equal(store_push_pending(st, &err), 0);
	store_free(st);

	/* A worker that lost its disk: the directory is empty. */
	assert_int_equal(run("mkdir -p '%s'", repo2), 0);
	opts_init(&o, repo2, g_url);
	assert_int_equal(store_open(&st, &o, &err), 0);
	v = capture("git --git-dir='%s' rev-parse -q --verify '%s'", repo2,
	    ref);
	assert_int_equal(strlen(v), 40);
	free(v);
	snprintf(corr, sizeof(corr), "c_pend_%d_1", (int)getpid());
	one_init(&c, "ev-pend-1", wf, "t1", corr, 1);
	assert_int_equal(store_commit(st, &c.req, &res, &err), 0);
	assert_true(res.duplicate);
	store_commit_result_dispose(&res);
	store_free(st);
	free(ref);
	free(repo);
	free(repo2);
}

/* 4 processes x 100 commits on one branch, each with its own clone. */
static void
test_race_four_processes(void **state)
{
	char wf[64], *ref, *v;
	pid_t pid[4];
	int i, status;

	(void)state;
	if (getenv("STORE_TEST_RACE") == NULL) {
		skip();
		return;
	}
	snprintf(wf, sizeof(wf), "wf_race_%d", (int)getpid());
	for (i = 0; i < 4; i++) {
		if ((pid[i] = fork()) == 0) {
			struct store_opts o;
			struct store *st;
			struct store_commit_result res;
			struct error err;
			struct one c;
			char *repo = local_repo(), ev[64], corr[64];
			int k, bad = 0, tries;

			opts_init(&o, repo, g_url);
			if (store_open(&st, &o, &err) != 0)
				_exit(10);
			for (k = 0; k < 100; k++) {
				snprintf(ev, sizeof(ev), "race-%d-%d", i, k);
				snprintf(corr, sizeof(corr), "c_race_%d_%d_%d",
				    (int)getppid(), i, k);
				one_init(&c, ev, wf, "shared", corr,
				    i * 1000 + k);
				c.files[0].name = ev; /* own file per commit */
				if (store_commit(st, &c.req, &res, &err) != 0 ||
				    res.duplicate)
					bad++;
				store_commit_result_dispose(&res);
			}
			/* What lost too many races goes out now; bounded. */
			for (tries = 0; tries < 50; tries++)
				if (store_push_pending(st, &err) == 0)
					break;
			if (tries == 50)
				bad++;
			store_free(st);
			_exit(bad ? 11 : 0);
		}
		assert_true(pid[i] > 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	ref = xasprintf("refs/heads/ai/generated/%s/shared", wf);
	v = capture("git --git-dir='%s' rev-list --count '%s'", g_remote_dir,
	    ref);
	assert_string_equal(v, "400");
	free(v);
	assert_int_equal(run("git --git-dir='%s' fsck --strict --no-dangling "
	                     "--no-progress >/dev/null 2>&1",
	                     g_remote_dir),
	    0);
	/* Every tag on its own commit, and every one of them on the
	 * branch. */
	v = capture("git --git-dir='%s' for-each-ref "
	            "--format='%%(objectname)' 'refs/tags/corr_c_race_%d_*' "
	            "| sort -u | wc -l",
	    g_remote_dir, (int)getpid());
	assert_string_equal(v, "400");
	free(v);
	v = capture("git --git-dir='%s' for-each-ref "
	            "--format='%%(objectname)' 'refs/tags/corr_c_race_%d_*' "
	            "| while read c; do git --git-dir='%s' merge-base "
	            "--is-ancestor $c '%s' || echo $c; done | wc -l",
	    g_remote_dir, (int)getpid(), g_remote_dir, ref);
	assert_string_equal(v, "0");
	free(v);
	free(ref);
}

/* A server that accepts and never answers: the push gives up at the
 * deadline, the commit stays, and a later store_push_pending() (once the
 * server answers) pushes it. */
static void
test_hanging_server(void **state)
{
	const char *url = getenv("STORE_TEST_HANG_URL");
	const char *flag = getenv("STORE_TEST_HANG_FLAG");
	struct store_opts o;
	struct store *st;
	struct store_commit_result res;
	struct error err;
	struct one c;
	char *repo, wf[64], *v, *ref;

	(void)state;
	if (url == NULL || flag == NULL) {
		skip();
		return;
	}
	repo = local_repo();
	snprintf(wf, sizeof(wf), "wf_hang_%d", (int)getpid());
	opts_init(&o, repo, url);
	o.push_timeout_s = 2;
	/* An existing repository: a missing one would be cloned first, and
	 * that clone times out too (store_open: ERR_TRANSIENT). */
	assert_int_equal(run("git init -q --bare '%s'", repo), 0);
	assert_int_equal(store_open(&st, &o, &err), 0);
	one_init(&c, "ev-hang", wf, "t1", "c_hang", 1);
	assert_int_equal(store_commit(st, &c.req, &res, &err), 0);
	assert_false(res.pushed);
	ref = xasprintf("refs/heads/ai/generated/%s/t1", wf);
	v = capture("git --git-dir='%s' rev-parse -q --verify '%s'", repo, ref);
	assert_string_equal(v, res.commit_sha); /* kept locally */
	free(v);
	assert_int_equal(store_push_pending(st, &err), ERR_TRANSIENT);
	/* The server comes back. */
	assert_int_equal(run("touch '%s'", flag), 0);
	assert_int_equal(store_push_pending(st, &err), 0);
	v = remote_ref(ref);
	assert_string_equal(v, res.commit_sha);
	free(v);
	store_commit_result_dispose(&res);
	store_free(st);
	free(ref);
	free(repo);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_push_branch_and_tags),
		cmocka_unit_test(test_nonff_rebuild),
		cmocka_unit_test(test_same_event_two_workers),
		cmocka_unit_test(test_pending_and_clone),
		cmocka_unit_test(test_race_four_processes),
		cmocka_unit_test(test_hanging_server),
	};
	int rc;

	snprintf(g_tmp, sizeof(g_tmp), "/tmp/test_store_remote_XXXXXX");
	if (mkdtemp(g_tmp) == NULL)
		return 1;
	if (getenv("STORE_TEST_REMOTE_URL") != NULL) {
		g_url = xstrdup(getenv("STORE_TEST_REMOTE_URL"));
		g_remote_dir = xstrdup(getenv("STORE_TEST_REMOTE_DIR"));
	} else {
		g_remote_dir = xasprintf("%s/remote.git", g_tmp);
		g_url = xasprintf("file://%s", g_remote_dir);
		if (run("git init -q --bare '%s'", g_remote_dir) != 0)
			return 1;
	}
	git_libgit2_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (getenv("KEEP_TEST_DIRS") == NULL)
		run("rm -rf '%s'", g_tmp);
	free(g_url);
	free(g_remote_dir);
	return rc;
}
