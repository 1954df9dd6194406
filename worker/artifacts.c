/*
 * artifacts.c - resolve and read the files a TEST_PASSED event names.
 *
 * The security boundary is the artifacts root: a producer can name any
 * path, so every path is resolved with realpath(3) (following symlinks)
 * and must land inside the resolved root. The file is then opened and
 * checked with fstat on the same descriptor util_read_file uses.
 */
/* realpath(3) is XSI, beyond _POSIX_C_SOURCE. */
#define _XOPEN_SOURCE 700

#include "worker/artifacts.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"
#include "common/xalloc.h"

bool
artifacts_name_ok(const char *name)
{
	const char *seg = name, *p;

	if (name == NULL || name[0] == '\0' || name[0] == '/' ||
	    strlen(name) > 255)
		return false;
	for (p = name;; p++) {
		if (*p == '/' || *p == '\0') {
			size_t len = (size_t)(p - seg);

			if (len == 0 || (len == 1 && seg[0] == '.') ||
			    (len == 2 && seg[0] == '.' && seg[1] == '.') ||
			    (len == 4 && strncmp(seg, ".git", 4) == 0))
				return false;
			if (*p == '\0')
				break;
			seg = p + 1;
		} else if ((unsigned char)*p < 0x20 || *p == '\\' ||
		           *p == 0x7f) {
			return false;
		}
	}
	return true;
}

static void
artifacts_add(struct artifact_set *set, char *name, char *data, size_t len)
{
	set->files =
	    xrealloc(set->files, (set->nfiles + 1) * sizeof(*set->files));
	set->files[set->nfiles].name = name;
	set->files[set->nfiles].data = data;
	set->files[set->nfiles].len = len;
	set->nfiles++;
	set->owned = xrealloc(set->owned, (set->nowned + 2) * sizeof(char *));
	set->owned[set->nowned++] = name;
	set->owned[set->nowned++] = data;
}

static int
artifacts_check_unique(const struct artifact_set *set, const char *name,
    struct error *err)
{
	size_t i;

	for (i = 0; i < set->nfiles; i++)
		if (strcmp(set->files[i].name, name) == 0)
			return error_set(err, ERR_INVALID, "INVALID_EVENT",
			    "two files would be committed as %s", name);
	return 0;
}

/* Read one path given in the event. */
static int
artifacts_read_path(struct artifact_set *set, const char *path,
    const char *root_real, size_t max_file, size_t *total, size_t max_total,
    struct error *err)
{
	char *joined = NULL, *real = NULL, *data = NULL;
	const char *base;
	size_t rootlen = strlen(root_real), len = 0;
	int rc = ERR_INVALID;

	if (path[0] == '\0' || strlen(path) > PATH_MAX) {
		error_set(err, rc, "PATH_REJECTED", "empty or overlong path");
		goto out;
	}
	joined = path[0] == '/' ? xstrdup(path)
	                        : xasprintf("%s/%s", root_real, path);
	if ((real = realpath(joined, NULL)) == NULL) {
		if (errno == ENOENT)
			error_set(err, rc, "FILE_NOT_FOUND",
			    "artifact %s does not exist", path);
		else
			error_set(err, rc, "PATH_REJECTED",
			    "artifact %s cannot be resolved: %s", path,
			    strerror(errno));
		goto out;
	}
	if (!(strncmp(real, root_real, rootlen) == 0 &&
	        (real[rootlen] == '/' ||
	            (rootlen == 1 && root_real[0] == '/')))) {
		error_set(err, rc, "PATH_REJECTED",
		    "artifact %s resolves outside the artifacts root", path);
		goto out;
	}
	base = strrchr(real, '/') + 1;
	if (!artifacts_name_ok(base)) {
		error_set(err, rc, "PATH_REJECTED",
		    "artifact %s has an unusable name", path);
		goto out;
	}
	if ((rc = artifacts_check_unique(set, base, err)) < 0)
		goto out;
	if ((rc = util_read_file(&data, &len, real, max_file, err)) < 0) {
		if (rc == ERR_NOTFOUND)
			rc = error_set(err, ERR_INVALID, "FILE_NOT_FOUND",
			    "artifact %s does not exist", path);
		goto out; /* PATH_REJECTED, TOO_LARGE or IO as set */
	}
	if (len > max_total - *total) {
		rc = error_set(err, ERR_INVALID, "TOO_LARGE",
		    "the event's files exceed %zu bytes", max_total);
		goto out;
	}
	*total += len;
	artifacts_add(set, xstrdup(base), data, len);
	data = NULL;
	rc = 0;
out:
	free(data);
	free(real);
	free(joined);
	return rc;
}

static int
artifacts_read_inline(struct artifact_set *set, const cJSON *f, size_t max_file,
    size_t *total, size_t max_total, struct error *err)
{
	const char *name, *content, *enc;
	const cJSON *e;
	char *data = NULL;
	size_t len;
	int rc;

	name = cJSON_GetObjectItemCaseSensitive(f, "name")->valuestring;
	content = cJSON_GetObjectItemCaseSensitive(f, "content")->valuestring;
	e = cJSON_GetObjectItemCaseSensitive(f, "encoding");
	enc = cJSON_IsString(e) ? e->valuestring : "utf-8";
	if (!artifacts_name_ok(name))
		return error_set(err, ERR_INVALID, "PATH_REJECTED",
		    "inline file name %s is not a safe relative path", name);
	if ((rc = artifacts_check_unique(set, name, err)) < 0)
		return rc;
	if (strcmp(enc, "base64") == 0) {
		if (util_base64_decode(&data, &len, content, strlen(content)) <
		    0)
			return error_set(err, ERR_INVALID, "INVALID_EVENT",
			    "inline file %s is not valid base64", name);
	} else {
		len = strlen(content);
		data = xstrndup(content, len);
	}
	if (len > max_file || len > max_total - *total) {
		free(data);
		return error_set(err, ERR_INVALID, "TOO_LARGE",
		    "inline file %s is too large", name);
	}
	*total += len;
	artifacts_add(set, xstrdup(name), data, len);
	return 0;
}

int
artifacts_collect(struct artifact_set *set, const cJSON *data, const char *root,
    size_t max_file, size_t max_total, struct error *err)
{
	const cJSON *artifacts, *files, *a;
	char *root_real = NULL;
	size_t total = 0;
	int rc = 0;

	memset(set, 0, sizeof(*set));
	if ((root_real = realpath(root, NULL)) == NULL)
		return error_set(err, ERR_FAIL, "CONFIG",
		    "artifacts root %s: %s", root, strerror(errno));
	artifacts = cJSON_GetObjectItemCaseSensitive(data, "artifacts");
	files = cJSON_GetObjectItemCaseSensitive(data, "files");
	cJSON_ArrayForEach(a, artifacts) {
		if ((rc = artifacts_read_path(set, a->valuestring, root_real,
		         max_file, &total, max_total, err)) < 0)
			goto out;
	}
	cJSON_ArrayForEach(a, files) {
		if (cJSON_IsString(a))
			rc = artifacts_read_path(set, a->valuestring, root_real,
			    max_file, &total, max_total, err);
		else
			rc = artifacts_read_inline(set, a, max_file, &total,
			    max_total, err);
		if (rc < 0)
			goto out;
	}
out:
	free(root_real);
	if (rc < 0)
		artifacts_dispose(set);
	return rc;
}

void
artifacts_dispose(struct artifact_set *set)
{
	size_t i;

	for (i = 0; i < set->nowned; i++)
		free(set->owned[i]);
	free(set->owned);
	free(set->files);
	memset(set, 0, sizeof(*set));
}
