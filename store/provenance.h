/*
 * provenance.h - provenance of an artifact commit (issue 16): a DSSE
 * envelope of an in-toto Statement v1 whose subjects are the committed
 * files with their SHA-256 and whose predicate
 * (https://artifactd.dev/provenance/v1) records what produced them. The
 * signature is Ed25519 with the signing key over DSSE's
 * pre-authentication encoding, keyid the lower-case hex SHA-256 of the
 * raw 32-byte public key, so any DSSE verifier checks it from the public
 * key alone (docs/internals/store.md, "Signing and provenance").
 */
#ifndef STORE_PROVENANCE_H
#define STORE_PROVENANCE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

struct sign_key;
struct store;

#define PROVENANCE_FILENAME "provenance.intoto.json"
#define PROVENANCE_PAYLOAD_TYPE "application/vnd.in-toto+json"
#define PROVENANCE_PREDICATE_TYPE "https://artifactd.dev/provenance/v1"

/* An envelope read back is at most this big: one subject line per file
 * (the store commits at most a few thousand per event) fits many times
 * over; the ceiling bounds the read before parsing. */
#define PROVENANCE_MAX (16 * 1024 * 1024)

/* What the predicate records; strings may be NULL (written as null). */
struct provenance_in {
	const char *event_id;
	const char *correlation_id;
	const char *workflow_id;
	const char *task_id;
	const char *prompt_hash;
	const char *agent_version;
	const char *llm_version;
	const cJSON *test_metrics; /* borrowed, may be NULL */
	const char *consumer;
	const char *timestamp; /* commit_timestamp of metadata.json */
	const char *branch;
	/* The subjects: repository paths and their bytes (borrowed). */
	char *const *names;
	char *const *data;
	const size_t *len;
	size_t n;
};

/*
 * The DSSE envelope of any in-toto statement (payload, plen bytes of
 * JSON) signed with k: payloadType PROVENANCE_PAYLOAD_TYPE, the
 * Ed25519 signature over the PAE, keyid as above. *out (caller frees) is
 * one line when oneline (a .intoto.jsonl line), else indented. Returns 0
 * or ERR_FAIL. Deterministic: Ed25519 signs the same bytes the same way.
 */
int provenance_envelope(char **out, const struct sign_key *k,
    const char *payload, size_t plen, bool oneline, struct error *err);

/* The envelope's JSON text (caller frees). Returns 0 or ERR_FAIL. */
int provenance_build(char **out, const struct sign_key *k,
    const struct provenance_in *in, struct error *err);

/*
 * Check the provenance of the commit tagged corr_<correlation_id>: the
 * envelope's signature with pub (32 bytes), its keyid, and every
 * subject's SHA-256 against the file at that path in the commit. *report
 * (caller frees) says what was checked or what differs. Returns 0 (all
 * good), ERR_INVALID (code PROVENANCE_MISMATCH: a check failed),
 * ERR_NOTFOUND (no such tag, or no provenance in it) or ERR_FAIL.
 */
int provenance_verify(struct store *st, const char *correlation_id,
    const unsigned char pub[32], char **report, struct error *err);

#endif
