/*
 * test_group.c - group commit (store/group.c, store/odb_mem.c): events
 * committed concurrently by the threads of one store, and by two
 * processes, leave their objects in fewer packs than events, no loose
 * object, every commit on its branch and a repository `git fsck --full`
 * accepts; small packs are folded together once there are too many.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/xalloc.h"
#include "store/store.h"

#define THREADS 8
#define PER_THREAD 10

struct fixture {
	char dir[256];
	char repo[300];
	struct store_opts opts;
	struct store *st;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct error err;

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_group_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->repo, sizeof(f->repo), "%s/repo.git", f->dir);
	f->opts.repo_path = f->repo;
	f->opts.include_metadata = true;
	f->opts.push_timeout_s = 5;
	f->opts.fsync = true;
	assert_int_equal(store_open(&f->st, &f->opts, &err), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char *cmd = xasprintf("rm -rf '%s'", f->dir);

	store_free(f->st);
	if (getenv("KEEP_TEST_DIRS") == NULL)
		assert_int_equal(system(cmd), 0);
	free(cmd);
	free(f);
	return 0;
}

/* The number a shell command prints. */
static long
count(const char *fmt, const char *repo)
{
	char *cmd = xasprintf(fmt, repo);
	FILE *p = popen(cmd, "r");
	long n = -1;

	assert_non_null(p);
	assert_int_equal(fscanf(p, "%ld", &n), 1);
	pclose(p);
	free(cmd);
	return n;
}

static long
loose_objects(const char *repo)
{
	return count("find '%s/objects' -path '*/objects/[0-9a-f][0-9a-f]/*' "
	             "-type f | wc -l",
	    repo);
}

static long
packs(const char *repo)
{
	return count("ls '%s/objects/pack' | grep -c '[.]pack$'", repo);
}

struct worker_arg {
	struct store *st;
	int proc, id, failures;
};

static void *
thread_main(void *p)
{
	struct worker_arg *a = p;
	struct store_commit_result res;
	struct store_commit_req req;
	struct store_file file;
	struct error err;
	char ev[64], corr[64], task[32], body[96];

	for (int i = 0; i < PER_THREAD; i++) {
		snprintf(ev, sizeof(ev), "ev-%d-%d-%d", a->proc, a->id, i);
		snprintf(corr, sizeof(corr), "c-%d-%d-%d", a->proc, a->id, i);
		snprintf(task, sizeof(task), "t%d-%d", a->proc, a->id);
		snprintf(body, sizeof(body), "print(%d, %d, %d)\n", a->proc,
		    a->id, i);
		file = (struct store_file){ "strategy.py", body, strlen(body) };
		memset(&req, 0, sizeof(req));
		req.event_id = ev;
		req.workflow_id = "wf";
		req.task_id = task;
		req.correlation_id = corr;
		req.files = &file;
		req.nfiles = 1;
		if (store_commit(a->st, &req, &res, &err) != 0 ||
		    res.duplicate || res.ntags != 1)
			a->failures++;
		store_commit_result_dispose(&res);
	}
	return NULL;
}

static void
run_threads(struct store *st, int proc)
{
	pthread_t th[THREADS];
	struct worker_arg a[THREADS];
	int i;

	for (i = 0; i < THREADS; i++) {
		a[i] = (struct worker_arg){ st, proc, i, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, thread_main,
		                     &a[i]),
		    0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].failures, 0);
	}
}

static void
check_repo(const char *repo, long events)
{
	char *cmd;

	assert_int_equal(loose_objects(repo), 0);
	assert_true(packs(repo) >= 1);
	assert_true(packs(repo) < events);
	assert_int_equal(count("git --git-dir='%s' rev-list --all | wc -l",
	                     repo),
	    events);
	cmd = xasprintf("git --git-dir='%s' fsck --full --strict --no-dangling "
	                "--no-progress 2>&1",
	    repo);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* N concurrent events of one process: fewer packs than events. */
static void
test_threads_group(void **state)
{
	struct fixture *f = *state;

	run_threads(f->st, 0);
	check_repo(f->repo, THREADS * PER_THREAD);
}

/* Two processes: each groups its own events; packs side by side. */
static void
test_processes_group(void **state)
{
	struct fixture *f = *state;
	pid_t pid[2];
	int i, status;

	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			struct store *st;
			struct error err;

			if (store_open(&st, &f->opts, &err) != 0)
				_exit(10);
			run_threads(st, i + 1);
			store_free(st);
			_exit(0);
		}
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	check_repo(f->repo, 2 * THREADS * PER_THREAD);
}

/* A redelivered event writes nothing new and finds its commit. */
static void
test_duplicate_in_pack(void **state)
{
	struct fixture *f = *state;
	struct worker_arg a = { f->st, 9, 0, 0 };
	struct store_commit_result res;
	struct store_commit_req req;
	struct store_file file = { "strategy.py", "print(9, 0, 0)\n", 15 };
	struct error err;

	thread_main(&a);
	assert_int_equal(a.failures, 0);
	memset(&req, 0, sizeof(req));
	req.event_id = "ev-9-0-0";
	req.workflow_id = "wf";
	req.task_id = "t9-0";
	req.correlation_id = "c-9-0-0";
	req.files = &file;
	req.nfiles = 1;
	assert_int_equal(store_commit(f->st, &req, &res, &err), 0);
	assert_true(res.duplicate);
	store_commit_result_dispose(&res);
	assert_int_equal(loose_objects(f->repo), 0);
	assert_int_equal(packs(f->repo), PER_THREAD);
}

/* One event after another: a pack each, until the small packs are
 * folded into one (odb_pack.c); nothing is lost on the way. */
static void
test_fold(void **state)
{
	struct fixture *f = *state;
	struct worker_arg a = { f->st, 7, 0, 0 };
	int i;

	for (i = 0; i < 6; i++) {
		a.id = i;
		thread_main(&a);
	}
	assert_int_equal(a.failures, 0);
	/* 60 packs written; the fold at the 48th left one for 48. */
	assert_true(packs(f->repo) < 60 - 32);
	check_repo(f->repo, 60);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_threads_group, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_processes_group, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_in_pack, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fold, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
