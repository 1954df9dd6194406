/*
 * test_pool.c - the handler thread pool (worker/pool.h), tested the way
 * libuv tests its own callbacks: every run() and done() is counted and
 * each count asserted, with real threads and a real event base. What the
 * header promises is checked one promise per test: run() off the loop
 * thread and done() on it, exactly once each and run() first; tasks start
 * in submission order; pool_idle() counts what is spoken for, also inside
 * done() (the loop dispatches from there); a done() may submit again;
 * pool_free() runs what is queued and calls no done(). Under
 * -DSANITIZE=thread these tests are also the race check of the pool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "common/xalloc.h"
#include "worker/pool.h"

/* Tasks of the counting tests: enough for many wake-ups to coalesce
 * and for the threads to interleave, few enough to stay fast under
 * ThreadSanitizer. */
#define NTASKS 200
/* A guard only: a pool that loses a task would hang the test; after this
 * long the loop stops and the counts tell what was lost. Not a timing
 * assertion. */
#define GUARD_SECONDS 60

struct fixture {
	struct event_base *base;
	struct event *guard;
	pthread_t loop_thread;
	bool guard_fired;
};

/* One task; the counters are written by exactly one side each (run on a
 * pool thread, done on the loop thread), ordered by the pool's mutex. */
struct task {
	struct fixture *fx;
	size_t index;
	int runs;
	int dones;
	bool run_on_loop_thread;
	bool done_off_loop_thread;
	bool done_before_run;
};

/* Counters the pool threads share: under a mutex of their own. */
static pthread_mutex_t order_mu = PTHREAD_MUTEX_INITIALIZER;
static size_t run_order[NTASKS];
static size_t nrun_order;
static size_t done_order[NTASKS];
static size_t ndone_order;
static size_t dones_wanted;
/* The fixture of the running test, for callbacks without one. */
static struct fixture *cur_fx;

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fixture *fx = arg;

	(void)fd;
	(void)what;
	fx->guard_fired = true;
	event_base_loopbreak(fx->base);
}

static int
setup(void **state)
{
	static bool threads_on;
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	struct timeval tv = { GUARD_SECONDS, 0 };

	if (!threads_on) {
		/* As loop_run does: before any event base exists. */
		assert_int_equal(evthread_use_pthreads(), 0);
		threads_on = true;
	}
	fx->base = event_base_new();
	assert_non_null(fx->base);
	fx->guard = evtimer_new(fx->base, guard_cb, fx);
	evtimer_add(fx->guard, &tv);
	fx->loop_thread = pthread_self();
	nrun_order = ndone_order = 0;
	dones_wanted = 0;
	cur_fx = fx;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	event_free(fx->guard);
	event_base_free(fx->base);
	free(fx);
	return 0;
}

/* Run the loop until done_task has seen dones_wanted calls. */
static void
run_loop(struct fixture *fx)
{
	if (ndone_order < dones_wanted)
		event_base_loop(fx->base, EVLOOP_NO_EXIT_ON_EMPTY);
	assert_false(fx->guard_fired);
}

static void
run_task(void *arg)
{
	struct task *t = arg;

	t->runs++;
	if (pthread_equal(pthread_self(), t->fx->loop_thread))
		t->run_on_loop_thread = true;
	pthread_mutex_lock(&order_mu);
	run_order[nrun_order++] = t->index;
	pthread_mutex_unlock(&order_mu);
}

static void
done_task(void *arg)
{
	struct task *t = arg;

	if (t->runs == 0)
		t->done_before_run = true;
	t->dones++;
	if (!pthread_equal(pthread_self(), t->fx->loop_thread))
		t->done_off_loop_thread = true;
	done_order[ndone_order++] = t->index;
	if (ndone_order == dones_wanted)
		event_base_loopbreak(t->fx->base);
}

static struct task *
tasks_new(struct fixture *fx, size_t n)
{
	struct task *tasks = xcalloc(n, sizeof(*tasks));
	size_t i;

	for (i = 0; i < n; i++) {
		tasks[i].fx = fx;
		tasks[i].index = i;
	}
	return tasks;
}

static void
tasks_check(const struct task *tasks, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		assert_int_equal(tasks[i].runs, 1);
		assert_int_equal(tasks[i].dones, 1);
		assert_false(tasks[i].run_on_loop_thread);
		assert_false(tasks[i].done_off_loop_thread);
		assert_false(tasks[i].done_before_run);
	}
}

/* Many tasks on four threads: each runs once off the loop thread and is
 * handed back once on it, after its run. */
static void
test_every_task_runs_and_is_done_once(void **state)
{
	struct fixture *fx = *state;
	struct error err = { 0 };
	struct pool *p = NULL;
	struct task *tasks = tasks_new(fx, NTASKS);
	size_t i;

	assert_int_equal(pool_new(&p, fx->base, 4, &err), 0);
	assert_int_equal(pool_size(p), 4);
	assert_int_equal(pool_idle(p), 4);
	dones_wanted = NTASKS;
	for (i = 0; i < NTASKS; i++)
		pool_submit(p, run_task, done_task, &tasks[i]);
	assert_int_equal(pool_idle(p), 0);
	run_loop(fx);
	assert_int_equal(nrun_order, NTASKS);
	assert_int_equal(ndone_order, NTASKS);
	tasks_check(tasks, NTASKS);
	assert_int_equal(pool_idle(p), 4);
	pool_free(p);
	free(tasks);
}

/* "Tasks beyond the free threads wait in order": with one thread, runs
 * and dones follow the submission order exactly. */
static void
test_one_thread_keeps_submission_order(void **state)
{
	struct fixture *fx = *state;
	struct error err = { 0 };
	struct pool *p = NULL;
	struct task *tasks = tasks_new(fx, NTASKS);
	size_t i;

	assert_int_equal(pool_new(&p, fx->base, 1, &err), 0);
	dones_wanted = NTASKS;
	for (i = 0; i < NTASKS; i++)
		pool_submit(p, run_task, done_task, &tasks[i]);
	run_loop(fx);
	tasks_check(tasks, NTASKS);
	for (i = 0; i < NTASKS; i++) {
		assert_int_equal(run_order[i], i);
		assert_int_equal(done_order[i], i);
	}
	pool_free(p);
	free(tasks);
}

/* pool_idle(): free threads minus tasks submitted and not yet done,
 * never below zero; back to all threads after the dones. */
static void
test_idle_counts_spoken_for_threads(void **state)
{
	struct fixture *fx = *state;
	struct error err = { 0 };
	struct pool *p = NULL;
	struct task *tasks = tasks_new(fx, 5);
	size_t i;

	assert_int_equal(pool_new(&p, fx->base, 3, &err), 0);
	dones_wanted = 5;
	for (i = 0; i < 5; i++) {
		pool_submit(p, run_task, done_task, &tasks[i]);
		assert_int_equal(pool_idle(p), i < 3 ? 2 - i : 0);
	}
	run_loop(fx);
	tasks_check(tasks, 5);
	assert_int_equal(pool_idle(p), 3);
	pool_free(p);
	free(tasks);
}

/* Threads run at once: nthreads tasks each wait until all of them have
 * started. A pool that ran them one at a time would never get there
 * (the wait gives up after GUARD_SECONDS and the test fails). */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t started, want;
	size_t met;
};

static void
gate_run(void *arg)
{
	struct gate *g = arg;
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += GUARD_SECONDS;
	pthread_mutex_lock(&g->mu);
	g->started++;
	pthread_cond_broadcast(&g->cv);
	while (g->started < g->want &&
	       pthread_cond_timedwait(&g->cv, &g->mu, &until) == 0)
		;
	if (g->started >= g->want)
		g->met++;
	pthread_mutex_unlock(&g->mu);
}

static size_t gate_dones;

static void
gate_done(void *arg)
{
	struct gate *g = arg;

	(void)g;
	gate_dones++;
	ndone_order++;
	if (ndone_order == dones_wanted)
		event_base_loopbreak(cur_fx->base);
}

static void
test_threads_run_concurrently(void **state)
{
	struct fixture *fx = *state;
	struct error err = { 0 };
	struct pool *p = NULL;
	struct gate g;
	size_t i;

	memset(&g, 0, sizeof(g));
	pthread_mutex_init(&g.mu, NULL);
	pthread_cond_init(&g.cv, NULL);
	g.want = 3;
	gate_dones = 0;
	assert_int_equal(pool_new(&p, fx->base, 3, &err), 0);
	dones_wanted = 3;
	for (i = 0; i < 3; i++)
		pool_submit(p, gate_run, gate_done, &g);
	run_loop(fx);
	assert_int_equal(gate_dones, 3);
	assert_int_equal(g.met, 3);
	pool_free(p);
	pthread_mutex_destroy(&g.mu);
	pthread_cond_destroy(&g.cv);
}

/* A done() may submit again, as the loop's does (a finished job frees a
 * thread and the next queued job goes out from inside done()); inside
 * done() its own task no longer counts against pool_idle(). */
struct chain {
	struct pool *p;
	int runs;
	int dones;
	size_t idle_in_done[8];
};

static void
chain_run(void *arg)
{
	struct chain *c = arg;

	c->runs++;
}

static void
chain_done(void *arg)
{
	struct chain *c = arg;

	c->idle_in_done[c->dones] = pool_idle(c->p);
	c->dones++;
	if (c->dones < 8)
		pool_submit(c->p, chain_run, chain_done, c);
	else
		event_base_loopbreak(cur_fx->base);
}

static void
test_done_may_submit_again(void **state)
{
	struct fixture *fx = *state;
	struct error err = { 0 };
	struct chain c;
	size_t i;

	memset(&c, 0, sizeof(c));
	assert_int_equal(pool_new(&c.p, fx->base, 1, &err), 0);
	pool_submit(c.p, chain_run, chain_done, &c);
	event_base_loop(fx->base, EVLOOP_NO_EXIT_ON_EMPTY);
	assert_false(fx->guard_fired);
	assert_int_equal(c.runs, 8);
	assert_int_equal(c.dones, 8);
	for (i = 0; i < 8; i++)
		assert_int_equal(c.idle_in_done[i], 1);
	assert_int_equal(pool_idle(c.p), 1);
	pool_free(c.p);
}

/* done may be NULL: the task runs, frees its thread, and the next
 * task's done() still comes. */
static void
test_null_done(void **state)
{
	struct fixture *fx = *state;
	struct error err = { 0 };
	struct pool *p = NULL;
	struct task *tasks = tasks_new(fx, 2);

	assert_int_equal(pool_new(&p, fx->base, 1, &err), 0);
	dones_wanted = 1;
	pool_submit(p, run_task, NULL, &tasks[0]);
	pool_submit(p, run_task, done_task, &tasks[1]);
	run_loop(fx);
	assert_int_equal(tasks[0].runs, 1);
	assert_int_equal(tasks[0].dones, 0);
	assert_int_equal(tasks[1].runs, 1);
	assert_int_equal(tasks[1].dones, 1);
	assert_int_equal(pool_idle(p), 1);
	pool_free(p);
	free(tasks);
}

/* pool_free with tasks still queued: every queued task runs before the
 * threads stop, and no done() is called (the loop never ran). */
static void
test_free_runs_queued_tasks_without_done(void **state)
{
	struct fixture *fx = *state;
	struct error err = { 0 };
	struct pool *p = NULL;
	struct task *tasks = tasks_new(fx, NTASKS);
	size_t i;

	assert_int_equal(pool_new(&p, fx->base, 2, &err), 0);
	for (i = 0; i < NTASKS; i++)
		pool_submit(p, run_task, done_task, &tasks[i]);
	pool_free(p);
	assert_int_equal(nrun_order, NTASKS);
	assert_int_equal(ndone_order, 0);
	for (i = 0; i < NTASKS; i++) {
		assert_int_equal(tasks[i].runs, 1);
		assert_int_equal(tasks[i].dones, 0);
	}
	/* The loop has nothing left to hand back: the wake-up event went
	 * with the pool. */
	event_base_loop(fx->base, EVLOOP_NONBLOCK);
	assert_int_equal(ndone_order, 0);
	free(tasks);
}

/* Results that finished before pool_free but were not handed back yet
 * are dropped too, without done(). */
static void
test_free_drops_finished_results(void **state)
{
	struct fixture *fx = *state;
	struct error err = { 0 };
	struct pool *p = NULL;
	struct task *tasks = tasks_new(fx, 3);
	size_t i;

	assert_int_equal(pool_new(&p, fx->base, 1, &err), 0);
	for (i = 0; i < 3; i++)
		pool_submit(p, run_task, done_task, &tasks[i]);
	/* Wait (not by time) until all three ran; their dones wait for a
	 * loop turn that never comes. */
	for (;;) {
		pthread_mutex_lock(&order_mu);
		i = nrun_order;
		pthread_mutex_unlock(&order_mu);
		if (i == 3)
			break;
		sched_yield();
	}
	pool_free(p);
	assert_int_equal(ndone_order, 0);
	free(tasks);
}

static void
test_free_null(void **state)
{
	(void)state;
	pool_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_every_task_runs_and_is_done_once, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_one_thread_keeps_submission_order, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_idle_counts_spoken_for_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_run_concurrently,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_done_may_submit_again,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_done, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_free_runs_queued_tasks_without_done, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_free_drops_finished_results, setup, teardown),
		cmocka_unit_test(test_free_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
