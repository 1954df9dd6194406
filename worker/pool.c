/*
 * pool.c - a fixed set of pthreads taking tasks from one queue.
 *
 * Tasks come in from the loop thread under a mutex and a condition
 * variable; finished tasks go to a second list and the loop is woken
 * with event_active() on one event (libevent coalesces several wake-ups
 * into one callback, which then drains the whole list). There is no
 * per-task allocation beyond the task record itself.
 */
#include "worker/pool.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"

struct pool_task {
	struct pool_task *next;
	pool_run_fn *run;
	pool_done_fn *done;
	void *arg;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pool_task *head, *tail; /* waiting to run */
	struct pool_task *finished;    /* run, waiting for done() */
	bool stopping;
	pthread_t *threads;
	size_t nthreads;
	size_t outstanding; /* submitted, done() not yet called: loop only */
	struct event *wake;
};

static void *
pool_main(void *arg)
{
	struct pool *p = arg;
	struct pool_task *t;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->head == NULL && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->head == NULL) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		t = p->head;
		p->head = t->next;
		if (p->head == NULL)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);

		t->run(t->arg);

		pthread_mutex_lock(&p->mu);
		t->next = p->finished;
		p->finished = t;
		if (!p->stopping)
			event_active(p->wake, 0, 0);
		pthread_mutex_unlock(&p->mu);
	}
}

static void
pool_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;
	struct pool_task *list, *rev = NULL, *t;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&p->mu);
	list = p->finished;
	p->finished = NULL;
	pthread_mutex_unlock(&p->mu);
	/* The list is newest first; hand results back in finishing order. */
	while (list != NULL) {
		t = list;
		list = t->next;
		t->next = rev;
		rev = t;
	}
	while (rev != NULL) {
		t = rev;
		rev = t->next;
		p->outstanding--;
		if (t->done != NULL)
			t->done(t->arg);
		free(t);
	}
}

int
pool_new(struct pool **out, struct event_base *base, size_t nthreads,
    struct error *err)
{
	struct pool *p = xcalloc(1, sizeof(*p));
	size_t i;
	int rc;

	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->wake = event_new(base, -1, 0, pool_wake_cb, p);
	p->threads = xcalloc(nthreads ? nthreads : 1, sizeof(*p->threads));
	for (i = 0; i < nthreads; i++) {
		if ((rc = pthread_create(&p->threads[i], NULL, pool_main, p)) !=
		    0) {
			p->nthreads = i;
			pool_free(p);
			return error_set(err, ERR_FAIL, NULL,
			    "cannot start handler thread: %s", strerror(rc));
		}
	}
	p->nthreads = nthreads;
	*out = p;
	return 0;
}

void
pool_submit(struct pool *p, pool_run_fn *run, pool_done_fn *done, void *arg)
{
	struct pool_task *t = xcalloc(1, sizeof(*t));

	t->run = run;
	t->done = done;
	t->arg = arg;
	p->outstanding++;
	pthread_mutex_lock(&p->mu);
	if (p->tail != NULL)
		p->tail->next = t;
	else
		p->head = t;
	p->tail = t;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

size_t
pool_idle(const struct pool *p)
{
	return p->outstanding >= p->nthreads ? 0 : p->nthreads - p->outstanding;
}

size_t
pool_size(const struct pool *p)
{
	return p->nthreads;
}

void
pool_free(struct pool *p)
{
	struct pool_task *t;
	size_t i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	while ((t = p->finished) != NULL) {
		p->finished = t->next;
		free(t);
	}
	while ((t = p->head) != NULL) {
		p->head = t->next;
		free(t);
	}
	event_free(p->wake);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->threads);
	free(p);
}
