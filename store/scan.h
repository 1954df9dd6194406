/*
 * scan.h - the secret scanner: PCRE2 (JIT) rules from the seed and
 * gitleaks' default set, with entropy and placeholder filters.
 *
 * A hit names the rule, the file and the line, and carries a short
 * fingerprint (never the secret itself) that operators may allow, by
 * setting or in a .gitleaksignore-style file. gitleaks' inline
 * "gitleaks:allow" comment on the line of a hit silences it, so teams
 * keep their existing allowlists; other tools' markers ("pragma:
 * allowlist secret", "nosec") are not honoured. docs/internals/scanner.md
 * explains the rules and filters.
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

/* Everything scanner_new_opts takes; zero it, then fill what you need. */
struct scanner_options {
	const char *const *extra_patterns; /* as scanner_new */
	size_t nextra;
	const char *const *allowed; /* fingerprints, as scanner_new */
	size_t nallowed;
	/*
	 * A .gitleaksignore-style file (NULL: none), one entry a line,
	 * '#' comments and blank lines skipped. An entry is either our
	 * fingerprint ("<prefix>…:<12 hex>" or the 12 hex digits) or
	 * gitleaks' "<file>:<rule-id>:<line>", optionally preceded by
	 * "<commit>:" as gitleaks writes it in git mode; the commit is
	 * ignored, file, rule and line must all match the hit.
	 */
	const char *ignore_file;
};

/*
 * scanner_new with options. Returns 0, ERR_INVALID (INVALID_CONFIG) for
 * a pattern that does not compile or an ignore file that cannot be read,
 * is larger than SCAN_IGNORE_MAX_BYTES or has more than
 * SCAN_IGNORE_MAX_ENTRIES entries (err names the file and the line).
 */
int scanner_new_opts(struct scanner **out, const struct scanner_options *o,
    struct error *err);

/* The ceilings of an ignore file: far above any real allowlist (gitleaks'
 * own repository carries a few hundred lines), low enough that a wrong
 * path (a log file) is refused instead of loaded. */
#define SCAN_IGNORE_MAX_BYTES (4u * 1024 * 1024)
#define SCAN_IGNORE_MAX_ENTRIES 100000u

/* The id of built-in rule i, or NULL past the last one. Two rows may
 * share an id (the quoted and unquoted assignment rules). */
const char *scanner_rule_id(size_t i);

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
