/*
 * test_release_pool.c - the bounds of the release's target pool
 * (publishers/release_pool.h): every job runs exactly once, never more
 * than RELEASE_POOL_THREADS at once, never more than
 * RELEASE_POOL_PER_HOST with the same host, and jobs of different hosts
 * do run together. Counting, not timing: each job holds its slot for a
 * moment so that the counters see overlaps; the assertions are bounds
 * that hold however the threads are scheduled, except "jobs ran together",
 * which waits (bounded) for a second job to join instead of sleeping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <pthread.h>

#include "publishers/release_pool.h"

#define NJOBS 10

static const char *const HOSTS[NJOBS] = { "a", "a", "a", "a", "b", "b", "c",
	"d", "e", "a" };

struct counts {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int runs[NJOBS];
	int now, max;
	int host_now[5], host_max[5];
	int peak_other; /* jobs running beside job 0 */
};

static void
pause_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

static void
job(void *arg, size_t i)
{
	struct counts *c = arg;
	int h = HOSTS[i][0] - 'a';

	pthread_mutex_lock(&c->lock);
	c->runs[i]++;
	c->now++;
	c->host_now[h]++;
	if (c->now > c->max)
		c->max = c->now;
	if (c->host_now[h] > c->host_max[h])
		c->host_max[h] = c->host_now[h];
	pthread_cond_broadcast(&c->cond);
	if (i == 0) {
		/* Wait (at most 5 s) for another job to run beside this one:
		 * a sequential pool never lets one. */
		struct timespec dl;

		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 5;
		while (c->now < 2 &&
		       pthread_cond_timedwait(&c->cond, &c->lock, &dl) == 0)
			;
		c->peak_other = c->now - 1;
	}
	pthread_mutex_unlock(&c->lock);
	pause_ms(20);
	pthread_mutex_lock(&c->lock);
	c->now--;
	c->host_now[h]--;
	pthread_mutex_unlock(&c->lock);
}

static void
test_pool_bounds(void **state)
{
	struct counts c;
	size_t i;

	(void)state;
	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.cond, NULL);
	release_pool_run(NJOBS, HOSTS, job, &c);
	for (i = 0; i < NJOBS; i++)
		assert_int_equal(c.runs[i], 1);
	assert_true(c.max <= RELEASE_POOL_THREADS);
	for (i = 0; i < 5; i++)
		assert_true(c.host_max[i] <= RELEASE_POOL_PER_HOST);
	assert_true(c.peak_other >= 1);
	pthread_cond_destroy(&c.cond);
	pthread_mutex_destroy(&c.lock);
}

static void
one_job(void *arg, size_t i)
{
	(*(int *)arg) += (int)i + 1;
}

static void
test_pool_small(void **state)
{
	const char *const hosts[1] = { "x" };
	int n = 0;

	(void)state;
	release_pool_run(0, hosts, one_job, &n);
	assert_int_equal(n, 0);
	release_pool_run(1, hosts, one_job, &n);
	assert_int_equal(n, 1);
}

static void
test_pool_host(void **state)
{
	char h[RELEASE_POOL_HOST_MAX];

	(void)state;
	release_pool_host(h, sizeof(h), "https://U:P@Pypi.ORG:443/legacy/",
	    "pypi");
	assert_string_equal(h, "pypi.org:443");
	release_pool_host(h, sizeof(h), "http://127.0.0.1:8080", "x");
	assert_string_equal(h, "127.0.0.1:8080");
	release_pool_host(h, sizeof(h), NULL, "github");
	assert_string_equal(h, "github");
	release_pool_host(h, sizeof(h), "no scheme", "s3");
	assert_string_equal(h, "s3");
	release_pool_host(h, 4, "https://example.com/", "s3");
	assert_string_equal(h, "exa");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_bounds),
		cmocka_unit_test(test_pool_small),
		cmocka_unit_test(test_pool_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
