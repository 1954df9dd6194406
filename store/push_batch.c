/*
 * push_batch.c - coalesced pushes: one push carries every ref that became
 * ready within opts.push_window_ms, across events and branches, so a busy
 * worker pushes a few times a second instead of once per event (a hosted
 * remote limits pushes, issue 15).
 *
 * Each struct store (one repository) has one queue. A caller enqueues its
 * refs (an event's branch and tags) and waits. The first caller that
 * finds no push under way leads: it waits the window, takes what is
 * queued then (its own refs included) and pushes them with one
 * store_push_refs (push.c: hard deadline per push, per-ref results,
 * rebuild on a moved remote tip), then hands each waiter its own result:
 * an event fails only when one of its own refs is still open. Refs that
 * arrive during a push wait for the next one, led by one of them. The
 * caller answers only once its refs' push is known, so how many events
 * one push carries is bounded by the callers waiting (the worker's
 * handler threads, `concurrency`).
 *
 * One push that hangs (a remote that accepts and never answers, bounded
 * only by push-timeout) must not hold every other event's answer: when
 * the newest push has run PUSH_BATCH_STALL_MS, a waiter whose refs are
 * still queued leads a second push beside it, up to
 * PUSH_BATCH_LEADERS_MAX at once (test_slow_remote_push). Pushes that
 * finish in time never overlap, so coalescing is unchanged.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "store/store_int.h"

/* Events one push carries at most. Each brings a branch and up to two
 * tags (about 200 bytes of request), so 256 events stay far below
 * PUSH_REQUEST_MAX (1 MB) and one push's pack below what a hosted remote
 * takes in one go; the rest go in the next push. */
#define PUSH_BATCH_MAX_EVENTS 256

/* A push running this long is taken as stalled: queued refs get a push
 * of their own beside it. A push to a hosted remote takes well under a
 * second; 2 s keeps pushes from overlapping on a merely slow link. */
#define PUSH_BATCH_STALL_MS 2000
/* Pushes of one repository at once, stalled ones included: each holds a
 * child of the push helper and a connection to the remote. */
#define PUSH_BATCH_LEADERS_MAX 4

struct batch_entry {
	struct batch_entry *next;
	char **refs; /* this event's refs, owned */
	size_t nrefs;
	bool done;
	bool taken; /* in a push under way */
	int rc;
	struct error err;
};

struct push_batch {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct batch_entry *head, **tail;
	int leaders;     /* pushes (or their windows) under way */
	int64_t lead_ms; /* when the newest of them started (monotonic) */
};

const char *
store_push_name(enum store_push p)
{
	switch (p) {
	case STORE_PUSH_OK:
		return "ok";
	case STORE_PUSH_FAILED:
		return "failed";
	case STORE_PUSH_DISABLED:
	default:
		return "disabled";
	}
}

/* The store's queue, made on first use (under helper_lock, which every
 * store has from store_open on). */
static struct push_batch *
batch_of(struct store *st)
{
	struct push_batch *b;

	pthread_mutex_lock(&st->helper_lock);
	if ((b = st->batch) == NULL) {
		b = xcalloc(1, sizeof(*b));
		pthread_mutex_init(&b->lock, NULL);
		pthread_cond_init(&b->cond, NULL);
		b->tail = &b->head;
		st->batch = b;
	}
	pthread_mutex_unlock(&st->helper_lock);
	return b;
}

void
store_push_batch_free(struct store *st)
{
	struct push_batch *b = st->batch;

	if (b == NULL)
		return;
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->cond);
	free(b);
	st->batch = NULL;
}

static void
batch_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0)
		;
}

/* Take up to PUSH_BATCH_MAX_EVENTS entries off the queue (lock held). */
static struct batch_entry *
batch_take(struct push_batch *b)
{
	struct batch_entry *first = b->head, *e = first;
	int n = 1;

	if (first == NULL)
		return NULL;
	while (e->next != NULL && n < PUSH_BATCH_MAX_EVENTS) {
		e = e->next;
		n++;
	}
	b->head = e->next;
	if (b->head == NULL)
		b->tail = &b->head;
	e->next = NULL;
	for (e = first; e != NULL; e = e->next)
		e->taken = true;
	return first;
}

static bool
batch_has(char **v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/*
 * Push the refs of every entry of the list in one push; set each entry's
 * rc and err (lock not held: the entries are ours until marked done).
 */
static void
batch_push(struct store *st, git_repository *repo, struct batch_entry *list)
{
	struct batch_entry *e;
	struct error err;
	char **refs = NULL, **open = NULL;
	size_t nrefs = 0, nopen = 0, i, nev = 0;
	int rc;

	for (e = list; e != NULL; e = e->next, nev++) {
		refs = xrealloc(refs, (nrefs + e->nrefs) * sizeof(*refs));
		for (i = 0; i < e->nrefs; i++)
			refs[nrefs++] = e->refs[i]; /* borrowed */
	}
	error_clear(&err);
	rc = store_push_refs(st, repo, refs, nrefs, &open, &nopen, &err);
	log_debug("store_push_batch events=%zu refs=%zu open=%zu", nev, nrefs,
	    nopen);
	for (e = list; e != NULL; e = e->next) {
		e->rc = 0;
		error_clear(&e->err);
		for (i = 0; i < e->nrefs; i++)
			if (rc < 0 && batch_has(open, nopen, e->refs[i])) {
				e->rc = rc;
				e->err = err;
				break;
			}
	}
	store_push_refs_free(open, nopen);
	free(refs);
}

/* Lead one push: wait the window, then push what is queued (lock held on
 * entry and on return). */
static void
batch_lead(struct store *st, git_repository *repo, struct push_batch *b)
{
	struct batch_entry *list, *e, *next;

	b->leaders++;
	b->lead_ms = util_mono_ms();
	pthread_mutex_unlock(&b->lock);
	batch_sleep_ms(st->opts.push_window_ms);
	pthread_mutex_lock(&b->lock);
	list = batch_take(b);
	pthread_mutex_unlock(&b->lock);
	batch_push(st, repo, list);
	pthread_mutex_lock(&b->lock);
	for (e = list; e != NULL; e = next) {
		next = e->next;
		e->next = NULL;
		e->done = true;
	}
	b->leaders--;
	pthread_cond_broadcast(&b->cond);
}

/* Whether a waiter with queued refs leads now (lock held): no push under
 * way, or the newest one stalled and there is room for another. */
static bool
batch_may_lead(const struct push_batch *b)
{
	return b->leaders == 0 ||
	       (b->leaders < PUSH_BATCH_LEADERS_MAX &&
	           util_mono_ms() - b->lead_ms >= PUSH_BATCH_STALL_MS);
}

/* Wait for a push to end, at most until the newest one counts as stalled
 * (lock held). */
static void
batch_wait(struct push_batch *b)
{
	struct timespec ts;
	int64_t left = b->lead_ms + PUSH_BATCH_STALL_MS - util_mono_ms();

	if (left < 1)
		left = 1;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(left / 1000);
	ts.tv_nsec += (long)(left % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	(void)pthread_cond_timedwait(&b->cond, &b->lock, &ts);
}

int
store_push_batched(struct store *st, git_repository *repo,
    const char *branch_ref, char **tags, size_t ntags, git_oid *new_tip,
    struct error *err)
{
	struct push_batch *b;
	struct batch_entry e;
	size_t i;
	int rc;

	if (st->opts.push_window_ms <= 0)
		return store_push_branch(st, repo, branch_ref, tags, ntags,
		    new_tip, err);
	b = batch_of(st);
	memset(&e, 0, sizeof(e));
	e.nrefs = ntags + 1;
	e.refs = xcalloc(e.nrefs, sizeof(*e.refs));
	e.refs[0] = xstrdup(branch_ref);
	for (i = 0; i < ntags; i++)
		e.refs[i + 1] = xasprintf("refs/tags/%s", tags[i]);
	pthread_mutex_lock(&b->lock);
	*b->tail = &e;
	b->tail = &e.next;
	while (!e.done) {
		if (!e.taken && batch_may_lead(b))
			batch_lead(st, repo, b);
		else if (e.taken)
			pthread_cond_wait(&b->cond, &b->lock);
		else
			batch_wait(b);
	}
	pthread_mutex_unlock(&b->lock);
	rc = e.rc;
	if (rc < 0 && err != NULL)
		*err = e.err;
	store_push_refs_free(e.refs, e.nrefs);
	if (rc == 0 && new_tip != NULL &&
	    (rc = store_ref_commit(new_tip, repo, branch_ref, err)) < 0)
		rc = ERR_TRANSIENT;
	return rc;
}
