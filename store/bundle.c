/*
 * bundle.c - the ZIP bundle of a tagged tree (store_bundle, history.h):
 * what `git archive --format=zip TAG -- paths` holds - the same entries
 * in the same (tree) order, directories included, parents of a requested
 * path included, the same bytes, executable bits and symlinks, the
 * commit's time on every entry - written with libarchive from the object
 * database (no working tree, no git process), then its SHA-256 in
 * sha256sum's format beside it.
 */
#include "store/history.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "common/xalloc.h"
#include "store/store_int.h"

/* Requested paths on one command: a bundle names a few directories. */
#define BUNDLE_PATHS_MAX 64

struct bundle_ctx {
	git_repository *repo;
	struct archive *ar;
	const char *const *paths; /* normalised: no trailing '/' */
	size_t npaths;
	bool *matched;
	time_t mtime;
	size_t nfiles;
	long long bytes;
	int rc;
	struct error *err;
};

/* Is `path` (a directory when dir) inside the selection? A directory that
 * leads to a requested path is kept too, as git archive keeps it. */
static bool
bundle_selected(struct bundle_ctx *c, const char *path, bool dir)
{
	size_t n = strlen(path);
	bool any = false;

	if (c->npaths == 0)
		return true;
	for (size_t i = 0; i < c->npaths; i++) {
		const char *p = c->paths[i];
		size_t m = strlen(p);

		if ((n == m && memcmp(path, p, n) == 0) ||
		    (n > m && memcmp(path, p, m) == 0 && path[m] == '/')) {
			c->matched[i] = true;
			any = true;
		} else if (dir && m > n && memcmp(p, path, n) == 0 &&
		           p[n] == '/')
			any = true;
	}
	return any;
}

static int
bundle_write_entry(struct bundle_ctx *c, const char *path,
    const git_tree_entry *e)
{
	struct archive_entry *ae = archive_entry_new();
	git_blob *blob = NULL;
	git_filemode_t mode = git_tree_entry_filemode(e);
	const void *data = NULL;
	size_t len = 0;
	int grc, rc = 0;

	archive_entry_set_pathname(ae, path);
	archive_entry_set_mtime(ae, c->mtime, 0);
	if (mode == GIT_FILEMODE_TREE || mode == GIT_FILEMODE_COMMIT) {
		/* A submodule is an empty directory, as in git archive. */
		archive_entry_set_filetype(ae, AE_IFDIR);
		archive_entry_set_perm(ae, 0755);
	} else {
		if ((grc = STORE_GIT(git_blob_lookup(&blob, c->repo,
		         git_tree_entry_id(e)))) < 0) {
			rc = store_git_error(c->err, grc, "read blob");
			goto out;
		}
		data = git_blob_rawcontent(blob);
		len = (size_t)git_blob_rawsize(blob);
		if (++c->nfiles > STORE_BUNDLE_FILES_MAX ||
		    (c->bytes += (long long)len) > STORE_BUNDLE_BYTES_MAX) {
			rc = error_set(c->err, ERR_INVALID, "BUNDLE_TOO_LARGE",
			    "bundle over %d files or %lld bytes",
			    STORE_BUNDLE_FILES_MAX, STORE_BUNDLE_BYTES_MAX);
			goto out;
		}
		if (mode == GIT_FILEMODE_LINK) {
			char *target = xstrndup(data, len);

			archive_entry_set_filetype(ae, AE_IFLNK);
			archive_entry_set_perm(ae, 0777);
			archive_entry_set_symlink(ae, target);
			free(target);
			len = 0;
		} else {
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_perm(ae,
			    mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644);
			archive_entry_set_size(ae, (la_int64_t)len);
		}
	}
	if (archive_write_header(c->ar, ae) != ARCHIVE_OK ||
	    (len > 0 && archive_write_data(c->ar, data, len) != (ssize_t)len)) {
		rc = error_set(c->err, ERR_FAIL, "IO", "write %s: %s", path,
		    archive_error_string(c->ar));
		goto out;
	}
out:
	git_blob_free(blob);
	archive_entry_free(ae);
	return rc;
}

static int
bundle_walk_cb(const char *root, const git_tree_entry *e, void *payload)
{
	struct bundle_ctx *c = payload;
	bool dir = git_tree_entry_type(e) == GIT_OBJECT_TREE;
	char *path = xasprintf("%s%s", root, git_tree_entry_name(e));
	char *name = NULL;
	int ret = 0;

	if (!bundle_selected(c, path, dir)) {
		ret = dir ? 1 : 0; /* 1: skip this subtree */
		goto out;
	}
	name = dir || git_tree_entry_filemode(e) == GIT_FILEMODE_COMMIT
	           ? xasprintf("%s/", path)
	           : xstrdup(path);
	if ((c->rc = bundle_write_entry(c, name, e)) < 0)
		ret = -1;
out:
	free(name);
	free(path);
	return ret;
}

/* "a/b/" -> "a/b"; refused: empty, absolute, "..", ".git" components. */
static int
bundle_path_check(char **out, const char *p, struct error *err)
{
	char *s = xstrdup(p), *tok, *save = NULL, *copy;
	size_t n = strlen(s);
	int rc = 0;

	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
	copy = xstrdup(s);
	if (n == 0 || s[0] == '/')
		rc = ERR_INVALID;
	for (tok = strtok_r(copy, "/", &save); rc == 0 && tok != NULL;
	     tok = strtok_r(NULL, "/", &save))
		if (strcmp(tok, "..") == 0 || strcmp(tok, ".") == 0 ||
		    strcmp(tok, ".git") == 0)
			rc = ERR_INVALID;
	if (rc == 0 && strstr(s, "//") != NULL)
		rc = ERR_INVALID;
	free(copy);
	if (rc < 0) {
		free(s);
		return error_set(err, rc, "PATH_REJECTED",
		    "bundle path '%.*s' is not a relative path inside the "
		    "tree",
		    VERSION_MAX, p);
	}
	*out = s;
	return 0;
}

/* Write the ZIP of tree into fd. */
static int
bundle_zip(struct bundle_ctx *c, git_tree *tree, int fd)
{
	int rc = 0;

	c->ar = archive_write_new();
	if (archive_write_set_format_zip(c->ar) != ARCHIVE_OK ||
	    archive_write_open_fd(c->ar, fd) != ARCHIVE_OK) {
		rc = error_set(c->err, ERR_FAIL, "IO", "zip: %s",
		    archive_error_string(c->ar));
		goto out;
	}
	if (git_tree_walk(tree, GIT_TREEWALK_PRE, bundle_walk_cb, c) < 0) {
		git_error_clear();
		rc = c->rc < 0 ? c->rc : ERR_FAIL;
		if (c->rc == 0)
			error_set(c->err, rc, "GIT", "walk tree");
		goto out;
	}
	for (size_t i = 0; i < c->npaths; i++)
		if (!c->matched[i]) {
			rc = error_set(c->err, ERR_NOTFOUND, "PATH_NOT_FOUND",
			    "%s is not in the tagged tree", c->paths[i]);
			goto out;
		}
	if (archive_write_close(c->ar) != ARCHIVE_OK)
		rc = error_set(c->err, ERR_FAIL, "IO", "zip: %s",
		    archive_error_string(c->ar));
out:
	archive_write_free(c->ar);
	c->ar = NULL;
	return rc;
}

static int
bundle_run(struct store_bundle_result *res, struct bundle_ctx *c,
    const char *tag, const char *outdir, const char *zip_name)
{
	git_object *obj = NULL;
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	char *ref = xasprintf("refs/tags/%s", tag), *tmp = NULL, *line = NULL;
	char hex[UTIL_SHA256_HEX];
	int grc, rc, fd = -1;

	{
		int valid = 0;

		grc = git_reference_name_is_valid(&valid, ref);
		if (grc == 0 && valid) {
			git_reference *r = NULL;

			grc = STORE_GIT(git_reference_lookup(&r, c->repo, ref));
			if (grc == 0)
				grc = git_reference_peel(&obj, r,
				    GIT_OBJECT_COMMIT);
			git_reference_free(r);
		} else
			grc = GIT_ENOTFOUND;
	}
	if (grc == GIT_ENOTFOUND) {
		git_error_clear();
		rc = error_set(c->err, ERR_NOTFOUND, "TAG_NOT_FOUND",
		    "no tag %.*s", VERSION_MAX, tag);
		goto out;
	}
	if (grc < 0 ||
	    (grc = git_commit_lookup(&commit, c->repo, git_object_id(obj))) <
	        0 ||
	    (grc = git_commit_tree(&tree, commit)) < 0) {
		rc = store_git_error(c->err, grc, "read tag");
		goto out;
	}
	c->mtime = (time_t)git_commit_time(commit);
	res->zip_path = xasprintf("%s/%s", outdir, zip_name);
	res->sha256_path = xasprintf("%s.sha256", res->zip_path);
	tmp = xasprintf("%s.tmp.XXXXXX", res->zip_path);
	if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
		rc = error_set(c->err, ERR_FAIL, "IO", "mkdir %s: %s", outdir,
		    strerror(errno));
		goto out;
	}
	if ((fd = mkstemp(tmp)) < 0) {
		rc = error_set(c->err, ERR_FAIL, "IO", "create in %s: %s",
		    outdir, strerror(errno));
		goto out;
	}
	if ((rc = bundle_zip(c, tree, fd)) < 0)
		goto out;
	if (fchmod(fd, 0644) != 0 || fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		rc = error_set(c->err, ERR_FAIL, "IO", "write %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	fd = -1;
	if ((rc = util_sha256_file(hex, tmp, c->err)) < 0)
		goto out;
	line = xasprintf("%s  %s\n", hex, zip_name);
	if (rename(tmp, res->zip_path) != 0) {
		rc = error_set(c->err, ERR_FAIL, "IO", "rename %s: %s",
		    res->zip_path, strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	if ((rc = util_write_file(res->sha256_path, line, strlen(line),
	         c->err)) < 0) {
		unlink(res->zip_path);
		goto out;
	}
	snprintf(res->sha256, sizeof(res->sha256), "%s", hex);
	res->nfiles = c->nfiles;
out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	free(line);
	free(ref);
	git_tree_free(tree);
	git_commit_free(commit);
	git_object_free(obj);
	return rc;
}

int
store_bundle(struct store *st, const char *tag, const char *const *paths,
    size_t npaths, const char *outdir, const char *zip_name,
    struct store_bundle_result *res, struct error *err)
{
	struct store_bundle_result r;
	struct bundle_ctx c;
	char **norm = NULL;
	size_t i;
	int rc = 0;

	memset(&r, 0, sizeof(r));
	memset(&c, 0, sizeof(c));
	c.err = err;
	if (!util_id_valid(zip_name) || strlen(zip_name) < 5 ||
	    strcmp(zip_name + strlen(zip_name) - 4, ".zip") != 0)
		return error_set(err, ERR_INVALID, "PATH_REJECTED",
		    "bundle name '%.*s' is not <name>.zip of [A-Za-z0-9._-]",
		    VERSION_MAX, zip_name);
	if (npaths > BUNDLE_PATHS_MAX)
		return error_set(err, ERR_INVALID, "PATH_REJECTED",
		    "%zu paths, limit %d", npaths, BUNDLE_PATHS_MAX);
	norm = xcalloc(npaths + 1, sizeof(char *));
	for (i = 0; i < npaths && rc == 0; i++)
		rc = bundle_path_check(&norm[i], paths[i], err);
	if (rc < 0)
		goto out;
	c.paths = (const char *const *)norm;
	c.npaths = npaths;
	c.matched = xcalloc(npaths + 1, sizeof(bool));
	if ((rc = store_repo_acquire(st, &c.repo, err)) < 0)
		goto out;
	rc = bundle_run(&r, &c, tag, outdir, zip_name);
	store_repo_release(st, c.repo);
	if (rc == 0) {
		*res = r;
		memset(&r, 0, sizeof(r));
	}
out:
	store_bundle_result_dispose(&r);
	for (i = 0; i < npaths; i++)
		free(norm[i]);
	free(norm);
	free(c.matched);
	return rc;
}

void
store_bundle_result_dispose(struct store_bundle_result *res)
{
	if (res == NULL)
		return;
	free(res->zip_path);
	free(res->sha256_path);
	memset(res, 0, sizeof(*res));
}
