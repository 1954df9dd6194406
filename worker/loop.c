/*
 * loop.c - the daemon loop: entries from the bus become jobs on the
 * handler threads, and results become outcome events and acknowledgements.
 *
 * Every entry we hold is one struct item, from the moment the bus hands
 * it over until Redis confirms the answer (or we give it back). Items
 * move through: QUEUED (waiting for a thread, or for another job with the
 * same key to finish) -> RUNNING (on a handler thread) -> COMPLETING (the
 * answer is being written) and are freed; RETRY_WAIT sits between runs of
 * a transient failure, WAIT_REDIS between attempts to write an answer
 * while Redis is away. The bus reads only as many entries as there are
 * free handler threads, and we never hold more than LOOP_HOLD_FACTOR
 * per thread in all (backpressure). All of this runs on the loop thread;
 * the handler threads only see the job and the result.
 *
 * A redelivered entry (delivery counter above 1) is a suspect: the worker
 * that held it before may have died handling it. Suspects are taken one
 * at a time (the bus claims one per stream) and run alone, and nothing
 * new is read while one is held. So when a poison entry kills the
 * process again, only its own counter grows; the innocent entries that
 * happened to be in flight with it the first time are cleared on their
 * next, solitary, run instead of reaching max_deliveries with it.
 */
#include "worker/loop.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "events/bus.h"
#include "events/envelope.h"
#include "events/fields.h"
#include "store/store.h"
#include "worker/app.h"
#include "worker/dispatch.h"
#include "worker/item.h"
#include "worker/metrics.h"
#include "worker/pool.h"
#include "worker/status.h"

/* Transient failures: wait min(cap, base * 2^(attempt-1)), scaled by a
 * random 0.5-1.0 (exponential backoff with jitter, as Celery and BullMQ
 * do). The cap stays well below the claim idle time of a typical setup,
 * so a retrying entry is held in memory, not bounced through Redis. */
#define LOOP_RETRY_BASE_MS 1000
#define LOOP_RETRY_CAP_MS 60000
/* Writing an answer while Redis is away: try again this often. */
#define LOOP_REWRITE_MS 1000
/* Background push of commits a failed push left behind. */
#define LOOP_PUSH_PERIOD_MS 30000
/* Entries held at most, per handler thread: those running or waiting
 * for a thread (one each), plus those being answered, waiting to retry
 * or waiting for Redis. Bounds memory when answers or retries pile up. */
#define LOOP_HOLD_FACTOR 4
/* Stream length / lag / pending sampling for /metrics. */
#define LOOP_SAMPLE_MS 5000
/* After the drain timeout, how long we wait for Redis to confirm that
 * the leftovers were given back before exiting anyway. */
#define LOOP_RELEASE_WAIT_MS 2000

struct loop;

struct item {
	struct item *prev, *next;
	struct loop *loop;
	struct bus_msg *msg;
	struct handler_job *job;
	struct handler_result res;
	enum item_state state;
	enum metrics_outcome outcome;
	int attempts;
	int64_t started_ms;
	bool abandoned;  /* given back while its handler still runs */
	bool in_thread;  /* a handler thread has it */
	bool in_release; /* a release is on its way to Redis */
	bool suspect;    /* redelivered and not yet run here: see below */
	struct event *timer;
};

struct loop {
	const struct handler_ctx *ctx;
	const struct config *cfg;
	struct event_base *base;
	struct bus *bus;
	struct pool *pool;
	struct pool *bg; /* one thread for the background push */
	struct status *status;
	struct metrics metrics;
	struct item *head, *tail;
	size_t nitems;
	size_t nrunning;
	size_t nsuspects;
	bool stopping;
	bool drain_expired;
	bool reader_busy; /* a read may still bring entries after SIGTERM */
	bool push_running;
	int push_rc;
	bool expire_running; /* the expiry job (expire-after) */
	int signals;
	struct event *sig_term, *sig_int;
	struct event *renew_ev, *push_ev, *sample_ev, *drain_ev, *exit_ev;
	struct event *expire_ev;
};

static void loop_dispatch(struct loop *lp);
static void loop_complete(struct item *it);
static void loop_maybe_finish(struct loop *lp);

/* ---------------------------------------------------------------- items */

static void
item_link(struct loop *lp, struct item *it)
{
	it->prev = lp->tail;
	it->next = NULL;
	if (lp->tail != NULL)
		lp->tail->next = it;
	else
		lp->head = it;
	lp->tail = it;
	lp->nitems++;
	if (it->suspect)
		lp->nsuspects++;
}

static void
item_unlink(struct loop *lp, struct item *it)
{
	if (it->prev != NULL)
		it->prev->next = it->next;
	else
		lp->head = it->next;
	if (it->next != NULL)
		it->next->prev = it->prev;
	else
		lp->tail = it->prev;
	it->prev = it->next = NULL;
	lp->nitems--;
	if (it->suspect)
		lp->nsuspects--;
}

static void
item_free(struct item *it)
{
	if (it == NULL)
		return;
	if (it->timer != NULL)
		event_free(it->timer);
	handler_job_free(it->job);
	handler_result_dispose(&it->res);
	bus_msg_free(it->msg);
	free(it);
}

/* Done with an item: forget it and make room for the next entry. */
static void
item_finish(struct item *it)
{
	struct loop *lp = it->loop;
	bool claimed = it->msg->deliveries > 1;

	item_unlink(lp, it);
	item_free(it);
	loop_dispatch(lp);
	if (claimed && !lp->stopping)
		bus_claim_now(lp->bus);
	bus_poke(lp->bus);
	loop_maybe_finish(lp);
}

static struct item *
loop_find(struct loop *lp, const char *stream, const char *id)
{
	struct item *it;

	for (it = lp->head; it != NULL; it = it->next)
		if (strcmp(it->msg->id, id) == 0 &&
		    strcmp(it->msg->stream, stream) == 0)
			return it;
	return NULL;
}

static void
item_timer(struct item *it, event_callback_fn fn, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (it->timer != NULL)
		event_free(it->timer);
	it->timer = evtimer_new(it->loop->base, fn, it);
	evtimer_add(it->timer, &tv);
}

/* ------------------------------------------------------------- release */

static void
loop_release_done(int rc, void *arg)
{
	struct item *it = arg;
	struct loop *lp = it->loop;

	it->in_release = false;
	if (rc < 0)
		log_warnx("release_failed stream=%s id=%s "
		          "note=\"stays pending, claimed after the idle time\"",
		    it->msg->stream, it->msg->id);
	else
		lp->metrics.releases++;
	if (it->abandoned) {
		/* Its handler may still run: unlink now, free when both the
		 * thread and the release are done with it. */
		item_unlink(lp, it);
		if (!it->in_thread)
			item_free(it);
		loop_maybe_finish(lp);
		return;
	}
	item_finish(it);
}

/* Give an entry back for another worker at shutdown. */
static void
loop_release(struct item *it)
{
	struct loop *lp = it->loop;

	log_info("release stream=%s id=%s", it->msg->stream, it->msg->id);
	if (it->timer != NULL)
		evtimer_del(it->timer);
	it->state = ITEM_RELEASING;
	it->in_release = true;
	if (bus_release(lp->bus, it->msg, loop_release_done, it) < 0)
		loop_release_done(ERR_TRANSIENT, it);
}

/* ----------------------------------------------------------- handlers */

static void
loop_run_job(void *arg)
{
	struct item *it = arg;

	handler_run(it->loop->ctx, it->job, &it->res);
}

static const char *
loop_action_name(enum handler_action a)
{
	switch (a) {
	case HANDLER_ACK:
		return "ack";
	case HANDLER_DEAD_LETTER:
		return "dead_letter";
	case HANDLER_RETRY:
		return "retry";
	case HANDLER_SKIP:
		return "skip";
	}
	return "?";
}

static void
loop_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct item *it = arg;

	(void)fd;
	(void)what;
	if (it->state != ITEM_RETRY_WAIT)
		return;
	it->state = ITEM_QUEUED;
	loop_dispatch(it->loop);
}

static void
loop_job_done(void *arg)
{
	struct item *it = arg;
	struct loop *lp = it->loop;
	double secs;
	long ms;

	lp->nrunning--;
	if (it->suspect && !it->abandoned) {
		/* It ran to the end here without killing us: no longer a
		 * suspect. */
		it->suspect = false;
		lp->nsuspects--;
	}
	it->in_thread = false;
	if (it->abandoned) {
		/* Given back at the drain timeout; the answer is dropped
		 * (the next worker answers it again, idempotently). Freed
		 * here unless its release is still on the way. */
		if (!it->in_release)
			item_free(it);
		return;
	}
	secs = (double)(util_mono_ms() - it->started_ms) / 1000.0;
	metrics_observe(&lp->metrics, &it->res, secs);
	/* The lines about this event carry its trace id (log.h). */
	log_context_set(it->res.trace.trace_id);
	log_info("handled stream=%s id=%s event_id=%s action=%s "
	         "duplicate=%s events=%zu ms=%lld",
	    it->msg->stream, it->msg->id,
	    it->res.event_id ? it->res.event_id : "-",
	    loop_action_name(it->res.action), log_bool(it->res.duplicate),
	    it->res.nevents, (long long)(secs * 1000));
	if (it->res.action == HANDLER_RETRY)
		it->attempts++;
	switch (item_after_run(it->res.action, it->attempts,
	    lp->cfg->max_attempts, lp->stopping)) {
	case ITEM_NEXT_OUT_OF_TRIES:
		/* Out of attempts: the result's events say what failed;
		 * dead-letter with them. */
		it->res.action = HANDLER_DEAD_LETTER;
		if (it->res.reason == NULL)
			it->res.reason = xasprintf("transient failure %d times",
			    it->attempts);
		lp->metrics.dead_letters_retries++;
		loop_complete(it);
		break;
	case ITEM_NEXT_RELEASE:
		loop_release(it);
		break;
	case ITEM_NEXT_RETRY:
		ms = item_retry_delay_ms(it->attempts, LOOP_RETRY_BASE_MS,
		    LOOP_RETRY_CAP_MS, util_jitter(0.5, 1.0));
		lp->metrics.retries++;
		log_info("retry_scheduled stream=%s id=%s attempt=%d "
		         "in_ms=%ld reason=\"%s\"",
		    it->msg->stream, it->msg->id, it->attempts, ms,
		    it->res.reason ? it->res.reason : "");
		handler_result_dispose(&it->res);
		memset(&it->res, 0, sizeof(it->res));
		it->state = ITEM_RETRY_WAIT;
		item_timer(it, loop_retry_cb, ms);
		break;
	case ITEM_NEXT_ANSWER:
		if (it->res.action == HANDLER_DEAD_LETTER)
			lp->metrics.dead_letters_invalid++;
		loop_complete(it);
		break;
	}
	log_context_set(NULL);
	loop_dispatch(lp);
	bus_poke(lp->bus); /* a thread is free: read the next entry now */
}

/* Start queued jobs on free threads, oldest first, skipping those whose
 * key is busy (they keep their place): item_pick decides. */
static void
loop_dispatch(struct loop *lp)
{
	struct item_view *v;
	struct item *it;
	size_t i = 0;

	if (lp->drain_expired || lp->nitems == 0)
		return;
	v = xcalloc(lp->nitems, sizeof(*v));
	for (it = lp->head; it != NULL; it = it->next, i++) {
		v[i].state = it->state;
		v[i].key = it->job != NULL ? it->job->key : NULL;
		v[i].suspect = it->suspect;
	}
	item_pick(v, lp->nitems, pool_idle(lp->pool));
	for (it = lp->head, i = 0; it != NULL; it = it->next, i++) {
		if (!v[i].start)
			continue;
		it->state = ITEM_RUNNING;
		it->started_ms = util_mono_ms();
		memset(&it->res, 0, sizeof(it->res));
		lp->nrunning++;
		it->in_thread = true;
		pool_submit(lp->pool, loop_run_job, loop_job_done, it);
	}
	free(v);
}

/* -------------------------------------------------------------- answers */

static void loop_rewrite_cb(evutil_socket_t fd, short what, void *arg);

static void
loop_complete_done(int rc, void *arg)
{
	struct item *it = arg;
	struct loop *lp = it->loop;

	if (rc < 0) {
		lp->metrics.completion_errors++;
		it->state = ITEM_WAIT_REDIS;
		item_timer(it, loop_rewrite_cb, LOOP_REWRITE_MS);
		return;
	}
	if (rc == 1) {
		log_info("already_answered stream=%s id=%s", it->msg->stream,
		    it->msg->id);
		lp->metrics.acked[METRICS_ANSWERED]++;
	} else {
		lp->metrics.acked[it->outcome]++;
	}
	item_finish(it);
}

/* Write the answer of an item whose result is final. The handlers hand
 * over typed events: nothing of our own output is parsed again here. */
static void
loop_write(struct item *it)
{
	struct loop *lp = it->loop;
	struct bus_out_event *ev;
	struct bus_completion c = { 0 };
	size_t i;

	ev = xcalloc(it->res.nevents ? it->res.nevents : 1, sizeof(*ev));
	for (i = 0; i < it->res.nevents; i++) {
		const struct handler_event *e = &it->res.events[i];

		ev[i].json = e->json;
		ev[i].event_id = e->event_id;
		ev[i].event_type = e->type;
		ev[i].correlation_id = e->correlation_id;
		ev[i].stream = e->stream;
	}
	c.msg = it->msg;
	c.events = ev;
	c.nevents = it->res.nevents;
	c.dead = it->res.action == HANDLER_DEAD_LETTER;
	c.reason = it->res.reason ? it->res.reason : "dead-lettered";
	it->state = ITEM_COMPLETING;
	if (bus_complete(lp->bus, &c, loop_complete_done, it) < 0)
		loop_complete_done(ERR_TRANSIENT, it);
	free(ev);
}

static void
loop_rewrite_cb(evutil_socket_t fd, short what, void *arg)
{
	struct item *it = arg;

	(void)fd;
	(void)what;
	if (it->state == ITEM_WAIT_REDIS)
		loop_write(it);
}

static void
loop_complete(struct item *it)
{
	log_context_set(it->res.trace.trace_id);
	switch (it->res.action) {
	case HANDLER_DEAD_LETTER:
		it->outcome = METRICS_DEAD_LETTER;
		log_warnx("dead_letter stream=%s id=%s event_id=%s "
		          "deliveries=%lld reason=\"%s\"",
		    it->msg->stream, it->msg->id,
		    it->res.event_id ? it->res.event_id : "-",
		    it->msg->deliveries, it->res.reason ? it->res.reason : "");
		break;
	case HANDLER_SKIP:
		it->outcome = METRICS_SKIPPED;
		break;
	default:
		it->outcome =
		    it->res.duplicate ? METRICS_DUPLICATE : METRICS_OK;
		break;
	}
	loop_write(it);
	log_context_set(NULL);
}

/*
 * Answer an entry without running a handler: the handlers' own refusal
 * (handler_refuse: the stand-in for what does not parse, the failure
 * type, the action from the policy), then the answer is written.
 */
static void
loop_refuse(struct item *it, const char *json, size_t len,
    const char *field_event_id, const char *field_type, const struct error *err,
    char *reason)
{
	handler_result_dispose(&it->res);
	handler_refuse(it->loop->ctx, it->msg->stream, json, len,
	    field_event_id, field_type, err, reason, &it->res);
	loop_complete(it);
}

/*
 * An entry delivered max_deliveries times without an answer: every
 * earlier delivery ended with the worker dying (or being killed) while
 * handling it. Dead-letter it without running the handler again.
 */
static void
loop_crash_letter(struct item *it, const char *json, size_t len,
    const char *field_event_id, const char *field_type)
{
	struct error err = { 0 };

	/* The event itself is the poison: never retried (ERR_INVALID). */
	error_set(&err, ERR_INVALID, "CRASH",
	    "delivered %lld times without an answer: handling it "
	    "may crash the worker",
	    it->msg->deliveries);
	it->loop->metrics.dead_letters_crash++;
	loop_refuse(it, json, len, field_event_id, field_type, &err,
	    xasprintf("max deliveries reached (%lld)", it->msg->deliveries));
}

/* ----------------------------------------------------------- bus side */

static size_t
loop_capacity(void *arg)
{
	struct loop *lp = arg;
	size_t conc = (size_t)lp->cfg->concurrency;
	size_t hold = conc * LOOP_HOLD_FACTOR, busy = 0;
	struct item *it;

	/* Entries that wait for a thread or run on one use up the
	 * threads; the others (being answered, waiting to retry, waiting
	 * for Redis) do not, so the next entry is read while an answer is
	 * still on its way. */
	for (it = lp->head; it != NULL; it = it->next)
		if (item_uses_thread(it->state))
			busy++;
	return item_capacity(conc, hold, lp->nitems, busy, lp->nsuspects,
	    lp->stopping);
}

/* A plain stream field (event_id, event_type) that may stand in for the
 * envelope's: used only when it passes the envelope's own rule (UTF-8,
 * no NUL or control character, at most ENVELOPE_FIELD_MAX bytes), since
 * it is logged and echoed in the answer. */
static const char *
loop_plain_field(const struct bus_msg *msg, const char *name)
{
	size_t len = 0;
	const char *v = bus_msg_field(msg, name, &len);

	return v != NULL && envelope_id_ok(v, len) ? v : NULL;
}

static void
loop_on_msg(struct bus_msg *msg, void *arg)
{
	struct loop *lp = arg;
	struct item *it;
	const char *json, *eid, *etype;
	size_t len = 0;
	int rc;

	lp->metrics.received++;
	if (msg->deliveries > 1)
		lp->metrics.redeliveries++;
	if (loop_find(lp, msg->stream, msg->id) != NULL) {
		/* Already ours (a claim of an entry we hold): one run is
		 * enough. */
		bus_msg_free(msg);
		return;
	}
	it = xcalloc(1, sizeof(*it));
	it->loop = lp;
	it->msg = msg;
	it->suspect = msg->deliveries > 1;
	item_link(lp, it);
	if (lp->stopping) {
		loop_release(it);
		return;
	}
	json = bus_msg_field(msg, FIELD_EVENT, &len);
	eid = loop_plain_field(msg, FIELD_EVENT_ID);
	etype = loop_plain_field(msg, FIELD_EVENT_TYPE);
	log_debug("received stream=%s id=%s deliveries=%lld", msg->stream,
	    msg->id, msg->deliveries);
	if (msg->deliveries >= lp->cfg->max_deliveries) {
		loop_crash_letter(it, json, len, eid, etype);
		return;
	}
	if (msg->nfields_total > msg->nfields) {
		/* Not one of ours (producers write four fields): refused
		 * whole, and the dead letter keeps the event and its ids,
		 * which the bus kept first. */
		struct error err = { 0 };

		error_set(&err, ERR_INVALID, "INVALID_EVENT",
		    "stream entry has %zu fields, limit %zu",
		    msg->nfields_total, msg->nfields);
		lp->metrics.dead_letters_invalid++;
		loop_refuse(it, json, len, eid, etype, &err,
		    xasprintf("INVALID_EVENT: %s", err.msg));
		return;
	}
	rc = handler_prepare(lp->ctx, &it->job, msg->stream, json, len, eid,
	    &it->res);
	if (rc < 0) {
		if (it->res.action == HANDLER_DEAD_LETTER)
			lp->metrics.dead_letters_invalid++;
		metrics_failures(&lp->metrics, &it->res);
		loop_complete(it);
		return;
	}
	handler_result_dispose(&it->res);
	memset(&it->res, 0, sizeof(it->res));
	it->state = ITEM_QUEUED;
	loop_dispatch(lp);
}

static void
loop_renew_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop *lp = arg;
	const char **ids;
	const char *stream;
	struct item *it, *s;
	size_t n;

	(void)fd;
	(void)what;
	if (lp->nitems == 0)
		return;
	ids = xcalloc(lp->nitems, sizeof(*ids));
	/* One XCLAIM per stream with all our ids of that stream. */
	for (s = lp->head; s != NULL; s = s->next) {
		bool first = true;

		for (it = lp->head; it != s; it = it->next)
			if (strcmp(it->msg->stream, s->msg->stream) == 0)
				first = false;
		if (!first)
			continue;
		stream = s->msg->stream;
		n = 0;
		for (it = s; it != NULL; it = it->next)
			if (strcmp(it->msg->stream, stream) == 0 &&
			    it->state != ITEM_RELEASING)
				ids[n++] = it->msg->id;
		bus_renew(lp->bus, stream, ids, n);
	}
	free(ids);
}

/* ------------------------------------------------------- push-pending */

static void
loop_push_run(void *arg)
{
	struct loop *lp = arg;
	struct error err = { 0 };

	/* push_rc is read by loop_push_done on the loop thread, after
	 * the pool's mutex handed the task back. */
	lp->push_rc = app_push_pending(lp->ctx, &err);
	if (lp->push_rc < 0)
		log_warnx("push_pending_failed err=\"%s\"", err.msg);
}

static void
loop_push_done(void *arg)
{
	struct loop *lp = arg;

	lp->push_running = false;
	lp->metrics.push_runs++;
	if (lp->push_rc < 0)
		lp->metrics.push_failures++;
	loop_maybe_finish(lp);
}

static void
loop_push_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop *lp = arg;

	(void)fd;
	(void)what;
	if (lp->push_running || lp->stopping || lp->cfg->remote_url == NULL)
		return;
	lp->push_running = true;
	/* On its own thread: a push to a hanging remote takes up to
	 * GIT_PUSH_TIMEOUT and must not take a handler slot. */
	pool_submit(lp->bg, loop_push_run, loop_push_done, lp);
}

/* ------------------------------------------------------------- expiry */

static void
loop_expire_run(void *arg)
{
	struct loop *lp = arg;
	struct error err = { 0 };

	/* app_expire takes the repository's expiry lock: with several
	 * workers on one repository one runs it, the others skip. */
	if (app_expire(lp->ctx, &err) < 0)
		log_warnx("expire_failed err=\"%s\"", err.msg);
}

static void
loop_expire_done(void *arg)
{
	struct loop *lp = arg;

	lp->expire_running = false;
	loop_maybe_finish(lp);
}

static void
loop_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop *lp = arg;

	(void)fd;
	(void)what;
	if (lp->expire_running || lp->stopping)
		return;
	lp->expire_running = true;
	/* The background thread, as the push: it may reach the remote. */
	pool_submit(lp->bg, loop_expire_run, loop_expire_done, lp);
}

/* ------------------------------------------------------------ metrics */

static void
loop_sample_done(const struct bus_sample *s, size_t n, void *arg)
{
	struct loop *lp = arg;

	metrics_set_samples(&lp->metrics, s, n);
}

static void
loop_sample_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop *lp = arg;

	(void)fd;
	(void)what;
	bus_sample(lp->bus, loop_sample_done, lp);
}

static bool
loop_ready(void *arg)
{
	struct loop *lp = arg;

	return !lp->stopping && bus_ready(lp->bus);
}

static int
loop_metrics(struct buf *out, void *arg)
{
	struct loop *lp = arg;

	lp->metrics.inflight = (long long)lp->nitems;
	lp->metrics.running = (long long)lp->nrunning;
	lp->metrics.free_slots = (long long)loop_capacity(lp);
	lp->metrics.draining = lp->stopping;
	lp->metrics.ready = loop_ready(lp);
	lp->metrics.bus = bus_stats(lp->bus);
	return metrics_render(&lp->metrics, lp->cfg->group, out);
}

/* ----------------------------------------------------------- shutdown */

static void
loop_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop *lp = arg;

	(void)fd;
	(void)what;
	event_base_loopexit(lp->base, NULL);
}

static void
loop_maybe_finish(struct loop *lp)
{
	struct timeval now = { 0, 0 };

	/* A background push is not waited for: its commits are safe
	 * locally and the next run pushes them. */
	if (lp->stopping && lp->nitems == 0 && !lp->reader_busy)
		evtimer_add(lp->exit_ev, &now);
}

static void
loop_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop *lp = arg;
	struct item *it, *next;
	struct timeval tv = { LOOP_RELEASE_WAIT_MS / 1000,
		(LOOP_RELEASE_WAIT_MS % 1000) * 1000 };

	(void)fd;
	(void)what;
	lp->drain_expired = true;
	log_warnx("drain_timeout items=%zu action=release", lp->nitems);
	for (it = lp->head; it != NULL; it = next) {
		next = it->next;
		if (!item_release_on_drain(it->state))
			continue;
		if (it->state == ITEM_RUNNING)
			it->abandoned = true;
		loop_release(it);
	}
	/* Whatever Redis did not confirm by then stays pending and is
	 * claimed after the idle time. */
	evtimer_add(lp->exit_ev, &tv);
}

static void
loop_reader_stopped(void *arg)
{
	struct loop *lp = arg;

	lp->reader_busy = false;
	loop_maybe_finish(lp);
}

static void
loop_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct loop *lp = arg;
	struct item *it, *next;
	struct timeval tv;

	(void)what;
	if (++lp->signals > 1) {
		/* Second signal: leave now; whatever we hold stays pending
		 * in Redis and another worker claims it. */
		log_warnx("shutdown_now signal=%d items=%zu", (int)sig,
		    lp->nitems);
		_exit(128 + (int)sig);
	}
	lp->stopping = true;
	lp->reader_busy = true;
	log_info("shutdown_started signal=%d items=%zu drain_ms=%lld", (int)sig,
	    lp->nitems, lp->cfg->drain_timeout_ms);
	/* Not started yet: give back at once rather than start now. */
	for (it = lp->head; it != NULL; it = next) {
		next = it->next;
		if (item_release_on_signal(it->state))
			loop_release(it);
	}
	tv.tv_sec = (long)(lp->cfg->drain_timeout_ms / 1000);
	tv.tv_usec = (long)(lp->cfg->drain_timeout_ms % 1000) * 1000;
	evtimer_add(lp->drain_ev, &tv);
	/* Entries an outstanding read already took are ours: wait for that
	 * read (cut short by the bus) and give them back, rather than leave
	 * them pending until claim_idle_ms. */
	bus_stop_reading(lp->bus, loop_reader_stopped, lp);
}

/* --------------------------------------------------------------- main */

/* A signal that came before the loop's own handlers were installed. */
static volatile sig_atomic_t loop_early_signal;

static void
loop_early_handler(int sig)
{
	loop_early_signal = sig;
}

void
loop_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = loop_early_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static struct event *
loop_every(struct loop *lp, long ms, event_callback_fn fn)
{
	struct event *ev = event_new(lp->base, -1, EV_PERSIST, fn, lp);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_add(ev, &tv);
	return ev;
}

int
loop_run(const struct handler_ctx *ctx, const struct config *cfg,
    struct error *err)
{
	struct loop lp = { 0 };
	struct bus_opts bo = { 0 };
	const char *streams[8]; /* one per distinct stream of the event
	                           types' table: two today */
	long renew_ms;
	long long expire_s;
	bool abandoned = false;
	struct item *it;
	int rc;

	signal(SIGPIPE, SIG_IGN); /* the Redis client writes with write(2) */
	if (evthread_use_pthreads() != 0)
		return error_set(err, ERR_FAIL, NULL,
		    "libevent has no pthreads support");
	lp.ctx = ctx;
	lp.cfg = cfg;
	metrics_init(&lp.metrics);
	lp.base = event_base_new();
	if (lp.base == NULL)
		return error_set(err, ERR_FAIL, NULL, "event_base_new failed");
	if ((rc = pool_new(&lp.pool, lp.base, (size_t)cfg->concurrency, err)) <
	        0 ||
	    (rc = pool_new(&lp.bg, lp.base, 1, err)) < 0)
		goto out;
	bo.url = cfg->redis_url;
	bo.group = cfg->group;
	bo.consumer = cfg->consumer;
	bo.streams = streams;
	/* The streams the event types arrive on (dispatch.c's table). */
	bo.nstreams = dispatch_streams(cfg, streams,
	    sizeof(streams) / sizeof(streams[0]));
	bo.output_stream = cfg->output_stream;
	bo.output_channel = cfg->output_channel;
	bo.output_maxlen = cfg->stream_maxlen;
	bo.block_ms = cfg->block_ms;
	bo.claim_idle_ms = cfg->claim_idle_ms;
	bo.consume = true;
	if ((rc = bus_new(&lp.bus, lp.base, &bo, loop_on_msg, loop_capacity,
	         &lp, err)) < 0)
		goto out;
	if ((rc = status_start(&lp.status, lp.base, cfg->http_addr, loop_ready,
	         loop_metrics, &lp, err)) < 0)
		goto out;
	lp.sig_term = evsignal_new(lp.base, SIGTERM, loop_signal_cb, &lp);
	lp.sig_int = evsignal_new(lp.base, SIGINT, loop_signal_cb, &lp);
	event_add(lp.sig_term, NULL);
	event_add(lp.sig_int, NULL);
	if (loop_early_signal != 0)
		raise(loop_early_signal); /* now handled by the loop */
	/* Renew three times per idle period: a live job's entry never
	 * looks idle to other workers' XAUTOCLAIM. */
	renew_ms = (long)(cfg->claim_idle_ms / 3);
	if (renew_ms < 100)
		renew_ms = 100;
	lp.renew_ev = loop_every(&lp, renew_ms, loop_renew_cb);
	lp.push_ev = loop_every(&lp, LOOP_PUSH_PERIOD_MS, loop_push_cb);
	lp.sample_ev = loop_every(&lp, LOOP_SAMPLE_MS, loop_sample_cb);
	if (cfg->expire_after != NULL && *cfg->expire_after != '\0' &&
	    cfg->expire_interval != NULL &&
	    store_age_parse(&expire_s, cfg->expire_interval) == 0)
		lp.expire_ev =
		    loop_every(&lp, (long)(expire_s * 1000), loop_expire_cb);
	lp.drain_ev = evtimer_new(lp.base, loop_drain_cb, &lp);
	lp.exit_ev = evtimer_new(lp.base, loop_exit_cb, &lp);
	{
		char *safe = util_redact_url(cfg->redis_url);

		log_info("daemon_started redis=%s group=%s consumer=%s "
		         "streams=%s,%s concurrency=%lld",
		    safe, cfg->group, cfg->consumer, cfg->test_stream,
		    cfg->release_stream, cfg->concurrency);
		free(safe);
	}
	/* Push what an earlier run could not push, once at start. */
	loop_push_cb(-1, 0, &lp);
	event_base_dispatch(lp.base);
	abandoned = (lp.drain_expired && lp.nrunning > 0) || lp.push_running ||
	            lp.expire_running;
	log_info("daemon_stopped released=%llu",
	    (unsigned long long)lp.metrics.releases);
	rc = 0;
out:
	if (abandoned) {
		/* Handler threads still run jobs we gave back: do not wait
		 * for them, and do not run exit handlers under them. */
		_exit(0);
	}
	status_free(lp.status);
	bus_free(lp.bus);
	pool_free(lp.pool);
	pool_free(lp.bg);
	while ((it = lp.head) != NULL) {
		item_unlink(&lp, it);
		item_free(it);
	}
	if (lp.sig_term != NULL)
		event_free(lp.sig_term);
	if (lp.sig_int != NULL)
		event_free(lp.sig_int);
	if (lp.renew_ev != NULL)
		event_free(lp.renew_ev);
	if (lp.push_ev != NULL)
		event_free(lp.push_ev);
	if (lp.expire_ev != NULL)
		event_free(lp.expire_ev);
	if (lp.sample_ev != NULL)
		event_free(lp.sample_ev);
	if (lp.drain_ev != NULL)
		event_free(lp.drain_ev);
	if (lp.exit_ev != NULL)
		event_free(lp.exit_ev);
	metrics_dispose(&lp.metrics);
	event_base_free(lp.base);
	return rc;
}
