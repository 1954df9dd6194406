/*
 * scan.h - the secret scanner: PCRE2 (JIT) rules from the seed and
 * gitleaks' default set, with entropy and placeholder filters.
 *
 * A hit names the rule, the file and the line, and carries a short
 * fingerprint (never the secret itself) that operators may allow.
 */
#ifndef STORE_SCAN_H
#define STORE_SCAN_H

#include <stddef.h>

#include "common/error.h"

struct scanner;

struct scan_hit {
	char rule[48];	     /* "aws-access-key", "github-pat", ... */
	char file[256];	     /* the name given to scanner_scan */
	unsigned line;	     /* 1-based */
	char fingerprint[24]; /* "<prefix>…:<12 hex of sha256>" */
};

/*
 * A scanner with the built-in rules, plus extra PCRE2 patterns (may be
 * NULL/0) and fingerprints to allow. Returns 0 or ERR_INVALID when an
 * extra pattern does not compile (err names it).
 */
int scanner_new(struct scanner **out, const char *const *extra_patterns,
    size_t nextra, const char *const *allowed_fingerprints, size_t nallowed,
    struct error *err);

void scanner_free(struct scanner *sc);

/*
 * Scan one buffer. Returns 0 when clean; ERR_INVALID with err->code
 * SECRET_DETECTED when a secret is found, *hit filled for the first one
 * and err->msg naming rule, file and line. Thread-safe.
 */
int scanner_scan(struct scanner *sc, const char *name, const char *data,
    size_t len, struct scan_hit *hit, struct error *err);

#endif
