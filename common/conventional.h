/*
 * conventional.h - Conventional Commits 1.0 messages and the bump they ask
 * for, with the rules of Debian's python3-semantic-release 7.32 (its
 * "angular" parser and history/logs.py), which the tests use as the
 * reference:
 *
 *   - the first line is `type(scope)!: subject`, type one of the allowed
 *     types (case-sensitive), scope optional, '!' optional;
 *   - the body is what follows a blank line after the subject; its
 *     paragraphs (separated by blank lines) that start with
 *     `BREAKING CHANGE:` or `BREAKING-CHANGE:` describe breaking changes;
 *   - '!' or a breaking paragraph: major; a minor type: minor; a patch
 *     type: patch; anything else: the default bump (none);
 *   - a message that does not parse (a merge's "Merge branch ...", a
 *     `Revert "feat: ..."`) asks for nothing, and a squash commit counts
 *     by its first line only.
 *
 * Pure functions, no I/O.
 */
#ifndef COMMON_CONVENTIONAL_H
#define COMMON_CONVENTIONAL_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "common/version.h"

/* Longest commit message we parse. Larger messages (generated, pasted
 * logs) are read up to this and their tail ignored: the type, subject and
 * breaking footers of a real message sit far below 64 KiB. */
#define CONV_MESSAGE_MAX (64 * 1024)

/* Longest list of types in a rule ("build,chore,..."). */
#define CONV_TYPES_MAX 512

struct conv_rules {
	char allowed_types[CONV_TYPES_MAX]; /* comma-separated */
	char minor_types[CONV_TYPES_MAX];
	char patch_types[CONV_TYPES_MAX];
	enum version_bump default_bump; /* for allowed types not listed */
	bool major_on_zero;     /* false: a breaking change on 0.x is minor */
	bool patch_without_tag; /* commits but no bump: patch anyway */
};

/* semantic-release 7.32's defaults: allowed build, chore, ci, docs, feat,
 * fix, perf, style, refactor, test; minor feat; patch fix, perf; default
 * none; major_on_zero true; patch_without_tag false. */
void conv_rules_default(struct conv_rules *r);

/* Longest type name in a rule: a word, far longer than any in use, and
 * short enough for the changelog's section titles. */
#define CONV_TYPE_NAME_MAX 32

/*
 * Set one rule by its python-semantic-release 7 setting name, as a team's
 * setup.cfg / pyproject.toml [semantic_release] section spells it ('-'
 * may stand for '_'):
 *
 *   parser_angular_allowed_types, parser_angular_minor_types,
 *   parser_angular_patch_types  lists of type names (comma or newline
 *                               separated; empty entries dropped)
 *   parser_angular_default_level_bump  no-release|patch|minor|major
 *                               (case-insensitive, as the reference)
 *   major_on_zero, patch_without_tag   true|false
 *
 * A type name is 1..CONV_TYPE_NAME_MAX of [A-Za-z0-9_-]: the reference
 * pastes the names into a regular expression, so anything else would mean
 * something else there. Returns 0; ERR_NOTFOUND (err untouched) when key
 * is none of these; ERR_INVALID (code CONFIG) for a bad value.
 */
int conv_rules_set(struct conv_rules *r, const char *key, const char *value,
    struct error *err);

/*
 * The rules as a whole: at least one allowed type, and every minor and
 * patch type among the allowed ones (the reference's parser never sees a
 * commit of another type, so such a name is a mistake). 0 or ERR_INVALID
 * (code CONFIG).
 */
int conv_rules_check(const struct conv_rules *r, struct error *err);

struct conv_commit {
	char *type;     /* "feat" */
	char *scope;    /* NULL when none */
	char *subject;  /* the rest of the first line */
	char *breaking; /* first breaking description, else NULL */
	bool bang;      /* '!' after type/scope */
	enum version_bump bump;
};

/*
 * Parse msg (len bytes, need not be NUL-terminated; "\r\n" counts as
 * "\n"). Returns 0 and fills *out (free with conv_commit_dispose), or
 * ERR_NOTFOUND when the message is not a conventional commit of an
 * allowed type (*out is then untouched).
 */
int conv_parse(struct conv_commit *out, const char *msg, size_t len,
    const struct conv_rules *rules);

void conv_commit_dispose(struct conv_commit *c);

/*
 * The bump of a release from the largest bump of its commits, as
 * semantic-release 7.32 decides it: `ncommits` commits since the last
 * release, `current` the last release version (0.x matters for
 * major_on_zero).
 */
enum version_bump conv_release_bump(enum version_bump largest, size_t ncommits,
    const struct semver *current, const struct conv_rules *rules);

/* True when `type` is in the comma-separated list. */
bool conv_type_in(const char *list, const char *type, size_t type_len);

#endif
