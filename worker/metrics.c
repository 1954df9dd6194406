/*
 * metrics.c - counters and gauges of the daemon, rendered in the
 * Prometheus text format (names follow prometheus.io/docs/practices/
 * naming: a unit suffix, _total for counters).
 */
#include "worker/metrics.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "events/version.h"
#include "publishers/version.h"
#include "store/version.h"
#include "worker/handler.h"

static const double metrics_bounds[METRICS_NBUCKETS] = { 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120 };

static const char *const metrics_outcomes[METRICS_NOUTCOMES] = { "ok",
	"duplicate", "skipped", "dead_letter", "answered_elsewhere" };

static const char *const metrics_types[METRICS_NTYPES] = { "TEST_PASSED",
	"ROLLBACK_REQUESTED", "RELEASE_TAGGED", "other" };

static const char *const metrics_results[METRICS_NRESULTS] = { "ok", "failed",
	"retry", "dead_letter", "skipped" };

/* Publishing, per target: written by handler threads. */
struct metrics_target {
	char name[64];
	uint64_t files, failures, bytes;
	double seconds;
};

static pthread_mutex_t metrics_pub_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_target metrics_pub[METRICS_MAX_TARGETS];
static size_t metrics_npub;

void
metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
}

void
metrics_dispose(struct metrics *m)
{
	size_t i;

	for (i = 0; i < m->nstreams; i++)
		free(m->streams[i].name);
	m->nstreams = 0;
}

/* A label value we can print as is: [A-Za-z0-9_.-], non-empty, shorter
 * than n. Config names and codes are, but nothing relies on it. */
static bool
metrics_label_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i + 1 >= n ||
		    strchr(
		        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		        "0123456789_.-",
		        s[i]) == NULL)
			return false;
	return i > 0;
}

static void
metrics_count_code(struct metrics *m, const char *code)
{
	size_t i;

	if (!metrics_label_ok(code, sizeof(m->codes[0].name)))
		code = "OTHER";
	for (i = 0; i < m->ncodes; i++)
		if (strcmp(m->codes[i].name, code) == 0)
			break;
	if (i == m->ncodes) {
		if (m->ncodes == METRICS_MAX_CODES) {
			/* Full: the last slot becomes the catch-all. */
			i = METRICS_MAX_CODES - 1;
			snprintf(m->codes[i].name, sizeof(m->codes[i].name),
			    "%s", "OTHER");
		} else {
			snprintf(m->codes[i].name, sizeof(m->codes[i].name),
			    "%s", code);
			m->ncodes++;
		}
	}
	m->codes[i].n++;
}

size_t
metrics_failures(struct metrics *m, const struct handler_result *res)
{
	size_t i, n = 0;

	/* The handlers typed each answer's error code: no parsing here. */
	for (i = 0; i < res->nevents; i++) {
		if (res->events[i].error_code != NULL) {
			metrics_count_code(m, res->events[i].error_code);
			n++;
		}
	}
	return n;
}

static enum metrics_type
metrics_type_of(const char *event_type)
{
	int t;

	for (t = 0; event_type != NULL && t < METRICS_TYPE_OTHER; t++)
		if (strcmp(event_type, metrics_types[t]) == 0)
			return (enum metrics_type)t;
	return METRICS_TYPE_OTHER;
}

void
metrics_observe(struct metrics *m, const struct handler_result *res,
    double seconds)
{
	enum metrics_result r;
	struct metrics_hist *h;
	size_t i, nfail;

	nfail = metrics_failures(m, res);
	switch (res->action) {
	case HANDLER_RETRY:
		r = METRICS_RESULT_RETRY;
		break;
	case HANDLER_DEAD_LETTER:
		r = METRICS_RESULT_DEAD_LETTER;
		break;
	case HANDLER_SKIP:
		r = METRICS_RESULT_SKIPPED;
		break;
	default:
		r = nfail > 0 ? METRICS_RESULT_FAILED : METRICS_RESULT_OK;
		break;
	}
	h = &m->hist[metrics_type_of(res->event_type)][r];
	for (i = 0; i < METRICS_NBUCKETS; i++)
		if (seconds <= metrics_bounds[i])
			h->buckets[i]++;
	h->count++;
	h->sum += seconds;
}

void
metrics_publish(const char *target, int rc, uint64_t bytes, double seconds)
{
	struct metrics_target *t;
	size_t i;

	if (!metrics_label_ok(target, sizeof(metrics_pub[0].name)))
		target = "other";
	pthread_mutex_lock(&metrics_pub_lock);
	for (i = 0; i < metrics_npub; i++)
		if (strcmp(metrics_pub[i].name, target) == 0)
			break;
	if (i == metrics_npub) {
		if (metrics_npub == METRICS_MAX_TARGETS) {
			i = METRICS_MAX_TARGETS - 1;
			snprintf(metrics_pub[i].name,
			    sizeof(metrics_pub[i].name), "%s", "other");
		} else {
			snprintf(metrics_pub[i].name,
			    sizeof(metrics_pub[i].name), "%s", target);
			metrics_npub++;
		}
	}
	t = &metrics_pub[i];
	if (rc < 0) {
		t->failures++;
	} else {
		t->files++;
		t->bytes += bytes;
	}
	t->seconds += seconds;
	pthread_mutex_unlock(&metrics_pub_lock);
}

void
metrics_set_samples(struct metrics *m, const struct bus_sample *s, size_t n)
{
	size_t i;

	metrics_dispose(m);
	if (n > METRICS_MAX_STREAMS)
		n = METRICS_MAX_STREAMS;
	for (i = 0; i < n; i++) {
		m->streams[i].name = xstrdup(s[i].stream);
		m->streams[i].length = s[i].length;
		m->streams[i].lag = s[i].lag;
		m->streams[i].pending = s[i].pending;
		m->streams[i].dead = s[i].dead;
		m->streams[i].oldest_ms = s[i].oldest_ms;
	}
	m->nstreams = n;
}

const char *
metrics_outcome_name(enum metrics_outcome o)
{
	return metrics_outcomes[o];
}

#define P(...)                                        \
	do {                                          \
		if (buf_printf(out, __VA_ARGS__) < 0) \
			return ERR_INVALID;           \
	} while (0)

static int
metrics_counter(struct buf *out, const char *name, const char *help, uint64_t v)
{
	P("# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
	    (unsigned long long)v);
	return 0;
}

static int
metrics_gauge(struct buf *out, const char *name, const char *help, long long v)
{
	P("# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name,
	    v);
	return 0;
}

/* The duration histogram, one series per event type and outcome seen. */
static int
metrics_render_hist(const struct metrics *m, struct buf *out)
{
	const struct metrics_hist *h;
	int t, r;
	size_t i;

	P("# HELP artifactd_handler_duration_seconds Time a handler ran, by "
	  "input event type and outcome\n"
	  "# TYPE artifactd_handler_duration_seconds histogram\n");
	for (t = 0; t < METRICS_NTYPES; t++) {
		for (r = 0; r < METRICS_NRESULTS; r++) {
			h = &m->hist[t][r];
			if (h->count == 0)
				continue;
#define L "{type=\"%s\",outcome=\"%s\""
			for (i = 0; i < METRICS_NBUCKETS; i++)
				P("artifactd_handler_duration_seconds_bucket" L
				  ",le=\"%g\"} %llu\n",
				    metrics_types[t], metrics_results[r],
				    metrics_bounds[i],
				    (unsigned long long)h->buckets[i]);
			P("artifactd_handler_duration_seconds_bucket" L
			  ",le=\"+Inf\"} %llu\n",
			    metrics_types[t], metrics_results[r],
			    (unsigned long long)h->count);
			P("artifactd_handler_duration_seconds_sum" L "} %.6f\n",
			    metrics_types[t], metrics_results[r], h->sum);
			P("artifactd_handler_duration_seconds_count" L
			  "} %llu\n",
			    metrics_types[t], metrics_results[r],
			    (unsigned long long)h->count);
#undef L
		}
	}
	P("# HELP artifactd_failures_total Failure answers, by error code "
	  "(each attempt of a retried failure counts)\n"
	  "# TYPE artifactd_failures_total counter\n");
	for (i = 0; i < m->ncodes; i++)
		P("artifactd_failures_total{code=\"%s\"} %llu\n",
		    m->codes[i].name, (unsigned long long)m->codes[i].n);
	return 0;
}

/* Publishing per target (process-wide, see metrics_publish). */
static int
metrics_render_publish(struct buf *out)
{
	struct metrics_target t[METRICS_MAX_TARGETS];
	size_t i, n;

	pthread_mutex_lock(&metrics_pub_lock);
	n = metrics_npub;
	memcpy(t, metrics_pub, n * sizeof(t[0]));
	pthread_mutex_unlock(&metrics_pub_lock);
	P("# HELP artifactd_publish_files_total Files published (or found "
	  "already there), by target\n"
	  "# TYPE artifactd_publish_files_total counter\n");
	for (i = 0; i < n; i++)
		P("artifactd_publish_files_total{target=\"%s\"} %llu\n",
		    t[i].name, (unsigned long long)t[i].files);
	P("# HELP artifactd_publish_failures_total Files that failed to "
	  "publish, by target\n"
	  "# TYPE artifactd_publish_failures_total counter\n");
	for (i = 0; i < n; i++)
		P("artifactd_publish_failures_total{target=\"%s\"} %llu\n",
		    t[i].name, (unsigned long long)t[i].failures);
	P("# HELP artifactd_publish_bytes_total Bytes of the files published, "
	  "by target\n# TYPE artifactd_publish_bytes_total counter\n");
	for (i = 0; i < n; i++)
		P("artifactd_publish_bytes_total{target=\"%s\"} %llu\n",
		    t[i].name, (unsigned long long)t[i].bytes);
	P("# HELP artifactd_publish_seconds_total Time spent uploading, by "
	  "target (failed uploads included)\n"
	  "# TYPE artifactd_publish_seconds_total counter\n");
	for (i = 0; i < n; i++)
		P("artifactd_publish_seconds_total{target=\"%s\"} %.6f\n",
		    t[i].name, t[i].seconds);
	return 0;
}

/* Versions of the daemon and of the libraries that do the work, each
 * named by the module that uses it. */
static int
metrics_render_build(struct buf *out)
{
	const char *git_name, *redis_name, *http_name;
	const char *git = store_version(&git_name);
	const char *redis = events_version(&redis_name);
	const char *http = publishers_version(&http_name);

	P("# HELP artifactd_build_info Versions of artifactd and its "
	  "libraries, always 1\n# TYPE artifactd_build_info gauge\n"
	  "artifactd_build_info{version=\"%s\",%s=\"%s\",%s=\"%s\","
	  "%s=\"%s\",libevent=\"%s\"} 1\n",
	    ARTIFACTD_VERSION, git_name, git, http_name, http, redis_name,
	    redis, event_get_version());
	return 0;
}

/* Per-stream gauges; a value Redis did not give (-1) is left out. */
static int
metrics_render_streams(const struct metrics *m, const char *group,
    struct buf *out)
{
	const struct metrics_stream *st;
	size_t i;

	P("# HELP artifactd_stream_length Entries in the input stream "
	  "(XLEN)\n# TYPE artifactd_stream_length gauge\n");
	for (i = 0, st = m->streams; i < m->nstreams; i++, st++)
		if (st->length >= 0)
			P("artifactd_stream_length{stream=\"%s\"} %lld\n",
			    st->name, st->length);
	P("# HELP artifactd_group_lag Entries not yet read by the group "
	  "(absent when Redis reports no lag, after deletions)\n"
	  "# TYPE artifactd_group_lag gauge\n");
	for (i = 0, st = m->streams; i < m->nstreams; i++, st++)
		if (st->lag >= 0)
			P("artifactd_group_lag{stream=\"%s\",group=\"%s\"} "
			  "%lld\n",
			    st->name, group, st->lag);
	P("# HELP artifactd_group_pending Entries read by the group and "
	  "not yet acknowledged\n# TYPE artifactd_group_pending gauge\n");
	for (i = 0, st = m->streams; i < m->nstreams; i++, st++)
		if (st->pending >= 0)
			P("artifactd_group_pending{stream=\"%s\",group=\"%s\"} "
			  "%lld\n",
			    st->name, group, st->pending);
	P("# HELP artifactd_oldest_entry_age_seconds Age of the oldest entry "
	  "the group has not acknowledged (waiting or pending), 0 when none\n"
	  "# TYPE artifactd_oldest_entry_age_seconds gauge\n");
	for (i = 0, st = m->streams; i < m->nstreams; i++, st++)
		if (st->oldest_ms >= 0)
			P("artifactd_oldest_entry_age_seconds{stream=\"%s\","
			  "group=\"%s\"} %.3f\n",
			    st->name, group, (double)st->oldest_ms / 1000.0);
	P("# HELP artifactd_dead_letter_length Entries in <stream>:dead\n"
	  "# TYPE artifactd_dead_letter_length gauge\n");
	for (i = 0, st = m->streams; i < m->nstreams; i++, st++)
		if (st->dead >= 0)
			P("artifactd_dead_letter_length{stream=\"%s\"} %lld\n",
			    st->name, st->dead);
	return 0;
}

/* The bus's counters; the pub/sub connection is the bridge's, which
 * exports its own (cmd_bridge.c), so it is left out here. */
static int
metrics_render_bus(const struct bus_stats *b, struct buf *out)
{
	static const int conns[] = { BUS_CONN_READER, BUS_CONN_CMD };
	static const char *const names[] = { "reader", "cmd" };
	size_t i;

	if (metrics_counter(out, "artifactd_claims_total",
	        "Entries claimed from consumers that stopped answering",
	        b->claims) < 0 ||
	    metrics_counter(out, "artifactd_trimmed_pending_total",
	        "Pending entries trimmed from the stream before being "
	        "answered",
	        b->trimmed) < 0 ||
	    metrics_counter(out, "artifactd_redis_errors_total",
	        "Error replies from Redis", b->command_errors) < 0 ||
	    metrics_counter(out, "artifactd_consumers_deleted_total",
	        "Idle consumers with nothing pending removed from the group",
	        b->consumers_deleted) < 0)
		return ERR_INVALID;
	P("# HELP artifactd_redis_connected 1 when the connection is up\n"
	  "# TYPE artifactd_redis_connected gauge\n");
	for (i = 0; i < 2; i++)
		P("artifactd_redis_connected{conn=\"%s\"} %d\n", names[i],
		    b->connected[conns[i]] ? 1 : 0);
	P("# HELP artifactd_redis_reconnects_total Connection attempts "
	  "after a lost connection (failed ones included)\n"
	  "# TYPE artifactd_redis_reconnects_total counter\n");
	for (i = 0; i < 2; i++)
		P("artifactd_redis_reconnects_total{conn=\"%s\"} %llu\n",
		    names[i], (unsigned long long)b->reconnects[conns[i]]);
	return 0;
}

int
metrics_render(const struct metrics *m, const char *group, struct buf *out)
{
	size_t i;

	if (metrics_render_build(out) < 0 ||
	    metrics_counter(out, "artifactd_events_received_total",
	        "Stream entries received from Redis", m->received) < 0)
		return ERR_INVALID;
	P("# HELP artifactd_events_acked_total Entries acknowledged, by "
	  "outcome\n# TYPE artifactd_events_acked_total counter\n");
	for (i = 0; i < METRICS_NOUTCOMES; i++)
		P("artifactd_events_acked_total{group=\"%s\",outcome=\"%s\"} "
		  "%llu\n",
		    group, metrics_outcomes[i],
		    (unsigned long long)m->acked[i]);
	if (metrics_render_hist(m, out) < 0 ||
	    metrics_gauge(out, "artifactd_inflight",
	        "Entries held by this worker (queued, running, retrying, "
	        "being answered)",
	        m->inflight) < 0 ||
	    metrics_gauge(out, "artifactd_handlers_running",
	        "Handlers running now", m->running) < 0 ||
	    metrics_gauge(out, "artifactd_free_slots",
	        "Entries this worker would read now", m->free_slots) < 0 ||
	    metrics_counter(out, "artifactd_redeliveries_total",
	        "Entries received with a delivery counter above 1",
	        m->redeliveries) < 0 ||
	    metrics_counter(out, "artifactd_retries_total",
	        "Transient failures scheduled for another attempt",
	        m->retries) < 0 ||
	    metrics_counter(out, "artifactd_released_total",
	        "Entries given back for another worker at shutdown",
	        m->releases) < 0 ||
	    metrics_counter(out, "artifactd_completion_errors_total",
	        "Answers that could not be written and were redone",
	        m->completion_errors) < 0 ||
	    metrics_counter(out, "artifactd_push_runs_total",
	        "Runs of the background push of unpushed commits",
	        m->push_runs) < 0 ||
	    metrics_counter(out, "artifactd_push_failures_total",
	        "Background push runs that failed", m->push_failures) < 0 ||
	    metrics_gauge(out, "artifactd_ready",
	        "1 when connected to Redis and not draining", m->ready) < 0 ||
	    metrics_gauge(out, "artifactd_draining",
	        "1 after SIGTERM while in-flight entries finish",
	        m->draining) < 0)
		return ERR_INVALID;
	P("# HELP artifactd_dead_letters_total Entries dead-lettered, by "
	  "reason\n# TYPE artifactd_dead_letters_total counter\n");
	P("artifactd_dead_letters_total{reason=\"invalid\"} %llu\n",
	    (unsigned long long)m->dead_letters_invalid);
	P("artifactd_dead_letters_total{reason=\"max_deliveries\"} %llu\n",
	    (unsigned long long)m->dead_letters_crash);
	P("artifactd_dead_letters_total{reason=\"max_attempts\"} %llu\n",
	    (unsigned long long)m->dead_letters_retries);
	if (m->bus != NULL && metrics_render_bus(m->bus, out) < 0)
		return ERR_INVALID;
	if (metrics_render_publish(out) < 0 ||
	    metrics_render_streams(m, group, out) < 0)
		return ERR_INVALID;
	return 0;
}
