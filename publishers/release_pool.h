/*
 * release_pool.h - run a release's targets at the same time, politely.
 *
 * A release to PyPI, GitHub and S3 used to take the sum of the three;
 * with the pool it takes about as long as the slowest. "Politely": at most
 * RELEASE_POOL_THREADS targets run at once, and at most
 * RELEASE_POOL_PER_HOST of them talk to the same host (two targets on one
 * Artifactory do not double its load beyond what one client may ask).
 * Each job is independent: one failing never stops the others. The pool
 * knows nothing of publishers; release.c hands it one callback per
 * target.
 */
#ifndef PUBLISHERS_RELEASE_POOL_H
#define PUBLISHERS_RELEASE_POOL_H

#include <stddef.h>

/* Four targets at once: the seeds publish to at most five services, and
 * each job is network-bound (one curl transfer at a time), so four
 * threads keep the wire busy without a thread per target on a release
 * with many mirrors. */
#define RELEASE_POOL_THREADS 4
/* Two connections per host: what RFC 9112's advice to clients and most
 * registries' abuse limits tolerate from one client. */
#define RELEASE_POOL_PER_HOST 2
/* Host keys are "host:port" or a target type; longer is truncated. */
#define RELEASE_POOL_HOST_MAX 256

/* One job: run(arg, index) for index 0..n-1. */
typedef void (*release_pool_fn)(void *arg, size_t index);

/*
 * Run fn(arg, i) for every i < n, at most RELEASE_POOL_THREADS at once
 * and at most RELEASE_POOL_PER_HOST at once with the same hosts[i]
 * (strings compared; borrowed). Returns when every job has returned. A
 * thread that cannot be created leaves its share to the others (with
 * none at all, the jobs run one after the other on the caller's thread).
 * fn must be safe to run concurrently for different indexes.
 */
void release_pool_run(size_t n, const char *const *hosts, release_pool_fn fn,
    void *arg);

/*
 * The host key of a target URL into out (n bytes): "host:port" of
 * "scheme://user@host:port/path" in lower case, or fallback when url is
 * NULL, empty or has no "://".
 */
void release_pool_host(char *out, size_t n, const char *url,
    const char *fallback);

struct publish_target;

/* The host key of target t: its url, api_url or endpoint setting (the
 * first set), else its type (every target of a type without a URL goes
 * to that type's one public service). */
void release_pool_target_host(char *out, size_t n,
    const struct publish_target *t);

#endif
