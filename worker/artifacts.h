/*
 * artifacts.h - turn a TEST_PASSED event's file references into bytes
 * that are safe to commit.
 *
 * Paths must resolve (symlinks included) inside the artifacts root and
 * name regular files: each is opened once beneath the root
 * (common/path.h) and read through that descriptor. Inline files ({name,
 * content, encoding}) must have safe relative names. Sizes are bounded per file
 * and per event, checked before reading.
 */
#ifndef WORKER_ARTIFACTS_H
#define WORKER_ARTIFACTS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "common/error.h"
#include "store/store.h"

struct artifact_set {
	struct store_file *files; /* names and data owned by the set */
	size_t nfiles;
	size_t cap;   /* room in files[]; owned[] has twice as much */
	char **owned; /* allocations behind files[] */
	size_t nowned;
};

/*
 * Collect data.artifacts (name -> path) and data.files (paths or inline
 * objects). A path's file is committed under the last component of the
 * path as written (a symlink inside the root is followed for the bytes,
 * not for the name). Returns 0; ERR_INVALID with code PATH_REJECTED (outside
 * the root, not a regular file, unsafe name), FILE_NOT_FOUND, TOO_LARGE or
 * INVALID_EVENT (bad base64, two files with one name).
 */
int artifacts_collect(struct artifact_set *set, const cJSON *data,
    const char *root, size_t max_file, size_t max_total, struct error *err);

void artifacts_dispose(struct artifact_set *set);

/*
 * Seed 003's handler also commits Backtest/codes/<task_id>.py when it
 * exists: expand tmpl ({task_id}, {workflow_id}; NULL or "": nothing) and,
 * when that file exists beneath the root, add it under its last
 * component, with the limits of every event-named file (opened beneath
 * the root once, max_file, max_total over the whole set). A file of that
 * name already in the set (the event named it) wins. Returns 0 (also
 * when there is no such file) or artifacts_collect's errors.
 */
int artifacts_add_strategy(struct artifact_set *set, const char *tmpl,
    const char *workflow_id, const char *task_id, const char *root,
    size_t max_file, size_t max_total, struct error *err);

/* True when name is a safe relative path inside the task directory:
 * no leading '/', no "." or ".." segments, no empty segments, no control
 * characters, no ".git" segment. */
bool artifacts_name_ok(const char *name);

#endif
