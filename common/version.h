/*
 * version.h - version numbers as release pipelines write them: semantic
 * versions (the X.Y.Z of release tags, bumped by conventional commits),
 * PEP 440 normalisation (what a tag's version becomes before it is
 * compared with a wheel's metadata), setuptools_scm's default development
 * version of an untagged commit, and the prefix of a package's tag
 * pattern ("v*", "hf-local-v*").
 *
 * Pure functions: no I/O, no allocation except where a result is returned
 * through **out. The references they are tested against are Debian's
 * python3-semantic-release 7.32, python3-packaging and
 * python3-setuptools-scm 7.1.0 (docs/releasing.md).
 */
#ifndef COMMON_VERSION_H
#define COMMON_VERSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Longest version or tag text we accept. Tags are ref names; 128 bytes is
 * far above any version a pipeline writes ("hf-local-v10.20.30rc4") and
 * keeps every version a fixed-size stack string. */
#define VERSION_MAX 128

/* Digits in one semver number: 18 fit a uint64_t with room to bump. */
#define VERSION_NUM_DIGITS 18

enum version_bump {
	VERSION_BUMP_NONE = 0,
	VERSION_BUMP_PATCH = 1,
	VERSION_BUMP_MINOR = 2,
	VERSION_BUMP_MAJOR = 3
};

/* "none", "patch", "minor", "major". */
const char *version_bump_name(enum version_bump b);

/* A release version X.Y.Z (no pre-release: release tags only). */
struct semver {
	uint64_t major;
	uint64_t minor;
	uint64_t patch;
};

/*
 * Parse exactly "X.Y.Z" (decimal numbers, no sign, no leading "v", no
 * suffix). Returns 0 or ERR_INVALID (err says why).
 */
int semver_parse(struct semver *out, const char *s, struct error *err);

/* -1, 0, 1 as a < b, a == b, a > b. */
int semver_cmp(const struct semver *a, const struct semver *b);

/* Apply a bump (major: X+1.0.0, minor: X.Y+1.0, patch: X.Y.Z+1). */
void semver_bump(struct semver *v, enum version_bump b);

/* "X.Y.Z" into out (at least VERSION_MAX bytes). */
void semver_format(char *out, size_t n, const struct semver *v);

/*
 * Normalise a version as PEP 440 (and python's packaging.version) does:
 * "v1.0.0-rc1" -> "1.0.0rc1", "1.0-post1" -> "1.0.post1", "1!2.0",
 * "1.0.0-1" -> "1.0.0.post1", "1.0ALPHA" -> "1.0a0", "1.0+Ubuntu-1" ->
 * "1.0+ubuntu.1". Leading/trailing blanks are ignored. out must hold
 * VERSION_MAX bytes. Returns 0 or ERR_INVALID (code INVALID_VERSION) with
 * a message saying where the text stops being a version.
 */
int pep440_normalize(char *out, size_t n, const char *s, struct error *err);

/*
 * setuptools_scm 7.1.0's default version ("guess-next-dev" +
 * "node-and-date") of a clean commit:
 *   tag_version NULL (no tag):   "0.1.dev<distance>+g<sha>"
 *   distance 0:                  tag_version itself
 *   otherwise:                   next(tag_version) ".dev<distance>+g<sha>"
 * where next() increments the last number of the public version
 * ("1.2.3" -> "1.2.4", "1.0rc1" -> "1.0rc2") and a ".dev0" tag drops its
 * ".dev0". tag_version must already be PEP 440 normalised. With no tag,
 * distance counts every commit of the history (as setuptools_scm does).
 * Returns 0 or ERR_INVALID (a ".devN" tag with N != 0, which
 * setuptools_scm refuses too).
 */
int version_dev(char *out, size_t n, const char *tag_version, size_t distance,
    const char *short_sha, struct error *err);

/*
 * The fixed prefix of a tag pattern: "v*" -> "v", "hf-local-v*" ->
 * "hf-local-v". Only the form "<prefix>*" is accepted, with a prefix of
 * letters, digits, '-', '_', '.' and '/' (the characters a tag name of
 * ours may hold), at most VERSION_MAX - 32 bytes. Returns 0 or ERR_INVALID.
 */
int version_tag_prefix(char *out, size_t n, const char *pattern,
    struct error *err);

#endif
