/*
 * release_pool.c - a small bounded thread pool with a per-host limit for
 * a release's targets (see release_pool.h).
 *
 * The jobs are known up front, so there is no queue: each thread takes
 * the first job not started whose host has room, under one mutex, and
 * waits on a condition variable when every remaining job's host is full.
 * Jobs are taken in index order, so with one thread the order is the
 * sequential one of before.
 */
#include "publishers/release_pool.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "publishers/publisher.h"

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t n, left; /* jobs, jobs not started */
	const char *const *hosts;
	bool *started;
	size_t *running; /* per job index: running jobs with its host */
	release_pool_fn fn;
	void *arg;
};

/* The first index with the same host as job i (the host's counter). */
static size_t
host_slot(const struct pool *p, size_t i)
{
	size_t j;

	for (j = 0; j < i; j++)
		if (strcmp(p->hosts[j], p->hosts[i]) == 0)
			return j;
	return i;
}

/* Under the lock: a job to start, or n when none has room now. */
static size_t
pool_pick(struct pool *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (!p->started[i] &&
		    p->running[host_slot(p, i)] < RELEASE_POOL_PER_HOST)
			return i;
	return p->n;
}

static void *
pool_thread(void *arg)
{
	struct pool *p = arg;
	size_t i;

	pthread_mutex_lock(&p->lock);
	while (p->left > 0) {
		if ((i = pool_pick(p)) == p->n) {
			pthread_cond_wait(&p->cond, &p->lock);
			continue;
		}
		p->started[i] = true;
		p->left--;
		p->running[host_slot(p, i)]++;
		pthread_mutex_unlock(&p->lock);
		p->fn(p->arg, i);
		pthread_mutex_lock(&p->lock);
		p->running[host_slot(p, i)]--;
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

void
release_pool_run(size_t n, const char *const *hosts, release_pool_fn fn,
    void *arg)
{
	struct pool p;
	pthread_t tids[RELEASE_POOL_THREADS];
	size_t nthreads = n < RELEASE_POOL_THREADS ? n : RELEASE_POOL_THREADS;
	size_t i, started = 0;

	if (n == 0)
		return;
	memset(&p, 0, sizeof(p));
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.cond, NULL);
	p.n = p.left = n;
	p.hosts = hosts;
	p.started = xcalloc(n, sizeof(*p.started));
	p.running = xcalloc(n, sizeof(*p.running));
	p.fn = fn;
	p.arg = arg;
	/* One target: no thread needed. */
	for (i = 0; nthreads > 1 && i < nthreads; i++) {
		if (pthread_create(&tids[started], NULL, pool_thread, &p) !=
		    0) {
			log_warnx("release_pool_thread_failed started=%zu",
			    started);
			break;
		}
		started++;
	}
	if (started == 0)
		(void)pool_thread(&p);
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	pthread_cond_destroy(&p.cond);
	pthread_mutex_destroy(&p.lock);
	free(p.started);
	free(p.running);
}

void
release_pool_host(char *out, size_t n, const char *url, const char *fallback)
{
	const char *s = url ? strstr(url, "://") : NULL;
	const char *end, *at;
	size_t len, i;

	if (s == NULL || s[3] == '\0') {
		snprintf(out, n, "%s", fallback ? fallback : "");
		return;
	}
	s += 3;
	end = s + strcspn(s, "/?#");
	/* user:password@host: the credentials are not part of the key. */
	for (at = s; at < end; at++)
		if (*at == '@')
			s = at + 1;
	len = (size_t)(end - s);
	if (len >= n)
		len = n - 1;
	for (i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[len] = '\0';
}

void
release_pool_target_host(char *out, size_t n, const struct publish_target *t)
{
	static const char *const keys[] = { "url", "api_url", "endpoint" };
	char *v = NULL;
	size_t k;

	for (k = 0; k < sizeof(keys) / sizeof(keys[0]) && v == NULL; k++)
		v = publish_target_get(t, keys[k]);
	release_pool_host(out, n, v, t->type);
	free(v);
}
