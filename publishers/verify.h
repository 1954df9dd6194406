/*
 * verify.h - verification after upload: is what a target serves, byte for
 * byte, what was published? (issue 13)
 *
 * An upload that answered 2xx proves little: an index may list a file
 * late (eventual consistency, a CDN), or serve other bytes than it
 * accepted. After each file's upload, verify_file asks the target what it
 * serves for that file (publisher_ops.served: a JSON API's digest, a
 * storage API's checksum, a release asset's digest, or a download hashed
 * in constant memory) and compares the sha256 with the file's, retrying
 * with backoff until a deadline while the file is not listed yet. A
 * different sha256 fails at once: no index replaces a file it serves, so
 * what it serves now is what users get. verify_release runs the same
 * checks without uploading (`artifactd verify`, verify_release.h).
 */
#ifndef PUBLISHERS_VERIFY_H
#define PUBLISHERS_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "publishers/publisher.h"

/* Seconds to wait for a file to be served back when neither the target's
 * verify_deadline nor the verify-deadline setting says otherwise: PyPI's
 * JSON API and simple index usually list a new file within seconds, and
 * CDN-fronted indexes within a minute or two. */
#define VERIFY_DEFAULT_DEADLINE_S 120
/* The longest deadline a target or the setting may ask for: an hour is
 * far past any index's lag; longer would hold the release's worker. */
#define VERIFY_MAX_DEADLINE_S 3600
/* Waits between two lookups: from 500 ms, doubled, at most 10 s (never
 * past the deadline): a lagging index is asked about a dozen times in two
 * minutes, a quick one answers on the first or second. */
#define VERIFY_FIRST_WAIT_MS 500
#define VERIFY_MAX_WAIT_MS 10000

/*
 * The deadline of target t in seconds: its setting verify_deadline, else
 * t->env's verify_deadline_s (the verify-deadline setting), else
 * VERIFY_DEFAULT_DEADLINE_S; 0 means "do not verify". A target's
 * `verify: false` is also 0. A malformed verify_deadline is ERR_INVALID
 * (code CONFIG).
 */
int verify_deadline(long long *out, const struct publish_target *t,
    struct error *err);

/*
 * Verify one published file on target t, whose publisher ops and begin
 * state are given. Does nothing (returns 0, out->verified false) for a
 * dry run, a skipped file, a publisher without `served`, or a deadline of
 * 0. Otherwise asks ops->served until the sha256 equals f->sha256
 * (out->verified = true, returns 0), the target serves another sha256
 * (ERR_FAIL, code VERIFY_FAILED, the message naming the target, the file
 * and both sha256), or the deadline passes with the file not served or
 * the lookup failing (ERR_TRANSIENT, code VERIFY_FAILED: a later retry
 * may see it).
 */
int verify_file(const struct publisher_ops *ops, void *state,
    const struct publish_target *t, const struct publish_release *rel,
    const struct publish_file *f, struct publish_outcome *out,
    struct error *err);

/* A sha256 of a download in constant memory, for http_request's sink:
 * verify_hash_new, then .sink = verify_hash_write, .sink_reset =
 * verify_hash_reset, .sink_arg = the hash; verify_hash_done writes the
 * hex digest and frees. */
struct verify_hash;
struct verify_hash *verify_hash_new(void);
int verify_hash_write(void *arg, const void *p, size_t n);
void verify_hash_reset(void *arg);
/* Writes the hex sha256 into hex (65 bytes) unless hex is NULL; frees h
 * (NULL is fine). */
void verify_hash_done(struct verify_hash *h, char *hex);

#endif
