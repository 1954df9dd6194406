/*
 * release_req.h - what `artifactd release` / `bundle` and the
 * RELEASE_REQUESTED and RELEASE_TAGGED handlers share: the package's tag
 * prefix from the config, making and pushing a release, the answer's
 * JSON fields, the package a tag belongs to and a bundle's file name.
 */
#ifndef WORKER_RELEASE_REQ_H
#define WORKER_RELEASE_REQ_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "publishers/release.h"
#include "store/history.h"
#include "worker/config.h"

struct envelope;
struct repos;

/*
 * The tag prefix of `package` (NULL: "v", the default of single-package
 * repositories): its first tag pattern, which must be "<prefix>*".
 * out holds VERSION_MAX bytes. Returns 0; ERR_NOTFOUND (code
 * PACKAGE_NOT_FOUND: no package of that name in the config); ERR_INVALID
 * (INVALID_CONFIG: the package has no pattern of that form).
 */
int release_prefix(char *out, size_t n, const struct config *cfg,
    const char *package, struct error *err);

/* The bump rules of `package` (its parser_angular_*, major_on_zero and
 * patch_without_tag keys), borrowed from cfg; NULL (semantic-release's
 * defaults) without a package or when there is none of that name. */
const struct conv_rules *release_rules(const struct config *cfg,
    const char *package);

/*
 * store_release(), then, unless a dry run or nothing released,
 * store_release_push() (*pushed says whether the store's remote got the
 * branch and the tag; false without a remote). A failed push leaves
 * nothing of this call behind and is this call's error; res is then
 * disposed. Returns 0 or store_release's and store_release_push's codes.
 */
int release_make(struct store *st, const struct store_release_req *req,
    struct store_release_result *res, bool *pushed, struct error *err);

/* The answer's fields: version, previous_version, previous_tag, tag,
 * bump, commit_sha, changelog_sha, notes, commits, ncommits, created,
 * duplicate, dry_run, pushed. */
cJSON *release_json(const struct store_release_result *r, bool dry_run,
    bool pushed);

/*
 * The package whose releases `tag` names: the one called `package` when
 * given (NULL when no such package, or the tag is not its), else the
 * package with the longest "<prefix>*" tag pattern the tag starts with.
 * NULL when none: borrowed from cfg.
 */
const struct config_package *release_package_of(const struct config *cfg,
    const char *package, const char *tag);

/*
 * "<Name>_v<version>.zip" for a bundle of `tag`: Name is `name` when
 * given, else the package's name, else the repository directory's name
 * (without ".git"); version is the tag without the package's prefix.
 * Characters outside [A-Za-z0-9._-] in Name become '_'. Caller frees.
 * Returns NULL with err set when the tag is not the package's.
 */
char *release_bundle_name(const struct config *cfg, const char *package,
    const char *name, const char *tag, struct error *err);

/*
 * RELEASE_TAGGED's checks (envelope_check_release), except that data.files
 * may be absent or empty when the tag's package has `bundle`: the ZIP is
 * then what is published. 0 or ERR_INVALID.
 */
int release_tagged_check(const struct config *cfg, const struct envelope *env,
    struct error *err);

/* A bundle built for one RELEASE_TAGGED; zeroed before use. */
struct release_bundle {
	char *dir;          /* temporary directory in the artifacts root */
	char *zip;          /* its ZIP, relative to the artifacts root */
	const char **files; /* the request's files and zip, for req->files */
};

/*
 * When the package of req's tag asks for a bundle (config `bundle`,
 * `bundle_paths`), write <Name>_v<version>.zip of the tag's tree into a
 * fresh directory of the artifacts root (store_bundle, on the store of
 * env's workflow: the one, or its own with a repo template) and add it to
 * req's files (req->files then points into b). The release core writes
 * its .sha256 as for every file. Returns 0 (also when no bundle is
 * asked for), or store_bundle's codes.
 */
int release_bundle_add(struct release_bundle *b, const struct config *cfg,
    struct repos *repos, const struct envelope *env,
    struct release_request *req, struct error *err);

/* notes (NULL: nothing) as the setting release_notes of every target of
 * c: the body of the GitHub release a run creates (publishers/github.c). */
void release_notes_set(struct release_config *c, const char *notes);

/*
 * The GitHub body of a RELEASE_TAGGED's release: data.notes when the
 * event carries it (a RELEASE_REQUESTED's forward does; "" means no
 * body), else the message of the annotated tag data.tag in st (the notes
 * `artifactd release` wrote into it; store_tag_message, in the
 * workflow's store of repos), else NULL - a lightweight tag, no store
 * for the workflow, or a tag message that
 * cannot be read (logged; publishing goes on without a body). Caller
 * frees.
 */
char *release_notes_for(struct repos *repos, const struct envelope *env);

/* Remove the bundle's files and directory, free b's strings. */
void release_bundle_dispose(struct release_bundle *b);

#endif
