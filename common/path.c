/*
 * path.c - open a producer-named file beneath the artifacts root, once
 * (see path.h).
 *
 * Why openat2 and not realpath + open: a check by name and an open by
 * name are two lookups, and a rename between them (renameat2 with
 * RENAME_EXCHANGE swaps a file and a symlink atomically) makes the
 * second lookup follow a symlink the first one never saw. With a
 * descriptor of the root and RESOLVE_BENEATH the kernel does the check
 * and the open in the same lookup. O_NONBLOCK keeps open() of a FIFO from
 * waiting for a writer; the fstat that follows refuses it.
 */
/* realpath(3) (of the configured root only) is XSI; syscall(2) and the
 * O_PATH / O_NOFOLLOW flags are Linux/BSD extensions. */
#define _GNU_SOURCE

#include "common/path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/path_int.h"
#include "common/xalloc.h"

/* Flags every producer-named file is opened with: read only, never
 * waiting (FIFO), never becoming our terminal, never inherited. */
#define PATH_OPEN_FLAGS (O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
/* openat2 EAGAIN retries: a legitimate rename race resolves in one or two;
 * eight bounds the work a hostile renamer can make us do. */
#define PATH_EAGAIN_TRIES 8

static char *
path_strip(const char *p)
{
	size_t n = strlen(p);

	while (n > 1 && p[n - 1] == '/')
		n--;
	return xstrndup(p, n);
}

int
path_root_open(struct path_root *out, const char *root, struct error *err)
{
	char real[PATH_MAX];
	int fd;

	if (root == NULL || root[0] == '\0')
		root = ".";
	if ((fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return error_set(err, ERR_FAIL, "CONFIG",
		    "artifacts root %s: %s", root, strerror(errno));
	if (realpath(root, real) == NULL) {
		int e = errno;

		close(fd);
		return error_set(err, ERR_FAIL, "CONFIG",
		    "artifacts root %s: %s", root, strerror(e));
	}
	out->fd = fd;
	out->path = path_strip(root);
	out->real = path_strip(real);
	return 0;
}

void
path_root_close(struct path_root *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0 && r->path != NULL)
		close(r->fd);
	free(r->path);
	free(r->real);
	r->fd = -1;
	r->path = NULL;
	r->real = NULL;
}

/* The part of absolute path p below prefix, or NULL when p is not
 * lexically under it. "/" is the prefix of every absolute path. */
static const char *
path_under(const char *p, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strcmp(prefix, "/") == 0)
		return p + 1;
	if (strncmp(p, prefix, n) != 0 || p[n] != '/')
		return NULL;
	return p + n + 1;
}

/* Map an errno of a lookup to our codes. */
static int
path_errno(int e, const char *what, struct error *err)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return error_set(err, ERR_INVALID, "FILE_NOT_FOUND",
		    "artifact %s does not exist", what);
	case EXDEV:
	case ELOOP:
		return error_set(err, ERR_INVALID, "PATH_REJECTED",
		    "artifact %s resolves outside the artifacts root", what);
	case ENXIO: /* a socket, or a device without a driver */
	case ENAMETOOLONG:
		return error_set(err, ERR_INVALID, "PATH_REJECTED",
		    "artifact %s cannot be opened: %s", what, strerror(e));
	default:
		return error_set(err, ERR_FAIL, "IO", "cannot open %s: %s",
		    what, strerror(e));
	}
}

int
path_open_walk(int *fd, int rootfd, const char *rel, const char *what,
    struct error *err)
{
	char *copy = xstrdup(rel), *comp = copy, *slash;
	int dir = rootfd, next, rc = 0;

	for (;;) {
		if ((slash = strchr(comp, '/')) != NULL)
			*slash = '\0';
		if (strcmp(comp, "..") == 0) {
			rc = error_set(err, ERR_INVALID, "PATH_REJECTED",
			    "artifact %s: \"..\" is refused", what);
			goto out;
		}
		if (slash == NULL)
			break;
		if (comp[0] != '\0' && strcmp(comp, ".") != 0) {
			next = openat(dir, comp,
			    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (next < 0) {
				struct stat lst;
				int e = errno;

				/* O_PATH|O_NOFOLLOW opens a symlink itself;
				 * O_DIRECTORY then says ENOTDIR. */
				if (e == ENOTDIR &&
				    fstatat(dir, comp, &lst,
				        AT_SYMLINK_NOFOLLOW) == 0 &&
				    S_ISLNK(lst.st_mode))
					e = ELOOP;
				rc = path_errno(e, what, err);
				goto out;
			}
			if (dir != rootfd)
				close(dir);
			dir = next;
		}
		comp = slash + 1;
	}
	if (comp[0] == '\0' || strcmp(comp, ".") == 0) {
		rc = error_set(err, ERR_INVALID, "PATH_REJECTED",
		    "artifact %s names a directory", what);
		goto out;
	}
	if ((next = openat(dir, comp, PATH_OPEN_FLAGS | O_NOFOLLOW)) < 0) {
		rc = path_errno(errno, what, err);
		goto out;
	}
	*fd = next;
out:
	if (dir != rootfd)
		close(dir);
	free(copy);
	return rc;
}

/* openat2 with RESOLVE_BENEATH; ENOSYS (before Linux 5.6, or a seccomp
 * filter that does not know it) falls back to the walk. */
static int
path_open_rel(int *fd, int rootfd, const char *rel, const char *what,
    struct error *err)
{
	struct open_how how;
	long r;
	int tries = 0;

	memset(&how, 0, sizeof(how));
	how.flags = PATH_OPEN_FLAGS;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	/* EAGAIN: a rename raced a ".." step and the kernel could not prove
	 * it stayed beneath. Retried a few times; a path that keeps being
	 * renamed under us is refused (ELOOP below) rather than spun on. */
	do
		r = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
	while (r < 0 && errno == EAGAIN && ++tries < PATH_EAGAIN_TRIES);
	if (r < 0 && errno == EAGAIN)
		errno = ELOOP;
	if (r < 0 && (errno == ENOSYS || errno == EPERM))
		return path_open_walk(fd, rootfd, rel, what, err);
	if (r < 0)
		return path_errno(errno, what, err);
	*fd = (int)r;
	return 0;
}

int
path_open_beneath(int *out, struct stat *stp, const struct path_root *root,
    const char *path, uint64_t max_size, struct error *err)
{
	const char *rel = path;
	struct stat st;
	int fd = -1, rc, fl;

	if (path == NULL || path[0] == '\0' || strlen(path) > PATH_EVENT_MAX)
		return error_set(err, ERR_INVALID, "PATH_REJECTED",
		    "empty or overlong path");
	if (path[0] == '/' && (rel = path_under(path, root->path)) == NULL &&
	    (rel = path_under(path, root->real)) == NULL)
		return error_set(err, ERR_INVALID, "PATH_REJECTED",
		    "artifact %s is outside the artifacts root", path);
	while (*rel == '/')
		rel++;
	if (*rel == '\0')
		return error_set(err, ERR_INVALID, "PATH_REJECTED",
		    "artifact %s names the artifacts root", path);
	if ((rc = path_open_rel(&fd, root->fd, rel, path, err)) < 0)
		return rc;
	rc = ERR_INVALID;
	if (fstat(fd, &st) < 0) {
		rc = error_set(err, ERR_FAIL, "IO", "cannot stat %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		error_set(err, rc, "PATH_REJECTED",
		    "artifact %s is not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > max_size) {
		error_set(err, rc, "TOO_LARGE",
		    "artifact %s is %lld bytes, limit %llu", path,
		    (long long)st.st_size, (unsigned long long)max_size);
		goto out;
	}
	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		rc = error_set(err, ERR_FAIL, "IO", "fcntl %s: %s", path,
		    strerror(errno));
		goto out;
	}
	*out = fd;
	fd = -1;
	if (stp != NULL)
		*stp = st;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

int
path_read_fd(char **out, size_t *len, int fd, size_t max, const char *what,
    struct error *err)
{
	struct stat st;
	size_t cap, got = 0;
	char *data = NULL;
	ssize_t n;
	int rc = ERR_FAIL;

	if (fstat(fd, &st) < 0)
		return error_set(err, rc, "IO", "cannot stat %s: %s", what,
		    strerror(errno));
	/* Start at the size fstat saw; a file that grows since gets room up
	 * to max and one byte more, which is how "over max" is detected. */
	cap = (size_t)st.st_size < max ? (size_t)st.st_size : max;
	data = xmalloc(cap + 2);
	for (;;) {
		if (got == cap + 1) {
			if (cap == max)
				break;
			cap = cap > max / 2 ? max : cap * 2 + 1;
			data = xrealloc(data, cap + 2);
		}
		n = pread(fd, data + got, cap + 1 - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_set(err, rc, "IO", "cannot read %s: %s", what,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > max) {
		rc = error_set(err, ERR_INVALID, "TOO_LARGE",
		    "artifact %s grew beyond %zu bytes", what, max);
		goto out;
	}
	data[got] = '\0';
	*out = data;
	data = NULL;
	if (len != NULL)
		*len = got;
	rc = 0;
out:
	free(data);
	return rc;
}
