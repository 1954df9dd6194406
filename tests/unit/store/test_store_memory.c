/*
 * test_store_memory.c - what the store keeps in memory across commits.
 *
 * libgit2 caches the commits and trees it reads in a process-wide cache
 * whose default ceiling is 256 MiB; the daemon reads each event's new
 * tree and commit, so with the default its memory grew with every event
 * (issue 10, point 11). store_open lowers the ceiling; these tests check
 * that it does and that many commits leave the cache at that ceiling.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <git2.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "store/store.h"

/* Largest ceiling we accept: a daemon should not hold more than this of
 * objects it will rarely read again (libgit2's default is 256 MiB). */
#define TEST_CACHE_CEILING (16 * 1024 * 1024)
/* libgit2 evicts once the cache is over its ceiling, then stores the
 * new object: it may sit over by a few objects of at most 4 KiB each
 * (its per-type limit for commits and trees). */
#define TEST_CACHE_SLACK (64 * 1024)
/* Heap growth allowed over the second half of the commits, when the
 * cache is already full: malloc's own bookkeeping and noise, far below
 * the ~0.75 KiB per commit of an unbounded cache (over 1 MiB here). */
#define TEST_HEAP_GROWTH_MAX (256 * 1024)
/* Enough to fill a 1 MiB ceiling twice at 35 bytes a commit; with a
 * ceiling this large the test still proves growth stops, only slower. */
#define TEST_COMMITS_MAX 4000

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

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_store_memory_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->repo, sizeof(f->repo), "%s/repo.git", f->dir);
	f->opts.repo_path = f->repo;
	f->opts.base_branch = "main";
	f->opts.include_metadata = true;
	f->opts.push_timeout_s = 5;
	assert_int_equal(store_open(&f->st, &f->opts, &err), 0);
	log_init(LOG_LEVEL_WARN, false); /* one info line per commit */
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

static void
cached_memory(ssize_t *current, ssize_t *allowed)
{
	assert_int_equal(git_libgit2_opts(GIT_OPT_GET_CACHED_MEMORY, current,
	                     allowed),
	    0);
}

static void
test_cache_ceiling_lowered(void **state)
{
	ssize_t current, allowed;

	(void)state;
	cached_memory(&current, &allowed);
	print_message("libgit2 cache ceiling %zd bytes\n", allowed);
	assert_true(allowed > 0);
	assert_true(allowed <= TEST_CACHE_CEILING);
}

/* Commit one small event on its own task branch, as the daemon does. */
static void
commit_one(struct store *st, int i)
{
	struct store_commit_req req = { 0 };
	struct store_commit_result res;
	struct store_file file;
	struct error err;
	char id[32], task[32], corr[32], body[64];

	snprintf(id, sizeof(id), "ev-%d", i);
	snprintf(task, sizeof(task), "task_%06d", i);
	snprintf(corr, sizeof(corr), "c%d", i);
	snprintf(body, sizeof(body), "def signal(p):\n    return %d\n", i);
	file = (struct store_file){ "strategy.py", body, strlen(body) };
	req.event_id = id;
	req.workflow_id = "wf_mem";
	req.task_id = task;
	req.correlation_id = corr;
	req.files = &file;
	req.nfiles = 1;
	assert_int_equal(store_commit(st, &req, &res, &err), 0);
	store_commit_result_dispose(&res);
}

static size_t
heap_in_use(void)
{
	/* Under ASan the sanitizer's allocator answers instead of glibc's
	 * (zeros): the check below then holds trivially; the plain build
	 * is the one that measures. */
	return mallinfo2().uordblks;
}

/*
 * Commit events, as the daemon does, until the cache is full, then as many
 * again: the cache must reach its ceiling (else this test proves nothing)
 * and never pass it, and the heap must stop growing with it. With
 * libgit2's default ceiling the second half grew the heap by ~0.75 KiB
 * per commit (a parsed tree per event that libgit2 counts as 35 bytes).
 */
static void
test_cache_stays_at_ceiling(void **state)
{
	struct fixture *f = *state;
	ssize_t current, allowed, start, most = 0;
	size_t heap_full, heap_end;
	int i, n, warm = 20;

	cached_memory(&start, &allowed);
	for (i = 0; i < warm; i++)
		commit_one(f->st, i);
	cached_memory(&current, &allowed);
	/* What one event adds to the cache, as libgit2 counts it. */
	assert_true(current > start);
	n = (int)(allowed / ((current - start) / warm + 1)) * 6 / 5;
	if (n > TEST_COMMITS_MAX)
		n = TEST_COMMITS_MAX;
	print_message("%zd bytes cached per commit, ceiling %zd: %d commits\n",
	    (current - start) / warm, allowed, 2 * n);
	for (; i < n; i++)
		commit_one(f->st, i);
	heap_full = heap_in_use();
	for (; i < 2 * n; i++) {
		commit_one(f->st, i);
		cached_memory(&current, &allowed);
		if (current > most)
			most = current;
		assert_true(current <= allowed + TEST_CACHE_SLACK);
	}
	heap_end = heap_in_use();
	print_message("most cached %zd of %zd bytes; heap %zu -> %zu bytes "
	              "over the last %d commits\n",
	    most, allowed, heap_full, heap_end, n);
	assert_true(heap_end <= heap_full + TEST_HEAP_GROWTH_MAX);
	assert_true(most >= allowed / 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cache_ceiling_lowered,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_stays_at_ceiling,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
