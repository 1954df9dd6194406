/*
 * metrics.h - the daemon's counters and gauges, and their Prometheus
 * text rendering for /metrics.
 *
 * Everything is updated on the loop thread only (handler durations are
 * measured there when a result comes back), so plain integers suffice.
 */
#ifndef WORKER_METRICS_H
#define WORKER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "events/bus.h"

/* What happened to an acknowledged entry. */
enum metrics_outcome {
	METRICS_OK,          /* answered (success or a handled failure) */
	METRICS_DUPLICATE,   /* answered with the original outcome */
	METRICS_SKIPPED,     /* not ours (e.g. TEST_FAILED) */
	METRICS_DEAD_LETTER, /* dead-lettered */
	METRICS_ANSWERED,    /* someone else had answered it already */
	METRICS_NOUTCOMES
};

/* Handler duration buckets in seconds: pushes and uploads may take a
 * minute, commits take milliseconds. */
#define METRICS_NBUCKETS 14

/* The input streams we sample (test and release). */
#define METRICS_MAX_STREAMS 4

struct metrics_stream {
	char *name;
	long long length, lag, pending, dead;
};

struct metrics {
	uint64_t received;
	uint64_t redeliveries; /* delivery counter > 1 */
	uint64_t acked[METRICS_NOUTCOMES];
	uint64_t dead_letters_crash; /* by the delivery counter */
	uint64_t dead_letters_invalid;
	uint64_t dead_letters_retries; /* attempts exhausted */
	uint64_t retries;              /* retries scheduled */
	uint64_t releases;             /* given back at shutdown */
	uint64_t completion_errors;    /* writes that must be redone */
	uint64_t push_runs, push_failures;
	uint64_t buckets[METRICS_NBUCKETS];
	uint64_t duration_count;
	double duration_sum;
	long long inflight;   /* entries held: queued, running, waiting */
	long long running;    /* handlers running now */
	long long free_slots; /* entries we would read now */
	int draining;
	int ready;
	const struct bus_stats *bus; /* borrowed */
	struct metrics_stream streams[METRICS_MAX_STREAMS];
	size_t nstreams;
};

/* Zero everything. */
void metrics_init(struct metrics *m);
void metrics_dispose(struct metrics *m);

/* Record one handler run of `seconds`. */
void metrics_observe(struct metrics *m, double seconds);

/* Keep the latest sample of the input streams (strings are copied). */
void metrics_set_samples(struct metrics *m, const struct bus_sample *s,
    size_t n);

/* The label of an outcome ("ok", "duplicate", ...). */
const char *metrics_outcome_name(enum metrics_outcome o);

/* Append the Prometheus text exposition (format 0.0.4) to out. Returns 0
 * or ERR_INVALID when out's maximum is reached. */
int metrics_render(const struct metrics *m, const char *group, struct buf *out);

#endif
