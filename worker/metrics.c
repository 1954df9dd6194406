/*
 * metrics.c - counters and gauges of the daemon, rendered in the
 * Prometheus text format (names follow prometheus.io/docs/practices/
 * naming: a unit suffix, _total for counters).
 */
#include "worker/metrics.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

static const double metrics_bounds[METRICS_NBUCKETS] = { 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120 };

static const char *const metrics_outcomes[METRICS_NOUTCOMES] = { "ok",
	"duplicate", "skipped", "dead_letter", "answered_elsewhere" };

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

void
metrics_observe(struct metrics *m, double seconds)
{
	size_t i;

	for (i = 0; i < METRICS_NBUCKETS; i++)
		if (seconds <= metrics_bounds[i])
			m->buckets[i]++;
	m->duration_count++;
	m->duration_sum += seconds;
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

int
metrics_render(const struct metrics *m, const char *group, struct buf *out)
{
	static const char *const conns[BUS_NCONN] = { "reader", "cmd",
		"pubsub" };
	uint64_t v;
	size_t i;

	if (metrics_counter(out, "artifactd_events_received_total",
	        "Stream entries received from Redis", m->received) < 0)
		return ERR_INVALID;
	P("# HELP artifactd_events_acked_total Entries acknowledged, by "
	  "outcome\n# TYPE artifactd_events_acked_total counter\n");
	for (i = 0; i < METRICS_NOUTCOMES; i++)
		P("artifactd_events_acked_total{group=\"%s\",outcome=\"%s\"} "
		  "%llu\n",
		    group, metrics_outcomes[i],
		    (unsigned long long)m->acked[i]);
	P("# HELP artifactd_handler_duration_seconds Time a handler ran\n"
	  "# TYPE artifactd_handler_duration_seconds histogram\n");
	for (i = 0; i < METRICS_NBUCKETS; i++)
		P("artifactd_handler_duration_seconds_bucket{le=\"%g\"} "
		  "%llu\n",
		    metrics_bounds[i], (unsigned long long)m->buckets[i]);
	P("artifactd_handler_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
	    (unsigned long long)m->duration_count);
	P("artifactd_handler_duration_seconds_sum %.6f\n", m->duration_sum);
	P("artifactd_handler_duration_seconds_count %llu\n",
	    (unsigned long long)m->duration_count);
	if (metrics_gauge(out, "artifactd_inflight",
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
	if (m->bus != NULL) {
		const struct bus_stats *b = m->bus;

		if (metrics_counter(out, "artifactd_claims_total",
		        "Entries claimed from consumers that stopped "
		        "answering",
		        b->claims) < 0 ||
		    metrics_counter(out, "artifactd_trimmed_pending_total",
		        "Pending entries trimmed from the stream before "
		        "being answered",
		        b->trimmed) < 0 ||
		    metrics_counter(out, "artifactd_redis_errors_total",
		        "Error replies from Redis", b->command_errors) < 0 ||
		    metrics_counter(out, "artifactd_consumers_deleted_total",
		        "Idle consumers with nothing pending removed from "
		        "the group",
		        b->consumers_deleted) < 0)
			return ERR_INVALID;
		P("# HELP artifactd_redis_connected 1 when the connection "
		  "is up\n# TYPE artifactd_redis_connected gauge\n");
		for (i = 0; i < BUS_NCONN; i++)
			P("artifactd_redis_connected{conn=\"%s\"} %d\n",
			    conns[i], b->connected[i] ? 1 : 0);
		P("# HELP artifactd_redis_reconnects_total Connection attempts "
		  "after a lost connection (failed ones included)\n"
		  "# TYPE artifactd_redis_reconnects_total counter\n");
		for (i = 0; i < BUS_NCONN; i++) {
			v = b->reconnects[i];
			P("artifactd_redis_reconnects_total{conn=\"%s\"} "
			  "%llu\n",
			    conns[i], (unsigned long long)v);
		}
	}
	P("# HELP artifactd_stream_length Entries in the input stream "
	  "(XLEN)\n# TYPE artifactd_stream_length gauge\n");
	for (i = 0; i < m->nstreams; i++)
		P("artifactd_stream_length{stream=\"%s\"} %lld\n",
		    m->streams[i].name, m->streams[i].length);
	P("# HELP artifactd_group_lag Entries not yet read by the group "
	  "(-1: unknown, Redis reports no lag after deletions)\n"
	  "# TYPE artifactd_group_lag gauge\n");
	for (i = 0; i < m->nstreams; i++)
		P("artifactd_group_lag{stream=\"%s\",group=\"%s\"} %lld\n",
		    m->streams[i].name, group, m->streams[i].lag);
	P("# HELP artifactd_group_pending Entries read by the group and "
	  "not yet acknowledged\n# TYPE artifactd_group_pending gauge\n");
	for (i = 0; i < m->nstreams; i++)
		P("artifactd_group_pending{stream=\"%s\",group=\"%s\"} %lld\n",
		    m->streams[i].name, group, m->streams[i].pending);
	P("# HELP artifactd_dead_letter_length Entries in <stream>:dead\n"
	  "# TYPE artifactd_dead_letter_length gauge\n");
	for (i = 0; i < m->nstreams; i++)
		P("artifactd_dead_letter_length{stream=\"%s\"} %lld\n",
		    m->streams[i].name, m->streams[i].dead);
	return 0;
}
