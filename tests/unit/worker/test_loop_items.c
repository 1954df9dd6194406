/*
 * test_loop_items.c - the loop's item state machine (worker/item.h), rule
 * by rule: what a finished run leads to (answer, retry, release at
 * shutdown, dead letter when out of attempts), the backoff, which queued
 * entries start (oldest first, one per serialisation key, a suspect
 * alone), how much the bus may read, and what each shutdown step gives
 * back. worker/loop.c applies exactly these functions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "worker/item.h"

static void
test_after_run(void **state)
{
	(void)state;
	/* Anything but a retry is answered, even when out of attempts or
	 * stopping: the answer is final. */
	assert_int_equal(item_after_run(HANDLER_ACK, 1, 3, false),
	    ITEM_NEXT_ANSWER);
	assert_int_equal(item_after_run(HANDLER_SKIP, 5, 3, true),
	    ITEM_NEXT_ANSWER);
	assert_int_equal(item_after_run(HANDLER_DEAD_LETTER, 1, 3, true),
	    ITEM_NEXT_ANSWER);
	/* max_attempts runs in all: the third failing run of three is
	 * dead-lettered, the first two are retried. */
	assert_int_equal(item_after_run(HANDLER_RETRY, 1, 3, false),
	    ITEM_NEXT_RETRY);
	assert_int_equal(item_after_run(HANDLER_RETRY, 2, 3, false),
	    ITEM_NEXT_RETRY);
	assert_int_equal(item_after_run(HANDLER_RETRY, 3, 3, false),
	    ITEM_NEXT_OUT_OF_TRIES);
	assert_int_equal(item_after_run(HANDLER_RETRY, 1, 1, false),
	    ITEM_NEXT_OUT_OF_TRIES);
	/* Stopping: a retry is given back to another worker, unless it
	 * has no attempts left (then it is dead-lettered here). */
	assert_int_equal(item_after_run(HANDLER_RETRY, 1, 3, true),
	    ITEM_NEXT_RELEASE);
	assert_int_equal(item_after_run(HANDLER_RETRY, 3, 3, true),
	    ITEM_NEXT_OUT_OF_TRIES);
}

static void
test_retry_delay(void **state)
{
	(void)state;
	/* 1 s, 2 s, 4 s ... capped at 60 s, scaled by the jitter. */
	assert_int_equal(item_retry_delay_ms(1, 1000, 60000, 1.0), 1000);
	assert_int_equal(item_retry_delay_ms(2, 1000, 60000, 1.0), 2000);
	assert_int_equal(item_retry_delay_ms(3, 1000, 60000, 1.0), 4000);
	assert_int_equal(item_retry_delay_ms(6, 1000, 60000, 1.0), 32000);
	assert_int_equal(item_retry_delay_ms(7, 1000, 60000, 1.0), 60000);
	assert_int_equal(item_retry_delay_ms(1000, 1000, 60000, 1.0), 60000);
	assert_int_equal(item_retry_delay_ms(3, 1000, 60000, 0.5), 2000);
	assert_int_equal(item_retry_delay_ms(7, 1000, 60000, 0.5), 30000);
}

static void
view(struct item_view *v, enum item_state s, const char *key, bool suspect)
{
	v->state = s;
	v->key = key;
	v->suspect = suspect;
	v->start = true; /* item_pick must clear what it does not pick */
}

static void
test_pick_oldest_first_up_to_idle(void **state)
{
	struct item_view v[4];

	(void)state;
	view(&v[0], ITEM_QUEUED, "a", false);
	view(&v[1], ITEM_QUEUED, "b", false);
	view(&v[2], ITEM_QUEUED, "c", false);
	view(&v[3], ITEM_QUEUED, "d", false);
	assert_int_equal(item_pick(v, 4, 2), 2);
	assert_true(v[0].start);
	assert_true(v[1].start);
	assert_false(v[2].start);
	assert_false(v[3].start);
	assert_int_equal(item_pick(v, 4, 0), 0);
	assert_false(v[0].start);
	assert_int_equal(item_pick(v, 4, 9), 4);
}

static void
test_pick_one_per_key(void **state)
{
	struct item_view v[5];

	(void)state;
	/* "main" is running: its queued job waits and keeps its place,
	 * later jobs with other keys pass it; of two queued jobs with
	 * one key only the older starts. */
	view(&v[0], ITEM_RUNNING, "main", false);
	view(&v[1], ITEM_QUEUED, "main", false);
	view(&v[2], ITEM_QUEUED, "dev", false);
	view(&v[3], ITEM_QUEUED, "dev", false);
	view(&v[4], ITEM_QUEUED, "rel", false);
	assert_int_equal(item_pick(v, 5, 4), 2);
	assert_false(v[0].start);
	assert_false(v[1].start);
	assert_true(v[2].start);
	assert_false(v[3].start);
	assert_true(v[4].start);
	/* The running one is done: its follower goes next. */
	view(&v[0], ITEM_COMPLETING, "main", false);
	view(&v[2], ITEM_RUNNING, "dev", false);
	view(&v[4], ITEM_RUNNING, "rel", false);
	assert_int_equal(item_pick(v, 5, 2), 1);
	assert_true(v[1].start);
	assert_false(v[3].start);
}

static void
test_pick_skips_what_is_not_queued(void **state)
{
	struct item_view v[6];

	(void)state;
	view(&v[0], ITEM_RETRY_WAIT, "a", false);
	view(&v[1], ITEM_COMPLETING, "b", false);
	view(&v[2], ITEM_WAIT_REDIS, "c", false);
	view(&v[3], ITEM_RELEASING, "d", false);
	view(&v[4], ITEM_QUEUED, NULL, false); /* no job yet */
	view(&v[5], ITEM_QUEUED, "a", false);
	/* A job waiting to retry does not hold its key. */
	assert_int_equal(item_pick(v, 6, 6), 1);
	assert_true(v[5].start);
	assert_false(v[0].start);
	assert_false(v[4].start);
}

static void
test_pick_suspect_alone(void **state)
{
	struct item_view v[3];

	(void)state;
	/* Nothing after a suspect starts in the same pass. */
	view(&v[0], ITEM_QUEUED, "a", true);
	view(&v[1], ITEM_QUEUED, "b", false);
	view(&v[2], ITEM_QUEUED, "c", false);
	assert_int_equal(item_pick(v, 3, 3), 1);
	assert_true(v[0].start);
	assert_false(v[1].start);
	assert_false(v[2].start);
	/* Older innocent jobs start before it, in the same pass. */
	view(&v[0], ITEM_QUEUED, "a", false);
	view(&v[1], ITEM_QUEUED, "b", true);
	view(&v[2], ITEM_QUEUED, "c", false);
	assert_int_equal(item_pick(v, 3, 3), 2);
	assert_true(v[0].start);
	assert_true(v[1].start);
	assert_false(v[2].start);
}

static void
test_capacity(void **state)
{
	(void)state;
	/* 4 threads, hold 16: free threads, bounded by the room left. */
	assert_int_equal(item_capacity(4, 16, 0, 0, 0, false), 4);
	assert_int_equal(item_capacity(4, 16, 3, 3, 0, false), 1);
	assert_int_equal(item_capacity(4, 16, 5, 4, 0, false), 0);
	assert_int_equal(item_capacity(4, 16, 9, 9, 0, false), 0);
	/* Answers on their way do not take a thread ... */
	assert_int_equal(item_capacity(4, 16, 10, 1, 0, false), 3);
	/* ... but count against what we hold. */
	assert_int_equal(item_capacity(4, 16, 14, 0, 0, false), 2);
	assert_int_equal(item_capacity(4, 16, 16, 0, 0, false), 0);
	assert_int_equal(item_capacity(4, 16, 17, 0, 0, false), 0);
	/* Nothing while a suspect is held or while stopping. */
	assert_int_equal(item_capacity(4, 16, 1, 1, 1, false), 0);
	assert_int_equal(item_capacity(4, 16, 0, 0, 0, true), 0);
}

static void
test_states(void **state)
{
	static const struct {
		enum item_state s;
		bool thread, on_signal, on_drain;
	} rows[] = {
		{ ITEM_QUEUED, true, true, true },
		{ ITEM_RUNNING, true, false, true },
		{ ITEM_RETRY_WAIT, false, true, true },
		/* The answer is being written: let Redis confirm it. */
		{ ITEM_COMPLETING, false, false, false },
		{ ITEM_WAIT_REDIS, false, false, true },
		{ ITEM_RELEASING, false, false, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(item_uses_thread(rows[i].s), rows[i].thread);
		assert_int_equal(item_release_on_signal(rows[i].s),
		    rows[i].on_signal);
		assert_int_equal(item_release_on_drain(rows[i].s),
		    rows[i].on_drain);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_after_run),
		cmocka_unit_test(test_retry_delay),
		cmocka_unit_test(test_pick_oldest_first_up_to_idle),
		cmocka_unit_test(test_pick_one_per_key),
		cmocka_unit_test(test_pick_skips_what_is_not_queued),
		cmocka_unit_test(test_pick_suspect_alone),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_states),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
