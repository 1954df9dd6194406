/*
 * path.h - open a file a producer named, beneath the artifacts root, once.
 *
 * The one home of the "inside the artifacts root" check. A path from an
 * event is never resolved by name and opened later (a symlink swapped in
 * between would be followed): it is opened relative to a descriptor of
 * the root with openat2(RESOLVE_BENEATH), which follows symlinks but
 * refuses any step that leaves the root, then checked with fstat on the
 * descriptor it returns. Every later read, hash and upload of that file
 * goes through the descriptor.
 */
#ifndef COMMON_PATH_H
#define COMMON_PATH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "common/error.h"

/* An event path longer than PATH_MAX (4096) cannot name a file anyway;
 * refusing it first bounds every copy made of it. */
#define PATH_EVENT_MAX 4096

/* The artifacts root, opened once per use. */
struct path_root {
	int fd;     /* O_PATH|O_DIRECTORY descriptor of the root, or -1 */
	char *path; /* as configured, trailing slashes removed */
	char *real; /* canonical form, to accept absolute event paths */
};

/*
 * Open the root directory (a configured, trusted path: symlinks in it are
 * followed). root NULL or "" means the current directory. *out is filled
 * only on success; release it with path_root_close. Returns 0 or ERR_FAIL
 * (code CONFIG).
 */
int path_root_open(struct path_root *out, const char *root, struct error *err);

/* Close and free; safe on a zeroed or already closed root. */
void path_root_close(struct path_root *r);

/*
 * Open the regular file `path` names beneath the root, for reading.
 * A relative path is taken from the root; an absolute one is accepted
 * only when it lies lexically under the root (as configured or its
 * canonical form) and is then made relative - never resolved by name.
 * Symlinks are followed while they stay beneath the root (absolute
 * symlink targets are refused, even ones pointing into the root). The
 * file is opened non-blocking (a FIFO cannot hang the caller), checked
 * with fstat, then switched back to blocking.
 *
 * On success *fd (close-on-exec, owned by the caller) and *st (may be
 * NULL) are set. Returns 0 or ERR_INVALID with code PATH_REJECTED
 * (escapes the root, a symlink the fallback refuses, not a regular file),
 * FILE_NOT_FOUND or TOO_LARGE (st_size above max_size); ERR_FAIL (code
 * IO) for other system errors.
 */
int path_open_beneath(int *fd, struct stat *st, const struct path_root *root,
    const char *path, uint64_t max_size, struct error *err);

/*
 * Read the whole file behind fd (from offset 0, with pread: the file
 * position is not used) into *out, NUL-terminated, owned by the caller.
 * Reading stops at max bytes even when the file grew after its fstat:
 * more is ERR_INVALID (code TOO_LARGE). ERR_FAIL (code IO) on a read
 * error. `what` names the file in messages.
 */
int path_read_fd(char **out, size_t *len, int fd, size_t max, const char *what,
    struct error *err);

#endif
