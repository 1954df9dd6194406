/*
 * history.h - releases computed from a branch's history (issue 12): the
 * next version from the Conventional Commits since a package's last
 * release tag, the CHANGELOG.md commit and the annotated release tag
 * (store/history.c); setuptools_scm's development version of a branch
 * tip; and the ZIP bundle of a tagged tree (store/bundle.c).
 *
 * Everything is done through libgit2 on the object database, without a
 * working tree, with compare-and-swap ref updates as in store.c. A
 * package is named by its tag prefix ("v", "hf-local-v"): see
 * version_tag_prefix() in common/version.h.
 */
#ifndef STORE_HISTORY_H
#define STORE_HISTORY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/conventional.h"
#include "common/error.h"
#include "store/store.h"

/* Commits read between the last release and the branch tip. A release of
 * more than 10000 commits is a history import, not a release; reading
 * that many messages (each up to CONV_MESSAGE_MAX) stays under a second
 * and 1 GiB is never approached. Beyond it: ERR_INVALID, code
 * RELEASE_TOO_LARGE. */
#define STORE_RELEASE_COMMITS_MAX 10000

/* Commits counted for a development version's distance (ids only, no
 * message read): large enough for any real project's whole history. */
#define STORE_HISTORY_COUNT_MAX 2000000

/* Tags with the package's prefix inspected when looking for its last
 * release. */
#define STORE_RELEASE_TAGS_MAX 10000

/* Largest CHANGELOG.md we read back and rewrite. */
#define STORE_CHANGELOG_MAX (8 * 1024 * 1024)

struct store_release_req {
	const char *branch;     /* short name; NULL: the store's base_branch */
	const char *tag_prefix; /* "v": tags "v1.2.3" are this package's */
	const struct conv_rules *rules; /* NULL: semantic-release defaults */
	bool dry_run;                   /* compute, write nothing */
};

struct store_release_result {
	enum version_bump bump;
	char *version;          /* next version; the current one if none */
	char *previous_version; /* last release, "0.0.0" when none */
	char *previous_tag;     /* NULL when none */
	char *tag;              /* "v1.3.0"; NULL when bump is none */
	char *commit_sha;       /* the tagged commit (dry run: the tip) */
	char *notes;            /* release notes (Markdown), "" if none */
	char *changelog_sha;    /* the changelog commit, NULL if none */
	char **entries;         /* "<shortsha> <type>: subject" releasing */
	size_t nentries;
	size_t ncommits; /* commits since the last release */
	bool created;    /* this call wrote the commit and the tag */
	bool duplicate;  /* the release was already made: nothing written */
};

/*
 * Compute the next release of the package on the branch and, unless a dry
 * run or nothing releases, commit CHANGELOG.md on the branch and create
 * the annotated tag <prefix><version> whose message is the notes.
 *
 * Order (so that a failure leaves nothing half-made behind): the blob,
 * tree, commit and tag objects are written first, unreferenced; then the
 * branch moves from the tip read to the new commit (compare-and-swap);
 * then refs/tags/<tag> is created against the zero id. If that tag ref
 * cannot be created, the branch is moved back (compare-and-swap from our
 * commit to the old tip) and nothing remains but unreferenced objects.
 * Should the process die between the two ref writes, the tip is a
 * changelog commit whose Release-Tag trailer names a missing tag: the
 * next call creates that tag and answers as for the original request.
 *
 * Idempotent: when the tip is the changelog commit of a release whose tag
 * exists on it, the answer is that release with duplicate set. An
 * existing tag is never moved: a tag of the computed name on another
 * commit fails with ERR_CONFLICT (code TAG_EXISTS).
 *
 * Returns 0; ERR_NOTFOUND (code BRANCH_NOT_FOUND); ERR_INVALID (codes
 * INVALID_CONFIG, RELEASE_TOO_LARGE, INVALID_VERSION); ERR_CONFLICT;
 * ERR_TRANSIENT (code BRANCH_MOVED: the branch moved during the call,
 * retry); ERR_FAIL (code GIT). Nothing is pushed: store_release_push.
 */
int store_release(struct store *st, const struct store_release_req *req,
    struct store_release_result *res, struct error *err);

void store_release_result_dispose(struct store_release_result *res);

/*
 * Push a release that store_release made (res->created or duplicate):
 * the branch (short name; NULL: the base branch) and res->tag in one push
 * to the store's remote, never rebuilt on a moved remote
 * (store/push_release.c). When the push fails and this call's
 * store_release created the release, the local tag is deleted and the
 * branch moved back to the changelog commit's parent (compare-and-swap),
 * so nothing half-made remains. Returns 0 pushed (also when the remote
 * had both already), 1 when the store has no remote (nothing to do),
 * ERR_CONFLICT (TAG_EXISTS: the remote has the tag on another object;
 * REMOTE_MOVED: the remote's branch has commits the release did not
 * see), ERR_FAIL (PUSH_REJECTED: the remote refused a ref, e.g. a hook;
 * AUTH), ERR_TRANSIENT (PUSH: unreachable, timed out).
 */
int store_release_push(struct store *st, const char *branch,
    const struct store_release_result *res, struct error *err);

struct store_dev_result {
	char *version;    /* "1.2.4.dev3+g1a2b3c4" */
	char *tag;        /* the nearest tag used, NULL when none */
	char *commit_sha; /* the tip, 40 hex */
	size_t distance;  /* commits since the tag (all commits if none) */
};

/*
 * setuptools_scm 7.1.0's default version of the branch tip (a clean
 * checkout: a bare store has no working tree to be dirty), with the
 * nearest tag of the package (fewest commits between it and the tip, as
 * `git describe` picks it). Returns 0, ERR_NOTFOUND (BRANCH_NOT_FOUND),
 * ERR_INVALID (INVALID_VERSION: the nearest tag is not PEP 440) or
 * ERR_FAIL.
 */
int store_dev_version(struct store *st, const char *branch,
    const char *tag_prefix, struct store_dev_result *res, struct error *err);

void store_dev_result_dispose(struct store_dev_result *res);

/* Longest annotated tag message store_tag_message returns: release notes
 * of thousands of commits fit; GitHub itself keeps a release body under
 * 125000 characters. A message over it is refused, not cut. */
#define STORE_TAG_MESSAGE_MAX (1024 * 1024)

/*
 * The message of the annotated tag refs/tags/<tag> (the release notes of
 * a tag store_release made) in *out, without a trailing signature block
 * ("-----BEGIN PGP SIGNATURE-----", SSH, X.509); caller frees. *out is
 * NULL for a lightweight tag, which has no message. Returns 0;
 * ERR_NOTFOUND (TAG_NOT_FOUND); ERR_INVALID (TAG_MESSAGE_TOO_LARGE, over
 * STORE_TAG_MESSAGE_MAX); ERR_FAIL (GIT).
 */
int store_tag_message(struct store *st, const char *tag, char **out,
    struct error *err);

/* Limits of a bundle: files and bytes of the tagged tree written into
 * one ZIP. A release bundle is an application's source or build tree;
 * 100000 files and 4 GiB are far above it and keep a wrong --path (the
 * whole monorepo) from filling the disk. */
#define STORE_BUNDLE_FILES_MAX 100000
#define STORE_BUNDLE_BYTES_MAX (4LL * 1024 * 1024 * 1024)

struct store_bundle_result {
	char *zip_path;    /* <outdir>/<name>_v<version>.zip */
	char *sha256_path; /* <zip_path>.sha256 */
	char sha256[65];
	size_t nfiles;
};

/*
 * Write the tree of `tag` (only `paths` below it when npaths > 0, as `git
 * archive --format=zip TAG -- paths` does) into <outdir>/<zip_name> with
 * libarchive, and <zip>.sha256 in sha256sum's format. Entries, bytes,
 * modes, symlinks and times are those git archive writes. The files are
 * written under temporary names and renamed, so a failure leaves no
 * partial ZIP. Returns 0; ERR_NOTFOUND (code TAG_NOT_FOUND, or
 * PATH_NOT_FOUND for a path absent from the tree); ERR_INVALID
 * (PATH_REJECTED, BUNDLE_TOO_LARGE); ERR_FAIL (IO, GIT).
 */
int store_bundle(struct store *st, const char *tag, const char *const *paths,
    size_t npaths, const char *outdir, const char *zip_name,
    struct store_bundle_result *res, struct error *err);

void store_bundle_result_dispose(struct store_bundle_result *res);

#endif
