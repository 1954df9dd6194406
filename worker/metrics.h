/*
 * metrics.h - the daemon's counters and gauges, and their Prometheus
 * text rendering for /metrics.
 *
 * Everything in struct metrics is updated on the loop thread only
 * (handler durations are measured there when a result comes back), so
 * plain integers suffice. The publishing counters are the exception:
 * handler threads add to them (metrics_publish), behind a mutex.
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

/* Distinct error codes counted; later ones count as "OTHER". Our own
 * codes number about 25 (docs/guide.md); the cap bounds the exposition if
 * a code ever came from outside. */
#define METRICS_MAX_CODES 48

/* Publishing targets counted; later ones count as target "other". A
 * release config with more targets than this is unusual. */
#define METRICS_MAX_TARGETS 32

/* Event types of the duration histogram; anything else is "other". */
enum metrics_type {
	METRICS_TYPE_TEST_PASSED,
	METRICS_TYPE_ROLLBACK,
	METRICS_TYPE_RELEASE,
	METRICS_TYPE_OTHER,
	METRICS_NTYPES
};

/* What a handler run ended with (the histogram's `outcome` label). */
enum metrics_result {
	METRICS_RESULT_OK,          /* acknowledged, no failure answer */
	METRICS_RESULT_FAILED,      /* answered with a failure, for good */
	METRICS_RESULT_RETRY,       /* transient: tried again later */
	METRICS_RESULT_DEAD_LETTER, /* answered and dead-lettered */
	METRICS_RESULT_SKIPPED,     /* not ours */
	METRICS_NRESULTS
};

struct metrics_hist {
	uint64_t buckets[METRICS_NBUCKETS];
	uint64_t count;
	double sum;
};

struct metrics_stream {
	char *name;
	long long length, lag, pending, dead;
	long long oldest_ms; /* age of the oldest unacknowledged entry */
};

struct metrics_code {
	char name[32];
	uint64_t n;
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
	struct metrics_hist hist[METRICS_NTYPES][METRICS_NRESULTS];
	struct metrics_code codes[METRICS_MAX_CODES];
	size_t ncodes;
	long long inflight;   /* entries held: queued, running, waiting */
	long long running;    /* handlers running now */
	long long free_slots; /* entries we would read now */
	int draining;
	int ready;
	const struct bus_stats *bus; /* borrowed */
	struct metrics_stream streams[METRICS_MAX_STREAMS];
	size_t nstreams;
};

struct handler_result;

/* Zero everything. */
void metrics_init(struct metrics *m);
void metrics_dispose(struct metrics *m);

/*
 * Record one handler run of `seconds` that produced res: its duration by
 * event type and outcome, and its failure answers by error code (as
 * metrics_failures).
 */
void metrics_observe(struct metrics *m, const struct handler_result *res,
    double seconds);

/*
 * Count the failure answers among res's events (data.error.code) by code;
 * for results made without a handler run (an event rejected on parsing).
 * Returns how many were counted.
 */
size_t metrics_failures(struct metrics *m, const struct handler_result *res);

/*
 * Record one file published (rc 0) or failed (rc < 0) to target, `bytes`
 * long, in `seconds`. Called from handler threads: these counters are
 * process-wide and behind a mutex, unlike the rest.
 */
void metrics_publish(const char *target, int rc, uint64_t bytes,
    double seconds);

/* Keep the latest sample of the input streams (strings are copied). */
void metrics_set_samples(struct metrics *m, const struct bus_sample *s,
    size_t n);

/* The label of an outcome ("ok", "duplicate", ...). */
const char *metrics_outcome_name(enum metrics_outcome o);

/* Append the Prometheus text exposition (format 0.0.4) to out: the
 * worker's series (the bridge exports the pub/sub connection's own).
 * Unknown stream values (-1) are left out, not exported as -1. Returns 0
 * or ERR_INVALID when out's maximum is reached. */
int metrics_render(const struct metrics *m, const char *group, struct buf *out);

#endif
