/*
 * scan.h - the secret scanner: PCRE2 (JIT) rules from the seed and
 * gitleaks' default set, with entropy and placeholder filters.
 *
 * A hit names the rule, the file and the line, and carries a short
 * fingerprint (never the secret itself) that operators may allow.
 * Inline markers in scanned files ("gitleaks:allow", "pragma: allowlist
 * secret") are deliberately not honoured: the files are written by
 * generators that could emit them. docs/internals/scanner.md explains
 * the rules and filters.
 */
#ifndef STORE_SCAN_H
#define STORE_SCAN_H

#include <stddef.h>

#include "common/error.h"

struct scanner;

struct scan_hit {
	char rule[48];        /* "aws-access-key-id", "github-pat", ... */
	char file[256];       /* the name given to scanner_scan */
	unsigned line;        /* 1-based */
	char fingerprint[24]; /* "<prefix>…:<12 hex of sha256>" */
};

/*
 * Called by scanner_scan_all for each hit, in order of position. The hit
 * is borrowed for the duration of the call. Return 0 to go on, or a
 * negative code to stop the scan with that code.
 */
typedef int (*scan_hit_fn)(const struct scan_hit *hit, void *arg);

/*
 * A scanner with the built-in rules, plus extra PCRE2 patterns (may be
 * NULL/0) and fingerprints to allow. Returns 0 or ERR_INVALID when an
 * extra pattern does not compile (err names it).
 *
 * Extra patterns are compiled as written (no implied flags) and reported
 * as rule "custom-<n>" (1-based); the secret is the named group "secret",
 * else group 1, else the whole match. An allowed fingerprint is either
 * the whole fingerprint or its 12 hex digits. *out belongs to the caller
 * (scanner_free).
 */
int scanner_new(struct scanner **out, const char *const *extra_patterns,
    size_t nextra, const char *const *allowed_fingerprints, size_t nallowed,
    struct error *err);

/* Free a scanner; NULL is fine. No scan may be running on it. */
void scanner_free(struct scanner *sc);

/*
 * Scan one buffer. Returns 0 when clean; ERR_INVALID with err->code
 * SECRET_DETECTED when a secret is found, *hit filled for the first one
 * and err->msg naming rule, file and line. Thread-safe.
 *
 * A buffer that exhausts the regex engine's match limits is not passed
 * as clean: the result is then ERR_INVALID with err->code SCAN_FAILED
 * (hit->rule names the rule, hit->line is 0).
 */
int scanner_scan(struct scanner *sc, const char *name, const char *data,
    size_t len, struct scan_hit *hit, struct error *err);

/*
 * Like scanner_scan, but reports every hit of the buffer to fn (one per
 * secret: when two rules catch the same secret, the more specific rule is
 * reported). Returns 0 when clean, ERR_INVALID with SECRET_DETECTED (err
 * naming the first hit) when there was at least one, SCAN_FAILED as
 * above, or the negative code fn returned. Thread-safe.
 */
int scanner_scan_all(struct scanner *sc, const char *name, const char *data,
    size_t len, scan_hit_fn fn, void *arg, struct error *err);

#endif
