/*
 * item.c - the loop's item state machine as pure functions: no I/O, no
 * allocation, no clock (the caller passes the jitter). worker/loop.c
 * applies them; tests/unit/worker/test_loop_items.c checks each rule.
 */
#include "worker/item.h"

#include <string.h>

enum item_next
item_after_run(enum handler_action action, int runs, long long max_attempts,
    bool stopping)
{
	if (action != HANDLER_RETRY)
		return ITEM_NEXT_ANSWER;
	if (runs >= max_attempts)
		return ITEM_NEXT_OUT_OF_TRIES;
	if (stopping)
		return ITEM_NEXT_RELEASE;
	return ITEM_NEXT_RETRY;
}

long
item_retry_delay_ms(int runs, long base_ms, long cap_ms, double jitter)
{
	long ms = base_ms;
	int i;

	for (i = 1; i < runs && ms < cap_ms; i++)
		ms *= 2;
	if (ms > cap_ms)
		ms = cap_ms;
	return (long)((double)ms * jitter);
}

/* Is key held by a running entry, or by one marked to start? */
static bool
item_key_busy(const struct item_view *v, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((v[i].state == ITEM_RUNNING || v[i].start) &&
		    v[i].key != NULL && strcmp(v[i].key, key) == 0)
			return true;
	return false;
}

size_t
item_pick(struct item_view *v, size_t n, size_t idle)
{
	size_t i, picked = 0;

	for (i = 0; i < n; i++)
		v[i].start = false;
	for (i = 0; i < n && picked < idle; i++) {
		if (v[i].state != ITEM_QUEUED || v[i].key == NULL ||
		    item_key_busy(v, n, v[i].key))
			continue;
		v[i].start = true;
		picked++;
		if (v[i].suspect)
			break;
	}
	return picked;
}

size_t
item_capacity(size_t threads, size_t hold, size_t held, size_t busy,
    size_t suspects, bool stopping)
{
	size_t free_threads;

	if (stopping || suspects > 0 || held >= hold)
		return 0;
	free_threads = busy >= threads ? 0 : threads - busy;
	return free_threads < hold - held ? free_threads : hold - held;
}

bool
item_uses_thread(enum item_state s)
{
	return s == ITEM_QUEUED || s == ITEM_RUNNING;
}

bool
item_release_on_signal(enum item_state s)
{
	return s == ITEM_QUEUED || s == ITEM_RETRY_WAIT;
}

bool
item_release_on_drain(enum item_state s)
{
	return s == ITEM_RUNNING || s == ITEM_WAIT_REDIS || s == ITEM_QUEUED ||
	       s == ITEM_RETRY_WAIT;
}
